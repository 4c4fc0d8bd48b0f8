// @ts-check
/**
 * The gateway playground: pick an alias, send a predict and watch the answer
 * stream in, chat with an OpenAI-compatible alias token by token, run an
 * async request until its output arrives, or exchange messages over a
 * WebSocket. Plain DOM, no dependencies. The client token is read from its
 * field at each call and never stored.
 *
 * This module wires the page: which alias and mode are chosen, and what a
 * send, a new alias or a new mode clears.
 */
import { connectionOf, fetchOpenApi, isAbort, listModels } from './api.js';
import { cancelJob, forgetJob, submitAsync } from './async.js';
import { chat, clearConversation } from './chat.js';
import { initClients } from './clients.js';
import { modesFor, schemaFor } from './models.js';
import { predict } from './predict.js';
import { clearAnswer, el, revealAnswer, setBusy, setStatus, showError, showProblem } from './ui.js';
import { initUsage } from './usage.js';
import { closeSocket, dropSocket, sendText } from './websocket.js';

/** @type {import('./models.js').OpenApi | null} */
let openapi = null;
/** @type {import('./models.js').ModelEntry[]} */
let entries = [];
/**
 * The predict or chat in flight.
 * @type {AbortController | null}
 */
let running = null;
/** Counts model list loads, so an older answer arriving late cannot overwrite a newer one. */
let modelLoads = 0;

const modeRadios = Array.from(document.querySelectorAll('input[name="mode"]'), (radio) => /** @type {HTMLInputElement} */ (radio));

function connection() {
  return connectionOf(el.gatewayUrl.value, el.token.value);
}

function mode() {
  return modeRadios.find((radio) => radio.checked)?.value ?? 'predict';
}

// ---------------------------------------------------------------------------
// Models

async function loadModels() {
  const current = connection();
  const load = ++modelLoads;
  setStatus('Loading models…');
  try {
    const [models, spec] = await Promise.all([listModels(current), fetchOpenApi(current)]);
    if (load !== modelLoads) return;
    showAliases(models, spec, 'no models for this caller');
    setStatus(
      models.length === 0
        ? 'No aliases for this caller. Without a token only public aliases are listed.'
        : `${models.length} ${models.length === 1 ? 'alias' : 'aliases'} available.`,
    );
  } catch (err) {
    if (load !== modelLoads) return;
    // The previous caller's aliases are not this one's: a refused token lists nothing.
    showAliases([], null, 'no models loaded');
    throw err;
  }
}

/**
 * @param {import('./models.js').ModelEntry[]} models
 * @param {import('./models.js').OpenApi | null} spec
 * @param {string} emptyLabel
 */
function showAliases(models, spec, emptyLabel) {
  openapi = spec;
  entries = models;
  const aliases = models.map((model) => model.id);
  const previous = el.alias.value;
  el.alias.replaceChildren(...aliases.map((alias) => new Option(alias, alias)));
  if (aliases.length === 0) el.alias.append(new Option(emptyLabel, ''));
  el.alias.disabled = aliases.length === 0;
  if (aliases.includes(previous)) el.alias.value = previous;
  aliasChanged();
}

/** A new alias (or a new list): nothing the old one answered stays, and only its modes are offered. */
function aliasChanged() {
  startOver();
  showProblem(el.inputProblem, undefined, el.input);
  showProblem(el.messageProblem, undefined, el.message);
  showProblem(el.wsProblem, undefined, el.wsMessage);
  const schema = schemaFor(openapi, el.alias.value);
  el.schemaBox.hidden = !schema;
  el.schema.textContent = schema ? JSON.stringify(schema, null, 2) : '';
  const { modes, withheld } = modesFor(entries.find((entry) => entry.id === el.alias.value));
  for (const radio of modeRadios) radio.disabled = !modes.has(radio.value);
  // A Model API takes chat only: the first mode offered stands in for one that is not.
  const fallback = modeRadios.find((radio) => modes.has(radio.value))?.value ?? 'predict';
  if (!modes.has(mode())) for (const radio of modeRadios) radio.checked = radio.value === fallback;
  el.modesNote.textContent = withheld;
  el.modesNote.hidden = !withheld;
  applyMode();
}

// ---------------------------------------------------------------------------
// Page state

function applyMode() {
  const current = mode();
  el.inputPanel.hidden = current === 'chat' || current === 'websocket';
  el.chatPanel.hidden = current !== 'chat';
  el.wsPanel.hidden = current !== 'websocket';
  el.send.textContent = current === 'async' ? 'Submit async request' : 'Send predict';
  el.stop.hidden = current === 'async';
  el.cancelAsync.hidden = current !== 'async';
  el.transcript.hidden = current !== 'chat';
  el.output.hidden = current === 'chat';
}

/** What a send replaces: the last answer, error and async request. */
function freshAnswer() {
  forgetJob();
  clearAnswer();
}

/** What a new alias or mode replaces: also the call in flight, the conversation and the socket. */
function startOver() {
  running?.abort();
  running = null;
  setBusy(null);
  dropSocket();
  freshAnswer();
  clearConversation();
}

/**
 * Runs a predict or chat that Stop can abort.
 * @param {HTMLButtonElement} stopButton
 * @param {(signal: AbortSignal) => Promise<void>} run
 */
