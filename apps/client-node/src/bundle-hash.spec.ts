import { describe, expect, it } from '@jest/globals';
import { computeBundleHash } from '@oversync/protocol';
import { bundleHashOf, type HashedRow } from './bundle-hash.js';

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
