// @ts-check
/** Predict: the input goes to the alias's predict path and the answer is shown as it streams in. */
import { call, mediaType, readStream } from './api.js';
import { appendOutput, prettyPrintOutput, setStatus } from './ui.js';

/**
 * @param {import('./api.js').Connection} connection
 * @param {string} alias
 * @param {string} text the input as typed, already known to be JSON
 * @param {AbortSignal} signal
 */
export async function predict(connection, alias, text, signal) {
  const startedMs = performance.now();
  /** @type {number | undefined} */
  let firstMs;
  setStatus('Waiting for the model…');
  const res = await call(connection.base, `/v1/models/${encodeURIComponent(alias)}/predict`, {
    method: 'POST',
    headers: { ...connection.headers, 'content-type': 'application/json' },
    body: text,
    signal,
  });
  const bytes = await readStream(res.body, (chunk) => {
    // A chunk already read when the call was stopped belongs to an answer no longer shown.
    if (signal.aborted) return;
    firstMs ??= performance.now() - startedMs;
    appendOutput(chunk);
    setStatus('Receiving…');
  });
  if (mediaType(res) === 'application/json') prettyPrintOutput();
  setStatus(summary(res, bytes, firstMs, startedMs));
}

/**
 * @param {Response} res
 * @param {number} bytes
 * @param {number | undefined} firstMs
 * @param {number} startedMs
 */
function summary(res, bytes, firstMs, startedMs) {
  const parts = [`HTTP ${res.status}`, `${bytes} bytes`];
  if (firstMs !== undefined) parts.push(`first bytes after ${Math.round(firstMs)} ms`);
  parts.push(`done in ${Math.round(performance.now() - startedMs)} ms`);
  const requestId = res.headers.get('x-request-id');
  if (requestId) parts.push(`request ${requestId}`);
  return `Done: ${parts.join(' · ')}.`;
}
