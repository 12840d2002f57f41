/**
 * A fast path for the two large responses, pull pages and snapshot chunks, when they are laid out
 * exactly as the servers write them: compact JSON, members in struct order with their exact names,
 * flat `key`/`payload` objects without escapes, surrogates, duplicate or `__proto__` members.
 * Rows are built straight from the text, without the reader's tree. Anything else (whitespace,
 * another member order or case, escapes, nesting, a syntax error) returns undefined and the body
 * goes through the protocol reader and Go binding (`wire-decode.ts`), which also words every error.
 * Where the fast path answers, its value is the one `decodePull`/`decodeSnapshotChunk` give (the
 * spec of this file compares the two on generated bodies).
 */
import { scanJsonNumber } from '@oversync/protocol';
import type { JsonObject, JsonValue } from './json-value.js';
import type { PullResponse, SnapshotChunkResponse, SnapshotRow, WireBundle, WireRow } from './wire-decode.js';

/** Objects that inherit nothing, as the reader's lossless objects (any member name is plain data). */
const RowRecord = function RowRecord() {} as unknown as new () => JsonObject;
RowRecord.prototype = Object.create(null) as object;

/**
 * The `payload` of every snapshot row read with `payloadTexts` that holds an object: the object is
 * not built (its text is what the stage keeps); an empty frozen placeholder stands in.
 */
export const PAYLOAD_IN_TEXT: JsonObject = Object.freeze(new RowRecord());

const QUOTE = 0x22;
const MAX_FAST_INT_DIGITS = 15;
const PAYLOAD_MEMBER = ',"payload":';

class Scanner {
  pos = 0;
  constructor(
    readonly text: string,
    /** Receives each snapshot row's payload as written (the stage keeps the wire text, spec/client.md §2.3). */
    readonly payloadTexts?: string[],
  ) {}

  /** Consumes `literal` when the text continues with it. */
  lit(literal: string): boolean {
    if (!this.text.startsWith(literal, this.pos)) return false;
    this.pos += literal.length;
    return true;
  }

  peek(): number {
    return this.text.charCodeAt(this.pos);
  }

  /** A string without escapes, control characters or surrogates; undefined otherwise. */
  str(): string | undefined {
    const start = this.pos + 1;
    const end = this.strEnd();
    if (end < 0) return undefined;
    this.pos = end + 1;
    return this.text.slice(start, end);
  }

