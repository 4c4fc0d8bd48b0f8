#!/usr/bin/env node
// WebSocket relay figure: the gateway under `wrangler dev` on loopback, in
// front of the fake Baseten's echo model. SOCKETS sockets open at once, each
// sends MESSAGES messages (text and binary in turn, numbered) without waiting,
// and every echo must come back, in order and byte for byte. Not a test: run
// it with `node bench/websocket.mjs`. Exits 1 if any message is lost, changed
// or reordered, or a socket fails.
import { createHash } from 'node:crypto';
import { cpus } from 'node:os';
import WebSocket from 'ws';
import { startLocalGateway } from '../tools/local-gateway.mjs';

const TOKEN = 'bench-token-0123456789abcdef';
const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 100);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100);
const PAYLOAD_BYTES = 256;

const gateway = await startLocalGateway({
  vars: {
    MODELS: { voice: { model_id: 'demo04', environment: 'production', websocket: true } },
    // The limiter is not what is measured.
    CLIENTS: { bench: { token_sha256: createHash('sha256').update(TOKEN).digest('hex'), models: ['*'], rate_limit: 'none' } },
  },
});

/**
 * Message i of socket s: text for even i, binary for odd, PAYLOAD_BYTES long.
 * @param {number} s
 * @param {number} i
 * @returns {string | Buffer}
 */
function message(s, i) {
  const text = `${s}:${i}:`.padEnd(PAYLOAD_BYTES, 'x');
  return i % 2 === 0 ? text : Buffer.from(text);
}

/**
 * Opens one socket, sends every message at once, and counts the echoes that match.
 * @param {number} s
 * @returns {Promise<{ matched: number, handshakeMs: number, lastEchoMs: number }>}
 */
function run(s) {
  const started = performance.now();
  const socket = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/v1/models/voice/websocket`, ['gateway', `bearer.${TOKEN}`]);
  return new Promise((resolve, reject) => {
    let matched = 0;
    let handshakeMs = 0;
    socket.on('error', reject);
    socket.on('open', () => {
      handshakeMs = performance.now() - started;
      for (let i = 0; i < MESSAGES; i++) socket.send(message(s, i));
    });
    socket.on('message', (data, isBinary) => {
      const expected = message(s, matched);
      const same = isBinary === Buffer.isBuffer(expected) && Buffer.compare(/** @type {Buffer} */ (data), Buffer.from(expected)) === 0;
      if (!same) return reject(new Error(`socket ${s}: echo ${matched} differs or is out of order`));
      matched += 1;
      if (matched === MESSAGES) {
        const lastEchoMs = performance.now() - started;
        socket.close(1000);
        resolve({ matched, handshakeMs, lastEchoMs });
      }
    });
    socket.on('close', (code) => {
      if (matched < MESSAGES) reject(new Error(`socket ${s} closed with ${code} after ${matched} of ${MESSAGES} echoes`));
    });
  });
}

/**
 * @param {number[]} values
 * @param {number} q
 */
function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

let failed = false;
try {
  const started = performance.now();
  const results = await Promise.allSettled(Array.from({ length: SOCKETS }, (_, s) => run(s)));
  const wallMs = performance.now() - started;
  const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
  const echoed = ok.reduce((sum, r) => sum + r.matched, 0);
  const total = SOCKETS * MESSAGES;
  failed = errors.length > 0 || echoed !== total;
  console.log(
    JSON.stringify(
      {
        sockets: SOCKETS,
        messages_per_socket: MESSAGES,
        payload_bytes: PAYLOAD_BYTES,
        echoed,
        lost: total - echoed,
        failed_sockets: errors.length,
        wall_ms: Math.round(wallMs),
        messages_per_s: Math.round((2 * echoed) / (wallMs / 1000)),
        handshake_ms_p50: Math.round(
          quantile(
            ok.map((r) => r.handshakeMs),
            0.5,
          ),
        ),
        handshake_ms_p99: Math.round(
          quantile(
            ok.map((r) => r.handshakeMs),
            0.99,
          ),
        ),
        socket_done_ms_p50: Math.round(
          quantile(
            ok.map((r) => r.lastEchoMs),
            0.5,
          ),
        ),
        socket_done_ms_p99: Math.round(
          quantile(
            ok.map((r) => r.lastEchoMs),
            0.99,
          ),
        ),
        cpus: cpus().length,
        first_errors: errors.slice(0, 3),
      },
      null,
      2,
    ),
  );
} finally {
  await gateway.stop();
}
process.exit(failed ? 1 : 0);
