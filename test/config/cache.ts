/** Aliases and clients of the response cache's tests (docs/cache.md). */

const CACHE = { ttl_seconds: 600 };
const LLM = { model_id: 'llm001', environment: 'production', openai: { served_model_name: 'Qwen/Qwen2.5-3B-Instruct' } };

export const CACHE_MODELS = {
  /** Per client; streams not stored. */
  cached: { model_id: 'abc123', environment: 'production', cache: CACHE },
  /** The same target under another alias: never shares an entry with `cached`. */
  'cached-twin': { model_id: 'abc123', environment: 'production', cache: CACHE },
  'cached-shared': { model_id: 'abc123', environment: 'production', cache: { ...CACHE, shared: true } },
  'cached-streams': { model_id: 'abc123', environment: 'production', cache: { ...CACHE, streams: true } },
  'cached-llm': { ...LLM, cache: { ...CACHE, streams: true } },
  'cached-llm-json': { ...LLM, cache: CACHE },
};

export const CACHE_TOKENS = {
  /** On the RATE_LIMITER_STRICT tier (5 a minute); may use the cached alias. */
  'cache-limited': 'cache-limited-token-0123456789ab',
};

/** Bound where wrangler.toml's rate limiting bindings exist (the workerd tests). */
export const CACHE_RATE_LIMIT_CLIENTS = {
  'cache-limited': {
    token_sha256: 'fe069d570c8bacd5ccd4e8edfc2bd99e58a8a7d21e2ee784110a60a0f16d21f7',
    models: ['cached'],
    rate_limit: 'RATE_LIMITER_STRICT',
  },
};
