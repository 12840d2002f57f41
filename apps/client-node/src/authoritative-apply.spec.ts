import { describe, expect, it } from '@jest/globals';
import { readPullPageLayout } from '@oversync/protocol';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { resolveWireRow } from './authoritative-apply.js';
import type { ClientContext } from './client-context.js';
import { inspectManagedTables } from './managed-table.js';
import { keyJson } from './row-codec.js';

describe('resolveWireRow with the key text the layout view read', () => {
  const db = new Database(':memory:');
  db.exec(`CREATE TABLE "Users" ("Id" TEXT PRIMARY KEY NOT NULL, name TEXT);
    CREATE TABLE files (id BLOB PRIMARY KEY NOT NULL, name TEXT);`);
  const tables = inspectManagedTables(db, [
    { tableName: 'users', syncKeyColumnName: 'id' },
    { tableName: 'files', syncKeyColumnName: 'id' },
  ]);
  const ctx = { table: (name: string) => tables.find((t) => t.name === name) } as unknown as ClientContext;
  const member = fc.oneof(
    fc.constantFrom('"id"', '"Id"', '"name"', '"i"', '"idx"'),
    fc.string({ maxLength: 3 }).map((s) => JSON.stringify(s)),
  );
  const value = fc.oneof(
    fc.constantFrom('"6f1c2b8e-0d4a-4c3e-9b7a-2f5e8d1c0a93"', '"a"', '""', '"a\\"b"', '"é"', '1', 'null'),
    fc.string({ maxLength: 4 }).map((s) => JSON.stringify(s)),
  );
  const keyTexts = fc
    .array(fc.tuple(member, value), { minLength: 1, maxLength: 3 })
    .map((members) => `{${members.map(([n, v]) => `${n}:${v}`).join(',')}}`);

  it('gives the key_json that keyJson writes, whatever the key text', () => {
    fc.assert(
      fc.property(keyTexts, fc.constantFrom('users', 'files'), (key, table) => {
        const body =
          `{"stable_bundle_seq":1,"bundles":[{"bundle_seq":1,"source_id":"s","source_bundle_id":1,"row_count":1,` +
          `"bundle_hash":"h","rows":[{"schema":"b","table":${JSON.stringify(table)},"key":${key},"op":"DELETE",` +
          `"row_version":1}]}],"has_more":false}`;
        const spans: number[] = [];
        const row = readPullPageLayout(body, spans)?.bundles[0]?.rows[0];
        if (row === undefined) return;
        let expected: string;
        try {
          const ref = resolveWireRow(ctx, row.table, row.key);
          expected = ref.keyJson;
          expect(expected).toBe(keyJson(ref.table, ref.localKey));
        } catch (err) {
          expect(() => resolveWireRow(ctx, row.table, row.key, body.slice(spans[0], spans[1]))).toThrow(
            (err as Error).message,
          );
          return;
        }
        expect(resolveWireRow(ctx, row.table, row.key, body.slice(spans[0], spans[1])).keyJson).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('takes the text itself when it is the key_json', () => {
    const text = '{"id":"6f1c2b8e-0d4a-4c3e-9b7a-2f5e8d1c0a93"}';
    const body = `x${text}x`;
    const keyText = body.slice(1, 1 + text.length);
    const ref = resolveWireRow(ctx, 'users', { id: '6f1c2b8e-0d4a-4c3e-9b7a-2f5e8d1c0a93' }, keyText);
    expect(ref.keyJson).toBe(text);
    expect(ref.keyJson).toBe(keyJson(ref.table, ref.localKey));
  });
});
