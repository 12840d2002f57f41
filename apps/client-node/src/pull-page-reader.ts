/**
 * The pull page reader of the worker thread (pull-page-worker.ts): reads a page as the servers lay it
 * out, checks it as §8.3 does, hashes each bundle and writes its rows as positions into shared memory
 * (pull-page-records.ts) while the applying thread writes the rows already published. A page is read
 * whole or as its text arrives (`feed`): each step (the page's head, a bundle's head, a row, a bundle's
 * end, the tail) is taken only once all its text is there, so a piece that ends mid-row waits for the
 * next. A streamed page's text goes on to the applying thread in row-aligned pieces. It vouches only
 * for the narrowest case, where today's path (layout view, `validatePullPage`, `pulledBundleHash`,
 * `resolveWireRow`, `sqlValuesFromWirePayload`) gives plain strings for sure: payloads of exactly the
 * table's columns, each a plain string or null, keys `{"<key column>":"<plain string>"}`, tables without
 * BLOB columns. Anything else declines the page: the applying thread reads it itself.
 */
import type { MessagePort } from 'node:worker_threads';
import { BundleHasher, compareUtf8, quoteGoJsonString } from '@oversync/protocol';
import {
  CONTROL,
  float64View,
  growBuffer,
  int32View,
  type PageReading,
  type PlainTable,
  RECORD,
  STATUS,
  TEXT,
} from './pull-page-records.js';

/** Rows between publications (and checks of `abandoned`). */
const PUBLISH_ROWS = 128;
const MAX_INT_DIGITS = 15;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPS = [
  { text: 'INSERT"', tag: RECORD.insert, op: 'INSERT' },
  { text: 'UPDATE"', tag: RECORD.update, op: 'UPDATE' },
  { text: 'DELETE"', tag: RECORD.delete, op: 'DELETE' },
] as const;

class Declined extends Error {}
class Abandoned extends Error {}
class NeedMore extends Error {}
/** Thrown where a step needs text that has not arrived yet (one object: no stack taken each time). */
const NEED_MORE = new NeedMore('a step needs text that has not arrived yet');

/** Where the reader is in the page: the next step to take. */
const STEP = { head: 0, bundle: 1, row: 2, afterRow: 3, bundleEnd: 4, afterBundle: 5, tail: 6, done: 7 } as const;
type Step = (typeof STEP)[keyof typeof STEP];

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

export class PullPageReader {
  /** the text being read: the whole body, or (streamed) the body from `pieceStart` on as it arrived */
  private body = '';
  private pos = 0;
  /** no more text comes after `body` */
  private final = false;
  private readonly control: Int32Array;
  private records: Int32Array;
  private numbers: Float64Array;
  private words = 0;
  private count = 0;
  private readonly shapes: Map<string, TableShape>;
  /** per column of the row being read: its value's start and end, and the row that set it */
  private starts: number[] = [];
  private ends: number[] = [];
  private seenAt: number[] = [];
  private rowStamp = 0;
  /** A string read since it was last cleared holds something canonical JSON escapes (`<>&`, U+2028/9). */
  private escapes = false;
  private step: Step = STEP.head;
  private stable = 0;
  private previous: number;
  private hasMore = false;
  /** the bundle being read */
  private bundleSeq = 0;
  private rowCount = 0;
  private bundleHash = '';
  private hasher = new BundleHasher();
  private rows = 0;
  /** streamed: where in `body` the text not yet posted starts (record positions count from it) */
  private pieceStart = 0;
  /** streamed: the word of the pending `piece` record */
  private pieceRecord = 0;
  /** streamed, once declined or abandoned: the rest of the text, posted whole at its end */
  private rest: string[] | undefined;

  /** `pieces`: a streamed page's port for its text (absent: a page given whole, positions in its body). */
  constructor(
    private readonly task: PageReading,
    private readonly pieces?: MessagePort,
  ) {
    this.control = new Int32Array(task.control);
    this.records = int32View(task.records);
    this.numbers = float64View(task.numbers);
    this.shapes = new Map(task.tables.map((table) => [table.name, shapeOf(table)]));
    this.previous = task.afterBundleSeq;
    if (pieces) this.emit(RECORD.piece, undefined);
  }

