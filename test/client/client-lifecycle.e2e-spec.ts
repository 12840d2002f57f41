import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import {
  AttachBindingConflictError,
  AttachLifecycleUnsupportedError,
  AttachRequiredError,
  ClientClosedError,
  isExpectedSyncContention,
  SourceRecoveryRequiredError,
} from '@oversync/client-node';
import { attachedDevice, dirtyRows, newDevice, serverRows, useProxy, useTestServer } from './client-devices.js';

describe('client ⇄ server: lifecycle, detach, rotation', () => {
  const server = useTestServer();
  const recording = useProxy(server);

  it('resolves initialize_empty, seeds with initialize_local, and resumes without network after restart', async () => {
    const empty = await attachedDevice(server.t, 'init-empty');
    expect((await empty.client.syncStatus()).authority).toBe('authoritative_empty');
    await empty.close();

    const { proxy } = recording;
    const device = await newDevice(server.t, 'init-seed', { baseUrl: proxy.baseUrl });
    device.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'offline', 'o@x.test')").run(randomUUID());
    const attached = await device.client.attach('init-seed');
    expect(attached).toMatchObject({ status: 'connected', outcome: 'seeded_from_local', restore: null });
    expect(attached.syncStatus.authority).toBe('pending_local_seed');
    expect((await device.client.pushPending()).outcome).toBe('committed');
    expect((await device.client.syncStatus()).authority).toBe('authoritative_materialized');

    await device.restart();
    const requestsBefore = proxy.requests.length;
    await expect(device.client.pushPending()).rejects.toThrow(AttachRequiredError);
    expect((await device.client.attach('init-seed')).outcome).toBe('resumed_attached_state');
    expect(proxy.requests.length).toBe(requestsBefore);
    await device.close();
  });

  it('hydrates a second device with remote_authoritative, replacing its anonymous rows', async () => {
    const a = await attachedDevice(server.t, 'hydrate');
    const id = randomUUID();
    a.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'Ada', 'ada@x.test')").run(id);
    await a.client.pushPending();
    const b = await newDevice(server.t, 'hydrate');
    b.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'anonymous', 'anon@x.test')").run(randomUUID());
    const result = await b.client.attach('hydrate');
    expect(result).toMatchObject({
      status: 'connected',
      outcome: 'used_remote_state',
      restore: { bundleSeq: 1, rowCount: 1 },
    });
    expect(b.client.getTableRows('users').map((r) => r.id)).toEqual([id]);
    expect(dirtyRows(b.db)).toHaveLength(0);
    await a.close();
    await b.close();
  });

  it('refuses a server whose schema_version is older than the app requires', async () => {
    const device = await newDevice(server.t, 'schema-version', { minServerSchemaVersion: 2 });
    await expect(device.client.attach('schema-version')).rejects.toThrow(
      new AttachLifecycleUnsupportedError('server schema_version 1 is older than the 2 this app requires'),
    );
    expect(device.client.userId).toBe('');
    await device.close();
  });

  it('reports retry_later without binding the user while another device holds the initialization lease', async () => {
    const a = await newDevice(server.t, 'lease-held');
    a.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'seed', 's@x.test')").run(randomUUID());
    expect((await a.client.attach('lease-held')).outcome).toBe('seeded_from_local');
    const b = await newDevice(server.t, 'lease-held');
    const result = await b.client.attach('lease-held');
    expect(result).toMatchObject({ status: 'retry_later', outcome: '', restore: null });
    // The lease lasts 15 minutes by default; retry_after_seconds is what is left of it.
    expect(result.retryAfterMs).toBeGreaterThan(800_000);
    expect(result.retryAfterMs).toBeLessThanOrEqual(900_000);
    expect(result.syncStatus.authority).toBe('');
    expect(b.client.userId).toBe('');
    await a.close();
    await b.close();
  });

  it('blocks Detach while data is unsynced, then detaches, wipes synced rows and switches user on a fresh source', async () => {
    let signedIn = 'switch-a';
    const device = await newDevice(server.t, 'switch-a', { tokenProvider: () => server.t.signIn(signedIn) });
    await device.client.attach('switch-a');
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), 'A', 'a@x.test');
    expect(await device.client.detach()).toEqual({ outcome: 'blocked_unsynced_data', pendingRowCount: 1 });
    await expect(device.client.attach('switch-b')).rejects.toThrow(AttachBindingConflictError);
    await device.client.pushPending();
    const first = (await device.client.sourceInfo()).currentSourceId;
    expect(await device.client.detach()).toEqual({ outcome: 'detached', pendingRowCount: 0 });
    expect(device.client.getTableRowCount('users')).toBe(0);
    expect(
      device.db
        .prepare('SELECT binding_state, attached_user_id, last_bundle_seq_seen FROM _sync_attachment_state')
        .get(),
    ).toEqual({
      binding_state: 'anonymous',
      attached_user_id: '',
      last_bundle_seq_seen: 0,
    });
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), 'B offline', 'b@x.test');
    signedIn = 'switch-b';
    expect((await device.client.attach('switch-b')).outcome).toBe('seeded_from_local');
    expect((await device.client.sourceInfo()).currentSourceId).not.toBe(first);
    expect((await device.client.pushPending()).outcome).toBe('committed');
    expect((await serverRows(server.pg, 'switch-b', 'users', 'name')).map((r) => r.name)).toEqual(['B offline']);
    expect((await serverRows(server.pg, 'switch-a', 'users', 'name')).map((r) => r.name)).toEqual(['A']);
    await device.close();
  });

  it('syncThenDetach syncs pending rows and detaches, and reports a detach blocked by paused sync', async () => {
    const device = await attachedDevice(server.t, 'sync-then-detach');
    device.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'Ada', 'ada@x.test')").run(randomUUID());
    const result = await device.client.syncThenDetach();
    expect(result).toMatchObject({
      isSuccess: true,
      syncRounds: 1,
      remainingPendingRowCount: 0,
      detach: { outcome: 'detached' },
    });
    expect(await serverRows(server.pg, 'sync-then-detach', 'users', 'name')).toEqual([{ name: 'Ada' }]);
    device.client.pauseUploads();
    device.client.pauseDownloads();
    await device.client.attach('sync-then-detach');
    device.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'x', 'x@x.test')").run(randomUUID());
    const blocked = await device.client.syncThenDetach();
    expect(blocked).toMatchObject({ isSuccess: false, syncRounds: 2, detach: { outcome: 'blocked_unsynced_data' } });
    expect(blocked.lastSync).toMatchObject({ pushOutcome: 'skipped_paused', remoteOutcome: 'skipped_paused' });
    await device.close();
  });

  it('fails fast on concurrent operations and closes for good', async () => {
    const device = await attachedDevice(server.t, 'concurrent');
    const first = device.client.pullToStable();
    const second = await device.client.pushPending().catch((e: unknown) => e);
    expect(isExpectedSyncContention(second)).toBe(true);
    await first;
    await device.client.close();
    await expect(device.client.pushPending()).rejects.toThrow(ClientClosedError);
    await device.close();
  });

  it('uninstalls triggers and metadata but keeps business rows, and allows a fresh install', async () => {
    const device = await attachedDevice(server.t, 'uninstall');
    device.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'Ada', 'ada@x.test')").run(randomUUID());
    await device.client.pushPending();
    await device.client.uninstallSync();
    expect(
      device.db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name LIKE '_sync_%' OR name LIKE 'trg_%'").get(),
    ).toEqual({ n: 0 });
    expect(device.db.prepare('SELECT COUNT(*) AS n FROM users').get()).toEqual({ n: 1 });
    await expect(device.client.pushPending()).rejects.toThrow(ClientClosedError);
    await device.restart();
    expect(dirtyRows(device.db)).toMatchObject([{ op: 'INSERT', base_row_version: 0 }]);
    await device.close();
  });

  it('enters source recovery on source_sequence_out_of_order, survives restart, and rotates on Rebuild keeping the frozen outbox', async () => {
    const device = await attachedDevice(server.t, 'rotate');
    const id = randomUUID();
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(id, 'v1', 'r@x.test');
    await device.client.pushPending();
    const before = (await device.client.sourceInfo()).currentSourceId;
    device.db.prepare('UPDATE _sync_source_state SET next_source_bundle_id = 7').run();
    device.db.prepare("UPDATE users SET name = 'v2 (frozen)' WHERE id = ?").run(id);
    const error = await device.client.pushPending().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceRecoveryRequiredError);
    expect((error as SourceRecoveryRequiredError).code).toBe('source_sequence_out_of_order');
    await device.restart();
    await device.client.attach('rotate');
    expect(await device.client.sourceInfo()).toMatchObject({
      sourceRecoveryRequired: true,
      sourceRecoveryReason: 'source_sequence_out_of_order',
      rebuildRequired: true,
    });
    await expect(device.client.pullToStable()).rejects.toThrow(SourceRecoveryRequiredError);
    expect(() =>
      device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), 'x', 'x@x.test'),
    ).toThrow('SYNC_TRANSITION_PENDING');
    const rebuilt = await device.client.rebuild();
    expect(rebuilt.outcome).toBe('applied_snapshot');
    const after = await device.client.sourceInfo();
    expect(after).toMatchObject({ sourceRecoveryRequired: false, rebuildRequired: false });
    expect(after.currentSourceId).not.toBe(before);
    expect(device.client.getTableRows('users')).toMatchObject([{ id, name: 'v2 (frozen)' }]);
    expect((await device.client.pushPending()).outcome).toBe('committed');
    expect(await serverRows(server.pg, 'rotate', 'users', 'name')).toEqual([{ name: 'v2 (frozen)' }]);
    await device.close();
  });
});
