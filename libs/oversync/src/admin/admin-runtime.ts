import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import type { SyncDatabase } from '../database/sync-database.js';
import { SyncStatusService } from '../health/sync-status.service.js';
import { WatchService } from '../watch/watch.service.js';
import { OversyncSessionSweeper } from '../retention/session-sweeper.js';

/**
 * What the console uses of the host's OversyncModule (its database, config, status, watch and
 * sweeper), found in the application on first use: the admin module is imported beside
 * OversyncModule, not inside it, so it cannot import its providers.
 */
@Injectable()
export class AdminRuntime {
  private readonly found = new Map<unknown, unknown>();

  constructor(private readonly moduleRef: ModuleRef) {}

  private find<T>(token: symbol | (abstract new (...args: never[]) => T)): T {
    if (!this.found.has(token)) {
      try {
        this.found.set(token, this.moduleRef.get<T>(token as never, { strict: false }));
      } catch {
        throw new Error('OversyncAdminModule needs OversyncModule.forRoot() in the same application');
      }
    }
    return this.found.get(token) as T;
  }

  get db(): SyncDatabase {
    return this.find<SyncDatabase>(OVERSYNC_DATABASE);
  }

  get config(): OversyncConfig {
    return this.find<OversyncConfig>(OVERSYNC_CONFIG);
  }

  get status(): SyncStatusService {
    return this.find(SyncStatusService);
  }

  get sweeper(): OversyncSessionSweeper {
    return this.find(OversyncSessionSweeper);
  }

  /** This process's open watch streams, of one user or of all. */
  watchSubscribers(userId?: string): number {
    return this.find(WatchService).subscriberCount(userId);
  }
}
