import { describe, expect, it } from 'vitest';
import { ConfigError, type ConfigSource, type ModelConfig, parseConfig } from '../../src/config.ts';
import { HttpError } from '../../src/errors.ts';
import { validateInput } from '../../src/input-schema.ts';
import { TEST_MODELS } from '../config.ts';
import { call, errorOf, uniqueId, upstreamRequests } from './helpers.ts';

const base: ConfigSource = { ASYNC_REQUESTS: {}, BASETEN_API_KEY: 'key', BASETEN_URL_TEMPLATE: 'http://127.0.0.1:8788/{subdomain}', MODELS: TEST_MODELS };
const typed: ModelConfig = parseConfig(base).models.get('typed')!;

function problem(value: unknown): string | undefined {
  try {
    validateInput(typed, value);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    expect((err as HttpError).type).toBe('invalid_request');
    return (err as HttpError).message;
  }
}

/** Parses a config whose one alias carries `schema`. */
function withSchema(schema: unknown) {
  return () => parseConfig({ ...base, MODELS: { s: { model_id: 'a1', environment: 'p', input_schema: schema } } });
}

describe('validateInput', () => {
  it('passes input that fits the schema, and any input of an alias without one', () => {
    expect(problem({ prompt: 'hi', n: 4, tags: ['a', 'b'] })).toBeUndefined();
    expect(() => validateInput(parseConfig(base).models.get('echo')!, 'anything')).not.toThrow();
  });

  it.each([
    [{ prompt: 3 }, '/prompt: must be string'],
    [{}, '/prompt: is required'],
    [{ prompt: '' }, '/prompt: must be at least 1 characters long'],
    [{ prompt: 'x', n: 9 }, '/n: must be <= 4'],
    [{ prompt: 'x', n: 1.5 }, '/n: must be integer'],
    [{ prompt: 'x', tags: ['a', 'c'] }, '/tags/1: must be one of ["a","b"]'],
    [{ prompt: 'x', extra: 1 }, '/extra: is not allowed'],
    [{ prompt: 'x', 'a/b~c': 1 }, '/a~1b~0c: is not allowed'],
    ['just text', '/: must be object'],
  ])('names the path of the first violation in %j', (value, message) => {
    expect(problem(value)).toBe(message);
  });

  it('leaves the frozen config schema untouched', () => {
    problem({ prompt: 1 });
    expect(Object.isFrozen(typed.inputSchema)).toBe(true);
    expect(JSON.stringify(typed.inputSchema)).toBe(JSON.stringify(TEST_MODELS.typed.input_schema));
  });
});

describe('input_schema in the config', () => {
  it('accepts the supported subset, annotations included', () => {
    expect(
      withSchema({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        title: 'In',
        description: 'd',
        type: ['object', 'null'],
        properties: { a: { type: 'number', exclusiveMinimum: 0, default: 1 }, b: { const: 'x' }, c: { type: 'array', items: true, minItems: 1, maxItems: 3 } },
        additionalProperties: { type: 'string', maxLength: 10 },
        examples: [{ a: 1 }],
      }),
    ).not.toThrow();
  });

  it.each([
    [{ type: 'strin' }, 'MODELS.s.input_schema/type: must match ^(array|boolean|integer|null|number|object|string)$'],
    [{ type: ['string', 'text'] }, 'MODELS.s.input_schema/type/1: must be one of'],
    [{ properties: { a: { pattern: '^x' } } }, 'MODELS.s.input_schema/properties/a/pattern: is not allowed'],
    [{ required: 'a' }, 'MODELS.s.input_schema/required: must be array'],
    [{ items: { minLength: -1 } }, 'MODELS.s.input_schema/items/minLength: must be >= 0'],
    [{ $ref: '#/x' }, 'MODELS.s.input_schema/$ref: is not allowed'],
    ['not an object', 'MODELS.s.input_schema: must be a JSON object'],
  ])('refuses %j, naming the field', (schema, message) => {
    expect(withSchema(schema)).toThrow(ConfigError);
    expect(withSchema(schema)).toThrow(message);
  });
});

describe('input schema at the edge', () => {
  it('forwards valid predict input and answers 400 naming the path for invalid input, without calling Baseten', async () => {
    const good = uniqueId();
    expect((await call('/v1/models/typed/predict', { token: 'alice', json: { prompt: 'hi' }, headers: { 'x-request-id': good }, upstream: 1 })).status).toBe(
      200,
    );
    expect(await upstreamRequests(good)).toHaveLength(1);

    const bad = uniqueId();
    const res = await call('/v1/models/typed/predict', { token: 'alice', json: { prompt: ['hi'] }, headers: { 'x-request-id': bad } });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ type: 'invalid_request', message: '/prompt: must be string', request_id: bad });
    expect(await upstreamRequests(bad)).toHaveLength(0);
  });

  it('refuses binary input for an alias with a schema, since it could not be checked', async () => {
    const id = uniqueId();
    const res = await call('/v1/models/typed/predict', {
      token: 'alice',
      method: 'POST',
      body: new Uint8Array([1, 2]),
      headers: { 'content-type': 'application/octet-stream', 'x-request-id': id },
    });
    expect(res.status).toBe(415);
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it('checks async model_input against the schema before queueing anything', async () => {
    const bad = uniqueId();
    const res = await call('/v1/models/typed/async', { token: 'alice', json: { model_input: { prompt: 7 } }, headers: { 'x-request-id': bad } });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ type: 'invalid_request', message: '/prompt: must be string' });
    expect(await upstreamRequests(bad)).toHaveLength(0);
    const good = uniqueId();
    const ok = await call('/v1/models/typed/async', {
      token: 'alice',
      json: { model_input: { prompt: 'hi' } },
      headers: { 'x-request-id': good },
      upstream: 1,
    });
    expect(ok.status).toBe(201);
    expect(await upstreamRequests(good)).toHaveLength(1);
  });
});
