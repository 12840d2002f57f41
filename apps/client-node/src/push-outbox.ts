/**
 * The push outbox (spec/client.md §6.2): freezing the coalesced dirty queue into the durable
 * `_sync_outbox_*` tables in one transaction, reading a frozen outbox back after a restart, and the
 * wire rows it is uploaded as.
 */
import { canonicalSha256 } from './bundle-hash.js';
import type { ClientContext } from './client-context.js';
import { errorMessage } from './errors.js';
import { type JsonObject, parseJsonObject, stringifyJson } from './json-value.js';
import type { ManagedTable } from './managed-table.js';
import { localKeyFromKeyJson, RowCodecError, wireKeyObject, wirePayloadFromLocalImage } from './row-codec.js';
import type { RowOp } from './sync-state.js';

export interface OutboundRow {
  readonly rowOrdinal: number;
  readonly schemaName: string;
  readonly table: ManagedTable;
  readonly keyJson: string;
  readonly localKey: string;
  readonly wireKey: JsonObject;
  readonly op: RowOp;
  readonly baseRowVersion: number;
  readonly localPayload: string | null;
}

export interface OutboundSnapshot {
  readonly sourceBundleId: number;
  readonly rows: readonly OutboundRow[];
}

/** A frozen outbox left by an earlier attempt, or null. */
export function loadOutboundSnapshot(ctx: ClientContext): OutboundSnapshot | null {
  if (ctx.state.outbox().state === 'none') return null;
  const stored = ctx.state.outboxRows();
  if (stored.length === 0) return null;
  const rows = stored.map((row): OutboundRow => {
    if (row.sourceBundleId !== stored[0]!.sourceBundleId) {
      throw new Error(
        `outbound push snapshot contains multiple source_bundle_id values (${stored[0]!.sourceBundleId} and ` +
          `${row.sourceBundleId})`,
      );
    }
    const table = configuredTable(ctx, row.tableName);
    return {
      rowOrdinal: row.rowOrdinal,
      schemaName: row.schemaName,
      table,
      keyJson: row.keyJson,
      localKey: localKeyFromKeyJson(row.schemaName, table, row.keyJson),
      wireKey: parseJsonObject(row.wireKeyJson, 'wire key'),
      op: row.op,
      baseRowVersion: row.baseRowVersion,
      localPayload: row.localPayload,
    };
  });
  return { sourceBundleId: stored[0]!.sourceBundleId, rows };
}

export function configuredTable(ctx: ClientContext, name: string): ManagedTable {
  const table = ctx.table(name);
  if (!table) throw new Error(`table ${name} is not configured for sync`);
  return table;
}

interface DirtyCandidate {
  readonly row: Omit<OutboundRow, 'rowOrdinal'>;
  readonly dirtyOrdinal: number;
}

/**
 * Moves the dirty queue into the outbox in one transaction. No-op rows (a never-synced row
 * inserted then deleted) are dropped and that deletion is committed even when nothing else is
 * frozen (§15 item 22), so they no longer block pull and Detach.
 */
