/** SQL expression rendering a timestamptz as RFC3339 UTC text with microseconds. */
export function rfc3339Sql(expression: string): string {
  return `to_char(${expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** Go RFC3339Nano: trailing zeros of the fraction removed, and the dot with them. */
export function trimRfc3339(text: string): string {
  return text.replace(/(\.\d*?)0+Z$/, '$1Z').replace(/\.Z$/, 'Z');
}
