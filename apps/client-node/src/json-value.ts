import {
  compareUtf8,
  JsonSyntaxError,
  parseLosslessJson,
  type LosslessJson,
  type LosslessObject,
} from '@oversync/protocol';

/**
 * JSON that keeps 64-bit integers exact. SQLite rows carry int64 values that `JSON.parse` would
 * round above 2^53 (spec/client.md §15 item 13); the protocol's reader gives such integers as `bigint`.
 */
export type JsonValue = LosslessJson;
export type JsonObject = LosslessObject;

/** Parses JSON text with the protocol's reader (Go's rules, 10,000 levels, exact integers). */
export function parseJson(text: string): JsonValue {
  return parseLosslessJson(text);
}

/** True when some number in the value satisfies `test` (iterative: parsed documents may nest deeply). */
function someNumber(root: JsonValue, test: (value: number) => boolean): boolean {
  const pending: JsonValue[] = [root];
  for (let value = pending.pop(); value !== undefined; value = pending.pop()) {
    if (typeof value === 'number') {
      if (test(value)) return true;
    } else if (value !== null && typeof value === 'object') {
      if (Array.isArray(value)) for (const item of value) pending.push(item);
      else for (const name in value) pending.push(value[name]!);
    }
  }
  return false;
}

const nonFinite = (value: number) => !Number.isFinite(value);

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Parses a JSON object or throws with `what` in the message. */
export function parseJsonObject(text: string, what: string): JsonObject {
  const value = parseJson(text);
  if (!isJsonObject(value)) throw new JsonSyntaxError(`${what} must be a JSON object`);
  return value;
}

export function emptyJsonObject(): JsonObject {
  return Object.create(null) as JsonObject;
}

/** Compact JSON in member insertion order; `bigint` as plain digits. */
export function stringifyJson(value: JsonValue): string {
  // JSON.stringify writes the same text for everything but bigint (it throws) and non-finite numbers (it writes null)
  try {
    if (!someNumber(value, nonFinite)) return JSON.stringify(value);
  } catch {
    // a bigint: written below
  }
  return stringifyExact(value);
}

function stringifyExact(value: JsonValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new JsonSyntaxError(`non-finite number ${value} cannot be encoded`);
      return String(value);
    case 'bigint':
      return value.toString();
    case 'string':
      return JSON.stringify(value);
    default:
      if (Array.isArray(value)) return `[${value.map(stringifyExact).join(',')}]`;
      return `{${Object.keys(value)
        .map((member) => `${JSON.stringify(member)}:${stringifyExact(value[member]!)}`)
        .join(',')}}`;
  }
}

/**
 * A canonical text for equality tests (members sorted by code point, numbers normalised, big
 * integers exact). Not the wire's hash canonicalisation — that one lives in @oversync/protocol.
 */
export function canonicalEqualityText(value: JsonValue): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint' && Number.isSafeInteger(Number(value))) return String(Number(value));
    return stringifyJson(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalEqualityText).join(',')}]`;
  return `{${sortedMembers(value)
    .map((member) => `${JSON.stringify(member)}:${canonicalEqualityText(value[member]!)}`)
    .join(',')}}`;
}

/** Member names in UTF-8 byte order (= code point order), as canonical JSON requires. */
export function sortedMembers(value: JsonObject): string[] {
  return Object.keys(value).sort(compareUtf8);
}
