/**
 * `start()`/`stop()` background loops (spec/client.md §10.3, §11): an uploader that pushes, and a
 * downloader that either polls or follows `GET /sync/watch`. Fixes the reference's loop defects
 * (§15 items 8–9): paused loops sleep, backoff has a floor and resets after a healthy stream,
 * pull contention never tears the stream down, the stream has no total timeout, `stop()` works.
 */
import { SYNC_ROUTES } from '@oversync/protocol';
import type { ClientContext } from './client-context.js';
import { DEFAULT_BACKOFF_MIN_MS } from './config.js';
import {
  ClientClosedError,
  decodeErrorEnvelope,
  errorMessage,
  isExpectedSyncContention,
  isLifecyclePreconditionError,
} from './errors.js';
import { sleep, throwIfTransientStatus, withRetry } from './sync-transport.js';
import { readWatchStream } from './watch-stream.js';
import { decodeCapabilities } from './wire-decode.js';

export interface LoopOperations {
  pushPending(): Promise<unknown>;
  pullToStable(): Promise<unknown>;
  lastBundleSeqSeen(): Promise<number>;
  isClosed(): boolean;
}

const MIN_LOOP_SLEEP_MS = 50;
/** The server heartbeats every 25 s; a silent stream is reconnected after this long. */
const WATCH_IDLE_TIMEOUT_MS = 65_000;

export class BackgroundSync {
  private controller: AbortController | null = null;
  private loops: Promise<void>[] = [];
  private pulling: Promise<void> | null = null;
  private pullAgain = false;
  /** The stream's last event id and reconnect delay (`id:`/`retry:`), kept across reconnects. */
  private lastEventId: string | undefined;
  private serverRetryMs: number | undefined;

  constructor(
    private readonly ctx: ClientContext,
    private readonly ops: LoopOperations,
  ) {}

  start(signal?: AbortSignal): void {
    if (this.controller) throw new Error('background sync is already running; call stop() first');
    const controller = new AbortController();
    this.controller = controller;
    this.lastEventId = undefined; // a new run (perhaps another user) starts from its own checkpoint
    this.serverRetryMs = undefined;
    signal?.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
    this.loops = [this.uploaderLoop(controller.signal), this.downloaderLoop(controller.signal)];
  }

  async stop(): Promise<void> {
    this.controller?.abort();
    await Promise.allSettled([...this.loops, this.pulling ?? Promise.resolve()]);
    this.loops = [];
    this.controller = null;
  }

  private get minBackoff(): number {
    return Math.max(MIN_LOOP_SLEEP_MS, this.ctx.config.backoffMinMs);
  }

  private nextBackoff(err: unknown, current: number): number {
    if (isLifecyclePreconditionError(err) || isExpectedSyncContention(err)) return this.minBackoff;
    this.ctx.logger.warn(`background sync: ${errorMessage(err)}`);
    return Math.min(Math.max(current * 2, this.minBackoff), Math.max(this.ctx.config.backoffMaxMs, this.minBackoff));
  }

  private stopped(signal: AbortSignal): boolean {
    return signal.aborted || this.ops.isClosed();
  }

  private async pause(ms: number, signal: AbortSignal): Promise<void> {
    await sleep(ms, signal).catch(() => undefined);
  }

  private async uploaderLoop(signal: AbortSignal): Promise<void> {
    let backoff = this.minBackoff;
    while (!this.stopped(signal)) {
      if (this.ctx.paused.uploads) {
        await this.pause(this.minBackoff, signal);
        continue;
      }
      try {
        await this.ops.pushPending();
        backoff = this.minBackoff;
      } catch (err) {
        if (err instanceof ClientClosedError) return;
        backoff = this.nextBackoff(err, backoff);
      }
      await this.pause(backoff, signal);
    }
  }

  private async downloaderLoop(signal: AbortSignal): Promise<void> {
    if (this.ctx.config.watchMode === 'auto' && (await this.watchAdvertised(signal))) {
      const ended = await this.watchLoop(signal);
      if (ended !== 'forbidden') return;
    }
    await this.pollingLoop(signal);
  }

  private async pollingLoop(signal: AbortSignal): Promise<void> {
    let backoff = this.minBackoff;
    while (!this.stopped(signal)) {
      if (this.ctx.paused.downloads) {
        await this.pause(this.minBackoff, signal);
        continue;
      }
      try {
        const before = await this.ops.lastBundleSeqSeen();
        await this.ops.pullToStable();
        backoff = this.minBackoff;
        if ((await this.ops.lastBundleSeqSeen()) !== before) continue;
      } catch (err) {
        if (err instanceof ClientClosedError) return;
        backoff = this.nextBackoff(err, backoff);
      }
      await this.pause(backoff, signal);
    }
  }

  private async watchAdvertised(signal: AbortSignal): Promise<boolean> {
    if (!this.ctx.session.connected) return false;
    try {
      const response = await withRetry(
        this.ctx.config.retry,
        'watch_capabilities',
        async () =>
          throwIfTransientStatus(
            'watch_capabilities',
            await this.ctx.transport.send({
              method: 'GET',
              path: SYNC_ROUTES.capabilities,
              sourceId: this.ctx.session.sourceId,
              signal,
            }),
          ),
        signal,
      );
      return response.status === 200 && decodeCapabilities(response.body).features.bundle_change_watch === true;
    } catch {
      return false;
    }
  }