  /** Where the string at `pos` ends (its closing quote), or -1 when `str()` would not take it. */
  private strEnd(): number {
    const text = this.text;
    if (text.charCodeAt(this.pos) !== QUOTE) return -1;
    let pos = this.pos + 1;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === QUOTE) return pos;
      if (c === 0x5c || c < 0x20 || (c >= 0xd800 && c <= 0xdfff) || c !== c) return -1;
      pos++;
    }
  }

  /** A non-negative integer literal of at most 15 digits (Go int64 binding, in this client's range). */
  int(): number | undefined {
    const text = this.text;
    const start = this.pos;
    let pos = start;
    let c = text.charCodeAt(pos);
    if (c === 0x30) c = text.charCodeAt(++pos);
    else while (c >= 0x30 && c <= 0x39) c = text.charCodeAt(++pos);
    if (pos === start || pos - start > MAX_FAST_INT_DIGITS || c === 0x2e || c === 0x65 || c === 0x45) return undefined;
    if (c >= 0x30 && c <= 0x39) return undefined; // a leading zero followed by digits
    this.pos = pos;
    return Number(text.slice(start, pos));
  }

  /** `int()` as the wire types carry int64: a bigint. */
  int64(): bigint | undefined {
    const value = this.int();
    return value === undefined ? undefined : BigInt(value);
  }

  bool(): boolean | undefined {
    if (this.lit('true')) return true;
    if (this.lit('false')) return false;
    return undefined;
  }

  /**
   * A JSON number as the reader's lossless view holds it: a double, or a `bigint` for an integer
   * literal beyond ±(2^53−1); undefined for a syntax error or a value beyond float64. The grammar
   * is the protocol reader's own (`scanJsonNumber`).
   */
  number(): number | bigint | undefined {
    const text = this.text;
    const start = this.pos;
    const end = scanJsonNumber(text, start);
    if (end < 0) return undefined;
    const raw = text.slice(start, end);
    const value = Number(raw);
    if (!Number.isFinite(value)) return undefined;
    this.pos = end;
    return Number.isSafeInteger(value) || !Number.isInteger(value) || !isIntegerLiteral(raw) ? value : BigInt(raw);
  }

  /** A flat object of scalars (distinct plain names, no `__proto__`); undefined for anything else. */
  flatObject(): JsonObject | undefined {
    if (!this.lit('{')) return undefined;
    const object = new RowRecord();
    if (this.lit('}')) return object;
    for (;;) {
      const name = this.str();
      if (name === undefined || name === '__proto__' || Object.hasOwn(object, name) || !this.lit(':')) return undefined;
      const value = this.scalar();
      if (value === undefined) return undefined;
      object[name] = value;
      if (this.lit(',')) continue;
      return this.lit('}') ? object : undefined;
    }
  }

  private scalar(): JsonValue | undefined {
    const c = this.peek();
    if (c === QUOTE) return this.str();
    if (c === 0x74 || c === 0x66) return this.bool();
    if (c === 0x6e) return this.lit('null') ? null : undefined;
    return this.number();
  }

  /** `flatObject()`'s checks without building the object: true where it would give one. */
  skipFlatObject(): boolean {
    if (!this.lit('{')) return false;
    if (this.lit('}')) return true;
    const names: string[] = [];
    for (;;) {
      const name = this.str();
      if (name === undefined || name === '__proto__' || names.includes(name) || !this.lit(':')) return false;
      names.push(name);
      if (!this.skipScalar()) return false;
      if (this.lit(',')) continue;
      return this.lit('}');
    }
  }

  private skipScalar(): boolean {
    const c = this.peek();
    if (c === QUOTE) {
      const end = this.strEnd();
      if (end < 0) return false;
      this.pos = end + 1;
      return true;
    }
    if (c === 0x74 || c === 0x66) return this.bool() !== undefined;
    if (c === 0x6e) return this.lit('null');
    return this.number() !== undefined;
  }

  /** `,"payload":<flat object | null>}` or `}` (absent payload). */
  payloadAndEnd(): JsonValue | undefined | false {
    if (this.lit('}')) return undefined;
    if (!this.lit(PAYLOAD_MEMBER)) return false;
    let payload: JsonValue | undefined;
    if (this.lit('null')) payload = null;
    // a snapshot row's payload is staged as its text: checked here, never built
    else if (this.payloadTexts) payload = this.skipFlatObject() ? PAYLOAD_IN_TEXT : undefined;
    else payload = this.flatObject();
    if (payload === undefined || !this.lit('}')) return false;
    return payload;
  }

  /** Trailing whitespace, then the end of the text. */
  end(): boolean {
    const text = this.text;
    let c = text.charCodeAt(this.pos);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++this.pos);
    return this.pos === text.length;
  }
}

/** No fraction and no exponent: the literal names an integer (`1e3` is a double in the reader's view). */
function isIntegerLiteral(raw: string): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x2e || c === 0x65 || c === 0x45) return false;
  }
  return true;
}

/** `[row,…]` with `row` read by `readRow`; undefined when any row is off the fast layout. */
function rowArray<T>(s: Scanner, readRow: (s: Scanner) => T | undefined): T[] | undefined {
  if (!s.lit('[')) return undefined;
  const rows: T[] = [];
  if (s.lit(']')) return rows;
  for (;;) {
    const row = readRow(s);
    if (row === undefined) return undefined;
    rows.push(row);
    if (s.lit(',')) continue;
    return s.lit(']') ? rows : undefined;
  }
}

/**
 * One row of a pull bundle (`withOp`: `schema, table, key, op, row_version, payload`) or of a
 * snapshot chunk (the same members without `op`).
 */
