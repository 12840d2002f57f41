// Budgets of the fuzz suites: CI defaults here, larger ones from the environment (`npm run fuzz`, test/fuzz/run.ts).

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

/** true under `npm run fuzz` */
export const FUZZ_LONG = process.env.FUZZ_LONG === '1';

/** Malformed-input cases over all endpoints (CI ≈ 1,000; `npm run fuzz` 10,000). */
export function httpInputCases(): number {
  return positiveInt('FUZZ_HTTP_CASES', FUZZ_LONG ? 10_000 : 1_000);
}

/** Large chunk bodies sent to the COPY and the single-call staging (test/push-chunk-copy-differential; CI 60). */
export function copyChunkCases(): number {
  return positiveInt('FUZZ_COPY_CASES', FUZZ_LONG ? 1_000 : 60);
}

/**
 * The fast-check seed of a run: FUZZ_SEED replays a failure; CI runs a fixed seed (the same cases
 * every time), long runs a fresh one. Printed by the suites.
 */
export function fuzzSeed(fixed: number): number {
  const raw = process.env.FUZZ_SEED;
  if (raw !== undefined && raw !== '') {
    const seed = Number(raw);
    if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${JSON.stringify(raw)}`);
    return seed;
  }
  return FUZZ_LONG ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : fixed;
}

/** FUZZ_PATH (from a fast-check failure report) replays one counterexample directly. */
export function fuzzPath(): string | undefined {
  return process.env.FUZZ_PATH || undefined;
}
