import { Inject, Injectable, Logger } from '@nestjs/common';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import type { SyncDatabase } from '../database/sync-database.js';
import { badRequest, conflict, notFound, OversyncError } from '../errors/oversync.error.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';
import { OversyncSchemaService } from '../schema/oversync-schema.service.js';
import type { SyncActor } from '../auth/sync-actor.js';
import { requireInitializedScope } from '../connect/scope-state.js';
import type { GoJsonValue } from '@oversync/protocol';
import { EncodedJson, INT64_MAX } from '@oversync/protocol';
import { OversyncTelemetry } from '../observability/oversync-telemetry.js';
import { recordPullCheckpoint } from './pull-checkpoint.js';
import { BUNDLE_ROW_JSON_SQL, readUserState, rowPrefixesSql, rowPrefixParams } from './bundle-reader.js';

export interface PullQuery {
  afterBundleSeq: bigint;
  maxBundles: number;
  targetBundleSeq: bigint;
}

export interface CommittedRowsQuery {
  bundleSeq: bigint;
  afterRowOrdinal: bigint | null;
  maxRows: number | null;
}

export function historyPruned(provided: bigint, floor: bigint, userId: string): OversyncError {
  return conflict('history_pruned', `requested checkpoint ${provided} is older than retained history floor ${floor} for user ${userId}`);
}

/** Pull and committed-bundle row fetch: read-only REPEATABLE READ snapshots (spec §4.8, §4.9). */
@Injectable()
export class PullService {
  private readonly logger = new Logger('Oversync');

  constructor(
    @Inject(OVERSYNC_DATABASE) private readonly db: SyncDatabase,
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    private readonly lifecycle: SyncLifecycle,
    private readonly schema: OversyncSchemaService,
    private readonly telemetry: OversyncTelemetry,
  ) {}

  pull(actor: SyncActor, query: PullQuery): Promise<GoJsonValue> {
    return this.lifecycle.run(async () => {
      const body = await this.countingHistoryPruned(() => this.db.transaction((client) => this.pullInTransaction(client, actor, query), { isolation: 'REPEATABLE READ', readOnly: true }));
      // the answer is ready: a failed bookkeeping write must not fail the pull
      await recordPullCheckpoint(this.db, actor, pulledThrough(query.afterBundleSeq, body)).catch((e: unknown) => this.logger.warn(`pull checkpoint: ${(e as Error).message}`));
      return body;
    });
  }

