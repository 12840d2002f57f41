import { PushRejectedError } from '../../errors.js';
import { columnValues, deleteRow, insertRow, newId } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual, expectRejection } from '../scenario-checks.js';

/**
 * spec/client.md §13.2 `typed-rows` with §13.4 fixed: keys are canonical UUID text. A row with the
 * reference's non-UUID key is rejected by the server as a distinct error, and `restoreOutbox()` lets
 * the app repair it instead of poisoning every later push.
 */
export const typedRows: Scenario = {
  name: 'typed-rows',
  summary:
    'NULLs, integers (also beyond 2^53), reals, BLOBs and timestamps arrive exactly; a non-UUID key is ' +
    'rejected and repairable',
  async run(ctx) {
    const user = ctx.user('owner');
    const phone = await ctx.signedInDevice('phone', user);
    insertRow(phone.db, 'typed_rows', { id: 'typed-null', name: 'not a uuid', enabled_flag: 0 });
    await expectRejection(phone.client.pushPending(), PushRejectedError, 'push of a non-UUID key');
    expectEqual(await phone.client.restoreOutbox(), 1, 'the rejected row goes back to the dirty queue');
    deleteRow(phone.db, 'typed_rows', 'typed-null');

    const ids = { null: newId(), rich: newId(), big: newId() };
    insertRow(phone.db, 'typed_rows', { id: ids.null, name: 'typed-null', enabled_flag: 0 });
    insertRow(phone.db, 'typed_rows', {
      id: ids.rich,
      name: 'typed-rich',
      note: 'second-device',
      count_value: 42,
      enabled_flag: 1,
      rating: 1.25,
      data: Buffer.from('cafebabe', 'hex'),
      created_at: '2026-03-24T18:42:11Z',
    });
    insertRow(phone.db, 'typed_rows', {
      id: ids.big,
      name: 'typed-big',
      count_value: 9007199254740993n,
      enabled_flag: 1,
      rating: -0.1,
    });
    expectEqual((await phone.client.pushPending()).outcome, 'committed', 'push of the typed rows');

    const tablet = await ctx.signedInDevice('tablet', user, { expectedOutcome: 'used_remote_state' });
    const read = (id: string) =>
      tablet.db
        .prepare('SELECT name, note, count_value, enabled_flag, rating, data, created_at FROM typed_rows WHERE id = ?')
        .safeIntegers(true)
        .get(id);
    expectEqual(
      read(ids.null),
      {
        name: 'typed-null',
        note: null,
        count_value: null,
        enabled_flag: 0n,
        rating: null,
        data: null,
        created_at: null,
      },
      'the all-NULL row',
    );
    const rich = read(ids.rich) as { created_at: string };
    expectEqual(
      { ...rich, created_at: Date.parse(rich.created_at) },
      {
        name: 'typed-rich',
        note: 'second-device',
        count_value: 42n,
        enabled_flag: 1n,
        rating: 1.25,
        data: Buffer.from('cafebabe', 'hex'),
        created_at: Date.parse('2026-03-24T18:42:11Z'),
      },
      'the rich row',
    );
    expectEqual(
      (read(ids.big) as { count_value: bigint }).count_value,
      9007199254740993n,
      'an integer beyond 2^53 stays exact',
    );
    expectEqual(
      columnValues(tablet.db, 'typed_rows', 'name'),
      ['typed-big', 'typed-null', 'typed-rich'],
      'exactly the three rows',
    );
  },
};
