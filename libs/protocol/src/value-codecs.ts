// Row keys between PostgreSQL and the wire (spec/server.md §1.3, §4.7) and Go's RFC3339Nano
// timestamps. Bytes live in binary-codecs.ts, UUID spellings in uuid-codecs.ts.
import { formatUuid, parseCanonicalUuid } from './uuid-codecs.js';
import type { WireKey } from './wire-types.js';

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
  return kind === 'uuid'
    ? formatUuid(keyBytes)
    : Buffer.from(keyBytes.buffer, keyBytes.byteOffset, keyBytes.byteLength).toString('utf8');
}

/** The wire key object `{"<column>": "<key string>"}`. */
export function wireKey(column: string, keyString: string): WireKey {
  return Object.fromEntries([[column, keyString]]) as WireKey;
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
 * range-checked. `undefined` when Go would fail.
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
