// A view of the one JSON reader (json-reader.ts) for the two large responses, pull pages and snapshot
// chunks, when they are laid out exactly as the servers write them: compact JSON, members in struct
// order with their exact names, flat `key`/`payload` objects of scalars without escapes, surrogates,
// duplicate or `__proto__` members. Rows are built straight from the text, without the reader's tree,
// with the reader's own scanning primitives and the lossless value model (json-views.ts). Anything
// else (whitespace, another member order or case, escapes, nesting, an unknown op, a syntax error)
// returns undefined: the caller then reads the body with the full reader and Go binding, which also
// words every error. Where this view answers, its value is the one that decoding gives (the client's
// `wire-decode.layout-view.spec.ts` compares the two on generated bodies).
import { isIntegerLiteral, JsonCursor, scanJsonNumber, scanLiteral, scanPlainString } from './json-reader.js';
import { emptyLosslessObject, losslessNumberOf, type LosslessJson, type LosslessObject } from './json-views.js';
import type { Bundle, BundleRow, PullResponse, RowOp, SnapshotChunkResponse, SnapshotRow } from './wire-types.js';

/** A pulled row with lossless payload and key values. */
export type LosslessBundleRow = BundleRow<LosslessJson, LosslessObject>;
/** A pull page's bundle as the servers write it (`row_count`, `bundle_hash` always present). */
export type LosslessBundle = Required<Bundle<LosslessBundleRow[]>>;
export type LosslessPullResponse = PullResponse<LosslessBundle[]>;
export type LosslessSnapshotRow = SnapshotRow<LosslessJson, LosslessObject>;
export type LosslessSnapshotChunkResponse = SnapshotChunkResponse<LosslessSnapshotRow[]>;

/**
 * The `payload` of every snapshot row read with `payloadTexts` that holds an object: the object is
 * checked as strictly but not built (its text is what the client stages); this empty frozen object
 * stands in for it.
 */
export const PAYLOAD_IN_TEXT: LosslessObject = Object.freeze(emptyLosslessObject());

const QUOTE = 0x22;
/** Integers of up to 15 digits are exact as doubles; longer ones go to the full reader. */
const MAX_INT_DIGITS = 15;
const PAYLOAD_MEMBER = ',"payload":';

/** Shapes learned per body at most (a body whose objects change shape row after row stays member by member). */
const MAX_SHAPES = 4;
/** A string as `scanPlainString` reads it (as written), quotes included. */
const PLAIN_STRING = /"[^"\\\u0000-\u001f\ud800-\udfff]*"/.source;

/** A sticky pattern of a flat object of exactly `names` in this order, each a plain string, `null` or a boolean. */
function flatObjectShape(names: readonly string[]): RegExp {
  const value = `(?:${PLAIN_STRING}|null|true|false)`;
  const members = names.map((name) => `"${name.replace(/[$()*+.?[\\\]^{|}]/g, '\\$&')}":${value}`);
  return new RegExp(`\\{${members.join(',')}\\}`, 'y');
}

class LayoutCursor extends JsonCursor {
  /** See `skipFlatObject`. */
  private shape: RegExp | undefined;
  private shapesLearned = 0;

  constructor(
    text: string,
    /** Receives each snapshot row's payload as written (the client stages the wire text, spec/client.md §2.3). */
    readonly payloadTexts?: string[],
    /** Receives where each pull row's key and payload texts are (the client hashes them when canonical). */
    readonly rowSpans?: number[],
    /** Receives each snapshot row's key as written (the client's `key_json` when it is the same text). */
    readonly keyTexts?: string[],
  ) {
    super(text);
  }

  /** Consumes `literal` when the text continues with it. */
  lit(literal: string): boolean {
    const end = scanLiteral(this.text, this.pos, literal);
    if (end < 0) return false;
    this.pos = end;
    return true;
  }

  /**
   * A plain string (no escapes, control characters or surrogates); undefined otherwise. A member name
   * comes from the reader's name cache (`cachedName`).
   */
  str(memberName = false): string | undefined {
    const text = this.text;
    if (text.charCodeAt(this.pos) !== QUOTE) return undefined;
    const start = this.pos + 1;
    const end = scanPlainString(text, start);
    if (end < 0) return undefined;
    this.pos = end + 1;
    return memberName ? this.cachedName(start, end) : text.slice(start, end);
  }

