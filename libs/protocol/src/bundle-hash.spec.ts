import { describe, expect, it } from '@jest/globals';
import { bundleHashInput, computeBundleHash, type BundleHashRow } from './bundle-hash.js';
import { canonicalizeJsonText } from './canonical-json.js';
import { parseJsonText } from './json-views.js';
import { RawJson } from './go-json-encode.js';
import { hashVectors } from './testdata/hash-vectors.js';
import type { BundleRow } from './wire-types.js';

function rowsOf(inputJson: string): BundleHashRow[] {
  return parseJsonText(inputJson) as unknown as BundleHashRow[];
}

describe('computeBundleHash reproduces spec/server.md §5.4', () => {
  it.each(hashVectors.vectors.map((vector) => [vector.name, vector] as const))('%s', (_name, vector) => {
    const hash = computeBundleHash(rowsOf(vector.input_json));

    expect(Buffer.from(bundleHashInput(rowsOf(vector.input_json)), 'utf8').toString('hex')).toBe(vector.canonical_hex);
    expect(hash.byteCount).toBe(vector.canonical_bytes);
    expect(hash.bundleHash).toBe(vector.sha256);
  });

  it('has the five vectors of the spec', () => {
    expect(hashVectors.vectors.map((vector) => vector.name)).toEqual(['V1', 'V2', 'V3', 'V4', 'V5']);
  });

  it.each(hashVectors.payload_vectors.map((vector) => [vector.jsonb_text, vector.payload_wire]))(
    'canonicalises the payload %s',
    (jsonbText, payloadWire) => {
      expect(canonicalizeJsonText(jsonbText)).toBe(payloadWire);
    },
  );
});

describe('bundleHashInput', () => {
  const v1 = hashVectors.vectors[0];

  it('takes the stored payload_wire text as RawJson', () => {
    const rows = rowsOf(v1.input_json).map((row) => ({ ...row, payload: new RawJson(JSON.stringify(row.payload)) }));
    expect(computeBundleHash(rows).bundleHash).toBe(v1.sha256);
  });

  it('ignores a DELETE payload and treats an absent or empty payload as null', () => {
    const row = { schema: 'public', table: 'notes', key: { note_id: 'n-1' }, row_version: 3 } as const;
    const expected = hashVectors.vectors[4].sha256;
    expect(computeBundleHash([{ ...row, op: 'DELETE', payload: { ignored: true } }]).bundleHash).toBe(expected);
    expect(bundleHashInput([{ ...row, op: 'UPDATE', payload: new RawJson('') }])).toContain('"payload":null');
    expect(bundleHashInput([{ ...row, op: 'UPDATE' }])).toContain('"payload":null');
  });

  it('rounds a bigint row_version through float64 like the reference', () => {
    const row: BundleHashRow = {
      schema: 's',
      table: 't',
      key: { id: 'x' },
      op: 'DELETE',
      row_version: 9007199254740993n,
    };
    expect(bundleHashInput([row])).toContain('"row_version":9007199254740992');
  });

  it('takes wire BundleRows as they are and does not depend on payload member order', () => {
    const row: BundleRow = {
      schema: 's',
      table: 't',
      key: { id: 'x' },
      op: 'INSERT',
      row_version: 1n,
      payload: { b: 1, a: 2 },
    };
    const a = computeBundleHash([row]);
    const b = computeBundleHash([{ ...row, payload: { a: 2, b: 1 } }]);
    expect(a).toEqual(b);
  });
});
