import { setFlagsFromString } from 'node:v8';

/**
 * V8 optimizes a function once it has run enough bytecode (its interrupt budget, 67,584 by default).
 * With that default a freshly started server answered its first ~2,000 sync round trips from
 * unoptimized code while compiler threads took the cores it needed (2.5–2.7 × the server CPU per 1-row
 * round trip at first, docs/performance-history.md). A sixty-sixth of it tiers the request path up within
 * the first requests, most of it before the bench's measured round trips start: 8192 left the compiler
 * threads ~1 ms of CPU per round trip over the first 300; 1024 takes the server's CPU there another
 * 17–28 % lower, for ≈ 3 % more once warm (code compiled early; README "Performance", sixteenth round);
 * 512 compiled more and gained less. Imported first by main.ts; a budget given on node's command line wins
 * (Node refuses V8 flags in NODE_OPTIONS), and 8192 keeps the old trade.
 */
const INTERRUPT_BUDGET = 1024;

/** `--interrupt-budget=N` itself (V8 takes `_` for `-` too), not the flags whose names start with it. */
const BUDGET_FLAG = /^--interrupt[-_]budget=/;

const given = process.execArgv.some((arg) => BUDGET_FLAG.test(arg));
if (!given) setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);

/**
 * Baseline (Sparkplug) code for a function at its first call instead of the interpreter. It leaves V8
 * less to compile while a fresh server answers its first requests: TurboFan jobs inside the bench's first
 * 500 measured round trips 177 → 143 (844 → 672 ms on the compiler threads), the server's CPU per round
 * trip over the first 300 −9 to −15 % (tail-probe, 20 of 20 interleaved pairs; the bench's first sample
 * 2.20 → 2.09 ms at the median of 10 pairs), the warm server's unchanged, for ~80 ms more CPU and
 * ~7 MiB more RSS at startup (docs/performance-history.md, fourteenth round). `--no-always-sparkplug` on
 * node's command line turns it off.
 */
const SPARKPLUG_FLAG = /^--(no[-_])?always[-_]sparkplug$/;

if (!process.execArgv.some((arg) => SPARKPLUG_FLAG.test(arg))) setFlagsFromString('--always-sparkplug');
