// Row keys and payload values between PostgreSQL / SQLite and the wire (spec/server.md §1.3, §4.7;
// client.md §9). Bytes live in binary-codecs.ts, UUID spellings in uuid-codecs.ts.
import { encodeHex } from './binary-codecs.js';
import { INT64_MAX, INT64_MIN } from './limits.js';
import { decodeCanonicalWireUuid, formatUuid, parseCanonicalUuid } from './uuid-codecs.js';
import type { JsonValue, WireKey } from './wire-types.js';

// ---------------------------------------------------------------- keys (§1.3, §4.7.2)

/** Server sync-key kinds (`udt_name`); codes in `KEY_KIND_CODES`. */
export type KeyKind = 'uuid' | 'text';

/**
 * Wire key string → `key_bytes`: uuid = the 16 raw bytes (canonical text required, see
 * `isCanonicalUuid`), text = its UTF-8 bytes. Throws `RangeError` for a non-canonical uuid.
 */
export function encodeKeyBytes(kind: KeyKind, keyString: string): Uint8Array {
  if (kind === 'text') return Buffer.from(keyString, 'utf8');
  const bytes = parseCanonicalUuid(keyString);
  if (bytes === undefined) throw new RangeError(`not a canonical uuid key: ${keyString}`);
  return bytes;
}

/** `key_bytes` → wire key string (uuid requires exactly 16 bytes, else `RangeError`). */
export function decodeKeyBytes(kind: KeyKind, keyBytes: Uint8Array): string {
  return kind === 'uuid' ? formatUuid(keyBytes) : Buffer.from(keyBytes.buffer, keyBytes.byteOffset, keyBytes.byteLength).toString('utf8');
}

/** The wire key object `{"<column>": "<key string>"}`. */
export function wireKey(column: string, keyString: string): WireKey {
  return Object.fromEntries([[column, keyString]]) as WireKey;
}

/**
 * The client's local key string for a wire key string (client.md §2.2, §9.3): text keys unchanged,
 * UUID-backed BLOB keys as 32 lower-case hex digits (strict wire decoding, any hex case).
 * `undefined` when a BLOB key is not a canonical wire UUID.
 */
export function wireKeyToLocalKey(keyString: string, blobKey: boolean): string | undefined {
  if (!blobKey) return keyString;
  const bytes = decodeCanonicalWireUuid(keyString);
  return bytes === undefined ? undefined : encodeHex(bytes);
}

// ---------------------------------------------------------------- numbers (§4.7.3)

/**
 * An int64 (bigint, PostgreSQL int8 text, or number) as a wire JSON number: Go's
 * `float64(int64)` rounding (nearest, ties to even), which every canonical payload and the bundle
 * hash go through — `9007199254740993` → `9007199254740992`. Throws `RangeError` outside int64.
 */
export function int64ToJsonNumber(value: bigint | string | number): number {
  const exact = typeof value === 'bigint' ? value : BigInt(value);
  if (exact < INT64_MIN || exact > INT64_MAX) throw new RangeError(`${value} is outside int64`);
  return Number(exact);
}

/** A JSON number as an exact int64, or `undefined` if it has a fraction or is outside int64. */
export function jsonNumberToInt64(value: number): bigint | undefined {
  if (!Number.isInteger(value)) return undefined;
  const exact = BigInt(value);
  return exact < INT64_MIN || exact > INT64_MAX ? undefined : exact;
}

/**
 * PostgreSQL `numeric`/`float` output text → wire JSON value (what `to_jsonb` + canonicalisation
 * produce): `NaN`, `Infinity`, `-Infinity` become those strings, everything else the nearest
 * double (`1234.500` → 1234.5). Throws `RangeError` beyond double range (the reference's 500).
 */
export function pgNumericTextToJson(text: string): number | string {
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return text;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new RangeError(`numeric ${text} is outside float64`);
  return value;
}

// ---------------------------------------------------------------- timestamps (§3.0.4, client.md §9.6)

const NANOS_PER_SECOND = 1_000_000_000n;

