/** Shared helpers for tests that run inside workerd against the fake Baseten. */
import { SELF } from 'cloudflare:test';
import { inject } from 'vitest';
import { TOKENS } from '../config.ts';
import { checkAnswer } from './contract.ts';

export const GATEWAY = 'https://gateway.test';

export interface FakeRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: string;
  bodyBytes: number;
  aborted: boolean;
  /** The fake has written its whole answer. */
  finished: boolean;
}

/**
 * Upstream accounting. Every gateway request id a test uses is noted here,
 * with how many Baseten calls the test declared for it (`upstream` on call(),
 * expectUpstream()) or last saw for it (upstreamRequests()). After each test
 * test/worker/upstream-ledger.setup.ts compares that with the fake's
 * log, so an upstream call no test expected fails the test that caused it.
 * Ids are unique per call, so files running in parallel against the one fake
 * never see each other's requests.
 */
interface Expectation {
  /** The count the test declared; checked exactly. */
  declared?: number;
  /** What upstreamRequests() last returned, when nothing was declared. */
  seen?: number;
}

export type Ledger = Map<string, Expectation>;

let ledger: Ledger = new Map();

function noted(id: string): Expectation {
  let entry = ledger.get(id);
  if (!entry) {
    entry = {};
    ledger.set(id, entry);
  }
  return entry;
}

/** Declares that the gateway request `id` makes exactly `count` calls to Baseten in this test. */
export function expectUpstream(id: string, count: number): void {
  noted(id).declared = count;
}

/** Hands over the ids noted so far and starts a new ledger (one per test; hooks outside tests get their own). */
export function takeLedger(): Ledger {
  const taken = ledger;
  ledger = new Map();
  return taken;
}

/**
 * Fails, listing them, if the fake saw calls for the ledger's ids other than
 * those declared or acknowledged. An id with no declaration expects none.
 */
export async function checkLedger(taken: Ledger): Promise<void> {
  if (taken.size === 0) return;
  const byId = Map.groupBy(await fakeLog(), (r) => r.headers['x-request-id'] ?? '');
  const problems: string[] = [];
  for (const [id, { declared, seen }] of taken) {
    const sent = byId.get(id) ?? [];
    const expected = declared ?? seen ?? 0;
    if (sent.length === expected) continue;
    const calls = sent.map((r) => `${r.method} ${r.path}`).join(', ') || 'none';
    const said = declared !== undefined ? `declared ${declared}` : seen !== undefined ? `saw ${seen} when it looked` : 'declared none';
    problems.push(`request ${id}: Baseten got ${sent.length} (${calls}); the test ${said}`);
  }
  if (problems.length > 0) throw new Error(`upstream calls not accounted for:\n  ${problems.join('\n  ')}`);
}

let counter = 0;
/**
 * A request id unique to one call, so a test finds its own upstream requests
 * in the shared fake's log. It is noted in the ledger: unless the test
 * declares otherwise, no upstream call may carry it.
 */
export function uniqueId(label = 'req'): string {
  counter += 1;
  const id = `${label}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
  noted(id);
  return id;
}

export interface CallOptions extends RequestInit {
  token?: keyof typeof TOKENS | string;
  json?: unknown;
  /** How many calls to Baseten this request makes; none unless given. Checked after the test. */
  upstream?: number;
}

/**
 * One request to the Worker through SELF. Every call carries an x-request-id (a
 * fresh one unless the test sets its own) and is held to its declared upstream
 * count; its answer is checked against the OpenAPI document before the test sees it.
 */
export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  const { token, json, upstream, ...init } = options;
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token in TOKENS ? TOKENS[token as keyof typeof TOKENS] : token}`);
  if (json !== undefined) {
    headers.set('content-type', 'application/json');
    init.body = JSON.stringify(json);
    init.method ??= 'POST';
  }
  const sent = headers.get('x-request-id') ?? uniqueId();
  headers.set('x-request-id', sent);
  noted(sent);
  const request = new Request(`${GATEWAY}${path}`, { ...init, headers });
  const preflight = request.method === 'OPTIONS' && request.headers.has('access-control-request-method');
  const res = await SELF.fetch(request);
  // The gateway replaces an id it finds unsafe: its own is the one Baseten sees.
  const used = res.headers.get('x-request-id') ?? sent;
  if (upstream !== undefined) expectUpstream(used, upstream);
  else noted(used);
  await checkAnswer({ method: request.method, path: new URL(request.url).pathname, preflight, response: res });
  return res;
}

/** Gives a request for worker.fetch the same accounting as call(): an id of its own and a declared upstream count. */
export function tracked<R extends Request>(request: R, upstream = 0): R {
  const id = request.headers.get('x-request-id') ?? uniqueId();
  request.headers.set('x-request-id', id);
  expectUpstream(id, upstream);
  return request;
}

export function fakeUrl(): string {
  return inject('fakeBasetenUrl');
}

async function fakeLog(): Promise<FakeRequest[]> {
  const res = await fetch(`${fakeUrl()}/__fake/requests`);
  return (await res.json()) as FakeRequest[];
}

/**
 * What the fake received for one gateway request id. Looking counts as
 * acknowledging them: after the test, the fake must have seen exactly these
 * (or the count the test declared).
 */
export async function upstreamRequests(requestId: string): Promise<FakeRequest[]> {
  const seen = (await fakeLog()).filter((r) => r.headers['x-request-id'] === requestId);
  noted(requestId).seen = seen.length;
  return seen;
}

export async function errorOf(res: Response): Promise<{ type: string; message: string; request_id: string }> {
  const body = (await res.json()) as { error: { type: string; message: string; request_id: string } };
  return body.error;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
