// The one JSON reader of server and client (spec/server.md §5.2, §8.2): text → a tree that keeps
// number literals as written and object members as an ordered list (duplicates included), read the
// way Go's encoding/json reads bytes. Views on top of the tree: json-views.ts (Go doubles, lossless
// row values) and json-binding.ts (Go struct member binding); wire-layout-view.ts reads the servers'
// pull and snapshot layout with this reader's cursor and scanners, without the tree.

/** A number literal as written in the document (`1.50`, `9007199254740993`, `1e400`). */
export class JsonNumber {
  constructor(readonly raw: string) {}
  /** The literal through a double, as Go's `float64`. */
  toNumber(): number {
    return Number(this.raw);
  }
}

/** An object: every member in document order, a repeated name as often as it was written (names[i] → values[i]). */
export class ExactObject {
  constructor(
    readonly names: string[] = [],
    readonly values: ExactJson[] = [],
  ) {}

  static fromMembers(members: ReadonlyArray<readonly [string, ExactJson]>): ExactObject {
    return new ExactObject(
      members.map(([name]) => name),
      members.map(([, value]) => value),
    );
  }

  /** Every member as `[name, value]`, in document order (a new array: hot paths read names/values). */
  get members(): Array<[string, ExactJson]> {
    return this.names.map((name, i): [string, ExactJson] => [name, this.values[i]!]);
  }
}

/** A parsed JSON value with exact number literals and ordered members. */
export type ExactJson = null | boolean | string | JsonNumber | ExactJson[] | ExactObject;

export function isExactObject(value: ExactJson | undefined): value is ExactObject {
  return value instanceof ExactObject;
}

/** A document that must be one JSON object (a struct to bind), or undefined when it is not JSON or not an object. */
export function parseExactObject(input: string | Uint8Array): ExactObject | undefined {
  let value: ExactJson;
  try {
    value = parseExactJson(input);
  } catch {
    return undefined;
  }
  return isExactObject(value) ? value : undefined;
}

