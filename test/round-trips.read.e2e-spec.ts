import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { startTestApp, type TestApp } from './support/test-app.js';
import { SyncHttp, userInsertRow } from './support/sync-http.js';
import { countRoundTrips } from './support/round-trips.js';

// Issue 21: on the success path connect, pull and committed-rows are ONE database round trip each
// (BEGIN and COMMIT ride in it: one autocommit statement calling a request function), and
// capabilities sends none. The counter wraps pg's Client.query, so nothing else may run meanwhile.
describe('round trips of connect, pull, committed-rows and capabilities (issue 21)', () => {
  let t: TestApp;
  let db: pg.Client;

  const userRow = (name: string) => userInsertRow(randomUUID(), { name, email: `${name}@example.com` });

  async function expectOneRoundTrip(
    send: () => Promise<{ status: number; body: unknown }>,
    status = 200,
  ): Promise<unknown> {
    const measured = await countRoundTrips(send);
    expect(measured.result.status).toBe(status);
    expect(measured.statements).toHaveLength(1);
    return measured.result.body;
  }

  beforeAll(async () => {
    t = await startTestApp({ env: { OVERSYNC_USER_LOCK_TIMEOUT_MS: '300' } });
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  it('capabilities: none', async () => {
    const device = new SyncHttp(t.baseUrl, await t.signIn('cap'), 'cap-device');
    const measured = await countRoundTrips(() => device.get('/sync/capabilities'));
    expect(measured.result.status).toBe(200);
    expect(measured.statements).toEqual([]);
  });

  it('connect: one for every resolution', async () => {
    const token = await t.signIn('conn');
    const first = new SyncHttp(t.baseUrl, token, 'conn-device-1');
    const second = new SyncHttp(t.baseUrl, token, 'conn-device-2');
    // a user never seen: initialize_local (lease taken), again by its owner (lease refreshed)
    const local = (await expectOneRoundTrip(() => first.post('/sync/connect', { has_local_pending_rows: true }))) as {
      resolution: string;
      initialization_id: string;
    };
    expect(local.resolution).toBe('initialize_local');
    const again = (await expectOneRoundTrip(() => first.post('/sync/connect', { has_local_pending_rows: true }))) as {
      resolution: string;
      initialization_id: string;
    };
    expect(again).toMatchObject({ resolution: 'initialize_local', initialization_id: local.initialization_id });
    // another source while the lease runs
    expect(
      await expectOneRoundTrip(() => second.post('/sync/connect', { has_local_pending_rows: true })),
    ).toMatchObject({ resolution: 'retry_later' });
    // the owner with nothing to upload after all: initialize_empty, then everyone is remote_authoritative
    expect(await expectOneRoundTrip(() => first.post('/sync/connect', { has_local_pending_rows: false }))).toEqual({
      resolution: 'initialize_empty',
    });
    expect(await expectOneRoundTrip(() => second.post('/sync/connect', { has_local_pending_rows: true }))).toEqual({
      resolution: 'remote_authoritative',
    });
    // a lapsed lease of another source is expired in the same round trip
    const fresh = await t.signIn('lapse');
    const owner = new SyncHttp(t.baseUrl, fresh, 'lapse-device-1');
    await owner.connect(true);
    await db.query(
      `UPDATE sync.scope_state ss SET lease_expires_at = now() - interval '1 minute' FROM sync.user_state us
        WHERE us.user_pk = ss.user_pk AND us.user_id = 'lapse'`,
    );
    expect(
      await expectOneRoundTrip(() =>
        new SyncHttp(t.baseUrl, fresh, 'lapse-device-2').post('/sync/connect', { has_local_pending_rows: false }),
      ),
    ).toEqual({ resolution: 'initialize_empty' });
  });

  it('pull: one for an empty page and for a small page; committed-rows: one', async () => {
    const token = await t.signIn('puller');
    const writer = new SyncHttp(t.baseUrl, token, 'puller-writer');
    const reader = new SyncHttp(t.baseUrl, token, 'puller-reader');
    await writer.connect(false);
    await reader.connect(false);
    expect(await expectOneRoundTrip(() => reader.get('/sync/pull?after_bundle_seq=0'))).toEqual({
      stable_bundle_seq: 0,
      bundles: [],
      has_more: false,
    });
    for (let i = 1; i <= 3; i++) expect((await writer.push(i, [userRow(`u${i}`), userRow(`v${i}`)])).status).toBe(200);
    const page = (await expectOneRoundTrip(() => reader.get('/sync/pull?after_bundle_seq=0&max_bundles=2'))) as {
      stable_bundle_seq: number;
      bundles: Array<{ rows: unknown[] }>;
      has_more: boolean;
    };
    expect(page).toMatchObject({ stable_bundle_seq: 3, has_more: true });
    expect(page.bundles.map((b) => b.rows.length)).toEqual([2, 2]);
    expect(await expectOneRoundTrip(() => reader.get('/sync/pull?after_bundle_seq=3'))).toEqual({
      stable_bundle_seq: 3,
      bundles: [],
      has_more: false,
    });
    const rows = (await expectOneRoundTrip(() => reader.get('/sync/committed-bundles/2/rows?max_rows=1'))) as {
      rows: unknown[];
      has_more: boolean;
    };
    expect(rows).toMatchObject({ has_more: true, next_row_ordinal: 0 });
    expect(rows.rows).toHaveLength(1);
    // the pull recorded the reader's checkpoint in its round trip (a source that pushed has a source_state row)
    await expectOneRoundTrip(() => writer.get('/sync/pull?after_bundle_seq=1'));
    const { rows: checkpoint } = await db.query(
      `SELECT last_pulled_bundle_seq::int AS seq FROM sync.source_state WHERE source_id = 'puller-writer'`,
    );
    expect(checkpoint).toEqual([{ seq: 3 }]);
  });

  it('pull and committed-rows refusals count history_pruned in the same round trip', async () => {
    const token = await t.signIn('pruned');
    const device = new SyncHttp(t.baseUrl, token, 'pruned-device');
    await device.connect(false);
    for (let i = 1; i <= 2; i++) expect((await device.push(i, [userRow(`p${i}`)])).status).toBe(200);
    await db.query(`UPDATE sync.user_state SET retained_bundle_floor = 1 WHERE user_id = 'pruned'`);
    const counter = async () =>
      BigInt(
        (
          await db.query<{ n: string }>(
            'SELECT (CASE WHEN is_called THEN last_value ELSE 0 END)::text AS n FROM sync.history_pruned_error_seq',
          )
        ).rows[0]!.n,
      );
    const before = await counter();
    const pull = await countRoundTrips(() => device.get('/sync/pull?after_bundle_seq=0'));
    expect(pull.result.status).toBe(409);
    expect(pull.statements).toHaveLength(1);
    const fetch = await countRoundTrips(() => device.get('/sync/committed-bundles/1/rows'));
    expect(fetch.result.status).toBe(409);
    expect(fetch.statements).toHaveLength(1);
    expect(await counter()).toBe(before + 2n);
  });

  it('refusals and leases keep their exact text: source_retired on connect (§8.7), scope_initializing, RFC3339 leases', async () => {
    const token = await t.signIn('texts');
    const owner = new SyncHttp(t.baseUrl, token, 'texts-1');
    const other = new SyncHttp(t.baseUrl, token, 'texts-2');
    // bodies end with a newline, as Go's json.Encoder writes them
    const rfc3339 = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z`;
    const local = await owner.post('/sync/connect', { has_local_pending_rows: true }).expect(200);
    expect(local.text).toMatch(
      new RegExp(
        `^\\{"resolution":"initialize_local","initialization_id":"[0-9a-f-]{36}","lease_expires_at":"` +
          `${rfc3339}"\\}\\n$`,
      ),
    );
    const lease = (local.body as { lease_expires_at: string }).lease_expires_at;
    const later = await other.post('/sync/connect', { has_local_pending_rows: false }).expect(200);
    expect(later.text).toMatch(
      new RegExp(
        `^\\{"resolution":"retry_later","lease_expires_at":"${lease.replace(/\./g, '\\.')}",` +
          `"retry_after_seconds":\\d+\\}\\n$`,
      ),
    );
    const initializing = await other.get('/sync/pull').expect(409);
    expect(initializing.text).toBe(
      `{"error":"scope_initializing","message":"sync scope for user texts is initializing until ${lease}"}\n`,
    );
    await owner.connect(false);
    expect((await owner.push(1, [userRow('t1')])).status).toBe(200);
    await db.query(
      `UPDATE sync.source_state SET state = 'retired', replaced_by_source_id = 'texts-3',
        retirement_reason = 'history_pruned' WHERE source_id = 'texts-1'`,
    );
    const retired = await countRoundTrips(() => owner.post('/sync/connect', { has_local_pending_rows: false }));
    expect(retired.statements).toHaveLength(1);
    expect(retired.result.status).toBe(409);
    expect(retired.result.text).toBe(
      '{"error":"source_retired","message":"source texts-1 for user texts was retired and replaced by ' +
        'texts-3","source_id":"texts-1","replaced_by_source_id":"texts-3"}\n',
    );
    const never = new SyncHttp(t.baseUrl, await t.signIn('nobody'), 'nobody-1');
    expect((await never.get('/sync/pull').expect(409)).text).toBe(
      '{"error":"scope_uninitialized","message":"sync scope for user nobody is not initialized"}\n',
    );
    expect((await never.get('/sync/committed-bundles/1/rows').expect(404)).text).toBe(
      '{"error":"committed_bundle_not_found","message":"committed bundle 1 was not found"}\n',
    );
  });

  it('connect waits for the user lock inside its request function, and answers 503 when the wait runs out', async () => {
    const device = new SyncHttp(t.baseUrl, await t.signIn('locked'), 'locked-1');
    await device.connect(false);
    await db.query(`SELECT pg_advisory_lock(hashtextextended('locked', 0))`);
    // (not counted: the unlock below is a round trip of this process too)
    const waited = device.post('/sync/connect', { has_local_pending_rows: false }).then((res) => res.body as unknown);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await db.query(`SELECT pg_advisory_unlock(hashtextextended('locked', 0))`);
    expect(await waited).toEqual({ resolution: 'remote_authoritative' });
    await db.query(`SELECT pg_advisory_lock(hashtextextended('locked', 0))`);
    const refused = await device.post('/sync/connect', { has_local_pending_rows: false }).expect(503);
    await db.query(`SELECT pg_advisory_unlock(hashtextextended('locked', 0))`);
    expect(refused.text).toBe(
      '{"error":"service_unavailable","message":"another sync operation of this user is still running; retry later"}\n',
    );
  });
});
