import { describe, expect, it } from '@jest/globals';
import { OversyncError } from '../errors/oversync.error.js';
import { decodeCursor, encodeCursor, int64Text, pageLimit, toPage } from './admin-paging.js';
import { OversyncAdminModule } from './oversync-admin.module.js';

const status = (fn: () => unknown) => {
  try {
    fn();
    return 200;
  } catch (error) {
    return error instanceof OversyncError ? error.status : 500;
  }
};

describe('admin paging', () => {
  it('bounds limit to 1..200 with a default of 50; anything else is a 400', () => {
    expect([pageLimit(undefined), pageLimit(''), pageLimit('1'), pageLimit('200')]).toEqual([50, 50, 1, 200]);
    for (const bad of ['0', '201', '-1', '1.5', 'abc', '99999', ' 5'])
      expect([bad, status(() => pageLimit(bad))]).toEqual([bad, 400]);
  });

  it('round-trips keyset cursors and refuses foreign ones', () => {
    expect(decodeCursor(encodeCursor(['a/b', '7']), ['', '0'])).toEqual(['a/b', '7']);
    expect(decodeCursor(undefined, ['x'])).toEqual(['x']);
    for (const bad of [
      '%%%',
      encodeCursor(['only-one']),
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from('[1,2]').toString('base64url'),
    ]) {
      expect(status(() => decodeCursor(bad, ['', '0']))).toBe(400);
    }
  });

  it('pages with one extra row: a cursor only when more rows exist', () => {
    const rows = [{ k: '1' }, { k: '2' }, { k: '3' }];
    expect(
      toPage(
        rows,
        2,
        (r) => r.k,
        (r) => [r.k],
      ),
    ).toEqual({ items: ['1', '2'], next_cursor: encodeCursor(['2']) });
    expect(
      toPage(
        rows,
        3,
        (r) => r.k,
        (r) => [r.k],
      ),
    ).toEqual({ items: ['1', '2', '3'] });
  });

  it('accepts only non-negative int64 text', () => {
    expect(int64Text('9223372036854775807', 'x')).toBe('9223372036854775807');
    for (const bad of ['9223372036854775808', '-1', '01', '1e3', ''])
      expect(status(() => int64Text(bad, 'x'))).toBe(400);
  });
});

describe('OversyncAdminModule.forRoot', () => {
  it('refuses to mount without a host guard or with a path that is not a plain URL path', () => {
    expect(() => OversyncAdminModule.forRoot({ guards: [] })).toThrow(/never mounts unguarded/);
    expect(() => OversyncAdminModule.forRoot(undefined as never)).toThrow(/never mounts unguarded/);
    const guard = { canActivate: () => true };
    expect(() => OversyncAdminModule.forRoot({ guards: [guard], path: 'a b' })).toThrow(/not a plain URL path/);
    expect(OversyncAdminModule.forRoot({ guards: [guard], path: '/ops/sync/' }).module).toBe(OversyncAdminModule);
  });
});
