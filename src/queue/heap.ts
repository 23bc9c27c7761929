/**
 * A binary min-heap ordered by time, with insertion order breaking ties so that jobs
 * scheduled for the same moment run in the order they were scheduled.
 *
 * @internal
 * @module
 */
interface Entry<T> {
  at: number;
  seq: number;
  item: T;
}

export class TimeHeap<T> {
  private readonly items: Entry<T>[] = [];
  private seq = 0;

  /** Number of entries. */
  get size(): number {
    return this.items.length;
  }

  /** Time of the earliest entry, or Infinity when empty. */
  peekTime(): number {
    return this.items[0]?.at ?? Infinity;
  }

  /** Adds `item` due at `at` (ms since epoch). */
  push(at: number, item: T): void {
    const entry: Entry<T> = { at, seq: this.seq++, item };
    const a = this.items;
    a.push(entry);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent] as Entry<T>;
      if (!less(entry, p)) break;
      a[i] = p;
      i = parent;
    }
    a[i] = entry;
  }

  /** Removes and returns the earliest item if it is due at or before `now`. */
  popDue(now: number): T | undefined {
    const a = this.items;
    const top = a[0];
    if (top === undefined || top.at > now) return undefined;
    const last = a.pop() as Entry<T>;
    if (a.length > 0) {
      let i = 0;
      const n = a.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(a[r] as Entry<T>, a[l] as Entry<T>) ? r : l;
        const child = a[c] as Entry<T>;
        if (!less(child, last)) break;
        a[i] = child;
        i = c;
      }
      a[i] = last;
    }
    return top.item;
  }
}

function less<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
