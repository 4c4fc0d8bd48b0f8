/**
 * Hostile requests, one table: each gets its documented status and error
 * type, the contract's envelope, no secret in the answer, and reaches the
 * fake Baseten exactly as often as it should (the fake's log, by request id).
 * Inputs workerd's fetch cannot build (lying Content-Length, raw CR/LF,
 * made-up methods) are sent over a raw socket in test/node/hostile-e2e.test.ts.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { ErrorType } from '../../src/errors.ts';
import { TEST_API_KEY, TEST_WEBHOOK_SECRET, TOKEN_SHA256, TOKENS } from '../config.ts';
import { deliver, deliveryBody, signature, storedResult, submit } from './async-helpers.ts';
import { type CallOptions, call, uniqueId, upstreamRequests } from './helpers.ts';
import { vectorSignature } from './webhook-vectors.ts';

interface Case {
  /** What is hostile about it. */
  name: string;
  path: string;
  init?: CallOptions;
  status: number | number[];
  /** The error type, for error answers. */
  type?: ErrorType;
  /** How many requests the fake Baseten sees for it. */
  upstream: 0 | 1;
  /** The case sets its own x-request-id; the answer's is used to look upstream. */
  ownRequestId?: boolean;
  /** More checks on the answer. */
  check?: (res: Response, body: string) => void | Promise<void>;
}

const enc = new TextEncoder();
const MiB = 1024 * 1024;
const json = (body: BodyInit, headers: Record<string, string> = {}): CallOptions => ({
  method: 'POST',
  body,
  token: 'alice',
  headers: { 'content-type': 'application/json', ...headers },
});
const predict = (body: BodyInit, status: number, type?: ErrorType): Omit<Case, 'name'> => ({
  path: '/v1/models/echo/predict',
  init: json(body),
  status,
  type,
  upstream: status === 200 ? 1 : 0,
});

/** A body that arrives in pieces, with no Content-Length: workerd sends it chunked. */
function chunked(...pieces: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(typeof piece === 'string' ? enc.encode(piece) : piece);
      controller.close();
    },
  });
}

const exactly = (bytes: number) => `{"s":"${'x'.repeat(bytes - 8)}"}`;

const malformedJson: Case[] = [
  ['an empty body', ''],
  ['an open brace', '{'],
  ['a missing value', '{"a":}'],
  ['single quotes', "{'a':1}"],
  ['a trailing comma in an object', '{"a":1,}'],
  ['a trailing comma in an array', '[1,2,]'],
  ['a stray closing brace', '{"a":1}}'],
  ['NaN', 'NaN'],
  ['undefined', 'undefined'],
  ['a leading zero', '{"a":01}'],
  ['a raw control character in a string', '{"a":"\u0001"}'],
  ['an invalid escape', '{"a":"\\x41"}'],
  ['an unterminated string', '"unterminated'],
  ['a trailing NUL', '{"a":1}\u0000'],
  ['a comment', '//c\n{}'],
  ['Infinity', '{"a":Infinity}'],
  ['two documents', '{}{}'],
  ['unbalanced nesting a million deep', '['.repeat(1_000_000)],
  ['a lone surrogate written as raw text', '"\ud800"'],
].map(([name, body]) => ({ name: `malformed JSON: ${name}`, ...predict(body!, 400, 'invalid_request') }));

const badUtf8: Case[] = [
  ['a 0xFF byte', [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]],
  ['an overlong slash', [0x22, 0xc0, 0xaf, 0x22]],
  ['an encoded surrogate', [0x22, 0xed, 0xa0, 0x80, 0x22]],
  ['a truncated sequence', [0x22, 0xe2, 0x82]],
  ['UTF-16 text', [0x7b, 0x00, 0x7d, 0x00]],
  ['a continuation byte alone', [0x22, 0x80, 0x22]],
].map(([name, bytes]) => ({ name: `invalid UTF-8: ${name as string}`, ...predict(new Uint8Array(bytes as number[]), 400, 'invalid_request') }));