export function freezeOutbound(ctx: ClientContext): OutboundSnapshot | null {
  return ctx.state.transaction(() => {
    const source = ctx.state.source(ctx.session.sourceId);
    if (!source) throw new Error(`missing source state for ${ctx.session.sourceId}`);
    const dirty = ctx.state
      .stmt(
        `SELECT d.schema_name, d.table_name, d.key_json, d.base_row_version, d.payload, d.dirty_ordinal,
                (rs.key_json IS NOT NULL) AS state_exists, COALESCE(rs.deleted, 0) AS deleted
         FROM _sync_dirty_rows d
         LEFT JOIN _sync_row_state rs ON rs.schema_name = d.schema_name AND rs.table_name = d.table_name
           AND rs.key_json = d.key_json
         ORDER BY d.dirty_ordinal, d.table_name, d.key_json`,
      )
      .all() as {
      schema_name: string;
      table_name: string;
      key_json: string;
      base_row_version: number;
      payload: string | null;
      dirty_ordinal: number;
      state_exists: number;
      deleted: number;
    }[];
    const candidates: DirtyCandidate[] = [];
    for (const d of dirty) {
      const table = configuredTable(ctx, d.table_name);
      const localKey = localKeyFromKeyJson(d.schema_name, table, d.key_json);
      const wireKey = wireKeyObject(table, localKey);
      const live = d.state_exists === 1 && d.deleted === 0;
      if (d.payload === null && !live) {
        ctx.state.deleteDirty(d.schema_name, d.table_name, d.key_json);
        continue;
      }
      const op: RowOp = d.payload !== null ? (live ? 'UPDATE' : 'INSERT') : 'DELETE';
      candidates.push({
        row: {
          schemaName: d.schema_name,
          table,
          keyJson: d.key_json,
          localKey,
          wireKey,
          op,
          baseRowVersion: Number(d.base_row_version),
          localPayload: d.payload,
        },
        dirtyOrdinal: Number(d.dirty_ordinal),
      });
    }
    if (candidates.length === 0) return null;

    const ordered = orderForPush(candidates).map((c, i): OutboundRow => ({ ...c.row, rowOrdinal: i }));
    const wireRows = ordered.map(pushRequestRow);
    ctx.state.writeOutbox({
      state: 'prepared',
      sourceId: ctx.session.sourceId,
      sourceBundleId: source.nextSourceBundleId,
      canonicalRequestHash: canonicalSha256(wireRows),
      rowCount: ordered.length,
      initializationId: ctx.session.pendingInitializationId,
      remoteBundleHash: '',
      remoteBundleSeq: 0,
    });
    ordered.forEach((row, i) => {
      const wirePayload = wireRows[i]!.payload;
      ctx.state.insertOutboxRow({
        sourceBundleId: source.nextSourceBundleId,
        rowOrdinal: row.rowOrdinal,
        schemaName: row.schemaName,
        tableName: row.table.name,
        keyJson: row.keyJson,
        wireKeyJson: stringifyJson(row.wireKey),
        op: row.op,
        baseRowVersion: row.baseRowVersion,
        localPayload: row.localPayload,
        wirePayload: wirePayload === undefined ? null : stringifyJson(wirePayload),
      });
      ctx.state.deleteDirty(row.schemaName, row.table.name, row.keyJson);
    });
    const hook = ctx.hooks.beforeFreeze;
    if (hook) {
      delete ctx.hooks.beforeFreeze;
      hook();
    }
    return { sourceBundleId: source.nextSourceBundleId, rows: ordered };
  });
}

/** Upserts parents first, then deletes children first (§6.2 step 4); stable by dirty ordinal. */
function orderForPush(candidates: DirtyCandidate[]): DirtyCandidate[] {
  const upserts = candidates.filter((c) => c.row.op !== 'DELETE');
  const deletes = candidates.filter((c) => c.row.op === 'DELETE');
  upserts.sort((a, b) => a.row.table.order - b.row.table.order || a.dirtyOrdinal - b.dirtyOrdinal);
  deletes.sort((a, b) => b.row.table.order - a.row.table.order || a.dirtyOrdinal - b.dirtyOrdinal);
  return [...upserts, ...deletes];
}

/** A push chunk row `{schema, table, key, op, base_row_version, payload}` (payload absent for DELETE). */
export function pushRequestRow(row: Omit<OutboundRow, 'rowOrdinal'>): JsonObject {
  const wire: JsonObject = Object.create(null) as JsonObject;
  wire.schema = row.schemaName;
  wire.table = row.table.name;
  wire.key = row.wireKey;
  wire.op = row.op;
  wire.base_row_version = row.baseRowVersion;
  if (row.op !== 'DELETE') {
    try {
      wire.payload = wirePayloadFromLocalImage(row.table, parseJsonObject(row.localPayload ?? 'null', 'local payload'));
    } catch (err) {
      throw new RowCodecError(
        `failed to process dirty payload for ${row.schemaName}.${row.table.name}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
  }
  return wire;
}
