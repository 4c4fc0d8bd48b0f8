#!/usr/bin/env node
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
// Load figures for the README: the gateway under `wrangler dev` on loopback,
// in front of the fake Baseten, driven by autocannon. Not a test: run it with
// `npm run bench:load`. Exits 1 if any request fails that was not meant to,
// or if workerd's memory keeps growing from round to round.
//
// Rounds: 10,000 predicts at 50 connections, 10,000 at 100, 1,000 deliberate
// 400s, then 200 concurrent streams, twice each. After every round it reads
// the Worker's own JS heap (V8's Runtime.getHeapUsage, through wrangler dev's
// inspector) and workerd's RSS from /proc. The pass/fail check is on the
// Worker's heap: workerd's RSS under wrangler dev also grows by the dev
// server's own per-request bookkeeping, even for /healthz with logging off.
import autocannon from 'autocannon';
import { startLocalGateway } from '../tools/local-gateway.mjs';

const TOKEN = 'bench-token-0123456789abcdef';
const PREDICTS = Number(process.env.BENCH_PREDICTS ?? 10_000);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 200);
/** Heap the Worker may add between passes (V8's lazy collection) before it counts as growth. */
const HEAP_GROWTH_LIMIT_MB = 1;

const gateway = await startLocalGateway({
  vars: {
    MODELS: { echo: { model_id: 'demo01', environment: 'production', public: true } },
    // The bench client is exempt from rate limiting: the limiter is not what is measured.
    CLIENTS: { bench: { token_sha256: createHash('sha256').update(TOKEN).digest('hex'), models: ['*'], rate_limit: 'none' } },
  },
});

/**
 * One round's figures, as printed; the memory figures are read after the round.
 * @typedef {object} Row
 * @property {string} round
 * @property {number} requests
 * @property {number} connections
 * @property {number} ok
 * @property {number} deliberate
 * @property {number} errors
 * @property {number} rps
 * @property {number | string} p50
 * @property {number | string} p99
 * @property {number} [workerHeapMb]
 * @property {number} [workerdRssMb]
 */

const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
const inspector = await openInspector(gateway.inspectorPort);
/** @type {Row[]} */
const rows = [];
let unexpected = 0;

try {
  const rounds = [
    () => predicts(50),
    () => predicts(100),
    () => deliberateErrors(),
    () => streams(),
    () => predicts(50),
    () => predicts(100),
    () => deliberateErrors(),
    () => streams(),
  ];
  for (const round of rounds) {
    /** @type {Row} */
    const row = await round();
    row.workerHeapMb = +((await inspector.heapUsedBytes()) / 1024 / 1024).toFixed(2);
    row.workerdRssMb = +(workerdRssKb() / 1024).toFixed(1);
    rows.push(row);
    console.log(JSON.stringify(row));
  }
} finally {
  inspector.close();
  await gateway.stop();
}

console.log(`\n${cpus().length} cores, Node ${process.version}, wrangler dev on loopback in front of the fake Baseten\n`);
console.log('| round | requests | connections | ok | deliberate errors | other errors | req/s | p50 ms | p99 ms | Worker heap MB | workerd RSS MB |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(
    `| ${r.round} | ${r.requests} | ${r.connections} | ${r.ok} | ${r.deliberate} | ${r.errors} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.workerHeapMb} | ${r.workerdRssMb} |`,
  );
}
const growth = secondPassGrowth(rows, 'workerHeapMb');
console.log(`\nWorker heap, second pass against the first, worst round: ${growth >= 0 ? '+' : ''}${growth.toFixed(2)} MB (limit +${HEAP_GROWTH_LIMIT_MB} MB)`);
console.log(`workerd RSS (dev server included), same comparison: +${secondPassGrowth(rows, 'workerdRssMb').toFixed(1)} MB`);
if (unexpected > 0 || growth > HEAP_GROWTH_LIMIT_MB) {
  console.error(`FAILED: ${unexpected} unexpected errors, Worker heap growth ${growth.toFixed(1)} MB`);
  process.exitCode = 1;
}

