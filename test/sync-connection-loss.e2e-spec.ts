import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { startTestApp, type TestApp } from './support/test-app.js';
import { SyncHttp, userInsertRow } from './support/sync-http.js';

// §8.23: a backend killed under the pool (restart, failover, pg_terminate_backend) must not turn the
// next requests into 500s: work that never reached COMMIT runs again on a fresh connection.
describe('lost database connections', () => {
  let t: TestApp;
  let a: SyncHttp;
  let admin: pg.Client;

  beforeAll(async () => {
    t = await startTestApp({ env: { OVERSYNC_WATCH: 'false' } });
    a = new SyncHttp(t.baseUrl, await t.signIn('alice'), 'a-1');
    await a.connect(false);
    admin = new pg.Client({ connectionString: t.db.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.end();
    await t.close();
  });

  const killAppConnections = async () => {
    const { rows } = await admin.query(
      'SELECT count(pg_terminate_backend(pid))::int AS killed FROM pg_stat_activity WHERE datname = ' +
        'current_database() AND pid <> pg_backend_pid()',
    );
    return rows[0].killed as number;
  };

  it('pull, push and committed rows succeed right after every pooled backend was terminated', async () => {
    await a.get('/sync/pull').expect(200); // warm the pool
    expect(await killAppConnections()).toBeGreaterThan(0);
    await a.get('/sync/pull').expect(200);
    await killAppConnections();
    const id = randomUUID();
    const commit = await a.push(1, [userInsertRow(id)]);
    expect(commit.status).toBe(200);
    await killAppConnections();
    await a.get(`/sync/committed-bundles/${commit.body.bundle_seq}/rows`).expect(200);
    await killAppConnections();
    // health answers from process state: 503 while the watch listener (killed too) reconnects, then 200
    let status = 0;
    for (const deadline = Date.now() + 10_000; status !== 200 && Date.now() < deadline;) {
      status = (await a.get('/syncx/health')).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(200);
  });
});
