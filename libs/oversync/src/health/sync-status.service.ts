import { Inject, Injectable } from '@nestjs/common';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import type { SyncDatabase } from '../database/sync-database.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';
import { OversyncSchemaService } from '../schema/oversync-schema.service.js';
import { CapabilitiesService } from './capabilities.service.js';
import { PROTOCOL_VERSION, type StatusResponse, type StatusSummaryResponse } from '@oversync/protocol';

const seqValue = (name: string) =>
  `CASE WHEN to_regclass('sync.${name}') IS NULL THEN 0 ELSE (SELECT CASE WHEN is_called THEN last_value ELSE 0 END
    FROM sync.${name}) END`;

/** The status object of /syncx/status and /syncx/health (spec §3.13), from one SELECT. */
@Injectable()
export class SyncStatusService {
  constructor(
    @Inject(OVERSYNC_DATABASE) private readonly db: SyncDatabase,
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    private readonly lifecycle: SyncLifecycle,
    private readonly schema: OversyncSchemaService,
    private readonly capabilities: CapabilitiesService,
  ) {}

  async status(): Promise<{ healthy: boolean; body: StatusResponse | StatusSummaryResponse }> {
    const [m] = await this.db.query<Record<string, string>>(
      `SELECT
         (SELECT COUNT(*) FROM sync.user_state WHERE retained_bundle_floor > next_bundle_seq - 1) AS floor_ahead,
         (SELECT COALESCE(MAX(GREATEST(next_bundle_seq - 1, 0)), 0) FROM sync.user_state) AS latest_max,
         (SELECT COALESCE(MIN(retained_bundle_floor), 0) FROM sync.user_state) AS floor_min,
         (SELECT COALESCE(MAX(retained_bundle_floor), 0) FROM sync.user_state) AS floor_max,
         (SELECT COALESCE(MIN(GREATEST((next_bundle_seq - 1) - retained_bundle_floor, 0)), 0) FROM sync.user_state)
           AS window_min,
         (SELECT COALESCE(MAX(GREATEST((next_bundle_seq - 1) - retained_bundle_floor, 0)), 0) FROM sync.user_state)
           AS window_max,
         ${seqValue('history_pruned_error_seq')} AS history_pruned,
         ${seqValue('accepted_push_replay_seq')} AS accepted_replay,
         ${seqValue('rejected_registered_write_seq')} AS rejected_writes,
         (SELECT COUNT(*) FROM sync.bundle_log) AS bundle_count,
         (SELECT COALESCE(SUM(byte_count), 0) FROM sync.bundle_log) AS bundle_bytes`,
    );
    const metrics = m!;
    const lifecycle = this.lifecycle.state;
    const floorAhead = BigInt(metrics.floor_ahead!);
    const healthy = lifecycle === 'running' && floorAhead === 0n;
    const n = (key: string) => BigInt(metrics[key] ?? '0');
    const body: StatusResponse | StatusSummaryResponse = this.config.exposeStatusDetails
      ? {
          status: healthy ? 'healthy' : 'unhealthy',
          version: PROTOCOL_VERSION,
          app_name: this.config.appName,
          lifecycle,
          accepting_operations: lifecycle === 'running',
          inflight_operations: this.lifecycle.inflightOperations,
          registered_tables: this.schema.catalog.names,
          features: this.capabilities.features(),
          user_state_retention_floor_ahead_count: floorAhead,
          latest_bundle_seq_max: n('latest_max'),
          retained_bundle_floor_min: n('floor_min'),
          retained_bundle_floor_max: n('floor_max'),
          retained_bundle_window_min: n('window_min'),
          retained_bundle_window_max: n('window_max'),
          history_pruned_error_count: n('history_pruned'),
          accepted_push_replay_count: n('accepted_replay'),
          rejected_registered_write_count: n('rejected_writes'),
          committed_bundle_count: n('bundle_count'),
          committed_bundle_bytes: n('bundle_bytes'),
        }
      : {
          status: healthy ? 'healthy' : 'unhealthy',
          version: PROTOCOL_VERSION,
          lifecycle,
          accepting_operations: lifecycle === 'running',
        };
    return { healthy, body };
  }
}
