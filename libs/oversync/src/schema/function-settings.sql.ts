/**
 * A `SET` clause of every request function (connect, push create/chunk/commit, pull, committed rows):
 * no JIT inside them. Their statements touch one user's rows, yet where the sync tables were never
 * analyzed (autovacuum off, a fresh bulk load) the planner costs them above `jit_above_cost` and each
 * call compiled ~18 expressions first: a 1-row commit took 9–44 ms instead of ~1.5 ms (README Performance).
 */
export const NO_JIT = 'SET jit = off';
