import type { Writable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import type { SyncClient } from './sync-database.js';

/** Text gathered before it goes to the socket as one CopyData message. */
const FLUSH_CHARS = 64 * 1024;

/**
 * A `COPY … FROM STDIN` (text format) fed line by line from synchronous code. Once PostgreSQL has
 * answered the COPY, pg-copy-streams hands each block straight to the socket while the kernel takes it,
 * so the backend parses and inserts the lines on its own core while Node is still producing the next ones.
 */
export class CopyInWriter {
  private text = '';
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

  /** Appends text lines (each ending in a newline, fields escaped by the caller). */
  write(lines: string): void {
    this.text += lines;
    if (this.text.length >= FLUSH_CHARS) this.flush();
  }

  /**
   * Hands the text to the stream unless the socket still holds back the previous block: then it waits here
   * (pg-copy-streams would write a block queued behind it after a backend error too, onto a connection it let go).
   */
  private flush(): void {
    if (this.text.length === 0 || this.failure || this.stream.writableLength > 0) return;
    this.stream.write(this.text);
    this.text = '';
  }

  /** Ends the COPY; resolves once PostgreSQL has taken every line, rejects with its error. */
  async end(): Promise<void> {
    // a block held back is at least FLUSH_CHARS long, above the stream's high-water mark: 'drain' follows it
    while (this.stream.writableLength > 0 && !this.failure)
      await Promise.race([this.failed, new Promise((resolve) => this.stream.once('drain', resolve))]);
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
