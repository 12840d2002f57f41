import { setFlagsFromString } from 'node:v8';

/**
 * V8 optimizes a function once it has run enough bytecode (its interrupt budget, 67,584 by default).
 * With that default a freshly started server answered its first ~2,000 sync round trips from
 * unoptimized code while compiler threads took the cores it needed (2.5 × the server CPU per 1-row
 * round trip for ~25 s, README Performance). An eighth of it tiers the request path up within a few
 * hundred requests, at no cost once warm. Imported first by main.ts, before the code it applies to is
 * loaded; a budget given on the command line or in NODE_OPTIONS wins.
 */
const INTERRUPT_BUDGET = 8192;

const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => arg.includes('--interrupt-budget'));
if (!given) setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
