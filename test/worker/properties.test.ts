/**
 * Property-based checks (fast-check) of the two parsers hostile input meets
 * first: the body reader (cap, UTF-8, JSON) and the sync-route matcher.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { binaryBody, readJson } from '../../src/body.ts';
import { HttpError } from '../../src/errors.ts';
import { matchSyncRoute } from '../../src/sync-routes.ts';

const RUNS = { numRuns: 200 };

// ---------------------------------------------------------------------------------------------
// Sync routes

/** Pieces that make path tricks likely: dots, escapes of dots and slashes, separators. */
const TRICKY = [
  '/',
  '.',
  '..',
  '%2e',
  '%2E',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  '%25',
  '%',
  '%00',
  '%0a',
  '%7f',
  '\\',
  ';',
  'a',
  'items',
  'health',
  '~',
  '%c0%ae',
  '%41',
  '%ZZ',
  '*',
  '//',
  '%252e',
  '%u002e',
  ':',
  '@',
  '!',
  '%20',
  'é',
];
const trickyPath = fc.array(fc.constantFrom(...TRICKY), { maxLength: 12 }).map((parts) => `/${parts.join('')}`);

/** A segment a caller might mean: any text, or one of the troublesome ones. */
const segment = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.constantFrom('.', '..', '...', '..;', '.;x', '%', '/', '\\', 'a/b', '', ' ', '\u0000', '\n'),
);

/** What the matcher must accept once decoded: non-empty data, no dot-only segment, no separator or escape, no control character. */
function acceptable(decoded: string): boolean {
  return decoded.length > 0 && !/^\.+(;.*)?$/.test(decoded) && !/[/\\%\x00-\x1f\x7f]/.test(decoded);
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Percent-encodes a segment's UTF-8 bytes, choosing per unreserved byte whether to escape it, and the hex case. */
function reencode(text: string, choices: boolean[]): string {
  let out = '';
  let i = 0;
  for (const byte of new TextEncoder().encode(text)) {
    const char = String.fromCharCode(byte);
    const encode = !UNRESERVED.test(char) || choices[i++ % Math.max(1, choices.length)];
    const hex = byte.toString(16).padStart(2, '0');
    out += encode ? `%${choices[i % Math.max(1, choices.length)] ? hex.toUpperCase() : hex}` : char;
  }
  return out;
}

describe('sync-route matcher properties', () => {
  it('accepts only paths whose every segment decodes to plain data, and returns them unchanged', () => {
    fc.assert(
      fc.property(trickyPath, (path) => {
        const matched = matchSyncRoute(path, ['/*']);
        if (matched === undefined) return;
        expect(matched).toBe(path);
        for (const raw of matched.slice(1).split('/')) {
          expect(acceptable(decodeURIComponent(raw))).toBe(true);
          expect(raw.toLowerCase()).not.toMatch(/%2f|%5c|%25/);
        }
      }),
      RUNS,
    );
  });

  it('hands Baseten exactly the path it checked: the URL parser changes nothing in an accepted path', () => {
    fc.assert(
      fc.property(trickyPath, (path) => {
        const matched = matchSyncRoute(path, ['/*']);
        if (matched === undefined) return;
        expect(new URL(`http://upstream.test/sync${matched}`).pathname).toBe(`/sync${matched}`);
        expect(matchSyncRoute(matched, ['/*'])).toBe(matched);
      }),
      RUNS,
    );
  });

  it('accepts an encoded path exactly when each of its decoded segments is acceptable', () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), (segments) => {
        const path = `/${segments.map(encodeURIComponent).join('/')}`;
        expect(matchSyncRoute(path, ['/*']) !== undefined).toBe(segments.every(acceptable));
      }),
      RUNS,
    );
  });

  it('decides the same whichever way the same segments are percent-encoded', () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), (segments, choices) => {
        const canonical = `/${segments.map(encodeURIComponent).join('/')}`;
        const other = `/${segments.map((s) => reencode(s, choices)).join('/')}`;
        const a = matchSyncRoute(canonical, ['/*']);
        const b = matchSyncRoute(other, ['/*']);
        expect(b !== undefined).toBe(a !== undefined);
        if (a && b) expect(b.split('/').map(decodeURIComponent)).toEqual(a.split('/').map(decodeURIComponent));
      }),
      RUNS,
    );
  });

  it('never lets a match leave the listed prefixes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          trickyPath,
          fc.array(segment, { maxLength: 4 }).map((s) => `/items/${s.map(encodeURIComponent).join('/')}`),
        ),
        (path) => {
          const matched = matchSyncRoute(path, ['/health', '/items/*']);
          if (matched === undefined) return;
          expect(matched === '/health' || /^\/items\/[^/]+(\/[^/]+)*$/.test(matched)).toBe(true);
        },
      ),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Body reader

