/**
 * A mailer for the host application's own unit tests: a real mailer (same validation, queue,
 * retries and events) over the memory transport and a virtual clock, with an outbox,
 * assertions, fault injection and `flush()` to run the queue to the end without waiting.
 *
 * @module
 */

import { MailError, MailErrorCode, configError } from '../errors.js';
import { createMailer, runCampaign } from '../mailer/index.js';
import { resolveSendMany } from '../mailer/campaign.js';
import type { DeliveryReport, Mailer, MailerOptions, SendManyOptions, SendOptions, SendReceipt } from '../mailer/index.js';
import memoryTransport from '../transports/memory.js';
import type { MemoryTransport, MemoryTransportOptions, SentMail } from '../transports/memory.js';
import type { MessageInput, NormalizedMessage } from '../types.js';
import { createTestClock, settle } from './clock.js';
import type { TestClock } from './clock.js';
import type { FaultInjector } from '../transports/faults.js';

/** Options of {@link createTestMailer}: those of the mailer, without transport and clock. */
export interface TestMailerOptions extends Omit<MailerOptions, 'transport' | 'clock'> {
  /** Options of the memory transport underneath. */
  readonly transport?: Omit<MemoryTransportOptions, 'clock'>;
  /** Start time of the virtual clock, ms since epoch. @default Date.UTC(2026, 0, 1) */
  readonly startTime?: number;
}

/** Matches a message: a predicate, or fields that must all match. */
export type MessageMatcher =
  | ((message: NormalizedMessage) => boolean)
  | {
      /** From address (case-insensitive). */
      readonly from?: string;
      /** One of the recipients (to, cc or bcc; case-insensitive). */
      readonly to?: string;
      /** Exact subject, or a RegExp. */
      readonly subject?: string | RegExp;
      /** Substring of, or RegExp tested on, the text body. */
      readonly text?: string | RegExp;
      /** Substring of, or RegExp tested on, the HTML body. */
      readonly html?: string | RegExp;
      readonly category?: 'transactional' | 'marketing';
      /** Tags that must all be present with these values. */
      readonly tags?: Readonly<Record<string, string>>;
    };

/** A message accepted by `send()`, whatever became of it. */
export interface TrackedMessage {
  readonly message: NormalizedMessage;
  readonly options: SendOptions;
  readonly receipt: SendReceipt;
  /** Final report once every recipient is done; undefined while anything is queued. */
  readonly report: DeliveryReport | undefined;
}

/** The test mailer. */
export interface TestMailer extends Mailer {
  readonly transport: MemoryTransport;
  /** The virtual clock; `flush()` moves it. */
  readonly clock: TestClock;
  /** Scripted failures and latency of the transport. */
  readonly faults: FaultInjector;
  /** Messages delivered by the transport, in order (one entry per job). */
  readonly outbox: readonly SentMail[];
  /** Every message accepted by `send()`, queued or delivered alike. */
  readonly messages: readonly TrackedMessage[];
  /**
   * Runs the queue until nothing is queued, scheduled or in flight, moving the virtual clock
   * through sendAt times, retries and throttle pauses. Throws when work remains after
   * `maxTimeMs` of virtual time.
   */
  flush(options?: { readonly maxTimeMs?: number }): Promise<void>;
  /** Asserts that messages matching were sent (queued or delivered); with a number, that exactly that many messages were. */
  assertSent(matcher?: MessageMatcher | number, count?: number): void;
  /** Asserts that no message matching was sent. */
  assertNotSent(matcher: MessageMatcher): void;
  /** Asserts that a message to `address` was sent (queued or delivered). */
  assertSentTo(address: string): void;
  /** Asserts that nothing was sent at all. */
  assertNothingSent(): void;
  /** Forgets tracked messages and the outbox (not the queue). */
  clear(): void;
}

type Tracked = { -readonly [K in keyof TrackedMessage]: TrackedMessage[K] };

function includesOrMatches(value: string | undefined, expected: string | RegExp): boolean {
  if (value === undefined) return false;
  return typeof expected === 'string' ? value.includes(expected) : expected.test(value);
}

/**
 * Compiles a {@link MessageMatcher} into a predicate.
 *
 * @example
 * ```ts
 * import { normalizeMessage } from 'mailpush';
 * import { compileMatcher } from 'mailpush/testing';
 *
 * const isWelcome = compileMatcher({ to: 'ann@example.org', subject: /welcome/i });
 * const message = normalizeMessage({ from: 'app@example.com', to: 'Ann@example.org', subject: 'Welcome!', text: 'Hi' }, { now: Date.now() });
 * isWelcome(message); // true
 * ```
 */
export function compileMatcher(matcher: MessageMatcher): (message: NormalizedMessage) => boolean {
  if (typeof matcher === 'function') return matcher;
  if (typeof matcher !== 'object' || matcher === null) throw configError('matcher', 'a function or an object of fields', matcher);
  const m = matcher;
  return (msg) => {
    if (m.from !== undefined && msg.from.address.toLowerCase() !== m.from.toLowerCase()) return false;
    if (m.to !== undefined) {
      const want = m.to.toLowerCase();
      if (![...msg.to, ...msg.cc, ...msg.bcc].some((a) => a.address.toLowerCase() === want)) return false;
    }
    if (m.subject !== undefined && !(typeof m.subject === 'string' ? msg.subject === m.subject : m.subject.test(msg.subject))) return false;
    if (m.text !== undefined && !includesOrMatches(msg.text, m.text)) return false;
    if (m.html !== undefined && !includesOrMatches(msg.html, m.html)) return false;
    if (m.category !== undefined && msg.category !== m.category) return false;
    if (m.tags !== undefined && !Object.entries(m.tags).every(([k, v]) => msg.tags[k] === v)) return false;
    return true;
  };
}

