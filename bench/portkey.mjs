// Portkey's open-source AI gateway (the npm build, under Node), the other
// gateway the OpenAI routes are compared with.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const SERVER = join(dirname(require.resolve('@portkey-ai/gateway/package.json')), 'build', 'start-server.js');
const READY_TIMEOUT_MS = 30_000;

export const portkeyVersion = require('@portkey-ai/gateway/package.json').version;

/**
 * Starts it on `port` (it listens on every interface; only loopback is used).
 * @param {number} port
 * @returns {Promise<{url: string, pid: number, stop: () => Promise<void>}>}
 */
export async function startPortkey(port) {
  const child = spawn(process.execPath, [SERVER, `--port=${port}`, '--headless'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Portkey gateway exited with ${child.exitCode}: ${stderr}`);
    try {
      if ((await fetch(url)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Portkey gateway did not start within ${READY_TIMEOUT_MS} ms: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url, pid: /** @type {number} */ (child.pid), stop };
}
