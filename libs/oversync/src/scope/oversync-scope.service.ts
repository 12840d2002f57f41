import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import { OVERSYNC_MODULE_OPTIONS } from '../oversync.module-definition.js';
import type { OversyncConfig } from '../oversync.config.js';
import type { OversyncModuleOptions } from '../oversync.options.js';
import type { SyncClient, SyncDatabase } from '../database/sync-database.js';
import { userTransaction } from '../database/user-lock.js';
import { OversyncError } from '../errors/oversync.error.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';
import { OversyncSchemaService } from '../schema/oversync-schema.service.js';
import { goTrimSpace } from '../schema/go-string-semantics.js';
import { BundleAnnouncer } from '../bundle/bundle-announcer.js';
import type { CommittedBundle } from '../bundle/bundle-capture.js';
import { lockScope, markScopeInitialized, scopeUninitialized, type LockedScope } from '../connect/scope-state.js';
import { SCOPE_INITIALIZING, SCOPE_UNINITIALIZED } from '../database/sql-codes.js';
import { readSourceState, requireNextSourceBundle, sourceRetired } from '../push/source-state.js';
import { commitScopeBundle, type ScopeBundleDeps } from './scope-bundle.js';
import { runLockedHostTransaction } from './host-transaction.js';
import { stageUnsyncedRows } from './unsynced-rows.js';

/** Host code writing registered tables: gets the transaction's EntityManager (on the locked connection). */
export type ScopeWriteCallback<T> = (manager: EntityManager) => Promise<T>;

export interface ScopeWriter {
  /** the source id the bundle is committed under, e.g. `admin-panel` (shares the namespace of device sources) */
  writerId: string;
}

export interface ScopeWriteResult<T> {
  /** the scope was UNINITIALIZED and this write initialized it */
  autoInitialized: boolean;
  bundle: CommittedBundle;
  /** what the callback returned */
  result: T;
}

export interface SyncBundleSource {
  sourceId: string;
  sourceBundleId: bigint | number;
}

export interface SyncBundleResult<T> {
  /** null when the callback left no net registered-table effect (the transaction still committed) */
  bundle: CommittedBundle | null;
  result: T;
}

export interface AdoptionResult {
  bundles: number;
  rows: number;
}

/** Source id of the bundles that adopt rows written outside sync (see `adoptUnsyncedRows`). */
export const ADOPTION_SOURCE_ID = 'oversync-adoption';
const ADOPTION_BATCH_ROWS = 10_000;

const invalidWrite = (message: string) => new OversyncError('scope_write_invalid', message);
const toBigInt = (value: bigint | number | undefined): bigint =>
  typeof value === 'bigint' ? value : Number.isSafeInteger(value) ? BigInt(value as number) : 0n;

/**
 * Server-originated writes (spec §4.15): host code writes registered tables on behalf of a user and the
 * effects become one ordinary bundle that devices pull — `ScopeManager.ExecWrite` / `WithinSyncBundle`.
 */
@Injectable()
export class OversyncScopeService {
  constructor(
    @Inject(OVERSYNC_DATABASE) private readonly db: SyncDatabase,
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    @Inject(OVERSYNC_MODULE_OPTIONS) private readonly options: OversyncModuleOptions,
    private readonly moduleRef: ModuleRef,
    private readonly lifecycle: SyncLifecycle,
    private readonly schema: OversyncSchemaService,
    private readonly announcer: BundleAnnouncer,
  ) {}

  /**
   * Runs `fn` in one transaction as writer `writerId` of scope `scopeId`: an UNINITIALIZED scope is
   * initialized, the writer's next source_bundle_id is taken, and the captured effects are committed as
   * one bundle. Throws `scope_write_no_captured_changes` (rolling everything back) when nothing was captured.
   */
  async execWrite<T>(scopeId: string, writer: ScopeWriter, fn: ScopeWriteCallback<T>): Promise<ScopeWriteResult<T>> {
    const scope = goTrimSpace(typeof scopeId === 'string' ? scopeId : '');
    const writerId = goTrimSpace(typeof writer?.writerId === 'string' ? writer.writerId : '');
    if (!scope) throw invalidWrite('scope_id is required');
    if (!writerId) throw invalidWrite('writer_id is required');
    if (typeof fn !== 'function') throw invalidWrite('scope write callback is required');
    return this.lifecycle.run(() =>
      runLockedHostTransaction(
        this.dataSource,
        scope,
        this.config.userLockTimeoutMs,
        async (client, manager) => {
          const locked = await this.lockInitializedOrNew(client, scope);
          const autoInitialized = locked.stateCode === SCOPE_UNINITIALIZED;
          if (autoInitialized) await markScopeInitialized(client, locked.userPk, writerId);
          await client.query('SET CONSTRAINTS ALL DEFERRED');
          const sourceBundleId = await this.nextSourceBundleId(client, locked.userPk, scope, writerId);
          const { bundle, result } = await commitScopeBundle(
            client,
            this.deps,
            { userId: scope, userPk: locked.userPk, sourceId: writerId, sourceBundleId },
            () => fn(manager),
          );
          if (!bundle)
            throw new OversyncError(
              'scope_write_no_captured_changes',
              `scope write for ${scope} via ${writerId} produced no visible registered-table effects`,
            );
          return { autoInitialized, bundle, result };
        },
        this.db,
      ),
    );
  }

