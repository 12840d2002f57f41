/**
 * Reading the `GET /sync/watch` server-sent event stream (spec/client.md §11 step 4): `bundle`
 * events are decoded, heartbeats (`:` lines) only prove liveness. As an EventSource does, `id:`
 * sets the last event id (sent back as `Last-Event-ID` on reconnect) and `retry:` the reconnect delay.
 */
import { WATCH_EVENT_NAME, type BundleChangeEvent } from '@oversync/protocol';
import { decodeWatchEvent } from './wire-decode.js';

const MAX_LINE_BYTES = 1 << 20;

export class WatchStreamError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WatchStreamError';
  }
}

export interface WatchStreamHandlers {
  onEvent(event: BundleChangeEvent): void;
  /** Any bytes arrived (event or heartbeat). */
  onActivity(): void;
  /** The last event id after a dispatched event that set one (`id:`). */
  onLastEventId?(id: string): void;
  /** The server's reconnection time (`retry:` with digits only), in ms. */
  onRetry?(ms: number): void;
}

/** Consumes the stream until it ends (resolves) or breaks (rejects). */
export async function readWatchStream(body: ReadableStream<Uint8Array>, handlers: WatchStreamHandlers): Promise<void> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = '';
  let eventName = '';
  let data: string[] = [];
  let lastEventId: string | null = null;
  const dispatch = () => {
    if (lastEventId !== null && data.length > 0) handlers.onLastEventId?.(lastEventId);
    if (eventName === WATCH_EVENT_NAME && data.length > 0) {
      let event: BundleChangeEvent;
      try {
        event = decodeWatchEvent(data.join('\n'));
      } catch (err) {
        throw new WatchStreamError(`decode bundle watch event: ${(err as Error).message}`, { cause: err });
      }
      if (event.bundle_seq <= 0n) throw new WatchStreamError('bundle watch event missing bundle_seq');
      handlers.onEvent(event);
    }
    eventName = '';
    data = [];
  };
  const handleLine = (line: string) => {
    if (line === '') return dispatch();
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') eventName = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id' && !value.includes('\0')) lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) handlers.onRetry?.(Number(value));
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      handlers.onActivity();
      buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        handleLine(line);
      }
      if (buffer.length > MAX_LINE_BYTES) throw new WatchStreamError('watch stream line exceeds 1 MiB');
    }
  } finally {
    reader.releaseLock();
  }
}
