import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
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

  it.each(['A', 'AA', 'AAA', 'AA=', 'A===', '====', 'AA==AA==', 'AA== ', ' AA==', 'AA-_', 'AAAA=', 'é', 'AA\t=='])(
    'rejects %j',
    (text) => {
      expect(decodeBase64(text)).toBeUndefined();
    },
  );
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

/** Go's base64.StdEncoding decoder written out character by character: the oracle of the checked fast path. */
function decodeBase64Stepwise(text: string): number[] | undefined {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const out: number[] = [];
  let quantum: number[] = [];
  const emit = () => {
    const [a = 0, b = 0, c = 0, d = 0] = quantum;
    const bits = (a << 18) | (b << 12) | (c << 6) | d;
    out.push((bits >> 16) & 0xff);
    if (quantum.length > 2) out.push((bits >> 8) & 0xff);
    if (quantum.length > 3) out.push(bits & 0xff);
    quantum = [];
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\r' || ch === '\n') continue;
    if (ch === '=') {
      if (quantum.length < 2) return undefined;
      let j = i + 1;
      const skipBreaks = () => {
        while (text[j] === '\r' || text[j] === '\n') j++;
      };
      if (quantum.length === 2) {
        skipBreaks();
        if (text[j] !== '=') return undefined;
        j++;
      }
      skipBreaks();
      if (j < text.length) return undefined;
      emit();
      return out;
    }
    const value = alphabet.indexOf(ch);
    if (value < 0) return undefined;
    quantum.push(value);
    if (quantum.length === 4) emit();
  }
  return quantum.length === 0 ? out : undefined;
}

describe('decodeBase64 against the stepwise decoder', () => {
  // valid encodings with line breaks spliced in, then sometimes one character replaced, inserted or removed
  const base64ish = fc
    .tuple(
      fc.uint8Array({ maxLength: 12 }),
      fc.array(fc.tuple(fc.nat(), fc.constantFrom('\n', '\r', '\r\n')), { maxLength: 3 }),
      fc.option(fc.tuple(fc.constantFrom('replace', 'insert', 'remove'), fc.nat(), fc.constantFrom(...'A/+=\n \t-_é'))),
    )
    .map(([raw, breaks, edit]) => {
      let text = Buffer.from(raw).toString('base64');
      for (const [at, lineBreak] of breaks)
        text = text.slice(0, at % (text.length + 1)) + lineBreak + text.slice(at % (text.length + 1));
      if (edit !== null) {
        const [kind, at, ch] = edit;
        const i = at % (text.length + 1);
        text =
          kind === 'insert'
            ? text.slice(0, i) + ch + text.slice(i)
            : text.slice(0, i) + (kind === 'replace' ? ch : '') + text.slice(i + 1);
      }
      return text;
    });

  it('accepts and rejects the same texts with the same bytes', () => {
    fc.assert(
      fc.property(fc.oneof(base64ish, fc.stringMatching(/^[A-Za-z0-9+/=\r\n]{0,10}$/)), (text) => {
        const fast = decodeBase64(text);
        expect(fast === undefined ? undefined : [...fast]).toEqual(decodeBase64Stepwise(text));
        const apply = pushByteaToApplyText(text);
        expect(apply).toBe(fast === undefined ? undefined : '\\x' + Buffer.from(fast).toString('hex'));
      }),
      { numRuns: 5000 },
    );
  });
});
