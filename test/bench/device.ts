import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface DeviceResult {
  ms: number;
  rows: number;
  peakRssMiB: number;
}

/** Runs test/bench/device-run.ts as its own process; `beforePull` runs once the device is attached (pull mode). */
export async function runDevice(args: { baseUrl: string; token: string; user: string; mode: 'hydrate' | 'pull' }, beforePull?: () => Promise<void>): Promise<DeviceResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/bench/device-run.ts', JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'inherit'] });
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
