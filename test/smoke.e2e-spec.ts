import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { createTestDatabase } from './support/test-database.js';
describe('db', () => {
  it('connects', async () => {
    const db = await createTestDatabase();
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const r = await c.query('select 1 as x');
    await c.end();
    await db.drop();
    expect(r.rows[0].x).toBe(1);
  });
});
