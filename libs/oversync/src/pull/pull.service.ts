import { Inject, Injectable, Logger } from '@nestjs/common';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import type { SyncDatabase } from '../database/sync-database.js';
import { OversyncError } from '../errors/oversync.error.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';
import { OversyncSchemaService } from '../schema/oversync-schema.service.js';
import type { SyncActor } from '../auth/sync-actor.js';
import { requireInitializedScope } from '../connect/scope-state.js';
import type { Bundle, CommittedBundleRowsResponse, GoJsonValue, PullResponse } from '@oversync/protocol';
import { EncodedJson, encodeGoJson, INT64_MAX, MAX_BUNDLES_PER_PULL } from '@oversync/protocol';
import type { SyncClient } from '../database/sync-database.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { BUNDLE_ROW_JSON_SQL, readUserState, rowPrefixesSql, rowPrefixParams, streamedRowsSql } from './bundle-reader.js';
import { StreamedJson, WireBuffer, type WireReply, type WireWrite } from '../http/wire-stream.js';
import { copyOutBinary } from '../database/copy-out.js';
import { OversyncTelemetry } from '../observability/oversync-telemetry.js';
import { recordPullCheckpoint } from './pull-checkpoint.js';

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

/** A pull page's bundles: each with its rows as one JSON text, or (a large page) all streamed from PostgreSQL. */
export type PullPageBundles = Array<Bundle<EncodedJson | never[]>> | StreamedJson;

/** Pages with more rows than this stream their rows (chunked) instead of building one text. */
export const PULL_STREAM_MIN_ROWS = 1000;
const COMMA = Buffer.from(',');

/** The rows of bundles (after, last] of a user with their bundle_seq, in wire order (COPY: values inlined). */
function pageRowsSql(catalog: SyncCatalog, client: SyncClient, userPk: string, after: bigint, last: bigint): string {
  return `${streamedRowsSql(catalog, client)} WHERE br.user_pk = ${BigInt(userPk)} AND br.bundle_seq > ${after} AND br.bundle_seq <= ${last}
     ORDER BY br.bundle_seq, br.row_ordinal`;
}

