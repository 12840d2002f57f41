import type { Scenario } from '../scenario.js';
import { awaitSubscribers, WATCHER_CONFIG } from './watch-steps.js';

export const watchIdleCleanup: Scenario = {
  name: 'watch-idle-cleanup',
  summary: 'stopping a watcher releases its server subscription within 5 s',
  requires: ['test-endpoints'],
  async run(ctx) {
    const user = ctx.user('owner');
    const watcher = await ctx.signedInDevice('watcher', user, { client: WATCHER_CONFIG });
    watcher.client.start();
    await awaitSubscribers(ctx, user, 1);
    await watcher.client.stop();
    await awaitSubscribers(ctx, user, 0);
  },
};
