/** Aliases for WebSockets, Model APIs and regional environments (merged into TEST_MODELS). */
const AMPLE_BREAKER = { failures: 1000, window_seconds: 30, cooldown_seconds: 30 };

export const REALTIME_MODELS = {
  voice: { model_id: 'voc001', environment: 'production', websocket: true },
  'voice-pinned': { model_id: 'voc001', deployment_id: 'v1d2e3', websocket: true },
  'voice-draft': { model_id: 'voc002', development: true, websocket: true },
  'voice-regional': { model_id: 'voc001', environment: 'eu-west', regional: true, websocket: true },
  'voice-chain': { chain_id: 'vch001', environment: 'production', websocket: true },
  deepseek: { model_api: 'deepseek-ai/DeepSeek-V3.1' },
  regional: { model_id: 'reg001', environment: 'staging', regional: true, async: true, sync_routes: ['/health'] },
  'regional-chain': { chain_id: 'rch001', environment: 'staging', regional: true },
  /** A dedicated engine falling back to a Model API, and the reverse. */
  'llm-to-api': {
    model_id: 'rfa001',
    environment: 'production',
    openai: { served_model_name: 'org/rt-llm' },
    fallbacks: [{ model_api: 'deepseek-ai/DeepSeek-V3.1' }] as Record<string, string>[],
    breaker: AMPLE_BREAKER,
  },
  'api-to-llm': {
    model_api: 'deepseek-ai/DeepSeek-V3.1',
    openai: { served_model_name: 'org/rt-llm' },
    fallbacks: [{ model_id: 'rfa002', environment: 'production' }] as Record<string, string>[],
    breaker: AMPLE_BREAKER,
  },
};
