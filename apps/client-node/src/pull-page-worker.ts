/**
 * The worker thread of a pull (pull-page-pipeline.ts): reads each page it is given with `PullPageReader`,
 * beside the thread that applies the rows — a page that thread holds (its bytes), or one it requests
 * itself and reads as it arrives, so the rows apply while the rest is still on the way — and checkpoints
 * the applying connection's WAL when asked. Says `ready` once loaded.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import { parentPort, type MessagePort } from 'node:worker_threads';
import { plainBytes, PullPageReader } from './pull-page-reader.js';
import {
  CONTROL,
  type CheckpointTask,
  type PageMessage,
  type PullPageBytesTask,
  type PullPageRequestTask,
  type PullPageTask,
  STATUS,
} from './pull-page-records.js';

/** Keep-alive connections of this thread's requests (its lifetime: the pull worker's). */
const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

/** A GET with Node's own HTTP client (lighter than `fetch` for a body read as it arrives): its answer's head. */
function get(url: string, headers: Readonly<Record<string, string>>, signal: AbortSignal): Promise<IncomingMessage> {
  const secure = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).get(url, { headers, signal, agent: secure ? agents.https : agents.http });
    request.once('response', resolve);
    request.once('error', reject);
  });
}

/** An error's message and code, e.g. `connect ECONNREFUSED 127.0.0.1:9 (ECONNREFUSED)`. */
function describe(err: unknown): string {
  const { message, code } = err as { message?: unknown; code?: unknown };
  const text = typeof message === 'string' && message ? message : String(err);
  return typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text;
}

/** The applying thread left the page: stop reading it. */
class Abandoned extends Error {}

parentPort?.on('message', (task: PullPageTask | CheckpointTask) => {
  if ('checkpoint' in task) {
    checkpoint(task.checkpoint);
    Atomics.store(new Int32Array(task.pending), 0, 0);
  } else if ('bytes' in task) readBytes(task);
  else void readRequest(task);
});
parentPort?.postMessage('ready');

/** Posts to the applying thread and wakes it; throws `Abandoned` once it has left the page. */
function poster(port: MessagePort, control: Int32Array): (message: PageMessage) => void {
  return (message) => {
    if (Atomics.load(control, CONTROL.abandoned) !== 0) throw new Abandoned();
    const transfer = message.kind === 'batch' ? [message.words.buffer, message.numbers.buffer] : [];
    port.postMessage(message, transfer as ArrayBuffer[]);
    Atomics.add(control, CONTROL.generation, 1);
    Atomics.notify(control, CONTROL.generation);
  };
}

/** A page the applying thread holds: decoded as `Response.text()` does; a text not of its length is declined. */
function readBytes(task: PullPageBytesTask): void {
  const control = new Int32Array(task.control);
  const post = poster(task.port, control);
  try {
    const body = new TextDecoder().decode(task.bytes);
    if (body.length !== task.length) post({ kind: 'end', status: STATUS.declined, hasMore: false });
    else new PullPageReader(task, post, false).feed(body, true, plainBytes(new Uint8Array(task.bytes)));
  } catch (err) {
    if (!(err instanceof Abandoned)) throw err;
  } finally {
    task.port.close();
  }
}

/**
 * A page requested here and read as its bytes arrive (decoded as `Response.text()` does: the same text).
 * Its bytes are kept until the applying thread lets the page go: one that leaves it before the end (a
 * decline, a hash that does not match) asks for the whole text (`'body'`) to read it the usual way.
 */
async function readRequest(task: PullPageRequestTask): Promise<void> {
  const control = new Int32Array(task.control);
  const post = poster(task.port, control);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), task.timeoutMs);
  const chunks: Uint8Array[] = [];
  let ended: 'complete' | 'failed' | undefined;
  let wanted = false;
  const sendBody = () => {
    wanted = false;
    post(
      ended === 'failed' ? { kind: 'failed' } : { kind: 'body', text: new TextDecoder().decode(Buffer.concat(chunks)) },
    );
  };
  task.port.on('message', (message: unknown) => {
    if (message !== 'body') return;
    if (ended) sendBody();
    else wanted = true;
  });
  // the applying thread is done with the page: its bytes go, and a request still under way ends
  task.port.once('close', () => {
    chunks.length = 0;
    if (!ended) abort.abort();
  });
  /** `err`: the transport's failure (else the answer is the usual way's to take) */
  const fail = (err?: unknown) => {
    ended = 'failed';
    Atomics.store(control, CONTROL.arrived, 1);
    post({ kind: 'failed', error: err === undefined ? undefined : describe(err) });
  };
  try {
    let response: IncomingMessage;
    try {
      response = await get(task.url, task.headers, abort.signal);
      // a redirect, or a body encoded anyway (none was asked for), is the usual way's: `fetch` follows and decodes
      const status = response.statusCode ?? 0;
      const encoding = response.headers['content-encoding'];
      if ((status >= 300 && status < 400) || (encoding !== undefined && encoding !== 'identity')) {
        response.resume();
        return fail();
      }
      if (response.statusCode !== 200) {
        const parts: Buffer[] = [];
        for await (const chunk of response) parts.push(chunk as Buffer);
        post({
          kind: 'answer',
          status: response.statusCode ?? 0,
          body: new TextDecoder().decode(Buffer.concat(parts)),
        });
        return;
      }
    } catch (err) {
      if (err instanceof Abandoned) throw err;
      return fail(err);
    }
    const length = Number(response.headers['content-length'] ?? NaN);
    post({ kind: 'head', contentLength: Number.isSafeInteger(length) ? length : undefined });
    const reader = new PullPageReader(task, post, true);
    const decoder = new TextDecoder();
    try {
      let received = 0;
      for await (const chunk of response) {
        if (Atomics.load(control, CONTROL.abandoned) !== 0) throw new Abandoned();
        const bytes = chunk as Buffer;
        chunks.push(bytes);
        received += bytes.byteLength;
        Atomics.store(control, CONTROL.received, Math.min(received, 0x7fffffff));
        // once declined, the bytes are only kept
        if (reader.status === undefined) reader.feed(decoder.decode(bytes, { stream: true }), false, plainBytes(bytes));
      }
      // a body shorter than its Content-Length ends the iteration with an error ('aborted')
      ended = 'complete';
      Atomics.store(control, CONTROL.arrived, 1);
      reader.feed(decoder.decode(), true, true);
    } catch (err) {
      if (err instanceof Abandoned) throw err;
      fail(err);
    }
    if (wanted) sendBody();
  } catch (err) {
    if (!(err instanceof Abandoned)) throw err;
    abort.abort();
    task.port.close();
  } finally {
    clearTimeout(timer);
  }
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
