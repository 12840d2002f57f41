import { PassThrough, type Writable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { EncodedJson, encodeGoJson, type GoJsonValue } from '@oversync/protocol';
import { StreamedWireBody } from './wire-reply.js';

/** Writes bytes of a streamed body; resolves when the socket can take more (backpressure). */
export type WireWrite = (chunk: Buffer) => Promise<void>;

/**
 * A member value written by a producer while the answer is sent (e.g. a bundle's rows read from
 * PostgreSQL), instead of being held whole in memory. Encodes as a sentinel that `ReturnedWireReply`
 * replaces: encoded Go JSON never holds a raw NUL, so the sentinel cannot collide with data.
 */
export class StreamedJson extends EncodedJson {
  private static next = 0;

  /** `length`: the bytes `produce` will write, when known before it runs (the answer then has a Content-Length) */
  constructor(
    readonly produce: (write: WireWrite) => Promise<void>,
    readonly length?: number,
  ) {
    super(`\u0000${StreamedJson.next++}\u0000`);
  }
}

/** Where a service writes its answer while it still holds its transaction (the only writer of bodies that stream). */
export interface WireReply<Body extends GoJsonValue = GoJsonValue> {
  send(status: number, body: Body): Promise<void>;
}

/** What a route returns for a `Body` answered on a `ReturnedWireReply`: its encoded text, or the stream of it. */
export type WireAnswer<Body extends GoJsonValue> = (EncodedJson | StreamedWireBody) & { readonly answers?: Body };

/**
 * The WireReply a route hands to a service that answers inside its transaction (pull); `answer(done)`
 * is what the route returns. The answer is the bytes `encodeGoJson(body) + "\n"` would be, with each
 * `StreamedJson` replaced by what its producer writes: without one it is the whole encoded body; with
 * one it is a stream the platform sends as it is produced, the service's `send` resolving once the
 * producers are through. A failure after that cannot become an error answer any more: the stream
 * fails, and the platform cuts the connection so the client sees a broken response, never a short valid one.
 */
export class ReturnedWireReply<Body extends GoJsonValue = GoJsonValue> implements WireReply<Body> {
  private settle?: { resolve: (answer: WireAnswer<Body>) => void; reject: (error: unknown) => void };
  private sent = false;
  private readonly logger = new Logger('Oversync');

  /** What the route returns: the answer once the service sends it, or the service's error before that. */
  answer(done: Promise<void>): Promise<WireAnswer<Body>> {
    return new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
      done.then(
        () => this.sent || reject(new Error('the service finished without an answer')),
        (error: unknown) => {
          if (!this.sent) reject(error);
          else if (!(error instanceof StreamedAnswerBrokenError))
            this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
          else this.logger.warn(error.message);
        },
      );
    });
  }

  async send(status: number, body: Body): Promise<void> {
    if (status !== 200 || !this.settle || this.sent) throw new Error('a returned wire reply sends one 200 answer');
    this.sent = true;
    const text = encodeGoJson(body);
    if (!text.includes('\u0000')) {
      this.settle.resolve(new EncodedJson(text));
      return;
    }
    const streams = new Map<string, StreamedJson>();
    collectStreams(body, streams);
    // parts alternate: encoded text, sentinel id, encoded text, …
    const parts = text.split('\u0000');
    const producers = parts.map((part, i) => (i % 2 === 0 ? null : streams.get(`\u0000${part}\u0000`)));
    if (producers.some((producer, i) => i % 2 === 1 && !producer)) {
      const error = new Error('a streamed member has no producer');
      this.settle.reject(error);
      throw error;
    }
    // every producer's length known: the whole length, so the answer goes out with a Content-Length
    let length: number | undefined = 1;
    for (let i = 0; i < parts.length; i++) {
      const add = i % 2 === 0 ? Buffer.byteLength(parts[i]!) : producers[i]!.length;
      length = add === undefined || length === undefined ? undefined : length + add;
    }
    const out = new PassThrough({ highWaterMark: 64 * 1024 });
    this.settle.resolve(new StreamedWireBody(out, { length }));
    let written = 0;
    const write: WireWrite = (chunk) => {
      written += chunk.length;
      return writeWithBackpressure(out, chunk);
    };
    try {
      for (let i = 0; i < parts.length; i++) {
        if (i % 2 === 0) {
          const piece = i === parts.length - 1 ? `${parts[i]}\n` : parts[i]!;
          if (piece) await write(Buffer.from(piece, 'utf8'));
        } else {
          const producer = producers[i]!;
          const before = written;
          await producer.produce(write);
          // a producer that wrote other than it announced: cut the answer rather than send a wrong one
          if (producer.length !== undefined && written - before !== producer.length)
            throw new Error(`streamed member wrote ${written - before} bytes of ${producer.length}`);
        }
      }
      out.end();
    } catch (error) {
      out.destroy(error instanceof Error ? error : new Error(String(error)));
      throw new StreamedAnswerBrokenError(error);
    }
  }
}

/** A streamed answer failed after its status was sent; not retried (it would write twice). */
export class StreamedAnswerBrokenError extends Error {
  constructor(readonly reason: unknown) {
    super(
      `streamed answer aborted: ` +
        `${reason instanceof Error ? reason.message.replace(/connection|ECONN\w+|EPIPE/gi, '-') : String(reason)}`,
    );
    this.name = 'StreamedAnswerBrokenError';
  }
}

function collectStreams(value: GoJsonValue | undefined, into: Map<string, StreamedJson>): void {
  if (value === null || value === undefined || typeof value !== 'object') return;
  if (value instanceof StreamedJson) {
    into.set(value.text, value);
    return;
  }
  if (value instanceof EncodedJson) return;
  if (Array.isArray(value)) {
    for (const item of value as readonly GoJsonValue[]) collectStreams(item, into);
    return;
  }
  if (value instanceof Map) {
    for (const item of value.values()) collectStreams(item as GoJsonValue, into);
    return;
  }
  for (const item of Object.values(value)) collectStreams(item as GoJsonValue | undefined, into);
}

/** Resolves when the stream can take more; rejects once the platform has destroyed it (the client went away). */
function writeWithBackpressure(out: Writable, chunk: Buffer): Promise<void> {
  if (out.destroyed) return Promise.reject(new Error('client went away'));
  if (out.write(chunk)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('client went away'));
    out.once('drain', onDrain);
    out.once('close', onClose);
  });
}

/** Parts at most this long are copied together into one write; longer ones are written as they are. */
const SMALL_PART = 4096;

/**
 * Collects the texts and row bytes of a streamed body until `flush` writes them: row bytes (views
 * into what PostgreSQL sent) go out as they are, runs of small parts (frames, commas) as one block.
 */
export class WireBuffer {
  private parts: Buffer[] = [];

  constructor(private readonly write: WireWrite) {}

  text(text: string): void {
    this.parts.push(Buffer.from(text, 'utf8'));
  }

  bytes(bytes: Buffer): void {
    this.parts.push(bytes);
  }

  /** Writes what was collected, in order; resolves when the stream can take more. */
  async flush(): Promise<void> {
    const parts = this.parts;
    if (parts.length === 0) return;
    this.parts = [];
    let run: Buffer[] = [];
    let runSize = 0;
    for (const part of parts) {
      if (part.length > SMALL_PART) {
        if (runSize > 0) await this.write(run.length === 1 ? run[0]! : Buffer.concat(run, runSize));
        run = [];
        runSize = 0;
        await this.write(part);
      } else {
        run.push(part);
        runSize += part.length;
      }
    }
    if (runSize > 0) await this.write(run.length === 1 ? run[0]! : Buffer.concat(run, runSize));
  }
}
