import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { EntityManager } from 'typeorm';
import { computeBundleHash, type BundleHashRow } from '@oversync/protocol';
import { OversyncError, OversyncScopeService } from '@oversync/nestjs';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { SyncHttp } from '../support/sync-http.js';

/** What a host service does: write its tables through the exported scope-write API. */
class NoteService {
  constructor(private readonly scopes: OversyncScopeService) {}

  addUser(owner: string, id: string, name: string) {
    return this.scopes.execWrite(owner, { writerId: 'admin-panel' }, (manager: EntityManager) =>
      manager.query('INSERT INTO business.users (id, name, email) VALUES ($1, $2, $3) RETURNING id', [
        id,
        name,
        `${name}@example.com`,
      ]),
    );
  }
}

const rejection = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; status?: number };
  }
  throw new Error('expected a rejection');
};

describe('server-originated writes (spec §4.15)', () => {
  let t: TestApp;
  let db: pg.Client;
  let scopes: OversyncScopeService;
  let notes: NoteService;

  beforeAll(async () => {
    t = await startTestApp();
    scopes = t.app.get(OversyncScopeService);
    notes = new NoteService(scopes);
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  const scopeState = async (user: string) =>
    (
      await db.query<{ state_code: number; by: string | null }>(
        `SELECT ss.state_code, ss.initialized_by_source_id AS by FROM sync.scope_state ss JOIN sync.user_state us
          USING (user_pk) WHERE us.user_id = $1`,
        [user],
      )
    ).rows[0];

  it('auto-initializes the scope and commits a bundle that a device pulls with a valid hash', async () => {
    const id = randomUUID();
    const written = await notes.addUser('dana', id, 'first');
    expect(written.autoInitialized).toBe(true);
    expect(written.result).toEqual([{ id }]);
    expect(written.bundle).toMatchObject({ bundleSeq: '1', sourceId: 'admin-panel', sourceBundleId: '1', rowCount: 1 });
    expect(await scopeState('dana')).toEqual({ state_code: 2, by: 'admin-panel' });

    const device = new SyncHttp(t.baseUrl, await t.signIn('dana'), 'dana-phone');
    expect((await device.connect(false)).body).toEqual({ resolution: 'remote_authoritative' });
    const pulled = await device.get('/sync/pull?after_bundle_seq=0').expect(200);
    const bundle = pulled.body.bundles[0] as { bundle_hash: string; source_id: string; rows: BundleHashRow[] };
    expect(bundle).toMatchObject({
      bundle_seq: 1,
      source_id: 'admin-panel',
      source_bundle_id: 1,
      bundle_hash: written.bundle.bundleHash,
    });
    expect(bundle.rows).toEqual([
      expect.objectContaining({ table: 'users', key: { id }, op: 'INSERT', row_version: 1 }),
    ]);
    expect(computeBundleHash(bundle.rows).bundleHash).toBe(bundle.bundle_hash);

    const second = await notes.addUser('dana', randomUUID(), 'second');
    expect(second.autoInitialized).toBe(false);
    expect(second.bundle).toMatchObject({ bundleSeq: '2', sourceBundleId: '2' });
  });

  it('refuses writes that violate the owner guard and rolls them back', async () => {
    const foreign = randomUUID();
    await notes.addUser('erin', foreign, 'erins');
    const mismatch = await rejection(
      scopes.execWrite('dana', { writerId: 'admin-panel' }, (m) =>
        m.query(`UPDATE business.users SET name = 'stolen' WHERE id = $1`, [foreign]),
      ),
    );
    expect(mismatch.message).toContain(
      'scope mismatch on registered table business.users: actor dana cannot update owner erin',
    );
    const insertForOther = await rejection(
      scopes.execWrite('dana', { writerId: 'admin-panel' }, (m) =>
        m.query(`INSERT INTO business.users (_sync_scope_id, id, name, email) VALUES ('erin', $1, 'x', 'x')`, [
          randomUUID(),
        ]),
      ),
    );
    expect(insertForOther.message).toContain('actor dana cannot write owner erin');
    expect((await db.query(`SELECT name FROM business.users WHERE id = $1`, [foreign])).rows).toEqual([
      { name: 'erins' },
    ]);
    expect(
      (await db.query(`SELECT next_bundle_seq::int AS next FROM sync.user_state WHERE user_id = 'dana'`)).rows,
    ).toEqual([{ next: 3 }]);
  });

  it('validates arguments, reports a write without effects and rolls back everything, including auto-initialization', async () => {
    expect(await rejection(scopes.execWrite(' ', { writerId: 'w' }, async () => 1))).toMatchObject({
      code: 'scope_write_invalid',
      message: 'scope_id is required',
    });
    expect(await rejection(scopes.execWrite('s', { writerId: '' }, async () => 1))).toMatchObject({
      message: 'writer_id is required',
    });
    expect(
      await rejection(scopes.execWrite('s', { writerId: 'w' }, undefined as unknown as () => Promise<number>)),
    ).toMatchObject({ message: 'scope write callback is required' });

    const none = await rejection(
      scopes.execWrite('fay', { writerId: 'importer' }, async (m) => {
        const id = randomUUID();
        await m.query(`INSERT INTO business.users (id, name, email) VALUES ($1, 'tmp', 'tmp')`, [id]);
        await m.query(`DELETE FROM business.users WHERE id = $1`, [id]);
      }),
    );
    expect(none).toBeInstanceOf(OversyncError);
    expect(none).toMatchObject({
      code: 'scope_write_no_captured_changes',
      message: 'scope write for fay via importer produced no visible registered-table effects',
    });
    expect(await scopeState('fay')).toBeUndefined();

    const failing = await rejection(
      scopes.execWrite('fay', { writerId: 'importer' }, async (m) => {
        await m.query(`INSERT INTO business.users (id, name, email) VALUES ($1, 'kept?', 'x')`, [randomUUID()]);
        throw new Error('host failure');
      }),
    );
    expect(failing.message).toBe('host failure');
    expect((await db.query(`SELECT 1 FROM business.users WHERE _sync_scope_id = 'fay'`)).rows).toHaveLength(0);
  });

  it('fails closed while a device initializes the scope, and for a retired writer', async () => {
    const device = new SyncHttp(t.baseUrl, await t.signIn('gus'), 'gus-phone');
    expect((await device.connect(true)).body.resolution).toBe('initialize_local');
    const initializing = await rejection(notes.addUser('gus', randomUUID(), 'g'));
    expect(initializing).toMatchObject({ code: 'scope_initializing' });
    expect(initializing.message).toMatch(/^sync scope for user gus is initializing until \d{4}-/);

    await notes.addUser('hal', randomUUID(), 'h');
    const halDevice = new SyncHttp(t.baseUrl, await t.signIn('hal'), 'admin-panel');
    await halDevice
      .post('/sync/snapshot-sessions', {
        source_replacement: {
          previous_source_id: 'admin-panel',
          new_source_id: 'admin-panel-2',
          reason: 'source_retired',
        },
      })
      .expect(200);
    expect(await rejection(notes.addUser('hal', randomUUID(), 'h2'))).toMatchObject({
      code: 'source_retired',
      message: 'source admin-panel for user hal was retired and replaced by admin-panel-2',
    });
  });

  it('shares the source namespace with devices: a device id used as writer continues its sequence', async () => {
    const device = new SyncHttp(t.baseUrl, await t.signIn('ivy'), 'ivy-phone');
    await device.connect(false);
    const id = randomUUID();
    const row = {
      schema: 'business',
      table: 'users',
      key: { id },
      op: 'INSERT',
      base_row_version: 0,
      payload: { id, name: 'p', email: 'p' },
    };
    expect((await device.push(1, [row])).status).toBe(200);
    const written = await scopes.execWrite('ivy', { writerId: 'ivy-phone' }, (m) =>
      m.query(`INSERT INTO business.categories (id, name) VALUES ($1, 'c')`, [randomUUID()]),
    );
    expect(written.bundle).toMatchObject({ bundleSeq: '2', sourceId: 'ivy-phone', sourceBundleId: '2' });
    await device
      .post('/sync/push-sessions', { source_bundle_id: 2, planned_row_count: 1 })
      .expect(200)
      .then((r) => expect(r.body.status).toBe('already_committed'));
  });

  it('withinSyncBundle commits under an explicit next source_bundle_id and allows a write without effects', async () => {
    await notes.addUser('jo', randomUUID(), 'j');
    const out = await rejection(
      scopes.withinSyncBundle({ userId: 'jo' }, { sourceId: 'batch', sourceBundleId: 2 }, async () => undefined),
    );
    expect(out).toMatchObject({
      code: 'source_sequence_out_of_order',
      message: 'source batch for user jo expected next source_bundle_id 1, got 2',
    });
    const empty = await scopes.withinSyncBundle({ userId: 'jo' }, { sourceId: 'batch', sourceBundleId: 1 }, async (m) =>
      m.query('SELECT 1 AS one'),
    );
    expect(empty).toEqual({ bundle: null, result: [{ one: 1 }] });
    const written = await scopes.withinSyncBundle({ userId: 'jo' }, { sourceId: 'batch', sourceBundleId: 1n }, (m) =>
      m.query(`INSERT INTO business.categories (id, name) VALUES ($1, 'c')`, [randomUUID()]),
    );
    expect(written.bundle).toMatchObject({ sourceId: 'batch', sourceBundleId: '1', rowCount: 1 });
    expect(
      await rejection(
        scopes.withinSyncBundle({ userId: 'nobody' }, { sourceId: 'batch', sourceBundleId: 1 }, async () => 1),
      ),
    ).toMatchObject({ code: 'scope_uninitialized' });
    expect(
      await rejection(
        scopes.withinSyncBundle({ userId: 'jo' }, { sourceId: 'batch', sourceBundleId: 0 }, async () => 1),
      ),
    ).toMatchObject({ message: 'bundle source_bundle_id must be > 0' });
  });

  it('serialises concurrent writes of one scope into gap-free bundles', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => notes.addUser('kim', randomUUID(), `k${i}`)));
    expect(results.map((r) => Number(r.bundle.bundleSeq)).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(results.map((r) => Number(r.bundle.sourceBundleId)).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
