import { describe, expect, it } from '@jest/globals';
import type Database from 'better-sqlite3';
import { sqliteFiles } from './sqlite-file.spec-support.js';

const databases = sqliteFiles();
import { OversqliteClient } from './oversqlite-client.js';
import { suspendTriggers, TRIGGER_SUFFIXES, triggerPrograms } from './capture-triggers.js';
import { inspectManagedTables } from './managed-table.js';

/** A device's business tables (capture runs locally: no server is involved). */
const DDL = `
CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT, age INTEGER);
CREATE TABLE files (id BLOB PRIMARY KEY NOT NULL, name TEXT, data BLOB);
CREATE TABLE file_reviews (id BLOB PRIMARY KEY NOT NULL, review TEXT,
  file_id BLOB REFERENCES files(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
`;

/** Opening a client installs the tables and triggers; it never touches the network. */
function newClient(db: Database.Database): Promise<OversqliteClient> {
  return OversqliteClient.open(db, {
    baseUrl: 'http://127.0.0.1:9',
    tokenProvider: () => 'unused',
    schema: 'business',
    tables: ['users', 'files', 'file_reviews'].map((tableName) => ({ tableName, syncKeyColumnName: 'id' })),
  });
}

function dirtyRows(db: Database.Database) {
  return db
    .prepare(
      'SELECT table_name, key_json, op, base_row_version, payload, dirty_ordinal FROM _sync_dirty_rows ORDER ' +
        'BY dirty_ordinal',
    )
    .all() as {
    table_name: string;
    key_json: string;
    op: string;
    base_row_version: number;
    payload: string | null;
    dirty_ordinal: number;
  }[];
}

/** A client that created its tables and triggers (no Open needed for capture). */
async function setup() {
  const db = databases.open().db;
  db.exec(DDL);
  const client = await newClient(db);
  return { db, client };
}

function setRowState(db: Database.Database, table: string, key: string, version: number, deleted = false) {
  db.prepare(
    "INSERT INTO _sync_row_state(schema_name, table_name, key_json, row_version, deleted) VALUES ('business', " +
      '?, ?, ?, ?)',
  ).run(table, JSON.stringify({ id: key }), version, deleted ? 1 : 0);
}

