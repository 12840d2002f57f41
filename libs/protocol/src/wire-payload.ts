// `wirePayload` of spec/server.md §4.7.4: the one conversion between a payload as PostgreSQL gives
// it (a jsonb row image) and the payload on the wire (bytea hex → base64, hidden scope column
// dropped), used by the server's capture path (bundle rows: stored exact, hashed through doubles,
// §8.2) and its read-back path (conflict `server_row`, §8.11).
import { byteaTextToWireBase64 } from './binary-codecs.js';
import { canonicalExactAndDoubleJson, canonicalExactJson } from './canonical-exact-json.js';
import { ExactObject, parseExactJson, type ExactJson } from './json-reader.js';
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
 * Both canonical texts of a captured payload: `wire` (stored and served, exact numbers) and
 * `hashed` (the reference's double form).
 */
export interface CapturedWirePayload {
  readonly wire: string;
  readonly hashed: string;
}

/**
 * Capture path (§4.7.4): the row's jsonb text converted (see `convertWirePayload`) and written
 * canonically twice. `wire` keeps number literals a double cannot hold (BIGINT beyond 2^53, long
 * NUMERIC) exactly, so devices receive the stored value (§8.2); `hashed` has every number through a
 * double, as the reference writes it, and is what the bundle hash covers so a Go client still verifies it.
 */
export function captureWirePayload(payloadText: string, byteaColumns: ReadonlySet<string>): CapturedWirePayload {
  const { exact, double } = canonicalExactAndDoubleJson(convertWirePayload(parseExactJson(payloadText), byteaColumns));
  return { wire: exact, hashed: double };
}

/**
 * A row read back from PostgreSQL outside a bundle (conflict `server_row`): the same canonical text
 * bundles carry (sorted members, Go number and string rules, exact big numbers, §8.11).
 */
export function canonicalWirePayload(payloadText: string, byteaColumns: ReadonlySet<string>): string {
  return canonicalExactJson(convertWirePayload(parseExactJson(payloadText), byteaColumns));
}

/**
 * The conversion itself, on the reader's tree. `null` stays `null`; anything else must be an object:
 * the first member named `_sync_scope_id` (any ASCII letter case) is dropped, and every non-null
 * member whose lower-cased name is in `byteaColumns` is re-encoded as standard padded base64 (from
 * `\x` hex or Go base64). A non-object, a non-string bytea value or undecodable bytea text throws
 * `WirePayloadError`. Other members are kept as they are (numbers as written).
 */
export function convertWirePayload(document: ExactJson, byteaColumns: ReadonlySet<string>): ExactJson {
  if (document === null) return null;
  if (!(document instanceof ExactObject)) throw new WirePayloadError('payload must be a JSON object');
  const names: string[] = [];
  const values: ExactJson[] = [];
  let scopeRemoved = false;
  for (let i = 0; i < document.names.length; i++) {
    const name = document.names[i]!;
    let value = document.values[i]!;
    if (!scopeRemoved && equalFoldAscii(name, HIDDEN_SCOPE_COLUMN)) {
      scopeRemoved = true;
      continue;
    }
    if (value !== null && byteaColumns.size > 0 && byteaColumns.has(goToLower(name))) {
      if (typeof value !== 'string') throw new WirePayloadError(`binary payload member ${name} must be a string`);
      const base64 = byteaTextToWireBase64(value);
      if (base64 === undefined) throw new WirePayloadError(`binary payload member ${name} is not valid hex or base64`);
      value = base64;
    }
    names.push(name);
    values.push(value);
  }
  return new ExactObject(names, values);
}