  /** A non-negative integer literal of at most 15 digits, as the wire types carry int64. */
  int64(): bigint | undefined {
    const text = this.text;
    const start = this.pos;
    if (text.charCodeAt(start) === 0x2d) return undefined;
    const end = scanJsonNumber(text, start);
    if (end < 0 || end - start > MAX_INT_DIGITS || !isIntegerLiteral(text, start, end)) return undefined;
    this.pos = end;
    return BigInt(Number(text.slice(start, end)));
  }

  bool(): boolean | undefined {
    if (this.lit('true')) return true;
    if (this.lit('false')) return false;
    return undefined;
  }

  /** A number as the lossless view holds it; undefined for a syntax error or a value beyond float64. */
  number(): number | bigint | undefined {
    const text = this.text;
    const start = this.pos;
    const end = scanJsonNumber(text, start);
    if (end < 0) return undefined;
    const value = losslessNumberOf(text.slice(start, end));
    if (value !== undefined) this.pos = end;
    return value;
  }

  /** A flat object of scalars (distinct plain names, no `__proto__`); undefined for anything else. */
  flatObject(): LosslessObject | undefined {
    if (!this.lit('{')) return undefined;
    const object = emptyLosslessObject();
    if (this.lit('}')) return object;
    for (;;) {
      const name = this.str(true);
      if (name === undefined || name === '__proto__' || Object.hasOwn(object, name) || !this.lit(':')) return undefined;
      const value = this.scalar();
      if (value === undefined) return undefined;
      object[name] = value;
      if (this.lit(',')) continue;
      return this.lit('}') ? object : undefined;
    }
  }

  /**
   * `flatObject()`'s checks without building the object: true where it would give one. An object
   * with the member names of the last one learned, in their order, and only plain strings, `null`
   * or booleans is one regex test (`shape`); anything else is read member by member.
   */
  skipFlatObject(): boolean {
    const shape = this.shape;
    if (shape !== undefined) {
      shape.lastIndex = this.pos;
      if (shape.test(this.text)) {
        this.pos = shape.lastIndex;
        return true;
      }
    }
    if (!this.lit('{')) return false;
    if (this.lit('}')) return true;
    const names: string[] = [];
    let plain = true;
    for (;;) {
      const name = this.str(true);
      if (name === undefined || name === '__proto__' || names.includes(name) || !this.lit(':')) return false;
      names.push(name);
      const c = this.text.charCodeAt(this.pos);
      plain &&= c === QUOTE || c === 0x6e || c === 0x74 || c === 0x66;
      if (!this.skipScalar()) return false;
      if (this.lit(',')) continue;
      if (!this.lit('}')) return false;
      if (plain && this.shapesLearned < MAX_SHAPES) {
        this.shapesLearned++;
        this.shape = flatObjectShape(names);
      }
      return true;
    }
  }

  private skipScalar(): boolean {
    const text = this.text;
    const c = text.charCodeAt(this.pos);
    if (c === QUOTE) {
      const end = scanPlainString(text, this.pos + 1);
      if (end < 0) return false;
      this.pos = end + 1;
      return true;
    }
    if (c === 0x74 || c === 0x66) return this.bool() !== undefined;
    if (c === 0x6e) return this.lit('null');
    return this.number() !== undefined;
  }

  private scalar(): LosslessJson | undefined {
    const c = this.text.charCodeAt(this.pos);
    if (c === QUOTE) return this.str();
    if (c === 0x74 || c === 0x66) return this.bool();
    if (c === 0x6e) return this.lit('null') ? null : undefined;
    return this.number();
  }

  /** `,"payload":<flat object | null>}` or `}` (absent payload: `undefined`); false off the layout. */
  payloadAndEnd(): LosslessJson | undefined | false {
    if (this.lit('}')) return undefined;
    if (!this.lit(PAYLOAD_MEMBER)) return false;
    // a snapshot row's payload whose text is handed over: checked here, never built
    const payload = this.lit('null')
      ? null
      : this.payloadTexts
        ? this.skipFlatObject()
          ? PAYLOAD_IN_TEXT
          : undefined
        : this.flatObject();
    if (payload === undefined || !this.lit('}')) return false;
    return payload;
  }

