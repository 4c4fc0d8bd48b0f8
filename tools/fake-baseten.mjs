#!/usr/bin/env node
/**
 * A local stand-in for Baseten's inference API, for the gateway's tests and for `npm run dev`.
 *
 * The gateway reaches it through the URL template `http://127.0.0.1:PORT/{subdomain}`, so every
 * path starts with `/model-<id>` or `/chain-<id>` and continues with Baseten's real path:
 * `/production/predict`, `/environments/<env>/async_predict`, `/async_request/<id>`,
 * `/deployment/<id>/sync/v1/chat/completions`, and so on.
 *
 * It follows Baseten's documented behaviour (auth, error shape and codes, request ids, predict
 * echo, chunked streaming, async lifecycle and limits, signed webhooks, wake, sync routes,
 * OpenAI-compatible and BEI engines, Model APIs, regional hosts, WebSockets) and lets a test steer
 * each request, per target, through a `fake` object in the JSON body or rules sent to
 * `/__fake/steer`, so gateway tests can provoke the situations that are hard to get from the real
 * service. Every knob is listed in `tools/fake-baseten/README.md`.
 *
 * Run directly: `node tools/fake-baseten.mjs [--port 8788]`.
 *
 * This file is the entry point tests, tools and benchmarks import; the fake itself lives in
 * `tools/fake-baseten/`: `server.mjs` (startup, log, control routes, routing), `request.mjs`
 * (paths, auth, body), `http.mjs` (answers and streaming writes), `steering.mjs` (the `fake`
 * fields), `targeting.mjs` (selectors and rules), `predict.mjs`, `async.mjs`, `webhooks.mjs`,
 * `sync.mjs`, `openai.mjs` (engines and Model APIs), `bei.mjs`, `websocket.mjs`, `types.mjs`.
 */

import { realpathSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeBaseten } from './fake-baseten/server.mjs';

export { startFakeBaseten };

/** @typedef {import('./fake-baseten/types.mjs').FakeOptions} FakeOptions */
/** @typedef {import('./fake-baseten/types.mjs').FakeBaseten} FakeBaseten */
/** @typedef {import('./fake-baseten/types.mjs').RecordedRequest} RecordedRequest */
/** @typedef {import('./fake-baseten/types.mjs').WebhookDelivery} WebhookDelivery */

// -----------------------------------------------------------------------------------------------
// Command line

/**
 * @param {string[]} argv
 * @param {NodeJS.ProcessEnv} env
 * @returns {FakeOptions}
 */
function optionsFromCommandLine(argv, env) {
  /** @type {FakeOptions} */
  const options = { port: 8788 };
  if (env.FAKE_BASETEN_PORT) options.port = Number(env.FAKE_BASETEN_PORT);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--port') options.port = Number(argv[++i]);
    else if (arg.startsWith('--port=')) options.port = Number(arg.slice('--port='.length));
  }
  if (!Number.isInteger(options.port) || /** @type {number} */ (options.port) < 0) {
    throw new Error(`invalid port: ${options.port}`);
  }
  if (env.FAKE_BASETEN_API_KEY) options.apiKey = env.FAKE_BASETEN_API_KEY;
  // Comma-separated, newest first, to rehearse a secret rotation.
  if (env.FAKE_BASETEN_WEBHOOK_SECRET)
    options.webhookSecrets = env.FAKE_BASETEN_WEBHOOK_SECRET.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (env.FAKE_BASETEN_SERVED_NAMES) options.servedNames = JSON.parse(env.FAKE_BASETEN_SERVED_NAMES);
  return options;
}

async function main() {
  const fake = await startFakeBaseten(optionsFromCommandLine(process.argv.slice(2), process.env));
  console.log(`fake baseten listening on ${fake.url}`);
  const stop = () => {
    fake.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function isMainModule() {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(resolvePath(process.argv[1])) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
