import { RetryExhaustedError } from '../../errors.js';
import { sleep } from '../../sync-transport.js';
import { columnValues, deleteRow, insertUser, rowCount, updateRow } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { eventually, expectEqual, expectRejection } from '../scenario-checks.js';
import { STANDARD_CONFIG } from '../scenario-context.js';
import { SimulatedNetwork } from '../simulated-network.js';

/**
 * `offline-online` (a stub in the reference, spec/client.md §13.2): a device keeps working without
 * network while its peer goes on; nothing written offline is lost, and its background loops catch
 * up by themselves once the network is back.
 */
export const offlineOnline: Scenario = {
  name: 'offline-online',
  summary:
    'offline writes stay pending through failed syncs and running loops, then both devices converge when back online',
  async run(ctx) {
    const user = ctx.user('owner');
    const network = new SimulatedNetwork();
    const laptop = await ctx.signedInDevice('laptop', user);
    const baseline = Array.from({ length: 5 }, (_, i) => insertUser(laptop.db, `Baseline ${i}`));
    await laptop.client.sync();
    const phone = await ctx.signedInDevice('phone', user, {
      client: { ...STANDARD_CONFIG, fetch: network.fetch, backoffMinMs: 50, backoffMaxMs: 200 },
      expectedOutcome: 'used_remote_state',
    });

    network.online = false;
    const offlineIds = [
      insertUser(phone.db, 'Offline 1'),
      insertUser(phone.db, 'Offline 2'),
      insertUser(phone.db, 'Offline 3'),
    ];
    updateRow(phone.db, 'users', baseline[0]!, { name: 'Edited offline' });
    deleteRow(phone.db, 'users', baseline[1]!);
    await expectRejection(phone.client.sync(), RetryExhaustedError, 'sync while offline');
    expectEqual(
      (await phone.client.pendingSyncStatus()).pendingRowCount,
      5,
      'offline changes still pending after the failed sync',
    );
    phone.client.start();

    const onlineIds = [insertUser(laptop.db, 'Online 1'), insertUser(laptop.db, 'Online 2')];
    updateRow(laptop.db, 'users', baseline[2]!, { name: 'Edited online' });
    await laptop.client.sync();
    await sleep(300);
    expectEqual(rowCount(phone.db, 'users'), 7, 'the offline phone still has only its own view');
    expectEqual((await phone.client.pendingSyncStatus()).pendingRowCount, 5, 'the failing loops lost nothing');

    network.online = true;
    await eventually(
      async () => (await phone.client.pendingSyncStatus()).pendingRowCount === 0 && rowCount(phone.db, 'users') === 9,
      10_000,
      'phone loops push and pull once online',
    );
    await phone.client.stop();
    await laptop.client.pullToStable();
    await phone.client.pullToStable();
    const expectedNames = [
      'Baseline 3',
      'Baseline 4',
      'Edited offline',
      'Edited online',
      'Offline 1',
      'Offline 2',
      'Offline 3',
      'Online 1',
      'Online 2',
    ];
    for (const device of [laptop, phone]) {
      expectEqual(columnValues(device.db, 'users', 'name'), expectedNames, `${device.label} users after reconnecting`);
    }
    expectEqual(
      columnValues(laptop.db, 'users', 'id').filter((id) => [...offlineIds, ...onlineIds].includes(String(id))).length,
      5,
      'every new row exists once',
    );
  },
};
