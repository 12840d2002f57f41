import {
  encodeWatchEventFrame,
  SSE_CONTENT_TYPE,
  WATCH_HEARTBEAT_FRAME,
  WATCH_RETRY_FRAME,
  WATCH_STREAM_HEADERS,
} from '@oversync/protocol';
import { PassThrough } from 'node:stream';
import { StreamedWireBody } from '../http/wire-reply.js';
import type { BundleChange, BundleChangeSubscription } from './bundle-change-hub.js';

/** The SSE frame of a change (spec §3.8), written by the protocol's encoder. */
export function encodeBundleChangeFrame(change: BundleChange): string {
  return encodeWatchEventFrame({
    bundle_seq: change.bundleSeq,
    source_id: change.sourceId,
    source_bundle_id: change.sourceBundleId,
  });
}

/**
 * Writes one subscription as SSE frames into the stream the route returns, until either side closes
 * it (the platform destroys the stream when the client goes away). A heartbeat goes out after
 * `heartbeatMs` without any other frame; while the socket is backed up nothing more is written and
 * the subscription's one slot coalesces to the latest change.
 */
export class BundleChangeStream {
  private heartbeat: NodeJS.Timeout | undefined;
  private draining = false;
  private finished = false;
  private readonly out = new PassThrough({ highWaterMark: 16 * 1024 });

  constructor(
    private readonly subscription: BundleChangeSubscription,
    private readonly heartbeatMs: number,
    private readonly onEventSent?: () => void,
  ) {}

  /** The SSE body with its headers, for the route to return. */
  start(): StreamedWireBody {
    const { out, subscription } = this;
    const finish = () => this.finish();
    out.on('close', finish);
    out.on('error', finish);
    subscription.onClose(finish);
    this.write(WATCH_RETRY_FRAME);
    this.heartbeat = setInterval(() => this.draining || this.write(WATCH_HEARTBEAT_FRAME), this.heartbeatMs);
    subscription.onChange(() => this.pump());
    return new StreamedWireBody(out, {
      contentType: SSE_CONTENT_TYPE,
      headers: WATCH_STREAM_HEADERS,
      flushEachWrite: true,
    });
  }

  private pump(): void {
    if (this.draining || this.finished) return;
    const change = this.subscription.take();
    if (!change) return;
    this.write(encodeBundleChangeFrame(change));
    this.onEventSent?.();
    this.heartbeat?.refresh();
  }

  private write(frame: string): void {
    if (this.finished) return;
    if (this.out.write(frame)) return;
    this.draining = true;
    this.out.once('drain', () => {
      this.draining = false;
      this.pump();
    });
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.heartbeat);
    this.subscription.close();
    if (!this.out.writableEnded) this.out.end();
  }
}