const oddButValidJson: Case[] = [
  ['an escaped lone surrogate', '"\\ud800"'],
  ['a bare number', '42'],
  ['null', 'null'],
  ['a number beyond double range', '1e999999'],
  ['a negative number beyond double range', '-1e999999'],
  ['a 100,000-digit integer', `{"n":${'9'.repeat(100_000)}}`],
  ['a 100,000-digit fraction', `{"n":0.${'0'.repeat(100_000)}1}`],
  ['a 5 MB string', `{"s":"${'x'.repeat(5 * MiB)}"}`],
  ['100,000 escaped NULs', `{"s":"${'\\u0000'.repeat(100_000)}"}`],
  ['a 100 KB key', `{"${'k'.repeat(100_000)}":1}`],
  ['50,000 keys', `{${Array.from({ length: 50_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`],
  ['duplicate keys', '{"a":1,"a":2}'],
  ['a __proto__ key', '{"__proto__":{"admin":true},"constructor":{"prototype":{"polluted":true}}}'],
  ['objects nested 1,000 deep', `${'{"a":'.repeat(1_000)}1${'}'.repeat(1_000)}`],
].map(([name, body]) => ({ name: `valid JSON, forwarded untouched: ${name}`, ...predict(body!, 200) }));

/** Nested too deep for the fake's own JSON.stringify: the gateway forwards it; the answer is Baseten's. */
const deepArrays: Case = {
  name: 'valid JSON, forwarded untouched: arrays nested 100,000 deep',
  path: '/v1/models/echo/predict',
  init: json(`${'['.repeat(100_000)}${']'.repeat(100_000)}`),
  status: [200, 502],
  upstream: 1,
};

const small = '/v1/models/small/predict'; // max_body_bytes 1024
const caps: Case[] = [
  { name: 'cap: exactly max_body_bytes', path: small, init: json(exactly(1024)), status: 200, upstream: 1 },
  { name: 'cap: one byte over, with Content-Length', path: small, init: json(exactly(1025)), status: 413, type: 'payload_too_large', upstream: 0 },
  {
    name: 'cap: 11 MiB against the 10 MiB default',
    path: '/v1/models/echo/predict',
    init: json('x'.repeat(11 * MiB)),
    status: 413,
    type: 'payload_too_large',
    upstream: 0,
  },
  {
    name: 'cap: chunked, one byte at a time, one over',
    path: small,
    init: json(chunked(...exactly(1025).split(''))),
    status: 413,
    type: 'payload_too_large',
    upstream: 0,
  },
  { name: 'cap: chunked, one 2 MB chunk', path: small, init: json(chunked('x'.repeat(2 * MiB))), status: 413, type: 'payload_too_large', upstream: 0 },
  {
    name: 'cap: chunked, eleven 100-byte chunks',
    path: small,
    init: json(chunked(...Array.from({ length: 11 }, () => ' '.repeat(100)))),
    status: 413,
    type: 'payload_too_large',
    upstream: 0,
  },
  { name: 'cap: chunked, exactly the cap', path: small, init: json(chunked(exactly(1024).slice(0, 500), exactly(1024).slice(500))), status: 200, upstream: 1 },
  { name: 'cap: chunked, empty chunks around a small body', path: small, init: json(chunked('', '{}', '', '')), status: 200, upstream: 1 },
  {
    name: 'cap: binary over the cap, with Content-Length',
    path: small,
    init: { ...json(new Uint8Array(2000)), headers: { 'content-type': 'application/octet-stream' } },
    status: 413,
    type: 'payload_too_large',
    upstream: 0,
  },
  {
    name: 'cap: binary at the cap',
    path: small,
    init: { ...json(new Uint8Array(1024)), headers: { 'content-type': 'application/octet-stream' } },
    status: 200,
    upstream: 1,
  },
  {
    name: 'cap: sync body over the cap',
    path: '/v1/models/custom/sync/items/1',
    init: { ...json('x'.repeat(11 * MiB)), method: 'PUT' },
    status: 413,
    type: 'payload_too_large',
    upstream: 0,
  },
];

/** workerd would end a failed chunked upload as if complete: Baseten must not see a truncated body. */
const binaryChunkedOverCap: Case = {
  name: 'cap: binary, chunked, over the cap',
  path: small,
  init: { ...json(chunked(new Uint8Array(600), new Uint8Array(600), new Uint8Array(600))), headers: { 'content-type': 'application/octet-stream' } },
  status: 413,
  type: 'payload_too_large',
  upstream: 0,
};

