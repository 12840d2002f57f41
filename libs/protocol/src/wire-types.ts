// Every request and response body of spec/server.md §3, with the exact JSON member names.
// Types list their members in the reference's struct order, which is the order the server must
// emit them in (§3.0.4); optional members are Go `omitempty` (absent when zero). They are type
// aliases, not interfaces, so plain values of them are assignable to `JsonValue`/`GoJsonValue`.
// int64 members (Go `int64`) are `bigint`, as the server reads them from PostgreSQL and the client
// decodes them; Go `int` members (schema_version, inflight_operations, most limits) are `number`.
// Lists of rows are a type parameter: values where they are built or decoded (the default), or JSON
// text the server already holds (`EncodedJson`, written verbatim), so both sides use one type. Rows
// take their payload (and key) type as parameters: the client decodes them as lossless values
// (int64 beyond 2^53 as `bigint`) and checks keys itself (client.md §8.3).
import type { ErrorBody } from './error-codes.js';

// ---------------------------------------------------------------- JSON values

export type JsonPrimitive = null | boolean | number | string;
/** Any JSON value, as `JSON.parse` / `parseJsonText` produce it. */
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject {
  [member: string]: JsonValue;
}

// ---------------------------------------------------------------- routes (§3.0.1)

/** Paths of the library routes, as the Go example hosts mount them. */
export const SYNC_ROUTES = {
  connect: '/sync/connect',
  pushSessions: '/sync/push-sessions',
  pushSessionChunks: (pushId: string) => `/sync/push-sessions/${encodeURIComponent(pushId)}/chunks`,
  pushSessionCommit: (pushId: string) => `/sync/push-sessions/${encodeURIComponent(pushId)}/commit`,
  pushSession: (pushId: string) => `/sync/push-sessions/${encodeURIComponent(pushId)}`,
  committedBundleRows: (bundleSeq: bigint) => `/sync/committed-bundles/${bundleSeq}/rows`,
  pull: '/sync/pull',
  watch: '/sync/watch',
  snapshotSessions: '/sync/snapshot-sessions',
  snapshotSession: (snapshotId: string) => `/sync/snapshot-sessions/${encodeURIComponent(snapshotId)}`,
  capabilities: '/sync/capabilities',
  health: '/syncx/health',
  status: '/syncx/status',
} as const;

// ---------------------------------------------------------------- rows and keys (§1.3, §4.7)

/** Row operation names on the wire (§4.7.1). Codes live in `ROW_OP_CODES`. */
export const ROW_OPS = ['INSERT', 'UPDATE', 'DELETE'] as const;
export type RowOp = (typeof ROW_OPS)[number];

/**
 * Wire key: exactly one member, `{"<key column>": "<key string>"}`; uuid keys as canonical
 * lower-case dashed text, text keys as the text.
 */
export type WireKey = Record<string, string>;

/** One dirty row in a push chunk (§3.3), members in the order the Go client emits them. */
export type PushRequestRow = {
  schema: string;
  table: string;
  key: WireKey;
  op: RowOp;
  /** Row version the change is based on; 0 for never-seen rows. */
  base_row_version: bigint;
  /** Required for INSERT/UPDATE; MUST be absent for DELETE (even `null` is rejected). */
  payload?: JsonObject;
};

/** One row of a committed bundle (pull, committed-row fetch). `payload` absent for DELETE. */
export type BundleRow<Payload = JsonObject, Key = WireKey> = {
  schema: string;
  table: string;
  key: Key;
  op: RowOp;
  /** = the bundle's `bundle_seq`. */
  row_version: bigint;
  payload?: Payload;
};

/** One row of a snapshot chunk (§3.10): the current after-image, payload always present. */
export type SnapshotRow<Payload = JsonObject, Key = WireKey> = {
  schema: string;
  table: string;
  key: Key;
  row_version: bigint;
  payload: Payload;
};

// ---------------------------------------------------------------- connect (§3.1)

export type ConnectRequest = {
  /** Missing = false. */
  has_local_pending_rows?: boolean;
};

export const CONNECT_RESOLUTIONS = [
  'remote_authoritative',
  'initialize_local',
  'initialize_empty',
  'retry_later',
] as const;
export type ConnectResolution = (typeof CONNECT_RESOLUTIONS)[number];

export type ConnectResponse = {
  resolution: ConnectResolution;
  /** UUID; only with `initialize_local`. */
  initialization_id?: string;
  /** RFC3339Nano UTC; with `initialize_local` and `retry_later`. */
  lease_expires_at?: string;
  /** ≥ 1; only with `retry_later`. */
  retry_after_seconds?: number;
};

// ---------------------------------------------------------------- push sessions (§3.2–§3.5)

export type PushSessionCreateRequest = {
  /** > 0; `max_committed_source_bundle_id + 1` of the actor's source. */
  source_bundle_id: bigint;
  /** > 0. */
  planned_row_count: bigint;
  /** Required iff the scope is INITIALIZING (the id from connect's `initialize_local`). */
  initialization_id?: string;
};

