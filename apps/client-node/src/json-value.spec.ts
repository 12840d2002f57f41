import { describe, expect, it } from '@jest/globals';
import { parseJson, stringifyJson } from './json-value.js';

describe('lossless JSON', () => {
  it('reads big integers exactly (also inside strings-heavy documents) and the rest like JSON.parse', () => {
    const text =
      '{"hash":"7e46e2930cc24c00a0506f35c436bdf9","n":[1,-2.5,9007199254740991,12345678901234567890],' +
      '"s":"e293 1234567890123456"}';
    const value = parseJson(text) as { n: unknown[]; hash: string; s: string };
    expect(value.n).toEqual([1, -2.5, 9007199254740991, 12345678901234567890n]);
    expect(value.s).toBe('e293 1234567890123456');
    expect(parseJson('{"a":[true,null,{"b":"x"}]}')).toEqual(JSON.parse('{"a":[true,null,{"b":"x"}]}'));
  });

  it('refuses numbers that overflow and reports syntax errors with an offset', () => {
    expect(() => parseJson('{"a":1e400}')).toThrow('number 1e400 is out of range');
    expect(() => parseJson('{"a":}')).toThrow(/at offset 5$/);
  });

  it('writes bigint as digits and everything else like JSON.stringify', () => {
    expect(stringifyJson({ a: 12345678901234567890n, b: [1.5, 'x<y', null] })).toBe(
      '{"a":12345678901234567890,"b":[1.5,"x<y",null]}',
    );
    expect(() => stringifyJson({ a: Number.NaN })).toThrow('non-finite number NaN cannot be encoded');
  });
});
