/**
 * The end-of-scenario invariant, over HTTP only: every device left attached has nothing pending
 * and holds exactly the rows a fresh device of the same user hydrates from a server snapshot.
 */
import { canonicalTables, tableCounts } from './device-tables.js';
import { expectEqual } from './scenario-checks.js';
import type { ScenarioContext } from './scenario-context.js';
import type { SimulatedDevice } from './simulated-device.js';

export async function expectDevicesMatchServer(ctx: ScenarioContext): Promise<void> {
  const byUser = new Map<string, SimulatedDevice[]>();
  for (const device of ctx.liveDevices()) {
    const user = device.client.userId;
    if (user) byUser.set(user, [...(byUser.get(user) ?? []), device]);
  }
  for (const [user, devices] of byUser) {
    const probe = await ctx.device('probe');
    try {
      const attached = await ctx.attach(probe, user);
      expectEqual(attached.outcome, 'used_remote_state', `probe of ${user} hydrates from the server`);
      const server = canonicalTables(probe.db);
      ctx.log(`${user}: server holds ${JSON.stringify(tableCounts(server))}`);
      for (const device of devices) {
        expectEqual(
          (await device.client.pendingSyncStatus()).pendingRowCount,
          0,
          `${device.label} has nothing left to push`,
        );
        expectEqual(canonicalTables(device.db), server, `${device.label} holds exactly the server's rows of ${user}`);
      }
    } finally {
      await probe.destroy();
    }
  }
}
