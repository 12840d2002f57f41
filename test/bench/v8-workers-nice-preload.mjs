// Preload (`--import`, e.g. through a variant's BENCH_SERVER_NODE_ARGS): V8's background workers (Node's
// platform workers: concurrent TurboFan jobs, GC helper tasks) at nice V8_WORKERS_NICE (Linux; a thread's nice
// value is its own there, and setpriority takes a thread id as a pid). Node 20 names none of its threads,
// but its platform is the first thing it starts: a delayed-task thread (epoll), then the `--v8-pool-size`
// workers (4 by default), before the inspector's signal thread, libuv's pool or any worker_threads, and
// thread ids grow in creation order. The fifteenth round measured it (README "Performance"); not in src/.
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

const nice = Number(process.env.V8_WORKERS_NICE ?? 10);
const pool = /^--v8[-_]pool[-_]size=(\d+)$/;
const size = Number(process.execArgv.map((arg) => pool.exec(arg)).find(Boolean)?.[1] ?? 4);
if (process.platform === 'linux' && nice > 0) {
  const threads = readdirSync('/proc/self/task')
    .map(Number)
    .filter((tid) => tid !== process.pid)
    .sort((a, b) => a - b);
  for (const tid of threads.slice(1, 1 + size)) setPriority(tid, nice);
}
