/**
 * Lookups by message id without a `Map` entry per message. A `Map` costs ~37-56 B per entry
 * (its hash table keeps key, value and chain for every entry, at most 2/3 full); an
 * {@link IdIndex} keeps one 4-byte slot number per entry in a table at most half full
 * (~8-16 B), and reads the id back from the slot's owner to compare. The memory queue store
 * and the mailer's message records (through {@link IdTable}) use it.
 *
 * @module
 * @internal
 */

/** Smallest table (a power of two). */
const MIN_TABLE = 64;

/**
 * Hash of an id: FNV-1a over every character, then mixed (murmur3's finalizer) so that the low
 * bits, which pick the table entry, depend on all of them.
 */
function hashId(id: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h;
}

/**
 * An open-addressing index (linear probing) from string ids to the slots of columns its owner
 * keeps. The owner appends slots in order, tells the index (`add`), and reads them back by id
 * (`find`); a slot whose id reads as undefined (freed) is skipped. Freed entries stay in the
 * table until the next rebuild: when it would be over half full (then only live slots go in)
 * or when the owner renumbers its slots (`rebuild` after compacting its columns).
 *
 * @example
 * ```ts
 * const ids: string[] = [];
 * const index = new IdIndex((slot) => ids[slot]);
 * ids.push('msg_1');
 * index.add(0, 'msg_1');
 * index.find('msg_1'); // 0
 * ```
 */
export class IdIndex {
  /** Slot + 1 per entry; 0 = free. */
  private table = new Int32Array(MIN_TABLE);
  /** Entries in the table, live or freed. */
  private entries = 0;

  /** @param idAt - The id held in a slot, or undefined once the slot is freed. */
  constructor(private readonly idAt: (slot: number) => string | undefined) {}

  /** The slot holding `id`, or -1 (also for anything that is not a string, as `Map.get` would answer). */
  find(id: string): number {
    if (typeof id !== 'string') return -1;
    const table = this.table;
    const mask = table.length - 1;
    for (let h = hashId(id) & mask; ; h = (h + 1) & mask) {
      const e = table[h] as number;
      if (e === 0) return -1;
      if (this.idAt(e - 1) === id) return e - 1;
    }
  }

  /**
   * Indexes `slot` under `id`. Slots are added in increasing order, after the owner stored the
   * slot (a rebuild reads every slot up to this one).
   */
  add(slot: number, id: string): void {
    if ((this.entries + 1) * 2 > this.table.length) this.rebuild(slot + 1);
    else this.put(slot, id);
  }

  /** Indexes every live slot below `slots` again, in a table sized for them (slots were renumbered, or the table is full). */
  rebuild(slots: number): void {
    let live = 0;
    for (let i = 0; i < slots; i++) if (this.idAt(i) !== undefined) live++;
    let size = MIN_TABLE;
    while (size < (live + 1) * 2) size *= 2;
    this.table = new Int32Array(size);
    this.entries = 0;
    for (let i = 0; i < slots; i++) {
      const id = this.idAt(i);
      if (id !== undefined) this.put(i, id);
    }
  }

  private put(slot: number, id: string): void {
    const table = this.table;
    const mask = table.length - 1;
    let h = hashId(id) & mask;
    while (table[h] !== 0) h = (h + 1) & mask;
    table[h] = slot + 1;
    this.entries++;
  }
}

/** Freed slots an {@link IdTable} may keep before it compacts (and never more than its live ones). */
const MAX_FREED_SLOTS = 1024;

/**
 * A map from id to values that carry their own id (`keyOf(value)`), in insertion order: the
 * `get`/`set`/`has`/`delete`/`values`/`size` of a `Map` at ~20 B per entry instead of ~37-56.
 * `set(id, value)` requires `keyOf(value) === id`.
 *
 * @example
 * ```ts
 * const records = new IdTable((rec: { message: { id: string } }) => rec.message.id);
 * records.set(rec.message.id, rec);
 * records.get(rec.message.id); // rec
 * ```
 */
export class IdTable<V> {
  /** Values by slot, in insertion order; undefined once deleted (until compaction). */
  private slots: (V | undefined)[] = [];
  private freed = 0;
  private live = 0;
  private readonly index: IdIndex;

  constructor(private readonly keyOf: (value: V) => string) {
    this.index = new IdIndex((slot) => {
      const v = this.slots[slot];
      return v === undefined ? undefined : keyOf(v);
    });
  }

  /** Values held. */
  get size(): number {
    return this.live;
  }

  get(id: string): V | undefined {
    const slot = this.index.find(id);
    return slot < 0 ? undefined : this.slots[slot];
  }

  has(id: string): boolean {
    return this.index.find(id) >= 0;
  }

  /** Adds or replaces (in place, as a `Map` does) the value of `id`. */
  set(id: string, value: V): this {
    if (this.keyOf(value) !== id) throw new TypeError(`IdTable: the value's own id is ${JSON.stringify(this.keyOf(value))}, not ${JSON.stringify(id)}`);
    const slot = this.index.find(id);
    if (slot >= 0) {
      this.slots[slot] = value;
      return this;
    }
    this.slots.push(value);
    this.live++;
    this.index.add(this.slots.length - 1, id);
    return this;
  }

  delete(id: string): boolean {
    const slot = this.index.find(id);
    if (slot < 0) return false;
    this.slots[slot] = undefined;
    this.live--;
    this.freed++;
    if (this.freed > MAX_FREED_SLOTS && this.freed * 2 > this.slots.length) {
      this.slots = this.slots.filter((v) => v !== undefined);
      this.freed = 0;
      this.index.rebuild(this.slots.length);
    }
    return true;
  }

  /** The values in insertion order: a copy, so the table may change while it is read. */
  values(): IterableIterator<V> {
    return (this.slots.filter((v) => v !== undefined) as V[]).values();
  }
}
