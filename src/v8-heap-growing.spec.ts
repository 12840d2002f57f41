import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

// In a child node (the flag is process-wide): imports the module, keeps ~30 MiB live, then allocates
// garbage that lives long enough to be promoted, and prints the largest used heap seen (MiB): how far
// the old generation grows before a full collection.
const PEAK_HEAP = `await import(process.env.GROWING_MODULE);
const { getHeapStatistics } = await import('node:v8');
const keep = [];
for (let i = 0; i < 300000; i++) keep.push({ i, s: \`kept-\${i}\`.padEnd(40, '.') });
const ring = new Array(200000);
let peak = 0;
for (let i = 0; i < 4000000; i++) {
  ring[i % ring.length] = { i, s: \`garbage-\${i}\` };
  if (i % 10000 === 0) peak = Math.max(peak, getHeapStatistics().used_heap_size);
}
console.log(Math.round(peak / 2 ** 20), keep.length);`;

function peakHeapMiB(nodeFlags: string[]): number {
  const output = execFileSync(
    process.execPath,
    ['--import', 'tsx', ...nodeFlags, '--input-type=module', '-e', PEAK_HEAP],
    {
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        GROWING_MODULE: fileURLToPath(new URL('./v8-heap-growing.ts', import.meta.url)),
      },
    },
  );
  return Number(output.toString().split(' ')[0]);
}

describe('v8-heap-growing', () => {
  it('keeps the old generation within a small factor of the live heap, where V8 alone lets it grow ~4 ×', () => {
    const bounded = peakHeapMiB([]);
    expect(bounded).toBeGreaterThan(30);
    expect(peakHeapMiB(['--heap-growing-percent=0'])).toBeGreaterThan(bounded * 1.8);
  }, 60_000);

  it('leaves a factor given on the command line alone', () => {
    expect(peakHeapMiB(['--heap_growing_percent=200'])).toBeGreaterThan(peakHeapMiB([]) * 1.5);
  }, 60_000);
});
