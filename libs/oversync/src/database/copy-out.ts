import { to as copyTo } from 'pg-copy-streams';
import type { SyncClient } from './sync-database.js';

/** Receives the tuples of a binary COPY in order; `flush` runs after each block of input and may apply backpressure. */
export interface CopyOutHandler {
  /** fields as views into the received bytes (null for SQL NULL); valid only during the call */
  tuple(fields: ReadonlyArray<Buffer | null>): void;
  flush(): Promise<void>;
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * Runs `COPY (<select>) TO STDOUT (FORMAT binary)` and parses the tuples as PostgreSQL sends them:
 * bytes flow from the socket to the handler without becoming JS strings, and the connection is read
 * only as fast as the handler's `flush` lets it (pg-copy-streams pauses the socket). The select must
 * be self-contained (COPY takes no parameters): callers inline only numbers and `quoteLiteral` text (sql-quote.ts).
 * If the handler fails mid-stream the connection is destroyed (its COPY cannot be abandoned cleanly),
 * so the pool discards it. Returns the number of tuples.
 */
export async function copyOutBinary(client: SyncClient, select: string, handler: CopyOutHandler): Promise<number> {
  const stream = client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT binary)`));
  let pending: Buffer | null = null;
  let headerDone = false;
  let tuples = 0;
  const fields: Array<Buffer | null> = [];
  try {
    for await (const received of stream as AsyncIterable<Buffer>) {
      let buf: Buffer = pending ? Buffer.concat([pending, received]) : received;
      let at = 0;
      if (!headerDone) {
        if (buf.length >= 11 && !buf.subarray(0, 11).equals(SIGNATURE))
          throw new Error('COPY binary signature missing');
        if (buf.length < 19 || buf.length < 19 + buf.readInt32BE(15)) {
          pending = buf;
          continue;
        }
        at = 19 + buf.readInt32BE(15);
        headerDone = true;
      }
      for (;;) {
        if (buf.length - at < 2) break;
        const count = buf.readInt16BE(at);
        if (count === -1) {
          at = buf.length;
          break;
        }
        let p = at + 2;
        let complete = true;
        fields.length = 0;
        for (let f = 0; f < count; f++) {
          if (buf.length - p < 4) {
            complete = false;
            break;
          }
          const length = buf.readInt32BE(p);
          p += 4;
          if (length === -1) {
            fields.push(null);
            continue;
          }
          if (buf.length - p < length) {
            complete = false;
            break;
          }
          fields.push(buf.subarray(p, p + length));
          p += length;
        }
        if (!complete) break;
        handler.tuple(fields);
        tuples++;
        at = p;
      }
      pending = at < buf.length ? buf.subarray(at) : null;
      buf = Buffer.alloc(0);
      await handler.flush();
    }
  } catch (error) {
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    throw error;
  }
  return tuples;
}
