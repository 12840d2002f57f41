import { OversyncError } from '../errors/oversync.error.js';
import { goQuote, goToLower, goTrimSpace } from '../schema/go-string-semantics.js';
import { KEY_KIND_UUID, type RegisteredTable } from '../schema/registered-table.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { IDENTIFIER_PATTERN, isCanonicalUuid, pushByteaToApplyText, ROW_OP_CODES } from '@oversync/protocol';
import { keyBytesOf } from '../bundle/row-keys.js';
import {
  bindMember,
  bindsField,
  bindScalar,
  canonicalExactJson,
  isExactObject,
  JsonNumber,
  MAX_REQUEST_JSON_DEPTH,
  parseExactJson,
  quoteGoJsonString,
  readInt64,
  type ExactJson,
  type ExactObject,
  type MemberStream,
} from '@oversync/protocol';

/** What a chunk's rows come to, besides the rows themselves. */
export interface PushChunkShape {
  startRowOrdinal: bigint;
  /** number of rows */
  length: number;
  /**
   * `table_id columns` (the payload's members, comma-joined in canonical order) when every row is an INSERT
   * into one table with the same members, else null: a bulk commit applies such rows as one statement.
   */
  insertShape: string | null;
}

/**
 * Receives each row the parser accepted, in upload order, as it is accepted. The parse's answer still
 * decides: rows given before a failure, or before a "rows" member that replaces them, stand for nothing.
 */
export interface PushRowSink {
  /** a "rows" member starts (again, when the body repeats it: the rows given before are replaced) */
  start(): void;
  /**
   * key_bytes as hex (uuid: the canonical text without dashes; text: its UTF-8 bytes); the canonical payload
   * with exact numbers (§8.2), bytea as "\\x…", '' for DELETE
   */
  row(tableId: number, keyHex: string, opCode: number, baseRowVersion: bigint, payload: string): void;
}

/**
 * A chunk's validated, normalised rows ready for staging (spec §4.2.2), column by column in upload
 * order: what `sync.push_chunk` takes, with no object per row.
 */
export interface PushChunk extends PushChunkShape {
  tableIds: number[];
  keyHex: string[];
  /** ROW_OP_CODES of the ops */
  opCodes: number[];
  baseRowVersions: bigint[];
  /** the payloads newline-joined (canonical JSON holds no raw newline) */
  payloads: string;
}

/** A chunk's columns as they fill. */
class ChunkColumns implements PushRowSink {
  tableIds: number[] = [];
  keyHex: string[] = [];
  opCodes: number[] = [];
  baseRowVersions: bigint[] = [];
  payloads = '';

  start(): void {
    this.tableIds = [];
    this.keyHex = [];
    this.opCodes = [];
    this.baseRowVersions = [];
    this.payloads = '';
  }

  row(tableId: number, keyHex: string, opCode: number, baseRowVersion: bigint, payload: string): void {
    this.payloads = this.tableIds.length === 0 ? payload : `${this.payloads}\n${payload}`;
    this.tableIds.push(tableId);
    this.keyHex.push(keyHex);
    this.opCodes.push(opCode);
    this.baseRowVersions.push(baseRowVersion);
  }
}

/** A chunk's rows so far: their number and insert shape, with the table of the first. */
interface RowsShape {
  length: number;
  insertShape: string | null;
  firstTableId: number;
}

const IDENTIFIER = IDENTIFIER_PATTERN;
const PARSE_MESSAGE = 'Failed to parse push chunk request';

const invalid = (message: string) => new OversyncError('push_chunk_invalid', message);

/** Parses and validates a chunk body into the columns `sync.push_chunk` takes (see `parsePushChunkRows`). */
export function parsePushChunk(body: string, catalog: SyncCatalog, maxRows: number): PushChunk {
  const columns = new ChunkColumns();
  const shape = parsePushChunkRows(body, catalog, maxRows, columns);
  return {
    ...shape,
    tableIds: columns.tableIds,
    keyHex: columns.keyHex,
    opCodes: columns.opCodes,
    baseRowVersions: columns.baseRowVersions,
    payloads: columns.payloads,
  };
}

