/**
 * A ring of records kept as UTF-8 text in one byte arena, found by key. What a mailer keeps of
 * every message it finished (the correlation records of what was sent, the recent reports)
 * would otherwise be a few small objects and strings per message that the young-generation GC
 * copies once or twice before they are promoted: pauses no yield can split (bench/loop.ts).
 * Bytes in an ArrayBuffer are not the GC's to copy.
 *
 * Records are added at the newest end and leave from the oldest end (or anywhere, by key,
 * leaving a dead slot that is skipped). Each has a text (which starts with its key), a time and
 * an optional object for what the text cannot hold. The arena is a byte ring in slot order:
 * the live texts lie between the oldest slot's start and the newest text's end, so a record
 * costs its text's bytes, ~40 B of columns and ~8 B of index, and no object of its own.
 *
 * @module
 * @internal
 */

/** Smallest ring (a power of two). */
const MIN_SLOTS = 16;

/** Arena bytes per slot to begin with. */
const BYTES_PER_SLOT = 160;

/**
 * Hash of a key for {@link TextRing}: FNV-1a over every character, then mixed (murmur3's
 * finalizer) so that the low bits, which pick the index entry, depend on all of them. 30 bits:
 * a small integer.
 *
 * @example
 * ```ts
 * ring.add('job-1', hashOfKey('job-1'), 'job-1\0...', Date.now(), undefined);
 * ```
 */
export function hashOfKey(key: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h & 0x3fffffff;
}

/**
 * Number of NUL characters in `s`: a text made of fields joined by NUL splits back into them
 * only if no field held one.
 *
 * @example
 * ```ts
 * const text = fields.join('\0');
 * if (nulCount(text) === fields.length - 1) ring.add(key, hash, text, now, undefined);
 * ```
 */
export function nulCount(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\0'); i >= 0; i = s.indexOf('\0', i + 1)) n++;
  return n;
}

/**
 * Records as text in a byte ring, indexed by key (see the module comment). Slots are numbers,
 * valid until the next `add` or drop.
 *
 * @example
 * ```ts
 * const ring = new TextRing<Error>();
 * ring.add('k', hashOfKey('k'), 'k\0value', Date.now(), undefined);
 * const slot = ring.find('k', hashOfKey('k'));
 * if (slot >= 0) console.log(ring.textAt(slot).split('\0')[1]); // 'value'
 * ```
 * @internal
 */
export class TextRing<A> {
  private cap = MIN_SLOTS;
  private alive = new Uint8Array(this.cap);
  /** Start of the slot's text in the arena, and its bytes. */
  private starts = new Int32Array(this.cap);
  private sizes = new Int32Array(this.cap);
  /** UTF-16 length of the slot's key (the start of its text). */
  private keyLens = new Int32Array(this.cap);
  private hashes = new Int32Array(this.cap);
  private times = new Float64Array(this.cap);
  private auxes: (A | undefined)[] = new Array<A | undefined>(this.cap);
  private arena = Buffer.allocUnsafeSlow(this.cap * BYTES_PER_SLOT);
  /** Where the next text goes. */
  private writeAt = 0;
  /** Oldest slot. */
  private head = 0;
  /** Slots in use from `head`, live and dead. */
  private used = 0;
  private live = 0;
  /**
   * Open-addressing index (linear probing): slot + 1, 0 = free; twice the ring, so at most half
   * full. A removal shifts the entries after it back (no tombstones, so no rebuilds while the
   * ring keeps its size: a rebuild of a 100,000-record index is a turn of several ms).
   */
  private index = new Int32Array(this.cap * 2);

  /** Live records. */
  get size(): number {
    return this.live;
  }

  /** Slots the ring has now (live, dead and free): for tests. */
  get slots(): number {
    return this.cap;
  }

  /** The oldest live slot, or -1. */
  oldest(): number {
    this.skipDead();
    return this.used === 0 ? -1 : this.head;
  }

  /** The live slot of `key` (`hash` = {@link hashOfKey}), or -1. */
  find(key: string, hash: number): number {
    const at = this.lookup(key, hash);
    return at < 0 ? -1 : (this.index[at] as number) - 1;
  }

  textAt(slot: number): string {
    const start = this.starts[slot] as number;
    return this.arena.toString('utf8', start, start + (this.sizes[slot] as number));
  }

  timeAt(slot: number): number {
    return this.times[slot] as number;
  }

  auxAt(slot: number): A | undefined {
    return this.auxes[slot];
  }

  /**
   * Adds a record as the newest: `text` starts with `key` (`hash` = {@link hashOfKey}). A live
   * record of the same key is dropped first; then the oldest go until fewer than `limit` are
   * left (a record replacing one of its key evicts nothing).
   */
  add(key: string, hash: number, text: string, time: number, aux: A | undefined, limit = Number.POSITIVE_INFINITY): void {
    const before = this.lookup(key, hash);
    if (before >= 0) this.dropAt(before);
    while (this.live >= limit) this.drop(this.oldest());
    this.skipDead();
    // Full: drop the dead slots (a record re-added again and again behind a live oldest one
    // leaves one each), and double only if most slots are live.
    if (this.used === this.cap) this.resize(this.live * 2 < this.cap ? this.cap : this.cap * 2);
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const start = this.room(text.length * 3);
    const slot = (this.head + this.used) & (this.cap - 1);
    this.used++;
    this.live++;
    const size = this.arena.write(text, start, 'utf8');
    this.writeAt = start + size;
    this.alive[slot] = 1;
    this.starts[slot] = start;
    this.sizes[slot] = size;
    this.keyLens[slot] = key.length;
    this.hashes[slot] = hash;
    this.times[slot] = time;
    this.auxes[slot] = aux;
    this.place(slot);
  }

