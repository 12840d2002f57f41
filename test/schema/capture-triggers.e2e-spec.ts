import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { bootstrapSyncSchema } from '../../libs/oversync/src/schema/schema-bootstrap.js';
import { BUSINESS_TABLES, openSchemaTestFixture, rejectionOf, type SchemaTestFixture } from './schema-test-fixture.js';

const USER_A = '0b9f6c3e-6d1f-4c59-9a55-2f8f3c1d0a01';
const USER_B = '0b9f6c3e-6d1f-4c59-9a55-2f8f3c1d0a02';

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

interface StageRow {
  user_pk: string;
  table_id: number;
  op_code: number;
  key_bytes: Buffer;
  payload_db: Record<string, unknown> | null;
}

describe('registered-table triggers (spec §2.6)', () => {
  let fixture: SchemaTestFixture;
  let userPk: string;

  beforeAll(async () => {
    fixture = await openSchemaTestFixture();
  });
  afterAll(async () => {
    await fixture.close();
  });
  beforeEach(async () => {
    await fixture.reset();
    await bootstrapSyncSchema(fixture.db, BUSINESS_TABLES);
    const { rows } = await fixture.pool.query<{ user_pk: string }>(
      `INSERT INTO sync.user_state (user_id) VALUES ('alice'), ('bob') RETURNING user_pk`,
    );
    userPk = rows[0].user_pk;
  });

  /** Runs `fn` in a transaction carrying the bundle context of `userId`, then rolls back. */
  async function inBundle<T>(
    userId: string,
    fn: (client: pg.PoolClient) => Promise<T>,
    pk: string | null = userPk,
  ): Promise<T> {
    const client = await fixture.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('oversync.bundle_user_id', $1, true)`, [userId]);
      if (pk !== null) await client.query(`SELECT set_config('oversync.bundle_user_pk', $1, true)`, [pk]);
      return await fn(client);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }

  async function committedInBundle(userId: string, pk: string, sql: string): Promise<void> {
    const client = await fixture.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `SELECT set_config('oversync.bundle_user_id', $1, true), set_config('oversync.bundle_user_pk', $2, true)`,
        [userId, pk],
      );
      await client.query(sql);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }

  async function stagedRows(client: pg.PoolClient): Promise<StageRow[]> {
    const { rows } = await client.query<StageRow>(`
      SELECT user_pk, table_id, op_code, key_bytes, payload_db FROM sync.bundle_capture_stage
      WHERE txid = txid_current() ORDER BY capture_ordinal`);
    return rows;
  }

  async function rejectedWrites(): Promise<number> {
    const { rows } = await fixture.pool.query<{ count: string }>(
      'SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS count FROM sync.rejected_registered_write_seq',
    );
    return Number(rows[0].count);
  }

  it('refuses writes without bundle context and counts them', async () => {
    expect(await rejectedWrites()).toBe(0);
    await expect(
      fixture.pool.query(`INSERT INTO business.users (id, name) VALUES ($1, 'a')`, [USER_A]),
    ).rejects.toMatchObject({
      code: 'P0001',
      message: 'write to registered table business.users requires oversync sync bundle context',
    });
    await expect(fixture.pool.query(`DELETE FROM business.files`)).resolves.toMatchObject({ rowCount: 0 });
    await expect(
      inBundle('', (client) => client.query(`INSERT INTO business.files (id) VALUES ('x')`)),
    ).rejects.toMatchObject({
      message: 'write to registered table business.files requires oversync sync bundle context',
    });
    // nextval survives the rollback of the refused write.
    expect(await rejectedWrites()).toBe(2);
  });

  it('captures INSERT, UPDATE and DELETE with op codes, key bytes and payloads without the scope column', async () => {
    const staged = await inBundle('alice', async (client) => {
      await client.query(`INSERT INTO business.users (id, name) VALUES ($1, 'Alice')`, [USER_A]);
      await client.query(`UPDATE business.users SET name = 'Alicia' WHERE id = $1`, [USER_A]);
      await client.query(`INSERT INTO business.files (id, data) VALUES ('héllo.txt', '\\x00ff')`);
      await client.query(`DELETE FROM business.files WHERE id = 'héllo.txt'`);
      const { rows } = await client.query(`SELECT _sync_scope_id FROM business.users`);
      expect(rows).toEqual([{ _sync_scope_id: 'alice' }]);
      return stagedRows(client);
    });
    expect(staged).toEqual([
      {
        user_pk: userPk,
        table_id: 3,
        op_code: 1,
        key_bytes: uuidBytes(USER_A),
        payload_db: { id: USER_A, name: 'Alice' },
      },
      {
        user_pk: userPk,
        table_id: 3,
        op_code: 2,
        key_bytes: uuidBytes(USER_A),
        payload_db: { id: USER_A, name: 'Alicia' },
      },
      {
        user_pk: userPk,
        table_id: 1,
        op_code: 1,
        key_bytes: Buffer.from('héllo.txt', 'utf8'),
        payload_db: { id: 'héllo.txt', data: '\\x00ff' },
      },
      { user_pk: userPk, table_id: 1, op_code: 3, key_bytes: Buffer.from('héllo.txt', 'utf8'), payload_db: null },
    ]);
  });

  it('captures a key change as DELETE of the old key then INSERT of the new one', async () => {
    const staged = await inBundle('alice', async (client) => {
      await client.query(`INSERT INTO business.users (id, name) VALUES ($1, 'Alice')`, [USER_A]);
      await client.query(`UPDATE business.users SET id = $2 WHERE id = $1`, [USER_A, USER_B]);
      return stagedRows(client);
    });
    expect(staged.map((row) => [row.op_code, row.key_bytes, row.payload_db])).toEqual([
      [1, uuidBytes(USER_A), { id: USER_A, name: 'Alice' }],
      [3, uuidBytes(USER_A), null],
      [1, uuidBytes(USER_B), { id: USER_B, name: 'Alice' }],
    ]);
  });

  it('accepts an explicit matching owner and refuses another owner on insert', async () => {
    await inBundle('alice', async (client) => {
      await client.query(`INSERT INTO business.files (_sync_scope_id, id) VALUES ('alice', 'a')`);
      await expect(
        client.query(`INSERT INTO business.files (_sync_scope_id, id) VALUES ('bob', 'b')`),
      ).rejects.toMatchObject({
        code: 'P0001',
        message: 'scope mismatch on registered table business.files: actor alice cannot write owner bob',
      });
    });
  });

  it("refuses to update or delete another owner's row and to move a row to another owner", async () => {
    const { rows } = await fixture.pool.query<{ user_pk: string }>(
      `SELECT user_pk FROM sync.user_state WHERE user_id = 'bob'`,
    );
    await committedInBundle('bob', rows[0].user_pk, `INSERT INTO business.files (id) VALUES ('bobs')`);
    await committedInBundle('alice', userPk, `INSERT INTO business.files (id) VALUES ('alices')`);

    const attempt = (sql: string) => inBundle('alice', (client) => client.query(sql));
    await expect(attempt(`UPDATE business.files SET data = '\\x01' WHERE id = 'bobs'`)).rejects.toMatchObject({
      message: 'scope mismatch on registered table business.files: actor alice cannot update owner bob',
    });
    await expect(attempt(`DELETE FROM business.files WHERE id = 'bobs'`)).rejects.toMatchObject({
      message: 'scope mismatch on registered table business.files: actor alice cannot delete owner bob',
    });
    await expect(attempt(`UPDATE business.files SET _sync_scope_id = 'bob' WHERE id = 'alices'`)).rejects.toMatchObject(
      {
        message: 'scope mutation is not allowed on registered table business.files',
      },
    );
  });

  it('requires the user_pk of the bundle context in the capture trigger', async () => {
    const error = await rejectionOf(
      inBundle('alice', (client) => client.query(`INSERT INTO business.files (id) VALUES ('a')`), null),
    );
    expect(error).toMatchObject({
      code: 'P0001',
      message: 'oversync bundle context is missing user_pk for business.files',
    });
  });

  it('refuses TRUNCATE of a registered table, with or without bundle context (spec §8.14)', async () => {
    const message = 'truncate of registered table business.users is not allowed; delete rows through a sync bundle';
    await expect(fixture.pool.query('TRUNCATE business.users CASCADE')).rejects.toMatchObject({
      code: 'P0001',
      message,
    });
    await expect(inBundle('alice', (client) => client.query('TRUNCATE business.files'))).rejects.toMatchObject({
      message: 'truncate of registered table business.files is not allowed; delete rows through a sync bundle',
    });
    await expect(fixture.pool.query('TRUNCATE business.posts')).rejects.toMatchObject({
      message: 'truncate of registered table business.posts is not allowed; delete rows through a sync bundle',
    });
    expect(await rejectedWrites()).toBe(3);
  });

  it('replaces the trigger functions of an existing layout at bootstrap (spec §8.13)', async () => {
    await fixture.pool.query(`CREATE OR REPLACE FUNCTION sync.enforce_registered_row_owner() RETURNS TRIGGER
      LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END; $$`);
    await fixture.pool.query(`INSERT INTO business.users (id) VALUES ($1)`, [USER_A]);
    expect((await fixture.pool.query('SELECT count(*)::int AS count FROM business.users')).rows).toEqual([
      { count: 0 },
    ]);

    await bootstrapSyncSchema(fixture.db, BUSINESS_TABLES);
    await expect(fixture.pool.query(`INSERT INTO business.users (id) VALUES ($1)`, [USER_A])).rejects.toMatchObject({
      message: 'write to registered table business.users requires oversync sync bundle context',
    });
  });
});
