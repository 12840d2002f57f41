import { describe, expect, it, jest } from '@jest/globals';
import { uuidV7 } from './uuid-v7.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const msOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('uuidV7', () => {
  it('is canonical lower-case text with version 7 and the RFC 9562 variant, the current ms first', () => {
    const before = Date.now();
    const id = uuidV7();
    expect(id).toMatch(V7);
    expect(msOf(id)).toBeGreaterThanOrEqual(before);
    expect(msOf(id)).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('sorts after every key made before it, many in one millisecond included', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidV7());
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('moves on past the last key when the clock steps back or a millisecond runs out of counter', () => {
    const clock = jest.spyOn(Date, 'now');
    try {
      clock.mockReturnValue(4_000_000_000_000);
      const first = uuidV7();
      const burst = Array.from({ length: 5_000 }, () => uuidV7());
      clock.mockReturnValue(3_000_000_000_000);
      const afterStepBack = uuidV7();
      const all = [first, ...burst, afterStepBack];
      for (let i = 1; i < all.length; i++) expect(all[i]! > all[i - 1]!).toBe(true);
      expect(msOf(burst[burst.length - 1]!)).toBe(4_000_000_000_001); // 4,096 keys a ms, then the next ms
      for (const id of all) expect(id).toMatch(V7);
    } finally {
      clock.mockRestore();
    }
  });
});