  /** Reads a page given whole and says how it ended in the control words. */
  read(body: string): void {
    this.feed(body, true);
  }

  /**
   * The page's next text (`final`: the last); reads every step it completes. Once the page is read,
   * declined or abandoned, says so in the control words; a streamed page's text still goes on.
   */
  feed(text: string, final: boolean): void {
    this.final = final;
    if (this.rest) {
      this.rest.push(text);
      if (final) this.postRest();
      return;
    }
    // joined, not `+`: a flat string (a concatenation's, or a slice's, costs an indirection every character read)
    this.body = this.body.length === this.pieceStart ? text : [this.body.slice(this.pieceStart), text].join('');
    this.pos -= this.pieceStart;
    this.pieceStart = 0;
    try {
      while (this.step !== STEP.done) {
        const from = this.pos;
        try {
          this.take();
        } catch (err) {
          if (err !== NEED_MORE) throw err;
          this.pos = from;
          this.publish();
          return;
        }
      }
      this.finish(STATUS.read);
    } catch (err) {
      if (!(err instanceof Declined) && !(err instanceof Abandoned)) throw err;
      this.finish(STATUS.declined);
    }
  }

  /** A streamed page's body could not be read to its end: declined, if it was still being read; no text comes. */
  fail(): void {
    if (this.step !== STEP.done) this.finish(STATUS.declined);
    this.rest = undefined;
  }

  private take(): void {
    switch (this.step) {
      case STEP.head: {
        this.expect('{"stable_bundle_seq":');
        const stable = this.int();
        this.expect(',"bundles":[');
        const empty = this.lit(']');
        if (stable < this.task.afterBundleSeq) this.decline();
        this.emit(RECORD.page, stable);
        this.stable = stable;
        this.step = empty ? STEP.tail : STEP.bundle;
        return;
      }
      case STEP.bundle:
        return this.bundleHead();
      case STEP.row:
        this.row();
        this.step = STEP.afterRow;
        // (a streamed page publishes where its text runs out instead: one piece per chunk that arrived)
        if (++this.rows % PUBLISH_ROWS === 0 && !this.pieces) this.publish();
        return;
      case STEP.afterRow:
        if (this.lit(',')) this.step = STEP.row;
        else {
          this.expect(']');
          this.step = STEP.bundleEnd;
        }
        return;
      case STEP.bundleEnd:
        this.expect('}');
        if (this.rows !== this.rowCount) this.decline();
        this.emit(RECORD.bundleEnd, undefined, this.hasher.finish().bundleHash === this.bundleHash ? 1 : 0);
        this.step = STEP.afterBundle;
        this.publish();
        return;
      case STEP.afterBundle:
        if (this.lit(',')) this.step = STEP.bundle;
        else {
          this.expect(']');
          this.step = STEP.tail;
        }
        return;
      case STEP.tail:
        return this.tail();
      case STEP.done:
        return;
    }
  }

  private bundleHead(): void {
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
    const empty = this.lit(']');
    if (
      bundleSeq <= 0 ||
      !sourceId.trim() ||
      sourceBundleId <= 0 ||
      bundleSeq <= this.previous ||
      bundleSeq > this.stable
    )
      this.decline();
    this.emit(RECORD.bundle, bundleSeq, rowCount);
    this.previous = bundleSeq;
    this.bundleSeq = bundleSeq;
    this.rowCount = rowCount;
    this.bundleHash = bundleHash;
    this.hasher = new BundleHasher();
    this.rows = 0;
    this.step = empty ? STEP.bundleEnd : STEP.row;
  }

  private tail(): void {
    this.expect(',"has_more":');
    const hasMore = this.lit('true') ? true : this.lit('false') ? false : this.decline();
    this.expect('}');
    const body = this.body;
    while (this.pos < body.length && ' \t\n\r'.includes(body[this.pos]!)) this.pos++;
    if (this.pos !== body.length) this.decline();
    if (!this.final) throw NEED_MORE;
    this.hasMore = hasMore;
    this.step = STEP.done;
  }

