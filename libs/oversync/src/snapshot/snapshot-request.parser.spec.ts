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
    for (const body of ['', ' \r\n\t', 'null', '{}', '{"source_replacement":null}'])
      expect(parseSnapshotSessionRequest(body)).toBeNull();
  });

  it('binds source_replacement with Go member matching: case-insensitive, the last binding member wins whatever its case', () => {
    expect(
      parseSnapshotSessionRequest(
        '{"Source_Replacement":{"PREVIOUS_SOURCE_ID":"a","new_source_id":"x","new_source_id":"b","Reason":null}}',
      ),
    ).toEqual({ previousSourceId: 'a', newSourceId: 'b', reason: '' });
    // Go: `{"reason":"exact","REASON":"folded"}` decodes to "folded" (checked in libs/protocol's Go parity test)
    expect(parseSnapshotSessionRequest('{"source_replacement":{"reason":"exact","REASON":"folded"}}')).toEqual({
      previousSourceId: '',
      newSourceId: '',
      reason: 'folded',
    });
    expect(parseSnapshotSessionRequest('{"source_replacement":{"REASON":"folded","reason":"exact"}}')).toEqual({
      previousSourceId: '',
      newSourceId: '',
      reason: 'exact',
    });
    expect(parseSnapshotSessionRequest('{"\u017fource_replacement":{"rea\u017fon":"long s folds to s"}}')).toEqual({
      previousSourceId: '',
      newSourceId: '',
      reason: 'long s folds to s',
    });
  });

  it('decodes repeated source_replacement members into one struct, as Go does: later fields override, null clears', () => {
    expect(
      parseSnapshotSessionRequest(
        '{"source_replacement":{"reason":"r","new_source_id":"x"},"SOURCE_REPLACEMENT":{"new_source_id":"y"}}',
      ),
    ).toEqual({ previousSourceId: '', newSourceId: 'y', reason: 'r' });
    expect(parseSnapshotSessionRequest('{"source_replacement":{"reason":"r"},"source_replacement":null}')).toBeNull();
  });

  it('refuses unknown members, wrong types, truncated values and trailing data with the one parse message', () => {
    for (const body of [
      '{"x":1}',
      '{"source_replacement":{"x":1}}',
      '{"source_replacement":[]}',
      '{"source_replacement":{"reason":1}}',
      '[]',
      '"s"',
      '{"source_replacement":',
      '{} x',
    ]) {
      const error = parseError(body);
      expect(error).toBeInstanceOf(OversyncError);
      expect(error).toMatchObject({
        code: 'snapshot_session_invalid',
        status: 400,
        message: 'Failed to parse snapshot session request',
      });
    }
  });
});
