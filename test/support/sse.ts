import http from 'node:http';
import { performance } from 'node:perf_hooks';

/** One SSE block (lines up to a blank line): an event, a comment such as `: heartbeat`, or a `retry:`. */
export interface SseFrame {
  event?: string;
  data?: string;
  id?: string;
  retry?: string;
  comment?: string;
  /** the raw block, without the terminating blank line */
  raw: string;
  /** performance.now() when the block was complete */
  receivedAt: number;
}

/**
 * A server-sent event stream read with node:http (no agent, so closing it closes the socket).
 * Frames are queued; `next` consumes them in order, skipping the ones that do not match.
 */
export class SseStream {
  private readonly frames: SseFrame[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;

  private constructor(
    private readonly request: http.ClientRequest,
    readonly response: http.IncomingMessage,
    /** the whole body when the status is not 200 */
    readonly body: string,
  ) {}

  get status(): number {
    return this.response.statusCode ?? 0;
  }

  /** Opens `url`; resolves once the headers arrived (and, for a non-200 answer, the whole body). */
  static open(url: string, headers: Record<string, string>): Promise<SseStream> {
    return new Promise((resolve, reject) => {
      const request = http.get(url, { headers, agent: false }, (response) => {
        if (response.statusCode !== 200) {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve(new SseStream(request, response, body)));
          return;
        }
        const stream = new SseStream(request, response, '');
        stream.read();
        resolve(stream);
      });
      request.on('error', reject);
    });
  }

  /** The next frame matching `match` (earlier non-matching frames are dropped); rejects after `timeoutMs`. */
  async next(match: (frame: SseFrame) => boolean = () => true, timeoutMs = 5000): Promise<SseFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.frames.shift();
      if (frame) {
        if (match(frame)) return frame;
        continue;
      }
      if (this.ended) throw new Error('SSE stream ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching SSE frame within ${timeoutMs} ms`);
      await this.activity(left);
    }
  }

  /** The next `event: bundle` frame's decoded data. */
  async nextBundle(timeoutMs = 5000): Promise<{ frame: SseFrame; data: Record<string, unknown> }> {
    const frame = await this.next((f) => f.event === 'bundle', timeoutMs);
    return { frame, data: JSON.parse(frame.data ?? '') as Record<string, unknown> };
  }

  /** Frames already received and not yet consumed. */
  pending(): readonly SseFrame[] {
    return this.frames;
  }

  /** Resolves when the server ended the stream. */
  async waitForEnd(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error(`SSE stream still open after ${timeoutMs} ms`);
      await this.activity(deadline - Date.now());
    }
  }

  /** Disconnects and waits until the socket is closed. */
  async close(): Promise<void> {
    const socket = this.request.socket;
    if (!socket || socket.destroyed) {
      this.request.destroy();
      return;
    }
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      this.request.destroy();
    });
  }

  /** Resolves on the next frame or end of stream, or after `ms`. */
  private activity(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiter = done;
    });
  }

  private read(): void {
    let buffer = '';
    this.response.setEncoding('utf8');
    this.response.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        this.frames.push(parseBlock(buffer.slice(0, end)));
        buffer = buffer.slice(end + 2);
      }
      this.waiter?.();
    });
    const finish = () => {
      this.ended = true;
      this.waiter?.();
    };
    this.response.on('end', finish);
    this.response.on('close', finish);
    this.response.on('error', finish);
  }
}

function parseBlock(raw: string): SseFrame {
  const frame: SseFrame = { raw, receivedAt: performance.now() };
  for (const line of raw.split('\n')) {
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === '') frame.comment = value;
    else if (field === 'event') frame.event = value;
    else if (field === 'data') frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
    else if (field === 'id') frame.id = value;
    else if (field === 'retry') frame.retry = value;
  }
  return frame;
}

/** Headers of a sync request as user `token` from `sourceId`. */
export function syncHeaders(token: string, sourceId: string): Record<string, string> {
  return { Authorization: `Bearer ${token}`, 'Oversync-Source-ID': sourceId };
}
