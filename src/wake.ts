/**
 * Waking a scaled-to-zero deployment: one service used by the admin route and
 * by the cron, which calls it directly (no HTTP request to itself).
 */

import { type BasetenCall, callBaseten, WAKE_TIMEOUT_MS } from './baseten.ts';
import { type Config, ConfigError, type ConfigSource, loadConfig, type ModelConfig } from './config.ts';
import { HttpError } from './errors.ts';

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
      result.status === 'fulfilled' ? { alias, ok: true, status: result.value } : { alias, ok: false, error: describe(result.reason) };
    const line = JSON.stringify({ event: 'wake', request_id: requestId, ...outcome });
    if (outcome.ok) console.log(line);
    else console.error(line);
    return outcome;
  });
}

/** Only the gateway's own errors (public, IDs scrubbed) are quoted. */
function describe(reason: unknown): string {
  return reason instanceof HttpError ? `${reason.type}: ${reason.message}` : 'internal error';
}

/** The cron trigger: wakes the `wake` aliases. Its upstream requests carry `cron-<scheduled time>` as their request id. */
export async function scheduledWake(controller: ScheduledController, env: Env): Promise<void> {
  const requestId = `cron-${controller.scheduledTime}`;
  let config: Config;
  try {
    config = loadConfig(env as ConfigSource);
  } catch (err) {
    // A config error names the field, never a secret; anything else is not quoted.
    const error = err instanceof ConfigError ? `gateway configuration error: ${err.message}` : 'internal error';
    console.error(JSON.stringify({ event: 'wake', request_id: requestId, ok: false, error }));
    return;
  }
  await wakeAll(config, requestId);
}
