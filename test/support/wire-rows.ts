import { randomUUID } from 'node:crypto';

/** A wire row inserting one `business.users` row of the reference app, for push chunks. */
export function userInsertRow(id: string = randomUUID(), payload: Record<string, unknown> = {}) {
  return {
    schema: 'business',
    table: 'users',
    key: { id },
    op: 'INSERT',
    base_row_version: 0,
    payload: { id, name: 'n', email: 'e', ...payload },
  };
}
