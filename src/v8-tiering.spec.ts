import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

// In a child node (the flag is process-wide): imports the module, then counts the calls after which V8
// has optimized a small function. `--no-concurrent-recompilation` compiles at the call that asks for it.
const COUNT_CALLS_TO_OPTIMIZED = `await import(process.env.TIERING_MODULE);
function f(i) { let x = 0; for (let k = 0; k < 3; k++) x += (i * k) % 7; return x; }
let calls = 0;
while (!(%GetOptimizationStatus(f) & 16) && calls < 100000) f(calls++);
console.log(calls);`;

function callsToOptimized(nodeFlags: string[]): number {
  const output = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--allow-natives-syntax',
      '--no-concurrent-recompilation',
      ...nodeFlags,
      '--input-type=module',
      '-e',
      COUNT_CALLS_TO_OPTIMIZED,
    ],
    {
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        TIERING_MODULE: fileURLToPath(new URL('./v8-tiering.ts', import.meta.url)),
      },
    },
  );
  return Number(output.toString().trim());
}

describe('v8-tiering', () => {
  it('has V8 optimize a hot function several times sooner than its default budget', () => {
    const sooner = callsToOptimized([]);
    const byDefault = callsToOptimized(['--interrupt-budget=67584']);
    expect(sooner).toBeGreaterThan(0);
    expect(byDefault).toBeGreaterThan(sooner * 4);
  });

  it('leaves a budget given on the command line alone, and is not fooled by a flag that only starts alike', () => {
    expect(callsToOptimized(['--interrupt_budget=30000'])).toBeGreaterThan(callsToOptimized([]) * 2);
    expect(callsToOptimized(['--interrupt-budget-for-feedback-allocation=940'])).toBe(callsToOptimized([]));
  });
});
