// bundle_hash and byte_count of spec/server.md §5.1 (reference `computeCommittedBundleHash`): one
// writer of the hash input, shared by the server's capture, the admin check and the client.
import { createHash, type Hash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import { parseJsonText } from './json-views.js';
import { formatGoFloat64, quoteGoJsonString, RawJson } from './go-json-encode.js';
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
}

/**
 * One row object of the hash input, members in canonical order
 * `{key, op, payload, row_ordinal, row_version, schema, table}`. `keyJson` and `payloadJson` are
 * canonical JSON texts; `payloadJson` is `null` for DELETE rows and absent/empty payloads.
 */
export function bundleHashRowJson(
  ordinal: number,
  row: { readonly schema: string; readonly table: string; readonly op: RowOp; readonly rowVersion: number | bigint },
  keyJson: string,
  payloadJson: string | null,
): string {
  return (
    `{"key":${keyJson},"op":"${row.op}","payload":${payloadJson ?? 'null'},"row_ordinal":${ordinal},` +
    `"row_version":${formatGoFloat64(Number(row.rowVersion))},"schema":${schemaNames.quote(row.schema)},"table":` +
    `${tableNames.quote(row.table)}}`
  );
}

/** The quoted form of the last name seen: the rows of a bundle repeat their schema and table. */
class LastQuoted {
  private name = '';
  private quoted = '""';

  quote(name: string): string {
    if (name !== this.name) {
      this.quoted = quoteGoJsonString(name);
      this.name = name;
    }
    return this.quoted;
  }
}

const schemaNames = new LastQuoted();
const tableNames = new LastQuoted();

/**
 * The hash input `[row,row,…]` written and hashed in blocks rather than built as one text (a
 * 100,000-row bundle's input is ~35 MB). Rows are added in bundle order (`row_ordinal` 0, 1, …).
 */
export class BundleHasher {
  private readonly hash: Hash = createHash('sha256');
  private block = '[';
  private rows = 0;
  private bytes = 0;

  add(row: Parameters<typeof bundleHashRowJson>[1], keyJson: string, payloadJson: string | null): void {
    this.block += `${this.rows > 0 ? ',' : ''}${bundleHashRowJson(this.rows, row, keyJson, payloadJson)}`;
    this.rows++;
    if (this.block.length >= 65_536) this.flush();
  }

  finish(): BundleHash {
    this.block += ']';
    this.flush();
    return { bundleHash: this.hash.digest('hex'), byteCount: this.bytes };
  }

  private flush(): void {
    const bytes = Buffer.from(this.block, 'utf8');
    this.hash.update(bytes);
    this.bytes += bytes.length;
    this.block = '';
  }
}

/** The canonical hash input text of whole rows (what `computeBundleHash` hashes). */
export function bundleHashInput(rows: readonly BundleHashRow[]): string {
  return (
    `[` +
    rows
      .map((row, ordinal) => bundleHashRowJson(ordinal, rowOf(row), canonicalJson(row.key), payloadJsonOf(row)))
      .join(',') +
    `]`
  );
}

/** `bundle_hash` (hex) and `byte_count` of a bundle's rows. */
export function computeBundleHash(rows: readonly BundleHashRow[]): BundleHash {
  const hasher = new BundleHasher();
  for (const row of rows) hasher.add(rowOf(row), canonicalJson(row.key), payloadJsonOf(row));
  return hasher.finish();
}

function rowOf(row: BundleHashRow) {
  return { schema: row.schema, table: row.table, op: row.op, rowVersion: row.row_version };
}

function payloadJsonOf(row: BundleHashRow): string | null {
  const payload = row.payload;
  if (row.op === 'DELETE' || payload === undefined) return null;
  if (!(payload instanceof RawJson)) return canonicalJson(payload);
  return payload.text === '' ? null : canonicalJson(parseJsonText(payload.text));
}
