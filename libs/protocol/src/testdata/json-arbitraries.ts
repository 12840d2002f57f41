// fast-check generators for JSON values that stress canonical JSON: astral and lone-surrogate
// strings, HTML-sensitive and control characters, extreme and negative-zero numbers, nesting.
import fc from 'fast-check';
import { toWellFormed } from '../json-reader.js';
import type { BundleHashRow } from '../bundle-hash.js';
import type { JsonObject, JsonValue } from '../wire-types.js';

const trickyChar = fc.constantFrom(
  '<',
  '>',
  '&',
  '"',
  '\\',
  '/',
  '\u2028',
  '\u2029',
  '\u007f',
  '\ufffd',
  '\ufeff',
  'é',
  'ｱ',
  '😀',
  '\u{10ffff}',
);
const controlChar = fc.integer({ min: 0, max: 0x1f }).map((unit) => String.fromCharCode(unit));
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit));
const astralChar = fc.integer({ min: 0x10000, max: 0x10ffff }).map((cp) => String.fromCodePoint(cp));

/** Strings mixing every character class canonical JSON treats specially. */
export const trickyString = fc.string({
  unit: fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    { weight: 2, arbitrary: trickyChar },
    { weight: 1, arbitrary: controlChar },
    { weight: 1, arbitrary: loneSurrogate },
    { weight: 1, arbitrary: astralChar },
  ),
  maxLength: 12,
});

/** Doubles from every region: subnormal, around 1e-6 and 1e21, beyond 2^53, -0, random bit patterns. */
export const trickyNumber = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    0,
    -0,
    1e21,
    1e-6,
    1e-7,
    9.999999999999999e20,
    999999999999999900000,
    5e-324,
    1.7976931348623157e308,
    2 ** 53 + 2,
    -(2 ** 63),
    0.1,
    100.5,
  ),
  fc.integer().map((n) => n * 1000),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((n) => Number(n)),
  fc
    .tuple(fc.integer({ min: 1, max: 99999 }), fc.integer({ min: -330, max: 310 }))
    .map(([mantissa, exponent]) => Number(`${mantissa}e${exponent}`))
    .filter(Number.isFinite),
);

/** Object member names are unique after U+FFFD replacement, so member order alone decides nothing. */
function objectOf(value: fc.Arbitrary<JsonValue>): fc.Arbitrary<JsonObject> {
  return fc
    .uniqueArray(fc.tuple(fc.oneof(trickyString, fc.constantFrom('__proto__', 'constructor', '0', '10', '9')), value), {
      maxLength: 6,
      selector: ([name]) => toWellFormed(name),
    })
    .map((members) => Object.fromEntries(members) as JsonObject);
}

export const jsonValue: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    trickyNumber,
    trickyString,
    fc.array(tie('value'), { maxLength: 5 }),
    objectOf(tie('value')),
  ),
})).value;

export const jsonObject = objectOf(jsonValue);

const rowOp = fc.constantFrom('INSERT', 'UPDATE', 'DELETE' as const);

/** Random bundles as handed to the hash. */
export const bundleRows: fc.Arbitrary<BundleHashRow[]> = fc.array(
  fc.record({
    schema: trickyString,
    table: trickyString,
    key: fc.tuple(trickyString, trickyString).map(([column, value]) => ({ [column]: value })),
    op: rowOp,
    row_version: fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 63n - 1n })),
    payload: fc.option(jsonObject, { nil: undefined }),
  }),
  { maxLength: 5 },
);

/** A small deterministic PRNG (mulberry32) so a failing shuffle can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The same value with every object's members in another order. */
export function reorderMembers(value: JsonValue, random: () => number): JsonValue {
  if (Array.isArray(value)) return value.map((item) => reorderMembers(item, random));
  if (value === null || typeof value !== 'object') return value;
  const members = Object.entries(value).map(([name, member]) => [name, reorderMembers(member, random)] as const);
  for (let i = members.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [members[i], members[j]] = [members[j], members[i]];
  }
  return Object.fromEntries(members) as JsonObject;
}
