import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { BundleHashMismatchError, RetryExhaustedError, type FetchLike } from '@oversync/client-node';
import { SyncHttp } from '../support/sync-http.js';
import { attachedDevice, bundleCount, injectFailure, newDevice, serverRows, useTestServer } from './client-devices.js';

describe('client ⇄ server: seed, push, pull, typed values', () => {
  const server = useTestServer();

  it('seeds a fresh install from offline rows; FK parent and child created offline arrive in one bundle', async () => {
    const device = await newDevice(server.t, 'seed-user');
    const userId = randomUUID();
    const postId = randomUUID();
    // Child first, parent second, in one local transaction (deferred FK).
    device.db.exec('BEGIN');
    device.db.prepare('INSERT INTO posts(id, title, content, author_id) VALUES (?, ?, ?, ?)').run(postId, 'Hello <b>', 'body', userId);
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(userId, 'Ada', 'ada@example.com');
    device.db.exec('COMMIT');
    await device.client.open();
    const attached = await device.client.attach('seed-user');
    expect(attached).toMatchObject({ status: 'connected', outcome: 'seeded_from_local' });
    const push = await device.client.pushPending();
    expect(push.outcome).toBe('committed');
    expect(push.status).toMatchObject({ authority: 'authoritative_materialized', lastBundleSeqSeen: 1, pending: { pendingRowCount: 0 } });
    expect(await bundleCount(server.pg, 'seed-user')).toBe(1);
    expect(await serverRows(server.pg, 'seed-user', 'posts', 'id::text, title, author_id::text')).toEqual([{ id: postId, title: 'Hello <b>', author_id: userId }]);
    expect(device.db.prepare('SELECT name, email FROM users').get()).toEqual({ name: 'Ada', email: 'ada@example.com' });
    expect(device.db.prepare('SELECT COUNT(*) AS n FROM _sync_dirty_rows').get()).toEqual({ n: 0 });
    expect((await device.client.sync()).remoteOutcome).toBe('already_at_target');
    await device.close();
  });

  it('round-trips typed values and UUID BLOB keys byte-exactly, both ways', async () => {
    const device = await attachedDevice(server.t, 'typed-user');
    const typedId = randomUUID();
    const fileId = Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
    const reviewId = Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
    device.db
      .prepare('INSERT INTO typed_rows(id, name, note, count_value, enabled_flag, rating, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(typedId, 'big', null, 9007199254740993n, 1, 6.57111473696007, Buffer.from([0, 1, 2, 253, 254, 255]), '2026-03-24T18:42:11.123456Z');
    device.db.prepare('INSERT INTO files(id, name, data) VALUES (?, ?, ?)').run(fileId, 'a.jpg', Buffer.from('ffd8ffe0', 'hex'));
    device.db.prepare('INSERT INTO file_reviews(id, review, file_id) VALUES (?, ?, ?)').run(reviewId, 'sharp', fileId);
    expect((await device.client.pushPending()).outcome).toBe('committed');

    expect(await serverRows(server.pg, 'typed-user', 'typed_rows', "count_value::text, rating::text, encode(data, 'hex') AS data, note, created_at = '2026-03-24T18:42:11.123456Z'::timestamptz AS same_instant")).toEqual([
      { count_value: '9007199254740993', rating: '6.57111473696007', data: '000102fdfeff', note: null, same_instant: true },
    ]);
    expect(await serverRows(server.pg, 'typed-user', 'file_reviews', 'id::text, file_id::text, review')).toEqual([
      { id: formatUuid(reviewId), file_id: formatUuid(fileId), review: 'sharp' },
    ]);
    const localTyped = () =>
      device.db.prepare("SELECT CAST(count_value AS TEXT) AS c, typeof(count_value) AS t, rating, hex(data) AS data, note, created_at FROM typed_rows").get() as Record<string, unknown>;
    // The replay keeps the uploaded exact integer where the bundle's double is its rounding.
    expect(localTyped()).toMatchObject({ c: '9007199254740993', t: 'integer', rating: 6.57111473696007, data: '000102FDFEFF', note: null });

    // A peer device changes the row through the protocol; the client pulls it.
    const peer = new SyncHttp(server.t.baseUrl, await server.t.signIn('typed-user'), 'typed-peer');
    const version = (device.db.prepare('SELECT row_version FROM _sync_row_state WHERE table_name = ?').get('typed_rows') as { row_version: number }).row_version;
    const peerPush = await peer.push(1, [
      {
        schema: 'business',
        table: 'typed_rows',
        key: { id: typedId },
        op: 'UPDATE',
        base_row_version: version,
        payload: { id: typedId, name: 'big', note: 'ünï <&>', count_value: -9007199254740992, enabled_flag: 0, rating: -0.5, data: '', created_at: null },
      },
    ]);
    expect(peerPush.status).toBe(200);
    expect((await device.client.pullToStable()).outcome).toBe('applied_incremental');
    // Bundles carry doubles (hash compatibility), so a pulled big integer is what the double holds.
    expect(localTyped()).toMatchObject({ c: '-9007199254740992', t: 'integer', rating: -0.5, data: '', note: 'ünï <&>', created_at: null });
    await device.close();
  });

  it('pulls peer bundles with verified hashes and rejects a tampered bundle without applying it', async () => {
    let tamper = false;
    const tampering: FetchLike = async (input, init) => {
      const response = await fetch(input, init);
      if (!tamper || !input.includes('/sync/pull')) return response;
      const body = (await response.text()).replace('"Grace"', '"Mallory"');
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const device = await attachedDevice(server.t, 'pull-user', { fetch: tampering });
    const peer = new SyncHttp(server.t.baseUrl, await server.t.signIn('pull-user'), 'pull-peer');
    const id = randomUUID();
    expect((await peer.push(1, [{ schema: 'business', table: 'users', key: { id }, op: 'INSERT', base_row_version: 0, payload: { id, name: 'Grace', email: 'g@example.com' } }])).status).toBe(200);
    tamper = true;
    const error = await device.client.pullToStable().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleHashMismatchError);
    expect(device.client.getTableRowCount('users')).toBe(0);
    expect(await device.client.lastBundleSeqSeen()).toBe(0);
    tamper = false;
    expect((await device.client.pullToStable()).outcome).toBe('applied_incremental');
    expect(device.client.getTableRows('users')).toMatchObject([{ id, name: 'Grace' }]);
    await device.close();
  });

  it('retries injected transient failures and reports exhaustion as a typed error', async () => {
    const device = await attachedDevice(server.t, 'retry-user');
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), 'R', 'r@example.com');
    await injectFailure(server.t, 'push_session_create', 2, 503);
    expect((await device.client.pushPending()).outcome).toBe('committed');
    await injectFailure(server.t, 'pull', 3, 502);
    const error = await device.client.pullToStable().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryExhaustedError);
    expect((error as Error).message).toBe(
      'failed to send pull request: oversqlite retry policy exhausted for pull_request after 3 attempts: pull_request request returned status 502: injected_failure: injected pull failure',
    );
    expect((await device.client.pullToStable()).outcome).toBe('already_at_target');
    await device.close();
  });
});

function formatUuid(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
