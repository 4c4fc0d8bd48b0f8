/**
 * CORS for ALLOWED_ORIGINS: preflights answered for allowed origins, headers
 * added to their responses, nothing at all for other origins.
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

/** Adds the CORS headers an allowed origin needs to read a response. */
export function withCorsHeaders(headers: Headers, config: Config | undefined, origin: string | null): void {
  headers.append('vary', 'Origin');
  if (!config || !originAllowed(config, origin)) return;
  headers.set('access-control-allow-origin', config.allowedOrigins === '*' ? '*' : origin!);
  headers.set('access-control-expose-headers', EXPOSE_HEADERS);
}
