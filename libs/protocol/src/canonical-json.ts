// Canonical JSON of spec/server.md §5.2 (reference `canonicalJSON`/`writeCanonicalJSON`): the bytes
// behind bundle_hash, payload_apply, capture-path payload_wire and the client's request hash.
import { toWellFormed } from './json-reader.js';
import { parseJsonText } from './json-views.js';
import { compareUtf8, formatGoFloat64, quoteGoJsonString } from './go-json-encode.js';
import type { JsonValue } from './wire-types.js';

/**
 * Canonical JSON text of a value: no whitespace, object members sorted by the UTF-8 bytes of their
 * names, numbers as Go float64 (`-0`, `1e+21`, `1e-7`), strings with Go's HTML-safe escaping.
 * The value is read as Go holds decoded JSON: unpaired surrogates (in names too) are U+FFFD, names
 * that become equal that way keep the later member, `undefined` members are skipped like in
 * `JSON.stringify`. Throws `RangeError` for NaN/±Infinity and `TypeError` for non-JSON values.
 */
export function canonicalJson(value: JsonValue): string {
  const out: string[] = [];
  // Iterative on purpose: parsed documents may nest 10000 levels (Go's limit).
  const pending: Array<string | { readonly value: JsonValue }> = [{ value }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (typeof next === 'string') out.push(next);
    else writeCanonical(next.value, out, pending);
  }
  return out.join('');
}

/**
 * The payload-only canonicalisation of spec/server.md §5.2/§5.4: parse JSON text with Go
 * semantics (numbers through float64; `1e400` throws `JsonSyntaxError`) and re-serialise it
 * canonically. `canonicalizeJsonText('{"a": 1.50}') === '{"a":1.5}'`.
 */
export function canonicalizeJsonText(text: string | Uint8Array): string {
  return canonicalJson(parseJsonText(text));
}

/** Writes a scalar, or opens a container and schedules its members (in reverse) and its closer. */
function writeCanonical(value: JsonValue, out: string[], pending: Array<string | { readonly value: JsonValue }>): void {
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      out.push(formatGoFloat64(value));
      return;
    case 'string':
      out.push(quoteGoJsonString(value));
      return;
    case 'object':
      break;
    default:
      throw new TypeError(`canonical JSON cannot encode a ${typeof value}`);
  }
  if (Array.isArray(value)) {
    out.push('[');
    pending.push(']');
    for (let i = value.length - 1; i >= 0; i--) {
      const item: JsonValue | undefined = value[i];
      if (item === undefined) throw new TypeError('canonical JSON cannot encode undefined array items');
      pending.push({ value: item });
      if (i > 0) pending.push(',');
    }
    return;
  }
  const members = new Map<string, JsonValue>();
  for (const [name, member] of Object.entries(value)) {
    if (member !== undefined) members.set(toWellFormed(name), member);
  }
  const names = [...members.keys()].sort(compareUtf8);
  out.push('{');
  pending.push('}');
  for (let i = names.length - 1; i >= 0; i--) {
    pending.push({ value: members.get(names[i]) ?? null }, quoteGoJsonString(names[i]) + ':');
    if (i > 0) pending.push(',');
  }
}
