import { badRequest } from '../errors/oversync.error.js';
import { isExactObject, parseExactJson, readString, type ExactJson, type ExactObject } from '../wire/exact-json.js';

/** `source_replacement` of a snapshot-session create, as sent (trimmed and validated by the service). */
export interface SourceReplacementRequest {
  previousSourceId: string;
  newSourceId: string;
  reason: string;
}

const PARSE_MESSAGE = 'Failed to parse snapshot session request';
const invalid = () => badRequest('snapshot_session_invalid', PARSE_MESSAGE);

/**
 * Strict binding of the optional create body (spec §3.9): empty, whitespace or `null` = keep-source;
 * unknown members (also inside `source_replacement`) and type mismatches are parse errors. Member
 * names match case-insensitively like Go; trailing data is refused (§8.19).
 */
export function parseSnapshotSessionRequest(body: string): SourceReplacementRequest | null {
  if (/^[ \t\n\r]*$/.test(body)) return null;
  let document: ExactJson;
  try {
    document = parseExactJson(body);
  } catch {
    throw invalid();
  }
  if (document === null) return null;
  const replacement = onlyMembers(document, ['source_replacement']).get('source_replacement');
  if (replacement === undefined || replacement === null) return null;
  const fields = onlyMembers(replacement, ['previous_source_id', 'new_source_id', 'reason']);
  const previousSourceId = readString(fields.get('previous_source_id'));
  const newSourceId = readString(fields.get('new_source_id'));
  const reason = readString(fields.get('reason'));
  if (previousSourceId === undefined || newSourceId === undefined || reason === undefined) throw invalid();
  return { previousSourceId, newSourceId, reason };
}

/** The object's members by field name (last duplicate wins, exact-case match preferred); any other member is an error. */
function onlyMembers(value: ExactJson, fields: readonly string[]): Map<string, ExactJson> {
  if (!isExactObject(value)) throw invalid();
  const exact = new Map<string, ExactJson>();
  const folded = new Map<string, ExactJson>();
  for (const [name, item] of (value as ExactObject).members) {
    const field = fields.find((f) => f === name) ?? fields.find((f) => f === name.toLowerCase());
    if (!field) throw invalid();
    (field === name ? exact : folded).set(field, item);
  }
  for (const [field, item] of folded) if (!exact.has(field)) exact.set(field, item);
  return exact;
}
