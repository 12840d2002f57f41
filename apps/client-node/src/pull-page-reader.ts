/**
 * The pull page reader of the worker thread (pull-page-worker.ts): reads a page as the servers lay it
 * out, checks it as §8.3 does, hashes each bundle and posts its rows in batches of records (positions in
 * their text, pull-page-records.ts) while the applying thread writes the rows already posted. It vouches only
 * for the narrowest case, where today's path (layout view, `validatePullPage`, `pulledBundleHash`,
 * `resolveWireRow`, `sqlValuesFromWirePayload`) gives plain strings for sure: payloads of exactly the
 * table's columns, each a plain string or null, keys `{"<key column>":"<plain string>"}`, tables without
 * BLOB columns. Anything else declines the page: the applying thread reads it itself.
 */
import { BundleHasher, compareUtf8, quoteGoJsonString } from '@oversync/protocol';
import {
  type PageBatch,
  type PageEnd,
  type PlainTable,
  type PullPageShape,
  RECORD,
  STATUS,
} from './pull-page-records.js';

/** Rows between publications (and checks of `abandoned`). */
const PUBLISH_ROWS = 128;
const MAX_INT_DIGITS = 15;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** What a plain string's content is checked for (plainStringEnd): escapes, control characters, surrogates, `<>&`. */
const SPECIAL = /[\\\x00-\x1f<>&\u2028\u2029\ud800-\udfff]/g;
const OPS = (['INSERT', 'UPDATE', 'DELETE'] as const).map((op) => ({
  text: `${op}"`,
  keyEndToVersion: `},"op":"${op}","row_version":`,
  tag: { INSERT: RECORD.insert, UPDATE: RECORD.update, DELETE: RECORD.delete }[op],
  op,
}));

class Declined extends Error {}

/** A table's payload members: where each name goes, and the canonical (hash) order and prefixes. */
interface TableShape {
  readonly table: PlainTable;
  readonly keyHead: string;
  readonly column: ReadonlyMap<string, number>;
  /** `"name":` per column, tried first at member i in the order the previous row had */
  readonly quotedNames: readonly string[];
  /** column indices in canonical order and `{"name":` / `,"name":` before each */
  readonly canonicalOrder: readonly number[];
  readonly canonicalPrefixes: readonly string[];
  /** the member order of the previous row (column indices) */
  lastOrder: number[];
}

function shapeOf(table: PlainTable): TableShape {
  const names = table.columns;
  const canonicalOrder = names.map((_, i) => i).sort((a, b) => compareUtf8(names[a]!, names[b]!));
  return {
    table,
    keyHead: `{${quoteGoJsonString(table.keyColumn)}:"`,
    column: new Map(names.map((name, i) => [name, i])),
    quotedNames: names.map((name) => `${quoteGoJsonString(name)}:`),
    canonicalOrder,
    canonicalPrefixes: canonicalOrder.map((index, i) => `${i === 0 ? '{' : ','}${quoteGoJsonString(names[index]!)}:`),
    lastOrder: canonicalOrder.slice(),
  };
}

/** Ran out of text before a unit ended: wait for more (only while the body has not ended). */
class Short extends Error {}

const enum Stage {
  head,
  bundle,
  row,
  tail,
  over,
}

/**
 * Reads a page given a piece at a time (`feed`), a unit (the head, a bundle's head, a row, a bundle's
 * end, the tail) at a time: a unit that runs out of text is read again once more has come. Posts its
 * records to `post` every `PUBLISH_ROWS` rows and at each bundle's end, then the verdict (`PageEnd`).
 * `withText`: each batch carries the text its positions point into (the applying thread has none);
 * else positions are the batch's offsets from its `at` in the whole body.
 */