  /**
   * Pulls now, or once more after the running pull; contention with the uploader is retried. A failed
   * pull is retried with backoff: the event that asked for it will not come again (the reference
   * tears the stream down and catches up on reconnect; the healthy stream stays up here).
   */
  private requestPull(signal: AbortSignal): void {
    if (this.pulling) {
      this.pullAgain = true;
      return;
    }
    this.pulling = (async () => {
      let backoff = this.minBackoff;
      do {
        this.pullAgain = false;
        try {
          await this.ops.pullToStable();
        } catch (err) {
          if (err instanceof ClientClosedError) break;
          if (isExpectedSyncContention(err)) {
            this.pullAgain = true;
            await this.pause(MIN_LOOP_SLEEP_MS, signal);
          } else if (!isLifecyclePreconditionError(err)) {
            this.ctx.logger.warn(`watch pull: ${errorMessage(err)}`);
            this.pullAgain = true;
            await this.pause(backoff, signal);
            backoff = Math.min(backoff * 2, Math.max(this.ctx.config.backoffMaxMs, this.minBackoff));
          }
        }
      } while (this.pullAgain && !this.stopped(signal));
      this.pulling = null;
    })();
  }

  /** Follows the watch stream until stopped; 'forbidden' switches the caller to polling. */
  private async watchLoop(signal: AbortSignal): Promise<'forbidden' | 'stopped'> {
    const initial = this.ctx.config.backoffMinMs > 0 ? this.ctx.config.backoffMinMs : DEFAULT_BACKOFF_MIN_MS;
    let backoff = initial;
    const fallback = setInterval(() => {
      if (!this.ctx.paused.downloads) this.requestPull(signal);
    }, this.ctx.config.watchFallbackIntervalMs);
    try {
      while (!this.stopped(signal)) {
        if (this.ctx.paused.downloads) {
          await this.pause(backoff, signal);
          continue;
        }
        let after: number;
        try {
          after = await this.ops.lastBundleSeqSeen();
        } catch (err) {
          if (err instanceof ClientClosedError) break;
          backoff = this.nextBackoff(err, backoff);
          await this.pause(backoff, signal);
          continue;
        }
        const result = await this.followStream(after, signal);
        if (result === 'forbidden') return 'forbidden';
        if (this.stopped(signal)) break;
        this.requestPull(signal);
        backoff =
          result === 'healthy'
            ? (this.serverRetryMs ?? initial)
            : Math.min(Math.max(backoff * 2, initial), Math.max(this.ctx.config.backoffMaxMs, initial));
        await this.pause(backoff, signal);
      }
      return 'stopped';
    } finally {
      clearInterval(fallback);
    }
  }

  /** One stream connection. 'healthy' when it delivered anything before ending. */
  private async followStream(after: number, signal: AbortSignal): Promise<'forbidden' | 'healthy' | 'failed'> {
    const stream = new AbortController();
    const onStop = () => stream.abort();
    signal.addEventListener('abort', onStop, { once: true });
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => stream.abort(new Error('watch stream idle')), WATCH_IDLE_TIMEOUT_MS);
    };
    let active = false;
    try {
      const sourceId = this.ctx.session.sourceId || this.ctx.state.attachment().currentSourceId;
      const response = await this.ctx.transport.openStream(
        SYNC_ROUTES.watch,
        { after_bundle_seq: after },
        sourceId,
        stream.signal,
        this.lastEventId,
      );
      if (response.status !== 200) {
        const body = await response.text();
        if (response.status === 403 && decodeErrorEnvelope(body)?.known === 'bundle_change_watch_forbidden')
          return 'forbidden';
        const message = `bundle_change_watch request returned status ${response.status}: ${body.trim()}`;
        this.ctx.logger.warn(message);
        this.ctx.status.update({ downloadError: new Error(message) });
        return 'failed';
      }
      if (!response.body) return 'failed';
      armIdle();
      await readWatchStream(response.body, {
        onActivity: () => {
          active = true;
          armIdle();
        },
        onLastEventId: (id) => {
          this.lastEventId = id;
        },
        onRetry: (ms) => {
          this.serverRetryMs = ms;
        },
        onEvent: (event) => {
          this.ctx.logger.info?.(`watch: bundle ${event.bundle_seq} committed`);
          this.requestPull(signal);
        },
      });
      return active ? 'healthy' : 'failed';
    } catch (err) {
      if (!signal.aborted) {
        this.ctx.logger.warn(`watch stream ended: ${errorMessage(err)}`);
        this.ctx.status.update({ downloadError: err instanceof Error ? err : new Error(String(err)) });
      }
      return active ? 'healthy' : 'failed';
    } finally {
      clearTimeout(idle);
      signal.removeEventListener('abort', onStop);
      stream.abort();
    }
  }
}
