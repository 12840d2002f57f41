/**
 * The rules Citus imposes on hash-distributed tables, checked on plain PostgreSQL against a
 * distribution plan (issue 25, libs/oversync/docs/scale-out.md):
 *
 * - every table of the checked schemas is planned: distributed by a column, or a reference table;
 * - a distributed table has its distribution column, NOT NULL;
 * - every primary key, unique constraint and unique index of a distributed table includes it;
 * - a foreign key between distributed tables maps the child's distribution column to the parent's
 *   (and both are in one colocation group: the same column type); a reference table never
 *   references a distributed one;
 * - per-user tables are colocated: one distribution column type for all of them;
 * - every sequence (standalone, identity or serial) is declared in the plan with why per-node
 *   values are acceptable, and is bigint (Citus hands each node its own range of a bigint
 *   sequence; a smaller one can only be used on the coordinator).
 */
import type pg from 'pg';

export interface CitusPlan {
  /** "schema.table" → distribution column */
  distributed: Record<string, string>;
  /** "schema.table" of reference tables (copied to every node) */
  reference: string[];
  /** "schema.sequence" → why its values need not be global */
  sequences: Record<string, string>;
}

const qualified = (schema: string, table: string) => `${schema}.${table}`;

export async function citusViolations(client: pg.Client, plan: CitusPlan, schemas: string[]): Promise<string[]> {
  const violations: string[] = [];
  const planned = (name: string) =>
    name in plan.distributed ? 'distributed' : plan.reference.includes(name) ? 'reference' : null;

  const tables = (
    await client.query<{ schema: string; name: string; oid: number }>(
      `SELECT n.nspname AS schema, c.relname AS name, c.oid::int AS oid FROM pg_class c JOIN pg_namespace n
        ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1) ORDER BY 1, 2`,
      [schemas],
    )
  ).rows;
  const byOid = new Map(tables.map((t) => [t.oid, qualified(t.schema, t.name)]));
  const columnType = new Map<string, string>();
  for (const t of tables) {
    const name = qualified(t.schema, t.name);
    const kind = planned(name);
    if (!kind) {
      violations.push(`${name}: not in the distribution plan (distributed by which column, or reference?)`);
      continue;
    }
    if (kind !== 'distributed') continue;
    const column = plan.distributed[name]!;
    const found = await client.query<{ type: string; notnull: boolean }>(
      `SELECT format_type(atttypid, atttypmod) AS type, attnotnull AS notnull FROM pg_attribute WHERE attrelid = $1
        AND attname = $2 AND NOT attisdropped`,
      [t.oid, column],
    );
    if (!found.rows[0]) violations.push(`${name}: has no distribution column ${column}`);
    else {
      columnType.set(name, found.rows[0].type);
      if (!found.rows[0].notnull) violations.push(`${name}: distribution column ${column} is nullable`);
    }
  }

  // one colocation group for all distributed tables
  const types = new Map<string, string[]>();
  for (const [name, type] of columnType) types.set(type, [...(types.get(type) ?? []), name]);
  if (types.size > 1) {
    violations.push(
      `distributed tables cannot be colocated, distribution columns differ in type: ${[...types]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([type, names]) => `${type} (${names.sort().join(', ')})`)
        .join(' vs ')}`,
    );
  }

  // primary keys, unique constraints, unique indexes
  const uniques = (
    await client.query<{ oid: number; index: string; columns: string[] | null; expressions: boolean }>(
      `SELECT i.indrelid::int AS oid, ic.relname AS index,
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) AS columns,
              i.indexprs IS NOT NULL AS expressions
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indisunique AND i.indrelid = ANY($1::oid[]) ORDER BY 2`,
      [tables.map((t) => t.oid)],
    )
  ).rows;
  for (const u of uniques) {
    const name = byOid.get(u.oid)!;
    if (planned(name) !== 'distributed') continue;
    const column = plan.distributed[name]!;
    if (!(u.columns ?? []).includes(column))
      violations.push(
        `${name}: unique index ${u.index} (${(u.columns ?? []).join(', ')}) does not include the distribution ` +
          `column ${column}`,
      );
  }

  // foreign keys
  const fks = (
    await client.query<{
      name: string;
      child: number;
      parent: number;
      child_columns: string[];
      parent_columns: string[];
    }>(
      `SELECT c.conname AS name, c.conrelid::int AS child, c.confrelid::int AS parent,
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS child_columns,
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord)
                JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS parent_columns
         FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = ANY($1::oid[]) ORDER BY 1`,
      [tables.map((t) => t.oid)],
    )
  ).rows;
  for (const fk of fks) {
    const child = byOid.get(fk.child)!;
    const parent = byOid.get(fk.parent) ?? `(oid ${fk.parent}, outside the checked schemas)`;
    const childKind = planned(child);
    const parentKind = planned(parent);
    if (!childKind) continue;
    if (!parentKind) {
      violations.push(`${child}: foreign key ${fk.name} references ${parent}, which is not in the plan`);
      continue;
    }
    if (childKind === 'reference' && parentKind === 'distributed')
      violations.push(`${child}: reference table with foreign key ${fk.name} to distributed ${parent}`);
    if (childKind === 'distributed' && parentKind === 'distributed') {
      const position = fk.child_columns.indexOf(plan.distributed[child]!);
      if (position < 0 || fk.parent_columns[position] !== plan.distributed[parent]) {
        violations.push(
          `${child}: foreign key ${fk.name} (${fk.child_columns.join(', ')}) → ${parent} (` +
            `${fk.parent_columns.join(', ')}) does not map distribution column ${plan.distributed[child]} to ` +
            `${plan.distributed[parent]}`,
        );
      }
    }
  }

  // sequences
  const sequences = (
    await client.query<{ name: string; type: string; owner: string | null }>(
      `SELECT n.nspname || '.' || c.relname AS name, format_type(s.seqtypid, NULL) AS type,
              (SELECT tn.nspname || '.' || t.relname FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
                JOIN pg_namespace tn ON tn.oid = t.relnamespace
                WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                  AND d.deptype IN ('a', 'i') LIMIT 1) AS owner
         FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1) ORDER BY 1`,
      [schemas],
    )
  ).rows;
  for (const s of sequences) {
    const label = `sequence ${s.name}${s.owner ? ` (of ${s.owner})` : ''}`;
    if (!(s.name in plan.sequences))
      violations.push(
        `${label}: not declared in the plan (its values are per node under Citus: say why that is acceptable)`,
      );
    if (s.type !== 'bigint')
      violations.push(`${label}: ${s.type}, not bigint (only the coordinator could draw from it)`);
  }
  return violations;
}
