// A local write's cost with many rows already pending: CPU µs and bytes written (write() calls: WAL
// frames, checkpoints) per row of a 10,000-row insert, through the capture triggers or raw.
//   npx tsx test/bench/local-writes-probe.ts <pending rows> <cache KiB | default> <sync | raw>
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localDevice } from './client.js';
import { userRows } from './sync-api.js';

const [pendingArg = '1000', cacheArg = 'default', mode = 'sync'] = process.argv.slice(2);
const pending = Number(pendingArg);
const dir = mkdtempSync(join(tmpdir(), 'oversync-writes-probe-'));
const device = await localDevice(join(dir, 'device.sqlite'), mode === 'sync');
if (cacheArg !== 'default') device.db.pragma(`cache_size = -${Number(cacheArg)}`);
const writtenBytes = () => Number(/wchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
for (let done = 0; done < pending; done += 100_000) device.write(userRows(Math.min(100_000, pending - done)));
const before = writtenBytes();
device.write(userRows(10_000));
const micros = (device.cpuMs() * 1000) / 10_000;
const bytes = (writtenBytes() - before) / 10_000;
console.log(
  `${mode} with ${pending} rows pending, cache ${cacheArg}: ${micros.toFixed(2)} µs CPU and ` +
    `${bytes.toFixed(0)} bytes written per row`,
);
await device.close();
rmSync(dir, { recursive: true, force: true });
