import { newId } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { awaitConvergence, awaitSubscribers, WATCHER_CONFIG } from './watch-steps.js';

export const watchServerOriginated: Scenario = {
  name: 'watch-server-originated',
  summary: 'a server-originated write (scope write on the host) wakes a watching device within 5 s',
  requires: ['server-write'],
  async run(ctx) {
    const user = ctx.user('owner');
    const watcher = await ctx.signedInDevice('watcher', user, {
      client: WATCHER_CONFIG,
      expectedOutcome: 'started_empty',
    });
    watcher.client.start();
    await awaitSubscribers(ctx, user, 1);
    const id = newId();
    const written = await ctx.server.serverWrite!(
      user,
      'INSERT INTO business.users (id, name, email) VALUES ($1, $2, $3)',
      [id, 'Written by the server', 'server@example.test'],
    );
    await awaitConvergence(ctx, watcher, id, written.bundleSeq);
    await watcher.client.stop();
  },
};
