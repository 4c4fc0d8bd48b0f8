/**
 * Baseten's model, chain and deployment IDs kept out of the messages callers
 * read. Every ID the config names is remembered when it loads (those of other
 * aliases too: an environment's deployment ID, another alias's model), and
 * Baseten's messages may name IDs the config never saw, so ID-shaped tokens
 * go as well: any token with a digit right after "model", "chain" or
 * "deployment" (with or without "_id", ":", "=" or a hyphen as in a host
 * name), and any 8-letter token of letters and digits mixed, the shape of
 * Baseten's generated IDs. Letter case is ignored throughout. A module of
 * its own, importing nothing, so the config loader can feed it.
 */
const idsSeen = new Set<string>();

/** Called by the config loader with every Baseten ID it parsed. */
export function rememberBasetenIds(ids: readonly string[]): void {
  for (const id of ids) idsSeen.add(id.toLowerCase());
}

/** What stands in for an ID that is not the alias's own. */
const OTHER_ID = '[id]';
/** Characters the scrub uses as placeholders; taken out of the text first. */
const PRIVATE_USE = /[\uE000-\uF8FF]/g;
const LABEL_BEFORE = /(?:\b(?:model|chain|deployment)s?(?:[ _-]?ids?)?["'`]?\s*[:=]?\s*["'`]?|\b(?:model|chain)-)$/i;
const GENERATED_ID = /^(?=(?:[a-z]*\d){2})(?=(?:\d*[a-z]){2})[a-z0-9]{8}$/i;

/**
 * `text` with the alias's own IDs (`own`) replaced by the alias and every
 * other known or ID-shaped token by "[id]".
 */
export function scrubBasetenIds(text: string, own: readonly string[], alias: string): string {
  const known = [...new Set([...own.map((id) => id.toLowerCase()), ...idsSeen])].sort((a, b) => b.length - a.length);
  const stand = (id: string) => (own.some((o) => o.toLowerCase() === id) ? alias : OTHER_ID);
  // Known IDs first, as placeholders that no later step reads as text.
  let out = text.replace(PRIVATE_USE, '?');
  if (known.length > 0) {
    const pattern = new RegExp(`(?<![a-z0-9])(?:${known.map(escapeRegExp).join('|')})(?![a-z0-9])`, 'gi');
    out = out.replace(pattern, (match) => String.fromCharCode(0xe000 + known.indexOf(match.toLowerCase())));
  }
  out = out.replace(/[a-z0-9]+/gi, (token, offset: number, whole: string) =>
    looksLikeId(token, whole.slice(Math.max(0, offset - 24), offset)) ? OTHER_ID : token,
  );
  return out.replace(PRIVATE_USE, (mark) => stand(known[mark.charCodeAt(0) - 0xe000]!));
}

function looksLikeId(token: string, before: string): boolean {
  return (/\d/.test(token) && LABEL_BEFORE.test(before)) || GENERATED_ID.test(token);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
