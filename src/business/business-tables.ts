import type { RegisteredTableConfig } from '@oversync/nestjs';

export function businessSchemaName(): string {
  return process.env.BUSINESS_SCHEMA?.trim() || 'business';
}

/** The reference app's registered tables, in the reference example's registration order. */
export function businessTables(schema = businessSchemaName()): RegisteredTableConfig[] {
  return ['users', 'posts', 'categories', 'teams', 'team_members', 'files', 'file_reviews', 'typed_rows'].map(
    (table) => ({
      schema,
      table,
      syncKeyColumns: ['id'],
    }),
  );
}
