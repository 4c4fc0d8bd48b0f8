/**
 * The rules of fail-over, apart from the calls themselves (baseten.ts runs
 * the loop): which Baseten failures another target may cure, which mean "no
 * replica", each target's circuit breaker and the pace of its wake calls.
 * Breakers and wake times live in this isolate's memory (docs/failover.md
 * says why): nothing here costs a network hop.
 */
import type { BreakerOptions, Target } from './config.ts';
import type { UpstreamError } from './upstream-errors.ts';

/** What x-gateway-target says: the alias's own target, or its fallbacks counted from 1. */
export type TargetLabel = 'primary' | `fallback-${number}`;

export function targetLabel(index: number): TargetLabel {
  return index === 0 ? 'primary' : `fallback-${index}`;
}

export function labelIndex(label: TargetLabel): number {
  return label === 'primary' ? 0 : Number(label.slice('fallback-'.length));
}

/** 500s that are Baseten's routing layer speaking about the deployment, not the model's code. */
const FAIL_OVER_500_CODES = new Set(['model_not_ready', 'model_unavailable', 'internal_baseten_error']);
/** The caller's input or the model's own code: any target would answer the same. */
const NEVER_CODES = new Set(['application_error', 'client_error']);
const NO_REPLICA_CODES = new Set(['model_not_ready', 'model_unavailable']);

/** A Truss server's report that the model's own code raised (source 04, code 600). */
function modelCodeFailed(error: UpstreamError): boolean {
  return error.trussSource === '04' && error.trussCode === '600';
}

/** The contract's fail-over list: 502, 503, 504, 429, and 500 with a routing-layer code; never the model's or the caller's fault. */
export function worthFailingOver(error: UpstreamError): boolean {
  if (modelCodeFailed(error) || (error.code !== undefined && NEVER_CODES.has(error.code))) return false;
  if ([429, 502, 503, 504].includes(error.status)) return true;
  return error.status === 500 && error.code !== undefined && FAIL_OVER_500_CODES.has(error.code);
}

/** No replica to serve: the deployment is cold, rolling out or out of capacity, so a wake helps. */
export function meansNoReplica(error: UpstreamError): boolean {
  return error.status === 503 || (error.code !== undefined && NO_REPLICA_CODES.has(error.code));
}

/** One target's breaker: recent failures, and while open, when it may be probed again. */
interface BreakerState {
  failures: number[];
  /** Epoch ms the cooldown ends; 0 while closed. */
  openUntil: number;
  /** Epoch ms the probe after a cooldown was let through; 0 when none is out. */
  probeAt: number;
}

/** Breakers of this isolate, by target: the aliases that share a target share its breaker. */
const breakers = new Map<string, BreakerState>();

/** Targets are frozen config objects: each one's key is worked out once. */
const targetKeys = new WeakMap<Target, string>();

/** Every field of the target (a model's deployment, a chain, a Model API's slug), in the config's own order. */
export function targetKey(target: Target): string {
  let key = targetKeys.get(target);
  if (key === undefined) {
    key = JSON.stringify(target);
    targetKeys.set(target, key);
  }
  return key;
}

function stateOf(target: Target): BreakerState {
  const key = targetKey(target);
  let state = breakers.get(key);
  if (!state) {
    state = { failures: [], openUntil: 0, probeAt: 0 };
    breakers.set(key, state);
  }
  return state;
}

/**
 * Whether a call may go to the target now: always while closed; during the
 * cooldown never; after it, one probe at a time (a probe whose caller never
 * came back is given up after another cooldown).
 */
export function breakerAllows(target: Target, options: BreakerOptions, nowMs: number): boolean {
  const state = breakers.get(targetKey(target));
  if (!state || state.openUntil === 0) return true;
  if (nowMs < state.openUntil) return false;
  if (state.probeAt !== 0 && nowMs - state.probeAt < options.cooldownMs) return false;
  state.probeAt = nowMs;
  return true;
}

/** Seconds until the target's cooldown ends (0 when it may be called). */
export function breakerWaitSeconds(target: Target, nowMs: number): number {
  const state = breakers.get(targetKey(target));
  return state && state.openUntil > nowMs ? Math.ceil((state.openUntil - nowMs) / 1000) : 0;
}

/** The target answered (even with the caller's fault): it is up. */
export function breakerSuccess(target: Target): void {
  breakers.delete(targetKey(target));
}

/** A fail-over-worthy failure: enough of them within the window, or a failed probe, open the breaker. */
export function breakerFailure(target: Target, options: BreakerOptions, nowMs: number): void {
  const state = stateOf(target);
  const probing = state.probeAt !== 0;
  state.failures = state.failures.filter((at) => nowMs - at < options.windowMs);
  state.failures.push(nowMs);
  if (probing || state.failures.length >= options.failures) {
    state.openUntil = nowMs + options.cooldownMs;
    state.probeAt = 0;
    state.failures = [];
  }
}

/** A probe whose caller went away proved nothing: the next call may probe. */
export function breakerRelease(target: Target): void {
  const state = breakers.get(targetKey(target));
  if (state) state.probeAt = 0;
}

/** Baseten's wake is cheap but not free: at most one per target a minute, per isolate. */
const WAKE_INTERVAL_MS = 60_000;
const lastWakes = new Map<string, number>();

/** True (and the wake counted) when the target has not been woken within the last minute. */
export function takeWake(target: Target, nowMs: number): boolean {
  const key = targetKey(target);
  const last = lastWakes.get(key);
  if (last !== undefined && nowMs - last < WAKE_INTERVAL_MS) return false;
  lastWakes.set(key, nowMs);
  return true;
}

/**
 * Binary and multipart bodies up to this size are read into memory for an
 * alias with fallbacks, so another target can be sent the same bytes; a
 * larger one streams through to its first target only. A Worker has 128 MB.
 */
export const REPLAY_BUFFER_MAX_BYTES = 8 * 1024 * 1024;

/** How much of a streamed body the alias buffers to be able to send it again. */
export function replayBufferBytes(model: { fallbacks: readonly Target[] }): number {
  return model.fallbacks.length > 0 ? REPLAY_BUFFER_MAX_BYTES : 0;
}
