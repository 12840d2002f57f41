import { OversyncError } from '../errors/oversync.error.js';
import { goQuote, goToLower, goTrimSpace } from '../schema/go-string-semantics.js';
import { KEY_KIND_UUID, type RegisteredTable } from '../schema/registered-table.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { IDENTIFIER_PATTERN, isCanonicalUuid, pushByteaToApplyText, ROW_OP_CODES } from '@oversync/protocol';
import { keyBytesOf } from '../bundle/row-keys.js';
import type { CopyInWriter } from '../database/copy-in.js';
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
  /**
   * Optional, for a sink writing COPY lines: starts the next row's line, of at most `maxBytes` bytes past its
   * table id, with the fields up to the key's hex, and returns the writer for the parser to write the rest from
   * the body's text (a plain row: see `scanPlainRow`); undefined when the sink takes no more lines this way.
   */
  lineHead?(maxBytes: number, tableId: number): CopyInWriter | undefined;
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
  let plain = new PlainRows();
  // the body's UTF-16 units, made when the first row is taken from the text
  let units: Uint16Array | undefined;
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
      plain = new PlainRows();
      sink.start();
    },
    // a sink of COPY lines takes a plain row from the text; anything else (a failure among them) is read as before
    elementAt:
      sink.lineHead &&
      ((text, pos) => {
        if (bindFailed || rowError !== undefined || count >= maxRows) return -1;
        units ??= unitsOf(text);
        const end = scanPlainRow(units, pos);
        if (end < 0 || !plain.line(text, units, rows, sink, catalog, seen, tables)) return -1;
        count++;
        return end;
      }),
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
  countRow(rows, table.tableId, op === 'INSERT' ? lastAppliedColumns() : undefined);
}

