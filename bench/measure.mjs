// Runs load jobs in a separate process (bench/load.mjs) and compares targets
// fairly: the targets take turns within each repeat, so a slow moment of the
// machine lands on all of them, and each figure is the median of the repeats.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { median } from './stats.mjs';

const run = promisify(execFile);
const LOAD = fileURLToPath(new URL('./load.mjs', import.meta.url));

/**
 * @typedef {object} Target
 * @property {string} url
 * @property {string} [method]
 * @property {Record<string, string>} headers
 * @property {string} body
 */

/**
 * @param {Record<string, unknown>} job
 * @returns {Promise<any>}
 */
export async function runLoad(job) {
  const { stdout } = await run(process.execPath, [LOAD, JSON.stringify(job)], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout);
}

/**
 * The same job against every target, `repeats` times in turn.
 * @param {Record<string, Target>} targets
 * @param {Record<string, unknown>} job
 * @param {{repeats: number, afterEach?: () => Promise<void>}} options
 * @returns {Promise<Record<string, {p50: number | null, p99: number | null, rps: number | null, errors: number, statuses: Record<string, number>}>>}
 */
export async function compare(targets, job, { repeats, afterEach }) {
  /** @type {Record<string, any[]>} */
  const runs = Object.fromEntries(Object.keys(targets).map((name) => [name, []]));
  for (let i = 0; i < repeats; i++) {
    for (const [name, target] of Object.entries(targets)) {
      runs[name]?.push(await runLoad({ ...job, ...target }));
      await afterEach?.();
    }
  }
  return Object.fromEntries(
    Object.entries(runs).map(([name, list]) => [
      name,
      {
        p50: median(list.map((r) => r.p50)),
        p99: median(list.map((r) => r.p99)),
        rps: median(list.map((r) => r.rps)),
        errors: list.reduce((sum, r) => sum + r.errors, 0),
        statuses: mergeCounts(list.map((r) => r.statuses ?? {})),
      },
    ]),
  );
}

/** @param {Record<string, number>[]} counts */
function mergeCounts(counts) {
  /** @type {Record<string, number>} */
  const total = {};
  for (const count of counts) {
    for (const [key, n] of Object.entries(count)) total[key] = (total[key] ?? 0) + n;
  }
  return total;
}
