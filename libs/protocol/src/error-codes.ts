// The protocol's error codes and their HTTP statuses (spec/server.md §6), as one table.
import type { GoJsonValue } from './go-json-encode.js';

/** Every error code the library answers with, mapped to its HTTP status. */
export const ERROR_CODES = {
  authentication_failed: 401,
  invalid_request: 400,
  method_not_allowed: 405,
  service_unavailable: 503,
  connect_invalid: 400,
  connect_failed: 500,
  push_session_invalid: 400,
  scope_uninitialized: 409,
  scope_initializing: 409,
  initialization_stale: 409,
  initialization_expired: 410,
  history_pruned: 409,
  source_sequence_out_of_order: 409,
  source_sequence_changed: 409,
  source_retired: 409,
  push_session_create_failed: 500,
  push_chunk_invalid: 400,
  push_chunk_out_of_order: 409,
  push_session_not_found: 404,
  push_session_forbidden: 403,
  push_session_expired: 410,
  push_chunk_failed: 500,
  push_commit_invalid: 400,
  push_conflict: 409,
  push_session_commit_failed: 500,
  push_session_delete_failed: 500,
  committed_bundle_chunk_invalid: 400,
  committed_bundle_not_found: 404,
  committed_bundle_rows_failed: 500,
  pull_failed: 500,
  bundle_change_watch_forbidden: 403,
  bundle_change_watch_disabled: 503,
  bundle_change_watch_failed: 500,
  snapshot_session_invalid: 400,
  source_replacement_invalid: 409,
  snapshot_session_create_failed: 500,
  snapshot_chunk_invalid: 400,
  snapshot_session_not_found: 404,
  snapshot_session_forbidden: 403,
  snapshot_session_expired: 410,
  snapshot_chunk_failed: 500,
  snapshot_session_delete_failed: 500,
  status_failed: 500,
  health_failed: 500,
} as const satisfies Record<string, number>;

/**
 * Codes this implementation adds where the reference answered 500 or a framework default (spec §8):
 * a reference client treats them as generic HTTP failures, like any code it does not branch on.
 */
export const EXTENSION_ERROR_CODES = {
  // generic answers of a framework failure, by HTTP status (errorCodeForStatus)
  forbidden: 403,
  not_found: 404,
  request_timeout: 408,
  request_too_large: 413,
  too_many_requests: 429,
  request_header_fields_too_large: 431,
  internal_error: 500,
  bundle_change_watch_user_limit: 429,
  bundle_change_watch_capacity: 503,
  snapshot_session_too_large: 413,
  capabilities_failed: 500,
  // OversyncScopeService: host-side scope writes
  scope_write_invalid: 400,
  scope_write_no_captured_changes: 400,
  // the admin console's API (OversyncAdminModule)
  admin_floor_invalid: 400,
  admin_user_not_found: 404,
  admin_bundle_not_found: 404,
  admin_source_not_found: 404,
  admin_push_session_not_found: 404,
  admin_snapshot_session_not_found: 404,
  admin_source_retired: 409,
  admin_replacement_known: 409,
  admin_failed: 500,
  admin_action_failed: 500,
} as const satisfies Record<string, number>;

export type OversyncErrorCode = keyof typeof ERROR_CODES;
export type OversyncExtensionErrorCode = keyof typeof EXTENSION_ERROR_CODES;
/** Every code this implementation answers with: the spec's table and its extensions. */
export type KnownErrorCode = OversyncErrorCode | OversyncExtensionErrorCode;

const KNOWN_ERROR_STATUSES: Readonly<Record<KnownErrorCode, number>> = { ...ERROR_CODES, ...EXTENSION_ERROR_CODES };

/** HTTP status of an error code. */
export function errorStatus(code: KnownErrorCode): number {
  return KNOWN_ERROR_STATUSES[code];
}

/** Whether a string (e.g. a code a database function raised) is one this implementation answers with. */
export function isKnownErrorCode(code: string): code is KnownErrorCode {
  return Object.hasOwn(KNOWN_ERROR_STATUSES, code);
}

const GENERIC_CODES_BY_STATUS: Readonly<Record<number, KnownErrorCode>> = {
  400: 'invalid_request',
  401: 'authentication_failed',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  413: 'request_too_large',
  429: 'too_many_requests',
  431: 'request_header_fields_too_large',
};

/** The code of a failure known only by its HTTP status (a framework exception, a routing error). */
export function errorCodeForStatus(status: number): KnownErrorCode {
  return GENERIC_CODES_BY_STATUS[status] ?? (status >= 500 ? 'internal_error' : 'invalid_request');
}

/**
 * The error envelope `{"error":"<code>","message":"<text>"}` (§3.0.3). `error` is a string because
 * a client must also read codes it does not know; servers use `OversyncErrorCode`.
 * Specialised shapes: `PushConflictErrorBody`, `SourceRetiredErrorBody`.
 */
export type ErrorBody<Code extends string = string> = {
  error: Code;
  message: string;
};

/** Members an error answer carries after `error` and `message`, in order (conflict, source_retired). */
export type ErrorExtra = Readonly<Record<string, GoJsonValue>>;

/** The one writer of the error envelope: `error`, `message`, then the `extra` members in their order. */
export function errorEnvelope<Code extends string>(
  code: Code,
  message: string,
  extra?: ErrorExtra,
): ErrorBody<Code> & ErrorExtra {
  return { error: code, message, ...extra };
}

/** Fixed messages of the generic failures (§3.0.3, §6): the detailed cause is only logged. */
export const GENERIC_ERROR_MESSAGES = {
  service_unavailable: 'Sync service is shutting down',
  connect_failed: 'Failed to resolve connect lifecycle',
  push_session_create_failed: 'Failed to create push session',
  push_chunk_failed: 'Failed to upload push chunk',
  push_session_commit_failed: 'Failed to commit push session',
  push_session_delete_failed: 'Failed to delete push session',
  committed_bundle_rows_failed: 'Failed to fetch committed bundle rows',
  pull_failed: 'Failed to process pull',
  bundle_change_watch_forbidden: 'Bundle change watch is not enabled for this client',
  bundle_change_watch_disabled: 'Bundle change watch is disabled',
  bundle_change_watch_failed: 'Failed to subscribe bundle change watch',
  snapshot_session_create_failed: 'Failed to create snapshot session',
  snapshot_chunk_failed: 'Failed to get snapshot chunk',
  snapshot_session_delete_failed: 'Failed to delete snapshot session',
  status_failed: 'Failed to get service status',
  health_failed: 'Failed to get health status',
  capabilities_failed: 'Failed to get capabilities',
} as const satisfies Partial<Record<KnownErrorCode, string>>;

/** The fixed message of a generic failure code, if the table has one. */
export function genericErrorMessage(code: KnownErrorCode): string | undefined {
  return (GENERIC_ERROR_MESSAGES as Partial<Record<KnownErrorCode, string>>)[code];
}
