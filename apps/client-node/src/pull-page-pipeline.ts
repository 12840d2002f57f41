/**
 * A large pull page read on the second core: a worker thread (pull-page-worker.ts) reads, checks and
 * hashes the page — one it requests itself and reads as it arrives, or the bytes of one this thread
 * fetched — and posts its rows in batches (records pointing into their text) while this thread binds them
 * and runs the apply's statements, a bundle's transaction committing only once the worker has vouched for
 * the whole page and the bundle's hash. Whatever it does not vouch for (or any failure inside the
 * transaction) rolls that bundle back and the caller goes on from it the usual way, which gives the
 * same rows or the same error. The page's WAL checkpoints run on the worker too (`DeferredCheckpoints`).
 * One worker per process, started on first use (or by `attach`) and ended when idle or at a client's
 * close; where a worker cannot start, pulls simply go the usual way.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import { APPLY_PAGE_ROWS, applyAuthoritativePage, ApplyPages, type AuthoritativeRow } from './authoritative-apply.js';
import { SUSPEND_TRIGGERS_MIN_ROWS, TriggerSuspension } from './capture-triggers.js';
import type { ClientContext } from './client-context.js';
import {
  type CheckpointTask,
  CONTROL,
  CONTROL_WORDS,
  type PageAnswer,
  type PageBatch,
  type PageEnd,
  type PageFailed,
  type PageHead,
  type PageMessage,
  type PlainTable,
  type PullPageBytesTask,
  type PullPageRequestTask,
  type PullPageShape,
  type PullPageTask,
  RECORD,
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
/**
 * A requested page's rows start applying once this much more has arrived and the rest would arrive, at the
 * rate it has been arriving, within `BLOCKED_APPLY_FACTOR` times the whole page's apply at
 * `APPLY_BYTES_PER_MS` (≈ what this thread applies): the event loop is then blocked at most about
 * that many times as long as the apply alone would block it.
 */
const MIN_ARRIVED_BYTES = 64 * 1024;
const APPLY_BYTES_PER_MS = 50_000;
const BLOCKED_APPLY_FACTOR = 2;
/** ms the rate is measured over at least */
const MIN_RATE_MS = 10;
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

/** A page the worker requested: read and applied, declined (its text given), or not answered with a 200. */
export type RequestedPage =
  /** `received`: the body's bytes */
  | { readonly read: true; readonly hasMore: boolean; readonly bundles: number; readonly received: number }
  /** `applied` bundles committed; `body` is the whole page for the caller to read from there */
  | { readonly read: false; readonly applied: number; readonly body: string }
  /** the answer, not a 200: the caller takes it as its transport's */
  | { readonly read: false; readonly applied: 0; readonly answer: { status: number; body: string } }
  /**
   * the page is the usual way's to request again after `applied` bundles: `error`, the transport's failure
   * (no answer, its body cut short), is the first attempt of its retries; none (a redirect, an encoded body,
   * a stalled worker), no attempt
   */
  | { readonly read: false; readonly applied: number; readonly failed: true; readonly error?: string };

class Declined extends Error {}

/** `Atomics.waitAsync` (ES2024; Node has it, the ES2023 lib does not declare it). */
interface AtomicsWaitAsync {
  waitAsync(
    array: Int32Array,
    index: number,
    value: number,
    timeout: number,
  ): { async: false; value: string } | { async: true; value: Promise<string> };
}

/**
 * Applies a pull page with the worker reading it (the cursor's target set from it as the usual way
 * does); `onBundle(bundleSeq)` after each committed bundle. `bytes`: the body's UTF-8 bytes, moved to
 * the worker (which decodes them itself).
 */
export function applyPipelinedPage(
  ctx: ClientContext,
  running: Worker,
  body: string,
  bytes: ArrayBuffer,
  cursor: PullCursor,
  onBundle: (bundleSeq: number) => void,
): PipelinedPage {
  const stream = startPage(running, { ...pageShape(ctx, cursor), bytes, length: body.length }, [bytes], body);
  try {
    const page = applyRecords(ctx, running, stream, cursor, onBundle);
    return page.read ? page : { read: false, applied: page.applied };
  } finally {
    stream.close();
    release();
  }
}

