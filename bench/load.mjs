#!/usr/bin/env node
// The load generator, run as its own process so that it never shares an
// event loop with the servers it measures. Takes one JSON job as argument and
// prints one JSON result:
//   {"kind":"cannon", url, method, headers, body, connections, seconds, warmupSeconds}
//     autocannon; latencies are kept at full precision (autocannon's own
//     histogram rounds to whole milliseconds, too coarse here).
//   {"kind":"ttfb", url, headers, body, count, warmup, freshHeader?}
//     one request at a time; time from sending to the first body byte.
//     `freshHeader` names a header given a new random value on every request
//     (an Idempotency-Key that is never a retry).
//   {"kind":"download", url, headers, body, repeat}
//     one request at a time; bytes and seconds of the whole body.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { latencySummary } from './stats.mjs';

/**
 * @typedef {object} Target
 * @property {string} url
 * @property {string} [method]
 * @property {Record<string, string>} headers
 * @property {string} body
 * @property {string} [freshHeader]
 */

/**
 * @param {Target & {connections: number, seconds: number}} job
 * @param {(status: number, ms: number) => void} [onResponse]
 */
function fire(job, onResponse) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: job.url,
        method: /** @type {'POST'} */ (job.method ?? 'POST'),
        headers: job.headers,
        body: job.body,
        connections: job.connections,
        duration: job.seconds,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    if (onResponse) instance.on('response', (_client, status, _bytes, ms) => onResponse(status, ms));
  });
}

/** @param {Target & {connections: number, seconds: number, warmupSeconds: number}} job */
async function cannon(job) {
  if (job.warmupSeconds > 0) await fire({ ...job, seconds: job.warmupSeconds });
  /** @type {number[]} */
  const latencies = [];
  /** @type {Record<string, number>} */
  const statuses = {};
  const started = performance.now();
  const result = /** @type {import('autocannon').Result} */ (
    await fire(job, (status, ms) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 200 && status < 300) latencies.push(ms);
    })
  );
  const seconds = (performance.now() - started) / 1000;
  const failed = Object.entries(statuses)
    .filter(([status]) => Number(status) >= 300)
    .reduce((sum, [, n]) => sum + n, 0);
  return {
    ...latencySummary(latencies),
    rps: latencies.length > 0 ? latencies.length / seconds : null,
    statuses,
    errors: failed + result.errors + result.timeouts,
  };
}

/**
 * One request; resolves with the time to the first body byte and to the end, in ms.
 * @param {Target} target
 * @param {http.Agent} agent
 * @returns {Promise<{firstByteMs: number, totalMs: number, bytes: number, status: number}>}
 */
function timedRequest(target, agent) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let firstByteMs = NaN;
    let bytes = 0;
    const headers = target.freshHeader ? { ...target.headers, [target.freshHeader]: randomUUID() } : target.headers;
    const req = http.request(target.url, { method: target.method ?? 'POST', headers, agent }, (res) => {
      res.on('data', (chunk) => {
        if (bytes === 0) firstByteMs = performance.now() - started;
        bytes += chunk.length;
      });
      res.on('end', () => resolve({ firstByteMs, totalMs: performance.now() - started, bytes, status: res.statusCode ?? 0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(target.body);
  });
}

/** @param {Target & {count: number, warmup: number}} job */
async function ttfb(job) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  /** @type {number[]} */
  const times = [];
  let errors = 0;
  for (let i = 0; i < job.warmup + job.count; i++) {
    const { firstByteMs, status } = await timedRequest(job, agent);
    if (i < job.warmup) continue;
    if (status >= 200 && status < 300) times.push(firstByteMs);
    else errors++;
  }
  agent.destroy();
  return { ...latencySummary(times), errors };
}

/** @param {Target & {repeat: number}} job */
async function download(job) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const runs = [];
  for (let i = 0; i < job.repeat; i++) {
    const { totalMs, bytes, status } = await timedRequest(job, agent);
    runs.push({ status, bytes, seconds: totalMs / 1000 });
  }
  agent.destroy();
  return { runs };
}

const kinds = { cannon, ttfb, download };
const job = JSON.parse(process.argv[2] ?? '{}');
const kind = kinds[/** @type {keyof typeof kinds} */ (job.kind)];
if (!kind) throw new Error(`unknown job kind ${job.kind}`);
process.stdout.write(`${JSON.stringify(await kind(job))}\n`);
