// Byte-level parity with Go's `encoding/json` encoder (HTML escaping on), used for canonical JSON
// (spec/server.md §5.2) and for response bodies (§3.0.4).
import { parseExactJson } from './json-reader.js';

/**
 * A float64 as Go's `json.Marshal` prints it: shortest round-trip digits, plain notation for
 * 1e-6 <= |x| < 1e21, exponent notation otherwise (`1e+21`, `1e-7`), and `-0` for negative zero.
 * Throws `RangeError` for NaN/±Infinity (Go: UnsupportedValueError).
 */
export function formatGoFloat64(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`json: unsupported value: ${value}`);
  // ECMAScript Number::toString switches to exponent form at exactly Go's thresholds and spells
  // exponents the same way; it only loses the sign of zero.
  return Object.is(value, -0) ? '-0' : String(value);
}

const NEEDS_ESCAPE =
  /["\\\x00-\x1f<>&\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

function escapeMatch(ch: string): string {
  const short = SHORT_ESCAPES[ch];
  if (short !== undefined) return short;
  const unit = ch.charCodeAt(0);
  // Lone surrogates stand for what Go's decoder turns invalid text into: a raw U+FFFD.
  if (unit >= 0xd800 && unit <= 0xdfff) return '\ufffd';
  return '\\u' + unit.toString(16).padStart(4, '0');
}

/**
 * A string as a quoted Go JSON string literal: `"` `\` and `\b \f \n \r \t` short escapes, other
 * C0 controls and `<` `>` `&` U+2028 U+2029 as `\u00xx`/`\u20xx` (lower-case hex), everything else
 * raw (including U+007F, `/` and non-ASCII). Unpaired surrogates become a raw U+FFFD.
 */
export function quoteGoJsonString(text: string): string {
  // Most texts (keys, names, timestamps) hold nothing to escape: a scan of their units is cheaper than the
  // regular expression's replace. Any unit from U+2028 up (surrogates included) takes the exact path.
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (
      unit < 0x20 ||
      unit === 0x22 ||
      unit === 0x5c ||
      unit === 0x3c ||
      unit === 0x3e ||
      unit === 0x26 ||
      unit >= 0x2028
    )
      return '"' + text.replace(NEEDS_ESCAPE, escapeMatch) + '"';
  }
  return '"' + text + '"';
}

/**
 * Orders strings by their UTF-8 bytes (= Unicode code point order), as Go's `sort.Strings` and
 * map-key encoding do. Plain `<` / `localeCompare` compare UTF-16 units and put U+1F600 before U+FF71.
 */
export function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointOrderUnit(x) - codePointOrderUnit(y);
  }
  return a.length - b.length;
}

/** Shifts surrogates above U+E000–U+FFFF so that UTF-16 unit order equals code point order. */
function codePointOrderUnit(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

const COMPACT_TOKEN = /"(?:[^"\\]|\\.)*"|[ \t\n\r]+|[^" \t\n\r]+/gs;
const COMPACT_STRING_ESCAPE = /[<>&\u2028\u2029]/g;

/**
 * Go's output for a `json.RawMessage` member (spec/server.md §3.0.4): insignificant whitespace
 * removed and `<` `>` `&` U+2028 U+2029 inside strings escaped; member order, number spelling and
 * every other escape are kept. Throws `JsonSyntaxError` for invalid JSON (Go: MarshalerError).
 */
export function compactGoJson(text: string): string {
  parseExactJson(text);
  return text.replace(COMPACT_TOKEN, (token) => {
    if (token.startsWith('"')) return token.replace(COMPACT_STRING_ESCAPE, escapeMatch);
    return /^[ \t\n\r]/.test(token) ? '' : token;
  });
}

/**
 * `compactGoJson` for text known to be valid JSON (e.g. PostgreSQL's jsonb output): the same
 * rewriting without the validating parse, for large trusted payloads.
 */
export function compactValidGoJson(text: string): string {
  // One scan instead of a regex callback per token (snapshot chunks run this on every row): copies
  // runs of text, drops whitespace outside strings, escapes < > & U+2028 U+2029 inside them.
  let out = '';
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      else if (c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
        out += text.slice(start, i) + escapeMatch(text[i]!);
        start = i + 1;
      }
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      out += text.slice(start, i);
      start = i + 1;
    }
  }
  return start === 0 ? text : out + text.slice(start);
}

/** JSON text emitted verbatim (after `compactGoJson`), like a Go `json.RawMessage`. */
export class RawJson {
  constructor(readonly text: string) {}
}

/**
 * JSON text already in Go's encoder output form (compact, HTML-escaped; e.g. canonical JSON),
 * emitted verbatim without re-scanning: the fast path for stored canonical payloads.
 */
export class EncodedJson {
  constructor(readonly text: string) {}
}

/** What `encodeGoJson` accepts: JSON data plus Go-encoder specific members. */
export type GoJsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | RawJson
  | EncodedJson
  | readonly GoJsonValue[]
  | ReadonlyMap<string, GoJsonValue>
  | { readonly [member: string]: GoJsonValue | undefined };

/**
 * Encodes a response value like Go's `json.Marshal` of a struct: plain objects keep their property
 * order (struct order; `undefined` members are omitted, which is how `omitempty` is expressed),
 * `Map`s are Go maps (keys sorted by UTF-8 bytes), `bigint`s are int64, numbers float64,
 * `RawJson` is compacted. No trailing newline (see `goJsonResponseBody`).
 * Note: JavaScript orders integer-like property names (`"1"`) first; use a `Map` for such keys.
 */
export function encodeGoJson(value: GoJsonValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return formatGoFloat64(value);
    case 'bigint':
      return value.toString();
    case 'string':
      return quoteGoJsonString(value);
    default:
      break; // objects, below
  }
  if (value instanceof RawJson) return compactGoJson(value.text);
  if (value instanceof EncodedJson) return value.text;
  if (isReadonlyArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + encodeGoJson(value[i]!);
    return out + ']';
  }
  if (value instanceof Map) {
    const map = value as ReadonlyMap<string, GoJsonValue>;
    const keys = [...map.keys()].sort(compareUtf8);
    return '{' + keys.map((key) => quoteGoJsonString(key) + ':' + encodeGoJson(map.get(key) ?? null)).join(',') + '}';
  }
  // concatenated, not joined from entries: an answer's objects are small, and Object.entries built a
  // pair per member and an array of pairs
  const object = value as { readonly [member: string]: GoJsonValue | undefined };
  let out = '';
  for (const key of Object.keys(object)) {
    const member = object[key];
    if (member !== undefined) out += (out === '' ? '{' : ',') + quoteGoJsonString(key) + ':' + encodeGoJson(member);
  }
  return out === '' ? '{}' : out + '}';
}

function isReadonlyArray(value: unknown): value is readonly GoJsonValue[] {
  return Array.isArray(value);
}

/** A whole response body as Go's `json.NewEncoder(w).Encode(v)` writes it: the value plus `\n`. */
export function goJsonResponseBody(value: GoJsonValue): string {
  return encodeGoJson(value) + '\n';
}
