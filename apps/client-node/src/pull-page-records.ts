/**
 * What the pull page reader thread (pull-page-worker.ts) hands the applying thread, in shared memory:
 * a stream of int32 records (positions in the page's body, no strings) and one of doubles (sequences
 * and row versions), published as whole records; the control words say how far and how it ended.
 */

import type { MessagePort } from 'node:worker_threads';

/** The control words (an Int32Array over `control`). */
export const CONTROL = {
  /** bumped at every publication: what the applying thread waits on */
  generation: 0,
  /** int32 words of records published */
  published: 1,
  /** `STATUS` */
  status: 2,
  /** the page's `has_more` (1/0), once `STATUS.read` */
  hasMore: 3,
  /** set by the applying thread: the reader stops at its next publication (a streamed page's text still comes) */
  abandoned: 4,
  /**
   * a streamed page: 0 until known; a 200's status as soon as its head arrived; any other status once its
   * body is posted (as one piece); -1 when the request failed (its `TransportFailure` posted)
   */
  response: 5,
  /** a streamed page: `TEXT` */
  text: 6,
  /** set by the applying thread: the worker drops a streamed page's request (nothing more is wanted of it) */
  cancelled: 7,
} as const;
export const CONTROL_WORDS = 8;

/** Why a streamed page's request failed, as the applying thread reports it (`TransportError`). */
export interface TransportFailure {
  readonly failure: string;
  readonly transient: boolean;
}

/** How a streamed page's text stands (`CONTROL.text`). */
export const TEXT = {
  arriving: 0,
  /** every piece of the body is posted, in order: together they are the body */
  posted: 1,
  /** the body's read failed (a transport error, a timeout, the request dropped): its `TransportFailure` posted last */
  failed: 2,
} as const;

export const STATUS = {
  reading: 0,
  /** the whole page read, in layout, valid (§8.3) for the `after` given: every record is final */
  read: 1,
  /** not vouched for (off the layout, invalid, a value that is not plain): the caller reads the page itself */
  declined: 2,
} as const;

/**
 * Record tags. `page`: [tag] + stable_bundle_seq; `bundle`: [tag, row_count] + bundle_seq; a row:
 * [op tag, table index, key value start, key value end, then per table column in table order its string
 * value's start and end (-1, -1 for null) unless DELETE] + row_version; `bundleEnd`: [tag, hash matches 1/0];
 * `piece` (a streamed page only): [tag, 0], the records after it up to the next one have their positions in
 * the next text piece on the page's port (a page given whole has none: positions are in its body).
 */
export const RECORD = { page: 1, bundle: 2, insert: 3, update: 4, delete: 5, bundleEnd: 6, piece: 7 } as const;

/** A managed table as the reader thread checks its rows (tables with BLOB columns are not sent). */
export interface PlainTable {
  /** the wire `table` (the managed table's lower-cased name) */
  readonly name: string;
  /** index into the client's managed tables */
  readonly index: number;
  readonly keyColumn: string;
  /** payload member names in table column order */
  readonly columns: readonly string[];
}

/** What the reader needs of any page: the §8.3 context and where to publish. */
export interface PageReading {
  readonly schema: string;
  readonly afterBundleSeq: number;
  readonly tables: readonly PlainTable[];
  readonly control: SharedArrayBuffer;
  readonly records: SharedArrayBuffer;
  readonly numbers: SharedArrayBuffer;
}

/** A page this thread already holds, read whole. */
export interface PullPageTask extends PageReading {
  readonly body: string;
}

/**
 * A page the worker requests itself and reads as it arrives (`records` and `numbers` growable): the
 * body's text goes to the applying thread in row-aligned pieces on `pieces`.
 */
export interface PullStreamTask extends PageReading {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly pieces: MessagePort;
}

/**
 * A checkpoint of the applying connection's WAL, run by the reader thread from a connection of its own
 * (`PRAGMA wal_checkpoint(PASSIVE)`: it never waits for, nor blocks, the applying thread's writes).
 */
export interface CheckpointTask {
  /** the database file, as an absolute path */
  readonly checkpoint: string;
  /** an Int32 set to 1 by the applying thread when it asks, back to 0 once the checkpoint ran (or failed) */
  readonly pending: SharedArrayBuffer;
}

/**
 * Room for any page the reader accepts: a row's record takes 4 + 2 × columns words for at least
 * 80 + 6 × columns characters of body (under a word per 3 characters), a bundle's 2 words for more
 * than 90; a number per row or bundle (more than 60 characters each). Untouched pages cost no memory.
 */
export function recordCapacity(bodyLength: number): { words: number; numbers: number } {
  return { words: Math.ceil(bodyLength / 3) + 16, numbers: Math.ceil(bodyLength / 60) + 16 };
}

/** A growable SharedArrayBuffer (ES2024; Node 20 has it), as a streamed page's records need. */
interface GrowableSharedArrayBuffer extends SharedArrayBuffer {
  readonly growable: boolean;
  readonly maxByteLength: number;
  grow(byteLength: number): void;
}

/**
 * Room for a streamed page's records, grown by the reader as they come (address space reserved, not memory).
 * Read and written through fixed-length views (`int32View`, `float64View`), made again after a growth: a
 * view that tracks the buffer's length is many times slower to index on Node 20.
 */
export function growableBuffer(byteLength: number, maxByteLength: number): SharedArrayBuffer {
  const Growable = SharedArrayBuffer as unknown as new (
    length: number,
    options: { maxByteLength: number },
  ) => GrowableSharedArrayBuffer;
  return new Growable(byteLength, { maxByteLength });
}

export function int32View(buffer: SharedArrayBuffer): Int32Array {
  return new Int32Array(buffer, 0, buffer.byteLength >> 2);
}

export function float64View(buffer: SharedArrayBuffer): Float64Array {
  return new Float64Array(buffer, 0, buffer.byteLength >> 3);
}

/** Grows `buffer` to at least `byteLength` (doubling); false when it is not growable or at its limit. */
export function growBuffer(buffer: SharedArrayBuffer, byteLength: number): boolean {
  const growable = buffer as GrowableSharedArrayBuffer;
  if (!growable.growable || byteLength > growable.maxByteLength) return false;
  growable.grow(Math.min(growable.maxByteLength, Math.max(byteLength, 2 * buffer.byteLength)));
  return true;
}
