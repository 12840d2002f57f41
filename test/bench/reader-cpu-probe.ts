// The pull worker's reader alone (issue #23): CPU ms to read a 100,000-row page given whole (positions into
// the applying thread's text) against given in 64 KiB pieces as it arrives (batches carrying their text), each
// with `plainBytes` of its bytes as the worker gives it,
// and what posting the batches to another thread adds. Medians of PROBE_REPS (default 7), alternating.
//   npx tsx test/bench/reader-cpu-probe.ts [rows]
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { computeBundleHash, type BundleHashRow } from '@oversync/protocol';
import { plainBytes, PullPageReader } from '../../apps/client-node/dist/pull-page-reader.js';
import type { PageBatch, PageEnd } from '../../apps/client-node/dist/pull-page-records.js';
import { userRows } from './sync-api.js';

const rowCount = Number(process.argv[2] ?? 100_000);
const reps = Number(process.env.PROBE_REPS ?? 7);
// payload members in PostgreSQL's jsonb order (shorter names first), as the server sends them
const jsonbOrder = (payload: Record<string, string>) =>
  Object.fromEntries(Object.entries(payload).sort(([a], [b]) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)));
const rows = userRows(rowCount).map((r, i): BundleHashRow => ({
  schema: 'business',
  table: 'users',
  key: r.key,
  op: 'INSERT',
  row_version: i + 1,
  payload: jsonbOrder({ id: r.key.id, ...r.payload }),
}));
const hash = computeBundleHash(rows).bundleHash;
const body =
  `{"stable_bundle_seq":1,"bundles":[{"bundle_seq":1,"source_id":"s","source_bundle_id":1,"row_count":${rowCount},` +
  `"bundle_hash":"${hash}","rows":[${rows.map((r) => JSON.stringify(r)).join(',')}]}],"has_more":false}`;
const bytes = Buffer.from(body);
const shape = {
  schema: 'business',
  afterBundleSeq: 0,
  tables: [{ name: 'users', index: 0, keyColumn: 'id', columns: ['id', 'name', 'email', 'created_at', 'updated_at'] }],
};
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const ways = {
  whole: (post: (m: PageBatch | PageEnd) => void) =>
    new PullPageReader(shape, post, false).feed(new TextDecoder().decode(bytes), true, plainBytes(bytes)),
  pieces: (post: (m: PageBatch | PageEnd) => void) => {
    const reader = new PullPageReader(shape, post, true);
    const decoder = new TextDecoder();
    for (let at = 0; at < bytes.length; at += 65536) {
      const piece = bytes.subarray(at, at + 65536);
      reader.feed(decoder.decode(piece, { stream: true }), false, plainBytes(piece));
    }
    reader.feed(decoder.decode(), true, true);
  },
};
const results: Record<string, number[]> = {};
for (let rep = 0; rep < reps; rep++) {
  for (const [name, run] of Object.entries(ways)) {
    for (const posted of [false, true]) {
      const { port1, port2 } = new MessageChannel();
      let ended: PageEnd | undefined;
      const t = cpu();
      run((m) => {
        if (m.kind === 'end') ended = m;
        if (posted) port2.postMessage(m);
      });
      const readMs = cpu() - t;
      const r = cpu();
      if (posted)
        while (receiveMessageOnPort(port1)) {
          // every batch taken, as the applying thread does
        }
      const receiveMs = cpu() - r;
      port1.close();
      if (ended?.status !== 1) throw new Error(`${name}: not read`);
      (results[`${name}${posted ? ' posted' : ''}`] ??= []).push(readMs);
      if (posted) (results[`${name} received`] ??= []).push(receiveMs);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [name, xs] of Object.entries(results))
  console.log(`${name.padEnd(18)} ${median(xs).toFixed(1)} ms (${xs.map((x) => x.toFixed(0)).join(' ')})`);
