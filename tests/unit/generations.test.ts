// The bounded map behind the ledger's caches: it keeps at most its size, keeps what is used, and
// changes only what it keeps.
import { describe, expect, it } from 'vitest';
import { Generations } from '../../src/ledger/generations.ts';

describe('a map in two generations', () => {
  it('keeps at most its size, dropping the oldest generation whole', () => {
    const map = new Generations<number>(4);
    for (let i = 0; i < 10; i++) map.set(`k${i}`, i);
    const kept = Array.from({ length: 10 }, (_, i) => `k${i}`).filter((k) => map.has(k));
    expect(kept).toEqual(['k6', 'k7', 'k8', 'k9']);
    expect(map.get('k0')).toBeUndefined();
  });

  it('keeps a key that is used while others come and go', () => {
    const map = new Generations<number>(4);
    map.set('hot', 1);
    for (let i = 0; i < 100; i++) {
      map.set(`k${i}`, i);
      expect(map.get('hot')).toBe(1);
    }
  });

  it('updates a key it keeps, in either generation, and leaves out one it does not', () => {
    const map = new Generations<string>(4);
    map.set('a', 'old');
    map.set('b', 'b');
    map.set('c', 'c');
    // 'a' and 'b' are in the old generation now, 'c' in the young one.
    map.update('a', 'new');
    map.update('c', 'C');
    map.update('z', 'never');
    expect(map.get('a')).toBe('new');
    expect(map.get('c')).toBe('C');
    expect(map.has('z')).toBe(false);
  });
});
