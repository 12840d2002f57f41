import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { BundleChangeListener, OversyncScopeService, WatchService } from '@oversync/nestjs';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { DEFAULT_BUNDLE_CHANGE_NOTIFY_CHANNEL as CHANNEL } from '@oversync/protocol';
import pg from 'pg';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { WatchDevice, queryDatabase, waitUntil } from './watch-fixture.js';

/** A valid NOTIFY payload for a user_pk no user has, which listening servers take quietly. */
const payloadOfNobody = (bundleSeq: number) =>
  `{"user_pk":9223372036854775807,"bundle_seq":${bundleSeq},"source_id":"","source_bundle_id":0}`;

/**
 * A connection that LISTENs on the bundle channel without registering in sync.watch_listeners: it hears the
 * NOTIFYs commits send, and no commit sends one because of it.
 */
class Eavesdropper {
  private static markers = 1000;
  readonly heard: string[] = [];
  private constructor(private readonly client: pg.Client) {}

  static async open(url: string): Promise<Eavesdropper> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const eavesdropper = new Eavesdropper(client);
    client.on('notification', (n) => eavesdropper.heard.push(n.payload ?? ''));
    await client.query(`LISTEN ${CHANNEL}`);
    return eavesdropper;
  }

  /**
   * What was heard up to now: a marker NOTIFY sent after the commits arrives after theirs (NOTIFYs are
   * delivered in commit order), so once it is heard, nothing sent before it is still on its way.
   */
  async drain(url: string): Promise<string[]> {
    const marker = payloadOfNobody(++Eavesdropper.markers);
    await queryDatabase(url, 'SELECT pg_notify($1, $2)', [CHANNEL, marker]);
    await waitUntil(() => this.heard.includes(marker));
    return this.heard.splice(0).filter((p) => p !== marker);
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

describe('the commit NOTIFYs only while another server process listens (sync.watch_listeners)', () => {
  let a: TestApp;
  let b: TestApp | undefined;
  let writer: WatchDevice;
  let eavesdropper: Eavesdropper;

  const listenerOf = (t: TestApp) => t.app.get(BundleChangeListener, { strict: false });
  const registered = async () =>
    (await queryDatabase<{ n: number }>(a.db.url, 'SELECT count(*)::int AS n FROM sync.watch_listeners'))[0]!.n;

  beforeAll(async () => {
    a = await startTestApp({ env: { OVERSYNC_WATCH_LISTEN_LINGER_MS: '0' } });
    writer = await WatchDevice.signIn(a, 'alice', 'alice-writer');
    await writer.http.connect(false);
    eavesdropper = await Eavesdropper.open(a.db.url);
  });
  afterEach(async () => {
    await b?.close({ keepDatabase: true });
    b = undefined;
  });
  afterAll(async () => {
    await eavesdropper.close();
    await a.close();
  });

  it('sends no NOTIFY with one instance, whose own stream still gets every commit', async () => {
    expect(await registered()).toBe(0);
    await writer.commit();
    expect(await eavesdropper.drain(a.db.url)).toEqual([]);

    const local = await WatchDevice.signIn(a, 'alice', 'alice-local');
    const stream = await local.watch(`?after_bundle_seq=${(await writer.commit()).bundle_seq}`);
    try {
      expect(listenerOf(a).isListening).toBe(true);
      expect(await registered()).toBe(1); // its own row: not another process
      for (let i = 0; i < 3; i++) {
        const commit = await writer.commit();
        expect((await stream.nextBundle()).data).toMatchObject({ bundle_seq: commit.bundle_seq });
      }
      // a bulk commit, its bundle built in PostgreSQL, excludes this process's listener as well
      const bulk = await writer.commit(1000);
      expect((await stream.nextBundle()).data).toMatchObject({ bundle_seq: bulk.bundle_seq });
      expect(await eavesdropper.drain(a.db.url)).toEqual([]);
    } finally {
      await stream.close();
    }
    await waitUntil(async () => !listenerOf(a).isListening && (await registered()) === 0);
  });

  it('NOTIFYs while an instance B listens, so its stream gets commits through A; stops after B', async () => {
    b = await startTestApp({ db: a.db, env: { OVERSYNC_WATCH_LISTEN_LINGER_MS: '0' } });
    const watcher = await WatchDevice.signIn(b, 'alice', 'alice-watcher');
    const stream = await watcher.watch(`?after_bundle_seq=${(await writer.commit()).bundle_seq}`);
    try {
      expect(await registered()).toBe(1);
      const commit = await writer.commit();
      expect((await stream.nextBundle()).data).toEqual({
        bundle_seq: commit.bundle_seq,
        source_id: 'alice-writer',
        source_bundle_id: commit.source_bundle_id,
      });
      const bulk = await writer.commit(1000);
      expect((await stream.nextBundle()).data).toMatchObject({ bundle_seq: bulk.bundle_seq });
      expect(await eavesdropper.drain(a.db.url)).toHaveLength(2);
    } finally {
      await stream.close();
    }
    await waitUntil(async () => !listenerOf(b!).isListening && (await registered()) === 0);
    await writer.commit();
    expect(await eavesdropper.drain(a.db.url)).toEqual([]);
  });

  it("a server-originated write (no in-process delivery) still NOTIFYs the committing process's own stream", async () => {
    const local = await WatchDevice.signIn(a, 'alice', 'alice-local');
    const stream = await local.watch(`?after_bundle_seq=${(await writer.commit()).bundle_seq}`);
    try {
      const id = randomUUID();
      const written = await a.app
        .get(OversyncScopeService)
        .execWrite('alice', { writerId: 'admin-panel' }, (manager: EntityManager) =>
          manager.query('INSERT INTO business.users (id, name, email) VALUES ($1, $2, $3)', [id, 'n', 'n@example.com']),
        );
      expect((await stream.nextBundle()).data).toMatchObject({
        bundle_seq: Number(written.bundle.bundleSeq),
        source_id: 'admin-panel',
      });
      expect(await eavesdropper.drain(a.db.url)).toHaveLength(1);
    } finally {
      await stream.close();
    }
    await waitUntil(async () => (await registered()) === 0);
  });

  it('drops the rows of backends that are gone when a listener registers', async () => {
    await queryDatabase(
      a.db.url,
      'INSERT INTO sync.watch_listeners (listener_id, backend_pid) VALUES (gen_random_uuid(), 2147483647)',
    );
    await writer.commit();
    expect(await eavesdropper.drain(a.db.url)).toHaveLength(1); // a stale row: a needless NOTIFY, never a lost one
    const local = await WatchDevice.signIn(a, 'alice', 'alice-local');
    const stream = await local.watch();
    try {
      expect(await registered()).toBe(1);
    } finally {
      await stream.close();
    }
    await waitUntil(async () => (await registered()) === 0);
  });

  it('a registering listener waits for a commit that read the registry before its row was there', async () => {
    b = await startTestApp({ db: a.db, env: { OVERSYNC_WATCH_LISTEN_LINGER_MS: '0' } });
    // a commit that has looked at the registry (empty: no NOTIFY) and not committed yet
    const commit = new pg.Client({ connectionString: a.db.url });
    await commit.connect();
    try {
      await commit.query('BEGIN');
      await commit.query('SELECT sync.notify_bundle($1, $2, NULL)', [CHANNEL, payloadOfNobody(1)]);
      const watcher = await WatchDevice.signIn(b, 'alice', 'alice-watcher');
      const opening = watcher.watch();
      const listenerPid = listenerOf(b).backendPid!;
      // B's listener has committed its row and LISTEN and now waits for the commit above to end
      await waitUntil(
        async () =>
          (
            await queryDatabase<{ n: number }>(
              a.db.url,
              `SELECT count(*)::int AS n FROM pg_stat_activity
                WHERE pid = $1 AND state = 'active' AND query LIKE '%watch_listeners_barrier%'`,
              [listenerPid],
            )
          )[0]!.n === 1,
      );
      expect(await registered()).toBe(1);
      // a commit that looks now, with the row visible, NOTIFYs, and is not queued behind the registration
      const later = new pg.Client({ connectionString: a.db.url });
      await later.connect();
      await later.query('SELECT sync.notify_bundle($1, $2, NULL)', [CHANNEL, payloadOfNobody(2)]);
      await later.end();
      await commit.query('COMMIT');
      const stream = await opening;
      await stream.close();
      expect(await eavesdropper.drain(a.db.url)).toEqual([payloadOfNobody(2)]);
    } finally {
      await commit.end();
    }
  });

  it('a listener registering while commits run misses none of them', async () => {
    b = await startTestApp({ db: a.db, env: { OVERSYNC_WATCH_LISTEN_LINGER_MS: '0' } });
    const watchers = b.app.get(WatchService, { strict: false });
    const watcher = await WatchDevice.signIn(b, 'alice', 'alice-watcher');
    for (let round = 0; round < 4; round++) {
      let running = true;
      let last = 0;
      const loop = (async () => {
        while (running) last = (await writer.commit()).bundle_seq;
      })();
      await new Promise((resolve) => setTimeout(resolve, 20 * round));
      const stream = await watcher.watch();
      try {
        await new Promise((resolve) => setTimeout(resolve, 30));
        running = false;
        await loop;
        // no commit after the loop's last: only a NOTIFY or the catch-up can bring it
        let seen = 0;
        while (seen < last) seen = Number((await stream.nextBundle()).data.bundle_seq);
        expect(seen).toBe(last);
      } finally {
        await stream.close();
      }
      await waitUntil(() => watchers.subscriberCount() === 0 && !listenerOf(b!).isListening);
    }
  });
});