export class PullPageReader {
  /** the body from `base`; units not yet read and text not yet posted are kept, the rest dropped */
  private body = '';
  private base = 0;
  private pos = 0;
  /** where the text not yet posted starts (in `body`) */
  private unsent = 0;
  private done = false;
  private stage = Stage.head;
  private words = new Int32Array(1024);
  private wordCount = 0;
  private numbers = new Float64Array(256);
  private numberCount = 0;
  private readonly shapes: Map<string, TableShape>;
  /** per column of the row being read: its value's start and end, and the row that set it */
  private starts: number[] = [];
  private ends: number[] = [];
  private seenAt: number[] = [];
  private rowStamp = 0;
  /** A string read since it was last cleared holds something canonical JSON escapes (`<>&`, U+2028/9). */
  private escapes = false;
  /** `body` holds no character a string's content needs looked at (`feed`) */
  private plain = false;
  /** where `specialAt` last found one in `body` (-1: look again) */
  private special = -1;
  /** the last row's text up to its key value, and its table (row) */
  private rowHead = '';
  private headShape: TableShape | undefined;
  private lastOp = 0;
  private stable = 0;
  private previous: number;
  private firstInList = true;
  private bundleSeq = 0;
  private rowCount = 0;
  private bundleHash = '';
  private rows = 0;
  private hasher = new BundleHasher();
  private hasMore = false;
  private verdict: PageEnd['status'] | undefined;

  constructor(
    private readonly shape: PullPageShape,
    private readonly post: (message: PageBatch | PageEnd) => void,
    private readonly withText: boolean,
  ) {
    this.previous = shape.afterBundleSeq;
    this.shapes = new Map(shape.tables.map((table) => [table.name, shapeOf(table)]));
  }

  /** The verdict once given (posted as `PageEnd`). */
  get status(): PageEnd['status'] | undefined {
    return this.verdict;
  }

  /**
   * More of the body (`done`: its end); reads every unit it completes. `plain`: the text holds no character a
   * string's content needs looked at (`plainBytes` of its bytes), which spares looking. Throws what `post` throws.
   */
  feed(text: string, done: boolean, plain = false): void {
    if (this.verdict !== undefined) return;
    if (this.unsent > 0) {
      this.base += this.unsent;
      this.pos -= this.unsent;
      this.body = this.body.slice(this.unsent);
      this.unsent = 0;
    }
    // the text kept from before is plain if it was, or if it holds none now (its special ones were posted)
    this.plain = plain && (this.body.length === 0 || this.plain || !hasSpecial(this.body));
    this.body = this.body.length === 0 ? text : `${this.body}${text}`;
    this.special = -1;
    this.done = done;
    try {
      while (this.verdict === undefined && this.unit()) {
        // one unit read
      }
    } catch (err) {
      if (!(err instanceof Declined)) throw err;
      this.end(STATUS.declined);
    }
  }

  /** One unit: false when it needs more text (it is then read again from its start). */
  private unit(): boolean {
    const at = this.pos;
    const words = this.wordCount;
    const numbers = this.numberCount;
    try {
      switch (this.stage) {
        case Stage.head:
          this.head();
          break;
        case Stage.bundle:
          this.bundle();
          break;
        case Stage.row:
          this.rowOrEnd();
          break;
        case Stage.tail:
          this.tail();
          break;
        case Stage.over:
          break;
      }
      return true;
    } catch (err) {
      if (!(err instanceof Short)) throw err;
      this.pos = at;
      this.wordCount = words;
      this.numberCount = numbers;
      return false;
    }
  }

  private head(): void {
    this.expect('{"stable_bundle_seq":');
    const stable = this.int();
    this.expect(',"bundles":[');
    if (stable < this.shape.afterBundleSeq) this.decline();
    this.emit(RECORD.page, 0, stable);
    this.stable = stable;
    this.stage = Stage.bundle;
  }

  private bundle(): void {
    if (this.lit(']')) {
      this.stage = Stage.tail;
      return;
    }
    if (!this.firstInList) this.expect(',');
    this.expect('{"bundle_seq":');
    const bundleSeq = this.int();
    this.expect(',"source_id":');
    const sourceId = this.string();
    this.expect(',"source_bundle_id":');
    const sourceBundleId = this.int();
    this.expect(',"row_count":');
    const rowCount = this.int();
    this.expect(',"bundle_hash":');
    const bundleHash = this.string();
    this.expect(',"rows":[');
    if (
      bundleSeq <= 0 ||
      !sourceId.trim() ||
      sourceBundleId <= 0 ||
      bundleSeq <= this.previous ||
      bundleSeq > this.stable
    )
      this.decline();
    this.emit(RECORD.bundle, rowCount, bundleSeq);
    this.bundleSeq = bundleSeq;
    this.rowCount = rowCount;
    this.bundleHash = bundleHash;
    this.rows = 0;
    this.hasher = new BundleHasher();
    this.firstInList = true;
    this.stage = Stage.row;
  }

