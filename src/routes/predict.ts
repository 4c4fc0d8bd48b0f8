/** POST /v1/models/{alias}/predict: the target's /predict (chains: /run_remote), streamed back. */
import { authorizeModel } from '../auth.ts';
import { binaryBody, bodyKind, readJson } from '../body.ts';
import type { ModelConfig } from '../config.ts';
import { caller, config, type GatewayRequest } from '../context.ts';
import { HttpError } from '../errors.ts';
import { validateInput } from '../input-schema.ts';
import { relay } from '../responses.ts';
import { upstreamFailure } from '../upstream-errors.ts';
import { callUpstream, signedRequest, targetUrl, type Action } from '../upstream.ts';

export async function predict(request: GatewayRequest): Promise<Response> {
  const model = modelFor(request);
  const kind = bodyKind(request);
  if (kind === 'json') {
    const { bytes, value } = await readJson(request, model.maxBodyBytes);
    validateInput(model, value);
    return relay(await postToTarget(request, model, 'predict', bytes, 'application/json'));
  }
  // Binary input cannot be checked against a schema, so it would bypass it.
  if (model.inputSchema) throw new HttpError('unsupported_media_type', `model "${model.alias}" takes JSON input checked against its input schema`);
  return relay(await postToTarget(request, model, 'predict', await binaryBody(request, model.maxBodyBytes), 'application/octet-stream'));
}

/** The alias from the path, checked against what this caller may use. */
export function modelFor(request: GatewayRequest): ModelConfig {
  const alias = String(request.params.alias);
  const model = authorizeModel(caller(request), config(request), alias);
  request.state.alias = model.alias;
  return model;
}

/** POSTs the body to one of the target's actions with the alias's timeout; a non-2xx answer becomes the contract's error. */
export async function postToTarget(request: GatewayRequest, model: ModelConfig, action: Action, body: BodyInit | null, contentType: string): Promise<Response> {
  const upstream = await callTarget(request, model, action, { body, contentType, timeoutMs: model.timeoutMs, signal: request.signal });
  request.state.upstreamStatus = upstream.status;
  if (!upstream.ok) throw await upstreamFailure(upstream, model);
  return upstream;
}

export interface TargetCall {
  body: BodyInit | null;
  contentType: string;
  /** Time allowed until Baseten's response headers. */
  timeoutMs: number;
  /** Aborts the call, body included: the caller's disconnect, or a batch's deadline. */
  signal: AbortSignal;
}

/** One signed POST to an action of the target, on behalf of this request; Baseten's answer as it came. */
export function callTarget(request: GatewayRequest, model: ModelConfig, action: Action, call: TargetCall): Promise<Response> {
  const cfg = config(request);
  const upstreamRequest = signedRequest(cfg, targetUrl(cfg, model.target, action), {
    method: 'POST',
    requestId: request.state.requestId,
    body: call.body,
    callerHeaders: request.headers,
    contentType: call.contentType,
  });
  return callUpstream(upstreamRequest, { timeoutMs: call.timeoutMs, callerSignal: call.signal });
}
