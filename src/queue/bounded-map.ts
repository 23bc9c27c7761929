/**
 * A Map with a capacity that forgets its oldest entry when a new key would exceed it, in
 * insertion order (`'fifo'`) or in order of use (`'lru'`).
 *
 * Why not `map.delete(map.keys().next().value)`: V8 leaves deleted slots at the front of a
 * Map's table until it rehashes, and `keys().next()` walks over all of them, so each eviction
 * costs up to the table's size (46 µs at 100,000 entries, see bench/RESULTS.md). Here the order
 * is a doubly linked list through the entries: eviction, deletion and reordering are O(1).
 *
 * @internal
 * @module
 */

/** Which entry a {@link BoundedMap} forgets first. */
export type EvictionOrder = 'fifo' | 'lru';

interface Entry<K, V> {
  readonly key: K;
  value: V;
  /** Towards the oldest. */
  prev: Entry<K, V> | undefined;
  /** Towards the newest. */
  next: Entry<K, V> | undefined;
}

/**
 * A bounded map. `'fifo'`: the first inserted is evicted first; `set` of a held key keeps its
 * place, like `Map`. `'lru'`: `get` and `set` make the key the newest; {@link peek} reads
 * without reordering.
 *
 * @example
 * ```ts
 * const seen = new BoundedMap<string, number>(2, 'fifo');
 * seen.set('a', 1).set('b', 2).set('c', 3); // 'a' is forgotten
 * seen.has('a'); // false
 * ```
 * @internal
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, Entry<K, V>>();
  private oldest: Entry<K, V> | undefined;
  private newest: Entry<K, V> | undefined;

  /**
   * @param capacity - Most entries held (an integer >= 1; checked by the caller, which names its option).
   * @param order - Which entry goes first when full.
   */
  constructor(
    readonly capacity: number,
    readonly order: EvictionOrder = 'fifo',
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`Expected \`capacity\` to be an integer >= 1, got ${String(capacity)}`);
  }

  /** Number of entries held. */
  get size(): number {
    return this.map.size;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** The value of `key`; in `'lru'` order the key becomes the newest. */
  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (this.order === 'lru') this.toNewest(e);
    return e.value;
  }

  /** The value of `key`, without changing the order. */
  peek(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  /**
   * Sets `key`. A new key is the newest and evicts the oldest entry when the map is full; a held
   * key keeps its place in `'fifo'` order and becomes the newest in `'lru'` order.
   */
  set(key: K, value: V): this {
    const held = this.map.get(key);
    if (held !== undefined) {
      held.value = value;
      if (this.order === 'lru') this.toNewest(held);
      return this;
    }
    const e: Entry<K, V> = { key, value, prev: this.newest, next: undefined };
    if (this.newest === undefined) this.oldest = e;
    else this.newest.next = e;
    this.newest = e;
    this.map.set(key, e);
    if (this.map.size > this.capacity) this.delete(this.oldest!.key);
    return this;
  }

  delete(key: K): boolean {
    const e = this.map.get(key);
    if (e === undefined) return false;
    this.map.delete(key);
    this.unlink(e);
    return true;
  }

  clear(): void {
    this.map.clear();
    this.oldest = this.newest = undefined;
  }

  /** The oldest key (the next evicted), or undefined when empty. */
  oldestKey(): K | undefined {
    return this.oldest?.key;
  }

  /** Entries from the oldest to the newest. Deleting the entry just yielded is allowed (not others). */
  *entries(): IterableIterator<[K, V]> {
    let e = this.oldest;
    while (e !== undefined) {
      const next = e.next;
      yield [e.key, e.value];
      e = next;
    }
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  private toNewest(e: Entry<K, V>): void {
    if (e === this.newest) return;
    this.unlink(e);
    e.prev = this.newest;
    e.next = undefined;
    // Not empty: `e` was held and was not the newest.
    this.newest!.next = e;
    this.newest = e;
  }

  private unlink(e: Entry<K, V>): void {
    if (e.prev === undefined) this.oldest = e.next;
    else e.prev.next = e.next;
    if (e.next === undefined) this.newest = e.prev;
    else e.next.prev = e.prev;
    e.prev = e.next = undefined;
  }
}
