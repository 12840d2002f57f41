import { JsonNumber, isExactObject, uniqueMembers, type ExactJson } from './exact-json.js';

/**
 * Response encoding with Go `encoding/json` parity (spec §3.0.4): struct members in declaration
 * order (plain objects), sorted maps as `Map`, HTML-escaped strings, raw JSON compacted, and a
 * trailing newline added by the writer.
 */
export class RawJson {
  constructor(readonly text: string) {}
}

export type WireValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | RawJson
  | WireValue[]
  | ReadonlyMap<string, WireValue>
  | { readonly [key: string]: WireValue | undefined };

const ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x3c: '\\u003c', 0x3e: '\\u003e', 0x26: '\\u0026', 0x2028: '\\u2028', 0x2029: '\\u2029' };
const NEEDS_ESCAPE = /["\\\u0000-\u001f<>&\u2028\u2029\ud800-\udfff]/;

/** Go string encoding with HTML escaping; lone surrogates become U+FFFD like Go's invalid UTF-8. */
export function encodeGoString(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return `"${value}"`;
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const escape = ESCAPES[c];
    if (escape !== undefined) out += escape;
    else if (c < 0x20) out += `\\u00${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length && isLow(value.charCodeAt(i + 1))) {
      out += value[i] + value[i + 1];
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) out += '\ufffd';
    else out += value[i];
  }
  return out + '"';
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Go float64 formatting as used by canonical JSON (§5.2): ECMAScript Number::toString, but -0 stays -0. */
export function formatGoNumber(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`non-finite number ${value}`);
  return Object.is(value, -0) ? '-0' : String(value);
}

export function encodeWire(value: WireValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean': return value ? 'true' : 'false';
    case 'number': return formatGoNumber(value);
    case 'bigint': return value.toString();
    case 'string': return encodeGoString(value);
  }
  if (value instanceof RawJson) return compactRawJson(value.text);
  if (Array.isArray(value)) return `[${value.map(encodeWire).join(',')}]`;
  if (value instanceof Map) {
    const entries = [...value.entries()].sort((a, b) => compareUtf8(a[0], b[0]));
    return `{${entries.map(([k, v]) => `${encodeGoString(k)}:${encodeWire(v)}`).join(',')}}`;
  }
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, WireValue | undefined>)) {
    if (v !== undefined) parts.push(`${encodeGoString(k)}:${encodeWire(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/** Removes insignificant whitespace and applies the HTML/line-separator escapes inside strings. */
export function compactRawJson(text: string): string {
  let out = '';
  let inString = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) { i++; continue; }
      if (c === 0x22) inString = false;
      else if (c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
        out += text.slice(start, i) + ESCAPES[c];
        start = i + 1;
      }
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      out += text.slice(start, i);
      start = i + 1;
    }
  }
  return out + text.slice(start);
}

/** Code-point (= UTF-8 byte) order; JS `<` compares UTF-16 units and misorders astral characters. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/**
 * Canonical JSON of §5.2 over exact numbers: a literal that a double represents exactly is printed
 * as the reference prints the double; any other literal (integers beyond 2^53, long decimals) is
 * kept as written so PostgreSQL stores it exactly (§8.2).
 */
export function canonicalExactJson(value: ExactJson): string {
  return canonical(value, canonicalNumber);
}

/** Canonical JSON of §5.2 exactly as the reference: every number through a double (hash input, wire payloads). */
export function canonicalDoubleJson(value: ExactJson): string {
  return canonical(value, doubleNumber);
}

function doubleNumber(raw: string): string {
  const double = Number(raw);
  if (!Number.isFinite(double)) throw new RangeError(`number ${raw} is outside double range`);
  return formatGoNumber(double);
}

function canonical(value: ExactJson, number: (raw: string) => string): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return encodeGoString(value);
  if (value instanceof JsonNumber) return number(value.raw);
  if (Array.isArray(value)) return `[${value.map((item) => canonical(item, number)).join(',')}]`;
  if (isExactObject(value)) {
    const entries = [...uniqueMembers(value).entries()].sort((a, b) => compareUtf8(a[0], b[0]));
    return `{${entries.map(([k, v]) => `${encodeGoString(k)}:${canonical(v, number)}`).join(',')}}`;
  }
  throw new TypeError('unexpected JSON value');
}

export function canonicalNumber(raw: string): string {
  const double = Number(raw);
  if (!Number.isFinite(double)) throw new RangeError(`number ${raw} is outside double range`);
  const printed = formatGoNumber(double);
  return sameDecimal(printed, raw) ? printed : raw;
}

/** Whether two JSON number literals denote the same decimal value. */
function sameDecimal(a: string, b: string): boolean {
  const x = decimalParts(a);
  const y = decimalParts(b);
  if (x.digits === '' && y.digits === '') return true;
  return x.negative === y.negative && x.digits === y.digits && x.exponent === y.exponent;
}

function decimalParts(literal: string): { negative: boolean; digits: string; exponent: number } {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!match) throw new RangeError(`invalid number ${literal}`);
  const intPart = match[2];
  const fraction = match[3] ?? '';
  let digits = (intPart + fraction).replace(/^0+/, '');
  let exponent = Number(match[4] ?? '0') - fraction.length;
  const trimmed = digits.replace(/0+$/, '');
  exponent += digits.length - trimmed.length;
  digits = trimmed;
  return { negative: match[1] === '-', digits, exponent: digits === '' ? 0 : exponent };
}
