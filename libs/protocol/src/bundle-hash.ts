// bundle_hash and byte_count of spec/server.md §5.1 (reference `computeCommittedBundleHash`).
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import { parseJsonText } from './json-views.js';
import { RawJson } from './go-json-encode.js';
import type { JsonValue, RowOp, WireKey } from './wire-types.js';

/** One row of a bundle as handed to the hash, in bundle order. `BundleRow` fits as is. */
export interface BundleHashRow {
  schema: string;
  table: string;
  key: WireKey;
  op: RowOp;
  /** = bundle_seq; hashed through float64 like every canonical number. */
  row_version: number | bigint;
  /** Parsed payload, or the stored `payload_wire` text as `RawJson`; ignored for DELETE. */
  payload?: JsonValue | RawJson;
}

export interface BundleHash {
  /** SHA-256 of the canonical bytes, 64 lower-case hex characters (the wire `bundle_hash`). */
  bundleHash: string;
  /** UTF-8 length of the canonical text (`sync.bundle_log.byte_count`). */
  byteCount: number;
  /** The canonical text that was hashed. */
  canonical: string;
}

/**
 * The canonical hash input: a JSON array with one object per row,
 * `{key, op, payload, row_ordinal, row_version, schema, table}` (canonical member order),
 * `row_ordinal` 0-based, `payload` null for DELETE rows and for absent/empty payloads.
 */
export function bundleHashInput(rows: readonly BundleHashRow[]): string {
  const logical: JsonValue = rows.map((row, index) => ({
    row_ordinal: index,
    schema: row.schema,
    table: row.table,
    key: row.key,
    op: row.op,
    row_version: Number(row.row_version),
    payload: row.op === 'DELETE' ? null : logicalPayload(row.payload),
  }));
  return canonicalJson(logical);
}

function logicalPayload(payload: JsonValue | RawJson | undefined): JsonValue {
  if (payload === undefined) return null;
  if (!(payload instanceof RawJson)) return payload;
  return payload.text === '' ? null : parseJsonText(payload.text);
}

/** `bundle_hash` (hex), `byte_count` and the hashed text of a bundle's rows. */
export function computeBundleHash(rows: readonly BundleHashRow[]): BundleHash {
  const canonical = bundleHashInput(rows);
  const bytes = Buffer.from(canonical, 'utf8');
  return {
    bundleHash: createHash('sha256').update(bytes).digest('hex'),
    byteCount: bytes.length,
    canonical,
  };
}
