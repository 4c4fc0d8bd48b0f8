/**
 * Baseten's own path shapes under /v1/models/{alias}/, so that code written
 * for Baseten (its docs' snippets, its Python SDK's `base_url_override`, the
 * Performance Client's `base_url`, `truss`) works with only its base URL and
 * key changed. The alias decides where a call goes: the segment naming an
 * environment or a deployment must be well-formed and is otherwise not used.
 */

/** Published as OpenAPI patterns, so no regex flags. */
export const ENVIRONMENT_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const DEPLOYMENT_ID_SEGMENT = /^[A-Za-z0-9]{1,64}$/;

/**
 * Baseten's deployment prefixes, as OpenAPI path pieces, by name; `regional`
 * is the bare form of a regional host. A route attaches one action to each,
 * e.g. `/v1/models/{alias}/environments/{environment}/websocket`.
 */
export const DEPLOYMENT_PREFIXES = {
  production: '/production',
  development: '/development',
  environment: '/environments/{environment}',
  deployment: '/deployment/{deployment_id}',
  regional: '',
} as const;

export type PrefixName = keyof typeof DEPLOYMENT_PREFIXES;

/** Every prefix but the bare one, for actions whose bare path is already the gateway's own route. */
export const PATH_PREFIXES: readonly PrefixName[] = ['production', 'development', 'environment', 'deployment'];
const ALL_PREFIXES = Object.keys(DEPLOYMENT_PREFIXES) as PrefixName[];

/** `/v1/models/{alias}<prefix>/<action>` for each named prefix, by prefix name. */
export function basetenPaths(action: string, prefixes: readonly PrefixName[] = ALL_PREFIXES): [PrefixName, string][] {
  return prefixes.map((name) => [name, `/v1/models/{alias}${DEPLOYMENT_PREFIXES[name]}/${action}`]);
}

/** A path's environment or deployment segment is well-formed (true when the path has none). */
export function wellFormedSegments(params: Readonly<Record<string, unknown>>): boolean {
  const { environment, deployment_id: deploymentId } = params;
  return (
    (environment === undefined || ENVIRONMENT_SEGMENT.test(String(environment))) &&
    (deploymentId === undefined || DEPLOYMENT_ID_SEGMENT.test(String(deploymentId)))
  );
}
