import type { Registry } from 'prom-client';
import {
  DEFAULT_APP_NAME,
  DEFAULT_BUNDLE_CHANGE_NOTIFY_CHANNEL,
  DEFAULT_BUNDLE_CHANGE_WATCH_ENABLED,
  DEFAULT_MAX_BYTES_PER_BUNDLE,
  DEFAULT_MAX_BYTES_PER_SNAPSHOT_SESSION,
  DEFAULT_MAX_ROWS_PER_BUNDLE,
  DEFAULT_MAX_ROWS_PER_SNAPSHOT_SESSION,
  DEFAULT_ROWS_PER_COMMITTED_BUNDLE_CHUNK,
  DEFAULT_ROWS_PER_PUSH_CHUNK,
  DEFAULT_ROWS_PER_SNAPSHOT_CHUNK,
  DEFAULT_SCHEMA_VERSION,
  DEFAULT_UPLOAD_LOCK_TIMEOUT_MS,
  DEFAULT_WATCH_HEARTBEAT_INTERVAL_MS,
  DEFAULT_WATCH_LISTEN_LINGER_MS,
  INITIALIZATION_LEASE_TTL_SECONDS,
  MAX_NOTIFY_CHANNEL_BYTES,
  MAX_ROWS_PER_COMMITTED_BUNDLE_CHUNK,
  MAX_ROWS_PER_PUSH_CHUNK,
  MAX_ROWS_PER_SNAPSHOT_CHUNK,
  PUSH_SESSION_TTL_SECONDS,
  RETAINED_BUNDLES_PER_USER,
  RETENTION_PRUNE_BATCH_SIZE,
  SNAPSHOT_SESSION_TTL_SECONDS,
} from '@oversync/protocol';
import type { OversyncModuleOptions, WatchPolicy } from './oversync.options.js';
import type { RegisteredTableConfig } from './schema/registered-table.js';

/** Options after validation and defaults (spec §7). Durations in milliseconds. */
export interface OversyncConfig {
  readonly tables: readonly RegisteredTableConfig[];
  readonly appName: string;
  readonly schemaVersion: number;
  readonly exposeStatusDetails: boolean;
  readonly exposeHealthDetails: boolean;
  readonly bootstrap: boolean;
  readonly defaultRowsPerPushChunk: number;
  readonly maxRowsPerPushChunk: number;
  readonly pushSessionTtlMs: number;
  readonly defaultRowsPerCommittedBundleChunk: number;
  readonly maxRowsPerCommittedBundleChunk: number;
  readonly defaultRowsPerSnapshotChunk: number;
  readonly maxRowsPerSnapshotChunk: number;
  readonly snapshotSessionTtlMs: number;
  readonly maxRowsPerSnapshotSession: number;
  readonly maxBytesPerSnapshotSession: number;
  readonly initializationLeaseTtlMs: number;
  readonly retainedBundlesPerUser: number;
  readonly retentionPruneBatchSize: number;
  readonly maxRowsPerBundle: number;
  readonly maxBytesPerBundle: number;
  readonly maxRequestBodyBytes: number;
  readonly maxPlannedRowCount: number;
  readonly userLockTimeoutMs: number;
  readonly uploadLockTimeoutMs: number;
  readonly sweepIntervalMs: number;
  readonly watchPolicy?: WatchPolicy;
  readonly metrics: { readonly enabled: boolean; readonly registry?: Registry; readonly prefix: string };
  readonly tracing: { readonly enabled: boolean };
  readonly logging: { readonly requests: boolean; readonly stageTimings: boolean };
  readonly watch: {
    readonly enabled: boolean;
    readonly notifyChannel: string;
    readonly heartbeatIntervalMs: number;
    readonly listenLingerMs: number;
    readonly maxSubscribersPerUser: number;
    readonly maxSubscribersPerProcess: number;
  };
}

export class OversyncOptionsError extends Error {
  constructor(message: string) {
    super(`OversyncModule options: ${message}`);
    this.name = 'OversyncOptionsError';
  }
}

