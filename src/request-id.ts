/** A caller's x-request-id is echoed only when it is short and plain; otherwise a new one is made. */
/** Also published in the OpenAPI document, so no regex flags. */
export const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFor(request: Request): string {
  const given = request.headers.get('x-request-id');
  return given !== null && SANE_REQUEST_ID.test(given) ? given : crypto.randomUUID();
}
