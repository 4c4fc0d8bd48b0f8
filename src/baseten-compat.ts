/**
 * Baseten's paths served by the gateway's own handlers: the wrapper that
 * checks a path's environment or deployment segment, and Baseten's field
 * names on async answers, as pure views over the gateway's own answer (the
 * alias in `model_id` and `deployment_id`, never Baseten's IDs).
 */
import type { AsyncStatus, StatusView } from './async-status.ts';
import { wellFormedSegments } from './baseten-paths.ts';
import { HttpError } from './errors.ts';
import { json } from './responses.ts';
import type { Handler } from './route-spec.ts';

/** The gateway's handler, once the path's environment or deployment segment is known to be well-formed. */
export function inDeployment(handler: Handler): Handler {
  return (request, env, ctx) => {
    if (!wellFormedSegments(request.params)) throw new HttpError('not_found', 'no such route: malformed environment name or deployment id');
    return handler(request, env, ctx);
  };
}

/** The gateway's handler with its JSON answer shown in Baseten's field names; errors stay the gateway's. */
export function withBasetenFields<T>(handler: Handler, view: (answer: T) => unknown): Handler {
  return async (request, env, ctx) => {
    const answer = await handler(request, env, ctx);
    const shown = json(view((await answer.json()) as T), answer.status);
    // The handler's own headers (retry-after, idempotent-replayed, location) belong to this answer too; only the body changed.
    answer.headers.forEach((value, name) => {
      if (name !== 'content-length') shown.headers.set(name, value);
    });
    return shown;
  };
}

interface Accepted {
  request_id: string;
  owner_token?: string;
}

/** Submit: Baseten answers `{"request_id"}`; an anonymous caller also needs its owner token to read the request. */
export function basetenAccepted(answer: Accepted): Accepted {
  return { request_id: answer.request_id, ...(answer.owner_token ? { owner_token: answer.owner_token } : {}) };
}

/** Baseten's webhook_status, for when the gateway answers from what it holds rather than from Baseten's own status. */
const WEBHOOK_STATUS: Record<AsyncStatus, string> = {
  QUEUED: 'PENDING',
  IN_PROGRESS: 'PENDING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'SUCCEEDED',
  WEBHOOK_FAILED: 'FAILED',
  CANCELED: 'CANCELED',
  EXPIRED: 'CANCELED',
};

export interface BasetenStatusView {
  request_id: string;
  model_id: string;
  deployment_id: string;
  status: AsyncStatus;
  webhook_status: string;
  created_at: string;
  status_at: string;
  errors: StatusView['errors'];
}

/** Status: Baseten's fields, the alias standing in for both IDs. */
export function basetenStatus(view: StatusView): BasetenStatusView {
  // A result the gateway holds (final) came by webhook; until then the webhook is still to come.
  const webhookStatus = view.webhook_status ?? (view.final || !isDone(view.status) ? WEBHOOK_STATUS[view.status] : 'PENDING');
  return {
    request_id: view.request_id,
    model_id: view.model,
    deployment_id: view.model,
    status: view.status,
    webhook_status: webhookStatus,
    created_at: view.created_at,
    status_at: view.status_at,
    errors: view.errors,
  };
}

function isDone(status: AsyncStatus): boolean {
  return status === 'SUCCEEDED' || status === 'FAILED';
}

interface Cancel {
  request_id: string;
  canceled: boolean;
  message: string;
}

/** Cancel: Baseten's `{request_id, canceled, message}`. */
export function basetenCancel(answer: Cancel): Cancel {
  return { request_id: answer.request_id, canceled: answer.canceled, message: answer.message };
}

interface Queue {
  model: string;
  num_queued_requests: number;
  num_in_progress_requests: number;
}

/** Queue status: Baseten's fields, the alias standing in for both IDs. */
export function basetenQueue(answer: Queue) {
  return {
    model_id: answer.model,
    deployment_id: answer.model,
    num_queued_requests: answer.num_queued_requests,
    num_in_progress_requests: answer.num_in_progress_requests,
  };
}
