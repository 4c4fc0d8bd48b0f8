#!/usr/bin/env node
// `npm run dev [-- --test-scheduled] [-- --config path/to/wrangler.toml]`: the gateway
// on http://127.0.0.1:8787 with wrangler.toml's local demo config (and .dev.vars),
// in front of a fake Baseten on 127.0.0.1:8788. No Cloudflare account needed.
// The config is checked before anything starts, and Ctrl+C at any moment stops
// every process started here: wrangler runs in its own process group, which a
// terminal's Ctrl+C would not reach.
import { createServer } from 'node:net';
import { checkConfig } from './check-config.mjs';
import { fakeWiring, startLocalGateway } from './local-gateway.mjs';

const argv = process.argv.slice(2);
const port = Number(process.env.PORT ?? 8787);
const fakePort = Number(process.env.FAKE_BASETEN_PORT ?? 8788);
const configIndex = argv.indexOf('--config');
const configPath = configIndex >= 0 ? argv[configIndex + 1] : undefined;
const testScheduled = argv.includes('--test-scheduled');

// Until the gateway is up, an abort makes startLocalGateway stop what it started and reject.
const stopping = new AbortController();
/** @type {Awaited<ReturnType<typeof startLocalGateway>> | undefined} */
let gateway;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, async () => {
    if (stopping.signal.aborted) return;
    stopping.abort();
    if (!gateway) return;
    await gateway.stop().catch(() => {});
    process.exit(130);
  });
}

/** @param {string[]} lines @returns {never} */
function exitWith(lines) {
  console.error(lines.join('\n'));
  process.exit(1);
}

const report = await checkConfig({ configPath, overrides: fakeWiring(`http://127.0.0.1:${fakePort}`, port) });
for (const warning of report.warnings) console.log(`warning: ${warning}`);
if (report.errors.length > 0) {
  exitWith([
    'npm run dev: the config cannot be loaded, nothing was started:',
    ...report.errors.map((error) => `  ${error}`),
    'Fix it in .dev.vars or wrangler.toml ([vars]), then run npm run dev again (npm run check checks it alone).',
  ]);
}

for (const [name, value] of /** @type {[string, number][]} */ ([
  ['PORT', port],
  ['FAKE_BASETEN_PORT', fakePort],
])) {
  if (!(await portFree(value))) {
    exitWith([`npm run dev: port ${value} is already in use (another npm run dev?): stop it, or choose another with ${name}=<port> npm run dev`]);
  }
}

if (stopping.signal.aborted) process.exit(130);
try {
  gateway = await startLocalGateway({
    port,
    fakePort,
    servedNames: { llm001: 'Qwen/Qwen2.5-3B-Instruct' },
    inherit: true,
    signal: stopping.signal,
    extraArgs: [...(configPath ? ['--config', configPath] : []), ...(testScheduled ? ['--test-scheduled'] : [])],
  });
} catch (err) {
  if (stopping.signal.aborted) process.exit(130);
  exitWith([`npm run dev: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`]);
}

const url = gateway.url;
console.log(`
gateway     ${url}   (fake Baseten at ${gateway.fake.url})
playground  ${url}/   (open in a browser)
try         curl -s ${url}/v1/models/echo/predict -H 'content-type: application/json' -d '{"prompt":"hello"}'
            curl -sN ${url}/v1/models/echo/predict -H 'content-type: application/json' -d '{"fake":{"stream":{"chunks":5,"chunk_bytes":16,"delay_ms":300}}}'
token       dev-token-change-me (admin, every alias): curl -s ${url}/v1/models -H 'authorization: Bearer dev-token-change-me'
cron        curl -s "${url}/cdn-cgi/handler/scheduled?cron=*/5+*+*+*+*"
config      read once: restart npm run dev after editing .dev.vars or wrangler.toml
`);

/** @param {number} value @returns {Promise<boolean>} */
function portFree(value) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(value, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
