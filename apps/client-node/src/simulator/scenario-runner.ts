/**
 * Runs scenarios (setup → steps → convergence check → optional verification → cleanup) and renders the result table.
 */
import { expectDevicesMatchServer } from './convergence-check.js';
import type { Scenario, ScenarioRequirement, ScenarioServer } from './scenario.js';
import { ScenarioContext } from './scenario-context.js';
import type { SimulatedDevice } from './simulated-device.js';

export type ScenarioStatus = 'pass' | 'fail' | 'skip';

export interface ScenarioResult {
  readonly name: string;
  readonly status: ScenarioStatus;
  readonly durationMs: number;
  /** Why it failed or was skipped. */
  readonly detail: string;
  readonly error?: unknown;
}

export interface ScenarioRunOptions {
  readonly log?: (line: string) => void;
  /** More checks of the devices left attached, after the HTTP convergence check (e.g. against PostgreSQL). */
  readonly verify?: (devices: readonly SimulatedDevice[]) => Promise<void>;
  /** Keep the SQLite files of a failed run (default true). */
  readonly keepFilesOnFailure?: boolean;
}

export async function runScenario(
  scenario: Scenario,
  server: ScenarioServer,
  options: ScenarioRunOptions = {},
): Promise<ScenarioResult> {
  const missing = (scenario.requires ?? []).filter((requirement) => !available(server, requirement));
  if (missing.length > 0)
    return { name: scenario.name, status: 'skip', durationMs: 0, detail: `server lacks ${missing.join(', ')}` };
  const ctx = new ScenarioContext(server, scenario.name, options.log);
  const started = Date.now();
  let error: unknown;
  try {
    await scenario.run(ctx);
    await ctx.stopAll();
    await expectDevicesMatchServer(ctx);
    await options.verify?.(ctx.liveDevices());
  } catch (err) {
    error = err;
  }
  const failed = error !== undefined;
  await ctx.stopAll().catch(() => undefined);
  await ctx.dispose(failed && options.keepFilesOnFailure !== false).catch(() => undefined);
  const durationMs = Date.now() - started;
  if (!failed) return { name: scenario.name, status: 'pass', durationMs, detail: '' };
  return {
    name: scenario.name,
    status: 'fail',
    durationMs,
    detail: error instanceof Error ? error.message : String(error),
    error,
  };
}

function available(server: ScenarioServer, requirement: ScenarioRequirement): boolean {
  switch (requirement) {
    case 'test-endpoints':
      return server.features.testEndpoints;
    case 'failure-injection':
      return server.features.failureInjection;
    case 'server-write':
      return server.serverWrite !== undefined;
  }
}

/** A fixed-width table: scenario, result, seconds, first line of the detail. */
export function formatResultTable(results: readonly ScenarioResult[]): string {
  const width = Math.max('scenario'.length, ...results.map((r) => r.name.length));
  const lines = [
    `${'scenario'.padEnd(width)}  result  time     detail`,
    `${'-'.repeat(width)}  ------  -------  ------`,
  ];
  for (const r of results) {
    const detail = r.detail.split('\n')[0] ?? '';
    lines.push(
      (
        `${r.name.padEnd(width)}  ${r.status.toUpperCase().padEnd(6)}  ` +
        `${`${(r.durationMs / 1000).toFixed(1)}s`.padStart(7)}  ${detail}`
      ).trimEnd(),
    );
  }
  const count = (status: ScenarioStatus) => results.filter((r) => r.status === status).length;
  lines.push('', `${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped`);
  return `${lines.join('\n')}\n`;
}
