import { OversyncError } from '../errors/oversync.error.js';
import { goQuote, goToLower, goTrimSpace } from '../schema/go-string-semantics.js';
import type { RegisteredTable } from '../schema/registered-table.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { IDENTIFIER_PATTERN, isCanonicalUuid, pushByteaToApplyText, type RowOp } from '@oversync/protocol';
import { keyBytesOf } from '../bundle/row-keys.js';
import {
  bindMember,
  bindScalar,
  canonicalExactJson,
  isExactObject,
  JsonNumber,
  MAX_REQUEST_JSON_DEPTH,
  parseExactJson,
  readInt64,
  readString,
  type ExactJson,
  type ExactObject,
} from '@oversync/protocol';

/** A validated, normalised push row ready for staging (spec §4.2.2). */
export interface PushRow {
  table: RegisteredTable;
  key: string;
  /** key_bytes as hex (uuid: the canonical text without dashes; text: its UTF-8 bytes) */
  keyHex: string;
  op: RowOp;
  baseRowVersion: bigint;
  /** canonical payload with exact numbers (§8.2), bytea as "\\x…"; null for DELETE */
  payloadApply: string | null;
}

export interface PushChunk {
  startRowOrdinal: bigint;
  rows: PushRow[];
}

const IDENTIFIER = IDENTIFIER_PATTERN;
const PARSE_MESSAGE = 'Failed to parse push chunk request';

const invalid = (message: string) => new OversyncError('push_chunk_invalid', message);

/** Parses and validates a chunk body; the first failing row rejects the whole chunk (nothing staged). */
export function parsePushChunk(body: string, catalog: SyncCatalog, maxRows: number): PushChunk {
  let document: ExactJson;
  try {
    document = parseExactJson(body, MAX_REQUEST_JSON_DEPTH);
  } catch {
    throw new OversyncError('invalid_request', PARSE_MESSAGE);
  }
  if (!isExactObject(document)) throw new OversyncError('invalid_request', PARSE_MESSAGE);
  const start = bindScalar(document, 'start_row_ordinal', readInt64);
  const rowsValue = bindMember(document, 'rows');
  if (start === undefined || (rowsValue !== undefined && rowsValue !== null && !Array.isArray(rowsValue))) {
    throw new OversyncError('invalid_request', PARSE_MESSAGE);
  }
  const rawRows = Array.isArray(rowsValue) ? rowsValue : [];
  const bound = rawRows.map(bindRow);
  if (start < 0n) throw invalid('start_row_ordinal must be >= 0');
  if (bound.length === 0) throw invalid('rows must not be empty');
  if (bound.length > maxRows) throw invalid(`rows length ${bound.length} exceeds max_rows_per_push_chunk ${maxRows}`);
  const seen = new Set<string>();
  const tables = new Map<string, NamedTable>();
  const rows = bound.map((row) => validateRow(row, catalog, seen, tables));
  return { startRowOrdinal: start, rows };
}

interface BoundRow {
  schema: string;
  table: string;
  key: ExactObject | null;
  op: string;
  baseRowVersion: bigint;
  /** undefined = member absent */
  payload: ExactJson | undefined;
}

/** Go encoding/json binding of one PushRequestRow: type mismatches are parse errors. */
function bindRow(value: ExactJson): BoundRow {
  if (!isExactObject(value)) throw new OversyncError('invalid_request', PARSE_MESSAGE);
  const schema = bindScalar(value, 'schema', readString);
  const table = bindScalar(value, 'table', readString);
  const op = bindScalar(value, 'op', readString);
  const base = bindScalar(value, 'base_row_version', readInt64);
  const key = bindMember(value, 'key');
  if (schema === undefined || table === undefined || op === undefined || base === undefined) {
    throw new OversyncError('invalid_request', PARSE_MESSAGE);
  }
  if (key !== undefined && key !== null && !isExactObject(key))
    throw new OversyncError('invalid_request', PARSE_MESSAGE);
  return { schema, table, op, baseRowVersion: base, key: key ?? null, payload: bindMember(value, 'payload') };
}

/** A row's table as named (schema, table as sent), resolved once per chunk: rows of a chunk repeat a few names. */
interface NamedTable {
  table: RegisteredTable;
  /** "schema.table" for messages */
  where: string;
}

function resolveTable(row: BoundRow, catalog: SyncCatalog, tables: Map<string, NamedTable>): NamedTable {
  // only NUL-free names resolve (identifiers), so a cached key has one NUL: pairs cannot collide
  const name = `${row.schema}\u0000${row.table}`;
  let found = tables.get(name);
  if (found) return found;
  const schema = goToLower(goTrimSpace(row.schema)) || 'public';
  if (!IDENTIFIER.test(schema)) throw invalid(`invalid schema name ${goQuote(row.schema)}`);
  const tableName = goToLower(goTrimSpace(row.table));
  if (!IDENTIFIER.test(tableName)) throw invalid(`invalid table name ${goQuote(row.table)}`);
  const table = catalog.find(schema, tableName);
  if (!table) throw invalid(`table ${schema}.${tableName} is not registered`);
  found = { table, where: `${schema}.${tableName}` };
  tables.set(name, found);
  return found;
}

