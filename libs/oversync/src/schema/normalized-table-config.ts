import { goToLower, goTrimSpace } from './go-string-semantics.js';
import type { RegisteredTableConfig } from './registered-table.js';

/** A registered-table configuration with the normalisation of spec §1.3 applied. */
export interface NormalizedTableConfig {
  readonly schema: string;
  readonly table: string;
  /** "schema.table" */
  readonly name: string;
  /** trimmed, lower-cased, without empty entries and duplicates, in configured order */
  readonly keyColumns: readonly string[];
}

function normalizeName(name: string | undefined): string {
  return goToLower(goTrimSpace(name ?? ''));
}

export function normalizeTableConfig(config: RegisteredTableConfig): NormalizedTableConfig {
  const schema = normalizeName(config.schema) || 'public';
  const table = normalizeName(config.table);
  const keyColumns = [...new Set((config.syncKeyColumns ?? []).map(normalizeName).filter((column) => column !== ''))];
  return { schema, table, name: `${schema}.${table}`, keyColumns };
}
