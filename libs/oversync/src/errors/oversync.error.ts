/**
 * The one exception type of the module: a protocol error code, its HTTP status and message.
 * `extra` members are appended to the `{error, message}` body (conflict, source_retired shapes).
 */
export class OversyncError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'OversyncError';
  }
}

export const badRequest = (code: string, message: string) => new OversyncError(code, 400, message);
export const conflict = (code: string, message: string, extra?: Record<string, unknown>) =>
  new OversyncError(code, 409, message, extra);
export const notFound = (code: string, message: string) => new OversyncError(code, 404, message);
export const forbidden = (code: string, message: string) => new OversyncError(code, 403, message);
export const gone = (code: string, message: string) => new OversyncError(code, 410, message);
export const unavailable = (message: string, code = 'service_unavailable') => new OversyncError(code, 503, message);
