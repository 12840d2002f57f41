import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import type { SyncDatabase } from '../database/sync-database.js';
import { bootstrapSyncSchema } from './schema-bootstrap.js';
import { verifySyncSchema } from './schema-verification.js';
import type { RegisteredTable } from './registered-table.js';
import { SyncCatalog } from './sync-catalog.js';

/** Bootstraps the sync schema on module init and holds the registered-table catalog. */
@Injectable()
export class OversyncSchemaService implements OnModuleInit {
  private readonly logger = new Logger('Oversync');
  private current?: SyncCatalog;

  constructor(
    @Inject(OVERSYNC_DATABASE) private readonly db: SyncDatabase,
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.config.bootstrap) await this.bootstrap();
    else await this.verify();
  }

  /** Creates or validates the sync schema and (re)installs the triggers; idempotent. */
  async bootstrap(): Promise<SyncCatalog> {
    return this.load(await bootstrapSyncSchema(this.db, [...this.config.tables]), 'sync schema ready');
  }

  /**
   * Drops the sync schema: every bundle, session and scope state, and the registered tables' triggers
   * with it. For test harnesses and teardown; `bootstrap()` creates it again.
   */
  async drop(): Promise<void> {
    this.current = undefined;
    await this.db.query('DROP SCHEMA IF EXISTS sync CASCADE');
  }

  /** `bootstrap: false`: checks that the host's migrations installed the sync schema; changes nothing. */
  async verify(): Promise<SyncCatalog> {
    return this.load(await verifySyncSchema(this.db, [...this.config.tables]), 'sync schema verified (bootstrap off)');
  }

  private async load(tables: RegisteredTable[], what: string): Promise<SyncCatalog> {
    const [privilege] = await this.db.query<{ allowed: boolean }>(
      `SELECT current_setting('is_superuser') = 'on'
              OR (current_setting('server_version_num')::int >= 150000
                  AND has_parameter_privilege(current_user, 'session_replication_role', 'SET')) AS allowed`,
    );
    this.current = new SyncCatalog(tables, privilege?.allowed === true);
    this.logger.log(`${what}: ${tables.length} registered table(s)`);
    return this.current;
  }

  /** Bootstrap finished (health probes read this, never the database). */
  get bootstrapped(): boolean {
    return this.current !== undefined;
  }

  get catalog(): SyncCatalog {
    if (!this.current) throw new Error('oversync schema is not bootstrapped yet');
    return this.current;
  }
}
