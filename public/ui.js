// @ts-check
/** The page's elements, and what every mode shows with them: status, errors, problems, the answer. */
import { isAbort, ShownError } from './api.js';

/** Output beyond this is counted but not shown, so a huge answer cannot freeze the tab. */
const SHOWN_CHARS_MAX = 1_000_000;
/** A scroll box this close to its bottom follows new text; scrolled further up, the user is reading and it stays put. */
const FOLLOW_SLACK_PX = 32;

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T, prototype: T }} type
 * @returns {T}
 */
function byId(id, type) {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`The page has no ${type.name} #${id}.`);
  return node;
}

export const el = {
  connection: byId('connection', HTMLFormElement),
  gatewayUrl: byId('gateway-url', HTMLInputElement),
  token: byId('token', HTMLInputElement),
  alias: byId('alias', HTMLSelectElement),
  modesNote: byId('modes-note', HTMLParagraphElement),
  inputPanel: byId('input-panel', HTMLElement),
  inputForm: byId('input-form', HTMLFormElement),
  input: byId('input', HTMLTextAreaElement),
  inputProblem: byId('input-problem', HTMLParagraphElement),
  schemaBox: byId('schema-box', HTMLDetailsElement),
  schema: byId('schema', HTMLPreElement),
  send: byId('send', HTMLButtonElement),
  stop: byId('stop', HTMLButtonElement),
  cancelAsync: byId('cancel-async', HTMLButtonElement),
  chatPanel: byId('chat-panel', HTMLElement),
  chatForm: byId('chat-form', HTMLFormElement),
  message: byId('message', HTMLTextAreaElement),
  messageProblem: byId('message-problem', HTMLParagraphElement),
  chatOptions: byId('chat-options', HTMLTextAreaElement),
  optionsProblem: byId('options-problem', HTMLParagraphElement),
  chatSend: byId('chat-send', HTMLButtonElement),
  chatStop: byId('chat-stop', HTMLButtonElement),
  chatClear: byId('chat-clear', HTMLButtonElement),
  wsPanel: byId('ws-panel', HTMLElement),
  wsForm: byId('ws-form', HTMLFormElement),
  wsMessage: byId('ws-message', HTMLTextAreaElement),
  wsProblem: byId('ws-problem', HTMLParagraphElement),
  wsClose: byId('ws-close', HTMLButtonElement),
  answer: byId('answer', HTMLElement),
  status: byId('status', HTMLParagraphElement),
  error: byId('error', HTMLParagraphElement),
  asyncJob: byId('async-job', HTMLDListElement),
  asyncId: byId('async-id', HTMLElement),
  asyncStatus: byId('async-status', HTMLElement),
  transcript: byId('transcript', HTMLOListElement),
  output: byId('output', HTMLPreElement),
};

let shownChars = 0;

/** @param {string} text */
export function setStatus(text) {
  el.status.textContent = text;
}

/** @param {unknown} err */
export function showError(err) {
  if (isAbort(err)) return;
  // Only a message, never a stack: the gateway's own words when it answered.
  const message = err instanceof ShownError ? err.message : `Something went wrong in the page: ${err instanceof Error ? err.message : String(err)}`;
  el.error.replaceChildren(message);
  if (err instanceof ShownError && err.details) {
    const details = document.createElement('small');
    details.textContent = ` (${err.details})`;
    el.error.append(details);
  }
  el.error.hidden = false;
  setStatus('Failed.');
}

/**
 * Says next to a form why it sent nothing; with a field, marks that field and puts the cursor in it.
 * @param {HTMLParagraphElement} problem
 * @param {string | undefined} issue
 * @param {HTMLTextAreaElement} [field]
 */
export function showProblem(problem, issue, field) {
  problem.hidden = !issue;
  problem.textContent = issue ?? '';
  field?.setAttribute('aria-invalid', issue ? 'true' : 'false');
  if (issue) field?.focus();
}

/** Everything a previous request left in the answer column. */
export function clearAnswer() {
  el.error.hidden = true;
  el.error.textContent = '';
  el.output.textContent = '';
  shownChars = 0;
  hideJob();
  setStatus('Idle.');
}

/**
 * Sends disabled and the Stop of the call in flight enabled; no button: idle again.
 * @param {HTMLButtonElement | null} stopButton
 */
export function setBusy(stopButton) {
  el.send.disabled = stopButton !== null;
  el.chatSend.disabled = stopButton !== null;
  el.stop.disabled = stopButton !== el.stop;
  el.chatStop.disabled = stopButton !== el.chatStop;
}

/**
 * In one column (a phone) the answer sits below the form, past the fold: bring
 * its top up to where the user looks. Beside the form it is already in view.
 * Focus stays where it was, so typing goes on.
 */
export function revealAnswer() {
  if (el.answer.getBoundingClientRect().top <= window.innerHeight / 2) return;
  const smooth = !matchMedia('(prefers-reduced-motion: reduce)').matches;
  el.answer.scrollIntoView({ block: 'start', behavior: smooth ? 'smooth' : 'auto' });
}

/** @param {string} text */
export function appendOutput(text) {
  const room = SHOWN_CHARS_MAX - shownChars;
  if (!text || room <= 0) return;
  following(el.output, () => {
    el.output.append(text.slice(0, room));
    shownChars += Math.min(text.length, room);
    if (shownChars >= SHOWN_CHARS_MAX) el.output.append('\n… (the rest is not shown)');
  });
}

/** @param {string} text a complete answer, replacing the output */
export function showOutput(text) {
  el.output.textContent = text;
  shownChars = text.length;
}

/** A complete JSON answer, indented; anything else (JSON lines, a cut answer) stays as received. */
export function prettyPrintOutput() {
  if (shownChars >= SHOWN_CHARS_MAX) return;
  try {
    el.output.textContent = JSON.stringify(JSON.parse(el.output.textContent ?? ''), null, 2);
  } catch {
    // Not one JSON document: shown as received.
  }
}

/**
 * A turn in the conversation; returns its item and the paragraph its text goes in.
 * @param {'user' | 'assistant'} role
 * @param {string} content
 */
export function addMessage(role, content) {
  const item = document.createElement('li');
  item.className = `message ${role}`;
  const who = document.createElement('span');
  who.className = 'role';
  who.textContent = role === 'user' ? 'You' : 'Model';
  const text = document.createElement('p');
  text.textContent = content;
  item.append(who, text);
  following(el.transcript, () => el.transcript.append(item));
  return { item, text };
}

/**
 * @param {HTMLParagraphElement} reply
 * @param {string} delta
 */
export function appendReply(reply, delta) {
  if (delta) following(el.transcript, () => reply.append(delta));
}

/**
 * @param {string} id
 * @param {string} status
 */
export function showJob(id, status) {
  el.asyncId.textContent = id;
  el.asyncStatus.textContent = status;
  el.asyncJob.hidden = false;
}

export function hideJob() {
  el.asyncJob.hidden = true;
  el.asyncId.textContent = '';
  el.asyncStatus.textContent = '';
}

/**
 * Makes a change to a scroll box's text; if the box was showing its end, it shows the new end.
 * @param {HTMLElement} box
 * @param {() => void} change
 */
function following(box, change) {
  const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight <= FOLLOW_SLACK_PX;
  change();
  if (atEnd) box.scrollTop = box.scrollHeight;
}
