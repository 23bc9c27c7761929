/**
 * The last `capacity` values set, looked up by key. Setting is two array writes (a ring): the
 * index (a Map) is only brought up to date by a lookup, which indexes what was set since the
 * last one, each entry at most once. A mailer remembers every finished report this way for
 * `status(id)`, which most hosts never call: a Map entry set and one deleted per message (the
 * Map's table rebuilt every few thousand messages) was ~8% of the CPU of dispatching it.
 *
 * @internal
 * @module
 */

/**
 * A bounded map of the most recently set entries. A key set again is found with its newest
 * value; every `set` takes a slot of the ring, so a key set twice counts twice toward
 * `capacity` until its older slot is overwritten.
 *
 * @example
 * ```ts
 * const recent = new RecentMap<string, number>(2);
 * recent.set('a', 1);
 * recent.set('b', 2);
 * recent.set('c', 3); // 'a' is forgotten
 * recent.get('a'); // undefined
 * ```
 * @internal
 */
export class RecentMap<K, V> {
  private readonly keys: (K | undefined)[];
  private readonly values: (V | undefined)[];
  /** Key -> sequence number of its newest indexed entry. */
  private readonly index = new Map<K, number>();
  /** Entries set so far: the sequence number of the next. */
  private added = 0;
  /** Entries before this sequence number are indexed (those still held) or were never. */
  private indexed = 0;

  /** @param capacity - Most entries held (an integer >= 1; checked by the caller). */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`Expected \`capacity\` to be an integer >= 1, got ${String(capacity)}`);
    this.keys = new Array<K | undefined>(capacity);
    this.values = new Array<V | undefined>(capacity);
  }

  /** Entries held (a key set twice counts twice). */
  get size(): number {
    return Math.min(this.added, this.capacity);
  }

  /** Remembers `value` for `key`, forgetting the oldest entry when the ring is full. */
  set(key: K, value: V): void {
    const seq = this.added++;
    const slot = seq % this.capacity;
    if (seq >= this.capacity) {
      const gone = seq - this.capacity;
      if (gone < this.indexed) {
        // Indexed: unless the key was set again since, it leaves the index with its slot.
        const old = this.keys[slot] as K;
        if (this.index.get(old) === gone) this.index.delete(old);
      } else {
        // Never indexed: the next lookup starts after it.
        this.indexed = gone + 1;
      }
    }
    this.keys[slot] = key;
    this.values[slot] = value;
  }

  /** The newest value held for `key`, or undefined. */
  get(key: K): V | undefined {
    this.catchUp();
    const seq = this.index.get(key);
    return seq === undefined ? undefined : this.values[seq % this.capacity];
  }

  /** True when a value is held for `key`. */
  has(key: K): boolean {
    this.catchUp();
    return this.index.has(key);
  }

  /** Indexes the entries set since the last lookup (at most `capacity`). */
  private catchUp(): void {
    const cap = this.capacity;
    for (let seq = this.indexed; seq < this.added; seq++) this.index.set(this.keys[seq % cap] as K, seq);
    this.indexed = this.added;
  }
}
