// Plain-value views of the reader's tree (json-reader.ts). Iterative, as the tree may nest 10,000 levels.
import {
  ExactObject,
  isIntegerLiteral,
  JsonNumber,
  JsonSyntaxError,
  parseExactJson,
  type ExactJson,
} from './json-reader.js';
import type { JsonValue } from './wire-types.js';

/** A JSON value whose integers keep their exact value: `bigint` beyond ±(2^53−1) (rows, spec/client.md §15 item 13). */
export type LosslessJson = null | boolean | number | bigint | string | LosslessJson[] | LosslessObject;
export interface LosslessObject {
  [member: string]: LosslessJson;
}

/**
 * The value as Go's `json.Unmarshal` into `any` holds it: numbers as float64 (a literal beyond
 * ±MaxFloat64 is an error, as Go's ParseFloat range error), a repeated member name keeps its last value.
 */
export function toGoValue(node: ExactJson): JsonValue {
  return materialize<JsonValue>(node, goDouble, () => ({}));
}

/**
 * Objects that inherit nothing (no `toString`, no `__proto__` accessor: any member name is plain data)
 * and, unlike `Object.create(null)`, start in V8's fast property mode: a pull page builds thousands.
 */
const LosslessRecord = function LosslessRecord() {} as unknown as new () => LosslessObject;
LosslessRecord.prototype = Object.create(null) as object;

/** An empty object of the lossless view (inherits nothing). */
export function emptyLosslessObject(): LosslessObject {
  return new LosslessRecord();
}

/** The value with exact integers (`bigint` outside the safe range), objects inheriting nothing, last duplicate wins. */
export function toLosslessValue(node: ExactJson): LosslessJson {
  return materialize<LosslessJson>(node, losslessNumber, emptyLosslessObject);
}

/**
 * JSON text → value exactly as Go's `json.Unmarshal(raw, &any)` sees it (spec/server.md §5.2 step 1).
 * Pass raw bytes to get Go's per-byte replacement of invalid UTF-8. Throws `JsonSyntaxError`.
 */
export function parseJsonText(input: string | Uint8Array): JsonValue {
  return toGoValue(parseExactJson(input));
}

/** JSON text → lossless value (client rows and stored payloads). Throws `JsonSyntaxError`. */
export function parseLosslessJson(input: string | Uint8Array): LosslessJson {
  return toLosslessValue(parseExactJson(input));
}

function goDouble(number: JsonNumber): number {
  const value = number.toNumber();
  if (!Number.isFinite(value)) outOfRange(number);
  return value;
}

function losslessNumber(number: JsonNumber): number | bigint {
  return losslessNumberOf(number.raw) ?? outOfRange(number);
}

function outOfRange(number: JsonNumber): never {
  throw new JsonSyntaxError(`number ${number.raw} is out of range of float64`);
}

/**
 * A number literal (valid per `scanJsonNumber`) as the lossless view holds it: a double, or a `bigint`
 * for an integer literal beyond ±(2^53−1); undefined beyond float64.
 */
export function losslessNumberOf(raw: string): number | bigint | undefined {
  const value = Number(raw);
  if (!Number.isFinite(value)) return undefined;
  if (Number.isSafeInteger(value) || !Number.isInteger(value) || !isIntegerLiteral(raw, 0, raw.length)) return value;
  return BigInt(raw);
}

type Container<V> = V[] | Record<string, V>;

const isScalar = (node: ExactJson): boolean => !(node instanceof ExactObject) && !Array.isArray(node);

/** An object of scalars (most rows' payloads and keys) without the stacks. */
function flatObject<V>(node: ExactObject, scalar: (node: ExactJson) => V, target: Record<string, V>): V {
  const { names, values } = node;
  for (let i = 0; i < names.length; i++) setMember(target, names[i]!, scalar(values[i]!));
  return target as V;
}

function setMember<V>(target: Record<string, V>, name: string, value: V): void {
  if (name === '__proto__')
    Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  else target[name] = value;
}

/** Builds the plain value of a tree with an explicit stack (containers are filled after they are linked in). */
function materialize<V>(root: ExactJson, number: (n: JsonNumber) => V, newObject: () => Record<string, V>): V {
  const open = (node: ExactJson[] | ExactObject): Container<V> => (node instanceof ExactObject ? newObject() : []);
  const scalar = (node: ExactJson): V => (node instanceof JsonNumber ? number(node) : (node as V));
  if (!(root instanceof ExactObject) && !Array.isArray(root)) return scalar(root);
  if (root instanceof ExactObject && root.values.every(isScalar)) return flatObject(root, scalar, newObject());
  const result = open(root);
  const sources: Array<ExactJson[] | ExactObject> = [root];
  const targets: Array<Container<V>> = [result];
  const positions: number[] = [0];
  while (sources.length > 0) {
    const top = sources.length - 1;
    const source = sources[top]!;
    const items = source instanceof ExactObject ? source.values : source;
    const index = positions[top]!;
    if (index === items.length) {
      sources.pop();
      targets.pop();
      positions.pop();
      continue;
    }
    positions[top] = index + 1;
    let name = '';
    if (source instanceof ExactObject) name = source.names[index]!;
    const item = items[index]!;
    let value: V;
    if (item instanceof ExactObject || Array.isArray(item)) {
      const child = open(item);
      sources.push(item);
      targets.push(child);
      positions.push(0);
      value = child as V;
    } else value = scalar(item);
    const target = targets[top]!;
    if (Array.isArray(target)) target.push(value);
    else setMember(target, name, value);
  }
  return result as V;
}
