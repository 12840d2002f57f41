/**
 * The three encodings of a row (spec/client.md §9): the local image (BLOBs as hex), the local key
 * string, and the wire form (BLOBs base64, UUID BLOB keys/references as dashed text).
 */
import { decodeCanonicalWireUuid, decodeHex, decodeUuidLenient, decodeWireBlob, formatUuid } from '@oversync/protocol';
import { emptyJsonObject, isJsonObject, type JsonObject, type JsonValue, sortedMembers } from './json-value.js';
import type { ManagedColumn, ManagedTable } from './managed-table.js';

/** What better-sqlite3 binds. */
export type SqlValue = null | number | bigint | string | Buffer;

export class RowCodecError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RowCodecError';
  }
}

/** Strict download form: exactly a dashed UUID (either letter case). */
export function uuidBytesFromWire(text: string): Buffer {
  const bytes = decodeCanonicalWireUuid(text);
  if (!bytes) throw new RowCodecError('invalid canonical wire UUID encoding');
  return Buffer.from(bytes);
}

/** Lenient upload form: Go `uuid.Parse` spellings, or base64/hex of exactly 16 bytes. */
export function uuidBytesLenient(text: string): Buffer {
  const bytes = decodeUuidLenient(text);
  if (!bytes) throw new RowCodecError(`invalid UUID encoding ${JSON.stringify(text)}`);
  return Buffer.from(bytes);
}

export function bytesFromHex(text: string): Buffer {
  const bytes = decodeHex(text);
  if (!bytes) throw new RowCodecError(`invalid hex encoding ${JSON.stringify(text.slice(0, 40))}`);
  return Buffer.from(bytes);
}

/** Strict standard padded base64 (`""` is an empty blob). */
export function bytesFromWireBase64(text: string): Buffer {
  const bytes = decodeWireBlob(text);
  if (!bytes) throw new RowCodecError('invalid canonical wire blob encoding');
  return Buffer.from(bytes);
}

// ---- keys -------------------------------------------------------------------------------------

/** `key_json`: byte-identical to SQLite `json_object(col, value)` (JSON.stringify escapes the same way). */
export function keyJson(table: ManagedTable, localKey: string): string {
  return `{${JSON.stringify(table.keyColumn.lowerName)}:${JSON.stringify(localKey)}}`;
}

