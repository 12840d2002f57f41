/**
 * A large pull page read on the second core: a worker thread (pull-page-worker.ts) reads, checks and
 * hashes the page and publishes its rows as positions in the body while this thread binds them and
 * runs the apply's statements, a bundle's transaction committing only once the worker has vouched for
 * the whole page and the bundle's hash. Whatever it does not vouch for (or any failure inside the
 * transaction) rolls that bundle back and the caller goes on from it the usual way, which gives the
 * same rows or the same error. The page's WAL checkpoints run on the worker too (`DeferredCheckpoints`).
 * One worker per process, started on first use and ended when idle or at a client's close; where a
 * worker cannot start, pulls simply go the usual way.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import { APPLY_PAGE_ROWS, applyAuthoritativePage, ApplyPages, type AuthoritativeRow } from './authoritative-apply.js';
import { SUSPEND_TRIGGERS_MIN_ROWS, TriggerSuspension } from './capture-triggers.js';
import type { ClientContext } from './client-context.js';
import {
  type CheckpointTask,
  CONTROL,
  CONTROL_WORDS,
  type PlainTable,
  type PullPageMessage,
  type PullPageTask,
  RECORD,
  recordCapacity,
  STATUS,
} from './pull-page-records.js';
import { keyJsonHead, type SqlValue } from './row-codec.js';
import type { RowOp } from './sync-state.js';

/** Pages from this size (UTF-16 units) go to the worker under `pullWorker: 'auto'`. */
export const PULL_WORKER_MIN_BODY = 1 << 20;
/** The built worker beside this file; running from the sources (the test suites), the build's. */
const WORKER_FILES = ['./pull-page-worker.js', '../dist/pull-page-worker.js'];
const IDLE_MS = 5000;
/** A worker that publishes nothing for this long is given up (the page goes the usual way). */
const STALL_MS = 30_000;
/** A page applied while the reader is behind holds a multiple of this: whole batches (authoritative-apply.ts). */
const PIPELINED_BATCH_ROWS = 64;
/** Rows committed between two checkpoints asked of the worker (SQLite's 1,000-page auto-checkpoint ≈ 11,000 rows). */
const CHECKPOINT_ROWS = 10_000;
/** Characters canonical JSON writes differently, or that a plain wire string cannot hold. */
const NOT_PLAIN = /["\\\x00-\x1f<>&\u2028\u2029\ud800-\udfff]/;

let worker: Promise<Worker | undefined> | undefined;
let idleTimer: NodeJS.Timeout | undefined;
/** Pulls between taking the worker and the end of their page (another client's close leaves it to them). */
let leases = 0;

/**
 * The running worker (started on first use), or undefined where none can start; the caller hands it
 * a page with `applyPipelinedPage` right after, which gives it back.
 */
export async function pullPageWorker(): Promise<Worker | undefined> {
  clearTimeout(idleTimer);
  worker ??= startWorker();
  leases++;
  const running = await worker;
  if (running === undefined) release();
  return running;
}

/**
 * Starts the worker, unless running, while a pull's request is under way (a page that needs it then
 * does not wait for its start); one left unused ends when idle.
 */
export function warmPullPageWorker(): void {
  worker ??= startWorker();
  if (leases > 0) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(stopPullPageWorker, IDLE_MS);
  idleTimer.unref();
}

function release(): void {
  leases--;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(stopPullPageWorker, IDLE_MS);
  idleTimer.unref();
}

/** Ends the worker unless a pull holds it (a client's close, or idle; the next large page starts another). */
export function stopPullPageWorker(): void {
  if (leases > 0) return;
  clearTimeout(idleTimer);
  const stopping = worker;
  worker = undefined;
  void stopping?.then((running) => running?.terminate());
}

async function startWorker(): Promise<Worker | undefined> {
  const file = WORKER_FILES.map((name) => new URL(name, import.meta.url)).find((url) => existsSync(fileURLToPath(url)));
  if (!file) return undefined;
  try {
    // none of the process's flags: the worker is plain built JavaScript, and some flags refuse a worker
    const started = new Worker(file, { execArgv: [] });
    started.unref();
    await new Promise((resolve, reject) => {
      started.once('message', resolve);
      started.once('error', reject);
      started.once('exit', reject);
    });
    // a worker that fails later declines its page (pull-page-reader.ts) and is not used again
    const forget = () => {
      if (worker && current === started) worker = undefined;
    };
    let current: Worker | undefined = started;
    started.on('error', forget);
    started.on('exit', () => {
      forget();
      current = undefined;
    });
    return started;
  } catch {
    return undefined;
  }
}

/** The pull's target (0 until its first page says it). */
export interface PullCursor {
  readonly after: number;
  target: number;
}

export type PipelinedPage =
  | { readonly read: true; readonly hasMore: boolean; readonly bundles: number }
  /** `applied` bundles of the page were committed; the caller reads the page and goes on from there */
  | { readonly read: false; readonly applied: number };

class Declined extends Error {}

/**
 * Applies a pull page with the worker reading it (the cursor's target set from it as the usual way
 * does); `onBundle(bundleSeq)` after each committed bundle. `bytes`: the body's UTF-8 bytes, moved to
 * the worker (which decodes them itself) instead of the text copied there.
 */
export function applyPipelinedPage(
  ctx: ClientContext,
  running: Worker,
  body: string,
  cursor: PullCursor,
  onBundle: (bundleSeq: number) => void,
  bytes?: ArrayBuffer,
): PipelinedPage {
  let stream: RecordStream | undefined;
  let applied = 0;
  const checkpoints = DeferredCheckpoints.start(ctx.db, running);
  try {
    const capacity = recordCapacity(body.length);
    const task: PullPageTask = {
      body,
      schema: ctx.schema,
      afterBundleSeq: cursor.after,
      tables: plainTables(ctx),
      control: new SharedArrayBuffer(CONTROL_WORDS * 4),
      records: new SharedArrayBuffer(capacity.words * 4),
      numbers: new SharedArrayBuffer(capacity.numbers * 8),
    };
    if (bytes === undefined) running.postMessage(task satisfies PullPageMessage);
    else {
      const { body: text, ...shared } = task;
      running.postMessage({ ...shared, bytes, length: text.length } satisfies PullPageMessage, [bytes]);
    }
    stream = new RecordStream(task);
    if (!stream.next() || stream.tag() !== RECORD.page) return { read: false, applied };
    stream.word();
    const stable = stream.number();
    if (cursor.target !== 0 && stable !== cursor.target) return { read: false, applied };
    if (cursor.target === 0) cursor.target = stable;
    while (stream.next()) {
      if (stream.tag() !== RECORD.bundle) return { read: false, applied };
      let bundle: { bundleSeq: number; rows: number };
      try {
        bundle = applyBundle(ctx, body, stream);
      } catch {
        // anything, a decline as much as a failing statement: that bundle goes the usual way
        return { read: false, applied };
      }
      checkpoints?.committed(bundle.rows);
      applied++;
      ctx.counters.pullBundlesReadByWorker++;
      onBundle(bundle.bundleSeq);
    }
    return { read: true, hasMore: stream.hasMore(), bundles: applied };
  } catch (err) {
    // a decline, or no room for the records (the usual way needs none): the page goes the usual way;
    // what `onBundle` throws is the pull's own error
    if (err instanceof Declined || (err instanceof RangeError && applied === 0)) return { read: false, applied };
    throw err;
  } finally {
    stream?.abandon();
    checkpoints?.end();
    release();
  }
}

/**
 * The WAL checkpoints of a page's commits, moved to the worker: the connection's auto-checkpoint is off
 * while the page applies (else the commit that takes the WAL past its threshold copies the pages into the
 * database file and fsyncs it on this thread: for 100,000 rows, ≈ 30 ms of CPU and 100 ms or more of
 * wall) and back after; the worker checkpoints every `CHECKPOINT_ROWS` committed rows and after the page.
 * Only for a WAL file whose auto-checkpoint is on (an application that checkpoints itself keeps doing so).
 */
class DeferredCheckpoints {
  private rows = 0;
  /** one request at a time: while the worker still reads the page, later bundles' rows wait for the next */
  private readonly pending = new SharedArrayBuffer(4);
  private readonly pendingFlag = new Int32Array(this.pending);

  private constructor(
    private readonly db: Database,
    private readonly running: Worker,
    private readonly file: string,
    private readonly setting: number,
  ) {}

  static start(db: Database, running: Worker): DeferredCheckpoints | undefined {
    if (db.memory || !db.name || db.pragma('journal_mode', { simple: true }) !== 'wal') return undefined;
    const setting = db.pragma('wal_autocheckpoint', { simple: true }) as number;
    if (!(setting > 0)) return undefined;
    db.pragma('wal_autocheckpoint = 0');
    return new DeferredCheckpoints(db, running, resolve(db.name), setting);
  }

  committed(rows: number): void {
    this.rows += rows;
    if (this.rows >= CHECKPOINT_ROWS && Atomics.load(this.pendingFlag, 0) === 0) this.request();
  }

  /** The connection's own setting back; a checkpoint of what is left (a failed one leaves it to that setting). */
  end(): void {
    this.db.pragma(`wal_autocheckpoint = ${this.setting}`);
    if (this.rows > 0) this.request();
  }

  private request(): void {
    this.rows = 0;
    Atomics.store(this.pendingFlag, 0, 1);
    this.running.postMessage({ checkpoint: this.file, pending: this.pending } satisfies CheckpointTask);
  }
}

/** One bundle's transaction (its `bundle` record read), rolled back by a throw; returns its bundle_seq and rows. */
function applyBundle(ctx: ClientContext, body: string, stream: RecordStream): { bundleSeq: number; rows: number } {
  const rowCount = stream.word();
  const bundleSeq = stream.number();
  ctx.state.applyTransaction(() => {
    const suspension = rowCount >= SUSPEND_TRIGGERS_MIN_ROWS ? new TriggerSuspension(ctx.db) : undefined;
    const pages = new ApplyPages();
    for (let start = 0; start < rowCount;) {
      // the rows published so far in whole batches (waited for), up to a page: while the reader is ahead
      // the pages are whole, and at the start (its first rows, its code not yet optimized) this thread
      // applies what there is instead of waiting for a whole page
      const end = Math.min(rowCount, start + APPLY_PAGE_ROWS);
      const page: AuthoritativeRow[] = [];
      do {
        if (!stream.next()) throw new Declined();
        const row = stream.row(ctx, body);
        suspension?.suspend(row.ref.table.name);
        page.push(row);
      } while (start + page.length < end && (page.length % PIPELINED_BATCH_ROWS !== 0 || stream.published()));
      start += page.length;
      applyAuthoritativePage(ctx, page, { skipStale: true, clearDirty: true }, pages);
    }
    if (!stream.next() || stream.tag() !== RECORD.bundleEnd || stream.word() !== 1 || !stream.pageRead())
      throw new Declined();
    suspension?.restore();
    if (bundleSeq > ctx.state.attachment().lastBundleSeqSeen)
      ctx.state.updateAttachment({ lastBundleSeqSeen: bundleSeq });
  });
  return { bundleSeq, rows: rowCount };
}

const OP_OF_TAG: Partial<Record<number, RowOp>> = {
  [RECORD.insert]: 'INSERT',
  [RECORD.update]: 'UPDATE',
  [RECORD.delete]: 'DELETE',
};

/** The records as the worker publishes them, read in order; waits (blocking) for the next one. */
class RecordStream {
  private readonly control: Int32Array;
  private readonly records: Int32Array;
  private readonly numbers: Float64Array;
  private at = 0;
  private numberAt = 0;

  constructor(task: PullPageTask) {
    this.control = new Int32Array(task.control);
    this.records = new Int32Array(task.records);
    this.numbers = new Float64Array(task.numbers);
  }

  /** Waits for a record: true when there is one, false when the page ended before it. */
  next(): boolean {
    return this.waitUntil(() => this.at < Atomics.load(this.control, CONTROL.published));
  }

  /** Whether the next record is published already (no wait). */
  published(): boolean {
    return this.at < Atomics.load(this.control, CONTROL.published);
  }

  /** Waits for the worker's verdict on the whole page: true when it vouches for it. */
  pageRead(): boolean {
    this.waitUntil(() => false);
    return Atomics.load(this.control, CONTROL.status) === STATUS.read;
  }

  hasMore(): boolean {
    return Atomics.load(this.control, CONTROL.hasMore) === 1;
  }

  tag(): number {
    return this.records[this.at++]!;
  }

  word(): number {
    return this.records[this.at++]!;
  }

  number(): number {
    return this.numbers[this.numberAt++]!;
  }

  /** A row record (its tag not read yet), its texts sliced from the body. */
  row(ctx: ClientContext, body: string): AuthoritativeRow {
    const records = this.records;
    const at = this.at;
    const op = OP_OF_TAG[records[at]!];
    if (op === undefined) throw new Declined();
    const table = ctx.tables[records[at + 1]!]!;
    const keyAt = records[at + 2]!;
    const keyEnd = records[at + 3]!;
    const localKey = body.slice(keyAt, keyEnd);
    const keyJson = body.slice(keyAt - keyJsonHead(table).length, keyEnd + 2);
    let values: SqlValue[] | undefined;
    if (op === 'DELETE') this.at = at + 4;
    else {
      const columns = table.columns.length;
      values = new Array<SqlValue>(columns);
      for (let i = 0, p = at + 4; i < columns; i++, p += 2) {
        const start = records[p]!;
        values[i] = start < 0 ? null : body.slice(start, records[p + 1]);
      }
      this.at = at + 4 + 2 * columns;
    }
    return { ref: { table, localKey, keyJson }, op, rowVersion: this.number(), payload: undefined, values };
  }

  /** Tells the worker to stop reading (a page left early). */
  abandon(): void {
    Atomics.store(this.control, CONTROL.abandoned, 1);
  }

  /**
   * Blocks until `ready()` or the page is over: true when ready. A declined page throws `Declined`;
   * so does a worker that publishes nothing for `STALL_MS`.
   */
  private waitUntil(ready: () => boolean): boolean {
    const control = this.control;
    let stalledSince = 0;
    for (;;) {
      const generation = Atomics.load(control, CONTROL.generation);
      if (ready()) return true;
      const status = Atomics.load(control, CONTROL.status);
      if (status === STATUS.declined) throw new Declined();
      // the count is final once the status is (the worker stores it first)
      if (status === STATUS.read) return ready();
      if (Atomics.wait(control, CONTROL.generation, generation, 1000) !== 'timed-out') stalledSince = 0;
      else if ((stalledSince ||= Date.now()) + STALL_MS < Date.now()) throw new Declined();
    }
  }
}

/**
 * The managed tables whose rows the worker may vouch for: no BLOB column, names that canonical JSON
 * writes as they are and that the layout view takes (not `__proto__`).
 */
function plainTables(ctx: ClientContext): PlainTable[] {
  const plain: PlainTable[] = [];
  const isPlain = (name: string) => !NOT_PLAIN.test(name) && name !== '__proto__';
  ctx.tables.forEach((table, index) => {
    if (table.keyIsBlob || !isPlain(table.name) || table.columns.some((c) => c.isBlob || !isPlain(c.lowerName))) return;
    plain.push({
      name: table.name,
      index,
      keyColumn: table.keyColumn.lowerName,
      columns: table.columns.map((c) => c.lowerName),
    });
  });
  return plain;
}