const contentTypes: Case[] = [
  ['text/plain', 415],
  ['text/json', 415],
  ['application/jsonp', 415],
  ['application/json-patch+json', 415],
  ['application/x-www-form-urlencoded', 415],
  // Baseten's spec takes multipart predict input: passed through, boundary kept.
  ['multipart/form-data; boundary=x', 200],
  ['multipart/form-data', 400],
  ['application/xml', 415],
  ['image/png', 415],
  ['', 415],
  ['application/json, text/plain', 415],
  ['json', 415],
  ['APPLICATION/JSON', 200],
  ['application/json; charset=utf-8', 200],
  ['application/json;charset=utf-16', 200],
  [`application/json;${'a'.repeat(10_000)}`, 200],
].map(([type, status]) => ({
  name: `content type ${JSON.stringify(type).slice(0, 40)}`,
  path: '/v1/models/echo/predict',
  init: json('{}', { 'content-type': type as string }),
  status: status as number,
  type: status === 415 ? ('unsupported_media_type' as const) : undefined,
  upstream: status === 200 ? 1 : 0,
}));

const noContentType: Case = {
  name: 'content type missing (a byte body, so fetch adds none)',
  path: '/v1/models/echo/predict',
  init: { method: 'POST', body: enc.encode('{}'), token: 'alice' },
  status: 415,
  type: 'unsupported_media_type',
  upstream: 0,
};

const syncTricks: Case[] = [
  '/items/..%2f..%2fadmin',
  '/items/%2e%2e',
  '/items/%2E%2E',
  '/items/.%2e',
  '/items/%2e.',
  '/items/...',
  '/items/..;',
  '/items/..;/admin',
  '/items/.;x',
  '/items/a%2Fb',
  '/items/a%2fb',
  '/items/a%5cb',
  '/items/a%5Cb',
  '/items//x',
  '/items/%252e%252e',
  '/items/%252f',
  '/items/%00',
  '/items/a%0d%0aX-Injected:1',
  '/items/%0a',
  '/items/%c0%ae%c0%ae',
  '/items/%',
  '/items/%zz',
  '/items/%7f',
  '/secret',
  '/items',
  '/items/',
  '/health/',
  '/HEALTH',
  '/health;x=1',
  '/%2e%2e/%2e%2e/admin',
  '',
].map((route) => ({
  name: `sync route ${JSON.stringify(route)}`,
  path: `/v1/models/custom/sync${route}`,
  init: { token: 'alice' },
  status: 404,
  type: 'not_found' as const,
  upstream: 0,
}));

const syncOther: Case[] = [
  { name: 'sync on an alias without sync_routes', path: '/v1/models/echo/sync/health', init: { token: 'alice' }, status: 404, type: 'not_found', upstream: 0 },
  { name: 'sync with an encoded alias', path: '/v1/models/cus%74om/sync/health', init: { token: 'alice' }, status: 404, type: 'not_found', upstream: 0 },
  {
    name: 'sync with backslashes the URL parser resolves',
    path: '/v1/models/custom/sync/items\\..\\..\\..\\admin',
    init: { token: 'alice' },
    status: 404,
    type: 'not_found',
    upstream: 0,
  },
  {
    name: 'sync with PROPFIND',
    path: '/v1/models/custom/sync/health',
    init: { token: 'alice', method: 'PROPFIND' },
    status: 405,
    type: 'method_not_allowed',
    upstream: 0,
  },
  {
    name: 'sync with TRACE',
    path: '/v1/models/custom/sync/health',
    init: { token: 'alice', method: 'TRACE' },
    status: 405,
    type: 'method_not_allowed',
    upstream: 0,
  },
  {
    name: 'sync with MKCOL',
    path: '/v1/models/custom/sync/items/x',
    init: { token: 'alice', method: 'MKCOL' },
    status: 405,
    type: 'method_not_allowed',
    upstream: 0,
  },
  {
    name: 'sync with PURGE',
    path: '/v1/models/custom/sync/health',
    init: { token: 'alice', method: 'PURGE' },
    status: 405,
    type: 'method_not_allowed',
    upstream: 0,
  },
  {
    name: 'sync with an encoded space (allowed: data, not structure)',
    path: '/v1/models/custom/sync/items/a b',
    init: { token: 'alice' },
    status: 200,
    upstream: 1,
  },
  { name: 'sync anonymous on a private alias', path: '/v1/models/custom/sync/health', init: {}, status: 401, type: 'unauthorized', upstream: 0 },
  { name: 'sync by a client without the alias', path: '/v1/models/custom/sync/health', init: { token: 'bob' }, status: 403, type: 'forbidden', upstream: 0 },
  {
    name: 'sync with traversal in the query only (allowed: the query is not a path)',
    path: '/v1/models/custom/sync/items/a?x=../../admin',
    init: { token: 'alice' },
    status: 200,
    upstream: 1,
  },
];

