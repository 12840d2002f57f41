import { KEY_KIND_CODES } from '@oversync/protocol';

/** Sync key kind codes of sync.table_catalog (spec §1.3). */
export const KEY_KIND_UUID = KEY_KIND_CODES.uuid;
export const KEY_KIND_TEXT = KEY_KIND_CODES.text;
export type SyncKeyKind = typeof KEY_KIND_UUID | typeof KEY_KIND_TEXT;

/** A registered table as configured by the host (names are normalised at bootstrap). */
export interface RegisteredTableConfig {
  schema?: string;
  table: string;
  syncKeyColumns: string[];
}

/** A registered table after bootstrap validation (spec §2.9). */
export interface RegisteredTable {
  /** 1-based position in byte order of "schema.table" (spec §1.3). */
  readonly tableId: number;
  readonly schema: string;
  readonly table: string;
  /** normalised "schema.table" */
  readonly name: string;
  readonly keyColumn: string;
  readonly keyKind: SyncKeyKind;
  /** every column's lower-cased udt_name, by lower-cased column name (incl. _sync_scope_id) */
  readonly columnTypes: ReadonlyMap<string, string>;
}

const byteaColumnSets = new WeakMap<RegisteredTable, ReadonlySet<string>>();

/** The table's bytea columns (lower-cased names), the set the protocol's payload conversion takes (§4.7.4). */
export function byteaColumnsOf(table: Pick<RegisteredTable, 'columnTypes'>): ReadonlySet<string> {
  let columns = byteaColumnSets.get(table as RegisteredTable);
  if (columns === undefined) {
    columns = new Set([...table.columnTypes].filter(([, type]) => type === 'bytea').map(([column]) => column));
    byteaColumnSets.set(table as RegisteredTable, columns);
  }
  return columns;
}
