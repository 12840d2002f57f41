import { startBenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';
import { percentile } from './stats.js';
const server = await startBenchServer();
try {
  const a = new SyncApi(server.baseUrl, await server.signIn('u'), 'a');
  await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
  const time = async (label: string, fn: () => Promise<unknown>) => {
    const xs: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await fn();
      xs.push(performance.now() - t);
    }
    console.log(label.padEnd(20), 'p50', percentile(xs, 50).toFixed(2), 'p95', percentile(xs, 95).toFixed(2));
  };
  await time('health', () => fetch(server.baseUrl + '/syncx/health').then((r) => r.text()));
  await time('capabilities', () => a.call('GET', '/sync/capabilities'));
  await time('pull', () => a.call('GET', '/sync/pull?after_bundle_seq=0'));
  let n = 0;
  await time('create', () => a.call('POST', '/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1 }));
  await time('push1', () => a.push(++n, userRows(1)));
} finally {
  await server.stop();
}
