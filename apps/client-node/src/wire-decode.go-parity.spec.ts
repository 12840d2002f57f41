// The client's response reader against real Go encoding/json (skipped without a Go toolchain): member
// binding (case-insensitive, last member wins, null keeps scalars), duplicate members, lone surrogate
// escapes, nesting depth up to Go's 10,000 levels and a clean error beyond.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  bindingDocuments,
  boundText,
  depthDocuments,
  describeWithGo,
  GoParity,
  intDocuments,
  paritySeed,
  stringLiterals,
  type ParityCase,
} from '../../../libs/protocol/src/testdata/go-parity-runner.js';
import { jsonTextBytes } from '../../../libs/protocol/src/testdata/json-text-arbitraries.js';
import { bindsField, canonicalJson, JsonSyntaxError } from '@oversync/protocol';
import { asWireJson } from './bundle-hash.js';
import { parseJson, stringifyJson } from './json-value.js';
import { decodeObject, WireReader } from './wire-decode.js';

const sample = <T>(arbitrary: fc.Arbitrary<T>, numRuns: number): T[] =>
  fc.sample(arbitrary, { seed: paritySeed, numRuns });

/** The client reader's binding of the Go program's `bound` struct (undefined: a decode error). */
function clientBound(text: string): string | undefined {
  const object = decodeObject(text);
  const reader = new WireReader(object);
  // a wrong type in any member binding `rows` fails the decode, as in Go
  for (const [name, value] of object.members) {
    if (!bindsField(name, 'rows')) continue;
    if (value !== null && (!Array.isArray(value) || !value.every((r) => typeof r === 'string'))) return undefined;
  }
  const rows = reader.raw('rows');
  const payload = reader.raw('payload');
  return boundText({
    reason: reader.string('reason'),
    pending: reader.bool('has_local_pending_rows'),
    rows: Array.isArray(rows) ? (rows as string[]) : null,
    payload: payload === undefined ? null : stringifyJson(payload),
  });
}

/**
 * Integer literals this client's number-typed fields hold (beyond ±(2^53−1) it refuses, where Go's int64 would not).
 */
const withinSafeRange = (literal: string): boolean =>
  !/^-?[0-9]+$/.test(literal) ||
  (BigInt(literal) <= BigInt(Number.MAX_SAFE_INTEGER) && BigInt(literal) >= -BigInt(Number.MAX_SAFE_INTEGER));
const validUtf8 = (bytes: Buffer): boolean => Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);

describeWithGo('the client response decoding (protocol reader, wire-decode) against Go encoding/json', () => {
  const go = new GoParity();
  beforeAll(() => go.build(), 150_000);
  afterAll(() => go.remove());

  it('binds members and int64 fields, resolves duplicates, canonicalizes payloads, limits nesting and decodes surrogate escapes exactly like Go', () => {
    const cases: ParityCase[] = [
      ...sample(bindingDocuments(true), 3000).map((text) => ({
        kind: 'bind',
        input: Buffer.from(text),
        ours: () => clientBound(text),
      })),
      ...sample(intDocuments(withinSafeRange), 3000).map((text) => ({
        kind: 'bind-int',
        input: Buffer.from(text),
        ours: () => `{"n":${new WireReader(decodeObject(text)).int('n')}}`,
      })),
      // pulled payloads as the client hashes them: lossless values, every number through a double for the hash
      ...sample(jsonTextBytes, 4000)
        .filter(validUtf8)
        .map((bytes) => ({
          kind: 'canonical',
          input: bytes,
          ours: () => canonicalJson(asWireJson(parseJson(bytes.toString('utf8')))),
        })),
      ...depthDocuments().map(({ text }) => ({
        kind: 'depth',
        input: Buffer.from(text),
        ours: () => (parseJson(text), 'ok'),
      })),
      ...sample(stringLiterals(false), 2000).map((bytes) => ({
        kind: 'decode-string',
        input: bytes,
        ours: () => {
          const value = parseJson(bytes.toString('utf8'));
          return typeof value === 'string' ? value : undefined;
        },
      })),
    ];
    expect({ seed: paritySeed, ...go.mismatches(cases) }).toEqual({
      seed: paritySeed,
      cases: expect.any(Number),
      byKind: {},
      first: [],
    });
  }, 120_000);
});

it('a 20,000-deep array is a clean JsonSyntaxError, not a stack overflow', () => {
  expect(() => parseJson(`${'['.repeat(20_000)}${']'.repeat(20_000)}`)).toThrow(JsonSyntaxError);
  expect(() => decodeObject(`{"rows":${'['.repeat(20_000)}${']'.repeat(20_000)}}`)).toThrow(/exceeded max depth/);
});
