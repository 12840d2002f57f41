import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
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
describe('snapshot chunk read: a bounded primary-key range at any position', () => {
  let t: TestApp;
  let db: pg.Client;
  let snapshotId: string;
  let rowCount: number;

  beforeAll(async () => {
    t = await startTestApp();
    const device = new SyncHttp(t.baseUrl, await t.signIn('planner'), 'planner-device');
    await device.connect(false);
    for (let bundle = 1; bundle <= 4; bundle++) {
      const rows = Array.from({ length: 5000 }, (_, i) => {
        const id = randomUUID();
        return { schema: 'business', table: 'users', key: { id }, op: 'INSERT', base_row_version: 0, payload: { id, name: `u${bundle}-${i}`, email: 'e' } };
      });
      expect((await device.push(bundle, rows)).status).toBe(200);
    }
    const created = await device.post('/sync/snapshot-sessions', {}).expect(200);
    snapshotId = (created.body as { snapshot_id: string }).snapshot_id;
    rowCount = (created.body as { row_count: number }).row_count;
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  async function planOf(after: number, max: number): Promise<PlanNode[]> {
    const { rows } = await db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
      `EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${SNAPSHOT_CHUNK_SQL}`,
      [snapshotId, after, after + max + 1],
    );
    return nodes(rows[0]!['QUERY PLAN'][0]!.Plan);
  }

  it.each([
    ['fresh statistics', false],
    ['after ANALYZE', true],
  ])('touches only the chunk rows through snapshot_session_rows_pkey (%s)', async (_label, analyze) => {
    expect(rowCount).toBe(20_000);
    if (analyze) await db.query('ANALYZE sync.snapshot_session_rows');
    for (const after of [0, 10_000, 19_000]) {
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
});
