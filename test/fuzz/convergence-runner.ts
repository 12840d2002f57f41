/**
 * Runs one seed of the convergence fuzz (operations, quiesce, checker) and shrinks a failing
 * operation list to a minimal replay by delta debugging (ddmin over the operations: any sub-list
 * of a generated list is a valid program, see convergence-model.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkConvergence } from './convergence-checker.js';
import { describeOp, type Op, runConfig } from './convergence-model.js';
import { ConvergenceWorld, type FuzzServer, type WorldStats } from './convergence-world.js';

export interface RunOutcome {
  readonly seed: number;
  readonly ops: readonly Op[];
  readonly failures: readonly string[];
  readonly stats: WorldStats;
  readonly transcript: readonly string[];
  readonly ms: number;
}

let runCounter = 0;

export async function runOnce(server: FuzzServer, seed: number, ops: readonly Op[]): Promise<RunOutcome> {
  const started = Date.now();
  const world = new ConvergenceWorld(server, runConfig(seed), `${seed}r${++runCounter}p${process.pid}`);
  await world.setup();
  let failures: string[];
  try {
    await world.run(ops);
    await world.quiesce();
    failures = [...world.failures, ...(await checkConvergence(world))];
  } catch (err) {
    failures = [...world.failures, `harness: ${(err as Error)?.stack ?? String(err)}`];
  } finally {
    await world.teardown().catch(() => undefined);
  }
  if (process.env.FUZZ_TRACE_DIR) {
    mkdirSync(process.env.FUZZ_TRACE_DIR, { recursive: true });
    writeFileSync(
      join(process.env.FUZZ_TRACE_DIR, `seed-${seed}-run-${runCounter}.txt`),
      `${[...world.transcript, '', ...failures].join('\n')}\n`,
    );
  }
  return {
    seed,
    ops,
    failures,
    stats: world.stats(ops.length),
    transcript: world.transcript,
    ms: Date.now() - started,
  };
}

/** A coarse class of a failure, so shrinking keeps the same bug instead of finding another one. */
export function failureClass(failure: string): string {
  const text = failure.replace(/^op #-?\d+: /, '');
  const unexpected = /failed unexpectedly: (\w+)/.exec(text);
  if (unexpected) return `unexpected ${unexpected[1]}`;
  const http = /→ (\d{3}) \{"error":"(\w+)"/.exec(text);
  if (http) return `http ${http[1]} ${http[2]}`;
  if (/→ \d{3}/.test(text)) return 'http';
  const check = /^([\w-]+):/.exec(text);
  return check ? check[1]! : text.split(' ').slice(0, 3).join(' ');
}

export interface ShrinkResult {
  readonly ops: readonly Op[];
  readonly outcome: RunOutcome;
  readonly runs: number;
}

/** ddmin over the operation list, within `maxRuns` re-runs and `maxMs`. */
export async function shrink(
  server: FuzzServer,
  failing: RunOutcome,
  maxRuns: number,
  maxMs: number,
): Promise<ShrinkResult> {
  const classes = new Set(failing.failures.map(failureClass));
  const deadline = Date.now() + maxMs;
  let best = failing;
  let ops = [...failing.ops];
  let runs = 0;
  const stillFails = async (candidate: Op[]): Promise<boolean> => {
    runs++;
    const outcome = await runOnce(server, failing.seed, candidate);
    if (outcome.failures.some((f) => classes.has(failureClass(f)))) {
      best = outcome;
      return true;
    }
    return false;
  };
  const budgetLeft = () => runs < maxRuns && Date.now() < deadline;
  // 1. the shortest failing prefix (bisection): what follows the bug rarely matters
  let lo = 1;
  let hi = ops.length;
  while (lo < hi && budgetLeft()) {
    const mid = Math.floor((lo + hi) / 2);
    if (await stillFails(ops.slice(0, mid))) hi = mid;
    else lo = mid + 1;
  }
  ops = ops.slice(0, hi);
  // 2. ddmin over what is left
  let n = 2;
  while (ops.length >= 2 && budgetLeft()) {
    const size = Math.ceil(ops.length / n);
    let reduced = false;
    for (let i = 0; i < n && runs < maxRuns && Date.now() < deadline; i++) {
      const complement = [...ops.slice(0, i * size), ...ops.slice((i + 1) * size)];
      if (complement.length === 0 || complement.length === ops.length) continue;
      if (await stillFails(complement)) {
        ops = complement;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= ops.length) break;
      n = Math.min(ops.length, n * 2);
    }
  }
  // 3. one operation at a time, from the end
  for (let i = ops.length - 1; i >= 0 && budgetLeft(); i--) {
    const without = [...ops.slice(0, i), ...ops.slice(i + 1)];
    if (without.length && (await stillFails(without))) ops = without;
  }
  return { ops: best.ops, outcome: best, runs };
}

/** Writes the replay file and returns the report printed for a failing seed. */
export function replayReport(original: RunOutcome, shrunk: ShrinkResult, dataDir: string): string {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, `convergence-seed-${original.seed}.json`);
  writeFileSync(file, `${JSON.stringify({ seed: original.seed, ops: shrunk.ops }, null, 1)}\n`);
  const lines = [
    `convergence fuzz: seed ${original.seed} FAILED (${original.ops.length} ops; minimal replay ` +
      `${shrunk.ops.length} ops after ${shrunk.runs} shrink runs)`,
    'failures of the original run:',
    ...original.failures.slice(0, 12).map((f) => `  - ${f}`),
    'failures of the minimal run:',
    ...shrunk.outcome.failures.slice(0, 12).map((f) => `  - ${f}`),
    `minimal replay (${file}):`,
    ...shrunk.ops.map((op, i) => `  #${i} ${describeOp(op)}`),
    `replay: FUZZ_REPLAY=${file} NODE_OPTIONS=--experimental-vm-modules npx jest test/fuzz/convergence.e2e ` +
      `--selectProjects e2e`,
    'transcript of the minimal run (tail):',
    ...shrunk.outcome.transcript.slice(-80).map((l) => `  ${l}`),
  ];
  return lines.join('\n');
}
