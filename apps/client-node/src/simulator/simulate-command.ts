/**
 * `npm run simulate -- --scenario NAME|all --server URL`: runs the scenario catalogue against any
 * oversync server over HTTP and prints a pass/fail table. `cli.ts` runs it; specs may call it.
 */
import { parseArgs } from 'node:util';
import { type BearerTokens, MintedTokens, SignInTokens } from './bearer-tokens.js';
import type { ScenarioServer } from './scenario.js';
import { SCENARIOS, selectScenarios } from './scenario-catalogue.js';
import { formatResultTable, runScenario, type ScenarioResult } from './scenario-runner.js';
import { TestSurface } from './test-surface.js';

export interface SimulateIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

export const SIMULATE_USAGE = `Usage: npm run simulate -- --scenario <name>|all [options]

Runs the scenarios of spec/client.md §13 with real SQLite devices against a server and prints a
pass/fail table. Each run uses fresh user ids, so a server may be shared.

Options:
  --scenario <name>     a scenario, a group (watch-all, failure-injection) or all (default all)
  --server <url>        server base URL (default $OVERSYNC_URL or http://127.0.0.1:8080)
  --jwt-secret <secret> mint HS256 tokens with the server's JWT_SECRET instead of POST /dummy-signin
  --no-reset            do not call POST /test/reset first (it is called when the server has it)
  --verbose             print each scenario's log lines
  --list                list the scenarios and exit
  --help                show this help
`;

/** Resolves to the exit code: 0 all passed or skipped, 1 a scenario failed, 2 usage error. */
export async function runSimulateCommand(argv: readonly string[], io: SimulateIo): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        scenario: { type: 'string', default: 'all' },
        server: { type: 'string' },
        'jwt-secret': { type: 'string' },
        'no-reset': { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        list: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n\n${SIMULATE_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(SIMULATE_USAGE);
    return 0;
  }
  if (values.list) {
    for (const scenario of SCENARIOS) io.stdout.write(`${scenario.name.padEnd(40)} ${scenario.summary}\n`);
    return 0;
  }
  let selected;
  try {
    selected = selectScenarios(values.scenario);
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }

  const baseUrl = (values.server ?? io.env.OVERSYNC_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const reachable = await fetch(`${baseUrl}/sync/capabilities`).catch((err: Error) => err);
  if (reachable instanceof Error) {
    io.stderr.write(`cannot reach ${baseUrl}: ${reachable.message}\n`);
    return 1;
  }
  const surface = new TestSurface(baseUrl);
  const features = await surface.features();
  if (features.testEndpoints && !values['no-reset']) await surface.reset();
  const tokens: BearerTokens = values['jwt-secret']
    ? new MintedTokens(values['jwt-secret'])
    : new SignInTokens(baseUrl);
  const server: ScenarioServer = { baseUrl, tokens, features };
  io.stdout.write(
    `simulating ${selected.length} scenario(s) against ${baseUrl} (test endpoints: ` +
      `${features.testEndpoints ? 'yes' : 'no'}, failure injection: ${features.failureInjection ? 'yes' : 'no'}, ` +
      `tokens: ${values['jwt-secret'] ? 'minted' : '/dummy-signin'})\n`,
  );

  const results: ScenarioResult[] = [];
  for (const scenario of selected) {
    const result = await runScenario(scenario, server, {
      log: values.verbose ? (line) => io.stdout.write(`${line}\n`) : undefined,
    });
    results.push(result);
    io.stdout.write(
      `${result.status.toUpperCase().padEnd(4)} ${scenario.name}` +
        `${result.status === 'pass' ? '' : `: ${result.detail}`}\n`,
    );
  }
  io.stdout.write(`\n${formatResultTable(results)}`);
  return results.some((result) => result.status === 'fail') ? 1 : 0;
}
