import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { compactGoJson, EncodedJson, encodeGoJson, quoteGoJsonString } from '@oversync/protocol';
import { SNAPSHOT_CHUNK_SQL } from '../../libs/oversync/src/snapshot/snapshot-session.service.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { SyncHttp } from '../support/sync-http.js';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

// A snapshot chunk reads a bounded range of the primary key (snapshot_id, row_ordinal): the rows the
// plan touches are the chunk's, wherever the chunk is and however large the session (no timing here).
// Its rows are built by PostgreSQL as one text: the bytes must be those of the per-row form
// (schema, table, key, row_version, compacted payload) built here from the stored rows.
describe('snapshot chunk read: a bounded primary-key range at any position, same bytes', () => {
  let t: TestApp;
  let db: pg.Client;
  let device: SyncHttp;
  let snapshotId: string;
  let rowCount: number;
  let prefixParams: [number[], string[], number[]];

  beforeAll(async () => {
    t = await startTestApp();
    device = new SyncHttp(t.baseUrl, await t.signIn('planner'), 'planner-device');
    await device.connect(false);
    for (let bundle = 1; bundle <= 4; bundle++) {
      const rows = Array.from({ length: 5000 }, (_, i) => {
        const id = randomUUID();
        return {
          schema: 'business',
          table: 'users',
          key: { id },
          op: 'INSERT',
          base_row_version: 0,
          payload: { id, name: `u${bundle}-${i}`, email: 'e' },
        };
      });
      expect((await device.push(bundle, rows)).status).toBe(200);
    }
    const typed = Array.from({ length: 300 }, (_, i) => {
      const id = randomUUID();
      return {
        schema: 'business',
        table: 'typed_rows',
        key: { id },
        op: 'INSERT',
        base_row_version: 0,
        payload: {
          id,
          name: `t${i} <b>&"q", x: y\u2028 ü 😀 \\ ${' '.repeat(i % 3)}`,
          note: i % 2 ? null : 'a, b: c',
          count_value: i * 1000003,
          enabled_flag: 1,
          rating: i / 3,
          data: Buffer.from(`d${i}`).toString('base64'),
          created_at: '2026-01-02T03:04:05.5Z',
        },
      };
    });
    expect((await device.push(5, typed)).status).toBe(200);
    const created = await device.post('/sync/snapshot-sessions', {}).expect(200);
    snapshotId = (created.body as { snapshot_id: string }).snapshot_id;
    rowCount = (created.body as { row_count: number }).row_count;
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
    const catalog = await db.query<{
      table_id: number;
      schema_name: string;
      table_name: string;
      sync_key_column: string;
      sync_key_kind: number;
    }>('SELECT * FROM sync.table_catalog ORDER BY table_id');
    prefixParams = [
      catalog.rows.map((c) => c.table_id),
      catalog.rows.map(
        (c) =>
          `{"schema":${quoteGoJsonString(c.schema_name)},"table":${quoteGoJsonString(c.table_name)},"key":{${quoteGoJsonString(c.sync_key_column)}:`,
      ),
      catalog.rows.map((c) => c.sync_key_kind),
    ];
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  async function planOf(after: number, max: number): Promise<PlanNode[]> {
    const { rows } = await db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
      `EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${SNAPSHOT_CHUNK_SQL}`,
      [snapshotId, after, after + max + 1, after + max, ...prefixParams],
    );
    return nodes(rows[0]!['QUERY PLAN'][0]!.Plan);
  }

  it.each([
    ['fresh statistics', false],
    ['after ANALYZE', true],
  ])('touches only the chunk rows through snapshot_session_rows_pkey (%s)', async (_label, analyze) => {
    expect(rowCount).toBe(20_300);
    // VACUUM too: rows whose payload Node canonicalised were rewritten at create, and a bitmap scan
    // counts their dead versions until (auto)vacuum has run
    if (analyze) await db.query('VACUUM ANALYZE sync.snapshot_session_rows');
    for (const after of [0, 10_000, 19_800]) {
      const plan = await planOf(after, 1000);
      expect(plan.some((node) => node['Node Type'] === 'Seq Scan')).toBe(false);
      const index = plan.find((node) => node['Index Name'] === 'snapshot_session_rows_pkey');
      expect(index).toBeDefined();
      expect(index!['Index Cond']).toMatch(/row_ordinal > /);
      expect(index!['Index Cond']).toMatch(/row_ordinal <= /);
      // the index yields the chunk (plus the has_more row), not the rest of the session
      expect(index!['Actual Rows']).toBe(Math.min(1001, rowCount - after));
    }
  });

  it('answers exactly the bytes of the per-row form, at the start, the middle and the end', async () => {
    const catalog = new Map(prefixParams[0].map((id, i) => [id, prefixParams[1][i]!]));
    const uuid = (hex: string) =>
      `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    const seq = (
      await db.query<{ s: string }>(
        'SELECT snapshot_bundle_seq AS s FROM sync.snapshot_sessions WHERE snapshot_id = $1',
        [snapshotId],
      )
    ).rows[0]!.s;
    for (const [after, max] of [
      [0, 1000],
      [7_000, 777],
      [19_900, 5000],
      [20_300, 10],
      [20_299, 1],
    ] as const) {
      const res = await device
        .get(`/sync/snapshot-sessions/${snapshotId}?after_row_ordinal=${after}&max_rows=${max}`)
        .expect(200);
      const stored = await db.query<{ table_id: number; key_hex: string; bundle_seq: string; payload: string }>(
        `SELECT table_id, encode(key_bytes, 'hex') AS key_hex, bundle_seq, payload_wire::text AS payload FROM sync.snapshot_session_rows
          WHERE snapshot_id = $1 AND row_ordinal > $2 ORDER BY row_ordinal LIMIT $3`,
        [snapshotId, after, max + 1],
      );
      const page = stored.rows.slice(0, max);
      const expected = encodeGoJson({
        snapshot_id: snapshotId,
        snapshot_bundle_seq: BigInt(seq),
        rows: page.map(
          (r) =>
            new EncodedJson(
              `${catalog.get(r.table_id)}"${uuid(r.key_hex)}"},"row_version":${r.bundle_seq},"payload":${compactGoJson(r.payload)}}`,
            ),
        ),
        next_row_ordinal: BigInt(after + page.length),
        has_more: stored.rows.length > max,
      });
      expect(res.text).toBe(`${expected}\n`);
    }
    expect(
      (await device.get(`/sync/snapshot-sessions/${snapshotId}?after_row_ordinal=9223372036854775807`).expect(200))
        .body,
    ).toMatchObject({ rows: [], has_more: false });
  });
});
