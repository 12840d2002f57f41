import { insertUser } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { WATCH_CONFIG } from '../scenario-context.js';
import { awaitConvergence, awaitSubscribers, WATCHER_CONFIG } from './watch-steps.js';

export const watchReconnectCatchUp: Scenario = {
  name: 'watch-reconnect-catch-up',
  summary: 'a bundle committed while the watcher was stopped is pulled within 5 s of restarting (catch-up event)',
  async run(ctx) {
    const user = ctx.user('owner');
    const writer = await ctx.signedInDevice('writer', user, { client: WATCH_CONFIG });
    const watcher = await ctx.signedInDevice('watcher', user, { client: WATCHER_CONFIG });
    watcher.client.start();
    await awaitSubscribers(ctx, user, 1);
    await watcher.client.stop();
    await awaitSubscribers(ctx, user, 0);
    const id = insertUser(writer.db, 'Committed while the watcher was away');
    const synced = await writer.client.sync();
    watcher.client.start();
    await awaitConvergence(ctx, watcher, id, synced.status.lastBundleSeqSeen);
    await watcher.client.stop();
  },
};
