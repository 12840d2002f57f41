import { describe, expect, it } from '@jest/globals';
import { PAYLOAD_IN_TEXT, readPullPageLayout, readSnapshotChunkLayout } from '@oversync/protocol';
import fc from 'fast-check';
import { parseStagedPayload } from './snapshot.js';
import { decodePull, decodeSnapshotChunk } from './wire-decode.js';

/** The decoded value with number kinds and object prototypes spelled out. */
const typed = (value: unknown): unknown => {
  if (typeof value === 'bigint') return { bigint: value.toString() };
  if (typeof value === 'number' && Object.is(value, -0)) return { negativeZero: true };
  if (Array.isArray(value)) return value.map(typed);
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as object | null;
    return {
      inheritsToString: 'toString' in value && !Object.hasOwn(value, 'toString'),
      protoIsObject: proto === Object.prototype,
      members: Object.keys(value).map((name) => [name, typed((value as Record<string, unknown>)[name])]),
    };
  }
  return value;
};

const outcome = (decode: () => unknown) => {
  try {
    return { value: typed(decode()) };
  } catch (err) {
    return { error: (err as Error).name };
  }
};

// Text fragments, most in the servers' layout, some off it (case, spaces, escapes, nesting, bad syntax).
const pick = <T>(...items: T[]) => fc.constantFrom(...items);
/** mostly a fragment of the servers' layout, now and then one off it */
const mostly = (good: fc.Arbitrary<string>, odd: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 30, arbitrary: good }, { weight: 1, arbitrary: odd });
const str = mostly(
  pick('"business"', '"users"', '"x"', '""', '"<&>"', '"\u2028"', '"é"'),
  pick('"a\\"b"', '"\\u00e9"', '"é\ud800"', '"😀"', 'null', '1'),
);
const num = mostly(
  pick(
    '0',
    '1',
    '7',
    '42',
    '-1',
    '-0',
    '1.5',
    '1e2',
    '1E+2',
    '1.0',
    '123456789012345',
    '9007199254740993',
    '-9007199254740993',
    '-0.5e-3',
  ),
  pick('01', '1e400', '2.', '.5', '-', '1234567890123456'),
);
const int = mostly(
  pick('0', '1', '2', '3', '100', '999999999999999'),
  pick('9007199254740991', '9007199254740993', '-1', '-0', '1.0', '1e1', '01', 'null', '"1"', 'true'),
);
const scalar = fc.oneof(str, num, mostly(pick('true', 'false', 'null'), pick('[]', '{}', '{"a":1}', '[1]', 'nul')));
const name = mostly(
  pick('"id"', '"name"', '"ID"', '"constructor"', '"toString"', '""', '"a b"', '"email"'),
  pick('"__proto__"', '"\\u0069d"', '"n😀"', '"id"'),
);
const flat = fc
  .array(fc.tuple(name, scalar), { maxLength: 4 })
  .map((members) => `{${members.map(([n, v]) => `${n}:${v}`).join(',')}}`);
const keyText = fc.oneof(
  { weight: 30, arbitrary: pick('{"id":"k1"}', '{"id":"k2"}') },
  { weight: 10, arbitrary: flat },
  pick('null', '[]', '"k"'),
);
const payloadText = fc.oneof(
  { weight: 40, arbitrary: flat },
  { weight: 3, arbitrary: fc.constant('null') },
  pick('[]', '"p"', '{"a":{"b":1}}', '{"a":[1,2]}'),
);
const ws = fc.oneof({ weight: 80, arbitrary: fc.constant('') }, pick(' ', '\n', '\t '));
/** a member `"name":value`, sometimes renamed (case, unknown name) or doubled */
const member = (field: string, value: fc.Arbitrary<string>) =>
  fc
    .tuple(
      fc.oneof({ weight: 80, arbitrary: fc.constant(field) }, pick(field.toUpperCase(), `x${field}`)),
      value,
      ws,
      fc.nat(80),
    )
    .map(([n, v, space, dup]) => `"${n}":${space}${v}${dup === 0 ? `,"${n}":${v}` : ''}`);
const object = (members: fc.Arbitrary<string>[], optional: number[] = []) =>
  fc
    .tuple(
      fc.tuple(...members),
      fc.array(fc.boolean(), { minLength: members.length, maxLength: members.length }),
      fc.nat(80),
      ws,
    )
    .map(([texts, keep, shuffle, space]) => {
      const chosen = texts.filter((_, i) => !optional.includes(i) || keep[i]);
      if (shuffle === 0) chosen.reverse();
      return `{${space}${chosen.join(',')}}`;
    });
const pullRow = object(
  [
    member('schema', str),
    member('table', str),
    member('key', keyText),
    member('op', pick('"INSERT"', '"UPDATE"', '"DELETE"', '"insert"', 'null')),
    member('row_version', int),
    member('payload', payloadText),
  ],
  [5],
);
const snapshotRow = object(
  [
    member('schema', str),
    member('table', str),
    member('key', keyText),
    member('row_version', int),
    member('payload', payloadText),
  ],
  [4],
);
const array = (item: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 40, arbitrary: fc.array(item, { maxLength: 4 }).map((items) => `[${items.join(',')}]`) },
    pick('null', '{}', '[1'),
  );
