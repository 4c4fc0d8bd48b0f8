/** POST /v1/models/{alias}/predict: the target's /predict (chains: /run_remote), streamed back. */
import { modelFor } from '../access.ts';
import { callBaseten } from '../baseten.ts';
import { binaryBody, bodyKind, readJson } from '../body.ts';
import { answered, withCache } from '../cache.ts';
import type { ModelConfig } from '../config.ts';
import { config, onBehalfOf, type GatewayRequest } from '../context.ts';
import { HttpError } from '../errors.ts';
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
  // Binary input streams through unread, so it is never cached; nor can it be checked against a schema, which it would bypass.
  if (model.inputSchema) throw new HttpError('unsupported_media_type', `model "${model.alias}" takes JSON input checked against its input schema`);
  return relay(await postPredict(request, model, await binaryBody(request, model.maxBodyBytes), 'application/octet-stream'));
}

function postPredict(request: GatewayRequest, model: ModelConfig, body: BodyInit | null, contentType: string): Promise<Response> {
  return callBaseten(config(request), model, { action: 'predict' }, {
    ...onBehalfOf(request), body, contentType, callerHeaders: request.headers, timeoutMs: model.timeoutMs,
  });
}
