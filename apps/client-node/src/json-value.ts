import { compareUtf8, toWellFormed } from '@oversync/protocol';

/**
 * JSON that keeps 64-bit integers exact. SQLite rows carry int64 values that `JSON.parse` would
 * round above 2^53 (spec/client.md §15 item 13); here such integers become `bigint`.
 */

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [member: string]: JsonValue;
}

export class JsonSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
/** Go's `encoding/json` nesting limit. */
const MAX_NESTING_DEPTH = 10000;
const WHITESPACE = /[ \t\n\r]*/y;

/** True when some number in the value satisfies `test` (iterative: parsed documents may nest deeply). */
function someNumber(root: JsonValue, test: (value: number) => boolean): boolean {
  const pending: JsonValue[] = [root];
  for (let value = pending.pop(); value !== undefined; value = pending.pop()) {
    if (typeof value === 'number') {
      if (test(value)) return true;
    } else if (value !== null && typeof value === 'object') {
      if (Array.isArray(value)) for (const item of value) pending.push(item);
      else for (const name in value) pending.push(value[name]!);
    }
  }
  return false;
}

const nonFinite = (value: number) => !Number.isFinite(value);

/**
 * Parses JSON the way Go's decoder reads it: integers outside ±(2^53−1) become `bigint`, objects have
 * no prototype, members keep their order and duplicates (Go binding: the last match wins) and nesting
 * is limited to Go's depth. `JSON.parse` cannot say which: it merges duplicate members and nests
 * without limit, so it is not a shortcut here.
 */
export function parseJson(text: string): JsonValue {
  return parseJsonExact(text);
}

function parseJsonExact(text: string): JsonValue {
  const parser = new Parser(text);
  const value = parser.value();
  parser.skipWhitespace();
  if (parser.pos !== text.length) throw new JsonSyntaxError(`unexpected trailing data at offset ${parser.pos}`);
  return value;
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Parses a JSON object or throws with `what` in the message. */
export function parseJsonObject(text: string, what: string): JsonObject {
  const value = parseJson(text);
  if (!isJsonObject(value)) throw new JsonSyntaxError(`${what} must be a JSON object`);
  return value;
}

/** Every member in document order of the parsed objects that repeat a member name. */
const REPEATED_MEMBERS = new WeakMap<JsonObject, Array<[string, JsonValue]>>();

/** The members of a parsed object in document order, every occurrence of a repeated name included (Go's struct binding decodes each). */
export function membersInOrder(object: JsonObject): ReadonlyArray<readonly [string, JsonValue]> {
  return REPEATED_MEMBERS.get(object) ?? Object.entries(object);
}

export function emptyJsonObject(): JsonObject {
  return Object.create(null) as JsonObject;
}

/** Compact JSON in member insertion order; `bigint` as plain digits. */
export function stringifyJson(value: JsonValue): string {
  // JSON.stringify writes the same text for everything but bigint (it throws) and non-finite numbers (it writes null)
  try {
    if (!someNumber(value, nonFinite)) return JSON.stringify(value);
  } catch {
    // a bigint: written below
  }
  return stringifyExact(value);
}


function stringifyExact(value: JsonValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new JsonSyntaxError(`non-finite number ${value} cannot be encoded`);
      return String(value);
    case 'bigint':
      return value.toString();
    case 'string':
      return JSON.stringify(value);
    default:
      if (Array.isArray(value)) return `[${value.map(stringifyExact).join(',')}]`;
      return `{${Object.keys(value)
        .map((member) => `${JSON.stringify(member)}:${stringifyExact(value[member]!)}`)
        .join(',')}}`;
  }
}

/**
 * A canonical text for equality tests (members sorted by code point, numbers normalised, big
 * integers exact). Not the wire's hash canonicalisation — that one lives in @oversync/protocol.
 */
