/**
 * The itty router generated from the route table: each entry's path and
 * method, its access middleware, its handler; then one catch-all that
 * answers 405 with Allow when the path exists under other methods, else 404.
 */
import { Router } from 'itty-router';
import { withAccess } from './access.ts';
import { begin, finish, type GatewayRequest, type HandlerArgs, renderError } from './context.ts';
import { HttpError } from './errors.ts';
import { type RouteSpec, routePaths } from './route-spec.ts';

export function routerFor(routes: readonly RouteSpec[]) {
  const router = Router<GatewayRequest, HandlerArgs>({ before: [begin], catch: renderError, finally: [finish] });
  for (const route of routes) {
    const access = withAccess(route.access, route.metered ?? true);
    for (const [, path] of routePaths(route)) router[route.method](routerPath(path), ...(access ? [access] : []), route.handler);
  }
  router.all('*', (request: GatewayRequest) => noRoute(methodsFor(router.routes, new URL(request.url).pathname)));
  return router;
}

/** An itty path from an OpenAPI template: "{alias}" → ":alias", a trailing "{route}" → "*" (any number of segments). */
export function routerPath(template: string): string {
  return template.replace(/\/\{route\}$/, '/*').replace(/\{(\w+)\}/g, ':$1');
}

/** Methods of the routes whose path matches, for 405's Allow header. */
function methodsFor(routes: readonly [string, RegExp, ...unknown[]][], path: string): string[] {
  const methods = routes.filter(([method, pattern]) => method !== 'ALL' && pattern.test(path)).map(([method]) => method);
  return [...new Set(methods)];
}

function noRoute(allowed: string[]): never {
  if (allowed.length > 0) {
    throw new HttpError('method_not_allowed', `use ${allowed.join(', ')}`, { allow: allowed.join(', ') });
  }
  throw new HttpError('not_found', 'no such route');
}
