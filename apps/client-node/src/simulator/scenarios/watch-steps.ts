/** Steps shared by the watch scenarios (spec/client.md §13.2 `watch-*`, §11). */
import { rowCount } from '../app-writes.js';
import { eventually } from '../scenario-checks.js';
import { type ScenarioContext, WATCH_CONFIG } from '../scenario-context.js';
import type { SimulatedDevice } from '../simulated-device.js';
import { sleep } from '../../sync-transport.js';

/** A device that follows `GET /sync/watch` once started. */
export const WATCHER_CONFIG = { ...WATCH_CONFIG, bundleChangeWatchMode: 'auto' as const };

/**
 * The catalogue's bound: well below the 30 s fallback poll, so only the watch (or polling, when
 * watch is off) can meet it.
 */
export const CONVERGENCE_MS = 5000;

/** Waits until the server counts `count` watch streams of `user` (without the test surface: a short pause). */
export async function awaitSubscribers(ctx: ScenarioContext, user: string, count: number): Promise<void> {
  if (!ctx.server.features.testEndpoints) return sleep(300);
  await eventually(
    async () => (await ctx.surface.watchSubscribers(user)) === count,
    CONVERGENCE_MS,
    `${count} watch subscribers of ${user}`,
  );
}

/** The watcher holds user row `id` and reached checkpoint `bundleSeq` within the bound; resolves to the time taken. */
export async function awaitConvergence(
  ctx: ScenarioContext,
  watcher: SimulatedDevice,
  id: string,
  bundleSeq: number,
): Promise<number> {
  const has = watcher.db.prepare('SELECT 1 FROM users WHERE id = ?');
  const ms = await eventually(
    async () => has.get(id) !== undefined && (await watcher.client.lastBundleSeqSeen()) >= bundleSeq,
    CONVERGENCE_MS,
    `${watcher.label} pulls bundle ${bundleSeq}`,
  );
  ctx.log(`${watcher.label} converged in ${ms} ms (${rowCount(watcher.db, 'users')} users)`);
  return ms;
}
