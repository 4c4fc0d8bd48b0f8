#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
// `npm run bench [-- --quick]`: what the gateway costs, against a direct call
// to (fake) Baseten, a pass-through Worker (the floor) and Portkey's gateway,
// all measured in this one run on this machine. Prints one table and writes
// bench/results.json and bench/RESULTS.md. `--quick` (or BENCH_QUICK=1) runs
// every step with tiny counts, to prove the benchmark still works.
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { freePort } from '../tools/local-gateway.mjs';
import { buildWorker, bundleSize } from './build.mjs';
import { measureCpu } from './cpu.mjs';
import { startFakeProcess } from './fake-process.mjs';
import { compare, runLoad } from './measure.mjs';
import { portkeyVersion, startPortkey } from './portkey.mjs';
import { peakRssKiB, resetPeakRss, rssKiB, sampleRss } from './proc.mjs';
import { renderMarkdown, renderTable } from './report.mjs';
import {
  asyncSubmitTargets,
  BASETEN_KEY,
  CACHED_MODEL_ID,
  CHAT_MODEL_ID,
  chatTargets,
  failoverTargets,
  gatewayVars,
  predictTargets,
  RATE_LIMITS,
  REFUSING_MODEL_ID,
  SERVED_NAME,
  SMALL_INPUT,
  streamInput,
} from './scenarios.mjs';
import { runtimeVersions, serveWorker } from './serve.mjs';
import { median } from './stats.mjs';

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const here = (/** @type {string} */ path) => fileURLToPath(new URL(path, import.meta.url));
const loadAtStart = loadAverage();

/** Counts for a full run, and for a run that only proves the benchmark works. */
const PLAN = quick
  ? { seconds: 0.3, warmupSeconds: 0.1, repeats: 1, ttfbCount: 20, ttfbWarmup: 5, streamMiB: [1, 4], cpuIterations: 64, cpuRepeats: 1 }
  : { seconds: 5, warmupSeconds: 1, repeats: 3, ttfbCount: 1000, ttfbWarmup: 100, streamMiB: [10, 100], cpuIterations: 4096, cpuRepeats: 7 };
const CONCURRENCY = [1, 32];
const STREAM_CHUNK_BYTES = 64 * 1024;
const MEMORY_SAMPLE_MS = 10;

const gatewayPath = await buildWorker({ outdir: here('out/gateway') });
const floorPath = await buildWorker({ outdir: here('out/floor'), entry: 'bench/floor-worker.js', name: 'bench-floor' });
const gatewayCode = readFileSync(gatewayPath, 'utf8');