export const PUSH_SESSION_STATUSES = ['staging', 'already_committed'] as const;
export type PushSessionStatus = (typeof PUSH_SESSION_STATUSES)[number];

/** A new staging session. `next_expected_row_ordinal` is always 0 and therefore never sent. */
export type PushSessionStagingResponse = {
  push_id: string;
  status: 'staging';
  planned_row_count: bigint;
  next_expected_row_ordinal?: bigint;
};

/** The `(source_id, source_bundle_id)` tuple was committed before: the header of that bundle (omitempty members). */
export type PushSessionAlreadyCommittedResponse = {
  status: 'already_committed';
  bundle_seq: bigint;
  source_id?: string;
  source_bundle_id: bigint;
  row_count?: bigint;
  bundle_hash?: string;
};

export type PushSessionCreateResponse = PushSessionStagingResponse | PushSessionAlreadyCommittedResponse;

export type PushChunkRequest = {
  /** ≥ 0 and equal to the session's `next_expected_row_ordinal`. */
  start_row_ordinal: bigint;
  /** 1 … `max_rows_per_push_chunk` rows. */
  rows: PushRequestRow[];
};

export type PushChunkResponse = {
  /** Echo of the path value exactly as sent. */
  push_id: string;
  next_expected_row_ordinal: bigint;
};

/** Header of a committed bundle: the commit response (§3.4). `bundle_hash` is 64 lower-case hex. */
export type PushCommitResponse = {
  bundle_seq: bigint;
  source_id: string;
  source_bundle_id: bigint;
  row_count: bigint;
  bundle_hash: string;
};

/** The row that rejected a push commit (§4.3). No member is omitempty. */
export type PushConflict<Payload = JsonObject, Key = WireKey> = {
  schema: string;
  table: string;
  key: Key;
  /** The pushed (normalised, upper-case) op. */
  op: RowOp;
  base_row_version: bigint;
  /** 0 when the server has no row state. */
  server_row_version: bigint;
  /** Tombstone flag; false when there is no row state. */
  server_row_deleted: boolean;
  /** Live after-image (pass-through encoding, §4.7.4) or `null`. */
  server_row: Payload | null;
};

/** 409 body of a conflicting commit. The Go client recovers only when `conflict` is present. */
export type PushConflictErrorBody = ErrorBody & {
  error: 'push_conflict';
  conflict?: PushConflict;
};

/** 409 body for a retired source (push create/commit, snapshot create). */
export type SourceRetiredErrorBody = ErrorBody & {
  error: 'source_retired';
  source_id: string;
  /** Omitted when empty. */
  replaced_by_source_id?: string;
};

// ---------------------------------------------------------------- committed rows and pull (§3.6, §3.7)

export type CommittedBundleRowsResponse<Rows = BundleRow[]> = {
  bundle_seq: bigint;
  source_id: string;
  source_bundle_id: bigint;
  row_count: bigint;
  bundle_hash: string;
  rows: Rows;
  /** Wire ordinal of the last returned row; without rows `after_row_ordinal` if given, else 0. */
  next_row_ordinal: bigint;
  has_more: boolean;
};

/** One committed bundle in a pull page. Pull always fills `row_count` and `bundle_hash`. */
export type Bundle<Rows = BundleRow[]> = {
  bundle_seq: bigint;
  source_id: string;
  source_bundle_id: bigint;
  row_count?: bigint;
  bundle_hash?: string;
  rows: Rows;
};

export type PullResponse<Bundles = Bundle[]> = {
  stable_bundle_seq: bigint;
  bundles: Bundles;
  has_more: boolean;
};

// ---------------------------------------------------------------- watch (§3.8, §4.14)

/** `data:` of an SSE `event: bundle`. Catch-up events carry only `bundle_seq`. */
export type BundleChangeEvent = {
  bundle_seq: bigint;
  source_id?: string;
  source_bundle_id?: bigint;
};

/** Payload of the PostgreSQL `pg_notify` emitted inside every bundle commit when watch is on. */
export type BundleChangeNotification = {
  user_pk: bigint;
  bundle_seq: bigint;
  source_id?: string;
  source_bundle_id?: bigint;
};

// ---------------------------------------------------------------- snapshots (§3.9–§3.11, §4.11)

export const SOURCE_REPLACEMENT_REASONS = [
  'history_pruned',
  'source_sequence_out_of_order',
  'source_sequence_changed',
  'source_retired',
] as const;
export type SourceReplacementReason = (typeof SOURCE_REPLACEMENT_REASONS)[number];

export type SourceReplacement = {
  /** Must equal the actor's source id. */
  previous_source_id: string;
  new_source_id: string;
  reason: SourceReplacementReason;
};

/** Body optional; omitted/`null`/`{}` = keep-source rebuild. Unknown members are rejected. */
export type SnapshotSessionCreateRequest = {
  source_replacement?: SourceReplacement | null;
};

export type SnapshotSessionCreateResponse = {
  snapshot_id: string;
  snapshot_bundle_seq: bigint;
  row_count: bigint;
  /** UTF-8 length of the stored payload texts; omitted for an empty snapshot. */
  byte_count?: bigint;
  /** RFC3339Nano UTC. */
  expires_at: string;
};