  /** Forgets the live record in `slot`. */
  drop(slot: number): void {
    const mask = this.index.length - 1;
    let i = (this.hashes[slot] as number) & mask;
    while (this.index[i] !== slot + 1) i = (i + 1) & mask;
    this.dropAt(i);
    this.skipDead();
  }

  /** Forgets every record. */
  clear(): void {
    this.cap = MIN_SLOTS;
    this.alive = new Uint8Array(this.cap);
    this.starts = new Int32Array(this.cap);
    this.sizes = new Int32Array(this.cap);
    this.keyLens = new Int32Array(this.cap);
    this.hashes = new Int32Array(this.cap);
    this.times = new Float64Array(this.cap);
    this.auxes = new Array<A | undefined>(this.cap);
    this.arena = Buffer.allocUnsafeSlow(this.cap * BYTES_PER_SLOT);
    this.index = new Int32Array(this.cap * 2);
    this.writeAt = this.head = this.used = this.live = 0;
  }

  /** Index entry (position) of the live slot holding `key`, or -1. */
  private lookup(key: string, hash: number): number {
    const index = this.index;
    const mask = index.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const e = index[i] as number;
      if (e === 0) return -1;
      // Same 30-bit hash and key length: rare unless it is the key, so the text is read only then.
      if (this.hashes[e - 1] === hash && this.keyLens[e - 1] === key.length && this.textAt(e - 1).startsWith(key)) return i;
    }
  }

  /** Removes index entry `at` and its record; later entries of the probe run shift back. */
  private dropAt(at: number): void {
    const index = this.index;
    const mask = index.length - 1;
    const slot = (index[at] as number) - 1;
    let hole = at;
    index[hole] = 0;
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const e = index[j] as number;
      if (e === 0) break;
      const home = (this.hashes[e - 1] as number) & mask;
      // The entry stays if its home lies cyclically in (hole, j]; else it moves into the hole.
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (!stays) {
        index[hole] = e;
        index[j] = 0;
        hole = j;
      }
    }
    this.live--;
    this.alive[slot] = 0;
    this.auxes[slot] = undefined;
  }

  private skipDead(): void {
    while (this.used > 0 && this.alive[this.head] === 0) {
      this.head = (this.head + 1) & (this.cap - 1);
      this.used--;
    }
  }

  /** Indexes `slot`: the first free entry on its path. */
  private place(slot: number): void {
    const index = this.index;
    const mask = index.length - 1;
    let i = (this.hashes[slot] as number) & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = slot + 1;
  }

  /** Makes the index twice the ring. */
  private reindex(): void {
    this.index = new Int32Array(this.cap * 2);
    for (let k = 0; k < this.used; k++) {
      const slot = (this.head + k) & (this.cap - 1);
      if (this.alive[slot] === 1) this.place(slot);
    }
  }

  /** Copies the live slots, in order, to the front of a ring of `next` slots (the index is rebuilt). */
  private resize(next: number): void {
    const alive = new Uint8Array(next);
    const starts = new Int32Array(next);
    const sizes = new Int32Array(next);
    const keyLens = new Int32Array(next);
    const hashes = new Int32Array(next);
    const times = new Float64Array(next);
    const auxes = new Array<A | undefined>(next);
    let k = 0;
    for (let n = 0; n < this.used; n++) {
      const slot = (this.head + n) & (this.cap - 1);
      if (this.alive[slot] !== 1) continue;
      alive[k] = 1;
      starts[k] = this.starts[slot] as number;
      sizes[k] = this.sizes[slot] as number;
      keyLens[k] = this.keyLens[slot] as number;
      hashes[k] = this.hashes[slot] as number;
      times[k] = this.times[slot] as number;
      auxes[k] = this.auxes[slot];
      k++;
    }
    this.used = k;
    this.alive = alive;
    this.starts = starts;
    this.sizes = sizes;
    this.keyLens = keyLens;
    this.hashes = hashes;
    this.times = times;
    this.auxes = auxes;
    this.cap = next;
    this.head = 0;
    this.reindex();
  }

  /** Where `need` bytes can go after the newest text; the arena is compacted or grown when they cannot. */
  private room(need: number): number {
    const oldest = this.used === 0 ? (this.writeAt = 0) : (this.starts[this.head] as number);
    if (this.used === 0 || this.writeAt > oldest) {
      // Not wrapped: free after the newest text, and before the oldest.
      if (this.writeAt + need <= this.arena.length) return this.writeAt;
      if (need <= oldest) return (this.writeAt = 0);
    } else if (this.writeAt + need <= oldest) {
      return this.writeAt;
    }
    this.compact(need);
    return this.writeAt;
  }

  /** Moves the live texts, in slot order, to the front of an arena with at least `need` bytes free after them. */
  private compact(need: number): void {
    let bytes = 0;
    for (let k = 0; k < this.used; k++) {
      const slot = (this.head + k) & (this.cap - 1);
      if (this.alive[slot] === 1) bytes += this.sizes[slot] as number;
    }
    const old = this.arena;
    const arena = Buffer.allocUnsafeSlow(Math.max(old.length, 2 * (bytes + need)));
    let at = 0;
    for (let k = 0; k < this.used; k++) {
      const slot = (this.head + k) & (this.cap - 1);
      const start = this.starts[slot] as number;
      this.starts[slot] = at;
      if (this.alive[slot] !== 1) {
        this.sizes[slot] = 0;
        continue;
      }
      old.copy(arena, at, start, start + (this.sizes[slot] as number));
      at += this.sizes[slot] as number;
    }
    this.arena = arena;
    this.writeAt = at;
  }
}
