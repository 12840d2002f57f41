import { KEY_KIND_UUID, type RegisteredTable } from '../schema/registered-table.js';

/** key_bytes of a wire key string (spec §1.3): uuid → 16 raw bytes, text → UTF-8. */
export function keyBytesOf(table: RegisteredTable, key: string): Buffer {
  return table.keyKind === KEY_KIND_UUID ? Buffer.from(key.replace(/-/g, ''), 'hex') : Buffer.from(key, 'utf8');
}

/** Wire key string of stored key_bytes (spec §4.7.2). */
export function keyStringOf(table: RegisteredTable, bytes: Buffer): string {
  if (table.keyKind !== KEY_KIND_UUID) return bytes.toString('utf8');
  if (bytes.length !== 16) throw new Error(`uuid key of ${table.name} has ${bytes.length} bytes`);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
