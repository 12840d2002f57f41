// Canonical JSON (§5.2) of the reader's tree, numbers exact (§8.2) or through a double (the reference's form).
import { compareUtf8, formatGoFloat64, quoteGoJsonString } from './go-json-encode.js';
import { ExactObject, JsonNumber, type ExactJson } from './json-reader.js';

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
    const printed = doubleNumber(raw);
    if (printed === raw || sameDecimal(printed, raw)) return printed;
    kept = true;
    return raw;
  });
  return { exact, double: kept ? canonicalDoubleJson(value) : exact };
}

/**
 * A number literal in the exact canonical form: the double's text when it denotes the same decimal, else as written.
 */
export function canonicalNumber(raw: string): string {
  const printed = doubleNumber(raw);
  return printed === raw || sameDecimal(printed, raw) ? printed : raw;
}

function doubleNumber(raw: string): string {
  const double = Number(raw);
  if (!Number.isFinite(double)) throw new RangeError(`number ${raw} is outside double range`);
  return formatGoFloat64(double);
}

function scalarText(value: ExactJson, number: (raw: string) => string): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return quoteGoJsonString(value);
  if (value instanceof JsonNumber) return number(value.raw);
  throw new TypeError('unexpected JSON value');
}

/** Iterative (the tree may nest 10,000 levels): pending holds closers, separators and values still to write. */
function canonical(root: ExactJson, number: (raw: string) => string): string {
  if (!(root instanceof ExactObject) && !Array.isArray(root)) return scalarText(root, number);
  const out: string[] = [];
  // members a later one of the same name replaces: not written, but their numbers are read as Go
  // reads them (1e400 fails)
  const replaced: ExactJson[] = [];
  const pending: Array<string | { readonly node: ExactJson }> = [{ node: root }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (typeof next === 'string') {
      out.push(next);
      continue;
    }
    const node = next.node;
    if (Array.isArray(node)) {
      out.push('[');
      pending.push(']');
      for (let i = node.length - 1; i >= 0; i--) {
        pending.push({ node: node[i]! });
        if (i > 0) pending.push(',');
      }
    } else if (node instanceof ExactObject) {
      const members = new Map<string, ExactJson>();
      const { names: memberNames, values } = node;
      for (let i = 0; i < memberNames.length; i++) {
        const earlier = members.get(memberNames[i]!);
        if (earlier !== undefined) replaced.push(earlier);
        members.set(memberNames[i]!, values[i]!);
      }
      const names = [...members.keys()].sort(compareUtf8);
      out.push('{');
      pending.push('}');
      for (let i = names.length - 1; i >= 0; i--) {
        pending.push({ node: members.get(names[i]!)! }, `${quoteGoJsonString(names[i]!)}:`);
        if (i > 0) pending.push(',');
      }
    } else out.push(scalarText(node, number));
  }
  for (let node = replaced.pop(); node !== undefined; node = replaced.pop()) {
    if (node instanceof JsonNumber) number(node.raw);
    else if (Array.isArray(node) || node instanceof ExactObject)
      for (const item of Array.isArray(node) ? node : node.values) replaced.push(item);
  }
  return out.join('');
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
  const intPart = match[2]!;
  const fraction = match[3] ?? '';
  let digits = (intPart + fraction).replace(/^0+/, '');
  let exponent = Number(match[4] ?? '0') - fraction.length;
  const trimmed = digits.replace(/0+$/, '');
  exponent += digits.length - trimmed.length;
  digits = trimmed;
  return { negative: match[1] === '-', digits, exponent: digits === '' ? 0 : exponent };
}
