import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { bundleHashInput, computeBundleHash } from './bundle-hash.js';
import { canonicalJson, canonicalizeJsonText } from './canonical-json.js';
import { toWellFormed } from './json-reader.js';
import { parseJsonText } from './json-views.js';
import { bundleRows, jsonValue, reorderMembers, seededRandom } from './testdata/json-arbitraries.js';
import type { JsonValue } from './wire-types.js';

const RUNS = { numRuns: 1000 };

describe('canonical JSON properties', () => {
  it('is deterministic', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        expect(canonicalJson(structuredClone(value))).toBe(canonicalJson(value));
      }),
      RUNS,
    );
  });

  it('is idempotent: canonicalising the parsed output gives the same text', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        const canonical = canonicalJson(value);
        expect(canonicalizeJsonText(canonical)).toBe(canonical);
        expect(canonicalizeJsonText(Buffer.from(canonical, 'utf8'))).toBe(canonical);
      }),
      RUNS,
    );
  });

  it('ignores input member order', () => {
    fc.assert(
      fc.property(jsonValue, fc.nat(), (value, seed) => {
        const reordered = reorderMembers(value, seededRandom(seed));
        expect(canonicalJson(reordered)).toBe(canonicalJson(value));
      }),
      RUNS,
    );
  });

  it('reads JSON.stringify output the same as the value', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        expect(canonicalizeJsonText(JSON.stringify(value, null, 1))).toBe(canonicalJson(normaliseNegativeZero(value)));
      }),
      RUNS,
    );
  });

  it('only ever emits well-formed text whose parse round-trips numbers exactly', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        const canonical = canonicalJson(value);
        expect(canonical).toBe(toWellFormed(canonical));
        expect(canonicalJson(parseJsonText(canonical))).toBe(canonical);
      }),
      RUNS,
    );
  });
});

describe('bundle hash properties', () => {
  it('is deterministic and insensitive to payload member order', () => {
    fc.assert(
      fc.property(bundleRows, fc.nat(), (rows, seed) => {
        const random = seededRandom(seed);
        const reordered = rows.map((row) => ({
          ...row,
          payload: row.payload === undefined ? undefined : reorderMembers(row.payload as JsonValue, random),
        }));
        const hash = computeBundleHash(rows);
        expect(computeBundleHash(structuredClone(rows))).toEqual(hash);
        expect(computeBundleHash(reordered)).toEqual(hash);
        expect(hash.bundleHash).toMatch(/^[0-9a-f]{64}$/);
        const input = bundleHashInput(rows);
        expect(hash.byteCount).toBe(Buffer.byteLength(input, 'utf8'));
        expect(canonicalizeJsonText(input)).toBe(input);
      }),
      { numRuns: 300 },
    );
  });
});

/** JSON.stringify prints -0 as 0; everything else it spells so that parsing gives the same value. */
function normaliseNegativeZero(value: JsonValue): JsonValue {
  if (typeof value === 'number') return Object.is(value, -0) ? 0 : value;
  if (Array.isArray(value)) return value.map(normaliseNegativeZero);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([name, member]) => [name, normaliseNegativeZero(member)]));
}
