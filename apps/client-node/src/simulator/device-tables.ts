/**
 * A device's managed tables in a canonical form, so two devices (or a device and a server snapshot
 * hydrated into a probe device) compare equal exactly when they hold the same data.
 */
import type { Database } from 'better-sqlite3';
import { EXAMPLE_TABLES } from '../example-schema.js';
import type { SyncTable } from '../config.js';
import { quoteIdent } from '../local-schema.js';

export type CanonicalValue = string | number | null;
export type CanonicalRow = Record<string, CanonicalValue>;
/** Table name → rows ordered by the canonical key. */
export type CanonicalTables = Record<string, CanonicalRow[]>;

const INSTANT = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}(?::?\d{2})?)$/i;

/**
 * RFC 3339 text as `YYYY-MM-DDTHH:MM:SS.ffffffZ` at the precision PostgreSQL keeps (microseconds,
 * rounded), or null when `text` is not an instant. Devices keep what they wrote (`…Z`, maybe with
 * nanoseconds) while pulled rows carry the server's rendering (`…+00:00`): both mean one instant.
 */
export function canonicalInstant(text: string): string | null {
  const match = INSTANT.exec(text.trim());
  if (!match) return null;
  const [, date, time, fraction = '', zone] = match;
  const offset =
    zone!.toUpperCase() === 'Z'
      ? 'Z'
      : zone!.length === 3
        ? `${zone}:00`
        : zone!.replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  const millis = Date.parse(`${date}T${time}${offset}`);
  if (Number.isNaN(millis)) return null;
  const digits = fraction.padEnd(7, '0');
  const micros = BigInt(millis) * 1000n + BigInt(digits.slice(0, 6)) + (Number(digits[6]) >= 5 ? 1n : 0n);
  const whole = micros / 1_000_000n;
  const iso = new Date(Number(whole) * 1000).toISOString().slice(0, 19);
  return `${iso}.${(micros % 1_000_000n).toString().padStart(6, '0')}Z`;
}

/** One SQLite value in canonical form: BLOBs as lower-case hex, integers as decimal text, instants normalised. */
export function canonicalValue(value: unknown): CanonicalValue {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value;
  if (typeof value === 'string') return canonicalInstant(value) ?? value;
  throw new TypeError(`unexpected SQLite value of type ${typeof value}`);
}

/** Every table's rows in canonical form (integers read exactly), ordered by the canonical key. */
export function canonicalTables(db: Database, tables: readonly SyncTable[] = EXAMPLE_TABLES): CanonicalTables {
  const result: CanonicalTables = {};
  for (const table of tables) {
    const key = table.syncKeyColumnName ?? 'id';
    const rows = db
      .prepare(`SELECT * FROM ${quoteIdent(table.tableName)}`)
      .safeIntegers(true)
      .all() as Record<string, unknown>[];
    result[table.tableName] = rows
      .map((row) => Object.fromEntries(Object.entries(row).map(([column, value]) => [column, canonicalValue(value)])))
      .sort((a, b) => (String(a[key]) < String(b[key]) ? -1 : String(a[key]) > String(b[key]) ? 1 : 0));
  }
  return result;
}

/** Row counts per table, for compact assertions and logs. */
export function tableCounts(tables: CanonicalTables): Record<string, number> {
  return Object.fromEntries(Object.entries(tables).map(([name, rows]) => [name, rows.length]));
}
