import { describe, expect, it } from '@jest/globals';
import { encodeHex } from './binary-codecs.js';
import {
  decodeCanonicalWireUuid,
  decodeUuidLenient,
  formatUuid,
  isCanonicalUuid,
  parseCanonicalUuid,
  parseGoUuid,
} from './uuid-codecs.js';

const id = '6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b';
const hex = '6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b';
const hexOf = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : encodeHex(bytes));

describe('canonical UUID text', () => {
  it('round-trips 16 bytes', () => {
    expect(formatUuid(Buffer.from(hex, 'hex'))).toBe(id);
    expect(hexOf(parseCanonicalUuid(id))).toBe(hex);
    expect(() => formatUuid(new Uint8Array(15))).toThrow(RangeError);
  });

  it.each([
    [id, true],
    [id.toUpperCase(), false],
    [`{${id}}`, false],
    [hex, false],
    [` ${id}`, false],
    ['00000000-0000-0000-0000-000000000000', true],
  ])('isCanonicalUuid(%j) = %s', (text, expected) => {
    expect(isCanonicalUuid(text)).toBe(expected);
  });
});

describe('parseGoUuid (google/uuid Parse, push ids)', () => {
  it.each([id, id.toUpperCase(), `{${id}}`, `(${id}]`, `urn:uuid:${id}`, `URN:UUID:${id}`, hex])(
    'accepts %j',
    (text) => {
      expect(hexOf(parseGoUuid(text))).toBe(hex);
    },
  );

  it.each([` ${id}`, `${id}x`, `urn:uuix:${id}`, `é${id}}`, id.replace('-', '_'), `${hex}0`, ''])(
    'rejects %j',
    (text) => {
      expect(parseGoUuid(text)).toBeUndefined();
    },
  );
});

describe('client UUID decoding (client.md §9.3, §9.4)', () => {
  it('strict wire decoding accepts any hex case but only the dashed 36-character form', () => {
    expect(hexOf(decodeCanonicalWireUuid(id.toUpperCase()))).toBe(hex);
    for (const text of [hex, `{${id}}`, `urn:uuid:${id}`, ` ${id}`, 'bxwqnjtNTl+Kexwtpk9aaw==']) {
      expect(decodeCanonicalWireUuid(text)).toBeUndefined();
    }
  });

  it('lenient local decoding accepts UUID forms, base64 and hex of 16 bytes', () => {
    const base64 = Buffer.from(hex, 'hex').toString('base64');
    for (const text of [id, hex, `{${id}}`, base64, ` ${hex} `]) {
      expect(hexOf(decodeUuidLenient(text))).toBe(hex);
    }
    expect(decodeUuidLenient('AAAA')).toBeUndefined();
    expect(decodeUuidLenient('abcd')).toBeUndefined();
  });
});
