/**
 * What the pull page reader thread (pull-page-worker.ts) hands the applying thread, in shared memory:
 * a stream of int32 records (positions in the page's body, no strings) and one of doubles (sequences
 * and row versions), published as whole records; the control words say how far and how it ended.
 */

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
  /** set by the applying thread: the reader stops at its next publication */
  abandoned: 4,
} as const;
export const CONTROL_WORDS = 5;

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
 * value's start and end (-1, -1 for null) unless DELETE] + row_version; `bundleEnd`: [tag, hash matches 1/0].
 */
export const RECORD = { page: 1, bundle: 2, insert: 3, update: 4, delete: 5, bundleEnd: 6 } as const;

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

export interface PullPageTask {
  readonly body: string;
  readonly schema: string;
  readonly afterBundleSeq: number;
  readonly tables: readonly PlainTable[];
  readonly control: SharedArrayBuffer;
  readonly records: SharedArrayBuffer;
  readonly numbers: SharedArrayBuffer;
}

/**
 * A task as posted: the body as text, or as the answer's UTF-8 bytes (transferred, not copied) that the
 * reader thread decodes as the transport did; `length` is the applying thread's text's, the positions'
 * reference (a text of another length is not read: the page is declined).
 */
export type PullPageMessage =
  PullPageTask | (Omit<PullPageTask, 'body'> & { readonly bytes: ArrayBuffer; readonly length: number });

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
