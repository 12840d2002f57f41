import { describe, expect, it } from '@jest/globals';
import { OversyncError } from '../errors/oversync.error.js';
import { parseSnapshotSessionRequest } from './snapshot-request.parser.js';

const parseError = (body: string) => {
  try {
    parseSnapshotSessionRequest(body);
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('parseSnapshotSessionRequest (spec §3.9)', () => {
  it('reads an empty, whitespace, null or {} body as a keep-source rebuild', () => {
    for (const body of ['', ' \r\n\t', 'null', '{}', '{"source_replacement":null}']) expect(parseSnapshotSessionRequest(body)).toBeNull();
  });

  it('binds source_replacement with Go member matching: case-insensitive, exact case preferred, last duplicate wins', () => {
    expect(parseSnapshotSessionRequest('{"Source_Replacement":{"PREVIOUS_SOURCE_ID":"a","new_source_id":"x","new_source_id":"b","Reason":null}}'))
      .toEqual({ previousSourceId: 'a', newSourceId: 'b', reason: '' });
    expect(parseSnapshotSessionRequest('{"source_replacement":{"reason":"exact","REASON":"folded"}}'))
      .toEqual({ previousSourceId: '', newSourceId: '', reason: 'exact' });
  });

  it('refuses unknown members, wrong types, truncated values and trailing data with the one parse message', () => {
    for (const body of ['{"x":1}', '{"source_replacement":{"x":1}}', '{"source_replacement":[]}', '{"source_replacement":{"reason":1}}', '[]', '"s"', '{"source_replacement":', '{} x']) {
      const error = parseError(body);
      expect(error).toBeInstanceOf(OversyncError);
      expect(error).toMatchObject({ code: 'snapshot_session_invalid', status: 400, message: 'Failed to parse snapshot session request' });
    }
  });
});
