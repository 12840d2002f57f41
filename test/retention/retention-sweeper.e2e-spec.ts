import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { OversyncScopeService, OversyncSessionSweeper } from '@oversync/nestjs';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { SyncHttp } from '../support/sync-http.js';
import { readWholeSnapshot } from '../snapshot/snapshot-fixture.js';

const user = (id: string, name: string) => ({
  schema: 'business',
  table: 'users',
  key: { id },
  op: 'INSERT',
  base_row_version: 0,
  payload: { id, name, email: `${name}@example.com` },
});

describe('retention and pruning (spec §4.12) with a window of 2 bundles', () => {
  let t: TestApp;
  let db: pg.Client;
  let device: SyncHttp;
  let rebuilt: SyncHttp;
  const floor = async (userId: string) =>
    (
      await db.query<{ floor: number; bundles: number }>(
        `SELECT us.retained_bundle_floor::int AS floor, (SELECT count(*)::int FROM sync.bundle_log bl
          WHERE bl.user_pk = us.user_pk) AS bundles
         FROM sync.user_state us WHERE us.user_id = $1`,
        [userId],
      )
    ).rows[0];

  beforeAll(async () => {
    t = await startTestApp({ env: { OVERSYNC_RETAINED_BUNDLES_PER_USER: '2' } });
    const token = await t.signIn('pia');
    device = new SyncHttp(t.baseUrl, token, 'pia-1');
    rebuilt = new SyncHttp(t.baseUrl, token, 'pia-2');
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
    await device.connect(false);
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  it('prunes history on push commit and answers history_pruned below the floor, also for a pull from 0', async () => {
    for (let i = 1; i <= 2; i++) expect((await device.push(i, [user(randomUUID(), `u${i}`)])).status).toBe(200);
    const started = (await device.post('/sync/snapshot-sessions').expect(200)).body.snapshot_id as string;
    for (let i = 3; i <= 4; i++) expect((await device.push(i, [user(randomUUID(), `u${i}`)])).status).toBe(200);
    expect(await floor('pia')).toEqual({ floor: 2, bundles: 2 });
    const pruned = {
      error: 'history_pruned',
      message: 'requested checkpoint 1 is older than retained history floor 2 for user pia',
    };
    expect((await device.get('/sync/pull?after_bundle_seq=1').expect(409)).body).toEqual(pruned);
    expect((await device.get('/sync/pull?after_bundle_seq=0').expect(409)).body.error).toBe('history_pruned');
    // a checkpoint equal to the floor is served (the reference refuses it, spec §8 item 5; convergence fuzz seed 29)
    expect(
      (await device.get('/sync/pull?after_bundle_seq=2').expect(200)).body.bundles.map(
        (b: { bundle_seq: number }) => b.bundle_seq,
      ),
    ).toEqual([3, 4]);
    expect((await device.get('/sync/committed-bundles/2/rows').expect(409)).body.error).toBe('history_pruned');
    const retained = await device.get('/sync/pull?after_bundle_seq=3').expect(200);
    expect(retained.body.bundles.map((b: { bundle_seq: number }) => b.bundle_seq)).toEqual([4]);
    // a session created before the prune stays readable (its rows are materialised)
    const kept = await device.get(`/sync/snapshot-sessions/${started}`).expect(200);
    expect(kept.body).toMatchObject({ snapshot_bundle_seq: 2, next_row_ordinal: 2, has_more: false });
  });

  it('recovers through a snapshot, then pulls from the snapshot sequence', async () => {
    const snapshot = await readWholeSnapshot(rebuilt, 1000, {});
    expect(snapshot).toMatchObject({ snapshotBundleSeq: 4, rowCount: 4 });
    expect((await rebuilt.get(`/sync/pull?after_bundle_seq=${snapshot.snapshotBundleSeq}`).expect(200)).body).toEqual({
      stable_bundle_seq: 4,
      bundles: [],
      has_more: false,
    });
  });

  it('prunes on server-originated writes too', async () => {
    const scopes = t.app.get(OversyncScopeService);
    for (let i = 0; i < 3; i++) {
      await scopes.execWrite('pia', { writerId: 'backend' }, (m) =>
        m.query(`INSERT INTO business.categories (id, name) VALUES ($1, 'c')`, [randomUUID()]),
      );
    }
    expect(await floor('pia')).toEqual({ floor: 5, bundles: 2 });
    expect((await rebuilt.get('/sync/pull?after_bundle_seq=4').expect(409)).body.message).toBe(
      'requested checkpoint 4 is older than retained history floor 5 for user pia',
    );
  });
});

describe('background session sweeper (spec §4.13, §8.8, §8.9)', () => {
  let t: TestApp;
  let second: TestApp;
  let db: pg.Client;
  let device: SyncHttp;

  beforeAll(async () => {
    t = await startTestApp();
    second = await startTestApp({ db: t.db });
    device = new SyncHttp(t.baseUrl, await t.signIn('sam'), 'sam-1');
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
    await device.connect(false);
    expect((await device.push(1, [user(randomUUID(), 's')])).status).toBe(200);
  });
  afterAll(async () => {
    await db.end();
    await second.close({ keepDatabase: true });
    await t.close();
  });

  const expireAll = () =>
    db.query(`UPDATE sync.snapshot_sessions SET expires_at = now() - interval '1 second';
              UPDATE sync.push_sessions SET expires_at = now() - interval '1 second'`);
  const count = async (table: string) => Number((await db.query(`SELECT count(*) AS n FROM sync.${table}`)).rows[0].n);

  it('removes expired sessions and their rows; their ids then answer not found', async () => {
    const snapshotId = (await device.post('/sync/snapshot-sessions').expect(200)).body.snapshot_id as string;
    const pushId = (await device.post('/sync/push-sessions', { source_bundle_id: 2, planned_row_count: 1 }).expect(200))
      .body.push_id as string;
    const live = (await device.post('/sync/snapshot-sessions').expect(200)).body.snapshot_id as string;
    const blocksOf = async (id: string) =>
      Number(
        (await db.query('SELECT count(*) AS n FROM sync.snapshot_row_blocks WHERE snapshot_id = $1', [id])).rows[0].n,
      );
    // the session's one row is stored before the sweep
    expect(await blocksOf(snapshotId)).toBe(1);
    await db.query(
      `UPDATE sync.snapshot_sessions SET expires_at = now() - interval '1 second' WHERE snapshot_id = $1`,
      [snapshotId],
    );
    await db.query(`UPDATE sync.push_sessions SET expires_at = now() - interval '1 second' WHERE push_id = $1`, [
      pushId,
    ]);

    const swept = await t.app.get(OversyncSessionSweeper).sweep();
    expect(swept).toEqual({ skipped: false, pushSessions: 1, snapshotSessions: 1, initializationLeases: 0 });
    expect((await device.get(`/sync/snapshot-sessions/${snapshotId}`).expect(404)).body.error).toBe(
      'snapshot_session_not_found',
    );
    expect((await device.post(`/sync/push-sessions/${pushId}/commit`).expect(404)).body.error).toBe(
      'push_session_not_found',
    );
    await device.get(`/sync/snapshot-sessions/${live}`).expect(200);
    expect(await blocksOf(snapshotId)).toBe(0);
    expect(await blocksOf(live)).toBe(1);
  });

  it('resets a lapsed initialization lease', async () => {
    const other = new SyncHttp(t.baseUrl, await t.signIn('lea'), 'lea-1');
    expect((await other.connect(true)).body.resolution).toBe('initialize_local');
    await db.query(`UPDATE sync.scope_state SET lease_expires_at = now() - interval '1 second' WHERE state_code = 1`);
    expect((await t.app.get(OversyncSessionSweeper).sweep()).initializationLeases).toBe(1);
    const { rows } = await db.query(
      `SELECT ss.state_code FROM sync.scope_state ss JOIN sync.user_state us USING (user_pk) WHERE us.user_id = 'lea'`,
    );
    expect(rows).toEqual([{ state_code: 0 }]);
  });

  it('is harmless when two instances sweep at once', async () => {
    for (let i = 0; i < 30; i++) await device.post('/sync/snapshot-sessions').expect(200);
    await expireAll();
    const sessions = await count('snapshot_sessions');
    const results = await Promise.all([
      t.app.get(OversyncSessionSweeper).sweep(),
      second.app.get(OversyncSessionSweeper).sweep(),
    ]);
    // one instance sweeps, the other skips the round (or finds nothing left); a later round finishes any rest
    const again = await second.app.get(OversyncSessionSweeper).sweep();
    expect([...results, again].reduce((n, r) => n + r.snapshotSessions, 0)).toBe(sessions);
    expect(await count('snapshot_sessions')).toBe(0);
    expect(await count('snapshot_session_rows')).toBe(0);
    expect(await count('snapshot_row_blocks')).toBe(0);
  });
});