/** A garbage x-request-id is replaced; the new id is the one sent upstream and echoed. */
const requestIds: Case[] = [
  'has space',
  'x'.repeat(129),
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '%0d%0aSet-Cookie:%20a=b',
  'a\tb',
  'abc;rm -rf',
  'é',
  'x'.repeat(64 * 1024),
  '{"$ne":null}',
  '',
].map((value) => ({
  name: `x-request-id ${JSON.stringify(value).slice(0, 40)}`,
  path: '/v1/models/echo/predict',
  init: json('{}', { 'x-request-id': value }),
  status: 200,
  upstream: 1,
  ownRequestId: true,
  check: (res: Response) => {
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  },
}));

const duplicateRequestIds: Case = {
  name: 'x-request-id sent twice (joined with a comma)',
  path: '/v1/models/echo/predict',
  init: {
    ...json('{}'),
    headers: [
      ['content-type', 'application/json'],
      ['x-request-id', 'a'],
      ['x-request-id', 'b'],
    ],
  },
  status: 200,
  upstream: 1,
  ownRequestId: true,
  check: (res) => expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/),
};

const staging = '/v1/models/staging/predict'; // bob may use it; anonymous may not
const bob = TOKENS.bob;
const tokens: Case[] = (
  [
    ['a 15-character token', `Bearer ${'t'.repeat(15)}`, 401],
    ['a 513-character token', `Bearer ${'t'.repeat(513)}`, 401],
    ['a 100 KB header', `Bearer ${'t'.repeat(100_000)}`, 401],
    ['"Bearer" alone', 'Bearer', 401],
    ['a token and more', `Bearer ${bob} extra`, 401],
    ['the token upper-cased', `Bearer ${bob.toUpperCase()}`, 401],
    ["the token's SHA-256 instead of the token", `Bearer ${TOKEN_SHA256.bob}`, 401],
    ['one character more', `Bearer ${bob}x`, 401],
    ['one character less', `Bearer ${bob.slice(0, -1)}`, 401],
    ['the last character changed', `Bearer ${bob.slice(0, -1)}1`, 401],
    ['Basic credentials', `Basic ${btoa(`bob:${bob}`)}`, 401],
    ['the Baseten key as Api-Key', `Api-Key ${TEST_API_KEY}`, 401],
    ['the Baseten key as a bearer token', `Bearer ${TEST_API_KEY}`, 401],
    ['the webhook secret as a bearer token', `Bearer ${TEST_WEBHOOK_SECRET}xxxxxxxxxx`, 401],
    ['another scheme', `Token ${bob}`, 401],
    ['two bearer tokens', `Bearer ${bob}, Bearer ${bob}`, 401],
    ['non-ASCII', `Bearer ${'\u00e4'.repeat(20)}`, 401],
    ['an empty header', '', 401],
    ['a lower-case scheme (allowed: schemes are case-insensitive)', `bearer ${bob}`, 200],
    ['extra spaces (allowed)', `Bearer   ${bob}  `, 200],
  ] as const
).map(([name, header, status]) => ({
  name: `token: ${name}`,
  path: staging,
  init: { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', authorization: header } },
  status,
  type: status === 401 ? ('unauthorized' as const) : undefined,
  upstream: status === 200 ? 1 : 0,
}));

const access: Case[] = [
  {
    name: 'access: anonymous on a private alias',
    path: staging,
    init: { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } },
    status: 401,
    type: 'unauthorized',
    upstream: 0,
  },
  {
    name: 'access: a client on an alias it was not granted',
    path: '/v1/models/pinned/predict',
    init: { ...json('{}'), token: 'bob' },
    status: 403,
    type: 'forbidden',
    upstream: 0,
  },
  {
    name: 'access: a granted client with a private alias in the body',
    path: '/v1/models/echo/predict',
    init: { ...json('{"model":"pinned","alias":"pinned"}'), token: 'bob' },
    status: 200,
    upstream: 1,
  },
];

