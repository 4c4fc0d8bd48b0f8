/**
 * Aliases and clients of the hardening tests: an async alias with a short
 * timeout (a stalled submit answer), and clients on rate-limit tiers of their
 * own, so that the batch tests spend no other test's budget.
 */
export const HARDENING_TOKENS = {
  /** On RATE_LIMITER_STRICT (5 a minute, per location). */
  batcher: 'batcher-token-0123456789abcdef',
  /** On the strict global limit (3 an hour). */
  globalBatcher: 'global-batcher-token-0123456789ab',
} as const;

export const HARDENING_MODELS = {
  'quick-async': { model_id: 'abc123', environment: 'production', async: true, timeout_ms: 500 },
};

export const HARDENING_RATE_LIMIT_CLIENTS = {
  batcher: { token_sha256: 'b218a212562d5f39719862b24a3bbae7d3c1090444f6e8686290a5dfd45fdd42', models: ['echo'], rate_limit: 'RATE_LIMITER_STRICT' },
  'global-batcher': {
    token_sha256: 'bddedc3398dbc7c05611499193bf064c6cef9f9c1080e0c07ac8a7019e50c5e7',
    models: ['echo'],
    rate_limit: { limit: 3, period_seconds: 3600 },
  },
};
