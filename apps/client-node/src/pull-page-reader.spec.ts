import { describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { resolveWireRow } from './authoritative-apply.js';
import { pulledBundleHash } from './bundle-hash.js';
import type { ClientContext } from './client-context.js';
import { inspectManagedTables } from './managed-table.js';
import { decodePullPage, validatePullPage } from './pull.js';
import { PullPageReader } from './pull-page-reader.js';
import { CONTROL, CONTROL_WORDS, RECORD, recordCapacity, STATUS } from './pull-page-records.js';
import { sqlValuesFromWirePayload } from './row-codec.js';
import type { JsonObject } from './json-value.js';

// The worker's reader vouches for a page only where the usual way (layout view or full decode, §8.3
// checks, bundle hash, key resolution, payload decoding) accepts it and gives the same rows: on
// generated pages, mostly in the servers' layout and now and then off it, whatever it vouches for is
// compared with what the usual way makes of the same body.

const db = new Database(':memory:');
db.exec(`CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT, email TEXT);
  CREATE TABLE posts (id TEXT PRIMARY KEY NOT NULL, title TEXT);
  CREATE TABLE files (id BLOB PRIMARY KEY NOT NULL, name TEXT);`);
const tables = inspectManagedTables(
  db,
  ['users', 'posts', 'files'].map((tableName) => ({ tableName, syncKeyColumnName: 'id' })),
);
const ctx = {
  schema: 'business',
  tables,
  table: (name: string) => tables.find((t) => t.name === name.toLowerCase()),
} as unknown as ClientContext;
// what pull-page-pipeline.ts sends: the tables without BLOB columns
const plainTables = tables
  .map((table, index) => ({ table, index }))
  .filter(({ table }) => !table.columns.some((c) => c.isBlob))
  .map(({ table, index }) => ({
    name: table.name,
    index,
    keyColumn: table.keyColumn.lowerName,
    columns: table.columns.map((c) => c.lowerName),
  }));

const pick = <T>(...items: T[]) => fc.constantFrom(...items);
const mostly = (good: fc.Arbitrary<string>, odd: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 20, arbitrary: good }, { weight: 1, arbitrary: odd });
const text = mostly(
  pick('"v"', '""', '"é"', '"a b"', '"2026-12-06"', 'null', '"<&>"', '"\u2028"'),
  pick('"a\\"b"', '"\\u00e9"', '"😀"', '1', 'true', '{}', '1.5'),
);
const payloadOf = (columns: string[]) =>
  fc
    .tuple(
      fc.oneof(
        { weight: 10, arbitrary: fc.shuffledSubarray(columns, { minLength: columns.length }) },
        { weight: 1, arbitrary: fc.shuffledSubarray(columns) },
      ),
      fc.array(text, { minLength: 4 }),
    )
    .chain(([names, values]) =>
      mostly(
        fc.constant(`{${names.map((n, i) => `"${n}":${values[i]}`).join(',')}}`),
        pick('null', '{}', `{"id":"k1","id":"k1","name":null,"email":null}`, `{"id":"k1","extra":1}`),
      ),
    );
const row = fc
  .tuple(
    mostly(pick('"business"'), pick('"other"', '""', '" business"')),
    mostly(pick('"users"', '"posts"'), pick('"Users"', '"files"', '"nope"', '""')),
    mostly(pick('k1', 'k2', 'k3', 'a<b', 'é'), pick('a"b', 'x\\u0041')),
    mostly(pick('INSERT', 'UPDATE', 'DELETE'), pick('insert', 'MERGE')),
    mostly(pick('1', '2', '3', '999999999999999'), pick('0', '-1', '1.0', '01', '1234567890123456')),
    fc.boolean(),
  )
  .chain(([schema, table, key, op, version, keyOdd]) =>
    (table === '"posts"' ? payloadOf(['id', 'title']) : payloadOf(['id', 'name', 'email'])).map((payload) => {
      const keyText = keyOdd && key === 'k1' ? `{"id":"k1","x":"y"}` : `{"id":"${key}"}`;
      const head = `{"schema":${schema},"table":${table},"key":${keyText},"op":"${op}","row_version":${version}`;
      return op === 'DELETE' && payload !== 'null' ? `${head}}` : `${head},"payload":${payload}}`;
    }),
  );
const PLACEHOLDER = '0'.repeat(64);
const bundle = fc.tuple(fc.array(row, { maxLength: 5 }), fc.integer({ min: -1, max: 1 }), fc.boolean()).map(
  ([rows, countOff, _]) =>
    (seq: number) =>
      `{"bundle_seq":${seq},"source_id":"s","source_bundle_id":1,"row_count":${rows.length + (countOff > 0 ? 1 : 0)},` +
      `"bundle_hash":"${PLACEHOLDER}","rows":[${rows.join(',')}]}`,
);
const page = fc
  .tuple(fc.array(bundle, { minLength: 1, maxLength: 3 }), fc.boolean(), mostly(pick(''), pick(' ', '\n', 'x')))
  .map(
    ([bundles, hasMore, tail]) =>
      `{"stable_bundle_seq":${bundles.length},"bundles":[${bundles.map((b, i) => b(i + 1)).join(',')}],` +
      `"has_more":${hasMore}}${tail}`,
  );

