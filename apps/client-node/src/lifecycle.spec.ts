import { describe, expect, it } from '@jest/globals';
import { attachedClient, BUSINESS_TABLES, dirtyRows, fakeServer, fileDatabase, memoryDatabase, newClient } from '../test-support/client-fixtures.js';
import {
  AttachBindingConflictError,
  AttachLifecycleUnsupportedError,
  AttachRequiredError,
  ClientClosedError,
  DatabaseAlreadyOwnedError,
  isExpectedSyncContention,
  isLifecyclePreconditionError,
  OpenRequiredError,
  OversqliteConfigError,
} from './errors.js';
import { OversqliteClient } from './oversqlite-client.js';

const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('configuration', () => {
  const base = { baseUrl: 'http://localhost:1', tokenProvider: () => 't', schema: 'business', tables: BUSINESS_TABLES };

  it.each([
    [{ schema: '' }, 'config.Schema must be provided (no default schema)'],
    [{ schema: '   ' }, 'config.Schema must be provided (no default schema)'],
    [{ tables: [{ tableName: 'main.users', syncKeyColumnName: 'id' }] }, 'table main.users must not include a schema qualifier; oversqlite supports exactly one config.Schema per local database'],
    [{ tables: [{ tableName: 'users', syncKeyColumnName: 'id' }, { tableName: 'USERS', syncKeyColumnName: 'id' }] }, 'duplicate sync table registration for users'],
    [{ tables: [{ tableName: 'users' }] }, 'table users must declare SyncKeyColumnName or SyncKeyColumns explicitly'],
    [{ tables: [{ tableName: 'users', syncKeyColumns: [' ', ''] }] }, 'table users must declare at least one non-empty sync key column'],
    [{ tables: [{ tableName: 'users', syncKeyColumns: ['id', 'name'] }] }, 'table users must declare exactly one sync key column in the current client runtime'],
    [{ tables: [{ tableName: 'users', syncKeyColumnName: 'uuid' }] }, 'table users does not contain configured primary key column uuid'],
    [{ tables: [{ tableName: 'users', syncKeyColumnName: 'name' }] }, 'configured primary key column name for table users is not declared as PRIMARY KEY'],
    [{ tables: [{ tableName: 'counters', syncKeyColumnName: 'id' }] }, 'table counters uses unsupported local sync key column id type "INTEGER"; oversqlite supports only TEXT keys and UUID-backed BLOB keys'],
    [{ tables: [{ tableName: 'posts', syncKeyColumnName: 'id' }] }, 'managed tables are not FK-closed: posts.author_id -> users.id'],
    [{ downloadLimit: 6000 }, 'downloadLimit 6000 exceeds the server maximum of 5000 bundles per pull'],
    [{ baseUrl: 'localhost:8080' }, 'baseUrl must be an absolute http(s) URL, got "localhost:8080"'],
  ])('rejects %j', (override, message) => {
    const db = memoryDatabase();
    db.exec('CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER)');
    expect(() => new OversqliteClient(db, { ...base, ...override })).toThrow(new OversqliteConfigError(message));
  });

  it('accepts self references, orders tables parents first, and keeps unknown _sync_ tables', () => {
    const db = memoryDatabase();
    db.exec('CREATE TABLE categories (id TEXT PRIMARY KEY, parent_id TEXT REFERENCES categories(id)); CREATE TABLE _sync_custom (x)');
    expect(() => new OversqliteClient(db, { ...base, tables: [...BUSINESS_TABLES, { tableName: 'categories', syncKeyColumnName: 'id' }] })).not.toThrow();
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = '_sync_custom'").get()).toBeDefined();
  });

  it('rejects a second client on the same database until the first is closed', async () => {
    const db = memoryDatabase();
    const first = new OversqliteClient(db, base);
    expect(() => new OversqliteClient(db, base)).toThrow(DatabaseAlreadyOwnedError);
    await first.close();
    await first.close();
    expect(() => new OversqliteClient(db, base)).not.toThrow();
  });

  it('rejects a database whose sync state uses another schema', async () => {
    const db = memoryDatabase();
    const client = new OversqliteClient(db, base);
    await client.open();
    await client.close();
    expect(() => new OversqliteClient(db, { ...base, schema: 'other' })).toThrow(
      'oversqlite supports exactly one configured schema per local database; existing sync state uses schema(s) business while config.Schema=other',
    );
  });
});

