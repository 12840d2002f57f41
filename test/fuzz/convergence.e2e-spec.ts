/**
 * Convergence fuzz (issue 11, part 1). A seeded random model drives 2–5 devices (some sharing a
 * user) through local writes on the example tables (FK chains, BLOB keys, typed values), push,
 * pull, sync, concurrent syncs, offline/online, sign-out/sign-in, user switches, rebuilds and
 * process restarts, interleaved with faults: pushes aborted between freeze/create/chunk/commit/
 * replay, answers dropped after the server processed them, the server app restarted (also in the
 * middle of a push), PostgreSQL connections killed, history pruned, injected HTTP failures and
 * writes made while a push uploads. Then every device syncs until quiet and the checker
 * (convergence-checker.ts) judges the end state. A failing seed is shrunk to a minimal replay.
 *
 * Budget: FUZZ_SEEDS × FUZZ_OPS (CI default 20 × 200; `npm run fuzz -- --seeds N --ops M`).
 * FUZZ_CONVERGENCE_SEED sets the first seed (CI: 1; under FUZZ_LONG=1 a fresh one, printed);
 * FUZZ_REPLAY=<file> replays a minimal replay written by a failure (.data/fuzz/*.json);
 * FUZZ_TRACE_DIR=<dir> writes every run's transcript; FUZZ_SHRINK_RUNS / FUZZ_SHRINK_MS bound shrinking;
 * FUZZ_CANARY=lose_row plants a server bug (a business row lost at each prune) to self-test the checker.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateOps, type Op, runConfig } from './convergence-model.js';
import { replayReport, runOnce, type RunOutcome, shrink } from './convergence-runner.js';
import { FuzzServer } from './convergence-world.js';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

const LONG = process.env.FUZZ_LONG === '1';
const SEEDS = envInt('FUZZ_SEEDS', 20);
const OPS = envInt('FUZZ_OPS', 200);
const BASE_SEED = envInt('FUZZ_CONVERGENCE_SEED', LONG ? (Date.now() % 1_000_000) * 1000 : 1);
const REPLAY = process.env.FUZZ_REPLAY;
const SHRINK_RUNS = envInt('FUZZ_SHRINK_RUNS', LONG ? 150 : 60);
const SHRINK_MS = envInt('FUZZ_SHRINK_MS', LONG ? 600_000 : 150_000);
const DATA_DIR = join(process.cwd(), '.data', 'fuzz');

/** Fault kinds the CI budget must exercise at least once. */
const REQUIRED_FAULTS = [
  'abort_freeze',
  'abort_create',
  'abort_chunk',
  'abort_commit',
  'abort_replay',
  'drop_commit_answer',
  'drop_answer_other',
  'restart_server',
  'restart_server_mid_request',
  'kill_pg',
  'kill_pg_mid_request',
  'prune',
  'inject_fired',
  'write_during_push',
  'device_restart',
  'offline',
  'user_switch',
];

describe('convergence fuzz: devices, faults, and a checker of the end state', () => {
  let server: FuzzServer;
  const outcomes: RunOutcome[] = [];
  const failedSeeds: number[] = [];
  const started = Date.now();

  beforeAll(async () => {
    server = await FuzzServer.start();
  });

  afterAll(async () => {
    await server?.close();
    if (REPLAY || outcomes.length === 0) return;
    const faults: Record<string, number> = {};
    let ops = 0;
    let writes = 0;
    let acked = 0;
    let conflicts = 0;
    for (const o of outcomes) {
      ops += o.stats.ops;
      writes += o.stats.writes;
      acked += o.stats.acked;
      conflicts += o.stats.conflicts;
      for (const [kind, n] of Object.entries(o.stats.faults)) faults[kind] = (faults[kind] ?? 0) + n;
    }
    const summary = {
      suite: 'convergence',
      baseSeed: BASE_SEED,
      seeds: outcomes.length,
      opsPerSeed: OPS,
      opsTotal: ops,
      localWrites: writes,
      acknowledgedWrites: acked,
      conflictsReported: conflicts,
      faults: Object.fromEntries(Object.entries(faults).sort()),
      failedSeeds,
      durationMs: Date.now() - started,
    };
    mkdirSync(DATA_DIR, { recursive: true });
    writeFileSync(join(DATA_DIR, `convergence-summary-${process.pid}.json`), `${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(
      `\nconvergence fuzz: ${summary.seeds} seeds × ${OPS} ops from seed ${BASE_SEED} in ` +
        `${(summary.durationMs / 1000).toFixed(1)} s; ` +
        (`${writes} local writes, ${acked} acknowledged, ${conflicts} conflicts; failed seeds: ` +
          `${failedSeeds.length ? failedSeeds.join(', ') : 'none'}\n`) +
        `faults injected: ${Object.entries(summary.faults)
          .map(([k, n]) => `${k}=${n}`)
          .join(', ')}\n`,
    );
  });

  async function runSeed(seed: number, ops: readonly Op[]): Promise<void> {
    const outcome = await runOnce(server, seed, ops);
    outcomes.push(outcome);
    // one line per seed, so an interrupted long run still tells what ran
    mkdirSync(DATA_DIR, { recursive: true });
    appendFileSync(
      join(DATA_DIR, `convergence-progress-${process.pid}.jsonl`),
      JSON.stringify({
        seed,
        ops: ops.length,
        ms: outcome.ms,
        failures: outcome.failures.length,
        faults: outcome.stats.faults,
      }) + `\n`,
    );
    if (outcome.failures.length === 0) return;
    failedSeeds.push(seed);
    const shrunk = await shrink(server, outcome, SHRINK_RUNS, SHRINK_MS);
    throw new Error(replayReport(outcome, shrunk, DATA_DIR));
  }

  if (REPLAY) {
    it(`replays ${REPLAY}`, async () => {
      const { seed, ops } = JSON.parse(readFileSync(REPLAY, 'utf8')) as { seed: number; ops: Op[] };
      const outcome = await runOnce(server, seed, ops);
      if (outcome.failures.length) {
        throw new Error(
          [
            `seed ${seed} replay failed:`,
            ...outcome.failures.map((f) => `  - ${f}`),
            'transcript:',
            ...outcome.transcript.map((l) => `  ${l}`),
          ].join('\n'),
        );
      }
    }, 600_000);
    return;
  }

  const seeds = Array.from({ length: SEEDS }, (_, i) => BASE_SEED + i);
  it.each(seeds)(
    'seed %i converges',
    async (seed) => {
      await runSeed(seed, generateOps(runConfig(seed), OPS));
    },
    900_000,
  );

  it('exercised every fault kind', () => {
    if (SEEDS * OPS < 2000) return;
    const seen = new Set(
      outcomes.flatMap((o) =>
        Object.entries(o.stats.faults)
          .filter(([, n]) => n > 0)
          .map(([k]) => k),
      ),
    );
    expect(REQUIRED_FAULTS.filter((k) => !seen.has(k))).toEqual([]);
  });
});
