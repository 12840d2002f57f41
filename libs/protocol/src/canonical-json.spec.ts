import { describe, expect, it } from '@jest/globals';
import { canonicalJson, canonicalizeJsonText } from './canonical-json.js';
import { JsonSyntaxError } from './json-reader.js';
import { parseJsonText } from './json-views.js';

describe('canonicalJson numbers (Go float64 encoding)', () => {
  it.each([
    ['0', '0'],
    ['-0', '-0'],
    ['-0.0', '-0'],
    ['1.0', '1'],
    ['100.50', '100.5'],
    ['1E2', '100'],
    ['1e21', '1e+21'],
    ['999999999999999999999', '1e+21'],
    ['100000000000000000000', '100000000000000000000'],
    ['1e20', '100000000000000000000'],
    ['0.000001', '0.000001'],
    ['0.0000001', '1e-7'],
    ['1e-7', '1e-7'],
    ['1.5e300', '1.5e+300'],
    ['-1.5e-300', '-1.5e-300'],
    ['9007199254740993', '9007199254740992'],
    ['12345678901234567890', '12345678901234567000'],
    ['-9223372036854775808', '-9223372036854776000'],
    ['0.30000000000000004', '0.30000000000000004'],
    ['0.3333333333333333333333', '0.3333333333333333'],
    ['5e-324', '5e-324'],
    ['2.5e-324', '5e-324'],
    ['1e-400', '0'],
    ['-1e-400', '-0'],
    ['1.7976931348623157e308', '1.7976931348623157e+308'],
  ])('%s → %s', (input, expected) => {
    expect(canonicalizeJsonText(input)).toBe(expected);
  });

  it('rejects numbers beyond float64 range like Go', () => {
    expect(() => canonicalizeJsonText('{"a":[1e400]}')).toThrow(JsonSyntaxError);
    expect(() => canonicalizeJsonText('-1e309')).toThrow(JsonSyntaxError);
  });

  it('rejects non-finite numbers in values', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(RangeError);
    expect(() => canonicalJson([Number.POSITIVE_INFINITY])).toThrow(RangeError);
  });
});

describe('canonicalJson strings (Go HTML-safe escaping)', () => {
  it.each([
    ['<>&', '"\\u003c\\u003e\\u0026"'],
    ['\u2028\u2029', '"\\u2028\\u2029"'],
    ['"\\/', '"\\"\\\\/"'],
    ['\b\f\n\r\t', '"\\b\\f\\n\\r\\t"'],
    ['\u0000\u0001\u0007\u000b\u001f', '"\\u0000\\u0001\\u0007\\u000b\\u001f"'],
    ["\u007f'é😀", '"\u007f\'é😀"'],
    ['x\ud800y', '"x\ufffdy"'],
    ['\udc00\ud83d\ude00\ud83d', '"\ufffd😀\ufffd"'],
  ])('%j', (input, expected) => {
    expect(canonicalJson(input)).toBe(expected);
  });
});

describe('canonicalJson objects', () => {
  it('sorts member names by UTF-8 bytes, not UTF-16 units', () => {
    const value = { '😀': 1, ｱ: 2, é: 3, B: 4, _x: 5, a: 6, '10': 7, '9': 8 };
    expect(canonicalJson(value)).toBe('{"10":7,"9":8,"B":4,"_x":5,"a":6,"é":3,"ｱ":2,"😀":1}');
  });

  it('keeps the later member when names collide after U+FFFD replacement', () => {
    expect(canonicalJson({ '\ud800': 1, '\ufffd': 2 })).toBe('{"\ufffd":2}');
  });

  it('treats __proto__ as an ordinary member', () => {
    expect(canonicalizeJsonText('{"__proto__":{"x":1},"a":[]}')).toBe('{"__proto__":{"x":1},"a":[]}');
  });

  it('skips undefined members like JSON.stringify and refuses undefined array items', () => {
    const withUndefined = { a: 1, b: undefined } as unknown as Parameters<typeof canonicalJson>[0];
    expect(canonicalJson(withUndefined)).toBe('{"a":1}');
    expect(() => canonicalJson([undefined] as unknown as Parameters<typeof canonicalJson>[0])).toThrow(TypeError);
  });
});

describe('parseJsonText (Go json.Unmarshal into any)', () => {
  it('keeps the last of duplicate member names', () => {
    expect(canonicalizeJsonText('{"a":1,"b":2,"a":3}')).toBe('{"a":3,"b":2}');
  });

  it('replaces each byte of invalid UTF-8 with U+FFFD, as Go does', () => {
    const bytes = Buffer.concat([
      Buffer.from('"a'),
      Buffer.from([0xff]),
      Buffer.from('b'),
      Buffer.from([0xe2, 0x82]),
      Buffer.from('c'),
      Buffer.from([0xf0, 0x9f, 0x98]),
      Buffer.from('"'),
    ]);
    expect(parseJsonText(bytes)).toBe('a\ufffdb\ufffd\ufffdc\ufffd\ufffd\ufffd');
  });

  it('turns unpaired surrogate escapes into U+FFFD without swallowing the next escape', () => {
    expect(parseJsonText('"\\ud800\\u0041"')).toBe('\ufffdA');
    expect(parseJsonText('"\\ude00\\ud83d\\ude00"')).toBe('\ufffd😀');
    expect(parseJsonText('"\\ud800\\ud800\\udc00"')).toBe('\ufffd\u{10000}');
  });

  it('reads a raw lone surrogate in string input as U+FFFD (its UTF-8 encoding)', () => {
    expect(parseJsonText('"\ud83d\\ude00"')).toBe('\ufffd\ufffd');
  });

  it.each([
    '',
    ' ',
    '{',
    '[1,]',
    '{"a" 1}',
    '01',
    '1.',
    '.5',
    '+1',
    '"\u0001"',
    '"\\x"',
    'nul',
    '\ufeff1',
    '[1] 2',
    "{'a':1}",
    'NaN',
    '"\\u12"',
  ])('rejects %j', (text) => {
    expect(() => parseJsonText(text)).toThrow(JsonSyntaxError);
  });

  it('accepts JSON whitespace only between tokens', () => {
    expect(canonicalizeJsonText(' \t\r\n{ "a" : [ 1 , true , null , "x" ] } \n')).toBe('{"a":[1,true,null,"x"]}');
    expect(() => parseJsonText('\u00a01')).toThrow(JsonSyntaxError);
  });

  it('allows 10000 nesting levels and rejects 10001 like Go', () => {
    expect(canonicalizeJsonText('['.repeat(10000) + ']'.repeat(10000))).toBe('['.repeat(10000) + ']'.repeat(10000));
    expect(() => parseJsonText('['.repeat(10001) + ']'.repeat(10001))).toThrow('exceeded max depth');
    const deepObject = '{"a":'.repeat(10000) + '1' + '}'.repeat(10000);
    expect(canonicalizeJsonText(deepObject)).toBe(deepObject);
  });
});
