import { SYNC_ROUTES } from '@oversync/protocol';
import { insertUser } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual, expectTrue } from '../scenario-checks.js';
import { WATCH_CONFIG } from '../scenario-context.js';
import { SimulatedNetwork } from '../simulated-network.js';
import { awaitConvergence, WATCHER_CONFIG } from './watch-steps.js';

export const watchServerUnsupportedFallback: Scenario = {
  name: 'watch-server-unsupported-fallback',
  summary:
    'a watch-enabled client facing a server without watch (or with watch hidden) converges by polling and ' +
    'never opens /sync/watch',
  async run(ctx) {
    const user = ctx.user('owner');
    const writer = await ctx.signedInDevice('writer', user, { client: WATCH_CONFIG });
    // Whatever the server says, the client is shown no watch (the reference harness's proxy does the same).
    const network = new SimulatedNetwork();
    network.hideWatchCapability = true;
    const watcher = await ctx.signedInDevice('watcher', user, { client: { ...WATCHER_CONFIG, fetch: network.fetch } });
    ctx.log(
      network.serverAdvertisedWatch
        ? 'the server advertises watch: hidden from the client'
        : 'the server does not advertise watch',
    );
    watcher.client.start();
    const id = insertUser(writer.db, 'Found by the fallback poll');
    const synced = await writer.client.sync();
    await awaitConvergence(ctx, watcher, id, synced.status.lastBundleSeqSeen);
    await watcher.client.stop();
    expectTrue(
      network.requestCount(SYNC_ROUTES.capabilities) >= 2,
      'the client asked for the capabilities (attach and watch setup)',
    );
    expectEqual(network.requestCount(SYNC_ROUTES.watch), 0, 'watch requests');
  },
};
