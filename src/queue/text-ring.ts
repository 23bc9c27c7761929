/**
 * A ring of records kept as UTF-8 text in byte chunks, found by key. What a mailer keeps of
 * every message it finished (the correlation records of what was sent, the recent reports)
 * would otherwise be a few small objects and strings per message that the young-generation GC
 * copies once or twice before they are promoted: pauses no yield can split (bench/loop.ts).
 * Bytes in an ArrayBuffer are not the GC's to copy.
 *
 * Records are added at the newest end and leave from the oldest end (or anywhere, by key,
 * leaving a dead slot that is skipped). Each has a text (which starts with its key), a time and
 * an optional object for what the text cannot hold. Texts go into 64 KiB chunks in the order
 * they come; a chunk whose records are all gone is written again, so texts are never moved
 * (growing one arena moved up to 13 MB of them in a 5 ms turn). A record costs its text's
 * bytes, ~30 B of columns and ~8 B of index, and no object of its own.
 *
 * @module
 * @internal
 */

/** Smallest ring (a power of two). */
const MIN_SLOTS = 16;

/** Bytes of a chunk; a text that does not fit in one gets a chunk of its own. */
const CHUNK = 65_536;

/** Free chunks kept for reuse; more are left to the GC. */
const SPARE_CHUNKS = 4;

/** The buffer before the first chunk: no room, so the first record takes a chunk. */
const EMPTY: Buffer = Buffer.alloc(0);

/** `Buffer#utf8Write`: `Buffer#write` in UTF-8 without its argument checks (not in Node's types). */
interface Utf8Writer {
  utf8Write(text: string, offset: number, length: number): number;
}

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

