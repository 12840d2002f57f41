// The server's request reader against real Go encoding/json (skipped without a Go toolchain): member
// binding (case-insensitive, last member wins, null keeps scalars, a wrong type anywhere fails),
// duplicate members, lone surrogates and invalid UTF-8 in strings, nesting depth.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
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
} from '../../../protocol/src/testdata/go-parity-runner.js';
import { jsonTextBytes } from '../../../protocol/src/testdata/json-text-arbitraries.js';
import {
  bindMember,
  bindScalar,
  bindsField,
  canonicalDoubleJson,
  canonicalExactJson,
  decodeUtf8LikeGo,
  isExactObject,
  MAX_REQUEST_JSON_DEPTH,
  parseExactJson,
  readBool,
  readInt64,
  readString,
} from '@oversync/protocol';

const sample = <T>(arbitrary: fc.Arbitrary<T>, numRuns: number): T[] =>
  fc.sample(arbitrary, { seed: paritySeed, numRuns });

/** The server reader's binding of the Go program's `bound` struct (undefined: a 400). */
function serverBound(bytes: Buffer): string | undefined {
  const value = parseExactJson(decodeUtf8LikeGo(bytes), MAX_REQUEST_JSON_DEPTH);
  if (!isExactObject(value)) return undefined;
  const reason = bindScalar(value, 'reason', readString);
  const pending = bindScalar(value, 'has_local_pending_rows', readBool);
  // reference fields: a wrong type in any binding member fails the decode, the last one wins
  let rowsOk = true;
  for (const [name, item] of value.members) {
    if (!bindsField(name, 'rows')) continue;
    if (item !== null && (!Array.isArray(item) || !item.every((r) => typeof r === 'string'))) rowsOk = false;
  }
  const rows = bindMember(value, 'rows');
  const payload = bindMember(value, 'payload');
  if (reason === undefined || pending === undefined || !rowsOk) return undefined;
  return boundText({
    reason,
    pending,
    rows: Array.isArray(rows) ? (rows as string[]) : null,
    payload: payload === undefined ? null : canonicalExactJson(payload),
  });
}

/** The server's binding of an int64 field (sequence numbers, counts): integer literals in range only. */
function serverInt(bytes: Buffer): string | undefined {
  const value = parseExactJson(bytes, MAX_REQUEST_JSON_DEPTH);
  if (!isExactObject(value)) return undefined;
  const n = bindScalar(value, 'n', readInt64);
  return n === undefined ? undefined : `{"n":${n}}`;
}

describeWithGo('the server request binding (protocol reader, 512 levels) against Go encoding/json', () => {
  const go = new GoParity();
  beforeAll(() => go.build(), 150_000);
  afterAll(() => go.remove());

  it('binds members and int64 fields, resolves duplicates, canonicalizes values and decodes strings exactly like Go', () => {
    const cases: ParityCase[] = [
      ...sample(bindingDocuments(true), 3000).map((text) => ({
        kind: 'bind',
        input: Buffer.from(text),
        ours: () => serverBound(Buffer.from(text)),
      })),
      ...sample(intDocuments(), 3000).map((text) => ({
        kind: 'bind-int',
        input: Buffer.from(text),
        ours: () => serverInt(Buffer.from(text)),
      })),
      // payloads as the hash reads them: every number through a double, members sorted, Go's escaping
      ...sample(jsonTextBytes, 3000).map((bytes) => ({
        kind: 'canonical',
        input: bytes,
        ours: () => canonicalDoubleJson(parseExactJson(bytes)),
      })),
      ...sample(stringLiterals(true), 2000).map((bytes) => ({
        kind: 'decode-string',
        input: bytes,
        ours: () => {
          const value = parseExactJson(decodeUtf8LikeGo(bytes), MAX_REQUEST_JSON_DEPTH);
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

describe('nesting depth of request bodies', () => {
  it('accepts 512 levels, refuses deeper documents with a clean syntax error (20,000 levels included), never a stack overflow', () => {
    // Go accepts 10,000 levels; request bodies here stop at 512 (PostgreSQL's jsonb input recursion is
    // bounded by its stack depth limit): a documented difference, answered with a 400.
    for (const { depth, text } of depthDocuments()) {
      if (depth <= 512) expect(() => parseExactJson(text, MAX_REQUEST_JSON_DEPTH)).not.toThrow();
      if (depth > 513) expect(() => parseExactJson(text, MAX_REQUEST_JSON_DEPTH)).toThrow(/exceeded max depth/);
    }
  });
});
