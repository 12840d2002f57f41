import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { type JsonValue, parseJson, stringifyJson } from './json-value.js';
import { parseStagedPayload } from './snapshot.js';

/** The value with its number kinds spelled out (a bigint and a number of the same digits differ). */
const typed = (value: JsonValue): unknown =>
  typeof value === 'bigint'
    ? { bigint: value.toString() }
    : Array.isArray(value)
      ? value.map(typed)
      : value !== null && typeof value === 'object'
        ? Object.fromEntries(Object.keys(value).map((name) => [`m:${name}`, typed(value[name]!)]))
        : value;

describe('parseStagedPayload', () => {
  // what the wire reader can hand to the stage: JSON values, integers beyond 2^53 as bigint
  const scalar = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc
      .bigInt({ min: -(2n ** 70n), max: 2n ** 70n })
      .filter((n) => n > BigInt(Number.MAX_SAFE_INTEGER) || n < -BigInt(Number.MAX_SAFE_INTEGER)),
    fc.constantFrom(1e21, 1e-7, 123456789012345, 0.1, 'x\u2028y', '\ufffd', '\u{1F600}', '12345678901234567890'),
    fc.string({ unit: 'grapheme', maxLength: 8 }),
  );
  const name = fc.oneof(
    fc.constantFrom('__proto__', 'constructor', 'id', 'ID', 'toString'),
    fc.string({ maxLength: 4 }),
  );
  const value: fc.Arbitrary<JsonValue> = fc.letrec<{ v: JsonValue }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar as fc.Arbitrary<JsonValue>,
      fc.array(tie('v'), { maxLength: 3 }),
      fc.dictionary(name, tie('v'), { maxKeys: 4 }) as fc.Arbitrary<JsonValue>,
    ),
  })).v;

  it('reads the staged text to the value the exact reader gives', () => {
    fc.assert(
      fc.property(value, (v) => {
        const text = stringifyJson(v);
        expect(typed(parseStagedPayload(text))).toEqual(typed(parseJson(text)));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps a __proto__ member as data and big integers exact', () => {
    const staged = parseStagedPayload('{"__proto__":1,"n":12345678901234567890,"s":"a"}') as Record<string, JsonValue>;
    expect(Object.keys(staged)).toEqual(['__proto__', 'n', 's']);
    expect(staged.n).toBe(12345678901234567890n);
    expect(Object.hasOwn(parseStagedPayload('{"__proto__":{"a":1}}') as object, '__proto__')).toBe(true);
  });
});
