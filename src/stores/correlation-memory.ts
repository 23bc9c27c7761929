/**
 * The in-memory correlation store: the jobs the mailer sent, so that a bounce or complaint
 * naming a job can be checked against what was really sent. Bounded in entries and in age;
 * nothing survives the process (a report about mail sent before a restart is then unverified:
 * use a durable store when that matters).
 *
 * @module
 */

import { configError } from '../errors.js';
import type { CorrelationStore, SentRecord } from '../types.js';

/** Name of the memory correlation store. */
export const CORRELATION_STORE_NAME = 'memory';

/** Default {@link MemoryCorrelationStoreOptions.maxEntries}. */
export const DEFAULT_CORRELATION_MAX_ENTRIES = 100_000;
/** Default {@link MemoryCorrelationStoreOptions.retentionMs}: 30 days, longer than any mail system keeps retrying. */
export const DEFAULT_CORRELATION_RETENTION_MS = 30 * 86_400_000;

/** Options of {@link memoryCorrelationStore}. */
export interface MemoryCorrelationStoreOptions {
  /** Most jobs kept; the oldest recorded are forgotten first. @default 100_000 */
  readonly maxEntries?: number;
  /**
   * How long a job is kept after it was sent (`sentAt`), ms. Bounces come within days
   * (mail systems give up after 5 days at most), complaints within weeks. @default 2_592_000_000 (30 days)
   */
  readonly retentionMs?: number;
  /** Current time, ms. @default Date.now */
  readonly now?: () => number;
}

/** The memory store, with a `size` for tests. */
export interface MemoryCorrelationStore extends CorrelationStore {
  /** Number of jobs held (expired ones included until they are looked up or pushed out). */
  readonly size: number;
  record(entry: SentRecord): void;
  find(jobId: string): SentRecord | undefined;
  close(): void;
}

/** The rare fields of a record, in one object when any is set. */
interface Extra {
  readonly providerMessageId: string | undefined;
  readonly tags: Readonly<Record<string, string>> | undefined;
  readonly campaign: string | undefined;
}

/** Most expired entries dropped from the oldest end per call, so that one call stays cheap. */
const PRUNE_PER_CALL = 16;

/** Smallest index (a power of two). */
const MIN_INDEX = 32;

/**
 * Hash of a job id for the index: FNV-1a over every character (two UTF-16 units per step, half
 * the multiplications of one per step), then mixed (murmur3's finalizer) so that the low bits,
 * which pick the index entry, depend on all of them.
 */
