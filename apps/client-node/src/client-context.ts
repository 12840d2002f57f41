/**
 * The state one client shares between its capabilities (lifecycle, push, pull, snapshot, watch):
 * the database and its metadata, the managed tables, the transport and the in-memory session.
 */
import type { Database } from 'better-sqlite3';
import type { EffectiveConfig } from './config.js';
import type { ConflictResolver } from './conflict-resolver.js';
import { AttachRequiredError, OpenRequiredError } from './errors.js';
import type { ManagedTable } from './managed-table.js';
import type { SyncProgress } from './results.js';
import type { RowStore } from './row-store.js';
import type { SyncState } from './sync-state.js';
import type { SyncTransport } from './sync-transport.js';
import type { StatusObserver } from './client-status.js';

/** In-memory session (spec/client.md §5.1). */
export interface Session {
  sourceId: string;
  userId: string;
  pendingInitializationId: string;
  connected: boolean;
}

export interface SyncLogger {
  warn(message: string): void;
  info?(message: string): void;
}

/** One-shot fault-injection points for crash tests (spec/client.md §6.10). */
export interface PushHooks {
  beforeFreeze?: () => void;
  beforeCommit?: () => void | Promise<void>;
  beforeReplay?: () => void | Promise<void>;
}

export interface TransferCounters {
  snapshotSessionsCreated: number;
  snapshotChunksFetched: number;
  pushSessionsCreated: number;
  pushChunksUploaded: number;
  committedBundleChunksRead: number;
  /** pulled bundles applied with the worker reading their page (pull-page-pipeline.ts) */
  pullBundlesReadByWorker: number;
  /** pull pages the worker thread requested and read as they arrived */
  pullPagesRequestedByWorker: number;
}

export interface ClientContext {
  readonly db: Database;
  readonly config: EffectiveConfig;
  readonly schema: string;
  readonly tables: readonly ManagedTable[];
  readonly state: SyncState;
  readonly rows: RowStore;
  readonly transport: SyncTransport;
  readonly session: Session;
  readonly hooks: PushHooks;
  readonly counters: TransferCounters;
  readonly paused: { uploads: boolean; downloads: boolean };
  readonly logger: SyncLogger;
  /** What `currentStatus`/`onStatusChange` show; background failures are reported here. */
  readonly status: StatusObserver;
  resolver(): ConflictResolver;
  progress(event: SyncProgress): void;
  /** The managed table of a wire/metadata table name, or undefined when it is not configured. */
  table(name: string): ManagedTable | undefined;
}

/** `ensureConnectedSessionLocked` (spec/client.md §5.1). */
export function ensureConnectedSession(ctx: ClientContext, operation: string): void {
  if (!ctx.session.sourceId.trim()) throw new OpenRequiredError(operation);
  const userId = ctx.session.userId.trim();
  if (!userId) throw new AttachRequiredError(operation);
  const attachment = ctx.state.attachment();
  if (
    attachment.bindingState !== 'attached' ||
    attachment.attachedUserId !== userId ||
    attachment.currentSourceId !== ctx.session.sourceId ||
    !ctx.session.connected
  ) {
    throw new AttachRequiredError(operation);
  }
}

/** The secondary binding check of push/pull/rebuild: persisted binding = in-memory user. */
export function ensureBoundToSessionUser(ctx: ClientContext, operation: string): void {
  const attachment = ctx.state.attachment();
  if (attachment.bindingState !== 'attached' || attachment.attachedUserId !== ctx.session.userId.trim()) {
    throw new AttachRequiredError(operation);
  }
}
