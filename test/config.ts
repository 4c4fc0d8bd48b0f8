/**
 * The gateway config the tests run with: read by vitest.config.ts (Node) to
 * bind it into workerd, and by the tests to know the tokens. Tokens here are
 * test values only.
 */
import { CACHE_MODELS, CACHE_RATE_LIMIT_CLIENTS, CACHE_TOKENS } from './config/cache.ts';
import { DROPIN_MODELS } from './config/dropin.ts';
import { FAILOVER_MODELS } from './config/failover.ts';
import { HARDENING_MODELS, HARDENING_RATE_LIMIT_CLIENTS } from './config/hardening.ts';
import { REALTIME_MODELS } from './config/realtime.ts';

export const TEST_API_KEY = 'fake-baseten-key';
export const TEST_WEBHOOK_SECRET = 'whsec_fake';

export const TOKENS = {
  alice: 'alice-token-0123456789abcdef',
  bob: 'bob-token-0123456789abcdef00',
  admin: 'admin-token-0123456789abcdef',
  /** On the RATE_LIMITER_STRICT tier (5 a minute, per location). */
  limited: 'limited-token-0123456789abcdef',
  /** On the strict global limit (3 an hour, the GLOBAL_RATE_LIMITER Durable Object). */
  strict: 'strict-token-0123456789abcdef0',
  ...CACHE_TOKENS,
} as const;

/** sha256 hex of each token, precomputed so the config stays plain data. */
export const TOKEN_SHA256 = {
  alice: '380b4b4121ca83f5367b54432e63220108395d27fbac45559096b42ca5ce8fe3',
  bob: 'a7a62952a978da25efa391ca669889256e47239acc6eb52cbf5b3c9cf32ccd42',
  admin: 'b82c960b03eefe922830902342744b424aa2c080c8a8d4db775d181949549a6c',
  limited: '4e4751fc645391806da86bcbff03e06ecff5be376bcd3f9b285fecfa0281d90d',
  strict: '1eade4d8123b42220649b4e629a4e601eb7f7bd356cd830fa3a45a88e60829eb',
};

export const TEST_MODELS = {
  ...REALTIME_MODELS,
  echo: { model_id: 'abc123', environment: 'production', public: true, wake: true },
  staging: { model_id: 'abc123', environment: 'staging' },
  pinned: { model_id: 'abc123', deployment_id: 'q4w8e' },
  draft: { model_id: 'dev456', development: true },
  pipeline: { chain_id: 'xyz789', environment: 'production' },
  small: { model_id: 'abc123', environment: 'production', max_body_bytes: 1024 },
  quick: { model_id: 'abc123', environment: 'production', timeout_ms: 300 },
  custom: { model_id: 'srv001', environment: 'production', sync_routes: ['/health', '/items/*'] },
  gone: { model_id: 'gone01', environment: 'production' },
  llm: { model_id: 'llm001', environment: 'production', openai: { served_model_name: 'Qwen/Qwen2.5-3B-Instruct' } },
  'llm-tight': {
    model_id: 'llm001',
    environment: 'production',
    timeout_ms: 1000,
    max_body_bytes: 4096,
    openai: { served_model_name: 'Qwen/Qwen2.5-3B-Instruct' },
  },
  asyncmodel: { model_id: 'abc123', environment: 'production', async: true },
  asyncchain: { chain_id: 'xyz789', environment: 'production', async: true },
  typed: {
    model_id: 'abc123',
    environment: 'production',
    async: true,
    input_schema: {
      type: 'object',
      properties: {
        prompt: { type: 'string', minLength: 1 },
        n: { type: 'integer', minimum: 1, maximum: 4 },
        tags: { type: 'array', items: { enum: ['a', 'b'] } },
        fake: { type: 'object' },
      },
      required: ['prompt'],
      additionalProperties: false,
    },
  },
  'warm-chain': { chain_id: 'xyz789', environment: 'production', wake: true },
  'warm-gone': { model_id: 'gone02', environment: 'production', wake: true },
  ...HARDENING_MODELS,
  ...DROPIN_MODELS,
  ...FAILOVER_MODELS,
  ...CACHE_MODELS,
};

/** What the fake's OpenAI-compatible engines answer to, by model id. */
export const TEST_SERVED_NAMES = { llm001: 'Qwen/Qwen2.5-3B-Instruct' };

export const TEST_CLIENTS = {
  alice: { token_sha256: TOKEN_SHA256.alice, models: ['*'] },
  bob: { token_sha256: TOKEN_SHA256.bob, models: ['echo', 'staging'] },
  admin: { token_sha256: TOKEN_SHA256.admin, models: ['*'], admin: true },
};

/**
 * Clients on a rate-limit tier: they name bindings (wrangler.toml's
 * RATE_LIMITER_STRICT, the GLOBAL_RATE_LIMITER Durable Object), so they are
 * bound only where those exist (the workerd tests), not in config-only tests.
 */
export const RATE_LIMIT_TEST_CLIENTS = {
  limited: { token_sha256: TOKEN_SHA256.limited, models: ['echo'], rate_limit: 'RATE_LIMITER_STRICT' },
  strict: { token_sha256: TOKEN_SHA256.strict, models: ['echo'], rate_limit: { limit: 3, period_seconds: 3600 } },
  ...HARDENING_RATE_LIMIT_CLIENTS,
  ...CACHE_RATE_LIMIT_CLIENTS,
};

export const TEST_ORIGINS = ['https://app.example.com'];

declare module 'vitest' {
  export interface ProvidedContext {
    /** Origin of the fake Baseten that the workerd tests' gateway calls. */
    fakeBasetenUrl: string;
    /** Where the worker tests report the operations and statuses they saw (test/setup/contract.global.ts). */
    contractCollectorUrl: string;
  }
}
