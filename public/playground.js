/**
 * The gateway playground: pick an alias, send a predict and watch the answer
 * stream in, chat with an OpenAI-compatible alias token by token, or run an
 * async request until its output arrives. Plain DOM, no dependencies. The
 * client token is read from its field at each call and never stored.
 */

/** Async status polling: first after 0.5 s, then 1.5 times slower each time, up to every 5 s. */
const POLL_FIRST_MS = 500;
const POLL_MAX_MS = 5_000;
/** Output beyond this is counted but not shown, so a huge answer cannot freeze the tab. */
const SHOWN_CHARS_MAX = 1_000_000;
const FINAL_STATUSES = new Set(['SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELED', 'WEBHOOK_FAILED']);

const $ = (id) => document.getElementById(id);
const el = {
  connection: $('connection'), gatewayUrl: $('gateway-url'), token: $('token'),
  alias: $('alias'), inputPanel: $('input-panel'), inputForm: $('input-form'), input: $('input'),
  inputProblem: $('input-problem'), schemaBox: $('schema-box'), schema: $('schema'),
  send: $('send'), stop: $('stop'), cancelAsync: $('cancel-async'),
  chatPanel: $('chat-panel'), chatForm: $('chat-form'), message: $('message'), chatOptions: $('chat-options'),
  optionsProblem: $('options-problem'), chatSend: $('chat-send'), chatStop: $('chat-stop'), chatClear: $('chat-clear'),
  status: $('status'), error: $('error'), asyncJob: $('async-job'), asyncId: $('async-id'),
  asyncStatus: $('async-status'), transcript: $('transcript'), output: $('output'),
};

/** What the page can explain to the user: the gateway's error envelope, or why no answer came. */
class ShownError extends Error {
  constructor(message, details = '') {
    super(message);
    this.details = details;
  }
}

let openapi = null;
/** The AbortController of the predict or chat in flight. */
let running = null;
let chatHistory = [];
/** The async request being watched: { id, base, headers, delayMs, timer, startedMs }. */
let job = null;
let shownChars = 0;
/** Counts model list loads, so an older answer arriving late cannot overwrite a newer one. */
let modelLoads = 0;

// ---------------------------------------------------------------------------
// Talking to the gateway

