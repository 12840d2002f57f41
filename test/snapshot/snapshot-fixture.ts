import { expect } from '@jest/globals';
import type pg from 'pg';
import type { SyncHttp } from '../support/sync-http.js';

export interface SnapshotRowBody {
  schema: string;
  table: string;
  key: Record<string, string>;
  row_version: number;
  payload: Record<string, unknown>;
}

export interface WholeSnapshot {
  snapshotId: string;
  snapshotBundleSeq: number;
  rowCount: number;
  rows: SnapshotRowBody[];
  chunks: number;
}

/** Creates a snapshot session and pages through all of it, checking the paging contract of §3.10 on every chunk. */
export async function readWholeSnapshot(http: SyncHttp, maxRows = 1000, body?: unknown): Promise<WholeSnapshot> {
  const created = await http.post('/sync/snapshot-sessions', body).expect(200);
  const {
    snapshot_id: snapshotId,
    snapshot_bundle_seq: snapshotBundleSeq,
    row_count: rowCount,
  } = created.body as {
    snapshot_id: string;
    snapshot_bundle_seq: number;
    row_count: number;
  };
  const rows: SnapshotRowBody[] = [];
  let chunks = 0;
  for (let after = 0; ;) {
    const chunk = await http
      .get(`/sync/snapshot-sessions/${snapshotId}?after_row_ordinal=${after}&max_rows=${maxRows}`)
      .expect(200);
    chunks++;
    expect(chunk.body).toMatchObject({ snapshot_id: snapshotId, snapshot_bundle_seq: snapshotBundleSeq });
    const page = chunk.body.rows as SnapshotRowBody[];
    expect(chunk.body.next_row_ordinal).toBe(after + page.length);
    rows.push(...page);
    after = chunk.body.next_row_ordinal as number;
    if (!chunk.body.has_more) break;
    expect(page).toHaveLength(Math.min(maxRows, 5000));
  }
  expect(rows).toHaveLength(rowCount);
  return { snapshotId, snapshotBundleSeq, rowCount, rows, chunks };
}

/** `schema.table/key` → payload of every live business row of `userId`, straight from PostgreSQL. */
export async function liveBusinessRows(
  db: pg.Client,
  userId: string,
  tables: readonly string[],
): Promise<Map<string, Record<string, unknown>>> {
  const live = new Map<string, Record<string, unknown>>();
  for (const table of tables) {
    const { rows } = await db.query<{ id: string; payload: Record<string, unknown> }>(
      `SELECT id::text AS id, to_jsonb(t) - '_sync_scope_id' AS payload FROM business.${table} t
        WHERE _sync_scope_id = $1`,
      [userId],
    );
    for (const row of rows) live.set(`business.${table}/${row.id}`, row.payload);
  }
  return live;
}

/** The same map built from snapshot rows. */
export function snapshotRowMap(rows: readonly SnapshotRowBody[]): Map<string, Record<string, unknown>> {
  return new Map(rows.map((row) => [`${row.schema}.${row.table}/${row.key.id}`, row.payload]));
}

/** `schema.table/key` → row_version of the user's live rows in sync.row_state. */
export async function liveRowVersions(db: pg.Client, userId: string): Promise<Map<string, number>> {
  const { rows } = await db.query<{ name: string; key: string; bundle_seq: string }>(
    `SELECT tc.schema_name || '.' || tc.table_name AS name,
            CASE tc.sync_key_kind WHEN 1 THEN encode(rs.key_bytes, 'hex')::uuid::text ELSE convert_from(rs.key_bytes,
              'UTF8') END AS key,
            rs.bundle_seq
       FROM sync.row_state rs JOIN sync.table_catalog tc ON tc.table_id = rs.table_id JOIN sync.user_state us
         ON us.user_pk = rs.user_pk
      WHERE us.user_id = $1 AND NOT rs.deleted`,
    [userId],
  );
  return new Map(rows.map((row) => [`${row.name}/${row.key}`, Number(row.bundle_seq)]));
}
