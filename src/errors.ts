import { redact } from './redact.ts';
import { KEEP_LENGTH } from './responses.ts';

/** The contract's error types and the HTTP status each one carries. */
export const ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  rate_limited: 429,
  quota_exceeded: 429,
  internal: 500,
  upstream_error: 502,
  service_unavailable: 503,
  upstream_timeout: 504,
} as const;

export type ErrorType = keyof typeof ERROR_STATUS;

/** What a log line may quote of a failure: the gateway's own errors are public (IDs scrubbed, secrets cut); anything else is not. */
export function publicReason(err: unknown): string {
  return err instanceof HttpError ? `${err.type}: ${err.message}` : 'internal error';
}

/**
 * The one error the gateway throws on purpose. Its message is public: it goes
 * to the caller as is, so it must never hold a secret or a Baseten ID.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly headers: Record<string, string>;
  /** Extra public fields for the error object (never type, message or request_id), e.g. the id of work that did start upstream, Baseten's status. */
  readonly details: Record<string, string | number>;

  constructor(type: ErrorType, message: string, headers: Record<string, string> = {}, details: Record<string, string | number> = {}) {
    super(message);
    this.type = type;
    this.status = ERROR_STATUS[type];
    this.headers = headers;
    this.details = details;
  }
}

/**
 * Renders any thrown value as the contract's envelope; unknown errors say
 * nothing internal. Every known secret is cut from the message whatever its
 * source, so an upstream error that quotes the key cannot carry it to a caller.
 */
export function errorResponse(err: unknown, requestId: string): Response {
  const known = err instanceof HttpError ? err : new HttpError('internal', 'internal error');
  const body = { error: { type: known.type, message: redact(known.message), request_id: requestId, ...known.details } };
  return new Response(JSON.stringify(body), {
    status: known.status,
    headers: { 'content-type': 'application/json', ...KEEP_LENGTH, ...known.headers },
  });
}
