/** POST /v1/models/{alias}/wake: admin clients (the route's access) wake the target's deployment ahead of traffic. */
import { modelFor } from '../access.ts';
import { config, type GatewayRequest, onBehalfOf } from '../context.ts';
import { json } from '../responses.ts';
import { wakeModel } from '../wake.ts';

export async function wake(request: GatewayRequest): Promise<Response> {
  const model = modelFor(request);
  await wakeModel(config(request), model, onBehalfOf(request));
  return json({ alias: model.alias, status: 'waking' }, 202);
}
