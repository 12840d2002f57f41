// npm run fuzz [-- --seeds N --ops M --cases C --http-seed S --workers W --scale-out-seconds T [jest path patterns…]]
// Runs the fuzz suites of test/fuzz with long budgets (issue 11): convergence 200 seeds × 500 ops, 10,000
// malformed inputs, the scale-out run (test/scale-out) for 300 s, unless told otherwise. The suites
// read their budgets from the environment set here.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: {
    seeds: { type: 'string', default: '200' },
    ops: { type: 'string', default: '500' },
    cases: { type: 'string', default: '10000' },
    'http-seed': { type: 'string' },
    workers: { type: 'string' },
    'scale-out-seconds': { type: 'string', default: '300' },
  },
  allowPositionals: true,
});

for (const name of ['seeds', 'ops', 'cases', 'workers', 'scale-out-seconds'] as const) {
  const value = values[name];
  if (value !== undefined && !/^[1-9][0-9]*$/.test(value)) {
    console.error(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
}

const env: NodeJS.ProcessEnv = {
  ...process.env,
  NODE_OPTIONS: [process.env.NODE_OPTIONS, '--experimental-vm-modules'].filter(Boolean).join(' '),
  FUZZ_LONG: '1',
  FUZZ_SEEDS: values.seeds,
  FUZZ_OPS: values.ops,
  FUZZ_HTTP_CASES: values.cases,
  SCALE_OUT_SECONDS: values['scale-out-seconds'],
  ...(values['http-seed'] === undefined ? {} : { FUZZ_SEED: values['http-seed'] }),
};

const jest = createRequire(import.meta.url).resolve('jest/bin/jest');
// one suite at a time by default: the long runs are CPU-bound and share one PostgreSQL
const args = [
  jest,
  ...(positionals.length ? positionals : ['test/fuzz', 'test/scale-out']),
  '--selectProjects',
  'e2e',
  ...(values.workers ? ['--maxWorkers', values.workers] : ['--runInBand']),
];
console.log(
  `fuzz: seeds=${values.seeds} ops=${values.ops} cases=${values.cases}` +
    `${values['http-seed'] ? ` http-seed=${values['http-seed']}` : ''} → jest ${args.slice(1).join(' ')}`,
);
const started = Date.now();
const child = spawn(process.execPath, args, { stdio: 'inherit', env });
child.on('exit', (code, signal) => {
  console.log(`fuzz: finished in ${Math.round((Date.now() - started) / 1000)} s (${signal ?? `exit ${code}`})`);
  process.exit(code ?? 1);
});