  private rowOrEnd(): void {
    if (this.lit(']')) {
      this.expect('}');
      if (this.rows !== this.rowCount) this.decline();
      this.emit(RECORD.bundleEnd, this.hasher.finish().bundleHash === this.bundleHash ? 1 : 0);
      this.previous = this.bundleSeq;
      this.firstInList = false;
      this.stage = Stage.bundle;
      this.publish();
      return;
    }
    if (!this.firstInList) this.expect(',');
    this.row();
    this.firstInList = false;
    if (++this.rows % PUBLISH_ROWS === 0) this.publish();
  }

  private tail(): void {
    this.expect(',"has_more":');
    const hasMore = this.lit('true') ? true : this.lit('false') ? false : this.decline();
    this.expect('}');
    const body = this.body;
    while (this.pos < body.length && ' \t\n\r'.includes(body[this.pos]!)) this.pos++;
    if (!this.done) this.short();
    if (this.pos !== body.length) this.decline();
    this.hasMore = hasMore;
    this.end(STATUS.read);
  }

  private row(): void {
    const body = this.body;
    // most rows start as the one before: `{"schema":…,"table":…,"key":{"<key column>":"` in one comparison
    let shape = this.headShape;
    if (shape !== undefined && textAt(body, this.rowHead, this.pos)) this.pos += this.rowHead.length;
    else {
      const rowAt = this.pos;
      this.expect('{"schema":');
      if (this.string() !== this.shape.schema) this.decline();
      this.expect(',"table":');
      shape = this.shapes.get(this.string()) ?? this.decline();
      this.expect(',"key":');
      this.expect(shape.keyHead);
      this.rowHead = body.slice(rowAt, this.pos);
      this.headShape = shape;
    }
    const keyAt = this.pos - shape.keyHead.length;
    const keyValueAt = this.pos;
    this.escapes = false;
    const keyValueEnd = this.plainStringEnd();
    const keyEscapes = this.escapes;
    // `},"op":"<op>","row_version":`, the op before tried first
    let op = OPS[this.lastOp]!;
    if (textAt(body, op.keyEndToVersion, this.pos)) this.pos += op.keyEndToVersion.length;
    else {
      this.expect('}');
      this.expect(',"op":"');
      op = OPS.find((candidate) => this.lit(candidate.text)) ?? this.decline();
      this.expect(',"row_version":');
      this.lastOp = OPS.indexOf(op);
    }
    const keyEnd = keyValueEnd + 2;
    const rowVersion = this.int();
    if (rowVersion <= 0) this.decline();
    const columns = op.tag === RECORD.delete ? 0 : shape.table.columns.length;
    const at = this.reserve(4 + 2 * columns);
    const { words, unsent } = this;
    words[at] = op.tag;
    words[at + 1] = shape.table.index;
    words[at + 2] = keyValueAt - unsent;
    words[at + 3] = keyValueEnd - unsent;
    // a DELETE's payload is not hashed: one present (ignored by the apply too) is left to today's path
    const payload = op.tag === RECORD.delete ? null : (this.expect(',"payload":'), this.payload(shape, at + 4));
    if (!this.char(0x7d)) this.decline();
    // hashed only once the whole row is read (a row read again from its start is hashed once)
    const keyText = body.slice(keyAt, keyEnd);
    this.hasher.add(
      { schema: this.shape.schema, table: shape.table.name, op: op.op, rowVersion },
      keyEscapes ? canonicalKeyText(keyText) : keyText,
      payload,
    );
    this.addNumber(rowVersion);
    this.wordCount = at + 4 + 2 * columns;
  }