function hashOf(jobId: string): number {
  let h = 0x811c9dc5 | 0;
  const n = jobId.length;
  let i = 0;
  for (; i + 1 < n; i += 2) h = Math.imul(h ^ (jobId.charCodeAt(i) | (jobId.charCodeAt(i + 1) << 16)), 0x01000193);
  if (i < n) h = Math.imul(h ^ jobId.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h;
}

/** Slots per chunk of the ring's columns (a power of two; a chunk is ~37 KB). */
const CHUNK_BITS = 10;
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;

/** CHUNK slots of each column. */
interface Chunk {
  readonly jobIds: (string | undefined)[];
  readonly ids: string[];
  readonly messageIds: string[];
  /** The only recipient, or a frozen list of them. */
  readonly tos: (string | readonly string[])[];
  readonly froms: (string | undefined)[];
  readonly extras: (Extra | undefined)[];
  readonly sentAts: Float64Array;
  readonly hashes: Int32Array;
}

function newChunk(): Chunk {
  return {
    jobIds: new Array<string | undefined>(CHUNK).fill(undefined),
    ids: new Array<string>(CHUNK).fill(''),
    messageIds: new Array<string>(CHUNK).fill(''),
    tos: new Array<string | readonly string[]>(CHUNK).fill(''),
    froms: new Array<string | undefined>(CHUNK).fill(undefined),
    extras: new Array<Extra | undefined>(CHUNK).fill(undefined),
    sentAts: new Float64Array(CHUNK),
    hashes: new Int32Array(CHUNK),
  };
}

/** Slots of the ring for `max` records: a power of two >= `max` + a quarter, at least one chunk. */
function ringSize(max: number): number {
  let p = CHUNK;
  while (p < max + Math.ceil(max / 4)) p *= 2;
  return p;
}

/**
 * Creates an in-memory {@link CorrelationStore}: a map from job id to its {@link SentRecord},
 * at most `maxEntries` of them, each for `retentionMs` after it was sent.
 *
 * @example
 * ```ts
 * const correlation = memoryCorrelationStore({ maxEntries: 50_000 });
 * const processor = createFeedbackProcessor({ suppression, verp, correlation });
 * ```
 */
export default function memoryCorrelationStore(options: MemoryCorrelationStoreOptions = {}): MemoryCorrelationStore {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const max = options.maxEntries ?? DEFAULT_CORRELATION_MAX_ENTRIES;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) throw configError('maxEntries', 'an integer >= 1', max);
  const retentionMs = options.retentionMs ?? DEFAULT_CORRELATION_RETENTION_MS;
  if (typeof retentionMs !== 'number' || !(retentionMs > 0)) throw configError('retentionMs', 'a positive number of ms', retentionMs);
  const now = options.now ?? Date.now;

  // The records, one ring slot each in the order recorded (`head` is the oldest), in columns:
  // a record costs its column entries and ~8 B of index, no object of its own (a record object,
  // its boxed `sentAt` and a Map entry by job id cost ~3x the CPU per record at 100,000 records,
  // most of it in the garbage collector and the Map's table). A slot whose job was recorded
  // again, found expired or evicted has no job id: it is skipped.
  //
  // The ring's size is fixed from the start (room for `maxEntries` and a quarter more for
  // skipped slots), and its columns come in chunks of CHUNK slots made as the ring's end first
  // reaches them: no turn copies the columns while records come in (doubling a ring of 65,536
  // and indexing it again took 4-10 ms of CPU in one turn of the host's event loop; growing
  // whole-ring arrays in place, 5-17 ms). Only a ring filled with skipped slots (more than a
  // quarter of `maxEntries` of jobs recorded again or found expired behind a live oldest one)
  // is doubled, in one turn.
  let cap = ringSize(max);
  let chunks: Chunk[] = [];
  let head = 0;
  /** Slots in use from `head` (live and skipped ones). */
  let used = 0;
  /** Live records. */
  let live = 0;
  /**
   * Open-addressing index by job id (linear probing): ring slot + 1, 0 = free. At most half
   * full; a removal shifts the entries after it back (no tombstones, so the index is rebuilt
   * only when it doubles: O(live) a handful of times in a store's life, 1-4 ms at 65,536).
   */
  let index = new Int32Array(MIN_INDEX);
  /** The From of the last record: the same address in a new string each time is kept once. */
  let lastFrom: string | undefined;

  const chunkOf = (slot: number): Chunk => chunks[slot >> CHUNK_BITS] as Chunk;
  const jobIdAt = (slot: number): string | undefined => chunkOf(slot).jobIds[slot & CHUNK_MASK];
  const hashAt = (slot: number): number => chunkOf(slot).hashes[slot & CHUNK_MASK] as number;
  const expired = (slot: number, at: number): boolean => (chunkOf(slot).sentAts[slot & CHUNK_MASK] as number) + retentionMs <= at;

  /** Index entry (position) of the live slot holding `jobId`, or -1. */
  const lookup = (jobId: string, hash: number): number => {
    const mask = index.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const e = index[i] as number;
      if (e === 0) return -1;
      const c = chunks[(e - 1) >> CHUNK_BITS] as Chunk;
      const k = (e - 1) & CHUNK_MASK;
      if (c.hashes[k] === hash && c.jobIds[k] === jobId) return i;
    }
  };

  /** Indexes `slot` (its job id is not indexed yet): the first free entry on its path. */
  const place = (slot: number, hash: number): void => {
    const mask = index.length - 1;
    let i = hash & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = slot + 1;
  };

  /** Makes the index `size` entries long, with the live slots. */
  const reindex = (size: number): void => {
    index = new Int32Array(size);
    for (let k = 0; k < used; k++) {
      const slot = (head + k) & (cap - 1);
      if (jobIdAt(slot) !== undefined) place(slot, hashAt(slot));
    }
  };

  /** Doubles the ring, keeping the order (its skipped slots fill it: see above). */
  const grow = (): void => {
    const next: Chunk[] = [];
    for (let k = 0; k < (cap * 2) >> CHUNK_BITS; k++) next.push(newChunk());
    for (let k = 0; k < used; k++) {
      const from = chunkOf((head + k) & (cap - 1));
      const f = (head + k) & CHUNK_MASK;
      const to = next[k >> CHUNK_BITS] as Chunk;
      const t = k & CHUNK_MASK;
      to.jobIds[t] = from.jobIds[f];
      to.ids[t] = from.ids[f] as string;
      to.messageIds[t] = from.messageIds[f] as string;
      to.tos[t] = from.tos[f] as string;
      to.froms[t] = from.froms[f];
      to.extras[t] = from.extras[f];
      to.sentAts[t] = from.sentAts[f] as number;
      to.hashes[t] = from.hashes[f] as number;
    }
    chunks = next;
    cap *= 2;
    head = 0;
    reindex(index.length);
  };

  /** Forgets the live record at index entry `at` (its slot stays, skipped, until it is the oldest). */
  const drop = (at: number): void => {
    const slot = (index[at] as number) - 1;
    // Backward-shift deletion: the entries after `at` in its run move back over the hole
    // unless their own start position lies after the hole (cyclically).
    const mask = index.length - 1;
    let hole = at;
    for (let i = (at + 1) & mask; ; i = (i + 1) & mask) {
      const e = index[i] as number;
      if (e === 0) break;
      const home = hashAt(e - 1) & mask;
      if (hole <= i ? home > hole && home <= i : home > hole || home <= i) continue;
      index[hole] = e;
      hole = i;
    }
    index[hole] = 0;
    live--;
    const c = chunkOf(slot);
    const k = slot & CHUNK_MASK;
    c.jobIds[k] = undefined;
    // Let the strings go now: the slot may wait a long time before it is reused.
    c.ids[k] = c.messageIds[k] = c.tos[k] = '';
    c.froms[k] = c.extras[k] = undefined;
  };

  /** Drops skipped slots at the oldest end. */
  const skipDead = (): void => {
    while (used > 0 && jobIdAt(head) === undefined) {
      head = (head + 1) & (cap - 1);
      used--;
    }
  };

  /** Forgets the oldest live record (there is one). */
  const dropOldest = (): void => {
    skipDead();
    drop(lookup(jobIdAt(head) as string, hashAt(head)));
    skipDead();
  };

  /** The record in slot `slot`, as given (absent fields stay absent), frozen. */
  const recordAt = (slot: number): SentRecord => {
    const c = chunkOf(slot);
    const k = slot & CHUNK_MASK;
    const to = c.tos[k] as string | readonly string[];
    const out: { -readonly [K in keyof SentRecord]: SentRecord[K] } = {
      jobId: c.jobIds[k] as string,
      id: c.ids[k] as string,
      messageId: c.messageIds[k] as string,
      recipients: typeof to === 'string' ? Object.freeze([to]) : to,
      sentAt: c.sentAts[k] as number,
    };
    const x = c.extras[k];
    if (x?.providerMessageId !== undefined) out.providerMessageId = x.providerMessageId;
    if (x?.tags !== undefined) out.tags = x.tags;
    if (x?.campaign !== undefined) out.campaign = x.campaign;
    const from = c.froms[k];
    if (from !== undefined) out.from = from;
    return Object.freeze(out);
  };

  return {
    name: CORRELATION_STORE_NAME,
    get size() {
      return live;
    },
    record(entry) {
      if (typeof entry !== 'object' || entry === null || typeof entry.jobId !== 'string' || entry.jobId === '') {
        throw configError('entry.jobId', 'a non-empty string', (entry as Partial<SentRecord> | null)?.jobId);
      }
      if (!Array.isArray(entry.recipients)) throw configError('entry.recipients', 'an array of addresses', entry.recipients);
      if (!Number.isFinite(entry.sentAt)) throw configError('entry.sentAt', 'a time in ms', entry.sentAt);
      const jobId = entry.jobId;
      const hash = hashOf(jobId);
      // A second record of the job replaces the first and is the newest.
      const before = lookup(jobId, hash);
      if (before >= 0) drop(before);
      while (live >= max) dropOldest();
      skipDead();
      if (used === cap) grow();
      if ((live + 1) * 2 > index.length) reindex(index.length * 2);
      const slot = (head + used) & (cap - 1);
      used++;
      live++;
      if (chunks.length <= slot >> CHUNK_BITS) chunks.push(newChunk());
      const c = chunkOf(slot);
      const k = slot & CHUNK_MASK;
      // Kept compact (every sent job passes here and up to `maxEntries` survive): one recipient
      // as a string, the rare fields in one object. It is the store's own: arrays and tags are
      // copied unless frozen (the mailer's tags are).
      const r = entry.recipients;
      c.jobIds[k] = jobId;
      c.ids[k] = entry.id;
      c.messageIds[k] = entry.messageId;
      c.tos[k] = r.length === 1 && typeof r[0] === 'string' ? r[0] : Object.isFrozen(r) ? r : Object.freeze(r.slice());
      // Most records of a mailer have the same From, each in its own string: keep one.
      const from = entry.from;
      if (from !== lastFrom) lastFrom = from;
      c.froms[k] = lastFrom;
      const { providerMessageId, tags, campaign } = entry;
      c.extras[k] =
        providerMessageId === undefined && tags === undefined && campaign === undefined
          ? undefined
          : { providerMessageId, tags: tags === undefined || Object.isFrozen(tags) ? tags : Object.freeze({ ...tags }), campaign };
      c.sentAts[k] = entry.sentAt;
      c.hashes[k] = hash;
      place(slot, hash);
      const at = now();
      for (let pruned = 0; pruned < PRUNE_PER_CALL && live > 0; pruned++) {
        skipDead();
        if (!expired(head, at)) break;
        dropOldest();
      }
    },
    find(jobId) {
      if (typeof jobId !== 'string' || live === 0) return undefined;
      const at = lookup(jobId, hashOf(jobId));
      if (at < 0) return undefined;
      const slot = (index[at] as number) - 1;
      if (expired(slot, now())) {
        drop(at);
        skipDead();
        return undefined;
      }
      return recordAt(slot);
    },
    close() {
      cap = ringSize(max);
      chunks = [];
      index = new Int32Array(MIN_INDEX);
      lastFrom = undefined;
      head = used = live = 0;
    },
  };
}
