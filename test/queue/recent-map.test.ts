import { describe, expect, it } from 'vitest';
import { RecentMap } from '../../src/queue/recent-map.js';

/** The reference: the last `capacity` sets as a list, the newest value of a key found. */
class Model<K, V> {
  readonly entries: [K, V][] = [];
  constructor(readonly capacity: number) {}
  set(key: K, value: V): void {
    this.entries.push([key, value]);
    if (this.entries.length > this.capacity) this.entries.shift();
  }
  get(key: K): V | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i]![0] === key) return this.entries[i]![1];
    return undefined;
  }
}

describe('RecentMap', () => {
  it('keeps the last `capacity` entries, whether or not lookups came in between', () => {
    const looked = new RecentMap<string, number>(3);
    const blind = new RecentMap<string, number>(3);
    for (let i = 0; i < 10; i++) {
      looked.set(`k${i}`, i);
      blind.set(`k${i}`, i);
      expect(looked.get(`k${i}`)).toBe(i);
    }
    for (const m of [looked, blind]) {
      expect(['k6', 'k7', 'k8', 'k9'].map((k) => m.get(k))).toEqual([undefined, 7, 8, 9]);
      expect(m.has('k6')).toBe(false);
      expect(m.has('k9')).toBe(true);
      expect(m.size).toBe(3);
    }
  });

  it('finds the newest value of a key set again, and keeps it when the older slot is overwritten', () => {
    const m = new RecentMap<string, string>(3);
    m.set('a', 'first');
    expect(m.get('a')).toBe('first');
    m.set('a', 'second');
    m.set('b', 'b');
    expect(m.get('a')).toBe('second');
    // The slot of 'a' = 'first' is overwritten: 'a' = 'second' stays.
    m.set('c', 'c');
    expect(m.get('a')).toBe('second');
    m.set('d', 'd');
    expect(m.get('a')).toBeUndefined();
  });

  it('agrees with the reference over random sets and lookups across many wraps of the ring', () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (const capacity of [1, 2, 5, 64]) {
      const m = new RecentMap<number, number>(capacity);
      const model = new Model<number, number>(capacity);
      for (let op = 0; op < 20_000; op++) {
        const key = rnd(capacity * 3);
        // Bursts of sets without lookups, so that the index lags by more than the ring.
        if (rnd(10) < 6) {
          m.set(key, op);
          model.set(key, op);
        } else if (rnd(20) !== 0) {
          expect(m.get(key)).toBe(model.get(key));
        }
      }
      for (let key = 0; key < capacity * 3; key++) expect(m.get(key)).toBe(model.get(key));
    }
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new RecentMap(0)).toThrow(/capacity/);
    expect(() => new RecentMap(1.5)).toThrow(/capacity/);
  });
});
