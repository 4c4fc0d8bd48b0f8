import { describe, expect, it } from 'vitest';
import { ConfigError, type ConfigSource, parseConfig } from '../../src/config.ts';
import { pathOf } from '../../src/log.ts';
import { matchSyncRoute } from '../../src/sync-routes.ts';
import { asyncRequestUrl, basetenTarget, signedRequest, targetUrl } from '../../src/upstream.ts';
import { scrubIds, upstreamFailure } from '../../src/upstream-errors.ts';

const base: ConfigSource = {
  ASYNC_REQUESTS: {},
  BASETEN_API_KEY: 'abcd1234.secretsecret',
  MODELS: { m: { model_id: 'abc123', environment: 'production' } },
};

function configError(overrides: ConfigSource): string {
  try {
    parseConfig({ ...base, ...overrides });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('config was accepted');
}

describe('config', () => {
  it('names the field and the fix for each bad entry', () => {
    expect(configError({ MODELS: { s: { model_id: 'a1', environment: 'p', development: true } } })).toBe(
      'MODELS.s: give exactly one of environment, deployment_id, development',
    );
    expect(configError({ MODELS: { s: { model_id: 'a1', chain_id: 'b', environment: 'p' } } })).toContain('MODELS.s: give exactly one of model_id, chain_id');
    expect(configError({ MODELS: { s: { model_id: 'evil.com/x', environment: 'p' } } })).toContain('MODELS.s.model_id');
    expect(configError({ MODELS: { s: { model_id: 'a1', environment: '../x' } } })).toContain('MODELS.s.environment');
    expect(configError({ MODELS: { s: { model_id: 'a1', environment: 'p', sync_routes: ['/a/../b'] } } })).toContain('MODELS.s.sync_routes[0]');
    expect(configError({ MODELS: { s: { model_id: 'a1', environment: 'p', colour: 1 } } })).toContain('MODELS.s.colour');
    expect(configError({ MODELS: {} })).toContain('MODELS');
    expect(configError({ MODELS: 'not json' })).toContain('MODELS: must be a JSON object');
    expect(configError({ CLIENTS: { c: { token_sha256: 'nothex', models: ['m'] } } })).toContain('CLIENTS.c.token_sha256');
    expect(configError({ CLIENTS: { c: { token_sha256: 'a'.repeat(64), models: ['other'] } } })).toContain('CLIENTS.c.models[0]');
    expect(configError({ ALLOWED_ORIGINS: ['https://a.com/path'] })).toContain('ALLOWED_ORIGINS[0]');
    expect(configError({ BASETEN_URL_TEMPLATE: 'http://evil.example.com/{subdomain}' })).toContain('BASETEN_URL_TEMPLATE');
    expect(configError({ BASETEN_URL_TEMPLATE: 'https://example.com/' })).toContain('{subdomain}');
    expect(configError({ SETTINGS: { async_ttl_seconds: 30 } })).toContain('SETTINGS.async_ttl_seconds');
    expect(configError({ ASYNC_REQUESTS: undefined })).toContain('ASYNC_REQUESTS');
  });

  it('never puts the API key in an error', () => {
    expect(configError({ BASETEN_API_KEY: 'has space key' })).not.toContain('has space key');
    expect(configError({ BASETEN_API_KEY: undefined })).toContain('wrangler secret put BASETEN_API_KEY');
  });

  it('reads JSON values and strings holding JSON alike', () => {
    const fromJson = parseConfig({ ...base, ALLOWED_ORIGINS: ['https://a.com'], CLIENTS: { c: { token_sha256: 'a'.repeat(64), models: ['*'] } } });
    const fromStrings = parseConfig({
      ...base,
      MODELS: JSON.stringify(base.MODELS),
      ALLOWED_ORIGINS: '["https://a.com"]',
      CLIENTS: JSON.stringify({ c: { token_sha256: 'a'.repeat(64), models: ['*'] } }),
    });
    expect([...fromStrings.allowedOrigins]).toEqual([...fromJson.allowedOrigins]);
    expect(fromStrings.models.get('m')).toEqual(fromJson.models.get('m'));
    expect(fromStrings.clients[0]!.models).toBe('*');
    expect(Object.isFrozen(fromJson)).toBe(true);
  });

  it('defaults to Baseten\'s own hosts and accepts a "*" origin only when given', () => {
    const config = parseConfig(base);
    expect(config.urlTemplate).toBe('https://{subdomain}.api.baseten.co');
    expect(config.allowedOrigins).toEqual(new Set());
    expect(parseConfig({ ...base, ALLOWED_ORIGINS: '*' }).allowedOrigins).toBe('*');
  });
});

describe('upstream URLs and signing', () => {
  const config = parseConfig({
    ...base,
    MODELS: {
      env: { model_id: 'abc123', environment: 'staging' },
      dep: { model_id: 'abc123', deployment_id: 'q4w8e' },
      dev: { model_id: 'abc123', development: true },
      chain: { chain_id: 'xyz789', environment: 'production' },
    },
  });
  const target = (alias: string) => config.models.get(alias)!.target;

  it('builds each documented path', () => {
    expect(targetUrl(config, target('env'), 'predict')).toBe('https://model-abc123.api.baseten.co/environments/staging/predict');
    expect(targetUrl(config, target('dep'), 'async_predict')).toBe('https://model-abc123.api.baseten.co/deployment/q4w8e/async_predict');
    expect(targetUrl(config, target('dev'), 'wake')).toBe('https://model-abc123.api.baseten.co/development/wake');
    expect(targetUrl(config, target('chain'), 'predict')).toBe('https://chain-xyz789.api.baseten.co/environments/production/run_remote');
    expect(targetUrl(config, target('chain'), 'async_predict')).toBe('https://chain-xyz789.api.baseten.co/environments/production/async_run_remote');
    expect(targetUrl(config, target('env'), 'sync', '/v1/chat/completions')).toBe(
      'https://model-abc123.api.baseten.co/environments/staging/sync/v1/chat/completions',
    );
    expect(asyncRequestUrl(config, basetenTarget(target('chain')), 'ab12')).toBe('https://chain-xyz789.api.baseten.co/async_request/ab12');
  });

  it('signs with Api-Key and copies only allowed caller headers', () => {
    const caller = new Headers({ authorization: 'Bearer client', cookie: 'a=b', accept: 'text/event-stream', connection: 'close' });
    const req = signedRequest(config, 'https://model-abc123.api.baseten.co/x', {
      method: 'POST',
      requestId: 'r1',
      callerHeaders: caller,
      body: '{}',
      contentType: 'application/json',
    });
    expect(req.headers.get('authorization')).toBe('Api-Key abcd1234.secretsecret');
    expect(req.headers.get('x-request-id')).toBe('r1');
    expect(req.headers.get('accept')).toBe('text/event-stream');
    expect(req.headers.get('cookie')).toBeNull();
    expect(req.headers.get('connection')).toBeNull();
  });

  it('replaces model and deployment IDs with the alias in upstream errors', async () => {
    const model = config.models.get('dep')!;
    expect(scrubIds('deployment q4w8e of model abc123 failed', model)).toBe('deployment dep of model dep failed');
    const failure = await upstreamFailure(new Response('{"error":"model abc123 crashed\\nagain"}', { status: 500 }), model);
    expect(failure.status).toBe(502);
    expect(failure.message).toBe('Baseten answered 500: model dep crashed again');
  });
});

describe('sync route matching', () => {
  const routes = ['/health', '/items/*'];
  it.each([
    ['/health', '/health'],
    ['/items/1', '/items/1'],
    ['/items/a/b', '/items/a/b'],
    ['/items/caf%C3%A9', '/items/caf%C3%A9'],
  ])('allows %s', (path, expected) => {
    expect(matchSyncRoute(path, routes)).toBe(expected);
  });

  it.each([
    '/healthz',
    '/items',
    '/items/',
    '//health',
    '/items/../health',
    '/items/%2e%2e',
    '/items/%2F',
    '/items/%5C',
    '/items/%25',
    '/items/%zz',
    '/items/a\\b',
    'health',
    '',
    '/items/.',
    '/items/a b',
  ])('refuses %j', (path) => {
    expect(matchSyncRoute(path, routes)).toBeUndefined();
  });

  it('lets "/*" reach any plain path', () => {
    expect(matchSyncRoute('/x/y', ['/*'])).toBe('/x/y');
    expect(matchSyncRoute('/x/..', ['/*'])).toBeUndefined();
  });
});

describe("the log line's path", () => {
  it.each([
    'https://gateway.test/v1/models/echo/predict',
    'https://gateway.test/v1/models/echo/predict?x=1&y=/z',
    'http://127.0.0.1:8787/',
    'https://gateway.test/a%2Fb/c?',
  ])("is the URL parser's pathname for %s, without parsing", (url) => {
    expect(pathOf(url)).toBe(new URL(url).pathname);
  });
});
