import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { startTestApp, type TestApp } from './support/test-app.js';
import { SyncHttp } from './support/sync-http.js';
import { countRoundTrips } from './support/round-trips.js';
import { OversyncSchemaService } from '../libs/oversync/src/schema/oversync-schema.service.js';
import { captureWirePayload } from '@oversync/protocol';
import { byteaColumnsOf } from '../libs/oversync/src/schema/registered-table.js';
import { hashCanonicalBundleRows } from '../libs/oversync/src/bundle/bundle-capture.js';
import { rowPrefixesSql, rowPrefixParams, BUNDLE_ROW_JSON_SQL } from '../libs/oversync/src/pull/bundle-reader.js';
import type { SyncCatalog } from '../libs/oversync/src/schema/sync-catalog.js';
import {
  bundlePayloadSql,
  finalizeInDatabaseSql,
  typedPayloadSql,
} from '../libs/oversync/src/bundle/bundle-finalize.sql.js';
import { applyInsertRunFinalized } from '../libs/oversync/src/push/push-apply.js';

/**
 * Whether `statements` (their first 160 characters) hold the one statement that writes and builds a bulk INSERT
 * bundle: the INSERT … RETURNING in upload order (into `table`, if given), or, where the rows name every column,
 * the INSERT in key order from the CTE of populated rows (whose table comes later in the text).
 */
const oneStatement = (statements: readonly string[], table = '') =>
  statements.some(
    (s) => s.startsWith(`WITH inserted AS (INSERT INTO ${table}`) || s.startsWith('WITH populated AS MATERIALIZED ('),
  );

/** A `business.users` INSERT row of a chunk; a null name breaks the table's NOT NULL. */
const userRow = (id: string, name: string | null) => ({
  schema: 'business',
  table: 'users',
  key: { id },
  op: 'INSERT',
  base_row_version: 0,
  payload: { id, name, email: 'e' },
});

