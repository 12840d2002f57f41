// UUID text ⇄ 16 bytes in the spellings the protocol distinguishes: the server's canonical key check
// (spec/server.md §4.2.2 step 7), Go `uuid.Parse` for push ids (§4.2.2), the client's strict wire
// decoding and lenient local decoding (client.md §9.3, §9.4).
import { decodeCanonicalBase64, decodeHex, encodeHex } from './binary-codecs.js';
import { goTrimSpace } from './go-strings.js';

const DASHED_UUID_ANY_CASE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** 16 bytes → canonical lower-case dashed text (`8-4-4-4-12`). Throws unless exactly 16 bytes. */
export function formatUuid(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`uuid must be 16 bytes, got ${bytes.length}`);
  const hex = encodeHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Canonical wire UUID text: lower-case, dashed, 36 characters. This is the server's uuid-key rule
 * (`row key %s.%s.%s must use canonical dashed lowercase UUID text` otherwise). Any version/variant.
 */
export function isCanonicalUuid(text: string): boolean {
  // a scan of the units, not a regular expression: a bulk push checks one key per row (≈ 0.7 µs each by regex)
  if (text.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = text.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return false;
    } else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/** Canonical UUID text → 16 bytes; `undefined` unless `isCanonicalUuid(text)`. */
export function parseCanonicalUuid(text: string): Uint8Array | undefined {
  return isCanonicalUuid(text) ? dashedToBytes(text) : undefined;
}

function dashedToBytes(text: string): Uint8Array | undefined {
  return decodeHex(text.replaceAll('-', ''));
}

/**
 * Go `github.com/google/uuid` v1.6.0 `Parse`: by UTF-8 byte length, 36 = dashed, 45 =
 * `urn:uuid:` (prefix case-insensitive) + dashed, 38 = one wrapping byte each side (the braces are
 * not checked), 32 = plain hex; hex digits of either case. Used on push ids (after trimming).
 */
export function parseGoUuid(text: string): Uint8Array | undefined {
  const bytes = Buffer.from(text, 'utf8');
  // Only ASCII can match the hex/dash positions; non-ASCII bytes just have to sit where ignored.
  const ascii = bytes.toString('latin1');
  switch (bytes.length) {
    case 32:
      return decodeHex(ascii);
    case 36:
      return DASHED_UUID_ANY_CASE.test(ascii) ? dashedToBytes(ascii) : undefined;
    case 38:
      return DASHED_UUID_ANY_CASE.test(ascii.slice(1, 37)) ? dashedToBytes(ascii.slice(1, 37)) : undefined;
    case 45:
      if (ascii.slice(0, 9).toLowerCase() !== 'urn:uuid:') return undefined;
      return DASHED_UUID_ANY_CASE.test(ascii.slice(9)) ? dashedToBytes(ascii.slice(9)) : undefined;
    default:
      return undefined;
  }
}

/**
 * The client's strict download decoding of UUID keys and UUID reference columns
 * (`decodeCanonicalWireUUIDBytes`): exactly 36 characters of dashed hex, no surrounding space;
 * upper- and mixed-case digits ARE accepted. `undefined` means
 * `invalid canonical wire UUID encoding`.
 */
export function decodeCanonicalWireUuid(text: string): Uint8Array | undefined {
  return DASHED_UUID_ANY_CASE.test(text) ? dashedToBytes(text) : undefined;
}

/**
 * The client's lenient decoding of local UUID values (`decodeUUIDBytesFromString`, used before
 * upload): Go `uuid.Parse` forms, else canonical base64 of 16 bytes, else (trimmed) hex of 16 bytes.
 */
export function decodeUuidLenient(text: string): Uint8Array | undefined {
  const parsed = parseGoUuid(text);
  if (parsed !== undefined) return parsed;
  const base64 = decodeCanonicalBase64(text);
  if (base64 !== undefined) return base64.length === 16 ? base64 : undefined;
  const hex = decodeHex(goTrimSpace(text));
  return hex !== undefined && hex.length === 16 ? hex : undefined;
}
