import { randomUUID } from 'node:crypto';
import type { RegisteredTable } from '../../libs/oversync/src/schema/registered-table.js';
import { uuidV7 } from '../../apps/client-node/dist/uuid-v7.js';
import { userInsertRow } from '../support/wire-rows.js';
import { httpCall } from './http-client.js';

/** Raw protocol calls for the benchmark (what any device does over HTTP). */
export class SyncApi {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
    readonly sourceId: string,
  ) {}

  async call(method: string, path: string, body?: unknown): Promise<string> {
    const { status, text } = await httpCall(
      this.baseUrl + path,
      method,
      {
        authorization: `Bearer ${this.token}`,
        'oversync-source-id': this.sourceId,
        'content-type': 'application/json',
      },
      body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    );
    if (status < 200 || status > 299) throw new Error(`${method} ${path}: ${status} ${text.slice(0, 300)}`);
    return text;
  }

  /** create + chunks of bodies encoded beforehand (`userChunkBodies`), with no commit; returns the push id */
  async stage(sourceBundleId: number, plannedRowCount: number, bodies: string[]): Promise<string> {
    const created = JSON.parse(
      await this.call('POST', '/sync/push-sessions', {
        source_bundle_id: sourceBundleId,
        planned_row_count: plannedRowCount,
      }),
    ) as { push_id: string };
    for (const body of bodies) await this.call('POST', `/sync/push-sessions/${created.push_id}/chunks`, body);
    return created.push_id;
  }

  /** create + chunks + commit; returns timings in ms (whole, and per request kind) and the commit header */
  async push(sourceBundleId: number, rows: unknown[], chunkSize = 5000) {
    const t0 = performance.now();
    const created = JSON.parse(
      await this.call('POST', '/sync/push-sessions', {
        source_bundle_id: sourceBundleId,
        planned_row_count: rows.length,
      }),
    ) as { push_id: string };
    const tCreated = performance.now();
    for (let start = 0; start < rows.length; start += chunkSize) {
      await this.call('POST', `/sync/push-sessions/${created.push_id}/chunks`, {
        start_row_ordinal: start,
        rows: rows.slice(start, start + chunkSize),
      });
    }
    const t1 = performance.now();
    const commit = JSON.parse(await this.call('POST', `/sync/push-sessions/${created.push_id}/commit`)) as {
      bundle_seq: number;
      bundle_hash: string;
    };
    const t2 = performance.now();
    return { totalMs: t2 - t0, createMs: tCreated - t0, chunksMs: t1 - tCreated, commitMs: t2 - t1, commit };
  }
}

/** The chunk bodies of a push of `count` fresh `business.users` rows, `chunkSize` a chunk, encoded beforehand. */
export function userChunkBodies(count: number, chunkSize = 5000): string[] {
  const rows = userRows(count);
  const bodies: string[] = [];
  for (let start = 0; start < count; start += chunkSize)
    bodies.push(JSON.stringify({ start_row_ordinal: start, rows: rows.slice(start, start + chunkSize) }));
  return bodies;
}

/** `business.users` as the server registers it (table id 1), for the in-process chunk parse probes. */
export const usersTable: RegisteredTable = {
  tableId: 1,
  schema: 'business',
  table: 'users',
  name: 'business.users',
  keyColumn: 'id',
  keyKind: 1,
  columnTypes: new Map([
    ['id', 'uuid'],
    ['name', 'text'],
    ['email', 'text'],
    ['created_at', 'timestamptz'],
    ['updated_at', 'timestamptz'],
    ['_sync_scope_id', 'text'],
  ]),
};

/** `userRows` with time-ordered keys (the client's `uuidV7`): each batch's keys sort after every earlier one's. */
export function timeOrderedUserRows(count: number): ReturnType<typeof userRows> {
  return userRows(count).map((row) => {
    const id = uuidV7();
    return { ...row, key: { id }, payload: { ...row.payload, id } };
  });
}

/** `business.users` rows as the workload: id uuid, name, email, created_at, updated_at. */
export function userRows(count: number): Array<{
  schema: string;
  table: string;
  key: { id: string };
  op: string;
  base_row_version: number;
  payload: Record<string, string>;
}> {
  const now = new Date().toISOString();
  return Array.from({ length: count }, (_, i) =>
    userInsertRow(randomUUID(), { name: `User ${i}`, email: `user${i}@example.com`, created_at: now, updated_at: now }),
  );
}
