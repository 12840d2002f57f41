/** The conflict resolver interface and the built-in resolvers (spec/client.md §7.2). */
import type { JsonObject } from './json-value.js';
import type { RowOp } from './sync-state.js';

/**
 * What the resolver sees about one rejected row. Both payloads are in wire encoding (BLOBs as
 * base64, UUID keys/references as dashed text), unlike the reference (§15 item 3).
 */
export interface ConflictContext {
  readonly schema: string;
  readonly table: string;
  /** The wire key from the server's `conflict`. */
  readonly key: JsonObject;
  readonly localOp: RowOp;
  /** The frozen local row in wire encoding; null for a DELETE. */
  readonly localPayload: JsonObject | null;
  readonly baseRowVersion: number;
  readonly serverRowVersion: number;
  readonly serverRowDeleted: boolean;
  /** The server's current row (wire encoding); null when missing or deleted. */
  readonly serverRowPayload: JsonObject | null;
}

export type MergeResult =
  | { readonly kind: 'accept_server' }
  | { readonly kind: 'keep_local' }
  /** `mergedPayload` in wire encoding, with exactly the table's columns. */
  | { readonly kind: 'keep_merged'; readonly mergedPayload: JsonObject };

export interface ConflictResolver {
  /** Called once per conflict, synchronously, while the push holds the client. */
  resolve(conflict: ConflictContext): MergeResult;
}

export const acceptServer = (): MergeResult => ({ kind: 'accept_server' });
export const keepLocal = (): MergeResult => ({ kind: 'keep_local' });
export const keepMerged = (mergedPayload: JsonObject): MergeResult => ({ kind: 'keep_merged', mergedPayload });

/** The server's row wins; the local change is dropped. The client's default. */
export class ServerWinsResolver implements ConflictResolver {
  resolve(): MergeResult {
    return acceptServer();
  }
}

/** The local change wins: it is rebased on the server version and pushed again. */
export class ClientWinsResolver implements ConflictResolver {
  resolve(): MergeResult {
    return keepLocal();
  }
}

/** Compatibility alias of the reference: server wins. */
export class DefaultResolver extends ServerWinsResolver {}

/** Wraps a function as a resolver. */
export function resolverFrom(resolve: (conflict: ConflictContext) => MergeResult): ConflictResolver {
  return { resolve };
}