/** The same bytes, cut into pieces at the given points and sent chunked (no Content-Length). */
function chunkedRequest(bytes: Uint8Array, cuts: number[], contentType = 'application/json'): Request {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let last = 0;
  for (const point of [...points, bytes.length]) {
    pieces.push(bytes.slice(last, point));
    last = point;
  }
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const piece of pieces) controller.enqueue(piece);
      controller.close();
    },
  });
  return new Request('https://gateway.test/', { method: 'POST', body, headers: { 'content-type': contentType } });
}

type Outcome = { ok: true; value: unknown } | { ok: false; status: number };

async function outcomeOf(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await run() };
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return { ok: false, status: err.status };
  }
}

function validJson(bytes: Uint8Array): boolean {
  try {
    JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes));
    return true;
  } catch {
    return false;
  }
}

const cuts = fc.array(fc.nat({ max: 4096 }), { maxLength: 6 });

describe('body reader properties', () => {
  it('gives back any JSON value within the cap, however it is chunked, and 413 past the cap', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), fc.nat({ max: 2048 }), cuts, async (value, cap, at) => {
        const text = JSON.stringify(value);
        const bytes = new TextEncoder().encode(text);
        const outcome = await outcomeOf(async () => (await readJson(chunkedRequest(bytes, at), cap)).value);
        if (bytes.length > cap) expect(outcome).toEqual({ ok: false, status: 413 });
        else expect(outcome).toEqual({ ok: true, value: JSON.parse(text) });
      }),
      RUNS,
    );
  });

  it('answers any bytes with a value, a 400 or a 413, never anything else, and chunking changes nothing', async () => {
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 256 }),
      fc.string({ unit: 'binary', maxLength: 64 }).map((s) => new TextEncoder().encode(s)),
    );
    await fc.assert(
      fc.asyncProperty(bytesArb, fc.nat({ max: 300 }), cuts, async (bytes, cap, at) => {
        const whole = await outcomeOf(async () => (await readJson(chunkedRequest(bytes, []), cap)).value);
        const pieces = await outcomeOf(async () => (await readJson(chunkedRequest(bytes, at), cap)).value);
        expect(pieces).toEqual(whole);
        if (bytes.length > cap) expect(whole).toEqual({ ok: false, status: 413 });
        else if (validJson(bytes)) expect(whole.ok).toBe(true);
        else expect(whole).toEqual({ ok: false, status: 400 });
      }),
      RUNS,
    );
  });

  it('accepts a body only under a JSON media type', async () => {
    const typeArb = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('application/json', 'Application/JSON; charset=utf-8', 'application/json ', 'application/jsonx', 'text/json'),
    );
    await fc.assert(
      fc.asyncProperty(typeArb, async (type) => {
        const headers = new Headers();
        try {
          headers.set('content-type', type);
        } catch {
          return; // not a header value workerd would let through at all
        }
        const request = new Request('https://gateway.test/', { method: 'POST', body: '{}', headers });
        const outcome = await outcomeOf(() => readJson(request, 100));
        const isJson = (headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
        expect(outcome.ok ? 200 : outcome.status).toBe(isJson ? 200 : 415);
      }),
      RUNS,
    );
  });

  it('forwards a chunked binary body whole within the cap and refuses it past the cap', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.nat({ max: 2048 }), cuts, async (bytes, cap, at) => {
        const outcome = await outcomeOf(
          async () => new Uint8Array(await new Response(await binaryBody(chunkedRequest(bytes, at, 'application/octet-stream'), cap)).arrayBuffer()),
        );
        if (bytes.length > cap) expect(outcome).toEqual({ ok: false, status: 413 });
        else expect(outcome).toEqual({ ok: true, value: bytes });
      }),
      RUNS,
    );
  });
});
