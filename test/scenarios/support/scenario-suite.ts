/**
 * Jest wrappers around the simulator's scenarios (apps/client-node/src/simulator): each suite runs
 * one scenario against an in-process reference app on a fresh database, with server-originated
 * writes through `OversyncScopeService`, then checks every device left attached against PostgreSQL.
 */
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import type pg from 'pg';
import { OversyncScopeService } from '@oversync/nestjs';
import { SignInTokens } from '../../../apps/client-node/src/simulator/bearer-tokens.js';
import type { Scenario, ScenarioServer } from '../../../apps/client-node/src/simulator/scenario.js';
import { runScenario } from '../../../apps/client-node/src/simulator/scenario-runner.js';
import { TestSurface } from '../../../apps/client-node/src/simulator/test-surface.js';
import { connectPg } from '../../client/client-devices.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { expectDeviceMatchesPostgres, expectRowStateMatchesRows } from './postgres-equality.js';

/** Per test: `testTimeout` of the jest config is global, not per project, so suites set their own. */
export const SCENARIO_TIMEOUT_MS = 60_000;

export interface ScenarioHost {
  t: TestApp;
  pg: pg.Client;
  server: ScenarioServer;
}

/** The reference app (with `env`), a PostgreSQL connection and the scenario server view, for one suite. */
export function useScenarioHost(env: Record<string, string> = {}): ScenarioHost {
  const host = {} as ScenarioHost;
  beforeAll(async () => {
    host.t = await startTestApp({ env });
    host.pg = await connectPg(host.t);
    const scopes = host.t.app.get(OversyncScopeService);
    host.server = {
      baseUrl: host.t.baseUrl,
      tokens: new SignInTokens(host.t.baseUrl),
      features: await new TestSurface(host.t.baseUrl).features(),
      async serverWrite(user, sql, params) {
        const written = await scopes.execWrite(user, { writerId: 'scenario-host' }, (manager) =>
          manager.query(sql, [...params]),
        );
        return { bundleSeq: Number(written.bundle.bundleSeq) };
      },
    };
  });
  afterAll(async () => {
    await host.pg.end();
    await host.t.close();
  });
  return host;
}

/**
 * Runs `scenario`; throws its failure (with the scenario's log) unless it passed and every device equals PostgreSQL.
 */
export async function expectScenarioPasses(host: ScenarioHost, scenario: Scenario): Promise<void> {
  const log: string[] = [];
  const result = await runScenario(scenario, host.server, {
    log: (line) => log.push(line),
    verify: async (devices) => {
      for (const device of devices) await expectDeviceMatchesPostgres(host.pg, device);
      for (const user of new Set(devices.map((device) => device.client.userId)))
        await expectRowStateMatchesRows(host.pg, user);
    },
    keepFilesOnFailure: false,
  });
  if (result.status === 'pass') return;
  const error = result.error instanceof Error ? result.error : new Error(result.detail);
  error.message =
    `${scenario.name} ${result.status === 'skip' ? 'was skipped' : 'failed'}: ${error.message}\n--- scenario ` +
    `log ---\n${log.join('\n')}`;
  throw error;
}

/** One jest suite for one scenario. */
export function describeScenario(scenario: Scenario, env: Record<string, string> = {}): void {
  describe(`scenario ${scenario.name}`, () => {
    const host = useScenarioHost(env);
    it(scenario.summary, () => expectScenarioPasses(host, scenario), SCENARIO_TIMEOUT_MS);
  });
}
