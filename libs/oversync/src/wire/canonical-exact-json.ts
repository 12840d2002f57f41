import { compareUtf8, formatGoFloat64, quoteGoJsonString } from '@oversync/protocol';
import { JsonNumber, isExactObject, uniqueMembers, type ExactJson } from './exact-json.js';

// The response encoder is the protocol library's (Go encoding/json parity); this file adds the
// server-only canonical form over exact number literals.

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

/**
 * Both canonical forms of one value from one walk: `exact` (stored and served, §8.2) and `double`
 * (the reference's form, hashed). They differ only when a number literal is not a double's; then the
 * double form is written by a second walk.
 */
export function canonicalExactAndDoubleJson(value: ExactJson): { exact: string; double: string } {
  let kept = false;
  const exact = canonical(value, (raw) => {
    const double = Number(raw);
    if (!Number.isFinite(double)) throw new RangeError(`number ${raw} is outside double range`);
    const printed = formatGoFloat64(double);
    if (printed === raw || sameDecimal(printed, raw)) return printed;
    kept = true;
    return raw;
  });
  return { exact, double: kept ? canonicalDoubleJson(value) : exact };
}

function doubleNumber(raw: string): string {
  const double = Number(raw);
  if (!Number.isFinite(double)) throw new RangeError(`number ${raw} is outside double range`);
  return formatGoFloat64(double);
}

function canonical(value: ExactJson, number: (raw: string) => string): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return quoteGoJsonString(value);
  if (value instanceof JsonNumber) return number(value.raw);
  if (Array.isArray(value)) return `[${value.map((item) => canonical(item, number)).join(',')}]`;
  if (isExactObject(value)) {
    const entries = [...uniqueMembers(value).entries()].sort((a, b) => compareUtf8(a[0], b[0]));
    return `{${entries.map(([k, v]) => `${quoteGoJsonString(k)}:${canonical(v, number)}`).join(',')}}`;
  }
  throw new TypeError('unexpected JSON value');
}

export function canonicalNumber(raw: string): string {
  const double = Number(raw);
  if (!Number.isFinite(double)) throw new RangeError(`number ${raw} is outside double range`);
  const printed = formatGoFloat64(double);
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
