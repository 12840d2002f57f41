// Server-side bulk figures: snapshot hydration over HTTP alone (no client apply) with per-chunk
// cost at the start and the end of the snapshot, and the server's RSS growth while it serves one
// large pull. Used by run.ts in the hydration phase.
import type { BenchServer } from './bench-server.js';
import { SyncApi } from './sync-api.js';

export interface ServerHydration {
  rows: number;
  createMs: number;
  chunksMs: number;
  rowsPerSec: number;
  /** median ms of the first and of the last 10 chunks: equal when chunk cost is independent of position and size */
  firstChunksMs: number;
  lastChunksMs: number;
  /** server VmHWM during this run minus RSS before it, MiB */
  rssGrowthMiB: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** create + every chunk of 5,000 rows, bodies read and counted; then the session is deleted. */
export async function serverHydration(server: BenchServer, api: SyncApi): Promise<ServerHydration> {
  const before = server.rssMiB();
  server.resetPeakRss();
  const t0 = performance.now();
  const created = JSON.parse(await api.call('POST', '/sync/snapshot-sessions', {})) as {
    snapshot_id: string;
    row_count: number;
  };
  const t1 = performance.now();
  let after = 0;
  let received = 0;
  const chunkMs: number[] = [];
  for (;;) {
    const t = performance.now();
    const page = JSON.parse(
      await api.call('GET', `/sync/snapshot-sessions/${created.snapshot_id}?after_row_ordinal=${after}&max_rows=5000`),
    ) as { rows: unknown[]; next_row_ordinal: number; has_more: boolean };
    chunkMs.push(performance.now() - t);
    received += page.rows.length;
    after = page.next_row_ordinal;
    if (!page.has_more) break;
  }
  const t2 = performance.now();
  await api.call('DELETE', `/sync/snapshot-sessions/${created.snapshot_id}`);
  if (received !== created.row_count) throw new Error(`snapshot gave ${received} of ${created.row_count} rows`);
  return {
    rows: received,
    createMs: t1 - t0,
    chunksMs: t2 - t1,
    rowsPerSec: (received / (t2 - t0)) * 1000,
    firstChunksMs: median(chunkMs.slice(0, 10)),
    lastChunksMs: median(chunkMs.slice(-10)),
    rssGrowthMiB: server.windowPeakRssMiB() - before,
  };
}

/** One pull from 0 with `maxBundles`, body read as it arrives and dropped; the server's RSS growth meanwhile. */
export async function pullRssGrowth(
  server: BenchServer,
  api: SyncApi,
  maxBundles: number,
): Promise<{ bytes: number; ms: number; rssGrowthMiB: number; rssBeforeMiB: number }> {
  const rssBeforeMiB = server.rssMiB();
  server.resetPeakRss();
  const t = performance.now();
  const res = await fetch(`${api.baseUrl}/sync/pull?after_bundle_seq=0&max_bundles=${maxBundles}`, {
    headers: { authorization: `Bearer ${api.token}`, 'oversync-source-id': api.sourceId },
  });
  if (!res.ok || !res.body) throw new Error(`pull: ${res.status}`);
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
  return { bytes, ms: performance.now() - t, rssGrowthMiB: server.windowPeakRssMiB() - rssBeforeMiB, rssBeforeMiB };
}

/** A pull whose body is read as it arrives, as Buffers (counted, dropped but the first 4 KiB); ms to its last byte. */
export async function pullAsBuffers(api: SyncApi, path: string): Promise<{ ms: number; bytes: number; head: string }> {
  const t = performance.now();
  const res = await fetch(api.baseUrl + path, {
    headers: { authorization: `Bearer ${api.token}`, 'oversync-source-id': api.sourceId },
  });
  if (!res.ok || !res.body) throw new Error(`GET ${path}: ${res.status}`);
  let bytes = 0;
  let head = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    if (bytes < 4096) head += Buffer.from(chunk.subarray(0, 4096 - bytes)).toString('latin1');
    bytes += chunk.length;
  }
  return { ms: performance.now() - t, bytes, head };
}

/** The same pull with its body read as one string (SyncApi.call: fetch's text()). */
export async function pullAsString(api: SyncApi, path: string): Promise<{ ms: number; bytes: number; head: string }> {
  const t = performance.now();
  const body = await api.call('GET', path);
  return { ms: performance.now() - t, bytes: body.length, head: body.slice(0, 4096) };
}
