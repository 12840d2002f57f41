import { KEY_KIND_CODES, ROW_OP_CODES, SCOPE_STATE_CODES } from '@oversync/protocol';

// The protocol's row-op, key-kind and scope-state codes as they are inlined into SQL text (statements
// and the plpgsql bodies the bootstrap installs): interpolated from `ROW_OP_CODES`/`KEY_KIND_CODES`/
// `SCOPE_STATE_CODES`, so the numbers are written once, in libs/protocol. The generated text is the
// same as with literals.

export const OP_INSERT = ROW_OP_CODES.INSERT;
export const OP_UPDATE = ROW_OP_CODES.UPDATE;
export const OP_DELETE = ROW_OP_CODES.DELETE;
export const KIND_UUID = KEY_KIND_CODES.uuid;
export const KIND_TEXT = KEY_KIND_CODES.text;
/** `sync.scope_state.state_code` (spec/server.md §1.3). */
export const SCOPE_UNINITIALIZED = SCOPE_STATE_CODES.UNINITIALIZED;
export const SCOPE_INITIALIZING = SCOPE_STATE_CODES.INITIALIZING;
export const SCOPE_INITIALIZED = SCOPE_STATE_CODES.INITIALIZED;

/** Every op code, `(1, 2, 3)`, for `op_code IN …` checks. */
export const OP_CODES_SQL = `(${OP_INSERT}, ${OP_UPDATE}, ${OP_DELETE})`;
/** Every key kind, `(1, 2)`. */
export const KEY_KINDS_SQL = `(${KIND_UUID}, ${KIND_TEXT})`;
/** Every scope state, `(0, 1, 2)`. */
export const SCOPE_STATE_CODES_SQL = `(${SCOPE_UNINITIALIZED}, ${SCOPE_INITIALIZING}, ${SCOPE_INITIALIZED})`;

/** The wire op (`'INSERT'`, `'UPDATE'`, `'DELETE'`) of the op code in `column`. */
export function opCodeCaseSql(column: string): string {
  return `CASE ${column} WHEN ${OP_INSERT} THEN 'INSERT' WHEN ${OP_UPDATE} THEN 'UPDATE' ELSE 'DELETE' END`;
}

/** The net op of a key's staged ops: DELETE if the last was one, else INSERT if the first was one, else UPDATE. */
export function netOpCodeSql(firstOp: string, lastOp: string): string {
  return (
    `CASE WHEN ${lastOp} = ${OP_DELETE} THEN ${OP_DELETE} ` +
    `WHEN ${firstOp} = ${OP_INSERT} THEN ${OP_INSERT} ELSE ${OP_UPDATE} END`
  );
}

/** A row table's check: a DELETE has no payload in `column`, an INSERT or UPDATE has one. */
export function payloadByOpSql(column: string): string {
  return (
    `(op_code = ${OP_DELETE} AND ${column} IS NULL) OR ` +
    `(op_code IN (${OP_INSERT}, ${OP_UPDATE}) AND ${column} IS NOT NULL)`
  );
}

/** The text of a sync key from its bytes: the UUID's canonical form for kind uuid, the UTF-8 text otherwise. */
export function keyTextSql(kind: string, bytes: string): string {
  return (
    `CASE WHEN ${kind} = ${KIND_UUID} THEN encode(${bytes}, 'hex')::uuid::text ` +
    `ELSE convert_from(${bytes}, 'UTF8') END`
  );
}

/** The SQL type name (`'uuid'` or `'text'`) of the key kind in `kind`. */
export function keyTypeSql(kind: string): string {
  return `CASE WHEN ${kind} = ${KIND_UUID} THEN 'uuid' ELSE 'text' END`;
}
