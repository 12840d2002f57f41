import { to as copyTo } from 'pg-copy-streams';
import type { SyncClient } from './sync-database.js';

/**
 * Receives the tuples of a binary COPY in order. A tuple's last field can be large (a block of
 * stored wire rows spans many socket reads): it arrives as pieces, never assembled.
 */
export interface CopyOutHandler {
  /**
   * A tuple starts: its fields but the last, whole (null for SQL NULL; views valid only during the
   * call), and the byte length of the last field (-1 for NULL), whose bytes the next `piece` calls carry.
   */
  tuple(lead: ReadonlyArray<Buffer | null>, lastLength: number): void;
  /** The next bytes of the current tuple's last field: a view into the received bytes (Node never reuses them). */
  piece(bytes: Buffer): void;
  /** Runs after each block of input and may apply backpressure. */
  flush(): Promise<void>;
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** signature, flags (int32), header extension length (int32) */
const HEADER_BYTES = 19;

/**
 * Incremental parser of PostgreSQL's binary COPY format: fixed-size parts that straddle received
 * buffers are gathered in a small scratch buffer; the last field of each tuple passes through as
 * views into the received buffers, so its bytes are never copied in Node.
 */
export class BinaryCopyParser {
  private state: 'header' | 'extension' | 'count' | 'length' | 'lead' | 'last' | 'done' = 'header';
  /** bytes of the current fixed-size part gathered so far (header, count, length, a lead field) */
  private scratch: Buffer[] = [];
  private scratchSize = 0;
  /** bytes the current part needs */
  private need = HEADER_BYTES;
  private fieldCount = 0;
  private readonly lead: Array<Buffer | null> = [];
  tuples = 0;

  constructor(private readonly handler: Pick<CopyOutHandler, 'tuple' | 'piece'>) {}

  /** Parses `received`; throws on a stream that is not a binary COPY. */
  push(received: Buffer): void {
    let at = 0;
    while (at < received.length && this.state !== 'done') {
      if (this.state === 'last') {
        const n = Math.min(this.need, received.length - at);
        this.handler.piece(at === 0 && n === received.length ? received : received.subarray(at, at + n));
        at += n;
        this.need -= n;
        if (this.need === 0) this.endTuple();
        continue;
      }
      // a fixed-size part: whole in `received` (the usual case) or gathered across buffers
      let part: Buffer;
      if (this.scratchSize === 0 && received.length - at >= this.need) {
        part = received.subarray(at, at + this.need);
        at += this.need;
      } else {
        const n = Math.min(this.need - this.scratchSize, received.length - at);
        this.scratch.push(received.subarray(at, at + n));
        this.scratchSize += n;
        at += n;
        if (this.scratchSize < this.need) continue;
        part = Buffer.concat(this.scratch, this.scratchSize);
        this.scratch = [];
        this.scratchSize = 0;
      }
      this.take(part);
    }
  }

  /** A fixed-size part of the current state is complete. */
  private take(part: Buffer): void {
    switch (this.state) {
      case 'header':
        if (!part.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('COPY binary signature missing');
        this.expect('extension', part.readInt32BE(15));
        if (this.need === 0) this.expect('count', 2);
        return;
      case 'extension':
        this.expect('count', 2);
        return;
      case 'count':
        this.fieldCount = part.readInt16BE(0);
        if (this.fieldCount === -1) {
          this.state = 'done';
          return;
        }
        if (this.fieldCount < 1) throw new Error(`COPY binary tuple of ${this.fieldCount} fields`);
        this.lead.length = 0;
        this.expect('length', 4);
        return;
      case 'length': {
        const length = part.readInt32BE(0);
        if (this.lead.length === this.fieldCount - 1) {
          this.handler.tuple(this.lead, length);
          if (length <= 0) this.endTuple();
          else this.expect('last', length);
        } else if (length === -1) {
          this.lead.push(null);
          this.expect('length', 4);
        } else if (length === 0) {
          this.lead.push(Buffer.alloc(0));
          this.expect('length', 4);
        } else {
          this.expect('lead', length);
        }
        return;
      }
      case 'lead':
        this.lead.push(part);
        this.expect('length', 4);
        return;
      default:
        throw new Error(`COPY binary parser in state ${this.state}`);
    }
  }

  private expect(state: BinaryCopyParser['state'], bytes: number): void {
    this.state = state;
    this.need = bytes;
  }

  private endTuple(): void {
    this.tuples++;
    this.lead.length = 0;
    this.expect('count', 2);
  }

  /** true once the trailer was read */
  get done(): boolean {
    return this.state === 'done';
  }
}

/**
 * Runs `COPY (<select>) TO STDOUT (FORMAT binary)` and parses the tuples as PostgreSQL sends them:
 * bytes flow from the socket to the handler without becoming JS strings or being copied, and the
 * connection is read only as fast as the handler's `flush` lets it (pg-copy-streams pauses the socket).
 * The select must be self-contained (COPY takes no parameters): callers inline only numbers and
 * `quoteLiteral` text (sql-quote.ts). If the handler fails mid-stream the connection is destroyed
 * (its COPY cannot be abandoned cleanly), so the pool discards it. Returns the number of tuples.
 */
export async function copyOutBinary(client: SyncClient, select: string, handler: CopyOutHandler): Promise<number> {
  const stream = client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT binary)`));
  const parser = new BinaryCopyParser(handler);
  try {
    for await (const received of stream as AsyncIterable<Buffer>) {
      parser.push(received);
      await handler.flush();
    }
    if (!parser.done) throw new Error('COPY binary stream ended before its trailer');
  } catch (error) {
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    throw error;
  }
  return parser.tuples;
}
