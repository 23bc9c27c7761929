/**
 * The in-memory correlation store: the jobs the mailer sent, so that a bounce or complaint
 * naming a job can be checked against what was really sent. Bounded in entries and in age;
 * nothing survives the process (a report about mail sent before a restart is then unverified:
 * use a durable store when that matters).
 *
 * @module
 */

import { configError } from '../errors.js';
import { TextRing, hashOfKey, nulCount } from '../queue/text-ring.js';
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

/** What a record's text cannot hold: the rare fields, or the whole record when its fields hold a NUL. */
interface Extra {
  readonly providerMessageId?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly campaign?: string;
  readonly record?: SentRecord;
}

/** Most expired entries dropped from the oldest end per call, so that one call stays cheap. */
const PRUNE_PER_CALL = 16;

/**
 * A record's text: job id, id, Message-ID, From ('' when none, else '+' and the address) and
 * the recipients, joined by NUL.
 */
function textOf(entry: SentRecord): string {
  const r = entry.recipients;
  const from = entry.from === undefined ? '' : `+${entry.from}`;
  const head = `${entry.jobId}\0${entry.id}\0${entry.messageId}\0${from}`;
  return r.length === 0 ? head : `${head}\0${r.length === 1 ? (r[0] as string) : r.join('\0')}`;
}

/** The record a text holds (see {@link textOf}), with the rare fields and the time. */
function recordOf(text: string, sentAt: number, extra: Extra | undefined): SentRecord {
  const fields = text.split('\0');
  const from = fields[3] as string;
  const out: { -readonly [K in keyof SentRecord]: SentRecord[K] } = {
    jobId: fields[0] as string,
    id: fields[1] as string,
    messageId: fields[2] as string,
    recipients: Object.freeze(fields.slice(4)),
    sentAt,
  };
  if (extra?.providerMessageId !== undefined) out.providerMessageId = extra.providerMessageId;
  if (extra?.tags !== undefined) out.tags = extra.tags;
  if (extra?.campaign !== undefined) out.campaign = extra.campaign;
  if (from !== '') out.from = from.slice(1);
  return Object.freeze(out);
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

  // The records as text in a byte ring (queue/text-ring.ts), oldest first: every sent job passes
  // here and up to `maxEntries` survive, so they are kept where the GC does not copy them (as
  // strings and objects, ~450 B each, they were the larger part of what a send loop's
  // young-generation GC copied).
  const ring = new TextRing<Extra>();

  const expired = (slot: number, at: number): boolean => ring.timeAt(slot) + retentionMs <= at;

  return {
    name: CORRELATION_STORE_NAME,
    get size() {
      return ring.size;
    },
    record(entry) {
      if (typeof entry !== 'object' || entry === null || typeof entry.jobId !== 'string' || entry.jobId === '') {
        throw configError('entry.jobId', 'a non-empty string', (entry as Partial<SentRecord> | null)?.jobId);
      }
      if (!Array.isArray(entry.recipients)) throw configError('entry.recipients', 'an array of addresses', entry.recipients);
      if (!Number.isFinite(entry.sentAt)) throw configError('entry.sentAt', 'a time in ms', entry.sentAt);
      if (typeof entry.id !== 'string') throw configError('entry.id', 'a string', entry.id);
      if (typeof entry.messageId !== 'string') throw configError('entry.messageId', 'a string', entry.messageId);
      if (entry.from !== undefined && typeof entry.from !== 'string') throw configError('entry.from', 'a string', entry.from);
      const r = entry.recipients;
      for (let i = 0; i < r.length; i++) if (typeof r[i] !== 'string') throw configError('entry.recipients', 'an array of addresses', r);
      const jobId = entry.jobId;
      const { providerMessageId, tags, campaign } = entry;
      let text = textOf(entry);
      let extra: Extra | undefined;
      // The text splits back into the fields only if none holds a NUL.
      if (nulCount(text) !== 3 + r.length) {
        text = jobId;
        extra = { record: Object.freeze({ ...entry, recipients: Object.isFrozen(r) ? r : Object.freeze(r.slice()), ...(tags === undefined || Object.isFrozen(tags) ? {} : { tags: Object.freeze({ ...tags }) }) }) };
      } else if (providerMessageId !== undefined || tags !== undefined || campaign !== undefined) {
        const x: { -readonly [K in keyof Extra]: Extra[K] } = {};
        if (providerMessageId !== undefined) x.providerMessageId = providerMessageId;
        if (tags !== undefined) x.tags = Object.isFrozen(tags) ? tags : Object.freeze({ ...tags });
        if (campaign !== undefined) x.campaign = campaign;
        extra = x;
      }
      // A second record of the job replaces the first and is the newest; the oldest go beyond `max`.
      // The ring hashes the job id (-1), from the text's bytes when it is ASCII.
      ring.add(jobId, -1, text, entry.sentAt, extra, max);
      const at = now();
      for (let pruned = 0; pruned < PRUNE_PER_CALL; pruned++) {
        const oldest = ring.oldest();
        if (oldest < 0 || !expired(oldest, at)) break;
        ring.drop(oldest);
      }
    },
    find(jobId) {
      if (typeof jobId !== 'string' || ring.size === 0) return undefined;
      const slot = ring.find(jobId, hashOfKey(jobId));
      if (slot < 0) return undefined;
      if (expired(slot, now())) {
        ring.drop(slot);
        return undefined;
      }
      const extra = ring.auxAt(slot);
      return extra?.record ?? recordOf(ring.textAt(slot), ring.timeAt(slot), extra);
    },
    close() {
      ring.clear();
    },
  };
}
