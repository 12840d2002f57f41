// A/B of the Node client's snapshot hydration without a server: replays a recording of
// `apply-probe.ts record hydrate` against the client build under <root> (e.g. this worktree or the
// base's), and prints per run the process CPU (user, system), the main thread's, and the bytes written.
//   npx tsx test/bench/hydration-ab-probe.ts <root> /tmp/hydrate.json [reps]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';

const [root, file, repsArg] = process.argv.slice(2);
type Client = typeof import('../../apps/client-node/dist/index.js');
const client = (await import(resolve(root!, 'apps/client-node/dist/index.js'))) as Client;
const recorded = JSON.parse(readFileSync(file!, 'utf8')) as {
  user: string;
  rows: number;
  responses: { key: string; status: number; body: string }[];
};
const requestKey = (input: string, init: RequestInit) => `${init.method ?? 'GET'} ${new URL(input).pathname}`;
const threadCpuMs = () => {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
};
const io = () => {
  const text = readFileSync('/proc/self/io', 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}: (\\d+)`).exec(text)?.[1] ?? 0);
  return { wchar: field('wchar'), writeBytes: field('write_bytes') };
};
for (let rep = 0; rep < Number(repsArg ?? 1); rep++) {
  const queues = new Map<string, { body: string; status: number }[]>();
  for (const r of recorded.responses) queues.set(r.key, [...(queues.get(r.key) ?? []), r]);
  const dir = mkdtempSync(join(tmpdir(), 'oversync-hydration-ab-'));
  const db = new Database(join(dir, 'device.sqlite'));
  db.exec(client.EXAMPLE_DEVICE_DDL);
  const device = await client.OversqliteClient.open(db, {
    baseUrl: 'http://127.0.0.1:9',
    tokenProvider: () => 'unused',
    schema: client.EXAMPLE_SCHEMA_NAME,
    tables: client.EXAMPLE_TABLES,
    snapshotChunkRows: 5000,
    downloadLimit: 1000,
    fetch: async (input: string, init: RequestInit) => {
      const next = queues.get(requestKey(input, init))?.shift();
      if (!next) throw new Error(`no recorded response for ${requestKey(input, init)}`);
      return new Response(next.body, { status: next.status });
    },
  });
  const t = performance.now();
  const cpu = process.cpuUsage();
  const main = threadCpuMs();
  const io0 = io();
  await device.attach(recorded.user);
  const ms = performance.now() - t;
  const used = process.cpuUsage(cpu);
  const mainMs = threadCpuMs() - main;
  const io1 = io();
  const rows = (db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
  await device.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  if (rows !== recorded.rows) throw new Error(`applied ${rows} of ${recorded.rows} rows`);
  const cpuMs = (used.user + used.system) / 1000;
  console.log(
    JSON.stringify({
      root,
      rows,
      wallMs: Math.round(ms),
      cpuMs: Math.round(cpuMs),
      userMs: Math.round(used.user / 1000),
      sysMs: Math.round(used.system / 1000),
      mainMs: Math.round(mainMs),
      rowsPerCpuSec: Math.round((rows / cpuMs) * 1000),
      wcharMB: Math.round((io1.wchar - io0.wchar) / 1e6),
      writeMB: Math.round((io1.writeBytes - io0.writeBytes) / 1e6),
    }),
  );
}