async function runStoppable(stopButton, run) {
  const controller = new AbortController();
  running = controller;
  setBusy(stopButton);
  try {
    await run(controller.signal);
  } catch (err) {
    // Superseded by another alias or mode: its answer is already cleared.
    if (running !== controller) return;
    if (!isAbort(err)) throw err;
    setStatus('Stopped.');
  } finally {
    if (running === controller) {
      running = null;
      setBusy(null);
    }
  }
}

// ---------------------------------------------------------------------------
// Sends: each says, next to its button, why it sent nothing

/** The JSON text to send, or undefined after showing what is wrong with it. */
function checkedInput() {
  const text = el.input.value;
  let issue;
  try {
    JSON.parse(text);
  } catch (err) {
    issue = `Not valid JSON: ${err instanceof Error ? err.message : err}`;
  }
  showProblem(el.inputProblem, issue, el.input);
  return issue ? undefined : text;
}

/** The extra chat request fields, or undefined after showing what is wrong with them. */
function chatOptions() {
  let issue;
  let options;
  try {
    options = JSON.parse(el.chatOptions.value.trim() || '{}');
    if (typeof options !== 'object' || options === null || Array.isArray(options)) issue = 'The options must be a JSON object.';
  } catch (err) {
    issue = `Not valid JSON: ${err instanceof Error ? err.message : err}`;
  }
  const details = el.chatOptions.closest('details');
  if (issue && details) details.open = true;
  showProblem(el.optionsProblem, issue, el.chatOptions);
  return issue ? undefined : /** @type {Record<string, unknown>} */ (options);
}

/**
 * The chosen alias, or '' after saying in `problem` that there is none.
 * @param {HTMLParagraphElement} problem
 */
function chosenAlias(problem) {
  if (!el.alias.value) showProblem(problem, 'Pick an alias first: "Load models" lists those the gateway offers this caller.');
  return el.alias.value;
}

function sendInput() {
  const text = checkedInput();
  if (text === undefined) return undefined;
  const alias = chosenAlias(el.inputProblem);
  if (!alias) return undefined;
  const current = connection();
  freshAnswer();
  revealAnswer();
  if (mode() === 'async') return submitAsync(current, alias, text);
  return runStoppable(el.stop, (signal) => predict(current, alias, text, signal));
}

function sendMessage() {
  const options = chatOptions();
  if (options === undefined) return undefined;
  const content = el.message.value.trim();
  showProblem(el.messageProblem, content ? undefined : 'Type a message first: an empty one is not sent.', el.message);
  if (!content) return undefined;
  const alias = chosenAlias(el.messageProblem);
  if (!alias) return undefined;
  const current = connection();
  freshAnswer();
  revealAnswer();
  return runStoppable(el.chatStop, (signal) => chat(current, alias, content, options, signal));
}

/** The socket's frames accumulate in the output: a frame does not clear the ones before it. */
function sendSocketMessage() {
  const text = el.wsMessage.value;
  showProblem(el.wsProblem, text ? undefined : 'Type a frame first: an empty one is not sent.', el.wsMessage);
  if (!text) return undefined;
  const alias = chosenAlias(el.wsProblem);
  if (!alias) return undefined;
  revealAnswer();
  return sendText(connection(), alias, text);
}

// ---------------------------------------------------------------------------
// Wiring

/**
 * A submit or click handler whose failures are shown, not thrown, and brought into view.
 * @param {() => unknown} run
 * @returns {(event: Event) => void}
 */
function action(run) {
  return (event) => {
    event.preventDefault();
    Promise.resolve()
      .then(run)
      .catch((err) => {
        showError(err);
        revealAnswer();
      });
  };
}

/**
 * Ctrl+Enter (Cmd+Enter on a Mac) in a text area sends its form.
 * @param {KeyboardEvent} event
 */
function submitOnCtrlEnter(event) {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && event.currentTarget instanceof HTMLTextAreaElement) {
    event.preventDefault();
    event.currentTarget.form?.requestSubmit();
  }
}

el.connection.addEventListener('submit', action(loadModels));
el.inputForm.addEventListener('submit', action(sendInput));
el.chatForm.addEventListener('submit', action(sendMessage));
el.wsForm.addEventListener('submit', action(sendSocketMessage));
el.wsClose.addEventListener('click', closeSocket);
el.stop.addEventListener('click', () => running?.abort());
el.chatStop.addEventListener('click', () => running?.abort());
el.cancelAsync.addEventListener('click', action(cancelJob));
el.chatClear.addEventListener('click', startOver);
el.alias.addEventListener('change', aliasChanged);
for (const radio of modeRadios) {
  radio.addEventListener('change', () => {
    startOver();
    applyMode();
  });
}
for (const area of [el.input, el.message, el.chatOptions, el.wsMessage]) area.addEventListener('keydown', submitOnCtrlEnter);

// Served by the gateway itself, the page talks to its own origin; served elsewhere, set the URL.
if (location.protocol === 'http:' || location.protocol === 'https:') {
  el.gatewayUrl.value = location.origin;
  loadModels().catch(showError);
}
applyMode();
initUsage(connection);
initClients(connection);
