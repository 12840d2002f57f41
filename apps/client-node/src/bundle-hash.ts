/**
 * Adapts the client's lossless JSON values to the protocol's bundle hash and canonical JSON
 * (server.md §5): the server reads every number as a double, so `bigint` becomes a double here too.
 */
import { BundleHasher, canonicalJson, type JsonValue as WireJsonValue, type RowOp } from '@oversync/protocol';
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
    const result: Record<string, WireJsonValue> = {};
    for (const name of Object.keys(value)) result[name] = toWire(value[name]!);
    return result;
  }
  return value;
}

/** `bundle_hash` (lower-case hex) of rows in bundle order, through the protocol's `BundleHasher`. */
export function bundleHashOf(rows: readonly HashedRow[]): string {
  const hasher = new BundleHasher();
  for (const row of rows) {
    const payload = row.op === 'DELETE' || row.payload === undefined ? null : canonicalJson(asWireJson(row.payload));
    hasher.add(row, canonicalJson(row.key), payload);
  }
  return hasher.finish().bundleHash;
}

/** Lower-case hex SHA-256 of the canonical JSON of a value (`canonical_request_hash`). */
export function canonicalSha256(value: JsonValue): string {
  return createHash('sha256')
    .update(Buffer.from(canonicalJson(asWireJson(value)), 'utf8'))
    .digest('hex');
}
