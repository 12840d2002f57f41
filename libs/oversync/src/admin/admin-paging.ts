import { OversyncError } from '../errors/oversync.error.js';
import { ADMIN_DEFAULT_PAGE, ADMIN_MAX_PAGE } from './oversync-admin.constants.js';

/** A page of an admin list: the items and the cursor of the next page (absent on the last one). */
export interface AdminPage<T> {
  items: T[];
  next_cursor?: string;
}

/** `limit` of a list request: 1…ADMIN_MAX_PAGE, default ADMIN_DEFAULT_PAGE; anything else is a 400. */
export function pageLimit(raw: string | undefined): number {
  if (raw === undefined || raw === '') return ADMIN_DEFAULT_PAGE;
  const limit = /^[0-9]{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(limit >= 1 && limit <= ADMIN_MAX_PAGE))
    throw new OversyncError('invalid_request', `limit must be an integer from 1 to ${ADMIN_MAX_PAGE}`);
  return limit;
}

/**
 * Keyset cursors are opaque to the page: base64url of a JSON array of the last item's sort key.
 * `decodeCursor` gives `fallback` for no cursor and a 400 for one this server did not make.
 */
export function encodeCursor(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeCursor(raw: string | undefined, fallback: readonly string[]): string[] {
  if (raw === undefined || raw === '') return [...fallback];
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    key = null;
  }
  if (!Array.isArray(key) || key.length !== fallback.length || !key.every((part) => typeof part === 'string')) {
    throw new OversyncError('invalid_request', 'cursor is not valid for this list');
  }
  return key as string[];
}

/** A list read with one row more than the page: the extra row says whether a next page exists. */
export function toPage<R, T>(
  rows: readonly R[],
  limit: number,
  item: (row: R) => T,
  key: (row: R) => string[],
): AdminPage<T> {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return rows.length > limit && last
    ? { items: page.map(item), next_cursor: encodeCursor(key(last)) }
    : { items: page.map(item) };
}

const INT64 = /^(0|[1-9][0-9]{0,18})$/;

/** A non-negative int64 from a path or cursor, as text for PostgreSQL; 400 otherwise. */
export function int64Text(raw: string, what: string): string {
  if (!INT64.test(raw) || BigInt(raw) > 9223372036854775807n)
    throw new OversyncError('invalid_request', `${what} must be a non-negative 64-bit integer`);
  return raw;
}