const methods: Case[] = (
  [
    ['GET', '/v1/models/echo/predict', 'POST'],
    ['PUT', '/v1/models/echo/predict', 'POST'],
    ['DELETE', '/v1/models/echo/predict', 'POST'],
    ['PATCH', '/v1/models/echo/predict', 'POST'],
    ['PROPFIND', '/v1/models/echo/predict', 'POST'],
    ['OPTIONS', '/v1/models/echo/predict', 'POST'],
    ['POST', '/healthz', 'GET'],
    ['DELETE', '/v1/models', 'GET'],
    ['TRACE', '/v1/models/echo/predict', 'POST'],
    ['PURGE', '/v1/models', 'GET'],
  ] as const
).map(([method, path, allow]) => ({
  name: `method ${method} ${path}`,
  path,
  init: { method, token: 'alice' },
  status: 405,
  type: 'method_not_allowed' as const,
  upstream: 0,
  check: (res: Response) => expect(res.headers.get('allow')).toBe(allow),
}));

const preflight = (origin: string) => ({
  method: 'OPTIONS',
  headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
});
const noCors = (res: Response) => {
  expect(res.headers.get('access-control-allow-origin')).toBeNull();
  expect(res.headers.get('access-control-allow-methods')).toBeNull();
};
const cors: Case[] = [
  'https://evil.example.com',
  'https://app.example.com.evil.com',
  'null',
  'http://app.example.com',
  'https://APP.example.com',
  'https://app.example.com/',
  'https://app.example.com:443',
  'https://app.example.co',
  '*',
  '',
].map((origin) => ({
  name: `CORS preflight from ${JSON.stringify(origin)}`,
  path: '/v1/models/echo/predict',
  init: preflight(origin),
  status: 403,
  type: 'forbidden' as const,
  upstream: 0,
  check: noCors,
}));
cors.push(
  ...['https://evil.example.com', 'null', 'https://app.example.com.evil.com', 'http://app.example.com'].map((origin) => ({
    name: `CORS: a simple request from ${JSON.stringify(origin)} is refused, nothing sent`,
    path: '/v1/models/echo/predict',
    init: json('{}', { origin, 'content-type': 'text/plain' }),
    status: 403,
    type: 'forbidden' as const,
    upstream: 0 as const,
    check: noCors,
  })),
  {
    name: 'CORS: a JSON request from a disallowed origin is refused, nothing sent',
    path: '/v1/models/echo/predict',
    init: json('{}', { origin: 'https://evil.example.com' }),
    status: 403,
    type: 'forbidden',
    upstream: 0,
    check: noCors,
  },
  {
    name: 'CORS: a request from an allowed origin is served',
    path: '/v1/models/echo/predict',
    init: json('{}', { origin: 'https://app.example.com' }),
    status: 200,
    upstream: 1,
  },
  { name: 'CORS: a request without an Origin (server to server) is served', path: '/v1/models/echo/predict', init: json('{}'), status: 200, upstream: 1 },
);

const aliases: Case[] = [
  '%00',
  '..%2f..%2fhealthz',
  'a'.repeat(300),
  '%3Cscript%3E',
  'echo%0d%0aSet-Cookie:x',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'ECHO',
  'echo%20',
  'ech%6f',
  'echo.',
  '*',
  '%2A',
  'echo;',
  'echo%3Bx',
  '-echo',
].map((alias) => ({
  name: `alias ${JSON.stringify(alias).slice(0, 40)}`,
  path: `/v1/models/${alias}/predict`,
  init: json('{}'),
  status: 404,
  type: 'not_found' as const,
  upstream: 0,
  check: (res: Response, body: string) => {
    expect(res.headers.get('set-cookie')).toBeNull();
    const message = (JSON.parse(body) as { error: { message: string } }).error.message;
    expect(message.length).toBeLessThan(120);
    expect(message).not.toMatch(/[\r\n<>]/);
  },
}));
aliases.push(
  // The URL parser resolves the dot segment: what is left is GET /v1/models/{alias}, so a POST is a 405.
  { name: 'alias as a dot segment', path: '/v1/models/./predict', init: json('{}'), status: 405, type: 'method_not_allowed', upstream: 0 },
  { name: 'alias as an encoded dot segment', path: '/v1/models/%2e/predict', init: json('{}'), status: 405, type: 'method_not_allowed', upstream: 0 },
);

