import { Injectable, type PipeTransform } from '@nestjs/common';
import { isCanonicalUuid } from '@oversync/protocol';
import { OversyncError } from '../errors/oversync.error.js';

/**
 * The one check of every session id in a path (`push_id`, `snapshot_id`): canonical dashed lower-case
 * UUID text or 404 with the envelope, before any SQL. PostgreSQL's uuid input (and Go's uuid.Parse)
 * accept more spellings — braces, `urn:uuid:`, upper case, no dashes — and the cast fails on others
 * a lenient check lets through (`{…` without its closing brace was a 500, issue 18).
 */
@Injectable()
export class SessionIdPipe implements PipeTransform<unknown, string> {
  constructor(
    private readonly code: 'push_session_not_found' | 'snapshot_session_not_found',
    private readonly what: string,
  ) {}

  transform(value: unknown): string {
    if (typeof value === 'string' && isCanonicalUuid(value)) return value;
    throw new OversyncError(this.code, `${this.what} ${String(value)} was not found`);
  }
}

export const PUSH_ID = new SessionIdPipe('push_session_not_found', 'push session');
export const SNAPSHOT_ID = new SessionIdPipe('snapshot_session_not_found', 'snapshot session');
