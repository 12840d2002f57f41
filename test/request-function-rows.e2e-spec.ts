import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { callRequestFunction } from '../libs/oversync/src/database/request-function.js';
import { prepared, SyncDatabase } from '../libs/oversync/src/database/sync-database.js';
import { createTestDatabase, type TestDatabase } from './support/test-database.js';

// A request function's call goes to pg as a query object of the module's own (no config copy, no row
// template per answer): its rows must be what pg itself answers for the same statement — values by the
// same type parsers, the same keys in the same order — named or unnamed, one row or several.

const TYPED = prepared(
  `SELECT $1::int8 AS big, $2::jsonb AS doc, '\\x00ff'::bytea AS bytes, 'infinity'::timestamptz AS t,
     NULL::text AS nothing, 1 AS dup, 2 AS dup, 3 AS "7", n AS n
   FROM generate_series(1, $3::int) AS n`,
);

describe('request function rows', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  for (const preparedStatements of [true, false]) {
    it(`are pg's own rows (preparedStatements: ${preparedStatements})`, async () => {
      const sync = SyncDatabase.fromPool(pool, { preparedStatements });
      for (const count of [1, 3]) {
        const query = TYPED(['9007199254740993', '{"b":[1,{"c":null}],"a":"x"}', count]);
        const rows = await callRequestFunction<Record<string, unknown>>(sync, query);
        const own = (await pool.query({ text: query.text, values: query.values })).rows;
        expect(rows).toEqual(own);
        expect(rows.map((row) => Object.keys(row))).toEqual(own.map((row) => Object.keys(row)));
        expect(rows[0]).toMatchObject({ big: '9007199254740993', doc: { a: 'x', b: [1, { c: null }] }, dup: 2 });
        expect(rows).toHaveLength(count);
      }
    });
  }

  it('refuses as pg does, and the connection serves the next call', async () => {
    const sync = SyncDatabase.fromPool(pool);
    const failing = prepared('SELECT 1 / $1::int AS q');
    await expect(callRequestFunction(sync, failing([0]))).rejects.toMatchObject({ code: '22012' });
    await expect(callRequestFunction(sync, failing([1]))).resolves.toEqual([{ q: 1 }]);
  });
});
