// Chunk parse probe: parsePushChunk of CHUNK_PROBE_CHUNKS (default 20) chunks of 5,000 `business.users`
// rows (the bulk push workload) in this process, no server or database: CPU ms of the parse alone,
// median of PROBE_REPS (default 5) passes. `npx tsx test/bench/chunk-parse-probe.ts`
import { parsePushChunk } from '../../libs/oversync/src/push/push-chunk.parser.js';
import { SyncCatalog } from '../../libs/oversync/src/schema/sync-catalog.js';
import { userRows, usersTable as users } from './sync-api.js';

const chunks = Number(process.env.CHUNK_PROBE_CHUNKS ?? 20);
const reps = Number(process.env.PROBE_REPS ?? 5);
const catalog = new SyncCatalog([users]);
const bodies = Array.from({ length: chunks }, (_, c) =>
  JSON.stringify({ start_row_ordinal: c * 5000, rows: userRows(5000) }),
);
const times: number[] = [];
for (let rep = 0; rep < reps; rep++) {
  const before = process.cpuUsage();
  for (const body of bodies) parsePushChunk(body, catalog, 10_000);
  const used = process.cpuUsage(before);
  times.push((used.user + used.system) / 1000);
}
times.sort((a, b) => a - b);
console.log(
  `parse of ${chunks} × 5,000 rows: CPU ms median ${times[Math.floor(times.length / 2)]!.toFixed(0)} ` +
    `(all ${times.map((t) => t.toFixed(0)).join(', ')})`,
);