// Issue 21: `sync.push_commit` builds small bundles inside PostgreSQL; the Node path builds the rest.
// Whichever path a commit takes, what it stores must be what the Node code computes: payloads (§8.2),
// the bundle hash over the reference's double form (§5.1) and its byte count, and the wire row blocks.
describe('push commit parity of the database and Node paths', () => {
  let t: TestApp;
  let a: SyncHttp;
  let db: pg.Client;
  let catalog: SyncCatalog;
  let next = 1;

  beforeAll(async () => {
    t = await startTestApp({ env: { OVERSYNC_WATCH: 'false' } });
    a = new SyncHttp(t.baseUrl, await t.signIn('alice'), 'a-1');
    await a.connect(false);
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
    await db.query(`SET TimeZone = 'UTC'; SET bytea_output = 'hex'`);
    catalog = t.app.get(OversyncSchemaService).catalog;
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  const TEXT_PIECES = [
    'a',
    'Zz',
    ' ',
    '<',
    '>',
    '&',
    '"',
    '\\',
    '/',
    '\n',
    '\t',
    '\b',
    '\f',
    '\r',
    '\u0001',
    '\u001f',
    '\u007f',
    'é',
    '\u2028',
    '\u2029',
    '😀',
    '\uff71',
    '{}',
    '[1]',
    '0',
  ];
  const INTEGERS = [
    '0',
    '1',
    '-1',
    '42',
    '9007199254740992',
    '-9007199254740992',
    '9007199254740993',
    '-9007199254740993',
    '1000000000000000',
    '9223372036854775807',
    'null',
  ];
  const DOUBLES = [
    '0',
    '-0',
    '0.1',
    '1.5',
    '-2.25',
    '100',
    '1e-7',
    '0.000001',
    '0.0000015',
    '1e21',
    '1e20',
    '123456789.123456789',
    '3.141592653589793',
    '0.3333333333333333',
    '2.5e-5',
    '12345678901234.5',
    'null',
  ];
  const pick = <T>(values: readonly T[]): T => values[Math.floor(Math.random() * values.length)]!;
  const text = () => Array.from({ length: 1 + Math.floor(Math.random() * 6) }, () => pick(TEXT_PIECES)).join('');

  /** Values a double holds exactly, printed as written (once through jsonb): payloads PostgreSQL can build. */
  const EXACT_INTEGERS = INTEGERS.filter((v) => v === 'null' || (BigInt(v) <= 2n ** 53n && BigInt(v) >= -(2n ** 53n)));
  const EXACT_DOUBLES = [
    '0',
    '-0',
    '0.1',
    '1.5',
    '-2.25',
    '100',
    '0.000001',
    '0.0000015',
    '2.5e-5',
    '12345678901234.5',
    'null',
  ];

  /** A typed_rows row with its payload as raw JSON text (numbers written exactly as chosen). */
  function typedRow(op = 'INSERT', id = randomUUID(), base = 0, exact = false): string {
    if (op === 'DELETE')
      return `{"schema":"business","table":"typed_rows","key":{"id":"${id}"},"op":"DELETE","base_row_version":${base}}`;
    const members = [
      `"id":"${id}"`,
      `"name":${JSON.stringify(text())}`,
      `"enabled_flag":${pick(['0', '1'])}`,
      `"note":${Math.random() < 0.3 ? 'null' : JSON.stringify(text())}`,
      `"count_value":${pick(exact ? EXACT_INTEGERS : INTEGERS)}`,
      `"rating":${pick(exact ? EXACT_DOUBLES : DOUBLES)}`,
      `"data":${Math.random() < 0.3 ? 'null' : `"${randomBytes(Math.floor(Math.random() * 9)).toString('base64')}"`}`,
      `"created_at":` +
        `${pick(['null', '"2026-12-05T10:11:12Z"', '"2026-12-05T10:11:12.123456Z"', '"1999-01-01T00:00:00.5+02:00"'])}`,
    ];
    return (
      `{"schema":"business","table":"typed_rows","key":{"id":"${id}"},"op":"${op}","base_row_version":${base},` +
      `"payload":{${members.join(',')}}}`
    );
  }

  async function push(
    rowTexts: string[],
  ): Promise<{ bundleSeq: number; bundleHash: string; roundTrips: number; statements: readonly string[] }> {
    const created = await a
      .post('/sync/push-sessions', { source_bundle_id: next++, planned_row_count: rowTexts.length })
      .expect(200);
    const pushId = created.body.push_id as string;
    await a
      .post(`/sync/push-sessions/${pushId}/chunks`, `{"start_row_ordinal":0,"rows":[${rowTexts.join(',')}]}`)
      .expect(200);
    const commit = await countRoundTrips(() => a.post(`/sync/push-sessions/${pushId}/commit`));
    expect(commit.result.status).toBe(200);
    return {
      bundleSeq: commit.result.body.bundle_seq,
      bundleHash: commit.result.body.bundle_hash,
      roundTrips: commit.count,
      statements: commit.statements,
    };
  }

  /** The stored bundle against the Node computation over the business rows' images. */
  async function expectNodeParity(bundleSeq: number, bundleHash: string): Promise<void> {
    const { rows } = await db.query<{
      table_id: number;
      key_bytes: Buffer;
      op_code: number;
      payload_wire: string | null;
      image: string | null;
    }>(
      `SELECT br.table_id, br.key_bytes, br.op_code, br.payload_wire::text AS payload_wire,
              (SELECT (to_jsonb(r) - '_sync_scope_id')::text FROM business.typed_rows r
                WHERE r.id = encode(br.key_bytes, 'hex')::uuid) AS image
         FROM sync.bundle_rows br JOIN sync.user_state us USING (user_pk)
        WHERE us.user_id = 'alice' AND br.bundle_seq = $1 ORDER BY br.row_ordinal`,
      [bundleSeq],
    );
    const output = rows.map((row) => {
      const payload =
        row.image === null ? null : captureWirePayload(row.image, byteaColumnsOf(catalog.get(row.table_id)));
      expect(row.payload_wire).toBe(payload?.wire ?? null);
      return {
        tableId: row.table_id,
        keyBytes: row.key_bytes,
        opCode: row.op_code,
        payloadWire: payload?.wire ?? null,
        payloadHashed: payload?.hashed ?? null,
      };
    });
    const { hash, bytes } = hashCanonicalBundleRows(catalog, String(bundleSeq), output);
    expect(bundleHash).toBe(hash.toString('hex'));
    const [log] = (
      await db.query(
        `SELECT bl.byte_count::int AS bytes, encode(bl.bundle_hash, 'hex') AS hash FROM sync.bundle_log bl
          JOIN sync.user_state us USING (user_pk)
        WHERE us.user_id = 'alice' AND bl.bundle_seq = $1`,
        [bundleSeq],
      )
    ).rows;
    expect(log).toEqual({ bytes, hash: hash.toString('hex') });
    // blocks: the Node path's statement over the stored rows
    const expected = await db.query<{ rows_text: string }>(
      `SELECT string_agg(${BUNDLE_ROW_JSON_SQL}, ',' ORDER BY br.row_ordinal) AS rows_text
         FROM sync.bundle_rows br JOIN ${rowPrefixesSql(2)} ON tc.table_id = br.table_id JOIN sync.user_state us
           USING (user_pk)
        WHERE us.user_id = 'alice' AND br.bundle_seq = $1 GROUP BY (br.row_ordinal - 1) / 1000
        ORDER BY (br.row_ordinal - 1) / 1000`,
      [bundleSeq, ...rowPrefixParams(catalog)],
    );
    const stored = await db.query<{ rows_text: string }>(
      `SELECT b.rows_text FROM sync.bundle_row_blocks b JOIN sync.user_state us USING (user_pk)
        WHERE us.user_id = 'alice' AND b.bundle_seq = $1 ORDER BY b.block_no`,
      [bundleSeq],
    );
    expect(stored.rows).toEqual(expected.rows);
  }

  it('random typed rows: one-row bundles of either path store what the Node code computes', async () => {
    const paths = { database: 0, node: 0 };
    for (let i = 0; i < 60; i++) {
      const { bundleSeq, bundleHash, roundTrips } = await push([typedRow()]);
      paths[roundTrips === 1 ? 'database' : 'node']++;
      await expectNodeParity(bundleSeq, bundleHash);
    }
    expect(paths.database).toBeGreaterThan(0);
    expect(paths.node).toBeGreaterThan(0);
  });

  it('a plain row commits in the database; an integer beyond 2^53 takes the Node path; both verify', async () => {
    const id = randomUUID();
    const plain = await push([
      `{"schema":"business","table":"typed_rows","key":{"id":"${id}"},"op":"INSERT","base_row_version":0,` +
        `"payload":{"id":"${id}","name":"<&>\\u2028","enabled_flag":1,"count_value":12,"rating":0.5,` +
        `"data":"AQID","created_at":"2026-01-02T03:04:05.678Z"}}`,
    ]);
    expect(plain.roundTrips).toBe(1);
    await expectNodeParity(plain.bundleSeq, plain.bundleHash);
    const big = randomUUID();
    const exact = await push([
      `{"schema":"business","table":"typed_rows","key":{"id":"${big}"},"op":"INSERT","base_row_version":0,` +
        `"payload":{"id":"${big}","name":"n","enabled_flag":1,"count_value":9007199254740993}}`,
    ]);
    expect(exact.roundTrips).toBeGreaterThan(1);
    await expectNodeParity(exact.bundleSeq, exact.bundleHash);
  });

  it('multi-row bundles with updates and deletes of the same rows net out as the Node path does', async () => {
    for (let i = 0; i < 10; i++) {
      const ids = Array.from({ length: 2 + Math.floor(Math.random() * 6) }, () => randomUUID());
      const inserted = await push(ids.map((id) => typedRow('INSERT', id)));
      await expectNodeParity(inserted.bundleSeq, inserted.bundleHash);
      const changed = await push(
        ids.map((id, j) => typedRow(j % 3 === 0 ? 'DELETE' : 'UPDATE', id, inserted.bundleSeq)),
      );
      await expectNodeParity(changed.bundleSeq, changed.bundleHash);
    }
  });

  it('bundles of 1000 rows build in PostgreSQL when every payload allows, else in Node; both store what the Node code computes', async () => {
    // the Node code reads the stage itself only when the statement that builds the bundle declined it
    const builtInNode = (statements: readonly string[]) => statements.some((s) => s.startsWith('WITH taken AS'));
    // INSERT-only bundles capture their own RETURNING rows where the role may (declined: trigger capture)
    const capturedByWriter = (statements: readonly string[]) => oneStatement(statements);
    for (const exact of [true, false]) {
      const ids = Array.from({ length: 1000 }, () => randomUUID());
      const inserted = await push(ids.map((id) => typedRow('INSERT', id, 0, exact)));
      expect(builtInNode(inserted.statements)).toBe(!exact);
      expect(capturedByWriter(inserted.statements)).toBe(catalog.trustedSyncWrites);
      await expectNodeParity(inserted.bundleSeq, inserted.bundleHash);
      const changed = await push(
        ids.map((id, j) => typedRow(j % 3 === 0 ? 'DELETE' : 'UPDATE', id, inserted.bundleSeq, exact)),
      );
      expect(builtInNode(changed.statements)).toBe(!exact);
      expect(capturedByWriter(changed.statements)).toBe(false);
      await expectNodeParity(changed.bundleSeq, changed.bundleHash);
    }
  });

  it('a 1000-row INSERT bundle writes row_state for new and re-inserted keys; its first conflict answers 409', async () => {
    // the bulk commit's conflict check also tells whether any key has a row_state row: none, plain INSERTs
    const rowState = async (ids: string[]) =>
      (
        await db.query<{ bundle_seq: string; deleted: boolean }>(
          `SELECT rs.bundle_seq::text, rs.deleted FROM sync.row_state rs JOIN sync.user_state us USING (user_pk)
            WHERE us.user_id = 'alice' AND rs.key_bytes = ANY ($1::bytea[]) ORDER BY rs.key_bytes`,
          [ids.map((id) => Buffer.from(id.replaceAll('-', ''), 'hex'))],
        )
      ).rows;
    const ids = Array.from({ length: 1000 }, () => randomUUID());
    const fresh = await push(ids.map((id) => typedRow('INSERT', id, 0, true)));
    // the one statement (where the role may) writes row_state by plain INSERTs when no key has a row there
    const inserted = { insertSql: 'INSERT', tableId: catalog.tables[0]!.tableId };
    expect(finalizeInDatabaseSql(catalog, { ...inserted, newKeys: true })).not.toContain('ON CONFLICT');
    expect(finalizeInDatabaseSql(catalog, inserted)).toContain('ON CONFLICT');
    expect(oneStatement(fresh.statements)).toBe(catalog.trustedSyncWrites);
    await expectNodeParity(fresh.bundleSeq, fresh.bundleHash);
    expect(await rowState(ids)).toEqual(ids.map(() => ({ bundle_seq: String(fresh.bundleSeq), deleted: false })));
    const gone = ids.slice(0, 10);
    const deleted = await push(gone.map((id) => typedRow('DELETE', id, fresh.bundleSeq)));
    const again = [...gone, ...Array.from({ length: 990 }, () => randomUUID())];
    const reinserted = await push(again.map((id, j) => typedRow('INSERT', id, j < 10 ? deleted.bundleSeq : 0, true)));
    expect(oneStatement(reinserted.statements)).toBe(catalog.trustedSyncWrites);
    await expectNodeParity(reinserted.bundleSeq, reinserted.bundleHash);
    expect(await rowState(again)).toEqual(
      again.map(() => ({ bundle_seq: String(reinserted.bundleSeq), deleted: false })),
    );
    // rows 300 and 700 insert live keys: the first in upload order is the answer, and nothing is written
    const clash = Array.from({ length: 1000 }, (_, j) =>
      j === 300 ? again[5]! : j === 700 ? ids[500]! : randomUUID(),
    );
    const created = await a
      .post('/sync/push-sessions', { source_bundle_id: next, planned_row_count: clash.length })
      .expect(200);
    await a
      .post(
        `/sync/push-sessions/${created.body.push_id}/chunks`,
        `{"start_row_ordinal":0,"rows":[${clash.map((id) => typedRow('INSERT', id, 0, true)).join(',')}]}`,
      )
      .expect(200);
    const refused = await a.post(`/sync/push-sessions/${created.body.push_id}/commit`).expect(409);
    expect(refused.body.error).toBe('push_conflict');
    expect(refused.body.message).toBe(
      `insert conflict on business.typed_rows ${again[5]}: expected base_row_version ${reinserted.bundleSeq}, got 0`,
    );
    expect(refused.body.conflict).toMatchObject({
      table: 'typed_rows',
      key: { id: again[5] },
      op: 'INSERT',
      base_row_version: 0,
      server_row_version: reinserted.bundleSeq,
      server_row_deleted: false,
    });
    expect(refused.body.conflict.server_row.id).toBe(again[5]);
    expect(await rowState(clash.filter((_, j) => j !== 300 && j !== 700))).toEqual([]);
  });

  it('a user without row_state: the first row that is not an INSERT at base 0 answers 409, then a bundle commits', async () => {
    // no row_state row of the user: the conflict check is one scan of the staged rows, no probe per row
    const c = new SyncHttp(t.baseUrl, await t.signIn('carol'), 'c-1');
    await c.connect(false);
    const ids = Array.from({ length: 1000 }, () => randomUUID());
    const rows = ids.map((id, j) =>
      typedRow(j === 600 ? 'UPDATE' : j === 900 ? 'DELETE' : 'INSERT', id, j === 400 ? 7 : 0, true),
    );
    const created = await c.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1000 }).expect(200);
    await c
      .post(`/sync/push-sessions/${created.body.push_id}/chunks`, `{"start_row_ordinal":0,"rows":[${rows.join(',')}]}`)
      .expect(200);
    const refused = await c.post(`/sync/push-sessions/${created.body.push_id}/commit`).expect(409);
    expect(refused.body.message).toBe(
      `insert conflict on business.typed_rows ${ids[400]}: expected missing row at version 0, got 7`,
    );
    expect(refused.body.conflict).toMatchObject({ key: { id: ids[400] }, op: 'INSERT', server_row_version: 0 });
    // without row 400 the first is the UPDATE of a row that does not exist
    rows[400] = typedRow('INSERT', ids[400], 0, true);
    const again = await c.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1000 }).expect(200);
    await c
      .post(`/sync/push-sessions/${again.body.push_id}/chunks`, `{"start_row_ordinal":0,"rows":[${rows.join(',')}]}`)
      .expect(200);
    const update = await c.post(`/sync/push-sessions/${again.body.push_id}/commit`).expect(409);
    expect(update.body.message).toBe(`update conflict on business.typed_rows ${ids[600]}: row does not exist`);
    // INSERTs at base 0 commit (row_state by plain INSERTs), as the Node code builds them
    const fresh = await c.push(
      1,
      ids.map((id) => JSON.parse(typedRow('INSERT', id, 0, true)) as object),
    );
    expect(fresh.status).toBe(200);
    const { rows: seqs } = await db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM sync.row_state rs JOIN sync.user_state us USING (user_pk)
        WHERE us.user_id = 'carol'`,
    );
    expect(seqs[0]!.n).toBe('1000');
  });

  it('a 1000-row INSERT bundle into a table with a host trigger keeps trigger capture, and stores the same', async () => {
    // a host trigger could write registered rows the bundle must hold: only trigger capture sees them
    await db.query(`CREATE FUNCTION business.touch_typed_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RETURN NEW; END $$;
      CREATE TRIGGER host_touch BEFORE INSERT ON business.typed_rows FOR EACH ROW
        EXECUTE FUNCTION business.touch_typed_row()`);
    try {
      const ids = Array.from({ length: 1000 }, () => randomUUID());
      const inserted = await push(ids.map((id) => typedRow('INSERT', id, 0, true)));
      expect(oneStatement(inserted.statements)).toBe(false);
      expect(inserted.statements.some((s) => s.startsWith('WITH staged AS'))).toBe(true);
      await expectNodeParity(inserted.bundleSeq, inserted.bundleHash);
    } finally {
      await db.query(`DROP TRIGGER host_touch ON business.typed_rows; DROP FUNCTION business.touch_typed_row()`);
    }
  });

  it('a host AFTER INSERT row trigger that rewrites its row: the bundle holds the INSERT of the row as committed', async () => {
    // the statement capture fires after the host's row trigger, whose UPDATE staged first: without the repair the
    // bundle said UPDATE with the row as first inserted, and peers kept a row the server no longer had
    await db.query(`CREATE FUNCTION business.note_typed_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN UPDATE business.typed_rows SET note = 'noted by host' WHERE id = NEW.id; RETURN NULL; END $$;
      CREATE TRIGGER zz_host_note AFTER INSERT ON business.typed_rows FOR EACH ROW
        EXECUTE FUNCTION business.note_typed_row()`);
    try {
      for (const size of [1, 5, 1000]) {
        const ids = Array.from({ length: size }, () => randomUUID());
        const inserted = await push(ids.map((id) => typedRow('INSERT', id, 0, true)));
        await expectNodeParity(inserted.bundleSeq, inserted.bundleHash);
        const { rows } = await db.query<{ op_code: number; note: string }>(
          `SELECT br.op_code, br.payload_wire ->> 'note' AS note FROM sync.bundle_rows br
             JOIN sync.user_state us USING (user_pk) WHERE us.user_id = 'alice' AND br.bundle_seq = $1`,
          [inserted.bundleSeq],
        );
        expect(rows).toHaveLength(size);
        expect(rows.every((r) => r.op_code === 1 && r.note === 'noted by host')).toBe(true);
        // a later bundle's UPDATE of those rows runs the host's trigger not at all: plain capture
        const changed = await push(ids.map((id) => typedRow('UPDATE', id, inserted.bundleSeq, true)));
        await expectNodeParity(changed.bundleSeq, changed.bundleHash);
      }
    } finally {
      await db.query(`DROP TRIGGER zz_host_note ON business.typed_rows; DROP FUNCTION business.note_typed_row()`);
    }
  });

  it('a host BEFORE INSERT row trigger that updates another row keeps that UPDATE where it happened', async () => {
    // rows a trigger staged before the insertion, of other keys, are not moved: the bundle keeps event order
    const other = randomUUID();
    const first = await push([typedRow('INSERT', other, 0, true)]);
    await db.query(`CREATE FUNCTION business.touch_other_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN UPDATE business.typed_rows SET note = 'touched by ' || NEW.id
        WHERE id = '${other}' AND NEW.id <> '${other}'; RETURN NEW; END $$;
      CREATE TRIGGER host_touch_other BEFORE INSERT ON business.typed_rows FOR EACH ROW
        EXECUTE FUNCTION business.touch_other_row()`);
    try {
      const ids = Array.from({ length: 5 }, () => randomUUID());
      const inserted = await push(ids.map((id) => typedRow('INSERT', id, 0, true)));
      await expectNodeParity(inserted.bundleSeq, inserted.bundleHash);
      const { rows } = await db.query<{ op_code: number; id: string }>(
        `SELECT br.op_code, br.payload_wire ->> 'id' AS id FROM sync.bundle_rows br JOIN sync.user_state us
           USING (user_pk) WHERE us.user_id = 'alice' AND br.bundle_seq = $1 ORDER BY br.row_ordinal`,
        [inserted.bundleSeq],
      );
      expect(rows).toEqual([{ op_code: 2, id: other }, ...ids.map((id) => ({ op_code: 1, id }))]);
      expect(first.bundleSeq).toBeLessThan(inserted.bundleSeq);
    } finally {
      await db.query(`DROP TRIGGER host_touch_other ON business.typed_rows; DROP FUNCTION business.touch_other_row()`);
    }
  });

  it('a 1000-row INSERT bundle into a table whose columns changed since start keeps trigger capture', async () => {
    // the bulk path builds payloads from the catalog's columns; a column it does not know would be missing
    await db.query(`ALTER TABLE business.typed_rows ADD COLUMN extra_value INTEGER DEFAULT 7`);
    try {
      const ids = Array.from({ length: 1000 }, () => randomUUID());
      const inserted = await push(ids.map((id) => typedRow('INSERT', id, 0, true)));
      expect(oneStatement(inserted.statements)).toBe(false);
      await expectNodeParity(inserted.bundleSeq, inserted.bundleHash);
      const { rows } = await db.query<{ payload: string }>(
        `SELECT br.payload_wire::text AS payload FROM sync.bundle_rows br JOIN sync.user_state us USING (user_pk)
          WHERE us.user_id = 'alice' AND br.bundle_seq = $1 AND br.row_ordinal = 1`,
        [inserted.bundleSeq],
      );
      expect(rows[0]!.payload).toContain('"extra_value":7');
    } finally {
      await db.query(`ALTER TABLE business.typed_rows DROP COLUMN extra_value`);
    }
  });

  it('a bulk INSERT bundle is written and built by one statement only where nothing but ours fires on INSERT', async () => {
    if (!catalog.trustedSyncWrites) return;
    const temporaryTable = (statements: readonly string[]) =>
      statements.some((s) => s.startsWith('CREATE TEMPORARY TABLE IF NOT EXISTS pg_temp.oversync_writer_capture'));
    const post = (id: string, author: string | null) =>
      `{"schema":"business","table":"posts","key":{"id":"${id}"},"op":"INSERT","base_row_version":0,` +
      `"payload":{"id":"${id}","title":"t","content":"c","author_id":${author === null ? 'null' : `"${author}"`}}}`;
    // typed_rows has no foreign key: one statement, the same bytes
    const typed = await push(Array.from({ length: 1000 }, () => typedRow('INSERT', randomUUID(), 0, true)));
    expect(oneStatement(typed.statements, '"business"."typed_rows"')).toBe(true);
    expect(temporaryTable(typed.statements)).toBe(false);
    await expectNodeParity(typed.bundleSeq, typed.bundleHash);
    // posts' foreign key is a trigger on INSERT: the temporary table, and its deferred check still refuses
    const posts = await push(Array.from({ length: 1000 }, () => post(randomUUID(), null)));
    expect(temporaryTable(posts.statements)).toBe(true);
    const orphan = randomUUID();
    const refused = await a.push(next, [
      ...Array.from({ length: 999 }, () => JSON.parse(post(randomUUID(), null)) as unknown),
      JSON.parse(post(randomUUID(), orphan)) as unknown,
    ]);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain('posts_author_id_fkey');
    // a deferrable unique key is checked by a trigger too
    await db.query(`ALTER TABLE business.files ADD CONSTRAINT files_name_key UNIQUE (_sync_scope_id, name)
      DEFERRABLE INITIALLY DEFERRED`);
    try {
      const file = (name: string) => {
        const id = randomUUID();
        return (
          `{"schema":"business","table":"files","key":{"id":"${id}"},"op":"INSERT","base_row_version":0,` +
          `"payload":{"id":"${id}","name":"${name}","data":"AQID"}}`
        );
      };
      const unique = await push(Array.from({ length: 1000 }, () => file(randomUUID())));
      expect(temporaryTable(unique.statements)).toBe(true);
      const twice = await a.push(next, [
        ...Array.from({ length: 998 }, () => JSON.parse(file(randomUUID())) as unknown),
        JSON.parse(file('twice')) as unknown,
        JSON.parse(file('twice')) as unknown,
      ]);
      expect(twice.status).toBe(400);
      expect(twice.body.message).toContain('files_name_key');
    } finally {
      await db.query(`ALTER TABLE business.files DROP CONSTRAINT files_name_key`);
    }
  });

  it('a business-table error in a one-statement bulk commit names its rows', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => userRow(randomUUID(), i === 500 ? null : 'n'));
    const refused = await a.push(next, rows);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(
      /^rows 0\.\.999 \(INSERT business\.users\) was rejected by PostgreSQL: null value in column "name" /,
    );
    const { rows: written } = await db.query(
      `SELECT count(*)::int AS n FROM business.users WHERE id = ANY($1::uuid[])`,
      [rows.map((r) => r.key.id)],
    );
    expect(written[0]).toEqual({ n: 0 });
  });

  it('a bulk INSERT bundle naming every column goes into the table in key order, its bundle in upload order', async () => {
    if (!catalog.trustedSyncWrites) return;
    const keyOrdered = (statements: readonly string[]) =>
      statements.some((s) => s.startsWith('WITH populated AS MATERIALIZED ('));
    const bundleKeys = async (bundleSeq: number) =>
      (
        await db.query<{ id: string }>(
          `SELECT encode(br.key_bytes, 'hex')::uuid::text AS id FROM sync.bundle_rows br
             JOIN sync.user_state us USING (user_pk) WHERE us.user_id = 'alice' AND br.bundle_seq = $1
            ORDER BY br.row_ordinal`,
          [bundleSeq],
        )
      ).rows.map((r) => r.id);
    const ids = Array.from({ length: 1000 }, () => randomUUID());
    const every = await push(ids.map((id) => typedRow('INSERT', id, 0, true)));
    expect(keyOrdered(every.statements)).toBe(true);
    expect(await bundleKeys(every.bundleSeq)).toEqual(ids);
    await expectNodeParity(every.bundleSeq, every.bundleHash);
    // a uuid key: row_state is written from the INSERT's own RETURNING stream, already in its index order
    const table = catalog.tables.find((t) => t.name === 'business.typed_rows')!;
    const columns = [...table.columnTypes.keys()].filter((c) => c !== '_sync_scope_id').sort();
    const first = { ordinal: 0, table, key: '', op: 'INSERT' as const, columns };
    const statement = await applyInsertRunFinalized('p', 'u', { first, last: 999 }, (source) =>
      Promise.resolve(finalizeInDatabaseSql(catalog, { ...source, newKeys: true })),
    );
    expect(statement).toContain('FROM inserted i, seq s');
    const { rows: states } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM sync.row_state rs JOIN sync.user_state us USING (user_pk)
        WHERE us.user_id = 'alice' AND rs.bundle_seq = $1 AND NOT rs.deleted AND rs.key_bytes = ANY ($2::bytea[])`,
      [every.bundleSeq, ids.map((id) => Buffer.from(id.replaceAll('-', ''), 'hex'))],
    );
    expect(states[0]).toEqual({ n: 1000 });
    // a column the rows leave out takes its default, which only the INSERT knows: RETURNING, in upload order
    await db.query(`ALTER TABLE business.typed_rows ALTER COLUMN note SET DEFAULT 'by default'`);
    try {
      const fewer = Array.from({ length: 1000 }, () => randomUUID());
      const withoutNote = await push(
        fewer.map((id) => typedRow('INSERT', id, 0, true).replace(/"note":(null|"(?:[^"\\]|\\.)*"),/, '')),
      );
      expect(keyOrdered(withoutNote.statements)).toBe(false);
      expect(oneStatement(withoutNote.statements)).toBe(true);
      expect(await bundleKeys(withoutNote.bundleSeq)).toEqual(fewer);
      await expectNodeParity(withoutNote.bundleSeq, withoutNote.bundleHash);
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM sync.bundle_rows br JOIN sync.user_state us USING (user_pk)
          WHERE us.user_id = 'alice' AND br.bundle_seq = $1 AND br.payload_wire ->> 'note' = 'by default'`,
        [withoutNote.bundleSeq],
      );
      expect(rows[0]).toEqual({ n: 1000 });
    } finally {
      await db.query(`ALTER TABLE business.typed_rows ALTER COLUMN note DROP DEFAULT`);
    }
  });

  it('a bulk INSERT in key order that the table refuses names the row the upload order meets first', async () => {
    // rows 300 and 700 break users' NOT NULL, and 700's key sorts first: the answer names row 300's values
    const ids = Array.from({ length: 1000 }, () => randomUUID());
    if (ids[700]! > ids[300]!) [ids[300], ids[700]] = [ids[700]!, ids[300]!];
    const now = '2026-12-07T10:00:00Z';
    const rows = ids.map((id, i) => {
      const row = userRow(id, i === 300 || i === 700 ? null : 'n');
      return { ...row, payload: { ...row.payload, created_at: now, updated_at: now } };
    });
    const refused = await a.push(next, rows);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(
      /^rows 0\.\.999 \(INSERT business\.users\) was rejected by PostgreSQL: null value in column "name" /,
    );
    expect(refused.body.message).toContain(ids[300]);
    expect(refused.body.message).not.toContain(ids[700]);
    const { rows: written } = await db.query(
      `SELECT count(*)::int AS n FROM business.users WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    expect(written[0]).toEqual({ n: 0 });
  });

  it('payloads built from typed columns are those built from the jsonb row image, for every column type', async () => {
    // typedPayloadSql (bulk INSERTs captured by their writer) against bundlePayloadSql (the capture stage)
    const columns: Array<[string, string, string[]]> = [
      ['id', 'uuid', [`'${randomUUID()}'`]],
      ['a_int2', 'int2', ['-32768', '0', '7']],
      ['a_int4', 'int4', ['-2147483648', '42']],
      ['a_int8', 'int8', ['9007199254740992', '9007199254740993', '-9223372036854775808', '5']],
      ['a_bool', 'bool', ['true', 'false']],
      ['a_text', 'text', [`'<&>\u2028"\\'`, `E'\\n\\t\\u0001é😀'`, `''`]],
      ['a_varchar', 'varchar(20)', [`'x y'`]],
      ['a_bpchar', 'bpchar(5)', [`'ab'`]],
      ['a_name', 'name', [`'n'`]],
      ['a_bytea', 'bytea', [`'\\x00ff10'`, `''`, `decode(repeat('ab', 100), 'hex')`]],
      ['a_date', 'date', [`'2026-12-06'`, `'0044-03-15 BC'`, `'infinity'`]],
      ['a_time', 'time', [`'10:11:12.5'`]],
      ['a_timetz', 'timetz', [`'10:11:12+02'`]],
      ['a_ts', 'timestamp', [`'2026-12-06 01:02:03.456789'`, `'-infinity'`]],
      ['a_tstz', 'timestamptz', [`'2026-12-06 01:02:03+05'`, `'1999-01-01 00:00:00.5+02'`]],
      ['a_numeric', 'numeric', ['0.1', '1e21', '12345678901234567890', `'NaN'`, '-0.0000015']],
      ['a_float8', 'float8', ['1.5', '0.000001', '1e-7', `'Infinity'`, '-0']],
      ['a_float4', 'float4', ['0.1', '3']],
      ['a_json', 'json', [`'{"b": [1, 2]}'`, `'"s"'`]],
      ['a_jsonb', 'jsonb', [`'{"b": 1}'`, `'null'`, `'2'`]],
      ['a_array', 'int4[]', [`'{1,2}'`]],
      ['a_interval', 'interval', [`'1 day 2 hours'`]],
    ];
    const table = {
      tableId: 9999,
      schema: 'public',
      table: 'typed_payload_probe',
      name: 'public.typed_payload_probe',
      keyColumn: 'id',
      keyKind: 1,
      columnTypes: new Map([
        ['_sync_scope_id', 'text'],
        ...columns.map(([column, type]): [string, string] => [
          column,
          type.replace(/\(.*$/, '').replace(/^(.*)\[\]$/, '_$1'),
        ]),
      ]),
    } as const;
    const definitions = columns.map(([column, type]) => `${column} ${type}`).join(', ');
    await db.query(`CREATE TABLE public.typed_payload_probe (_sync_scope_id text, ${definitions})`);
    try {
      // one row of NULLs, then one row per column and value (the other columns NULL: a value whose canonical
      // form PostgreSQL cannot build makes its whole payload NULL, which must not hide the others)
      await db.query(`INSERT INTO public.typed_payload_probe (_sync_scope_id) VALUES ('s')`);
      let rowCount = 1;
      for (const [column, , values] of columns)
        for (const value of values) {
          await db.query(`INSERT INTO public.typed_payload_probe (_sync_scope_id, ${column}) VALUES ('s', ${value})`);
          rowCount++;
        }
      const { rows } = await db.query<{ typed: string | null; image: string | null }>(
        `SELECT ${typedPayloadSql(table, 't')} AS typed,
                ${bundlePayloadSql(table, "(to_jsonb(t) - '_sync_scope_id')")} AS image
           FROM public.typed_payload_probe t`,
      );
      expect(rows).toHaveLength(rowCount);
      for (const row of rows) expect(row.typed).toBe(row.image);
      // the types whose canonical form PostgreSQL builds give payloads, others decline (NULL) on both sides
      expect(rows.filter((r) => r.image !== null).length).toBeGreaterThan(rowCount / 2);
      expect(rows.filter((r) => r.image === null).length).toBeGreaterThan(0);
    } finally {
      await db.query(`DROP TABLE public.typed_payload_probe`);
    }
  });

  it('a bulk INSERT push whose chunks name different members applies each row with its own members', async () => {
    // one statement per member list: a row without created_at takes the column default, not NULL
    const user = (id: string, full: boolean) =>
      `{"schema":"business","table":"users","key":{"id":"${id}"},"op":"INSERT","base_row_version":0,` +
      `"payload":{"id":"${id}","name":"n","email":"e"${full ? ',"created_at":"2020-01-01T00:00:00Z"' : ''}}}`;
    for (const split of [600, 0]) {
      const ids = Array.from({ length: 1200 }, () => randomUUID());
      const created = await a
        .post('/sync/push-sessions', { source_bundle_id: next, planned_row_count: ids.length })
        .expect(200);
      const pushId = created.body.push_id as string;
      // split 600: two uniform chunks of different member lists; split 0: one chunk, the last row differs
      const chunks = split > 0 ? [ids.slice(0, split), ids.slice(split)] : [ids];
      let start = 0;
      for (const [c, part] of chunks.entries()) {
        const rows = part.map((id, i) => user(id, split > 0 ? c === 0 : i < part.length - 1));
        await a
          .post(`/sync/push-sessions/${pushId}/chunks`, `{"start_row_ordinal":${start},"rows":[${rows.join(',')}]}`)
          .expect(200);
        start += part.length;
      }
      await a.post(`/sync/push-sessions/${pushId}/commit`).expect(200);
      next++;
      const { rows } = await db.query<{ defaulted: string; dated: string }>(
        `SELECT count(*) FILTER (WHERE created_at > '2020-01-02') AS defaulted,
                count(*) FILTER (WHERE created_at = '2020-01-01T00:00:00Z') AS dated
           FROM business.users WHERE id = ANY($1::uuid[])`,
        [ids],
      );
      expect(rows[0]).toEqual(split > 0 ? { defaulted: '600', dated: '600' } : { defaulted: '1', dated: '1199' });
    }
  });

  it('a chunk of 1000 rows stages without per-row foreign-key checks where the role may; smaller chunks keep them', async () => {
    // A foreign-key check locks the referenced table_catalog row (FOR KEY SHARE): its xmax names the
    // last transaction that checked it.
    const users = catalog.find('business', 'users')!;
    const checkedBy = async () =>
      (
        await db.query<{ xmax: string }>('SELECT xmax::text FROM sync.table_catalog WHERE table_id = $1', [
          users.tableId,
        ])
      ).rows[0]!.xmax;
    const user = (id: string) =>
      `{"schema":"business","table":"users","key":{"id":"${id}"},"op":"INSERT","base_row_version":0,` +
      `"payload":{"id":"${id}","name":"n","email":"e"}}`;
    const ids = Array.from({ length: 1001 }, () => randomUUID());
    const created = await a
      .post('/sync/push-sessions', { source_bundle_id: next, planned_row_count: 1001 })
      .expect(200);
    const pushId = created.body.push_id as string;
    const before = await checkedBy();
    await a
      .post(`/sync/push-sessions/${pushId}/chunks`, `{"start_row_ordinal":0,"rows":[${user(ids[0]!)}]}`)
      .expect(200);
    const small = await checkedBy();
    expect(small).not.toBe(before);
    await a
      .post(
        `/sync/push-sessions/${pushId}/chunks`,
        `{"start_row_ordinal":1,"rows":[${ids.slice(1).map(user).join(',')}]}`,
      )
      .expect(200);
    if (catalog.trustedSyncWrites) expect(await checkedBy()).toBe(small);
    else expect(await checkedBy()).not.toBe(small);
    const commit = await a.post(`/sync/push-sessions/${pushId}/commit`).expect(200);
    next++;
    expect(commit.body.row_count).toBe(1001);
    const { rows } = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM business.users WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    expect(rows[0]!.n).toBe('1001');
  });

  it('a row staged twice across chunks is refused at commit alike on both paths', async () => {
    const user = (id: string) =>
      `{"schema":"business","table":"users","key":{"id":"${id}"},"op":"INSERT","base_row_version":0,` +
      `"payload":{"id":"${id}","name":"n","email":"e"}}`;
    for (const size of [2, 1000]) {
      const ids = Array.from({ length: size - 1 }, () => randomUUID());
      const created = await a
        .post('/sync/push-sessions', { source_bundle_id: next, planned_row_count: size })
        .expect(200);
      const pushId = created.body.push_id as string;
      await a
        .post(`/sync/push-sessions/${pushId}/chunks`, `{"start_row_ordinal":0,"rows":[${ids.map(user).join(',')}]}`)
        .expect(200);
      await a
        .post(`/sync/push-sessions/${pushId}/chunks`, `{"start_row_ordinal":${size - 1},"rows":[${user(ids[0]!)}]}`)
        .expect(200);
      const commit = await a.post(`/sync/push-sessions/${pushId}/commit`);
      expect(commit.status).toBe(400);
      expect(commit.body).toEqual({
        error: 'push_commit_invalid',
        message: `duplicate target row in staged push session: business.users ${ids[0]}`,
      });
    }
  });

  it('a bundle of one insert shape runs its prepared INSERT by name, prepares it where missing, and names failing rows', async () => {
    // The request functions on one connection (the app's pool spreads requests over several): the first
    // commit of a shape prepares its statement, later ones run it by the shape's name.
    const users = catalog.find('business', 'users')!;
    const user = `shape-${randomUUID().slice(0, 8)}`;
    await db.query('SELECT * FROM sync.connect($1, $2, $3, $4::uuid, $5, $6)', [
      user,
      's',
      false,
      randomUUID(),
      60000,
      0,
    ]);
    let sourceBundleId = 0;
    const push = async (names: Array<string | null>) => {
      const ids = names.map(() => randomUUID());
      const pushId = randomUUID();
      sourceBundleId++;
      await db.query('SELECT * FROM sync.push_create($1, $2, $3, $4, $5, $6::uuid, $7, $8, $9, $10)', [
        ...[user, 's', sourceBundleId, names.length, '', pushId, 60000, 60000, 5000, 0],
      ]);
      const payloads = ids.map((id, i) => `{"email":"e","id":"${id}","name":${JSON.stringify(names[i])}}`);
      await db.query(
        'SELECT * FROM sync.push_chunk($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)',
        [pushId, user, 's', 0, ids.map(() => users.tableId), ids.map((id) => id.replaceAll('-', ''))]
          .concat([ids.map(() => 1), ids.map(() => 0), payloads.join('\n'), 60000, 60000, 5000, 0])
          .concat([`${users.tableId} email,id,name`]),
      );
      try {
        await db.query('SELECT * FROM sync.push_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)', [
          ...[pushId, user, 's', 999, [], null, 1000, 100, 60000, 5000, 0, null],
        ]);
      } catch (error) {
        sourceBundleId--;
        return { ids, error: error as pg.DatabaseError };
      }
      const stored = await db.query('SELECT id::text FROM business.users WHERE id = ANY($1::uuid[])', [ids]);
      return { ids, stored: stored.rows.length };
    };
    const prepared = async () =>
      (await db.query(`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'oversync\\_apply\\_%'`))
        .rows[0]!.n as number;
    const before = await prepared();
    expect(await push(['a', 'b'])).toMatchObject({ stored: 2 });
    expect(await prepared()).toBe(before + 1);
    expect(await push(['c', 'd', 'e'])).toMatchObject({ stored: 3 });
    expect(await prepared()).toBe(before + 1);
    for (const deallocate of [false, true]) {
      if (deallocate) await db.query('DEALLOCATE ALL');
      const failed = await push(['f', null, 'g']);
      expect(failed.error?.code).toBe('23502');
      expect(JSON.parse(failed.error!.hint!.slice('oversync_apply:'.length))).toEqual({
        first: 0,
        last: 2,
        table_id: users.tableId,
        op_code: 1,
        key_hex: failed.ids[0]!.replaceAll('-', ''),
      });
    }
    expect(await push(['h'])).toMatchObject({ stored: 1 });
    expect(await prepared()).toBe(1);
    // the server's chunks store the shape as the loop keys the statement: table id and the staged members
    const created = await a.post('/sync/push-sessions', { source_bundle_id: next, planned_row_count: 2 }).expect(200);
    const pushId = created.body.push_id as string;
    await a
      .post(`/sync/push-sessions/${pushId}/chunks`, { start_row_ordinal: 0, rows: [userRow(randomUUID(), 'x')] })
      .expect(200);
    await a
      .post(`/sync/push-sessions/${pushId}/chunks`, { start_row_ordinal: 1, rows: [userRow(randomUUID(), 'y')] })
      .expect(200);
    const { rows } = await db.query<{ shape: string; keys: string }>(
      `SELECT ps.staged_insert_shape AS shape,
              (SELECT string_agg(DISTINCT psr.table_id || ' ' || array_to_string(
                 ARRAY(SELECT json_object_keys(psr.payload_apply)), ','), '|')
                 FROM sync.push_session_rows psr WHERE psr.push_id = ps.push_id) AS keys
         FROM sync.push_sessions ps WHERE ps.push_id = $1`,
      [pushId],
    );
    expect(rows[0]!.shape).toBe(`${rows[0]!.keys}:2`);
    await a.post(`/sync/push-sessions/${pushId}/commit`).expect(200);
    next++;
  });

  it('a business-table error names the rows as the Node path does, and the rejected commit is logged', async () => {
    const [u1, u2] = [randomUUID(), randomUUID()];
    const single = await a.push(next, [userRow(u1, null)]);
    expect(single.status).toBe(400);
    expect(single.body.message).toMatch(
      new RegExp(
        `^row 0 \\(INSERT business\\.users ${u1}\\) was rejected by PostgreSQL: null value in column "name" ` +
          `.*; table business\\.users`,
      ),
    );
    const batch = await a.push(next, [userRow(u1, 'x'), userRow(u2, null)]);
    expect(batch.status).toBe(400);
    expect(batch.body.message).toMatch(
      new RegExp(
        '^rows 0\\.\\.1 \\(INSERT business\\.users\\) was rejected by PostgreSQL: ' +
          'null value in column "name" .*; table business\\.users',
      ),
    );
    const { rows } = await db.query(
      `SELECT error_code, answer::text FROM sync.rejected_writes ORDER BY rejection_id DESC LIMIT 1`,
    );
    expect(rows[0]).toEqual({
      error_code: 'push_commit_invalid',
      answer: JSON.stringify({ error: 'push_commit_invalid', message: batch.body.message }),
    });
  });
});