/** Counts an accepted row in `rows`, with its table and member list when it is an INSERT. */
function countRow(rows: RowsShape, tableId: number, columns: string | undefined): void {
  if (rows.length === 0) {
    firstRowColumns = columns;
    rows.firstTableId = tableId;
    rows.insertShape = columns === undefined ? null : `${tableId} ${columns}`;
  } else if (rows.insertShape !== null && (columns !== firstRowColumns || tableId !== rows.firstTableId)) {
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
  /** the member names, in their order */
  names: readonly string[];
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
      names: [...names],
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

// ---------- plain rows: a bulk chunk's rows from the text to their COPY lines, no tree, no strings ----------

/** Units kept between parses (a parse is synchronous): a bulk chunk's body allocates no 2 MB array each time. */
let scratchUnits = new Uint16Array(0);
const MAX_SCRATCH_UNITS = 4 * 1024 * 1024;

/**
 * The body's UTF-16 units in a typed array (one native copy), and a 0 after the last as the end: reading a
 * typed array's element is a plain load where `charCodeAt` of a 1 MB body string costs ≈ 2.5 × as much. Valid
 * until the next parse.
 */
function unitsOf(text: string): Uint16Array {
  let units = scratchUnits;
  if (units.length <= text.length) {
    units = new Uint16Array(text.length + 1 + (text.length >> 3));
    if (units.length <= MAX_SCRATCH_UNITS) scratchUnits = units;
  }
  Buffer.from(units.buffer, units.byteOffset, 2 * text.length).write(text, 'utf16le');
  units[text.length] = 0;
  return units;
}

/**
 * A plain row as `scanPlainRow` found it: its members' spans of the body's units ([start, end) of a string's
 * content or of a number). A plain row is one the reader would bind without a doubt and whose canonical payload
 * is its own text reordered: the field names in lower case, each once; schema, table, op and the key strings;
 * the key an object of one string member; base_row_version a small integer; the payload an object of strings,
 * small integers, `true`, `false` and `null`; no string holding an escape, a control character or anything
 * canonical JSON escapes (`<`, `>`, `&`, U+2028, U+2029, surrogates).
 */
const plainRow = {
  schemaStart: 0,
  schemaEnd: 0,
  tableStart: 0,
  tableEnd: 0,
  opStart: 0,
  opEnd: 0,
  keyNameStart: 0,
  keyNameEnd: 0,
  /** -1: no key member */
  keyStart: -1,
  keyEnd: 0,
  /** -1: no base_row_version member (0) */
  baseStart: -1,
  baseEnd: 0,
  /** the payload's `{`, -1: no payload member */
  payloadStart: -1,
  /** after the payload's `}` */
  payloadEnd: 0,
  /** payload members */
  members: 0,
};
const MAX_PLAIN_MEMBERS = 64;
const memberNameStart = new Int32Array(MAX_PLAIN_MEMBERS);
const memberNameEnd = new Int32Array(MAX_PLAIN_MEMBERS);
const memberStart = new Int32Array(MAX_PLAIN_MEMBERS);
const memberEnd = new Int32Array(MAX_PLAIN_MEMBERS);
/** 1: a string (its content's span), 0: a number or literal (its text's span) */
const memberIsString = new Uint8Array(MAX_PLAIN_MEMBERS);

function skipWhitespace(units: Uint16Array, pos: number): number {
  let c = units[pos]!;
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = units[++pos]!;
  return pos;
}

/**
 * The closing quote of the string whose content starts at `start` when canonical JSON writes that content as
 * it is (see `plainRow`), else -1 (the end of the body, its 0, among them).
 */
function plainStringEnd(units: Uint16Array, start: number): number {
  for (let pos = start; ; pos++) {
    const c = units[pos]!;
    if (c === 0x22) return pos;
    if (c < 0x20 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26) return -1;
    if (c >= 0x2028 && (c <= 0x2029 || (c >= 0xd800 && c <= 0xdfff))) return -1;
  }
}

/**
 * The end of the integer at `pos` of at most `digits` digits that Go and canonical JSON read and write as it is
 * (no leading zero, no `-0`, no fraction or exponent), else -1.
 */
function plainIntegerEnd(units: Uint16Array, pos: number, digits: number, negative: boolean): number {
  let at = pos;
  if (negative && units[at] === 0x2d) at++;
  let c = units[at]!;
  if (c === 0x30) {
    if (at !== pos) return -1;
    c = units[++at]!;
  } else if (c >= 0x31 && c <= 0x39) {
    const first = at;
    do c = units[++at]!;
    while (c >= 0x30 && c <= 0x39);
    if (at - first > digits) return -1;
  } else return -1;
  return c === 0x2e || c === 0x65 || c === 0x45 || (c >= 0x30 && c <= 0x39) ? -1 : at;
}

/** Whether the units `[start, end)` are `word`. */
function spanIs(units: Uint16Array, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (units[start + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** Whether the units `[start, end)` and `[other, other + end - start)` are the same. */
function sameUnits(units: Uint16Array, start: number, end: number, other: number): boolean {
  for (let i = start; i < end; i++) if (units[i] !== units[other++]) return false;
  return true;
}

/** The row field a plain member name is (exactly its Go JSON name), else -1. */
function plainRowField(units: Uint16Array, start: number, end: number): number {
  switch (end - start) {
    case 6:
      return spanIs(units, start, end, 'schema') ? SCHEMA : -1;
    case 5:
      return spanIs(units, start, end, 'table') ? TABLE : -1;
    case 3:
      return spanIs(units, start, end, 'key') ? KEY : -1;
    case 2:
      return spanIs(units, start, end, 'op') ? OP : -1;
    case 16:
      return spanIs(units, start, end, 'base_row_version') ? BASE_ROW_VERSION : -1;
    case 7:
      return spanIs(units, start, end, 'payload') ? PAYLOAD : -1;
  }
  return -1;
}

/** The closing quote of the name `plainName` read last. */
let nameEnd = 0;

/** A plain member name at `pos` (its quote) and its colon: where its value starts, else -1. */
function plainName(units: Uint16Array, pos: number): number {
  if (units[pos] !== 0x22) return -1;
  const end = (nameEnd = plainStringEnd(units, pos + 1));
  if (end < 0) return -1;
  pos = skipWhitespace(units, end + 1);
  return units[pos] === 0x3a ? skipWhitespace(units, pos + 1) : -1;
}

/** The row at `pos` (its `{`) into `plainRow` when it is plain: where it ends, else -1. */
function scanPlainRow(units: Uint16Array, pos: number): number {
  const row = plainRow;
  row.schemaStart = row.schemaEnd = row.tableStart = row.tableEnd = row.opStart = row.opEnd = 0;
  row.keyStart = row.baseStart = row.payloadStart = -1;
  let fields = 0;
  pos = skipWhitespace(units, pos + 1);
  for (;;) {
    const nameStart = pos + 1;
    pos = plainName(units, pos);
    if (pos < 0) return -1;
    const field = plainRowField(units, nameStart, nameEnd);
    if (field < 0 || (fields & (1 << field)) !== 0) return -1;
    fields |= 1 << field;
    if (field === KEY) pos = scanPlainKey(units, pos);
    else if (field === PAYLOAD) pos = scanPlainPayload(units, pos);
    else if (field === BASE_ROW_VERSION) {
      row.baseStart = pos;
      // at most 18 digits: inside int64
      pos = row.baseEnd = plainIntegerEnd(units, pos, 18, false);
    } else {
      if (units[pos] !== 0x22) return -1;
      const end = plainStringEnd(units, pos + 1);
      if (end < 0) return -1;
      if (field === SCHEMA) [row.schemaStart, row.schemaEnd] = [pos + 1, end];
      else if (field === TABLE) [row.tableStart, row.tableEnd] = [pos + 1, end];
      else [row.opStart, row.opEnd] = [pos + 1, end];
      pos = end + 1;
    }
    if (pos < 0) return -1;
    pos = skipWhitespace(units, pos);
    const c = units[pos];
    if (c === 0x7d) return pos + 1;
    if (c !== 0x2c) return -1;
    pos = skipWhitespace(units, pos + 1);
  }
}

/** A key object of one string member at `pos`: where it ends, else -1. */
function scanPlainKey(units: Uint16Array, pos: number): number {
  const row = plainRow;
  if (units[pos] !== 0x7b) return -1;
  pos = skipWhitespace(units, pos + 1);
  row.keyNameStart = pos + 1;
  pos = plainName(units, pos);
  if (pos < 0 || units[pos] !== 0x22) return -1;
  row.keyNameEnd = nameEnd;
  const end = plainStringEnd(units, pos + 1);
  if (end < 0) return -1;
  row.keyStart = pos + 1;
  row.keyEnd = end;
  pos = skipWhitespace(units, end + 1);
  return units[pos] === 0x7d ? pos + 1 : -1;
}

/** Whether `word` follows at `pos`. */
const wordAt = (units: Uint16Array, pos: number, word: string) => spanIs(units, pos, pos + word.length, word);

/** A payload object of plain members at `pos`: where it ends, else -1. */
function scanPlainPayload(units: Uint16Array, pos: number): number {
  const row = plainRow;
  if (units[pos] !== 0x7b) return -1;
  row.payloadStart = pos;
  let members = 0;
  pos = skipWhitespace(units, pos + 1);
  if (units[pos] !== 0x7d) {
    for (;;) {
      if (members === MAX_PLAIN_MEMBERS) return -1;
      memberNameStart[members] = pos + 1;
      pos = plainName(units, pos);
      if (pos < 0) return -1;
      memberNameEnd[members] = nameEnd;
      const c = units[pos];
      let end: number;
      if (c === 0x22) {
        end = plainStringEnd(units, pos + 1);
        if (end < 0) return -1;
        memberStart[members] = pos + 1;
        memberEnd[members] = end;
        memberIsString[members] = 1;
        end++;
      } else {
        if (c === 0x74) end = wordAt(units, pos, 'true') ? pos + 4 : -1;
        else if (c === 0x66) end = wordAt(units, pos, 'false') ? pos + 5 : -1;
        else if (c === 0x6e) end = wordAt(units, pos, 'null') ? pos + 4 : -1;
        // at most 15 digits: a double's integer, written back as it is
        else end = plainIntegerEnd(units, pos, 15, true);
        if (end < 0) return -1;
        memberStart[members] = pos;
        memberEnd[members] = end;
        memberIsString[members] = 0;
      }
      members++;
      pos = skipWhitespace(units, end);
      const next = units[pos];
      if (next === 0x7d) break;
      if (next !== 0x2c) return -1;
      pos = skipWhitespace(units, pos + 1);
    }
  }
  row.members = members;
  row.payloadEnd = pos + 1;
  return pos + 1;
}

function isCanonicalUuidAt(units: Uint16Array, start: number, end: number): boolean {
  if (end - start !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = units[start + i]!;
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return false;
    } else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

const TAB = 0x09;

/** A chunk's plain rows: each validated as `addRow` would and written as its COPY line, or left to `addRow`. */
class PlainRows {
  /** the table the last plain row named, and where that row's schema and table are */
  private named: NamedTable | undefined;
  private schemaAt = 0;
  private schemaLength = 0;
  private tableAt = 0;
  private tableLength = 0;
  /** the payload shape of the last plain row of `shapeTable`, and where that row's member names are */
  private shape: PayloadShape | undefined;
  private shapeTable: RegisteredTable | undefined;
  private readonly namesAt = new Int32Array(MAX_PLAIN_MEMBERS);

  /**
   * The row `scanPlainRow` read, validated and written through `sink.lineHead` when it passes every check
   * `addRow` makes and its payload has a kept shape; false, nothing written or counted, otherwise (the row is
   * then read and bound as any other, which words any failure).
   */
  line(
    text: string,
    units: Uint16Array,
    rows: RowsShape,
    sink: PushRowSink,
    catalog: SyncCatalog,
    seen: Map<RegisteredTable, Set<string>>,
    tables: Map<string, NamedTable>,
  ): boolean {
    const row = plainRow;
    let named = this.named;
    if (
      named === undefined ||
      row.schemaEnd - row.schemaStart !== this.schemaLength ||
      row.tableEnd - row.tableStart !== this.tableLength ||
      !sameUnits(units, row.schemaStart, row.schemaEnd, this.schemaAt) ||
      !sameUnits(units, row.tableStart, row.tableEnd, this.tableAt)
    ) {
      const schema = text.slice(row.schemaStart, row.schemaEnd);
      const tableName = text.slice(row.tableStart, row.tableEnd);
      try {
        named = this.named = resolveTable({ schema, table: tableName } as BoundRow, catalog, tables);
      } catch {
        return false;
      }
      this.schemaLength = schema.length;
      this.tableLength = tableName.length;
    }
    // the next row's names are compared with this one's
    this.schemaAt = row.schemaStart;
    this.tableAt = row.tableStart;
    const table = named.table;
    const op = spanIs(units, row.opStart, row.opEnd, 'INSERT')
      ? 'INSERT'
      : spanIs(units, row.opStart, row.opEnd, 'UPDATE')
        ? 'UPDATE'
        : spanIs(units, row.opStart, row.opEnd, 'DELETE')
          ? 'DELETE'
          : undefined;
    if (
      op === undefined ||
      table.keyKind !== KEY_KIND_UUID ||
      row.keyStart < 0 ||
      !spanIs(units, row.keyNameStart, row.keyNameEnd, table.keyColumn) ||
      !isCanonicalUuidAt(units, row.keyStart, row.keyEnd)
    )
      return false;
    const identity = text.slice(row.keyStart, row.keyEnd);
    const keys = seen.get(table);
    if (keys?.has(identity)) return false;
    let shape: PayloadShape | undefined;
    if (op === 'DELETE') {
      if (row.payloadStart >= 0) return false;
    } else {
      if (row.payloadStart < 0) return false;
      shape = this.payloadShape(text, units, table);
      if (shape === undefined || shape.bytea.includes(true)) return false;
      const keyIndex = shape.keyIndex;
      if (
        keyIndex >= 0 &&
        (memberIsString[keyIndex] !== 1 ||
          memberEnd[keyIndex]! - memberStart[keyIndex]! !== 36 ||
          !sameUnits(units, row.keyStart, row.keyEnd, memberStart[keyIndex]!))
      )
        return false;
    }
    // the key's hex, op, a base of at most 18 digits, the payload at most 3 bytes per unit of its text, the
    // key member when added, and separators
    const payloadBytes =
      shape === undefined ? 2 : 3 * (row.payloadEnd - row.payloadStart) + table.keyColumn.length + 48;
    const writer = sink.lineHead!(32 + 1 + 1 + 1 + 18 + 1 + payloadBytes + 1, table.tableId);
    if (writer === undefined) return false;
    writer.uuidHexOf(units, row.keyStart);
    writer.byte(TAB);
    writer.byte(0x30 + ROW_OP_CODES[op]);
    writer.byte(TAB);
    if (row.baseStart < 0) writer.byte(0x30);
    else writer.utf8Of(units, row.baseStart, row.baseEnd);
    writer.byte(TAB);
    if (shape === undefined) {
      writer.ascii('\\N');
    } else {
      // the canonical payload holds no backslash here: its text is the COPY field as it is
      const { order, heads } = shape;
      for (let j = 0; j < order.length; j++) {
        writer.ascii(heads[j]!);
        const index = order[j]!;
        if (index < 0) {
          writer.byte(0x22);
          writer.utf8Of(units, row.keyStart, row.keyEnd);
          writer.byte(0x22);
        } else if (memberIsString[index] === 1) {
          writer.byte(0x22);
          writer.utf8Of(units, memberStart[index]!, memberEnd[index]!);
          writer.byte(0x22);
        } else writer.utf8Of(units, memberStart[index]!, memberEnd[index]!);
      }
      writer.byte(0x7d);
    }
    writer.byte(0x0a);
    if (keys === undefined) seen.set(table, new Set([identity]));
    else keys.add(identity);
    countRow(rows, table.tableId, op === 'INSERT' ? shape!.columns : undefined);
    return true;
  }

  /**
   * The kept shape of the scanned payload's member names for `table`, if it has one (see `payloadApply`): the
   * last plain row's when the names are the same units, else looked up by the names.
   */
  private payloadShape(text: string, units: Uint16Array, table: RegisteredTable): PayloadShape | undefined {
    const members = plainRow.members;
    const namesAt = this.namesAt;
    let shape = this.shape;
    if (shape !== undefined && this.shapeTable === table && shape.count === members) {
      const names = shape.names;
      for (let i = 0; i < members && shape !== undefined; i++) {
        const start = memberNameStart[i]!;
        const end = memberNameEnd[i]!;
        if (end - start !== names[i]!.length || !sameUnits(units, start, end, namesAt[i]!)) shape = undefined;
      }
    } else shape = undefined;
    if (shape === undefined) {
      const names: string[] = [];
      for (let i = 0; i < members; i++) names.push(text.slice(memberNameStart[i], memberNameEnd[i]));
      shape = shapesOf(table).get(shapeKey(names));
      if (shape === undefined || shape.count !== members) return undefined;
      [this.shape, this.shapeTable] = [shape, table];
    }
    namesAt.set(memberNameStart.subarray(0, members));
    return shape;
  }
}