  /** Trailing whitespace, then the end of the text. */
  end(): boolean {
    this.skipWhitespace();
    return this.pos === this.text.length;
  }
}

/** `[row,…]` with `row` read by `readRow`; undefined when any row is off the layout. */
function rowArray<T>(s: LayoutCursor, readRow: (s: LayoutCursor) => T | undefined): T[] | undefined {
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

function rowOp(s: LayoutCursor): RowOp | undefined {
  const op = s.str();
  return op === 'INSERT' || op === 'UPDATE' || op === 'DELETE' ? op : undefined;
}

/**
 * A pull bundle's row (`withOp`: `schema, table, key, op, row_version, payload`, payload absent for
 * DELETE) or a snapshot chunk's (the same members without `op`, payload always present).
 */
function wireRow(s: LayoutCursor, withOp: true): LosslessBundleRow | undefined;
function wireRow(s: LayoutCursor, withOp: false): LosslessSnapshotRow | undefined;
function wireRow(s: LayoutCursor, withOp: boolean): LosslessBundleRow | LosslessSnapshotRow | undefined {
  if (!s.lit('{"schema":')) return undefined;
  const schema = s.str();
  if (schema === undefined || !s.lit(',"table":')) return undefined;
  const table = s.str();
  if (table === undefined || !s.lit(',"key":')) return undefined;
  const keyAt = s.pos;
  const key = s.flatObject();
  if (key === undefined) return undefined;
  const keyEnd = s.pos;
  let op: RowOp | undefined;
  if (withOp && (!s.lit(',"op":') || (op = rowOp(s)) === undefined)) return undefined;
  if (!s.lit(',"row_version":')) return undefined;
  const rowVersion = s.int64();
  if (rowVersion === undefined) return undefined;
  const at = s.pos;
  const payloadAt = at + PAYLOAD_MEMBER.length;
  const payload = s.payloadAndEnd();
  if (payload === false) return undefined;
  if (op !== undefined) {
    // positions, not slices: a page's rows would keep two more strings each alive
    if (payload === undefined) s.rowSpans?.push(keyAt, keyEnd, -1, -1);
    else s.rowSpans?.push(keyAt, keyEnd, payloadAt, s.pos - 1);
    return { schema, table, key, op, row_version: rowVersion, payload };
  }
  if (payload === undefined) return undefined;
  s.keyTexts?.push(s.text.slice(keyAt, keyEnd));
  s.payloadTexts?.push(s.text.slice(payloadAt, s.pos - 1));
  return { schema, table, key, row_version: rowVersion, payload };
}

const pullRow = (s: LayoutCursor) => wireRow(s, true);
const snapshotRow = (s: LayoutCursor) => wireRow(s, false);

function bundle(s: LayoutCursor): LosslessBundle | undefined {
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

/**
 * A pull page (§3.7) in the servers' own layout, else undefined (read it with the full reader).
 * `rowSpans`, when given, receives four numbers per row in page order: where the row's `key` text
 * starts and ends in `body`, and where its `payload` text does (a compact flat object or `null`;
 * -1, -1 when absent); it is complete only when a page is returned.
 */
export function readPullPageLayout(body: string, rowSpans?: number[]): LosslessPullResponse | undefined {
  const s = new LayoutCursor(body, undefined, rowSpans);
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
 * A snapshot chunk (§3.10) in the servers' own layout, else undefined (read it with the full reader).
 * `payloadTexts`, when given, receives the payload text of every row as the body holds it (compact,
 * one flat object or `null`), in row order; it is complete only when a chunk is returned, and the rows'
 * object payloads are then `PAYLOAD_IN_TEXT` (checked as strictly, not built). `keyTexts`, when
 * given, receives the text of every row's `key` (a compact flat object) the same way.
 */
export function readSnapshotChunkLayout(
  body: string,
  payloadTexts?: string[],
  keyTexts?: string[],
): LosslessSnapshotChunkResponse | undefined {
  const s = new LayoutCursor(body, payloadTexts, undefined, keyTexts);
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
