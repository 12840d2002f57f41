// Push probe: PUSH_PROBE_ROWS rows (default 100,000) pushed end to end twice by fresh users, then pulled
// by another device. Prints the times, the CPU seconds the push took in the server process and in the
// PostgreSQL backends of its database, all and the commit's (robust on a loaded machine), and the
// server's RSS. BENCH_SERVER_CWD runs another build (see bench-server.ts) for an A/B.
import pg from 'pg';
import { databaseBackendCpu, processCpuMs, startBenchServer } from './bench-server.js';
import { SyncApi, userChunkBodies } from './sync-api.js';

const rows = Number(process.env.PUSH_PROBE_ROWS ?? 100_000);
const server = await startBenchServer(
  process.env.BENCH_SERVER_CWD ? { BENCH_SERVER_CWD: process.env.BENCH_SERVER_CWD } : {},
);
const admin = new pg.Client({ connectionString: server.databaseUrl });
await admin.connect();
/** utime + stime of a process in seconds (0 once it is gone) */
const cpuSeconds = (pid: number) => processCpuMs(pid) / 1000;
/** CPU seconds of every backend of the server's database but this probe's own, by pid */
const backendCpu = () => databaseBackendCpu(admin);
try {
  for (let rep = 0; rep < 2; rep++) {
    const a = new SyncApi(server.baseUrl, await server.signIn(`u${Date.now()}-${rep}`), 'a');
    await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
    const bodies = userChunkBodies(rows);
    server.startPhase();
    // the push as SyncApi.push makes it (create + chunks + commit), bodies encoded beforehand, with
    // the CPU of the server and of the database's backends read before the commit too
    const serverBefore = cpuSeconds(server.pid);
    const before = await backendCpu();
    const t0 = performance.now();
    const pushId = await a.stage(1, rows, bodies);
    const t1 = performance.now();
    const serverStaged = cpuSeconds(server.pid);
    const staged = await backendCpu();
    await a.call('POST', `/sync/push-sessions/${pushId}/commit`);
    const t2 = performance.now();
    const r = { totalMs: t2 - t0, commitMs: t2 - t1 };
    const serverCpu = cpuSeconds(server.pid) - serverBefore;
    const serverCommitCpu = cpuSeconds(server.pid) - serverStaged;
    let databaseCpu = 0;
    let databaseCommitCpu = 0;
    for (const [pid, seconds] of await backendCpu()) {
      databaseCpu += seconds - (before.get(pid) ?? 0);
      databaseCommitCpu += seconds - (staged.get(pid) ?? 0);
    }
    const pushPeak = server.phasePeakRssMiB();
    const t = performance.now();
    const body = await new SyncApi(server.baseUrl, a.token, 'b').call('GET', '/sync/pull');
    const pull = performance.now() - t;
    console.log(
      `total ${r.totalMs.toFixed(0)} ms (${((rows / r.totalMs) * 1000).toFixed(0)} rows/s), ` +
        `create + chunks ${(r.totalMs - r.commitMs).toFixed(0)} ms, commit ${r.commitMs.toFixed(0)} ms, ` +
        `pull ${pull.toFixed(0)} ms ${(body.length / 1e6).toFixed(1)}MB; ` +
        `push CPU: server ${serverCpu.toFixed(2)} s (commit ${serverCommitCpu.toFixed(2)}, ` +
        `create + chunks ${(serverCpu - serverCommitCpu).toFixed(2)}), PostgreSQL ${databaseCpu.toFixed(2)} s ` +
        `(commit ${databaseCommitCpu.toFixed(2)}, create + chunks ${(databaseCpu - databaseCommitCpu).toFixed(2)}); ` +
        `server RSS peak during push ${pushPeak.toFixed(0)} MiB, now ${server.rssMiB().toFixed(0)} MiB`,
    );
  }
} finally {
  await admin.end();
  await server.stop();
}
