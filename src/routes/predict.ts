/** POST /v1/models/{alias}/predict: the target's /predict (chains: /run_remote), streamed back. */
import { authorizeModel } from '../auth.ts';
import { bodyKind, cappedStream, readJson } from '../body.ts';
import type { ModelConfig } from '../config.ts';
import { caller, config, type GatewayRequest } from '../context.ts';
import { HttpError } from '../errors.ts';
import { relay, upstreamFailure } from '../streaming.ts';
import { callUpstream, signedRequest, targetUrl, type Action } from '../upstream.ts';

export async function predict(request: GatewayRequest): Promise<Response> {
  const model = modelFor(request);
  const kind = bodyKind(request);
  if (kind === 'json') {
    const { bytes } = await readJson(request, model.maxBodyBytes);
    return forward(request, model, bytes, 'application/json');
  }
  const stream = cappedStream(request, model.maxBodyBytes);
  try {
    return await forward(request, model, stream.body, 'application/octet-stream');
  } catch (err) {
    if (stream.exceeded()) throw new HttpError('payload_too_large', `request body is larger than ${model.maxBodyBytes} bytes`);
    throw err;
  }
}

/** The alias from the path, checked against what this caller may use. */
export function modelFor(request: GatewayRequest): ModelConfig {
  const alias = String(request.params.alias);
  const model = authorizeModel(caller(request), config(request), alias);
  request.state.alias = model.alias;
  return model;
}

async function forward(request: GatewayRequest, model: ModelConfig, body: BodyInit | null, contentType: string): Promise<Response> {
  return relay(await postToTarget(request, model, 'predict', body, contentType));
}

/** POSTs the body to one of the target's actions; a non-2xx answer becomes the contract's error. */
export async function postToTarget(request: GatewayRequest, model: ModelConfig, action: Action, body: BodyInit | null, contentType: string): Promise<Response> {
  const cfg = config(request);
  const upstreamRequest = signedRequest(cfg, targetUrl(cfg, model.target, action), {
    method: 'POST',
    requestId: request.state.requestId,
    body,
    callerHeaders: request.headers,
    contentType,
  });
  const upstream = await callUpstream(upstreamRequest, { timeoutMs: model.timeoutMs, callerSignal: request.signal });
  request.state.upstreamStatus = upstream.status;
  if (!upstream.ok) throw await upstreamFailure(upstream, model);
  return upstream;
}
