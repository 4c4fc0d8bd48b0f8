/**
 * A gateway under `wrangler dev` for end-to-end tests whose every answer is
 * scanned for the Baseten key and the webhook secret as it streams by
 * (headers, bodies, raw socket replies). `stop()` fails if any held one; the
 * Worker's log lines are scanned by tools/local-gateway.mjs itself.
 */
import { connect } from 'node:net';
import { startLocalGateway } from '../../tools/local-gateway.mjs';

export const API_KEY = 'fake-baseten-key';
export const WEBHOOK_SECRET = 'whsec_fake';
const SECRETS = [API_KEY, WEBHOOK_SECRET];
const LONGEST_SECRET = Math.max(...SECRETS.map((s) => s.length));
/** Statuses whose Response cannot carry a body. */
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

export type ScannedGateway = Awaited<ReturnType<typeof startScannedGateway>>;

export async function startScannedGateway(options?: Parameters<typeof startLocalGateway>[0]) {
  const gateway = await startLocalGateway(options);
  const leaks: string[] = [];
  let answers = 0;

  const scan = (where: string, text: string) => {
    for (const secret of SECRETS) if (text.includes(secret)) leaks.push(where);
  };

  return {
    ...gateway,
    /** fetch against the gateway; the answer streams through the scanner. */
    async fetch(path: string, init?: RequestInit): Promise<Response> {
      const res = await fetch(`${gateway.url}${path}`, init);
      answers += 1;
      const headerLines: string[] = [];
      res.headers.forEach((value, name) => {
        headerLines.push(`${name}: ${value}`);
      });
      scan(`headers of ${path}`, headerLines.join('\n'));
      if (!res.body || NULL_BODY_STATUSES.has(res.status)) return res;
      return new Response(res.body.pipeThrough(secretScanner((text) => scan(`body of ${path}`, text))), {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
      });
    },
    /** Sends raw bytes over TCP and returns everything the gateway wrote back before closing or going quiet. */
    async raw(request: string | Uint8Array, quietMs = 1500): Promise<string> {
      const reply = await rawExchange(gateway.port, request, quietMs);
      answers += 1;
      scan('a raw socket reply', reply);
      return reply;
    },
    /** How many answers were scanned. */
    answers: () => answers,
    async stop(): Promise<void> {
      await gateway.stop();
      if (leaks.length > 0) throw new Error(`a secret appeared in ${leaks.length} answer(s): ${[...new Set(leaks)].join(', ')}`);
    },
  };
}

/**
 * Passes bytes on untouched and hands each stretch of their text to `scan`,
 * overlapping stretches so a secret split across chunks is still seen whole.
 */
export function secretScanner(scan: (text: string) => void): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  let tail = '';
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      const text = tail + decoder.decode(chunk, { stream: true });
      scan(text);
      tail = text.slice(-(LONGEST_SECRET - 1));
      controller.enqueue(chunk);
    },
    flush() {
      scan(tail + decoder.decode());
    },
  });
}

/** One TCP exchange with the gateway: write, then read until the server closes or is quiet for quietMs. */
export function rawExchange(port: number, request: string | Uint8Array, quietMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const quiet = () => {
      clearTimeout(timer);
      timer = setTimeout(done, quietMs);
    };
    socket.on('connect', () => {
      socket.write(request);
      quiet();
    });
    socket.on('data', (data: Buffer) => {
      chunks.push(data);
      quiet();
    });
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? done() : reject(err)));
  });
}
