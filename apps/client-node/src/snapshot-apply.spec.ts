import { describe, expect, it } from '@jest/globals';
import type Database from 'better-sqlite3';
import fc from 'fast-check';
import { clientContextOf, OversqliteClient } from './oversqlite-client.js';
import { applyStagedSnapshot, type SnapshotSession, stageSnapshot } from './snapshot.js';
import { sqliteFiles } from './sqlite-file.spec-support.js';

// A snapshot is applied from its stage either by SQLite itself (runs of rows whose payloads are
// flat objects of exactly the table's columns, strings or null) or row by row in JS. The two must
// write the same rows: each snapshot here is staged on two devices and applied once each way.

const DDL = `
CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT, age INTEGER);
CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT, n INTEGER, r REAL, x, num NUMERIC, flag BOOLEAN,
  user_id TEXT REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE files (id BLOB PRIMARY KEY NOT NULL, name TEXT, data BLOB);
`;
const COLUMNS: Record<string, string[]> = {
  users: ['id', 'name', 'email', 'age'],
  notes: ['id', 'body', 'n', 'r', 'x', 'num', 'flag', 'user_id'],
  files: ['id', 'name', 'data'],
};
const SNAPSHOT_ID = '6f1c2e9a-0000-4000-8000-000000000001';

/** One snapshot row: its table, key text and payload text (member texts joined as given). */
interface Row {
  table: string;
  key: string;
  payload: string;
}

const databases = sqliteFiles();

/** A device whose server answers snapshot chunk requests from `rows`, `chunkRows` at a time. */
async function device(rows: readonly Row[], chunkRows: number) {
  const { db } = databases.open();
  db.exec(DDL);
  const fetch = (input: string) => {
    const url = new URL(input);
    const after = Number(url.searchParams.get('after_row_ordinal'));
    const page = rows.slice(after, after + Number(url.searchParams.get('max_rows')));
    const body =
      `{"snapshot_id":"${SNAPSHOT_ID}","snapshot_bundle_seq":9,"rows":[` +
      page
        .map(
          (r, i) =>
            `{"schema":"business","table":"${r.table}","key":{"id":${r.key}},"row_version":${after + i + 1},` +
            `"payload":${r.payload}}`,
        )
        .join(',') +
      `],"next_row_ordinal":${after + page.length},"has_more":${after + page.length < rows.length}}`;
    return Promise.resolve(new Response(body, { status: 200 }));
  };
  const client = await OversqliteClient.open(db, {
    baseUrl: 'http://127.0.0.1:9',
    tokenProvider: () => 't',
    schema: 'business',
    tables: Object.keys(COLUMNS).map((tableName) => ({ tableName, syncKeyColumnName: 'id' })),
    snapshotChunkRows: chunkRows,
    fetch,
  });
  const ctx = clientContextOf(client);
  ctx.state.updateAttachment({ bindingState: 'attached', attachedUserId: 'u1', schemaName: 'business' });
  return { db, ctx };
}

/** Every row of the managed tables and the row state, with SQLite's storage class of each value. */
function contents(db: Database.Database): unknown {
  const all = (sql: string) => db.prepare(sql).raw(true).all();
  return {
    ...Object.fromEntries(
      Object.entries(COLUMNS).map(([table, columns]) => [
        table,
        all(`SELECT ${columns.map((c) => `typeof(${c}), quote(${c})`).join(', ')} FROM ${table} ORDER BY id`),
      ]),
    ),
    rowState: all(
      `SELECT schema_name, table_name, key_json, row_version, deleted FROM _sync_row_state
        ORDER BY table_name, key_json`,
    ),
  };
}

