import { equalFoldAscii } from '@oversync/protocol';

/**
 * A JSON reader that keeps number literals as written, so request bodies can be bound with Go
 * `encoding/json` rules (int64 fields accept only integer literals) and payload numbers beyond
 * double precision reach PostgreSQL exactly (spec §8.2).
 */
export class JsonNumber {
  constructor(readonly raw: string) {}
  toNumber(): number {
    return Number(this.raw);
  }
}

export type ExactJson = null | boolean | string | JsonNumber | ExactJson[] | ExactObject;
/** Members in document order; duplicates are kept here and resolved by readers (last wins). */
export interface ExactObject {
  readonly kind: 'object';
  readonly members: Array<[string, ExactJson]>;
}

export class JsonSyntaxError extends Error {}

const MAX_DEPTH = 512;

export function isExactObject(value: ExactJson | undefined): value is ExactObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber);
}

/** Parses one JSON document; whitespace around it is allowed, anything else after it is not. */
export function parseExactJson(text: string): ExactJson {
  const parser = new Parser(text);
  parser.skipWhitespace();
  const value = parser.value(0);
  parser.skipWhitespace();
  if (parser.pos !== text.length) throw new JsonSyntaxError(`unexpected data after JSON value at offset ${parser.pos}`);
  return value;
}

class Parser {
  pos = 0;
  constructor(private readonly text: string) {}

  skipWhitespace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  value(depth: number): ExactJson {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError('JSON nesting too deep');
    const c = this.text.charCodeAt(this.pos);
    switch (c) {
      case 0x7b: return this.object(depth);
      case 0x5b: return this.array(depth);
      case 0x22: return this.string();
      case 0x74: return this.literal('true', true);
      case 0x66: return this.literal('false', false);
      case 0x6e: return this.literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        throw new JsonSyntaxError(this.pos >= this.text.length ? 'unexpected end of JSON input' : `invalid character at offset ${this.pos}`);
    }
  }

  private literal<T extends ExactJson>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) throw new JsonSyntaxError(`invalid literal at offset ${this.pos}`);
    this.pos += word.length;
    return value;
  }

  private number(): JsonNumber {
    const t = this.text;
    const start = this.pos;
    if (t.charCodeAt(this.pos) === 0x2d) this.pos++;
    const first = t.charCodeAt(this.pos);
    if (first === 0x30) this.pos++;
    else if (first >= 0x31 && first <= 0x39) this.digits();
    else throw new JsonSyntaxError(`invalid number at offset ${start}`);
    if (t.charCodeAt(this.pos) === 0x2e) {
      this.pos++;
      if (!this.digits()) throw new JsonSyntaxError(`invalid number at offset ${start}`);
    }
    const e = t.charCodeAt(this.pos);
    if (e === 0x65 || e === 0x45) {
      this.pos++;
      const s = t.charCodeAt(this.pos);
      if (s === 0x2b || s === 0x2d) this.pos++;
      if (!this.digits()) throw new JsonSyntaxError(`invalid number at offset ${start}`);
    }
    return new JsonNumber(t.slice(start, this.pos));
  }

  private digits(): boolean {
    const start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c >= 0x30 && c <= 0x39) this.pos++;
      else break;
    }
    return this.pos > start;
  }

  private string(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = '';
    let chunkStart = this.pos;
    for (;;) {
      if (this.pos >= t.length) throw new JsonSyntaxError('unterminated string');
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        out += t.slice(chunkStart, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) throw new JsonSyntaxError(`invalid control character in string at offset ${this.pos}`);
      if (c === 0x5c) {
        out += t.slice(chunkStart, this.pos);
        out += this.escape();
        chunkStart = this.pos;
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        // A raw lone surrogate can only come from a JS string (decoded bytes never hold one): Go would see U+FFFD.
        const paired = c <= 0xdbff && isLowSurrogate(t.charCodeAt(this.pos + 1));
        if (paired) { this.pos += 2; continue; }
        out += t.slice(chunkStart, this.pos) + '\ufffd';
        this.pos++;
        chunkStart = this.pos;
        continue;
      }
      this.pos++;
    }
  }

  private escape(): string {
    const t = this.text;
    const c = t.charCodeAt(this.pos + 1);
    this.pos += 2;
    switch (c) {
      case 0x22: return '"';
      case 0x5c: return '\\';
      case 0x2f: return '/';
      case 0x62: return '\b';
      case 0x66: return '\f';
      case 0x6e: return '\n';
      case 0x72: return '\r';
      case 0x74: return '\t';
      case 0x75: {
        const unit = this.hex4();
        if (unit >= 0xd800 && unit <= 0xdbff && t.charCodeAt(this.pos) === 0x5c && t.charCodeAt(this.pos + 1) === 0x75) {
          const save = this.pos;
          this.pos += 2;
          const low = this.hex4();
          if (isLowSurrogate(low)) return String.fromCharCode(unit, low);
          this.pos = save;
          return '\ufffd';
        }
        if (unit >= 0xd800 && unit <= 0xdfff) return '\ufffd';
        return String.fromCharCode(unit);
      }
      default:
        throw new JsonSyntaxError(`invalid escape at offset ${this.pos - 2}`);
    }
  }

  private hex4(): number {
    const hex = this.text.slice(this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new JsonSyntaxError(`invalid unicode escape at offset ${this.pos}`);
    this.pos += 4;
    return parseInt(hex, 16);
  }

  private array(depth: number): ExactJson[] {
    this.pos++;
    const items: ExactJson[] = [];
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === 0x5d) { this.pos++; return items; }
    for (;;) {
      this.skipWhitespace();
      items.push(this.value(depth + 1));
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos++);
      if (c === 0x5d) return items;
      if (c !== 0x2c) throw new JsonSyntaxError(`expected , or ] at offset ${this.pos - 1}`);
    }
  }

  private object(depth: number): ExactObject {
    this.pos++;
    const members: Array<[string, ExactJson]> = [];
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === 0x7d) { this.pos++; return { kind: 'object', members }; }
    for (;;) {
      this.skipWhitespace();
      if (this.text.charCodeAt(this.pos) !== 0x22) throw new JsonSyntaxError(`expected member name at offset ${this.pos}`);
      const name = this.string();
      this.skipWhitespace();
      if (this.text.charCodeAt(this.pos++) !== 0x3a) throw new JsonSyntaxError(`expected : at offset ${this.pos - 1}`);
      this.skipWhitespace();
      members.push([name, this.value(depth + 1)]);
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos++);
      if (c === 0x7d) return { kind: 'object', members };
      if (c !== 0x2c) throw new JsonSyntaxError(`expected , or } at offset ${this.pos - 1}`);
    }
  }
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** Whether member `key` binds struct field `name` (lower-case ASCII) as Go's decoder matches them: exactly, or case-folded (ASCII case, `ſ` for s, the Kelvin sign for k). */
export function bindsField(key: string, name: string): boolean {
  return key === name || equalFoldAscii(key, name);
}

