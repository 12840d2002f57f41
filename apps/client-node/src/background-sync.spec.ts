import { describe, expect, it } from '@jest/globals';
import { attachedClient, fakeServer, memoryDatabase } from '../test-support/client-fixtures.js';

async function eventually(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('background sync', () => {
  it('pushes local writes and polls remote bundles', async () => {
    const server = fakeServer();
    const dbA = memoryDatabase();
    const dbB = memoryDatabase();
    const a = await attachedClient(dbA, server, 'alice', { backoffMinMs: 20, backoffMaxMs: 100 });
    const b = await attachedClient(dbB, server, 'alice', { backoffMinMs: 20, backoffMaxMs: 100 });
    a.start();
    b.start();
    dbA.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    await eventually(() => b.getTableRowCount('users') === 1);
    dbB.exec("UPDATE users SET name = 'Ada (B)' WHERE id = 'u1'");
    await eventually(() => a.getTableRows('users')[0]?.name === 'Ada (B)');
    await a.close();
    await b.close();
  });

  it('follows the watch stream and pulls on each event', async () => {
    const server = fakeServer();
    server.watchEnabled = true;
    const dbA = memoryDatabase();
    const dbB = memoryDatabase();
    const a = await attachedClient(dbA, server, 'alice');
    const b = await attachedClient(dbB, server, 'alice', { bundleChangeWatchMode: 'auto', backoffMinMs: 5000, watchFallbackIntervalMs: 60_000 });
    b.start();
    await eventually(() => server.watchSubscribers('alice') === 1);
    const pullsBefore = server.requests.filter((r) => r.path === '/sync/pull').length;
    dbA.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    await a.pushPending();
    await eventually(() => b.getTableRowCount('users') === 1);
    expect(server.requests.filter((r) => r.path === '/sync/pull').length).toBeGreaterThan(pullsBefore);
    expect(server.requests.filter((r) => r.path === '/sync/watch')).toHaveLength(1);
    await b.stop();
    await eventually(() => server.watchSubscribers('alice') === 0);
    await a.close();
    await b.close();
  });
});