/** The local key string out of a `key_json` (spec: `dirty key %s.%s must be a string`). */
export function localKeyFromKeyJson(schema: string, table: ManagedTable, text: string): string {
  const plain = plainKeyValue(table, text);
  if (plain !== undefined) return plain;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new RowCodecError(`failed to decode dirty key for ${schema}.${table.name}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const members = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  const value = members[table.keyColumn.lowerName] ?? members[table.keyColumn.name];
  if (typeof value !== 'string') throw new RowCodecError(`dirty key ${schema}.${table.name} must be a string`);
  return value;
}

const keyJsonHeads = new WeakMap<ManagedTable, string>();

/** `{"<key column>":"`: how `keyJson` starts for a string value. */
export function keyJsonHead(table: ManagedTable): string {
  let head = keyJsonHeads.get(table);
  if (head === undefined) {
    head = `{${JSON.stringify(table.keyColumn.lowerName)}:"`;
    keyJsonHeads.set(table, head);
  }
  return head;
}

/**
 * The value of a `key_json` exactly as `keyJson` writes it for a string without escapes
 * (`{"id":"…"}`), read without the JSON parser; undefined for any other text (then parsed).
 */
function plainKeyValue(table: ManagedTable, text: string): string | undefined {
  const head = keyJsonHead(table);
  const end = text.length - 2;
  if (end < head.length || !text.startsWith(head) || text.charCodeAt(end) !== 0x22 || text.charCodeAt(end + 1) !== 0x7d)
    return undefined;
  for (let i = head.length; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c < 0x20) return undefined;
  }
  return text.slice(head.length, end);
}

/** Local key → wire key string: TEXT unchanged, BLOB (hex) → dashed UUID. */
export function wireKeyString(table: ManagedTable, localKey: string): string {
  if (!table.keyIsBlob) return localKey;
  try {
    return formatUuid(uuidBytesLenient(localKey));
  } catch (err) {
    throw new RowCodecError(
      `failed to decode blob UUID pk for column ${table.keyColumn.lowerName}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export function wireKeyObject(table: ManagedTable, localKey: string): JsonObject {
  const key = emptyJsonObject();
  key[table.keyColumn.lowerName] = wireKeyString(table, localKey);
  return key;
}

/** Wire key object → local key string (strict UUID for BLOB keys). */
export function localKeyFromWireKey(table: ManagedTable, key: JsonValue | undefined): string {
  const members = isJsonObject(key) ? key : emptyJsonObject();
  if (!Object.hasOwn(members, table.keyColumn.lowerName)) {
    throw new RowCodecError(`bundle row key for ${table.name} is missing ${table.keyColumn.lowerName}`);
  }
  const value = members[table.keyColumn.lowerName];
  if (typeof value !== 'string') throw new RowCodecError(`bundle row key for ${table.name} must be a string`);
  return table.keyIsBlob ? uuidBytesFromWire(value).toString('hex') : value;
}

/** The value bound for the key column in `WHERE key = ?`. */
export function sqlKeyValue(table: ManagedTable, localKey: string): SqlValue {
  return table.keyIsBlob ? bytesFromHex(localKey) : localKey;
}

// ---- payloads -----------------------------------------------------------------------------------

/** Local image → wire payload (§9.3), members sorted like the reference's encoder. */
export function wirePayloadFromLocalImage(table: ManagedTable, image: JsonObject): JsonObject {
  const byName = new Map(table.columns.map((c) => [c.lowerName, c]));
  const result = emptyJsonObject();
  for (const member of sortedMembers(image)) {
    const value = image[member]!;
    const column = byName.get(member);
    if (!column?.isBlob || typeof value !== 'string' || value === '') {
      result[member] = value;
      continue;
    }
    try {
      result[member] = column.isUuid ? formatUuid(uuidBytesLenient(value)) : bytesFromHex(value).toString('base64');
    } catch (err) {
      const what = column === table.keyColumn ? 'blob UUID pk' : column.isUuid ? 'blob UUID reference' : 'hex';
      throw new RowCodecError(`failed to decode ${what} for column ${member}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return result;
}

/** The SQLite values of every column, decoded from a wire payload (strict, §8.5). */
export function sqlValuesFromWirePayload(table: ManagedTable, payload: JsonObject): SqlValue[] {
  return sqlValues(table, payload, (column, value) => {
    if (typeof value !== 'string')
      throw new RowCodecError(`payload for ${table.name} column ${column.lowerName} must be string-encoded blob data`);
    try {
      return column.isUuid || column === table.keyColumn ? uuidBytesFromWire(value) : bytesFromWireBase64(value);
    } catch (err) {
      const what = column.isUuid || column === table.keyColumn ? 'canonical wire UUID' : 'canonical wire blob';
      throw new RowCodecError(`failed to decode ${what} payload field ${column.lowerName}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  });
}

/** The SQLite values of every column, decoded from a local image (BLOBs as hex, §15 item 3). */
export function sqlValuesFromLocalImage(table: ManagedTable, image: JsonObject): SqlValue[] {
  return sqlValues(table, image, (column, value) => {
    if (typeof value !== 'string')
      throw new RowCodecError(`payload for ${table.name} column ${column.lowerName} must be string-encoded blob data`);
    return bytesFromHex(value);
  });
}

function sqlValues(
  table: ManagedTable,
  payload: JsonObject,
  blob: (column: ManagedColumn, value: JsonValue) => Buffer,
): SqlValue[] {
  if (Object.keys(payload).length !== table.columns.length)
    throw new RowCodecError(`payload for ${table.name} must contain every table column`);
  return table.columns.map((column) => {
    if (!Object.hasOwn(payload, column.lowerName))
      throw new RowCodecError(`payload for ${table.name} is missing column ${column.lowerName}`);
    const value = payload[column.lowerName]!;
    if (value === null) return null;
    if (column.isBlob) return blob(column, value);
    return scalarSqlValue(table, column, value);
  });
}

/**
 * JSON scalar → bound value. Booleans become 1/0; integral numbers bind as integers, except in
 * TEXT-affinity columns where the reference's double binding (`42` → `'42.0'`) is kept.
 */
function scalarSqlValue(table: ManagedTable, column: ManagedColumn, value: JsonValue): SqlValue {
  switch (typeof value) {
    case 'boolean':
      return value ? 1 : 0;
    case 'bigint':
    case 'string':
      return value;
    case 'number':
      return Number.isInteger(value) && !hasTextAffinity(column) ? BigInt(value) : value;
    default:
      throw new RowCodecError(
        `payload for ${table.name} column ${column.lowerName} holds a JSON ` +
          `${Array.isArray(value) ? 'array' : 'object'}, which SQLite cannot store`,
      );
  }
}

function hasTextAffinity(column: ManagedColumn): boolean {
  const type = column.declaredType.toUpperCase();
  return !type.includes('INT') && (type.includes('CHAR') || type.includes('CLOB') || type.includes('TEXT'));
}
