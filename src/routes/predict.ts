/** POST /v1/models/{alias}/predict: the target's /predict (chains: /run_remote), streamed back. */
import { authorizeModel } from '../auth.ts';
import { bodyKind, cappedStream, readJson } from '../body.ts';
import type { ModelConfig } from '../config.ts';
import { caller, config, type GatewayRequest } from '../context.ts';
import { HttpError } from '../errors.ts';
import { validateInput } from '../input-schema.ts';
import { relay, upstreamFailure } from '../streaming.ts';
import { callUpstream, signedRequest, targetUrl } from '../upstream.ts';

export async function predict(request: GatewayRequest): Promise<Response> {
  const model = modelFor(request);
  const kind = bodyKind(request);
  if (kind === 'json') {
    const { bytes, value } = await readJson(request, model.maxBodyBytes);
    validateInput(model, value);
    return forward(request, model, bytes, 'application/json');
  }
  // Binary input cannot be checked against a schema, so it would bypass it.
  if (model.inputSchema) throw new HttpError('unsupported_media_type', `model "${model.alias}" takes JSON input checked against its input schema`);
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
  const upstream = await callPredict(request, model, { body, contentType, timeoutMs: model.timeoutMs, signal: request.signal });
  request.state.upstreamStatus = upstream.status;
  if (!upstream.ok) throw await upstreamFailure(upstream, model);
  return relay(upstream);
}

export interface PredictCall {
  body: BodyInit | null;
  contentType: string;
  /** Time allowed until Baseten's response headers. */
  timeoutMs: number;
  /** Aborts the call, body included: the caller's disconnect, or a batch's deadline. */
  signal: AbortSignal;
}

/** One signed call to the target's predict endpoint, on behalf of this request; Baseten's answer as it came. */
export function callPredict(request: GatewayRequest, model: ModelConfig, call: PredictCall): Promise<Response> {
  const cfg = config(request);
  const upstreamRequest = signedRequest(cfg, targetUrl(cfg, model.target, 'predict'), {
    method: 'POST',
    requestId: request.state.requestId,
    body: call.body,
    callerHeaders: request.headers,
    contentType: call.contentType,
  });
  return callUpstream(upstreamRequest, { timeoutMs: call.timeoutMs, callerSignal: call.signal });
}
