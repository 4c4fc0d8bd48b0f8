/**
 * `Idempotency-Key` on async submits: the caller's side of the claim held by
 * the IDEMPOTENCY Durable Object (idempotency-claim.ts). The key is scoped by
 * caller, and a body is known by the SHA-256 of its alias and raw bytes, so
 * a byte-identical retry replays the first answer and anything else with the
 * same key is a conflict.
 */
import type { Caller } from './auth.ts';
import { sha256 } from './crypto.ts';
import { HttpError } from './errors.ts';
import { bytesToHex } from './hex.ts';
import type { ClaimOutcome, IdempotencyClaim, StoredAnswer } from './idempotency-claim.ts';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
/** The contract's shape: 1-255 visible ASCII characters. Also published in OpenAPI, so no flags. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** A claimed key: the submit completes it with its answer, or releases it when no work started upstream. */
export interface Claim {
  complete(answer: StoredAnswer): Promise<void>;
  release(): Promise<void>;
}

/** The key the caller sent, checked; undefined when none was sent. */
export function idempotencyKeyOf(headers: Headers, caller: Caller): string | undefined {
  const key = headers.get(IDEMPOTENCY_HEADER);
  if (key === null) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) throw new HttpError('invalid_request', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
  // An anonymous caller has no identity to scope the key by, and the answer would hand its owner token to anyone sending the key.
  if (caller.anonymous) throw new HttpError('invalid_request', 'Idempotency-Key needs a client token');
  return key;
}

/**
 * Claims the key for this body, or answers for it: the first answer again
 * (a Response), or 409 conflict. `leaseMs` is how long the first request
 * may take before a retry may take the key over.
 */
export async function claimKey(
  namespace: DurableObjectNamespace<IdempotencyClaim>,
  scope: { owner: string; key: string; alias: string; body: string; leaseMs: number },
): Promise<Claim | Response> {
  const stub = namespace.get(namespace.idFromName(`${scope.owner}\n${scope.key}`));
  const fingerprint = bytesToHex(await sha256(`${scope.alias}\n${scope.body}`));
  const outcome = await guarded<ClaimOutcome>(async () => stub.claim(fingerprint, scope.leaseMs));
  switch (outcome.kind) {
    case 'claimed':
      return {
        complete: (answer) => guarded(() => stub.complete(fingerprint, answer)),
        release: () => guarded(() => stub.release(fingerprint)),
      };
    case 'replay':
      return replay(outcome.answer);
    case 'in_flight':
      throw new HttpError('conflict', 'a request with this Idempotency-Key is still in flight; retry after it has been answered', {
        'retry-after': String(outcome.retryAfterSeconds),
      });
    case 'mismatch':
      throw new HttpError('conflict', 'this Idempotency-Key was already used with a different request body or model');
  }
}

function replay(answer: StoredAnswer): Response {
  return new Response(answer.body, {
    status: answer.status,
    headers: { 'content-type': 'application/json', location: answer.location, [REPLAYED_HEADER]: 'true' },
  });
}

/** The object unreachable is a 503: without the claim the gateway cannot promise a single run. */
async function guarded<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', event: 'idempotency_failure', error: err instanceof Error ? err.message.slice(0, 200) : 'unknown' }));
    throw new HttpError('service_unavailable', 'the idempotency store is unavailable; try again shortly', { 'retry-after': '5' });
  }
}
