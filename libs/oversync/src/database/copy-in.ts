import type { Writable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import type { SyncClient } from './sync-database.js';

/** Bytes gathered before they go to the socket as one CopyData message. */
const BLOCK_BYTES = 64 * 1024;

/**
 * A `COPY … FROM STDIN` (text format) fed line by line from synchronous code. Once PostgreSQL has
 * answered the COPY, pg-copy-streams hands each block straight to the socket while the kernel takes it,
 * so the backend parses and inserts the lines on its own core while Node is still producing the next ones.
 * Lines are written as bytes straight into the block (no text per line, no block text to flatten and encode).
 */
export class CopyInWriter {
  private block = Buffer.allocUnsafeSlow(BLOCK_BYTES);
  /** bytes of `block` written */
  private used = 0;
  /** full blocks the socket has not been given yet (it still held back an earlier one) */
  private readonly held: Buffer[] = [];
  /** the error the COPY ended with (it arrives between turns of the event loop) */
  private failure: Error | undefined;

  /** settles when the COPY fails */
  private readonly failed: Promise<void>;

  private constructor(private readonly stream: Writable) {
    this.failed = new Promise((resolve) =>
      stream.on('error', (error: Error) => {
        this.failure ??= error;
        resolve();
      }),
    );
  }

  /** Starts the COPY and waits for PostgreSQL to accept data (its CopyInResponse). */
  static async open(client: SyncClient, statement: string): Promise<CopyInWriter> {
    const stream = client.query(copyFrom(statement));
    const writer = new CopyInWriter(stream);
    // the stream holds writes until CopyInResponse: the first one's callback says it came
    await new Promise<void>((resolve, reject) => {
      stream.once('error', reject);
      stream.write(Buffer.alloc(0), () => {
        stream.off('error', reject);
        resolve();
      });
    });
    return writer;
  }

  /**
   * Starts a line of at most `maxBytes` bytes (its fields then written with `ascii`, `utf8`, `integer`,
   * `byte`, escaped by the caller, ending in a newline): the block is passed on first when the line may not fit.
   */
  line(maxBytes: number): void {
    if (this.held.length > 0) this.flush();
    if (this.used + maxBytes <= this.block.length) return;
    // a block goes on at half its size or more: above the stream's high-water mark, so `end` sees its 'drain'
    if (this.used >= BLOCK_BYTES / 2) {
      this.passOn();
      if (maxBytes <= this.block.length) return;
    }
    // a long line: a larger block, holding what is written so far
    const larger = Buffer.allocUnsafeSlow(this.used + maxBytes);
    this.block.copy(larger, 0, 0, this.used);
    this.block = larger;
  }

  /** Text of U+0000–U+007F only (digits, hex, a uuid), one byte each: short fields, copied here (no native call). */
  ascii(text: string): void {
    const block = this.block;
    let used = this.used;
    for (let i = 0; i < text.length; i++) block[used++] = text.charCodeAt(i);
    this.used = used;
  }

  /**
   * UTF-16 units `[start, end)` as UTF-8, none a surrogate (each 1 to 3 bytes): a field of a body copied here
   * (no string cut out of it, no native call).
   */
  utf8Of(units: Uint16Array, start: number, end: number): void {
    const block = this.block;
    let used = this.used;
    for (let i = start; i < end; i++) {
      const c = units[i]!;
      if (c < 0x80) block[used++] = c;
      else if (c < 0x800) {
        block[used++] = 0xc0 | (c >> 6);
        block[used++] = 0x80 | (c & 0x3f);
      } else {
        block[used++] = 0xe0 | (c >> 12);
        block[used++] = 0x80 | ((c >> 6) & 0x3f);
        block[used++] = 0x80 | (c & 0x3f);
      }
    }
    this.used = used;
  }

  /** The 32 hex digits of the canonical uuid text at unit `start` of `units` (its dashes left out). */
  uuidHexOf(units: Uint16Array, start: number): void {
    const block = this.block;
    let used = this.used;
    for (let i = start; i < start + 36; i++) {
      const c = units[i]!;
      if (c !== 0x2d) block[used++] = c;
    }
    this.used = used;
  }

  /** Any text, as UTF-8 (at most 3 bytes per UTF-16 unit). */
  utf8(text: string): void {
    this.used += this.block.write(text, this.used);
  }

  /** A safe integer's decimal digits. */
  integer(value: number): void {
    if (value >= 0 && value < 10) this.block[this.used++] = 0x30 + value;
    else this.ascii(String(value));
  }

  byte(value: number): void {
    this.block[this.used++] = value;
  }

  /** The block written so far goes on (to the socket, or held while it holds back the previous one). */
  private passOn(): void {
    if (this.used === 0) return;
    this.held.push(this.block.subarray(0, this.used));
    this.block = Buffer.allocUnsafeSlow(BLOCK_BYTES);
    this.used = 0;
    this.flush();
  }

  /**
   * Hands the held blocks to the stream unless the socket still holds back the previous block: then they wait
   * here (pg-copy-streams would write a block queued behind it after a backend error too, onto a connection it
   * let go).
   */
  private flush(): void {
    if (this.held.length === 0 || this.failure || this.stream.writableLength > 0) return;
    this.stream.write(this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held));
    this.held.length = 0;
  }

  /** Ends the COPY; resolves once PostgreSQL has taken every line, rejects with its error. */
  async end(): Promise<void> {
    // a block held back is at least BLOCK_BYTES / 2 long, above the stream's high-water mark: 'drain' follows it
    while (this.stream.writableLength > 0 && !this.failure)
      await Promise.race([this.failed, new Promise((resolve) => this.stream.once('drain', resolve))]);
    if (this.used > 0) this.held.push(this.block.subarray(0, this.used));
    this.used = 0;
    this.flush();
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve, reject) => {
      this.stream.once('error', reject);
      this.stream.end(() => {
        this.stream.off('error', reject);
        resolve();
      });
    });
  }
}
