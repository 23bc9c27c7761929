/**
 * The shared conformance suite every transport passes (`mailpush/testing/conformance`).
 * Third-party transports run it too: one call in a vitest file checks the whole
 * {@link Transport} contract.
 *
 * @example
 * ```ts
 * import { testTransport } from 'mailpush/testing/conformance';
 * testTransport({ name: 'my transport', create: () => myTransport(options) });
 * ```
 *
 * @module
 */

import { afterEach, beforeEach, describe, expect, it } from './vitest.js';
import { isMailError, MailErrorCode } from '../errors.js';
import type { MailError } from '../errors.js';
import { allRecipients, normalizeMessage } from '../message/index.js';
import { prepareMessage } from '../message/prepared.js';
import type { MessageInput, PreparedMessage, SendResult, Transport, TransportSendContext } from '../types.js';
import { FAULT_PRESETS } from '../transports/faults.js';
import type { Fault } from '../transports/faults.js';

/** Makes the next sends of a transport fail: a `FaultInjector`, an SMTP sink, or your own. */
export interface FaultHook {
  /** Makes the next `count` sends fail with `fault`. */
  failNext(count: number, fault: Fault): unknown;
}

/** What {@link TestTransportOptions.additionalTests} gets to write its own tests. */
export interface TransportConformanceContext<T extends Transport> {
  /** The transport of the running test (created before each test, closed after it). */
  readonly transport: T;
  /** Builds a prepared message; `to` defaults to one recipient at example.com. */
  prepare(input?: Partial<MessageInput>): PreparedMessage;
  /** A send context with the given signal (a fresh, never-aborted one by default) and attempt 1. */
  context(signal?: AbortSignal): TransportSendContext;
}

/** Options of {@link testTransport}. */
export interface TestTransportOptions<T extends Transport> {
  /** Title of the suite. @default the name of the first transport created */
  readonly name?: string;
  /** Creates a fresh transport; called before each test. */
  readonly create: () => T | Promise<T>;
  /** Makes sends fail on demand; the fault tests are skipped without it. */
  readonly faults?: FaultHook | ((transport: T) => FaultHook);
  /** Number of messages the receiving side got so far; delivery counts are checked with it when given. */
  readonly delivered?: (transport: T) => number | Promise<number>;
  /** Sends made at once in the concurrency test. @default 50 */
  readonly concurrency?: number;
  /** Registers transport-specific tests inside the suite. */
  readonly additionalTests?: (ctx: TransportConformanceContext<T>) => void;
  /**
   * Reply code and enhanced status the fault tests expect on the error for each fault they
   * inject. A transport whose protocol is not SMTP translates the faults in its `faults` hook
   * (an HTTP API: a 5xx for 'tempfail', a 4xx for 'permfail', a 429 for the throttle) and
   * states what its errors then carry here. @default the SMTP replies of FAULT_PRESETS
   */
  readonly expectedFaultErrors?: Partial<Record<ConformanceFault, ExpectedFaultError>>;
}

/** The faults the conformance suite injects through {@link TestTransportOptions.faults}. */
export type ConformanceFault = 'tempfail' | 'permfail' | 'throttle-microsoft';

/** What an error caused by an injected fault must carry, see {@link TestTransportOptions.expectedFaultErrors}. */
export interface ExpectedFaultError {
  readonly responseCode?: number;
  readonly enhancedStatus?: string;
}

let jobSeq = 0;

function prepare(input: Partial<MessageInput> = {}): PreparedMessage {
  const message = normalizeMessage(
    { from: 'sender@example.com', to: 'rcpt@example.com', subject: 'Conformance', text: 'Hello from the conformance suite.', ...input },
    { now: Date.now() },
  );
  return prepareMessage(`job_conformance_${++jobSeq}`, message, { from: message.returnPath, to: allRecipients(message) });
}

function context(signal: AbortSignal = new AbortController().signal): TransportSendContext {
  return { signal, attempt: 1 };
}

