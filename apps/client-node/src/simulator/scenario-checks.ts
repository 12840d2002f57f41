/** The assertions scenarios make (no test framework: the simulator runs outside jest). */
import { AssertionError, deepStrictEqual } from 'node:assert/strict';
import { sleep } from '../sync-transport.js';

/**
 * Rebuilds arrays and objects in this realm: rows from better-sqlite3 are created in the addon's
 * realm, which a strict comparison inside a jest VM context would otherwise reject by prototype.
 */
function inThisRealm(value: unknown): unknown {
  if (Array.isArray(value)) return Array.from(value, inThisRealm);
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, inThisRealm(item)]));
  return value;
}

/** Fails the scenario with `what` and a diff when `actual` is not deeply equal to `expected`. */
export function expectEqual<T>(actual: unknown, expected: T, what: string): asserts actual is T {
  try {
    deepStrictEqual(inThisRealm(actual), inThisRealm(expected));
  } catch (err) {
    if (err instanceof AssertionError)
      throw new AssertionError({ message: `${what}\n${err.message}`, actual, expected, operator: 'deepStrictEqual' });
    throw err;
  }
}

export function expectTrue(condition: boolean, what: string): asserts condition {
  if (!condition) throw new AssertionError({ message: what });
}

/** Resolves to the error `operation` rejected with; fails when it succeeded or the error is not a `type`. */
export async function expectRejection<E extends Error>(
  operation: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
  what: string,
): Promise<E> {
  let outcome: unknown;
  try {
    outcome = await operation;
  } catch (err) {
    if (err instanceof type) return err;
    throw new AssertionError({
      message:
        `${what}: expected ${type.name}, got ` +
        `${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
    });
  }
  throw new AssertionError({
    message: `${what}: expected ${type.name}, but it succeeded with ${JSON.stringify(outcome)}`,
  });
}

/** Polls `condition` every 20 ms; fails with `what` when it does not hold within `timeoutMs`. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs)
      throw new AssertionError({ message: `${what}: not reached within ${timeoutMs} ms` });
    await sleep(20);
  }
  return Date.now() - started;
}