/** The body with each bundle's placeholder replaced by its hash as the usual way computes it (or left wrong). */
function withHashes(body: string, rightHashes: boolean[]): string {
  let usual;
  try {
    usual = decodePullPage(body);
  } catch {
    return body;
  }
  let first = 0;
  let out = body;
  usual.page.bundles.forEach((b, i) => {
    const hash = pulledBundleHash(b.rows, usual.wire && { ...usual.wire, first });
    first += b.rows.length;
    if (rightHashes[i % rightHashes.length]) out = out.replace(PLACEHOLDER, hash);
    else out = out.replace(PLACEHOLDER, 'f'.repeat(64));
  });
  return out;
}

/** What the worker's reader hands over: per bundle its hash verdict and rows, or undefined when it declines. */
function readByWorker(body: string) {
  const capacity = recordCapacity(body.length);
  const task = {
    body,
    schema: 'business',
    afterBundleSeq: 0,
    tables: plainTables,
    control: new SharedArrayBuffer(CONTROL_WORDS * 4),
    records: new SharedArrayBuffer(capacity.words * 4),
    numbers: new SharedArrayBuffer(capacity.numbers * 8),
  };
  new PullPageReader(task).read();
  const control = new Int32Array(task.control);
  if (control[CONTROL.status] !== STATUS.read) return undefined;
  const records = new Int32Array(task.records);
  const numbers = new Float64Array(task.numbers);
  const bundles: { hashMatches: boolean; rows: unknown[] }[] = [];
  let n = 0;
  for (let at = 0; at < control[CONTROL.published]!;) {
    const tag = records[at]!;
    if (tag === RECORD.page || tag === RECORD.bundle) {
      n++;
      if (tag === RECORD.bundle) bundles.push({ hashMatches: false, rows: [] });
      at += 2;
    } else if (tag === RECORD.bundleEnd) {
      bundles.at(-1)!.hashMatches = records[at + 1] === 1;
      at += 2;
    } else {
      const table = tables[records[at + 1]!]!;
      const values: (string | null)[] = [];
      const columns = tag === RECORD.delete ? 0 : table.columns.length;
      for (let i = 0; i < columns; i++) {
        const start = records[at + 4 + 2 * i]!;
        values.push(start < 0 ? null : body.slice(start, records[at + 5 + 2 * i]));
      }
      const localKey = body.slice(records[at + 2], records[at + 3]);
      bundles.at(-1)!.rows.push({
        table: table.name,
        op: { [RECORD.insert]: 'INSERT', [RECORD.update]: 'UPDATE', [RECORD.delete]: 'DELETE' }[tag],
        rowVersion: numbers[n++],
        localKey,
        keyJson: body.slice(records[at + 2]! - '{"id":"'.length, records[at + 3]! + 2),
        values: tag === RECORD.delete ? undefined : values,
      });
      at += 4 + 2 * columns;
    }
  }
  return { hasMore: control[CONTROL.hasMore] === 1, bundles };
}

describe('PullPageReader (the pull worker thread)', () => {
  it('vouches only for pages the usual way accepts, with the same hash verdicts and rows', () => {
    let vouched = 0;
    let rowsCompared = 0;
    fc.assert(
      fc.property(page, fc.array(fc.boolean(), { minLength: 1, maxLength: 3 }), (generated, rightHashes) => {
        const body = withHashes(
          generated,
          rightHashes.map((right, i) => right || i === 0),
        );
        const read = readByWorker(body);
        if (read === undefined) return;
        vouched++;
        // the usual way: decode, validate, then per bundle its hash and each row resolved and decoded
        const usual = decodePullPage(body);
        validatePullPage(ctx, usual.page, 0);
        expect(read.hasMore).toBe(usual.page.has_more);
        expect(read.bundles).toHaveLength(usual.page.bundles.length);
        let first = 0;
        usual.page.bundles.forEach((b, i) => {
          const hash = pulledBundleHash(b.rows, usual.wire && { ...usual.wire, first });
          expect(read.bundles[i]!.hashMatches).toBe(hash === b.bundle_hash);
          const rows = b.rows.map((r, j) => {
            const at = 4 * (first + j);
            const keyText = usual.wire?.body.slice(usual.wire.spans[at], usual.wire.spans[at + 1]);
            const ref = resolveWireRow(ctx, r.table, r.key, keyText);
            return {
              table: ref.table.name,
              op: r.op,
              rowVersion: Number(r.row_version),
              localKey: ref.localKey,
              keyJson: ref.keyJson,
              values: r.op === 'DELETE' ? undefined : sqlValuesFromWirePayload(ref.table, r.payload as JsonObject),
            };
          });
          rowsCompared += rows.length;
          expect(read.bundles[i]!.rows).toEqual(rows);
          first += b.rows.length;
        });
      }),
      { numRuns: 1500 },
    );
    // not vacuous: many pages in the layout are vouched for, with rows
    expect(vouched).toBeGreaterThan(100);
    expect(rowsCompared).toBeGreaterThan(200);
  });
});
