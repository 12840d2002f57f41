import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BundleChangeListener, WatchService } from '@oversync/nestjs';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { WatchDevice, queryDatabase, waitUntil } from './watch-fixture.js';

describe('bundle change listener: LISTEN/NOTIFY across instances and connection loss', () => {
  let a: TestApp;
  let b: TestApp;
  let writer: WatchDevice;
  let watcher: WatchDevice;

  const listenerOf = (t: TestApp) => t.app.get(BundleChangeListener, { strict: false });
  /** the event of a commit by the writer, as a NOTIFY or the committing instance announces it */
  const eventOf = (commit: { bundle_seq: number; source_bundle_id: number }) => ({
    bundle_seq: commit.bundle_seq,
    source_id: 'alice-writer',
    source_bundle_id: commit.source_bundle_id,
  });

  beforeAll(async () => {
    a = await startTestApp();
    b = await startTestApp({ db: a.db, env: { OVERSYNC_WATCH_LISTEN_LINGER_MS: '300' } });
    writer = await WatchDevice.signIn(a, 'alice', 'alice-writer');
    watcher = await WatchDevice.signIn(b, 'alice', 'alice-watcher');
    await writer.http.connect(false);
  });
  afterAll(async () => {
    await b.close({ keepDatabase: true });
    await a.close();
  });

  it('keeps one LISTEN connection per instance', async () => {
    const pids = [listenerOf(a).backendPid, listenerOf(b).backendPid];
    expect(pids.every((pid) => typeof pid === 'number')).toBe(true);
    const rows = await queryDatabase<{ pid: number }>(
      a.db.url,
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = ' +
        "'oversync-watch-listener' ORDER BY pid",
    );
    expect(rows.map((r) => r.pid)).toEqual([...pids].sort((x, y) => x! - y!));
  });

  it('wakes a watcher on instance B for a commit through instance A', async () => {
    // B has had no stream yet: its connection does not LISTEN, and opening the stream makes it
    expect(listenerOf(b).isListening).toBe(false);
    const stream = await watcher.watch();
    expect(listenerOf(b).isListening).toBe(true);
    try {
      const commit = await writer.commit();
      expect((await stream.nextBundle()).data).toEqual(eventOf(commit));
    } finally {
      await stream.close();
    }
  });

  it('LISTENs only while the instance has a watch stream, and for the linger after its last one', async () => {
    const listener = listenerOf(b);
    const first = await watcher.watch(`?after_bundle_seq=${(await writer.commit()).bundle_seq}`);
    expect(listener.isListening).toBe(true);
    await first.close();
    await waitUntil(() => b.app.get(WatchService, { strict: false }).subscriberCount() === 0);
    expect(listener.isListening).toBe(true); // lingering (300 ms here)
    await waitUntil(() => !listener.isListening);
    // committed while B does not LISTEN: a new stream's read of the latest sequence announces it, and
    // the stream LISTENs before that read, so the next commit wakes it by NOTIFY
    const unheard = await writer.commit();
    const second = await watcher.watch(`?after_bundle_seq=${unheard.bundle_seq - 1}`);
    try {
      expect((await second.nextBundle()).data).toEqual({ bundle_seq: unheard.bundle_seq });
      const heard = await writer.commit();
      expect((await second.nextBundle()).data).toEqual(eventOf(heard));
    } finally {
      await second.close();
    }
  });

  it('survives pg_terminate_backend of the LISTEN connection, catching up on reconnect', async () => {
    const listener = listenerOf(b);
    const stream = await watcher.watch(`?after_bundle_seq=${(await writer.commit()).bundle_seq}`);
    try {
      let killed: number;
      let missed: { bundle_seq: number };
      // a commit made while B's listener is down: only the reconnect catch-up can announce it. The
      // reconnect waits 100 ms, doubling each time: on a loaded machine a commit can outlast one wait,
      // and then the same steps run again (that commit's event, whichever way it came, taken first).
      for (let attempt = 1; ; attempt++) {
        killed = listener.backendPid!;
        await queryDatabase(b.db.url, 'SELECT pg_terminate_backend($1)', [killed]);
        await waitUntil(() => listener.backendPid === undefined);
        missed = await writer.commit();
        if (listener.backendPid === undefined || attempt === 5) break;
        expect((await stream.nextBundle()).data).toMatchObject({ bundle_seq: missed.bundle_seq });
        await waitUntil(() => listener.backendPid !== undefined);
      }
      expect(listener.backendPid).toBeUndefined();
      expect((await stream.nextBundle()).data).toEqual({ bundle_seq: missed.bundle_seq });
      await waitUntil(() => listener.backendPid !== undefined);
      expect(listener.backendPid).not.toBe(killed);
      const later = await writer.commit();
      expect((await stream.nextBundle()).data).toEqual(eventOf(later));
    } finally {
      await stream.close();
    }
  });

  it("wakes the committing instance's own watchers once, without waiting for the NOTIFY", async () => {
    const local = await WatchDevice.signIn(a, 'alice', 'alice-local-watcher');
    const stream = await local.watch(`?after_bundle_seq=${(await writer.commit()).bundle_seq}`);
    try {
      // the commit's own wake-up and its NOTIFY make one event, never the same sequence twice
      const first = await writer.commit();
      expect((await stream.nextBundle()).data).toEqual(eventOf(first));
      const second = await writer.commit();
      expect((await stream.nextBundle()).data).toEqual(eventOf(second));
      // with A's listener gone, a commit through A still wakes A's watchers, with its source members
      await listenerOf(a).stop();
      const third = await writer.commit();
      expect((await stream.nextBundle()).data).toEqual(eventOf(third));
    } finally {
      await stream.close();
    }
  });
});
