import { columnValues, insertUser } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario-checks.js';
import { STANDARD_CONFIG, WATCH_CONFIG } from '../scenario-context.js';
import type { InjectableEndpoint } from '@oversync/protocol';
import { awaitConvergence, awaitSubscribers, WATCHER_CONFIG } from './watch-steps.js';

/** Small chunks, so a push makes several chunk requests. */
const RETRY_CONFIG = { ...STANDARD_CONFIG, uploadLimit: 2 };

/**
 * Three devices of one user sync while `endpoint` fails: first twice with a transient 503 (the
 * client's own retries absorb it), then once with a 500 (the call fails and the app repeats it).
 * Nothing may be lost or duplicated: exactly the 7 rows written, in exactly 3 bundles.
 */
export function failureInjection(endpoint: InjectableEndpoint): Scenario {
  return {
    name: `failure-injection/${endpoint}`,
    summary: `a multi-device round converges while ${endpoint} answers 503 twice, then 500 once`,
    requires: ['failure-injection'],
    async run(ctx) {
      const user = ctx.user('owner');
      try {
        await ctx.surface.armFailure(endpoint, 2, 503);
        const a = await ctx.signedInDevice('device-a', user, { client: RETRY_CONFIG });
        const written = [insertUser(a.db, 'A 1'), insertUser(a.db, 'A 2'), insertUser(a.db, 'A 3')];
        await a.client.sync();
        const b = await ctx.signedInDevice('device-b', user, { client: RETRY_CONFIG });
        written.push(insertUser(b.db, 'B 1'), insertUser(b.db, 'B 2'));
        await b.client.sync();
        await a.client.pullToStable();
        expectEqual(await ctx.surface.pendingFailures(), {}, 'both transient failures were met (and retried)');

        await ctx.surface.armFailure(endpoint, 1, 500);
        const c = await ctx.device('device-c', RETRY_CONFIG);
        await ctx.retrying('attach device-c', () => ctx.attach(c, user));
        written.push(insertUser(c.db, 'C 1'), insertUser(c.db, 'C 2'));
        await ctx.retrying('sync device-c', () => c.client.sync());
        for (const device of [a, b]) await ctx.retrying(`pull ${device.label}`, () => device.client.pullToStable());
        expectEqual(await ctx.surface.pendingFailures(), {}, 'the permanent failure was met (and the app retried)');

        for (const device of [a, b, c]) {
          expectEqual(
            columnValues(device.db, 'users', 'id'),
            [...written].sort(),
            `${device.label} holds each written row once`,
          );
          expectEqual(
            await device.client.lastBundleSeqSeen(),
            3,
            `${device.label}: three pushes made exactly three bundles`,
          );
        }
      } finally {
        await ctx.surface.clearFailures();
      }
    },
  };
}

/**
 * A watch event's pull fails for good (503 more often than the client retries a request): the
 * watcher must still converge long before its 30 s fallback poll, by retrying the pull.
 */
export const watchPullFailure: Scenario = {
  name: 'failure-injection/watch-pull',
  summary: "a watcher whose event-triggered pull exhausts its retries still pulls the peer's bundle within 5 s",
  requires: ['failure-injection'],
  async run(ctx) {
    const user = ctx.user('owner');
    const writer = await ctx.signedInDevice('writer', user, { client: WATCH_CONFIG });
    const watcher = await ctx.signedInDevice('watcher', user, { client: WATCHER_CONFIG });
    watcher.client.start();
    try {
      await awaitSubscribers(ctx, user, 1);
      await ctx.surface.armFailure('pull', 3, 503);
      const id = insertUser(writer.db, 'Pulled despite a failing pull');
      const pushed = await writer.client.pushPending();
      await awaitConvergence(ctx, watcher, id, pushed.status.lastBundleSeqSeen);
      expectEqual(await ctx.surface.pendingFailures(), {}, 'the failing pulls were met');
    } finally {
      await watcher.client.stop();
      await ctx.surface.clearFailures();
    }
  },
};
