/** POST /v1/models/{alias}/wake: admin clients wake the target's deployment ahead of traffic. */
import { requireAdmin } from '../auth.ts';
import { caller, config, type GatewayRequest } from '../context.ts';
import { wakeModel } from '../wake.ts';
import { json } from '../responses.ts';
import { modelFor } from './predict.ts';

export async function wake(request: GatewayRequest): Promise<Response> {
  // Admin first: a non-admin learns nothing about which aliases exist.
  requireAdmin(caller(request));
  const model = modelFor(request);
  request.state.upstreamStatus = await wakeModel(config(request), model, request.state.requestId, request.signal);
  return json({ alias: model.alias, status: 'waking' }, 202);
}
