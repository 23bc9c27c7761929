/**
 * The in-memory replay store: webhook notification ids already processed, so that a replayed
 * or retried delivery is answered without being processed twice. Bounded in entries; nothing
 * survives the process (a replay after a restart is then processed again, which the feedback
 * processor tolerates: its writes are idempotent per event id).
 *
 * @module
 */

import { MailErrorCode, configError } from '../errors.js';
import { BoundedMap } from '../queue/bounded-map.js';
import { knownKeys, rejectUnknownKeys } from '../validation/known-keys.js';
import type { ReplayStore } from '../types.js';

/** Name of the memory replay store. */
export const REPLAY_STORE_NAME = 'memory';

/** Default {@link MemoryReplayStoreOptions.maxEntries}. */
export const DEFAULT_REPLAY_MAX_ENTRIES = 10_000;

/** Options of {@link memoryReplayStore}. */
export interface MemoryReplayStoreOptions {
  /** Most keys kept; the oldest added are forgotten first. @default 10_000 */
  readonly maxEntries?: number;
}

const OPTION_KEYS = knownKeys(Object.keys({ maxEntries: true } satisfies Record<keyof MemoryReplayStoreOptions, true>));

/** The memory store, with a `size` for tests. */
export interface MemoryReplayStore extends ReplayStore {
  /** Number of keys held (expired ones included until they are looked up or pushed out). */
  readonly size: number;
  has(key: string, now: number): boolean;
  add(key: string, expiresAt: number): void;
  close(): void;
}

/**
 * Creates an in-memory {@link ReplayStore}: at most `maxEntries` keys, each until its expiry.
 *
 * @example
 * ```ts
 * const handler = createFeedbackHandler({ processor, sendgrid: { publicKey }, replay: memoryReplayStore({ maxEntries: 50_000 }) });
 * ```
 */
export default function memoryReplayStore(options: MemoryReplayStoreOptions = {}): MemoryReplayStore {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  rejectUnknownKeys(options, OPTION_KEYS, 'memory replay store option', MailErrorCode.CONFIG);
  const max = options.maxEntries ?? DEFAULT_REPLAY_MAX_ENTRIES;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) throw configError('maxEntries', 'an integer >= 1', max);
  // In order of the last add (a lookup does not count): the oldest added is evicted first.
  const keys = new BoundedMap<string, number>(max, 'lru');
  return {
    name: REPLAY_STORE_NAME,
    get size() {
      return keys.size;
    },
    has(key, now) {
      const expiresAt = keys.peek(key);
      if (expiresAt === undefined) return false;
      if (expiresAt > now) return true;
      keys.delete(key);
      return false;
    },
    add(key, expiresAt) {
      if (typeof key !== 'string' || key === '') throw configError('key', 'a non-empty string', key);
      if (typeof expiresAt !== 'number' || Number.isNaN(expiresAt)) throw configError('expiresAt', 'a time in ms', expiresAt);
      keys.set(key, expiresAt);
    },
    close() {
      keys.clear();
    },
  };
}
