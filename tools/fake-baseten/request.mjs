/**
 * Reading a request: which model or chain and deployment a path names, the API key check, the
 * body (recorded for the log), and the small value checks the steering fields go through.
 */

/** @typedef {import('node:http').IncomingMessage} IncomingMessage */
/** @typedef {import('./types.mjs').Target} Target */
/** @typedef {import('./types.mjs').Deployment} Deployment */
/** @typedef {import('./types.mjs').Body} Body */
/** @typedef {import('./types.mjs').RecordedRequest} RecordedRequest */

/** Baseten's edge cap on any request body (100 MB); larger bodies are answered 413. */
const EDGE_BODY_CAP = 100 * 1024 * 1024;
/** How much of each request body the log keeps as text. */
const LOGGED_BODY_BYTES = 64 * 1024;

/**
 * `/model-<id>/...` or, for a regional environment, `/model-<id>-<env>/...` (Baseten ids have no
 * hyphen, so the first one after the id starts the environment's name).
 * @param {string} pathname
 * @returns {Target | null}
 */
export function parseTarget(pathname) {
  const match = /^\/(model|chain)-([A-Za-z0-9]+)(?:-([A-Za-z0-9_-]+))?(?:\/(.*))?$/.exec(pathname);
  if (!match) return null;
  return {
    kind: /** @type {'model' | 'chain'} */ (match[1]),
    id: match[2] ?? '',
    regional: match[3] ?? null,
    segments: (match[4] ?? '').split('/'),
  };
}

/**
 * Accepts the four path-based forms, or the bare paths of a regional host (path-based routes do
 * not exist there); a fake deployment id keeps status bodies realistic.
 * @param {Target} target
 * @returns {Deployment | null}
 */
export function parseDeployment(target) {
  const { segments } = target;
  if (target.regional) {
    return { label: `environments/${target.regional}`, deploymentId: `dep-env-${target.regional}`, endpoint: segments };
  }
  const [first, second] = segments;
  if (first === 'production' || first === 'development') {
    return { label: first, deploymentId: `dep-${first}`, endpoint: segments.slice(1) };
  }
  if (first === 'environments' && second) {
    return { label: `environments/${second}`, deploymentId: `dep-env-${second}`, endpoint: segments.slice(2) };
  }
  if (first === 'deployment' && second) {
    return { label: `deployment/${second}`, deploymentId: second, endpoint: segments.slice(2) };
  }
  return null;
}

/**
 * @param {string | undefined} header
 * @param {string} apiKey
 */
export function isAuthorized(header, apiKey) {
  const match = /^(?:Api-Key|Bearer)\s+(.+)$/i.exec(header ?? '');
  return Boolean(match) && match?.[1]?.trim() === apiKey;
}

/**
 * Reads the whole body, keeping at most Baseten's edge cap in memory (beyond it the request is
 * answered 413 anyway). Returns null if the client went away mid-body.
 * @param {IncomingMessage} req
 * @param {RecordedRequest} entry
 * @returns {Promise<Body | null>}
 */
export async function readBody(req, entry) {
  /** @type {Buffer[]} */
  const chunks = [];
  let length = 0;
  try {
    for await (const chunk of req) {
      length += chunk.length;
      if (length <= EDGE_BODY_CAP) chunks.push(chunk);
    }
  } catch {
    return null;
  }
  entry.bodyBytes = length;
  entry.body = Buffer.concat(chunks).subarray(0, LOGGED_BODY_BYTES).toString('utf8');
  return { chunks, length, tooLarge: length > EDGE_BODY_CAP };
}

/** @param {Body} body */
export function bodyText(body) {
  return Buffer.concat(body.chunks).toString('utf8');
}

/**
 * @param {Body} body
 * @returns {{ok: true, value: unknown} | {ok: false}}
 */
export function parseJson(body) {
  try {
    return { ok: true, value: JSON.parse(bodyText(body)) };
  } catch {
    return { ok: false };
  }
}

/** @param {IncomingMessage} req */
export function isBinary(req) {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() === 'application/octet-stream';
}

/** @param {IncomingMessage} req */
export function isMultipart(req) {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() === 'multipart/form-data';
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, any>}
 */
export function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** @param {unknown} value @returns {value is number} */
export function isPositive(value) {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/** @param {unknown} value @returns {value is number} */
export function isNonNegative(value) {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * @param {unknown} value
 * @param {number} min
 * @param {number} max
 */
export function isIntIn(value, min, max) {
  return Number.isInteger(value) && /** @type {number} */ (value) >= min && /** @type {number} */ (value) <= max;
}
