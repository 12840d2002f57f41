/** Client configuration, its defaults and normalisation (spec/client.md §1). */
import { GO_CLIENT_DEFAULTS } from '@oversync/protocol';

/** The background loop's backoff bounds (this client's own, spec/client.md §1). */
export const DEFAULT_BACKOFF_MIN_MS = 1000;
const DEFAULT_BACKOFF_MAX_MS = 60_000;

/** One managed table: a local table synced with the server table of the same (lower-cased) name. */
export interface SyncTable {
  readonly tableName: string;
  /** Single key column (convenience). Ignored when `syncKeyColumns` is non-empty. */
  readonly syncKeyColumnName?: string;
  readonly syncKeyColumns?: readonly string[];
}

export interface RetryPolicy {
  /** `false` = a single attempt (the Go zero value `{}` therefore disables retries). */
  readonly enabled: boolean;
  readonly maxAttempts?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly jitterFraction?: number;
}

export type BundleChangeWatchMode = 'off' | 'auto';

export interface OversqliteConfig {
  /** Server schema name written into every row (not a SQLite schema). Required. */
  readonly schema: string;
  /** Managed tables in priority order (ties of the FK order). */
  readonly tables: readonly SyncTable[];
  /** Rows per push chunk (default 1000; the server accepts at most 5000). */
  readonly uploadLimit?: number;
  /** `max_bundles` of pulls and `max_rows` of committed-row pages (default 1000, at most 5000). */
  readonly downloadLimit?: number;
  /** `max_rows` of snapshot chunk requests (default 1000). */
  readonly snapshotChunkRows?: number;
  /** Background loop backoff floor (default 1000 ms). */
  readonly backoffMinMs?: number;
  /** Background loop backoff cap (default 60000 ms). */
  readonly backoffMaxMs?: number;
  /** Transient HTTP retry policy; `null`/absent = default policy. */
  readonly retryPolicy?: RetryPolicy | null;
  /** `auto` = use `GET /sync/watch` in `start()` when the server advertises it. */
  readonly bundleChangeWatchMode?: BundleChangeWatchMode;
  /** Watch-mode fallback pull period (default `backoffMaxMs`, else 60 s). */
  readonly watchFallbackIntervalMs?: number;
  /**
   * The app's table layout version: attach fails when the server's capabilities advertise a lower
   * `schema_version` (default 0 = no check, like the reference).
   */
  readonly minServerSchemaVersion?: number;
  /**
   * `auto` (default): a large pull page is requested, read, checked and hashed by a worker thread while
   * this thread applies its rows as they arrive (the same rows, row state and errors; without a worker,
   * the usual way), and its WAL is checkpointed from a connection of the worker's own. `attach()`, a
   * client's first pull since open and a pull after a page of 1 MiB or more start the worker; the worker
   * makes the request with Node's HTTP client unless `fetch` is given (then it reads a large page's bytes
   * fetched here). `always`: every page; `off`: never.
   */
  readonly pullWorker?: PullWorkerMode;
}

export type PullWorkerMode = 'auto' | 'always' | 'off';

/** The defaults of spec/client.md §1.1. */
export function defaultConfig(
  schema: string,
  tables: readonly SyncTable[],
): Required<Omit<OversqliteConfig, 'retryPolicy'>> & {
  retryPolicy: RetryPolicy | null;
} {
  return {
    schema,
    tables,
    uploadLimit: GO_CLIENT_DEFAULTS.uploadChunkRows,
    downloadLimit: GO_CLIENT_DEFAULTS.pullMaxBundles,
    snapshotChunkRows: GO_CLIENT_DEFAULTS.snapshotChunkRows,
    backoffMinMs: DEFAULT_BACKOFF_MIN_MS,
    backoffMaxMs: DEFAULT_BACKOFF_MAX_MS,
    retryPolicy: null,
    bundleChangeWatchMode: 'off',
    watchFallbackIntervalMs: 0,
    minServerSchemaVersion: 0,
    pullWorker: 'auto',
  };
}

