import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { compactGoJson, EncodedJson, encodeGoJson, quoteGoJsonString } from '@oversync/protocol';
import { SNAPSHOT_CHUNK_SQL } from '../../libs/oversync/src/snapshot/snapshot-session.service.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { SyncHttp, userInsertRow } from '../support/sync-http.js';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Actual Rows'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

// A snapshot chunk reads a bounded range of the primary key (user_pk, snapshot_id, first_ordinal) of
// the session's row blocks: the blocks the plan touches are those covering the chunk, wherever the
// chunk is and however large the session (no timing here). The bytes must be those of the per-row
// form (schema, table, key, row_version, compacted payload) built here from each live row's committed
// bundle row, independently of the snapshot's own storage.
describe('snapshot chunk read: the covering blocks by a bounded primary-key range at any position, same bytes', () => {
  let t: TestApp;
  let db: pg.Client;
  let device: SyncHttp;
  let snapshotId: string;
  let userPk: string;
  let rowCount: number;
  let prefixParams: [number[], string[], number[]];

  beforeAll(async () => {
    t = await startTestApp();
    device = new SyncHttp(t.baseUrl, await t.signIn('planner'), 'planner-device');
    await device.connect(false);
    for (let bundle = 1; bundle <= 4; bundle++) {
      const rows = Array.from({ length: 5000 }, (_, i) => userInsertRow(randomUUID(), { name: `u${bundle}-${i}` }));
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
    userPk = (await db.query<{ user_pk: string }>(`SELECT user_pk FROM sync.user_state WHERE user_id = 'planner'`))
      .rows[0]!.user_pk;
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
          `{"schema":${quoteGoJsonString(c.schema_name)},"table":${quoteGoJsonString(c.table_name)},"key":{` +
          `${quoteGoJsonString(c.sync_key_column)}:`,
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
      [userPk, snapshotId, after, Math.min(after + max, rowCount)],
    );
    return nodes(rows[0]!['QUERY PLAN'][0]!.Plan);
  }

  /** The blocks holding some ordinal of (after, after + max]. */
  async function coveringBlocks(after: number, max: number): Promise<number> {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM sync.snapshot_row_blocks
        WHERE snapshot_id = $1 AND first_ordinal <= $3 AND first_ordinal + cardinality(row_lengths) - 1 > $2`,
      [snapshotId, after, after + max],
    );
    return rows[0]!.n;
  }

  it.each([
    ['fresh statistics', false],
    ['after ANALYZE', true],
  ])('touches only the blocks covering the chunk through snapshot_row_blocks_pkey (%s)', async (_label, analyze) => {
    expect(rowCount).toBe(20_300);
    if (analyze) {
      // statistics of a server holding other sessions (a table of a few blocks is read whole, whatever the plan)
      const other = randomUUID();
      await db.query(
        `INSERT INTO sync.snapshot_sessions (snapshot_id, user_pk, snapshot_bundle_seq, row_count, expires_at)
         VALUES ($1, $2, 1, 5000000, now() + interval '1 hour')`,
        [other, userPk],
      );
      await db.query(
        `INSERT INTO sync.snapshot_row_blocks (user_pk, snapshot_id, first_ordinal, row_lengths, payload_bytes,
          rows_text)
         SELECT $1, $2, g * 1000 + 1, '{2}', 2, '{}' FROM generate_series(0, 4999) g`,
        [userPk, other],
      );
      await db.query('VACUUM ANALYZE sync.snapshot_row_blocks');
    }
    for (const [after, max] of [
      [0, 1000],
      [10_000, 1000],
      [10_500, 5000],
      [19_800, 1000],
    ] as const) {
      const plan = await planOf(after, max);
      expect(plan.some((node) => node['Node Type'] === 'Seq Scan')).toBe(false);
      const index = plan.find((node) => node['Index Name'] === 'snapshot_row_blocks_pkey');
      expect(index).toBeDefined();
      expect(index!['Index Cond']).toMatch(/first_ordinal > /);
      expect(index!['Index Cond']).toMatch(/first_ordinal <= /);
      // the index yields the blocks that cover the chunk (at most one more, dropped by the filter),
      // not the rest of the session
      const covering = await coveringBlocks(after, max);
      expect(covering).toBeLessThanOrEqual(Math.ceil(max / 1000) + 1);
      expect(index!['Actual Rows']).toBe(covering);
      expect(index!['Actual Rows']! + (index!['Rows Removed by Filter'] ?? 0)).toBeLessThanOrEqual(covering + 1);
    }
  });

  it('answers exactly the bytes of the per-row form, at the start, the middle and the end, streamed or not', async () => {
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
      // streamed (at least SNAPSHOT_STREAM_MIN_ROWS rows): cut blocks at both ends, then whole blocks only
      [1_500, 3_000],
      [12_000, 2_000],
      [19_900, 5000],
      [20_300, 10],
      [20_299, 1],
    ] as const) {
      const res = await device
        .get(`/sync/snapshot-sessions/${snapshotId}?after_row_ordinal=${after}&max_rows=${max}`)
        .expect(200);
      // the live rows in snapshot order (table_id, key bytes): each key's latest bundle row, unless a delete
      const stored = await db.query<{ table_id: number; key_hex: string; bundle_seq: string; payload: string }>(
        `SELECT table_id, encode(key_bytes, 'hex') AS key_hex, bundle_seq, payload FROM (
           SELECT DISTINCT ON (br.table_id, br.key_bytes) br.table_id, br.key_bytes, br.bundle_seq, br.op_code,
             br.payload_wire::text AS payload
             FROM sync.bundle_rows br WHERE br.user_pk = $1 ORDER BY br.table_id, br.key_bytes,
               br.bundle_seq DESC) latest
          WHERE op_code <> 3 ORDER BY table_id, key_bytes OFFSET $2 LIMIT $3`,
        [userPk, after, max + 1],
      );
      const page = stored.rows.slice(0, max);
      const expected = encodeGoJson({
        snapshot_id: snapshotId,
        snapshot_bundle_seq: BigInt(seq),
        rows: page.map(
          (r) =>
            new EncodedJson(
              `${catalog.get(r.table_id)}"${uuid(r.key_hex)}"},"row_version":${r.bundle_seq},"payload":` +
                `${compactGoJson(r.payload)}}`,
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
