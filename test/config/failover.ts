/**
 * Aliases with fallbacks for the fail-over tests. Each scenario has targets
 * of its own: breakers and wake times are kept per target in the isolate, so
 * a scenario that trips one must not pause another's.
 */
const AMPLE_BREAKER = { failures: 1000, window_seconds: 30, cooldown_seconds: 30 };

export const FAILOVER_MODELS = {
  /** Primary, a second model, a pinned deployment: the order the fake's log must show. */
  'fo-order': {
    model_id: 'foa001',
    environment: 'production',
    timeout_ms: 1000,
    fallbacks: [
      { model_id: 'foa002', environment: 'production' },
      { model_id: 'foa003', deployment_id: 'fod3' },
    ] as Record<string, string>[],
    breaker: AMPLE_BREAKER,
  },
  /** Two failures open the primary's breaker, for a second. */
  'fo-breaker': {
    model_id: 'fob001',
    environment: 'production',
    fallbacks: [{ model_id: 'fob002', environment: 'production' }],
    breaker: { failures: 2, window_seconds: 30, cooldown_seconds: 1 },
  },
  'fo-cold': { model_id: 'foc001', environment: 'production', fallbacks: [{ model_id: 'foc002', environment: 'production' }], breaker: AMPLE_BREAKER },
  'fo-down': { model_id: 'fod001', environment: 'production', fallbacks: [{ chain_id: 'fod002', environment: 'production' }], breaker: AMPLE_BREAKER },
  'fo-llm': {
    model_id: 'fol001',
    environment: 'production',
    openai: { served_model_name: 'org/fo-llm' },
    fallbacks: [{ model_id: 'fol002', environment: 'production' }],
    breaker: AMPLE_BREAKER,
  },
  'fo-sync': {
    model_id: 'fos001',
    environment: 'production',
    sync_routes: ['/items/*'],
    fallbacks: [{ model_id: 'fos002', environment: 'production' }],
    breaker: AMPLE_BREAKER,
  },
  'fo-async': {
    model_id: 'foy001',
    environment: 'production',
    async: true,
    fallbacks: [{ model_id: 'foy002', environment: 'staging' }],
    breaker: AMPLE_BREAKER,
  },
  /** Defaults throughout: the contract's breaker. */
  'fo-default': { model_id: 'foz001', environment: 'production', fallbacks: [{ model_id: 'foz002', environment: 'production' }] },
};
