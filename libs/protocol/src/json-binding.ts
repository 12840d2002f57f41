// Go encoding/json struct binding over the reader's tree: a member binds a field when its name is
// the field's JSON name exactly or case-folded (ASCII case, `ſ` for s, the Kelvin sign for k); every
// binding member is decoded in document order, so the LAST one wins whatever its case.
import { equalFoldAscii } from './go-strings.js';
import { INT64_MAX, INT64_MIN } from './limits.js';
import { JsonNumber, type ExactJson, type ExactObject } from './json-reader.js';

/** Whether member `key` binds the struct field named `field` (lower-case ASCII), as Go matches them. */
export function bindsField(key: string, field: string): boolean {
  return key === field || equalFoldAscii(key, field);
}

/**
 * A pointer, slice, map or raw-message field: the last binding member, whatever its value (a later
 * `null` clears it). `undefined`: no member binds.
 */
export function bindMember(object: ExactObject, field: string): ExactJson | undefined {
  const { names, values } = object;
  let found: ExactJson | undefined;
  for (let i = 0; i < names.length; i++) if (bindsField(names[i]!, field)) found = values[i];
  return found;
}

/**
 * A string, number or bool field read with `read` (undefined = type error): every binding member is
 * decoded in order — a type error in any of them fails the whole decode (undefined), `null` leaves the
 * field as it was, the last other value wins: `{"a":true,"A":false}` binds false, `{"a":true,"A":null}` true.
 */
export function bindScalar<T>(
  object: ExactObject,
  field: string,
  read: (value: ExactJson | undefined) => T | undefined,
): T | undefined {
  const { names, values } = object;
  let bound = read(undefined);
  for (let i = 0; i < names.length; i++) {
    if (!bindsField(names[i]!, field)) continue;
    const value = values[i]!;
    const decoded = read(value);
    if (decoded === undefined) return undefined;
    if (value !== null) bound = decoded;
  }
  return bound;
}

const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;
const SMALL_INT64 = Array.from({ length: 10 }, (_, digit) => BigInt(digit));

/**
 * Go `int64` field: only an integer literal that fits (not `1.0`, not `1e2`); null/absent → 0. undefined: type error.
 */
export function readInt64(value: ExactJson | undefined): bigint | undefined {
  if (value === undefined || value === null) return 0n;
  if (!(value instanceof JsonNumber)) return undefined;
  const raw = value.raw;
  // one digit (a bulk push's base_row_version 0 on every row): no pattern test, no text to parse
  if (raw.length === 1) {
    const digit = raw.charCodeAt(0) - 0x30;
    return digit >= 0 && digit <= 9 ? SMALL_INT64[digit] : undefined;
  }
  if (!INTEGER.test(raw)) return undefined;
  const n = BigInt(raw);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

/** Go `string` field: null/absent → ''. undefined: type error. */
export function readString(value: ExactJson | undefined): string | undefined {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : undefined;
}

/** Go `bool` field: null/absent → false. undefined: type error. */
export function readBool(value: ExactJson | undefined): boolean | undefined {
  if (value === undefined || value === null) return false;
  return typeof value === 'boolean' ? value : undefined;
}