const fake = await startFakeProcess({ apiKey: BASETEN_KEY, servedNames: { [CHAT_MODEL_ID]: SERVED_NAME } });
/** @type {(() => Promise<void>)[]} */
const cleanups = [() => fake.close()];
try {
  const gateway = await serveWorker({
    name: 'gateway',
    modules: [{ path: 'index.js', contents: gatewayCode }],
    bindings: gatewayVars(fake.url),
    kvNamespaces: ['ASYNC_REQUESTS'],
    ratelimits: RATE_LIMITS,
    durableObjects: { IDEMPOTENCY: 'IdempotencyClaim' },
  });
  cleanups.push(gateway.dispose);
  const floor = await serveWorker({
    name: 'floor',
    modules: [{ path: 'floor-worker.js', contents: readFileSync(floorPath, 'utf8') }],
    bindings: { UPSTREAM: fake.url },
  });
  cleanups.push(floor.dispose);
  const portkey = await startPortkey(await freePort());
  cleanups.push(portkey.stop);
  const urls = { fake: fake.url, floor: floor.url, gateway: gateway.url, portkey: portkey.url };
  const options = { repeats: PLAN.repeats, afterEach: fake.reset };
  const cannon = { kind: 'cannon', seconds: PLAN.seconds, warmupSeconds: PLAN.warmupSeconds };

  step('small predict');
  /** @type {Record<string, unknown>} */
  const smallPredict = {};
  for (const connections of CONCURRENCY) {
    smallPredict[`c${connections}`] = await compare(predictTargets(urls, SMALL_INPUT), { ...cannon, connections }, options);
  }

  step('streaming predict: first byte');
  const firstByte = await compare(predictTargets(urls, streamInput(8, 256)), { kind: 'ttfb', count: PLAN.ttfbCount, warmup: PLAN.ttfbWarmup }, options);

  step('streaming predict: throughput and memory');
  const workerdPids = { floor: floor.pid, gateway: gateway.pid };
  /** @type {Record<string, unknown>} */
  const throughput = {};
  for (const mib of PLAN.streamMiB) {
    // The rate limiter is long decided when a large body flows: its twin would add minutes, not information.
    const { gatewayRl: _, ...targets } = predictTargets(urls, streamInput(mib * 16, STREAM_CHUNK_BYTES));
    throughput[`${mib}MiB`] = await download(targets, workerdPids, mib);
  }

  step('cache hit');
  const cacheHit = await cacheHits(predictTargets(urls, SMALL_INPUT, 'cached'), { ...cannon, connections: 1 }, options);

  step('OpenAI chat completions');
  /** @type {Record<string, unknown>} */
  const openai = {};
  for (const stream of [false, true]) {
    for (const connections of CONCURRENCY) {
      openai[`${stream ? 'stream' : 'json'}_c${connections}`] = await compare(chatTargets(urls, stream), { ...cannon, connections }, options);
    }
  }

  step('async submit: cost of the Idempotency-Key claim');
  const asyncSubmit = await compare(asyncSubmitTargets(urls), { kind: 'ttfb', count: PLAN.ttfbCount, warmup: PLAN.ttfbWarmup }, options);

  step('fail-over');
  const failover = await measureFailover(urls);

  step('Worker CPU');
  const cpu = await measureCpu(gatewayCode, { iterations: PLAN.cpuIterations, repeats: PLAN.cpuRepeats });

  const results = {
    command: quick ? 'npm run bench -- --quick' : 'npm run bench',
    date: new Date().toISOString(),
    quick,
    machine: machine(),
    plan: { ...PLAN, concurrency: CONCURRENCY, streamChunkBytes: STREAM_CHUNK_BYTES },
    smallPredict,
    streaming: { firstByte, throughput },
    cacheHit,
    openai,
    asyncSubmit,
    failover,
    cpu,
    bundle: bundleSize(gatewayPath),
  };
  console.log(`\n${renderTable(results)}`);
  if (!quick) {
    writeFileSync(here('results.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(here('RESULTS.md'), renderMarkdown(results));
    console.log('\nwritten: bench/results.json, bench/RESULTS.md');
  }
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => console.error(err));
}

/**
 * The gateway's cache hits, against the floor's calls to Baseten: each
 * gateway client's entry is stored first, then every request must hit. The
 * fake's log, read after each run, says how many reached the cached model.
 * @param {Record<string, import('./measure.mjs').Target>} targets
 * @param {Record<string, unknown>} job
 * @param {{repeats: number, afterEach: () => Promise<void>}} options
 */
async function cacheHits(targets, job, options) {
  for (const name of ['gateway', 'gatewayRl']) await untilHit(/** @type {import('./measure.mjs').Target} */ (targets[name]));
  await options.afterEach();
  let upstreamCalls = 0;
  const figures = await compare(targets, job, {
    repeats: options.repeats,
    async afterEach() {
      const log = /** @type {{path: string}[]} */ (await (await fetch(`${fake.url}/__fake/requests`)).json());
      upstreamCalls += log.filter((entry) => entry.path.startsWith(`/model-${CACHED_MODEL_ID}/`)).length;
      await options.afterEach();
    },
  });
  return { ...figures, upstreamCalls };
}

/** Sends the request until the gateway answers it from the cache (the entry is written after the first answer). @param {import('./measure.mjs').Target} target */
async function untilHit(target) {
  for (let i = 0; i < 50; i++) {
    const res = await fetch(target.url, { method: 'POST', headers: target.headers, body: target.body });
    await res.arrayBuffer();
    if (res.headers.get('x-cache') === 'HIT') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the cached alias never answered from the cache');
}

/**
 * What fallbacks cost when the primary answers (against an alias without
 * them), and how long a call takes when the primary refuses its connection:
 * tried every time, or skipped once its breaker is open.
 * @param {{gateway: string}} urls
 */
async function measureFailover(urls) {
  const { plain, failover, refused, refusedOpen } = failoverTargets(urls, SMALL_INPUT);
  // The fake forgets its rules on reset: the refusing primary is steered again after each.
  const refuse = async () => {
    await fake.reset();
    const rule = { target: `model-${REFUSING_MODEL_ID}`, fake: { refuse: true } };
    await (await fetch(`${fake.url}/__fake/steer`, { method: 'POST', body: JSON.stringify(rule) })).arrayBuffer();
  };
  await refuse();
  const options = { repeats: PLAN.repeats, afterEach: refuse };
  const ttfb = { kind: 'ttfb', count: PLAN.ttfbCount, warmup: PLAN.ttfbWarmup };
  /** @type {Record<string, unknown>} */
  const primaryAnswers = {};
  for (const connections of CONCURRENCY) {
    primaryAnswers[`c${connections}`] = await compare(
      { plain, failover },
      { kind: 'cannon', seconds: PLAN.seconds, warmupSeconds: PLAN.warmupSeconds, connections },
      options,
    );
  }
  const primaryRefuses = await compare({ plain, refused, refusedOpen }, ttfb, options);
  return { primaryAnswers, primaryRefuses };
}

/** @param {string} name */
function step(name) {
  console.error(`bench: ${name}${quick ? ' (quick)' : ''}`);
}

/**
 * Streams `mib` MiB through each target in turn, `repeats` times, sampling the
 * serving workerd's resident memory meanwhile.
 * @param {Record<string, import('./measure.mjs').Target>} targets
 * @param {Record<string, number>} pids workerd of each Worker target
 * @param {number} mib
 */
async function download(targets, pids, mib) {
  /** @type {Record<string, {mibPerSecond: number[], peakKiB: number[], sampledKiB: number[], idleKiB: number[], errors: number}>} */
  const runs = {};
  for (let i = 0; i < PLAN.repeats; i++) {
    for (const [name, target] of Object.entries(targets)) {
      const entry = runs[name] ?? { mibPerSecond: [], peakKiB: [], sampledKiB: [], idleKiB: [], errors: 0 };
      runs[name] = entry;
      const pid = pids[name];
      const sampler = pid === undefined ? undefined : sampleRss(pid, MEMORY_SAMPLE_MS);
      if (pid !== undefined) {
        entry.idleKiB.push(rssKiB(pid));
        resetPeakRss(pid);
      }
      const {
        runs: [result],
      } = await runLoad({ kind: 'download', repeat: 1, ...target });
      if (sampler) entry.sampledKiB.push(sampler.stop());
      if (pid !== undefined) entry.peakKiB.push(peakRssKiB(pid));
      if (result.status !== 200 || result.bytes !== mib * 1024 * 1024) entry.errors++;
      else entry.mibPerSecond.push(result.bytes / 1024 / 1024 / result.seconds);
      await fake.reset();
    }
  }
  return Object.fromEntries(
    Object.entries(runs).map(([name, r]) => [
      name,
      {
        mibPerSecond: median(r.mibPerSecond),
        idleRssKiB: r.idleKiB.length ? Math.min(...r.idleKiB) : null,
        peakRssKiB: r.peakKiB.length ? Math.max(...r.peakKiB) : null,
        sampledPeakRssKiB: r.sampledKiB.length ? Math.max(...r.sampledKiB) : null,
        errors: r.errors,
      },
    ]),
  );
}

function machine() {
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return {
    nproc: availableParallelism(),
    cpu: cpuModel,
    node: process.version,
    workerd: runtimeVersions.workerd,
    miniflare: runtimeVersions.miniflare,
    portkeyGateway: portkeyVersion,
    loadAverage: { start: loadAtStart, end: loadAverage() },
  };
}

function loadAverage() {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}
