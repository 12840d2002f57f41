/**
 * Decoding of server responses into the protocol's wire types (libs/protocol wire-types.ts), Go-style:
 * absent members are zero values, members of the wrong type are a decode error. int64 members are
 * `bigint` (within ±(2^53−1), the range of this client's local state); payloads keep 64-bit integers exact.
 */
import {
  bindMember,
  type Bundle,
  type BundleRow,
  type CapabilitiesResponse,
  type CapabilityFeatures,
  type CommittedBundleRowsResponse,
  type ConnectResponse as ProtocolConnectResponse,
  type PullResponse as ProtocolPullResponse,
  type PushConflict,
  type PushCommitResponse,
  type PushChunkResponse,
  type PushSessionAlreadyCommittedResponse,
  type PushSessionStagingResponse,
  type SnapshotChunkResponse as ProtocolSnapshotChunkResponse,
  type SnapshotRow as ProtocolSnapshotRow,
  type SnapshotSessionCreateResponse,
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

/**
 * A protocol type as this client decodes it, before its checks (§8.3): the members `Free` are any
 * string (an unknown op, status or resolution is refused by the caller with its own message).
 */
export type Unchecked<T, Free extends keyof T> = Omit<T, Free> & { [P in Free]-?: string };

/** A pulled or fetched row: payload a lossless value (absent for DELETE), key unchecked until §8.3. */
export type WireRow = Unchecked<BundleRow<JsonValue, JsonObject>, 'op'>;
export type WireBundle = Required<Bundle<WireRow[]>>;
export type PullResponse = ProtocolPullResponse<WireBundle[]>;
/** Go's struct of both answers of push session create: absent members are zero values. */
export type PushSessionResponse = Required<
  Unchecked<PushSessionStagingResponse & Omit<PushSessionAlreadyCommittedResponse, 'status'>, 'status'>
>;
export type CommittedRowsResponse = CommittedBundleRowsResponse<WireRow[]>;
/** A snapshot row: payload `undefined` when absent (refused by the caller). */
export type SnapshotRow = ProtocolSnapshotRow<JsonValue | undefined, JsonObject>;
export type SnapshotSessionResponse = Required<SnapshotSessionCreateResponse>;
export type SnapshotChunkResponse = ProtocolSnapshotChunkResponse<SnapshotRow[]>;
export type ConnectResponse = Required<Unchecked<ProtocolConnectResponse, 'resolution'>>;
/** The `conflict` of a `409 push_conflict`; `server_row` is `null` when absent or JSON null. */
export type PushConflictDetail = Unchecked<PushConflict<JsonValue, JsonObject>, 'op'>;

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

  /** A Go `int64` field within ±(2^53−1), the range of this client's local state (beyond it: out of range). */
  safeInt64(name: string): bigint {
    const value = this.int64(name);
    if (value > MAX_SAFE || value < -MAX_SAFE) throw new WireDecodeError(`member ${name} is out of range`);
    return value;
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

function header(r: WireReader): PushCommitResponse {
  return {
    bundle_seq: r.safeInt64('bundle_seq'),
    source_id: r.string('source_id'),
    source_bundle_id: r.safeInt64('source_bundle_id'),
    row_count: r.safeInt64('row_count'),
    bundle_hash: r.string('bundle_hash'),
  };
}

function wireRow(r: WireReader): WireRow {
  return {
    schema: r.string('schema'),
    table: r.string('table'),
    key: r.object('key') ?? (Object.create(null) as JsonObject),
    op: r.string('op'),
    row_version: r.safeInt64('row_version'),
    payload: r.raw('payload'),
  };
}

export function decodePushSession(body: string): PushSessionResponse {
  const r = new WireReader(decodeObject(body));
  return {
    ...header(r),
    push_id: r.string('push_id'),
    status: r.string('status'),
    planned_row_count: r.safeInt64('planned_row_count'),
    next_expected_row_ordinal: r.safeInt64('next_expected_row_ordinal'),
  };
}

export function decodePushChunk(body: string): PushChunkResponse {
  const r = new WireReader(decodeObject(body));
  return { push_id: r.string('push_id'), next_expected_row_ordinal: r.safeInt64('next_expected_row_ordinal') };
}

export function decodeCommit(body: string): PushCommitResponse {
  return header(new WireReader(decodeObject(body)));
}

export function decodeCommittedRows(body: string): CommittedRowsResponse {
  const r = new WireReader(decodeObject(body));
  return {
    ...header(r),
    rows: objects(r.array('rows'), 'row').map(wireRow),
    next_row_ordinal: r.safeInt64('next_row_ordinal'),
    has_more: r.bool('has_more'),
  };
}

export function decodePull(body: string): PullResponse {
  const r = new WireReader(decodeObject(body));
  return {
    stable_bundle_seq: r.safeInt64('stable_bundle_seq'),
    bundles: objects(r.array('bundles'), 'bundle').map((b) => ({
      ...header(b),
      rows: objects(b.array('rows'), 'row').map(wireRow),
    })),
    has_more: r.bool('has_more'),
  };
}

export function decodeSnapshotSession(body: string): SnapshotSessionResponse {
  const r = new WireReader(decodeObject(body));
  return {
    snapshot_id: r.string('snapshot_id'),
    snapshot_bundle_seq: r.safeInt64('snapshot_bundle_seq'),
    row_count: r.safeInt64('row_count'),
    byte_count: r.safeInt64('byte_count'),
    expires_at: r.string('expires_at'),
  };
}

export function decodeSnapshotChunk(body: string): SnapshotChunkResponse {
  const r = new WireReader(decodeObject(body));
  return {
    snapshot_id: r.string('snapshot_id'),
    snapshot_bundle_seq: r.safeInt64('snapshot_bundle_seq'),
    rows: objects(r.array('rows'), 'row').map((row) => ({
      schema: row.string('schema'),
      table: row.string('table'),
      key: row.object('key') ?? (Object.create(null) as JsonObject),
      row_version: row.safeInt64('row_version'),
      payload: row.raw('payload'),
    })),
    next_row_ordinal: r.safeInt64('next_row_ordinal'),
    has_more: r.bool('has_more'),
  };
}

export function decodeConnect(body: string): ConnectResponse {
  const r = new WireReader(decodeObject(body));
  return {
    resolution: r.string('resolution'),
    initialization_id: r.string('initialization_id'),
    lease_expires_at: r.string('lease_expires_at'),
    retry_after_seconds: r.int('retry_after_seconds'),
  };
}

/** `schema_version` and the boolean `features` of `GET /sync/capabilities` (a feature the server omits is absent). */
export type Capabilities = Pick<CapabilitiesResponse, 'schema_version'> & { features: Partial<CapabilityFeatures> };

/** `schema_version` and `features` of `GET /sync/capabilities`. */
export function decodeCapabilities(body: string): Capabilities {
  const r = new WireReader(decodeObject(body));
  const features: Record<string, boolean> = {};
  for (const [name, value] of Object.entries(r.object('features') ?? {}))
    if (typeof value === 'boolean') features[name] = value;
  return { schema_version: r.int('schema_version'), features };
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
    base_row_version: c.safeInt64('base_row_version'),
    server_row_version: c.safeInt64('server_row_version'),
    server_row_deleted: c.bool('server_row_deleted'),
    server_row: serverRow === undefined ? null : serverRow,
  };
}

/** The row rules of §8.3, shared by pulled and committed rows; '' when valid. */
export function wireRowProblem(row: {
  schema: string;
  table: string;
  key: JsonObject;
  row_version: bigint;
  op: string;
  payload?: JsonValue | undefined;
}): string {
  if (!row.schema.trim()) return 'row schema must be non-empty';
  if (!row.table.trim()) return 'row table must be non-empty';
  if (Object.keys(row.key).length === 0) return 'row key must be non-empty';
  if (row.row_version <= 0n) return `row_version ${row.row_version} must be positive`;
  if (row.op !== 'INSERT' && row.op !== 'UPDATE' && row.op !== 'DELETE')
    return `unsupported row op ${JSON.stringify(row.op)}`;
  if (row.op !== 'DELETE' && row.payload === undefined) return `${row.op.toLowerCase()} row payload must be present`;
  return '';
}
