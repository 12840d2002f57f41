// Optional: compares this library with the real Go standard library on many random values.
// Runs only when a Go toolchain is installed; builds one tiny program and feeds it every case
// through stdin in a single process.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { decodeBase64, decodeHex } from './binary-codecs.js';
import { canonicalizeJsonText } from './canonical-json.js';
import { compactGoJson, formatGoFloat64, quoteGoJsonString } from './go-json-encode.js';
import { equalFoldAscii, goQuote, goToLower, goToUpper, goTrimSpace, parseGoInt64 } from './go-strings.js';
import { isExactObject, parseExactJson } from './json-reader.js';
import { bindMember, bindScalar, bindsField, readBool, readString } from './json-binding.js';
import { parseJsonText } from './json-views.js';
import { canonicalDoubleJson } from './canonical-exact-json.js';
import {
  bindingDocuments,
  boundText,
  depthDocuments,
  describeWithGo,
  GoParity,
  goBinary,
  paritySeed,
  stringLiterals,
  type ParityCase,
} from './testdata/go-parity-runner.js';
import { jsonValue, trickyNumber, trickyString } from './testdata/json-arbitraries.js';
import { jsonTextBytes } from './testdata/json-text-arbitraries.js';
import { formatRfc3339Nano, parseRfc3339Nanos } from './value-codecs.js';

if (goBinary === undefined) {
  console.warn('go-parity.spec.ts skipped: no Go toolchain on PATH or at /usr/local/go/bin/go');
}

const seed = paritySeed;
const sample = <T>(arbitrary: fc.Arbitrary<T>, numRuns: number): T[] => fc.sample(arbitrary, { seed, numRuns });
const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');
const attempt = <T>(compute: () => T): T | undefined => {
  try {
    return compute();
  } catch {
    return undefined;
  }
};

function floatBits(value: number): Buffer {
  const bits = Buffer.alloc(8);
  bits.writeDoubleBE(value);
  return bits;
}

function parityCases(): ParityCase[] {
  const randomBits = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((bits) => {
    const buffer = Buffer.alloc(8);
    buffer.writeBigUInt64BE(bits);
    return buffer.readDoubleBE();
  });
  const floats = sample(fc.oneof(trickyNumber, randomBits.filter(Number.isFinite)), 6000);
  const strings = sample(trickyString, 3000);
  const base64ish = sample(fc.stringMatching(/^[A-Za-z0-9+/=\r\n _-]{0,14}$/), 2000);
  const hexish = sample(fc.stringMatching(/^[0-9a-fA-FxX ]{0,9}$/), 500);
  const spacey = sample(
    fc
      .tuple(
        fc.stringMatching(
          /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\u180e]{0,3}$/,
        ),
        trickyString,
        fc.stringMatching(/^[\t \u00a0\u3000\ufeff\u2029]{0,3}$/),
      )
      .map((parts) => parts.join('')),
    1000,
  );
  const cased = sample(
    fc.oneof(
      trickyString,
      fc.stringMatching(/^[A-Za-z_İıſKßǅΣσςﬁ]{0,8}$/),
      fc.constantFrom('_SYNC_SCOPE_ID', '_ſync_ſcope_id', '_sync_scope_ıd'),
    ),
    1500,
  );
  const integers = sample(
    fc.oneof(
      fc.stringMatching(/^[+-]?[0-9]{0,20}$/),
      fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String),
      fc.constantFrom('9223372036854775807', '-9223372036854775808', '9223372036854775808', '0x10', '1_000', ' 1', '+'),
    ),
    1500,
  );
  const times = sample(
    fc.oneof(
      fc
        .tuple(
          fc.integer({ min: 0, max: 9999 }),
          fc.integer({ min: 0, max: 13 }),
          fc.integer({ min: 0, max: 32 }),
          fc.integer({ min: 0, max: 24 }),
          fc.integer({ min: 0, max: 60 }),
          fc.integer({ min: 0, max: 60 }),
          fc.stringMatching(/^([.,][0-9]{1,12}|\.)?$/),
          fc.constantFrom('Z', '+00:00', '-07:30', '+23:59', '+24:00', '+24:60', '-00:61', '+25:00', 'z', '', '+0100'),
        )
        .map(
          ([y, mo, d, h, mi, s, frac, zone]) =>
            `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}T` +
            `${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:${String(s).padStart(2, '0')}${frac}` +
            `${zone}`,
        ),
      fc.constantFrom(
        '2026-03-24T18:42:11Z',
        '2026-03-24T20:42:11+02:00',
        '2026-03-24 18:42:11',
        '2026-03-24T8:42:11Z',
        '2026-03-24t18:42:11Z',
        '2026-3-24T18:42:11Z',
        '2024-02-29T00:00:00Z',
        '2023-02-29T00:00:00Z',
        '0000-01-01T00:00:00Z',
      ),
    ),
    1500,
  );
  const epochNanos = sample(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), 1500);

  return [
    ...floats.map((value) => ({ kind: 'float', input: floatBits(value), ours: () => formatGoFloat64(value) })),
    ...strings.map((text) => ({ kind: 'string', input: utf8(text), ours: () => quoteGoJsonString(text) })),
    ...strings.map((text) => ({ kind: 'quote', input: utf8(text), ours: () => goQuote(text) })),
    ...sample(jsonTextBytes, 4000).map((bytes) => ({
      kind: 'canonical',
      input: bytes,
      ours: () => attempt(() => canonicalizeJsonText(bytes)),
    })),
    ...sample(jsonValue, 1500)
      .map((value) => JSON.stringify(value, null, 1))
      .map((text) => ({ kind: 'canonical', input: utf8(text), ours: () => attempt(() => canonicalizeJsonText(text)) })),
    ...sample(jsonValue, 1500)
      .map((value) => JSON.stringify(value, null, 2))
      .map((text) => ({ kind: 'compact', input: utf8(text), ours: () => attempt(() => compactGoJson(text)) })),
    ...base64ish.map((text) => ({ kind: 'base64', input: utf8(text), ours: () => decodeBase64(text) })),
    ...hexish.map((text) => ({ kind: 'hex', input: utf8(text), ours: () => decodeHex(text) })),
    ...spacey.map((text) => ({ kind: 'trim', input: utf8(text), ours: () => goTrimSpace(text) })),
    ...cased.flatMap((text) => [
      { kind: 'lower', input: utf8(text), ours: () => goToLower(text) },
      { kind: 'upper', input: utf8(text), ours: () => goToUpper(text) },
      { kind: 'fold', input: utf8(text), ours: () => String(equalFoldAscii(text, '_sync_scope_id')) },
    ]),
    ...integers.map((text) => ({ kind: 'int', input: utf8(text), ours: () => parseGoInt64(text)?.toString() })),
    ...times.map((text) => ({ kind: 'time', input: utf8(text), ours: () => secondsDotNanos(parseRfc3339Nanos(text)) })),
    ...epochNanos.map((nanos) => ({
      kind: 'format',
      input: utf8(nanos.toString()),
      ours: () => formatRfc3339Nano(nanos),
    })),
  ];
}