function describe(messages: readonly TrackedMessage[]): string {
  if (messages.length === 0) return 'No messages were sent.';
  const lines = messages.slice(0, 20).map((t, i) => {
    const to = [...t.message.to, ...t.message.cc, ...t.message.bcc].map((a) => a.address).join(', ');
    return `  ${i + 1}. ${JSON.stringify(t.message.subject)} from ${t.message.from.address} to ${to} [${t.report?.status ?? 'queued'}]`;
  });
  if (messages.length > 20) lines.push(`  ... and ${messages.length - 20} more`);
  return `Messages sent (${messages.length}):\n${lines.join('\n')}`;
}

function fail(message: string): never {
  throw new MailError(message, { code: MailErrorCode.ASSERTION });
}

/**
 * Creates a test mailer.
 *
 * @example
 * ```ts
 * const mailer = createTestMailer();
 * await signUp(mailer, 'ann@example.com');          // your code under test
 * mailer.assertSentTo('ann@example.com');           // passes whether queued or delivered
 * mailer.faults.failNext(1, 'tempfail');
 * await mailer.flush();                             // retries run on virtual time
 * ```
 */
export function createTestMailer(options: TestMailerOptions = {}): TestMailer {
  const { transport: transportOptions, startTime, ...mailerOptions } = options;
  const clock = createTestClock(startTime);
  const transport = memoryTransport({ ...transportOptions, clock });
  const mailer = createMailer({ ...mailerOptions, transport, clock });
  let tracked: Tracked[] = [];

  const messages = (): readonly TrackedMessage[] => tracked;
  const matching = (matcher: MessageMatcher): TrackedMessage[] => {
    const test = compileMatcher(matcher);
    return tracked.filter((t) => test(t.message));
  };

  const send = async (input: MessageInput, sendOptions: SendOptions = {}): Promise<SendReceipt> => {
    const receipt = await mailer.send(input, sendOptions);
    if (!receipt.duplicate) {
      const entry: Tracked = { message: receipt.message, options: sendOptions, receipt, report: undefined };
      tracked.push(entry);
      void receipt.done().then((report) => {
        entry.report = report;
      });
    }
    return receipt;
  };

  const self: TestMailer = {
    get transport() {
      return transport;
    },
    clock,
    faults: transport.faults,
    get outbox() {
      return transport.sent;
    },
    get messages() {
      return messages();
    },
    get closed() {
      return mailer.closed;
    },
    suppression: mailer.suppression,
    store: mailer.store,
    feedback: mailer.feedback,
    unsubscribe: mailer.unsubscribe,
    subscriptions: mailer.subscriptions,
    send,
    status: (id) => mailer.status(id),
    // No backpressure: virtual time only moves in flush(), so waiting for the queue to drain would never end.
    sendMany: (async (source: Parameters<typeof resolveSendMany>[0], manyOptions?: SendManyOptions) => {
      const r = resolveSendMany(source, manyOptions, mailer.subscriptions);
      return runCampaign(send, r.source, r.options, () => undefined);
    }) as TestMailer['sendMany'],
    campaign: (id) => mailer.campaign(id),
    get complaintGuard() {
      return mailer.complaintGuard;
    },
    on: (event, listener) => mailer.on(event, listener),
    once: (event, listener) => mailer.once(event, listener),
    off: (event, listener) => mailer.off(event, listener),
    stats: () => mailer.stats(),
    onIdle: () => mailer.onIdle(),
    preflight: (o) => mailer.preflight(o),
    ready: () => mailer.ready(),
    verify: () => mailer.verify(),
    close: (o) => mailer.close(o),
    async flush(flushOptions = {}) {
      const maxTimeMs = flushOptions.maxTimeMs ?? 30 * 24 * 3_600_000;
      const deadline = clock.now() + maxTimeMs;
      for (let spins = 0; ; spins++) {
        await settle();
        const s = mailer.stats();
        const queued = Object.values(s.queued).reduce((a, b) => a + b, 0);
        if (s.inflight === 0 && s.scheduled === 0 && queued === 0) {
          await settle();
          if (!mailer.stats().backlog) return;
          continue;
        }
        const next = clock.nextAt();
        if (next !== Infinity && next <= deadline) {
          await clock.next();
        } else if ((s.inflight === 0 && !s.backlog) || spins > 10_000) {
          fail(`flush(): the queue did not drain within ${maxTimeMs} ms of virtual time (${queued} ready, ${s.scheduled} scheduled, ${s.inflight} in flight)`);
        }
      }
    },
    assertSent(matcher, count) {
      if (typeof matcher === 'number') {
        if (tracked.length !== matcher) fail(`Expected ${matcher} message(s) to be sent, got ${tracked.length}.\n${describe(tracked)}`);
        return;
      }
      const found = matcher === undefined ? tracked : matching(matcher);
      if (count !== undefined) {
        if (found.length !== count) fail(`Expected ${count} matching message(s), got ${found.length}.\n${describe(tracked)}`);
      } else if (found.length === 0) {
        fail(`Expected a matching message to be sent, found none.\n${describe(tracked)}`);
      }
    },
    assertNotSent(matcher) {
      const found = matching(matcher);
      if (found.length > 0) fail(`Expected no matching message, found ${found.length}.\n${describe(found)}`);
    },
    assertSentTo(address) {
      if (typeof address !== 'string') throw configError('address', 'a string', address);
      if (matching({ to: address }).length === 0) fail(`Expected a message to ${address}, found none.\n${describe(tracked)}`);
    },
    assertNothingSent() {
      if (tracked.length > 0) fail(`Expected nothing to be sent.\n${describe(tracked)}`);
    },
    clear() {
      tracked = [];
      transport.clear();
    },
  };
  return self;
}
