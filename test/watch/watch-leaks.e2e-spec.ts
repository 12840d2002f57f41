import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WatchService } from '@oversync/nestjs';
import { OVERSYNC_DATABASE } from '../../libs/oversync/src/oversync.constants.js';
import type { SyncDatabase } from '../../libs/oversync/src/database/sync-database.js';
import http from 'node:http';
import { syncHeaders } from '../support/sse.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { WatchDevice, queryDatabase, sleep } from './watch-fixture.js';

const CYCLES = 1000;

interface ProcessFootprint {
  handles: number;
  timeouts: number;
  resources: number;
  /** listeners on the long-lived emitters: the process and the HTTP server */
  listeners: number;
  subscribers: number;
  databaseConnections: number;
  /** connections the host's pool holds (idle ones are closed after its idle timeout, 10 s) */
  pooled: number;
}

function listenerTotal(emitter: NodeJS.EventEmitter): number {
  return emitter.eventNames().reduce((sum, name) => sum + emitter.listenerCount(name), 0);
}

describe('GET /sync/watch: 1,000 connect/disconnect cycles leak nothing', () => {
  let t: TestApp;
  let device: WatchDevice;

  const footprint = async (): Promise<ProcessFootprint> => {
    const resources = process.getActiveResourcesInfo();
    const [{ count }] = (await queryDatabase<{ count: number }>(
      t.db.url,
      'SELECT count(*)::int AS count FROM pg_stat_activity WHERE datname = current_database() AND pid <> ' +
        'pg_backend_pid()',
    )) as [{ count: number }];
    return {
      handles: (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length,
      timeouts: resources.filter((r) => r === 'Timeout').length,
      resources: resources.length,
      listeners: listenerTotal(process) + listenerTotal(t.app.getHttpServer() as NodeJS.EventEmitter),
      subscribers: t.app.get(WatchService, { strict: false }).subscriberCount('alice'),
      databaseConnections: count,
      pooled: t.app.get<symbol, SyncDatabase>(OVERSYNC_DATABASE, { strict: false }).pool.totalCount,
    };
  };

  const cycle = async () => {
    const stream = await device.watch('?after_bundle_seq=0');
    expect(stream.status).toBe(200);
    await stream.nextBundle();
    await stream.close();
  };

  /** Sends the request and drops the connection at once, often while the server is still subscribing. */
  const abortedCycle = (delayMs: number) =>
    new Promise<void>((resolve) => {
      const req = http.get(`${t.baseUrl}/sync/watch`, {
        headers: syncHeaders(device.token, device.sourceId),
        agent: false,
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve());
      setTimeout(() => req.destroy(), delayMs);
    });

  /**
   * Lets the server see the last disconnect, then waits until the figures stop moving and the pool is back to `pooled`.
   */
  const settled = async (pooled = Infinity): Promise<ProcessFootprint> => {
    let last = await footprint();
    for (let i = 0; i < 150; i++) {
      await sleep(100);
      const now = await footprint();
      if (JSON.stringify(now) === JSON.stringify(last) && now.subscribers === 0 && now.pooled <= pooled) return now;
      last = now;
    }
    return last;
  };

  beforeAll(async () => {
    t = await startTestApp({ env: { OVERSYNC_WATCH_HEARTBEAT_MS: '50' } });
    device = await WatchDevice.signIn(t, 'alice', 'alice-1');
    await device.http.connect(false);
    await device.commit();
  });
  afterAll(async () => t.close());

  it(`returns to the same handles, timers, subscribers and database connections after ${CYCLES} cycles`, async () => {
    for (let i = 0; i < 20; i++) await cycle(); // warm the pool and the HTTP stack
    const before = await settled();
    for (let i = 0; i < CYCLES; i++) await cycle();
    const after = await settled();
    process.stdout.write(
      `watch leak check over ${CYCLES} cycles: before ${JSON.stringify(before)} after ${JSON.stringify(after)}\n`,
    );
    expect(after.subscribers).toBe(0);
    expect(after.handles).toBeLessThanOrEqual(before.handles + 2);
    expect(after.timeouts).toBeLessThanOrEqual(before.timeouts + 2);
    expect(after.resources).toBeLessThanOrEqual(before.resources + 2);
    expect(after.listeners).toBe(before.listeners);
    expect(after.databaseConnections).toBeLessThanOrEqual(before.databaseConnections + 1);
  }, 60_000);

  it('leaks nothing when clients vanish while their subscription is being set up', async () => {
    const before = await settled();
    for (let i = 0; i < 300; i++) await abortedCycle(i % 4);
    // set-ups outlive their aborted requests and overlap, so the pool grows for a while
    const after = await settled(before.pooled);
    process.stdout.write(
      `watch leak check over 300 aborted set-ups: before ${JSON.stringify(before)} after ${JSON.stringify(after)}\n`,
    );
    expect(after.subscribers).toBe(0);
    expect(after.timeouts).toBeLessThanOrEqual(before.timeouts + 2);
    expect(after.handles).toBeLessThanOrEqual(before.handles + 2);
    expect(after.listeners).toBe(before.listeners);
  }, 60_000);
});
