import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { computeBundleHash, type BundleHashRow } from '@oversync/protocol';
import { pullBundlesReadByWorker, pullPagesRequestedByWorker } from '@oversync/client-node/testing';
import { attachedDevice, type Device, useProxy, useTestServer } from './client-devices.js';

// A large pull page can be requested, read, checked and hashed by a worker thread while the client
// applies its rows as they arrive (`pullWorker`, apps/client-node/src/pull-page-pipeline.ts). Two readers
// of the same user pull through a proxy, one with the worker on every page and one without: their tables,
// row state, checkpoints, triggers and errors must be the same, tampered pages, pages that arrive slowly
// and answers cut short included. The worker also checkpoints the WAL of the pages it read.

const server = useTestServer();
const proxied = useProxy(server);

/** A reader through the proxy: `always` reads every page with the worker, `off` never. */
function reader(user: string, pullWorker: 'always' | 'off', downloadLimit = 1000): Promise<Device> {
  return attachedDevice(server.t, user, { baseUrl: proxied.proxy.baseUrl, pullWorker, downloadLimit });
}

/** A new user's writing device and two readers of it through the proxy: by the worker, and the usual way. */
async function devices(
  tag: string,
  downloadLimit?: number,
): Promise<Record<'writer' | 'withWorker' | 'without', Device>> {
  const user = `pw-${tag}-${randomUUID()}`;
  const writer = await attachedDevice(server.t, user);
  return {
    writer,
    withWorker: await reader(user, 'always', downloadLimit),
    without: await reader(user, 'off', downloadLimit),
  };
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
    const { writer, withWorker, without } = await devices('same', 2);
    // the application's own trigger, created after ours: it keeps firing and keeps its place
    for (const device of [withWorker, without]) {
      device.db.exec(`CREATE TABLE audit (n INTEGER);
        CREATE TRIGGER app_users_ai AFTER INSERT ON users BEGIN INSERT INTO audit VALUES (1); END;`);
    }

    const ids = await pushUsers(writer, 1500, 'first');
    const posts = writer.db.prepare('INSERT INTO posts (id, title, content, author_id) VALUES (?, ?, ?, ?)');
    writer.db.transaction(() => ids.slice(0, 40).forEach((id, i) => posts.run(randomUUID(), `t${i}`, 'c', id)))();
    await writer.client.pushPending();
    await pushUsers(writer, 30, 'second');
    for (const device of [withWorker, without]) expect(await pullOutcome(device)).toBe('applied_incremental');
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    expect(withWorker.db.prepare('SELECT count(*) AS n FROM audit').get()).toEqual({ n: 1530 });
    expect(pullBundlesReadByWorker(withWorker.client)).toBe(3);
    expect(pullBundlesReadByWorker(without.client)).toBe(0);

    // updates and deletes over rows the readers hold, in one bundle
    writer.db.prepare("UPDATE users SET name = name || ' (2)', created_at = NULL WHERE rowid % 2 = 0").run();
    writer.db.prepare('DELETE FROM posts WHERE rowid % 3 = 0').run();
    await writer.client.pushPending();
    for (const device of [withWorker, without]) expect(await pullOutcome(device)).toBe('applied_incremental');
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    expect(pullBundlesReadByWorker(withWorker.client)).toBe(4);
    for (const device of [writer, withWorker, without]) await device.close();
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
    const { writer, withWorker, without } = await devices('hash');
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
    ['in 12 pieces 25 ms apart, chunked', { pieces: 12, pieceDelayMs: 25, chunked: true }],
    ['in 12 pieces 25 ms apart, with its length', { pieces: 12, pieceDelayMs: 25 }],
    ['in 3,000 pieces (rows split anywhere)', { pieces: 3000 }],
  ])('applies a page that arrives %s as it arrives, as the usual way does', async (_, delivery) => {
    const { writer, withWorker, without } = await devices('slow');
    await pushUsers(writer, 1500, 'slow');
    await pushUsers(writer, 20, 'second');
    for (const device of [withWorker, without]) {
      proxied.proxy.rewriteResponse('GET', /\/sync\/pull$/, () => delivery);
      expect(await pullOutcome(device)).toBe('applied_incremental');
    }
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    expect(pullPagesRequestedByWorker(withWorker.client)).toBe(1);
    expect(pullBundlesReadByWorker(withWorker.client)).toBe(2);
    for (const device of [writer, withWorker, without]) await device.close();
  });

  it('requests a page again the usual way when its answer is cut short, having applied none of it', async () => {
    const { writer, withWorker, without } = await devices('cut');
    await pushUsers(writer, 300, 'first');
    await pushUsers(writer, 1200, 'second');
    for (const device of [withWorker, without]) {
      // the first bundle and some of the second arrive, then the connection is cut
      proxied.proxy.rewriteResponse('GET', /\/sync\/pull$/, ({ body }) => ({
        cutAfterBytes: body.indexOf('second 600 '),
        pieces: 4,
        pieceDelayMs: 10,
      }));
      const before = proxied.proxy.requestsTo('GET', /\/sync\/pull$/).length;
      // (the usual way's fetch fails the cut answer as a transient transport error and asks again)
      expect(await pullOutcome(device)).toBe('applied_incremental');
      // a bundle commits only once the whole page is read (as the usual way checks it first): the first
      // bundle, whole in the cut answer, was rolled back and the page is asked again from the start
      const asked = proxied.proxy.requestsTo('GET', /\/sync\/pull$/).slice(before);
      expect(asked.map((request) => request.query.get('after_bundle_seq'))).toEqual(['0', '0']);
    }
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    // both bundles from the page asked again (its bytes then read by the worker beside the apply)
    expect(pullBundlesReadByWorker(withWorker.client)).toBe(2);
    expect(pullPagesRequestedByWorker(withWorker.client)).toBe(0);
    for (const device of [writer, withWorker, without]) await device.close();
  });

  it.each([
    ['a 503 (retried)', 503],
    ['a 401 (the error)', 401],
  ])('takes %s from the worker as the usual way takes it from its request', async (_, status) => {
    const { writer, withWorker, without } = await devices('status');
    await pushUsers(writer, 1100, 'status');
    const outcomes: string[] = [];
    for (const device of [withWorker, without]) {
      proxied.proxy.rewriteResponse('GET', /\/sync\/pull$/, () => ({
        status,
        body: JSON.stringify({ error: status === 401 ? 'unauthorized' : 'unavailable', message: `status ${status}` }),
      }));
      outcomes.push(await pullOutcome(device));
    }
    expect(outcomes[0]).toBe(outcomes[1]);
    if (status === 401) expect(outcomes[0]).toMatch(/401/);
    else expect(outcomes[0]).toBe('applied_incremental');
    expect(localState(withWorker.db)).toEqual(localState(without.db));
    for (const device of [writer, withWorker, without]) await device.close();
  });

  it.each([
    ['whitespace', (body: string) => body.replace('"bundles":[', '"bundles": [')],
    ['a number in a payload', (body: string) => rehashed(body, (rows) => setMember(rows[3]!, 'email', 42))],
    ['members out of order', (body: string) => rehashed(body, reversePayloadMembers)],
    ['what canonical JSON escapes', (body: string) => rehashed(body, (rows) => setMember(rows[2]!, 'name', 'a<b&c'))],
    ['an escape in a value', (body: string) => rehashed(body, (rows) => setMember(rows[4]!, 'name', 'a"b'))],
    ['an escape near its end', (body: string) => rehashed(body, (rows) => setMember(rows[1050]!, 'name', 'a\nb'))],
    ['a row of another schema', (body: string) => rehashed(body, (rows) => (rows[5]!.schema = 'other'))],
    ['a DELETE of a row never pulled', (body: string) => rehashed(body, (rows) => deleteRow(rows, 8))],
  ])('gives the usual way’s rows or error for a page of %s', async (_, rewrite) => {
    const { writer, withWorker, without } = await devices('off');
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
