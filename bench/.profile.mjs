// Throwaway: CPU profile of the gateway's small predict inside workerd, through the inspector.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import WebSocket from 'ws';
import { buildWorker } from './build.mjs';
import { CLIENT_TOKEN, gatewayVars, SMALL_INPUT, RATE_LIMITS } from './scenarios.mjs';
import { compatibility } from './serve.mjs';
const source = (n) => readFileSync(fileURLToPath(new URL(n, import.meta.url)), 'utf8');
const path = await buildWorker({ outdir: '/tmp/out-prof' });
const mf = new Miniflare(convertV4MiniflareOptions({
  inspectorPort: 9231,
  workers: [
    { name: 'cpu', modules: [{ type: 'ESModule', path: 'cpu-worker.js', contents: source('cpu-worker.js') }, { type: 'ESModule', path: 'gateway.js', contents: readFileSync(path, 'utf8') }],
      ...compatibility(), bindings: gatewayVars('http://127.0.0.1:9'), kvNamespaces: ['ASYNC_REQUESTS'], ratelimits: RATE_LIMITS, outboundService: 'stub-upstream',
      unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }] },
    { name: 'stub-upstream', modules: true, script: source('stub-upstream.js'), ...compatibility() },
  ],
  handleStructuredLogs: () => {},
}));
const url = await mf.unsafeGetDirectURL('cpu');
const targets = await (await fetch('http://127.0.0.1:9231/json')).json();
const t = targets.find((x) => x.title?.includes('cpu') || x.id?.includes('cpu')) ?? targets[0];
const ws = new WebSocket(t.webSocketDebuggerUrl);
await new Promise((r) => ws.once('open', r));
let id = 0; const pending = new Map();
ws.on('message', (m) => { const msg = JSON.parse(m); if (pending.has(msg.id)) { pending.get(msg.id)(msg.result); pending.delete(msg.id); } });
const send = (method, params = {}) => new Promise((r) => { pending.set(++id, r); ws.send(JSON.stringify({ id, method, params })); });
const body = JSON.stringify(SMALL_INPUT);
const job = (n) => JSON.stringify({ via: 'gateway', iterations: n, request: { url: 'https://gateway.example/v1/models/bench/predict', method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_TOKEN}`, 'content-length': String(body.length) }, body } });
await (await fetch(url, { method: 'POST', body: job(500) })).text();
await send('Profiler.enable'); await send('Profiler.setSamplingInterval', { interval: 50 }); await send('Profiler.start');
console.log(await (await fetch(url, { method: 'POST', body: job(Number(process.argv[2] ?? 4000)) })).text());
const { profile } = await send('Profiler.stop');
writeFileSync('/tmp/gateway.cpuprofile', JSON.stringify(profile));
// self time by function
const self = new Map(); const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const dt = profile.timeDeltas; let total = 0;
profile.samples.forEach((s, i) => { const n = byId.get(s); const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}:${n.callFrame.columnNumber}`; self.set(k, (self.get(k) ?? 0) + (dt[i] ?? 0)); total += dt[i] ?? 0; });
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log((v / total * 100).toFixed(1).padStart(5) + '%', k);
ws.close(); await mf.dispose();