/** @param {number} connections */
async function predicts(connections) {
  const result = await autocannon({
    url: `${gateway.url}/v1/models/echo/predict`,
    method: 'POST',
    headers,
    body: '{"prompt":"load"}',
    connections,
    amount: PREDICTS,
    timeout: 30,
  });
  const errors = result.errors + result.timeouts + result.non2xx;
  unexpected += errors;
  return {
    round: 'predict',
    requests: PREDICTS,
    connections,
    ok: result['2xx'],
    deliberate: 0,
    errors,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

/** Malformed JSON on purpose: every answer must be the contract's 400, nothing else. */
async function deliberateErrors() {
  const amount = Math.round(PREDICTS / 10);
  const result = await autocannon({
    url: `${gateway.url}/v1/models/echo/predict`,
    method: 'POST',
    headers,
    body: '{oops',
    connections: 50,
    amount,
    timeout: 30,
  });
  const deliberate = result.statusCodeStats?.['400']?.count ?? 0;
  const errors = result.errors + result.timeouts + (amount - deliberate);
  unexpected += errors;
  return {
    round: 'malformed JSON',
    requests: amount,
    connections: 50,
    ok: 0,
    deliberate,
    errors,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

/** STREAMS streams open at once, 20 chunks of 1 KiB each, 50 ms apart. */
async function streams() {
  const expected = 20 * 1024;
  const started = Date.now();
  const outcomes = await Promise.all(
    Array.from({ length: STREAMS }, async () => {
      try {
        const res = await fetch(`${gateway.url}/v1/models/echo/predict`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ fake: { stream: { chunks: 20, chunk_bytes: 1024, delay_ms: 50 } } }),
        });
        return res.ok && (await res.arrayBuffer()).byteLength === expected;
      } catch {
        return false;
      }
    }),
  );
  const ok = outcomes.filter(Boolean).length;
  unexpected += STREAMS - ok;
  const seconds = (Date.now() - started) / 1000;
  return {
    round: 'concurrent streams',
    requests: STREAMS,
    connections: STREAMS,
    ok,
    deliberate: 0,
    errors: STREAMS - ok,
    rps: Math.round(STREAMS / seconds),
    p50: '-',
    p99: '-',
  };
}

/** The second pass against the first, round by round, at the largest difference (MB). */
/**
 * @param {Row[]} all
 * @param {'workerHeapMb' | 'workerdRssMb'} field
 */
function secondPassGrowth(all, field) {
  const half = all.length / 2;
  let worst = -Infinity;
  for (let i = 0; i < half; i++) worst = Math.max(worst, Number(all[i + half]?.[field]) - Number(all[i]?.[field]));
  return worst;
}

/**
 * A DevTools protocol client on wrangler dev's inspector, for the Worker
 * isolate's heap. The inspector proxy accepts local origins only.
 */
/** @param {number} port */
async function openInspector(port) {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  // Node's WebSocket takes headers in its second argument, where the DOM's types only know protocols.
  const init = /** @type {string[]} */ (/** @type {unknown} */ ({ headers: { origin: 'http://127.0.0.1' } }));
  const socket = new WebSocket(target.webSocketDebuggerUrl, init);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error('could not open the inspector'));
  });
  const pending = new Map();
  let nextId = 0;
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data));
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  };
  /** @type {(method: string, params?: object) => Promise<any>} */
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
      setTimeout(() => pending.delete(id) && reject(new Error(`${method}: no answer`)), 60_000);
    });
  return {
    async heapUsedBytes() {
      // A heap snapshot starts with a full collection: what is left is what the Worker holds.
      await send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
      return (await send('Runtime.getHeapUsage')).result.usedSize;
    },
    close: () => socket.close(),
  };
}

function workerdRssKb() {
  let total = 0;
  for (const pid of descendants(/** @type {number} */ (gateway.process.pid))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      if (/^Name:\s+workerd/m.test(status)) total += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // the process ended
    }
  }
  return total;
}

/**
 * @param {number} pid
 * @returns {number[]}
 */
function descendants(pid) {
  /** @type {number[]} */
  let children = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [pid];
  }
  return [pid, ...children.flatMap(descendants)];
}
