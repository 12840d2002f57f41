import { deleteRow, insertUser, updateRow } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario-checks.js';
import type { SimulatedDevice } from '../simulated-device.js';

/** spec/client.md §13.2 `multi-device-complex`: interleaved creates, edits, deletes and a re-create on two devices. */
export const multiDeviceComplex: Scenario = {
  name: 'multi-device-complex',
  summary: 'two devices interleave 11 steps (incl. delete + re-create of one id); both end with A2, A3, B1, B2, B3',
  async run(ctx) {
    const user = ctx.user('owner');
    const d1 = await ctx.signedInDevice('device-1', user);
    const d2 = await ctx.signedInDevice('device-2', user);
    for (const device of [d1, d2]) await device.client.rebuild();
    const step = async (device: SimulatedDevice, write: () => void) => {
      write();
      expectEqual((await device.client.pushPending()).outcome, 'committed', `${device.label} push`);
      await device.client.pullToStable();
    };
    const id: Record<string, string> = {};
    await step(d1, () => ['A1', 'A2', 'A3'].forEach((name) => (id[name] = insertUser(d1.db, name))));
    await step(d2, () => ['B1', 'B2'].forEach((name) => (id[name] = insertUser(d2.db, name))));
    await step(d1, () => updateRow(d1.db, 'users', id.A2!, { name: 'A2 edited on device 1' }));
    await step(d2, () => deleteRow(d2.db, 'users', id.A1!));
    await step(d1, () => (id.B3 = insertUser(d1.db, 'B3')));
    await step(d2, () => updateRow(d2.db, 'users', id.B2!, { name: 'B2 edited on device 2' }));
    await step(d1, () => {
      deleteRow(d1.db, 'users', id.A3!);
      insertUser(d1.db, 'A3 re-created', id.A3);
      updateRow(d1.db, 'users', id.A3!, { email: 'a3@re-created.test' });
    });
    for (const device of [d1, d2]) await device.client.pullToStable();

    const expected = [
      [id.A2, 'A2 edited on device 1'],
      [id.A3, 'A3 re-created'],
      [id.B1, 'B1'],
      [id.B2, 'B2 edited on device 2'],
      [id.B3, 'B3'],
    ].sort(([a], [b]) => (String(a) < String(b) ? -1 : 1));
    for (const device of [d1, d2]) {
      expectEqual(
        device.db.prepare('SELECT id, name FROM users ORDER BY id').raw().all(),
        expected,
        `${device.label} users`,
      );
    }
  },
};
