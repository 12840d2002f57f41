import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { SyncHttp, userInsertRow } from '../support/sync-http.js';
import { AdminHttp, adminToken } from './admin-fixture.js';

const BUNDLES = 100_000;
const USERS = 20_000;

interface Page<T> {
  items: T[];
  next_cursor?: string;
}

describe('admin console API: bounded keyset pagination at scale', () => {
  let t: TestApp;
  let db: pg.Client;
  let admin: AdminHttp;

  beforeAll(async () => {
    t = await startTestApp();
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
    admin = new AdminHttp(t.baseUrl, await adminToken(t));
    // one real bundle, then 100,000 more generated straight into the sync tables (one row each)
    const device = new SyncHttp(t.baseUrl, await t.signIn('bulk'), 'bulk-device');
    await device.connect(false);
    const id = randomUUID();
    expect((await device.push(1, [userInsertRow(id)])).status).toBe(200);
    await db.query(
      `
      WITH u AS (SELECT user_pk FROM sync.user_state WHERE user_id = 'bulk'),
      b AS (INSERT INTO sync.bundle_log (user_pk, bundle_seq, source_id, source_bundle_id, row_count, byte_count,
        bundle_hash)
            SELECT u.user_pk, g, 'bulk-generator', g, 1, 0, '\\x00' FROM u, generate_series(2, $1::int + 1) g
              RETURNING user_pk, bundle_seq)
      INSERT INTO sync.bundle_rows (user_pk, bundle_seq, row_ordinal, table_id, key_bytes, op_code, payload_wire)
      SELECT b.user_pk, b.bundle_seq, 1, tc.table_id, uuid_send(gen_random_uuid()), 3, NULL
        FROM b, sync.table_catalog tc WHERE tc.table_name = 'users'`,
      [BUNDLES],
    );
    await db.query(`UPDATE sync.user_state SET next_bundle_seq = $1::bigint + 2 WHERE user_id = 'bulk'`, [BUNDLES]);
    await db.query(
      `INSERT INTO sync.user_state (user_id) SELECT 'bulk-user-' || lpad(g::text, 5, '0') FROM generate_series(1,
        $1::int) g`,
      [USERS],
    );
    await db.query('ANALYZE sync.bundle_log, sync.bundle_rows, sync.user_state');
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  it('pages 100,001 bundles of a user newest first in pages of at most 200, without gaps or repeats, to the end', async () => {
    // the newest 5,000, then from a cursor deep in the history down to the first bundle (the walk costs
    // one HTTP round trip per page, so not all 500 pages)
    const walk = async (cursor: string, from: number, maxPages: number) => {
      let expected = from;
      for (let pages = 0; pages < maxPages; pages++) {
        const page = (await admin.get(`users/bulk/bundles?limit=200${cursor ? `&cursor=${cursor}` : ''}`).expect(200))
          .body as Page<{ bundle_seq: string }>;
        expect(page.items.length).toBeLessThanOrEqual(200);
        for (const bundle of page.items) expect(bundle.bundle_seq).toBe(String(expected--));
        if (!page.next_cursor) return { expected, cursor: null };
        cursor = page.next_cursor;
      }
      return { expected, cursor };
    };
    const top = await walk('', BUNDLES + 1, 25);
    expect(top.expected).toBe(BUNDLES + 1 - 5_000);
    const bottom = await walk(Buffer.from(JSON.stringify(['10001'])).toString('base64url'), 10_000, 1000);
    expect(bottom).toEqual({ expected: 0, cursor: null });
  });

  it('refuses pages above the bound and defaults to 50', async () => {
    for (const limit of ['201', '1000', '100000', '-1']) {
      expect((await admin.get(`users/bulk/bundles?limit=${limit}`).expect(400)).body.error).toBe('invalid_request');
    }
    const page = (await admin.get('users/bulk/bundles').expect(200)).body as Page<unknown>;
    expect(page.items).toHaveLength(50);
    const rows = (await admin.get('users/bulk/bundles/50000?limit=200').expect(200)).body as {
      rows: Page<unknown>;
      verification: { verified: boolean };
    };
    expect(rows.rows.items).toHaveLength(1);
  });

  it('answers the deepest page and a bundle in the middle from the index, in one bounded read', async () => {
    const plan =
      await db.query(`EXPLAIN (FORMAT JSON) SELECT bundle_seq FROM sync.bundle_log WHERE user_pk = (SELECT user_pk
        FROM sync.user_state WHERE user_id = 'bulk')
      AND bundle_seq < 3 ORDER BY bundle_seq DESC LIMIT 201`);
    expect(JSON.stringify(plan.rows)).not.toContain('Seq Scan');
    const oldest = (
      await admin
        .get(`users/bulk/bundles?limit=200&cursor=${Buffer.from(JSON.stringify(['3'])).toString('base64url')}`)
        .expect(200)
    ).body as Page<{ bundle_seq: string }>;
    expect(oldest.items.map((b) => b.bundle_seq)).toEqual(['2', '1']);
    expect(oldest.next_cursor).toBeUndefined();
  });

  it('pages 20,000 users by id prefix in bounded pages', async () => {
    let cursor = '';
    let seen = 0;
    let last = '';
    for (;;) {
      const page = (
        await admin.get(`users?prefix=bulk-user-1&limit=200${cursor ? `&cursor=${cursor}` : ''}`).expect(200)
      ).body as Page<{ user_id: string }>;
      expect(page.items.length).toBeLessThanOrEqual(200);
      for (const user of page.items) {
        expect(user.user_id > last && user.user_id.startsWith('bulk-user-1')).toBe(true);
        last = user.user_id;
      }
      seen += page.items.length;
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    expect(seen).toBe(10_000);
    const plan = await db.query(
      `EXPLAIN (FORMAT JSON) SELECT user_id FROM sync.user_state WHERE user_id COLLATE "C" LIKE 'bulk-user-1%'
        AND user_id COLLATE "C" > '' ORDER BY user_id COLLATE "C" LIMIT 201`,
    );
    expect(JSON.stringify(plan.rows)).toContain('user_state_user_id_c_idx');
  });
});
