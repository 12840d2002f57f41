import {
  errorEnvelope,
  errorStatus,
  GENERIC_ERROR_MESSAGES,
  type ErrorBody,
  type ErrorExtra,
  type KnownErrorCode,
} from '@oversync/protocol';

/**
 * The one exception type of the module: a protocol error code and its message; the HTTP status comes
 * from the protocol's table. `extra` members follow `error` and `message` in the body (conflict,
 * source_retired shapes).
 */
export class OversyncError extends Error {
  readonly status: number;

  constructor(
    readonly code: KnownErrorCode,
    message: string,
    readonly extra?: ErrorExtra,
  ) {
    super(message);
    this.name = 'OversyncError';
    this.status = errorStatus(code);
  }

  /** A generic failure with the protocol's fixed message (`GENERIC_ERROR_MESSAGES`). */
  static generic(code: keyof typeof GENERIC_ERROR_MESSAGES): OversyncError {
    return new OversyncError(code, GENERIC_ERROR_MESSAGES[code]);
  }

  /** The `{"error","message",…}` answer body. */
  get body(): ErrorBody<KnownErrorCode> & ErrorExtra {
    return errorEnvelope(this.code, this.message, this.extra);
  }
}
