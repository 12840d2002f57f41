/**
 * The pull page reader of the worker thread (pull-page-worker.ts): reads a page as the servers lay it
 * out, checks it as §8.3 does, hashes each bundle and writes its rows as positions into shared memory
 * (pull-page-records.ts) while the applying thread writes the rows already published. It vouches only
 * for the narrowest case, where today's path (layout view, `validatePullPage`, `pulledBundleHash`,
 * `resolveWireRow`, `sqlValuesFromWirePayload`) gives plain strings for sure: payloads of exactly the
 * table's columns, each a plain string or null, keys `{"<key column>":"<plain string>"}`, tables without
 * BLOB columns. Anything else declines the page: the applying thread reads it itself.
 */
import { BundleHasher, compareUtf8, quoteGoJsonString } from '@oversync/protocol';
import { CONTROL, type PlainTable, type PullPageTask, RECORD, STATUS } from './pull-page-records.js';

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
  private readonly body: string;
  private pos = 0;
  private readonly control: Int32Array;
  private readonly records: Int32Array;
  private readonly numbers: Float64Array;
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

  constructor(private readonly task: PullPageTask) {
    this.body = task.body;
    this.control = new Int32Array(task.control);
    this.records = new Int32Array(task.records);
    this.numbers = new Float64Array(task.numbers);
    this.shapes = new Map(task.tables.map((table) => [table.name, shapeOf(table)]));
  }

  /** Reads the page to its end (or until declined or abandoned) and says so in the control words. */
  read(): void {
    let status: number = STATUS.declined;
    let hasMore = false;
    try {
      hasMore = this.page();
      status = STATUS.read;
    } catch (err) {
      if (!(err instanceof Declined) && !(err instanceof Abandoned)) throw err;
    } finally {
      // every record before the status: whoever reads a final status reads the final count
      const control = this.control;
      Atomics.store(control, CONTROL.hasMore, hasMore ? 1 : 0);
      Atomics.store(control, CONTROL.published, this.words);
      Atomics.store(control, CONTROL.status, status);
      Atomics.add(control, CONTROL.generation, 1);
      Atomics.notify(control, CONTROL.generation);
    }
  }

  private page(): boolean {
    const after = this.task.afterBundleSeq;
    this.expect('{"stable_bundle_seq":');
    const stable = this.int();
    if (stable < after) throw new Declined();
    this.emit(RECORD.page, stable);
    this.expect(',"bundles":[');
    let previous = after;
    if (!this.lit(']')) {
      do previous = this.bundle(stable, previous);
      while (this.lit(','));
      this.expect(']');
    }
    this.expect(',"has_more":');
    const hasMore = this.lit('true') ? true : this.lit('false') ? false : this.decline();
    this.expect('}');
    const body = this.body;
    while (this.pos < body.length && ' \t\n\r'.includes(body[this.pos]!)) this.pos++;
    if (this.pos !== body.length) this.decline();
    return hasMore;
  }

  private bundle(stable: number, previous: number): number {
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
    if (bundleSeq <= 0 || !sourceId.trim() || sourceBundleId <= 0 || bundleSeq <= previous || bundleSeq > stable)
      this.decline();
    this.emit(RECORD.bundle, bundleSeq, rowCount);
    const hasher = new BundleHasher();
    let rows = 0;
    if (!this.lit(']')) {
      do {
        this.row(hasher);
        if (++rows % PUBLISH_ROWS === 0) this.publish();
      } while (this.lit(','));
      this.expect(']');
    }
    this.expect('}');
    if (rows !== rowCount) this.decline();
    this.emit(RECORD.bundleEnd, undefined, hasher.finish().bundleHash === bundleHash ? 1 : 0);
    this.publish();
    return bundleSeq;
  }

  private row(hasher: BundleHasher): void {
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
    const { records } = this;
    const at = this.reserve(4 + (op.tag === RECORD.delete ? 0 : 2 * shape.table.columns.length));
    records[at] = op.tag;
    records[at + 1] = shape.table.index;
    records[at + 2] = keyValueAt;
    records[at + 3] = keyValueEnd;
    if (op.tag === RECORD.delete) {
      // a DELETE's payload is not hashed: one present (ignored by the apply too) is left to today's path
      this.expect('}');
      hasher.add(row, keyEscapes ? canonicalKeyText(keyText) : keyText, null);
    } else {
      this.expect(',"payload":');
      hasher.add(row, keyEscapes ? canonicalKeyText(keyText) : keyText, this.payload(shape, at + 4));
      this.expect('}');
    }
    this.numbers[this.count++] = rowVersion;
    this.words = at + (op.tag === RECORD.delete ? 4 : 4 + 2 * shape.table.columns.length);
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
    const { records } = this;
    for (let i = 0; i < columns; i++) {
      records[out + 2 * i] = starts[i]!;
      records[out + 2 * i + 1] = ends[i]!;
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
      } else if (c === BACKSLASH || c !== c || (c >= 0xd800 && c <= 0xdfff)) this.decline();
      else if (c === 0x2028 || c === 0x2029) this.escapes = true;
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
    const digits = pos - start;
    if (digits === 0 || digits > MAX_INT_DIGITS || (digits > 1 && body.charCodeAt(start) === 0x30)) this.decline();
    this.pos = pos;
    return value;
  }

  private lit(text: string): boolean {
    if (!this.body.startsWith(text, this.pos)) return false;
    this.pos += text.length;
    return true;
  }

  private expect(text: string): void {
    if (!this.lit(text)) this.decline();
  }

  private decline(): never {
    throw new Declined();
  }

  private reserve(words: number): number {
    if (this.words + words > this.records.length || this.count >= this.numbers.length) this.decline();
    return this.words;
  }

  private emit(tag: number, number: number | undefined, word?: number): void {
    const at = this.reserve(2);
    this.records[at] = tag;
    this.records[at + 1] = word ?? 0;
    this.words = at + 2;
    if (number !== undefined) this.numbers[this.count++] = number;
  }

  private publish(): void {
    const control = this.control;
    if (Atomics.load(control, CONTROL.abandoned) !== 0) throw new Abandoned();
    Atomics.store(control, CONTROL.published, this.words);
    Atomics.add(control, CONTROL.generation, 1);
    Atomics.notify(control, CONTROL.generation);
  }
}

/** A key text `{"<name>":"<value>"}` whose value holds what canonical JSON escapes, as canonical JSON writes it. */
function canonicalKeyText(keyText: string): string {
  const head = keyText.indexOf(':"');
  return `${keyText.slice(0, head + 1)}${quoteGoJsonString(keyText.slice(head + 2, -2))}}`;
}
