/**
 * Every secret of every config this isolate loaded, and the one function that
 * cuts them from text. Text that reaches a caller or the log from elsewhere
 * (Baseten's messages, thrown errors) passes through `redact` wherever it is
 * rendered. A module of its own, importing nothing, so that the config and
 * the error renderer can both use it without depending on each other.
 */
const secretsSeen = new Set<string>();

/** Called by the config loader with every secret it parsed. */
export function rememberSecrets(secrets: readonly string[]): void {
  for (const secret of secrets) secretsSeen.add(secret);
}

/** The text with every secret this isolate knows replaced. */
export function redact(text: string): string {
  let out = text;
  for (const secret of secretsSeen) if (secret) out = out.split(secret).join('[redacted]');
  return out;
}

/** A thrown value as text for the log only (never sent to a caller), secrets cut. */
export function describeForLog(err: unknown): string {
  return redact(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
}
