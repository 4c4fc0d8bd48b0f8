/**
 * Replaces one top-level member's value in the text of a JSON object and
 * leaves every other byte as the caller sent it. Parsing and re-serialising
 * would change values: integers past 2^53 (a 64-bit `seed`) get rounded,
 * `1e400` becomes null, `-0` becomes 0.
 */

/**
 * `text` must already have parsed as a JSON object (the caller checked with
 * JSON.parse). Every member named `name` gets `valueJson`; a repeated key is
 * replaced each time, so whichever one the engine keeps is the new value.
 */
export function replaceMember(text: string, name: string, valueJson: string): string {
  return replaceSpans(text, memberSpans(text, name), valueJson);
}

/** Where each value of a top-level member named `name` starts and ends in `text` (a JSON object), escaped spellings of the key included. */
export function memberSpans(text: string, name: string): [number, number][] {
  const spans: [number, number][] = [];
  let i = skipSpace(text, 0);
  if (text[i] !== '{') throw new Error('replaceMember: not a JSON object');
  i = skipSpace(text, i + 1);
  while (text[i] !== '}') {
    const keyEnd = stringEnd(text, i);
    const key: unknown = JSON.parse(text.slice(i, keyEnd)); // decodes escapes such as "mod\u0065l"
    const valueStart = skipSpace(text, skipSpace(text, keyEnd) + 1); // past the ':'
    const valueEnd = valueEndAt(text, valueStart);
    if (key === name) spans.push([valueStart, valueEnd]);
    i = skipSpace(text, valueEnd);
    if (text[i] === ',') i = skipSpace(text, i + 1);
  }
  return spans;
}

/** `text` with each span replaced by `valueJson`. */
export function replaceSpans(text: string, spans: readonly [number, number][], valueJson: string): string {
  let out = '';
  let last = 0;
  for (const [start, end] of spans) {
    out += text.slice(last, start) + valueJson;
    last = end;
  }
  return out + text.slice(last);
}

function at(text: string, i: number): string {
  if (i >= text.length) throw new Error('replaceMember: unexpected end of JSON');
  return text[i]!;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  return i;
}

/** `i` is at an opening quote; returns the index just past the closing one. */
function stringEnd(text: string, i: number): number {
  i++;
  for (let c = at(text, i); c !== '"'; c = at(text, i)) i += c === '\\' ? 2 : 1;
  return i + 1;
}

function valueEndAt(text: string, i: number): number {
  const first = at(text, i);
  if (first === '"') return stringEnd(text, i);
  if (first === '{' || first === '[') {
    let depth = 0;
    for (;;) {
      const c = at(text, i);
      if (c === '"') {
        i = stringEnd(text, i);
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') depth--;
      i++;
      if (depth === 0) return i;
    }
  }
  // A number, true, false or null runs to the next delimiter.
  while (i < text.length && !/[\s,}\]]/.test(text[i]!)) i++;
  return i;
}

/** `text` with one more member `name` first in the object, every other byte kept; `text` must have parsed as an object. */
export function prependMember(text: string, name: string, valueJson: string): string {
  const open = skipSpace(text, 0);
  if (text[open] !== '{') throw new Error('prependMember: not a JSON object');
  const empty = text[skipSpace(text, open + 1)] === '}';
  return `${text.slice(0, open + 1)}${JSON.stringify(name)}:${valueJson}${empty ? '' : ','}${text.slice(open + 1)}`;
}
