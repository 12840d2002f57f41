// Bytes ⇄ text as the reference spells them: Go's base64.StdEncoding and hex, PostgreSQL bytea
// `\x` text, the wire's standard padded base64 (spec/server.md §4.2.2 step 16, §4.7.4; client.md §9).
// Node's Buffer base64 decoder is lenient (no padding needed, URL alphabet, junk skipped), so the
// decoders here check the text first and accept exactly what Go accepts.

/** Go's padded standard base64 once line breaks are removed: whole quanta, then `xx==` or `xxx=`. */
const PADDED_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const LINE_BREAK = /[\r\n]/g;

/** Standard padded base64 (Go `base64.StdEncoding.EncodeToString`). */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Go `base64.StdEncoding.DecodeString`: standard alphabet, `=` padding required, `\r`/`\n`
 * ignored anywhere, any other character rejected, non-zero trailing pad bits accepted.
 * Returns `undefined` where Go returns an error. The text is checked first, so Node's lenient
 * decoder only ever sees what Go accepts (and drops pad bits as Go does).
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  const compact = text.includes('\n') || text.includes('\r') ? text.replace(LINE_BREAK, '') : text;
  if (!PADDED_BASE64.test(compact)) return undefined;
  const decoded = Buffer.from(compact, 'base64');
  return new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength);
}

/**
 * The client's `tryDecodeBase64Exact`: Go-decodable base64 that re-encodes to the same text (so no
 * line breaks, zero pad bits). This is the canonical wire form of blobs.
 */
export function decodeCanonicalBase64(text: string): Uint8Array | undefined {
  const bytes = decodeBase64(text);
  return bytes !== undefined && encodeBase64(bytes) === text ? bytes : undefined;
}

/** Lower-case hex (Go `hex.EncodeToString`). */
export function encodeHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Go `hex.DecodeString`: even length, digits of either case. `undefined` where Go errors. */
export function decodeHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** PostgreSQL bytea hex text: `\x` + lower-case hex (`\x` for no bytes). */
export function encodeByteaHex(bytes: Uint8Array): string {
  return '\\x' + encodeHex(bytes);
}

/**
 * A bytea member's stored text (§4.7.4 `wirePayload`): `\x…`/`\X…` is hex (either digit case),
 * anything else is Go standard base64. `undefined` when undecodable.
 */
export function decodeByteaText(text: string): Uint8Array | undefined {
  if (text.startsWith('\\x') || text.startsWith('\\X')) return decodeHex(text.slice(2));
  return decodeBase64(text);
}

/**
 * Push input → `payload_apply` value for a bytea member (§4.2.2 step 16): base64 → `\x` hex.
 * `undefined` means `payload binary field %s.%s.%s must be valid base64`.
 */
export function pushByteaToApplyText(base64: string): string | undefined {
  const bytes = decodeBase64(base64);
  return bytes === undefined ? undefined : encodeByteaHex(bytes);
}

/** Stored bytea text (hex or base64) → wire base64 (§4.7.4). `undefined` when undecodable. */
export function byteaTextToWireBase64(text: string): string | undefined {
  const bytes = decodeByteaText(text);
  return bytes === undefined ? undefined : encodeBase64(bytes);
}

/**
 * The client's strict download decoding of a non-key blob (client.md §9.4): `""` is an empty blob,
 * anything else must be canonical base64 (`invalid canonical wire blob encoding` otherwise).
 */
export function decodeWireBlob(text: string): Uint8Array | undefined {
  return text === '' ? new Uint8Array(0) : decodeCanonicalBase64(text);
}
