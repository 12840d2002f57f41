// Chunk COPY A/B probe: two builds' `stageChunkByCopy` alternating in this one process (same heap, same load) on
// 20 chunks of 5,000 `business.users` rows, against a stand-in client that answers the session statements and
// takes the COPY's bytes without a database: the parse and the COPY lines, what a bulk chunk costs Node besides
// the HTTP body. CPU ms per 100,000 rows, median of PROBE_REPS (default 20) passes per build, the first two
// dropped; the COPY bytes of both builds are hashed and must be equal. Builds' compiled `libs/oversync/dist`:
// BENCH_BASE_CWD (default /work/main) against this worktree. `PROBE_ONLY=this` runs one build (for --cpu-prof).
// `npx tsx test/bench/chunk-copy-ab-probe.ts`
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type * as Copy from '../../libs/oversync/src/push/push-chunk-copy.js';
import type * as Parser from '../../libs/oversync/src/push/push-chunk.parser.js';
import { SyncCatalog } from '../../libs/oversync/src/schema/sync-catalog.js';
import { userRows, usersTable as users } from './sync-api.js';

const load = async (root: string) => ({
  copy: (await import(`${root}/libs/oversync/dist/push/push-chunk-copy.js`)) as typeof Copy,
  parser: (await import(`${root}/libs/oversync/dist/push/push-chunk.parser.js`)) as typeof Parser,
});
const all = { base: await load(process.env.BENCH_BASE_CWD ?? '/work/main'), this: await load(process.cwd()) };
const only = process.env.PROBE_ONLY as keyof typeof all | undefined;
const catalog = new SyncCatalog([users]);
const chunks = 20;
const bodies = Array.from({ length: chunks }, (_, c) =>
  JSON.stringify({ start_row_ordinal: c * 5000, rows: userRows(5000) }),
);
const pushId = '0b6f5a4e-3c1d-4e2f-8a9b-0c1d2e3f4a5b';

/** A client that opens every chunk where its body starts and hashes the COPY's bytes. */
function standIn(hash: ReturnType<typeof createHash>, chunk: number) {
  return {
    query(statement: unknown) {
      if (typeof statement !== 'string')
        return new Writable({
          write(bytes: Buffer, _encoding, done) {
            hash.update(bytes);
            done();
          },
        });
      const opened = {
        out_next_row_ordinal: String(chunk * 5000),
        out_planned_row_count: String(chunks * 5000),
        out_stage_ms: [0, 0],
        out_lock_waited: false,
      };
      return Promise.resolve([{ rows: [] }, { rows: [opened] }]);
    },
  };
}
const call = {
  pushId,
  userId: 'u',
  sourceId: 's',
  sessionTtlMs: 1,
  leaseTtlMs: 1,
  lockTimeoutMs: 1,
  uploadLockTimeoutMs: 1,
};

async function pass(build: (typeof all)[keyof typeof all]): Promise<[cpuMs: number, digest: string]> {
  const hash = createHash('sha256');
  const before = process.cpuUsage();
  for (let c = 0; c < chunks; c++) {
    const body = bodies[c]!;
    const db = { withClient: (fn: (client: unknown) => Promise<unknown>) => fn(standIn(hash, c)) };
    const result = await build.copy.stageChunkByCopy(db as never, call, (sink) =>
      build.parser.parsePushChunkRows(body, catalog, 10_000, sink),
    );
    if (result.status !== 'staged') throw new Error('declined');
  }
  const used = process.cpuUsage(before);
  return [(used.user + used.system) / 1000, hash.digest('hex')];
}

const names = only ? [only] : (['base', 'this'] as const);
const times: Record<string, number[]> = { base: [], this: [] };
const digests = new Set<string>();
for (let rep = 0; rep < Number(process.env.PROBE_REPS ?? 20); rep++) {
  for (const name of rep % 2 ? [...names].reverse() : names) {
    const [ms, digest] = await pass(all[name]);
    times[name]!.push(ms);
    digests.add(digest);
  }
}
for (const name of names) {
  const kept = times[name]!.slice(2).sort((x, y) => x - y);
  console.log(
    `${name}: CPU ms median ${kept[kept.length >> 1]!.toFixed(0)} (${kept[0]!.toFixed(0)}–${kept.at(-1)!.toFixed(0)})`,
  );
}
console.log(digests.size === 1 ? 'COPY bytes identical' : `COPY bytes DIFFER (${digests.size} digests)`);
