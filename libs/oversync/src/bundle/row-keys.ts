import { decodeKeyBytes, encodeKeyBytes, type KeyKind } from '@oversync/protocol';
import { KEY_KIND_UUID, type RegisteredTable } from '../schema/registered-table.js';

/** key_bytes of a wire key string (spec §1.3): uuid → 16 raw bytes, text → UTF-8. */
export function keyBytesOf(table: RegisteredTable, key: string): Buffer {
  const bytes = encodeKeyBytes(keyKindOf(table), key);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Wire key string of stored key_bytes (spec §4.7.2). */
export function keyStringOf(table: RegisteredTable, bytes: Buffer): string {
  return decodeKeyBytes(keyKindOf(table), bytes);
}

function keyKindOf(table: RegisteredTable): KeyKind {
  return table.keyKind === KEY_KIND_UUID ? 'uuid' : 'text';
}
