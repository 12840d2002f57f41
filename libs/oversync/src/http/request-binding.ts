import { parseGoInt64, type KnownErrorCode } from '@oversync/protocol';
import { OversyncError } from '../errors/oversync.error.js';
import { isExactObject, MAX_REQUEST_JSON_DEPTH, parseExactJson, type ExactObject } from '@oversync/protocol';
import type { RequestWithSyncBody } from './sync-body.middleware.js';

/**
 * The raw request body, or the envelope error for a body the module could not read (read onto Node's request: Fastify's
 * `request.raw`).
 */
export function requestBody(request: RequestWithSyncBody & { raw?: RequestWithSyncBody }): string {
  const req = request.raw ?? request;
  if (req.oversyncBodyError === 'too_large')
    throw new OversyncError('request_too_large', 'request body exceeds the configured limit');
  if (req.oversyncBodyError === 'aborted') throw new OversyncError('invalid_request', 'request body could not be read');
  return req.oversyncBody ?? '';
}

/** Parses a JSON object body; any syntax error, trailing data (§8.19) or non-object is `parseMessage`. */
export function bodyObject(
  req: RequestWithSyncBody,
  parseMessage: string,
  code: KnownErrorCode = 'invalid_request',
): ExactObject {
  const text = requestBody(req);
  try {
    const value = parseExactJson(text, MAX_REQUEST_JSON_DEPTH);
    if (isExactObject(value)) return value;
  } catch {
    // fall through: one message for every unparseable body, as the reference
  }
  throw new OversyncError(code, parseMessage);
}

/**
 * Go strconv.ParseInt(s, 10, 64) on a query/path value: optional sign, digits only, no spaces.
 * Returns null when absent or empty, undefined when invalid.
 */
export function parseInt64Param(value: unknown): bigint | null | undefined {
  if (value === undefined || value === '') return null;
  return typeof value === 'string' ? parseGoInt64(value) : undefined;
}

/** The single value of a query parameter (the first when repeated, like Go's Query().Get). */
export function queryValue(value: unknown): string | undefined {
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : undefined;
  return typeof value === 'string' ? value : undefined;
}
