import { insertUser } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario-checks.js';
import { WATCH_CONFIG } from '../scenario-context.js';
import { awaitConvergence, awaitSubscribers, WATCHER_CONFIG } from './watch-steps.js';

export const watchPeerPush: Scenario = {
  name: 'watch-peer-push',
  summary: "a peer's push wakes a watching device, which pulls it within 5 s (fallback poll: 30 s)",
  async run(ctx) {
    const user = ctx.user('owner');
    const writer = await ctx.signedInDevice('writer', user, { client: WATCH_CONFIG });
    const watcher = await ctx.signedInDevice('watcher', user, { client: WATCHER_CONFIG });
    watcher.client.start();
    await awaitSubscribers(ctx, user, 1);
    const id = insertUser(writer.db, 'Wakes the watcher');
    const synced = await writer.client.sync();
    expectEqual(synced.pushOutcome, 'committed', 'writer push');
    await awaitConvergence(ctx, watcher, id, synced.status.lastBundleSeqSeen);
    await watcher.client.stop();
  },
};
