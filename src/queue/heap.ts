/**
 * A binary min-heap ordered by time, with insertion order breaking ties so that jobs
 * scheduled for the same moment run in the order they were scheduled.
 *
 * @internal
 * @module
 */

/** Items by due time (ms since epoch); equal times come out in insertion order. */
export class TimeHeap<T> {
  // Parallel arrays rather than an entry object per item: times stay unboxed doubles and
  // sequences small integers, ~16 bytes per entry instead of ~40.
  private readonly times: number[] = [];
  private readonly seqs: number[] = [];
  private readonly items: T[] = [];
  private seq = 0;

  /** Number of entries. */
  get size(): number {
    return this.items.length;
  }

  /** Time of the earliest entry, or Infinity when empty. */
  peekTime(): number {
    return this.times.length === 0 ? Infinity : (this.times[0] as number);
  }

  /** Adds `item` due at `at` (ms since epoch). */
  push(at: number, item: T): void {
    const times = this.times;
    const seqs = this.seqs;
    const items = this.items;
    // The sequence keeps equal times in insertion order; it wraps long before 2^53.
    const seq = this.seq = (this.seq + 1) % Number.MAX_SAFE_INTEGER;
    let i = items.length;
    times.push(at);
    seqs.push(seq);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent] as number;
      if (!(at < pt || (at === pt && seq < (seqs[parent] as number)))) break;
      times[i] = pt;
      seqs[i] = seqs[parent] as number;
      items[i] = items[parent] as T;
      i = parent;
    }
    times[i] = at;
    seqs[i] = seq;
    items[i] = item;
  }

  /** Removes and returns the earliest item if it is due at or before `now`. */
  popDue(now: number): T | undefined {
    const times = this.times;
    const seqs = this.seqs;
    const items = this.items;
    if (items.length === 0 || (times[0] as number) > now) return undefined;
    const top = items[0] as T;
    const lastAt = times.pop() as number;
    const lastSeq = seqs.pop() as number;
    const last = items.pop() as T;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(times[r] as number, seqs[r] as number, times[l] as number, seqs[l] as number) ? r : l;
        if (!less(times[c] as number, seqs[c] as number, lastAt, lastSeq)) break;
        times[i] = times[c] as number;
        seqs[i] = seqs[c] as number;
        items[i] = items[c] as T;
        i = c;
      }
      times[i] = lastAt;
      seqs[i] = lastSeq;
      items[i] = last;
    }
    return top;
  }
}

function less(at: number, seq: number, bt: number, bseq: number): boolean {
  return at < bt || (at === bt && seq < bseq);
}
