import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { pushCreateStatement } from '../../libs/oversync/dist/push/push-session.service.js';
import type { RegisteredTable } from '../../libs/oversync/src/schema/registered-table.js';

export interface CatalogTable {
  table_id: number;
  schema_name: string;
  table_name: string;
  k: string;
  kind: number;
}

/**
 * The sync catalog as the SQL probes call the request functions with it: its tables, and the pull's
 * three table-prefix arrays (ids, `{"schema":…,"table":…,"key":{"<key>":` texts, key kinds).
 */
export async function readSyncCatalog(client: pg.Client): Promise<{ tables: CatalogTable[]; pullPrefixes: unknown[] }> {
  const { rows: tables } = await client.query<CatalogTable>(
    `SELECT table_id, schema_name, table_name, sync_key_column AS k, sync_key_kind AS kind FROM sync.table_catalog
      ORDER BY table_id`,
  );
  const pullPrefixes = [
    tables.map((t) => t.table_id),
    tables.map((t) => `{"schema":"${t.schema_name}","table":"${t.table_name}","key":{"${t.k}":`),
    tables.map((t) => t.kind),
  ];
  return { tables, pullPrefixes };
}

export interface ProbeStatement {
  text: string;
  values: unknown[];
}

/**
 * The push of one bundle of `rows` new users as the server sends it (create, chunk, commit), then the pull
 * of it on source 'b'. `chunkArity`: `push_chunk`'s argument count in the build called (13 before #22's
 * insert shape, 14 after).
 */
export function probeRoundTrip(options: {
  user: string;
  tableId: number;
  sourceBundleId: number;
  rows: number;
  chunkArity: number;
  pullPrefixes: unknown[];
  after: number;
}): { create: ProbeStatement; chunk: ProbeStatement; commit: ProbeStatement; pull: ProbeStatement } {
  const { user, tableId, sourceBundleId, rows, chunkArity } = options;
  const pushId = randomUUID();
  const now = new Date().toISOString();
  const ids = Array.from({ length: rows }, () => randomUUID());
  const payloads = ids.map(
    (id, i) =>
      `{"created_at":"${now}","email":"u${sourceBundleId}-${i}@example.com","id":"${id}","name":"User ` +
      `${sourceBundleId} ${i}","updated_at":"${now}"}`,
  );
  const create = pushCreateStatement({
    userId: user,
    sourceId: 'a',
    sourceBundleId: BigInt(sourceBundleId),
    plannedRowCount: BigInt(rows),
    initializationId: '',
    pushId,
    sessionTtlMs: 60000,
    leaseTtlMs: 60000,
    lockTimeoutMs: 5000,
    uploadLockTimeoutMs: 0,
  });
  const call = (name: string, values: unknown[]): ProbeStatement => ({
    text: `SELECT * FROM sync.${name}(${values.map((_, i) => `$${i + 1}`).join(', ')})`,
    values,
  });
  return {
    create: { text: create.text, values: create.values! },
    chunk: call('push_chunk', [
      ...[pushId, user, 'a', 0, ids.map(() => tableId), ids.map((id) => id.replaceAll('-', ''))],
      ...[ids.map(() => 1), ids.map(() => 0), payloads.join('\n'), 60000, 60000, 5000, 0],
      // the insert shape the server's chunk parser gives these rows (table id and sorted member list)
      ...(chunkArity > 13 ? [`${tableId} created_at,email,id,name,updated_at`] : []),
    ]),
    commit: call('push_commit', [pushId, user, 'a', 999, [], 'oversync_probe', 1000, 100, 60000, 5000, 0, null]),
    pull: call('pull', [user, 'b', options.after, 0, 1000, ...options.pullPrefixes, 1000]),
  };
}

/** `push_chunk`'s argument count in the database `client` is connected to. */
export async function pushChunkArity(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT max(pronargs)::int AS n FROM pg_proc WHERE proname = 'push_chunk'`,
  );
  return rows[0]!.n;
}

/** `business.users` as the module registers it, read from the build's database (the bulk probes' table). */
export async function readUsersTable(client: pg.Client): Promise<RegisteredTable> {
  const { rows: columns } = await client.query<{ column_name: string; udt_name: string }>(
    `SELECT column_name, udt_name FROM information_schema.columns
      WHERE table_schema = 'business' AND table_name = 'users'`,
  );
  const { rows: ids } = await client.query<{ table_id: number }>(
    `SELECT table_id FROM sync.table_catalog WHERE schema_name = 'business' AND table_name = 'users'`,
  );
  return {
    tableId: ids[0]!.table_id,
    schema: 'business',
    table: 'users',
    name: 'business.users',
    keyColumn: 'id',
    keyKind: 1,
    columnTypes: new Map(columns.map((c) => [c.column_name, c.udt_name])),
  };
}

/**
 * A push session of `rows` staged INSERTs of business.users under new keys, for the bulk-commit probes: the
 * rows of the first bundle of the first user in the database (a database after push-probe.ts).
 */
export async function stageProbeSession(client: pg.Client, rows: number) {
  const users = await readUsersTable(client);
  const { rows: owners } = await client.query<{ user_pk: string; user_id: string }>(
    'SELECT user_pk::text, user_id FROM sync.user_state ORDER BY user_pk LIMIT 1',
  );
  const { user_pk: userPk, user_id: userId } = owners[0]!;
  const pushId = randomUUID();
  await client.query(
    `INSERT INTO sync.push_sessions (push_id, user_pk, source_id, source_bundle_id, planned_row_count,
       next_expected_row_ordinal, expires_at) VALUES ($1, $2, 'probe', 999999, $3, $3, now() + interval '1 hour')`,
    [pushId, userPk, rows],
  );
  await client.query(
    `INSERT INTO sync.push_session_rows (push_id, row_ordinal, table_id, key_bytes, op_code, base_bundle_seq,
       payload_apply)
     SELECT $1, s.row_ordinal, $2, uuid_send(s.id), 1, 0, (s.p || jsonb_build_object('id', s.id))::text::json
       FROM (SELECT row_ordinal - 1 AS row_ordinal, gen_random_uuid() AS id, payload_wire::jsonb AS p
               FROM sync.bundle_rows WHERE bundle_seq = 1 AND user_pk = $3 ORDER BY row_ordinal LIMIT $4) s`,
    [pushId, users.tableId, userPk, rows],
  );
  return { users, userPk, userId, pushId };
}
