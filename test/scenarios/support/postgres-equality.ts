/**
 * The scenario suites' final check: a device's managed tables hold exactly the user's rows in
 * PostgreSQL (`… WHERE _sync_scope_id = $user`), for every registered table. Both sides are
 * normalised by the server column's type: uuid (TEXT or 16-byte BLOB key locally), bytea (BLOB),
 * timestamps (instants at µs), integers (exact, beyond 2^53 too), doubles, booleans.
 */
import { expect } from '@jest/globals';
import type pg from 'pg';
import { canonicalInstant } from '../../../apps/client-node/src/simulator/device-tables.js';
import type { SimulatedDevice } from '../../../apps/client-node/src/simulator/simulated-device.js';
import { formatUuid } from '../../client/client-devices.js';

type ColumnKind = 'uuid' | 'bytes' | 'instant' | 'integer' | 'float' | 'boolean' | 'text';
type Normalised = string | number | null;

interface ServerColumn {
  name: string;
  kind: ColumnKind;
}

const KIND_BY_UDT: Record<string, ColumnKind> = {
  uuid: 'uuid',
  bytea: 'bytes',
  timestamptz: 'instant',
  timestamp: 'instant',
  int2: 'integer',
  int4: 'integer',
  int8: 'integer',
  numeric: 'integer',
  float4: 'float',
  float8: 'float',
  bool: 'boolean',
};

/** SQL rendering a server column in the normal form. */
function serverExpression(column: ServerColumn): string {
  const name = `"${column.name}"`;
  switch (column.kind) {
    case 'uuid':
      return `${name}::text`;
    case 'bytes':
      return `encode(${name}, 'hex')`;
    case 'instant':
      return `to_char(${name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
    case 'integer':
      return `${name}::text`;
    case 'boolean':
      return `(CASE WHEN ${name} THEN '1' WHEN NOT ${name} THEN '0' END)`;
    default:
      return name;
  }
}

/** A SQLite value in the normal form of the server column it syncs with. */
function deviceValue(kind: ColumnKind, value: unknown): Normalised {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'uuid':
      return Buffer.isBuffer(value) ? formatUuid(value) : String(value).toLowerCase();
    case 'bytes':
      return Buffer.isBuffer(value) ? value.toString('hex') : `not a blob: ${String(value)}`;
    case 'instant':
      return canonicalInstant(String(value)) ?? `not an instant: ${String(value)}`;
    case 'integer':
    case 'boolean':
      return BigInt(value as bigint | number).toString();
    case 'float':
      return Number(value);
    default:
      return String(value);
  }
}

async function serverColumns(pgClient: pg.Client, schema: string, table: string): Promise<ServerColumn[]> {
  const result = await pgClient.query<{ column_name: string; udt_name: string }>(
    `SELECT column_name, udt_name FROM information_schema.columns
      WHERE table_schema = $1 AND table_name = $2 AND column_name <> '_sync_scope_id' ORDER BY ordinal_position`,
    [schema, table],
  );
  return result.rows.map((row) => ({ name: row.column_name, kind: KIND_BY_UDT[row.udt_name] ?? 'text' }));
}

const byKey = (key: string) => (a: Record<string, Normalised>, b: Record<string, Normalised>) =>
  String(a[key]) < String(b[key]) ? -1 : 1;

interface RegisteredTable {
  schema_name: string;
  table_name: string;
  table_id: number;
  key: string;
  key_kind: number;
}

async function registeredTables(pgClient: pg.Client): Promise<RegisteredTable[]> {
  const registered = await pgClient.query<RegisteredTable>(
    `SELECT schema_name, table_name, table_id, sync_key_column AS key, sync_key_kind AS key_kind FROM sync.table_catalog
      ORDER BY table_name`,
  );
  expect(registered.rows.length).toBeGreaterThan(0);
  return registered.rows;
}

/**
 * The server's own bookkeeping agrees with its business rows: for every registered table, the
 * user's live `sync.row_state` keys are exactly the keys of the user's rows.
 */
export async function expectRowStateMatchesRows(pgClient: pg.Client, user: string): Promise<void> {
  for (const {
    schema_name: schema,
    table_name: table,
    table_id: tableId,
    key,
    key_kind: keyKind,
  } of await registeredTables(pgClient)) {
    const keyBytes = keyKind === 1 ? `uuid_send("${key}"::uuid)` : `convert_to("${key}"::text, 'UTF8')`;
    const result = await pgClient.query<{ live: string[] | null; rows: string[] | null }>(
      `SELECT (SELECT array_agg(encode(rs.key_bytes, 'hex')) FROM sync.row_state rs JOIN sync.user_state us
        USING (user_pk)
                WHERE us.user_id = $1 AND rs.table_id = $2 AND NOT rs.deleted) AS live,
              (SELECT array_agg(encode(${keyBytes}, 'hex')) FROM "${schema}"."${table}" WHERE _sync_scope_id = $1)
                AS rows`,
      [user, tableId],
    );
    const { live, rows } = result.rows[0]!;
    expect({ user, table, liveRowStateKeys: (live ?? []).sort() }).toEqual({
      user,
      table,
      liveRowStateKeys: (rows ?? []).sort(),
    });
  }
}

/** Every registered table of the device's attached user (or `user`) equals PostgreSQL's rows. */
export async function expectDeviceMatchesPostgres(
  pgClient: pg.Client,
  device: SimulatedDevice,
  user: string = device.client.userId,
): Promise<void> {
  for (const { schema_name: schema, table_name: table, key } of await registeredTables(pgClient)) {
    const columns = await serverColumns(pgClient, schema, table);
    const expected = await pgClient.query<Record<string, Normalised>>(
      `SELECT ${columns.map((c) => `${serverExpression(c)} AS "${c.name}"`).join(', ')} FROM "${schema}"."${table}"
        WHERE _sync_scope_id = $1`,
      [user],
    );
    const local = device.db.prepare(`SELECT * FROM "${table}"`).safeIntegers(true).all() as Record<string, unknown>[];
    const actual = local.map((row) =>
      Object.fromEntries(columns.map((c) => [c.name, deviceValue(c.kind, row[c.name])])),
    );
    expect({ device: device.label, user, table, rows: actual.sort(byKey(key)) }).toEqual({
      device: device.label,
      user,
      table,
      rows: expected.rows.sort(byKey(key)),
    });
  }
}
