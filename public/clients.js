// @ts-check
/**
 * The Clients view, for admin tokens: the gateway's clients (static ones
 * marked, never changed here), a form that makes one, and rotate and revoke
 * for the others. A new token is shown once, in its own box, and forgotten
 * by the page on the next action.
 */
import { call, ShownError } from './api.js';
import { showError } from './ui.js';

/**
 * @typedef {{ base: string, headers: Record<string, string> }} Connection
 * @typedef {{ name: string, static: boolean, models: string[], admin: boolean, disabled: boolean, expires_at?: string }} Client
 */

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

const panel = byId('clients-panel', HTMLElement);
const list = byId('client-list', HTMLTableSectionElement);
const form = byId('client-form', HTMLFormElement);
const nameField = byId('client-name', HTMLInputElement);
const modelsField = byId('client-models', HTMLInputElement);
const adminField = byId('client-admin', HTMLInputElement);
const tokenBox = byId('new-token', HTMLElement);
const tokenText = byId('new-token-value', HTMLElement);
const connectionForm = byId('connection', HTMLFormElement);

/** @param {() => Connection} connection */
export function initClients(connection) {
  const run = (/** @type {() => Promise<void>} */ task) => task().catch(showError);
  // Whoever holds the token decides: the panel shows only if the gateway lists clients for it.
  connectionForm.addEventListener('submit', () => run(() => refresh(connection())));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(() => create(connection()));
  });
  list.addEventListener('click', (event) => {
    const button = event.target instanceof HTMLButtonElement ? event.target : null;
    const name = button?.dataset.client;
    if (!button || !name) return;
    run(() => (button.dataset.action === 'rotate' ? rotate(connection(), name) : revoke(connection(), name)));
  });
  if (location.protocol === 'http:' || location.protocol === 'https:') run(() => refresh(connection()));
}

/** @param {Connection} current */
async function refresh(current) {
  let res;
  try {
    res = await call(current.base, '/v1/admin/clients', { headers: current.headers });
  } catch (err) {
    // Not an admin (or no token): no clients view, and nothing to complain about.
    if (err instanceof ShownError) {
      panel.hidden = true;
      return;
    }
    throw err;
  }
  /** @type {{ clients: Client[] }} */
  const { clients } = await res.json();
  list.replaceChildren(...clients.map(row));
  panel.hidden = false;
}

/** @param {Client} client */
function row(client) {
  const tr = document.createElement('tr');
  const state = client.static ? 'static' : client.disabled ? 'disabled' : 'active';
  for (const text of [client.name, client.models.join(', '), client.admin ? 'yes' : 'no', state]) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  const actions = document.createElement('td');
  if (!client.static) {
    for (const [action, label] of /** @type {const} */ ([
      ['rotate', 'Rotate'],
      ['revoke', 'Revoke'],
    ])) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = label;
      button.dataset.action = action;
      button.dataset.client = client.name;
      button.setAttribute('aria-label', `${label} ${client.name}`);
      actions.append(button);
    }
  }
  tr.append(actions);
  return tr;
}

/** @param {Connection} current */
async function create(current) {
  forgetToken();
  const models = modelsField.value
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  const body = JSON.stringify({ name: nameField.value.trim(), models, admin: adminField.checked });
  const res = await call(current.base, '/v1/admin/clients', { method: 'POST', body, headers: { ...current.headers, 'content-type': 'application/json' } });
  const made = await res.json();
  showToken(made.name, made.token);
  form.reset();
  await refresh(current);
}

/**
 * @param {Connection} current
 * @param {string} name
 */
async function rotate(current, name) {
  forgetToken();
  const res = await call(current.base, `/v1/admin/clients/${encodeURIComponent(name)}/rotate`, {
    method: 'POST',
    body: '{}',
    headers: { ...current.headers, 'content-type': 'application/json' },
  });
  showToken(name, (await res.json()).token);
}

/**
 * @param {Connection} current
 * @param {string} name
 */
async function revoke(current, name) {
  forgetToken();
  if (!confirm(`Revoke ${name}? Its token stops working.`)) return;
  await call(current.base, `/v1/admin/clients/${encodeURIComponent(name)}`, { method: 'DELETE', headers: current.headers });
  await refresh(current);
}

/**
 * @param {string} name
 * @param {string} token
 */
function showToken(name, token) {
  tokenText.textContent = token;
  tokenBox.dataset.client = name;
  tokenBox.hidden = false;
}

function forgetToken() {
  tokenText.textContent = '';
  tokenBox.hidden = true;
}