function count(path: string, value: number | undefined, fallback: number, { zeroMeans = fallback } = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new OversyncOptionsError(`${path} must be a finite number, got ${String(value)}`);
  if (value <= 0) return zeroMeans;
  return Math.floor(value);
}

/** Validates the host's options (fail fast at startup, naming the offending field) and applies defaults. */
export function resolveOversyncConfig(options: OversyncModuleOptions): OversyncConfig {
  if (!options || typeof options !== 'object') throw new OversyncOptionsError('options object is required');
  if (!Array.isArray(options.tables))
    throw new OversyncOptionsError('tables must be an array of { schema, table, syncKeyColumns }');
  const seen = new Set<string>();
  options.tables.forEach((table, index) => {
    const where = `tables[${index}]`;
    if (!table || typeof table !== 'object') throw new OversyncOptionsError(`${where} must be an object`);
    if (typeof table.table !== 'string' || table.table.trim() === '')
      throw new OversyncOptionsError(`${where}.table must be a non-empty string`);
    if (table.schema !== undefined && typeof table.schema !== 'string')
      throw new OversyncOptionsError(`${where}.schema must be a string`);
    if (!Array.isArray(table.syncKeyColumns) || table.syncKeyColumns.some((c) => typeof c !== 'string')) {
      throw new OversyncOptionsError(`${where}.syncKeyColumns (${table.table}) must be an array of column names`);
    }
    const name = `${(table.schema ?? '').trim().toLowerCase() || 'public'}.${table.table.trim().toLowerCase()}`;
    if (seen.has(name)) throw new OversyncOptionsError(`${where}: table ${name} is registered twice`);
    seen.add(name);
  });
  const limits = options.limits ?? {};
  const watch = options.watch ?? {};
  const channel = watch.notifyChannel ?? DEFAULT_BUNDLE_CHANGE_NOTIFY_CHANNEL;
  if (
    typeof channel !== 'string' ||
    channel === '' ||
    Buffer.byteLength(channel) > MAX_NOTIFY_CHANNEL_BYTES ||
    channel.includes('\0')
  ) {
    throw new OversyncOptionsError('watch.notifyChannel must be 1..63 bytes without NUL');
  }
  const metricsPrefix = options.metrics?.prefix ?? 'oversync_';
  if (typeof metricsPrefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(metricsPrefix))
    throw new OversyncOptionsError('metrics.prefix must be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)');
  const appName = options.appName ?? DEFAULT_APP_NAME;
  if (typeof appName !== 'string') throw new OversyncOptionsError('appName must be a string');
  const seconds = 1000;
  return {
    tables: options.tables,
    appName,
    schemaVersion: options.maxSupportedSchemaVersion ?? DEFAULT_SCHEMA_VERSION,
    exposeStatusDetails: options.exposeStatusDetails ?? true,
    exposeHealthDetails: options.exposeHealthDetails ?? false,
    bootstrap: options.bootstrap ?? true,
    defaultRowsPerPushChunk: count(
      'limits.defaultRowsPerPushChunk',
      limits.defaultRowsPerPushChunk,
      DEFAULT_ROWS_PER_PUSH_CHUNK,
    ),
    maxRowsPerPushChunk: count('limits.maxRowsPerPushChunk', limits.maxRowsPerPushChunk, MAX_ROWS_PER_PUSH_CHUNK),
    pushSessionTtlMs:
      count('limits.pushSessionTtlSeconds', limits.pushSessionTtlSeconds, PUSH_SESSION_TTL_SECONDS) * seconds,
    defaultRowsPerCommittedBundleChunk: count(
      'limits.defaultRowsPerCommittedBundleChunk',
      limits.defaultRowsPerCommittedBundleChunk,
      DEFAULT_ROWS_PER_COMMITTED_BUNDLE_CHUNK,
    ),
    maxRowsPerCommittedBundleChunk: count(
      'limits.maxRowsPerCommittedBundleChunk',
      limits.maxRowsPerCommittedBundleChunk,
      MAX_ROWS_PER_COMMITTED_BUNDLE_CHUNK,
    ),
    defaultRowsPerSnapshotChunk: count(
      'limits.defaultRowsPerSnapshotChunk',
      limits.defaultRowsPerSnapshotChunk,
      DEFAULT_ROWS_PER_SNAPSHOT_CHUNK,
    ),
    maxRowsPerSnapshotChunk: count(
      'limits.maxRowsPerSnapshotChunk',
      limits.maxRowsPerSnapshotChunk,
      MAX_ROWS_PER_SNAPSHOT_CHUNK,
    ),
    snapshotSessionTtlMs:
      count('limits.snapshotSessionTtlSeconds', limits.snapshotSessionTtlSeconds, SNAPSHOT_SESSION_TTL_SECONDS) *
      seconds,
    maxRowsPerSnapshotSession: count(
      'limits.maxRowsPerSnapshotSession',
      limits.maxRowsPerSnapshotSession,
      DEFAULT_MAX_ROWS_PER_SNAPSHOT_SESSION,
    ),
    maxBytesPerSnapshotSession: count(
      'limits.maxBytesPerSnapshotSession',
      limits.maxBytesPerSnapshotSession,
      DEFAULT_MAX_BYTES_PER_SNAPSHOT_SESSION,
    ),
    initializationLeaseTtlMs:
      count(
        'limits.initializationLeaseTtlSeconds',
        limits.initializationLeaseTtlSeconds,
        INITIALIZATION_LEASE_TTL_SECONDS,
      ) * seconds,
    retainedBundlesPerUser: count(
      'limits.retainedBundlesPerUser',
      limits.retainedBundlesPerUser,
      RETAINED_BUNDLES_PER_USER,
    ),
    retentionPruneBatchSize: count(
      'limits.retentionPruneBatchSize',
      limits.retentionPruneBatchSize,
      RETENTION_PRUNE_BATCH_SIZE,
    ),
    maxRowsPerBundle: count('limits.maxRowsPerBundle', limits.maxRowsPerBundle, DEFAULT_MAX_ROWS_PER_BUNDLE),
    maxBytesPerBundle: count('limits.maxBytesPerBundle', limits.maxBytesPerBundle, DEFAULT_MAX_BYTES_PER_BUNDLE),
    maxRequestBodyBytes: count('limits.maxRequestBodyBytes', limits.maxRequestBodyBytes, 64 * 1024 * 1024),
    maxPlannedRowCount: count('limits.maxPlannedRowCount', limits.maxPlannedRowCount, 10_000_000),
    userLockTimeoutMs: count('limits.userLockTimeoutMs', limits.userLockTimeoutMs, 30_000),
    uploadLockTimeoutMs: count(
      'limits.uploadLockTimeoutMs',
      limits.uploadLockTimeoutMs,
      DEFAULT_UPLOAD_LOCK_TIMEOUT_MS,
    ),
    sweepIntervalMs: count('limits.sweepIntervalMs', limits.sweepIntervalMs, 60_000),
    watchPolicy: watch.allowed,
    metrics: { enabled: options.metrics?.enabled ?? false, registry: options.metrics?.registry, prefix: metricsPrefix },
    tracing: { enabled: options.tracing?.enabled ?? false },
    logging: { requests: options.logging?.requests ?? false, stageTimings: options.logging?.stageTimings ?? false },
    watch: {
      enabled: watch.enabled ?? DEFAULT_BUNDLE_CHANGE_WATCH_ENABLED,
      notifyChannel: channel,
      heartbeatIntervalMs: count(
        'watch.heartbeatIntervalMs',
        watch.heartbeatIntervalMs,
        DEFAULT_WATCH_HEARTBEAT_INTERVAL_MS,
      ),
      listenLingerMs: count('watch.listenLingerMs', watch.listenLingerMs, DEFAULT_WATCH_LISTEN_LINGER_MS, {
        zeroMeans: 0,
      }),
      maxSubscribersPerUser: count('watch.maxSubscribersPerUser', watch.maxSubscribersPerUser, 16),
      maxSubscribersPerProcess: count('watch.maxSubscribersPerProcess', watch.maxSubscribersPerProcess, 10_000),
    },
  };
}
