/**
 * Adapts the client's lossless JSON values to the protocol's bundle hash and canonical JSON
 * (server.md §5): the server reads every number as a double, so `bigint` becomes a double here too.
 */
import {
  BundleHasher,
  canonicalJson,
  compareUtf8,
  formatGoFloat64,
  quoteGoJsonString,
  type JsonValue as WireJsonValue,
  type RowOp,
} from '@oversync/protocol';
import { createHash } from 'node:crypto';
import type { JsonValue } from './json-value.js';

export interface HashedRow {
  readonly schema: string;
  readonly table: string;
  readonly key: Record<string, string>;
  readonly op: RowOp;
  readonly rowVersion: number;
  /** Ignored for DELETE. */
  readonly payload: JsonValue | undefined;
}

/** The value as Go's decoder holds it: numbers as doubles (the value itself when it holds no bigint). */
export function asWireJson(value: JsonValue): WireJsonValue {
  return holdsBigint(value) ? toWire(value) : (value as WireJsonValue);
}

function holdsBigint(value: JsonValue): boolean {
  if (typeof value === 'bigint') return true;
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(holdsBigint);
  for (const name in value) if (holdsBigint(value[name]!)) return true;
  return false;
}

function toWire(value: JsonValue): WireJsonValue {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === 'object') {
    // inherits nothing: a `__proto__` member is data (on `{}` the assignment would set the prototype)
    const result = Object.create(null) as Record<string, WireJsonValue>;
    for (const name of Object.keys(value)) result[name] = toWire(value[name]!);
    return result;
  }
  return value;
}

/** `bundle_hash` (lower-case hex) of rows in bundle order, through the protocol's `BundleHasher`. */
export function bundleHashOf(rows: readonly HashedRow[]): string {
  const hasher = new BundleHasher();
  const keys = new FlatCanonicalJson();
  const payloads = new FlatCanonicalJson();
  for (const row of rows) {
    const payload = row.op === 'DELETE' || row.payload === undefined ? null : payloads.text(row.payload);
    hasher.add(row, keys.text(row.key), payload);
  }
  return hasher.finish().bundleHash;
}

/** Where a pull page's rows' texts are in its body (the layout view's `rowSpans`), this bundle's from row `first`. */
export interface PulledRowSpans {
  readonly body: string;
  /** four a row: key start, key end, payload start, payload end (-1, -1 when absent) */
  readonly spans: readonly number[];
  readonly first: number;
}

/**
 * `bundle_hash` of pulled rows in bundle order. `wire`: the rows' key and payload texts as the body
 * holds them; a text that is canonical already is hashed as it is, without building it again.
 */
export function pulledBundleHash(
  rows: readonly {
    schema: string;
    table: string;
    key: JsonValue;
    op: string;
    row_version: bigint;
    payload?: JsonValue;
  }[],
  wire?: PulledRowSpans,
): string {
  const hasher = new BundleHasher();
  const keys = new FlatCanonicalJson();
  const payloads = new FlatCanonicalJson();
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const op = row.op as RowOp;
    const at = wire === undefined ? -1 : 4 * (wire.first + i);
    const keyText = at < 0 ? undefined : wire!.body.slice(wire!.spans[at], wire!.spans[at + 1]);
    const payload =
      op === 'DELETE' || row.payload === undefined
        ? null
        : payloads.text(row.payload, at < 0 ? undefined : wire!.body.slice(wire!.spans[at + 2], wire!.spans[at + 3]));
    hasher.add(
      { schema: row.schema, table: row.table, op, rowVersion: row.row_version },
      keys.text(row.key, keyText),
      payload,
    );
  }
  return hasher.finish().bundleHash;
}

