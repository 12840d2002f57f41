import { UnsupportedSchemaError } from './unsupported-schema.error.js';

/**
 * Prefixes an error with `<context>: `, like Go's `fmt.Errorf("%s: %w")`: the original stays reachable
 * as `cause` (so `sqlState` still finds the driver's SQLSTATE) and an UnsupportedSchemaError stays one.
 */
export function withErrorContext(context: string, error: unknown): Error {
  const message = `${context}: ${error instanceof Error ? error.message : String(error)}`;
  return error instanceof UnsupportedSchemaError
    ? new UnsupportedSchemaError(message, { cause: error })
    : new Error(message, { cause: error });
}
