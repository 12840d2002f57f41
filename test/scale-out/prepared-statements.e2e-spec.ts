/**
 * `preparedStatements: false` (issue 25, PgBouncer transaction pooling without
 * `max_prepared_statements`): the whole sync flow works with every statement unnamed, and no pooled
 * connection holds an `oversync_p<hash>` prepared statement afterwards. The default (on) is run the
 * same way, so the probe is shown to see them when they exist.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { Pool, PoolClient } from 'pg';
import type { DataSource } from 'typeorm';
import { OversyncScopeService } from '@oversync/nestjs';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { connectPg, localUsers, newDevice, serverRows } from '../client/client-devices.js';

/** Names of the module's prepared statements on every connection of the app's pool. */
async function preparedOnPool(t: TestApp): Promise<string[]> {
  const pool = (t.app.get<DataSource>(getDataSourceToken(), { strict: false }).driver as unknown as { master: Pool })
    .master;
  const clients: PoolClient[] = [];
  try {
    // check out every open connection at once, so each one is asked
    const open = pool.totalCount;
    for (let i = 0; i < open; i++) clients.push(await pool.connect());
    const names = await Promise.all(
      clients.map(async (c) =>
        (
          await c.query<{ name: string }>(`SELECT name FROM pg_prepared_statements WHERE name LIKE 'oversync_p%'`)
        ).rows.map((r) => r.name),
      ),
    );
    return names.flat();
  } finally {
    for (const c of clients) c.release();
  }
}

/** Push, pull on a second device, snapshot rebuild, a server-originated write, pulled again. */
async function syncFlow(t: TestApp): Promise<void> {
  const user = `ps-${randomUUID().slice(0, 8)}`;
  const pgClient = await connectPg(t);
  const a = await newDevice(t, user);
  const b = await newDevice(t, user);
  try {
    await a.client.attach(user);
    const ids = [randomUUID(), randomUUID()];
    for (const [i, id] of ids.entries())
      a.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(id, `name ${i}`, `u${i}@example.com`);
    expect((await a.client.pushPending()).outcome).toBe('committed');
    a.db.prepare('UPDATE users SET name = ? WHERE id = ?').run('renamed', ids[0]);
    a.db.prepare('DELETE FROM users WHERE id = ?').run(ids[1]);
    await a.client.sync();

    await b.client.attach(user);
    await b.client.pullToStable();
    const scope = t.app.get(OversyncScopeService, { strict: false });
    const serverId = randomUUID();
    await scope.execWrite(user, { writerId: 'ps-writer' }, (manager) =>
      manager.query('INSERT INTO business.users (id, name, email) VALUES ($1, $2, $3)', [
        serverId,
        'from the server',
        's@example.com',
      ]),
    );
    await a.client.pullToStable();
    await b.client.rebuild();

    const expected = (await serverRows(pgClient, user, 'users', 'id::text, name, email')).map((r) => ({
      id: r.id,
      name: r.name,
      email: r.email,
    }));
    expect(expected.map((r) => r.name).sort()).toEqual(['from the server', 'renamed']);
    expect(localUsers(a)).toEqual(expected);
    expect(localUsers(b)).toEqual(expected);
  } finally {
    await a.close();
    await b.close();
    await pgClient.end();
  }
}

describe('named prepared statements can be turned off', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const t of apps) await t.close();
  });

  it('preparedStatements: false — the sync flow works and no connection holds a prepared statement', async () => {
    const t = await startTestApp({ env: { OVERSYNC_PREPARED_STATEMENTS: 'false' } });
    apps.push(t);
    await syncFlow(t);
    expect(await preparedOnPool(t)).toEqual([]);
  });

  it('default (on) — the same flow leaves oversync_p<hash> statements on the pooled connections', async () => {
    const t = await startTestApp();
    apps.push(t);
    await syncFlow(t);
    expect((await preparedOnPool(t)).length).toBeGreaterThan(0);
  });
});
