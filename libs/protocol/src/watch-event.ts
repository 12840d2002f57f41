// Byte-exact watch frames (spec/server.md §3.8) and the NOTIFY payload behind them (§4.14).
import { encodeGoJson } from './go-json-encode.js';
import { bindScalar, readInt64, readString } from './json-binding.js';
import { parseExactObject } from './json-reader.js';
import { WATCH_EVENT_NAME } from './limits.js';
import type { BundleChangeEvent, BundleChangeNotification } from './wire-types.js';

/** Go `omitempty` for the source members: absent when `""` / 0. */
function sourceMembers(event: BundleChangeEvent): Pick<BundleChangeEvent, 'source_id' | 'source_bundle_id'> {
  return {
    source_id: event.source_id === '' ? undefined : event.source_id,
    source_bundle_id: event.source_bundle_id === 0n ? undefined : event.source_bundle_id,
  };
}

/**
 * One SSE event: `event: bundle\ndata: {"bundle_seq":N[,"source_id":…,"source_bundle_id":N]}\nid: N\n\n`.
 * `id:` comes last so the first two lines stay byte-identical to the reference; its clients ignore it.
 */
export function encodeWatchEventFrame(event: BundleChangeEvent): string {
  const data = encodeGoJson({ bundle_seq: event.bundle_seq, ...sourceMembers(event) });
  return `event: ${WATCH_EVENT_NAME}\ndata: ${data}\nid: ${event.bundle_seq}\n\n`;
}

/** The `pg_notify` payload `{"user_pk":N,"bundle_seq":N[,"source_id":…,"source_bundle_id":N]}`. */
export function encodeBundleChangeNotification(notification: BundleChangeNotification): string {
  return encodeGoJson({
    user_pk: notification.user_pk,
    bundle_seq: notification.bundle_seq,
    ...sourceMembers(notification),
  });
}

/**
 * The inverse of `encodeBundleChangeNotification`: undefined for invalid JSON, a non-object, a member of
 * the wrong type, or a non-positive `user_pk`/`bundle_seq`. `""`/0 source members decode as absent.
 */
export function decodeBundleChangeNotification(payload: string): BundleChangeNotification | undefined {
  const value = parseExactObject(payload);
  if (value === undefined) return undefined;
  const userPk = bindScalar(value, 'user_pk', readInt64);
  const bundleSeq = bindScalar(value, 'bundle_seq', readInt64);
  const sourceId = bindScalar(value, 'source_id', readString);
  const sourceBundleId = bindScalar(value, 'source_bundle_id', readInt64);
  if (
    !userPk ||
    userPk <= 0n ||
    !bundleSeq ||
    bundleSeq <= 0n ||
    sourceId === undefined ||
    sourceBundleId === undefined
  )
    return undefined;
  return {
    user_pk: userPk,
    bundle_seq: bundleSeq,
    source_id: sourceId || undefined,
    source_bundle_id: sourceBundleId || undefined,
  };
}
