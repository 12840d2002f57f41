/**
 * A registered table or an existing `sync` schema the server refuses to run on (fail closed).
 * The innermost instance carries exactly the specification's text; context wrappers keep this type
 * (see `withErrorContext`) so callers detect it with `instanceof`, never by message prefix.
 */
export class UnsupportedSchemaError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UnsupportedSchemaError';
  }
}
