/**
 * A `SET` clause of every request function (connect, push create/chunk/commit, pull, committed rows):
 * no JIT inside them. Their statements touch one user's rows, yet where the sync tables were never
 * analyzed (autovacuum off, a fresh bulk load) the planner costs them above `jit_above_cost` and each
 * call compiled ~18 expressions first: a 1-row commit took 9–44 ms instead of ~1.5 ms (docs/performance-history.md).
 */
export const NO_JIT = 'SET jit = off';

/**
 * A `SET` clause of the request functions whose statements find a user's few rows by an index prefix
 * shared with rows deleted since the last vacuum (push create's sweep of the user's sessions): a plain
 * index scan marks the dead entries it meets (later scans skip them), a bitmap scan never does, so it
 * visited every session the user ever pushed since (0.37 ms after 2,000 pushes, growing).
 */
export const NO_BITMAP_SCAN = 'SET enable_bitmapscan = off';