export function historyPruned(provided: bigint, floor: bigint, userId: string): OversyncError {
  return new OversyncError('history_pruned', `requested checkpoint ${provided} is older than retained history floor ${floor} for user ${userId}`);
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

  /** Answers on `reply` inside the read transaction: a large page streams its rows from PostgreSQL. */
  pull(actor: SyncActor, query: PullQuery, reply: WireReply): Promise<void> {
    return this.lifecycle.run(async () => {
      // A streamed page is written while its transaction reads it; a small one after COMMIT, as a whole.
      const pulled = await this.countingHistoryPruned(() => this.db.transaction(async (client) => {
        const { page, through } = await this.pullInTransaction(client, actor, query);
        if (!(page.bundles instanceof StreamedJson)) return { page, through };
        await reply.send(200, page);
        return { page: null, through };
      }, { isolation: 'REPEATABLE READ', readOnly: true }));
      if (pulled.page) await reply.send(200, pulled.page);
      // the answer is out: a failed bookkeeping write must not fail the pull
      await recordPullCheckpoint(this.db, actor, pulled.through).catch((e: unknown) => this.logger.warn(`pull checkpoint: ${(e as Error).message}`));
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

  /** The page, and the bundle_seq the source has pulled through with it (its checkpoint, for the admin console). */
  private async pullInTransaction(
    client: SyncClient,
    actor: SyncActor,
    query: PullQuery,
  ): Promise<{ page: PullResponse<PullPageBundles>; through: bigint }> {
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
    if (after >= stable) return { page: { stable_bundle_seq: stable, bundles: [], has_more: false }, through: stable };
    const max = Math.min(Math.max(query.maxBundles, 1), MAX_BUNDLES_PER_PULL);
    // Headers and rows in one statement: the page of bundle headers plus one more (has_more), each page
    // bundle with its rows as one JSON text built by PostgreSQL around the stored canonical payloads.
    // A page of more than PULL_STREAM_MIN_ROWS rows gets its headers only ($9): its rows stream below.
    const { rows: headers } = await client.query<{ bundle_seq: string; source_id: string; source_bundle_id: string; row_count: string; bundle_hash: string; rows_json: string | null; streamed: boolean; unblocked: boolean }>(
      `WITH h AS (
         SELECT bundle_seq, source_id, source_bundle_id, row_count, encode(bundle_hash, 'hex') AS bundle_hash, row_number() OVER (ORDER BY bundle_seq) AS n
           FROM sync.bundle_log WHERE user_pk = $1 AND bundle_seq > $2 AND bundle_seq > $3 AND bundle_seq <= $4
          ORDER BY bundle_seq LIMIT $5),
       t AS (SELECT COALESCE(sum(row_count), 0) > $9 AS streamed FROM h WHERE h.n < $5)
       SELECT h.bundle_seq, h.source_id, h.source_bundle_id, h.row_count, h.bundle_hash, t.streamed,
              CASE WHEN h.n < $5 AND NOT t.streamed THEN
                COALESCE(
                  (SELECT '[' || string_agg(b.rows_text, ',' ORDER BY b.block_no) || ']'
                     FROM sync.bundle_row_blocks b WHERE b.user_pk = $1 AND b.bundle_seq = h.bundle_seq),
                  -- bundles committed before sync.bundle_row_blocks existed
                  (SELECT '[' || string_agg(${BUNDLE_ROW_JSON_SQL}, ',' ORDER BY br.row_ordinal) || ']'
                     FROM sync.bundle_rows br JOIN ${rowPrefixesSql(6)} ON tc.table_id = br.table_id
                    WHERE br.user_pk = $1 AND br.bundle_seq = h.bundle_seq)) END AS rows_json,
              t.streamed AND h.row_count > 0 AND NOT EXISTS (
                SELECT 1 FROM sync.bundle_row_blocks b WHERE b.user_pk = $1 AND b.bundle_seq = h.bundle_seq) AS unblocked
         FROM h, t ORDER BY h.bundle_seq`,
      [user.userPk, after.toString(), user.floor.toString(), stable.toString(), max + 1, ...rowPrefixParams(this.schema.catalog), PULL_STREAM_MIN_ROWS],
    );
    const hasMore = headers.length > max;
    const page = headers.slice(0, max).map((h) => ({
      bundle_seq: BigInt(h.bundle_seq),
      source_id: h.source_id,
      source_bundle_id: BigInt(h.source_bundle_id),
      row_count: h.row_count === '0' ? undefined : BigInt(h.row_count),
      bundle_hash: h.bundle_hash || undefined,
      rows: h.rows_json === null ? [] : new EncodedJson(h.rows_json),
    }));
    const streamed = headers[0]?.streamed === true;
    const blocks = !headers.slice(0, max).some((h) => h.unblocked);
    this.telemetry.pulled(page.length, page.reduce((rows, h) => rows + Number(h.row_count ?? 0n), 0));
    const through = page.length > 0 ? page[page.length - 1]!.bundle_seq : after < stable ? after : stable;
    return {
      page: {
        stable_bundle_seq: stable,
        bundles: streamed ? new StreamedJson((write) => this.streamPage(client, user.userPk, after, page, blocks, write)) : page,
        has_more: hasMore,
      },
      through,
    };
  }

  /**
   * The `bundles` array of a large page, written while PostgreSQL produces it: one binary COPY of
   * (bundle_seq, BundleRow text) in (bundle_seq, row_ordinal) order, each bundle's header encoded as
   * the in-memory form encodes it, rows copied from the socket buffers without becoming JS strings.
   */
  private async streamPage(client: SyncClient, userPk: string, after: bigint, page: Array<Record<string, GoJsonValue | undefined>>, blocks: boolean, write: WireWrite): Promise<void> {
    const last = page[page.length - 1]!.bundle_seq as bigint;
    const frames = page.map((bundle) => encodeGoJson({ ...bundle, rows: new EncodedJson('\u0000') }).split('\u0000') as [string, string]);
    const seqs = page.map((bundle) => bundle.bundle_seq as bigint);
    const out = new WireBuffer(write);
    let next = 0;
    let openIndex = -1;
    let rowsInBundle = 0;
    const close = () => {
      if (openIndex >= 0) out.text(`]${frames[openIndex]![1]}`);
      openIndex = -1;
    };
    const openNext = () => {
      if (next >= seqs.length) throw new Error('streamed pull row outside its page');
      out.text(`${next > 0 ? ',' : ''}${frames[next]![0]}[`);
      openIndex = next++;
      rowsInBundle = 0;
    };
    out.text('[');
    // (bundle_seq, text) tuples: stored blocks of comma-joined rows, or (older bundles) rows built here
    const sql = blocks
      ? `SELECT bundle_seq, rows_text FROM sync.bundle_row_blocks
          WHERE user_pk = ${BigInt(userPk)} AND bundle_seq > ${after} AND bundle_seq <= ${last} ORDER BY bundle_seq, block_no`
      : pageRowsSql(this.schema.catalog, client, userPk, after, last);
    await copyOutBinary(client, sql, {
      tuple(fields) {
        const seq = fields[0]!.readBigInt64BE(0);
        if (openIndex < 0 || seqs[openIndex] !== seq) {
          close();
          // bundles without rows in between: an empty rows array, as the in-memory form writes them
          while (next < seqs.length && seqs[next] !== seq) {
            openNext();
            close();
          }
          openNext();
        }
        if (rowsInBundle++ > 0) out.bytes(COMMA);
        out.bytes(fields[1]!);
      },
      flush: () => out.flush(),
    });
    close();
    while (next < seqs.length) {
      openNext();
      close();
    }
    out.text(']');
    await out.flush();
  }

  committedRows(actor: SyncActor, query: CommittedRowsQuery): Promise<CommittedBundleRowsResponse<EncodedJson[]>> {
    return this.lifecycle.run(async () => {
      if (query.bundleSeq <= 0n) throw new OversyncError('committed_bundle_chunk_invalid', 'bundle_seq must be > 0');
      if (query.afterRowOrdinal !== null && query.afterRowOrdinal < 0n) throw new OversyncError('committed_bundle_chunk_invalid', 'after_row_ordinal must be >= 0');
      if (query.maxRows !== null && query.maxRows <= 0) throw new OversyncError('committed_bundle_chunk_invalid', 'max_rows must be > 0');
      const maxRows = Math.min(query.maxRows ?? this.config.defaultRowsPerCommittedBundleChunk, this.config.maxRowsPerCommittedBundleChunk);
      return this.countingHistoryPruned(() => this.db.transaction(async (client) => {
        const user = await readUserState(client, actor.userId);
        // The reference answers 500 for a user without state (§8.1): nothing of theirs exists, so 404.
        if (!user) throw new OversyncError('committed_bundle_not_found', `committed bundle ${query.bundleSeq} was not found`);
        if (query.bundleSeq <= user.floor) throw historyPruned(query.bundleSeq, user.floor, actor.userId);
        const { rows: headers } = await client.query<{ source_id: string; source_bundle_id: string; row_count: string; bundle_hash: string }>(
          `SELECT source_id, source_bundle_id, row_count, encode(bundle_hash, 'hex') AS bundle_hash FROM sync.bundle_log WHERE user_pk = $1 AND bundle_seq = $2`,
          [user.userPk, query.bundleSeq.toString()],
        );
        const header = headers[0];
        if (!header) throw new OversyncError('committed_bundle_not_found', `committed bundle ${query.bundleSeq} was not found`);
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