  /** A flat object of exactly the table's columns, plain strings or null; returns its canonical text. */
  private payload(shape: TableShape, out: number): string {
    const body = this.body;
    const payloadAt = this.pos;
    const { starts, ends, seenAt } = this;
    const stamp = ++this.rowStamp;
    const columns = shape.table.columns.length;
    if (!this.char(0x7b)) this.decline();
    let members = 0;
    let inCanonicalOrder = true;
    this.escapes = false;
    do {
      const expected = shape.lastOrder[members];
      let index: number;
      if (expected !== undefined && textAt(body, shape.quotedNames[expected]!, this.pos)) {
        this.pos += shape.quotedNames[expected]!.length;
        index = expected;
      } else {
        this.expect('"');
        const nameAt = this.pos;
        const nameEnd = this.plainStringEnd();
        this.expect(':');
        index = shape.column.get(body.slice(nameAt, nameEnd)) ?? this.decline();
        shape.lastOrder[members] = index;
      }
      if (seenAt[index] === stamp || members >= columns) this.decline();
      seenAt[index] = stamp;
      if (shape.canonicalOrder[members] !== index) inCanonicalOrder = false;
      members++;
      if (this.char(QUOTE)) {
        starts[index] = this.pos;
        ends[index] = this.plainStringEnd();
      } else if (this.lit('null')) {
        starts[index] = -1;
        ends[index] = -1;
      } else this.decline();
    } while (this.char(0x2c));
    if (!this.char(0x7d) || members !== columns) this.decline();
    const { words, unsent } = this;
    for (let i = 0; i < columns; i++) {
      const start = starts[i]!;
      words[out + 2 * i] = start < 0 ? -1 : start - unsent;
      words[out + 2 * i + 1] = start < 0 ? -1 : ends[i]! - unsent;
    }
    // (member names are plain and canonical: pull-page-pipeline.ts sends only such tables)
    if (inCanonicalOrder && !this.escapes) return body.slice(payloadAt, this.pos);
    // members reordered (PostgreSQL's jsonb keeps shorter names first); plain values need no quoting pass
    const escapes = this.escapes;
    let text = '';
    for (let i = 0; i < columns; i++) {
      const index = shape.canonicalOrder[i]!;
      const start = starts[index]!;
      const value = start < 0 ? 'null' : body.slice(start, ends[index]);
      text += shape.canonicalPrefixes[i]! + (start < 0 ? value : escapes ? quoteGoJsonString(value) : `"${value}"`);
    }
    return `${text}}`;
  }

