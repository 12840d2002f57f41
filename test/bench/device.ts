import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface DeviceResult {
  ms: number;
  /** of `ms`: waiting on HTTP (request sent to response body read); the rest is the client's own work */
  httpMs: number;
  /** CPU time of the device process over the same span */
  cpuMs: number;
  /** of `cpuMs`: the main thread's (pull mode) */
  mainCpuMs?: number;
  rows: number;
  peakRssMiB: number;
}

/** Runs test/bench/device-run.ts as its own process; `beforePull` runs once the device is attached (pull mode). */
export async function runDevice(
  args: { baseUrl: string; token: string; user: string; mode: 'hydrate' | 'pull' },
  beforePull?: () => Promise<void>,
): Promise<DeviceResult> {
  // BENCH_DEVICE_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=prof`, profiles the device process
  const nodeArgs = process.env.BENCH_DEVICE_NODE_ARGS ? process.env.BENCH_DEVICE_NODE_ARGS.split(' ') : [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', 'test/bench/device-run.ts', JSON.stringify(args)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  let result: DeviceResult | undefined;
  for await (const line of lines) {
    if (line === 'attached') {
      await beforePull?.();
      child.stdin!.write('go\n');
    } else if (line.startsWith('{')) {
      result = JSON.parse(line) as DeviceResult;
    }
  }
  await new Promise((resolve) => child.once('exit', resolve));
  if (!result) throw new Error(`device ${args.mode} failed`);
  return result;
}
