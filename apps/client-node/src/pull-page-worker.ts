/**
 * The worker thread of a pull (pull-page-pipeline.ts): reads each page it is sent with `PullPageReader`,
 * beside the thread that applies the rows, and checkpoints the applying connection's WAL when asked.
 * Says `ready` once loaded.
 */
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
import { PullPageReader } from './pull-page-reader.js';
import type { CheckpointTask, PullPageMessage, PullPageTask } from './pull-page-records.js';

/** `Response.text()`'s decoding, as the transport's (sync-transport.ts): the same text, the same positions. */
const UTF8 = new TextDecoder();

parentPort?.on('message', (task: PullPageMessage | CheckpointTask) => {
  if ('checkpoint' in task) {
    checkpoint(task.checkpoint);
    Atomics.store(new Int32Array(task.pending), 0, 0);
  } else new PullPageReader('bytes' in task ? withText(task) : task).read();
});
parentPort?.postMessage('ready');

/** The task with its bytes decoded; a text not of the applying thread's length reads as '' (declined). */
function withText({ bytes, length, ...task }: Extract<PullPageMessage, { bytes: ArrayBuffer }>): PullPageTask {
  const body = UTF8.decode(bytes);
  return { ...task, body: body.length === length ? body : '' };
}

/**
 * A PASSIVE checkpoint from a short-lived connection (better-sqlite3 loaded on first use). Any failure
 * (a file this build cannot open, a lock) leaves the WAL to the applying connection's own auto-checkpoint.
 */
function checkpoint(file: string): void {
  try {
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(file, { fileMustExist: true, timeout: 0 });
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } finally {
      db.close();
    }
  } catch {
    // nothing to undo: a checkpoint only copies committed pages
  }
}
