import { describe, expect, it } from '@jest/globals';
import { MAX_CACHED_TOKEN_CHARS, VerifiedTokenCache } from './verified-token-cache.js';

const user = (sub: string, exp: number) => ({ sub, exp, iss: 'go-oversync-examples' });

describe('VerifiedTokenCache', () => {
  it('gives back a live token’s user, and nothing once now reaches its exp (the verifier’s own rule)', () => {
    let now = 1_000;
    const cache = new VerifiedTokenCache(10, () => now);
    cache.set('a.b.c', user('alice', 1_002));
    expect(cache.get('a.b.c')).toEqual(user('alice', 1_002));
    now = 1_001;
    expect(cache.get('a.b.c')?.sub).toBe('alice');
    now = 1_002;
    expect(cache.get('a.b.c')).toBeUndefined();
    expect(cache.size).toBe(0);
    now = 1_000; // a clock stepping back does not bring a dropped token back
    expect(cache.get('a.b.c')).toBeUndefined();
  });

  it('never stores a token already expired, and stores nothing with 0 entries', () => {
    const cache = new VerifiedTokenCache(10, () => 2_000);
    cache.set('old', user('alice', 2_000));
    expect(cache.size).toBe(0);
    const off = new VerifiedTokenCache(0, () => 0);
    off.set('t', user('alice', 10));
    expect(off.get('t')).toBeUndefined();
  });

  it('matches the whole token: the same signature under other claims is another key', () => {
    const cache = new VerifiedTokenCache(10, () => 0);
    cache.set('header.claims.signature', user('alice', 10));
    expect(cache.get('header.forged-claims.signature')).toBeUndefined();
    expect(cache.get('signature')).toBeUndefined();
    expect(cache.get('header.claims.')).toBeUndefined();
  });

  it('holds at most maxEntries, dropping the least recently used', () => {
    const cache = new VerifiedTokenCache(3, () => 0);
    for (const t of ['t1', 't2', 't3']) cache.set(t, user(t, 10));
    cache.get('t1'); // t2 is now the least recently used
    cache.set('t4', user('t4', 10));
    expect(cache.size).toBe(3);
    expect(cache.get('t2')).toBeUndefined();
    expect(['t1', 't3', 't4'].map((t) => cache.get(t)?.sub)).toEqual(['t1', 't3', 't4']);
    for (let i = 0; i < 1000; i++) cache.set(`x${i}`, user('x', 10));
    expect(cache.size).toBe(3);
  });

  it('leaves tokens longer than MAX_CACHED_TOKEN_CHARS to the verifier (bounded memory)', () => {
    const cache = new VerifiedTokenCache(3, () => 0);
    const long = 'x'.repeat(MAX_CACHED_TOKEN_CHARS + 1);
    cache.set(long, user('alice', 10));
    expect(cache.get(long)).toBeUndefined();
    cache.set(long.slice(1), user('alice', 10));
    expect(cache.get(long.slice(1))?.sub).toBe('alice');
  });

  it('hands out copies: a request changing its user does not change the cached one', () => {
    const cache = new VerifiedTokenCache(3, () => 0);
    const verified = { ...user('alice', 10), roles: ['reader'] };
    cache.set('t', verified);
    verified.roles.push('admin');
    const first = cache.get('t')!;
    first.sub = 'mallory';
    first.roles!.push('admin');
    expect(cache.get('t')).toEqual({ ...user('alice', 10), roles: ['reader'] });
  });
});
