import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { computeBundleHash, type BundleHashRow } from '@oversync/protocol';
import { pullBundlesReadByWorker, pullPagesStreamed } from '@oversync/client-node/testing';
import { afterAll, beforeAll } from '@jest/globals';
import { ThreadProxy, type ThreadProxyRule } from '../support/thread-proxy.js';
import { attachedDevice, type Device, useProxy, useTestServer } from './client-devices.js';

// A large pull page can be read, checked and hashed by a worker thread while the client applies its
// rows (`pullWorker`, apps/client-node/src/pull-page-pipeline.ts); with the client's own transport the
// worker also makes the page's request and the rows apply while the body still arrives. Readers of the
// same user pull through a proxy, one with the worker on every page and one without: their tables, row
// state, checkpoints, triggers and errors must be the same, tampered, dribbled and cut pages included.
// The worker also checkpoints the WAL of the pages it read.

const server = useTestServer();
const proxied = useProxy(server);
// in front of the proxy, on a thread of its own: a page keeps arriving while a reader's thread applies it
let threaded: ThreadProxy;
beforeAll(async () => {
  threaded = await ThreadProxy.start(proxied.proxy.baseUrl);
});
afterAll(async () => {
  await threaded.close();
});

/**
 * A reader through the proxy: `always` reads every page with the worker (requested by it, the client's
 * own transport), `off` never; `whole`: `always` with a `fetch` of the application's, so the worker gets
 * each page whole from this thread.
 */
function reader(user: string, pullWorker: 'always' | 'off' | 'whole', downloadLimit = 1000): Promise<Device> {
  return attachedDevice(server.t, user, {
    baseUrl: threaded.baseUrl,
    pullWorker: pullWorker === 'whole' ? 'always' : pullWorker,
    downloadLimit,
    ...(pullWorker === 'whole' ? { fetch: (input: string, init: RequestInit) => fetch(input, init) } : {}),
  });
}

/** Everything a pull writes or sets, as comparable values (row state without its wall-clock `updated_at`). */
function localState(db: Database.Database): unknown {
  const all = (sql: string) => db.prepare(sql).all();
  return {
    users: all('SELECT * FROM users ORDER BY id'),
    posts: all('SELECT * FROM posts ORDER BY id'),
    categories: all('SELECT * FROM categories ORDER BY id'),
    rowState: all(
      'SELECT schema_name, table_name, key_json, row_version, deleted FROM _sync_row_state ' +
        'ORDER BY table_name, key_json',
    ),
    dirty: all('SELECT * FROM _sync_dirty_rows ORDER BY dirty_ordinal'),
    checkpoint: all('SELECT last_bundle_seq_seen FROM _sync_attachment_state'),
    triggers: all("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY rowid"),
    // off while a worker-read page applies, the connection's own value again after (declined pages included)
    walAutocheckpoint: db.pragma('wal_autocheckpoint', { simple: true }),
  };
}

