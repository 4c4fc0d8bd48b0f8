/**
 * The scheduled handler: the config loaded once, then the wake of `wake`
 * aliases and the reconciliation of async requests side by side, so one
 * failing does not stop the other. Their Baseten calls carry
 * `cron-<scheduled time>` as their request id.
 */
import { reconcileRun } from './async-reconcile.ts';
import { type Config, ConfigError, type ConfigSource, loadConfig } from './config.ts';
import { wakeAll } from './wake.ts';

export async function scheduled(controller: ScheduledController, env: Env): Promise<void> {
  const requestId = `cron-${controller.scheduledTime}`;
  let config: Config;
  try {
    config = loadConfig(env as ConfigSource);
  } catch (err) {
    // A config error names the field, never a secret; anything else is not quoted.
    const error = err instanceof ConfigError ? `gateway configuration error: ${err.message}` : 'internal error';
    console.error(JSON.stringify({ event: 'scheduled', request_id: requestId, ok: false, error }));
    return;
  }
  await Promise.allSettled([wakeAll(config, requestId), reconcileRun(config, env.ASYNC_REQUESTS, requestId)]);
}