async function rejection(promise: Promise<SendResult>): Promise<MailError> {
  const err: unknown = await promise.then(
    (result) => {
      throw new Error(`Expected the send to reject, it resolved with ${JSON.stringify(result)}`);
    },
    (e: unknown) => e,
  );
  expect(isMailError(err), `expected a MailError, got ${String(err)}`).toBe(true);
  const mailError = err as MailError;
  expect(Object.values(MailErrorCode)).toContain(mailError.code);
  expect(typeof mailError.retryable).toBe('boolean');
  return mailError;
}

/**
 * Registers the transport conformance suite with vitest.
 *
 * Checks that a transport has a name and capabilities; resolves a simple send with its
 * accepted recipients; rejects only with classified {@link MailError}s (transient,
 * permanent and throttling faults, when `faults` is given); honours an already-aborted
 * signal without delivering; survives concurrent sends; and closes idempotently, refusing
 * sends afterwards with `CLOSED`.
 *
 * @example
 * ```ts
 * import { memoryTransport } from 'mailpush/testing';
 * import { testTransport } from 'mailpush/testing/conformance';
 *
 * testTransport({ name: 'memory', create: () => memoryTransport(), faults: (t) => t.faults, delivered: (t) => t.count });
 * ```
 */
export function testTransport<T extends Transport>(options: TestTransportOptions<T>): void {
  const concurrency = options.concurrency ?? 50;
  let current: T | undefined;

  const ctx: TransportConformanceContext<T> = {
    get transport(): T {
      if (current === undefined) throw new Error('The transport exists only while a test runs');
      return current;
    },
    prepare,
    context,
  };

  const faults = (): FaultHook | undefined =>
    typeof options.faults === 'function' ? options.faults(ctx.transport) : options.faults;
  const expected = (fault: ConformanceFault): ExpectedFaultError => options.expectedFaultErrors?.[fault] ?? FAULT_PRESETS[fault];
  const delivered = async (): Promise<number | undefined> =>
    options.delivered === undefined ? undefined : await options.delivered(ctx.transport);

  describe(`transport conformance${options.name === undefined ? '' : `: ${options.name}`}`, () => {
    beforeEach(async () => {
      current = await options.create();
    });

    afterEach(async () => {
      const t = current;
      current = undefined;
      await t?.close?.();
    });

    it('has a name and capabilities', () => {
      const t = ctx.transport;
      expect(typeof t.name).toBe('string');
      expect(t.name.length).toBeGreaterThan(0);
      expect(typeof t.capabilities.rawMime).toBe('boolean');
      const max = t.capabilities.maxConcurrency;
      if (max !== undefined) expect(Number.isInteger(max) && max > 0).toBe(true);
      const rate = t.capabilities.ratePerSecond;
      if (rate !== undefined) expect(rate).toBeGreaterThan(0);
    });

    it('resolves a send with every accepted recipient and no rejections', async () => {
      const before = await delivered();
      const prepared = prepare({ to: ['ann@example.com', 'bob@example.com'], cc: 'cy@example.com' });
      const result = await ctx.transport.send(prepared, context());
      expect([...result.accepted].sort()).toEqual(['ann@example.com', 'bob@example.com', 'cy@example.com']);
      expect(result.rejected).toEqual([]);
      if (result.providerMessageId !== undefined) expect(typeof result.providerMessageId).toBe('string');
      if (before !== undefined) expect(await delivered()).toBe(before + 1);
    });

    it('verifies when it implements verify()', async () => {
      const t = ctx.transport;
      if (t.verify === undefined) return;
      await expect(t.verify()).resolves.toBeUndefined();
    });

    it('rejects an already-aborted send with ABORTED and delivers nothing', async () => {
      const before = await delivered();
      const controller = new AbortController();
      controller.abort(new Error('cancelled by the test'));
      const err = await rejection(ctx.transport.send(prepare(), context(controller.signal)));
      expect(err.code).toBe(MailErrorCode.ABORTED);
      if (before !== undefined) expect(await delivered()).toBe(before);
    });

    it(`resolves ${concurrency} concurrent sends`, async () => {
      const before = await delivered();
      const results = await Promise.all(
        Array.from({ length: concurrency }, (_, i) => ctx.transport.send(prepare({ to: `r${i}@example.com` }), context())),
      );
      expect(results.map((r) => r.accepted[0])).toEqual(Array.from({ length: concurrency }, (_, i) => `r${i}@example.com`));
      if (before !== undefined) expect(await delivered()).toBe(before + concurrency);
    });

    it('closes idempotently and rejects sends afterwards with CLOSED', async () => {
      const t = ctx.transport;
      if (t.close === undefined) return;
      await t.close();
      await t.close();
      const err = await rejection(t.send(prepare(), context()));
      expect(err.code).toBe(MailErrorCode.CLOSED);
    });

    describe.skipIf(options.faults === undefined)('faults', () => {
      it('rejects a temporary failure with a retryable TRANSIENT MailError, then sends again', async () => {
        await faults()!.failNext(1, 'tempfail');
        const err = await rejection(ctx.transport.send(prepare(), context()));
        expect(err.code).toBe(MailErrorCode.TRANSIENT);
        expect(err.retryable).toBe(true);
        expect(err.responseCode).toBe(expected('tempfail').responseCode);
        const result = await ctx.transport.send(prepare(), context());
        expect(result.accepted).toEqual(['rcpt@example.com']);
      });

      it('rejects a permanent failure with a non-retryable PERMANENT MailError', async () => {
        await faults()!.failNext(1, 'permfail');
        const err = await rejection(ctx.transport.send(prepare(), context()));
        expect(err.code).toBe(MailErrorCode.PERMANENT);
        expect(err.retryable).toBe(false);
        expect(err.responseCode).toBe(expected('permfail').responseCode);
      });

      it('rejects a provider throttle reply with a retryable THROTTLED MailError', async () => {
        await faults()!.failNext(1, 'throttle-microsoft');
        const err = await rejection(ctx.transport.send(prepare(), context()));
        expect(err.code).toBe(MailErrorCode.THROTTLED);
        expect(err.retryable).toBe(true);
        expect(err.enhancedStatus).toBe(expected('throttle-microsoft').enhancedStatus);
      });

      it('names itself on the errors it rejects with', async () => {
        await faults()!.failNext(1, 'tempfail');
        const err = await rejection(ctx.transport.send(prepare(), context()));
        expect(err.transport).toBe(ctx.transport.name);
      });
    });

    options.additionalTests?.(ctx);
  });
}

