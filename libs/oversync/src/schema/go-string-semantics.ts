// Go string functions whose exact behaviour the reference's normalisation and messages depend on.

// unicode.IsSpace (strings.TrimSpace); String.prototype.trim differs on U+0085 and U+FEFF.
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const LEADING_SPACE = new RegExp(`^${GO_SPACE}+`);
const TRAILING_SPACE = new RegExp(`${GO_SPACE}+$`);

export function goTrimSpace(text: string): string {
  return text.replace(LEADING_SPACE, '').replace(TRAILING_SPACE, '');
}

/** strings.ToLower: simple per-rune mapping (no final-sigma context, U+0130 → "i"). */
export function goToLower(text: string): string {
  let lower = '';
  for (const rune of text) lower += rune === '\u0130' ? 'i' : rune.toLowerCase();
  return lower;
}

/** sort.Strings order: bytewise on UTF-8, not UTF-16 code units. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const GO_ESCAPES: Record<string, string> = {
  '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '"': '\\"', '\\': '\\\\',
};

/** fmt's %q for printable text; other control characters use \x / \u escapes like strconv.Quote. */
export function goQuote(text: string): string {
  let quoted = '"';
  for (const rune of text) {
    const code = rune.codePointAt(0) ?? 0;
    if (GO_ESCAPES[rune]) quoted += GO_ESCAPES[rune];
    else if (code < 0x20 || code === 0x7f) quoted += `\\x${code.toString(16).padStart(2, '0')}`;
    else if ((code >= 0x80 && code < 0xa0) || code === 0xad || code === 0x2028 || code === 0x2029 || code === 0xfeff)
      quoted += `\\u${code.toString(16).padStart(4, '0')}`;
    else quoted += rune;
  }
  return `${quoted}"`;
}