  /** A plain string's content (the opening quote read): returns its end and moves past the closing quote. */
  private plainStringEnd(): number {
    const body = this.body;
    const end = body.indexOf('"', this.pos);
    // no character to look at before the closing quote: the usual case, found by two searches a page
    if (end >= 0 && end < this.specialAt(this.pos)) {
      this.pos = end + 1;
      return end;
    }
    let pos = this.pos;
    for (let c = body.charCodeAt(pos); c !== QUOTE; c = body.charCodeAt(++pos)) {
      if (c < 0x3f) {
        if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) {
          if (c < 0x20) this.decline();
          this.escapes = true;
        }
      } else if (c !== c) this.short();
      else if (c === BACKSLASH || (c >= 0xd800 && c <= 0xdfff)) this.decline();
      else if (c === 0x2028 || c === 0x2029) this.escapes = true;
    }
    this.pos = pos + 1;
    return pos;
  }

  /** The first character from `from` on that a string's content needs looked at (`body.length` if none). */
  private specialAt(from: number): number {
    if (this.plain) return this.body.length;
    if (this.special < from) {
      SPECIAL.lastIndex = from;
      this.special = SPECIAL.test(this.body) ? SPECIAL.lastIndex - 1 : this.body.length;
    }
    return this.special;
  }

  private string(): string {
    this.expect('"');
    const start = this.pos;
    return this.body.slice(start, this.plainStringEnd());
  }

  /** A non-negative integer literal of at most 15 digits (exact as a double), as the layout view reads int64. */
  private int(): number {
    const body = this.body;
    const start = this.pos;
    let value = 0;
    let pos = start;
    for (let c = body.charCodeAt(pos); c >= 0x30 && c <= 0x39; c = body.charCodeAt(++pos))
      value = value * 10 + c - 0x30;
    if (pos === body.length) this.short();
    const digits = pos - start;
    if (digits === 0 || digits > MAX_INT_DIGITS || (digits > 1 && body.charCodeAt(start) === 0x30)) this.decline();
    this.pos = pos;
    return value;
  }

  /** Whether `text` is next (and moves past it); a body that ends inside it is `Short`. */
  private lit(text: string): boolean {
    const body = this.body;
    const next = body.slice(this.pos, this.pos + text.length);
    if (next === text) {
      this.pos += text.length;
      return true;
    }
    if (next.length < text.length && text.startsWith(next)) this.short();
    return false;
  }

  /** Whether the character `code` is next (and moves past it); a body that ends here is `Short`. */
  private char(code: number): boolean {
    const c = this.body.charCodeAt(this.pos);
    if (c === code) {
      this.pos++;
      return true;
    }
    if (c !== c) this.short();
    return false;
  }

  private expect(text: string): void {
    if (!this.lit(text)) this.decline();
  }

  private decline(): never {
    throw new Declined();
  }

  private short(): never {
    throw this.done ? new Declined() : new Short();
  }

  /** Room for `count` more words (the arrays double as needed); returns where they start. */
  private reserve(count: number): number {
    const at = this.wordCount;
    if (at + count > this.words.length) {
      const grown = new Int32Array(Math.max(2 * this.words.length, at + count));
      grown.set(this.words.subarray(0, at));
      this.words = grown;
    }
    return at;
  }

  private addNumber(value: number): void {
    if (this.numberCount === this.numbers.length) {
      const grown = new Float64Array(2 * this.numbers.length);
      grown.set(this.numbers);
      this.numbers = grown;
    }
    this.numbers[this.numberCount++] = value;
  }

  private emit(tag: number, word: number, number?: number): void {
    const at = this.reserve(2);
    this.words[at] = tag;
    this.words[at + 1] = word;
    this.wordCount = at + 2;
    if (number !== undefined) this.addNumber(number);
  }

  /** Posts the records since the last batch (with their text up to here, when it carries text). */
  private publish(): void {
    if (this.wordCount === 0 && !(this.withText && this.pos > this.unsent)) return;
    const at = this.base + this.unsent;
    const batch: PageBatch = {
      kind: 'batch',
      at,
      text: this.withText ? this.body.slice(this.unsent, this.pos) : undefined,
      words: this.words.slice(0, this.wordCount),
      numbers: this.numbers.slice(0, this.numberCount),
    };
    this.wordCount = 0;
    this.numberCount = 0;
    if (this.withText) this.unsent = this.pos;
    this.post(batch);
  }

  private end(status: PageEnd['status']): void {
    if (status === STATUS.read) this.publish();
    this.stage = Stage.over;
    this.verdict = status;
    this.post({ kind: 'end', status, hasMore: this.hasMore });
  }
}

/** Whether `text` is in `body` at `pos`: a slice compared (V8 compares it at once; `startsWith` is ≈ 3 × slower). */
function textAt(body: string, text: string, pos: number): boolean {
  return body.slice(pos, pos + text.length) === text;
}

/** Whether the text holds a character a string's content needs looked at. */
function hasSpecial(text: string): boolean {
  SPECIAL.lastIndex = 0;
  return SPECIAL.test(text);
}

/**
 * Whether UTF-8 bytes hold only characters a plain string's content takes as they are: ASCII from
 * U+0020 on, without `\\ < > &` (four bytes at a time: a byte under 0x20 borrows into, and one from 0x80
 * has, its top bit). Their text then holds nothing `plainStringEnd` needs to look at.
 */
export function plainBytes(bytes: Uint8Array): boolean {
  const end = bytes.length;
  let i = 0;
  const plainByte = (c: number) => c >= 0x20 && c < 0x80;
  for (; i < end && (bytes.byteOffset + i) % 4 !== 0; i++) if (!plainByte(bytes[i]!)) return false;
  if (i < end) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset + i, (end - i) >> 2);
    for (let k = 0; k < words.length; k++) {
      const w = words[k]!;
      if (((w - 0x20202020) | w) & 0x80808080) return false;
    }
    i += words.length * 4;
  }
  for (; i < end; i++) if (!plainByte(bytes[i]!)) return false;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, end);
  return view.indexOf(0x5c) < 0 && view.indexOf(0x3c) < 0 && view.indexOf(0x3e) < 0 && view.indexOf(0x26) < 0;
}

/** A key text `{"<name>":"<value>"}` whose value holds what canonical JSON escapes, as canonical JSON writes it. */
function canonicalKeyText(keyText: string): string {
  const head = keyText.indexOf(':"');
  return `${keyText.slice(0, head + 1)}${quoteGoJsonString(keyText.slice(head + 2, -2))}}`;
}
