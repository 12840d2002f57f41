import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { arrayParameter } from './sql-quote.js';

/** What pg itself sends for an array parameter (its `prepareValue`, which the module's texts replace). */
const driverText = (value: unknown): unknown =>
  (pg as unknown as { utils: { prepareValue(value: unknown): unknown } }).utils.prepareValue(value);

describe('arrayParameter', () => {
  it('is the text pg sends for the same array', () => {
    const cases: Array<Array<string | number>> = [
      [],
      [1, 2, 30],
      ['a'],
      [''],
      ['{"schema":"business","table":"users","key":{"id":'],
      ['back\\slash', 'quo"te', '\\"', 'comma,brace{}', 'space d', 'NULL', 'ünï\u2028'],
      [-1, 0, 1.5],
    ];
    for (const values of cases) expect(arrayParameter(values)).toBe(driverText(values));
  });
});