const headers: Case[] = [
  {
    name: 'a 256 KB custom header is neither refused nor forwarded',
    path: '/v1/models/echo/predict',
    init: json('{}', { 'x-padding': 'p'.repeat(256 * 1024) }),
    status: 200,
    upstream: 1,
  },
  {
    name: 'headers that try to steer the upstream (host, x-forwarded-*, forwarded) change nothing',
    path: '/v1/models/echo/predict',
    init: json('{}', { 'x-forwarded-host': 'evil.com', forwarded: 'host=evil.com', 'x-original-url': '/admin', 'x-rewrite-url': '/admin' }),
    status: 200,
    upstream: 1,
  },
  {
    name: 'a query that pollutes prototypes',
    path: '/v1/models/echo/predict?__proto__=1&constructor=x&__proto__[admin]=1',
    init: json('{}'),
    status: 200,
    upstream: 1,
  },
  { name: 'a query with broken escapes', path: '/v1/models/echo/predict?%zz=%', init: json('{}'), status: 200, upstream: 1 },
  { name: 'a 60 KB query', path: `/v1/models/echo/predict?q=${'q'.repeat(60_000)}`, init: json('{}'), status: 414, type: 'uri_too_long', upstream: 0 },
  {
    name: 'a 60 KB query on a custom route',
    path: `/v1/models/custom/sync/items/1?q=${'q'.repeat(60_000)}`,
    init: { token: 'alice' },
    status: 414,
    type: 'uri_too_long',
    upstream: 0,
  },
];

/** Upstream answers that try to move the call or hold it (the fake steered through the body). */
const upstreamTricks: Case[] = [
  ...[301, 302, 303, 307, 308].map((status) => ({
    name: `upstream redirect ${status} is not followed`,
    path: '/v1/models/echo/predict',
    init: json(JSON.stringify({ fake: { redirect: true, redirect_status: status } })),
    status: 502,
    type: 'upstream_error' as const,
    upstream: 1 as const,
  })),
  {
    name: 'upstream error body that stalls: cut at timeout_ms',
    path: '/v1/models/quick/predict',
    init: json('{"fake":{"status":500,"stall_body":true}}'),
    status: 502,
    upstream: 1,
    check: (_res, body) => expect((JSON.parse(body) as { error: unknown }).error).toMatchObject({ type: 'upstream_error', upstream_status: 500 }),
  },
];

/** Bodies whose keys try to reach something inherited or to be read twice. */
const keyTricks: Case[] = [
  ...['{"constructor":3}', '{"__proto__":7}', '{"toString":1}'].map((retry) => ({
    name: `async inference_retry_config ${retry}`,
    path: '/v1/models/asyncmodel/async',
    init: json(`{"model_input":{},"inference_retry_config":${retry}}`),
    status: 400,
    type: 'invalid_request' as const,
    upstream: 0 as const,
  })),
  {
    name: 'OpenAI body with `model` twice',
    path: '/v1/chat/completions',
    init: json('{"model":"llm","messages":[],"model":"llm"}'),
    status: 400,
    type: 'invalid_request',
    upstream: 0,
  },
  {
    name: 'OpenAI body with `model` twice, one escaped',
    path: '/v1/chat/completions',
    init: json('{"model":"llm","messages":[],"m\\u006fdel":"llm"}'),
    status: 400,
    type: 'invalid_request',
    upstream: 0,
  },
  {
    name: 'OpenAI body at the cap that the served name pushes over it',
    path: '/v1/chat/completions',
    init: json(`{"model":"llm-tight","messages":[],"p":"${'p'.repeat(4096 - 42)}"}`),
    status: 413,
    type: 'payload_too_large',
    upstream: 0,
  },
];

const CASES: Case[] = [
  ...malformedJson,
  ...badUtf8,
  ...oddButValidJson,
  deepArrays,
  ...caps,
  binaryChunkedOverCap,
  ...contentTypes,
  noContentType,
  ...syncTricks,
  ...syncOther,
  ...requestIds,
  duplicateRequestIds,
  ...tokens,
  ...access,
  ...methods,
  ...cors,
  ...aliases,
  ...headers,
  ...upstreamTricks,
  ...keyTricks,
];

