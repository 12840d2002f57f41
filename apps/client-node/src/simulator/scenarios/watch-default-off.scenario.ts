import { SYNC_ROUTES } from '@oversync/protocol';
import { defaultConfig } from '../../config.js';
import { insertUser } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario-checks.js';
import { WATCH_CONFIG } from '../scenario-context.js';
import { SimulatedNetwork } from '../simulated-network.js';
import { awaitConvergence } from './watch-steps.js';

export const watchDefaultOff: Scenario = {
  name: 'watch-default-off',
  summary: 'a client with the default config converges by polling and never opens /sync/watch',
  async run(ctx) {
    expectEqual(defaultConfig('business', []).bundleChangeWatchMode, 'off', 'watch mode default');
    const user = ctx.user('owner');
    const network = new SimulatedNetwork();
    const writer = await ctx.signedInDevice('writer', user, { client: WATCH_CONFIG });
    const poller = await ctx.signedInDevice('poller', user, { client: { ...WATCH_CONFIG, fetch: network.fetch } });
    poller.client.start();
    const id = insertUser(writer.db, 'Found by polling');
    const synced = await writer.client.sync();
    await awaitConvergence(ctx, poller, id, synced.status.lastBundleSeqSeen);
    await poller.client.stop();
    expectEqual(network.requestCount(SYNC_ROUTES.watch), 0, 'watch requests of a default client');
  },
};
