import { describe, expect, it } from '@jest/globals';
import { attachedClient, dirtyRows, fakeServer, memoryDatabase, uuidHex, uuidText } from '../test-support/client-fixtures.js';
import { ClientWinsResolver, type ConflictContext, keepLocal, keepMerged, resolverFrom, ServerWinsResolver } from './conflict-resolver.js';
import { InvalidConflictResolutionError, PushConflictRetryExhaustedError } from './errors.js';

/** Device A committed u1 at v1 and then v2 ('A2'); device B pulled v1 and edits it offline. */
async function twoDevicesWithStaleEdit() {
  const server = fakeServer();
  const dbA = memoryDatabase();
  const dbB = memoryDatabase();
  const a = await attachedClient(dbA, server, 'alice');
  dbA.exec("INSERT INTO users(id, name, email) VALUES ('u1', 'Ada', 'ada@a.test')");
  await a.pushPending();
  const b = await attachedClient(dbB, server, 'alice');
  dbA.exec("UPDATE users SET name = 'A2' WHERE id = 'u1'");
  await a.pushPending();
  dbB.exec("UPDATE users SET email = 'ada@b.test' WHERE id = 'u1'; INSERT INTO users(id, name) VALUES ('u2', 'sibling');");
  return { server, dbA, dbB, a, b };
}

describe('push conflicts', () => {
  it('server-wins replaces the local row, keeps sibling rows and commits them', async () => {
    const { server, dbB, b } = await twoDevicesWithStaleEdit();
    const seen: ConflictContext[] = [];
    b.resolver = resolverFrom((conflict) => {
      seen.push(conflict);
      return new ServerWinsResolver().resolve();
    });
    expect((await b.pushPending()).outcome).toBe('committed');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      table: 'users',
      key: { id: 'u1' },
      localOp: 'UPDATE',
      baseRowVersion: 1,
      serverRowVersion: 2,
      serverRowDeleted: false,
      localPayload: { age: null, email: 'ada@b.test', id: 'u1', name: 'Ada' },
      serverRowPayload: { age: null, email: 'ada@a.test', id: 'u1', name: 'A2' },
    });
    expect(b.getTableRows('users')).toEqual([
      { id: 'u1', name: 'A2', email: 'ada@a.test', age: null },
      { id: 'u2', name: 'sibling', email: null, age: null },
    ]);
    expect(server.serverRows('alice', 'users').find((r) => r.id === 'u1')!.email).toBe('ada@a.test');
    expect(server.serverRows('alice', 'users').map((r) => r.id).sort()).toEqual(['u1', 'u2']);
    expect(dirtyRows(dbB)).toHaveLength(0);
  });

  it('client-wins rebases the local row on the server version and pushes it again', async () => {
    const { server, b } = await twoDevicesWithStaleEdit();
    b.resolver = new ClientWinsResolver();
    expect((await b.pushPending()).outcome).toBe('committed');
    expect(server.serverRows('alice', 'users').find((r) => r.id === 'u1')).toEqual({ age: null, email: 'ada@b.test', id: 'u1', name: 'Ada' });
    expect(b.pushTransferDiagnostics().sessionsCreated).toBe(2);
  });

  it('keep-merged writes the merged payload and pushes it', async () => {
    const { server, b } = await twoDevicesWithStaleEdit();
    b.resolver = resolverFrom((c) => keepMerged({ ...c.serverRowPayload!, email: (c.localPayload as { email: string }).email }));
    expect((await b.pushPending()).outcome).toBe('committed');
    expect(server.serverRows('alice', 'users').find((r) => r.id === 'u1')).toEqual({ age: null, email: 'ada@b.test', id: 'u1', name: 'A2' });
    expect(b.getTableRows('users')[0]).toEqual({ id: 'u1', name: 'A2', email: 'ada@b.test', age: null });
  });

  it('rejects an invalid resolution and leaves every frozen intent replayable', async () => {
    const { dbA, dbB, a, b } = await twoDevicesWithStaleEdit();
    dbA.exec("DELETE FROM users WHERE id = 'u1'");
    await a.pushPending();
    b.resolver = new ClientWinsResolver();
    const error = await b.pushPending().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidConflictResolutionError);
    expect((error as Error).message).toBe('KeepLocal is invalid for stale UPDATE on business.users; authoritative row is deleted or missing');
    expect(dirtyRows(dbB).map((r) => `${r.key_json}:${r.op}`).sort()).toEqual(['{"id":"u1"}:UPDATE', '{"id":"u2"}:INSERT']);
    expect(dbB.prepare('SELECT COUNT(*) AS n FROM _sync_outbox_rows').get()).toEqual({ n: 0 });
    b.resolver = new ServerWinsResolver();
    expect((await b.pushPending()).outcome).toBe('committed');
    expect(b.getTableRows('users').map((r) => r.id)).toEqual(['u2']);
  });

  it('rejects a merged payload without every column and restores the frozen intents', async () => {
    const { dbB, b } = await twoDevicesWithStaleEdit();
    b.resolver = resolverFrom(() => keepMerged({ id: 'u1', name: 'partial' }));
    await expect(b.pushPending()).rejects.toThrow(new InvalidConflictResolutionError({ schema: 'business', table: 'users' }, null, 'KeepMerged for business.users must include exactly every table column'));
    expect(dirtyRows(dbB)).toHaveLength(2);
  });

  it('gives up after two automatic retries with the intents still queued', async () => {
    const { server, dbB, b } = await twoDevicesWithStaleEdit();
    let calls = 0;
    b.resolver = resolverFrom(() => {
      calls++;
      // Another device keeps winning the race.
      server.commitFromPeer('alice', [
        { schema: 'business', table: 'users', key: { id: 'u1' }, op: 'UPDATE', payload: { id: 'u1', name: `peer${calls}`, email: null, age: null } },
      ]);
      return keepLocal();
    });
    const error = await b.pushPending().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PushConflictRetryExhaustedError);
    expect(error).toMatchObject({ retryCount: 2, remainingDirtyCount: 2 });
    expect(calls).toBe(3);
    expect(dirtyRows(dbB).map((r) => r.op).sort()).toEqual(['INSERT', 'UPDATE']);
  });

  it('keep-local on a BLOB-keyed table writes the right bytes (local hex is converted, §15 item 3)', async () => {
    const server = fakeServer();
    const dbA = memoryDatabase();
    const dbB = memoryDatabase();
    const a = await attachedClient(dbA, server, 'alice');
    const id = Buffer.from(uuidHex(0xcafe), 'hex');
    dbA.prepare('INSERT INTO files(id, name, data) VALUES (?, ?, ?)').run(id, 'a.bin', Buffer.from('cafebabe', 'hex'));
    await a.pushPending();
    const b = await attachedClient(dbB, server, 'alice');
    dbA.prepare("UPDATE files SET name = 'from-a' WHERE id = ?").run(id);
    await a.pushPending();
    dbB.prepare('UPDATE files SET data = ? WHERE id = ?').run(Buffer.from('cafebabe00', 'hex'), id);
    b.resolver = new ClientWinsResolver();
    expect((await b.pushPending()).outcome).toBe('committed');
    expect(dbB.prepare('SELECT hex(data) AS data, name FROM files').get()).toEqual({ data: 'CAFEBABE00', name: 'a.bin' });
    expect(server.serverRows('alice', 'files')).toEqual([{ data: 'yv66vgA=', id: uuidText(0xcafe), name: 'a.bin' }]);
  });
});
