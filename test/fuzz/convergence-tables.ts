/**
 * The example business tables as the convergence fuzz sees them: which column carries a write's
 * token, which columns are foreign keys, and how a row is rendered comparably from SQLite (device)
 * and from PostgreSQL (server).
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { TableName } from './convergence-model.js';

export type ColumnKind = 'uuid' | 'blob_uuid' | 'text' | 'bytes' | 'timestamp' | 'integer' | 'real';

export interface TableSpec {
  readonly name: TableName;
  /** id stored as a 16-byte BLOB locally (UUID on the server) */
  readonly blobKey: boolean;
  /** the text column every write of the fuzz stamps with a unique token */
  readonly tokenColumn: string;
  /** FK column → parent table */
  readonly foreignKeys: Readonly<Record<string, TableName>>;
  readonly columns: readonly (readonly [string, ColumnKind])[];
}

export const TABLES: Readonly<Record<TableName, TableSpec>> = {
  users: {
    name: 'users',
    blobKey: false,
    tokenColumn: 'name',
    foreignKeys: {},
    columns: [
      ['id', 'uuid'],
      ['name', 'text'],
      ['email', 'text'],
      ['created_at', 'timestamp'],
      ['updated_at', 'timestamp'],
    ],
  },
  posts: {
    name: 'posts',
    blobKey: false,
    tokenColumn: 'title',
    foreignKeys: { author_id: 'users' },
    columns: [
      ['id', 'uuid'],
      ['title', 'text'],
      ['content', 'text'],
      ['author_id', 'uuid'],
      ['created_at', 'timestamp'],
      ['updated_at', 'timestamp'],
    ],
  },
  categories: {
    name: 'categories',
    blobKey: false,
    tokenColumn: 'name',
    foreignKeys: { parent_id: 'categories' },
    columns: [
      ['id', 'uuid'],
      ['name', 'text'],
      ['parent_id', 'uuid'],
    ],
  },
  teams: {
    name: 'teams',
    blobKey: false,
    tokenColumn: 'name',
    foreignKeys: { captain_member_id: 'team_members' },
    columns: [
      ['id', 'uuid'],
      ['name', 'text'],
      ['captain_member_id', 'uuid'],
    ],
  },
  team_members: {
    name: 'team_members',
    blobKey: false,
    tokenColumn: 'name',
    foreignKeys: { team_id: 'teams' },
    columns: [
      ['id', 'uuid'],
      ['name', 'text'],
      ['team_id', 'uuid'],
    ],
  },
  files: {
    name: 'files',
    blobKey: true,
    tokenColumn: 'name',
    foreignKeys: {},
    columns: [
      ['id', 'blob_uuid'],
      ['name', 'text'],
      ['data', 'bytes'],
    ],
  },
  file_reviews: {
    name: 'file_reviews',
    blobKey: true,
    tokenColumn: 'review',
    foreignKeys: { file_id: 'files' },
    columns: [
      ['id', 'blob_uuid'],
      ['review', 'text'],
      ['file_id', 'blob_uuid'],
    ],
  },
  typed_rows: {
    name: 'typed_rows',
    blobKey: false,
    tokenColumn: 'name',
    foreignKeys: {},
    columns: [
      ['id', 'uuid'],
      ['name', 'text'],
      ['note', 'text'],
      ['count_value', 'integer'],
      ['enabled_flag', 'integer'],
      ['rating', 'real'],
      ['data', 'bytes'],
      ['created_at', 'timestamp'],
    ],
  },
};

/** Tokens look like `k<seed>.<run>.<n>`; the column may carry more text after a `|`. */
export function tokenOf(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const bar = value.indexOf('|');
  const token = bar < 0 ? value : value.slice(0, bar);
  return token.startsWith('k') ? token : null;
}

export function uuidFromHex(hex: string): string {
  const h = hex.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function uuidToBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

/** The id a table's key has in SQL parameters on the device. */
export function localKeyParam(table: TableName, id: string): string | Buffer {
  return TABLES[table].blobKey ? uuidToBytes(id) : id;
}

/** Comparable text of one value ('∅' for NULL). */
function normalize(kind: ColumnKind, value: unknown): string {
  if (value === null || value === undefined) return '∅';
  switch (kind) {
    case 'uuid':
      return String(value).toLowerCase();
    case 'blob_uuid':
      return Buffer.isBuffer(value) ? uuidFromHex(value.toString('hex')) : String(value).toLowerCase();
    case 'bytes':
      return Buffer.isBuffer(value) ? value.toString('hex') : String(value).toLowerCase();
    case 'timestamp': {
      const ms = Date.parse(String(value));
      return Number.isNaN(ms) ? `invalid:${String(value)}` : new Date(ms).toISOString();
    }
    case 'integer':
      if (typeof value === 'bigint') return value.toString();
      if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value).toString() : `real:${value}`;
      return typeof value === 'string' && /^-?\d+$/.test(value) ? BigInt(value).toString() : `text:${String(value)}`;
    case 'real':
      return typeof value === 'bigint' ? Number(value).toString() : String(Number(value));
    case 'text':
      return typeof value === 'string' ? value : `${typeof value}:${String(value)}`;
  }
}

export type NormalizedRow = Record<string, string>;

function normalizeRow(spec: TableSpec, raw: Record<string, unknown>): NormalizedRow {
  const row: NormalizedRow = {};
  for (const [column, kind] of spec.columns) row[column] = normalize(kind, raw[column]);
  return row;
}

const byId = (a: NormalizedRow, b: NormalizedRow) => (a.id! < b.id! ? -1 : a.id! > b.id! ? 1 : 0);

/** Every row of a table on a device, normalized, ordered by id. */
export function deviceRows(db: Database.Database, table: TableName): NormalizedRow[] {
  const spec = TABLES[table];
  const rows = db
    .prepare(`SELECT ${spec.columns.map(([c]) => `"${c}"`).join(', ')} FROM "${table}"`)
    .safeIntegers(true)
    .all() as Record<string, unknown>[];
  return rows.map((r) => normalizeRow(spec, r)).sort(byId);
}

/** Every row of a table for one user on the server, normalized, ordered by id. */
export async function serverRows(client: pg.Client, user: string, table: TableName): Promise<NormalizedRow[]> {
  const spec = TABLES[table];
  const select = spec.columns
    .map(([column, kind]) => {
      switch (kind) {
        case 'uuid':
        case 'blob_uuid':
        case 'integer':
          return `"${column}"::text AS "${column}"`;
        case 'bytes':
          return `encode("${column}", 'hex') AS "${column}"`;
        case 'timestamp':
          return `to_json("${column}") #>> '{}' AS "${column}"`;
        case 'real':
          return `"${column}"::float8 AS "${column}"`;
        case 'text':
          return `"${column}"`;
      }
    })
    .join(', ');
  const result = await client.query(`SELECT ${select} FROM business."${table}" WHERE _sync_scope_id = $1`, [user]);
  return (result.rows as Record<string, unknown>[]).map((r) => normalizeRow(spec, r)).sort(byId);
}
