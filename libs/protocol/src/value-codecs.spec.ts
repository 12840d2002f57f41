import { describe, expect, it } from '@jest/globals';
import { decodeKeyBytes, encodeKeyBytes, formatRfc3339Nano, parseRfc3339Nanos, wireKey } from './value-codecs.js';

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

  it('builds wire keys', () => {
    expect(wireKey('__proto__', 'x')).toEqual(JSON.parse('{"__proto__":"x"}'));
    expect(Object.keys(wireKey('id', id))).toEqual(['id']);
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
});