/**
 * Go encoding/json binding of a pointer, map, slice or raw-message field `name`: every matching member
 * is decoded in document order, so the LAST one wins whatever its case (`null` included, which
 * clears such a field).
 */
export function member(object: ExactObject, name: string): ExactJson | undefined {
  let found: ExactJson | undefined;
  for (const [key, value] of object.members) if (bindsField(key, name)) found = value;
  return found;
}

/**
 * Go encoding/json binding of a string, number or bool field `name` with `read` (undefined = type
 * error): every matching member is decoded in document order — a type error in any of them fails the
 * whole decode, `null` leaves the field as it was, the last other value wins whatever its case:
 * `{"a":true,"A":false}` binds false, `{"a":true,"A":null}` binds true.
 */
export function bindScalar<T>(object: ExactObject, name: string, read: (value: ExactJson | undefined) => T | undefined): T | undefined {
  let bound = read(undefined);
  for (const [key, value] of object.members) {
    if (!bindsField(key, name)) continue;
    const decoded = read(value);
    if (decoded === undefined) return undefined;
    if (value !== null) bound = decoded;
  }
  return bound;
}

/** Members with duplicates resolved (last wins), document order of the last occurrence. */
export function uniqueMembers(object: ExactObject): Map<string, ExactJson> {
  const map = new Map<string, ExactJson>();
  for (const [key, value] of object.members) {
    map.delete(key);
    map.set(key, value);
  }
  return map;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** int64 binding: only integer literals that fit; null/absent → 0. Returns undefined on a type error. */
export function readInt64(value: ExactJson | undefined): bigint | undefined {
  if (value === undefined || value === null) return 0n;
  if (!(value instanceof JsonNumber) || !/^-?(0|[1-9][0-9]*)$/.test(value.raw)) return undefined;
  const n = BigInt(value.raw);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

/** string binding: null/absent → ''. Returns undefined on a type error. */
export function readString(value: ExactJson | undefined): string | undefined {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : undefined;
}

/** bool binding: null/absent → false. Returns undefined on a type error. */
export function readBool(value: ExactJson | undefined): boolean | undefined {
  if (value === undefined || value === null) return false;
  return typeof value === 'boolean' ? value : undefined;
}

/** Converts to plain JS values (numbers through double), for canonical hashing paths. */
export function toPlainJson(value: ExactJson): unknown {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (value instanceof JsonNumber) return value.toNumber();
  if (Array.isArray(value)) return value.map(toPlainJson);
  const out: Record<string, unknown> = {};
  for (const [key, item] of uniqueMembers(value)) {
    // defineProperty: a member named "__proto__" must stay a plain member
    Object.defineProperty(out, key, { value: toPlainJson(item), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
