import { encodeWatchEventFrame, SSE_CONTENT_TYPE, WATCH_HEARTBEAT_FRAME, WATCH_STREAM_HEADERS } from '@oversync/protocol';
import type { Request, Response } from 'express';
import type { BundleChange, BundleChangeSubscription } from './bundle-change-hub.js';

/** Reconnect delay advertised to EventSource clients in the stream's first frame (ms). */
export const WATCH_RETRY_MS = 2000;

/** The SSE frame of a change (spec §3.8), written by the protocol's encoder. */
export function encodeBundleChangeFrame(change: BundleChange): string {
  return encodeWatchEventFrame({ bundle_seq: change.bundleSeq, source_id: change.sourceId, source_bundle_id: change.sourceBundleId });
}

/**
 * Writes one subscription to an SSE response until either side closes it. A heartbeat goes out
 * after `heartbeatMs` without any other frame; while the socket is backed up nothing more is
 * written and the subscription's one slot coalesces to the latest change.
 */
export class BundleChangeStream {
  private heartbeat: NodeJS.Timeout | undefined;
  private draining = false;
  private finished = false;

  constructor(
    private readonly req: Request,
    private readonly res: Response,
    private readonly subscription: BundleChangeSubscription,
    private readonly heartbeatMs: number,
    private readonly onEventSent?: () => void,
  ) {}

  start(): void {
    const { req, res, subscription } = this;
    const finish = () => this.finish();
    req.on('close', finish);
    res.on('close', finish);
    res.on('error', finish);
    subscription.onClose(finish);
    // the client may have gone while the subscription was being set up: no 'close' will come
    if (req.destroyed || !res.socket || res.socket.destroyed) return this.finish();
    res.status(200);
    res.setHeader('Content-Type', SSE_CONTENT_TYPE);
    for (const [name, value] of Object.entries(WATCH_STREAM_HEADERS)) res.setHeader(name, value);
    res.flushHeaders();
    this.write(`retry: ${WATCH_RETRY_MS}\n\n`);
    this.heartbeat = setInterval(() => this.draining || this.write(WATCH_HEARTBEAT_FRAME), this.heartbeatMs);
    subscription.onChange(() => this.pump());
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
    const accepted = this.res.write(frame);
    // compression middleware buffers until flushed
    (this.res as Response & { flush?: () => void }).flush?.();
    if (accepted) return;
    this.draining = true;
    this.res.once('drain', () => {
      this.draining = false;
      this.pump();
    });
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.heartbeat);
    this.subscription.close();
    if (!this.res.writableEnded) this.res.end();
  }
}
