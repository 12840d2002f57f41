import { describe, expect, it } from '@jest/globals';
import {
  attachedClient,
  dirtyRows,
  fakeServer,
  fileDatabase,
  memoryDatabase,
  newClient,
} from '../test-support/client-fixtures.js';
import type { FakeSyncServer } from '../test-support/fake-sync-server.js';
import {
  BundleHashMismatchError,
  HttpStatusError,
  PushRejectedError,
  RetryExhaustedError,
  SourceRecoveryRequiredError,
} from './errors.js';
import type Database from 'better-sqlite3';

function uploadedRows(server: FakeSyncServer): { table: string; op: string; base_row_version: number; key: { id: string } }[] {
  return server.requests
    .filter((r) => r.method === 'POST' && r.path.endsWith('/chunks'))
    .flatMap((r) => (JSON.parse(r.body!) as { rows: { table: string; op: string; base_row_version: number; key: { id: string } }[] }).rows);
}

function outboxState(db: Database.Database): { state: string; rows: number } {
  const bundle = db.prepare('SELECT state FROM _sync_outbox_bundle').get() as { state: string };
  const rows = db.prepare('SELECT COUNT(*) AS n FROM _sync_outbox_rows').get() as { n: number };
  return { state: bundle.state, rows: rows.n };
}

async function freshAttached(server = fakeServer(), user = 'alice') {
  const db = memoryDatabase();
  const client = await attachedClient(db, server, user);
  return { db, client, server };
}

