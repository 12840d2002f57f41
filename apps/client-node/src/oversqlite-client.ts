/**
 * `OversqliteClient`: one object per SQLite database that keeps its managed tables in sync with
 * an oversync server (spec/client.md §0.2). Operations are async, fail fast when another one is
 * running (`SyncOperationInProgressError`), and resolve to the result types of `results.ts`.
 */
import type { Database } from 'better-sqlite3';
import { BackgroundSync } from './background-sync.js';
import { type ClientStatus, type StatusListener, StatusObserver } from './client-status.js';
import { installTriggers } from './capture-triggers.js';
import type { ClientContext, SyncLogger } from './client-context.js';
import { ensureConnectedSession } from './client-context.js';
import { MAX_BUNDLES_PER_PULL, MAX_ROWS_PER_PUSH_CHUNK } from '@oversync/protocol';
import { effectiveConfig, type OversqliteConfig } from './config.js';
import { type ConflictResolver, ServerWinsResolver } from './conflict-resolver.js';
import { asCorruptionError, isCorruptionError, verifyDatabaseIntegrity } from './database-integrity.js';
import { stopPullPageWorker } from './pull-page-pipeline.js';
import { claimDatabase, releaseDatabase, transferOwnership } from './database-ownership.js';
import { ClientClosedError, OpenRequiredError, OversqliteConfigError, SyncOperationInProgressError } from './errors.js';
import { type JsonObject, parseJsonObject } from './json-value.js';
import { attachLocked, detachLocked, openLocked, uninstallLocked } from './lifecycle.js';
import { initializeLocalSchema } from './local-schema.js';
import { inspectManagedTables, type ManagedTable } from './managed-table.js';
import { pullToStable, rebuild, type RemoteSyncResult } from './pull.js';
import { ensurePushAllowed, pushPending } from './push.js';
import type {
  AttachResult,
  DetachResult,
  PendingSyncStatus,
  PushOutcome,
  PushReport,
  RemoteSyncReport,
  SourceInfo,
  SyncProgress,
  SyncReport,
  SyncStatus,
  SyncThenDetachResult,
} from './results.js';
import { RowStore } from './row-store.js';
import { SyncState } from './sync-state.js';
import { pendingSyncStatus, sourceInfo, syncStatus } from './sync-status.js';
import { type FetchLike, SyncTransport, type TokenProvider } from './sync-transport.js';

export interface OversqliteClientOptions extends OversqliteConfig {
  /** Server base URL, e.g. `http://localhost:8080` (a trailing `/` is ignored). */
  readonly baseUrl: string;
  /** Called before every request; returns the bearer token. */
  readonly tokenProvider: TokenProvider;
  /** Default: server wins. */
  readonly resolver?: ConflictResolver;
  /** Replaces the global `fetch` (tests, proxies). */
  readonly fetch?: FetchLike;
  /** Total time per HTTP request (default 120 s); the watch stream has none. */
  readonly requestTimeoutMs?: number;
  readonly logger?: SyncLogger;
  /** Rows done/total of uploads, replays, pulls and snapshots (for progress bars). */
  readonly onProgress?: (progress: SyncProgress) => void;
  /** Run `PRAGMA quick_check` before anything else and refuse a damaged file (default false: it reads every page). */
  readonly verifyIntegrity?: boolean;
}

const SILENT_LOGGER: SyncLogger = { warn: () => undefined };

/** The internals the `testing` entry reaches (hooks, transfer counters); not exported by the package root. */
const CONTEXTS = new WeakMap<OversqliteClient, ClientContext>();

export function clientContextOf(client: OversqliteClient): ClientContext {
  const ctx = CONTEXTS.get(client);
  if (!ctx) throw new Error('not an OversqliteClient');
  return ctx;
}

const SCHEMA_REQUIRED = 'options.schema is required (there is no default schema)';

export class OversqliteClient {
  /** The conflict resolver used by pushes; may be replaced at any time. */
  resolver: ConflictResolver;

  private readonly ctx: ClientContext;
  private readonly ownershipKey: string;
  private readonly background: BackgroundSync;
  private running: Promise<unknown> | null = null;
  private closed = false;

