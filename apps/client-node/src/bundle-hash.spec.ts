import { describe, expect, it } from '@jest/globals';
import { canonicalJson, computeBundleHash, parseLosslessJson, readPullPageLayout } from '@oversync/protocol';
import fc from 'fast-check';
import { asWireJson, bundleHashOf, FlatCanonicalJson, type HashedRow, pulledBundleHash } from './bundle-hash.js';
import type { JsonValue } from './json-value.js';

const row = (i: number, op: HashedRow['op']): HashedRow => ({
  schema: 'business',
  table: i % 2 ? 'users' : 'posts',
  key: { id: `k-${i}` },
  op,
  rowVersion: i + 1,
  payload:
    op === 'DELETE'
      ? undefined
      : { id: `k-${i}`, name: `<n ${i}> & \u2028`, n: i * 1.5, big: 9007199254740993n, flag: i % 3 === 0, none: null },
});

describe('bundleHashOf', () => {
  it.each([0, 1, 511, 512, 513, 1500])('equals the protocol hash of %i rows (streamed in slices)', (count) => {
    const rows = Array.from({ length: count }, (_, i) => row(i, i % 5 === 4 ? 'DELETE' : i % 2 ? 'UPDATE' : 'INSERT'));
    const wire = rows.map((r) => ({
      schema: r.schema,
      table: r.table,
      key: r.key,
      op: r.op,
      row_version: r.rowVersion,
      payload: r.op === 'DELETE' ? undefined : { ...(r.payload as object), big: 9007199254740992 },
    }));
    expect(bundleHashOf(rows)).toBe(computeBundleHash(wire).bundleHash);
  });
});

describe('FlatCanonicalJson', () => {
  // the fast path must write exactly the generic canonical text, whatever the member names and values
  const name = fc.oneof(
    fc.constantFrom('id', 'ID', 'Id', 'name', 'é', '\u{1F600}', '\uff71', 'a<b', '__proto__', 'x\ud800', '', 'z'),
    fc.string({ maxLength: 4, unit: 'binary' }),
  );
  const scalar: fc.Arbitrary<JsonValue> = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    fc.bigInt({ min: -(2n ** 1100n), max: 2n ** 1100n }),
    fc.constantFrom(-0, 1e21, 1e-7, 123456789012345680000, 9007199254740993n),
    fc.string({ maxLength: 6, unit: 'binary' }),
    fc.constantFrom('<a> & "b" \\ \n \u2028 \u2029 \u0000 \u007f', '\ud800', 'x\udc00y', '\u{1F600}', 'plain'),
  );
  const member: fc.Arbitrary<JsonValue> = fc.oneof(
    { weight: 8, arbitrary: scalar },
    { weight: 1, arbitrary: fc.array(scalar, { maxLength: 2 }) },
    { weight: 1, arbitrary: fc.dictionary(name, scalar, { maxKeys: 2 }) },
  );
  const object = fc.dictionary(name, member, { maxKeys: 5 }).map((o) => o as JsonValue);
  const generic = (value: JsonValue) => {
    try {
      return canonicalJson(asWireJson(value));
    } catch (err) {
      return `throws ${(err as Error).name}`;
    }
  };
  const fast = (writer: FlatCanonicalJson, value: JsonValue) => {
    try {
      return writer.text(value);
    } catch (err) {
      return `throws ${(err as Error).name}`;
    }
  };

  it('writes the generic canonical text of every value, shapes repeated or not', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(object, scalar), { maxLength: 6 }), (values) => {
        const writer = new FlatCanonicalJson();
        // each value twice: the second one reuses the learned member order
        for (const value of [...values, ...values]) expect(fast(writer, value)).toBe(generic(value));
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps the protocol reader values: duplicates, exact integers, escapes', () => {
    const writer = new FlatCanonicalJson();
    for (const text of [
      '{"b":1,"a":2,"b":3}',
      '{"a":9007199254740993,"b":1.50,"c":-0,"d":1e400}',
      '{"id":"x","ID":"y","\\u00e9":"\\ud800","<":"&"}',
      '{"__proto__":{"x":1},"a":[1,{"b":2}]}',
      '{}',
    ]) {
      let value: JsonValue;
      try {
        value = parseLosslessJson(text);
      } catch {
        continue;
      }
      expect(fast(writer, value)).toBe(generic(value));
      expect(fast(writer, value)).toBe(generic(value));
    }
  });
});

