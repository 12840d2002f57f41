/**
 * The bundle hashes of a large pull page, computed on a second thread while this one applies the
 * page (spec/client.md §8.4 unchanged: a bundle whose hash does not match is never committed; the
 * apply waits for its hash before COMMIT). The worker reads the page's body itself, so nothing but
 * the text and the hashes crosses the threads. Any failure of the worker (it cannot start, a body it
 * cannot read, no answer) leaves the hash to the applying thread: the worker only saves time.
 */
import {
  isMainThread,
  MessageChannel,
  type MessagePort,
  parentPort,
  receiveMessageOnPort,
  Worker,
  workerData,
} from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundleHashOf } from './bundle-hash.js';
import type { RowOp } from './sync-state.js';
import { decodePull, type WireBundle } from './wire-decode.js';
import { fastDecodePull } from './wire-rows-fast.js';

/** Below this body size a page is hashed on the applying thread (the round trip to the worker costs more). */
export const PULL_HASH_WORKER_MIN_CHARS = 1 << 20;
/** How long the applying thread waits for an answer before it hashes the page itself. */
const ANSWER_TIMEOUT_MS = 60_000;
const WORKER_ROLE = 'oversync-pull-hash';

/** `bundle_hash` of a pulled bundle's rows (lower-case hex). */
export function pulledBundleHash(bundle: WireBundle): string {
  return bundleHashOf(
    bundle.rows.map((row) => ({
      schema: row.schema,
      table: row.table,
      key: row.key as Record<string, string>,
      op: row.op as RowOp,
      rowVersion: Number(row.row_version),
      payload: row.payload,
    })),
  );
}

interface Answer {
  readonly hashes?: readonly string[];
}

/** The hashes of one page, as the worker computes them; `hashOf` blocks until they are there. */
export class PendingPageHashes {
  private answer: Answer | undefined;

  constructor(
    private readonly port: MessagePort,
    private readonly flag: Int32Array,
  ) {}

  /** The worker's hash of the page's `index`-th bundle, or undefined when it has none to give. */
  hashOf(index: number): string | undefined {
    if (this.answer === undefined) {
      // the apply is synchronous (one SQLite transaction): a blocking wait is the only way to meet it
      Atomics.wait(this.flag, 0, 0, ANSWER_TIMEOUT_MS);
      const message = receiveMessageOnPort(this.port) as { message: Answer } | undefined;
      this.answer = message?.message ?? {};
    }
    return this.answer.hashes?.[index];
  }
}

/** One worker per process, started on the first large page and never holding the process open. */
let shared: { worker: Worker; port: MessagePort } | null | undefined;

/** Sends `body` to the worker; undefined when there is no worker (the caller hashes itself). */
export function hashPageInWorker(body: string): PendingPageHashes | undefined {
  if (body.length < PULL_HASH_WORKER_MIN_CHARS) return undefined;
  if (shared === undefined) shared = startWorker();
  if (shared === null) return undefined;
  // one page at a time: a reply left over from an abandoned page is dropped first
  while (receiveMessageOnPort(shared.port) !== undefined);
  const flag = new Int32Array(new SharedArrayBuffer(4));
  shared.worker.postMessage({ body, flag });
  return new PendingPageHashes(shared.port, flag);
}

function startWorker(): { worker: Worker; port: MessagePort } | null {
  try {
    const { port1, port2 } = new MessageChannel();
    const self = fileURLToPath(import.meta.url);
    // the sources run under a TypeScript loader (tests): the worker loads this file through tsx
    const compiled = self.endsWith('.js');
    if (!existsSync(self)) return null;
    const worker = new Worker(self, {
      workerData: { role: WORKER_ROLE, port: port2 },
      transferList: [port2],
      execArgv: compiled ? [] : ['--import', 'tsx'],
    });
    worker.unref();
    port1.unref();
    worker.on('error', () => {
      shared = null;
    });
    worker.on('exit', () => {
      shared = null;
    });
    return { worker, port: port1 };
  } catch {
    return null;
  }
}

function serveHashes(port: MessagePort): void {
  const onPage = ({ body, flag }: { body: string; flag: Int32Array }) => {
    let answer: Answer;
    try {
      const page = fastDecodePull(body) ?? decodePull(body);
      answer = { hashes: page.bundles.map(pulledBundleHash) };
    } catch {
      answer = {};
    }
    port.postMessage(answer);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  };
  parentPort?.on('message', onPage);
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === WORKER_ROLE)
  serveHashes((workerData as { port: MessagePort }).port);