  private constructor(
    readonly db: Database,
    ctx: ClientContext,
    ownershipKey: string,
    resolver: ConflictResolver,
  ) {
    this.ctx = ctx;
    CONTEXTS.set(this, ctx);
    this.ownershipKey = ownershipKey;
    this.resolver = resolver;
    this.background = new BackgroundSync(this.ctx, {
      pushPending: () => this.pushPending(),
      pullToStable: () => this.pullToStable(),
      lastBundleSeqSeen: () => this.lastBundleSeqSeen(),
      isClosed: () => this.closed,
    });
  }

  /**
   * Validates the options and the schema, creates the `_sync_*` tables, installs the triggers and
   * loads (or creates) the source id. Local only: never touches the network.
   */
  static async open(db: Database, options: OversqliteClientOptions): Promise<OversqliteClient> {
    if (!db) throw new OversqliteConfigError('db is required');
    if (!options) throw new OversqliteConfigError('options are required');
    if (options.schema === '' || options.schema === undefined) throw new OversqliteConfigError(SCHEMA_REQUIRED);
    validateOptions(options);
    const owner = {};
    const ownershipKey = claimDatabase(db, owner);
    try {
      const config = effectiveConfig(options);
      if (!config.schema) throw new OversqliteConfigError(SCHEMA_REQUIRED);
      if (options.verifyIntegrity) verifyDatabaseIntegrity(db);
      // the app's tables are checked first: a wrong configuration leaves the file untouched
      const tables = inspectManagedTables(db, options.tables ?? []);
      try {
        initializeLocalSchema(db);
      } catch (err) {
        if (isCorruptionError(err)) throw err;
        throw new OversqliteConfigError(`failed to initialize database: ${(err as Error).message}`, { cause: err });
      }
      ensureSingleSchema(db, config.schema);
      for (const table of tables) {
        try {
          installTriggers(db, config.schema, table);
        } catch (err) {
          throw new OversqliteConfigError(
            `failed to create triggers for table ${table.name}: ${(err as Error).message}`,
            { cause: err },
          );
        }
        db.prepare(
          'INSERT INTO _sync_managed_tables(schema_name, table_name) VALUES (?, ?) ON CONFLICT DO NOTHING',
        ).run(config.schema, table.name);
      }
      const byName = new Map(tables.map((t) => [t.name, t]));
      const state = new SyncState(db, config.schema);
      const ctx: ClientContext = {
        db,
        config,
        schema: config.schema,
        tables,
        state,
        rows: new RowStore(state),
        transport: new SyncTransport(options),
        session: { sourceId: '', userId: '', pendingInitializationId: '', connected: false },
        hooks: {},
        counters: {
          snapshotSessionsCreated: 0,
          snapshotChunksFetched: 0,
          pushSessionsCreated: 0,
          pushChunksUploaded: 0,
          committedBundleChunksRead: 0,
          pullBundlesReadByWorker: 0,
          pullPagesRequestedByWorker: 0,
        },
        paused: { uploads: false, downloads: false },
        logger: options.logger ?? SILENT_LOGGER,
        status: new StatusObserver(),
        resolver: () => client.resolver,
        progress: options.onProgress ?? (() => undefined),
        table: (name) => byName.get(name.toLowerCase()),
      };
      const client = new OversqliteClient(db, ctx, ownershipKey, options.resolver ?? new ServerWinsResolver());
      transferOwnership(ownershipKey, owner, client);
      openLocked(ctx);
      client.refreshStatus();
      return client;
    } catch (err) {
      releaseDatabase(ownershipKey, owner);
      throw asCorruptionError(db, err);
    }
  }

  /** The attached user ('' when none). */
  get userId(): string {
    return this.ctx.session.userId;
  }

  get baseUrl(): string {
    return this.ctx.transport.baseUrl;
  }

  // ---- observable status (synchronous; never waits for a running operation) -----------------------

  /** The client's state now: connection, activity, last sync, pending rows, last errors. */
  get currentStatus(): ClientStatus {
    return this.ctx.status.current;
  }

  /** Calls `listener` with every new status (background-sync errors included); returns the unsubscribe function. */
  onStatusChange(listener: StatusListener): () => void {
    return this.ctx.status.subscribe(listener);
  }

