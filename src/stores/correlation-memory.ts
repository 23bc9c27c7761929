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
 * which pick the index entry, depend on all of them. 30 bits: a small integer, so that the hash
 * column holds no heap numbers.
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
  return h & 0x3fffffff;
}

/** Smallest power of two >= n. */
function powerOfTwoAtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
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
  // skipped slots), but its columns are arrays that start empty and grow as the ring's end
  // first passes through them (the engine's amortized growth, a native copy): no turn copies
  // the ring and indexes it again while records come in (that took 2-28 ms at 16,384-65,536
  // records, in the host's event loop). Only a ring filled with skipped slots (more than a
  // quarter of `maxEntries` of jobs recorded again or found expired behind a live oldest one)
  // is doubled, in one turn.
  let cap = powerOfTwoAtLeast(Math.max(16, max + Math.ceil(max / 4)));
  let jobIds: (string | undefined)[] = [];
  let ids: string[] = [];
  let messageIds: string[] = [];
  /** The only recipient, or a frozen list of them. */
  let tos: (string | readonly string[])[] = [];
  let froms: (string | undefined)[] = [];
  let extras: (Extra | undefined)[] = [];
  let sentAts: number[] = [];
  let hashes: number[] = [];
  let head = 0;
  /** Slots in use from `head` (live and skipped ones). */
  let used = 0;
  /** Live records. */
  let live = 0;
  /**
   * Open-addressing index by job id (linear probing): ring slot + 1, 0 = free. At most half
   * full; a removal shifts the entries after it back (no tombstones, so the index is rebuilt
   * only when it doubles: O(live) a handful of times in a store's life).
   */
  let index = new Int32Array(MIN_INDEX);
  /** The From of the last record: the same address in a new string each time is kept once. */
  let lastFrom: string | undefined;

  const expired = (slot: number, at: number): boolean => (sentAts[slot] as number) + retentionMs <= at;

  /** Index entry (position) of the live slot holding `jobId`, or -1. */
  const lookup = (jobId: string, hash: number): number => {
    const mask = index.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const e = index[i] as number;
      if (e === 0) return -1;
      if (hashes[e - 1] === hash && jobIds[e - 1] === jobId) return i;
    }
  };

  /** Indexes `slot` (its job id is not indexed yet): the first free entry on its path. */
  const place = (slot: number): void => {
    const mask = index.length - 1;
    let i = (hashes[slot] as number) & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = slot + 1;
  };

  /** Makes the index `size` entries long, with the live slots. */
  const reindex = (size: number): void => {
    index = new Int32Array(size);
    for (let k = 0; k < used; k++) {
      const slot = (head + k) & (cap - 1);
      if (jobIds[slot] !== undefined) place(slot);
    }
  };

  /** Doubles the ring, keeping the order (its skipped slots fill it: see above). */
  const grow = (): void => {
    const next = cap * 2;
    const j = new Array<string | undefined>(next);
    const i = new Array<string>(next);
    const m = new Array<string>(next);
    const t = new Array<string | readonly string[]>(next);
    const f = new Array<string | undefined>(next);
    const x = new Array<Extra | undefined>(next);
    const s = new Array<number>(next).fill(0);
    const h = new Array<number>(next).fill(0);
    for (let k = 0; k < used; k++) {
      const slot = (head + k) & (cap - 1);
      j[k] = jobIds[slot];
      i[k] = ids[slot] as string;
      m[k] = messageIds[slot] as string;
      t[k] = tos[slot] as string;
      f[k] = froms[slot];
      x[k] = extras[slot];
      s[k] = sentAts[slot] as number;
      h[k] = hashes[slot] as number;
    }
    jobIds = j;
    ids = i;
    messageIds = m;
    tos = t;
    froms = f;
    extras = x;
    sentAts = s;
    hashes = h;
    cap = next;
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
      const home = (hashes[e - 1] as number) & mask;
      if (hole <= i ? home > hole && home <= i : home > hole || home <= i) continue;
      index[hole] = e;
      hole = i;
    }
    index[hole] = 0;
    live--;
    jobIds[slot] = undefined;
    // Let the strings go now: the slot may wait a long time before it is reused.
    ids[slot] = messageIds[slot] = tos[slot] = '';
    froms[slot] = extras[slot] = undefined;
  };

  /** Drops skipped slots at the oldest end. */
  const skipDead = (): void => {
    while (used > 0 && jobIds[head] === undefined) {
      head = (head + 1) & (cap - 1);
      used--;
    }
  };

  /** Forgets the oldest live record (there is one). */
  const dropOldest = (): void => {
    skipDead();
    drop(lookup(jobIds[head] as string, hashes[head] as number));
    skipDead();
  };

  /** The record in slot `slot`, as given (absent fields stay absent), frozen. */
  const recordAt = (slot: number): SentRecord => {
    const to = tos[slot] as string | readonly string[];
    const out: { -readonly [K in keyof SentRecord]: SentRecord[K] } = {
      jobId: jobIds[slot] as string,
      id: ids[slot] as string,
      messageId: messageIds[slot] as string,
      recipients: typeof to === 'string' ? Object.freeze([to]) : to,
      sentAt: sentAts[slot] as number,
    };
    const x = extras[slot];
    if (x?.providerMessageId !== undefined) out.providerMessageId = x.providerMessageId;
    if (x?.tags !== undefined) out.tags = x.tags;
    if (x?.campaign !== undefined) out.campaign = x.campaign;
    const from = froms[slot];
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
      // Kept compact (every sent job passes here and up to `maxEntries` survive): one recipient
      // as a string, the rare fields in one object. It is the store's own: arrays and tags are
      // copied unless frozen (the mailer's tags are).
      const r = entry.recipients;
      jobIds[slot] = jobId;
      ids[slot] = entry.id;
      messageIds[slot] = entry.messageId;
      tos[slot] = r.length === 1 && typeof r[0] === 'string' ? r[0] : Object.isFrozen(r) ? r : Object.freeze(r.slice());
      // Most records of a mailer have the same From, each in its own string: keep one.
      const from = entry.from;
      if (from !== lastFrom) lastFrom = from;
      froms[slot] = lastFrom;
      const { providerMessageId, tags, campaign } = entry;
      extras[slot] =
        providerMessageId === undefined && tags === undefined && campaign === undefined
          ? undefined
          : { providerMessageId, tags: tags === undefined || Object.isFrozen(tags) ? tags : Object.freeze({ ...tags }), campaign };
      sentAts[slot] = entry.sentAt;
      hashes[slot] = hash;
      place(slot);
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
      cap = powerOfTwoAtLeast(Math.max(16, max + Math.ceil(max / 4)));
      jobIds = [];
      ids = [];
      messageIds = [];
      tos = [];
      froms = [];
      extras = [];
      sentAts = [];
      hashes = [];
      index = new Int32Array(MIN_INDEX);
      lastFrom = undefined;
      head = used = live = 0;
    },
  };
}
