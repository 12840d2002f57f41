import { goJsonStringSql } from '../pull/bundle-reader.js';

/**
 * The NOTIFY payload of `encodeBundleChangeNotification` (libs/protocol) built by PostgreSQL, for the
 * commits that announce their bundle inside one statement or function (bundle finalize, push commit).
 * The arguments are SQL expressions. The source members are always written; a payload with `""`/0
 * there decodes as one without them (`decodeBundleChangeNotification`).
 */
export function bundleChangeNotificationSql(
  userPk: string,
  bundleSeq: string,
  sourceId: string,
  sourceBundleId: string,
): string {
  return (
    `'{"user_pk":' || ${userPk} || ',"bundle_seq":' || ${bundleSeq} || ',"source_id":' || ` +
    `${goJsonStringSql(sourceId)} || ',"source_bundle_id":' || ${sourceBundleId} || '}'`
  );
}
