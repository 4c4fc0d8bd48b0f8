/**
 * IDEMPOTENCY: one Durable Object per (caller, Idempotency-Key). A Durable
 * Object runs one event at a time and holds input while it reads and writes
 * its storage, so two submits racing with the same key cannot both claim it,
 * wherever on Cloudflare they land; KV, eventually consistent, could not say
 * that. The object keeps the first answer for 24 hours, then an alarm
 * deletes everything it holds.
 */
import { DurableObject } from 'cloudflare:workers';

/** The contract's window: the same key within 24 h gets the first answer. */
const KEEP_MS = 24 * 3600 * 1000;
const ENTRY = 'entry';
const IN_FLIGHT_RETRY_SECONDS = 1;

/** What a replay sends again: the first answer's status, body and Location. */
export interface StoredAnswer {
  status: number;
  body: string;
  location: string;
}

/** The answer to a claim, for the submit to act on. */
export type ClaimOutcome =
  | { kind: 'claimed' }
  | { kind: 'replay'; answer: StoredAnswer }
  | { kind: 'in_flight'; retryAfterSeconds: number }
  | { kind: 'mismatch' };

type Entry =
  | { state: 'pending'; fingerprint: string; claimedMs: number; leaseMs: number }
  | { state: 'done'; fingerprint: string; claimedMs: number; answer: StoredAnswer };

export class IdempotencyClaim extends DurableObject<Env> {
  /**
   * Claims the key for a body (its fingerprint), or says why not: the answer
   * to replay, a different body, or a first request still in flight. A
   * pending claim older than its lease (the gateway died mid-call) is taken over.
   */
  async claim(fingerprint: string, leaseMs: number): Promise<ClaimOutcome> {
    const nowMs = Date.now();
    const entry = await this.#entry(nowMs);
    if (entry && entry.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (entry?.state === 'done') return { kind: 'replay', answer: entry.answer };
    // A submit is answered within seconds (Baseten queues at once): ask the duplicate back soon, not at the lease's end.
    if (entry && nowMs - entry.claimedMs < entry.leaseMs) return { kind: 'in_flight', retryAfterSeconds: IN_FLIGHT_RETRY_SECONDS };
    await this.ctx.storage.put<Entry>(ENTRY, { state: 'pending', fingerprint, claimedMs: nowMs, leaseMs });
    await this.ctx.storage.setAlarm(nowMs + KEEP_MS);
    return { kind: 'claimed' };
  }

  /** Keeps the answer for the rest of the 24 hours. */
  async complete(fingerprint: string, answer: StoredAnswer): Promise<void> {
    const entry = await this.#entry(Date.now());
    if (entry?.state !== 'pending' || entry.fingerprint !== fingerprint) return;
    await this.ctx.storage.put<Entry>(ENTRY, { state: 'done', fingerprint, claimedMs: entry.claimedMs, answer });
  }

  /** Frees the key when the first request did not start work upstream, so that a retry may. */
  async release(fingerprint: string): Promise<void> {
    const entry = await this.#entry(Date.now());
    if (entry?.state === 'pending' && entry.fingerprint === fingerprint) await this.ctx.storage.delete(ENTRY);
  }

  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }

  /** The entry, unless its 24 hours are over (an alarm that has not run yet). */
  async #entry(nowMs: number): Promise<Entry | undefined> {
    const entry = await this.ctx.storage.get<Entry>(ENTRY);
    return entry && nowMs - entry.claimedMs < KEEP_MS ? entry : undefined;
  }
}
