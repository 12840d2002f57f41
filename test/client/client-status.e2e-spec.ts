import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { ClientStatus, FetchLike } from '@oversync/client-node';
import { attachedDevice, useTestServer } from './client-devices.js';

/** Every status a client announces, in order. */
function record(client: { onStatusChange(listener: (s: ClientStatus) => void): () => void }) {
  const seen: ClientStatus[] = [];
  const unsubscribe = client.onStatusChange((s) => seen.push(s));
  return { seen, unsubscribe };
}

describe('client ⇄ server: observable status', () => {
  const server = useTestServer();

  it('announces upload and download transitions, pending rows and the last sync time', async () => {
    const a = await attachedDevice(server.t, 'status-flow');
    const b = await attachedDevice(server.t, 'status-flow');
    expect(a.client.currentStatus).toMatchObject({
      connected: true,
      userId: 'status-flow',
      uploading: false,
      downloading: false,
      uploadError: null,
      downloadError: null,
    });

    a.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'Ada', 'ada@x.test')").run(randomUUID());
    const up = record(a.client);
    await a.client.pushPending();
    expect(up.seen.map((s) => s.uploading)).toEqual([true, false]);
    expect(up.seen.at(-1)).toMatchObject({ uploadError: null, pendingRowCount: 0 });

    const down = record(b.client);
    const before = b.client.currentStatus.lastSyncedAt?.getTime() ?? 0;
    await b.client.pullToStable();
    expect(down.seen.map((s) => s.downloading)).toEqual([true, false]);
    expect(down.seen.at(-1)!.lastSyncedAt!.getTime()).toBeGreaterThanOrEqual(before);
    expect(b.client.currentStatus).toBe(down.seen.at(-1));

    // unsubscribed listeners hear nothing more
    up.unsubscribe();
    a.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'Bob', 'bob@x.test')").run(randomUUID());
    await a.client.sync();
    expect(up.seen).toHaveLength(2);
    await a.close();
    await b.close();
  });

  it('puts background upload and download failures into the status and clears them on recovery', async () => {
    let offline = true;
    const network: FetchLike = (input, init) =>
      offline && /\/sync\/(push-sessions|pull)/.test(String(input))
        ? Promise.reject(new TypeError('fetch failed'))
        : fetch(input, init);
    const device = await attachedDevice(server.t, 'status-errors', {
      fetch: network,
      backoffMinMs: 20,
      backoffMaxMs: 50,
      retryPolicy: { enabled: false },
    });
    const { seen } = record(device.client);
    device.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'Offline', 'o@x.test')").run(randomUUID());
    device.client.start();
    const failing = await device.client.waitForStatus(
      (s) => s.uploadError !== null && s.downloadError !== null,
      AbortSignal.timeout(10_000),
    );
    expect(failing.uploadError!.message).toMatch(/fetch failed/);
    // the pull fails on the network, or refuses to run while the failed push's frozen outbox waits
    expect(failing.downloadError).toBeInstanceOf(Error);
    expect(failing.pendingRowCount).toBe(1);

    offline = false;
    const recovered = await device.client.waitForStatus(
      (s) => s.uploadError === null && s.downloadError === null && s.pendingRowCount === 0 && s.lastSyncedAt !== null,
      AbortSignal.timeout(10_000),
    );
    expect(recovered.connected).toBe(true);
    expect(seen.some((s) => s.uploading)).toBe(true);
    await device.client.stop();
    await device.close();
  });

  it('rejects waitForStatus when its signal aborts', async () => {
    const device = await attachedDevice(server.t, 'status-abort');
    const controller = new AbortController();
    const waiting = device.client.waitForStatus((s) => s.userId === 'nobody', controller.signal);
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    await device.close();
  });
});