/**
 * Parses and validates a chunk body, giving each accepted row to `sink` as it is read; the first failing
 * row rejects the whole chunk (nothing staged). Rows are bound and validated while the body is read
 * (each row's tree is dropped once it is a PushRow); the answer is the one of binding and validating the
 * whole document first: a syntax error anywhere, then a type error in any row, then the chunk's own
 * rules, then the first bad row.
 */
export function parsePushChunkRows(
  body: string,
  catalog: SyncCatalog,
  maxRows: number,
  sink: PushRowSink,
): PushChunkShape {
  const rows: RowsShape = { length: 0, insertShape: null, firstTableId: 0 };
  let count = 0;
  let bindFailed = false;
  let rowError: Error | undefined;
  let seen = new Map<RegisteredTable, Set<string>>();
  let tables = new Map<string, NamedTable>();
  const stream: MemberStream = {
    binds: (name) => bindsField(name, 'rows'),
    start() {
      // a later "rows" member replaces the earlier one (Go binds the last)
      rows.length = 0;
      rows.insertShape = null;
      count = 0;
      bindFailed = false;
      rowError = undefined;
      seen = new Map();
      tables = new Map();
      sink.start();
    },
    element(value) {
      count++;
      if (bindFailed) return;
      let bound: BoundRow;
      try {
        bound = bindRow(value);
      } catch {
        bindFailed = true;
        return;
      }
      if (rowError !== undefined || count > maxRows) return;
      try {
        addRow(rows, sink, bound, catalog, seen, tables);
      } catch (error) {
        rowError = error instanceof Error ? error : new Error(String(error));
      }
    },
  };
  let document: ExactJson;
  try {
    document = parseExactJson(body, MAX_REQUEST_JSON_DEPTH, stream);
  } catch {
    throw new OversyncError('invalid_request', PARSE_MESSAGE);
  }
  if (!isExactObject(document)) throw new OversyncError('invalid_request', PARSE_MESSAGE);
  const start = bindScalar(document, 'start_row_ordinal', readInt64);
  const rowsValue = bindMember(document, 'rows');
  if (start === undefined || (rowsValue !== undefined && rowsValue !== null && !Array.isArray(rowsValue))) {
    throw new OversyncError('invalid_request', PARSE_MESSAGE);
  }
  // the last "rows" member is the streamed array when it is one; null or absent: no rows
  const length = Array.isArray(rowsValue) ? count : 0;
  if (length > 0 && bindFailed) throw new OversyncError('invalid_request', PARSE_MESSAGE);
  if (start < 0n) throw invalid('start_row_ordinal must be >= 0');
  if (length === 0) throw invalid('rows must not be empty');
  if (length > maxRows) throw invalid(`rows length ${length} exceeds max_rows_per_push_chunk ${maxRows}`);
  if (rowError !== undefined) throw rowError;
  return { startRowOrdinal: start, length: rows.length, insertShape: rows.insertShape };
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

/** The PushRequestRow fields, lower-case (their Go JSON names). */
const ROW_FIELDS = ['schema', 'table', 'key', 'op', 'base_row_version', 'payload'] as const;
const [SCHEMA, TABLE, KEY, OP, BASE_ROW_VERSION, PAYLOAD] = [0, 1, 2, 3, 4, 5] as const;

/** The index in ROW_FIELDS of the field a member name binds (as `bindsField` matches), -1 for none. */
function rowField(name: string): number {
  switch (name) {
    case 'schema':
      return SCHEMA;
    case 'table':
      return TABLE;
    case 'key':
      return KEY;
    case 'op':
      return OP;
    case 'base_row_version':
      return BASE_ROW_VERSION;
    case 'payload':
      return PAYLOAD;
  }
  for (let field = 0; field < ROW_FIELDS.length; field++) if (bindsField(name, ROW_FIELDS[field]!)) return field;
  return -1;
}

/**
 * Go encoding/json binding of one PushRequestRow: type mismatches are parse errors. One pass over the members
 * (a bulk chunk binds 5,000 rows), each field bound as `bindScalar` / `bindMember` bind it: every binding
 * member decoded in document order, `null` leaving a scalar as it was, the last other value winning.
 */
function bindRow(value: ExactJson): BoundRow {
  if (!isExactObject(value)) throw new OversyncError('invalid_request', PARSE_MESSAGE);
  const { names, values } = value;
  let schema = '';
  let table = '';
  let op = '';
  let base = 0n;
  let key: ExactJson | undefined;
  let payload: ExactJson | undefined;
  for (let i = 0; i < names.length; i++) {
    const member = values[i]!;
    const field = rowField(names[i]!);
    if (field === KEY) key = member;
    else if (field === PAYLOAD) payload = member;
    else if (field < 0 || member === null) continue;
    else if (field === BASE_ROW_VERSION) {
      const read = readInt64(member);
      if (read === undefined) throw new OversyncError('invalid_request', PARSE_MESSAGE);
      base = read;
    } else {
      if (typeof member !== 'string') throw new OversyncError('invalid_request', PARSE_MESSAGE);
      if (field === SCHEMA) schema = member;
      else if (field === TABLE) table = member;
      else op = member;
    }
  }
  if (key !== undefined && key !== null && !isExactObject(key))
    throw new OversyncError('invalid_request', PARSE_MESSAGE);
  return { schema, table, op, baseRowVersion: base, key: key ?? null, payload };
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

/** Validates one row and gives it to `sink`, counted in `rows` (nothing given when it fails). */
function addRow(
  rows: RowsShape,
  sink: PushRowSink,
  row: BoundRow,
  catalog: SyncCatalog,
  seen: Map<RegisteredTable, Set<string>>,
  tables: Map<string, NamedTable>,
): void {
  const { table, where } = resolveTable(row, catalog, tables);
  const sent =
    row.op === 'INSERT' || row.op === 'UPDATE' || row.op === 'DELETE' ? row.op : goTrimSpace(row.op).toUpperCase();
  // the constant, not the text read: a property lookup by a fresh string first searches V8's string table
  const op = sent === 'INSERT' ? 'INSERT' : sent === 'UPDATE' ? 'UPDATE' : sent === 'DELETE' ? 'DELETE' : undefined;
  if (op === undefined) throw invalid(`invalid op ${goQuote(row.op)}`);
  const keyValue = row.key ? exactMember(row.key, table.keyColumn) : undefined;
  if (keyValue === undefined) throw invalid(`row key for ${where} must include ${goQuote(table.keyColumn)}`);
  if (typeof keyValue !== 'string') throw invalid(`row key ${where}.${table.keyColumn} must be a string`);
  const uuid = table.keyKind === KEY_KIND_UUID;
  if (uuid && !isCanonicalUuid(keyValue)) {
    throw invalid(`row key ${where}.${table.keyColumn} must use canonical dashed lowercase UUID text`);
  }
  // a canonical uuid's hex digits are its bytes: no round trip through a Buffer
  const keyHex = uuid ? uuidHex(keyValue) : keyBytesOf(table, keyValue).toString('hex');
  // a logical row is its table and key_bytes: for a uuid key, its canonical text is as good
  let keys = seen.get(table);
  if (!keys) seen.set(table, (keys = new Set()));
  const identity = uuid ? keyValue : keyHex;
  if (keys.has(identity)) throw invalid(`duplicate target row in push request: ${where} ${keyValue}`);
  let payload = '';
  appliedColumns = undefined;
  if (op === 'DELETE') {
    if (row.payload !== undefined) throw invalid(`DELETE for ${where} must not include payload`);
  } else {
    if (row.payload === undefined) throw invalid(`${op} for ${where} requires payload`);
    payload = payloadApply(row.payload, table, keyValue, where);
    // PostgreSQL's text and jsonb hold no U+0000: refused here, not by a failing commit (a 500)
    if (holdsNul(payload)) {
      throw invalid(`payload for ${where} row ${keyValue} holds U+0000, which PostgreSQL cannot store`);
    }
  }
  keys.add(identity);
  sink.row(table.tableId, keyHex, ROW_OP_CODES[op], row.baseRowVersion, payload);
  const columns = op === 'INSERT' ? lastAppliedColumns() : undefined;
  if (rows.length === 0) {
    firstRowColumns = columns;
    rows.firstTableId = table.tableId;
    rows.insertShape = columns === undefined ? null : `${table.tableId} ${columns}`;
  } else if (rows.insertShape !== null && (columns !== firstRowColumns || table.tableId !== rows.firstTableId)) {
    rows.insertShape = null;
  }
  rows.length++;
}

/** The canonical member list of the payload `payloadApply` wrote last, when it is a kept shape's. */
let appliedColumns: string | undefined;
const lastAppliedColumns = (): string | undefined => appliedColumns;
/** The member list of the chunk's first row (its `insertShape` while every row has it). */
let firstRowColumns: string | undefined;

/** Whether canonical JSON text escapes a U+0000: a `\u0000` whose backslash is not itself escaped. */
function holdsNul(json: string): boolean {
  for (let at = json.indexOf('\\u0000'); at !== -1; at = json.indexOf('\\u0000', at + 1)) {
    let run = 1;
    while (at - run >= 0 && json.charCodeAt(at - run) === 0x5c) run++;
    if (run % 2 === 1) return true;
  }
  return false;
}

/** The hex digits of a canonical uuid text (its 16 bytes). */
const uuidHex = (text: string) =>
  text.slice(0, 8) + text.slice(9, 13) + text.slice(14, 18) + text.slice(19, 23) + text.slice(24);

/** Exact-name member lookup (key and payload member names are case-sensitive); last duplicate wins. */
function exactMember(object: ExactObject, name: string): ExactJson | undefined {
  const { names, values } = object;
  let found: ExactJson | undefined;
  for (let i = 0; i < names.length; i++) if (names[i] === name) found = values[i];
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

/**
 * A list of payload member names a row of a table passed the column rules with (each a column's exact
 * name, none repeated): how a payload with exactly these names is written canonically. Rows of a
 * chunk repeat a few name lists, so the rules and the sort run once per list, not once per row.
 */
interface PayloadShape {
  /** number of member names */
  count: number;
  /** per canonical (sorted) column: its member index, -1 for the key column taken from the row key */
  order: number[];
  /** per canonical column: `{"column":` for the first, `,"column":` after */
  heads: string[];
  /** per canonical column: whether it is bytea */
  bytea: boolean[];
  /** member index of the key column, -1 when the payload does not hold it */
  keyIndex: number;
  /** the canonical columns, comma-joined */
  columns: string;
}

/** Name lists kept per table (a hostile client can vary them without end: the first ones are kept). */
const MAX_SHAPES_PER_TABLE = 64;
const payloadShapes = new WeakMap<RegisteredTable, Map<string, PayloadShape>>();
function shapesOf(table: RegisteredTable): Map<string, PayloadShape> {
  let shapes = payloadShapes.get(table);
  if (!shapes) {
    shapes = new Map();
    payloadShapes.set(table, shapes);
  }
  return shapes;
}

/**
 * The shape key of a name list: names joined by NUL. Two lists of the same length with the same key
 * are the same list when one is a shape's (identifier names hold no NUL, so all its NULs separate).
 */
const shapeKey = (names: readonly string[]) => names.join('\u0000');

/** The shape the last payload took (rows of a chunk mostly repeat one name list): no key to build and look up. */
let lastShape: { table: RegisteredTable; names: readonly string[]; shape: PayloadShape } | undefined;
function sameNames(last: typeof lastShape, table: RegisteredTable, names: readonly string[]): boolean {
  if (last === undefined || last.table !== table || last.names.length !== names.length) return false;
  // member names come from the reader's name cache: the same text is mostly the same string
  for (let i = 0; i < names.length; i++) if (names[i] !== last.names[i]) return false;
  return true;
}

/** Steps 11–17 of §4.2.2, writing the canonical text directly (column names are [a-z0-9_], no escaping). */
function payloadApply(payload: ExactJson, table: RegisteredTable, key: string, where: string): string {
  if (!isExactObject(payload)) throw invalid(`payload for ${where} must be a JSON object`);
  const { names, values } = payload;
  let shape = sameNames(lastShape, table, names) ? lastShape!.shape : undefined;
  if (shape === undefined) {
    const shapes = shapesOf(table);
    shape = shapes.get(shapeKey(names));
    if (shape === undefined || shape.count !== names.length)
      return payloadApplyChecked(payload, table, key, where, shapes);
    lastShape = { table, names, shape };
  }
  // the names passed every rule before: the checks left are those of the values, in the same order
  for (let i = 0; i < values.length; i++)
    if (!withinDoubleRange(values[i]!)) throw invalid(`payload for ${where} must be a JSON object`);
  if (shape.keyIndex >= 0 && values[shape.keyIndex] !== key)
    throw invalid(`payload key ${where}.${table.keyColumn} must match request key`);
  appliedColumns = shape.columns;
  let text = '';
  for (let j = 0; j < shape.order.length; j++) {
    const index = shape.order[j]!;
    text +=
      shape.heads[j]! +
      (index < 0 ? canonicalExactJson(key) : memberText(values[index]!, shape.bytea[j]!, where, names[index]!));
  }
  return `${text}}`;
}

/** A member's canonical value; a bytea column's base64 as its apply text ("\\x…"). */
function memberText(value: ExactJson, bytea: boolean, where: string, name: string): string {
  if (value !== null && bytea) {
    if (typeof value !== 'string') throw invalid(`payload binary field ${where}.${name} must be a base64 string`);
    const applyText = pushByteaToApplyText(value);
    if (applyText === undefined) throw invalid(`payload binary field ${where}.${name} must be valid base64`);
    return canonicalExactJson(applyText);
  }
  return typeof value === 'string' ? quoteGoJsonString(value) : canonicalExactJson(value);
}

/** `payloadApply` of a name list not seen before: every rule, then the list kept as a shape when it passed. */
function payloadApplyChecked(
  payload: ExactObject,
  table: RegisteredTable,
  key: string,
  where: string,
  shapes: Map<string, PayloadShape>,
): string {
  if (!withinDoubleRange(payload)) throw invalid(`payload for ${where} must be a JSON object`);
  const { names, values } = payload;
  // Step 12 before any column rule, as the reference; any letter case (§8.3).
  for (const name of names) {
    if (name.length === 14 && goToLower(name) === '_sync_scope_id')
      throw invalid(`payload for ${where} must not include hidden scope column "_sync_scope_id"`);
  }
  const valid = validMembersOf(table);
  const byColumn = new Map<string, { name: string; value: ExactJson; index: number }>();
  for (let index = 0; index < names.length; index++) {
    const name = names[index]!;
    const value = values[index]!;
    if (valid.has(name)) {
      byColumn.set(name, { name, value, index });
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
    byColumn.set(column, { name, value, index });
  }
  const keyMember = byColumn.get(table.keyColumn);
  if (keyMember === undefined) byColumn.set(table.keyColumn, { name: table.keyColumn, value: key, index: -1 });
  else if (keyMember.value !== key) throw invalid(`payload key ${where}.${table.keyColumn} must match request key`);
  const columns = [...byColumn.keys()].sort();
  const parts: string[] = [];
  for (const column of columns) {
    const member = byColumn.get(column)!;
    parts.push(
      `"${column}":${memberText(member.value, table.columnTypes.get(column) === 'bytea', where, member.name)}`,
    );
  }
  // every name a column's, none repeated: later rows with this name list take the short way
  const repeated = byColumn.size !== names.length + (keyMember === undefined ? 1 : 0);
  if (!repeated && shapes.size < MAX_SHAPES_PER_TABLE) {
    shapes.set(shapeKey(names), {
      count: names.length,
      order: columns.map((column) => byColumn.get(column)!.index),
      heads: columns.map((column, j) => `${j === 0 ? '{' : ','}"${column}":`),
      bytea: columns.map((column) => table.columnTypes.get(column) === 'bytea'),
      keyIndex: keyMember === undefined ? -1 : keyMember.index,
      columns: columns.join(','),
    });
    appliedColumns = columns.join(',');
  }
  return `{${parts.join(',')}}`;
}

function withinDoubleRange(value: ExactJson): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (value instanceof JsonNumber) return Number.isFinite(value.toNumber());
  if (Array.isArray(value)) return value.every(withinDoubleRange);
  return value.values.every(withinDoubleRange);
}
