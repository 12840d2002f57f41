/**
 * What the pull page reader thread (pull-page-worker.ts) and the applying thread tell each other. The
 * reader posts its records in batches on a `MessagePort` (int32 words: positions in the batch's text; doubles:
 * sequences and row versions) and bumps a control word after each post, so the applying thread, blocked in
 * a bundle's transaction, waits on that word and takes the batches with `receiveMessageOnPort`.
 */
import type { MessagePort } from 'node:worker_threads';

/** The control words (an Int32Array over `control`). */
export const CONTROL = {
  /** bumped after every message posted: what the applying thread waits on */
  generation: 0,
  /** set by the applying thread: the reader stops (and a request it makes is aborted) */
  abandoned: 1,
  /** bytes of the answer's body received so far (a request the reader makes) */
  received: 2,
  /** 1 once the body has arrived whole, or the request failed */
  arrived: 3,
} as const;
export const CONTROL_WORDS = 4;

export const STATUS = {
  /** the whole page read, in layout, valid (§8.3) for the `after` given: every record was posted */
  read: 1,
  /** not vouched for (off the layout, invalid, a value that is not plain): the caller reads the page itself */
  declined: 2,
} as const;

/**
 * Record tags. `page`: [tag, 0] + stable_bundle_seq; `bundle`: [tag, row_count] + bundle_seq; a row:
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

/** What the reader checks a page against. */
export interface PullPageShape {
  readonly schema: string;
  readonly afterBundleSeq: number;
  readonly tables: readonly PlainTable[];
}

interface PageTaskBase extends PullPageShape {
  readonly control: SharedArrayBuffer;
  readonly port: MessagePort;
}

/**
 * A page the applying thread holds as text: the answer's UTF-8 bytes (transferred, not copied) that the
 * reader decodes as the transport did; `length` is the applying thread's text's (a text of another length
 * is declined). Batches then carry no text: their positions are in that text, from their `at`.
 */
export interface PullPageBytesTask extends PageTaskBase {
  readonly bytes: ArrayBuffer;
  readonly length: number;
}

/**
 * A page the reader requests itself (`GET` with these headers) and reads as it arrives; its batches carry
 * their text. Answers other than 200 come back whole (`PageAnswer`).
 */
export interface PullPageRequestTask extends PageTaskBase {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

export type PullPageTask = PullPageBytesTask | PullPageRequestTask;

/** The records of the rows read since the last batch; `text`: the body from `at` to the last record's end. */
export interface PageBatch {
  readonly kind: 'batch';
  readonly at: number;
  readonly text?: string;
  readonly words: Int32Array<ArrayBuffer>;
  readonly numbers: Float64Array<ArrayBuffer>;
}

/** The reader's verdict, after its last batch. */
export interface PageEnd {
  readonly kind: 'end';
  readonly status: (typeof STATUS)[keyof typeof STATUS];
  readonly hasMore: boolean;
}

/** A requested page's whole text, sent when the applying thread asks for it (posting `'body'`). */
export interface PageBody {
  readonly kind: 'body';
  readonly text: string;
}

/** A request's answer: `head` for a 200 (its Content-Length when sent), or the whole answer otherwise. */
export interface PageHead {
  readonly kind: 'head';
  readonly contentLength?: number;
}
export interface PageAnswer {
  readonly kind: 'answer';
  readonly status: number;
  readonly body: string;
}

/**
 * The request failed, or its answer is the usual way's to take (a redirect, an encoded body): nothing more
 * comes. `error`: the transport's failure (no answer, or its body cut short), an attempt of the retries.
 */
export interface PageFailed {
  readonly kind: 'failed';
  readonly error?: string;
}

export type PageMessage = PageBatch | PageEnd | PageBody | PageHead | PageAnswer | PageFailed;

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