function gatewayBase() {
  let url;
  try {
    url = new URL(el.gatewayUrl.value.trim());
  } catch {
    throw new ShownError('The gateway URL is not a valid URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ShownError('The gateway URL must start with http:// or https://.');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function authHeaders() {
  const token = el.token.value.trim();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** fetch, with every failure turned into something the user can read. */
async function call(base, path, init = {}) {
  let res;
  try {
    res = await fetch(`${base}${path}`, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    // The browser gives the page no detail here, on purpose: an unreachable host and a CORS refusal look the same.
    throw new ShownError(
      `No answer from ${base}: the gateway is unreachable, or the browser blocked its answer because this page's origin (${location.origin}) is not in the gateway's ALLOWED_ORIGINS.`,
    );
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

/** The envelope's message, with its type, status and request id as details. */
async function errorOf(res) {
  let envelope;
  try {
    envelope = JSON.parse(await res.text())?.error;
  } catch {
    envelope = undefined;
  }
  const message = typeof envelope?.message === 'string' ? envelope.message : `The gateway answered HTTP ${res.status}.`;
  const requestId = envelope?.request_id ?? res.headers.get('x-request-id');
  const details = [envelope?.type, `HTTP ${res.status}`, requestId && `request ${requestId}`].filter(Boolean).join(' · ');
  return new ShownError(message, details);
}

/** Reads a body as text as it arrives; returns the byte count. */
async function readStream(body, onText) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read().catch((err) => {
        throw err.name === 'AbortError'
          ? err
          : new ShownError(`The answer was cut off after ${bytes} bytes: the connection closed before the stream ended.`);
      });
      if (done) break;
      bytes += value.byteLength;
      onText(decoder.decode(value, { stream: true }));
    }
    onText(decoder.decode());
    return bytes;
  } catch (err) {
    reader.cancel().catch(() => {});
    throw err;
  }
}

/** Server-sent events: calls onData with each event's data, comments (the gateway's keep-alives) skipped. */
function sseParser(onData) {
  let buffer = '';
  let data = [];
  return (text) => {
    buffer += text;
    const lines = buffer.split('\n');
    buffer = lines.pop();
    for (const raw of lines) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line === '') {
        if (data.length > 0) onData(data.join('\n'));
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      }
    }
  };
}

function mediaType(res) {
  return (res.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
}

// ---------------------------------------------------------------------------
// Models and schemas

async function loadModels() {
  const load = ++modelLoads;
  const base = gatewayBase();
  setStatus('Loading models…');
  let list;
  let spec;
  try {
    [list, spec] = await Promise.all([
      call(base, '/v1/models', { headers: authHeaders() }).then((res) => res.json()),
      fetchOpenApi(base),
    ]);
  } catch (err) {
    if (load === modelLoads) throw err;
    return;
  }
  if (load !== modelLoads) return;
  openapi = spec;
  const ids = (Array.isArray(list?.data) ? list.data : []).map((model) => String(model.id));
  const previous = el.alias.value;
  el.alias.replaceChildren(...ids.map((id) => new Option(id, id)));
  if (ids.length === 0) el.alias.append(new Option('no models for this caller', ''));
  el.alias.disabled = ids.length === 0;
  if (ids.includes(previous)) el.alias.value = previous;
  showSchema();
  setStatus(ids.length === 0
    ? 'No aliases for this caller. Without a token only public aliases are listed.'
    : `${ids.length} ${ids.length === 1 ? 'alias' : 'aliases'} available.`);
}

/** The gateway's OpenAPI document, for input schemas; optional, so any failure just means no schemas. */
async function fetchOpenApi(base) {
  try {
    const res = await fetch(`${base}/openapi.json`, { headers: authHeaders() });
    return res.ok ? await res.json() : null;
  } catch {
    return null; // no document, no schemas: the gateway still validates at the edge
  }
}

function schemaFor(alias) {
  const operation = openapi?.paths?.[`/v1/models/${alias}/predict`]?.post;
  return resolveRef(operation?.requestBody?.content?.['application/json']?.schema);
}

function resolveRef(schema) {
  const ref = schema?.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema;
  return ref.slice(2).split('/')
    .map((key) => key.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((node, key) => node?.[key], openapi);
}

function showSchema() {
  const schema = schemaFor(el.alias.value);
  el.schemaBox.hidden = !schema;
  el.schema.textContent = schema ? JSON.stringify(schema, null, 2) : '';
}

/**
 * A first check of the input against the schema's top level (type, required
 * fields, field types), so obvious mistakes are caught before the round trip;
 * the gateway validates the whole schema.
 */
function schemaIssue(value, schema) {
  if (schema.type && !hasType(value, schema.type)) return `The input must be of type ${schema.type}.`;
  if (jsonType(value) !== 'object') return undefined;
  for (const name of Array.isArray(schema.required) ? schema.required : []) {
    if (!(name in value)) return `The input needs the field "${name}".`;
  }
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    const type = resolveRef(field)?.type;
    if (name in value && type && !hasType(value[name], type)) return `The field "${name}" must be of type ${type}.`;
  }
  return undefined;
}

function hasType(value, type) {
  const actual = jsonType(value);
  return [type].flat().some((t) => t === actual || (t === 'number' && actual === 'integer'));
}

function jsonType(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (Number.isInteger(value)) return 'integer';
  return typeof value;
}

/** The JSON text to send, or undefined after showing what is wrong with it. */
function checkedInput() {
  const text = el.input.value;
  let issue;
  try {
    const schema = schemaFor(el.alias.value);
    const value = JSON.parse(text);
    issue = schema ? schemaIssue(value, schema) : undefined;
  } catch (err) {
    issue = `Not valid JSON: ${err.message}`;
  }
  showProblem(el.input, el.inputProblem, issue);
  return issue ? undefined : text;
}

function showProblem(field, problem, issue) {
  problem.hidden = !issue;
  problem.textContent = issue ?? '';
  field.setAttribute('aria-invalid', issue ? 'true' : 'false');
  if (issue) field.focus();
}

// ---------------------------------------------------------------------------
// Predict

async function predict(alias, text) {
  const base = gatewayBase();
  const signal = begin(el.stop);
  const startedMs = performance.now();
  let bytes = 0;
  let firstMs;
  try {
    setStatus('Waiting for the model…');
    const res = await call(base, `/v1/models/${encodeURIComponent(alias)}/predict`, {
      method: 'POST', headers: { ...authHeaders(), 'content-type': 'application/json' }, body: text, signal,
    });
    resetOutput();
    bytes = await readStream(res.body, (chunk) => {
      firstMs ??= performance.now() - startedMs;
      appendOutput(chunk);
      setStatus('Receiving…');
    });
    if (mediaType(res) === 'application/json') prettyPrintOutput();
    setStatus(summary(res, bytes, firstMs, startedMs));
  } catch (err) {
    if (err.name !== 'AbortError') throw err;
    setStatus('Stopped.');
  } finally {
    end(el.stop);
  }
}

function summary(res, bytes, firstMs, startedMs) {
  const parts = [`HTTP ${res.status}`, `${bytes} bytes`];
  if (firstMs !== undefined) parts.push(`first bytes after ${Math.round(firstMs)} ms`);
  parts.push(`done in ${Math.round(performance.now() - startedMs)} ms`);
  const requestId = res.headers.get('x-request-id');
  if (requestId) parts.push(`request ${requestId}`);
  return `Done: ${parts.join(' · ')}.`;
}

function resetOutput() {
  el.output.textContent = '';
  shownChars = 0;
}

function appendOutput(text) {
  const room = SHOWN_CHARS_MAX - shownChars;
  if (!text || room <= 0) return;
  el.output.append(text.slice(0, room));
  shownChars += Math.min(text.length, room);
  if (shownChars >= SHOWN_CHARS_MAX) el.output.append('\n… (the rest is not shown)');
}

function prettyPrintOutput() {
  if (shownChars >= SHOWN_CHARS_MAX) return;
  try {
    el.output.textContent = JSON.stringify(JSON.parse(el.output.textContent), null, 2);
  } catch {
    // Not one JSON document (e.g. JSON lines): shown as received.
  }
}

// ---------------------------------------------------------------------------
// Chat

async function chat(alias, content, options) {
  const base = gatewayBase();
  const messages = [...chatHistory, { role: 'user', content }];
  const userItem = addMessage('user', content);
  const replyItem = addMessage('assistant', '');
  const reply = replyItem.querySelector('p');
  const signal = begin(el.chatStop);
  const startedMs = performance.now();
  let text = '';
  let finished = false;
  const onData = (data) => {
    if (data === '[DONE]') {
      finished = true;
      return;
    }
    const delta = deltaOf(data);
    text += delta;
    reply.append(delta);
  };
  try {
    setStatus('Waiting for the model…');
    const res = await call(base, '/v1/chat/completions', {
      method: 'POST',
      headers: { ...authHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify({ ...options, model: alias, messages, stream: true }),
      signal,
    });
    setStatus('Receiving…');
    if (mediaType(res) === 'text/event-stream') {
      await readStream(res.body, sseParser(onData));
      if (!finished) throw new ShownError('The reply stopped before the engine finished it.');
    } else {
      text = String((await res.json())?.choices?.[0]?.message?.content ?? '');
      reply.textContent = text;
    }
    chatHistory = [...messages, { role: 'assistant', content: text }];
    el.message.value = '';
    setStatus(`Done in ${Math.round(performance.now() - startedMs)} ms.`);
  } catch (err) {
    if (err.name === 'AbortError' && text) {
      chatHistory = [...messages, { role: 'assistant', content: text }];
      reply.append(' (stopped)');
      setStatus('Stopped.');
      return;
    }
    // Nothing usable came back: the message stays in its box to send again.
    userItem.remove();
    replyItem.remove();
    if (err.name !== 'AbortError') throw err;
    setStatus('Stopped.');
  } finally {
    end(el.chatStop);
  }
}

/** The text a chat chunk adds; an error event mid-stream becomes the error shown. */
function deltaOf(data) {
  let event;
  try {
    event = JSON.parse(data);
  } catch {
    throw new ShownError('The engine sent an event that is not JSON.');
  }
  if (event?.error) throw new ShownError(String(event.error.message ?? 'The engine reported an error.'));
  return String(event?.choices?.[0]?.delta?.content ?? '');
}

function addMessage(role, content) {
  const item = document.createElement('li');
  item.className = `message ${role}`;
  const who = document.createElement('span');
  who.className = 'role';
  who.textContent = role === 'user' ? 'You' : 'Model';
  const text = document.createElement('p');
  text.textContent = content;
  item.append(who, text);
  el.transcript.append(item);
  return item;
}

function chatOptions() {
  let issue;
  let options = {};
  try {
    options = JSON.parse(el.chatOptions.value.trim() || '{}');
    if (jsonType(options) !== 'object') issue = 'The options must be a JSON object.';
  } catch (err) {
    issue = `Not valid JSON: ${err.message}`;
  }
  if (issue) el.chatOptions.closest('details').open = true;
  showProblem(el.chatOptions, el.optionsProblem, issue);
  return issue ? undefined : options;
}

// ---------------------------------------------------------------------------
// Async

async function submitAsync(alias, text) {
  const base = gatewayBase();
  stopWatching();
  job = null;
  el.asyncJob.hidden = true;
  revealAnswer();
  const headers = authHeaders();
  setStatus('Submitting…');
  const res = await call(base, `/v1/models/${encodeURIComponent(alias)}/async`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    // The input text as typed (already checked to be JSON), so large numbers keep every digit.
    body: `{"model_input":${text}}`,
  });
  const accepted = await res.json();
  // An anonymous caller proves ownership with the token the submit handed out, once.
  if (accepted.owner_token) headers['x-async-owner-token'] = accepted.owner_token;
  job = { id: String(accepted.request_id), base, headers, delayMs: POLL_FIRST_MS, timer: undefined, startedMs: performance.now() };
  resetOutput();
  showJob(accepted.status ?? 'QUEUED');
  el.cancelAsync.disabled = false;
  setStatus('Queued; checking its status…');
  schedulePoll(job);
}

function schedulePoll(current) {
  clearTimeout(current.timer);
  current.timer = setTimeout(() => poll(current).catch(showError), current.delayMs);
  current.delayMs = Math.min(current.delayMs * 1.5, POLL_MAX_MS);
}

async function poll(current) {
  if (job !== current) return;
  let view;
  try {
    const res = await call(current.base, `/v1/async/${encodeURIComponent(current.id)}`, { headers: current.headers });
    view = await res.json();
  } catch (err) {
    if (job === current) stopWatching();
    throw err;
  }
  if (job !== current) return;
  showJob(view.status);
  if (!isFinal(view)) {
    setStatus(`${view.status}; checking again shortly…`);
    schedulePoll(current);
    return;
  }
  stopWatching();
  if ('output' in view) el.output.textContent = JSON.stringify(view.output, null, 2);
  const errors = Array.isArray(view.errors) ? view.errors : [];
  if (errors.length > 0) showError(new ShownError(errors.map((e) => e.message).join('; '), `async request ${view.status}`));
  setStatus(`Async request ${view.status} after ${Math.round(performance.now() - current.startedMs)} ms.`);
}

/** Final for the gateway: a SUCCEEDED request without its output is still waiting for the result. */
function isFinal(view) {
  if (typeof view.final === 'boolean') return view.final;
  return FINAL_STATUSES.has(view.status) && (view.status !== 'SUCCEEDED' || 'output' in view);
}

async function cancelJob() {
  const current = job;
  if (!current) return;
  el.cancelAsync.disabled = true;
  const res = await call(current.base, `/v1/async/${encodeURIComponent(current.id)}`, { method: 'DELETE', headers: current.headers })
    .catch((err) => {
      el.cancelAsync.disabled = job !== current;
      throw err;
    });
  const outcome = await res.json();
  setStatus(String(outcome.message ?? (outcome.canceled ? 'Cancel requested.' : 'The request was not canceled.')));
  if (job === current) {
    el.cancelAsync.disabled = Boolean(outcome.canceled);
    current.delayMs = 0;
    schedulePoll(current);
  }
}

function showJob(status) {
  el.asyncId.textContent = job.id;
  el.asyncStatus.textContent = String(status);
  el.asyncJob.hidden = mode() !== 'async';
}

function stopWatching() {
  if (job) clearTimeout(job.timer);
  el.cancelAsync.disabled = true;
}

// ---------------------------------------------------------------------------
// Page state

function mode() {
  return document.querySelector('input[name="mode"]:checked').value;
}

function applyMode() {
  const current = mode();
  el.inputPanel.hidden = current === 'chat';
  el.chatPanel.hidden = current !== 'chat';
  el.send.textContent = current === 'async' ? 'Submit async request' : 'Send predict';
  el.stop.hidden = current === 'async';
  el.cancelAsync.hidden = current !== 'async';
  el.asyncJob.hidden = current !== 'async' || !job;
  el.transcript.hidden = current !== 'chat';
  el.output.hidden = current === 'chat';
}

/** Marks a predict or chat as running: sends disabled, its Stop enabled. */
function begin(stopButton) {
  clearError();
  revealAnswer();
  running = new AbortController();
  el.send.disabled = true;
  el.chatSend.disabled = true;
  stopButton.disabled = false;
  return running.signal;
}

function end(stopButton) {
  running = null;
  el.send.disabled = false;
  el.chatSend.disabled = false;
  stopButton.disabled = true;
}

/** On a phone the answer sits below the form: bring it into view (focus stays where it was). */
function revealAnswer() {
  el.status.scrollIntoView({ block: 'nearest' });
}

function setStatus(text) {
  el.status.textContent = text;
}

function showError(err) {
  if (err?.name === 'AbortError') return;
  // Only a message, never a stack: the gateway's own words when it answered.
  const message = err instanceof ShownError ? err.message : `Something went wrong in the page: ${err?.message ?? err}`;
  el.error.replaceChildren(message);
  if (err instanceof ShownError && err.details) {
    const details = document.createElement('small');
    details.textContent = ` (${err.details})`;
    el.error.append(details);
  }
  el.error.hidden = false;
  setStatus('Failed.');
}

function clearError() {
  el.error.hidden = true;
  el.error.textContent = '';
}

/** A submit or click handler whose failures are shown, not thrown. */
function action(run) {
  return (event) => {
    event.preventDefault();
    Promise.resolve().then(run).catch(showError);
  };
}

/** Ctrl+Enter (Cmd+Enter on a Mac) in a text area sends its form. */
function submitOnCtrlEnter(event) {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    event.target.form.requestSubmit();
  }
}

el.connection.addEventListener('submit', action(() => {
  clearError();
  return loadModels();
}));
el.inputForm.addEventListener('submit', action(() => {
  const text = checkedInput();
  const alias = el.alias.value;
  if (text === undefined) return undefined;
  if (!alias) throw new ShownError('Pick an alias first (load the models the gateway offers this caller).');
  clearError();
  return mode() === 'async' ? submitAsync(alias, text) : predict(alias, text);
}));
el.chatForm.addEventListener('submit', action(() => {
  const options = chatOptions();
  const content = el.message.value.trim();
  if (options === undefined || !content) return undefined;
  if (!el.alias.value) throw new ShownError('Pick an alias first (load the models the gateway offers this caller).');
  return chat(el.alias.value, content, options);
}));
el.stop.addEventListener('click', () => running?.abort());
el.chatStop.addEventListener('click', () => running?.abort());
el.cancelAsync.addEventListener('click', action(cancelJob));
el.chatClear.addEventListener('click', () => {
  chatHistory = [];
  el.transcript.replaceChildren();
});
el.alias.addEventListener('change', showSchema);
for (const radio of document.querySelectorAll('input[name="mode"]')) radio.addEventListener('change', applyMode);
for (const area of [el.input, el.message, el.chatOptions]) area.addEventListener('keydown', submitOnCtrlEnter);

// Served by the gateway itself, the page talks to its own origin; served elsewhere, set the URL.
if (location.protocol === 'http:' || location.protocol === 'https:') {
  el.gatewayUrl.value = location.origin;
  loadModels().catch(showError);
}
applyMode();
