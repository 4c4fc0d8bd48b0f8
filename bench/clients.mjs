// What knowing clients at run time costs a call: the same small predict
// against the gateway with neither feature (a static client, no CLIENT_KEYS,
// no CLIENT_METER), with the call counted after the answer (static client,
// CLIENT_METER bound), with the client looked up in CLIENT_KEYS, and with the
// lookup plus a quota checked at the door by the client's meter.
// Usage: node bench/clients.mjs [--seconds 5] [--repeats 3]; writes bench/clients-results.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildWorker } from './build.mjs';
import { startFakeProcess } from './fake-process.mjs';
import { compare } from './measure.mjs';
import { BASETEN_KEY, CHAT_MODEL_ID, CLIENT_TOKEN, gatewayVars, predictTargets, RATE_LIMITS, SERVED_NAME, SMALL_INPUT } from './scenarios.mjs';
import { serveWorker } from './serve.mjs';

const here = (/** @type {string} */ path) => fileURLToPath(new URL(path, import.meta.url));
const option = (/** @type {string} */ name, /** @type {number} */ fallback) => {
  const index = process.argv.indexOf(name);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
};
const seconds = option('--seconds', 5);
const repeats = option('--repeats', 3);
const ADMIN_TOKEN = 'bench-admin-token-8d2e61c0a9';

const gatewayCode = readFileSync(await buildWorker({ outdir: here('out/gateway') }), 'utf8');
const fake = await startFakeProcess({ apiKey: BASETEN_KEY, servedNames: { [CHAT_MODEL_ID]: SERVED_NAME } });
/** @type {(() => Promise<void>)[]} */
const cleanups = [() => fake.close()];
try {
  const base = gatewayVars(fake.url);
  const plain = await serveWorker({
    name: 'plain',
    modules: [{ path: 'index.js', contents: gatewayCode }],
    bindings: base,
    kvNamespaces: ['ASYNC_REQUESTS'],
    ratelimits: RATE_LIMITS,
  });
  cleanups.push(plain.dispose);
  const adminHash = await sha256Hex(ADMIN_TOKEN);
  const clients = {
    ...base.CLIENTS,
    admin: { token_sha256: adminHash, models: ['*'], admin: true },
  };
  const metered = await serveWorker({
    name: 'metered',
    modules: [{ path: 'index.js', contents: gatewayCode }],
    bindings: { ...base, CLIENTS: clients },
    kvNamespaces: ['ASYNC_REQUESTS', 'CLIENT_KEYS'],
    ratelimits: RATE_LIMITS,
    durableObjects: { CLIENT_METER: 'ClientMeter' },
  });
  cleanups.push(metered.dispose);
  const stored = await makeClient(metered.url, 'stored', undefined);
  const quotad = await makeClient(metered.url, 'quotad', { requests_per_month: 1e9, tokens_per_month: 1e12 });

  const viaPlain = predictTargets({ fake: fake.url, floor: '', gateway: plain.url }, SMALL_INPUT).gateway;
  const viaMetered = predictTargets({ fake: fake.url, floor: '', gateway: metered.url }, SMALL_INPUT).gateway;
  const withToken = (/** @type {typeof viaMetered} */ target, /** @type {string} */ token) => ({
    ...target,
    headers: { ...target.headers, authorization: `Bearer ${token}` },
  });
  const targets = {
    neither: viaPlain,
    counted_after: withToken(viaMetered, CLIENT_TOKEN),
    kv_lookup: withToken(viaMetered, stored),
    kv_lookup_and_quota: withToken(viaMetered, quotad),
  };
  /** @type {Record<string, unknown>} */
  const results = {};
  for (const connections of [1, 32]) {
    results[`c${connections}`] = await compare(targets, { kind: 'cannon', seconds, warmupSeconds: 1, connections }, { repeats, afterEach: fake.reset });
    console.log(`c${connections}`, JSON.stringify(results[`c${connections}`]));
  }
  writeFileSync(here('clients-results.json'), `${JSON.stringify({ seconds, repeats, results }, null, 2)}\n`);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}

/**
 * @param {string} url
 * @param {string} name
 * @param {Record<string, number> | undefined} quota
 * @returns {Promise<string>} the new client's token
 */
async function makeClient(url, name, quota) {
  const res = await fetch(`${url}/v1/admin/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, models: ['*'], rate_limit: 'none', ...(quota && { quota }) }),
  });
  if (res.status !== 201) throw new Error(`making client ${name}: ${res.status} ${await res.text()}`);
  return (await res.json()).token;
}

/** @param {string} text */
async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Buffer.from(digest).toString('hex');
}