describe('lifecycle', () => {
  it('generates and persists one source id, and captures rows written before sync was installed', async () => {
    const file = fileDatabase();
    file.db.exec("INSERT INTO users(id, name) VALUES ('pre1', 'x'), ('pre2', 'y')");
    const client = newClient(file.db, fakeServer(), 'alice');
    await expect(client.sourceInfo()).rejects.toThrow(new OpenRequiredError('SourceInfo()'));
    await client.open();
    await client.open();
    const source = (await client.sourceInfo()).currentSourceId;
    expect(source).toMatch(uuidV4);
    expect(dirtyRows(file.db).map((r) => [r.key_json, r.op, r.base_row_version])).toEqual([
      ['{"id":"pre1"}', 'INSERT', 0],
      ['{"id":"pre2"}', 'INSERT', 0],
    ]);
    expect(await client.pendingSyncStatus()).toEqual({ hasPendingSyncData: true, pendingRowCount: 2, blocksDetach: false });
    await client.close();
    file.db.close();
    const reopened = newClient(file.reopen(), fakeServer(), 'alice');
    await reopened.open();
    expect((await reopened.sourceInfo()).currentSourceId).toBe(source);
    expect(await reopened.pendingSyncStatus()).toMatchObject({ pendingRowCount: 2 });
  });

  it('requires Open before Attach and Attach before sync operations', async () => {
    const client = newClient(memoryDatabase(), fakeServer(), 'alice');
    const notOpen = await client.attach('alice').catch((e: unknown) => e);
    expect(notOpen).toEqual(new OpenRequiredError('Attach(userID)'));
    expect(isLifecyclePreconditionError(notOpen)).toBe(true);
    await expect(client.attach('  ')).rejects.toThrow('userID must be provided');
    await client.open();
    await expect(client.pushPending()).rejects.toThrow(new AttachRequiredError('PushPending()'));
    await expect(client.pullToStable()).rejects.toThrow(new AttachRequiredError('PullToStable()'));
    await expect(client.syncStatus()).rejects.toThrow(new AttachRequiredError('SyncStatus()'));
  });

  it('resolves initialize_empty, seeds with initialize_local, and resumes without network after restart', async () => {
    const server = fakeServer();
    const empty = await attachedClient(memoryDatabase(), server, 'bob');
    expect((await empty.syncStatus()).authority).toBe('authoritative_empty');

    const file = fileDatabase();
    file.db.exec("INSERT INTO users(id, name) VALUES ('u1', 'offline')");
    const client = newClient(file.db, server, 'alice');
    await client.open();
    const attached = await client.attach('alice');
    expect(attached).toMatchObject({ status: 'connected', outcome: 'seeded_from_local', restore: null });
    expect(attached.syncStatus.authority).toBe('pending_local_seed');
    expect((await client.pushPending()).outcome).toBe('committed');
    expect((await client.syncStatus()).authority).toBe('authoritative_materialized');
    await client.close();
    file.db.close();

    const requestsBefore = server.requests.length;
    const restarted = newClient(file.reopen(), server, 'alice');
    await restarted.open();
    await expect(restarted.pushPending()).rejects.toThrow(AttachRequiredError);
    expect((await restarted.attach('alice')).outcome).toBe('resumed_attached_state');
    expect(server.requests.length).toBe(requestsBefore);
  });

  it('hydrates a second device with remote_authoritative, replacing its anonymous rows', async () => {
    const server = fakeServer();
    const dbA = memoryDatabase();
    const a = await attachedClient(dbA, server, 'alice');
    dbA.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    await a.pushPending();
    const dbB = memoryDatabase();
    dbB.exec("INSERT INTO users(id, name) VALUES ('local', 'anonymous')");
    const b = newClient(dbB, server, 'alice');
    await b.open();
    const result = await b.attach('alice');
    expect(result).toMatchObject({ status: 'connected', outcome: 'used_remote_state', restore: { bundleSeq: 1, rowCount: 1 } });
    expect(b.getTableRows('users').map((r) => r.id)).toEqual(['u1']);
    expect(dirtyRows(dbB)).toHaveLength(0);
  });

  it('refuses a server whose schema_version is older than the app requires', async () => {
    const client = newClient(memoryDatabase(), fakeServer(), 'alice', { minServerSchemaVersion: 2 });
    await client.open();
    await expect(client.attach('alice')).rejects.toThrow(
      new AttachLifecycleUnsupportedError('server schema_version 1 is older than the 2 this app requires'),
    );
  });

  it('reports retry_later without binding the user', async () => {
    const server = fakeServer();
    const dbA = memoryDatabase();
    dbA.exec("INSERT INTO users(id, name) VALUES ('u1', 'seed')");
    const a = newClient(dbA, server, 'alice');
    await a.open();
    await a.attach('alice');
    const dbB = memoryDatabase();
    const b = newClient(dbB, server, 'alice');
    await b.open();
    const result = await b.attach('alice');
    expect(result).toMatchObject({ status: 'retry_later', outcome: '', retryAfterMs: 60_000, restore: null });
    expect(result.syncStatus.authority).toBe('');
    expect(b.userId).toBe('');
  });

  it('blocks Detach while data is unsynced, then detaches, wipes synced rows and switches user on a fresh source', async () => {
    const server = fakeServer();
    const db = memoryDatabase();
    let signedIn = 'alice';
    const client = await attachedClient(db, server, 'alice', { tokenProvider: () => server.token(signedIn) });
    db.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    expect(await client.detach()).toEqual({ outcome: 'blocked_unsynced_data', pendingRowCount: 1 });
    await expect(client.attach('bob')).rejects.toThrow(AttachBindingConflictError);
    await client.pushPending();
    const aliceSource = (await client.sourceInfo()).currentSourceId;
    expect(await client.detach()).toEqual({ outcome: 'detached', pendingRowCount: 0 });
    expect(client.getTableRowCount('users')).toBe(0);
    expect(db.prepare('SELECT binding_state, attached_user_id, last_bundle_seq_seen FROM _sync_attachment_state').get()).toEqual({
      binding_state: 'anonymous',
      attached_user_id: '',
      last_bundle_seq_seen: 0,
    });
    db.exec("INSERT INTO users(id, name) VALUES ('b1', 'Bob offline')");
    signedIn = 'bob';
    expect((await client.attach('bob')).outcome).toBe('seeded_from_local');
    expect((await client.sourceInfo()).currentSourceId).not.toBe(aliceSource);
    expect((await client.pushPending()).outcome).toBe('committed');
    expect(server.serverRows('bob', 'users').map((r) => r.id)).toEqual(['b1']);
    expect(server.serverRows('alice', 'users').map((r) => r.id)).toEqual(['u1']);
  });

  it('syncThenDetach syncs pending rows and detaches', async () => {
    const server = fakeServer();
    const db = memoryDatabase();
    const client = await attachedClient(db, server, 'alice');
    db.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    const result = await client.syncThenDetach();
    expect(result).toMatchObject({ isSuccess: true, syncRounds: 1, remainingPendingRowCount: 0, detach: { outcome: 'detached' } });
    expect(server.serverRows('alice', 'users')).toHaveLength(1);
    client.pauseUploads();
    client.pauseDownloads();
    await client.attach('alice');
    db.exec("INSERT INTO users(id, name) VALUES ('u2', 'x')");
    const blocked = await client.syncThenDetach();
    expect(blocked).toMatchObject({ isSuccess: false, syncRounds: 2, detach: { outcome: 'blocked_unsynced_data' } });
    expect(blocked.lastSync).toMatchObject({ pushOutcome: 'skipped_paused', remoteOutcome: 'skipped_paused' });
  });

  it('fails fast on concurrent operations and closes for good', async () => {
    const server = fakeServer();
    const client = await attachedClient(memoryDatabase(), server, 'alice');
    const first = client.pullToStable();
    const second = await client.pushPending().catch((e: unknown) => e);
    expect(isExpectedSyncContention(second)).toBe(true);
    await first;
    await client.close();
    await expect(client.open()).rejects.toThrow(ClientClosedError);
  });

  it('uninstalls triggers and metadata but keeps business rows, and allows a fresh install', async () => {
    const db = memoryDatabase();
    const client = await attachedClient(db, fakeServer(), 'alice');
    db.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    await client.uninstallSync();
    expect(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name LIKE '_sync_%' OR name LIKE 'trg_%'").get()).toEqual({ n: 0 });
    expect(db.prepare('SELECT COUNT(*) AS n FROM users').get()).toEqual({ n: 1 });
    await expect(client.open()).rejects.toThrow(ClientClosedError);
    const again = newClient(db, fakeServer(), 'alice');
    await again.open();
    expect(dirtyRows(db)).toHaveLength(1);
  });
});
