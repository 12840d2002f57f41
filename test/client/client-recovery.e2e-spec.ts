import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import {
  ClientWinsResolver,
  type ConflictContext,
  InvalidConflictResolutionError,
  keepLocal,
  keepMerged,
  PushConflictRetryExhaustedError,
  resolverFrom,
  ServerWinsResolver,
  type FetchLike,
  type OversqliteClientOptions,
} from '@oversync/client-node';
import { SyncHttp } from '../support/sync-http.js';
import {
  attachedDevice,
  bundleCount,
  type Device,
  dirtyRows,
  formatUuid,
  localUsers,
  serverRows,
  useTestServer,
} from './client-devices.js';
import {
  pushTransferDiagnostics,
  resetPushTransferDiagnostics,
  setBeforePushCommitHook,
  setBeforePushReplayHook,
} from '@oversync/client-node/testing';

function outbox(device: Device): { state: string; rows: number; dirty: number } {
  const state = (device.db.prepare('SELECT state FROM _sync_outbox_bundle').get() as { state: string }).state;
  const rows = (device.db.prepare('SELECT COUNT(*) AS n FROM _sync_outbox_rows').get() as { n: number }).n;
  const dirty = (device.db.prepare('SELECT COUNT(*) AS n FROM _sync_dirty_rows').get() as { n: number }).n;
  return { state, rows, dirty };
}

describe('client ⇄ server: crashes between push steps lose and duplicate nothing', () => {
  const server = useTestServer();

  it.each([
    ['after the freeze, before any upload', 'freeze'],
    ['between two chunk uploads', 'chunk'],
    ['after the chunks, before commit', 'commit'],
    ['after the server committed, before the response arrived', 'lost-commit'],
    ['after commit, before the local replay', 'replay'],
  ])('killed %s', async (_label, point) => {
    const user = `crash-${point}`;
    let failCreate = point === 'freeze';
    let failChunk = point === 'chunk';
    let loseCommit = point === 'lost-commit';
    let chunks = 0;
    const faulty: FetchLike = async (input, init) => {
      if (failCreate && input.endsWith('/sync/push-sessions')) throw new Error('process killed before the upload');
      if (input.includes('/chunks') && failChunk && ++chunks === 2) throw new Error('process killed during upload');
      const response = await fetch(input, init);
      if (input.endsWith('/commit') && loseCommit) throw new Error('process killed before the commit response arrived');
      return response;
    };
    const device = await attachedDevice(server.t, user, { fetch: faulty, uploadLimit: 2 });
    const ids = Array.from({ length: 5 }, () => randomUUID()).sort();
    for (const [i, id] of ids.entries())
      device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(id, `n${i}`, `e${i}@x.test`);
    if (point === 'commit')
      setBeforePushCommitHook(device.client, () => {
        throw new Error('killed');
      });
    if (point === 'replay')
      setBeforePushReplayHook(device.client, () => {
        throw new Error('killed');
      });
    await expect(device.client.pushPending()).rejects.toThrow(/killed/);
    expect(outbox(device)).toMatchObject({ rows: 5, state: point === 'replay' ? 'committed_remote' : 'prepared' });
    // A write while "dead" is not part of the frozen bundle.
    const late = randomUUID();
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(late, 'late', 'late@x.test');

    failCreate = false;
    failChunk = false;
    loseCommit = false;
    await device.restart();
    expect((await device.client.attach(user)).outcome).toBe('resumed_attached_state');
    expect((await device.client.pushPending()).outcome).toBe('committed');
    // The frozen bundle is committed exactly once, whichever step the crash interrupted.
    expect(await bundleCount(server.pg, user)).toBe(1);
    expect(outbox(device)).toEqual({ state: 'none', rows: 0, dirty: 1 });
    expect((await device.client.sync()).pushOutcome).toBe('committed');
    expect(await bundleCount(server.pg, user)).toBe(2);
    expect(await serverRows(server.pg, user, 'users', 'id::text, name, email')).toEqual(localUsers(device));
    expect(localUsers(device)).toHaveLength(6);
    const other = await attachedDevice(server.t, user);
    expect(localUsers(other)).toEqual(localUsers(device));
    await other.close();
    await device.close();
  });
});

