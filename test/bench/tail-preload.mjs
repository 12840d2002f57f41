// Preload for tail-probe.ts (`--import`): records the server's GC pauses (start epoch ms, duration ms, kind)
// and writes them to TAIL_PROBE_RECORD_FILE on SIGWINCH (a signal Nest's shutdown hooks leave alone). With
// TAIL_PROBE_HEAP_FILE, SIGURG starts V8's sampling heap profiler (collected objects included: what a
// request allocates, not what it keeps) and SIGWINCH writes its profile there; TAIL_PROBE_CPU_FILE the same
// for the CPU profiler (TAIL_PROBE_CPU_INTERVAL_US its sampling interval). It also times each /sync request and
// the pg queries run while it was the latest, and with TAIL_PROBE_TIER_UP marks the measured window on standard
// output, where V8's --trace-opt lines go.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { Session } from 'node:inspector';
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';

const pauses = [];
const kinds = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    pauses.push([performance.timeOrigin + e.startTime, e.duration, kinds[e.detail?.kind] ?? String(e.detail?.kind)]);
}).observe({ entryTypes: ['gc'] });

// per /sync request: [arrived, answered, ms in pg queries] (epoch ms), to split a slow request into server,
// database and the rest (scheduling, the client, the loopback)
const requests = [];
let current;
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, req, res) {
  if (event === 'request' && req.url.startsWith('/sync/')) {
    const entry = [performance.timeOrigin + performance.now(), 0, 0];
    requests.push(entry);
    current = entry;
    res.once('finish', () => (entry[1] = performance.timeOrigin + performance.now()));
  }
  return emit.apply(this, arguments);
};
const pg = createRequire(process.cwd() + '/package.json')('pg');
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (...args) {
  const entry = current;
  const t = performance.now();
  const done = () => entry && (entry[2] += performance.now() - t);
  const last = args.length - 1;
  if (typeof args[last] === 'function') {
    const callback = args[last];
    args[last] = (...r) => (done(), callback(...r));
    return query.apply(this, args);
  }
  const result = query.apply(this, args);
  if (result && typeof result.then === 'function') result.then(done, done);
  return result;
};

const heapFile = process.env.TAIL_PROBE_HEAP_FILE;
const cpuFile = process.env.TAIL_PROBE_CPU_FILE;
const session = heapFile || cpuFile ? new Session() : undefined;
session?.connect();
// TAIL_PROBE_TIER_UP: the measured window's start and end marked among V8's traces on standard output
const mark = (what) => process.env.TAIL_PROBE_TIER_UP && process.stdout.write(`=== tail-probe measured ${what}\n`);
process.on('SIGURG', () => {
  mark('start');
  if (heapFile)
    session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  // V8's default 1,000 µs gives only a few hundred samples over 300 round trips
  const interval = Number(process.env.TAIL_PROBE_CPU_INTERVAL_US ?? 0);
  if (cpuFile)
    session.post('Profiler.enable', () =>
      session.post('Profiler.setSamplingInterval', { interval: interval || 1000 }, () =>
        session.post('Profiler.start'),
      ),
    );
});
process.on('SIGWINCH', () => {
  mark('end');
  writeFileSync(process.env.TAIL_PROBE_RECORD_FILE, JSON.stringify({ pauses, requests }));
  if (heapFile)
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (!error) writeFileSync(heapFile, JSON.stringify(result.profile));
    });
  if (cpuFile)
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(cpuFile, JSON.stringify(result.profile));
    });
});
