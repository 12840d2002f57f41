import { Inject, Injectable } from '@nestjs/common';
import { OVERSYNC_CONFIG } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import { OversyncSchemaService } from '../schema/oversync-schema.service.js';
import type { SyncActor } from '../auth/sync-actor.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import {
  capabilityFeatures,
  EncodedJson,
  encodeGoJson,
  MAX_BUNDLES_PER_PULL,
  PROTOCOL_VERSION,
  type CapabilitiesResponse,
  type CapabilityFeatures,
} from '@oversync/protocol';

/** GET /sync/capabilities (spec §3.12). */
@Injectable()
export class CapabilitiesService {
  // the encoded answer per catalog, without and with watch (nothing else changes it; encoding was ~10 % of the request)
  private readonly encoded = new WeakMap<SyncCatalog, [EncodedJson?, EncodedJson?]>();

  constructor(
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    private readonly schema: OversyncSchemaService,
  ) {}

  features(actor?: SyncActor): CapabilityFeatures {
    return capabilityFeatures(this.watchFor(actor));
  }

  /** Whether watch is on for `actor` (for no actor: on at all). */
  private watchFor(actor?: SyncActor): boolean {
    return this.config.watch.enabled && (!actor || this.watchAllowed(actor));
  }

  watchAllowed(actor: SyncActor): boolean {
    return this.config.watchPolicy ? this.config.watchPolicy(actor) : true;
  }

  /** `capabilities(actor)` as the wire text, encoded once per catalog and watch permission. */
  encodedCapabilities(actor: SyncActor): EncodedJson {
    const catalog = this.schema.catalog;
    const watch = this.watchFor(actor) ? 1 : 0;
    let answers = this.encoded.get(catalog);
    if (!answers) this.encoded.set(catalog, (answers = []));
    return (answers[watch] ??= new EncodedJson(encodeGoJson(this.capabilities(actor))));
  }

  capabilities(actor?: SyncActor): CapabilitiesResponse {
    const c = this.config;
    const tables = [...this.schema.catalog.tables].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const positive = (n: number) => (n > 0 ? n : undefined);
    const seconds = (ms: number) => positive(Math.floor(ms / 1000));
    const int64 = (n: number | undefined) => (n === undefined ? undefined : BigInt(n));
    return {
      protocol_version: PROTOCOL_VERSION,
      schema_version: c.schemaVersion,
      app_name: c.appName || undefined,
      registered_tables: tables.length ? tables.map((t) => t.name) : undefined,
      registered_table_specs: tables.length
        ? tables.map((t) => ({ schema: t.schema, table: t.table, sync_key_columns: [t.keyColumn] }))
        : undefined,
      features: this.features(actor),
      bundle_limits: {
        max_rows_per_bundle: positive(c.maxRowsPerBundle),
        max_bytes_per_bundle: positive(c.maxBytesPerBundle),
        max_bundles_per_pull: MAX_BUNDLES_PER_PULL,
        default_rows_per_push_chunk: positive(c.defaultRowsPerPushChunk),
        max_rows_per_push_chunk: positive(c.maxRowsPerPushChunk),
        push_session_ttl_seconds: seconds(c.pushSessionTtlMs),
        default_rows_per_committed_bundle_chunk: positive(c.defaultRowsPerCommittedBundleChunk),
        max_rows_per_committed_bundle_chunk: positive(c.maxRowsPerCommittedBundleChunk),
        default_rows_per_snapshot_chunk: positive(c.defaultRowsPerSnapshotChunk),
        max_rows_per_snapshot_chunk: positive(c.maxRowsPerSnapshotChunk),
        snapshot_session_ttl_seconds: seconds(c.snapshotSessionTtlMs),
        max_rows_per_snapshot_session: int64(positive(c.maxRowsPerSnapshotSession)),
        max_bytes_per_snapshot_session: int64(positive(c.maxBytesPerSnapshotSession)),
        initialization_lease_ttl_seconds: seconds(c.initializationLeaseTtlMs),
      },
    };
  }
}