  /**
   * Resolves with the first status, the current one included, that satisfies `predicate`; rejects when `signal` aborts.
   */
  waitForStatus(predicate: (status: ClientStatus) => boolean, signal?: AbortSignal): Promise<ClientStatus> {
    return this.ctx.status.waitFor(predicate, signal);
  }

  // ---- lifecycle ----------------------------------------------------------------------------------

  /** Binds the database to `userId`: resumes locally, or connects and seeds/hydrates (spec §5.3). */
  attach(userId: string, signal?: AbortSignal): Promise<AttachResult> {
    return this.locked(() =>
      this.track('downloading', async () => {
        const result = await attachLocked(this.ctx, userId, signal);
        return { result, synced: result.outcome === 'used_remote_state' || result.outcome === 'started_empty' };
      }),
    );
  }

  /** Unbinds the user and deletes the synced rows, unless unsynced data would be lost. */
  detach(): Promise<DetachResult> {
    return this.locked(async () => {
      try {
        return detachLocked(this.ctx);
      } finally {
        this.refreshStatus();
      }
    });
  }

  /** Up to three sync rounds, then Detach (spec §5.6). */
  async syncThenDetach(): Promise<SyncThenDetachResult> {
    let lastSync: SyncReport | null = null;
    let previous = Number.POSITIVE_INFINITY;
    for (let round = 1; round <= 3; round++) {
      lastSync = await this.sync();
      const detach = await this.detach();
      if (detach.outcome === 'detached')
        return { lastSync, detach, syncRounds: round, remainingPendingRowCount: 0, isSuccess: true };
      const count = (await this.pendingSyncStatus()).pendingRowCount;
      if (count >= previous)
        return { lastSync, detach, syncRounds: round, remainingPendingRowCount: count, isSuccess: false };
      previous = count;
    }
    const count = (await this.pendingSyncStatus()).pendingRowCount;
    return {
      lastSync,
      detach: { outcome: 'blocked_unsynced_data', pendingRowCount: count },
      syncRounds: 3,
      remainingPendingRowCount: count,
      isSuccess: false,
    };
  }

  /** Drops the triggers and `_sync_*` tables (business rows stay) and closes the client. */
  async uninstallSync(): Promise<void> {
    await this.locked(() => uninstallLocked(this.ctx));
    this.ctx.session.sourceId = '';
    this.ctx.session.userId = '';
    this.ctx.session.pendingInitializationId = '';
    this.ctx.session.connected = false;
    this.markClosed();
  }

  /** Waits for the running operation, stops background loops and releases the database. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.background.stop();
    while (this.running) await this.running.catch(() => undefined);
    this.markClosed();
  }

  // ---- status (read-only: they never wait for or block a running sync, §15 item 10) ---------------

  async pendingSyncStatus(): Promise<PendingSyncStatus> {
    this.ensureOpenClient();
    return pendingSyncStatus(this.ctx);
  }

  async syncStatus(): Promise<SyncStatus> {
    this.ensureOpenClient();
    return syncStatus(this.ctx);
  }

  async sourceInfo(): Promise<SourceInfo> {
    this.ensureOpenClient();
    if (!this.ctx.session.sourceId.trim()) throw new OpenRequiredError('sourceInfo()');
    return sourceInfo(this.ctx);
  }

  async lastBundleSeqSeen(): Promise<number> {
    this.ensureOpenClient();
    ensureConnectedSession(this.ctx, 'lastBundleSeqSeen()');
    return this.ctx.state.attachment().lastBundleSeqSeen;
  }

  // ---- sync -------------------------------------------------------------------------------------------

  pushPending(signal?: AbortSignal): Promise<PushReport> {
    return this.locked(async () => {
      const outcome = await this.upload(signal);
      return { outcome, status: syncStatus(this.ctx) };
    });
  }

  pullToStable(signal?: AbortSignal): Promise<RemoteSyncReport> {
    return this.locked(async () => {
      const result = await this.download(() => pullToStable(this.ctx, signal));
      return { ...result, status: syncStatus(this.ctx) };
    });
  }

  /** Push, then pull (spec §6.9). */
  sync(signal?: AbortSignal): Promise<SyncReport> {
    return this.locked(async () => {
      ensureConnectedSession(this.ctx, 'sync()');
      const pushOutcome = this.ctx.paused.uploads ? 'skipped_paused' : await this.upload(signal);
      const remote = this.ctx.paused.downloads
        ? { outcome: 'skipped_paused' as const, restore: null }
        : await this.download(() => pullToStable(this.ctx, signal));
      return { pushOutcome, remoteOutcome: remote.outcome, status: syncStatus(this.ctx), restore: remote.restore };
    });
  }