/** The error a pull ends with (class and message), or 'ok'. */
async function pullOutcome(device: Device): Promise<string> {
  try {
    return (await device.client.pullToStable()).outcome;
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
}

/** Pushes `rows` users (nulls, non-ASCII names) as one bundle. */
async function pushUsers(writer: Device, rows: number, tag: string): Promise<string[]> {
  const ids = Array.from({ length: rows }, () => randomUUID());
  const insert = writer.db.prepare('INSERT INTO users (id, name, email, created_at) VALUES (?, ?, ?, ?)');
  writer.db.transaction(() =>
    ids.forEach((id, i) => insert.run(id, `${tag} ${i} café`, `u${i}@example.com`, i % 3 ? null : '2026-12-06')),
  )();
  expect((await writer.client.pushPending()).outcome).toBe('committed');
  return ids;
}

/** The page with its bundles' rows changed by `edit` and their hashes recomputed (a page a server could send). */
function rehashed(body: string, edit: (rows: BundleHashRow[]) => void): string {
  const page = JSON.parse(body) as { bundles: { rows: BundleHashRow[]; bundle_hash: string }[] };
  for (const bundle of page.bundles) {
    edit(bundle.rows);
    bundle.bundle_hash = computeBundleHash(bundle.rows).bundleHash;
  }
  return JSON.stringify(page);
}

describe('pull pages read by the worker thread', () => {
  it('applies the same rows, row state, checkpoint and triggers as the usual way, page after page', async () => {
    const user = `pw-same-${randomUUID()}`;
    const writer = await attachedDevice(server.t, user);
    const withWorker = await reader(user, 'always', 2);
    const whole = await reader(user, 'whole', 2);
    const without = await reader(user, 'off', 2);
    // the application's own trigger, created after ours: it keeps firing and keeps its place
    for (const device of [withWorker, whole, without]) {
      device.db.exec(`CREATE TABLE audit (n INTEGER);
        CREATE TRIGGER app_users_ai AFTER INSERT ON users BEGIN INSERT INTO audit VALUES (1); END;`);
    }

    const ids = await pushUsers(writer, 1500, 'first');
    const posts = writer.db.prepare('INSERT INTO posts (id, title, content, author_id) VALUES (?, ?, ?, ?)');
    writer.db.transaction(() => ids.slice(0, 40).forEach((id, i) => posts.run(randomUUID(), `t${i}`, 'c', id)))();
    await writer.client.pushPending();
    await pushUsers(writer, 30, 'second');
    for (const device of [withWorker, whole, without]) expect(await pullOutcome(device)).toBe('applied_incremental');
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    expect(localState(whole.db)).toEqual(localState(without.db));
    expect(withWorker.db.prepare('SELECT count(*) AS n FROM audit').get()).toEqual({ n: 1530 });
    expect(pullBundlesReadByWorker(withWorker.client)).toBe(3);
    expect(pullPagesStreamed(withWorker.client)).toBe(2);
    expect(pullBundlesReadByWorker(whole.client)).toBe(3);
    expect(pullPagesStreamed(whole.client)).toBe(0);
    expect(pullBundlesReadByWorker(without.client)).toBe(0);

    // updates and deletes over rows the readers hold, in one bundle
    writer.db.prepare("UPDATE users SET name = name || ' (2)', created_at = NULL WHERE rowid % 2 = 0").run();
    writer.db.prepare('DELETE FROM posts WHERE rowid % 3 = 0').run();
    await writer.client.pushPending();
    for (const device of [withWorker, whole, without]) expect(await pullOutcome(device)).toBe('applied_incremental');
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    expect(localState(whole.db)).toEqual(localState(without.db));
    expect(pullBundlesReadByWorker(withWorker.client)).toBe(4);
    expect(pullBundlesReadByWorker(whole.client)).toBe(4);
    for (const device of [writer, withWorker, whole, without]) await device.close();
  });

  it('checkpoints the WAL of a page it applied on the worker, the connection keeping its own setting', async () => {
    const user = `pw-checkpoint-${randomUUID()}`;
    const writer = await attachedDevice(server.t, user);
    const withWorker = await reader(user, 'always');
    // above the WAL these rows take: only a checkpoint asked of the worker moves them into the file
    withWorker.db.pragma('wal_autocheckpoint = 5000');
    const before = statSync(withWorker.path).size;
    await pushUsers(writer, 1500, 'checkpointed');
    expect(await pullOutcome(withWorker)).toBe('applied_incremental');
    expect(pullBundlesReadByWorker(withWorker.client)).toBe(1);
    expect(withWorker.db.pragma('wal_autocheckpoint', { simple: true })).toBe(5000);
    // the worker's checkpoint runs after the pull returns; waited for, not timed
    for (let i = 0; i < 200 && statSync(withWorker.path).size < before + 256 * 1024; i++) await delay(50);
    expect(statSync(withWorker.path).size).toBeGreaterThanOrEqual(before + 256 * 1024);
    for (const device of [writer, withWorker]) await device.close();
  });

  it('applies nothing of a bundle whose hash does not match, and says so as the usual way does', async () => {
    const user = `pw-hash-${randomUUID()}`;
    const writer = await attachedDevice(server.t, user);
    const withWorker = await reader(user, 'always');
    const without = await reader(user, 'off');
    await pushUsers(writer, 1200, 'kept');
    await pushUsers(writer, 1200, 'tampered');
    const outcomes: string[] = [];
    for (const device of [withWorker, without]) {
      // the second bundle's 7th row changed in flight, its hash left as the server wrote it
      proxied.proxy.rewriteResponse('GET', /\/sync\/pull$/, ({ body }) => {
        const at = body.indexOf('tampered 6 ');
        return { body: `${body.slice(0, at)}tampered 7 ${body.slice(at + 'tampered 6 '.length)}` };
      });
      outcomes.push(await pullOutcome(device));
    }
    expect(outcomes[0]).toMatch(/^BundleHashMismatchError: /);
    expect(outcomes[0]).toBe(outcomes[1]);
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    expect(withWorker.db.prepare("SELECT count(*) AS n FROM users WHERE name LIKE 'tampered%'").get()).toEqual({
      n: 0,
    });
    expect(withWorker.db.prepare("SELECT count(*) AS n FROM users WHERE name LIKE 'kept%'").get()).toEqual({
      n: 1200,
    });
    expect(pullBundlesReadByWorker(withWorker.client)).toBe(1);

    // the same page untouched then applies the second bundle
    for (const device of [withWorker, without]) expect(await pullOutcome(device)).toBe('applied_incremental');
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    for (const device of [writer, withWorker, without]) await device.close();
  });

  it.each([
    ['whitespace', (body: string) => body.replace('"bundles":[', '"bundles": [')],
    ['a number in a payload', (body: string) => rehashed(body, (rows) => setMember(rows[3]!, 'email', 42))],
    ['members out of order', (body: string) => rehashed(body, reversePayloadMembers)],
    ['what canonical JSON escapes', (body: string) => rehashed(body, (rows) => setMember(rows[2]!, 'name', 'a<b&c'))],
    ['an escape in a value', (body: string) => rehashed(body, (rows) => setMember(rows[4]!, 'name', 'a"b'))],
    ['a row of another schema', (body: string) => rehashed(body, (rows) => (rows[5]!.schema = 'other'))],
    ['a DELETE of a row never pulled', (body: string) => rehashed(body, (rows) => deleteRow(rows, 8))],
  ])('gives the usual way’s rows or error for a page of %s', async (_, rewrite) => {
    const user = `pw-off-${randomUUID()}`;
    const writer = await attachedDevice(server.t, user);
    const withWorker = await reader(user, 'always');
    const without = await reader(user, 'off');
    await pushUsers(writer, 1100, 'page');
    const outcomes: string[] = [];
    for (const device of [withWorker, without]) {
      proxied.proxy.rewriteResponse('GET', /\/sync\/pull$/, ({ body }) => ({ body: rewrite(body) }));
      outcomes.push(await pullOutcome(device));
    }
    expect(outcomes[0]).toBe(outcomes[1]);
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    for (const device of [writer, withWorker, without]) await device.close();
  });
});

describe('pull pages the worker requests and applies as they arrive', () => {
  /** Pulls on both readers, the next `times` pull responses of each following `rule`; their outcomes. */
  type Rule = Omit<ThreadProxyRule, 'method' | 'path'>;

  /** A pull whose next `times` pull responses follow `rule`; its outcome. */
  async function pullWith(device: Device, rule: Rule, times = 1): Promise<string> {
    threaded.clear();
    threaded.arm({ method: 'GET', path: '/sync/pull$', ...rule }, times);
    const outcome = await pullOutcome(device);
    threaded.clear();
    return outcome;
  }

  async function pullBoth(withWorker: Device, without: Device, rule: Rule, times = 1): Promise<string[]> {
    return [await pullWith(withWorker, rule, times), await pullWith(without, rule, times)];
  }

  async function readers(tag: string, rows = 1200) {
    const user = `pw-${tag}-${randomUUID()}`;
    const writer = await attachedDevice(server.t, user);
    const withWorker = await reader(user, 'always');
    const without = await reader(user, 'off');
    await pushUsers(writer, rows, tag);
    return { writer, withWorker, without, devices: [writer, withWorker, without] };
  }

  it('applies a body that arrives in small pieces, cut mid-row anywhere', async () => {
    const { withWorker, without, devices } = await readers('dribbled');
    // 997-byte pieces: every row boundary falls somewhere else in a piece; a pause now and then
    const dribbled = { dribble: { pieceBytes: 997, pauseEvery: 25, pauseMs: 5 } };
    expect(await pullBoth(withWorker, without, dribbled)).toEqual(['applied_incremental', 'applied_incremental']);
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    expect(pullPagesStreamed(withWorker.client)).toBe(1);
    for (const device of devices) await device.close();
  });

  it('asks again the usual way when the body is cut mid-way, and fails as the usual way when it always is', async () => {
    const { writer, withWorker, without, devices } = await readers('cut');
    const requests = () => proxied.proxy.requestsTo('GET', /\/sync\/pull$/).length;
    const before = requests();
    const cut = { dribble: { pieceBytes: 4096, cutAfter: 150_000 } };
    expect(await pullBoth(withWorker, without, cut)).toEqual(['applied_incremental', 'applied_incremental']);
    // each reader: the cut request and the one after it
    expect(requests() - before).toBe(4);
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    expect(pullPagesStreamed(withWorker.client)).toBe(0);

    // cut every time: the same error after as many requests (the worker's is the first attempt of the retries)
    await pushUsers(writer, 1200, 'always cut');
    const outcomes: string[] = [];
    const sent: number[] = [];
    for (const device of [withWorker, without]) {
      const from = requests();
      outcomes.push(await pullWith(device, cut, 10));
      sent.push(requests() - from);
    }
    expect(outcomes[0]).toMatch(/^RetryExhaustedError: /);
    expect(outcomes[0]).toBe(outcomes[1]);
    expect(sent[0]).toBe(sent[1]);
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    for (const device of devices) await device.close();
  });

  it('asks again the usual way after an answer that is not a 200', async () => {
    const { withWorker, without, devices } = await readers('unavailable');
    const unavailable = { status: 503, body: '{"error":"unavailable","message":"try again"}' };
    expect(await pullBoth(withWorker, without, unavailable)).toEqual(['applied_incremental', 'applied_incremental']);
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    expect(pullPagesStreamed(withWorker.client)).toBe(0);
    for (const device of devices) await device.close();
  });

  it('rolls back and applies the page whole when its body stops arriving for a while', async () => {
    const { withWorker, without, devices } = await readers('stalled');
    // one pause longer than the applying thread waits in all (STREAM_WAIT_MS), after a part of the rows
    const stalled = { dribble: { pieceBytes: 50_000, pauseAt: 1, pauseMs: 2500 } };
    expect(await pullBoth(withWorker, without, stalled)).toEqual(['applied_incremental', 'applied_incremental']);
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    expect(pullPagesStreamed(withWorker.client)).toBe(0);
    expect(pullBundlesReadByWorker(withWorker.client)).toBe(0);
    for (const device of devices) await device.close();
  });

  it('says the usual way’s error for a dribbled bundle whose hash does not match, and applies none of it', async () => {
    const { withWorker, without, devices } = await readers('tampered');
    const tampered = { replace: ['tampered 600 ', 'tampered 601 '] as const, dribble: { pieceBytes: 1500 } };
    const outcomes = await pullBoth(withWorker, without, tampered);
    expect(outcomes[0]).toMatch(/^BundleHashMismatchError: /);
    expect(outcomes[0]).toBe(outcomes[1]);
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    expect(withWorker.db.prepare('SELECT count(*) AS n FROM users').get()).toEqual({ n: 0 });
    for (const device of devices) await device.close();
  });
});

/** Payload members in reverse order (the page then holds non-canonical texts that hash the same). */
function reversePayloadMembers(rows: BundleHashRow[]): void {
  for (const row of rows) {
    const payload = row.payload as Record<string, unknown>;
    row.payload = Object.fromEntries(Object.entries(payload).reverse()) as BundleHashRow['payload'];
  }
}

function deleteRow(rows: BundleHashRow[], index: number): void {
  rows[index] = { ...rows[index]!, key: { id: '00000000-0000-4000-8000-000000000008' }, op: 'DELETE' };
  delete rows[index]!.payload;
}

function setMember(row: BundleHashRow, member: string, value: string | number): void {
  (row.payload as Record<string, unknown>)[member] = value;
}
