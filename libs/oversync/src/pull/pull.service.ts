import { Inject, Injectable, Logger } from '@nestjs/common';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import { OversyncError } from '../errors/oversync.error.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';
import { OversyncSchemaService } from '../schema/oversync-schema.service.js';
import type { SyncActor } from '../auth/sync-actor.js';
import type { GoJsonValue, PullResponse } from '@oversync/protocol';
import { EncodedJson, encodeGoJson, INT64_MAX, MAX_BUNDLES_PER_PULL } from '@oversync/protocol';
import { prepared, type SyncClient, type SyncDatabase } from '../database/sync-database.js';
import { oversyncErrorFromDatabase } from '../database/sql-errors.js';
import { callRequestFunction } from '../database/request-function.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { rowPrefixArguments, streamedRowsSql } from './bundle-reader.js';
import { quoteLiteral } from '../database/sql-quote.js';
import { BUNDLE_ROW_BLOCK_ROWS } from '../schema/sync-schema.sql.js';
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

/** Pages with more rows than this stream their rows (chunked) instead of building one text. */
export const PULL_STREAM_MIN_ROWS = 1000;
const COMMA = Buffer.from(',');
const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']');

/** A row of `sync.committed_rows`: the bundle header with one row (NULL row_ordinal: the header alone). */
interface CommittedRowsRow {
  source_id: string;
  source_bundle_id: string;
  row_count: string;
  bundle_hash: string;
  row_ordinal: string | null;
  row_json: string;
}

/** The members of a committed-rows answer before its rows. */
function committedHeader(bundleSeq: bigint, header: CommittedRowsRow) {
  return {
    bundle_seq: bundleSeq,
    source_id: header.source_id,
    source_bundle_id: BigInt(header.source_bundle_id),
    row_count: BigInt(header.row_count),
    bundle_hash: header.bundle_hash,
  };
}

/**
 * (ordinal, text) of the rows of storage ordinals (after, end] of one bundle in order: the stored
 * blocks [first, last) given (COPY: values inlined), the other rows built per request.
 */
function committedRowsSql(
  catalog: SyncCatalog,
  userId: string,
  bundleSeq: bigint,
  after: bigint,
  end: bigint,
  blocks: [bigint, bigint] | null,
): string {
  const user = `(SELECT user_pk FROM sync.user_state WHERE user_id = ${quoteLiteral(userId)})`;
  const block = BigInt(BUNDLE_ROW_BLOCK_ROWS);
  const built = (from: bigint, to: bigint) =>
    `${streamedRowsSql(catalog, 'br.row_ordinal')} WHERE br.user_pk = ${user} AND br.bundle_seq = ${bundleSeq}
        AND br.row_ordinal > ${from} AND br.row_ordinal <= ${to}`;
  if (!blocks) return `${built(after, end)} ORDER BY 1`;
  const [first, last] = blocks;
  return `SELECT * FROM (
    ${built(after, first * block)}
    UNION ALL
    SELECT b.block_no::bigint * ${block} + 1, b.rows_text FROM sync.bundle_row_blocks b
     WHERE b.user_pk = ${user} AND b.bundle_seq = ${bundleSeq} AND b.block_no >= ${first} AND b.block_no < ${last}
    UNION ALL
    ${built(last * block, end)}) page ORDER BY 1`;
}

/** The rows of bundles (after, last] of a user with their bundle_seq, in wire order (COPY: values inlined). */
function pageRowsSql(catalog: SyncCatalog, userPk: string, after: bigint, last: bigint): string {
  return `${streamedRowsSql(catalog)} WHERE br.user_pk = ${BigInt(userPk)} AND br.bundle_seq > ${after}
    AND br.bundle_seq <= ${last}
     ORDER BY br.bundle_seq, br.row_ordinal`;
}

const BLOCK_BYTES = prepared(
  `SELECT bundle_seq::text, (sum(octet_length(rows_text)) + count(*) - 1)::float8 AS bytes FROM sync.bundle_row_blocks
    WHERE user_pk = $1 AND bundle_seq > $2 AND bundle_seq <= $3 GROUP BY bundle_seq`,
);

/**
 * Per bundle of (after, last], the bytes of its stored rows as a pull writes them: its blocks joined
 * by commas (octet_length of a stored text reads its size without decompressing it).
 */
async function blockBytes(
  client: SyncClient,
  userPk: string,
  after: bigint,
  last: string,
): Promise<Map<string, number>> {
  const { rows } = await client.query<{ bundle_seq: string; bytes: number }>(
    BLOCK_BYTES([userPk, after.toString(), last]),
  );
  return new Map(rows.map((r) => [r.bundle_seq, r.bytes]));
}

