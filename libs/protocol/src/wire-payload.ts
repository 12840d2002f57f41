// `wirePayload` of spec/server.md §4.7.4: the one conversion between a payload as PostgreSQL gives
// it and the payload on the wire (bytea hex → base64, hidden scope column dropped), shared by the
// capture path (bundle rows, hashed) and the pass-through path (snapshot rows, conflict server_row).
import { byteaTextToWireBase64 } from './binary-codecs.js';
import { canonicalJson } from './canonical-json.js';
import { parseJsonText } from './json-views.js';
import { equalFoldAscii, goToLower } from './go-strings.js';
import { HIDDEN_SCOPE_COLUMN } from './limits.js';

/** A payload could not be converted (the reference answers the request with its endpoint's 500). */
export class WirePayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WirePayloadError';
  }
}

/**
 * Converts a stored payload text to its wire text. `''` and `'null'` are returned as they are.
 * Otherwise the text must be a JSON object: one member named `_sync_scope_id` (any letter case) is
 * removed, and every non-null member whose lower-cased name is in `byteaColumns` is re-encoded as
 * standard base64 (from `\x` hex or base64; a non-string or undecodable value throws
 * `WirePayloadError`). If nothing changed, the input text is returned byte for byte; otherwise the
 * object is re-encoded canonically (§5.2). Capture path: pass `canonicalizeJsonText(payload_db)`.
 */
export function wirePayload(text: string, byteaColumns: ReadonlySet<string>): string {
  if (text === '' || text === 'null') return text;
  const payload = parseJsonText(text);
  if (payload === null) return text;
  if (typeof payload !== 'object' || Array.isArray(payload)) {
    throw new WirePayloadError('payload must be a JSON object');
  }
  let changed = false;
  const hidden = Object.keys(payload).find((name) => equalFoldAscii(name, HIDDEN_SCOPE_COLUMN));
  if (hidden !== undefined) {
    delete payload[hidden];
    changed = true;
  }
  for (const [name, value] of Object.entries(payload)) {
    if (value === null || !byteaColumns.has(goToLower(name))) continue;
    if (typeof value !== 'string') throw new WirePayloadError(`binary payload member ${name} must be a string`);
    const base64 = byteaTextToWireBase64(value);
    if (base64 === undefined) throw new WirePayloadError(`binary payload member ${name} is not valid hex or base64`);
    if (base64 !== value) {
      payload[name] = base64;
      changed = true;
    }
  }
  return changed ? canonicalJson(payload) : text;
}