  /** One row, its records written and its hash added only once all of its text was read. */
  private row(): void {
    const body = this.body;
    this.expect('{"schema":');
    const schema = this.string();
    if (schema !== this.task.schema) this.decline();
    this.expect(',"table":');
    const tableName = this.string();
    const shape = this.shapes.get(tableName) ?? this.decline();
    this.expect(',"key":');
    const keyAt = this.pos;
    this.expect(shape.keyHead);
    const keyValueAt = this.pos;
    this.escapes = false;
    const keyValueEnd = this.plainStringEnd();
    const keyEscapes = this.escapes;
    this.expect('}');
    const keyEnd = this.pos;
    this.expect(',"op":"');
    const op = OPS.find((candidate) => this.lit(candidate.text)) ?? this.decline();
    this.expect(',"row_version":');
    const rowVersion = this.int();
    if (rowVersion <= 0) this.decline();
    const keyText = body.slice(keyAt, keyEnd);
    const row = { schema, table: tableName, op: op.op, rowVersion };
    const isDelete = op.tag === RECORD.delete;
    const words = 4 + (isDelete ? 0 : 2 * shape.table.columns.length);
    const at = this.reserve(words);
    const { records, pieceStart } = this;
    records[at] = op.tag;
    records[at + 1] = shape.table.index;
    records[at + 2] = keyValueAt - pieceStart;
    records[at + 3] = keyValueEnd - pieceStart;
    let payload: string | null = null;
    // a DELETE's payload is not hashed: one present (ignored by the apply too) is left to today's path
    if (!isDelete) {
      this.expect(',"payload":');
      payload = this.payload(shape, at + 4);
    }
    this.expect('}');
    this.hasher.add(row, keyEscapes ? canonicalKeyText(keyText) : keyText, payload);
    this.numbers[this.count++] = rowVersion;
    this.words = at + words;
  }

  /** A flat object of exactly the table's columns, plain strings or null; returns its canonical text. */
  private payload(shape: TableShape, out: number): string {
    const body = this.body;
    const payloadAt = this.pos;
    const { starts, ends, seenAt } = this;
    const stamp = ++this.rowStamp;
    const columns = shape.table.columns.length;
    this.expect('{');
    let members = 0;
    let inCanonicalOrder = true;
    this.escapes = false;
    do {
      const expected = shape.lastOrder[members];
      let index: number;
      if (expected !== undefined && body.startsWith(shape.quotedNames[expected]!, this.pos + 1)) {
        this.pos += 1 + shape.quotedNames[expected]!.length;
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
      if (this.lit('null')) {
        starts[index] = -1;
        ends[index] = -1;
      } else {
        this.expect('"');
        starts[index] = this.pos;
        ends[index] = this.plainStringEnd();
      }
    } while (this.lit(','));
    this.expect('}');
    if (members !== columns) this.decline();
    const { records, pieceStart } = this;
    for (let i = 0; i < columns; i++) {
      const start = starts[i]!;
      records[out + 2 * i] = start < 0 ? -1 : start - pieceStart;
      records[out + 2 * i + 1] = start < 0 ? -1 : ends[i]! - pieceStart;
    }
    // (member names are plain and canonical: pull-page-pipeline.ts sends only such tables)
    if (inCanonicalOrder && !this.escapes) return body.slice(payloadAt, this.pos);
    let text = '';
    for (let i = 0; i < columns; i++) {
      const index = shape.canonicalOrder[i]!;
      const start = starts[index]!;
      text += shape.canonicalPrefixes[i]! + (start < 0 ? 'null' : quoteGoJsonString(body.slice(start, ends[index])));
    }
    return `${text}}`;
  }

  /** A plain string's content (the opening quote read): returns its end and moves past the closing quote. */
  private plainStringEnd(): number {
    const body = this.body;
    let pos = this.pos;
    for (let c = body.charCodeAt(pos); c !== QUOTE; c = body.charCodeAt(++pos)) {
      if (c < 0x3f) {
        if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) {
          if (c < 0x20) this.decline();
          this.escapes = true;
        }
      } else if (c === BACKSLASH || c !== c || (c >= 0xd800 && c <= 0xdfff)) {
        if (c !== c && !this.final) throw NEED_MORE;
        this.decline();
      } else if (c === 0x2028 || c === 0x2029) this.escapes = true;
    }
    this.pos = pos + 1;
    return pos;
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
    if (pos === body.length && !this.final) throw NEED_MORE;
    const digits = pos - start;
    if (digits === 0 || digits > MAX_INT_DIGITS || (digits > 1 && body.charCodeAt(start) === 0x30)) this.decline();
    this.pos = pos;
    return value;
  }

