/**
 * The in-memory idempotency store: the default. Claims live until they expire; expired claims
 * are pruned as new ones arrive, so memory follows the number of keys within the window.
 *
 * @module
 */

import { MailErrorCode, configError } from '../errors.js';
import { BoundedMap } from '../queue/bounded-map.js';
import { knownKeys, rejectUnknownKeys } from '../validation/known-keys.js';
import type { IdempotencyStore } from '../types.js';

/** Name of the memory idempotency store. */
export const IDEMPOTENCY_STORE_NAME = 'memory';

/** Options of {@link memoryIdempotencyStore}. */
export interface MemoryIdempotencyStoreOptions {
  /**
   * Most unexpired claims held. Past it the oldest claim is forgotten early (a resend with its
   * key would then be sent again), so set it above the keys you expect within the window.
   * @default 1_000_000
   */
  readonly maxKeys?: number;
}

/** The memory store, with a `size` for tests. */
export interface MemoryIdempotencyStore extends IdempotencyStore {
  /** Number of claims held (expired ones not yet pruned included). */
  readonly size: number;
}

interface Claim {
  readonly id: string;
  readonly expiresAt: number;
}

const OPTION_KEYS = knownKeys(Object.keys({ maxKeys: true } satisfies Record<keyof MemoryIdempotencyStoreOptions, true>));

/** Below this many claims no pruning pass is made. */
const MIN_PRUNE_SIZE = 1024;

/**
 * Creates an in-memory {@link IdempotencyStore}.
 *
 * @example
 * ```ts
 * const keys = memoryIdempotencyStore();
 * keys.claim('order-42', 'msg_1', Date.now() + 86_400_000, Date.now()); // 'msg_1'
 * keys.claim('order-42', 'msg_2', Date.now() + 86_400_000, Date.now()); // 'msg_1' again
 * ```
 */
export default function memoryIdempotencyStore(options: MemoryIdempotencyStoreOptions = {}): MemoryIdempotencyStore {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  rejectUnknownKeys(options, OPTION_KEYS, 'memory idempotency store option', MailErrorCode.CONFIG);
  const maxKeys = options.maxKeys ?? 1_000_000;
  if (typeof maxKeys !== 'number' || !Number.isInteger(maxKeys) || maxKeys < 1) throw configError('maxKeys', 'an integer >= 1', maxKeys);
  // Insertion order is claim order, which is expiry order when the window is constant; past
  // maxKeys the oldest claim is forgotten.
  const claims = new BoundedMap<string, Claim>(maxKeys, 'fifo');
  // A full pruning pass runs when the map doubles since the last one: amortized O(1) per claim.
  let pruneAt = MIN_PRUNE_SIZE;

  const prune = (now: number): void => {
    for (const [key, claim] of claims) if (claim.expiresAt <= now) claims.delete(key);
    pruneAt = Math.max(MIN_PRUNE_SIZE, claims.size * 2);
  };

  return {
    name: IDEMPOTENCY_STORE_NAME,
    get size() {
      return claims.size;
    },
    claim(key, id, expiresAt, now) {
      const held = claims.peek(key);
      if (held !== undefined) {
        if (held.expiresAt > now) return held.id;
        claims.delete(key);
      }
      if (claims.size >= pruneAt) prune(now);
      claims.set(key, { id, expiresAt });
      return id;
    },
    release(key, id) {
      if (claims.peek(key)?.id === id) claims.delete(key);
    },
  };
}