export function canonicalEqualityText(value: JsonValue): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint' && Number.isSafeInteger(Number(value))) return String(Number(value));
    return stringifyJson(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalEqualityText).join(',')}]`;
  return `{${sortedMembers(value)
    .map((member) => `${JSON.stringify(member)}:${canonicalEqualityText(value[member]!)}`)
    .join(',')}}`;
}

/** Member names in UTF-8 byte order (= code point order), as canonical JSON requires. */
export function sortedMembers(value: JsonObject): string[] {
  return Object.keys(value).sort(compareUtf8);
}

class Parser {
  pos = 0;
  constructor(private readonly text: string) {}

  skipWhitespace(): void {
    WHITESPACE.lastIndex = this.pos;
    WHITESPACE.exec(this.text);
    this.pos = WHITESPACE.lastIndex;
  }

  /**
   * One value. Iterative over containers (an explicit stack, Go's 10000-level limit): deep input is a
   * clean `JsonSyntaxError`, never a stack overflow.
   */
  value(): JsonValue {
    const stack: Array<{ array: JsonValue[] } | { object: JsonObject; name: string }> = [];
    let value = this.open(stack);
    for (;;) {
      const frame = stack.at(-1);
      if (frame === undefined) return value;
      if ('array' in frame) frame.array.push(value);
      else {
        // The object keeps the last value of a repeated name; every occurrence in order is kept aside
        // for Go's struct binding (membersInOrder), only for objects that repeat a name.
        const all = REPEATED_MEMBERS.get(frame.object);
        if (all) all.push([frame.name, value]);
        else if (Object.hasOwn(frame.object, frame.name)) REPEATED_MEMBERS.set(frame.object, [...Object.entries(frame.object), [frame.name, value]]);
        frame.object[frame.name] = value;
      }
      this.skipWhitespace();
      const next = this.text[this.pos++];
      if (next === ',') {
        if (!('array' in frame)) frame.name = this.memberName();
        value = this.open(stack);
        continue;
      }
      if (next !== ('array' in frame ? ']' : '}')) throw this.error('array' in frame ? "expected ',' or ']'" : "expected ',' or '}'");
      stack.pop();
      value = 'array' in frame ? frame.array : frame.object;
    }
  }

  /** A scalar or an empty container; a non-empty one is pushed and the value of its first item returned. */
  private open(stack: Array<{ array: JsonValue[] } | { object: JsonObject; name: string }>): JsonValue {
    for (;;) {
      this.skipWhitespace();
      const ch = this.text[this.pos];
      if (ch !== '{' && ch !== '[') return this.scalar(ch);
      if (stack.length >= MAX_NESTING_DEPTH) throw this.error('exceeded max depth');
      this.pos++;
      this.skipWhitespace();
      if (ch === '[') {
        const array: JsonValue[] = [];
        if (this.text[this.pos] === ']') {
          this.pos++;
          return array;
        }
        stack.push({ array });
        continue;
      }
      const object = emptyJsonObject();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return object;
      }
      stack.push({ object, name: this.memberName() });
    }
  }

  private memberName(): string {
    this.skipWhitespace();
    if (this.text[this.pos] !== '"') throw this.error('expected member name');
    const name = this.string();
    this.skipWhitespace();
    if (this.text[this.pos] !== ':') throw this.error("expected ':'");
    this.pos++;
    return name;
  }

  private scalar(ch: string | undefined): JsonValue {
    switch (ch) {
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        return this.number();
    }
  }

  private string(): string {
    const start = this.pos;
    let i = start + 1;
    let escaped = false;
    for (; i < this.text.length; i++) {
      const code = this.text.charCodeAt(i);
      if (code === 0x22) break;
      if (code === 0x5c) {
        escaped = true;
        i++;
      } else if (code < 0x20) {
        throw this.error('control character in string');
      }
    }
    if (i >= this.text.length) throw this.error('unterminated string');
    this.pos = i + 1;
    const raw = this.text.slice(start, i + 1);
    if (!escaped) return raw.slice(1, -1);
    try {
      // an escaped lone surrogate is U+FFFD, as Go decodes it (JSON.parse would keep it unpaired)
      return toWellFormed(JSON.parse(raw) as string);
    } catch {
      throw this.error('invalid string escape');
    }
  }

  private literal<T extends JsonValue>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) throw this.error('unexpected token');
    this.pos += word.length;
    return value;
  }

  private number(): number | bigint {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) throw this.error('unexpected token');
    this.pos = NUMBER.lastIndex;
    const text = match[0];
    const asNumber = Number(text);
    if (!Number.isFinite(asNumber)) throw this.error(`number ${text} is out of range`);
    if (match[1] === undefined && match[2] === undefined && !Number.isSafeInteger(asNumber)) return BigInt(text);
    return asNumber;
  }

  private error(what: string): JsonSyntaxError {
    return new JsonSyntaxError(`invalid JSON at offset ${this.pos}: ${what}`);
  }
}
