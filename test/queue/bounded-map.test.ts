import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../../src/queue/bounded-map.js';

/** The reference: a Map evicting with keys().next(), the pattern BoundedMap replaces. */
class ModelMap<K, V> {
  readonly map = new Map<K, V>();
  constructor(
    readonly capacity: number,
    readonly order: 'fifo' | 'lru',
  ) {}
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined && this.order === 'lru') {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: K, value: V): void {
    if (this.order === 'lru') this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }
}

describe('BoundedMap', () => {
  it('forgets the first inserted key in fifo order; setting a held key keeps its place', () => {
    const m = new BoundedMap<string, number>(3, 'fifo');
    m.set('a', 1).set('b', 2).set('c', 3);
    m.set('a', 10);
    expect(m.get('b')).toBe(2);
    m.set('d', 4);
    expect([...m.entries()]).toEqual([
      ['b', 2],
      ['c', 3],
      ['d', 4],
    ]);
    expect(m.oldestKey()).toBe('b');
    expect(m.size).toBe(3);
  });

  it('forgets the least recently used key in lru order; peek does not count as a use', () => {
    const m = new BoundedMap<string, number>(3, 'lru');
    m.set('a', 1).set('b', 2).set('c', 3);
    expect(m.get('a')).toBe(1);
    expect(m.peek('b')).toBe(2);
    m.set('d', 4);
    expect(m.has('b')).toBe(false);
    m.set('c', 30);
    m.set('e', 5);
    expect([...m].map(([k]) => k)).toEqual(['d', 'c', 'e']);
  });

  it('matches a Map evicting with keys().next() over a long mix of sets, gets and deletes', () => {
    for (const order of ['fifo', 'lru'] as const) {
      for (const capacity of [1, 2, 7, 64]) {
        const m = new BoundedMap<number, number>(capacity, order);
        const model = new ModelMap<number, number>(capacity, order);
        let seed = 12345;
        const rnd = (n: number): number => {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          return seed % n;
        };
        for (let i = 0; i < 5_000; i++) {
          const key = rnd(capacity * 3);
          const op = rnd(10);
          if (op < 5) {
            m.set(key, i);
            model.set(key, i);
          } else if (op < 8) {
            expect(m.get(key)).toBe(model.get(key));
          } else if (op < 9) {
            expect(m.delete(key)).toBe(model.map.delete(key));
          } else {
            expect(m.peek(key)).toBe(model.map.get(key));
          }
          expect(m.size).toBe(model.map.size);
        }
        expect([...m.entries()]).toEqual([...model.map.entries()]);
        expect(m.oldestKey()).toBe(model.map.keys().next().value);
      }
    }
  });

  it('lets the entry just yielded be deleted while iterating, and clears', () => {
    const m = new BoundedMap<number, number>(100);
    for (let i = 0; i < 10; i++) m.set(i, i);
    for (const [k, v] of m) if (v % 2 === 0) m.delete(k);
    expect([...m].map(([k]) => k)).toEqual([1, 3, 5, 7, 9]);
    m.clear();
    expect(m.size).toBe(0);
    expect(m.oldestKey()).toBeUndefined();
    m.set(1, 1);
    expect([...m]).toEqual([[1, 1]]);
  });

  it('evicts in constant time after many deletes (where keys().next() walked the deleted slots)', () => {
    const m = new BoundedMap<number, number>(100_000);
    for (let i = 0; i < 300_000; i++) m.set(i, i);
    expect(m.size).toBe(100_000);
    expect(m.oldestKey()).toBe(200_000);
  });

  it('refuses a capacity that is not an integer >= 1', () => {
    expect(() => new BoundedMap(0)).toThrow(/capacity/);
    expect(() => new BoundedMap(1.5)).toThrow(/capacity/);
  });
});
