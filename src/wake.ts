/**
 * Waking a scaled-to-zero deployment: one service used by the admin route and
 * by the cron, which calls it directly (no HTTP request to itself).
 */

import { type BasetenCall, callBaseten, WAKE_TIMEOUT_MS } from './baseten.ts';
import type { Config, ModelConfig } from './config.ts';
import { publicReason } from './errors.ts';

/** POSTs the target's wake endpoint and returns Baseten's status; throws the contract's error (IDs scrubbed) when Baseten refuses. */
export async function wakeModel(config: Config, model: ModelConfig, call: Pick<BasetenCall, 'requestId' | 'signal' | 'onStatus'>): Promise<number> {
  const upstream = await callBaseten(config, model, { action: 'wake' }, { ...call, timeoutMs: Math.min(WAKE_TIMEOUT_MS, model.timeoutMs) });
  // Baseten's body is `{}`: nothing to pass on.
  await upstream.body?.cancel();
  return upstream.status;
}

export interface WakeOutcome {
  alias: string;
  ok: boolean;
  /** Baseten's status, when it accepted. */
  status?: number;
  /** The failure's type and public message (Baseten's status is in the message). */
  error?: string;
}

/** Wakes every alias marked `wake`, all at once; one failure does not stop the others. Each outcome is logged as a JSON line. */
export async function wakeAll(config: Config, requestId: string): Promise<WakeOutcome[]> {
  const models = [...config.models.values()].filter((model) => model.wake);
  const settled = await Promise.allSettled(models.map((model) => wakeModel(config, model, { requestId })));
  return settled.map((result, i) => {
    const alias = models[i]!.alias;
    const outcome: WakeOutcome =
      result.status === 'fulfilled' ? { alias, ok: true, status: result.value } : { alias, ok: false, error: publicReason(result.reason) };
    const line = JSON.stringify({ event: 'wake', request_id: requestId, ...outcome });
    if (outcome.ok) console.log(line);
    else console.error(line);
    return outcome;
  });
}
