import { describe, expect, it } from '@jest/globals';
import { decodeErrorEnvelope, renderServerErrorBody } from './errors.js';

describe('decodeErrorEnvelope (Go json.Unmarshal into oversync.ErrorResponse)', () => {
  it('binds members case-insensitively, the last match winning', () => {
    expect(
      decodeErrorEnvelope('{"ERROR":"x","Error":"history_pruned","message":"gone","replaced_by_source_id":"d2"}'),
    ).toEqual({ code: 'history_pruned', known: 'history_pruned', message: 'gone', replacedBySourceId: 'd2' });
  });

  it('is null where Go fails to decode, so the raw body is shown', () => {
    for (const body of ['{"error":"x","message":5}', '{"error":1}', '["error"]', 'not json', ''])
      expect(decodeErrorEnvelope(body)).toBeNull();
    expect(renderServerErrorBody('{"error":"x","message":5}')).toBe('{"error":"x","message":5}');
    expect(renderServerErrorBody('{"Error":"x","MESSAGE":"y"}')).toBe('x: y');
  });
});
