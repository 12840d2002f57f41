// Go string semantics the protocol leaks onto the wire (spec/server.md §3.0.5, %q in messages):
// JavaScript's trim()/toLowerCase()/JSON quoting differ from Go's in edge cases.

/** Code points Go's `unicode.IsSpace` accepts, i.e. what `strings.TrimSpace` removes (no U+FEFF). */
const GO_SPACE =
  '\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';

/** Go `strings.TrimSpace`: strips leading/trailing Unicode White_Space; unlike `trim()` keeps U+FEFF. */
export function goTrimSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && GO_SPACE.includes(text[start])) start++;
  while (end > start && GO_SPACE.includes(text[end - 1])) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/**
 * Go `strings.ToLower`: per-code-point simple case mapping. JavaScript applies special casing
 * (`'İ'` → `'i̇'`, final sigma), Go maps `'İ'` → `'i'` and never looks at context.
 */
export function goToLower(text: string): string {
  return mapCodePoints(text, (ch) => (ch === '\u0130' ? 'i' : ch.toLowerCase()));
}

/** Go `strings.ToUpper`: per-code-point simple mapping; code points whose full mapping expands (ß → SS) stay. */
export function goToUpper(text: string): string {
  return mapCodePoints(text, (ch) => ch.toUpperCase());
}

function mapCodePoints(text: string, map: (ch: string) => string): string {
  if (/^[\x00-\x7f]*$/.test(text)) return map(text);
  let out = '';
  for (const ch of text) {
    const mapped = map(ch);
    // A multi-code-point result is special casing, which Go's simple mapping does not do.
    out += [...mapped].length === 1 ? mapped : ch;
  }
  return out;
}

/**
 * Go `strings.EqualFold(text, asciiLower)` for an all-ASCII lower-case `asciiLower` (e.g.
 * `_sync_scope_id`): ASCII letters match case-insensitively, and Unicode folding adds exactly
 * `ſ` (U+017F) for `s` and the Kelvin sign (U+212A) for `k`.
 */
export function equalFoldAscii(text: string, asciiLower: string): boolean {
  const chars = [...text];
  if (chars.length !== asciiLower.length) return false;
  return chars.every((ch, i) => {
    const want = asciiLower[i];
    if (ch.toLowerCase() === want && ch.length === 1 && ch.charCodeAt(0) < 0x80) return true;
    return (want === 's' && ch === '\u017f') || (want === 'k' && ch === '\u212a');
  });
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const QUOTE_SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

/**
 * Go `%q` / `strconv.Quote`: double-quoted, `"` and `\` backslashed, printable runes raw,
 * others as `\a…\v`, `\xHH` (below U+0020 and U+007F), `\uHHHH` or `\UHHHHHHHH` (lower-case hex).
 * A lone surrogate counts as U+FFFD (what Go's JSON decoding turns invalid input into).
 */
export function goQuote(text: string): string {
  let out = '"';
  for (const raw of text) {
    const ch = isLoneSurrogate(raw) ? '\ufffd' : raw;
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (PRINTABLE.test(ch)) out += ch;
    else if (QUOTE_SHORT_ESCAPES[ch] !== undefined) out += QUOTE_SHORT_ESCAPES[ch];
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + '"';
}

function isLoneSurrogate(ch: string): boolean {
  const unit = ch.charCodeAt(0);
  return ch.length === 1 && unit >= 0xd800 && unit <= 0xdfff;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Go `strconv.ParseInt(text, 10, 64)` (also `Atoi` on 64-bit): optional `+`/`-`, ASCII digits
 * only, no whitespace, must fit int64. Returns `undefined` when Go would return an error.
 * Callers treat an empty query value as absent before calling (spec/server.md §3.0.5).
 */
export function parseGoInt64(text: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? undefined : value;
}
