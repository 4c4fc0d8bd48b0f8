// Starts the fake Baseten and `wrangler dev` on loopback, wired to each other.
// Used by `npm run dev`, the end-to-end tests and the benchmark.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeBaseten } from './fake-baseten.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const READY_TIMEOUT_MS = 90_000;

/** A port nothing listens on right now. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/**
 * @param {object} [options]
 * @param {number} [options.port] gateway port (default: a free one)
 * @param {number} [options.fakePort] fake Baseten port (default: a free one)
 * @param {Record<string, unknown>} [options.vars] vars and secrets, overriding wrangler.toml's (objects are sent as JSON strings)
 * @param {Record<string, string>} [options.servedNames] the fake's OpenAI served names, by model id
 * @param {string[]} [options.extraArgs] more `wrangler dev` arguments
 * @param {boolean} [options.inherit] show wrangler's output on this terminal
 * @param {object} [options.fakeOptions] more startFakeBaseten options
 * @param {AbortSignal} [options.signal] stops everything started so far and rejects, at any moment of the start
 */
export async function startLocalGateway(options = {}) {
  const fake = await startFakeBaseten({
    port: options.fakePort ?? 0,
    apiKey: 'fake-baseten-key',
    webhookSecrets: ['whsec_fake'],
    servedNames: options.servedNames ?? {},
    ...options.fakeOptions,
  });
  const port = options.port ?? (await freePort());
  const vars = { ...fakeWiring(fake.url, port), ...options.vars };
  const persistDir = mkdtempSync(join(tmpdir(), 'gateway-dev-'));
  const inspectorPort = await freePort();
  const args = [
    WRANGLER,
    'dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(inspectorPort),
    '--persist-to',
    persistDir,
    '--show-interactive-dev-session=false',
    ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${typeof value === 'string' ? value : JSON.stringify(value)}`]),
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', FORCE_COLOR: '0' },
    stdio: options.inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    detached: process.platform !== 'win32',
  });
  /** @type {string[]} Everything wrangler and the Worker printed, for tests that scan logs. */
  const output = [];
  child.stdout?.on('data', (d) => output.push(d.toString()));
  child.stderr?.on('data', (d) => output.push(d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        process.kill(-(/** @type {number} */ (child.pid)), 'SIGTERM');
      } catch {
        child.kill('SIGTERM');
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-(/** @type {number} */ (child.pid)), 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
    }
    await fake.close();
    rmSync(persistDir, { recursive: true, force: true });
    // Every gateway started here is checked on the way out: no log line may hold a secret.
    const secrets = [vars.BASETEN_API_KEY, ...String(vars.BASETEN_WEBHOOK_SECRET ?? '').split(',')].filter((s) => typeof s === 'string' && s.trim() !== '');
    const log = output.join('');
    const leaked = secrets.filter((secret) => log.includes(secret.trim()));
    if (leaked.length > 0) throw new Error(`the gateway's log holds ${leaked.length} secret value(s) (BASETEN_API_KEY or BASETEN_WEBHOOK_SECRET)`);
  };
  try {
    await waitUntilReady(url, child, output, options.signal);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, inspectorPort, fake, output, logs: () => output.join(''), stop, process: child };
}

/**
 * The vars that point the gateway at the fake Baseten on `fakeUrl`: they override wrangler.toml and .dev.vars.
 * @param {string} fakeUrl
 * @param {number} port
 */
export function fakeWiring(fakeUrl, port) {
  return {
    BASETEN_API_KEY: 'fake-baseten-key',
    BASETEN_WEBHOOK_SECRET: 'whsec_fake',
    BASETEN_URL_TEMPLATE: `${fakeUrl}/{subdomain}`,
    BASETEN_MODEL_API_URL: `${fakeUrl}/model-api/v1`,
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
  };
}

/**
 * @param {string} url
 * @param {import('node:child_process').ChildProcess} child
 * @param {string[]} output
 * @param {AbortSignal} [signal]
 */
async function waitUntilReady(url, child, output, signal) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}:\n${output.join('')}`);
    let res;
    try {
      res = await fetch(`${url}/healthz`, { signal });
    } catch {
      // not listening yet, or aborted (checked above)
    }
    if (res?.ok) return;
    // A gateway answering 500 has a config it cannot load: waiting longer changes nothing.
    if (res?.status === 500) throw new Error(`the gateway answers 500: ${await errorMessage(res)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  signal?.throwIfAborted();
  throw new Error(`wrangler dev did not answer within ${READY_TIMEOUT_MS} ms:\n${output.join('')}`);
}

/** @param {Response} res */
async function errorMessage(res) {
  const text = await res.text();
  try {
    return JSON.parse(text).error.message;
  } catch {
    return text.slice(0, 500);
  }
}
