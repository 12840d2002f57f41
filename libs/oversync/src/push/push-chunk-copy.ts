import { CopyInWriter } from '../database/copy-in.js';
import { requestFunctionRefusal } from '../database/request-function.js';
import { quoteLiteral } from '../database/sql-quote.js';
import { CommitOutcomeUnknownError, isConnectionError, type SyncDatabase } from '../database/sync-database.js';
import { reportUserLockWait } from '../database/user-lock.js';
import type { PushChunkShape, PushRowSink } from './push-chunk.parser.js';

/** What a chunk staged by COPY is staged for (the parameters of `sync.push_chunk` but the rows). */
export interface ChunkCopyCall {
  pushId: string;
  userId: string;
  sourceId: string;
  sessionTtlMs: number;
  leaseTtlMs: number;
  lockTimeoutMs: number;
  uploadLockTimeoutMs: number;
}

export type ChunkCopyResult =
  | {
      status: 'staged';
      chunk: PushChunkShape;
      nextExpectedRowOrdinal: bigint;
      stageMs: [lock: number, session: number];
    }
  /** nothing staged: `sync.push_chunk` stages the chunk or words why not (out of order, beyond the plan…) */
  | { status: 'declined' };

/** Rows parsed only for the parse's answer. */
const NO_ROWS: PushRowSink = { start() {}, row() {} };

const COPY_STAGED_ROWS =
  'COPY sync.push_session_rows (push_id, row_ordinal, table_id, key_bytes, op_code, base_bundle_seq, payload_apply) ' +
  'FROM STDIN';

/**
 * The rows of a chunk as COPY text lines, numbered from where the session expects the chunk to start
 * (the chunk's own start_row_ordinal is read only with the whole body: a mismatch declines the COPY).
 */
export class StagedRowLines implements PushRowSink {
  rows = 0;
  /** the body repeats its "rows" member: the lines written are not the chunk's */
  replaced = false;

  /** the push id and its tab, the start of every line */
  private readonly pushIdTab: string;

  constructor(
    private readonly writer: CopyInWriter,
    pushId: string,
    private readonly firstOrdinal: number,
  ) {
    this.pushIdTab = `${pushId}\t`;
  }

  start(): void {
    if (this.rows > 0) this.replaced = true;
  }

  lineHead(maxBytes: number, tableId: number): CopyInWriter | undefined {
    if (this.replaced) return undefined;
    const writer = this.writer;
    // push id, 2 numbers of at most 16 digits, 2 separators and `\\x`
    writer.line(this.pushIdTab.length + 2 * 16 + 5 + maxBytes);
    writer.ascii(this.pushIdTab);
    writer.integer(this.firstOrdinal + this.rows++);
    writer.byte(TAB);
    writer.integer(tableId);
    writer.ascii('\t\\\\x');
    return writer;
  }

  row(tableId: number, keyHex: string, opCode: number, baseRowVersion: bigint, payload: string): void {
    if (this.replaced) return;
    // canonical JSON holds no raw tab, newline or carriage return: its backslashes are all COPY needs escaped
    const applied = payload === '' ? '\\N' : payload.includes('\\') ? payload.replaceAll('\\', '\\\\') : payload;
    const writer = this.writer;
    // push id, 3 numbers of at most 16 digits, a bigint of at most 20, the key's hex, 7 separators and `\\x`
    writer.line(this.pushIdTab.length + 3 * 16 + 20 + keyHex.length + 10 + 3 * applied.length);
    writer.ascii(this.pushIdTab);
    writer.integer(this.firstOrdinal + this.rows++);
    writer.byte(TAB);
    writer.integer(tableId);
    writer.ascii('\t\\\\x');
    writer.ascii(keyHex);
    writer.byte(TAB);
    writer.integer(opCode);
    writer.byte(TAB);
    if (baseRowVersion === 0n) writer.byte(0x30);
    else writer.ascii(baseRowVersion.toString());
    writer.byte(TAB);
    writer.utf8(applied);
    writer.byte(NEWLINE);
  }
}

const TAB = 0x09;
const NEWLINE = 0x0a;