describe('push', () => {
  it('commits, replays the committed bundle and advances the source and checkpoint', async () => {
    const { db, client, server } = await freshAttached();
    db.prepare("INSERT INTO users(id, name, age) VALUES ('u1', 'Ada', 36)").run();
    const report = await client.pushPending();
    expect(report.outcome).toBe('committed');
    expect(report.status).toMatchObject({ authority: 'authoritative_materialized', lastBundleSeqSeen: 1, pending: { pendingRowCount: 0 } });
    expect(server.serverRows('alice', 'users')).toEqual([{ age: 36, email: null, id: 'u1', name: 'Ada' }]);
    expect(db.prepare('SELECT row_version, deleted FROM _sync_row_state').all()).toEqual([{ row_version: 1, deleted: 0 }]);
    expect(dirtyRows(db)).toHaveLength(0);
    expect(outboxState(db)).toEqual({ state: 'none', rows: 0 });
    expect(db.prepare('SELECT next_source_bundle_id FROM _sync_source_state').get()).toEqual({ next_source_bundle_id: 2 });
    expect((await client.pushPending()).outcome).toBe('no_change');
  });

  it('pushes the ops of the coalescing table (§3.3)', async () => {
    const { db, client, server } = await freshAttached();
    db.exec("INSERT INTO users(id, name) VALUES ('live1', 'a'), ('live2', 'b'), ('live3', 'c')");
    await client.pushPending();
    server.requests.length = 0;
    db.exec(`
      UPDATE users SET name = 'a2' WHERE id = 'live1';
      UPDATE users SET name = 'b2' WHERE id = 'live2'; DELETE FROM users WHERE id = 'live2';
      DELETE FROM users WHERE id = 'live3'; INSERT INTO users(id, name) VALUES ('live3', 'c2');
      INSERT INTO users(id, name) VALUES ('new1', 'n'); UPDATE users SET name = 'n2' WHERE id = 'new1';
      INSERT INTO users(id, name) VALUES ('gone', 'g'); DELETE FROM users WHERE id = 'gone';`);
    expect((await client.pushPending()).outcome).toBe('committed');
    const byKey = Object.fromEntries(uploadedRows(server).map((r) => [r.key.id, [r.op, r.base_row_version]]));
    expect(byKey).toEqual({ live1: ['UPDATE', 1], live2: ['DELETE', 1], live3: ['UPDATE', 1], new1: ['INSERT', 0] });
    expect(server.serverRows('alice', 'users').map((r) => r.name).sort()).toEqual(['a2', 'c2', 'n2']);
  });

  it('drops a never-synced insert+delete and commits that drop although nothing is pushed (§15 item 22)', async () => {
    const { db, client } = await freshAttached();
    db.exec("INSERT INTO users(id, name) VALUES ('tmp', 'x'); DELETE FROM users WHERE id = 'tmp';");
    expect(dirtyRows(db)).toHaveLength(1);
    expect((await client.pushPending()).outcome).toBe('no_change');
    expect(dirtyRows(db)).toHaveLength(0);
    expect((await client.pullToStable()).outcome).toBe('already_at_target');
  });

  it('orders upserts parents first and deletes children first, in chunks', async () => {
    const server = fakeServer();
    const db = memoryDatabase();
    const client = await attachedClient(db, server, 'alice', { uploadLimit: 2 });
    db.exec("BEGIN; INSERT INTO posts(id, title, author_id) VALUES ('p1', 't', 'u1'); INSERT INTO users(id, name) VALUES ('u1', 'Ada'); INSERT INTO posts(id, title, author_id) VALUES ('p2', 't', 'u1'); COMMIT;");
    await client.pushPending();
    expect(uploadedRows(server).map((r) => `${r.table}:${r.op}`)).toEqual(['users:INSERT', 'posts:INSERT', 'posts:INSERT']);
    expect(client.pushTransferDiagnostics()).toEqual({ sessionsCreated: 1, chunksUploaded: 2, committedBundleChunksRead: 1 });
    server.requests.length = 0;
    db.exec("BEGIN; DELETE FROM users WHERE id = 'u1'; DELETE FROM posts; COMMIT;");
    await client.pushPending();
    expect(uploadedRows(server).map((r) => `${r.table}:${r.op}`)).toEqual(['posts:DELETE', 'posts:DELETE', 'users:DELETE']);
  });

  it('re-uploads a frozen outbox after a crash before commit and commits it exactly once', async () => {
    const server = fakeServer();
    const file = fileDatabase();
    const client = await attachedClient(file.db, server, 'alice');
    file.db.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    client.setBeforePushCommitHook(() => {
      throw new Error('killed before commit');
    });
    await expect(client.pushPending()).rejects.toThrow('killed before commit');
    expect(outboxState(file.db)).toEqual({ state: 'prepared', rows: 1 });
    file.db.exec("INSERT INTO users(id, name) VALUES ('u2', 'Bob')");
    await client.close();
    file.db.close();

    const db = file.reopen();
    const restarted = await attachedClient(db, server, 'alice');
    expect((await restarted.pushPending()).outcome).toBe('committed');
    expect(server.latestBundleSeq('alice')).toBe(1);
    expect(dirtyRows(db)).toHaveLength(1);
    expect((await restarted.pushPending()).outcome).toBe('committed');
    expect(server.serverRows('alice', 'users').map((r) => r.id).sort()).toEqual(['u1', 'u2']);
    expect(server.latestBundleSeq('alice')).toBe(2);
  });

  it('replays after a crash between server commit and local replay without a second bundle', async () => {
    const { db, client, server } = await freshAttached();
    db.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    client.setBeforePushReplayHook(() => {
      throw new Error('killed before replay');
    });
    await expect(client.pushPending()).rejects.toThrow('killed before replay');
    expect(outboxState(db)).toEqual({ state: 'committed_remote', rows: 1 });
    expect((await client.pushPending()).outcome).toBe('committed');
    expect(server.latestBundleSeq('alice')).toBe(1);
    expect(outboxState(db)).toEqual({ state: 'none', rows: 0 });
    expect(db.prepare('SELECT row_version FROM _sync_row_state').get()).toEqual({ row_version: 1 });
  });

  it('recovers from a lost commit response through already_committed', async () => {
    const { db, client, server } = await freshAttached();
    db.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    server.loseResponse('POST', /\/commit$/, 503);
    expect((await client.pushPending()).outcome).toBe('committed');
    expect(server.latestBundleSeq('alice')).toBe(1);
    expect(server.requests.filter((r) => r.path === '/sync/push-sessions').length).toBe(2);
    expect(dirtyRows(db)).toHaveLength(0);
  });

  it('keeps writes made during the upload as dirty rows rebased on the committed version', async () => {
    const { db, client } = await freshAttached();
    db.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    client.setBeforePushCommitHook(() => {
      db.exec("UPDATE users SET name = 'Ada King' WHERE id = 'u1'");
    });
    expect((await client.pushPending()).outcome).toBe('committed');
    expect(dirtyRows(db)).toMatchObject([{ op: 'UPDATE', base_row_version: 1, payload: '{"id":"u1","name":"Ada King","email":null,"age":null}' }]);
    expect(client.getTableRows('users')).toEqual([{ id: 'u1', name: 'Ada King', email: null, age: null }]);
    await client.pushPending();
    expect(dirtyRows(db)).toHaveLength(0);
  });

  it('rejects a committed bundle whose rows do not hash to bundle_hash and keeps the outbox', async () => {
    const { db, client, server } = await freshAttached();
    db.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    server.tamper = (path, body) => (path.includes('/committed-bundles/') ? body.replace('"Ada"', '"Eve"') : body);
    await expect(client.pushPending()).rejects.toThrow(BundleHashMismatchError);
    expect(outboxState(db)).toEqual({ state: 'committed_remote', rows: 1 });
    expect(db.prepare('SELECT COUNT(*) AS n FROM _sync_row_state').get()).toEqual({ n: 0 });
    server.tamper = null;
    expect((await client.pushPending()).outcome).toBe('committed');
    expect(client.getTableRows('users')[0]!.name).toBe('Ada');
  });

  it('retries a transient create failure and reports exhaustion as RetryExhaustedError', async () => {
    const { db, client, server } = await freshAttached();
    db.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    server.failNext('POST', /^\/sync\/push-sessions$/, 503);
    expect((await client.pushPending()).outcome).toBe('committed');
    db.exec("INSERT INTO users(id, name) VALUES ('u2', 'Bob')");
    server.failNext('POST', /^\/sync\/push-sessions$/, 502, undefined, 3);
    const error = await client.pushPending().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryExhaustedError);
    expect((error as RetryExhaustedError).attempts).toBe(3);
    expect((error as Error).message).toContain('oversqlite retry policy exhausted for push_pending after 3 attempts: push_session_create request returned status 502: injected_failure: injected failure');
    server.failNext('POST', /^\/sync\/push-sessions$/, 401, 'Invalid token\n');
    const unauthorized = await client.pushPending().catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(HttpStatusError);
    expect((unauthorized as HttpStatusError).status).toBe(401);
  });

  it('surfaces a permanent chunk rejection and lets the host restore the outbox into dirty rows', async () => {
    const { db, client, server } = await freshAttached();
    db.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    server.failNext('POST', /\/chunks$/, 400, { error: 'push_chunk_invalid', message: 'payload column nickname is unknown' });
    const error = await client.pushPending().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PushRejectedError);
    expect((error as PushRejectedError).code).toBe('push_chunk_invalid');
    expect(outboxState(db)).toEqual({ state: 'prepared', rows: 1 });
    expect(await client.restoreOutbox()).toBe(1);
    expect(outboxState(db)).toEqual({ state: 'none', rows: 0 });
    expect(dirtyRows(db)).toMatchObject([{ op: 'INSERT' }]);
    expect((await client.pushPending()).outcome).toBe('committed');
  });

  it('enters source recovery on source_sequence_out_of_order, survives restart, and rotates on Rebuild', async () => {
    const server = fakeServer();
    const file = fileDatabase();
    const client = await attachedClient(file.db, server, 'alice');
    file.db.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    await client.pushPending();
    const oldSource = (await client.sourceInfo()).currentSourceId;
    file.db.prepare('UPDATE _sync_source_state SET next_source_bundle_id = 5').run();
    file.db.exec("UPDATE users SET name = 'Ada2' WHERE id = 'u1'");
    const error = await client.pushPending().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceRecoveryRequiredError);
    expect((error as SourceRecoveryRequiredError).code).toBe('source_sequence_out_of_order');
    await client.close();
    file.db.close();

    const db = file.reopen();
    const restarted = await attachedClient(db, server, 'alice');
    expect(await restarted.sourceInfo()).toMatchObject({ sourceRecoveryRequired: true, sourceRecoveryReason: 'source_sequence_out_of_order', rebuildRequired: true });
    await expect(restarted.pullToStable()).rejects.toThrow(SourceRecoveryRequiredError);
    expect(() => db.exec("INSERT INTO users(id, name) VALUES ('u9', 'x')")).toThrow('SYNC_TRANSITION_PENDING');
    const rebuilt = await restarted.rebuild();
    expect(rebuilt.outcome).toBe('applied_snapshot');
    const info = await restarted.sourceInfo();
    expect(info).toMatchObject({ sourceRecoveryRequired: false, rebuildRequired: false });
    expect(info.currentSourceId).not.toBe(oldSource);
    expect(restarted.getTableRows('users')[0]!.name).toBe('Ada2');
    expect((await restarted.pushPending()).outcome).toBe('committed');
    expect(server.serverRows('alice', 'users')[0]!.name).toBe('Ada2');
  });

  it('resets to anonymous on initialization_expired and keeps the outbox for the next attach', async () => {
    const server = fakeServer();
    const db = memoryDatabase();
    db.exec("INSERT INTO users(id, name) VALUES ('u1', 'seed')");
    const client = newClient(db, server, 'alice');
    await client.open();
    expect((await client.attach('alice')).outcome).toBe('seeded_from_local');
    server.failNext('POST', /^\/sync\/push-sessions$/, 410, { error: 'initialization_expired', message: 'initialization lease has expired' });
    await expect(client.pushPending()).rejects.toThrow('server returned status 410: initialization_expired: initialization lease has expired; reconnect required');
    expect(client.userId).toBe('');
    expect(outboxState(db)).toEqual({ state: 'prepared', rows: 1 });
    expect((await client.attach('alice')).outcome).toBe('seeded_from_local');
    expect((await client.pushPending()).outcome).toBe('committed');
    expect(server.serverRows('alice', 'users')).toHaveLength(1);
  });
});
