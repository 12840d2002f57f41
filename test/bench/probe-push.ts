import { randomUUID } from 'node:crypto';
import { startBenchServer } from './bench-server.js';

const N = Number(process.argv[2] ?? 100000);
const server = await startBenchServer();
try {
  const token = await server.signIn('bench');
  const headers = (source: string) => ({ authorization: `Bearer ${token}`, 'oversync-source-id': source, 'content-type': 'application/json' });
  const call = async (method: string, path: string, source: string, body?: unknown) => {
    const res = await fetch(server.baseUrl + path, { method, headers: headers(source), body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return text;
  };
  await call('POST', '/sync/connect', 's1', { has_local_pending_rows: false });
  const now = new Date().toISOString();
  const rows = Array.from({ length: N }, (_, i) => {
    const id = randomUUID();
    return { schema: 'business', table: 'users', key: { id }, op: 'INSERT', base_row_version: 0, payload: { id, name: `User ${i}`, email: `user${i}@example.com`, created_at: now, updated_at: now } };
  });
  const t0 = performance.now();
  const created = JSON.parse(await call('POST', '/sync/push-sessions', 's1', { source_bundle_id: 1, planned_row_count: N }));
  for (let start = 0; start < N; start += 5000) {
    await call('POST', `/sync/push-sessions/${created.push_id}/chunks`, 's1', { start_row_ordinal: start, rows: rows.slice(start, start + 5000) });
  }
  const t1 = performance.now();
  const commit = await call('POST', `/sync/push-sessions/${created.push_id}/commit`, 's1');
  const t2 = performance.now();
  console.log(`push ${N}: chunks ${(t1 - t0).toFixed(0)} ms, commit ${(t2 - t1).toFixed(0)} ms, total ${((N / (t2 - t0)) * 1000).toFixed(0)} rows/s`, commit.slice(0, 80));
  const t3 = performance.now();
  const pulled = await call('GET', '/sync/pull?after_bundle_seq=0', 's2');
  const t4 = performance.now();
  console.log(`pull ${N}: ${(t4 - t3).toFixed(0)} ms (${((N / (t4 - t3)) * 1000).toFixed(0)} rows/s), ${(pulled.length / 1048576).toFixed(1)} MiB; server peak RSS ${server.peakRssMiB().toFixed(0)} MiB`);
} finally {
  await server.stop();
}
