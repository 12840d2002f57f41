import { describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { initializeLocalSchema } from './local-schema.js';
import { SyncState } from './sync-state.js';

describe('SyncState.advanceRowState', () => {
  it('takes a newer version (or a first one) and refuses the same or an older one', () => {
    const db = new Database(':memory:');
    initializeLocalSchema(db);
    const state = new SyncState(db, "busi'ness");
    const version = (table = 'users') =>
      db
        .prepare(
          'SELECT schema_name AS s, row_version AS v, deleted AS d, updated_at AS u FROM _sync_row_state ' +
            'WHERE table_name = ? AND key_json = \'{"id":"a"}\'',
        )
        .get(table);
    const now = state.now();
    expect(now).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(state.advanceRowState('users', '{"id":"a"}', 5, 0, now)).toBe(true);
    expect(version()).toEqual({ s: "busi'ness", v: 5, d: 0, u: now });
    expect(state.advanceRowState('users', '{"id":"a"}', 5, 1, 'later')).toBe(false);
    expect(state.advanceRowState('users', '{"id":"a"}', 4, 1, 'later')).toBe(false);
    expect(version()).toEqual({ s: "busi'ness", v: 5, d: 0, u: now });
    expect(state.advanceRowState('users', '{"id":"a"}', 6, 1, 'later')).toBe(true);
    expect(version()).toEqual({ s: "busi'ness", v: 6, d: 1, u: 'later' });
    // another table, same key: its own row state (and its own statement, names quoted)
    expect(state.advanceRowState("o'posts", '{"id":"a"}', 1, 0, now)).toBe(true);
    expect(version("o'posts")).toEqual({ s: "busi'ness", v: 1, d: 0, u: now });
    expect(version()).toEqual({ s: "busi'ness", v: 6, d: 1, u: 'later' });
    db.close();
  });
});
