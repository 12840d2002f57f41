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

// The same child node, but whether a function has baseline (Sparkplug) code after its first call: bit 15 of
// V8's optimization status.
const BASELINE_AFTER_ONE_CALL = `await import(process.env.TIERING_MODULE);
function g(i) { return i + 1; }
g(1);
console.log(Boolean(%GetOptimizationStatus(g) & (1 << 15)));`;

function run(script: string, nodeFlags: string[]): string {
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
      script,
    ],
    {
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        TIERING_MODULE: fileURLToPath(new URL('./v8-tiering.ts', import.meta.url)),
      },
    },
  );
  return output.toString().trim();
}

function callsToOptimized(nodeFlags: string[]): number {
  return Number(run(COUNT_CALLS_TO_OPTIMIZED, nodeFlags));
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

  it('gives a function baseline code at its first call, unless --no-always-sparkplug is on the command line', () => {
    expect(run(BASELINE_AFTER_ONE_CALL, [])).toBe('true');
    expect(run(BASELINE_AFTER_ONE_CALL, ['--no-always-sparkplug'])).toBe('false');
    expect(run(BASELINE_AFTER_ONE_CALL, ['--no_always_sparkplug'])).toBe('false');
  });
});
