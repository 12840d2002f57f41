import { OversyncError } from '../errors/oversync.error.js';
import {
  equalFoldAscii,
  isExactObject,
  MAX_REQUEST_JSON_DEPTH,
  parseExactJson,
  readString,
  type ExactJson,
} from '@oversync/protocol';

/** `source_replacement` of a snapshot-session create, as sent (trimmed and validated by the service). */
export interface SourceReplacementRequest {
  previousSourceId: string;
  newSourceId: string;
  reason: string;
}

const PARSE_MESSAGE = 'Failed to parse snapshot session request';
const invalid = () => new OversyncError('snapshot_session_invalid', PARSE_MESSAGE);

/**
 * Strict binding of the optional create body (spec §3.9): empty, whitespace or `null` = keep-source;
 * unknown members (also inside `source_replacement`) and type mismatches are parse errors. Member
 * names bind like Go (case-insensitively, the last binding member wins); trailing data is refused (§8.19).
 */
export function parseSnapshotSessionRequest(body: string): SourceReplacementRequest | null {
  if (/^[ \t\n\r]*$/.test(body)) return null;
  let document: ExactJson;
  try {
    document = parseExactJson(body, MAX_REQUEST_JSON_DEPTH);
  } catch {
    throw invalid();
  }
  if (document === null) return null;
  if (!isExactObject(document)) throw invalid();
  // Go decodes every member that binds `source_replacement`, in order, into the same *struct: a later
  // object fills in (and overrides) fields of an earlier one, a later null clears it.
  // A string field keeps its value through a later null, a type error anywhere fails the decode.
  let fields: Map<string, string> | null = null;
  for (const [name, value] of document.members) {
    if (boundField(name, ['source_replacement']) === undefined) throw invalid();
    if (value === null) {
      fields = null;
      continue;
    }
    fields ??= new Map();
    for (const [field, item] of onlyMembers(value, REPLACEMENT_FIELDS)) {
      const text = readString(item);
      if (text === undefined) throw invalid();
      if (item !== null) fields.set(field, text);
    }
  }
  if (fields === null) return null;
  return {
    previousSourceId: fields.get('previous_source_id') ?? '',
    newSourceId: fields.get('new_source_id') ?? '',
    reason: fields.get('reason') ?? '',
  };
}

const REPLACEMENT_FIELDS = ['previous_source_id', 'new_source_id', 'reason'] as const;

/** The field a member binds to, Go's way (exact or case-folded name), or undefined. */
function boundField(name: string, fields: readonly string[]): string | undefined {
  return fields.find((f) => f === name) ?? fields.find((f) => equalFoldAscii(name, f));
}

/**
 * The object's members by field name, in document order so the last binding member wins; any other member is an error.
 */
function onlyMembers(value: ExactJson, fields: readonly string[]): Array<[string, ExactJson]> {
  if (!isExactObject(value)) throw invalid();
  return value.members.map(([name, item]): [string, ExactJson] => {
    const field = boundField(name, fields);
    if (field === undefined) throw invalid();
    return [field, item];
  });
}
