import { describe, expect, it } from '@jest/globals';
import {
  decodeKeyBytes,
  encodeKeyBytes,
  formatRfc3339Nano,
  int64ToJsonNumber,
  jsonNumberToInt64,
  parseRfc3339Nanos,
  pgNumericTextToJson,
  replayEquivalentJson,
  SqliteBindError,
  wireKey,
  wireKeyToLocalKey,
  wireValueToSqlite,
} from './value-codecs.js';

const id = '6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b';

describe('keys (§1.3, §4.7.2)', () => {
  it('maps uuid keys to their 16 bytes and text keys to UTF-8', () => {
    expect(Buffer.from(encodeKeyBytes('uuid', id)).toString('hex')).toBe('6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b');
    expect(decodeKeyBytes('uuid', encodeKeyBytes('uuid', id))).toBe(id);
    expect(Buffer.from(encodeKeyBytes('text', 'n-é')).toString('hex')).toBe('6e2dc3a9');
    expect(decodeKeyBytes('text', encodeKeyBytes('text', ''))).toBe('');
  });

  it('refuses non-canonical uuid keys and wrong byte counts', () => {
    expect(() => encodeKeyBytes('uuid', id.toUpperCase())).toThrow(RangeError);
    expect(() => decodeKeyBytes('uuid', new Uint8Array(17))).toThrow(RangeError);
  });

  it('builds wire keys and local keys', () => {
    expect(wireKey('__proto__', 'x')).toEqual(JSON.parse('{"__proto__":"x"}'));
    expect(Object.keys(wireKey('id', id))).toEqual(['id']);
    expect(wireKeyToLocalKey(id.toUpperCase(), true)).toBe('6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b');
    expect(wireKeyToLocalKey('typed-null', true)).toBeUndefined();
    expect(wireKeyToLocalKey('typed-null', false)).toBe('typed-null');
  });
});

describe('numbers (§4.7.3)', () => {
  it('rounds int64 values through float64 like the reference', () => {
    expect(int64ToJsonNumber('9007199254740993')).toBe(9007199254740992);
    expect(int64ToJsonNumber(9223372036854775807n)).toBe(2 ** 63);
    expect(() => int64ToJsonNumber(2n ** 63n)).toThrow(RangeError);
  });

  it('reads JSON numbers back as exact int64 only when integral and in range', () => {
    expect(jsonNumberToInt64(9007199254740992)).toBe(9007199254740992n);
    expect(jsonNumberToInt64(-0)).toBe(0n);
    expect(jsonNumberToInt64(1.5)).toBeUndefined();
    expect(jsonNumberToInt64(2 ** 63)).toBeUndefined();
  });

  it('converts PostgreSQL numeric text like to_jsonb plus canonicalisation', () => {
    expect(pgNumericTextToJson('1234.500')).toBe(1234.5);
    expect(pgNumericTextToJson('1000000000000000000000')).toBe(1e21);
    expect(pgNumericTextToJson('NaN')).toBe('NaN');
    expect(pgNumericTextToJson('-Infinity')).toBe('-Infinity');
    expect(() => pgNumericTextToJson('1e400')).toThrow(RangeError);
  });
});

describe('timestamps (§3.0.4, client.md §9.6)', () => {
  it('formats RFC3339Nano UTC with trailing fraction zeros removed', () => {
    expect(formatRfc3339Nano(1774181700123456789n)).toBe('2026-03-22T12:15:00.123456789Z');
    expect(formatRfc3339Nano(1774181700123456000n)).toBe('2026-03-22T12:15:00.123456Z');
    expect(formatRfc3339Nano(new Date('2026-03-22T12:15:00.000Z'))).toBe('2026-03-22T12:15:00Z');
    expect(formatRfc3339Nano(-1n)).toBe('1969-12-31T23:59:59.999999999Z');
  });

  it('parses RFC 3339 instants to nanoseconds', () => {
    expect(parseRfc3339Nanos('2026-03-22T12:15:00.123456789Z')).toBe(1774181700123456789n);
    expect(parseRfc3339Nanos('2026-03-22T14:15:00.1234567891+02:00')).toBe(1774181700123456789n);
    expect(parseRfc3339Nanos('2026-03-24 18:42:11')).toBeUndefined();
    expect(parseRfc3339Nanos('2023-02-29T00:00:00Z')).toBeUndefined();
  });

  it('treats equal instants as replay-equivalent', () => {
    expect(replayEquivalentJson({ at: '2026-03-24T18:42:11Z', n: 1 }, { n: 1.0, at: '2026-03-24T20:42:11+02:00' })).toBe(true);
    expect(replayEquivalentJson({ at: '2026-03-24 18:42:11' }, { at: '2026-03-24T18:42:11+00:00' })).toBe(false);
    expect(replayEquivalentJson([1, [null, true]], [1, [null, true]])).toBe(true);
    expect(replayEquivalentJson({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(replayEquivalentJson({ a: null }, { b: null })).toBe(false);
    expect(replayEquivalentJson([], {})).toBe(false);
  });
});

describe('wireValueToSqlite (client.md §9.4)', () => {
  it('binds like the Go driver: numbers as REAL, booleans as INTEGER 1/0', () => {
    expect(wireValueToSqlite(42)).toBe(42);
    expect(wireValueToSqlite(true)).toBe(1n);
    expect(wireValueToSqlite(false)).toBe(0n);
    expect(wireValueToSqlite(null)).toBeNull();
    expect(wireValueToSqlite('x')).toBe('x');
    expect(wireValueToSqlite(42, { integralAsInteger: true })).toBe(42n);
    expect(wireValueToSqlite(2 ** 60, { integralAsInteger: true })).toBe(2 ** 60);
  });

  it('cannot bind objects or arrays', () => {
    expect(() => wireValueToSqlite({ a: 1 })).toThrow(SqliteBindError);
    expect(() => wireValueToSqlite([1])).toThrow(SqliteBindError);
  });
});