/** A string with nothing canonical JSON escapes or replaces (quotes, controls, HTML characters, surrogates). */
const PLAIN_STRING = /^[^"\\\x00-\x1f<>&\u2028\u2029\ud800-\udfff]*$/;
/** What canonical JSON escapes beyond what a plain wire string (no escapes, controls or surrogates) may hold. */
const ESCAPED_IN_PLAIN_TEXT = /[<>&\u2028\u2029]/;
/** A member name V8 enumerates before the others (an array index): the text's member order is then not the object's. */
const INDEX_NAME = /^\d+$/;

/**
 * `canonicalJson(asWireJson(value))`, without the generic walk for the common case: an object of
 * scalars whose member names are those of the previous object (rows of a table share them), so
 * their sorted order and quoted names are reused. Anything else goes through the generic writer;
 * the output is the same text either way (the spec of this file compares the two).
 */
export class FlatCanonicalJson {
  private names: readonly string[] = [];
  /** member indices in canonical (UTF-8 byte) order, and `{"name":` / `,"name":` before each */
  private order: number[] = [];
  private prefixes: string[] = [];
  /** The names are in canonical order as they are, and none is an array index. */
  private inOrder = false;

  /**
   * `wire`: the value's text as a body holds it, read by the layout view (compact, plain strings,
   * members in the object's order); returned as it is when it is canonical already: members in
   * canonical order and every value a string, boolean or null with nothing canonical JSON escapes.
   */
  text(value: JsonValue, wire?: string): string {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return canonicalJson(asWireJson(value));
    const names = Object.keys(value);
    if (names.length === 0 || (!this.sameNames(names) && !this.learn(names))) return canonicalJson(asWireJson(value));
    if (wire !== undefined && this.inOrder && !ESCAPED_IN_PLAIN_TEXT.test(wire) && plainScalars(value, names))
      return wire;
    const { order, prefixes } = this;
    let out = '';
    for (let i = 0; i < order.length; i++) {
      const scalar = scalarText(value[names[order[i]!]!]);
      if (scalar === undefined) return canonicalJson(asWireJson(value));
      out += prefixes[i]! + scalar;
    }
    return `${out}}`;
  }

  private sameNames(names: readonly string[]): boolean {
    const known = this.names;
    if (names.length !== known.length) return false;
    for (let i = 0; i < names.length; i++) if (names[i] !== known[i]) return false;
    return true;
  }

  /** Takes the names as the current shape; false (generic path) for a name with a surrogate. */
  private learn(names: readonly string[]): boolean {
    if (names.some((name) => /[\ud800-\udfff]/.test(name))) return false;
    this.names = names;
    this.order = names.map((_, i) => i).sort((a, b) => compareUtf8(names[a]!, names[b]!));
    this.prefixes = this.order.map((index, i) => `${i === 0 ? '{' : ','}${quoteGoJsonString(names[index]!)}:`);
    this.inOrder = this.order.every((index, i) => index === i) && !names.some((name) => INDEX_NAME.test(name));
    return true;
  }
}

/** Every member a string, boolean or null: values whose wire spelling is canonical when plain. */
function plainScalars(value: { readonly [name: string]: JsonValue }, names: readonly string[]): boolean {
  for (const name of names) {
    const member = value[name];
    if (typeof member !== 'string' && typeof member !== 'boolean' && member !== null) return false;
  }
  return true;
}

/**
 * The canonical text of a scalar member as the generic writer spells it, or undefined (a container,
 * a non-finite number).
 */
function scalarText(value: JsonValue | undefined): string | undefined {
  switch (typeof value) {
    case 'string':
      return PLAIN_STRING.test(value) ? `"${value}"` : quoteGoJsonString(value);
    case 'number':
      return Number.isFinite(value) ? formatGoFloat64(value) : undefined;
    case 'bigint': {
      const double = Number(value);
      return Number.isFinite(double) ? formatGoFloat64(double) : undefined;
    }
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return value === null ? 'null' : undefined;
  }
}

/** Lower-case hex SHA-256 of the canonical JSON of a value (`canonical_request_hash`). */
export function canonicalSha256(value: JsonValue): string {
  return createHash('sha256')
    .update(Buffer.from(canonicalJson(asWireJson(value)), 'utf8'))
    .digest('hex');
}