/**
 * Go `time.RFC3339Nano` in UTC: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, fraction without trailing
 * zeros (up to 9 digits). Takes a `Date` (millisecond precision) or epoch nanoseconds.
 */
export function formatRfc3339Nano(time: Date | bigint): string {
  const epochNanos = typeof time === 'bigint' ? time : BigInt(time.getTime()) * 1_000_000n;
  const nanos = ((epochNanos % NANOS_PER_SECOND) + NANOS_PER_SECOND) % NANOS_PER_SECOND;
  const date = new Date(Number((epochNanos - nanos) / NANOS_PER_SECOND) * 1000);
  const year = date.getUTCFullYear();
  if (!(year >= 0 && year <= 9999)) throw new RangeError(`${String(time)} is outside RFC 3339 years`);
  const fraction = nanos === 0n ? '' : '.' + nanos.toString().padStart(9, '0').replace(/0+$/, '');
  return date.toISOString().slice(0, 19) + fraction + 'Z';
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/**
 * Epoch nanoseconds of a timestamp as Go's `time.Parse(time.RFC3339Nano, …)` reads it, including
 * what its general-layout fallback tolerates: 1-digit hour, `,` before the fraction, zone offsets
 * up to `±24:60`. Upper-case `T`/`Z` only; fraction truncated to 9 digits; calendar fields are
 * range-checked. `undefined` when Go would fail. Used for replay equivalence (client.md §9.6).
 */
export function parseRfc3339Nanos(text: string): bigint | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const [offsetHours, offsetMins] = [Number(m[10]), Number(m[11])];
    if (offsetHours > 24 || offsetMins > 60) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const fraction = BigInt((m[7] ?? '').slice(0, 9).padEnd(9, '0'));
  return (BigInt(date.getTime()) - BigInt(offsetMinutes) * 60_000n) * 1_000_000n + fraction;
}

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * The client's `replayEquivalentJson` (client.md §9.6): same structure, equal booleans/nulls/
 * numbers, same member sets, arrays element-wise, strings equal or both RFC 3339 instants that are
 * the same nanosecond.
 */
export function replayEquivalentJson(a: JsonValue, b: JsonValue): boolean {
  if (typeof a === 'string' && typeof b === 'string') {
    if (a === b) return true;
    const [x, y] = [parseRfc3339Nanos(a), parseRfc3339Nanos(b)];
    return x !== undefined && x === y;
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => replayEquivalentJson(item, b[i]));
  }
  const names = Object.keys(a);
  if (names.length !== Object.keys(b).length) return false;
  return names.every((name) => Object.hasOwn(b, name) && replayEquivalentJson(a[name], b[name]));
}

// ---------------------------------------------------------------- SQLite binding (client.md §9.4)

/** What better-sqlite3 binds: `number` as REAL (like the Go driver's float64), `bigint` as INTEGER. */
export type SqliteBindValue = null | number | bigint | string | Uint8Array;

/** The wire value cannot be bound to SQLite (a JSON object or array). */
export class SqliteBindError extends TypeError {
  constructor(readonly value: JsonValue) {
    super(`cannot bind a JSON ${Array.isArray(value) ? 'array' : 'object'} to a SQLite column`);
    this.name = 'SqliteBindError';
  }
}

/**
 * Binding for a non-BLOB wire value, reproducing the Go client's stored values: numbers bound as
 * doubles (SQLite affinity then stores `42` in INTEGER columns, `42.0` in TEXT columns), booleans
 * as INTEGER 1/0, strings as text, null as NULL; objects/arrays throw `SqliteBindError`.
 * `integralAsInteger` binds integral numbers within ±2^53 as INTEGER instead (then TEXT columns
 * store `42`, not the reference's `42.0`).
 */
export function wireValueToSqlite(value: JsonValue, options: { integralAsInteger?: boolean } = {}): SqliteBindValue {
  if (value === null || typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 1n : 0n;
  if (typeof value === 'number') {
    return options.integralAsInteger === true && Number.isSafeInteger(value) ? BigInt(value) : value;
  }
  throw new SqliteBindError(value);
}