/**
 * A pull page the worker requests (`url` with `headers`) and reads as it arrives, this thread applying
 * each bundle's rows as they come once the rest of the body would arrive within about the time their
 * apply takes (the event loop waits free until then: a slow download blocks it no longer than the apply).
 */
export async function applyRequestedPage(
  ctx: ClientContext,
  running: Worker,
  request: { url: string; headers: Record<string, string>; timeoutMs: number },
  cursor: PullCursor,
  onBundle: (bundleSeq: number) => void,
  signal?: AbortSignal,
): Promise<RequestedPage> {
  const stream = startPage(running, { ...pageShape(ctx, cursor), ...request }, []);
  try {
    const head = await stream.head(signal);
    if (head.kind === 'failed') return { read: false, applied: 0, failed: true, error: head.error };
    if (head.kind === 'answer') return { read: false, applied: 0, answer: { status: head.status, body: head.body } };
    try {
      await stream.arriving(head.contentLength, signal);
    } catch (err) {
      if (err instanceof Declined) return { read: false, applied: 0, failed: true };
      throw err;
    }
    const page = applyRecords(ctx, running, stream, cursor, onBundle);
    if (page.read) return { ...page, received: stream.received() };
    const body = stream.failed ? undefined : await stream.wholeText(signal);
    return body === undefined
      ? { read: false, applied: page.applied, failed: true, error: stream.error }
      : { ...page, body };
  } finally {
    stream.close();
    release();
  }
}

/**
 * Posts a page's task to the worker with a channel and control word of its own; the stream reads what it
 * posts back. `body`: the page's text, when this thread has it (the batches then carry no text).
 */
function startPage(
  running: Worker,
  task: Omit<PullPageBytesTask, 'control' | 'port'> | Omit<PullPageRequestTask, 'control' | 'port'>,
  transfer: ArrayBuffer[],
  body?: string,
): RecordStream {
  const channel = new MessageChannel();
  const control = new SharedArrayBuffer(CONTROL_WORDS * 4);
  running.postMessage({ ...task, control, port: channel.port2 } satisfies PullPageTask, [channel.port2, ...transfer]);
  return new RecordStream(channel.port1, control, body);
}

function pageShape(ctx: ClientContext, cursor: PullCursor): PullPageShape {
  return { schema: ctx.schema, afterBundleSeq: cursor.after, tables: plainTables(ctx) };
}

