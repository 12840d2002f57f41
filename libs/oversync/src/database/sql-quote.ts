import pg from 'pg';

/**
 * The one quoting of names and text the module inlines into SQL (DDL, COPY and statements built per
 * table take no parameters there): pg's own escaping, so every caller agrees with the driver.
 */
export function quoteIdentifier(name: string): string {
  return pg.escapeIdentifier(name);
}

/**
 * A text literal; with a backslash in it, pg writes the `E'…'` form, which reads the same under any
 * `standard_conforming_strings`.
 */
export function quoteLiteral(text: string): string {
  return pg.escapeLiteral(text);
}

/**
 * The text pg sends for a one-dimensional array parameter of texts or numbers (`{"a","b\"c"}`: every
 * element quoted, `\` and `"` escaped), for arrays that are the same on every call: built once
 * instead of by the driver per statement.
 */
export function arrayParameter(values: ReadonlyArray<string | number>): string {
  return `{${values.map((value) => `"${String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
}
