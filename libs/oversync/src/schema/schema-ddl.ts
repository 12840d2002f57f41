import type { MigrationInterface, QueryRunner } from 'typeorm';
import { REGISTERED_TABLE_TRIGGERS, SYNC_FUNCTION_STATEMENTS, tableTriggerStatements } from './capture-triggers.js';
import { quoteIdentifier, quoteLiteral } from '../database/sql-quote.js';
import { compareUtf8 } from './go-string-semantics.js';
import { normalizeTableConfig } from './normalized-table-config.js';
import { KEY_KIND_TEXT, KEY_KIND_UUID, type RegisteredTableConfig, type SyncKeyKind } from './registered-table.js';
import { SYNC_LAYOUT_NAME, SYNC_PROTOCOL_LABEL } from './sync-layout.js';
import { SYNC_BOOTSTRAP_INDEXES, SYNC_SCHEMA_STATEMENTS, SYNC_SCHEMA_UPGRADES } from './sync-schema.sql.js';

/** A registered table for the DDL export: the module's table config plus the type of its key column. */
export interface OversyncDdlTable extends RegisteredTableConfig {
  /** PostgreSQL type of the sync key column: `uuid` or a text type (`text`, `varchar`). */
  keyType: 'uuid' | 'text';
}

/**
 * Everything bootstrap would create, as statements in order: the `sync` schema and its tables,
 * the layout rows, the catalog of `tables` (table ids by byte order of "schema.table", as the
 * module assigns them), indexes, trigger functions and each table's triggers. For hosts that own
 * their DDL: apply it with a migration, then start the module with `bootstrap: false`, which only
 * verifies. Idempotent (IF NOT EXISTS / ON CONFLICT DO NOTHING / CREATE OR REPLACE).
 */
export function oversyncSchemaStatements(tables: readonly OversyncDdlTable[]): string[] {
  const normalized = tables.map((table) => {
    const config = normalizeTableConfig(table);
    if (config.keyColumns.length !== 1)
      throw new Error(`table ${config.name}: syncKeyColumns must name exactly one column`);
    return {
      ...config,
      keyColumn: config.keyColumns[0]!,
      keyKind: (table.keyType === 'uuid' ? KEY_KIND_UUID : KEY_KIND_TEXT) as SyncKeyKind,
    };
  });
  const names = normalized.map((table) => table.name).sort(compareUtf8);
  const registered = normalized.map((table) => ({ ...table, tableId: names.indexOf(table.name) + 1 }));
  return [
    ...SYNC_SCHEMA_STATEMENTS,
    `INSERT INTO sync.meta (singleton_key, protocol_label, layout_name) VALUES (TRUE,
      ${quoteLiteral(SYNC_PROTOCOL_LABEL)}, ${quoteLiteral(SYNC_LAYOUT_NAME)}) ON CONFLICT (singleton_key) DO NOTHING`,
    ...registered.map(
      (t) =>
        `INSERT INTO sync.table_catalog (table_id, schema_name, table_name, sync_key_column, sync_key_kind)
          VALUES (${t.tableId}, ${quoteLiteral(t.schema)}, ${quoteLiteral(t.table)}, ${quoteLiteral(t.keyColumn)},
          ${t.keyKind}) ON CONFLICT (table_id) DO NOTHING`,
    ),
    ...SYNC_BOOTSTRAP_INDEXES,
    ...SYNC_SCHEMA_UPGRADES,
    ...SYNC_FUNCTION_STATEMENTS.map(([, sql]) => sql),
    ...registered.flatMap((table) => tableTriggerStatements(table).map(([, sql]) => sql)),
  ];
}

/** The same DDL as one SQL script (e.g. for a migration tool other than TypeORM, or review). */
export function oversyncSchemaSql(tables: readonly OversyncDdlTable[]): string {
  const header =
    `-- Oversync sync schema (layout ${SYNC_LAYOUT_NAME}) for ${tables.length} registered table(s). Generated ` +
    `by @oversync/nestjs.\n`;
  return `${header}${oversyncSchemaStatements(tables)
    .map((statement) => `${statement.trim()};`)
    .join('\n\n')}\n`;
}

/**
 * A TypeORM migration class that applies the module's DDL (`up`) or removes it (`down`: the triggers
 * of the registered tables and the whole `sync` schema with its history; your tables stay).
 * `timestamp` is the 13-digit suffix TypeORM orders migrations by.
 */
export function createOversyncSchemaMigration(
  tables: readonly OversyncDdlTable[],
  timestamp: number,
): new () => MigrationInterface {
  const statements = oversyncSchemaStatements(tables);
  const targets = tables.map((table) => {
    const { schema, table: name } = normalizeTableConfig(table);
    return `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`;
  });
  const name = `OversyncSchema${timestamp}`;
  return class OversyncSchemaMigration implements MigrationInterface {
    readonly name = name;

    async up(queryRunner: QueryRunner): Promise<void> {
      for (const statement of statements) await queryRunner.query(statement);
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      for (const target of targets) {
        for (const trigger of REGISTERED_TABLE_TRIGGERS)
          await queryRunner.query(`DROP TRIGGER IF EXISTS ${trigger} ON ${target}`);
      }
      await queryRunner.query('DROP SCHEMA IF EXISTS sync CASCADE');
    }
  };
}
