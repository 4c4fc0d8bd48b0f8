/**
 * Every secret of every config this isolate loaded, and the one function that
 * cuts them from text. Text that reaches a caller or the log from elsewhere
 * (Baseten's messages, thrown errors) passes through `redact` wherever it is
 * rendered. A module of its own, importing nothing, so that the config and
 * the error renderer can both use it without depending on each other.
 */
const secretsSeen = new Set<string>();
/**
 * A quoted run of a secret is cut too (a key's prefix, its last characters):
 * any run of at least this many of its characters, in any letter case.
 */
const PARTIAL_RUN = 8;
/** Every PARTIAL_RUN-character slice of every secret, ASCII letters lower-cased. */
const slicesSeen = new Set<string>();

/** Called by the config loader with every secret it parsed. */
export function rememberSecrets(secrets: readonly string[]): void {
  for (const secret of secrets) {
    if (!secret) continue;
    secretsSeen.add(secret);
    const folded = foldCase(secret);
    for (let i = 0; i + PARTIAL_RUN <= folded.length; i++) slicesSeen.add(folded.slice(i, i + PARTIAL_RUN));
  }
}

/** The text with every secret this isolate knows, and every run of 8 or more of its characters, replaced. */
export function redact(text: string): string {
  let out = text;
  for (const secret of secretsSeen) if (secret.length < PARTIAL_RUN) out = out.split(secret).join('[redacted]');
  return slicesSeen.size === 0 ? out : cutRuns(out);
}

/** Replaces each stretch of text covered by a secret's slices with one "[redacted]". */
function cutRuns(text: string): string {
  const folded = foldCase(text);
  let out = '';
  let kept = 0;
  let coveredTo = -1;
  for (let i = 0; i + PARTIAL_RUN <= folded.length; i++) {
    if (!slicesSeen.has(folded.slice(i, i + PARTIAL_RUN))) continue;
    if (i > coveredTo) out += `${text.slice(kept, i)}[redacted]`;
    coveredTo = i + PARTIAL_RUN;
    kept = coveredTo;
  }
  return out + text.slice(kept);
}

/** ASCII letters lower-cased, nothing else touched, so that positions stay the same. */
function foldCase(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** A thrown value as text for the log only (never sent to a caller), secrets cut. */
export function describeForLog(err: unknown): string {
  return redact(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
}
