/** POST /v1/models/{alias}/predict: the target's /predict (chains: /run_remote), streamed back. */
import { modelFor } from '../access.ts';
import { callBaseten } from '../baseten.ts';
import { binaryBody, bodyKind, readJson } from '../body.ts';
import { answered, withCache } from '../cache.ts';
import type { ModelConfig } from '../config.ts';
import { config, type GatewayRequest, onBehalfOf } from '../context.ts';
import { HttpError } from '../errors.ts';
import { replayBufferBytes } from '../failover.ts';
import { validateInput } from '../input-schema.ts';
import { relay } from '../responses.ts';

export async function predict(request: GatewayRequest, _env: Env, ctx: ExecutionContext): Promise<Response> {
  const model = modelFor(request);
  const kind = bodyKind(request);
  if (kind === 'json') {
    const { bytes, value } = await readJson(request, model.maxBodyBytes);
    validateInput(model, value);
    return withCache(request, ctx, model, { route: 'predict', body: bytes }, async () => {
      const upstream = await postPredict(request, model, bytes, 'application/json');
      return answered(upstream, relay(upstream));
    });
  }
  // Binary and multipart input stream through unread, so they are never cached; nor can they be checked against a schema, which they would bypass.
  if (model.inputSchema) throw new HttpError('unsupported_media_type', `model "${model.alias}" takes JSON input checked against its input schema`);
  const body = await binaryBody(request, model.maxBodyBytes, replayBufferBytes(model));
  // A form's parts are found by its boundary: the caller's Content-Type goes upstream whole.
  const contentType = kind === 'multipart' ? request.headers.get('content-type')! : 'application/octet-stream';
  return relay(await postPredict(request, model, body, contentType));
}

function postPredict(request: GatewayRequest, model: ModelConfig, body: BodyInit | null, contentType: string): Promise<Response> {
  return callBaseten(
    config(request),
    model,
    { action: 'predict' },
    {
      ...onBehalfOf(request),
      body,
      contentType,
      callerHeaders: request.headers,
      timeoutMs: model.timeoutMs,
    },
  );
}