  /** Replaces the managed tables by a server snapshot (rotating the source during source recovery). */
  rebuild(signal?: AbortSignal): Promise<RemoteSyncReport> {
    return this.locked(async () => {
      const result = await this.download(() => rebuild(this.ctx, signal));
      return { ...result, status: syncStatus(this.ctx) };
    });
  }

  private upload(signal?: AbortSignal): Promise<PushOutcome> {
    return this.track('uploading', async () => ({ result: await pushPending(this.ctx, signal), synced: false }));
  }

  private download(run: () => Promise<RemoteSyncResult>): Promise<RemoteSyncResult> {
    return this.track('downloading', async () => {
      const result = await run();
      return { result, synced: result.outcome !== 'skipped_paused' };
    });
  }

  /**
   * Runs one upload or download with its status: the activity flag while it runs, then its error
   * (or none), the session facts, and `lastSyncedAt` when it reached the server's state.
   */
  private async track<T>(
    activity: 'uploading' | 'downloading',
    run: () => Promise<{ result: T; synced: boolean }>,
  ): Promise<T> {
    const errorKey = activity === 'uploading' ? 'uploadError' : 'downloadError';
    this.ctx.status.update({ [activity]: true });
    try {
      const { result, synced } = await run();
      this.ctx.status.update({
        [activity]: false,
        [errorKey]: null,
        ...(synced ? { lastSyncedAt: new Date() } : {}),
        ...this.sessionFacts(),
      });
      return result;
    } catch (err) {
      this.ctx.status.update({
        [activity]: false,
        [errorKey]: err instanceof Error ? err : new Error(String(err)),
        ...this.sessionFacts(),
      });
      throw err;
    }
  }

  /** Re-reads the connection and the pending row count into the status. */
  private refreshStatus(): void {
    this.ctx.status.update(this.sessionFacts());
  }

  private sessionFacts(): Partial<ClientStatus> {
    const connected = this.ctx.session.connected && this.ctx.session.userId.trim() !== '';
    try {
      return {
        connected,
        userId: this.ctx.session.userId,
        pendingRowCount: pendingSyncStatus(this.ctx).pendingRowCount,
      };
    } catch {
      return { connected, userId: this.ctx.session.userId }; // the metadata is gone (uninstalled) or unreadable
    }
  }

  /**
   * Moves a frozen, not yet committed outbox back into the dirty queue, so the application can fix
   * rows the server rejected for good (`PushRejectedError`, spec §15 item 1). Returns the row count.
   */
  restoreOutbox(): Promise<number> {
    return this.locked(() => {
      ensurePushAllowed(this.ctx, 'restoreOutbox()');
      const outbox = this.ctx.state.outbox();
      if (outbox.state === 'committed_remote')
        throw new Error('the outbox is already committed on the server; run pushPending() to replay it');
      const rows = this.ctx.state.outboxRows();
      this.ctx.state.transaction(() => {
        for (const row of rows)
          this.ctx.state.requeueDirty(row.tableName, row.keyJson, row.op, row.baseRowVersion, row.localPayload);
        this.ctx.state.clearOutbox();
      });
      return rows.length;
    });
  }

  // ---- background loops ------------------------------------------------------------------------------

  /** Starts the uploader and downloader loops (watch-driven when configured and advertised). */
  start(signal?: AbortSignal): void {
    this.ensureOpenClient();
    this.background.start(signal);
  }

  /** Stops the loops started by `start()` and waits for them. */
  stop(): Promise<void> {
    return this.background.stop();
  }

