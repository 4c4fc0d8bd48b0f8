/** GET /v1/usage: the caller's own figures, and nobody else's. */
import { caller, type GatewayRequest } from '../context.ts';
import { json } from '../responses.ts';
import { daysAsked, usageOf } from '../usage-report.ts';

export async function ownUsage(request: GatewayRequest, env: Env): Promise<Response> {
  const who = caller(request);
  return json(await usageOf(env, who.name, who.meterKey, daysAsked(request.query)));
}