/**
 * A chunk staged with `COPY … FROM STDIN` while its body is parsed, so PostgreSQL inserts rows on its core
 * while Node parses the next ones; in one transaction with what `sync.push_chunk` does around its INSERT
 * (`sync.push_chunk_open` before, `sync.push_chunk_close` after). The answers are push_chunk's: a parse
 * error first (rolled back), then a refusal of the session; a chunk that does not start where the session
 * expects it or outgrows the plan is rolled back and declined. `parse` binds and validates the body,
 * giving each accepted row to the sink. `statedStart`, the start ordinal the body's text states up front
 * (a hint: the parse decides), declines a chunk that states another start before its rows are staged.
 */
export async function stageChunkByCopy(
  db: SyncDatabase,
  call: ChunkCopyCall,
  parse: (sink: PushRowSink) => PushChunkShape,
  statedStart?: bigint,
): Promise<ChunkCopyResult> {
  return db.withClient(async (client) => {
    let opened: { out_next_row_ordinal: string; out_planned_row_count: string; out_stage_ms: number[] };
    try {
      const results = (await client.query(
        `BEGIN; SELECT * FROM sync.push_chunk_open(${quoteLiteral(call.pushId)}, ${quoteLiteral(call.userId)}, ` +
          `${quoteLiteral(call.sourceId)}, ${call.leaseTtlMs}, ${call.lockTimeoutMs}, ${call.uploadLockTimeoutMs})`,
      )) as unknown as Array<{ rows: Array<typeof opened & { out_lock_waited: boolean }> }>;
      const row = results[1]!.rows[0]!;
      if (row.out_lock_waited) reportUserLockWait('waited');
      opened = row;
    } catch (error) {
      if (isConnectionError(error)) throw error;
      await client.query('ROLLBACK');
      const refusal = requestFunctionRefusal(error, true);
      if (refusal === undefined) return { status: 'declined' };
      // a body that does not parse is answered first, as when push_chunk refuses it
      parse(NO_ROWS);
      throw refusal;
    }
    const first = Number(opened.out_next_row_ordinal);
    // a retried chunk the session has moved past: declined before any row is staged and rolled back
    if (statedStart !== undefined && statedStart !== BigInt(first)) {
      await client.query('ROLLBACK');
      return { status: 'declined' };
    }
    let writer: CopyInWriter;
    try {
      writer = await CopyInWriter.open(client, COPY_STAGED_ROWS);
    } catch (error) {
      if (isConnectionError(error)) throw error;
      await client.query('ROLLBACK');
      return { status: 'declined' };
    }
    const lines = new StagedRowLines(writer, call.pushId, first);
    let chunk: PushChunkShape | undefined;
    let parseError: unknown;
    try {
      chunk = parse(lines);
    } catch (error) {
      parseError = error;
    }
    let copied = true;
    try {
      await writer.end();
    } catch (error) {
      if (isConnectionError(error)) throw error;
      copied = false;
    }
    if (chunk === undefined) {
      await client.query('ROLLBACK');
      throw parseError;
    }
    if (
      !copied ||
      lines.replaced ||
      chunk.startRowOrdinal !== BigInt(first) ||
      first + chunk.length > Number(opened.out_planned_row_count)
    ) {
      await client.query('ROLLBACK');
      return { status: 'declined' };
    }
    const next = first + chunk.length;
    const shape = chunk.insertShape === null ? 'NULL' : quoteLiteral(chunk.insertShape);
    try {
      await client.query(
        `SELECT sync.push_chunk_close(${quoteLiteral(call.pushId)}, ${first}, ${next}, ${call.sessionTtlMs}, ` +
          `${shape}); COMMIT`,
      );
    } catch (error) {
      if (isConnectionError(error)) throw new CommitOutcomeUnknownError(error);
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    return {
      status: 'staged',
      chunk: chunk,
      nextExpectedRowOrdinal: BigInt(next),
      stageMs: [opened.out_stage_ms[0] ?? 0, opened.out_stage_ms[1] ?? 0],
    };
  });
}
