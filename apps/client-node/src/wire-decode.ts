/**
 * Decoding of server responses into typed values, Go-style: absent members are zero values,
 * members of the wrong type are a decode error. Payloads keep 64-bit integers exact.
 */
import {
  bindMember,
  bindScalar,
  isExactObject,
  parseExactJson,
  readBool,
  readInt64,
  readString,
  toLosslessValue,
  type BundleChangeEvent,
  type ExactJson,
  type ExactObject,
} from '@oversync/protocol';
import { isJsonObject, type JsonObject, type JsonValue } from './json-value.js';

export class WireDecodeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WireDecodeError';
  }
}

export interface WireRow {
  readonly schema: string;
  readonly table: string;
  readonly key: JsonObject;
  readonly op: string;
  readonly rowVersion: number;
  /** `undefined` when the member is absent (DELETE rows). */
  readonly payload: JsonValue | undefined;
}

export interface WireBundle {
  readonly bundleSeq: number;
  readonly sourceId: string;
  readonly sourceBundleId: number;
  readonly rowCount: number;
  readonly bundleHash: string;
  readonly rows: readonly WireRow[];
}

export interface PullResponse {
  readonly stableBundleSeq: number;
  readonly bundles: readonly WireBundle[];
  readonly hasMore: boolean;
}

export interface CommittedBundleHeader {
  readonly bundleSeq: number;
  readonly sourceId: string;
  readonly sourceBundleId: number;
  readonly rowCount: number;
  readonly bundleHash: string;
}

export interface PushSessionResponse extends CommittedBundleHeader {
  readonly pushId: string;
  readonly status: string;
  readonly plannedRowCount: number;
  readonly nextExpectedRowOrdinal: number;
}

export interface PushChunkResponse {
  readonly pushId: string;
  readonly nextExpectedRowOrdinal: number;
}

export interface CommittedRowsResponse extends CommittedBundleHeader {
  readonly rows: readonly WireRow[];
  readonly nextRowOrdinal: number;
  readonly hasMore: boolean;
}

export interface SnapshotSessionResponse {
  readonly snapshotId: string;
  readonly snapshotBundleSeq: number;
  readonly rowCount: number;
  readonly byteCount: number;
  readonly expiresAt: string;
}

export interface SnapshotRow {
  readonly schema: string;
  readonly table: string;
  readonly key: JsonObject;
  readonly rowVersion: number;
  readonly payload: JsonValue | undefined;
}

export interface SnapshotChunkResponse {
  readonly snapshotId: string;
  readonly snapshotBundleSeq: number;
  readonly rows: readonly SnapshotRow[];
  readonly nextRowOrdinal: number;
  readonly hasMore: boolean;
}

export interface ConnectResponse {
  readonly resolution: string;
  readonly initializationId: string;
  readonly leaseExpiresAt: string;
  readonly retryAfterSeconds: number;
}

