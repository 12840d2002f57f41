import type { Response } from 'express';
import { EncodedJson, encodeGoJson, type GoJsonValue } from '@oversync/protocol';
import { sendWire } from './wire-reply.js';

/** Writes bytes of a streamed body; resolves when the socket can take more (backpressure). */
export type WireWrite = (chunk: Buffer) => Promise<void>;

/**
 * A member value written by a producer while the answer is sent (e.g. a bundle's rows read from
 * PostgreSQL), instead of being held whole in memory. Encodes as a sentinel that `sendStreamedWire`
 * replaces: encoded Go JSON never holds a raw NUL, so the sentinel cannot collide with data.
 */
export class StreamedJson extends EncodedJson {
  private static next = 0;

  constructor(readonly produce: (write: WireWrite) => Promise<void>) {
    super(`\u0000${StreamedJson.next++}\u0000`);
  }
}

/** Where a service writes its answer while it still holds its transaction (the only writer of bodies that stream). */
export interface WireReply {
  send(status: number, body: GoJsonValue): Promise<void>;
}

/**
 * The answer is the bytes `encodeGoJson(body) + "\n"` would be, with each `StreamedJson` replaced by
 * what its producer writes. Without one it is `sendWire` (Content-Length); with one the body goes
 * out chunked as it is produced. A failure after the first byte cannot become an error answer any
 * more: the connection is destroyed so the client sees a broken response, never a short valid one.
 */
export function expressWireReply(res: Response): WireReply {
  return {
    async send(status, body) {
      const text = encodeGoJson(body);
      if (!text.includes('\u0000')) {
        sendWire(res, status, body);
        return;
      }
      const streams = new Map<string, StreamedJson>();
      collectStreams(body, streams);
      const parts = text.split('\u0000');
      res.status(status);
      res.setHeader('Content-Type', 'application/json');
      const write: WireWrite = (chunk) => writeWithBackpressure(res, chunk);
      try {
        // parts alternate: encoded text, sentinel id, encoded text, …
        for (let i = 0; i < parts.length; i++) {
          if (i % 2 === 0) {
            const piece = i === parts.length - 1 ? `${parts[i]}\n` : parts[i]!;
            if (piece) await write(Buffer.from(piece, 'utf8'));
          } else {
            const stream = streams.get(`\u0000${parts[i]}\u0000`);
            if (!stream) throw new Error(`streamed member ${parts[i]} has no producer`);
            await stream.produce(write);
          }
        }
        await new Promise<void>((resolve) => res.end(resolve));
      } catch (error) {
        res.destroy();
        throw new StreamedAnswerBrokenError(error);
      }
    },
  };
}

/** A streamed answer failed after its status was sent; not retried (it would write twice). */
export class StreamedAnswerBrokenError extends Error {
  constructor(readonly reason: unknown) {
    super(`streamed answer aborted: ${reason instanceof Error ? reason.message.replace(/connection|ECONN\w+|EPIPE/gi, '-') : String(reason)}`);
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

function writeWithBackpressure(res: Response, chunk: Buffer): Promise<void> {
  if (res.destroyed) return Promise.reject(new Error('client went away'));
  if (res.write(chunk)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('client went away'));
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/** Collects small texts and row bytes of a streamed body and writes them in blocks of about 64 KiB. */
export class WireBuffer {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly write: WireWrite) {}

  text(text: string): void {
    this.bytes(Buffer.from(text, 'utf8'));
  }

  bytes(bytes: Buffer): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  /** Writes what was collected (copied, so the views into received buffers can be released). */
  async flush(): Promise<void> {
    if (this.size === 0) return;
    const block = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    await this.write(block);
  }
}
