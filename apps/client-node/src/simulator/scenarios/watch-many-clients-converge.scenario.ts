import { insertUser } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { WATCH_CONFIG } from '../scenario-context.js';
import { awaitConvergence, awaitSubscribers, WATCHER_CONFIG } from './watch-steps.js';

const WATCHERS = 8;

export const watchManyClientsConverge: Scenario = {
  name: 'watch-many-clients-converge',
  summary: `${WATCHERS} watching devices of one user all pull a peer's push within 5 s`,
  async run(ctx) {
    const user = ctx.user('owner');
    const writer = await ctx.signedInDevice('writer', user, { client: WATCH_CONFIG });
    const watchers = [];
    for (let i = 0; i < WATCHERS; i++)
      watchers.push(await ctx.signedInDevice(`watcher-${i}`, user, { client: WATCHER_CONFIG }));
    for (const watcher of watchers) watcher.client.start();
    await awaitSubscribers(ctx, user, WATCHERS);
    const id = insertUser(writer.db, 'Seen by every watcher');
    const synced = await writer.client.sync();
    await Promise.all(watchers.map((watcher) => awaitConvergence(ctx, watcher, id, synced.status.lastBundleSeqSeen)));
    await ctx.stopAll();
  },
};
