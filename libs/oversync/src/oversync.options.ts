import type { CanActivate, ExecutionContext, Type } from '@nestjs/common';
import type { Registry } from 'prom-client';
import type { RegisteredTableConfig } from './schema/registered-table.js';

/** Who is calling: the host's authenticated user. Returns the user id, or undefined when unknown. */
export type ActorResolver = (context: ExecutionContext) => string | undefined | Promise<string | undefined>;

/** Limits and defaults of spec §7; every value is optional and falls back to the spec's default. */
export interface OversyncLimits {
  defaultRowsPerPushChunk?: number;
  maxRowsPerPushChunk?: number;
  pushSessionTtlSeconds?: number;
  defaultRowsPerCommittedBundleChunk?: number;
  maxRowsPerCommittedBundleChunk?: number;
  defaultRowsPerSnapshotChunk?: number;
  maxRowsPerSnapshotChunk?: number;
  snapshotSessionTtlSeconds?: number;
  maxRowsPerSnapshotSession?: number;
  maxBytesPerSnapshotSession?: number;
  initializationLeaseTtlSeconds?: number;
  retainedBundlesPerUser?: number;
  retentionPruneBatchSize?: number;
  /** advertised only, like the reference */
  maxRowsPerBundle?: number;
  maxBytesPerBundle?: number;
  /** largest request body the sync routes read, in bytes (the reference has none) */
  maxRequestBodyBytes?: number;
  /** upper bound of planned_row_count of one push session (the reference has none) */
  maxPlannedRowCount?: number;
  /** milliseconds to wait for the per-user lock before answering a retryable 503 (spec §8.15) */
  userLockTimeoutMs?: number;
  /** SET LOCAL lock_timeout for push transactions (UploadLockTimeout); 0 disables */
  uploadLockTimeoutMs?: number;
  /** how often the background sweeper removes expired push/snapshot sessions and leases (default 60 000 ms) */
  sweepIntervalMs?: number;
}

/** Host policy: may this actor open the watch stream? (reference `BundleChangeWatchAllowed`) */
export type WatchPolicy = (actor: { readonly userId: string; readonly sourceId: string }) => boolean;

export interface OversyncWatchOptions {
  allowed?: WatchPolicy;
  enabled?: boolean;
  notifyChannel?: string;
  heartbeatIntervalMs?: number;
  /**
   * the process LISTENs for other processes' commits only while it has a watch stream, and this long
   * after its last one closed (default 30,000; 0 = stop at once)
   */
  listenLingerMs?: number;
  maxSubscribersPerUser?: number;
  maxSubscribersPerProcess?: number;
}

/** Prometheus metrics (prom-client). Off unless `enabled`. */
export interface OversyncMetricsOptions {
  enabled?: boolean;
  /**
   * the host's registry (e.g. prom-client's global `register`); default: a registry owned by the module, see
   * `OversyncTelemetry.registry`
   */
  registry?: Registry;
  /** metric name prefix, default `oversync_` */
  prefix?: string;
}

/** OpenTelemetry spans through `@opentelemetry/api`; a no-op until the host registers an SDK. Off unless `enabled`. */
export interface OversyncTracingOptions {
  enabled?: boolean;
}

/** What the module logs through Nest's Logger (never tokens or payloads). */
export interface OversyncLoggingOptions {
  /**
   * one structured line per sync request: request id, user id, source id, route, status, error
   * code, duration (default false)
   */
  requests?: boolean;
  /** per-stage timings of push chunk and commit as structured fields (default false) */
  stageTimings?: boolean;
}

export interface OversyncModuleOptions {
  /** The registered tables: `{ schema, table, syncKeyColumns }`. */
  tables: RegisteredTableConfig[];
  appName?: string;
  maxSupportedSchemaVersion?: number;
  /** Name of the host's TypeORM connection (default connection when omitted). */
  dataSourceName?: string;
  /** Resolves the user id; default: `request.user.sub` (then `request.user.id`, `request.user.userId`). */
  actor?: ActorResolver;
  /** Host guards run before the module's actor guard on every /sync route, e.g. `AuthGuard('jwt')`. */
  guards?: Array<Type<CanActivate> | CanActivate>;
  /**
   * `GET /syncx/status` (authenticated like the sync routes) serves details only when true (spec §8.18); default true.
   */
  exposeStatusDetails?: boolean;
  /**
   * `GET /syncx/health` (open) names its checks (lifecycle, bootstrap, watch listener) only when
   * true; default false: only healthy/unhealthy (§8.18).
   */
  exposeHealthDetails?: boolean;
  /**
   * Run bootstrap (create/validate the `sync` schema, install triggers) on module init; default true.
   * false: the host applied the DDL itself (oversyncSchemaSql / createOversyncSchemaMigration); the
   * module then only verifies it, read-only, and fails start-up naming what is missing.
   */
  bootstrap?: boolean;
  limits?: OversyncLimits;
  watch?: OversyncWatchOptions;
  /**
   * Named prepared statements for the fixed by-key queries (default true). Set false behind a pooler
   * that cannot keep them per server connection, e.g. PgBouncer in transaction mode before 1.21 or
   * with `max_prepared_statements = 0` (see docs/scale-out.md).
   */
  preparedStatements?: boolean;
  metrics?: OversyncMetricsOptions;
  tracing?: OversyncTracingOptions;
  logging?: OversyncLoggingOptions;
}