  /**
   * The low-level primitive: `fn` runs in one transaction under an explicit `(sourceId, sourceBundleId)`,
   * which must be the source's next id. The scope must be INITIALIZED. Without captured effects the
   * transaction commits and `bundle` is null.
   */
  withinSyncBundle<T>(
    actor: { userId: string },
    source: SyncBundleSource,
    fn: ScopeWriteCallback<T>,
  ): Promise<SyncBundleResult<T>> {
    return this.lifecycle.run(async () => {
      const userId = typeof actor?.userId === 'string' ? actor.userId : '';
      if (!userId) throw invalidWrite('actor user_id is required');
      if (typeof source?.sourceId !== 'string' || source.sourceId === '')
        throw invalidWrite('bundle source_id is required');
      const sourceBundleId = toBigInt(source.sourceBundleId);
      if (sourceBundleId <= 0n) throw invalidWrite('bundle source_bundle_id must be > 0');
      if (typeof fn !== 'function') throw invalidWrite('bundle callback is required');
      return runLockedHostTransaction(
        this.dataSource,
        userId,
        this.config.userLockTimeoutMs,
        async (client, manager) => {
          const locked = await this.lockInitializedOrNew(client, userId);
          if (locked.stateCode === SCOPE_UNINITIALIZED) throw scopeUninitialized(userId);
          await client.query('SET CONSTRAINTS ALL DEFERRED');
          requireNextSourceBundle(
            await readSourceState(client, locked.userPk, source.sourceId, true),
            source.sourceId,
            userId,
            sourceBundleId,
          );
          return commitScopeBundle(
            client,
            this.deps,
            { userId, userPk: locked.userPk, sourceId: source.sourceId, sourceBundleId: sourceBundleId.toString() },
            () => fn(manager),
          );
        },
        this.db,
      );
    });
  }

  /**
   * Adopts business rows of the scope that carry no sync state (inserted before their table was
   * registered, or with triggers disabled): each batch becomes an INSERT bundle of writer
   * `oversync-adoption`, so pulling devices receive the rows and snapshots can include them.
   * Snapshot creation calls this by itself when it meets such rows; hosts may call it after
   * registering a table that already holds data.
   */
  adoptUnsyncedRows(scopeId: string): Promise<AdoptionResult> {
    return this.lifecycle.run(async () => {
      const total: AdoptionResult = { bundles: 0, rows: 0 };
      for (;;) {
        const bundle = await userTransaction(this.db, scopeId, this.config.userLockTimeoutMs, (client) =>
          this.adoptBatch(client, scopeId),
        );
        if (!bundle) return total;
        total.bundles++;
        total.rows += bundle.rowCount;
      }
    });
  }

  private async adoptBatch(client: SyncClient, scopeId: string): Promise<CommittedBundle | null> {
    const locked = await this.lockInitializedOrNew(client, scopeId);
    const sourceBundleId = await this.nextSourceBundleId(client, locked.userPk, scopeId, ADOPTION_SOURCE_ID);
    const target = { userId: scopeId, userPk: locked.userPk, sourceId: ADOPTION_SOURCE_ID, sourceBundleId };
    const { bundle } = await commitScopeBundle(client, this.deps, target, () =>
      stageUnsyncedRows(client, this.schema.catalog, locked.userPk, scopeId, ADOPTION_BATCH_ROWS),
    );
    if (bundle && locked.stateCode === SCOPE_UNINITIALIZED)
      await markScopeInitialized(client, locked.userPk, ADOPTION_SOURCE_ID);
    return bundle;
  }

  /** Ensures and locks the scope rows (lazy lease expiry); an INITIALIZING scope refuses server writes. */
  private async lockInitializedOrNew(client: SyncClient, userId: string): Promise<LockedScope> {
    const locked = await lockScope(client, userId);
    if (locked.stateCode === SCOPE_INITIALIZING) {
      const until = locked.leaseExpiresAt ? ` until ${locked.leaseExpiresAt}` : '';
      throw new OversyncError('scope_initializing', `sync scope for user ${userId} is initializing${until}`);
    }
    return locked;
  }

  private async nextSourceBundleId(
    client: SyncClient,
    userPk: string,
    userId: string,
    sourceId: string,
  ): Promise<string> {
    const source = await readSourceState(client, userPk, sourceId, true);
    if (source.state === 'retired') throw sourceRetired(sourceId, userId, source.replacedBy);
    return (source.maxCommitted + 1n).toString();
  }

  private get deps(): ScopeBundleDeps {
    return { catalog: this.schema.catalog, announcer: this.announcer, retention: this.config };
  }

  /** The host's DataSource, resolved on use: it may be created after this provider. */
  private get dataSource(): DataSource {
    return this.moduleRef.get<DataSource>(getDataSourceToken(this.options.dataSourceName), { strict: false });
  }
}