describe('client ⇄ server: conflicts with each built-in resolver', () => {
  const server = useTestServer();

  /**
   * The device pushed row `id` (version 1); a peer then updated it (version 2); the device edits it
   * offline and adds a sibling.
   */
  async function staleEdit(user: string, options: Partial<OversqliteClientOptions> = {}) {
    const device = await attachedDevice(server.t, user, options);
    const id = randomUUID();
    const sibling = randomUUID();
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(id, 'Ada', 'ada@device');
    await device.client.pushPending();
    const version = await device.client.lastBundleSeqSeen();
    const peer = new SyncHttp(server.t.baseUrl, await server.t.signIn(user), `${user}-peer`);
    const peerPush = await peer.push(1, [
      {
        schema: 'business',
        table: 'users',
        key: { id },
        op: 'UPDATE',
        base_row_version: version,
        payload: { id, name: 'Ada (peer)', email: 'ada@peer' },
      },
    ]);
    expect(peerPush.status).toBe(200);
    device.db.prepare('UPDATE users SET email = ? WHERE id = ?').run('ada@device-2', id);
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(sibling, 'sibling', 's@device');
    resetPushTransferDiagnostics(device.client);
    return { device, id, sibling, peer };
  }

  it('server-wins (default) adopts the server row and still pushes the sibling row', async () => {
    const { device, id, sibling } = await staleEdit('conflict-server');
    const seen: ConflictContext[] = [];
    const byDefault = device.client.resolver;
    expect(byDefault).toBeInstanceOf(ServerWinsResolver);
    device.client.resolver = resolverFrom((conflict) => {
      seen.push(conflict);
      return byDefault.resolve(conflict);
    });
    expect((await device.client.sync()).pushOutcome).toBe('committed');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      schema: 'business',
      table: 'users',
      key: { id },
      localOp: 'UPDATE',
      baseRowVersion: 1,
      serverRowVersion: 2,
      serverRowDeleted: false,
      localPayload: { id, name: 'Ada', email: 'ada@device-2' },
      serverRowPayload: { id, name: 'Ada (peer)', email: 'ada@peer' },
    });
    expect(device.db.prepare('SELECT name, email FROM users WHERE id = ?').get(id)).toEqual({
      name: 'Ada (peer)',
      email: 'ada@peer',
    });
    expect(await serverRows(server.pg, 'conflict-server', 'users', 'id::text, name, email')).toEqual(
      localUsers(device),
    );
    expect(
      localUsers(device)
        .map((u) => u.id)
        .sort(),
    ).toEqual([id, sibling].sort());
    expect(dirtyRows(device.db)).toHaveLength(0);
    await device.close();
  });

  it('client-wins rebases the local row on the server version and overwrites the server row', async () => {
    const { device, id } = await staleEdit('conflict-client', { resolver: new ClientWinsResolver() });
    expect((await device.client.sync()).pushOutcome).toBe('committed');
    expect(device.db.prepare('SELECT name, email FROM users WHERE id = ?').get(id)).toEqual({
      name: 'Ada',
      email: 'ada@device-2',
    });
    expect(await serverRows(server.pg, 'conflict-client', 'users', 'id::text, name, email')).toEqual(
      localUsers(device),
    );
    expect(pushTransferDiagnostics(device.client).sessionsCreated).toBe(2);
    await device.close();
  });

  it('keep-merged writes the merged row on both sides', async () => {
    const merge = resolverFrom((c) =>
      keepMerged({ ...c.serverRowPayload!, email: (c.localPayload as { email: string }).email }),
    );
    const { device, id } = await staleEdit('conflict-merged', { resolver: merge });
    expect((await device.client.sync()).pushOutcome).toBe('committed');
    expect(device.db.prepare('SELECT name, email FROM users WHERE id = ?').get(id)).toEqual({
      name: 'Ada (peer)',
      email: 'ada@device-2',
    });
    expect(await serverRows(server.pg, 'conflict-merged', 'users', 'id::text, name, email')).toEqual(
      localUsers(device),
    );
    await device.close();
  });

  it('rejects keep-local for a row the server deleted and leaves every frozen intent replayable', async () => {
    const { device, id, sibling, peer } = await staleEdit('conflict-invalid', { resolver: new ClientWinsResolver() });
    expect(
      (await peer.push(2, [{ schema: 'business', table: 'users', key: { id }, op: 'DELETE', base_row_version: 2 }]))
        .status,
    ).toBe(200);
    const error = await device.client.pushPending().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidConflictResolutionError);
    expect((error as Error).message).toBe(
      'KeepLocal is invalid for stale UPDATE on business.users; authoritative row is deleted or missing',
    );
    expect(
      dirtyRows(device.db)
        .map((r) => `${r.key_json}:${r.op}`)
        .sort(),
    ).toEqual([`{"id":"${id}"}:UPDATE`, `{"id":"${sibling}"}:INSERT`].sort());
    expect(device.db.prepare('SELECT COUNT(*) AS n FROM _sync_outbox_rows').get()).toEqual({ n: 0 });
    device.client.resolver = new ServerWinsResolver();
    expect((await device.client.pushPending()).outcome).toBe('committed');
    // the server's tombstone is applied by the pull, in bundle order (convergence fuzz, seed 1000025)
    expect((await device.client.pullToStable()).outcome).toBe('applied_incremental');
    expect(localUsers(device).map((u) => u.id)).toEqual([sibling]);
    expect(await serverRows(server.pg, 'conflict-invalid', 'users', 'id::text, name, email')).toEqual(
      localUsers(device),
    );
    await device.close();
  });

  it('rejects a merged payload without every column and restores the frozen intents', async () => {
    const { device, id } = await staleEdit('conflict-partial');
    device.client.resolver = resolverFrom(() => keepMerged({ id, name: 'partial' }));
    await expect(device.client.pushPending()).rejects.toThrow(
      new InvalidConflictResolutionError(
        { schema: 'business', table: 'users' },
        null,
        'KeepMerged for business.users must include exactly every table column',
      ),
    );
    expect(dirtyRows(device.db)).toHaveLength(2);
    expect(await serverRows(server.pg, 'conflict-partial', 'users', 'name')).toEqual([{ name: 'Ada (peer)' }]);
    await device.close();
  });

  it('stops after two automatic retries when a peer wins every race, with the intents still queued', async () => {
    let race: { peer: SyncHttp; id: string } | null = null;
    let peerBundle = 2;
    const racing: FetchLike = async (input, init) => {
      if (race && input.endsWith('/commit')) {
        const stable = (
          (await race.peer.get('/sync/pull?after_bundle_seq=0').expect(200)).body as { stable_bundle_seq: number }
        ).stable_bundle_seq;
        const row = {
          schema: 'business',
          table: 'users',
          key: { id: race.id },
          op: 'UPDATE',
          base_row_version: stable,
          payload: { id: race.id, name: `peer ${peerBundle}`, email: 'p' },
        };
        expect((await race.peer.push(peerBundle++, [row])).status).toBe(200);
      }
      return fetch(input, init);
    };
    let calls = 0;
    const counting = resolverFrom(() => {
      calls++;
      return keepLocal();
    });
    const { device, id, peer } = await staleEdit('conflict-race', { resolver: counting, fetch: racing });
    race = { peer, id };
    const error = await device.client.pushPending().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PushConflictRetryExhaustedError);
    expect(error).toMatchObject({ retryCount: 2, remainingDirtyCount: 2 });
    expect(calls).toBe(3);
    expect(
      dirtyRows(device.db)
        .map((r) => r.op)
        .sort(),
    ).toEqual(['INSERT', 'UPDATE']);
    race = null;
    expect((await device.client.pushPending()).outcome).toBe('committed');
    expect(device.db.prepare('SELECT email FROM users WHERE id = ?').get(id)).toEqual({ email: 'ada@device-2' });
    expect(await serverRows(server.pg, 'conflict-race', 'users', 'id::text, name, email')).toEqual(localUsers(device));
    await device.close();
  });

  it('keep-local on a BLOB-keyed table writes the right bytes (local hex is converted, §15 item 3)', async () => {
    const a = await attachedDevice(server.t, 'conflict-blob');
    const id = Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
    a.db.prepare('INSERT INTO files(id, name, data) VALUES (?, ?, ?)').run(id, 'a.bin', Buffer.from('cafebabe', 'hex'));
    await a.client.pushPending();
    const b = await attachedDevice(server.t, 'conflict-blob', { resolver: new ClientWinsResolver() });
    a.db.prepare("UPDATE files SET name = 'from-a' WHERE id = ?").run(id);
    await a.client.pushPending();
    b.db.prepare('UPDATE files SET data = ? WHERE id = ?').run(Buffer.from('cafebabe00', 'hex'), id);
    expect((await b.client.pushPending()).outcome).toBe('committed');
    expect(b.db.prepare('SELECT hex(data) AS data, name FROM files').get()).toEqual({
      data: 'CAFEBABE00',
      name: 'a.bin',
    });
    expect(
      await serverRows(server.pg, 'conflict-blob', 'files', "id::text, name, encode(data, 'hex') AS data"),
    ).toEqual([{ id: formatUuid(id), name: 'a.bin', data: 'cafebabe00' }]);
    await a.close();
    await b.close();
  });
});
