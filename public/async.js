// @ts-check
/** Async requests: submit, follow the status until the gateway calls it final, cancel. */
import { call, ShownError } from './api.js';
import { el, setStatus, showError, showJob, showOutput } from './ui.js';

/** Status polling: first after 0.5 s, then 1.5 times slower each time, up to every 5 s. */
const POLL_FIRST_MS = 500;
const POLL_MAX_MS = 5_000;

/**
 * The request being watched, with what its status calls need.
 * @typedef {{
 *   id: string, base: string, headers: Record<string, string>,
 *   delayMs: number, timer: ReturnType<typeof setTimeout> | undefined, startedMs: number,
 * }} Job
 */
/**
 * The gateway's status answer; `final` is its word on whether anything more can change.
 * @typedef {{ status: string, final: boolean, output?: unknown, errors?: { message?: unknown }[] }} AsyncView
 */

/** @type {Job | null} */
let job = null;
/** Bumped whenever the page lets go of a job, so a submit answering late starts no watch. */
let watch = 0;

/**
 * @param {import('./api.js').Connection} connection
 * @param {string} alias
 * @param {string} text the input as typed, already known to be JSON
 */
export async function submitAsync(connection, alias, text) {
  const mine = watch;
  /** @type {Record<string, string>} */
  const headers = { ...connection.headers };
  setStatus('Submitting…');
  const res = await call(connection.base, `/v1/models/${encodeURIComponent(alias)}/async`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    // The input text as typed, so large numbers keep every digit.
    body: `{"model_input":${text}}`,
  });
  const accepted = await res.json();
  if (mine !== watch) return;
  // An anonymous caller proves ownership with the token the submit handed out, once.
  if (accepted.owner_token) headers['x-async-owner-token'] = String(accepted.owner_token);
  const current = {
    id: String(accepted.request_id),
    base: connection.base,
    headers,
    delayMs: POLL_FIRST_MS,
    timer: undefined,
    startedMs: performance.now(),
  };
  job = current;
  showJob(current.id, String(accepted.status ?? 'QUEUED'));
  el.cancelAsync.disabled = false;
  setStatus('Queued; checking its status…');
  schedulePoll(current);
}

/** Stops watching the current request (it goes on at the gateway) and forgets it. */
export function forgetJob() {
  if (job) clearTimeout(job.timer);
  job = null;
  watch++;
  el.cancelAsync.disabled = true;
}

export async function cancelJob() {
  const current = job;
  if (!current) return;
  el.cancelAsync.disabled = true;
  const res = await call(current.base, `/v1/async/${encodeURIComponent(current.id)}`, { method: 'DELETE', headers: current.headers }).catch((err) => {
    el.cancelAsync.disabled = job !== current;
    throw err;
  });
  const outcome = await res.json();
  if (job !== current) return;
  setStatus(String(outcome.message ?? (outcome.canceled ? 'Cancel requested.' : 'The request was not canceled.')));
  el.cancelAsync.disabled = Boolean(outcome.canceled);
  current.delayMs = 0;
  schedulePoll(current);
}

/** @param {Job} current */
function schedulePoll(current) {
  clearTimeout(current.timer);
  current.timer = setTimeout(() => poll(current).catch(showError), current.delayMs);
  current.delayMs = Math.min(current.delayMs * 1.5, POLL_MAX_MS);
}

/** @param {Job} current */
async function poll(current) {
  if (job !== current) return;
  /** @type {AsyncView} */
  let view;
  try {
    const res = await call(current.base, `/v1/async/${encodeURIComponent(current.id)}`, { headers: current.headers });
    view = await res.json();
  } catch (err) {
    if (job !== current) return;
    forgetJob();
    throw err;
  }
  if (job !== current) return;
  showJob(current.id, String(view.status));
  if (!view.final) {
    setStatus(`${view.status}; checking again shortly…`);
    schedulePoll(current);
    return;
  }
  el.cancelAsync.disabled = true;
  if ('output' in view) showOutput(JSON.stringify(view.output, null, 2));
  const errors = Array.isArray(view.errors) ? view.errors : [];
  if (errors.length > 0) showError(new ShownError(errors.map((e) => String(e.message)).join('; '), `async request ${view.status}`));
  setStatus(`Async request ${view.status} after ${Math.round(performance.now() - current.startedMs)} ms.`);
}
