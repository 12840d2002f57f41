// Push probe: PUSH_PROBE_ROWS rows (default 100,000) pushed end to end twice by fresh users, then pulled
// by another device. Prints the times, the CPU seconds the push took in the server process and in the
// PostgreSQL backends of its database (robust on a loaded machine), and the server's RSS.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { startBenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';

const rows = Number(process.env.PUSH_PROBE_ROWS ?? 100_000);
const server = await startBenchServer();
const admin = new pg.Client({ connectionString: server.databaseUrl });
await admin.connect();
const ticks = 100; // USER_HZ
/** utime + stime of a process in seconds (0 once it is gone) */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticks;
  } catch {
    return 0;
  }
}
/** CPU seconds of every backend of the server's database but this probe's own, by pid */
async function backendCpu(): Promise<Map<number, number>> {
  const { rows: backends } = await admin.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
  );
  return new Map(backends.map((b) => [b.pid, cpuSeconds(b.pid)]));
}
try {
  for (let rep = 0; rep < 2; rep++) {
    const a = new SyncApi(server.baseUrl, await server.signIn('u' + rep), 'a');
    await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
    server.startPhase();
    const serverBefore = cpuSeconds(server.pid);
    const before = await backendCpu();
    const r = await a.push(1, userRows(rows));
    const serverCpu = cpuSeconds(server.pid) - serverBefore;
    let databaseCpu = 0;
    for (const [pid, seconds] of await backendCpu()) databaseCpu += seconds - (before.get(pid) ?? 0);
    const pushPeak = server.phasePeakRssMiB();
    const t = performance.now();
    const body = await new SyncApi(server.baseUrl, a.token, 'b').call('GET', '/sync/pull');
    const pull = performance.now() - t;
    console.log(
      `total ${r.totalMs.toFixed(0)} ms (${((rows / r.totalMs) * 1000).toFixed(0)} rows/s), commit ` +
        `${r.commitMs.toFixed(0)} ms, pull ${pull.toFixed(0)} ms ${(body.length / 1e6).toFixed(1)}MB; push CPU: ` +
        `server ${serverCpu.toFixed(2)} s, PostgreSQL ${databaseCpu.toFixed(2)} s; server RSS peak during push ` +
        `${pushPeak.toFixed(0)} MiB, now ${server.rssMiB().toFixed(0)} MiB`,
    );
  }
} finally {
  await admin.end();
  await server.stop();
}
