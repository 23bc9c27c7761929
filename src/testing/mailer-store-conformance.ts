/**
 * The shared conformance suite of a whole {@link MailerStore}: it runs the suite of every part
 * (queue journal, suppression list, idempotency keys, soft-bounce counter, correlation data,
 * webhook replay ids) on parts of stores it creates, and checks that the parts live together
 * (one close, and with `reopen` one restart that keeps all of them).
 *
 * @module
 */

import { afterEach, describe, expect, it } from './vitest.js';
import { normalizeMessage } from '../message/index.js';
import type { Job, MailerStore, SuppressionEntry } from '../types.js';
import { testCorrelationStore } from './correlation-store-conformance.js';
import { testIdempotencyStore } from './idempotency-store-conformance.js';
import { testQueueStore } from './queue-store-conformance.js';
import { testReplayStore } from './replay-store-conformance.js';
import { testSoftBounceCounter } from './soft-bounce-conformance.js';
import { testSuppressionStore } from './suppression-store-conformance.js';

/** What {@link MailerStoreSuiteOptions.create} receives. */
export interface MailerStoreSuiteContext {
  /** The suite's clock, ms: give it to the store as its time source (retention is tested with it). */
  readonly now: () => number;
}

/** Options of {@link testMailerStore}. */
export interface MailerStoreSuiteOptions {
  /** Suite title. @default 'MailerStore conformance' */
  readonly name?: string;
  /** Creates an empty store whose clock is `context.now`. The suite closes it after each test. */
  readonly create: (context: MailerStoreSuiteContext) => MailerStore | Promise<MailerStore>;
  /**
   * Closes `previous` and opens a second store on the same backing storage, to check that every
   * part survives a restart. Omit for stores that do not persist (memory).
   */
  readonly reopen?: (previous: MailerStore, context: MailerStoreSuiteContext) => MailerStore | Promise<MailerStore>;
  /** The correlation retention the created stores have, ms; enables the correlation retention test. */
  readonly correlationRetentionMs?: number;
}

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

/**
 * Registers the MailerStore conformance tests with vitest: every part's own suite, then the
 * bundle itself.
 *
 * @example
 * ```ts
 * import { testMailerStore } from 'mailpush/testing/conformance';
 * testMailerStore({
 *   create: ({ now }) => myStore({ path: freshFile(), clock: { now } }),
 *   reopen: async (previous, { now }) => { await previous.close?.(); return myStore({ path: fileOf(previous), clock: { now } }); },
 * });
 * ```
 */
