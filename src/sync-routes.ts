/**
 * Which custom-server routes a caller may reach through /sync: only those an
 * alias lists, and never by a path that could mean something else upstream
 * (dot segments, encoded slashes or backslashes, double encoding, empty segments,
 * control characters).
 */

/** Characters RFC 3986 allows in a path segment, percent escapes included. */
const SEGMENT_CHARS = /^[A-Za-z0-9._~!$&'()*+,;=:@%-]+$/;

/**
 * Checks `rawPath` (the part after "/sync", still percent-encoded, starting
 * with "/") and returns it when it is safe and listed in `patterns`.
 */
export function matchSyncRoute(rawPath: string, patterns: readonly string[]): string | undefined {
  const segments = safeSegments(rawPath);
  if (!segments) return undefined;
  const path = `/${segments.join('/')}`;
  return patterns.some((pattern) => routeMatches(pattern, segments)) ? path : undefined;
}

function safeSegments(rawPath: string): string[] | undefined {
  if (!rawPath.startsWith('/') || rawPath.length > 2048) return undefined;
  const segments = rawPath.slice(1).split('/');
  for (const segment of segments) {
    if (!SEGMENT_CHARS.test(segment)) return undefined;
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return undefined;
    }
    // Dot-only segments, with or without ";params" ("..;" is ".." to Tomcat-style servers).
    if (/^\.+(;.*)?$/.test(decoded) || /[/\\%\x00-\x1f\x7f]/.test(decoded)) return undefined;
  }
  return segments;
}

/** "/health" matches itself; "/items/*" matches "/items/<one or more segments>"; "/*" matches any path. */
function routeMatches(pattern: string, segments: readonly string[]): boolean {
  const parts = pattern.slice(1).split('/');
  const wildcard = parts[parts.length - 1] === '*';
  const fixed = wildcard ? parts.slice(0, -1) : parts;
  if (wildcard ? segments.length <= fixed.length : segments.length !== fixed.length) return false;
  return fixed.every((part, i) => part === segments[i]);
}