export { testQueueStore } from './queue-store-conformance.js';
export type { QueueStoreSuiteOptions } from './queue-store-conformance.js';
export { testSuppressionStore } from './suppression-store-conformance.js';
export type { SuppressionStoreSuiteOptions } from './suppression-store-conformance.js';
export { testCorrelationStore } from './correlation-store-conformance.js';
export type { CorrelationStoreSuiteOptions, CorrelationStoreSuiteContext } from './correlation-store-conformance.js';
export { testReplayStore } from './replay-store-conformance.js';
export { testIdempotencyStore } from './idempotency-store-conformance.js';
export type { IdempotencyStoreSuiteOptions } from './idempotency-store-conformance.js';
export { testSoftBounceCounter } from './soft-bounce-conformance.js';
export type { SoftBounceCounterSuiteOptions } from './soft-bounce-conformance.js';
export { testMailerStore } from './mailer-store-conformance.js';
export { testCampaignStore } from './campaign-store-conformance.js';
export type { CampaignStoreSuiteOptions } from './campaign-store-conformance.js';
export type { MailerStoreSuiteOptions, MailerStoreSuiteContext } from './mailer-store-conformance.js';
export type { ReplayStoreSuiteOptions } from './replay-store-conformance.js';
export { testSubscriptionStore } from './subscription-store-conformance.js';
export type { SubscriptionStoreSuiteOptions } from './subscription-store-conformance.js';
