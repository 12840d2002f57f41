/**
 * The worker thread of a pull (pull-page-pipeline.ts): reads each page it is sent with `PullPageReader`,
 * beside the thread that applies the rows: a page given whole, or one it requests itself and reads as it
 * arrives; and checkpoints the applying connection's WAL when asked. Says `ready` once loaded.
 */
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
import { PullPageReader } from './pull-page-reader.js';
import {
  CONTROL,
  type CheckpointTask,
  type PullPageTask,
  type PullStreamTask,
  TEXT,
  type TransportFailure,
} from './pull-page-records.js';
import { describeTransportFailure, isTransientTransportFailure } from './sync-transport.js';

/** How often a streamed page's request looks whether the applying thread dropped it. */
const CANCEL_POLL_MS = 20;

parentPort?.on('message', (task: PullPageTask | PullStreamTask | CheckpointTask) => {
  if ('checkpoint' in task) {
    checkpoint(task.checkpoint);
    Atomics.store(new Int32Array(task.pending), 0, 0);
  } else if ('url' in task) void streamPage(task);
  else new PullPageReader(task).read(task.body);
});
parentPort?.postMessage('ready');

/**
 * Requests a pull page and reads it as it arrives: a 200's status in `CONTROL.response` at once and its body
 * fed to the reader chunk by chunk; any other answer's body posted whole before its status; a failure (no
 * answer, a body cut) posted as a `TransportFailure`, as the applying thread's transport would word it. The
 * request ends at the transport's timeout or when the applying thread cancels it.
 */
async function streamPage(task: PullStreamTask): Promise<void> {
  const control = new Int32Array(task.control);
  const reader = new PullPageReader(task, task.pieces);
  const abort = new AbortController();
  const watch = setInterval(() => {
    if (Atomics.load(control, CONTROL.cancelled) !== 0) abort.abort();
  }, CANCEL_POLL_MS);
  const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(task.timeoutMs)]);
  let answered = false;
  try {
    const response = await fetch(task.url, { method: 'GET', headers: task.headers, signal });
    if (response.status !== 200) {
      task.pieces.postMessage(await response.text());
      return setWord(control, CONTROL.response, response.status);
    }
    answered = true;
    setWord(control, CONTROL.response, 200);
    const decoder = new TextDecoder();
    for await (const chunk of response.body ?? [])
      reader.feed(decoder.decode(chunk as Uint8Array, { stream: true }), false);
    reader.feed(decoder.decode(), true);
  } catch (err) {
    if (answered) reader.fail();
    task.pieces.postMessage({
      failure: describeTransportFailure(err),
      transient: isTransientTransportFailure(err),
    } satisfies TransportFailure);
    if (answered) setWord(control, CONTROL.text, TEXT.failed);
    else setWord(control, CONTROL.response, -1);
  } finally {
    // the port stays open: the applying thread may still be taking the pieces posted on it, and closes it
    clearInterval(watch);
  }
}

function setWord(control: Int32Array, word: number, value: number): void {
  Atomics.store(control, word, value);
  Atomics.add(control, CONTROL.generation, 1);
  Atomics.notify(control, CONTROL.generation);
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
