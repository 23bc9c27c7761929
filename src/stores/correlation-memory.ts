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

/** What the store keeps of a sent job: one shape for every record; {@link SentRecord}s are built by `find`. */
class Held {
  readonly jobId: string;
  readonly id: string;
  readonly messageId: string;
  /** The only recipient, or a frozen list of them. */
  readonly to: string | readonly string[];
  readonly sentAt: number;
  readonly from: string | undefined;
  readonly extra: Extra | undefined;
  /** False once recorded again, found expired or evicted: its slot in the order is skipped. */
  live = true;

  constructor(e: SentRecord) {
    this.jobId = e.jobId;
    this.id = e.id;
    this.messageId = e.messageId;
    const r = e.recipients;
    this.to = r.length === 1 && typeof r[0] === 'string' ? r[0] : Object.isFrozen(r) ? r : Object.freeze(r.slice());
    this.sentAt = e.sentAt;
    this.from = e.from;
    const { providerMessageId, tags, campaign } = e;
    this.extra =
      providerMessageId === undefined && tags === undefined && campaign === undefined
        ? undefined
        : { providerMessageId, tags: tags === undefined || Object.isFrozen(tags) ? tags : Object.freeze({ ...tags }), campaign };
  }

  /** The record as given (absent fields stay absent), frozen. */
  toRecord(): SentRecord {
    const to = this.to;
    const out: { -readonly [K in keyof SentRecord]: SentRecord[K] } = {
      jobId: this.jobId,
      id: this.id,
      messageId: this.messageId,
      recipients: typeof to === 'string' ? Object.freeze([to]) : to,
      sentAt: this.sentAt,
    };
    const x = this.extra;
    if (x?.providerMessageId !== undefined) out.providerMessageId = x.providerMessageId;
    if (x?.tags !== undefined) out.tags = x.tags;
    if (x?.campaign !== undefined) out.campaign = x.campaign;
    if (this.from !== undefined) out.from = this.from;
    return Object.freeze(out);
  }
}

/** Most expired entries dropped from the oldest end per call, so that one call stays cheap. */
const PRUNE_PER_CALL = 16;

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
  if (typeof now !== 'function') throw configError('now', 'a function', now);

  const records = new Map<string, Held>();
  // Records in the order recorded, oldest at `head`: evicted and pruned from there. An entry
  // whose job was recorded again (or found expired) is marked dead and skipped. Not the Map's
  // own order: taking the first key of a Map used as a FIFO walks over every slot deleted at
  // its front, which cost ~2 µs per sent job at 100,000 entries.
  let order: Held[] = [];
  let head = 0;
  const expired = (r: Held, at: number): boolean => r.sentAt + retentionMs <= at;
  /** The oldest live record (dead entries at the front are dropped), or undefined. */
  const oldest = (): Held | undefined => {
    while (head < order.length) {
      const r = order[head] as Held;
      if (r.live) return r;
      order[head++] = undefined as unknown as Held;
    }
    return undefined;
  };
  const drop = (r: Held): void => {
    r.live = false;
    records.delete(r.jobId);
  };
  const dropOldest = (r: Held): void => {
    drop(r);
    order[head++] = undefined as unknown as Held;
    if (head >= 1024 && head * 2 >= order.length) {
      order = order.slice(head);
      head = 0;
    }
  };

  return {
    name: CORRELATION_STORE_NAME,
    get size() {
      return records.size;
    },
    record(entry) {
      if (typeof entry !== 'object' || entry === null || typeof entry.jobId !== 'string' || entry.jobId === '') {
        throw configError('entry.jobId', 'a non-empty string', (entry as Partial<SentRecord> | null)?.jobId);
      }
      if (!Array.isArray(entry.recipients)) throw configError('entry.recipients', 'an array of addresses', entry.recipients);
      if (!Number.isFinite(entry.sentAt)) throw configError('entry.sentAt', 'a time in ms', entry.sentAt);
      // Kept compact (every sent job passes here and up to `maxEntries` survive): no frozen
      // copy per record, one recipient as a string, the rare fields in one object. It is the
      // store's own: arrays and tags are copied unless frozen (the mailer's tags are).
      const held = new Held(entry);
      // Appended last: a second record of the job replaces the first and is the newest.
      const before = records.get(entry.jobId);
      if (before !== undefined) before.live = false;
      records.set(entry.jobId, held);
      order.push(held);
      while (records.size > max) dropOldest(oldest() as Held);
      const at = now();
      for (let pruned = 0; pruned < PRUNE_PER_CALL; pruned++) {
        const r = oldest();
        if (r === undefined || !expired(r, at)) break;
        dropOldest(r);
      }
      // Entries made stale by re-records and finds: compact when they are most of the queue.
      if (order.length - head > 2 * records.size + 1024) {
        order = order.slice(head).filter((r) => r.live);
        head = 0;
      }
    },
    find(jobId) {
      const r = records.get(jobId);
      if (r === undefined) return undefined;
      if (expired(r, now())) {
        drop(r);
        return undefined;
      }
      return r.toRecord();
    },
    close() {
      for (const r of records.values()) r.live = false;
      records.clear();
      order = [];
      head = 0;
    },
  };
}
