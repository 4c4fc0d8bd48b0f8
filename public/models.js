// @ts-check
/**
 * What the gateway says about an alias: which of the page's modes it takes
 * (the `modes` of its entry in GET /v1/models), and its input schema (the
 * gateway's OpenAPI document, as this caller sees it).
 */

/** @typedef {'predict' | 'async' | 'chat' | 'websocket'} Mode */
/** @typedef {{ paths?: Record<string, any>, [key: string]: any }} OpenApi */
/** @typedef {{ id: string, modes?: string[] }} ModelEntry */

/** @type {readonly Mode[]} */
export const MODES = ['predict', 'async', 'chat', 'websocket'];

/** @type {Record<Mode, string>} */
const MODE_NAMES = { predict: 'Predict', async: 'Async', chat: 'Chat', websocket: 'WebSocket' };

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
 * The modes to offer for an alias, and a sentence on those withheld. An
 * entry without `modes` (a gateway from before they were listed) withholds
 * nothing: the gateway's answer says the rest.
 * @param {ModelEntry | undefined} entry
 * @returns {{ modes: ReadonlySet<string>, withheld: string }}
 */
export function modesFor(entry) {
  const listed = entry?.modes;
  if (!entry || !listed) return { modes: new Set(MODES), withheld: '' };
  const offered = MODES.filter((mode) => listed.includes(mode));
  const missing = MODES.filter((mode) => !listed.includes(mode));
  return {
    modes: new Set(offered),
    withheld: missing.length === 0 ? '' : `Not offered for ${entry.id}: ${missing.map((mode) => MODE_NAMES[mode]).join(', ')}.`,
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
  return ref
    .slice(2)
    .split('/')
    .map((key) => key.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((/** @type {any} */ node, key) => node?.[key], spec);
}
