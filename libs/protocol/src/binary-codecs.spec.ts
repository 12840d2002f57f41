import { describe, expect, it } from '@jest/globals';
import {
  byteaTextToWireBase64,
  decodeBase64,
  decodeByteaText,
  decodeCanonicalBase64,
  decodeHex,
  decodeWireBlob,
  encodeBase64,
  encodeByteaHex,
  encodeHex,
  pushByteaToApplyText,
} from './binary-codecs.js';

const bytes = (...values: number[]) => Uint8Array.from(values);

describe('decodeBase64 (Go base64.StdEncoding.DecodeString)', () => {
  it.each([
    ['', []],
    ['AAEC/f7/', [0, 1, 2, 0xfd, 0xfe, 0xff]],
    ['/9j/4A==', [0xff, 0xd8, 0xff, 0xe0]],
    ['AA==', [0]],
    ['AAA=', [0, 0]],
    ['AB==', [0]],
    ['AAE\r\nC/f7/\n', [0, 1, 2, 0xfd, 0xfe, 0xff]],
    ['AA=\n=', [0]],
  ])('accepts %j', (text, expected) => {
    expect(decodeBase64(text)).toEqual(Uint8Array.from(expected));
  });

  it.each(['A', 'AA', 'AAA', 'AA=', 'A===', '====', 'AA==AA==', 'AA== ', ' AA==', 'AA-_', 'AAAA=', 'é', 'AA\t=='])('rejects %j', (text) => {
    expect(decodeBase64(text)).toBeUndefined();
  });
});

describe('canonical base64 and wire blobs', () => {
  it('encodes standard padded base64', () => {
    expect(encodeBase64(bytes(0, 1, 2, 0xfd, 0xfe, 0xff))).toBe('AAEC/f7/');
    expect(encodeBase64(bytes(0xff, 0xd8, 0xff, 0xe0))).toBe('/9j/4A==');
  });

  it('accepts only text that re-encodes identically', () => {
    expect(decodeCanonicalBase64('AA==')).toEqual(bytes(0));
    expect(decodeCanonicalBase64('AB==')).toBeUndefined();
    expect(decodeCanonicalBase64('AA\n==')).toBeUndefined();
  });

  it('decodes wire blobs strictly, "" being empty', () => {
    expect(decodeWireBlob('')).toEqual(new Uint8Array(0));
    expect(decodeWireBlob('/9j/4A==')).toEqual(bytes(0xff, 0xd8, 0xff, 0xe0));
    expect(decodeWireBlob('cafebabe')).toEqual(Uint8Array.from(Buffer.from('cafebabe', 'base64')));
    expect(decodeWireBlob('ffd8ffe0x')).toBeUndefined();
  });
});

describe('hex and bytea text', () => {
  it('decodes Go hex of either case, even length only', () => {
    expect(decodeHex('00FfaB')).toEqual(bytes(0, 0xff, 0xab));
    expect(decodeHex('')).toEqual(bytes());
    expect(decodeHex('abc')).toBeUndefined();
    expect(decodeHex('zz')).toBeUndefined();
    expect(encodeHex(bytes(0, 0xff, 0xab))).toBe('00ffab');
  });

  it('converts push base64 to PostgreSQL \\x hex (§4.2.2 step 16)', () => {
    expect(pushByteaToApplyText('AAEC/f7/')).toBe('\\x000102fdfeff');
    expect(pushByteaToApplyText('')).toBe('\\x');
    expect(pushByteaToApplyText('not base64')).toBeUndefined();
    expect(encodeByteaHex(bytes())).toBe('\\x');
  });

  it('converts stored bytea text (hex or base64) to wire base64 (§4.7.4)', () => {
    expect(byteaTextToWireBase64('\\x000102fdfeff')).toBe('AAEC/f7/');
    expect(byteaTextToWireBase64('\\X000102FDFEFF')).toBe('AAEC/f7/');
    expect(byteaTextToWireBase64('AAEC/f7/')).toBe('AAEC/f7/');
    expect(byteaTextToWireBase64('\\x0')).toBeUndefined();
    expect(decodeByteaText('\\x')).toEqual(bytes());
  });
});
