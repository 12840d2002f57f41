// JSON text → generic value exactly as Go's `json.Unmarshal(raw, &any)` sees it (spec/server.md §5.2
// step 1): numbers as IEEE-754 doubles (out of range is an error), invalid UTF-8 and unpaired
// surrogate escapes as U+FFFD, duplicate member names last-wins, nesting limited to 10000 levels.
import type { JsonObject, JsonValue } from './wire-types.js';
import { equalFoldAscii } from './go-strings.js';

/**
 * Go's `encoding/json` binding of a struct field (its JSON name, lower-case ASCII) to the members of a
 * decoded object: every member whose name equals the field name or case-folds to it (ASCII case, `ſ`
 * for s, the Kelvin sign for k) is decoded in document order, so the LAST one wins whatever its case.
 * For a `reference` field (pointer, slice, map, raw message) a later `null` clears it; for a `scalar`
 * (string, number, bool) `null` leaves it as it was. Objects from `parseJsonText` remember every
 * occurrence of a repeated name. `undefined`: no member binds (or, scalar, only nulls).
 */
export function bindGoField(object: JsonObject, field: string, kind: 'scalar' | 'reference' = 'reference'): JsonValue | undefined {
  let found: JsonValue | undefined;
  for (const [name, value] of REPEATED_MEMBERS.get(object) ?? Object.entries(object)) {
    if (name !== field && !equalFoldAscii(name, field)) continue;
    if (kind === 'reference' || value !== null) found = value;
  }
  return found;
}

/** Go's `encoding/json` nesting limit (`maxNestingDepth`). */
const MAX_NESTING_DEPTH = 10000;

/** The text is not JSON that Go's `json.Unmarshal` into `any` would accept. */
export class JsonParseError extends Error {
  constructor(
    message: string,
    /** UTF-16 offset in the decoded text where parsing failed. */
    readonly offset: number,
  ) {
    super(message);
    this.name = 'JsonParseError';
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * UTF-8 bytes → string the way Go reads them: each byte of an invalid sequence becomes its own
 * U+FFFD (`utf8.DecodeRune` consumes one byte on error). WHATWG decoding (`TextDecoder`,
 * `Buffer.toString`) replaces a maximal subpart with a single U+FFFD instead, and strips a BOM.
 */
export function decodeUtf8LikeGo(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return decodeUtf8Lenient(bytes);
  }
}

function decodeUtf8Lenient(bytes: Uint8Array): string {
  const parts: string[] = [];
  let i = 0;
  while (i < bytes.length) {
    const size = validSequenceLength(bytes, i);
    if (size === 0) {
      parts.push('\ufffd');
      i += 1;
    } else {
      parts.push(strictUtf8.decode(bytes.subarray(i, i + size)));
      i += size;
    }
  }
  return parts.join('');
}

/** Length of the well-formed UTF-8 sequence starting at `i`, or 0 when Go's DecodeRune fails. */
function validSequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i];
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean =>
    i + k < bytes.length && bytes[i + k] >= lo && bytes[i + k] <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Replaces every unpaired surrogate code unit with U+FFFD (what UTF-8 encoding the text would do). */
export function toWellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}

/**
 * Parses JSON text with Go `json.Unmarshal`-into-`any` semantics. A string argument is treated as
 * its UTF-8 encoding (an unpaired surrogate in the raw text is one U+FFFD); pass raw bytes to get
 * Go's per-byte replacement of invalid UTF-8. Objects are plain data objects (`__proto__` is an
 * ordinary member). Throws `JsonParseError`.
 */
export function parseJsonText(text: string | Uint8Array): JsonValue {
  const source = typeof text === 'string' ? toWellFormed(text) : decodeUtf8LikeGo(text);
  return new GoJsonParser(source).parseDocument();
}

type Frame =
  | { readonly kind: 'array'; readonly items: JsonValue[] }
  | { readonly kind: 'object'; readonly members: Map<string, JsonValue>; key: string; all?: Array<[string, JsonValue]> };

/** Every member in document order of the objects that repeat a member name (for struct binding). */
const REPEATED_MEMBERS = new WeakMap<JsonObject, ReadonlyArray<readonly [string, JsonValue]>>();

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

class GoJsonParser {
  private pos = 0;
  private readonly stack: Frame[] = [];

  constructor(private readonly text: string) {}

  parseDocument(): JsonValue {
    let value = this.parseValueStart();
    // Iterative on purpose: 10000 nesting levels must not depend on the JS stack size.
    for (;;) {
      const frame = this.stack.at(-1);
      if (frame === undefined) break;
      if (frame.kind === 'array') frame.items.push(value);
      else {
        // The map keeps the last value of a repeated name (Go's `any`); every occurrence in order is
        // kept aside for struct binding (bindGoField), only for objects that repeat a name.
        if (frame.all) frame.all.push([frame.key, value]);
        else if (frame.members.has(frame.key)) frame.all = [...frame.members, [frame.key, value]];
        frame.members.set(frame.key, value);
      }
      const closed = this.afterMember(frame);
      if (closed === undefined) {
        value = this.parseValueStart();
        continue;
      }
      value = closed;
    }
    this.skipWhitespace();
    if (this.pos < this.text.length) this.fail('invalid character after top-level value');
    return value;
  }

