/**
 * POST /v1/webhooks/baseten: Baseten's async result delivery. The signature
 * is checked over the raw bytes before anything is parsed; the result is
 * written to KV before the 200, so that a failed write is a 503 and Baseten
 * retries (it retries once, ~2 s later, on 500/502/503/504). A delivery for
 * an id with no record yet is stored too: KV takes up to 60 s to show a record
 * written at another Cloudflare location, and a 404 would lose the output.
 */
import { resultOf } from '../async-status.ts';
import { AsyncStore, dueKey } from '../async-store.ts';
import { readCapped } from '../body.ts';
import { config, type GatewayRequest } from '../context.ts';
import { type ErrorType, HttpError } from '../errors.ts';
import { json } from '../responses.ts';
import { sameTarget, verifyWebhook, type WebhookVerdict } from '../webhook-verify.ts';

/** Below KV's 25 MiB value limit, with room for the record around the output. */
const WEBHOOK_MAX_BODY_BYTES = 20 * 1024 * 1024;

const REFUSALS: Record<Exclude<WebhookVerdict, { ok: true }>['reason'], [ErrorType, string]> = {
  not_configured: ['service_unavailable', 'webhooks are refused: no webhook secret is configured'],
  unsigned: ['unauthorized', 'missing X-BASETEN-SIGNATURE'],
  forged: ['unauthorized', 'X-BASETEN-SIGNATURE does not match'],
  malformed: ['invalid_request', 'not an async result delivery'],
  // A replay of an old, genuinely signed delivery lands here.
  stale: ['unauthorized', 'delivery time is more than 300 s from now'],
};

export async function basetenWebhook(request: GatewayRequest, env: Env, ctx: ExecutionContext): Promise<Response> {
  const cfg = config(request);
  const body = await readCapped(request, WEBHOOK_MAX_BODY_BYTES);
  const verdict = await verifyWebhook({ body, signature: request.headers.get('x-baseten-signature'), secrets: cfg.webhookSecrets, nowMs: Date.now() });
  if (!verdict.ok) throw new HttpError(...REFUSALS[verdict.reason]);
  const { payload } = verdict;

  const store = new AsyncStore(env.ASYNC_REQUESTS);
  const [record, stored] = await Promise.all([store.record(payload.request_id), store.result(payload.request_id)]);
  if (record && !sameTarget(payload, record.target)) throw new HttpError('invalid_request', 'the delivery names another model than the request was sent to');
  if (record) request.state.alias = record.alias;
  // A repeated delivery changes nothing: the first stored result stands. With no record here yet (written at
  // another location moments ago), the result is kept all the same and joined when the record is read.
  if (!stored) await store.saveResult(resultOf(payload), cfg.settings.asyncTtlSeconds);
  // The cron need not ask about it any more; an entry left behind is dropped by the cron itself.
  if (record?.reconcile_at !== undefined) ctx.waitUntil(store.dropDue(dueKey(record.reconcile_at, record.request_id)).catch(() => {}));
  return json({ received: true });
}
