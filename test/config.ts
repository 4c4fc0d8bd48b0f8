/**
 * The gateway config the tests run with: read by vitest.config.ts (Node) to
 * bind it into workerd, and by the tests to know the tokens. Tokens here are
 * test values only.
 */
export const TEST_API_KEY = 'fake-baseten-key';
export const TEST_WEBHOOK_SECRET = 'whsec_fake';

export const TOKENS = {
  alice: 'alice-token-0123456789abcdef',
  bob: 'bob-token-0123456789abcdef00',
  admin: 'admin-token-0123456789abcdef',
} as const;

/** sha256 hex of each token, precomputed so the config stays plain data. */
export const TOKEN_SHA256 = {
  alice: '380b4b4121ca83f5367b54432e63220108395d27fbac45559096b42ca5ce8fe3',
  bob: 'a7a62952a978da25efa391ca669889256e47239acc6eb52cbf5b3c9cf32ccd42',
  admin: 'b82c960b03eefe922830902342744b424aa2c080c8a8d4db775d181949549a6c',
};

export const TEST_MODELS = {
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
    model_id: 'llm001', environment: 'production', timeout_ms: 1000, max_body_bytes: 4096,
    openai: { served_model_name: 'Qwen/Qwen2.5-3B-Instruct' },
  },
  asyncmodel: { model_id: 'abc123', environment: 'production', async: true },
  asyncchain: { chain_id: 'xyz789', environment: 'production', async: true },
};

/** What the fake's OpenAI-compatible engines answer to, by model id. */
export const TEST_SERVED_NAMES = { llm001: 'Qwen/Qwen2.5-3B-Instruct' };

export const TEST_CLIENTS = {
  alice: { token_sha256: TOKEN_SHA256.alice, models: ['*'] },
  bob: { token_sha256: TOKEN_SHA256.bob, models: ['echo', 'staging'] },
  admin: { token_sha256: TOKEN_SHA256.admin, models: ['*'], admin: true },
};

export const TEST_ORIGINS = ['https://app.example.com'];

declare module 'vitest' {
  export interface ProvidedContext {
    /** Origin of the fake Baseten that the workerd tests' gateway calls. */
    fakeBasetenUrl: string;
  }
}
