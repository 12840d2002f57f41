import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { attachedDevice, eventually, useProxy, useTestServer, watchSubscribers } from './client-devices.js';

describe('client ⇄ server: background loops (start/stop)', () => {
  const server = useTestServer();
  const recording = useProxy(server);

  it('pushes local writes and polls remote bundles', async () => {
    const a = await attachedDevice(server.t, 'polling', { backoffMinMs: 20, backoffMaxMs: 100 });
    const b = await attachedDevice(server.t, 'polling', { backoffMinMs: 20, backoffMaxMs: 100 });
    a.client.start();
    b.client.start();
    const id = randomUUID();
    a.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'Ada', 'ada@x.test')").run(id);
    await eventually(() => b.client.getTableRowCount('users') === 1);
    b.db.prepare("UPDATE users SET name = 'Ada (B)' WHERE id = ?").run(id);
    await eventually(() => a.client.getTableRows('users')[0]?.name === 'Ada (B)');
    await a.close();
    await b.close();
  });

  it('follows GET /sync/watch on one stream and pulls every change from another device', async () => {
    const { proxy } = recording;
    const writer = await attachedDevice(server.t, 'watcher');
    writer.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), 'first', 'w@x.test');
    await writer.client.pushPending();
    // Polling and fallback pulls are far away: only watch events can bring the changes in time.
    const reader = await attachedDevice(server.t, 'watcher', {
      baseUrl: proxy.baseUrl,
      bundleChangeWatchMode: 'auto',
      backoffMinMs: 30_000,
      watchFallbackIntervalMs: 300_000,
    });
    reader.client.start();
    await eventually(async () => (await watchSubscribers(server.t, 'watcher')) === 1);
    const pulls = () => proxy.requestsTo('GET', /^\/sync\/pull$/).length;
    const pullsBefore = pulls();
    for (let i = 0; i < 3; i++) {
      writer.db
        .prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)')
        .run(randomUUID(), `change ${i}`, 'w@x.test');
      await writer.client.pushPending();
      await eventually(() => reader.client.getTableRowCount('users') === i + 2);
    }
    expect(pulls()).toBeGreaterThan(pullsBefore);
    expect(proxy.requestsTo('GET', /^\/sync\/watch$/)).toHaveLength(1);
    await reader.client.stop();
    await eventually(async () => (await watchSubscribers(server.t, 'watcher')) === 0);
    await reader.close();
    await writer.close();
  });
});