export interface NormalizedRetryPolicy {
  /** false: one attempt, and a transient failure surfaces as itself (no RetryExhaustedError). */
  readonly enabled: boolean;
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly jitterFraction: number;
}

/** `normalizeRetryPolicy` of spec/client.md §1.1. */
export function normalizeRetryPolicy(policy: RetryPolicy | null | undefined): NormalizedRetryPolicy {
  const { retryAttempts, retryBackoffMinMs, retryBackoffMaxMs, retryJitter } = GO_CLIENT_DEFAULTS;
  if (policy == null)
    return {
      enabled: true,
      maxAttempts: retryAttempts,
      initialBackoffMs: retryBackoffMinMs,
      maxBackoffMs: retryBackoffMaxMs,
      jitterFraction: retryJitter,
    };
  if (!policy.enabled)
    return { enabled: false, maxAttempts: 1, initialBackoffMs: 0, maxBackoffMs: 0, jitterFraction: 0 };
  const maxAttempts = positiveOr(policy.maxAttempts, retryAttempts);
  const initialBackoffMs = positiveOr(policy.initialBackoffMs, retryBackoffMinMs);
  let maxBackoffMs = positiveOr(policy.maxBackoffMs, retryBackoffMaxMs);
  if (maxBackoffMs < initialBackoffMs) maxBackoffMs = initialBackoffMs;
  const jitter = policy.jitterFraction ?? 0;
  return {
    enabled: true,
    maxAttempts,
    initialBackoffMs,
    maxBackoffMs,
    jitterFraction: Math.min(1, Math.max(0, jitter)),
  };
}

export interface EffectiveConfig {
  readonly schema: string;
  readonly uploadLimit: number;
  readonly downloadLimit: number;
  readonly snapshotChunkRows: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  readonly retry: NormalizedRetryPolicy;
  readonly watchMode: BundleChangeWatchMode;
  readonly watchFallbackIntervalMs: number;
  readonly minServerSchemaVersion: number;
  readonly pullWorker: PullWorkerMode;
}

export function effectiveConfig(config: OversqliteConfig): EffectiveConfig {
  const backoffMaxMs = config.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS;
  const fallback = config.watchFallbackIntervalMs ?? 0;
  return {
    schema: config.schema.trim(),
    uploadLimit: positiveOr(config.uploadLimit, GO_CLIENT_DEFAULTS.uploadChunkRows),
    downloadLimit: positiveOr(config.downloadLimit, GO_CLIENT_DEFAULTS.pullMaxBundles),
    snapshotChunkRows: positiveOr(config.snapshotChunkRows, GO_CLIENT_DEFAULTS.snapshotChunkRows),
    backoffMinMs: Math.max(0, config.backoffMinMs ?? DEFAULT_BACKOFF_MIN_MS),
    backoffMaxMs,
    retry: normalizeRetryPolicy(config.retryPolicy),
    watchMode: config.bundleChangeWatchMode === 'auto' ? 'auto' : 'off',
    watchFallbackIntervalMs: fallback > 0 ? fallback : backoffMaxMs > 0 ? backoffMaxMs : DEFAULT_BACKOFF_MAX_MS,
    minServerSchemaVersion: config.minServerSchemaVersion ?? 0,
    pullWorker: config.pullWorker === 'always' || config.pullWorker === 'off' ? config.pullWorker : 'auto',
  };
}

/** Key columns after trimming, dropping blanks and case-insensitive duplicates (first spelling kept). */
export function normalizedKeyColumns(table: SyncTable): string[] {
  if (table.syncKeyColumns && table.syncKeyColumns.length > 0) {
    const seen = new Set<string>();
    const columns: string[] = [];
    for (const raw of table.syncKeyColumns) {
      const column = raw.trim();
      if (!column || seen.has(column.toLowerCase())) continue;
      seen.add(column.toLowerCase());
      columns.push(column);
    }
    return columns;
  }
  const single = (table.syncKeyColumnName ?? '').trim();
  return single ? [single] : [];
}

function positiveOr(value: number | undefined, fallback: number): number {
  return value !== undefined && value > 0 ? value : fallback;
}