describe('capture triggers', () => {
  it('installs the six triggers per table and re-installs idempotently', async () => {
    const { db, client } = await setup();
    const names = () =>
      (
        db
          .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'users' ORDER BY name")
          .all() as { name: string }[]
      ).map((r) => r.name);
    expect(names()).toEqual([
      'trg_users_ad',
      'trg_users_ai',
      'trg_users_au',
      'trg_users_bd_guard',
      'trg_users_bi_guard',
      'trg_users_bu_guard',
    ]);
    const sqlBefore = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'trg_users_ai'").get();
    await client.close();
    await newClient(db);
    expect(names()).toHaveLength(6);
    expect(db.prepare("SELECT sql FROM sqlite_master WHERE name = 'trg_users_ai'").get()).toEqual(sqlBefore);
  });

  it('replaces a trigger whose SQL differs from the rendered one', async () => {
    const { db, client } = await setup();
    db.exec('DROP TRIGGER trg_users_ai; CREATE TRIGGER trg_users_ai AFTER INSERT ON users BEGIN SELECT 1; END');
    await client.close();
    await newClient(db);
    db.prepare("INSERT INTO users(id, name) VALUES ('u1', 'Ada')").run();
    expect(dirtyRows(db)).toHaveLength(1);
  });

  it('captures an insert with the lower-cased row image and base 0', async () => {
    const { db } = await setup();
    db.prepare("INSERT INTO users(id, name, email, age) VALUES ('u1', 'Ada', 'ada@example.com', 36)").run();
    expect(dirtyRows(db)).toEqual([
      {
        table_name: 'users',
        key_json: '{"id":"u1"}',
        op: 'INSERT',
        base_row_version: 0,
        payload: '{"id":"u1","name":"Ada","email":"ada@example.com","age":36}',
        dirty_ordinal: 1,
      },
    ]);
  });

  it('coalesces insert → update → delete of a never-synced row into one dirty row', async () => {
    const { db } = await setup();
    db.prepare("INSERT INTO users(id, name) VALUES ('u1', 'Ada')").run();
    db.prepare("UPDATE users SET name = 'Ada L.' WHERE id = 'u1'").run();
    expect(dirtyRows(db)).toMatchObject([
      { op: 'INSERT', payload: '{"id":"u1","name":"Ada L.","email":null,"age":null}', base_row_version: 0 },
    ]);
    db.prepare("DELETE FROM users WHERE id = 'u1'").run();
    expect(dirtyRows(db)).toMatchObject([{ op: 'DELETE', payload: null, base_row_version: 0, dirty_ordinal: 1 }]);
    db.prepare("INSERT INTO users(id, name) VALUES ('u1', 'Again')").run();
    expect(dirtyRows(db)).toMatchObject([
      { op: 'INSERT', payload: '{"id":"u1","name":"Again","email":null,"age":null}', dirty_ordinal: 1 },
    ]);
  });

  it('bases updates and deletes of synced rows on the row-state version and keeps the first capture base', async () => {
    const { db } = await setup();
    db.prepare(
      'INSERT INTO _sync_apply_state(singleton_key, apply_mode) VALUES (1, 1) ON CONFLICT DO UPDATE SET apply_mode = 1',
    ).run();
    db.prepare("INSERT INTO users(id, name) VALUES ('u1', 'Ada')").run();
    db.prepare('UPDATE _sync_apply_state SET apply_mode = 0').run();
    expect(dirtyRows(db)).toHaveLength(0);
    setRowState(db, 'users', 'u1', 7);
    db.prepare("UPDATE users SET name = 'B' WHERE id = 'u1'").run();
    expect(dirtyRows(db)).toMatchObject([{ op: 'UPDATE', base_row_version: 7 }]);
    db.prepare('UPDATE _sync_row_state SET row_version = 9').run();
    db.prepare("DELETE FROM users WHERE id = 'u1'").run();
    expect(dirtyRows(db)).toMatchObject([{ op: 'DELETE', base_row_version: 7, payload: null }]);
    db.prepare("INSERT INTO users(id, name) VALUES ('u1', 'C')").run();
    expect(dirtyRows(db)).toMatchObject([{ op: 'UPDATE', base_row_version: 7 }]);
  });

  it('captures re-insert over a tombstone as INSERT based on the tombstone version', async () => {
    const { db } = await setup();
    setRowState(db, 'users', 'u1', 4, true);
    db.prepare("INSERT INTO users(id, name) VALUES ('u1', 'Back')").run();
    expect(dirtyRows(db)).toMatchObject([{ op: 'INSERT', base_row_version: 4 }]);
  });

  it('turns a key-changing update into DELETE of the old key (first) and an upsert of the new key', async () => {
    const { db } = await setup();
    db.prepare('UPDATE _sync_apply_state SET apply_mode = 1').run();
    db.prepare("INSERT INTO users(id, name) VALUES ('a', 'Ada')").run();
    db.prepare('UPDATE _sync_apply_state SET apply_mode = 0').run();
    setRowState(db, 'users', 'a', 3);
    db.prepare("UPDATE users SET id = 'b' WHERE id = 'a'").run();
    expect(dirtyRows(db)).toMatchObject([
      { key_json: '{"id":"a"}', op: 'DELETE', base_row_version: 3, dirty_ordinal: 1 },
      { key_json: '{"id":"b"}', op: 'INSERT', base_row_version: 0, dirty_ordinal: 2 },
    ]);
  });

  it('captures BLOB keys and BLOB columns as lower-case hex and local cascades', async () => {
    const { db } = await setup();
    db.prepare('INSERT INTO files(id, name, data) VALUES (?, ?, ?)').run(
      Buffer.from('6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b', 'hex'),
      'a.jpg',
      Buffer.from([0xff, 0xd8]),
    );
    db.prepare('INSERT INTO file_reviews(id, review, file_id) VALUES (?, ?, ?)').run(
      Buffer.alloc(16, 1),
      'ok',
      Buffer.from('6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b', 'hex'),
    );
    expect(dirtyRows(db)[0]).toMatchObject({
      key_json: '{"id":"6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b"}',
      payload: '{"id":"6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b","name":"a.jpg","data":"ffd8"}',
    });
    db.prepare('DELETE FROM _sync_dirty_rows').run();
    db.prepare('DELETE FROM files').run();
    // SQLite runs the child's cascade before the parent's AFTER DELETE trigger.
    expect(dirtyRows(db).map((r) => [r.table_name, r.op])).toEqual([
      ['file_reviews', 'DELETE'],
      ['files', 'DELETE'],
    ]);
  });

  it('does not capture while apply_mode = 1 and blocks application writes during a pending transition', async () => {
    const { db } = await setup();
    db.prepare("UPDATE _sync_operation_state SET kind = 'remote_replace'").run();
    expect(() => db.prepare("INSERT INTO users(id, name) VALUES ('u1', 'x')").run()).toThrow('SYNC_TRANSITION_PENDING');
    db.prepare('UPDATE _sync_apply_state SET apply_mode = 1').run();
    db.prepare("INSERT INTO users(id, name) VALUES ('u1', 'x')").run();
    expect(dirtyRows(db)).toHaveLength(0);
  });

  it('suspends the triggers of a bulk apply inside its transaction and restores them byte for byte', async () => {
    const { db } = await setup();
    // an application trigger created after ours keeps firing during the apply and keeps its place after
    db.exec(
      'CREATE TABLE audit (note TEXT); ' +
        'CREATE TRIGGER app_users_audit AFTER INSERT ON users BEGIN INSERT INTO audit VALUES (NEW.id); END',
    );
    const triggers = () =>
      // per table in creation order: SQLite fires a table's triggers newest first
      db.prepare("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY tbl_name, rowid").all();
    const before = triggers();
    expect(before).toHaveLength(19);
    db.transaction(() => {
      db.prepare('UPDATE _sync_apply_state SET apply_mode = 1').run();
      const restore = suspendTriggers(db, ['users', 'files']);
      expect((triggers() as { name: string }[]).map((t) => t.name).filter((n) => !n.includes('file_reviews'))).toEqual([
        'app_users_audit',
      ]);
      db.prepare("INSERT INTO users(id, name) VALUES ('u1', 'x')").run();
      restore();
      db.prepare('UPDATE _sync_apply_state SET apply_mode = 0').run();
    })();
    expect(triggers()).toEqual(before);
    expect(dirtyRows(db)).toHaveLength(0);
    expect(db.prepare('SELECT note FROM audit').all()).toEqual([{ note: 'u1' }]);
    // a failure inside the transaction rolls the drop back with it
    expect(() =>
      db.transaction(() => {
        suspendTriggers(db, ['users']);
        throw new Error('apply failed');
      })(),
    ).toThrow('apply failed');
    expect(triggers()).toEqual(before);
    db.prepare("INSERT INTO users(id, name) VALUES ('u2', 'y')").run();
    expect(dirtyRows(db).map((r) => r.key_json)).toEqual(['{"id":"u2"}']);
  });

  it("keeps the capture's statement journal in memory unless the application chose a temp_store", async () => {
    const { db } = await setup();
    expect(db.pragma('temp_store', { simple: true })).toBe(2);
    const chosen = databases.open().db;
    chosen.exec(DDL);
    chosen.pragma('temp_store = FILE');
    await newClient(chosen);
    expect(chosen.pragma('temp_store', { simple: true })).toBe(1);
  });

  it('builds key_json byte-identical to json_object for awkward keys', async () => {
    const { db } = await setup();
    const key = 'a<b>&"c"\\/\u2028\u0001é😀';
    db.prepare('INSERT INTO users(id, name) VALUES (?, ?)').run(key, 'x');
    const stored = (db.prepare('SELECT key_json FROM _sync_dirty_rows').get() as { key_json: string }).key_json;
    expect(stored).toBe(`{"id":${JSON.stringify(key)}}`);
  });

  it('finds every row a trigger reads or writes through an index (EXPLAIN QUERY PLAN shows no full scan)', async () => {
    const { db } = await setup();
    // NEW/OLD columns become literals (RAISE, which reads nothing, only runs inside a trigger): the plan of each
    // statement is what the trigger runs per row.
    const bind = (sql: string) =>
      sql
        .replace(/\b(NEW|OLD)\."(?:[^"]|"")*"/g, "'k'")
        .replace(/;\s*$/, '')
        .replace(/RAISE\(ABORT, '[A-Z_]+'\)/, 'NULL');
    const plans: string[] = [];
    for (const table of inspectManagedTables(
      db,
      ['users', 'files', 'file_reviews'].map((tableName) => ({ tableName, syncKeyColumnName: 'id' })),
    )) {
      const programs = triggerPrograms('business', table);
      for (const suffix of TRIGGER_SUFFIXES) {
        const statements = [`SELECT ${programs[suffix].when}`, ...programs[suffix].body];
        for (const statement of statements) {
          const details = (db.prepare(`EXPLAIN QUERY PLAN ${bind(statement)}`).all() as { detail: string }[]).map(
            (r) => r.detail,
          );
          plans.push(...details);
          const scans = details.filter((d) => /^SCAN /.test(d) && d !== 'SCAN CONSTANT ROW');
          expect({ trigger: `${table.name}_${suffix}`, statement, scans }).toEqual({
            trigger: `${table.name}_${suffix}`,
            statement,
            scans: [],
          });
        }
      }
    }
    // the next dirty ordinal (MAX) is one seek on its index
    expect(plans).toContain('SEARCH _sync_dirty_rows USING COVERING INDEX _sync_dirty_rows_ordinal');
  });
});