function secondsDotNanos(nanos: bigint | undefined): string | undefined {
  if (nanos === undefined) return undefined;
  const fraction = ((nanos % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  return `${(nanos - fraction) / 1_000_000_000n}.${fraction.toString().padStart(9, '0')}`;
}

/** The reader's binding of the Go program's `bound` struct (undefined: Go's decode fails). */
function protocolBound(text: string): string | undefined {
  const value = parseExactJson(text);
  if (!isExactObject(value)) return undefined;
  const reason = bindScalar(value, 'reason', readString);
  const pending = bindScalar(value, 'has_local_pending_rows', readBool);
  // a reference field: a wrong type in any binding member fails the decode, the last one wins
  for (const [name, item] of value.members) {
    if (
      bindsField(name, 'rows') &&
      item !== null &&
      (!Array.isArray(item) || !item.every((r) => typeof r === 'string'))
    )
      return undefined;
  }
  const rows = bindMember(value, 'rows');
  const payload = bindMember(value, 'payload');
  if (reason === undefined || pending === undefined) return undefined;
  return boundText({
    reason,
    pending,
    rows: Array.isArray(rows) ? (rows as string[]) : null,
    payload: payload === undefined ? null : canonicalDoubleJson(payload),
  });
}

/** Member binding, nesting depth and string decoding of the protocol reader (parseJsonText). */
function readerCases(): ParityCase[] {
  return [
    ...sample(bindingDocuments(false), 3000).map((text) => ({
      kind: 'bind',
      input: utf8(text),
      ours: () => protocolBound(text),
    })),
    ...depthDocuments().map(({ text }) => ({
      kind: 'depth',
      input: utf8(text),
      ours: () => (parseJsonText(text), 'ok'),
    })),
    ...sample(stringLiterals(true), 2000).map((bytes) => ({
      kind: 'decode-string',
      input: bytes,
      ours: () => {
        const value = parseJsonText(bytes);
        return typeof value === 'string' ? value : undefined;
      },
    })),
  ];
}

describeWithGo('parity with the Go standard library', () => {
  const go = new GoParity();
  beforeAll(() => go.build(), 150_000);
  afterAll(() => go.remove());

  it('formats numbers, escapes strings and parses JSON exactly like Go', () => {
    // On failure: rerun with PARITY_SEED=<seed> to reproduce.
    expect({ seed, ...go.mismatches(parityCases()) }).toEqual({
      seed,
      cases: expect.any(Number),
      byKind: {},
      first: [],
    });
  }, 120_000);

  it('binds struct fields (case-insensitive, last member wins, null keeps scalars), limits nesting and decodes surrogates like Go', () => {
    expect({ seed, ...go.mismatches(readerCases()) }).toEqual({
      seed,
      cases: expect.any(Number),
      byKind: {},
      first: [],
    });
  }, 120_000);
});
