import { describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { initializeLocalSchema } from './local-schema.js';
import { SyncState } from './sync-state.js';

describe('SyncState.advanceRowState', () => {
  it('takes a newer version (or a first one) and refuses the same or an older one', () => {
    const db = new Database(':memory:');
    initializeLocalSchema(db);
    const state = new SyncState(db, 'business');
    const version = () =>
      db.prepare('SELECT row_version AS v, deleted AS d FROM _sync_row_state WHERE key_json = \'{"id":"a"}\'').get();
    expect(state.advanceRowState('users', '{"id":"a"}', 5, 0)).toBe(true);
    expect(version()).toEqual({ v: 5, d: 0 });
    expect(state.advanceRowState('users', '{"id":"a"}', 5, 1)).toBe(false);
    expect(state.advanceRowState('users', '{"id":"a"}', 4, 1)).toBe(false);
    expect(version()).toEqual({ v: 5, d: 0 });
    expect(state.advanceRowState('users', '{"id":"a"}', 6, 1)).toBe(true);
    expect(version()).toEqual({ v: 6, d: 1 });
    // another table, same key: its own row state
    expect(state.advanceRowState('posts', '{"id":"a"}', 1, 0)).toBe(true);
    db.close();
  });
});
