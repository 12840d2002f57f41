import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { OversyncError } from '../errors/oversync.error.js';

export type LifecycleState = 'running' | 'shutting_down' | 'closed';

/** In-flight accounting and graceful shutdown of the sync service (spec §4.16). */
@Injectable()
export class SyncLifecycle implements OnApplicationShutdown {
  private current: LifecycleState = 'running';
  private inflight = 0;
  private drained: Array<() => void> = [];
  private readonly closeListeners = new Set<() => void>();

  get state(): LifecycleState {
    return this.current;
  }

  get inflightOperations(): number {
    return this.inflight;
  }

  /** Counts `fn` as one in-flight operation; refuses new work once shutdown began (503, also after close: §8.1). */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.current !== 'running') {
      throw OversyncError.generic('service_unavailable');
    }
    this.inflight++;
    try {
      return await fn();
    } finally {
      this.inflight--;
      if (this.inflight === 0 && this.state === 'shutting_down') this.markClosed();
    }
  }

  onClose(listener: () => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  async close(timeoutMs = 30_000): Promise<void> {
    if (this.current === 'closed') return;
    if (this.inflight === 0) {
      this.markClosed();
      return;
    }
    this.current = 'shutting_down';
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.drained.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  private markClosed(): void {
    this.current = 'closed';
    for (const resolve of this.drained.splice(0)) resolve();
    for (const listener of [...this.closeListeners]) listener();
  }
}
