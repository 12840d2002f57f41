/** What a scenario is, and what it needs from the server it runs against. */
import type { BearerTokens } from './bearer-tokens.js';
import type { ScenarioContext } from './scenario-context.js';
import type { TestSurfaceFeatures } from './test-surface.js';

/** Capabilities beyond the sync protocol; a scenario needing a missing one is skipped. */
export type ScenarioRequirement = 'test-endpoints' | 'failure-injection' | 'server-write';

/**
 * A server-originated write (`OversyncScopeService.execWrite`): `sql` runs on the server's
 * database as host code for `user`, and its effects become one bundle. Only an in-process host has it.
 */
export type ServerWrite = (user: string, sql: string, params: readonly unknown[]) => Promise<{ bundleSeq: number }>;

export interface ScenarioServer {
  readonly baseUrl: string;
  readonly tokens: BearerTokens;
  readonly features: TestSurfaceFeatures;
  readonly serverWrite?: ServerWrite;
}

export interface Scenario {
  /** kebab-case; a group shares a prefix (`watch-…`, `failure-injection/…`) */
  readonly name: string;
  /** One line: what happens and what must hold. */
  readonly summary: string;
  readonly requires?: readonly ScenarioRequirement[];
  /** Runs the steps and checks the invariants; devices left attached are compared with the server afterwards. */
  run(ctx: ScenarioContext): Promise<void>;
}
