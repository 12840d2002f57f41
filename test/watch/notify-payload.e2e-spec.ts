import { describe, expect, it } from '@jest/globals';
import { decodeBundleChangeNotification, encodeBundleChangeNotification } from '@oversync/protocol';
import { bundleChangeNotificationSql } from '../../libs/oversync/src/watch/bundle-change-notify.sql.js';
import { queryDatabase } from './watch-fixture.js';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

describe('NOTIFY payload built by PostgreSQL', () => {
  it('is byte-identical to the protocol encoder and decodes with the protocol decoder', async () => {
    for (const [userPk, bundleSeq, sourceId, sourceBundleId] of [
      [1n, 8n, 'd<1>&\u2028é"\\', 3n],
      [9223372036854775807n, 9007199254740993n, 'device-b', 1n],
    ] as const) {
      const [row] = await queryDatabase<{ payload: string }>(
        url,
        `SELECT ${bundleChangeNotificationSql('$1::bigint', '$2::bigint', '$3::text', '$4::bigint')} AS payload`,
        [userPk.toString(), bundleSeq.toString(), sourceId, sourceBundleId.toString()],
      );
      const notification = {
        user_pk: userPk,
        bundle_seq: bundleSeq,
        source_id: sourceId,
        source_bundle_id: sourceBundleId,
      };
      expect(row!.payload).toBe(encodeBundleChangeNotification(notification));
      expect(decodeBundleChangeNotification(row!.payload)).toEqual(notification);
    }
  });
});
