// @oversync/client-node: the SQLite side of oversync for Node (better-sqlite3).
export { OversqliteClient, type OversqliteClientOptions } from './oversqlite-client.js';
export {
  defaultConfig,
  normalizeRetryPolicy,
  type BundleChangeWatchMode,
  type OversqliteConfig,
  type PullWorkerMode,
  type RetryPolicy,
  type SyncTable,
} from './config.js';
export {
  acceptServer,
  ClientWinsResolver,
  DefaultResolver,
  keepLocal,
  keepMerged,
  resolverFrom,
  ServerWinsResolver,
  type ConflictContext,
  type ConflictResolver,
  type MergeResult,
} from './conflict-resolver.js';
export * from './errors.js';
export type * from './results.js';
export type { SyncLogger } from './client-context.js';
export type { ClientStatus, StatusListener } from './client-status.js';
export type { FetchLike, TokenProvider } from './sync-transport.js';
export { TokenProviderError } from './sync-transport.js';
export type { JsonObject, JsonValue } from './json-value.js';
export { parseJson, stringifyJson } from './json-value.js';
export { uuidV7 } from './uuid-v7.js';
export { EXAMPLE_DEVICE_DDL, EXAMPLE_SCHEMA_NAME, EXAMPLE_TABLES } from './example-schema.js';
