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

/** The remembered IDs, longest first (so no ID matches inside a longer one), and one pattern over them: built when the config loads, not per message. */
let seen: Matcher = matcherFor([]);

interface Matcher {
  known: readonly string[];
  pattern?: RegExp;
}

/** Called by the config loader with every Baseten ID it parsed. */
export function rememberBasetenIds(ids: readonly string[]): void {
  const before = idsSeen.size;
  for (const id of ids) idsSeen.add(id.toLowerCase());
  if (idsSeen.size !== before) seen = matcherFor([...idsSeen]);
}

function matcherFor(ids: readonly string[]): Matcher {
  const known = [...new Set(ids)].sort((a, b) => b.length - a.length);
  if (known.length === 0) return { known };
  return { known, pattern: new RegExp(`(?<![a-z0-9])(?:${known.map(escapeRegExp).join('|')})(?![a-z0-9])`, 'gi') };
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
  const ownIds = new Set(own.map((id) => id.toLowerCase()));
  // The alias's IDs are remembered with the config; only a record from an older config may name one that is not.
  const { known, pattern } = [...ownIds].every((id) => idsSeen.has(id)) ? seen : matcherFor([...ownIds, ...idsSeen]);
  const stand = (id: string) => (ownIds.has(id) ? alias : OTHER_ID);
  // Known IDs first, as placeholders that no later step reads as text.
  let out = text.replace(PRIVATE_USE, '?');
  if (pattern) out = out.replace(pattern, (match) => String.fromCharCode(0xe000 + known.indexOf(match.toLowerCase())));
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