export interface PushConflictDetail {
  readonly schema: string;
  readonly table: string;
  readonly key: JsonObject;
  readonly op: string;
  readonly baseRowVersion: number;
  readonly serverRowVersion: number;
  readonly serverRowDeleted: boolean;
  /** `null` when absent or JSON null. */
  readonly serverRow: JsonValue;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Parses a response body as one JSON object (the protocol's reader: number literals exact, members in order). */
export function decodeObject(body: string): ExactObject {
  let value: ExactJson;
  try {
    value = parseExactJson(body);
  } catch (err) {
    throw new WireDecodeError((err as Error).message, { cause: err });
  }
  if (!isExactObject(value)) throw new WireDecodeError('response is not a JSON object');
  return value;
}

/** Go-style binding of one decoded object's members (exported for the Go parity spec). */
export class WireReader {
  constructor(private readonly members: ExactObject) {}

  /**
   * Go's binding of a string, number or bool field: every matching member is decoded in order (a type
   * error in any fails), `null` leaves the field as it was, the last other value wins whatever its case.
   */
  private scalar<T>(name: string, read: (value: ExactJson | undefined) => T | undefined, what: string): T {
    const bound = bindScalar(this.members, name, read);
    if (bound === undefined) throw new WireDecodeError(`member ${name} must be ${what}`);
    return bound;
  }

  string(name: string): string {
    return this.scalar(name, readString, 'a string');
  }

  /** Go's int64 (an integer literal, nothing else); beyond ±(2^53−1) it is out of this client's range. */
  int(name: string): number {
    const value = this.scalar(name, readInt64, 'an integer');
    if (value > MAX_SAFE || value < -MAX_SAFE) throw new WireDecodeError(`member ${name} is out of range`);
    return Number(value);
  }

  /** A Go `int64` field, as the protocol's wire types carry it. */
  int64(name: string): bigint {
    return this.scalar(name, readInt64, 'an integer');
  }

  bool(name: string): boolean {
    return this.scalar(name, readBool, 'a boolean');
  }

  object(name: string): JsonObject | null {
    const value = this.raw(name);
    if (value === undefined || value === null) return null;
    if (!isJsonObject(value)) throw new WireDecodeError(`member ${name} must be an object`);
    return value;
  }

  /** A nested struct member (the last binding one), or null. */
  struct(name: string): WireReader | null {
    const value = bindMember(this.members, name);
    if (value === undefined || value === null) return null;
    if (!isExactObject(value)) throw new WireDecodeError(`member ${name} must be an object`);
    return new WireReader(value);
  }

  array(name: string): ExactJson[] {
    const value = bindMember(this.members, name);
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw new WireDecodeError(`member ${name} must be an array`);
    return value;
  }

  /** Go's binding of a pointer, slice, map or raw field (the last matching member, `null` too), as a lossless value. */
  raw(name: string): JsonValue | undefined {
    const value = bindMember(this.members, name);
    if (value === undefined) return undefined;
    try {
      return toLosslessValue(value);
    } catch (err) {
      throw new WireDecodeError(`member ${name}: ${(err as Error).message}`, { cause: err });
    }
  }
}

function objects(values: ExactJson[], what: string): WireReader[] {
  return values.map((value) => {
    if (!isExactObject(value)) throw new WireDecodeError(`${what} must be an object`);
    return new WireReader(value);
  });
}

function header(r: WireReader): CommittedBundleHeader {
  return {
    bundleSeq: r.int('bundle_seq'),
    sourceId: r.string('source_id'),
    sourceBundleId: r.int('source_bundle_id'),
    rowCount: r.int('row_count'),
    bundleHash: r.string('bundle_hash'),
  };
}

function wireRow(r: WireReader): WireRow {
  return {
    schema: r.string('schema'),
    table: r.string('table'),
    key: r.object('key') ?? (Object.create(null) as JsonObject),
    op: r.string('op'),
    rowVersion: r.int('row_version'),
    payload: r.raw('payload'),
  };
}

export function decodePushSession(body: string): PushSessionResponse {
  const r = new WireReader(decodeObject(body));
  return {
    ...header(r),
    pushId: r.string('push_id'),
    status: r.string('status'),
    plannedRowCount: r.int('planned_row_count'),
    nextExpectedRowOrdinal: r.int('next_expected_row_ordinal'),
  };
}

export function decodePushChunk(body: string): PushChunkResponse {
  const r = new WireReader(decodeObject(body));
  return { pushId: r.string('push_id'), nextExpectedRowOrdinal: r.int('next_expected_row_ordinal') };
}

export function decodeCommit(body: string): CommittedBundleHeader {
  return header(new WireReader(decodeObject(body)));
}

export function decodeCommittedRows(body: string): CommittedRowsResponse {
  const r = new WireReader(decodeObject(body));
  return {
    ...header(r),
    rows: objects(r.array('rows'), 'row').map(wireRow),
    nextRowOrdinal: r.int('next_row_ordinal'),
    hasMore: r.bool('has_more'),
  };
}

export function decodePull(body: string): PullResponse {
  const r = new WireReader(decodeObject(body));
  return {
    stableBundleSeq: r.int('stable_bundle_seq'),
    bundles: objects(r.array('bundles'), 'bundle').map((b) => ({
      ...header(b),
      rows: objects(b.array('rows'), 'row').map(wireRow),
    })),
    hasMore: r.bool('has_more'),
  };
}

export function decodeSnapshotSession(body: string): SnapshotSessionResponse {
  const r = new WireReader(decodeObject(body));
  return {
    snapshotId: r.string('snapshot_id'),
    snapshotBundleSeq: r.int('snapshot_bundle_seq'),
    rowCount: r.int('row_count'),
    byteCount: r.int('byte_count'),
    expiresAt: r.string('expires_at'),
  };
}

export function decodeSnapshotChunk(body: string): SnapshotChunkResponse {
  const r = new WireReader(decodeObject(body));
  return {
    snapshotId: r.string('snapshot_id'),
    snapshotBundleSeq: r.int('snapshot_bundle_seq'),
    rows: objects(r.array('rows'), 'row').map((row) => ({
      schema: row.string('schema'),
      table: row.string('table'),
      key: row.object('key') ?? (Object.create(null) as JsonObject),
      rowVersion: row.int('row_version'),
      payload: row.raw('payload'),
    })),
    nextRowOrdinal: r.int('next_row_ordinal'),
    hasMore: r.bool('has_more'),
  };
}

export function decodeConnect(body: string): ConnectResponse {
  const r = new WireReader(decodeObject(body));
  return {
    resolution: r.string('resolution'),
    initializationId: r.string('initialization_id'),
    leaseExpiresAt: r.string('lease_expires_at'),
    retryAfterSeconds: r.int('retry_after_seconds'),
  };
}

export interface Capabilities {
  readonly schemaVersion: number;
  readonly features: Readonly<Record<string, boolean>>;
}

/** `schema_version` and `features` of `GET /sync/capabilities`. */
export function decodeCapabilities(body: string): Capabilities {
  const r = new WireReader(decodeObject(body));
  const features: Record<string, boolean> = {};
  for (const [name, value] of Object.entries(r.object('features') ?? {}))
    if (typeof value === 'boolean') features[name] = value;
  return { schemaVersion: r.int('schema_version'), features };
}

/** The `data:` of a watch event, Go-style: absent members are their zero values. */
export function decodeWatchEvent(data: string): BundleChangeEvent {
  const r = new WireReader(decodeObject(data));
  return {
    bundle_seq: r.int64('bundle_seq'),
    source_id: r.string('source_id'),
    source_bundle_id: r.int64('source_bundle_id'),
  };
}

/** The structured `conflict` of a `409 push_conflict`, or null when absent. */
export function decodePushConflict(body: string): PushConflictDetail | null {
  let r: WireReader;
  try {
    r = new WireReader(decodeObject(body));
  } catch {
    return null;
  }
  if (r.string('error') !== 'push_conflict') return null;
  const c = r.struct('conflict');
  if (!c) return null;
  const serverRow = c.raw('server_row');
  return {
    schema: c.string('schema'),
    table: c.string('table'),
    key: c.object('key') ?? (Object.create(null) as JsonObject),
    op: c.string('op'),
    baseRowVersion: c.int('base_row_version'),
    serverRowVersion: c.int('server_row_version'),
    serverRowDeleted: c.bool('server_row_deleted'),
    serverRow: serverRow === undefined ? null : serverRow,
  };
}

/** The row rules of §8.3, shared by pulled and committed rows; '' when valid. */
export function wireRowProblem(row: {
  schema: string;
  table: string;
  key: JsonObject;
  rowVersion: number;
  op: string;
  payload: JsonValue | undefined;
}): string {
  if (!row.schema.trim()) return 'row schema must be non-empty';
  if (!row.table.trim()) return 'row table must be non-empty';
  if (Object.keys(row.key).length === 0) return 'row key must be non-empty';
  if (row.rowVersion <= 0) return `row_version ${row.rowVersion} must be positive`;
  if (row.op !== 'INSERT' && row.op !== 'UPDATE' && row.op !== 'DELETE')
    return `unsupported row op ${JSON.stringify(row.op)}`;
  if (row.op !== 'DELETE' && row.payload === undefined) return `${row.op.toLowerCase()} row payload must be present`;
  return '';
}
