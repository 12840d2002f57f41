import type { RegisteredTable } from '../schema/registered-table.js';
import { canonicalExactAndDoubleJson, canonicalExactJson, ExactObject, isExactObject, parseExactJson, type ExactJson } from '@oversync/protocol';

/** Standard padded base64 of a bytea value in PostgreSQL hex output (`\x…`), or of base64 input. */
function byteaToBase64(value: string): string {
  if (value.startsWith('\\x') || value.startsWith('\\X')) {
    const hex = value.slice(2);
    if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error('undecodable bytea hex in payload');
    return Buffer.from(hex, 'hex').toString('base64');
  }
  return Buffer.from(value, 'base64').toString('base64');
}

/**
 * Capture-path payload (spec §4.7.4): the row's jsonb text without `_sync_scope_id`, bytea members
 * as base64, canonical. `wire` keeps number literals a double cannot hold (BIGINT beyond 2^53, long
 * NUMERIC) exactly, so devices receive the stored value (§8.2); `hashed` is the reference's form with
 * every number through a double, which the bundle hash covers so a Go client still verifies it.
 */
export function captureWirePayload(table: RegisteredTable, payloadText: string): { wire: string; hashed: string } {
  const { exact, double } = canonicalExactAndDoubleJson(convertPayload(table, parseExactJson(payloadText)).value);
  return { wire: exact, hashed: double };
}

/**
 * Payload of a row read back from PostgreSQL outside a bundle (conflict `server_row`): the same
 * canonical text as bundles carry (sorted members, Go number and string rules, exact big numbers, §8.11).
 */
export function canonicalWirePayload(table: RegisteredTable, payloadText: string): string {
  return canonicalExactJson(convertPayload(table, parseExactJson(payloadText)).value);
}

function convertPayload(table: RegisteredTable, document: ExactJson): { value: ExactJson; changed: boolean } {
  if (!isExactObject(document)) return { value: document, changed: false };
  let changed = false;
  let scopeRemoved = false;
  const members: Array<[string, ExactJson]> = [];
  for (const [name, value] of document.members) {
    const column = name.toLowerCase();
    if (!scopeRemoved && column === '_sync_scope_id') {
      scopeRemoved = true;
      changed = true;
      continue;
    }
    if (typeof value === 'string' && table.columnTypes.get(column) === 'bytea') {
      const encoded = byteaToBase64(value);
      if (encoded !== value) changed = true;
      members.push([name, encoded]);
      continue;
    }
    if (value !== null && typeof value !== 'string' && table.columnTypes.get(column) === 'bytea') {
      throw new Error(`bytea member ${name} of ${table.name} is not a string`);
    }
    members.push([name, value]);
  }
  return { value: ExactObject.fromMembers(members), changed };
}
