import { describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { resolveWireRow } from './authoritative-apply.js';
import { pulledBundleHash } from './bundle-hash.js';
import type { ClientContext } from './client-context.js';
import { inspectManagedTables } from './managed-table.js';
import { decodePullPage, validatePullPage } from './pull.js';
import { plainBytes, PullPageReader } from './pull-page-reader.js';
import { type PageBatch, type PageEnd, RECORD, STATUS } from './pull-page-records.js';
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

/**
 * What the worker's reader hands over: per bundle its hash verdict and rows, or undefined when it declines.
 * `cuts`: the body given in pieces at these fractions of its length, the batches then carrying their text
 * (a page the worker requests); none: the body given whole, positions into it.
 */
function readByWorker(body: string, cuts: number[] = []) {
  const messages: (PageBatch | PageEnd)[] = [];
  const withText = cuts.length > 0;
  const reader = new PullPageReader(
    { schema: 'business', afterBundleSeq: 0, tables: plainTables },
    (message) => messages.push(message),
    withText,
  );
  const ends = [...new Set(cuts.map((cut) => Math.floor(cut * body.length)))].sort((a, b) => a - b);
  let from = 0;
  // each piece (or the whole body) with what the worker knows of its bytes (`plainBytes`), as the worker gives them
  const feed = (piece: string, done: boolean) => reader.feed(piece, done, plainBytes(Buffer.from(piece)));
  for (const end of ends) {
    feed(body.slice(from, end), false);
    from = end;
  }
  feed(body.slice(from), true);
  const end = messages.at(-1);
  if (end?.kind !== 'end' || messages.filter((m) => m.kind === 'end').length !== 1) throw new Error('no single end');
  if (end.status !== STATUS.read) return undefined;
  const bundles: { hashMatches: boolean; rows: unknown[] }[] = [];
  let textAt = 0;
  for (const batch of messages) {
    if (batch.kind !== 'batch') continue;
    // a batch's text continues the previous one's: the texts together are the body
    if (withText) expect(body.slice(textAt, textAt + batch.text!.length)).toBe(batch.text);
    const text = batch.text ?? body;
    const offset = batch.text === undefined ? batch.at : 0;
    if (withText) textAt += batch.text!.length;
    const { words, numbers } = batch;
    let n = 0;
    for (let at = 0; at < words.length;) {
      const tag = words[at]!;
      if (tag === RECORD.page || tag === RECORD.bundle) {
        n++;
        if (tag === RECORD.bundle) bundles.push({ hashMatches: false, rows: [] });
        at += 2;
      } else if (tag === RECORD.bundleEnd) {
        bundles.at(-1)!.hashMatches = words[at + 1] === 1;
        at += 2;
      } else {
        const table = tables[words[at + 1]!]!;
        const values: (string | null)[] = [];
        const columns = tag === RECORD.delete ? 0 : table.columns.length;
        for (let i = 0; i < columns; i++) {
          const start = words[at + 4 + 2 * i]!;
          values.push(start < 0 ? null : text.slice(offset + start, offset + words[at + 5 + 2 * i]!));
        }
        const keyAt = offset + words[at + 2]!;
        const keyEnd = offset + words[at + 3]!;
        bundles.at(-1)!.rows.push({
          table: table.name,
          op: { [RECORD.insert]: 'INSERT', [RECORD.update]: 'UPDATE', [RECORD.delete]: 'DELETE' }[tag],
          rowVersion: numbers[n++],
          localKey: text.slice(keyAt, keyEnd),
          keyJson: text.slice(keyAt - '{"id":"'.length, keyEnd + 2),
          values: tag === RECORD.delete ? undefined : values,
        });
        at += 4 + 2 * columns;
      }
    }
    expect(n).toBe(numbers.length);
  }
  return { hasMore: end.hasMore, bundles };
}

describe('PullPageReader (the pull worker thread)', () => {
  it('vouches only for pages the usual way accepts, with the same hash verdicts and rows', () => {
    let vouched = 0;
    let rowsCompared = 0;
    fc.assert(
      fc.property(
        page,
        fc.array(fc.boolean(), { minLength: 1, maxLength: 3 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        (generated, rightHashes, cuts) => {
          const body = withHashes(
            generated,
            rightHashes.map((right, i) => right || i === 0),
          );
          const read = readByWorker(body);
          // the same body given in pieces (as it arrives): the same verdict and rows
          expect(readByWorker(body, [...cuts, 0.5])).toEqual(read);
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
        },
      ),
      { numRuns: 1500 },
    );
    // not vacuous: many pages in the layout are vouched for, with rows
    expect(vouched).toBeGreaterThan(100);
    expect(rowsCompared).toBeGreaterThan(200);
  });

  it('calls bytes plain only when their text holds nothing a string needs looked at', () => {
    const special = /[\\\x00-\x1f<>&\u0080-\uffff]/;
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.nat(7), (text, offset) => {
        const bytes = Buffer.from(text);
        // at every alignment of the view (the four-byte steps start at an aligned byte)
        const shifted = new Uint8Array(bytes.length + offset);
        shifted.set(bytes, offset);
        expect(plainBytes(shifted.subarray(offset))).toBe(!special.test(text));
      }),
      { numRuns: 3000 },
    );
    expect(plainBytes(Buffer.from('{"a":"b c","d":null}'.repeat(50)))).toBe(true);
  });
});