describe('pulledBundleHash', () => {
  // the wire texts are hashed as they are only where that is the canonical text: any name order,
  // index names, HTML characters, separators, numbers in any spelling must give the generic hash
  const name = fc.oneof(
    fc.constantFrom('id', 'a', 'b', 'z', 'Z', '1', '10', '01', 'é', '\u2028', 'a<b', 'created_at', '\u{1F600}'),
    fc.string({ maxLength: 3 }),
  );
  const scalarText = fc.oneof(
    fc.constantFrom('null', 'true', 'false', '1', '1.0', '1e2', '-0', '0.1', '12345678901234567890', '"x"', '""'),
    fc.constantFrom('"<a>"', '"a&b"', '"\u2028"', '"\u2029"', '"\u00e9"', '"é"', '"\\"', '"\\u003c"'),
    fc.string({ maxLength: 5 }).map((s) => JSON.stringify(s)),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  );
  const flat = fc
    .uniqueArray(fc.tuple(name, scalarText), { maxLength: 5, selector: ([n]) => n })
    .map((members) => `{${members.map(([n, v]) => `${JSON.stringify(n)}:${v}`).join(',')}}`);
  const wireRow = fc.record({
    key: flat,
    op: fc.constantFrom('INSERT', 'UPDATE', 'DELETE'),
    payload: fc.oneof({ weight: 6, arbitrary: flat }, { weight: 1, arbitrary: fc.constant('null') }),
  });

  it('equals the hash built without the texts and the protocol hash', () => {
    fc.assert(
      fc.property(fc.array(wireRow, { minLength: 1, maxLength: 6 }), (rows) => {
        const body =
          '{"stable_bundle_seq":3,"bundles":[{"bundle_seq":3,"source_id":"s","source_bundle_id":1,"row_count":' +
          `${rows.length},"bundle_hash":"h","rows":[` +
          rows
            .map(
              (r) =>
                `{"schema":"business","table":"users","key":${r.key},"op":"${r.op}","row_version":3` +
                `${r.op === 'DELETE' ? '' : `,"payload":${r.payload}`}}`,
            )
            .join(',') +
          ']}],"has_more":false}';
        const spans: number[] = [];
        const page = readPullPageLayout(body, spans);
        if (page === undefined) return;
        const read = page.bundles[0]!.rows;
        expect(spans).toHaveLength(4 * read.length);
        const withTexts = pulledBundleHash(read, { body, spans, first: 0 });
        expect(withTexts).toBe(pulledBundleHash(read));
        expect(withTexts).toBe(computeBundleHash(wireRows(body)).bundleHash);
      }),
      { numRuns: 2000 },
    );
  });

  it('takes the texts of the bundle from `first` on', () => {
    const body = (ops: string[]) =>
      '{"stable_bundle_seq":3,"bundles":[' +
      ops
        .map(
          (op, i) =>
            `{"bundle_seq":${i + 1},"source_id":"s","source_bundle_id":${i + 1},"row_count":1,"bundle_hash":"h",` +
            `"rows":[{"schema":"business","table":"users","key":{"id":"k${i}"},"op":"${op}","row_version":${i + 1}` +
            `${op === 'DELETE' ? '' : `,"payload":{"id":"k${i}","name":"n${i}"}`}}]}`,
        )
        .join(',') +
      '],"has_more":false}';
    const text = body(['INSERT', 'DELETE', 'UPDATE']);
    const spans: number[] = [];
    const page = readPullPageLayout(text, spans)!;
    const texts = Array.from({ length: spans.length / 2 }, (_, i) =>
      spans[2 * i]! < 0 ? '' : text.slice(spans[2 * i], spans[2 * i + 1]),
    );
    expect(texts).toEqual([
      '{"id":"k0"}',
      '{"id":"k0","name":"n0"}',
      '{"id":"k1"}',
      '',
      '{"id":"k2"}',
      '{"id":"k2","name":"n2"}',
    ]);
    for (const [i, bundle] of page.bundles.entries())
      expect(pulledBundleHash(bundle.rows, { body: text, spans, first: i })).toBe(pulledBundleHash(bundle.rows));
    // the texts of another bundle give another hash: the spans are read from `first` on
    expect(pulledBundleHash(page.bundles[2]!.rows, { body: text, spans, first: 0 })).not.toBe(
      pulledBundleHash(page.bundles[2]!.rows),
    );
  });
});

/** The rows of a one-bundle page as the protocol's own hash reads them (numbers as doubles). */
function wireRows(body: string): Parameters<typeof computeBundleHash>[0] {
  const page = asWireJson(parseLosslessJson(body)) as unknown as {
    bundles: { rows: Parameters<typeof computeBundleHash>[0] }[];
  };
  return page.bundles[0]!.rows;
}