/** The page's records applied bundle by bundle; `read: false` once the worker declines (or stalls). */
function applyRecords(
  ctx: ClientContext,
  running: Worker,
  stream: RecordStream,
  cursor: PullCursor,
  onBundle: (bundleSeq: number) => void,
): PipelinedPage {
  let applied = 0;
  const checkpoints = DeferredCheckpoints.start(ctx.db, running);
  try {
    if (!stream.next() || stream.tag() !== RECORD.page) return { read: false, applied };
    stream.word();
    const stable = stream.number();
    if (cursor.target !== 0 && stable !== cursor.target) return { read: false, applied };
    if (cursor.target === 0) cursor.target = stable;
    while (stream.next()) {
      if (stream.tag() !== RECORD.bundle) return { read: false, applied };
      let bundle: { bundleSeq: number; rows: number };
      try {
        bundle = applyBundle(ctx, stream);
      } catch {
        // anything, a decline as much as a failing statement: that bundle goes the usual way
        return { read: false, applied };
      }
      checkpoints?.committed(bundle.rows);
      applied++;
      ctx.counters.pullBundlesReadByWorker++;
      onBundle(bundle.bundleSeq);
    }
    return stream.pageRead() ? { read: true, hasMore: stream.hasMore(), bundles: applied } : { read: false, applied };
  } catch (err) {
    // a decline: the page goes the usual way; what `onBundle` throws is the pull's own error
    if (err instanceof Declined) return { read: false, applied };
    throw err;
  } finally {
    checkpoints?.end();
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
function applyBundle(ctx: ClientContext, stream: RecordStream): { bundleSeq: number; rows: number } {
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
        const row = stream.row(ctx);
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

/** What the worker posts for a page, read in order; the waits block (but `head`, `arriving`, `wholeText`). */
class RecordStream {
  private readonly control: Int32Array;
  private words: Int32Array<ArrayBuffer> = new Int32Array(0);
  private at = 0;
  private numbers: Float64Array<ArrayBuffer> = new Float64Array(0);
  private numberAt = 0;
  /** where the current batch's positions point: `text` from `offset` */
  private text = '';
  private offset = 0;
  private ended: PageEnd | undefined;
  /** the request failed, or the worker stalled; `error`: the transport's failure, as the worker described it */
  failed = false;
  error: string | undefined;
  /** posted and taken, not yet read */
  private readonly batches: PageBatch[] = [];
  /** the worker's posts and bytes received as last seen, and when (`giveUpIfStalled`) */
  private progress = 0;
  private progressAt = Date.now();

  constructor(
    private readonly port: MessagePort,
    control: SharedArrayBuffer,
    private readonly body: string | undefined,
  ) {
    this.control = new Int32Array(control);
  }

  /** The answer's head (or the whole answer, or its failure), waited for with the event loop free. */
  async head(signal?: AbortSignal): Promise<PageHead | PageAnswer | PageFailed> {
    for (;;) {
      const generation = Atomics.load(this.control, CONTROL.generation);
      const message = this.receive();
      if (message?.kind === 'head' || message?.kind === 'answer' || message?.kind === 'failed') return message;
      if (message !== undefined) return { kind: 'failed' };
      try {
        await this.waitAsync(generation, signal);
      } catch (err) {
        if (err instanceof Declined) return { kind: 'failed' };
        throw err;
      }
    }
  }

  /**
   * Returns (the event loop free until then) once the body has arrived or the rest of it would within
   * the time the apply of the whole body takes, at the rate it has been arriving.
   */
  async arriving(contentLength: number | undefined, signal?: AbortSignal): Promise<void> {
    // the rate from here on (what came with the head, e.g. a first chunk sent at once, says nothing of it)
    const since = performance.now();
    const before = Atomics.load(this.control, CONTROL.received);
    for (;;) {
      const generation = Atomics.load(this.control, CONTROL.generation);
      const received = Atomics.load(this.control, CONTROL.received);
      if (Atomics.load(this.control, CONTROL.arrived) !== 0) return;
      if (contentLength !== undefined) {
        if (received >= contentLength) return;
        const elapsed = performance.now() - since;
        const rate = (received - before) / Math.max(elapsed, 0.001);
        const applyMs = contentLength / APPLY_BYTES_PER_MS;
        if (
          elapsed >= MIN_RATE_MS &&
          received - before >= MIN_ARRIVED_BYTES &&
          (contentLength - received) / rate <= BLOCKED_APPLY_FACTOR * applyMs
        )
          return;
      }
      await this.waitAsync(generation, signal, 5);
    }
  }

  /** Waits for a record: true when there is one, false when the page ended before it. */
  next(): boolean {
    while (!this.advance()) {
      if (this.ended) return false;
      this.take(this.receive() ?? this.waitFor());
    }
    return true;
  }

  /** The body's bytes the worker has received so far. */
  received(): number {
    return Atomics.load(this.control, CONTROL.received);
  }

  /** Whether the next record has been posted already (no wait). */
  published(): boolean {
    for (;;) {
      if (this.advance()) return true;
      const message = this.ended ? undefined : this.receive();
      if (message === undefined) return false;
      this.take(message);
    }
  }

  /** Waits for the worker's verdict on the whole page: true when it vouches for it. */
  pageRead(): boolean {
    while (!this.ended) this.take(this.receive() ?? this.waitFor());
    return this.ended.status === STATUS.read;
  }

  hasMore(): boolean {
    return this.ended?.hasMore === true;
  }

  tag(): number {
    return this.words[this.at++]!;
  }

  word(): number {
    return this.words[this.at++]!;
  }

  number(): number {
    return this.numbers[this.numberAt++]!;
  }

  /** A row record (its tag not read yet), its texts sliced from the batch's text. */
  row(ctx: ClientContext): AuthoritativeRow {
    const words = this.words;
    const at = this.at;
    const op = OP_OF_TAG[words[at]!];
    if (op === undefined) throw new Declined();
    const table = ctx.tables[words[at + 1]!]!;
    const text = this.text;
    const offset = this.offset;
    const keyAt = offset + words[at + 2]!;
    const keyEnd = offset + words[at + 3]!;
    const localKey = text.slice(keyAt, keyEnd);
    const keyJson = text.slice(keyAt - keyJsonHead(table).length, keyEnd + 2);
    let values: SqlValue[] | undefined;
    if (op === 'DELETE') this.at = at + 4;
    else {
      const columns = table.columns.length;
      values = new Array<SqlValue>(columns);
      for (let i = 0, p = at + 4; i < columns; i++, p += 2) {
        const start = words[p]!;
        values[i] = start < 0 ? null : text.slice(offset + start, offset + words[p + 1]!);
      }
      this.at = at + 4 + 2 * columns;
    }
    return { ref: { table, localKey, keyJson }, op, rowVersion: this.number(), payload: undefined, values };
  }

  /** A requested page's whole text, asked of the worker (once this thread left the page); undefined: it failed. */
  async wholeText(signal?: AbortSignal): Promise<string | undefined> {
    this.port.postMessage('body');
    for (;;) {
      if (this.failed) return undefined;
      const generation = Atomics.load(this.control, CONTROL.generation);
      const message = this.receive();
      if (message === undefined) {
        try {
          await this.waitAsync(generation, signal);
        } catch (err) {
          if (err instanceof Declined) return undefined;
          throw err;
        }
      } else if (message.kind === 'failed') this.failed = true;
      else if (message.kind === 'body') return message.text;
    }
  }

  /** Tells the worker to stop reading (a page left early) and lets the port go. */
  close(): void {
    Atomics.store(this.control, CONTROL.abandoned, 1);
    this.port.close();
  }

  private receive(): PageMessage | undefined {
    return (receiveMessageOnPort(this.port)?.message as PageMessage | undefined) ?? undefined;
  }

  private take(message: PageMessage): void {
    switch (message.kind) {
      case 'batch':
        this.batches.push(message);
        return;
      case 'end':
        this.ended = message;
        return;
      case 'failed':
        this.failed = true;
        this.error = message.error;
        throw new Declined();
      default:
        throw new Declined();
    }
  }

  /** The next batch read from once this one is (false: no record left among those posted). */
  private advance(): boolean {
    while (this.at >= this.words.length) {
      const batch = this.batches.shift();
      if (batch === undefined) return false;
      this.words = batch.words;
      this.numbers = batch.numbers;
      this.at = 0;
      this.numberAt = 0;
      this.text = batch.text ?? this.body!;
      this.offset = batch.text === undefined ? batch.at : 0;
    }
    return true;
  }

  /**
   * Blocks for the next message; a worker that posts nothing for `STALL_MS` is given up (`Declined`). Stricter
   * than `giveUpIfStalled`, which also counts bytes received: this wait holds the event loop, so bytes that
   * trickle in without making a batch do not keep it held (the page then goes the usual way, waited for freely).
   */
  private waitFor(): PageMessage {
    const control = this.control;
    const since = Date.now();
    for (;;) {
      const generation = Atomics.load(control, CONTROL.generation);
      const message = this.receive();
      if (message !== undefined) return message;
      Atomics.wait(control, CONTROL.generation, generation, 1000);
      if (Date.now() - since > STALL_MS) {
        this.failed = true;
        throw new Declined();
      }
    }
  }

  /** Waits with the event loop free for a post after `generation` (or `ms`); a stalled worker is given up. */
  private async waitAsync(generation: number, signal: AbortSignal | undefined, ms = 1000): Promise<void> {
    signal?.throwIfAborted();
    const waited = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.control, CONTROL.generation, generation, ms);
    if (waited.async) {
      // the wait holds no handle of its own: without this timer a process with nothing else to do would exit
      const alive = setTimeout(() => undefined, ms + 1000);
      try {
        await waited.value;
      } finally {
        clearTimeout(alive);
      }
    }
    signal?.throwIfAborted();
    this.giveUpIfStalled();
  }

  /**
   * A worker that has posted nothing and received no byte for `STALL_MS` is given up (`failed`, `Declined`): the
   * rule of the waits that leave the event loop free (a slow download is not a stalled one).
   */
  private giveUpIfStalled(): void {
    const progress = Atomics.load(this.control, CONTROL.generation) + Atomics.load(this.control, CONTROL.received);
    if (progress !== this.progress) {
      this.progress = progress;
      this.progressAt = Date.now();
    } else if (Date.now() - this.progressAt > STALL_MS) {
      this.failed = true;
      throw new Declined();
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