  /** Reads `text` if it is next; throws `NEED_MORE` where the text so far ends in a part of it. */
  private lit(text: string): boolean {
    const body = this.body;
    if (!body.startsWith(text, this.pos)) {
      if (!this.final && body.length - this.pos < text.length && text.startsWith(body.slice(this.pos))) throw NEED_MORE;
      return false;
    }
    this.pos += text.length;
    return true;
  }

  private expect(text: string): void {
    if (!this.lit(text)) this.decline();
  }

  private decline(): never {
    throw new Declined();
  }

  /** Room for a record of `words` and a number (a streamed page's buffers grow; a whole page's were sized for it). */
  private reserve(words: number): number {
    if (this.words + words > this.records.length) {
      if (!growBuffer(this.task.records, 4 * (this.words + words))) this.decline();
      this.records = int32View(this.task.records);
    }
    if (this.count >= this.numbers.length) {
      if (!growBuffer(this.task.numbers, 8 * (this.count + 1))) this.decline();
      this.numbers = float64View(this.task.numbers);
    }
    return this.words;
  }

  private emit(tag: number, number: number | undefined, word?: number): void {
    const at = this.reserve(2);
    this.records[at] = tag;
    this.records[at + 1] = word ?? 0;
    this.words = at + 2;
    if (number !== undefined) this.numbers[this.count++] = number;
  }

  /**
   * Makes the records written so far visible; a streamed page first posts their text (the body up to the
   * end of the last step taken) and opens the next piece.
   */
  private publish(): void {
    const control = this.control;
    if (Atomics.load(control, CONTROL.abandoned) !== 0) throw new Abandoned();
    if (this.pieces) {
      if (this.pos === this.pieceStart && this.words === this.pieceRecord + 2) return;
      this.pieces.postMessage(this.body.slice(this.pieceStart, this.pos));
      this.pieceStart = this.pos;
      Atomics.store(control, CONTROL.published, this.words);
      this.pieceRecord = this.words;
      this.emit(RECORD.piece, undefined);
    } else Atomics.store(control, CONTROL.published, this.words);
    this.notify();
  }

  /**
   * The page's verdict. Read: every record published, then the status (whoever reads a final status reads
   * the final count). Declined or abandoned: only what was published before stays so; a streamed page's
   * text not yet posted is kept, with what still comes, for one last piece once the body is over.
   */
  private finish(status: number): void {
    const control = this.control;
    Atomics.store(control, CONTROL.hasMore, this.hasMore ? 1 : 0);
    this.step = STEP.done;
    if (status === STATUS.read) {
      if (this.pieces) this.pieces.postMessage(this.body.slice(this.pieceStart));
      Atomics.store(control, CONTROL.published, this.words);
      if (this.pieces) Atomics.store(control, CONTROL.text, TEXT.posted);
    } else if (this.pieces) {
      this.rest = [this.body.slice(this.pieceStart)];
      this.body = '';
    }
    Atomics.store(control, CONTROL.status, status);
    if (this.rest && this.final) this.postRest();
    else this.notify();
  }

  /** A streamed page declined or abandoned, its body over: the text not posted before, as one last piece. */
  private postRest(): void {
    this.pieces!.postMessage(this.rest!.join(''));
    this.rest = [];
    Atomics.store(this.control, CONTROL.text, TEXT.posted);
    this.notify();
  }

  private notify(): void {
    Atomics.add(this.control, CONTROL.generation, 1);
    Atomics.notify(this.control, CONTROL.generation);
  }
}

/** A key text `{"<name>":"<value>"}` whose value holds what canonical JSON escapes, as canonical JSON writes it. */
function canonicalKeyText(keyText: string): string {
  const head = keyText.indexOf(':"');
  return `${keyText.slice(0, head + 1)}${quoteGoJsonString(keyText.slice(head + 2, -2))}}`;
}