/** {@link hashOfKey} of an ASCII key from its bytes `b[from, to)`: a byte loop is cheaper than `charCodeAt`. */
function hashOfBytes(b: Buffer, from: number, to: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = from; i < to; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
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
 * Records as text in byte chunks, indexed by key (see the module comment). Slots are numbers,
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
  /** 0: dead; 1: live; 2: live, with an object in `auxes`. */
  private alive = new Uint8Array(this.cap);
  /** The slot's chunk, the start of its text there, and the text's bytes. */
  private chunkOf = new Int32Array(this.cap);
  private starts = new Int32Array(this.cap);
  private sizes = new Int32Array(this.cap);
  /** UTF-16 length of the slot's key (the start of its text). */
  private keyLens = new Int32Array(this.cap);
  private hashes = new Int32Array(this.cap);
  private times = new Float64Array(this.cap);
  /** The objects of the slots that have one (alive 2): few, so not a column. */
  private auxes = new Map<number, A>();
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

  /** The chunks by number (null: its number is free), and the live texts in each. */
  private chunks: (Buffer | null)[] = [];
  private chunkLive = new Int32Array(8);
  /** Chunk numbers free to use, each with its buffer when it has one. */
  private freeChunks: number[] = [];
  /** The chunk being written (-1: none yet), its buffer, where the next byte goes, where the open record began. */
  private cur = -1;
  private buf: Buffer = EMPTY;
  private writeAt = 0;

  /** Live records. */
  get size(): number {
    return this.live;
  }

  /** Slots the ring has now (live, dead and free): for tests. */
  get slots(): number {
    return this.cap;
  }

  /** Bytes of the chunks held (in use and spare): for tests. */
  get bytes(): number {
    let n = 0;
    for (const c of this.chunks) if (c !== null) n += c.length;
    return n;
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
    return (this.chunks[this.chunkOf[slot] as number] as Buffer).toString('utf8', start, start + (this.sizes[slot] as number));
  }

  timeAt(slot: number): number {
    return this.times[slot] as number;
  }

  auxAt(slot: number): A | undefined {
    return this.alive[slot] === 2 ? this.auxes.get(slot) : undefined;
  }

  /**
   * Adds a record as the newest: `text` starts with `key` (`hash` = {@link hashOfKey}, or -1 to
   * have it computed here, from the written bytes when the text is ASCII). A live
   * record of the same key is dropped first; then the oldest go until fewer than `limit` are
   * left (a record replacing one of its key evicts nothing).
   */
  add(key: string, hash: number, text: string, time: number, aux: A | undefined, limit = Number.POSITIVE_INFINITY): void {
    // The text is written first: its bytes give the hash of an ASCII key cheaper than its string.
    // UTF-8 takes at most 3 bytes per UTF-16 unit (and the first record finds no chunk).
    const need = text.length * 3 + 1;
    if (this.writeAt + need > this.buf.length) this.nextChunk(need);
    const start = this.writeAt;
    // Buffer#write without its argument checks (they were 3-4% of a dispatch loop's CPU).
    const size = (this.buf as unknown as Utf8Writer).utf8Write(text, start, need);
    this.writeAt = start + size;
    if (hash < 0) hash = size === text.length ? hashOfBytes(this.buf, start, start + key.length) : hashOfKey(key);
    const before = this.lookup(key, hash);
    if (before >= 0) this.dropAt(before);
    while (this.live >= limit) this.drop(this.oldest());
    this.skipDead();
    // Full: drop the dead slots (a record re-added again and again behind a live oldest one
    // leaves one each), and double only if most slots are live.
    if (this.used === this.cap) this.resize(this.live * 2 < this.cap ? this.cap : this.cap * 2);
    const slot = (this.head + this.used) & (this.cap - 1);
    this.used++;
    this.live++;
    this.alive[slot] = aux === undefined ? 1 : 2;
    if (aux !== undefined) this.auxes.set(slot, aux);
    this.chunkOf[slot] = this.cur;
    this.starts[slot] = start;
    this.sizes[slot] = size;
    (this.chunkLive[this.cur] as number)++;
    this.keyLens[slot] = key.length;
    this.hashes[slot] = hash;
    this.times[slot] = time;
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
    this.chunkOf = new Int32Array(this.cap);
    this.starts = new Int32Array(this.cap);
    this.sizes = new Int32Array(this.cap);
    this.keyLens = new Int32Array(this.cap);
    this.hashes = new Int32Array(this.cap);
    this.times = new Float64Array(this.cap);
    this.auxes = new Map();
    this.index = new Int32Array(this.cap * 2);
    this.chunks = [];
    this.chunkLive = new Int32Array(8);
    this.freeChunks = [];
    this.cur = -1;
    this.buf = EMPTY;
    this.writeAt = this.head = this.used = this.live = 0;
  }

  /**
   * Makes a chunk with room for `need` bytes the one written: a free one, a new one, or one of
   * its own when `need` is more than a chunk.
   */
  private nextChunk(need: number): void {
    const old = this.cur;
    let id: number;
    let buf: Buffer | null = null;
    if (this.freeChunks.length > 0) {
      id = this.freeChunks.pop() as number;
      buf = this.chunks[id] as Buffer | null;
      if (buf !== null && buf.length < need) buf = null;
    } else {
      id = this.chunks.length;
      this.chunks.push(null);
      if (id === this.chunkLive.length) {
        const grown = new Int32Array(id * 2);
        grown.set(this.chunkLive);
        this.chunkLive = grown;
      }
    }
    if (buf === null) buf = Buffer.allocUnsafeSlow(Math.max(CHUNK, need));
    this.chunks[id] = buf;
    this.cur = id;
    this.buf = buf;
    this.writeAt = 0;
    if (old >= 0 && this.chunkLive[old] === 0) this.freeChunk(old);
  }

  /** Chunk `id` holds no live text and is not written: free for reuse. */
  private freeChunk(id: number): void {
    const buf = this.chunks[id] as Buffer;
    if (buf.length !== CHUNK || this.freeChunks.length >= SPARE_CHUNKS) this.chunks[id] = null;
    this.freeChunks.push(id);
  }

  /** Index entry (position) of the live slot holding `key`, or -1. */
  private lookup(key: string, hash: number): number {
    const index = this.index;
    const mask = index.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const e = index[i] as number;
      if (e === 0) return -1;
      // Same 30-bit hash and key length: rare unless it is the key, so the text is read only then.
      if (this.hashes[e - 1] === hash && this.keyLens[e - 1] === key.length && this.keyIs(e - 1, key)) return i;
    }
  }

  /** Whether the text of `slot` starts with `key`. */
  private keyIs(slot: number, key: string): boolean {
    const b = this.chunks[this.chunkOf[slot] as number] as Buffer;
    const start = this.starts[slot] as number;
    if (key.length > (this.sizes[slot] as number)) return false;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      if (c >= 0x80) return this.textAt(slot).startsWith(key);
      if (b[start + i] !== c) return false;
    }
    return true;
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
    if (this.alive[slot] === 2) this.auxes.delete(slot);
    this.alive[slot] = 0;
    const chunk = this.chunkOf[slot] as number;
    if (--(this.chunkLive[chunk] as number) === 0 && chunk !== this.cur) this.freeChunk(chunk);
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

  /** Copies the live slots, in order, to the front of a ring of `next` slots (the index is rebuilt). */
  private resize(next: number): void {
    const alive = new Uint8Array(next);
    const chunkOf = new Int32Array(next);
    const starts = new Int32Array(next);
    const sizes = new Int32Array(next);
    const keyLens = new Int32Array(next);
    const hashes = new Int32Array(next);
    const times = new Float64Array(next);
    const auxes = new Map<number, A>();
    let k = 0;
    if (this.live === this.used) {
      // No dead slot (the ring doubles): the columns are copied as two runs, not slot by slot.
      const first = Math.min(this.used, this.cap - this.head);
      const rest = this.used - first;
      const runs = <T extends Uint8Array | Int32Array | Float64Array>(to: T, from: T): void => {
        to.set(from.subarray(this.head, this.head + first));
        if (rest > 0) to.set(from.subarray(0, rest), first);
      };
      runs(alive, this.alive);
      runs(chunkOf, this.chunkOf);
      runs(starts, this.starts);
      runs(sizes, this.sizes);
      runs(keyLens, this.keyLens);
      runs(hashes, this.hashes);
      runs(times, this.times);
      for (const [slot, aux] of this.auxes) auxes.set((slot - this.head) & (this.cap - 1), aux);
      k = this.used;
    } else {
      for (let n = 0; n < this.used; n++) {
        const slot = (this.head + n) & (this.cap - 1);
        const a = this.alive[slot] as number;
        if (a === 0) continue;
        alive[k] = a;
        chunkOf[k] = this.chunkOf[slot] as number;
        starts[k] = this.starts[slot] as number;
        sizes[k] = this.sizes[slot] as number;
        keyLens[k] = this.keyLens[slot] as number;
        hashes[k] = this.hashes[slot] as number;
        times[k] = this.times[slot] as number;
        if (a === 2) auxes.set(k, this.auxes.get(slot) as A);
        k++;
      }
    }
    this.used = k;
    this.alive = alive;
    this.chunkOf = chunkOf;
    this.starts = starts;
    this.sizes = sizes;
    this.keyLens = keyLens;
    this.hashes = hashes;
    this.times = times;
    this.auxes = auxes;
    this.cap = next;
    this.head = 0;
    this.index = new Int32Array(next * 2);
    for (let slot = 0; slot < k; slot++) this.place(slot);
  }
}
