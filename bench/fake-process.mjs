// The fake Baseten in a process of its own: under load its event loop is busy,
// and it must not share one with Miniflare's reader of the Worker's logs (a
// stalled reader would hold up workerd) nor with the benchmark's own timing.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../tools/local-gateway.mjs';

const FAKE = fileURLToPath(new URL('../tools/fake-baseten.mjs', import.meta.url));
const READY_TIMEOUT_MS = 15_000;

/**
 * @param {{apiKey: string, servedNames: Record<string, string>}} options
 * @returns {Promise<{url: string, reset: () => Promise<void>, close: () => Promise<void>}>}
 */
export async function startFakeProcess({ apiKey, servedNames }) {
  const port = await freePort();
  const child = spawn(process.execPath, [FAKE, '--port', String(port)], {
    env: { ...process.env, FAKE_BASETEN_API_KEY: apiKey, FAKE_BASETEN_SERVED_NAMES: JSON.stringify(servedNames) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const close = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fake Baseten did not start')), READY_TIMEOUT_MS);
      child.once('exit', (code) => reject(new Error(`fake Baseten exited with ${code}`)));
      child.stdout.on('data', (data) => {
        if (String(data).includes('listening')) {
          clearTimeout(timer);
          resolve(undefined);
        }
      });
    });
  } catch (err) {
    await close();
    throw err;
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    // It keeps a log of every request: emptied between runs so it does not grow for minutes.
    async reset() {
      await (await fetch(`${url}/__fake/reset`, { method: 'POST' })).arrayBuffer();
    },
    close,
  };
}
