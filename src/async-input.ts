/**
 * The async submit body: checked against Baseten's documented fields and
 * ranges at the edge, then forwarded as the caller's own bytes with the
 * gateway's webhook_endpoint added.
 */
import { isObject } from './body.ts';
import { HttpError } from './errors.ts';

/** Baseten's default max_time_in_queue_seconds. */
export const DEFAULT_MAX_QUEUE_SECONDS = 600;

const FIELDS = new Set(['model_input', 'priority', 'max_time_in_queue_seconds', 'inference_retry_config']);
/** A Map, so that a caller's key such as "constructor" or "__proto__" finds nothing inherited. */
const RETRY_RANGES: ReadonlyMap<string, [number, number]> = new Map([
  ['max_attempts', [1, 10]],
  ['initial_delay_ms', [0, 10_000]],
  ['max_delay_ms', [0, 60_000]],
]);

export interface AsyncSubmit {
  modelInput: unknown;
  maxQueueSeconds: number;
}

export function parseAsyncSubmit(value: unknown): AsyncSubmit {
  if (!isObject(value)) throw invalid('the body must be a JSON object with model_input');
  for (const key of Object.keys(value)) {
    // The gateway sets webhook_endpoint itself: results come back through it.
    if (key === 'webhook_endpoint') throw invalid('webhook_endpoint is set by the gateway; leave it out');
    if (!FIELDS.has(key)) throw invalid(`unknown field ${JSON.stringify(key.slice(0, 64))}`);
  }
  if (value.model_input === undefined) throw invalid('model_input is required');
  intIn(value.priority, 'priority', 0, 2);
  intIn(value.max_time_in_queue_seconds, 'max_time_in_queue_seconds', 10, 259_200);
  const retry = value.inference_retry_config;
  if (retry !== undefined) {
    if (!isObject(retry)) throw invalid('inference_retry_config must be an object');
    for (const [key, field] of Object.entries(retry)) {
      const range = RETRY_RANGES.get(key);
      if (!range) throw invalid(`unknown field inference_retry_config.${key.slice(0, 64)}`);
      intIn(field, `inference_retry_config.${key}`, range[0], range[1]);
    }
  }
  return {
    modelInput: value.model_input,
    maxQueueSeconds: typeof value.max_time_in_queue_seconds === 'number' ? value.max_time_in_queue_seconds : DEFAULT_MAX_QUEUE_SECONDS,
  };
}

/**
 * The caller's JSON object with `"webhook_endpoint": url` spliced in before
 * its closing brace. Splicing rather than re-serializing keeps model_input's
 * bytes exactly as sent (JSON.parse would round integers beyond 2^53). The
 * body was parsed as a non-empty object (model_input is required) and has no
 * webhook_endpoint, so the result is valid JSON with a single one.
 */
export function withWebhookEndpoint(text: string, url: string): Uint8Array {
  const close = text.lastIndexOf('}');
  return new TextEncoder().encode(`${text.slice(0, close)},"webhook_endpoint":${JSON.stringify(url)}${text.slice(close)}`);
}

function intIn(value: unknown, field: string, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${field} must be a whole number from ${min} to ${max}`);
  }
}

function invalid(message: string): HttpError {
  return new HttpError('invalid_request', message);
}
