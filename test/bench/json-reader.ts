// Micro bench of the one JSON reader (libs/protocol json-reader.ts) on the two hot bodies: a 5,000-row
// push chunk as the server binds it, and a 5,000-row pull page as the client decodes it. Beside each,
// JSON.parse with the same work on its plain result: the native floor the reader is compared with.
// The pull page's strings hold escaped quotes, so the client reads it with the full reader; the same
// page without them is in the servers' plain layout, which the client reads with the layout view.
import { randomUUID } from 'node:crypto';
import {
  bindMember,
  bindScalar,
  canonicalExactJson,
  canonicalJson,
  isExactObject,
  MAX_REQUEST_JSON_DEPTH,
  parseExactJson,
  readInt64,
  readPullPageLayout,
  readString,
  type ExactJson,
  type JsonValue,
} from '@oversync/protocol';
import { decodePull } from '../../apps/client-node/dist/wire-decode.js';
import { userInsertRow } from '../support/wire-rows.js';
import { summarize, type Summary } from './stats.js';

const ROWS = 5_000;

function payload(i: number, id: string, now: string, quoted = true): Record<string, unknown> {
  return {
    id,
    name: quoted ? `User ${i} "ü"` : `User ${i} ü`,
    email: `user${i}@example.com`,
    age: 20 + (i % 60),
    score: i * 1.25,
    active: i % 2 === 0,
    note: null,
    created_at: now,
    updated_at: now,
  };
}

function pushChunkBody(): string {
  const now = new Date().toISOString();
  const rows = Array.from({ length: ROWS }, (_, i) => {
    const id = randomUUID();
    return userInsertRow(id, payload(i, id, now));
  });
  return JSON.stringify({ start_row_ordinal: 0, rows });
}

function pullPageBody(quoted = true): string {
  const now = new Date().toISOString();
  const bundles = Array.from({ length: 10 }, (_, b) => ({
    bundle_seq: b + 1,
    source_id: randomUUID(),
    source_bundle_id: b + 1,
    row_count: ROWS / 10,
    bundle_hash: 'ab'.repeat(32),
    rows: Array.from({ length: ROWS / 10 }, (_, i) => {
      const id = randomUUID();
      return {
        schema: 'business',
        table: 'users',
        key: { id },
        op: 'UPDATE',
        row_version: b * ROWS + i + 1,
        payload: payload(i, id, now, quoted),
      };
    }),
  }));
  return JSON.stringify({ stable_bundle_seq: 10, bundles, has_more: false });
}

/**
 * The server's binding of a push chunk (push-chunk.parser.ts): Go member binding, the canonical key
 * and each payload member's canonical value.
 */
function bindChunk(body: string): number {
  const document = parseExactJson(body, MAX_REQUEST_JSON_DEPTH);
  if (!isExactObject(document)) throw new Error('not an object');
  let bytes = Number(bindScalar(document, 'start_row_ordinal', readInt64));
  for (const row of bindMember(document, 'rows') as ExactJson[]) {
    if (!isExactObject(row)) throw new Error('row');
    bytes += (bindScalar(row, 'schema', readString) ?? '').length + (bindScalar(row, 'table', readString) ?? '').length;
    bytes += (bindScalar(row, 'op', readString) ?? '').length + Number(bindScalar(row, 'base_row_version', readInt64));
    bytes += canonicalExactJson(bindMember(row, 'key')!).length;
    const payload = bindMember(row, 'payload');
    if (!isExactObject(payload)) throw new Error('payload');
    for (const [, value] of payload.members) bytes += canonicalExactJson(value).length;
  }
  return bytes;
}

/** The same work over JSON.parse (no Go binding, no exact numbers, no duplicates, no depth limit). */
function bindChunkNative(body: string): number {
  const document = JSON.parse(body) as { start_row_ordinal: number; rows: Array<Record<string, JsonValue>> };
  let bytes = document.start_row_ordinal;
  for (const row of document.rows) {
    bytes +=
      String(row.schema).length + String(row.table).length + String(row.op).length + Number(row.base_row_version);
    bytes += canonicalJson(row.key!).length;
    for (const value of Object.values(row.payload as Record<string, JsonValue>)) bytes += canonicalJson(value).length;
  }
  return bytes;
}

/** JSON.parse of a pull page, mapped to the client's row shape. */
function decodePullNative(body: string): number {
  const page = JSON.parse(body) as {
    bundles: Array<Record<string, unknown> & { rows: Array<Record<string, unknown>> }>;
  };
  let rows = 0;
  for (const bundle of page.bundles) {
    const mapped = bundle.rows.map((r) => ({
      schema: r.schema,
      table: r.table,
      key: r.key,
      op: r.op,
      rowVersion: r.row_version,
      payload: r.payload,
    }));
    rows += mapped.length;
  }
  return rows;
}

/** Process CPU milliseconds per call (steadier than wall time on a shared machine). */
function time(work: () => unknown, reps: number): Summary {
  for (let i = 0; i < 3; i++) work();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = process.cpuUsage();
    work();
    const used = process.cpuUsage(start);
    ms.push((used.user + used.system) / 1000);
  }
  return summarize(ms);
}

export interface JsonReaderBench {
  rows: number;
  pushChunkBytes: number;
  pullPageBytes: number;
  /** process CPU milliseconds per body */
  pushChunkReaderMs: Summary;
  pushChunkJsonParseMs: Summary;
  pullPageReaderMs: Summary;
  pullPageJsonParseMs: Summary;
  /** the same page without escapes, read by the layout view (`readPullPageLayout`) */
  pullPageLayoutViewMs: Summary;
}

export function measureJsonReader(reps = 30): JsonReaderBench {
  const chunk = pushChunkBody();
  const page = pullPageBody();
  const plainPage = pullPageBody(false);
  if (decodePull(page).bundles.length !== 10) throw new Error('pull page did not decode');
  if (readPullPageLayout(plainPage)?.bundles.length !== 10) throw new Error('layout view refused the plain page');
  return {
    rows: ROWS,
    pushChunkBytes: Buffer.byteLength(chunk),
    pullPageBytes: Buffer.byteLength(page),
    pushChunkReaderMs: time(() => bindChunk(chunk), reps),
    pushChunkJsonParseMs: time(() => bindChunkNative(chunk), reps),
    pullPageReaderMs: time(() => decodePull(page), reps),
    pullPageJsonParseMs: time(() => decodePullNative(page), reps),
    pullPageLayoutViewMs: time(() => readPullPageLayout(plainPage), reps),
  };
}

/** `--only json`: the figures as table lines (process CPU ms per 5,000-row body, median (min–max)). */
export function jsonReaderPhase(
  print: (label: string, value: string, reference?: string) => void,
  quick = false,
): JsonReaderBench {
  const bench = measureJsonReader(quick ? 10 : 30);
  const ms = (s: Summary) => `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  print(
    `json reader: ${bench.rows}-row push chunk (${mib(bench.pushChunkBytes)} MiB) bound, CPU ms`,
    ms(bench.pushChunkReaderMs),
    `JSON.parse + same work ${ms(bench.pushChunkJsonParseMs)}`,
  );
  print(
    `json reader: ${bench.rows}-row pull page (${mib(bench.pullPageBytes)} MiB) decoded, CPU ms`,
    ms(bench.pullPageReaderMs),
    `JSON.parse + mapping ${ms(bench.pullPageJsonParseMs)}`,
  );
  print(`json reader: the same page without escapes, layout view, CPU ms`, ms(bench.pullPageLayoutViewMs));
  return bench;
}
