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

let counter = 0;
/** A request id unique to one call, so a test finds its own upstream requests in the shared fake's log. */
export function uniqueId(label = 'req'): string {
  counter += 1;
  return `${label}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface CallOptions extends RequestInit {
  token?: keyof typeof TOKENS | string;
  json?: unknown;
}

/** One request to the Worker; its answer is checked against the OpenAPI document before the test sees it. */
export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  const { token, json, ...init } = options;
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token in TOKENS ? TOKENS[token as keyof typeof TOKENS] : token}`);
  if (json !== undefined) {
    headers.set('content-type', 'application/json');
    init.body = JSON.stringify(json);
    init.method ??= 'POST';
  }
  const request = new Request(`${GATEWAY}${path}`, { ...init, headers });
  const preflight = request.method === 'OPTIONS' && request.headers.has('access-control-request-method');
  const response = await SELF.fetch(request);
  await checkAnswer({ method: request.method, path: new URL(request.url).pathname, preflight, response });
  return response;
}

export function fakeUrl(): string {
  return inject('fakeBasetenUrl');
}

/** What the fake received for one gateway request id. */
export async function upstreamRequests(requestId: string): Promise<FakeRequest[]> {
  const res = await fetch(`${fakeUrl()}/__fake/requests`);
  const all = (await res.json()) as FakeRequest[];
  return all.filter((r) => r.headers['x-request-id'] === requestId);
}

export async function errorOf(res: Response): Promise<{ type: string; message: string; request_id: string }> {
  const body = (await res.json()) as { error: { type: string; message: string; request_id: string } };
  return body.error;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