const bundle = object([
  member('bundle_seq', int),
  member('source_id', str),
  member('source_bundle_id', int),
  member('row_count', int),
  member('bundle_hash', str),
  member('rows', array(pullRow)),
]);
const pullBody = fc
  .tuple(
    object([
      member('stable_bundle_seq', int),
      member('bundles', array(bundle)),
      member('has_more', pick('true', 'false', 'null', '0')),
    ]),
    pick('', '\n', ' x', '}'),
  )
  .map(([body, tail]) => body + tail);
const snapshotBody = fc
  .tuple(
    object([
      member('snapshot_id', str),
      member('snapshot_bundle_seq', int),
      member('rows', array(snapshotRow)),
      member('next_row_ordinal', int),
      member('has_more', pick('true', 'false', 'null')),
    ]),
    mostly(pick('', '\n'), pick(' x')),
  )
  .map(([body, tail]) => body + tail);

// The protocol's layout view (libs/protocol wire-layout-view.ts) against this client's full decoding, which
// reads every body the view leaves to it.
describe('the layout view of pull pages and snapshot chunks', () => {
  it('gives what decodePull gives, or leaves the body to it', () => {
    let fast = 0;
    fc.assert(
      fc.property(pullBody, (body) => {
        const quick = readPullPageLayout(body);
        if (quick === undefined) return;
        fast++;
        expect(outcome(() => quick)).toEqual(outcome(() => decodePull(body)));
      }),
      { numRuns: 4000 },
    );
    expect(fast).toBeGreaterThan(100);
  });

  it('gives what decodeSnapshotChunk gives, or leaves the body to it', () => {
    let fast = 0;
    fc.assert(
      fc.property(snapshotBody, (body) => {
        const quick = readSnapshotChunkLayout(body);
        if (quick === undefined) return;
        fast++;
        expect(outcome(() => quick)).toEqual(outcome(() => decodeSnapshotChunk(body)));
      }),
      { numRuns: 4000 },
    );
    expect(fast).toBeGreaterThan(100);
  });

  it('hands over each payload as written, which the stage reads back to the decoded payload', () => {
    let fast = 0;
    fc.assert(
      fc.property(snapshotBody, (body) => {
        const texts: string[] = [];
        const quick = readSnapshotChunkLayout(body, texts);
        // the payloads are checked as strictly as when they are built
        expect(quick === undefined).toBe(readSnapshotChunkLayout(body) === undefined);
        if (quick === undefined) return;
        fast++;
        const decoded = decodeSnapshotChunk(body).rows;
        const payloads = decoded.filter((row) => row.payload !== undefined).map((row) => row.payload);
        expect(texts.length).toBe(payloads.length);
        quick.rows.forEach((row, i) => {
          const payload = decoded[i]!.payload;
          expect(row.payload).toBe(payload !== null && typeof payload === 'object' ? PAYLOAD_IN_TEXT : payload);
        });
        // the same members and number kinds (the stage's objects are plain ones: prototypes aside)
        const members = (value: unknown) =>
          JSON.stringify(typed(value), (k, v: unknown) =>
            k === 'protoIsObject' || k === 'inheritsToString' ? undefined : v,
          );
        expect(texts.map((text) => members(parseStagedPayload(text)))).toEqual(payloads.map(members));
        for (const text of texts) expect(body).toContain(text);
      }),
      { numRuns: 4000 },
    );
    expect(fast).toBeGreaterThan(100);
  });

  it('takes the servers own layout', () => {
    const row = (i: number) =>
      `{"schema":"business","table":"users","key":{"id":"k${i}"},"op":"INSERT","row_version":${i + 1},` +
      `"payload":{"created_at":"2026-12-06T06:16:22.781+00:00","id":"k${i}","n":12345678901234567890,` +
      `"x":-0.5e-3,"ok":true,"none":null}}`;
    const body =
      `{"stable_bundle_seq":3,"bundles":[{"bundle_seq":3,"source_id":"w","source_bundle_id":1,"row_count":2,` +
      `"bundle_hash":"ab","rows":[${row(0)},{"schema":"business","table":"users","key":{"id":"k9"},"op":"DELETE",` +
      `"row_version":3,"payload":null},{"schema":"business","table":"users","key":{"id":"k8"},"op":"DELETE",` +
      `"row_version":3}]}],"has_more":false}\n`;
    const quick = readPullPageLayout(body);
    expect(quick).toBeDefined();
    expect(typed(quick)).toEqual(typed(decodePull(body)));
    const chunk =
      `{"snapshot_id":"s","snapshot_bundle_seq":3,"rows":[{"schema":"business","table":"users",` +
      `"key":{"id":"k1"},"row_version":1,"payload":{"id":"k1"}}],"next_row_ordinal":1,"has_more":false}`;
    expect(readSnapshotChunkLayout(chunk)).toBeDefined();
    expect(typed(readSnapshotChunkLayout(chunk))).toEqual(typed(decodeSnapshotChunk(chunk)));
  });
});
