/**
 * The memory {@link MailerStore}: every part of a mailer's state in process memory. The default
 * of `createMailer()`, right for tests and scripts; nothing survives the process (use
 * `sqliteStore({ path })` from `mailpush/stores/sqlite` when it must).
 *
 * @module
 */

import { configError } from '../errors.js';
import type { CampaignStore, Clock, MailerStore, SuppressionEntry } from '../types.js';
import memoryCorrelationStore from './correlation-memory.js';
import type { MemoryCorrelationStoreOptions } from './correlation-memory.js';
import memoryIdempotencyStore from './idempotency-memory.js';
import type { MemoryIdempotencyStoreOptions } from './idempotency-memory.js';
import memoryQueueStore from './memory.js';
import type { MemoryQueueStore } from './memory.js';
import memoryReplayStore from './replay-memory.js';
import type { MemoryReplayStoreOptions } from './replay-memory.js';
import { memorySoftBounceCounter } from './soft-bounce-memory.js';
import type { MemorySoftBounceCounterOptions } from './soft-bounce-memory.js';
import memorySuppressionStore from './suppression-memory.js';
import { memorySubscriptionStore } from './subscriptions-memory.js';
import { memoryCampaignStore } from './campaigns-memory.js';

/** Name of the memory mailer store. */
export const MEMORY_STORE_NAME = 'memory';

/** Options of {@link memoryStore}: the options of each part. */
export interface MemoryStoreOptions {
  /** Entries the suppression list starts with. @default none */
  readonly suppressions?: readonly SuppressionEntry[];
  /** Options of the idempotency keys. */
  readonly idempotency?: MemoryIdempotencyStoreOptions;
  /** Options of the soft-bounce counter. */
  readonly softBounces?: MemorySoftBounceCounterOptions;
  /** Options of the correlation store (sent jobs); its `now` defaults to `clock.now`. */
  readonly correlation?: MemoryCorrelationStoreOptions;
  /** Options of the webhook replay ids. */
  readonly replay?: MemoryReplayStoreOptions;
  /** Time source of the parts that expire data by themselves (correlation retention). @default the system clock */
  readonly clock?: Pick<Clock, 'now'>;
}

/** The memory {@link MailerStore}; its queue lets tests look inside. */
export interface MemoryMailerStore extends MailerStore {
  readonly queue: MemoryQueueStore;
  readonly campaigns: CampaignStore;
  close(): Promise<void>;
}

/**
 * Creates the memory {@link MailerStore}: queue journal, suppression list, idempotency keys,
 * soft-bounce counters, correlation data and webhook replay ids, all in process memory.
 *
 * @example
 * ```ts
 * import { createMailer, memoryStore } from 'mailpush';
 * const mailer = createMailer({ transport, store: memoryStore() });
 * ```
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryMailerStore {
  if (typeof options !== 'object' || options === null) throw configError('store', 'an options object', options);
  if (options.suppressions !== undefined && !Array.isArray(options.suppressions)) {
    throw configError('suppressions', 'an array of suppression entries', options.suppressions);
  }
  const queue = memoryQueueStore();
  const suppression = memorySuppressionStore(options.suppressions ?? []);
  const idempotency = memoryIdempotencyStore(options.idempotency);
  const softBounces = memorySoftBounceCounter(options.softBounces);
  const clock = options.clock;
  if (clock !== undefined && (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function')) throw configError('clock', 'an object with now()', clock);
  const correlation = memoryCorrelationStore(clock === undefined ? options.correlation : { now: () => clock.now(), ...options.correlation });
  const replay = memoryReplayStore(options.replay);
  const campaigns = memoryCampaignStore();
  const subscriptions = memorySubscriptionStore();
  return {
    name: MEMORY_STORE_NAME,
    queue,
    suppression,
    idempotency,
    softBounces,
    correlation,
    replay,
    campaigns,
    subscriptions,
    async close() {
      // Memory parts hold no resources; their own close (if any) is called for symmetry.
      await Promise.all([queue.close?.(), suppression.close?.(), idempotency.close?.(), correlation.close?.(), replay.close?.()]);
    },
  };
}

export default memoryStore;