describe(`hostile requests (${CASES.length} cases)`, () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const id = uniqueId('hostile');
    const headers = new Headers(c.init?.headers);
    if (!c.ownRequestId) headers.set('x-request-id', id);
    const res = await call(c.path, { ...c.init, headers, upstream: c.upstream });
    const body = await res.text();

    expect([c.status].flat()).toContain(res.status);
    const answeredId = res.headers.get('x-request-id')!;
    if (!c.ownRequestId) expect(answeredId).toBe(id);
    if (c.type) {
      const parsed = JSON.parse(body) as { error: Record<string, unknown> };
      expect(Object.keys(parsed)).toEqual(['error']);
      expect(parsed.error).toEqual({ type: c.type, message: expect.any(String), request_id: answeredId });
      expect(res.headers.get('content-type')).toBe('application/json');
    }
    for (const secret of [TEST_API_KEY, TEST_WEBHOOK_SECRET]) {
      expect(body).not.toContain(secret);
      expect([...res.headers].join('\n')).not.toContain(secret);
    }
    await c.check?.(res, body);

    const seen = await upstreamRequests(answeredId);
    expect(seen).toHaveLength(c.upstream);
    for (const request of seen) {
      expect(request.headers.authorization).toBe(`Api-Key ${TEST_API_KEY}`);
      expect(request.headers['x-request-id']).toBe(answeredId);
      for (const name of ['x-padding', 'x-forwarded-host', 'forwarded', 'x-original-url', 'cookie']) expect(request.headers[name]).toBeUndefined();
    }
  });

  it('left no prototype polluted', () => {
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

/**
 * Hostile async and webhook requests: ids that are not Baseten's, another
 * caller's ids, forged, stale and replayed deliveries. Built once a real
 * request exists (alice's), so the cases can aim at it.
 */
interface AsyncCase {
  name: string;
  /** Path and init, given alice's request id. */
  build: (owned: string) => Promise<[string, CallOptions]> | [string, CallOptions];
  status: number;
  type?: ErrorType;
}

const HEX32 = /^[0-9a-f]{32}$/;
const otherHex = () => [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
const webhook = (body: string, signatureHeader?: string): [string, CallOptions] => [
  '/v1/webhooks/baseten',
  {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...(signatureHeader === undefined ? {} : { 'x-baseten-signature': signatureHeader }) },
  },
];
const minutes = (n: number) => new Date(Date.now() + n * 60_000).toISOString();

const ASYNC_CASES: AsyncCase[] = [
  { name: 'async id with a dot', build: (id) => [`/v1/async/${id}.json`, { token: 'alice' }], status: 400, type: 'invalid_request' },
  { name: 'async id with an encoded space', build: (id) => [`/v1/async/${id}%20`, { token: 'alice' }], status: 400, type: 'invalid_request' },
  { name: 'async id over 128 characters', build: () => [`/v1/async/${'a'.repeat(129)}`, { token: 'alice' }], status: 400, type: 'invalid_request' },
  // Baseten's ids are any [A-Za-z0-9_-]{1,128}: a near miss of a real one is just another unknown id.
  { name: 'async id in upper case', build: (id) => [`/v1/async/${id.toUpperCase()}`, { token: 'alice' }], status: 404, type: 'not_found' },
  { name: 'async id one character long', build: (id) => [`/v1/async/${id}0`, { token: 'alice' }], status: 404, type: 'not_found' },
  { name: 'async id with encoded traversal', build: () => ['/v1/async/..%2f..%2fhealthz', { token: 'alice' }], status: 400, type: 'invalid_request' },
  { name: 'async id with a NUL', build: (id) => [`/v1/async/${id.slice(1)}%00`, { token: 'alice' }], status: 400, type: 'invalid_request' },
  { name: 'another client reads the request', build: (id) => [`/v1/async/${id}`, { token: 'bob' }], status: 404, type: 'not_found' },
  { name: 'another client cancels the request', build: (id) => [`/v1/async/${id}`, { token: 'bob', method: 'DELETE' }], status: 404, type: 'not_found' },
  { name: "an anonymous caller reads a client's request", build: (id) => [`/v1/async/${id}`, {}], status: 404, type: 'not_found' },
  {
    name: 'an anonymous caller with a made-up owner token',
    build: (id) => [`/v1/async/${id}`, { headers: { 'x-async-owner-token': 'o'.repeat(43) } }],
    status: 404,
    type: 'not_found',
  },
  { name: 'an unknown id', build: () => [`/v1/async/${otherHex()}`, { token: 'alice' }], status: 404, type: 'not_found' },
  { name: 'webhook: unsigned', build: (id) => webhook(deliveryBody(id)), status: 401, type: 'unauthorized' },
  { name: 'webhook: a random signature', build: (id) => webhook(deliveryBody(id), `v1=${otherHex()}${otherHex()}`), status: 401, type: 'unauthorized' },
  {
    name: 'webhook: signed with another secret',
    build: async (id) => {
      const b = deliveryBody(id);
      return webhook(b, await signature(b, 'whsec_other'));
    },
    status: 401,
    type: 'unauthorized',
  },
  { name: 'webhook: an empty v1=', build: (id) => webhook(deliveryBody(id), 'v1='), status: 401, type: 'unauthorized' },
  {
    name: 'webhook: a valid HMAC under another scheme (v0=)',
    build: async (id) => {
      const b = deliveryBody(id);
      return webhook(b, (await signature(b)).replace('v1=', 'v0='));
    },
    status: 401,
    type: 'unauthorized',
  },
  {
    name: 'webhook: the signature of other bytes',
    build: async (id) => webhook(deliveryBody(id, { data: 'tampered' }), await signature(deliveryBody(id))),
    status: 401,
    type: 'unauthorized',
  },
  {
    name: 'webhook: the signature with one hex digit changed',
    build: async (id) => {
      const b = deliveryBody(id);
      const s = await signature(b);
      return webhook(b, s.slice(0, -1) + (s.endsWith('0') ? '1' : '0'));
    },
    status: 401,
    type: 'unauthorized',
  },
  {
    name: 'webhook: a stale delivery (a replay, 10 minutes old)',
    build: async (id) => {
      const b = deliveryBody(id, { time: minutes(-10) });
      return webhook(b, await signature(b));
    },
    status: 401,
    type: 'unauthorized',
  },
  {
    name: 'webhook: a delivery from the future',
    build: async (id) => {
      const b = deliveryBody(id, { time: minutes(10) });
      return webhook(b, await signature(b));
    },
    status: 401,
    type: 'unauthorized',
  },
  {
    name: 'webhook: signed, naming another model',
    build: async (id) => {
      const b = deliveryBody(id, { modelId: 'zzz999' });
      return webhook(b, await signature(b));
    },
    status: 400,
    type: 'invalid_request',
  },
  { name: 'webhook: signed, not JSON', build: () => webhook('{oops', vectorSignature('{oops', TEST_WEBHOOK_SECRET)), status: 400, type: 'invalid_request' },
  {
    name: 'webhook: over 20 MiB',
    build: (id) => webhook(`${deliveryBody(id).slice(0, -1)},"pad":"${'p'.repeat(21 * MiB)}"}`, 'v1=00'),
    status: 413,
    type: 'payload_too_large',
  },
  { name: 'webhook: GET', build: () => ['/v1/webhooks/baseten', { method: 'GET' }], status: 405, type: 'method_not_allowed' },
];

describe(`hostile async and webhook requests (${ASYNC_CASES.length} cases)`, () => {
  let owned = '';
  beforeAll(async () => {
    owned = (await submit('asyncmodel')).accepted.request_id;
    expect(owned).toMatch(HEX32);
  });

  it.each(ASYNC_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const id = uniqueId('hostile-async');
    const [path, init] = await c.build(owned);
    const res = await call(path, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), 'x-request-id': id } });
    const body = await res.text();
    expect(res.status).toBe(c.status);
    if (c.type) expect((JSON.parse(body) as { error: { type: string } }).error.type).toBe(c.type);
    for (const secret of [TEST_API_KEY, TEST_WEBHOOK_SECRET]) expect(body).not.toContain(secret);
    // Refused: nothing asked of Baseten, nothing stored.
    expect(await upstreamRequests(id)).toHaveLength(0);
    expect(await storedResult(owned)).toBeNull();
  });

  it('keeps the first delivered result when a second, genuinely signed delivery says otherwise', async () => {
    const first = deliveryBody(owned, { data: { output: 'first' } });
    expect((await deliver(first, await signature(first))).status).toBe(200);
    const second = deliveryBody(owned, { data: { output: 'second' } });
    expect((await deliver(second, await signature(second))).status).toBe(200);
    expect((await deliver(first, await signature(first))).status).toBe(200);
    expect((await storedResult(owned))?.output).toEqual({ output: 'first' });
  });

  it('checks webhook signatures with crypto.subtle.timingSafeEqual, every given signature against every secret', async () => {
    const compare = vi.spyOn(crypto.subtle, 'timingSafeEqual');
    try {
      const body = deliveryBody(otherHex());
      await (await deliver(body, `v1=${otherHex()}${otherHex()},v1=${otherHex()}${otherHex()}`)).arrayBuffer();
      expect(compare).toHaveBeenCalledTimes(2);
    } finally {
      compare.mockRestore();
    }
  });
});