/** The text is not JSON Go's `json.Unmarshal` would accept (syntax, depth, a view's number range). */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    /** UTF-16 offset in the decoded text where reading failed (undefined: a view refused a value). */
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} at offset ${offset}`);
    this.name = 'JsonSyntaxError';
  }
}

/** Go's `encoding/json` nesting limit (`maxNestingDepth`). */
export const MAX_JSON_DEPTH = 10000;
/**
 * Nesting limit of request bodies on the server: PostgreSQL's jsonb input recursion is bounded by
 * its stack depth (a 400, not its error).
 */
export const MAX_REQUEST_JSON_DEPTH = 512;

/**
 * Parses one JSON document (whitespace around it allowed, nothing else). A string is read as its
 * UTF-8 encoding would be (a raw unpaired surrogate is U+FFFD); bytes are decoded as Go does
 * (each byte of an invalid sequence is one U+FFFD). Iterative: `maxDepth` (Go's 10,000 unless a
 * caller needs less) is a clean `JsonSyntaxError`, never a stack overflow.
 */
export function parseExactJson(
  input: string | Uint8Array,
  maxDepth = MAX_JSON_DEPTH,
  stream?: MemberStream,
): ExactJson {
  return new Reader(typeof input === 'string' ? input : decodeUtf8LikeGo(input), maxDepth, stream).document();
}

/**
 * Elements of a top-level member's array handed over one by one while the document is read, so a
 * large array's elements need not all be alive at once (a push chunk's rows). The array stays in the
 * tree, empty. Every top-level member whose name `binds` is streamed: `start` is called when its array
 * opens (a later one replaces an earlier one, as Go's last binding member wins), then `element` once
 * per element in order. A syntax error later in the document still fails the whole parse.
 */
export interface MemberStream {
  /** whether a top-level member of this name is streamed */
  binds(name: string): boolean;
  start(): void;
  element(value: ExactJson): void;
  /**
   * Optional: takes the object element at `pos` (its `{`) straight from the text, without a tree, returning
   * where it ends; or -1 to have it read and given to `element` as usual. Only for elements it can tell are
   * well formed: the reader goes on after it as after any element.
   */
  elementAt?(text: string, pos: number): number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

const NAME_CACHE_SIZE = 256;
const MAX_CACHED_NAME = 32;

/**
 * A position in JSON text, with the steps the reader and the layout view (wire-layout-view.ts) share;
 * the scanning itself is the functions below (`scanPlainString`, `scanJsonNumber`, `scanLiteral`). One
 * class for both: the reader's hot loop inlines this method where a call through a function did not fit.
 */
export class JsonCursor {
  pos = 0;
  private readonly nameCache: Array<string | undefined> = new Array<string | undefined>(NAME_CACHE_SIZE);
  constructor(readonly text: string) {}

  /**
   * The plain member name `text[start, end)`, the same string as the last time it was seen: rows repeat
   * the same names thousands of times, and a fresh string per member is a large share of the garbage
   * (JSON.parse interns names too).
   */
  protected cachedName(start: number, end: number): string {
    const text = this.text;
    const length = end - start;
    if (length === 0 || length > MAX_CACHED_NAME) return text.slice(start, end);
    const slot = (length * 31 + text.charCodeAt(start) * 7 + text.charCodeAt(end - 1)) & (NAME_CACHE_SIZE - 1);
    const cached = this.nameCache[slot];
    if (cached !== undefined && cached.length === length && text.startsWith(cached, start)) return cached;
    const name = text.slice(start, end);
    this.nameCache[slot] = name;
    return name;
  }

  /** The next non-whitespace code unit (NaN at the end), not consumed. */
  skipWhitespace(): number {
    const text = this.text;
    let pos = this.pos;
    let c = text.charCodeAt(pos);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++pos);
    this.pos = pos;
    return c;
  }
}

const DIGITS = Array.from({ length: 10 }, (_, digit) => new JsonNumber(String(digit)));

class Reader extends JsonCursor {
  constructor(
    text: string,
    private readonly maxDepth: number,
    private readonly stream?: MemberStream,
  ) {
    super(text);
  }

  document(): ExactJson {
    const text = this.text;
    // an open array, or an open object as where its members start in `names` / `values`: members are
    // gathered there and copied into exactly sized arrays when the object closes (a row's three objects
    // would otherwise each grow two arrays to 17 slots)
    const frames: Array<ExactJson[] | number> = [];
    const pendingNames: string[] = [];
    const names: string[] = [];
    const values: ExactJson[] = [];
    // members gathered so far in `names` / `values` (slots past it are stale, overwritten as members come)
    let members = 0;
    const stream = this.stream;
    // the array being streamed (a top-level member's), whose elements go to `stream` instead of into it
    let streamed: ExactJson[] | undefined;
    let value: ExactJson;
    for (;;) {
      // one value: a scalar, an empty container, or a container opened (then its first member is read)
      let c = this.skipWhitespace();
      // an element of the streamed array the stream took from the text itself
      let taken = false;
      if (c === 0x7b && streamed !== undefined && frames[frames.length - 1] === streamed) {
        const end = frames.length + 2 < this.maxDepth && stream!.elementAt ? stream!.elementAt(text, this.pos) : -1;
        if (end >= 0) {
          this.pos = end;
          taken = true;
        }
      }
      if (taken) value = null;
      else if (c === 0x7b || c === 0x5b) {
        if (frames.length >= this.maxDepth) this.fail('exceeded max depth');
        this.pos++;
        const next = this.skipWhitespace();
        if (c === 0x5b) {
          const streams =
            stream !== undefined &&
            frames.length === 1 &&
            typeof frames[0] === 'number' &&
            stream.binds(pendingNames[0]!);
          if (streams) stream.start();
          if (next === 0x5d) {
            this.pos++;
            value = [];
          } else {
            const array: ExactJson[] = [];
            if (streams) streamed = array;
            frames.push(array);
            continue;
          }
        } else if (next === 0x7d) {
          this.pos++;
          value = new ExactObject([], []);
        } else {
          frames.push(members);
          pendingNames.push(this.memberName(next));
          continue;
        }
      } else {
        value = this.scalar(c);
      }
      // close every container this value completes; `,` goes back for the next value
      for (;;) {
        const frame = frames[frames.length - 1];
        if (frame === undefined) {
          this.skipWhitespace();
          if (this.pos < text.length) this.fail('invalid character after top-level value');
          return value;
        }
        c = this.skipWhitespace();
        this.pos++;
        if (typeof frame === 'number') {
          names[members] = pendingNames[pendingNames.length - 1]!;
          values[members++] = value;
          if (c === 0x2c) {
            pendingNames[pendingNames.length - 1] = this.memberName(this.skipWhitespace());
            break;
          }
          if (c !== 0x7d) this.unexpected(c, 'after object key:value pair');
          pendingNames.pop();
          frames.pop();
          value = new ExactObject(names.slice(frame, members), values.slice(frame, members));
          members = frame;
        } else {
          if (frame !== streamed) frame.push(value);
          else if (taken) taken = false;
          else stream!.element(value);
          if (c === 0x2c) break;
          if (c !== 0x5d) this.unexpected(c, 'after array element');
          frames.pop();
          value = frame;
        }
      }
    }
  }

  private memberName(c: number): string {
    if (c !== QUOTE) this.unexpected(c, 'looking for beginning of object key string');
    const name = this.name();
    if (this.skipWhitespace() !== 0x3a) this.unexpected(this.text.charCodeAt(this.pos), 'after object key');
    this.pos++;
    return name;
  }

  /** A member name at `pos` (its opening quote); a plain one from the cache. */
  private name(): string {
    const start = this.pos + 1;
    const end = scanPlainString(this.text, start);
    if (end < 0) return this.slowString(start, ~end);
    this.pos = end + 1;
    return this.cachedName(start, end);
  }

  private scalar(c: number): ExactJson {
    switch (c) {
      case QUOTE:
        return this.string();
      case 0x74:
        return this.literal('true', true);
      case 0x66:
        return this.literal('false', false);
      case 0x6e:
        return this.literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.unexpected(c, 'looking for beginning of value');
    }
  }

  private literal<T extends ExactJson>(word: string, value: T): T {
    const end = scanLiteral(this.text, this.pos, word);
    if (end < 0) this.fail(`invalid literal`);
    this.pos = end;
    return value;
  }

  private number(): JsonNumber {
    const text = this.text;
    const start = this.pos;
    const end = scanJsonNumber(text, start);
    if (end < 0) this.numberFailure(start, ~end);
    this.pos = end;
    // single digits (versions, ordinals, flags) are one shared immutable instance each
    return end - start === 1 ? DIGITS[text.charCodeAt(start) - 0x30]! : new JsonNumber(text.slice(start, end));
  }

  /** A string literal at `pos` (its opening quote); escapes and surrogates decoded as Go does. */
  private string(): string {
    const start = this.pos + 1;
    const end = scanPlainString(this.text, start);
    if (end < 0) return this.slowString(start, ~end);
    this.pos = end + 1;
    return this.text.slice(start, end);
  }

  private slowString(start: number, from: number): string {
    const text = this.text;
    let out = text.slice(start, from);
    let pos = from;
    let run = pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === QUOTE) break;
      if (c !== c) this.failAt('unexpected end of JSON input', pos);
      if (c < 0x20) this.failAt('invalid character in string literal', pos);
      if (c === BACKSLASH) {
        out += text.slice(run, pos);
        const [decoded, length] = this.escape(pos);
        out += decoded;
        pos += length;
        run = pos;
      } else if (c >= 0xd800 && c <= 0xdfff) {
        // a raw unpaired surrogate: what UTF-8 encoding the text would make of it (Go sees U+FFFD)
        if (c <= 0xdbff && isLowSurrogate(text.charCodeAt(pos + 1))) pos += 2;
        else {
          out += text.slice(run, pos) + '\ufffd';
          run = ++pos;
        }
      } else pos++;
    }
    this.pos = pos + 1;
    return out + text.slice(run, pos);
  }

  /** The escape at `pos` (its backslash): decoded text and its length in the document. */
  private escape(pos: number): [string, number] {
    const text = this.text;
    const c = text.charCodeAt(pos + 1);
    switch (c) {
      case QUOTE:
        return ['"', 2];
      case BACKSLASH:
        return ['\\', 2];
      case 0x2f:
        return ['/', 2];
      case 0x62:
        return ['\b', 2];
      case 0x66:
        return ['\f', 2];
      case 0x6e:
        return ['\n', 2];
      case 0x72:
        return ['\r', 2];
      case 0x74:
        return ['\t', 2];
      case 0x75: {
        const unit = this.hex4(pos + 2);
        if (unit < 0xd800 || unit > 0xdfff) return [String.fromCharCode(unit), 6];
        // a pair of escapes is one code point; any other surrogate is U+FFFD and the next escape is read on its own
        if (unit <= 0xdbff && text.charCodeAt(pos + 6) === BACKSLASH && text.charCodeAt(pos + 7) === 0x75) {
          const low = hex4At(text, pos + 8);
          if (isLowSurrogate(low)) return [String.fromCharCode(unit, low), 12];
        }
        return ['\ufffd', 6];
      }
      default:
        return this.failAt('invalid character in string escape code', pos + 1);
    }
  }

  private hex4(pos: number): number {
    const unit = hex4At(this.text, pos);
    if (unit < 0) this.failAt('invalid character in \\u hexadecimal character escape', pos);
    return unit;
  }

  private unexpected(c: number, context: string): never {
    if (c !== c) this.fail('unexpected end of JSON input');
    return this.fail(`invalid character ${JSON.stringify(String.fromCharCode(c))} ${context}`);
  }

  private fail(message: string): never {
    throw new JsonSyntaxError(message, this.pos);
  }

  /** Go's wording of the failure `scanJsonNumber` found at `offset` in the literal starting at `start`. */
  private numberFailure(start: number, offset: number): never {
    const before = this.text.slice(start, offset);
    if (/[eE][+-]?$/.test(before)) this.failAt('invalid character in exponent of numeric literal', offset);
    if (before.endsWith('.')) this.failAt('invalid character after decimal point in numeric literal', offset);
    return this.failAt('invalid character in numeric literal', offset);
  }

  private failAt(message: string, offset: number): never {
    throw new JsonSyntaxError(message, offset);
  }
}

// ---------- scanning primitives: the Reader's, and the layout view's (wire-layout-view.ts) --------

/** The end of `word` when the text continues with it at `pos` (`true`, `null`, punctuation), else `~pos`. */
export function scanLiteral(text: string, pos: number, word: string): number {
  return text.startsWith(word, pos) ? pos + word.length : ~pos;
}

/**
 * The position of the closing quote of the string whose content starts at `start` when that content
 * is plain text, read as written (no escape, control character or surrogate), else `~offset` of the
 * first code unit that is not (the end of the text included): the reader decodes from there.
 */
export function scanPlainString(text: string, start: number): number {
  let pos = start;
  for (;;) {
    const c = text.charCodeAt(pos);
    if (c === QUOTE) return pos;
    if (c === BACKSLASH || c < 0x20 || (c >= 0xd800 && c <= 0xdfff) || c !== c) return ~pos;
    pos++;
  }
}

/**
 * The end of the JSON number literal at `pos` (RFC 8259's grammar: `-`, no leading zero, a fraction
 * and an exponent each with at least one digit), or `~offset` (a negative number) of the first
 * character that breaks it. The one number grammar of the protocol.
 */
export function scanJsonNumber(text: string, pos: number): number {
  if (text.charCodeAt(pos) === 0x2d) pos++;
  let c = text.charCodeAt(pos);
  if (c === 0x30) c = text.charCodeAt(++pos);
  else if (c >= 0x31 && c <= 0x39) c = text.charCodeAt((pos = digitsEnd(text, pos + 1)));
  else return ~pos;
  if (c === 0x2e) {
    const end = digitsEnd(text, pos + 1);
    if (end === pos + 1) return ~end;
    c = text.charCodeAt((pos = end));
  }
  if (c === 0x65 || c === 0x45) {
    c = text.charCodeAt(++pos);
    if (c === 0x2b || c === 0x2d) pos++;
    const end = digitsEnd(text, pos);
    if (end === pos) return ~end;
    pos = end;
  }
  return pos;
}

/** Whether the literal `text[start, end)` scanned by `scanJsonNumber` has no fraction and no exponent. */
export function isIntegerLiteral(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e || c === 0x65 || c === 0x45) return false;
  }
  return true;
}

function digitsEnd(text: string, pos: number): number {
  let c = text.charCodeAt(pos);
  while (c >= 0x30 && c <= 0x39) c = text.charCodeAt(++pos);
  return pos;
}

/** Four hex digits at `pos` as a code unit, or -1. */
function hex4At(text: string, pos: number): number {
  let unit = 0;
  for (let i = pos; i < pos + 4; i++) {
    const c = text.charCodeAt(i);
    const digit =
      c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (digit < 0) return -1;
    unit = unit * 16 + digit;
  }
  return unit;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

// ---------- UTF-8 as Go reads it ---------------------------------------------------------------

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
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean =>
    i + k < bytes.length && bytes[i + k]! >= lo && bytes[i + k]! <= hi;
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