  /** Every `history_pruned` answer, of pull and of committed-rows fetch alike, counts in `history_pruned_error_count` (§8.5). */
  private async countingHistoryPruned<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (error instanceof OversyncError && error.code === 'history_pruned') {
        this.telemetry.historyPruned();
        await this.db.query('SELECT nextval(\'sync.history_pruned_error_seq\')').catch((e: unknown) => this.logger.warn(`history_pruned counter: ${(e as Error).message}`));
      }
      throw error;
    }
  }

  private async pullInTransaction(client: Parameters<Parameters<SyncDatabase['transaction']>[0]>[0], actor: SyncActor, query: PullQuery): Promise<GoJsonValue> {
    const scope = await requireInitializedScope(client, actor.userId);
    const user = { userPk: scope.userPk, latest: scope.latest, floor: scope.retainedFloor };
    const after = query.afterBundleSeq;
    const target = query.targetBundleSeq;
    // Unlike the reference, a pull from 0 above a pruned floor is refused too: it would silently miss history (§8.5).
    // A checkpoint (or target) equal to the floor is served, unlike the reference (§8.5 "over-strict"): every
    // bundle after it is retained, and a device restored from a snapshot taken at floor = latest would
    // otherwise download a new snapshot on every pull. Convergence fuzz, seed 29.
    if (after < user.floor) throw historyPruned(after, user.floor, actor.userId);
    if (target > 0n && target < user.floor) throw historyPruned(target, user.floor, actor.userId);
    const stable = target > 0n ? target : user.latest;
    if (stable > 0n && stable < user.floor) throw historyPruned(stable, user.floor, actor.userId);
    if (after >= stable) return { stable_bundle_seq: stable, bundles: [], has_more: false };
    const max = Math.min(Math.max(query.maxBundles, 1), 5000);
    // Headers and rows in one statement: the page of bundle headers plus one more (has_more), each page
    // bundle with its rows as one JSON text built by PostgreSQL around the stored canonical payloads.
    const { rows: headers } = await client.query<{ bundle_seq: string; source_id: string; source_bundle_id: string; row_count: string; bundle_hash: string; rows_json: string | null }>(
      `WITH h AS (
         SELECT bundle_seq, source_id, source_bundle_id, row_count, encode(bundle_hash, 'hex') AS bundle_hash, row_number() OVER (ORDER BY bundle_seq) AS n
           FROM sync.bundle_log WHERE user_pk = $1 AND bundle_seq > $2 AND bundle_seq > $3 AND bundle_seq <= $4
          ORDER BY bundle_seq LIMIT $5)
       SELECT h.bundle_seq, h.source_id, h.source_bundle_id, h.row_count, h.bundle_hash,
              CASE WHEN h.n < $5 THEN
                (SELECT '[' || string_agg(${BUNDLE_ROW_JSON_SQL}, ',' ORDER BY br.row_ordinal) || ']'
                   FROM sync.bundle_rows br JOIN ${rowPrefixesSql(6)} ON tc.table_id = br.table_id
                  WHERE br.user_pk = $1 AND br.bundle_seq = h.bundle_seq) END AS rows_json
         FROM h ORDER BY h.bundle_seq`,
      [user.userPk, after.toString(), user.floor.toString(), stable.toString(), max + 1, ...rowPrefixParams(this.schema.catalog)],
    );
    const hasMore = headers.length > max;
    const page = headers.slice(0, max);
    this.telemetry.pulled(page.length, page.reduce((rows, h) => rows + Number(h.row_count), 0));
    return {
      stable_bundle_seq: stable,
      bundles: page.map((h) => ({
        bundle_seq: BigInt(h.bundle_seq),
        source_id: h.source_id,
        source_bundle_id: BigInt(h.source_bundle_id),
        row_count: h.row_count === '0' ? undefined : BigInt(h.row_count),
        bundle_hash: h.bundle_hash || undefined,
        rows: h.rows_json === null ? [] : new EncodedJson(h.rows_json),
      })),
      has_more: hasMore,
    };
  }

  committedRows(actor: SyncActor, query: CommittedRowsQuery): Promise<GoJsonValue> {
    return this.lifecycle.run(async () => {
      if (query.bundleSeq <= 0n) throw badRequest('committed_bundle_chunk_invalid', 'bundle_seq must be > 0');
      if (query.afterRowOrdinal !== null && query.afterRowOrdinal < 0n) throw badRequest('committed_bundle_chunk_invalid', 'after_row_ordinal must be >= 0');
      if (query.maxRows !== null && query.maxRows <= 0) throw badRequest('committed_bundle_chunk_invalid', 'max_rows must be > 0');
      const maxRows = Math.min(query.maxRows ?? this.config.defaultRowsPerCommittedBundleChunk, this.config.maxRowsPerCommittedBundleChunk);
      return this.countingHistoryPruned(() => this.db.transaction(async (client) => {
        const user = await readUserState(client, actor.userId);
        // The reference answers 500 for a user without state (§8.1): nothing of theirs exists, so 404.
        if (!user) throw notFound('committed_bundle_not_found', `committed bundle ${query.bundleSeq} was not found`);
        if (query.bundleSeq <= user.floor) throw historyPruned(query.bundleSeq, user.floor, actor.userId);
        const { rows: headers } = await client.query<{ source_id: string; source_bundle_id: string; row_count: string; bundle_hash: string }>(
          `SELECT source_id, source_bundle_id, row_count, encode(bundle_hash, 'hex') AS bundle_hash FROM sync.bundle_log WHERE user_pk = $1 AND bundle_seq = $2`,
          [user.userPk, query.bundleSeq.toString()],
        );
        const header = headers[0];
        if (!header) throw notFound('committed_bundle_not_found', `committed bundle ${query.bundleSeq} was not found`);
        // storage ordinals are wire + 1; at after_row_ordinal = int64 max the bound would overflow BIGINT (a 500)
        // and nothing can follow anyway: clamp. Found by http-input fuzz seed 3.
        const storageAfter = query.afterRowOrdinal === null ? 0n : query.afterRowOrdinal < INT64_MAX ? query.afterRowOrdinal + 1n : INT64_MAX;
        const { rows } = await client.query<{ row_ordinal: string; row_json: string }>(
          `SELECT br.row_ordinal, ${BUNDLE_ROW_JSON_SQL} AS row_json
             FROM sync.bundle_rows br JOIN ${rowPrefixesSql(5)} ON tc.table_id = br.table_id
            WHERE br.user_pk = $1 AND br.bundle_seq = $2 AND br.row_ordinal > $3 ORDER BY br.row_ordinal LIMIT $4`,
          [user.userPk, query.bundleSeq.toString(), storageAfter.toString(), maxRows + 1, ...rowPrefixParams(this.schema.catalog)],
        );
        const page = rows.slice(0, maxRows);
        const last = page[page.length - 1];
        return {
          bundle_seq: query.bundleSeq,
          source_id: header.source_id,
          source_bundle_id: BigInt(header.source_bundle_id),
          row_count: BigInt(header.row_count),
          bundle_hash: header.bundle_hash,
          rows: page.map((row) => new EncodedJson(row.row_json)),
          next_row_ordinal: last ? BigInt(last.row_ordinal) - 1n : (query.afterRowOrdinal ?? 0n),
          has_more: rows.length > maxRows,
        };
      }, { isolation: 'REPEATABLE READ', readOnly: true }));
    });
  }
}

/** The bundle_seq a pull answer brings the device to: its last bundle, or the checkpoint it came with (at most the stable one). */
function pulledThrough(after: bigint, body: GoJsonValue): bigint {
  const { bundles, stable_bundle_seq: stable } = body as { bundles: Array<{ bundle_seq: bigint }>; stable_bundle_seq: bigint };
  const last = bundles[bundles.length - 1];
  return last ? last.bundle_seq : after < stable ? after : stable;
}
