import { setFlagsFromString } from 'node:v8';

/**
 * V8 optimizes a function once it has run enough bytecode (its interrupt budget, 67,584 by default).
 * With that default a freshly started server answered its first ~2,000 sync round trips from
 * unoptimized code while compiler threads took the cores it needed (2.5–2.7 × the server CPU per 1-row
 * round trip at first, docs/performance-history.md). An eighth of it tiers the request path up within a few
 * hundred requests, at no cost once warm. Imported first by main.ts; a budget given on node's command
 * line wins (Node refuses V8 flags in NODE_OPTIONS).
 */
const INTERRUPT_BUDGET = 8192;

/** `--interrupt-budget=N` itself (V8 takes `_` for `-` too), not the flags whose names start with it. */
const BUDGET_FLAG = /^--interrupt[-_]budget=/;

const given = process.execArgv.some((arg) => BUDGET_FLAG.test(arg));
if (!given) setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