/** The snapshot applied by the plan (SQL where it allows) and row by row: the outcome of each. */
async function applyBothWays(rows: readonly Row[], chunkRows = 7) {
  const session: SnapshotSession = { snapshotId: SNAPSHOT_ID, snapshotBundleSeq: 9, rowCount: rows.length };
  const outcomes = [];
  let sqlRuns = 0;
  for (const planned of [true, false]) {
    const { db, ctx } = await device(rows, chunkRows);
    const staged = await stageSnapshot(ctx, session);
    sqlRuns = staged.runs?.filter((r) => r.bySql).length ?? 0;
    try {
      applyStagedSnapshot(ctx, planned ? staged : session, {});
      outcomes.push({ contents: contents(db) });
    } catch (err) {
      outcomes.push({ error: (err as Error).message, contents: contents(db) });
    }
    db.close();
  }
  return { planned: outcomes[0]!, rowByRow: outcomes[1]!, sqlRuns };
}

const members = (values: Record<string, string>) =>
  `{${Object.entries(values)
    .map(([name, value]) => `"${name}":${value}`)
    .join(',')}}`;

describe('snapshot apply from the stage', () => {
  it('writes by SQL what the row-by-row apply writes, across chunks and tables', async () => {
    const rows: Row[] = [];
    for (let i = 0; i < 30; i++) {
      const id = `"u${String(i).padStart(3, '0')}"`;
      rows.push({ table: 'users', key: id, payload: members({ id, name: `"User ${i}"`, email: 'null', age: '"41"' }) });
    }
    // another member order, a member order that changes mid-run, unicode without escapes
    rows.push({
      table: 'users',
      key: '"v1"',
      payload: members({ age: 'null', email: '"é\u2028😀"', id: '"v1"', name: '"n"' }),
    });
    rows.push({
      table: 'users',
      key: '"v2"',
      payload: members({ name: '"m"', age: 'null', id: '"v2"', email: '"e"' }),
    });
    for (let i = 0; i < 12; i++) {
      const id = `"n${i}"`;
      const values = { id, body: '"b"', n: '"7"', r: '"1.5"', x: '"x"', num: '"10"', flag: 'null', user_id: '"u001"' };
      rows.push({ table: 'notes', key: id, payload: members(values) });
    }
    const { planned, rowByRow, sqlRuns } = await applyBothWays(rows);
    expect(sqlRuns).toBe(2);
    expect(planned).toEqual(rowByRow);
    expect(planned).not.toHaveProperty('error');
  });

  it('leaves payloads with numbers, booleans, escapes, odd members or BLOBs to the row-by-row apply', async () => {
    const user = (id: string, extra: Record<string, string> = {}) => ({
      table: 'users',
      key: `"${id}"`,
      payload: members({ id: `"${id}"`, name: '"n"', email: 'null', age: 'null', ...extra }),
    });
    const rows: Row[] = [
      user('a'),
      user('b', { age: '42' }),
      user('c', { email: 'true' }),
      user('d', { name: '"quote \\" and \\\\ backslash"' }),
      user('e', { age: '1.0' }),
      user('f', { email: '-0' }),
      user('g'),
      { table: 'files', key: '"6f1c2e9a-0000-4000-8000-00000000000f"', payload: 'null' },
    ];
    rows[7]!.payload = members({ id: rows[7]!.key, name: '"f"', data: '"AAEC"' });
    const { planned, rowByRow, sqlRuns } = await applyBothWays(rows, 3);
    expect(sqlRuns).toBe(2); // a and g
    expect(planned).toEqual(rowByRow);
    expect(planned).not.toHaveProperty('error');
  });

  it('decides each payload in the member order of the last one it took as the member scan does', async () => {
    const users = (...payloads: Record<string, string>[]): Row[] =>
      payloads.map((values, i) => ({ table: 'users', key: `"u${i}"`, payload: members({ id: `"u${i}"`, ...values }) }));
    const plain = { name: '"n"', email: 'null', age: 'null' };
    // all in the first payload's member order: what a pattern of that order must still refuse
    const rows = users(
      plain,
      { ...plain, age: '42' },
      plain,
      { ...plain, name: '"x\\\\"' },
      { ...plain, email: '"a\\"b"' },
      plain,
      { ...plain, email: 'true' },
      { ...plain, name: '"é ü"' },
    );
    const { db, ctx } = await device(rows, 3);
    const staged = await stageSnapshot(ctx, { snapshotId: SNAPSHOT_ID, snapshotBundleSeq: 9, rowCount: rows.length });
    // keys of one length: a key text handed over for another row would pass for this one's
    const keys = db.prepare('SELECT key_json FROM _sync_snapshot_stage ORDER BY row_ordinal').pluck().all();
    db.close();
    expect(keys).toEqual(rows.map((r) => `{"id":${r.key}}`));
    expect(staged.runs?.map(({ first, last, bySql }) => [first, last, bySql])).toEqual([
      [1, 1, true],
      [2, 2, false],
      [3, 3, true],
      [4, 5, false],
      [6, 6, true],
      [7, 7, false],
      [8, 8, true],
    ]);
  });

  it('fails as the row-by-row apply does', async () => {
    const ok = (id: string) => ({
      table: 'users',
      key: `"${id}"`,
      payload: members({ id: `"${id}"`, name: '"n"', email: 'null', age: 'null' }),
    });
    const cases: Row[][] = [
      // NOT NULL violated by a payload the SQL apply reads; an integer beyond int64
      [
        ok('a'),
        {
          table: 'users',
          key: '"b"',
          payload: members({ id: '"b"', name: '"n"', email: 'null', age: '12345678901234567890' }),
        },
      ],
      [
        ok('a'),
        { table: 'users', key: '"b"', payload: members({ id: '"b"', name: 'null', email: 'null', age: 'null' }) },
      ],
      // a member missing, an extra member, a repeated member
      [ok('a'), { table: 'users', key: '"b"', payload: members({ id: '"b"', name: '"n"', email: 'null' }) }],
      [
        ok('a'),
        {
          table: 'users',
          key: '"b"',
          payload: members({ id: '"b"', name: '"n"', email: 'null', age: 'null', z: '"1"' }),
        },
      ],
      [ok('a'), { table: 'users', key: '"b"', payload: '{"id":"b","name":"n","name":"n","email":null}' }],
    ];
    for (const rows of cases) {
      const { planned, rowByRow } = await applyBothWays(rows);
      expect(planned).toHaveProperty('error');
      expect(planned).toEqual(rowByRow);
    }
  });

  it('agrees with the row-by-row apply on generated payloads', async () => {
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 6 }),
      fc.constantFrom('', '"', '\\', '\u0000', '\u2028', '\ud83d\ude00', 'null', '42', 'é'),
    );
    const value = fc.oneof(
      { weight: 4, arbitrary: text.map((s) => JSON.stringify(s)) },
      // (an integer beyond int64 fails either apply: its own case above)
      fc.constantFrom('null', 'true', 'false', '0', '-0', '42', '1.5', '1e3', '-7', '9007199254740993', '1.0'),
    );
    // rows of only plain strings and nulls: the SQL path's own rows, else they are ~6 % of the rows and a
    // run of 25 arrays may reach that path only a few times
    const plain = fc.oneof(
      fc.constant('null'),
      fc
        .string({ unit: fc.constantFrom('a', 'Z', ' ', '1', 'é', '\u2028', '\ud83d\ude00'), maxLength: 6 })
        .map((s) => JSON.stringify(s)),
    );
    const row = fc
      .record({
        id: fc.integer({ min: 0, max: 40 }),
        values: fc.oneof(
          fc.tuple(value, value, value, value, value, value),
          fc.tuple(plain, plain, plain, plain, plain, plain),
        ),
        order: fc.shuffledSubarray([0, 1, 2, 3, 4, 5, 6, 7], { minLength: 8, maxLength: 8 }),
      })
      .map(({ id, values, order }): Row => {
        const key = `"k${id}"`;
        const all = [key, ...values, 'null'];
        const payload = members(Object.fromEntries(order.map((i) => [COLUMNS.notes![i]!, all[i]!])));
        return { table: 'notes', key, payload };
      });
    let bySql = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 12 }), async (rows) => {
        const { planned, rowByRow, sqlRuns } = await applyBothWays(rows, 5);
        expect(planned).toEqual(rowByRow);
        if (!('error' in planned)) bySql += sqlRuns;
      }),
      { numRuns: 25 },
    );
    expect(bySql).toBeGreaterThan(10);
  });
});
