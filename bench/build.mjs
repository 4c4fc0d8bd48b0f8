// Builds Workers the way `wrangler deploy` would upload them (`--dry-run --outdir`),
// so the benchmark serves the exact bundle that goes to Cloudflare.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

/**
 * Runs `wrangler deploy --dry-run` with the project's wrangler.toml and the
 * production environment. `entry` replaces `main`, so a second Worker (the
 * pass-through floor) gets the same compatibility date, flags and bundling.
 * @param {{outdir: string, entry?: string, name?: string}} options
 * @returns {Promise<string>} the path of the built module
 */
export async function buildWorker({ outdir, entry, name }) {
  const args = [WRANGLER, 'deploy', '--dry-run', '--env', 'production', '--outdir', outdir];
  if (entry) args.push(entry);
  if (name) args.push('--name', name);
  rmSync(outdir, { recursive: true, force: true });
  await run(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', FORCE_COLOR: '0' },
    maxBuffer: 16 * 1024 * 1024,
  });
  // wrangler names the module after the entry file.
  const modules = readdirSync(outdir).filter((file) => file.endsWith('.js'));
  if (modules.length !== 1) throw new Error(`expected one module in ${outdir}, found ${modules.join(', ')}`);
  return join(outdir, /** @type {string} */ (modules[0]));
}

/** @param {string} path */
export function bundleSize(path) {
  const bytes = readFileSync(path);
  return { rawBytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
}
