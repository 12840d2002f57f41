import {
  bindScalar,
  goQuote,
  isKnownErrorCode,
  parseExactObject,
  readString,
  type KnownErrorCode,
  type OversyncErrorCode,
} from '@oversync/protocol';

/**
 * Typed errors of the client (spec/client.md §12). Each class keeps the reference's name and
 * message text so hosts and tests can branch on `instanceof` or on the exact message.
 */

export class OversqliteError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Invalid configuration or unsupported table schema, detected when the client is created. */
export class OversqliteConfigError extends OversqliteError {}

/** The SQLite file is damaged or not a database (`SQLITE_CORRUPT`, `SQLITE_NOTADB`, a failed `quick_check`). */
export class DatabaseCorruptError extends OversqliteError {
  constructor(
    readonly database: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${database ? `SQLite database ${database}` : 'the SQLite database'} is corrupt: ${detail}`, options);
  }
}

export class ClientClosedError extends OversqliteError {
  constructor() {
    super('oversqlite client has been closed');
  }
}

export class SyncOperationInProgressError extends OversqliteError {
  constructor() {
    super('another sync operation is already in progress for this client');
  }
}

export class DatabaseAlreadyOwnedError extends OversqliteError {
  constructor(readonly database: string) {
    super(
      database
        ? `another oversqlite client is already active for SQLite database ${database}`
        : 'another oversqlite client is already active for this SQLite database',
    );
  }
}

export class OpenRequiredError extends OversqliteError {
  constructor(readonly operation: string) {
    super(
      operation
        ? `OversqliteClient.open() must complete before ${operation}`
        : 'OversqliteClient.open() must complete before this oversqlite operation',
    );
  }
}

export class AttachRequiredError extends OversqliteError {
  constructor(readonly operation: string) {
    super(
      operation
        ? `attach(userId) must complete successfully before ${operation}`
        : 'attach(userId) must complete successfully before this oversqlite operation',
    );
  }
}

export class DestructiveTransitionInProgressError extends OversqliteError {
  constructor(readonly transitionKind: string) {
    super(
      transitionKind
        ? `destructive local lifecycle transition ${goQuote(transitionKind)} is in progress`
        : 'a destructive local lifecycle transition is in progress',
    );
  }
}

export class AttachLifecycleUnsupportedError extends OversqliteError {
  constructor(readonly reason: string) {
    super(
      reason
        ? `server does not support the oversqlite attach lifecycle: ${reason}`
        : 'server does not support the oversqlite attach lifecycle',
    );
  }
}

export class AttachBindingConflictError extends OversqliteError {
  constructor(
    readonly attachedUserId: string,
    readonly requestedUserId: string,
  ) {
    super(
      `local database is already attached to user ${goQuote(attachedUserId)}; detach before attaching user ` +
        `${goQuote(requestedUserId)}`,
    );
  }
}

export class AttachLocalStateConflictError extends OversqliteError {
  constructor(readonly reason: string) {
    super(
      reason
        ? `local sync state is incompatible with the requested attach lifecycle: ${reason}`
        : 'local sync state is incompatible with the requested attach lifecycle',
    );
  }
}

export class RemoteReplacePendingError extends OversqliteError {
  constructor(readonly targetUserId: string) {
    super(
      targetUserId
        ? `remote-authoritative replacement for user ${goQuote(targetUserId)} is pending and must be finalized ` +
            `by Attach`
        : 'remote-authoritative replacement is pending and must be finalized by Attach',
    );
  }
}

export class RebuildRequiredError extends OversqliteError {
  constructor() {
    super('client rebuild is required; run Rebuild before syncing');
  }
}

export type SourceRecoveryCode = Extract<
  OversyncErrorCode,
  'history_pruned' | 'source_sequence_out_of_order' | 'source_sequence_changed' | 'source_retired'
>;

const SOURCE_RECOVERY_TEXT: Record<SourceRecoveryCode, string> = {
  history_pruned:
    'source recovery is required because retained committed history for the frozen source tuple is no longer ' +
    'available; run rebuild()',
  source_sequence_out_of_order:
    'source recovery is required because the frozen source bundle sequence is not the next expected value; ' +
    'run rebuild()',
  source_sequence_changed:
    'source recovery is required because the frozen source bundle sequence changed before commit finalized; ' +
    'run rebuild()',
  source_retired:
    'source recovery is required because the current source was explicitly retired and replaced; run rebuild()',
};

export class SourceRecoveryRequiredError extends OversqliteError {
  constructor(
    readonly code: SourceRecoveryCode,
    readonly serverMessage = '',
  ) {
    super(
      serverMessage.trim()
        ? serverMessage
        : (SOURCE_RECOVERY_TEXT[code] ?? 'source recovery is required; run rebuild()'),
    );
  }
}

export class SourceReplacementDivergedError extends OversqliteError {
  constructor(
    readonly localReplacement: string,
    readonly remoteReplacement: string,
  ) {
    super(
      `replacement source diverged between local and server recovery state: local=${goQuote(localReplacement)}` +
        ` remote=${goQuote(remoteReplacement)}`,
    );
  }
}

export class PendingPushReplayError extends OversqliteError {
  constructor(readonly outboundCount: number) {
    super(`cannot rebuild while ${outboundCount} staged push rows are pending authoritative replay`);
  }
}

export class DirtyStateRejectedError extends OversqliteError {
  constructor(readonly dirtyCount: number) {
    super(`cannot pull while ${dirtyCount} local dirty rows exist`);
  }
}

export class HistoryPrunedError extends OversqliteError {
  constructor(
    readonly status: number,
    readonly serverMessage: string,
  ) {
    super(serverMessage || 'server history required for incremental sync has been pruned');
  }
}

/** A non-2xx answer of the sync server (the reference's `retryHTTPError`, plus the decoded body). */
export class HttpStatusError extends OversqliteError {
  constructor(
    readonly operation: string,
    readonly status: number,
    /** The `error` member of the JSON body, or '' when the body was not the error envelope. */
    readonly code: string,
    readonly serverMessage: string,
    readonly body: string,
    message?: string,
  ) {
    const rendered = renderServerErrorBody(body);
    super(
      message ??
        (rendered
          ? `${operation} request returned status ${status}: ${rendered}`
          : `${operation} request returned status ${status}`),
    );
  }

  /** 429/502/503/504: worth another attempt (spec/client.md §10.1). */
  get transient(): boolean {
    return TRANSIENT_STATUSES.has(this.status);
  }
}

const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);

/**
 * The server refused the frozen push for good (a 4xx validation error, or a 500 commit failure,
 * spec/client.md §15 item 1). The outbox is kept; `restoreOutbox()` moves it back to dirty rows.
 */
export class PushRejectedError extends OversqliteError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly serverMessage: string,
    readonly outboxRowCount: number,
  ) {
    super(
      `push rejected by server with status ${status}${code ? `: ${code}` : ''}` +
        `${serverMessage ? `: ${serverMessage}` : ''}; ` +
        `${outboxRowCount} frozen rows stay in the outbox (restoreOutbox() requeues them for repair)`,
    );
  }
}

/** The network request did not produce an HTTP response (connection refused/reset, timeout…). */
export class TransportError extends OversqliteError {
  constructor(
    message: string,
    readonly transient: boolean,
    cause: unknown,
  ) {
    super(message, { cause });
  }
}

/** The server answered 200 with something that breaks the protocol (validation of §6.3, §6.4, §8.3, §8.6). */
export class SyncProtocolError extends OversqliteError {}

/** A bundle whose rows do not hash to the `bundle_hash` the server announced; nothing of it was applied. */
export class BundleHashMismatchError extends SyncProtocolError {
  constructor(
    readonly bundleSeq: number,
    readonly expectedHash: string,
    readonly actualHash: string,
    context: string,
  ) {
    super(`${context} hash ${actualHash} does not match expected ${expectedHash}`);
  }
}

export interface ConflictContextLike {
  readonly schema: string;
  readonly table: string;
}

export class PushConflictError extends OversqliteError {
  constructor(
    readonly status: number,
    readonly rawBody: string,
    readonly response: unknown,
  ) {
    super(`push commit conflict: HTTP ${status} - ${renderServerErrorBody(rawBody)}`);
  }
}

export class InvalidConflictResolutionError extends OversqliteError {
  constructor(
    readonly conflict: ConflictContextLike,
    readonly result: unknown,
    message: string,
  ) {
    super(message || 'invalid conflict resolution');
  }
}

export class PushConflictRetryExhaustedError extends OversqliteError {
  constructor(
    readonly retryCount: number,
    readonly remainingDirtyCount: number,
  ) {
    super(
      `push conflict auto-retry exhausted after ${retryCount} retries; ${remainingDirtyCount} dirty rows ` +
        `remain replayable`,
    );
  }
}

export class RetryExhaustedError extends OversqliteError {
  constructor(
    readonly operation: string,
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super(
      lastError == null
        ? `oversqlite retry policy exhausted for ${operation} after ${attempts} attempts`
        : `oversqlite retry policy exhausted for ${operation} after ${attempts} attempts: ${errorMessage(lastError)}`,
      { cause: lastError },
    );
  }
}

/** True for errors that mean "call Open/Attach first" (spec/client.md §0.2). */
export function isLifecyclePreconditionError(err: unknown): boolean {
  return (
    err instanceof OpenRequiredError ||
    err instanceof AttachRequiredError ||
    err instanceof DestructiveTransitionInProgressError
  );
}

/** True when another operation of the same client was running (spec/client.md §0.2). */
export function isExpectedSyncContention(err: unknown): boolean {
  return err instanceof SyncOperationInProgressError;
}

/** §12.3: `""`, `"<error>: <message>"`, `"<error>"` or the raw body. */
export function renderServerErrorBody(body: string): string {
  if (!body) return '';
  const envelope = decodeErrorEnvelope(body);
  if (envelope && envelope.code.trim()) {
    return envelope.message.trim() ? `${envelope.code}: ${envelope.message}` : envelope.code;
  }
  return body;
}

export interface ErrorEnvelope {
  readonly code: string;
  /** `code` when it is in the protocol's error table (what the client branches on), else undefined. */
  readonly known: KnownErrorCode | undefined;
  readonly message: string;
  /** `replaced_by_source_id` of a `source_retired` answer ('' when absent or not a string). */
  readonly replacedBySourceId: string;
}

/**
 * The `{"error","message"}` envelope as Go's `json.Unmarshal` into `oversync.ErrorResponse` binds it
 * (the protocol's reader: member names case-insensitive, the last match wins); null when the body is
 * not an object or a member has the wrong type (Go's error: the caller shows the raw body).
 */
export function decodeErrorEnvelope(body: string): ErrorEnvelope | null {
  const document = parseExactObject(body);
  if (document === undefined) return null;
  const code = bindScalar(document, 'error', readString);
  const message = bindScalar(document, 'message', readString);
  if (code === undefined || message === undefined) return null;
  return {
    code,
    known: isKnownErrorCode(code) ? code : undefined,
    message,
    replacedBySourceId: bindScalar(document, 'replaced_by_source_id', readString) ?? '',
  };
}

export function errorMessage(err: unknown): string {
  const message = err !== null && typeof err === 'object' ? (err as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? message : String(err);
}
