/**
 * Webhook delivery the way Baseten does it: compact JSON signed with every configured secret
 * (`X-BASETEN-SIGNATURE: v1=<hmac>,...`), two attempts at most, the second only after a 500, 502,
 * 503 or 504 answer, each attempt logged for tests. Only loopback receivers are contacted.
 */

import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { isNonNegative } from './request.mjs';

/** @typedef {import('./types.mjs').App} App */
/** @typedef {import('./types.mjs').AsyncRecord} AsyncRecord */
/** @typedef {import('./types.mjs').WebhookDelivery} WebhookDelivery */

/** Baseten gives each attempt 10 s. */
const WEBHOOK_TIMEOUT_MS = 10_000;
const WEBHOOK_RETRYABLE = new Set([500, 502, 503, 504]);

/**
 * Delivers the result like Baseten: signed compact JSON, one retry after ~2 s on a retryable
 * answer; with `deliver_twice`, the same bytes once more.
 * @param {App} app
 * @param {AsyncRecord} record
 * @param {AbortSignal} signal Aborted by reset() and close().
 * @returns {Promise<boolean>} Whether any attempt reached the receiver with a 2xx.
 */
export async function deliverWebhook(app, record, signal) {
  const { fake } = record;
  const sentAt = fake.stale ? new Date(Date.now() - 10 * 60 * 1000) : new Date();
  const body = JSON.stringify({
    request_id: record.request_id,
    [`${record.kind}_id`]: record.ownerId,
    deployment_id: record.deploymentId,
    type: 'async_request_completed',
    time: sentAt.toISOString(),
    data: record.data,
    errors: record.errors,
  });
  const secrets = fake.bad_signature ? app.config.webhookSecrets.map((_, i) => `whsec_wrong_${i}`) : app.config.webhookSecrets;
  const signature = secrets.length > 0 ? secrets.map((secret) => `v1=${hmacHex(secret, body)}`).join(',') : null;
  const url = /** @type {string} */ (record.webhook_endpoint);

  let delivered = await attemptWithRetry(app, record, url, body, signature, signal);
  // A duplicate delivery of the same bytes, to test that receivers are idempotent.
  if (fake.deliver_twice && !signal.aborted) {
    const again = await attemptWebhook(app, record, url, body, signature, 1, signal);
    delivered = delivered || again === 'ok';
  }
  return delivered;
}

/**
 * @param {App} app
 * @param {AsyncRecord} record
 * @param {string} url
 * @param {string} body
 * @param {string | null} signature
 * @param {AbortSignal} signal
 * @returns {Promise<boolean>}
 */
async function attemptWithRetry(app, record, url, body, signature, signal) {
  const first = await attemptWebhook(app, record, url, body, signature, 1, signal);
  if (first !== 'retry' || signal.aborted) return first === 'ok';
  const delayMs = isNonNegative(record.fake.webhook_retry_delay_ms) ? record.fake.webhook_retry_delay_ms : app.config.webhookRetryDelayMs;
  await app.later(delayMs * app.config.timeScale);
  if (signal.aborted) return false;
  return (await attemptWebhook(app, record, url, body, signature, 2, signal)) === 'ok';
}

/**
 * One POST to the receiver. Only loopback hosts are contacted: the fake never reaches out.
 * @param {App} app
 * @param {AsyncRecord} record
 * @param {string} url
 * @param {string} body
 * @param {string | null} signature
 * @param {number} attempt
 * @param {AbortSignal} signal
 * @returns {Promise<'ok' | 'retry' | 'fail'>}
 */
async function attemptWebhook(app, record, url, body, signature, attempt, signal) {
  /** @type {WebhookDelivery} */
  const delivery = { request_id: record.request_id, url, attempt, status: 'refused', body, signature, time: Date.now() };
  if (!isLoopbackUrl(url)) {
    delivery.error = 'not a loopback host; the fake only delivers locally';
    app.state.webhookDeliveries.push(delivery);
    return 'fail';
  }
  /** @type {Record<string, string>} */
  const headers = { 'content-type': 'application/json', 'x-baseten-request-id': record.request_id };
  if (signature) headers['x-baseten-signature'] = signature;
  try {
    const status = await postOnce(url, headers, body, WEBHOOK_TIMEOUT_MS * app.config.timeScale, signal);
    if (signal.aborted) return 'fail';
    delivery.status = status;
    app.state.webhookDeliveries.push(delivery);
    if (status >= 200 && status < 300) return 'ok';
    return WEBHOOK_RETRYABLE.has(status) ? 'retry' : 'fail';
  } catch (err) {
    if (signal.aborted) return 'fail';
    delivery.status = 'error';
    delivery.error = err instanceof Error ? err.message : String(err);
    app.state.webhookDeliveries.push(delivery);
    // Baseten documents retries for 500, 502, 503 and 504 answers only.
    return 'fail';
  }
}

/** @param {string} value */
export function isLoopbackUrl(value) {
  try {
    const { hostname } = new URL(value);
    return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
  } catch {
    return false;
  }
}

/**
 * @param {string} secret
 * @param {string} body
 */
function hmacHex(secret, body) {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(body, 'utf8').digest('hex');
}

/**
 * POSTs once and resolves with the status; the response body is ignored.
 * @param {string} url
 * @param {Record<string, string>} headers
 * @param {string} body
 * @param {number} timeoutMs
 * @param {AbortSignal} signal
 * @returns {Promise<number>}
 */
function postOnce(url, headers, body, timeoutMs, signal) {
  const payload = Buffer.from(body, 'utf8');
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(target, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(payload.length) },
      agent: false, // no keep-alive socket left behind to hold the process open
      signal,
      timeout: Math.max(1, timeoutMs),
      // Loopback receivers in development use self-signed certificates.
      rejectUnauthorized: false,
    });
    req.on('timeout', () => req.destroy(new Error(`webhook timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.end(payload);
  });
}
