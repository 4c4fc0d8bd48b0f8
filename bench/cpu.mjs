// Request-path cost inside workerd (see cpu-worker.js): µs per request of the
// gateway's fetch handler, and of a bare fetch() of the same request (the
// floor), with the upstream a stub Worker that answers at once. Two clocks:
// the Worker's own (wall time of the loop, which has nothing to wait for) and
// the workerd process's CPU time from /proc.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpuMicros } from './proc.mjs';
import { BASETEN_KEY, CLIENT_TOKEN, gatewayVars, inputOfSize, LIMITED_CLIENT_TOKEN, MODEL_ID, RATE_LIMITS, SMALL_INPUT } from './scenarios.mjs';
import { compatibility, serveWorker } from './serve.mjs';
import { median } from './stats.mjs';

/** Never contacted: every fetch goes to the stub Worker. */
const UPSTREAM = 'http://127.0.0.1:9';
const source = (/** @type {string} */ name) => readFileSync(fileURLToPath(new URL(name, import.meta.url)), 'utf8');

/**
 * @param {string} gatewayCode the built gateway module
 * @param {{iterations: number, repeats: number}} plan
 */
export async function measureCpu(gatewayCode, { iterations, repeats }) {
  const worker = await serveWorker({
    name: 'cpu-bench',
    modules: [
      { path: 'cpu-worker.js', contents: source('cpu-worker.js') },
      { path: 'gateway.js', contents: gatewayCode },
    ],
    bindings: gatewayVars(UPSTREAM),
    kvNamespaces: ['ASYNC_REQUESTS'],
    ratelimits: RATE_LIMITS,
    outboundService: 'stub-upstream',
    extraWorkers: [{ name: 'stub-upstream', modules: true, script: source('stub-upstream.js'), ...compatibility() }],
  });
  const client = { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_TOKEN}` };
  const signed = { 'content-type': 'application/json', authorization: `Api-Key ${BASETEN_KEY}` };
  /**
   * A POST as it arrives over HTTP: with its Content-Length.
   * @param {string} url @param {Record<string, string>} headers @param {unknown} input
   */
  const post = (url, headers, input) => {
    const body = JSON.stringify(input);
    return { url, method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, body };
  };
  const limited = { ...client, authorization: `Bearer ${LIMITED_CLIENT_TOKEN}` };
  const gatewayCall = (/** @type {string} */ path, /** @type {unknown} */ input, headers = client) => ({
    via: 'gateway',
    request: post(`https://gateway.example${path}`, headers, input),
  });
  const directCall = (/** @type {unknown} */ input) => ({
    via: 'fetch',
    request: post(`${UPSTREAM}/model-${MODEL_ID}/environments/production/predict`, signed, input),
  });
  const big = inputOfSize(64 * 1024);
  const rows = { rows: Array.from({ length: 32 }, () => SMALL_INPUT) };
  const cases = {
    predict: { gateway: gatewayCall('/v1/models/bench/predict', SMALL_INPUT), floor: directCall(SMALL_INPUT), iterations },
    predictRl: { gateway: gatewayCall('/v1/models/bench/predict', SMALL_INPUT, limited), floor: directCall(SMALL_INPUT), iterations },
    // The untimed first call stores the entry; every timed one is a hit (the stub upstream would answer anyway).
    cacheHit: { gateway: gatewayCall('/v1/models/cached/predict', SMALL_INPUT), floor: directCall(SMALL_INPUT), iterations },
    predict64k: { gateway: gatewayCall('/v1/models/bench/predict', big), floor: directCall(big), iterations: Math.ceil(iterations / 4) },
    // The floor of a batch is 32 bare fetches: the report counts 32 times the predict floor.
    batch32: { gateway: gatewayCall('/v1/models/bench/batch', rows), floor: null, iterations: Math.ceil(iterations / 32) },
  };
  try {
    /** @type {Record<string, unknown>} */
    const results = {};
    for (const [name, spec] of Object.entries(cases)) {
      /** @type {{gateway: Sample[], floor: Sample[]}} */
      const samples = { gateway: [], floor: [] };
      // The two loops take turns, so a busy moment of the machine lands on both.
      for (let i = 0; i < repeats; i++) {
        samples.gateway.push(await sample(worker, spec.gateway, spec.iterations));
        if (spec.floor) samples.floor.push(await sample(worker, spec.floor, spec.iterations));
      }
      results[name] = { gateway: summarize(samples.gateway), floor: spec.floor ? summarize(samples.floor) : null };
    }
    return results;
  } finally {
    await worker.dispose();
  }
}

/** @typedef {{status: number, error?: string, wallMicros?: number, cpuMicros?: number}} Sample */

/**
 * One loop of `iterations` calls (plus one untimed) inside the Worker.
 * @param {{url: string, pid: number}} worker
 * @param {Record<string, unknown>} call
 * @param {number} iterations
 * @returns {Promise<Sample>}
 */
async function sample(worker, call, iterations) {
  const cpuBefore = cpuMicros(worker.pid);
  const res = await fetch(worker.url, { method: 'POST', body: JSON.stringify({ ...call, iterations }) });
  const cpuAfter = cpuMicros(worker.pid);
  const answer = await res.json();
  if (answer.status !== 200) return { status: answer.status, error: answer.body };
  return { status: 200, wallMicros: answer.microsPerIteration, cpuMicros: (cpuAfter - cpuBefore) / (iterations + 1) };
}

/** Medians of the samples; the first failure when there is one. @param {Sample[]} samples */
function summarize(samples) {
  const failed = samples.find((s) => s.status !== 200);
  if (failed) return failed;
  return { status: 200, wallMicros: median(samples.map((s) => s.wallMicros)), cpuMicros: median(samples.map((s) => s.cpuMicros)) };
}