function wireRow(s: Scanner, withOp: true): WireRow | undefined;
function wireRow(s: Scanner, withOp: false): SnapshotRow | undefined;
function wireRow(s: Scanner, withOp: boolean): WireRow | SnapshotRow | undefined {
  if (!s.lit('{"schema":')) return undefined;
  const schema = s.str();
  if (schema === undefined || !s.lit(',"table":')) return undefined;
  const table = s.str();
  if (table === undefined || !s.lit(',"key":')) return undefined;
  const key = s.flatObject();
  if (key === undefined) return undefined;
  let op: string | undefined;
  if (withOp) {
    if (!s.lit(',"op":')) return undefined;
    op = s.str();
    if (op === undefined) return undefined;
  }
  if (!s.lit(',"row_version":')) return undefined;
  const rowVersion = s.int64();
  if (rowVersion === undefined) return undefined;
  const at = s.pos;
  const payload = s.payloadAndEnd();
  if (payload === false) return undefined;
  if (s.payloadTexts && payload !== undefined) s.payloadTexts.push(s.text.slice(at + PAYLOAD_MEMBER.length, s.pos - 1));
  return withOp
    ? { schema, table, key, op: op!, row_version: rowVersion, payload }
    : { schema, table, key, row_version: rowVersion, payload };
}

const pullRow = (s: Scanner) => wireRow(s, true);
const snapshotRow = (s: Scanner) => wireRow(s, false);

function bundle(s: Scanner): WireBundle | undefined {
  if (!s.lit('{"bundle_seq":')) return undefined;
  const bundleSeq = s.int64();
  if (bundleSeq === undefined || !s.lit(',"source_id":')) return undefined;
  const sourceId = s.str();
  if (sourceId === undefined || !s.lit(',"source_bundle_id":')) return undefined;
  const sourceBundleId = s.int64();
  if (sourceBundleId === undefined || !s.lit(',"row_count":')) return undefined;
  const rowCount = s.int64();
  if (rowCount === undefined || !s.lit(',"bundle_hash":')) return undefined;
  const bundleHash = s.str();
  if (bundleHash === undefined || !s.lit(',"rows":')) return undefined;
  const rows = rowArray(s, pullRow);
  if (rows === undefined || !s.lit('}')) return undefined;
  return {
    bundle_seq: bundleSeq,
    source_id: sourceId,
    source_bundle_id: sourceBundleId,
    row_count: rowCount,
    bundle_hash: bundleHash,
    rows,
  };
}

/** `decodePull` for a body in the servers' own layout, else undefined. */
export function fastDecodePull(body: string): PullResponse | undefined {
  const s = new Scanner(body);
  if (!s.lit('{"stable_bundle_seq":')) return undefined;
  const stableBundleSeq = s.int64();
  if (stableBundleSeq === undefined || !s.lit(',"bundles":')) return undefined;
  const bundles = rowArray(s, bundle);
  if (bundles === undefined || !s.lit(',"has_more":')) return undefined;
  const hasMore = s.bool();
  if (hasMore === undefined || !s.lit('}') || !s.end()) return undefined;
  return { stable_bundle_seq: stableBundleSeq, bundles, has_more: hasMore };
}

/**
 * `decodeSnapshotChunk` for a body in the servers' own layout, else undefined. `payloadTexts`, when
 * given, receives the payload text of every row as the body holds it (compact, one flat object or
 * `null`), in row order; it is complete only when a chunk is returned, and the rows' object payloads
 * are then `PAYLOAD_IN_TEXT` (checked as strictly, not built).
 */
export function fastDecodeSnapshotChunk(body: string, payloadTexts?: string[]): SnapshotChunkResponse | undefined {
  const s = new Scanner(body, payloadTexts);
  if (!s.lit('{"snapshot_id":')) return undefined;
  const snapshotId = s.str();
  if (snapshotId === undefined || !s.lit(',"snapshot_bundle_seq":')) return undefined;
  const snapshotBundleSeq = s.int64();
  if (snapshotBundleSeq === undefined || !s.lit(',"rows":')) return undefined;
  const rows = rowArray(s, snapshotRow);
  if (rows === undefined || !s.lit(',"next_row_ordinal":')) return undefined;
  const nextRowOrdinal = s.int64();
  if (nextRowOrdinal === undefined || !s.lit(',"has_more":')) return undefined;
  const hasMore = s.bool();
  if (hasMore === undefined || !s.lit('}') || !s.end()) return undefined;
  return {
    snapshot_id: snapshotId,
    snapshot_bundle_seq: snapshotBundleSeq,
    rows,
    next_row_ordinal: nextRowOrdinal,
    has_more: hasMore,
  };
}
