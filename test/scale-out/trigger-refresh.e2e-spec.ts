/**
 * A restarting instance must not take exclusive locks on the business tables while others serve
 * pushes: with triggers dropped and recreated at every start, a restart under load deadlocked with
 * commits of the other instances and failed to start (scale-out suite, issue 25). Triggers already
 * as wanted are kept; missing or altered ones are still reinstalled.
 */
import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { startTestApp } from '../support/test-app.js';

async function triggers(client: pg.Client): Promise<Map<string, { oid: number; enabled: string }>> {
  const { rows } = await client.query<{ name: string; oid: number; enabled: string }>(
    `SELECT c.relname || '.' || t.tgname AS name, t.oid::int AS oid, t.tgenabled AS enabled
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'business' AND t.tgname LIKE 'oversync_%'`,
  );
  return new Map(rows.map((r) => [r.name, { oid: r.oid, enabled: r.enabled }]));
}

describe('capture triggers at a restart', () => {
  it('are left alone when already as wanted, and reinstalled when missing or disabled', async () => {
    let t = await startTestApp();
    const db = t.db;
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const first = await triggers(client);
      expect(first.size).toBe(8 * 5);
      await t.close({ keepDatabase: true });
      t = await startTestApp({ db });
      expect(await triggers(client)).toEqual(first);

      await client.query('DROP TRIGGER oversync_bundle_truncate_guard ON business.users');
      await client.query('ALTER TABLE business.posts DISABLE TRIGGER oversync_bundle_capture_row');
      await t.close({ keepDatabase: true });
      t = await startTestApp({ db });
      const third = await triggers(client);
      expect(third.size).toBe(8 * 5);
      expect([...third.values()].every((x) => x.enabled === 'O')).toBe(true);
      const changed = [...third.keys()].filter((name) => third.get(name)!.oid !== first.get(name)?.oid).sort();
      // the two altered tables got all five triggers anew; the others kept theirs
      expect(changed).toEqual(
        [...first.keys()].filter((name) => name.startsWith('users.') || name.startsWith('posts.')).sort(),
      );
    } finally {
      await client.end();
      await t.close();
    }
  });
});