  pauseUploads(): void {
    this.ctx.paused.uploads = true;
  }
  resumeUploads(): void {
    this.ctx.paused.uploads = false;
  }
  pauseDownloads(): void {
    this.ctx.paused.downloads = true;
  }
  resumeDownloads(): void {
    this.ctx.paused.downloads = false;
  }

  // ---- diagnostics and helpers ------------------------------------------------------------------------

  /** The local row image (BLOBs as hex) of `table` with local key `pk` (hex for BLOB keys). */
  serializeRow(table: string, pk: string): string {
    const managed = this.managedTable(table);
    const image = this.ctx.rows.image(managed, pk);
    if (image === undefined) throw new Error(`row not found: table=${table} pk=${pk}`);
    return image;
  }

  getTableRowCount(table: string): number {
    return this.ctx.rows.count(this.managedTable(table));
  }

  /** Every row image of a managed table, in key order. */
  getTableRows(table: string): JsonObject[] {
    const managed = this.managedTable(table);
    return this.ctx.rows.images(managed).map((image) => parseJsonObject(image, 'row image'));
  }

  // ---- internals ---------------------------------------------------------------------------------------

  private managedTable(name: string): ManagedTable {
    const table = this.ctx.table(name);
    if (!table) throw new Error(`table ${name} is not configured for sync`);
    return table;
  }

  private ensureOpenClient(): void {
    if (this.closed) throw new ClientClosedError();
  }

  /** The client-wide lock: fail fast, never wait (spec §0.4). */
  private async locked<T>(operation: () => T | Promise<T>): Promise<T> {
    this.ensureOpenClient();
    if (this.running) throw new SyncOperationInProgressError();
    const run = (async () => operation())();
    this.running = run;
    try {
      return await run;
    } catch (err) {
      throw asCorruptionError(this.db, err);
    } finally {
      this.running = null;
    }
  }

  private markClosed(): void {
    this.closed = true;
    stopPullPageWorker();
    this.ctx.status.update({ connected: false, uploading: false, downloading: false });
    releaseDatabase(this.ownershipKey, this);
  }
}

function validateOptions(options: OversqliteClientOptions): void {
  if (typeof options.baseUrl !== 'string' || !/^https?:\/\/[^/]+/i.test(options.baseUrl.trim())) {
    throw new OversqliteConfigError(`baseUrl must be an absolute http(s) URL, got ${JSON.stringify(options.baseUrl)}`);
  }
  if (typeof options.tokenProvider !== 'function')
    throw new OversqliteConfigError('tokenProvider must be a function returning the bearer token');
  if ((options.downloadLimit ?? 0) > MAX_BUNDLES_PER_PULL) {
    throw new OversqliteConfigError(
      `downloadLimit ${options.downloadLimit} exceeds the server maximum of ${MAX_BUNDLES_PER_PULL} bundles per pull`,
    );
  }
  if ((options.uploadLimit ?? 0) > MAX_ROWS_PER_PUSH_CHUNK) {
    throw new OversqliteConfigError(
      `uploadLimit ${options.uploadLimit} exceeds the server maximum of ${MAX_ROWS_PER_PUSH_CHUNK} rows per push chunk`,
    );
  }
}

/** Check 7 of spec §1.2: one configured schema per local database. */
function ensureSingleSchema(db: Database, schema: string): void {
  const stored = db
    .prepare(
      `SELECT DISTINCT schema_name FROM (
         SELECT schema_name FROM _sync_attachment_state UNION ALL SELECT schema_name FROM _sync_row_state
         UNION ALL SELECT schema_name FROM _sync_dirty_rows UNION ALL SELECT schema_name FROM _sync_snapshot_stage
         UNION ALL SELECT schema_name FROM _sync_outbox_rows UNION ALL SELECT schema_name FROM _sync_push_stage)
       WHERE TRIM(schema_name) <> '' ORDER BY schema_name`,
    )
    .all() as { schema_name: string }[];
  const names = stored.map((r) => r.schema_name);
  if (names.length === 0 || (names.length === 1 && names[0] === schema)) return;
  throw new OversqliteConfigError(
    `oversqlite supports exactly one configured schema per local database; existing sync state uses schema(s) ` +
      `${names.join(', ')} while options.schema=${schema}`,
  );
}
