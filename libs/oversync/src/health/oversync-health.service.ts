import { Inject, Injectable } from '@nestjs/common';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import type { SyncDatabase } from '../database/sync-database.js';
import { SyncLifecycle, type LifecycleState } from '../lifecycle/sync-lifecycle.js';
import { OversyncSchemaService } from '../schema/oversync-schema.service.js';
import { BundleChangeListener } from '../watch/bundle-change-listener.js';
import { PROTOCOL_VERSION, type HealthResponse } from '@oversync/protocol';

export type WatchListenerState = 'up' | 'down' | 'disabled';

/** What this process knows about itself, without a query. */
export interface OversyncProcessHealth {
  /** running and bootstrapped (a LISTEN reconnect does not take the instance out of rotation) */
  readonly healthy: boolean;
  readonly lifecycle: LifecycleState;
  readonly bootstrapped: boolean;
  readonly watchListener: WatchListenerState;
  readonly inflightOperations: number;
}

/**
 * Health from state the process holds (`/syncx/health` is probed every second by load balancers:
 * it must not scan tables), plus an explicit database ping for `OversyncHealthIndicator`.
 */
@Injectable()
export class OversyncHealthService {
  constructor(
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    @Inject(OVERSYNC_DATABASE) private readonly db: SyncDatabase,
    private readonly lifecycle: SyncLifecycle,
    private readonly schema: OversyncSchemaService,
    private readonly listener: BundleChangeListener,
  ) {}

  state(): OversyncProcessHealth {
    const lifecycle = this.lifecycle.state;
    const bootstrapped = this.schema.bootstrapped;
    const watchListener: WatchListenerState = !this.config.watch.enabled
      ? 'disabled'
      : this.listener.backendPid !== undefined
        ? 'up'
        : 'down';
    return {
      healthy: lifecycle === 'running' && bootstrapped,
      lifecycle,
      bootstrapped,
      watchListener,
      inflightOperations: this.lifecycle.inflightOperations,
    };
  }

  /** The `/syncx/health` body: status and version; the checks only when the host opts in (`exposeHealthDetails`). */
  body(state: OversyncProcessHealth): HealthResponse {
    const status = state.healthy ? 'healthy' : 'unhealthy';
    if (!this.config.exposeHealthDetails) return { status, version: PROTOCOL_VERSION };
    return {
      status,
      version: PROTOCOL_VERSION,
      lifecycle: state.lifecycle,
      accepting_operations: state.lifecycle === 'running',
      bootstrapped: state.bootstrapped,
      watch_listener: state.watchListener,
      inflight_operations: state.inflightOperations,
    };
  }

  /** `SELECT 1` on the module's pool within `timeoutMs` (a pool with no free connection counts as down). */
  async databaseReachable(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const ping = this.db.query('SELECT 1').then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([ping, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