export type SnapshotChunkResponse<Rows = SnapshotRow[]> = {
  /** Echo of the path value. */
  snapshot_id: string;
  snapshot_bundle_seq: bigint;
  rows: Rows;
  /** `after_row_ordinal + rows.length`. */
  next_row_ordinal: bigint;
  has_more: boolean;
};

// ---------------------------------------------------------------- capabilities, status, health (§3.12, §3.13)

/** Every capability flag, sorted as the Go map encoder emits them. */
export const CAPABILITY_FEATURES = [
  'accepted_push_replay_visibility',
  'bundle_change_watch',
  'bundle_pull',
  'bundle_push',
  'capabilities_endpoint',
  'committed_bundle_row_fetch',
  'committed_bundle_visibility',
  'connect_lifecycle',
  'graceful_shutdown',
  'history_pruned_errors',
  'history_pruned_visibility',
  'push_session_chunking',
  'registered_write_rejection_enforced',
  'retained_floor_visibility',
  'retained_window_visibility',
  'scope_initialization_leases',
  'server_checkpoint_tracking',
  'snapshot_chunking',
  'status_endpoint',
  'structured_sync_keys',
] as const;
export type CapabilityFeature = (typeof CAPABILITY_FEATURES)[number];
export type CapabilityFeatures = Record<CapabilityFeature, boolean>;

/**
 * The feature map the reference advertises: every flag true except `server_checkpoint_tracking`
 * (always false) and `bundle_change_watch` (= watch enabled, and false for an actor the watch
 * policy rejects).
 */
export function capabilityFeatures(bundleChangeWatch: boolean): CapabilityFeatures {
  const features = Object.fromEntries(CAPABILITY_FEATURES.map((name) => [name, true])) as CapabilityFeatures;
  features.bundle_change_watch = bundleChangeWatch;
  features.server_checkpoint_tracking = false;
  return features;
}

export type RegisteredTableSpec = {
  schema: string;
  table: string;
  sync_key_columns?: string[];
};

/** Advertised limits (every member omitempty; TTLs in whole seconds). Defaults: `DEFAULT_BUNDLE_LIMITS`. */
export type BundleLimits = {
  max_rows_per_bundle?: number;
  max_bytes_per_bundle?: number;
  max_bundles_per_pull?: number;
  default_rows_per_push_chunk?: number;
  max_rows_per_push_chunk?: number;
  push_session_ttl_seconds?: number;
  default_rows_per_committed_bundle_chunk?: number;
  max_rows_per_committed_bundle_chunk?: number;
  default_rows_per_snapshot_chunk?: number;
  max_rows_per_snapshot_chunk?: number;
  snapshot_session_ttl_seconds?: number;
  max_rows_per_snapshot_session?: bigint;
  max_bytes_per_snapshot_session?: bigint;
  initialization_lease_ttl_seconds?: number;
};

export type CapabilitiesResponse = {
  /** `"v1"`. */
  protocol_version: string;
  /** Never omitted, even when 0. */
  schema_version: number;
  app_name?: string;
  /** Sorted `"schema.table"` strings. */
  registered_tables?: string[];
  /** Sorted by `schema.table`. */
  registered_table_specs?: RegisteredTableSpec[];
  features: CapabilityFeatures;
  /** Always present. */
  bundle_limits: BundleLimits;
};

export const SERVICE_LIFECYCLES = ['running', 'shutting_down', 'closed'] as const;
export type ServiceLifecycle = (typeof SERVICE_LIFECYCLES)[number];
export type ServiceHealth = 'healthy' | 'unhealthy';

/** Body of `/syncx/status` and `/syncx/health` (health answers 503 with it when unhealthy). */
export type StatusResponse = {
  status: ServiceHealth;
  /** `"v1"`. */
  version: string;
  app_name: string;
  lifecycle: ServiceLifecycle;
  accepting_operations: boolean;
  inflight_operations: number;
  /** Sorted `"schema.table"` strings; always an array. */
  registered_tables: string[];
  features: CapabilityFeatures;
  user_state_retention_floor_ahead_count: bigint;
  latest_bundle_seq_max: bigint;
  retained_bundle_floor_min: bigint;
  retained_bundle_floor_max: bigint;
  retained_bundle_window_min: bigint;
  retained_bundle_window_max: bigint;
  history_pruned_error_count: bigint;
  accepted_push_replay_count: bigint;
  rejected_registered_write_count: bigint;
  committed_bundle_count: bigint;
  committed_bundle_bytes: bigint;
};
/** `/syncx/status` with status details turned off (an option of this implementation). */
export type StatusSummaryResponse = Pick<StatusResponse, 'status' | 'version' | 'lifecycle' | 'accepting_operations'>;
/** `/syncx/health` of this implementation (503 when unhealthy); the details are opt-in. */
export type HealthResponse = {
  status: ServiceHealth;
  version: string;
  lifecycle?: ServiceLifecycle;
  accepting_operations?: boolean;
  bootstrapped?: boolean;
  watch_listener?: 'up' | 'down' | 'disabled';
  inflight_operations?: number;
};
