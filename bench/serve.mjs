// Serves a built Worker with the Miniflare (and workerd) that wrangler ships,
// on a loopback socket straight into the Worker: no `wrangler dev` proxy and
// no Miniflare entry Worker in front, so what is measured is the Worker alone.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { convertV4MiniflareOptions, Miniflare } from 'miniflare';

const require = createRequire(import.meta.url);
const fromMiniflare = createRequire(require.resolve('miniflare'));

export const runtimeVersions = {
  miniflare: require('miniflare/package.json').version,
  workerd: fromMiniflare('workerd/package.json').version,
};

// Figures are only comparable with `wrangler dev` and deploys when both run the same Miniflare.
const wranglerMiniflare = require('wrangler/package.json').dependencies.miniflare;
if (runtimeVersions.miniflare !== wranglerMiniflare) {
  throw new Error(`miniflare ${runtimeVersions.miniflare} is installed but wrangler ships ${wranglerMiniflare}: pin the miniflare devDependency to wrangler's`);
}

/** The production environment's compatibility settings, read by wrangler itself. */
export function compatibility() {
  const { unstable_readConfig } = require('wrangler');
  const config = unstable_readConfig({ env: 'production' }, { hideWarnings: true });
  return { compatibilityDate: config.compatibility_date, compatibilityFlags: config.compatibility_flags };
}

/**
 * @typedef {object} ServeOptions
 * @property {string} name
 * @property {{path: string, contents: string}[]} modules ES modules, entry first
 * @property {Record<string, import('miniflare').Json>} [bindings] vars, as JSON values
 * @property {string[]} [kvNamespaces]
 * @property {Record<string, {namespace_id: string, simple: {limit: number, period: 10 | 60}}>} [ratelimits] rate limiting bindings
 * @property {Record<string, string>} [durableObjects] binding name → class exported by the entry module (SQLite-backed)
 * @property {string} [outboundService] name of a Worker in `extraWorkers` that receives every global fetch()
 * @property {import('miniflare').V4WorkerOptions[]} [extraWorkers] Miniflare worker options
 */

/**
 * Starts one workerd process for this Worker.
 * @param {ServeOptions} options
 * @returns {Promise<{url: string, pid: number, dispose: () => Promise<void>}>}
 */
export async function serveWorker(options) {
  const before = new Set(workerdChildren());
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      workers: [
        {
          name: options.name,
          modules: options.modules.map(({ path, contents }) => ({ type: 'ESModule', path, contents })),
          ...compatibility(),
          bindings: options.bindings ?? {},
          kvNamespaces: options.kvNamespaces ?? [],
          ratelimits: options.ratelimits ?? {},
          durableObjects: Object.fromEntries(Object.entries(options.durableObjects ?? {}).map(([name, className]) => [name, { className, useSQLite: true }])),
          ...(options.outboundService ? { outboundService: options.outboundService } : {}),
          unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
        },
        ...(options.extraWorkers ?? []),
      ],
      // The Worker's console output is dropped: a deployed Worker's logs cost the caller nothing either.
      handleStructuredLogs: () => {},
    }),
  );
  const url = await mf.unsafeGetDirectURL(options.name);
  const pid = workerdChildren().find((child) => !before.has(child));
  if (pid === undefined) throw new Error('workerd process not found');
  return { url: url.origin, pid, dispose: () => mf.dispose() };
}

/** Pids of this process's workerd children. */
function workerdChildren() {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (comm === 'workerd' && ppid === process.pid) pids.push(Number(entry));
    } catch {
      // the process ended while being read
    }
  }
  return pids;
}
