/**
 * The in-memory soft-bounce counter: the default counter of the suppression policy. Bounded in
 * addresses and in hits per address; nothing survives the process.
 *
 * @module
 */

import { MailErrorCode, configError } from '../errors.js';
import { BoundedMap } from '../queue/bounded-map.js';
import { knownKeys, rejectUnknownKeys } from '../validation/known-keys.js';
import type { SoftBounceCounter } from '../types.js';

/** Options of {@link memorySoftBounceCounter}. */
export interface MemorySoftBounceCounterOptions {
  /** Most addresses tracked; the least recently bounced are forgotten first. @default 100_000 */
  readonly maxAddresses?: number;
}

const OPTION_KEYS = knownKeys(Object.keys({ maxAddresses: true } satisfies Record<keyof MemorySoftBounceCounterOptions, true>));

/** The memory counter, with a `size` for tests. */
export interface MemorySoftBounceCounter extends SoftBounceCounter {
  /** Number of addresses tracked. */
  readonly size: number;
}

/** Most soft bounces remembered per address (more than any sensible threshold). */
export const MAX_SOFT_BOUNCES_PER_ADDRESS = 32;

/**
 * Creates an in-memory {@link SoftBounceCounter}, bounded in addresses and in hits per address.
 *
 * @example
 * ```ts
 * const counter = memorySoftBounceCounter({ maxAddresses: 10_000 });
 * await counter.hit('ann@example.com', 'event-1', Date.now(), 7 * 86_400_000); // 1
 * ```
 */
export function memorySoftBounceCounter(options: MemorySoftBounceCounterOptions = {}): MemorySoftBounceCounter {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  rejectUnknownKeys(options, OPTION_KEYS, 'memory soft-bounce counter option', MailErrorCode.CONFIG);
  const max = options.maxAddresses ?? 100_000;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) throw configError('maxAddresses', 'an integer >= 1', max);
  // In order of the last bounce: the least recently bounced address is forgotten first.
  const hits = new BoundedMap<string, { id: string; at: number }[]>(max, 'lru');
  return {
    get size() {
      return hits.size;
    },
    hit(address, id, at, windowMs) {
      const key = address.toLowerCase();
      const list = (hits.peek(key) ?? []).filter((h) => h.at > at - windowMs);
      if (!list.some((h) => h.id === id)) list.push({ id, at });
      if (list.length > MAX_SOFT_BOUNCES_PER_ADDRESS) list.splice(0, list.length - MAX_SOFT_BOUNCES_PER_ADDRESS);
      hits.set(key, list);
      return list.filter((h) => h.at <= at && h.at > at - windowMs).length;
    },
    reset(address) {
      hits.delete(address.toLowerCase());
    },
  };
}

export default memorySoftBounceCounter;