  /** After a member: `,` → undefined (caller parses the next value); closing bracket → the container. */
  private afterMember(frame: Frame): JsonValue | undefined {
    this.skipWhitespace();
    const ch = this.text[this.pos++];
    if (ch === ',') {
      if (frame.kind === 'object') this.parseMemberName(frame);
      return undefined;
    }
    if (frame.kind === 'array' && ch === ']') {
      this.stack.pop();
      return frame.items;
    }
    if (frame.kind === 'object' && ch === '}') {
      this.stack.pop();
      const object = Object.fromEntries(frame.members) as JsonObject;
      if (frame.all) REPEATED_MEMBERS.set(object, frame.all);
      return object;
    }
    return this.fail(ch === undefined ? 'unexpected end of JSON input' : 'invalid character after value', -1);
  }

  /** Parses a scalar, or opens a container and returns the value of an empty one / the first member. */
  private parseValueStart(): JsonValue {
    for (;;) {
      this.skipWhitespace();
      const ch = this.text[this.pos];
      if (ch === '{' || ch === '[') {
        this.pos++;
        if (this.stack.length >= MAX_NESTING_DEPTH) this.fail('exceeded max depth');
        this.skipWhitespace();
        if (ch === '[') {
          if (this.text[this.pos] === ']') {
            this.pos++;
            return [];
          }
          this.stack.push({ kind: 'array', items: [] });
          continue;
        }
        if (this.text[this.pos] === '}') {
          this.pos++;
          return {};
        }
        const frame: Frame = { kind: 'object', members: new Map(), key: '' };
        this.stack.push(frame);
        this.parseMemberName(frame, false);
        continue;
      }
      return this.parseScalar(ch);
    }
  }

  private parseMemberName(frame: Extract<Frame, { kind: 'object' }>, skipLeading = true): void {
    if (skipLeading) this.skipWhitespace();
    if (this.text[this.pos] !== '"') this.fail('expected object member name');
    frame.key = this.parseString();
    this.skipWhitespace();
    if (this.text[this.pos] !== ':') this.fail("expected ':' after object member name");
    this.pos++;
  }

  private parseScalar(ch: string | undefined): JsonValue {
    if (ch === '"') return this.parseString();
    if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return this.parseNumber();
    for (const [literal, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(literal, this.pos)) {
        this.pos += literal.length;
        return value;
      }
    }
    return this.fail(ch === undefined ? 'unexpected end of JSON input' : 'invalid character looking for beginning of value');
  }

  private parseNumber(): number {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (match === null) return this.fail('invalid number literal');
    this.pos += match[0].length;
    const value = Number(match[0]);
    // Go's strconv.ParseFloat reports ErrRange (→ unmarshal error) beyond ±MaxFloat64; underflow is fine.
    if (!Number.isFinite(value)) this.fail(`number ${match[0]} is out of float64 range`, -match[0].length);
    return value;
  }

  private parseString(): string {
    const text = this.text;
    let pos = this.pos + 1;
    let out = '';
    let runStart = pos;
    for (;;) {
      if (pos >= text.length) return this.fail('unexpected end of JSON input', pos - this.pos);
      const unit = text.charCodeAt(pos);
      if (unit === 0x22) break;
      if (unit < 0x20) return this.fail('invalid character in string literal', pos - this.pos);
      if (unit !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(runStart, pos);
      const escape = text[pos + 1];
      if (escape === 'u') {
        const [decoded, consumed] = this.decodeUnicodeEscape(pos);
        out += decoded;
        pos += consumed;
      } else if (escape !== undefined && SIMPLE_ESCAPES[escape] !== undefined) {
        out += SIMPLE_ESCAPES[escape];
        pos += 2;
      } else {
        return this.fail('invalid escape in string literal', pos - this.pos);
      }
      runStart = pos;
    }
    out += text.slice(runStart, pos);
    this.pos = pos + 1;
    return out;
  }

  /** `\uXXXX` at `pos`: a valid surrogate pair of two escapes is joined, any other surrogate is U+FFFD. */
  private decodeUnicodeEscape(pos: number): [string, number] {
    const unit = this.hex4(pos + 2);
    if (unit === undefined) return this.fail('invalid \\u escape', pos - this.pos);
    if (unit < 0xd800 || unit > 0xdfff) return [String.fromCharCode(unit), 6];
    const next = this.text.startsWith('\\u', pos + 6) ? this.hex4(pos + 8) : undefined;
    if (unit <= 0xdbff && next !== undefined && next >= 0xdc00 && next <= 0xdfff) {
      return [String.fromCharCode(unit, next), 12];
    }
    // Go does not consume the following escape here; it is decoded on its own next.
    return ['\ufffd', 6];
  }

  private hex4(pos: number): number | undefined {
    const digits = this.text.slice(pos, pos + 4);
    return /^[0-9a-fA-F]{4}$/.test(digits) ? parseInt(digits, 16) : undefined;
  }

  private skipWhitespace(): void {
    const text = this.text;
    let pos = this.pos;
    for (;;) {
      const ch = text[pos];
      if (ch !== ' ' && ch !== '\t' && ch !== '\n' && ch !== '\r') break;
      pos++;
    }
    this.pos = pos;
  }

  private fail(message: string, delta = 0): never {
    throw new JsonParseError(message, this.pos + delta);
  }
}
