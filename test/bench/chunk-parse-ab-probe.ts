// Chunk parse A/B probe: two builds' parsePushChunk alternating in this one process (same heap, same load), on
// 20 chunks of 5,000 `business.users` rows, each followed by what the service does with the columns: the
// parameter texts of `sync.push_chunk` and their UTF-8 encoding (as node-postgres writes them; a rope left by
// the parser is flattened there). CPU ms per 100,000 rows, median of PROBE_REPS (default 20) passes per build,
// the first two dropped. Builds' compiled `libs/oversync/dist`: BENCH_BASE_CWD (default /work/main) against
// this worktree. `npx tsx test/bench/chunk-parse-ab-probe.ts`
import type * as Parser from '../../libs/oversync/src/push/push-chunk.parser.js';
import { SyncCatalog } from '../../libs/oversync/src/schema/sync-catalog.js';
import { userRows, usersTable as users } from './sync-api.js';

const load = async (root: string) =>
  (await import(`${root}/libs/oversync/dist/push/push-chunk.parser.js`)) as typeof Parser;
const builds = { base: await load(process.env.BENCH_BASE_CWD ?? '/work/main'), this: await load(process.cwd()) };
const catalog = new SyncCatalog([users]);
const bodies = Array.from({ length: 20 }, (_, c) =>
  JSON.stringify({ start_row_ordinal: c * 5000, rows: userRows(5000) }),
);
const times: Record<keyof typeof builds, number[]> = { base: [], this: [] };
let bytes = 0;
for (let rep = 0; rep < Number(process.env.PROBE_REPS ?? 20); rep++) {
  for (const name of rep % 2 ? (['this', 'base'] as const) : (['base', 'this'] as const)) {
    const before = process.cpuUsage();
    for (const body of bodies) {
      const chunk = builds[name].parsePushChunk(body, catalog, 10_000);
      for (const text of [
        `{${chunk.tableIds.join(',')}}`,
        `{"${chunk.keyHex.join('","')}"}`,
        `{${chunk.opCodes.join(',')}}`,
        `{${chunk.baseRowVersions.join(',')}}`,
        chunk.payloads,
      ])
        bytes += Buffer.byteLength(text);
    }
    const used = process.cpuUsage(before);
    times[name].push((used.user + used.system) / 1000);
  }
}
for (const [name, all] of Object.entries(times)) {
  const kept = all.slice(2).sort((x, y) => x - y);
  console.log(
    `${name}: CPU ms median ${kept[kept.length >> 1]!.toFixed(0)} (${kept[0]!.toFixed(0)}–${kept.at(-1)!.toFixed(0)})`,
  );
}
console.log(`${(bytes / 1e6).toFixed(0)} MB of parameters`);