export function testMailerStore(options: MailerStoreSuiteOptions): void {
  const fixed: MailerStoreSuiteContext = { now: () => T0 };
  /** Stores opened by the running test, closed after it; a part maps back to its store. */
  const open = new Set<MailerStore>();
  const owner = new Map<object, MailerStore>();

  const track = (store: MailerStore): MailerStore => {
    open.add(store);
    for (const part of [store.queue, store.suppression, store.idempotency, store.softBounces, store.correlation, store.replay]) owner.set(part, store);
    return store;
  };
  const create = async (context: MailerStoreSuiteContext = fixed): Promise<MailerStore> => track(await options.create(context));
  const reopenOf = (part: object, context: MailerStoreSuiteContext = fixed): Promise<MailerStore> => {
    const previous = owner.get(part);
    if (previous === undefined || options.reopen === undefined) throw new Error('reopen of a part the suite did not create');
    return (async () => {
      open.delete(previous);
      return track(await options.reopen!(previous, context));
    })();
  };
  const reopen = options.reopen === undefined ? undefined : options.reopen;

  describe(options.name ?? 'MailerStore conformance', () => {
    afterEach(async () => {
      const stores = [...open];
      open.clear();
      owner.clear();
      for (const store of stores) await store.close?.();
    });

    it('has a name and every part', async () => {
      const store = await create();
      expect(typeof store.name).toBe('string');
      expect(store.name).not.toBe('');
      for (const part of ['queue', 'suppression', 'idempotency', 'correlation', 'replay'] as const) {
        expect(typeof store[part].name, part).toBe('string');
      }
      expect(typeof store.queue.add).toBe('function');
      expect(typeof store.softBounces.hit).toBe('function');
      expect(typeof store.softBounces.reset).toBe('function');
    });

    it('closes idempotently', async () => {
      const store = await create();
      open.delete(store);
      await store.close?.();
      await store.close?.();
    });

    if (reopen !== undefined) {
      it('keeps every part across one restart', async () => {
        const store = await create();
        const message = normalizeMessage({ from: 'app@example.com', to: 'ann@a.test', subject: 'kept', text: 'x' }, { now: T0 });
        const job: Job = {
          id: `${message.id}/0`,
          messageRef: message.id,
          domain: 'a.test',
          recipients: ['ann@a.test'],
          priority: 'normal',
          state: 'scheduled',
          attempt: 2,
          createdAt: T0,
          runAt: T0 + DAY,
        };
        const hard: SuppressionEntry = { address: 'bounced@example.com', reason: 'hard-bounce', source: 'dsn', createdAt: T0 };
        await Promise.all([
          store.queue.add({ message, jobs: [job] }),
          store.suppression.add(hard),
          store.idempotency.claim('order-1', message.id, T0 + DAY, T0),
          store.softBounces.hit('full@example.com', 'sb-1', T0, 7 * DAY),
          store.correlation.record({ jobId: job.id, id: message.id, messageId: message.messageId, recipients: ['ann@a.test'], sentAt: T0 }),
          store.replay.add('ses:topic:1', T0 + DAY),
        ]);
        open.delete(store);
        const again = track(await reopen(store, fixed));
        const [entry] = await collect(await again.queue.recover());
        expect(entry?.message).toEqual(message);
        expect(entry?.jobs).toEqual([job]);
        expect(await again.suppression.find('bounced@example.com', [], T0)).toEqual(hard);
        expect(await again.idempotency.claim('order-1', 'msg_other', T0 + DAY, T0 + 1)).toBe(message.id);
        expect(await again.softBounces.hit('full@example.com', 'sb-2', T0 + 1, 7 * DAY)).toBe(2);
        expect(await again.correlation.find(job.id)).toMatchObject({ id: message.id, sentAt: T0 });
        expect(await again.replay.has('ses:topic:1', T0)).toBe(true);
      });
    }

    testQueueStore({
      name: 'queue',
      create: async () => (await create()).queue,
      ...(reopen === undefined ? {} : { reopen: async (previous) => (await reopenOf(previous)).queue }),
    });
    testSuppressionStore({
      name: 'suppression',
      create: async () => (await create()).suppression,
      ...(reopen === undefined ? {} : { reopen: async (previous) => (await reopenOf(previous)).suppression }),
    });
    testIdempotencyStore({
      name: 'idempotency',
      create: async () => (await create()).idempotency,
      ...(reopen === undefined ? {} : { reopen: async (previous) => (await reopenOf(previous)).idempotency }),
    });
    testSoftBounceCounter({
      name: 'softBounces',
      create: async () => (await create()).softBounces,
      ...(reopen === undefined ? {} : { reopen: async (previous) => (await reopenOf(previous)).softBounces }),
    });
    testCorrelationStore({
      name: 'correlation',
      create: async (context) => (await create(context)).correlation,
      ...(reopen === undefined ? {} : { reopen: async (previous, context) => (await reopenOf(previous, context)).correlation }),
      ...(options.correlationRetentionMs === undefined ? {} : { retentionMs: options.correlationRetentionMs }),
    });
    testReplayStore({
      name: 'replay',
      create: async () => (await create()).replay,
      ...(reopen === undefined ? {} : { reopen: async (previous) => (await reopenOf(previous)).replay }),
    });
  });
}

async function collect<T>(source: Iterable<T> | AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}
