// Limits, defaults and constants of spec/server.md §7 (plus the header, content-type and SSE
// constants of §3). Durations carry their unit in the name.
import type { BundleLimits, RowOp } from './wire-types.js';

// ---------------------------------------------------------------- protocol identity

/** Capabilities `protocol_version` and status `version`. */
export const PROTOCOL_VERSION = 'v1';
/** Layout marker stored in `sync.meta`. */
export const LAYOUT_LABEL = 'v1';
export const LAYOUT_NAME = 'server_postgres_sync_v1';
/** `schema_version` when no `MaxSupportedSchemaVersion` is configured. */
export const DEFAULT_SCHEMA_VERSION = 1;
export const DEFAULT_APP_NAME = 'go-oversync-app';
/** Hidden owner column of every registered table; never appears on the wire. */
export const HIDDEN_SCOPE_COLUMN = '_sync_scope_id';

// ---------------------------------------------------------------- HTTP

/** Request header carrying the actor's source id (trimmed; required on `/sync/*`). */
export const SOURCE_ID_HEADER = 'Oversync-Source-ID';
/** JSON responses: exactly this, no charset. */
export const JSON_CONTENT_TYPE = 'application/json';
export const SSE_CONTENT_TYPE = 'text/event-stream';
/** Headers of a successful watch stream, besides `Content-Type`. */
export const WATCH_STREAM_HEADERS = { 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' } as const;
/** SSE event name of bundle change events. */
export const WATCH_EVENT_NAME = 'bundle';
/** The heartbeat frame, written every heartbeat interval. */
export const WATCH_HEARTBEAT_FRAME = ': heartbeat\n\n';
/** Reconnect delay advertised to EventSource clients in the stream's first frame (ms). */
export const WATCH_RETRY_MS = 2000;
/** The stream's first frame: the reconnect delay. */
export const WATCH_RETRY_FRAME = `retry: ${WATCH_RETRY_MS}\n\n`;

// ---------------------------------------------------------------- pull and chunk sizes

export const MAX_BUNDLES_PER_PULL = 5000;
export const DEFAULT_BUNDLES_PER_PULL = 1000;
/** Advertised only. */
export const DEFAULT_ROWS_PER_PUSH_CHUNK = 1000;
/** Enforced: more rows in one chunk → 400 `push_chunk_invalid`. */
export const MAX_ROWS_PER_PUSH_CHUNK = 5000;
export const DEFAULT_ROWS_PER_COMMITTED_BUNDLE_CHUNK = 1000;
/** Larger `max_rows` are silently clamped. */
export const MAX_ROWS_PER_COMMITTED_BUNDLE_CHUNK = 5000;
export const DEFAULT_ROWS_PER_SNAPSHOT_CHUNK = 1000;
/** Larger `max_rows` are silently clamped. */
export const MAX_ROWS_PER_SNAPSHOT_CHUNK = 5000;
/** 0 = unlimited (omitted from `bundle_limits`); exceeding a configured limit → 500. */
export const DEFAULT_MAX_ROWS_PER_SNAPSHOT_SESSION = 0;
export const DEFAULT_MAX_BYTES_PER_SNAPSHOT_SESSION = 0;
/** Advertised only, never enforced; 0 = omitted. */
export const DEFAULT_MAX_ROWS_PER_BUNDLE = 0;
export const DEFAULT_MAX_BYTES_PER_BUNDLE = 0;

// ---------------------------------------------------------------- TTLs, retention, locking

/** Sliding: every chunk upload sets expiry to now + TTL. */
export const PUSH_SESSION_TTL_SECONDS = 900;
/** Never extended. */
export const SNAPSHOT_SESSION_TTL_SECONDS = 900;
export const INITIALIZATION_LEASE_TTL_SECONDS = 900;
/** Retained bundles per user (window). */
export const RETAINED_BUNDLES_PER_USER = 10000;
/** The retained floor advances by at most this many bundles per commit. */
export const RETENTION_PRUNE_BATCH_SIZE = 1000;
/** `retry_after_seconds` of a `retry_later` connect is at least this. */
export const MIN_RETRY_AFTER_SECONDS = 1;
/** 0 (or ≤ 0) disables `SET LOCAL lock_timeout`; otherwise whole ms, truncated, min 1. */
export const DEFAULT_UPLOAD_LOCK_TIMEOUT_MS = 0;
/** Transaction attempts in total for SQLSTATE 40001, 40P01, 55P03; delay `(attempt + 1) × base`. */
export const TX_RETRY_ATTEMPTS = 3;
export const TX_RETRY_BASE_DELAY_MS = 25;
export const BOOTSTRAP_TX_RETRY_BASE_DELAY_MS = 50;
export const RETRYABLE_SQLSTATES = ['40001', '40P01', '55P03'] as const;
/** `pg_advisory_xact_lock` key of bootstrap (`0x6f76657273796e63`, "oversync"). */
export const BOOTSTRAP_ADVISORY_LOCK_KEY = 8031718527699873379n;
export const OWNER_GUARD_TRIGGER = 'oversync_bundle_owner_guard';
export const CAPTURE_TRIGGER = 'oversync_bundle_capture_row';

// ---------------------------------------------------------------- watch

export const DEFAULT_BUNDLE_CHANGE_WATCH_ENABLED = false;
export const DEFAULT_BUNDLE_CHANGE_NOTIFY_CHANNEL = 'oversync_bundle_change_v1';
/** PostgreSQL identifier limit for the NOTIFY channel, in UTF-8 bytes (and no NUL). */
export const MAX_NOTIFY_CHANNEL_BYTES = 63;
export const DEFAULT_WATCH_HEARTBEAT_INTERVAL_MS = 25_000;
/** Listener reconnect backoff: starts here, doubles, never resets. */
/** How long a process keeps LISTENing after its last watch stream closed (port; the reference always listens). */
export const DEFAULT_WATCH_LISTEN_LINGER_MS = 30_000;
export const BUNDLE_CHANGE_LISTENER_BACKOFF_MIN_MS = 100;
export const BUNDLE_CHANGE_LISTENER_BACKOFF_MAX_MS = 2000;

// ---------------------------------------------------------------- identifiers and codes

/** Schema, table and payload column names after lower-casing. */
export const IDENTIFIER_PATTERN = /^[a-z0-9_]+$/;

/** `op_code` of a row operation in sync.bundle_rows and the push stage. */
export const ROW_OP_CODES = { INSERT: 1, UPDATE: 2, DELETE: 3 } as const satisfies Record<RowOp, number>;
/** Row operation of an `op_code`. */
export const ROW_OP_NAMES: Readonly<Record<number, RowOp>> = { 1: 'INSERT', 2: 'UPDATE', 3: 'DELETE' };
export const KEY_KIND_CODES = { uuid: 1, text: 2 } as const;
export const SCOPE_STATE_CODES = { UNINITIALIZED: 0, INITIALIZING: 1, INITIALIZED: 2 } as const;
export const SOURCE_STATES = ['active', 'reserved', 'retired'] as const;
export type SourceStateName = (typeof SOURCE_STATES)[number];
/** Bounds of Go's int64, the type of every integer member and integer parameter of the protocol. */
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

// ---------------------------------------------------------------- Go client defaults (reference only)

/** The Go client never reads `bundle_limits`; these are its own defaults. */
export const GO_CLIENT_DEFAULTS = {
  uploadChunkRows: 1000,
  pullMaxBundles: 1000,
  committedBundleChunkRows: 1000,
  snapshotChunkRows: 1000,
  retryAttempts: 3,
  retryBackoffMinMs: 100,
  retryBackoffMaxMs: 1000,
  retryJitter: 0.2,
} as const;

// ---------------------------------------------------------------- derived

/** `bundle_limits` with every default (members that default to 0 are omitted). */
export const DEFAULT_BUNDLE_LIMITS: Readonly<BundleLimits> = {
  max_bundles_per_pull: MAX_BUNDLES_PER_PULL,
  default_rows_per_push_chunk: DEFAULT_ROWS_PER_PUSH_CHUNK,
  max_rows_per_push_chunk: MAX_ROWS_PER_PUSH_CHUNK,
  push_session_ttl_seconds: PUSH_SESSION_TTL_SECONDS,
  default_rows_per_committed_bundle_chunk: DEFAULT_ROWS_PER_COMMITTED_BUNDLE_CHUNK,
  max_rows_per_committed_bundle_chunk: MAX_ROWS_PER_COMMITTED_BUNDLE_CHUNK,
  default_rows_per_snapshot_chunk: DEFAULT_ROWS_PER_SNAPSHOT_CHUNK,
  max_rows_per_snapshot_chunk: MAX_ROWS_PER_SNAPSHOT_CHUNK,
  snapshot_session_ttl_seconds: SNAPSHOT_SESSION_TTL_SECONDS,
  initialization_lease_ttl_seconds: INITIALIZATION_LEASE_TTL_SECONDS,
};
