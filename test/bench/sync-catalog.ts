import type pg from 'pg';

export interface CatalogTable {
  table_id: number;
  schema_name: string;
  table_name: string;
  k: string;
  kind: number;
}

/**
 * The sync catalog as the SQL probes call the request functions with it: its tables, and the pull's
 * three table-prefix arrays (ids, `{"schema":…,"table":…,"key":{"<key>":` texts, key kinds).
 */
export async function readSyncCatalog(client: pg.Client): Promise<{ tables: CatalogTable[]; pullPrefixes: unknown[] }> {
  const { rows: tables } = await client.query<CatalogTable>(
    `SELECT table_id, schema_name, table_name, sync_key_column AS k, sync_key_kind AS kind FROM sync.table_catalog
      ORDER BY table_id`,
  );
  const pullPrefixes = [
    tables.map((t) => t.table_id),
    tables.map((t) => `{"schema":"${t.schema_name}","table":"${t.table_name}","key":{"${t.k}":`),
    tables.map((t) => t.kind),
  ];
  return { tables, pullPrefixes };
}
