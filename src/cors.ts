/**
 * CORS for ALLOWED_ORIGINS: preflights answered for allowed origins, headers
 * added to their responses; any request from another origin is refused.
 */
import type { Config } from './config.ts';
import { HttpError } from './errors.ts';

const ALLOW_METHODS = 'GET, POST, PUT, PATCH, DELETE, OPTIONS';
// x-async-owner-token: how an anonymous browser caller proves it owns an async request.
const ALLOW_HEADERS = 'authorization, content-type, x-request-id, accept, x-async-owner-token';
const EXPOSE_HEADERS = 'x-request-id, retry-after, content-type';
const PREFLIGHT_MAX_AGE_SECONDS = '86400';

export function originAllowed(config: Config, origin: string | null): boolean {
  if (origin === null) return false;
  return config.allowedOrigins === '*' || config.allowedOrigins.has(origin);
}

/** Answers a preflight (OPTIONS with Access-Control-Request-Method); anything else goes on. */
export function preflight(request: Request, config: Config): Response | undefined {
  if (request.method !== 'OPTIONS' || !request.headers.has('access-control-request-method')) return undefined;
  const origin = request.headers.get('origin');
  if (!originAllowed(config, origin)) throw new HttpError('forbidden', 'origin not allowed');
  return new Response(null, {
    status: 204,
    headers: {
      'access-control-allow-origin': config.allowedOrigins === '*' ? '*' : origin!,
      'access-control-allow-methods': ALLOW_METHODS,
      'access-control-allow-headers': ALLOW_HEADERS,
      'access-control-max-age': PREFLIGHT_MAX_AGE_SECONDS,
      vary: 'Origin',
    },
  });
}

/**
 * Refuses a request whose Origin is present and not allowed, whatever its
 * method: a browser sends a simple request (a GET, a text/plain POST) without
 * a preflight, and CORS headers only stop the page reading the answer, not the
 * work being done. No Origin is a server-to-server call; the gateway's own
 * origin (its playground) is always allowed.
 */
export function refuseForeignOrigin(request: Request, config: Config): void {
  const origin = request.headers.get('origin');
  if (origin === null || originAllowed(config, origin) || origin === new URL(request.url).origin) return;
  throw new HttpError('forbidden', 'origin not allowed');
}

/** Adds the CORS headers an allowed origin needs to read a response. */
export function withCorsHeaders(headers: Headers, config: Config | undefined, origin: string | null): void {
  headers.append('vary', 'Origin');
  if (!config || !originAllowed(config, origin)) return;
  headers.set('access-control-allow-origin', config.allowedOrigins === '*' ? '*' : origin!);
  headers.set('access-control-expose-headers', EXPOSE_HEADERS);
}
