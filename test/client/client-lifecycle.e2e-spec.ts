import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { SourceRecoveryRequiredError } from '@oversync/client-node';
import { attachedDevice, newDevice, serverRows, useTestServer } from './client-devices.js';

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('client ⇄ server: lifecycle, rotation, watch', () => {
  const server = useTestServer();

  it('switches users on one database: Detach wipes the synced rows, the next user starts on a fresh source', async () => {
    let signedIn = 'switch-a';
    const device = await newDevice(server.t, 'switch-a', { tokenProvider: () => server.t.signIn(signedIn) });
    await device.client.open();
    await device.client.attach('switch-a');
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), 'A', 'a@x.test');
    await device.client.pushPending();
    const first = (await device.client.sourceInfo()).currentSourceId;
    expect(await device.client.detach()).toEqual({ outcome: 'detached', pendingRowCount: 0 });
    expect(device.client.getTableRowCount('users')).toBe(0);
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), 'B offline', 'b@x.test');
    signedIn = 'switch-b';
    expect((await device.client.attach('switch-b')).outcome).toBe('seeded_from_local');
    expect((await device.client.sourceInfo()).currentSourceId).not.toBe(first);
    expect((await device.client.pushPending()).outcome).toBe('committed');
    expect((await serverRows(server.pg, 'switch-b', 'users', 'name')).map((r) => r.name)).toEqual(['B offline']);
    expect((await serverRows(server.pg, 'switch-a', 'users', 'name')).map((r) => r.name)).toEqual(['A']);
    await device.close();
  });

  it('recovers a source the server no longer accepts by a rotated rebuild that keeps the frozen outbox', async () => {
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
    await device.client.open();
    await device.client.attach('rotate');
    expect(await device.client.sourceInfo()).toMatchObject({ sourceRecoveryRequired: true, sourceRecoveryReason: 'source_sequence_out_of_order' });
    const rebuilt = await device.client.rebuild();
    expect(rebuilt.outcome).toBe('applied_snapshot');
    const after = await device.client.sourceInfo();
    expect(after).toMatchObject({ sourceRecoveryRequired: false, rebuildRequired: false });
    expect(after.currentSourceId).not.toBe(before);
    expect((await device.client.pushPending()).outcome).toBe('committed');
    expect(await serverRows(server.pg, 'rotate', 'users', 'name')).toEqual([{ name: 'v2 (frozen)' }]);
    await device.close();
  });

  it('follows GET /sync/watch and pulls every change from another device', async () => {
    const writer = await attachedDevice(server.t, 'watcher');
    writer.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), 'first', 'w@x.test');
    await writer.client.pushPending();
    const reader = await attachedDevice(server.t, 'watcher', { bundleChangeWatchMode: 'auto', backoffMinMs: 30_000, watchFallbackIntervalMs: 300_000 });
    reader.client.start();
    await eventually(async () => {
      const response = await fetch(`${server.t.baseUrl}/test/watch-subscribers?user_id=watcher`);
      return ((await response.json()) as { subscriber_count: number }).subscriber_count === 1;
    });
    for (let i = 0; i < 3; i++) {
      writer.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), `change ${i}`, 'w@x.test');
      await writer.client.pushPending();
      await eventually(() => reader.client.getTableRowCount('users') === i + 2);
    }
    await reader.client.stop();
    await reader.close();
    await writer.close();
  });
});
