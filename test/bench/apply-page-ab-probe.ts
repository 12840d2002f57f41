// Issue 23 probe: two builds' `applyAuthoritativePage` (the pull's apply, no server, no worker) side by side
// in one process, alternating A B B A…: PROBE_ROWS (default 100,000) random-key users in 1,000-row pages into
// a fresh device file, then updates of every row (version + 1), then runs of 10 updates and 10 new rows.
// Prints this process's CPU µs a row per phase and the medians. Each build's compiled `apps/client-node/dist`:
// BENCH_BASE_CWD (the other build's checkout, required) against this worktree.
//   BENCH_BASE_CWD=<checkout> npx tsx test/bench/apply-page-ab-probe.ts [pairs]
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type * as Apply from '../../apps/client-node/src/authoritative-apply.js';
import type * as Client from '../../apps/client-node/src/oversqlite-client.js';
import type * as Codec from '../../apps/client-node/src/row-codec.js';
import { fmt, summarize } from './stats.js';

interface Build {
  apply: typeof Apply;
  client: typeof Client;
  codec: typeof Codec;
}
const load = async (root: string): Promise<Build> => ({
  apply: (await import(`${root}/apps/client-node/dist/authoritative-apply.js`)) as typeof Apply,
  client: (await import(`${root}/apps/client-node/dist/oversqlite-client.js`)) as typeof Client,
  codec: (await import(`${root}/apps/client-node/dist/row-codec.js`)) as typeof Codec,
});
const baseRoot = process.env.BENCH_BASE_CWD;
if (!baseRoot) throw new Error('BENCH_BASE_CWD: the checkout of the build to compare with');
const builds = { base: await load(baseRoot), this: await load(process.cwd()) };
const rows = Number(process.env.PROBE_ROWS ?? 100_000);
const pairs = Number(process.argv[2] ?? 6);
const phases = ['insert', 'update', 'mixed'] as const;

const cpuMs = () => {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
};

async function run(build: Build): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'oversync-apply-page-'));
  const db = new Database(join(dir, 'device.sqlite'));
  db.exec(`CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL,
    created_at TEXT, updated_at TEXT)`);
  const client = await build.client.OversqliteClient.open(db, {
    baseUrl: 'http://127.0.0.1:9',
    tokenProvider: () => 't',
    schema: 'business',
    tables: [{ tableName: 'users', syncKeyColumnName: 'id' }],
    fetch: () => Promise.reject(new Error('no server')),
  });
  const ctx = build.client.clientContextOf(client);
  ctx.state.updateAttachment({ bindingState: 'attached', attachedUserId: 'u1', schemaName: 'business' });
  const table = ctx.table('users')!;
  const now = new Date().toISOString();
  const row = (key: string, version: number, op: 'INSERT' | 'UPDATE'): Apply.AuthoritativeRow => ({
    ref: { table, localKey: key, keyJson: build.codec.keyJson(table, key) },
    op,
    rowVersion: version,
    payload: undefined,
    values: [key, `n${version}`, `${key}@example.com`, now, now],
  });
  const timed = (page: Apply.AuthoritativeRow[]) => {
    const start = cpuMs();
    ctx.state.applyTransaction(() => {
      for (let i = 0; i < page.length; i += 1000)
        build.apply.applyAuthoritativePage(ctx, page.slice(i, i + 1000), { skipStale: true, clearDirty: true });
    });
    return ((cpuMs() - start) * 1000) / page.length;
  };
  const keys = Array.from({ length: rows }, () => randomUUID());
  const fresh = Array.from({ length: rows }, () => randomUUID());
  const result = [
    timed(keys.map((key) => row(key, 1, 'INSERT'))),
    timed(keys.map((key) => row(key, 2, 'UPDATE'))),
    timed(keys.map((key, i) => (Math.floor(i / 10) % 2 ? row(fresh[i]!, 1, 'INSERT') : row(key, 3, 'UPDATE')))),
  ];
  await client.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return result;
}

const results = { base: [] as number[][], this: [] as number[][] };
for (let pair = 0; pair < pairs; pair++) {
  for (const name of pair % 2 ? (['this', 'base'] as const) : (['base', 'this'] as const)) {
    const figures = await run(builds[name]);
    results[name].push(figures);
    console.log(
      `${pair + 1} ${name.padEnd(4)} ${phases.map((p, i) => `${p} ${fmt(figures[i]!, 2)}`).join(', ')} µs/row`,
    );
  }
}
phases.forEach((phase, i) => {
  const [base, mine] = [results.base, results.this].map((r) => summarize(r.map((f) => f[i]!)));
  const won = results.this.filter((f, pair) => f[i]! < results.base[pair]![i]!).length;
  console.log(
    `${phase}: base median ${fmt(base!.median, 2)} (${fmt(base!.min, 2)}–${fmt(base!.max, 2)}), ` +
      `this ${fmt(mine!.median, 2)} (${fmt(mine!.min, 2)}–${fmt(mine!.max, 2)}), this lower in ${won} of ${pairs}`,
  );
});