function validateRow(row: BoundRow, catalog: SyncCatalog, seen: Set<string>, tables: Map<string, NamedTable>): PushRow {
  const { table, where } = resolveTable(row, catalog, tables);
  const op =
    row.op === 'INSERT' || row.op === 'UPDATE' || row.op === 'DELETE' ? row.op : goTrimSpace(row.op).toUpperCase();
  if (op !== 'INSERT' && op !== 'UPDATE' && op !== 'DELETE') throw invalid(`invalid op ${goQuote(row.op)}`);
  const keyValue = row.key ? exactMember(row.key, table.keyColumn) : undefined;
  if (keyValue === undefined) throw invalid(`row key for ${where} must include ${goQuote(table.keyColumn)}`);
  if (typeof keyValue !== 'string') throw invalid(`row key ${where}.${table.keyColumn} must be a string`);
  if (table.keyKind === 1 && !isCanonicalUuid(keyValue)) {
    throw invalid(`row key ${where}.${table.keyColumn} must use canonical dashed lowercase UUID text`);
  }
  // a canonical uuid's hex digits are its bytes: no round trip through a Buffer
  const keyHex = table.keyKind === 1 ? keyValue.replaceAll('-', '') : keyBytesOf(table, keyValue).toString('hex');
  const identity = `${table.tableId}:${keyHex}`;
  if (seen.has(identity)) throw invalid(`duplicate target row in push request: ${where} ${keyValue}`);
  seen.add(identity);
  const base = { table, key: keyValue, keyHex, op: op as RowOp, baseRowVersion: row.baseRowVersion };
  if (op === 'DELETE') {
    if (row.payload !== undefined) throw invalid(`DELETE for ${where} must not include payload`);
    return { ...base, payloadApply: null };
  }
  if (row.payload === undefined) throw invalid(`${op} for ${where} requires payload`);
  return { ...base, payloadApply: payloadApply(row.payload, table, keyValue, where) };
}

/** Exact-name member lookup (key and payload member names are case-sensitive); last duplicate wins. */
function exactMember(object: ExactObject, name: string): ExactJson | undefined {
  let found: ExactJson | undefined;
  for (const [key, value] of object.members) if (key === name) found = value;
  return found;
}

const LOWER_IDENTIFIER = IDENTIFIER_PATTERN;

/** Per table, the member names that passed the column rules below (each is its column's exact name). */
const validMembers = new WeakMap<RegisteredTable, Set<string>>();
function validMembersOf(table: RegisteredTable): Set<string> {
  let names = validMembers.get(table);
  if (!names) {
    names = new Set();
    validMembers.set(table, names);
  }
  return names;
}

/** Steps 11–17 of §4.2.2, writing the canonical text directly (column names are [a-z0-9_], no escaping). */
function payloadApply(payload: ExactJson, table: RegisteredTable, key: string, where: string): string {
  if (!isExactObject(payload) || !withinDoubleRange(payload))
    throw invalid(`payload for ${where} must be a JSON object`);
  // Step 12 before any column rule, as the reference; any letter case (§8.3).
  for (const [name] of payload.members) {
    if (name.length === 14 && goToLower(name) === '_sync_scope_id')
      throw invalid(`payload for ${where} must not include hidden scope column "_sync_scope_id"`);
  }
  const valid = validMembersOf(table);
  const byColumn = new Map<string, { name: string; value: ExactJson }>();
  for (const [name, value] of payload.members) {
    if (valid.has(name)) {
      byColumn.set(name, { name, value });
      continue;
    }
    const column = LOWER_IDENTIFIER.test(name) ? name : goToLower(name);
    if (!IDENTIFIER.test(column)) throw invalid(`payload for ${where} contains invalid column ${goQuote(name)}`);
    // The reference writes NULL for a mixed-case member and fails on unknown ones at commit (§8.3): reject early.
    if (!table.columnTypes.has(column)) throw invalid(`payload for ${where} contains unknown column ${goQuote(name)}`);
    // Member names are the column names exactly: `Created_at` is refused here, naming row and member (§8.3).
    if (column !== name)
      throw invalid(
        `payload for ${where} row ${key} member ${goQuote(name)} must be spelled as its column ${goQuote(column)}`,
      );
    valid.add(name);
    byColumn.set(column, { name, value });
  }
  const keyMember = byColumn.get(table.keyColumn);
  if (keyMember === undefined) byColumn.set(table.keyColumn, { name: table.keyColumn, value: key });
  else if (keyMember.value !== key) throw invalid(`payload key ${where}.${table.keyColumn} must match request key`);
  const parts: string[] = [];
  for (const column of [...byColumn.keys()].sort()) {
    const member = byColumn.get(column)!;
    let value = member.value;
    if (value !== null && table.columnTypes.get(column) === 'bytea') {
      if (typeof value !== 'string')
        throw invalid(`payload binary field ${where}.${member.name} must be a base64 string`);
      const applyText = pushByteaToApplyText(value);
      if (applyText === undefined) throw invalid(`payload binary field ${where}.${member.name} must be valid base64`);
      value = applyText;
    }
    parts.push(`"${column}":${canonicalExactJson(value)}`);
  }
  return `{${parts.join(',')}}`;
}

function withinDoubleRange(value: ExactJson): boolean {
  if (value instanceof JsonNumber) return Number.isFinite(value.toNumber());
  if (Array.isArray(value)) return value.every(withinDoubleRange);
  if (isExactObject(value)) return value.members.every(([, item]) => withinDoubleRange(item));
  return true;
}
