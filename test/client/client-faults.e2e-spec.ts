import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import {
  BundleHashMismatchError,
  HttpStatusError,
  PushRejectedError,
  RetryExhaustedError,
  SyncProtocolError,
} from '@oversync/client-node';
import { SyncTransport } from '../../apps/client-node/src/sync-transport.js';
import { SyncHttp } from '../support/sync-http.js';
import {
  attachedDevice,
  bundleCount,
  dirtyRows,
  injectFailure,
  newDevice,
  outboxState,
  serverRows,
  useProxy,
  useTestServer,
} from './client-devices.js';

/**
 * Failures and corrupted answers. The real server answers every request; `/test/failures` makes it
 * fail on purpose, and the loopback proxy corrupts single responses in flight where the server
 * itself never would (a tampered bundle, a malformed body, a commit answer lost after the commit).
 */
describe('client ⇄ server: failures, retries and corrupted responses', () => {
  const server = useTestServer();
  const proxied = useProxy(server);

  it('pulls peer bundles with verified hashes and rejects a tampered bundle without applying it', async () => {
    const { proxy } = proxied;
    const device = await attachedDevice(server.t, 'pull-tamper', { baseUrl: proxy.baseUrl });
    const peer = new SyncHttp(server.t.baseUrl, await server.t.signIn('pull-tamper'), 'pull-peer');
    const id = randomUUID();
    expect(
      (
        await peer.push(1, [
          {
            schema: 'business',
            table: 'users',
            key: { id },
            op: 'INSERT',
            base_row_version: 0,
            payload: { id, name: 'Grace', email: 'g@example.com' },
          },
        ])
      ).status,
    ).toBe(200);
    proxy.rewriteResponse('GET', /^\/sync\/pull$/, (real) => ({ body: real.body.replace('"Grace"', '"Mallory"') }));
    const error = await device.client.pullToStable().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleHashMismatchError);
    expect(device.client.getTableRowCount('users')).toBe(0);
    expect(await device.client.lastBundleSeqSeen()).toBe(0);
    expect((await device.client.pullToStable()).outcome).toBe('applied_incremental');
    expect(device.client.getTableRows('users')).toMatchObject([{ id, name: 'Grace' }]);
    await device.close();
  });

  it('rejects a committed bundle whose rows do not hash to bundle_hash and keeps the outbox', async () => {
    const { proxy } = proxied;
    const device = await attachedDevice(server.t, 'replay-tamper', { baseUrl: proxy.baseUrl });
    device.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'Ada', 'ada@x.test')").run(randomUUID());
    proxy.rewriteResponse('GET', /^\/sync\/committed-bundles\/\d+\/rows$/, (real) => ({
      body: real.body.replace('"Ada"', '"Eve"'),
    }));
    await expect(device.client.pushPending()).rejects.toThrow(BundleHashMismatchError);
    expect(outboxState(device.db)).toEqual({ state: 'committed_remote', rows: 1 });
    expect(device.db.prepare('SELECT COUNT(*) AS n FROM _sync_row_state').get()).toEqual({ n: 0 });
    expect((await device.client.pushPending()).outcome).toBe('committed');
    expect(device.client.getTableRows('users')).toMatchObject([{ name: 'Ada' }]);
    expect(await bundleCount(server.pg, 'replay-tamper')).toBe(1);
    await device.close();
  });

  it('rejects a pull response that breaks the protocol', async () => {
    const { proxy } = proxied;
    const device = await attachedDevice(server.t, 'pull-malformed', { baseUrl: proxy.baseUrl });
    const bundleSeqZero =
      '{"stable_bundle_seq":3,"bundles":[{"bundle_seq":0,"source_id":"s","source_bundle_id":1,"rows":[]}],' +
      '"has_more":false}';
    proxy.rewriteResponse('GET', /^\/sync\/pull$/, () => ({ body: bundleSeqZero }));
    await expect(device.client.pullToStable()).rejects.toThrow('invalid pull bundle 0: bundle_seq 0 must be positive');
    proxy.rewriteResponse('GET', /^\/sync\/pull$/, () => ({ body: 'not json' }));
    await expect(device.client.pullToStable()).rejects.toThrow(SyncProtocolError);
    expect((await device.client.pullToStable()).outcome).toBe('already_at_target');
    await device.close();
  });

  it('recovers from a commit answer lost after the server committed, through already_committed', async () => {
    const { proxy } = proxied;
    const device = await attachedDevice(server.t, 'lost-commit', { baseUrl: proxy.baseUrl });
    device.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'Ada', 'ada@x.test')").run(randomUUID());
    const since = proxy.requests.length;
    proxy.rewriteResponse('POST', /^\/sync\/push-sessions\/[^/]+\/commit$/, () => ({
      status: 503,
      body: '{"error":"service_unavailable","message":"lost"}',
    }));
    expect((await device.client.pushPending()).outcome).toBe('committed');
    expect(await bundleCount(server.pg, 'lost-commit')).toBe(1);
    expect(
      proxy.requests.slice(since).filter((r) => r.method === 'POST' && r.path === '/sync/push-sessions'),
    ).toHaveLength(2);
    expect(dirtyRows(device.db)).toHaveLength(0);
    expect(outboxState(device.db)).toEqual({ state: 'none', rows: 0 });
    await device.close();
  });

  it('retries injected transient failures and reports exhaustion and a 401 as typed errors', async () => {
    const device = await attachedDevice(server.t, 'retry-user');
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), 'R', 'r@example.com');
    await injectFailure(server.t, 'push_session_create', 2, 503);
    expect((await device.client.pushPending()).outcome).toBe('committed');

    await injectFailure(server.t, 'pull', 3, 502);
    const pullError = await device.client.pullToStable().catch((e: unknown) => e);
    expect(pullError).toBeInstanceOf(RetryExhaustedError);
    expect((pullError as Error).message).toBe(
      'failed to send pull request: oversqlite retry policy exhausted for pull_request after 3 attempts: ' +
        'pull_request request returned status 502: injected_failure: injected pull failure',
    );
    expect((await device.client.pullToStable()).outcome).toBe('already_at_target');

    device.db
      .prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)')
      .run(randomUUID(), 'Bob', 'bob@example.com');
    await injectFailure(server.t, 'push_session_create', 3, 502);
    const pushError = await device.client.pushPending().catch((e: unknown) => e);
    expect(pushError).toBeInstanceOf(RetryExhaustedError);
    expect((pushError as RetryExhaustedError).attempts).toBe(3);
    expect((pushError as Error).message).toContain(
      'oversqlite retry policy exhausted for push_pending after 3 attempts: push_session_create request ' +
        'returned status 502: injected_failure: injected push_session_create failure',
    );
    await injectFailure(server.t, 'push_session_create', 1, 401);
    const unauthorized = await device.client.pushPending().catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(HttpStatusError);
    expect((unauthorized as HttpStatusError).status).toBe(401);
    expect((await device.client.pushPending()).outcome).toBe('committed');
    expect(await serverRows(server.pg, 'retry-user', 'users', 'name')).toHaveLength(2);
    await device.close();
  });

  it('surfaces a permanent chunk rejection and lets the host restore the outbox into dirty rows', async () => {
    const device = await attachedDevice(server.t, 'chunk-rejected');
    // The server accepts only canonical UUID keys: this row is rejected for good.
    device.db.prepare("INSERT INTO users(id, name, email) VALUES ('not-a-uuid', 'Ada', 'ada@x.test')").run();
    const error = await device.client.pushPending().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PushRejectedError);
    expect((error as PushRejectedError).code).toBe('push_chunk_invalid');
    expect((error as Error).message).toContain('canonical dashed lowercase UUID');
    expect(outboxState(device.db)).toEqual({ state: 'prepared', rows: 1 });
    expect(await device.client.restoreOutbox()).toBe(1);
    expect(outboxState(device.db)).toEqual({ state: 'none', rows: 0 });
    expect(dirtyRows(device.db)).toMatchObject([{ op: 'INSERT', key_json: '{"id":"not-a-uuid"}' }]);
    // The application repairs the row; the push then goes through.
    const id = randomUUID();
    device.db.prepare("UPDATE users SET id = ? WHERE id = 'not-a-uuid'").run(id);
    expect((await device.client.pushPending()).outcome).toBe('committed');
    expect(await serverRows(server.pg, 'chunk-rejected', 'users', 'id::text AS id, name')).toEqual([
      { id, name: 'Ada' },
    ]);
    expect(dirtyRows(device.db)).toHaveLength(0);
    await device.close();
  });

  it('resets to anonymous on initialization_expired and keeps the outbox for the next attach', async () => {
    const device = await newDevice(server.t, 'lease-expired');
    device.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'seed', 'seed@x.test')").run(randomUUID());
    expect((await device.client.attach('lease-expired')).outcome).toBe('seeded_from_local');
    // The initialization lease runs out (the server's clock is the database's).
    await server.pg.query(
      `UPDATE sync.scope_state SET lease_expires_at = now() - interval '1 second'
        WHERE user_pk = (SELECT user_pk FROM sync.user_state WHERE user_id = $1)`,
      ['lease-expired'],
    );
    await expect(device.client.pushPending()).rejects.toThrow(
      'server returned status 410: initialization_expired: initialization lease is no longer active; ' +
        'reconnect required',
    );
    expect(device.client.userId).toBe('');
    expect(outboxState(device.db)).toEqual({ state: 'prepared', rows: 1 });
    expect((await device.client.attach('lease-expired')).outcome).toBe('seeded_from_local');
    expect((await device.client.pushPending()).outcome).toBe('committed');
    expect(await serverRows(server.pg, 'lease-expired', 'users', 'name')).toEqual([{ name: 'seed' }]);
    await device.close();
  });

  it('sends auth and source headers, JSON content type only with a body, and sorted query parameters', async () => {
    const { proxy } = proxied;
    const token = await server.t.signIn('transport-user');
    const transport = new SyncTransport({ baseUrl: `${proxy.baseUrl}/`, tokenProvider: async () => token });
    const since = proxy.requests.length;
    const pull = await transport.send({
      method: 'GET',
      path: '/sync/pull',
      query: { max_bundles: 10, after_bundle_seq: 3, target_bundle_seq: undefined },
      sourceId: 'src',
    });
    const connect = await transport.send({ method: 'POST', path: '/sync/connect', body: '{}', sourceId: '' });
    const [get, post] = proxy.requests.slice(since);
    expect(get).toMatchObject({
      method: 'GET',
      path: '/sync/pull',
      rawQuery: 'after_bundle_seq=3&max_bundles=10',
      body: '',
    });
    expect(get!.headers).toMatchObject({ authorization: `Bearer ${token}`, 'oversync-source-id': 'src' });
    expect(get!.headers['content-type']).toBeUndefined();
    expect(post).toMatchObject({ method: 'POST', path: '/sync/connect', rawQuery: '', body: '{}' });
    expect(post!.headers).toMatchObject({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
    expect(post!.headers['oversync-source-id']).toBeUndefined();
    // The real server's answers to those requests: an uninitialized scope, a missing source header.
    expect(pull.status).toBe(409);
    expect(connect.status).toBe(400);
  });
});