/** A row of `sync.pull_page` / `sync.pull`: a bundle header (NULL bundle_seq: an empty page). */
interface PullPageRow {
  user_pk: string;
  stable_bundle_seq: string;
  streamed: boolean;
  bundle_seq: string | null;
  source_id: string;
  source_bundle_id: string;
  row_count: string;
  bundle_hash: string;
  rows_json: string | null;
  unblocked: boolean;
}

const PULL = prepared('SELECT * FROM sync.pull($1, $2, $3, $4, $5, $6, $7, $8, $9)');
const PULL_PAGE = prepared('SELECT * FROM sync.pull_page($1, $2, $3, $4, $5, $6, $7, $8)');
const COMMITTED_ROWS = prepared('SELECT * FROM sync.committed_rows($1, $2, $3, $4, $5, $6, $7)');
const COMMITTED_BLOCKS = prepared(
  `SELECT count(*)::int AS n FROM sync.bundle_row_blocks
    WHERE user_pk = (SELECT user_pk FROM sync.user_state WHERE user_id = $1)
      AND bundle_seq = $2 AND block_no >= $3 AND block_no < $4`,
);

/**
 * Pull and committed-bundle row fetch (spec §4.8, §4.9): each one call of a request function
 * (sync-read-functions.sql.ts) that reads one snapshot; a large page reads and streams its rows in
 * one REPEATABLE READ transaction.
 */
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

  /** Answers on `reply`: a small page after its one round trip (which records the checkpoint), a large one streamed. */
  pull(actor: SyncActor, query: PullQuery, reply: WireReply<PullResponse<GoJsonValue>>): Promise<void> {
    return this.lifecycle.run(async () => {
      const max = Math.min(Math.max(query.maxBundles, 1), MAX_BUNDLES_PER_PULL);
      const page = [
        query.afterBundleSeq.toString(),
        query.targetBundleSeq.toString(),
        max,
        ...rowPrefixArguments(this.schema.catalog),
        PULL_STREAM_MIN_ROWS,
      ];
      const rows = await this.countingHistoryPruned(() =>
        callRequestFunction<PullPageRow>(this.db, PULL([actor.userId, actor.sourceId, ...page])),
      );
      if (!rows[0]!.streamed) return reply.send(200, this.pageOf(rows, max, null));
      // A page of more than PULL_STREAM_MIN_ROWS rows: read again with the COPY of its rows in one snapshot,
      // written while the transaction reads it.
      const through = await this.countingHistoryPruned(() =>
        this.db.transaction(
          async (client) => {
            const { rows: headers } = await client
              .query<PullPageRow>(PULL_PAGE([actor.userId, ...page]))
              .catch((error: unknown) => {
                throw oversyncErrorFromDatabase(error) ?? error;
              });
            // a page of stored blocks only: its rows' bytes are known before they are read (a Content-Length)
            const pageHeaders = headers[0]!.bundle_seq === null ? [] : headers.slice(0, max);
            const rowBytes =
              pageHeaders.length > 0 && headers[0]!.streamed && !pageHeaders.some((h) => h.unblocked)
                ? await blockBytes(client, headers[0]!.user_pk, query.afterBundleSeq, pageHeaders.at(-1)!.bundle_seq!)
                : null;
            await reply.send(200, this.pageOf(headers, max, { client, after: query.afterBundleSeq, rowBytes }));
            const last = headers[Math.min(headers.length, max) - 1]?.bundle_seq;
            return last ? BigInt(last) : 0n;
          },
          { isolation: 'REPEATABLE READ', readOnly: true },
        ),
      );
      // the answer is out: a failed bookkeeping write must not fail the pull
      await recordPullCheckpoint(this.db, actor, through).catch((e: unknown) =>
        this.logger.warn(`pull checkpoint: ${(e as Error).message}`),
      );
    });
  }

  /**
   * Every `history_pruned` answer, of pull and of committed-rows fetch alike, counts in the telemetry (the request
   * function counts `history_pruned_error_count`, §8.5).
   */
  private async countingHistoryPruned<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (error instanceof OversyncError && error.code === 'history_pruned') this.telemetry.historyPruned();
      throw error;
    }
  }

  /**
   * The answer of the rows of `sync.pull_page`: the page of `max` bundles (one more row: has_more),
   * each with its rows as one JSON text; a streamed page (`stream` given) gets a `bundles` array that
   * writes itself from a COPY on `stream.client`.
   */
  private pageOf(
    rows: PullPageRow[],
    max: number,
    stream: { client: SyncClient; after: bigint; rowBytes: Map<string, number> | null } | null,
  ): PullResponse<GoJsonValue> {
    const headers = rows[0]!.bundle_seq === null ? [] : rows;
    const page = headers.slice(0, max).map((h) => ({
      bundle_seq: BigInt(h.bundle_seq!),
      source_id: h.source_id,
      source_bundle_id: BigInt(h.source_bundle_id),
      row_count: h.row_count === '0' ? undefined : BigInt(h.row_count),
      bundle_hash: h.bundle_hash || undefined,
      rows: h.rows_json === null ? [] : new EncodedJson(h.rows_json),
    }));
    this.telemetry.pulled(
      page.length,
      page.reduce((count, h) => count + Number(h.row_count ?? 0n), 0),
    );
    const streamed = stream !== null && headers[0]?.streamed === true;
    const blocks = !headers.slice(0, max).some((h) => h.unblocked);
    // each bundle's header encoded as the in-memory form encodes it, around its rows
    const frames = streamed
      ? page.map(
          (bundle) => encodeGoJson({ ...bundle, rows: new EncodedJson('\u0000') }).split('\u0000') as [string, string],
        )
      : [];
    // '[' bundles ']': each bundle its frame around '[' rows ']', ',' between bundles
    const length =
      streamed && stream.rowBytes
        ? frames.reduce(
            (sum, [open, close], i) =>
              sum +
              (i > 0 ? 1 : 0) +
              Buffer.byteLength(open) +
              Buffer.byteLength(close) +
              2 +
              (stream.rowBytes!.get(String(page[i]!.bundle_seq)) ?? 0),
            2,
          )
        : undefined;
    return {
      stable_bundle_seq: BigInt(rows[0]!.stable_bundle_seq),
      bundles: streamed
        ? new StreamedJson(
            (write) => this.streamPage(stream.client, headers[0]!.user_pk, stream.after, page, frames, blocks, write),
            length,
          )
        : page,
      has_more: headers.length > max,
    };
  }

  /**
   * The `bundles` array of a large page, written while PostgreSQL produces it: one binary COPY of
   * (bundle_seq, BundleRow text) in (bundle_seq, row_ordinal) order, each bundle's header encoded as
   * the in-memory form encodes it, rows passed from the socket buffers on without being copied or becoming JS strings.
   */
  private async streamPage(
    client: SyncClient,
    userPk: string,
    after: bigint,
    page: Array<Record<string, GoJsonValue | undefined>>,
    frames: Array<[string, string]>,
    blocks: boolean,
    write: WireWrite,
  ): Promise<void> {
    const last = page[page.length - 1]!.bundle_seq as bigint;
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
          WHERE user_pk = ${BigInt(userPk)} AND bundle_seq > ${after} AND bundle_seq <= ${last} ORDER BY bundle_seq,
            block_no`
      : pageRowsSql(this.schema.catalog, userPk, after, last);
    await copyOutBinary(client, sql, {
      tuple(lead) {
        const seq = lead[0]!.readBigInt64BE(0);
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
      },
      piece: (bytes) => out.bytes(bytes),
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

  /**
   * Answers on `reply`: a page of up to PULL_STREAM_MIN_ROWS rows after its one round trip; a larger
   * page (max_rows above it) streamed like a large pull page, from the stored row blocks it covers.
   */
  committedRows(actor: SyncActor, query: CommittedRowsQuery, reply: WireReply): Promise<void> {
    return this.lifecycle.run(async () => {
      if (query.bundleSeq <= 0n) throw new OversyncError('committed_bundle_chunk_invalid', 'bundle_seq must be > 0');
      if (query.afterRowOrdinal !== null && query.afterRowOrdinal < 0n)
        throw new OversyncError('committed_bundle_chunk_invalid', 'after_row_ordinal must be >= 0');
      if (query.maxRows !== null && query.maxRows <= 0)
        throw new OversyncError('committed_bundle_chunk_invalid', 'max_rows must be > 0');
      const maxRows = Math.min(
        query.maxRows ?? this.config.defaultRowsPerCommittedBundleChunk,
        this.config.maxRowsPerCommittedBundleChunk,
      );
      // storage ordinals are wire + 1; at after_row_ordinal = int64 max the bound would overflow BIGINT (a 500)
      // and nothing can follow anyway: clamp. Found by http-input fuzz seed 3.
      const storageAfter =
        query.afterRowOrdinal === null
          ? 0n
          : query.afterRowOrdinal < INT64_MAX
            ? query.afterRowOrdinal + 1n
            : INT64_MAX;
      if (maxRows > PULL_STREAM_MIN_ROWS) return this.streamCommittedRows(actor, query, storageAfter, maxRows, reply);
      // The reference answers 500 for a user without state (§8.1): nothing of theirs exists, so 404 (in the function).
      const rows = await this.countingHistoryPruned(() =>
        callRequestFunction<CommittedRowsRow>(
          this.db,
          COMMITTED_ROWS([
            actor.userId,
            query.bundleSeq.toString(),
            storageAfter.toString(),
            maxRows + 1,
            ...rowPrefixArguments(this.schema.catalog),
          ]),
        ),
      );
      const header = rows[0]!;
      const found = header.row_ordinal === null ? [] : rows;
      const page = found.slice(0, maxRows);
      const last = page[page.length - 1];
      return reply.send(200, {
        ...committedHeader(query.bundleSeq, header),
        rows: page.map((row) => new EncodedJson(row.row_json)),
        next_row_ordinal: last ? BigInt(last.row_ordinal!) - 1n : (query.afterRowOrdinal ?? 0n),
        has_more: found.length > maxRows,
      });
    });
  }

  /**
   * A committed-rows page of more than PULL_STREAM_MIN_ROWS rows, in one REPEATABLE READ snapshot:
   * the header (and refusals) from `sync.committed_rows` without rows, then one binary COPY of the
   * page's rows written while PostgreSQL reads them — whole stored blocks where the page covers
   * them, rows built per request at its ragged ends (and for bundles committed before the blocks).
   * A bundle's storage ordinals are 1..row_count without gaps (its rows are numbered at commit), so
   * the page's last row, next_row_ordinal and has_more follow from row_count before any row is read.
   */
  private async streamCommittedRows(
    actor: SyncActor,
    query: CommittedRowsQuery,
    storageAfter: bigint,
    maxRows: number,
    reply: WireReply,
  ): Promise<void> {
    const block = BigInt(BUNDLE_ROW_BLOCK_ROWS);
    await this.countingHistoryPruned(() =>
      this.db.transaction(
        async (client) => {
          const { rows } = await client
            .query<CommittedRowsRow>(
              COMMITTED_ROWS([
                actor.userId,
                query.bundleSeq.toString(),
                storageAfter.toString(),
                0,
                ...rowPrefixArguments(this.schema.catalog),
              ]),
            )
            .catch((error: unknown) => {
              throw oversyncErrorFromDatabase(error) ?? error;
            });
          const header = rows[0]!;
          const rowCount = BigInt(header.row_count);
          const end = storageAfter + BigInt(maxRows) < rowCount ? storageAfter + BigInt(maxRows) : rowCount;
          if (end <= storageAfter) {
            return reply.send(200, {
              ...committedHeader(query.bundleSeq, header),
              rows: [],
              next_row_ordinal: query.afterRowOrdinal ?? 0n,
              has_more: false,
            });
          }
          // blocks [first, last) lie wholly inside the page (block b holds ordinals b*1000+1 .. (b+1)*1000)
          const first = (storageAfter + block - 1n) / block;
          const last = end / block;
          // every one of them stored (not so for bundles committed before sync.bundle_row_blocks existed)
          const blocks =
            first < last &&
            BigInt(
              (
                await client.query<{ n: number }>(
                  COMMITTED_BLOCKS([actor.userId, query.bundleSeq.toString(), first.toString(), last.toString()]),
                )
              ).rows[0]!.n,
            ) ===
              last - first;
          return reply.send(200, {
            ...committedHeader(query.bundleSeq, header),
            rows: new StreamedJson((write) =>
              this.writeRows(
                client,
                committedRowsSql(
                  this.schema.catalog,
                  actor.userId,
                  query.bundleSeq,
                  storageAfter,
                  end,
                  blocks ? [first, last] : null,
                ),
                write,
              ),
            ),
            next_row_ordinal: end - 1n,
            has_more: end < rowCount,
          });
        },
        { isolation: 'REPEATABLE READ', readOnly: true },
      ),
    );
  }

  /** A JSON array of the comma-joined texts of a COPY of (ordinal, text) tuples, written as they arrive. */
  private async writeRows(client: SyncClient, sql: string, write: WireWrite): Promise<void> {
    const out = new WireBuffer(write);
    let tuples = 0;
    out.bytes(OPEN);
    await copyOutBinary(client, sql, {
      tuple() {
        if (tuples++ > 0) out.bytes(COMMA);
      },
      piece: (bytes) => out.bytes(bytes),
      flush: () => out.flush(),
    });
    out.bytes(CLOSE);
    await out.flush();
  }
}
