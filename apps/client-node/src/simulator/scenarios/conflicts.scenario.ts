import {
  acceptServer,
  ClientWinsResolver,
  type ConflictResolver,
  keepMerged,
  resolverFrom,
  ServerWinsResolver,
} from '../../conflict-resolver.js';
import { inTransaction, insertUser, rowCount, timestamp, updateRow } from '../app-writes.js';
import { canonicalInstant } from '../device-tables.js';
import type { Scenario } from '../scenario.js';
import { expectEqual, expectTrue } from '../scenario-checks.js';
import type { SimulatedDevice } from '../simulated-device.js';
import { pushTransferDiagnostics, resetPushTransferDiagnostics } from '../../testing.js';

const CONFLICT_CONFIG = { uploadLimit: 3, downloadLimit: 100, backoffMinMs: 100, backoffMaxMs: 2000 };
const SIBLINGS_PER_TARGET = 6;

/** The reference's `latestUpdatedAtResolver`: the whole row with the later `updated_at` wins, local on a tie. */
export const latestUpdatedAtResolver: ConflictResolver = resolverFrom((conflict) => {
  const local = conflict.localPayload;
  const server = conflict.serverRowPayload;
  if (conflict.localOp !== 'UPDATE' || !local || !server) return acceptServer();
  const localAt = typeof local.updated_at === 'string' ? Date.parse(local.updated_at) : NaN;
  const serverAt = typeof server.updated_at === 'string' ? Date.parse(server.updated_at) : NaN;
  if (Number.isNaN(localAt) || Number.isNaN(serverAt)) return acceptServer();
  return keepMerged(localAt >= serverAt ? local : server);
});

interface UserFields {
  name: string;
  email: string;
  updated_at: string;
}

function userFields(device: SimulatedDevice, id: string): UserFields {
  const row = device.db.prepare('SELECT name, email, updated_at FROM users WHERE id = ?').get(id) as UserFields;
  return { ...row, updated_at: canonicalInstant(row.updated_at) ?? row.updated_at };
}

/** spec/client.md §13.2 `conflicts`: a stale edit meets a newer server row under three resolvers. */
export const conflicts: Scenario = {
  name: 'conflicts',
  summary:
    'a stale multi-chunk edit conflicts on one row: server-wins, client-wins and latest-updated_at resolve ' +
    'it, siblings still land',
  async run(ctx) {
    const user = ctx.user('owner');
    const d1 = await ctx.signedInDevice('device-1', user, { client: CONFLICT_CONFIG });
    const d2 = await ctx.signedInDevice('device-2', user, { client: CONFLICT_CONFIG });
    for (const device of [d1, d2]) await device.client.rebuild();

    const targets: string[] = [];
    const siblings = new Map<string, string[]>();
    inTransaction(d1.db, () => {
      for (let t = 0; t < 3; t++) {
        const target = insertUser(d1.db, `Target ${t}`);
        targets.push(target);
        siblings.set(
          target,
          Array.from({ length: SIBLINGS_PER_TARGET }, (_, s) => insertUser(d1.db, `Sibling ${t}.${s}`)),
        );
      }
    });
    resetPushTransferDiagnostics(d1.client);
    await d1.client.pushPending();
    expectEqual(pushTransferDiagnostics(d1.client).chunksUploaded, 7, '21 seed rows in chunks of 3');
    await d1.client.pullToStable();
    await d2.client.rebuild();
    await expectSameState(d1, d2, 'baseline');

    const cases: { name: string; resolver: ConflictResolver; winner: 'server' | 'local' }[] = [
      { name: 'server-wins', resolver: new ServerWinsResolver(), winner: 'server' },
      { name: 'client-wins', resolver: new ClientWinsResolver(), winner: 'local' },
      { name: 'latest-updated-at', resolver: latestUpdatedAtResolver, winner: 'server' },
    ];
    for (const [index, conflictCase] of cases.entries()) {
      const target = targets[index]!;
      const serverAt = new Date();
      updateRow(d1.db, 'users', target, {
        name: `${conflictCase.name}: server`,
        email: 'server@example.test',
        updated_at: timestamp(serverAt),
      });
      await d1.client.pushPending();
      await d1.client.pullToStable();

      // Device 2 has not pulled: its edit is based on the old version, and its clock is an hour behind.
      const localAt = new Date(serverAt.getTime() - 3_600_000);
      updateRow(d2.db, 'users', target, {
        name: `${conflictCase.name}: local`,
        email: 'local@example.test',
        updated_at: timestamp(localAt),
      });
      for (const sibling of siblings.get(target)!)
        updateRow(d2.db, 'users', sibling, { name: `${conflictCase.name}: sibling from device 2` });
      d2.client.resolver = conflictCase.resolver;
      resetPushTransferDiagnostics(d2.client);
      expectEqual(
        (await d2.client.pushPending()).outcome,
        'committed',
        `${conflictCase.name}: push after the conflict`,
      );
      const transfer = pushTransferDiagnostics(d2.client);
      expectEqual(transfer.sessionsCreated, 2, `${conflictCase.name}: push sessions (rejected + retried)`);
      expectTrue(
        transfer.chunksUploaded >= 4,
        `${conflictCase.name}: at least 4 chunks, got ${transfer.chunksUploaded}`,
      );
      await d2.client.pullToStable();
      await d1.client.pullToStable();

      const expected =
        conflictCase.winner === 'server'
          ? {
              name: `${conflictCase.name}: server`,
              email: 'server@example.test',
              updated_at: canonicalInstant(timestamp(serverAt))!,
            }
          : {
              name: `${conflictCase.name}: local`,
              email: 'local@example.test',
              updated_at: canonicalInstant(timestamp(localAt))!,
            };
      for (const device of [d1, d2]) {
        expectEqual(userFields(device, target), expected, `${conflictCase.name}: target row on ${device.label}`);
        for (const sibling of siblings.get(target)!) {
          expectEqual(
            userFields(device, sibling).name,
            `${conflictCase.name}: sibling from device 2`,
            `${conflictCase.name}: sibling on ${device.label}`,
          );
        }
      }
      const leftovers = d2.db
        .prepare(
          'SELECT (SELECT COUNT(*) FROM _sync_dirty_rows) + (SELECT COUNT(*) FROM _sync_outbox_rows) + ' +
            '(SELECT COUNT(*) FROM _sync_push_stage) AS n',
        )
        .get() as { n: number };
      expectEqual(leftovers.n, 0, `${conflictCase.name}: device 2 has no dirty, outbox or staged rows`);
      await expectSameState(d1, d2, conflictCase.name);
    }
  },
};

async function expectSameState(d1: SimulatedDevice, d2: SimulatedDevice, what: string): Promise<void> {
  expectEqual(rowCount(d2.db, 'users'), rowCount(d1.db, 'users'), `${what}: user count on both devices`);
  expectEqual(rowCount(d1.db, 'users'), 21, `${what}: 21 users`);
  expectEqual(await d2.client.lastBundleSeqSeen(), await d1.client.lastBundleSeqSeen(), `${what}: checkpoints`);
}
