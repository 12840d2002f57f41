import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { OversyncScopeService } from '@oversync/nestjs';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { SyncHttp } from '../support/sync-http.js';

const ROWS = Number(process.env.OVERSYNC_SNAPSHOT_MEMORY_ROWS ?? 200_000);
const SEED_BATCH = 20_000;
const MB = 1024 * 1024;

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Heap still in use after a full collection, in MB: what the process keeps, not what it has not freed yet. */
function retainedHeapMb(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed / MB;
}

// Acceptance of issue 6: the server's memory stays bounded while it creates and serves a large snapshot.
describe(`memory while serving a ${ROWS}-row snapshot`, () => {
  let t: TestApp;
  let device: SyncHttp;

  beforeAll(async () => {
    t = await startTestApp();
    device = new SyncHttp(t.baseUrl, await t.signIn('mia'), 'mia-fresh');
    const scopes = t.app.get(OversyncScopeService);
    for (let seeded = 0; seeded < ROWS; seeded += SEED_BATCH) {
      await scopes.execWrite('mia', { writerId: 'seed' }, (m) =>
        m.query(
          `INSERT INTO business.users (id, name, email)
                 SELECT gen_random_uuid(), 'user ' || g, 'user' || g || '@example.com' FROM generate_series(1,
                   $1::int) g`,
          [Math.min(SEED_BATCH, ROWS - seeded)],
        ),
      );
    }
  }, 600_000);
  afterAll(async () => t.close());

  it('creates the session without loading rows and pages it chunk by chunk', async () => {
    const before = retainedHeapMb();
    const rssBefore = process.memoryUsage().rss / MB;
    let peakRss = rssBefore;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss / MB)), 10);
    const created = await device.post('/sync/snapshot-sessions').expect(200);
    expect(created.body.row_count).toBe(ROWS);
    let retained = retainedHeapMb() - before;
    let rows = 0;
    for (let after = 0, chunks = 1; ; chunks++) {
      const chunk = await device
        .get(`/sync/snapshot-sessions/${created.body.snapshot_id}?after_row_ordinal=${after}&max_rows=5000`)
        .expect(200);
      rows += chunk.body.rows.length;
      after = chunk.body.next_row_ordinal;
      if (chunks % 10 === 0) retained = Math.max(retained, retainedHeapMb() - before);
      if (!chunk.body.has_more) break;
    }
    clearInterval(sampler);
    expect(rows).toBe(ROWS);
    console.log(
      `snapshot of ${ROWS} rows / ${Math.round(created.body.byte_count / MB)} MB of payload: ` +
        (`heap retained while creating and serving ≤ ${retained.toFixed(1)} MB, peak RSS +` +
          `${Math.round(peakRss - rssBefore)} MB (client and server in one process)`),
    );
    // What the process keeps does not grow with the snapshot: far below its payload size.
    expect(retained).toBeLessThan(32);
  }, 600_000);
});
