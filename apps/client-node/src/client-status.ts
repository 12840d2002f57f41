/**
 * The observable state of a client (the shape of PowerSync's `SyncStatus`): a synchronous
 * snapshot, listeners told of every change, and a promise for a status that satisfies a predicate.
 * Background-sync failures land here (`uploadError`/`downloadError`) instead of only in a log.
 */

export interface ClientStatus {
  /** Attached to a user and connected to the server in this session (`attach()` succeeded). */
  readonly connected: boolean;
  /** The attached user ('' when none). */
  readonly userId: string;
  /** A push (or the push half of `sync()`) is running. */
  readonly uploading: boolean;
  /** A pull, snapshot rebuild or hydrating attach is running. */
  readonly downloading: boolean;
  /** When the last pull, rebuild or hydrating attach reached the server's stable state. */
  readonly lastSyncedAt: Date | null;
  /** Dirty rows + outbox rows (+1 while a local seed is pending), as of this status. */
  readonly pendingRowCount: number;
  /** The last push failure; cleared by the next successful push. */
  readonly uploadError: Error | null;
  /** The last pull/rebuild/watch failure; cleared by the next successful pull. */
  readonly downloadError: Error | null;
}

export type StatusListener = (status: ClientStatus) => void;

export const INITIAL_STATUS: ClientStatus = Object.freeze({
  connected: false,
  userId: '',
  uploading: false,
  downloading: false,
  lastSyncedAt: null,
  pendingRowCount: 0,
  uploadError: null,
  downloadError: null,
});

export class StatusObserver {
  private status: ClientStatus = INITIAL_STATUS;
  private readonly listeners = new Set<StatusListener>();

  get current(): ClientStatus {
    return this.status;
  }

  /** Applies `changes`; listeners run (synchronously, in subscription order) only when something changed. */
  update(changes: Partial<ClientStatus>): void {
    const next: ClientStatus = Object.freeze({ ...this.status, ...changes });
    if ((Object.keys(next) as (keyof ClientStatus)[]).every((k) => sameValue(next[k], this.status[k]))) return;
    this.status = next;
    for (const listener of [...this.listeners]) {
      try {
        listener(next);
      } catch {
        // a throwing listener must not break sync nor the other listeners
      }
    }
  }

  subscribe(listener: StatusListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Resolves with the first status (the current one included) that satisfies `predicate`. */
  waitFor(predicate: (status: ClientStatus) => boolean, signal?: AbortSignal): Promise<ClientStatus> {
    if (predicate(this.status)) return Promise.resolve(this.status);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason ?? new Error('waitForStatus aborted'));
        return;
      }
      const onAbort = () => {
        unsubscribe();
        reject(signal!.reason ?? new Error('waitForStatus aborted'));
      };
      const unsubscribe = this.subscribe((status) => {
        if (!predicate(status)) return;
        unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        resolve(status);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return Object.is(a, b);
}
