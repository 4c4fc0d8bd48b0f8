// @ts-check
/**
 * What the gateway's OpenAPI document (as this caller sees it) says about an
 * alias: its input schema, and which of the page's modes it takes.
 */

/** @typedef {'predict' | 'async' | 'chat'} Mode */
/** @typedef {{ paths?: Record<string, any>, [key: string]: any }} OpenApi */

/** @type {readonly Mode[]} */
export const MODES = ['predict', 'async', 'chat'];

/**
 * The alias's input schema: the request body of its own predict path.
 * @param {OpenApi | null} spec
 * @param {string} alias
 * @returns {unknown}
 */
export function schemaFor(spec, alias) {
  const operation = spec?.paths?.[`/v1/models/${alias}/predict`]?.post;
  return resolveRef(spec, operation?.requestBody?.content?.['application/json']?.schema);
}

/**
 * The modes to offer for an alias, and a sentence on any withheld.
 *
 * The gateway publishes an alias's own paths only for an alias with an
 * input_schema; those hold the async path exactly when the alias takes async
 * requests. For any other alias the document is silent, and so is it on
 * which aliases have an OpenAI-compatible engine: what it does not rule out
 * stays offered, and the gateway's answer says the rest.
 * @param {OpenApi | null} spec
 * @param {string} alias
 * @returns {{ modes: ReadonlySet<string>, withheld: string }}
 */
export function modesFor(spec, alias) {
  const own = Object.keys(spec?.paths ?? {}).filter((path) => path.startsWith(`/v1/models/${alias}/`));
  if (own.length === 0 || own.includes(`/v1/models/${alias}/async`)) return { modes: new Set(MODES), withheld: '' };
  return {
    modes: new Set(MODES.filter((mode) => mode !== 'async')),
    withheld: `Async is not offered: the gateway's OpenAPI document lists no async path for ${alias}.`,
  };
}

/**
 * @param {OpenApi | null} spec
 * @param {any} schema
 * @returns {unknown}
 */
function resolveRef(spec, schema) {
  const ref = schema?.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema;
  return ref.slice(2).split('/')
    .map((key) => key.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((/** @type {any} */ node, key) => node?.[key], spec);
}
