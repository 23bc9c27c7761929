/**
 * `createMailer()`: validates options and wires normalization, the queue store, the scheduler
 * and the transport; owns the lifecycle.
 *
 * @module
 */

import { MailError, MailErrorCode, configError, describeValue, isMailError, toMailError } from './errors.js';
import { createDkimSigner } from './auth/dkim.js';
import type { DkimOptions, DkimSigner } from './auth/dkim.js';
import type { PreflightOptions, PreflightResult } from './auth/preflight.js';
import { HARD_CATEGORIES } from './classify/index.js';
import type { FeedbackEvent } from './feedback/event.js';
import type { FeedbackPolicy, SuppressionPolicyOptions } from './feedback/policy.js';
import { createFeedbackProcessor } from './feedback/processor.js';
import type { Correlation, CorrelationQuery, FeedbackProcessor, ProcessedEvent } from './feedback/processor.js';
import { createVerp } from './feedback/verp.js';
import type { Verp, VerpOptions } from './feedback/verp.js';
import { TypedEmitter } from './events.js';
import type { FailureReason, JobEventBase, MailerEvents, MailerListener } from './events.js';
import { allRecipients, domainOf, normalizeDomain, normalizeMessage, recipientsByDomain, validateMessageLimits } from './message/index.js';
import type { MessageLimits } from './message/index.js';
import { prepareMessage } from './message/prepared.js';
import { resolveLimits, resolveThrottle, resolveWeights } from './queue/limits.js';
import type { LimitsOptions, PriorityWeights, ThrottleOptions } from './queue/limits.js';
import { Scheduler } from './queue/scheduler.js';
import type { DomainStats } from './queue/scheduler.js';
import { nextRetry, resolveRetryOptions } from './retry/schedule.js';
import type { RetryOptions } from './retry/schedule.js';
import memoryQueueStore from './stores/memory.js';
import memorySuppressionStore from './stores/suppression-memory.js';
import { PRIORITIES, systemClock } from './types.js';
import type { KeyObject } from 'node:crypto';
import type { Clock, Job, MessageInput, NormalizedMessage, Priority, QueueStore, SendResult, SuppressionStore, Transport } from './types.js';

/** Options of {@link createMailer}. */
export interface MailerOptions {
  /** Where mail goes: `smtpTransport(...)`, `memoryTransport()`, or any {@link Transport}. */
  readonly transport: Transport;
  /** Rate and concurrency limits per recipient domain, per transport and global. */
  readonly limits?: LimitsOptions;
  /** Weighted-fair shares of the priority lanes. @default DEFAULT_PRIORITY_WEIGHTS */
  readonly priorityWeights?: Partial<PriorityWeights>;
  /** Reaction to throttling responses. */
  readonly throttle?: ThrottleOptions;
  /** Retry policy for temporary failures. */
  readonly retry?: RetryOptions;
  /** The queue journal. @default an in-memory store */
  readonly store?: QueueStore;
  /**
   * The suppression list, consulted before every send (so an unsubscribe or a hard bounce that
   * arrives during a campaign stops the rest of it). @default an in-memory list, see `mailer.suppression`
   */
  readonly suppression?: SuppressionStore;
  /** Size and count limits applied to every message. */
  readonly messageLimits?: MessageLimits;
  /**
   * DKIM keys. A message whose From domain (or, failing that, its closest parent domain) has
   * active keys is signed by each of them (dual RSA + Ed25519 when both are given), after every
   * header is final. Needs a raw-MIME transport (SMTP, SES). @default no signing
   */
  readonly dkim?: DkimOptions;
  /**
   * Sending-domain checks (SPF, DKIM, DMARC, alignment) run by {@link Mailer.preflight}; with
   * `requireForMarketing`, marketing mail from a From domain whose required checks fail is
   * refused (PREFLIGHT) until the DNS is fixed. Checks are cached per domain for `cacheMs`.
   */
  readonly preflight?: MailerPreflightOptions;
  /** Feedback processing behind `mailer.feedback`: suppression policy, the host's awaited hook, correlation. */
  readonly feedback?: MailerFeedbackOptions;
  /**
   * VERP: each job's envelope sender (Return-Path) becomes `bounces+<token>@domain`, a signed
   * token naming the job, so a bounce that reaches that mailbox correlates exactly.
   * @default off: the envelope sender is the message's `returnPath`
   */
  readonly verp?: VerpOptions;
  /** Priority of messages sent without one, by category. @default { transactional: 'normal', marketing: 'bulk' } */
  readonly defaultPriority?: Partial<Record<'transactional' | 'marketing', Priority>>;
  /** Domain of generated Message-IDs. @default the From domain */
  readonly messageIdDomain?: string;
  /** How long an `idempotencyKey` is remembered, in ms. @default 86_400_000 (24 h) */
  readonly idempotencyWindowMs?: number;
  /** Time source and timers. @default the system clock with unref()'ed timers */
  readonly clock?: Clock;
  /** Random source in [0, 1) for retry jitter. @default Math.random */
  readonly random?: () => number;
}

/** Feedback settings of the mailer. */
export interface MailerFeedbackOptions {
  /** Suppression policy (or its options). @default hard bounces and complaints at once, soft bounces after 3 in 7 days */
  readonly policy?: FeedbackPolicy | SuppressionPolicyOptions;
  /** The host's hook, awaited for every event after suppression; a failure makes the webhook answer 5xx so the provider retries. */
  readonly onEvent?: (event: FeedbackEvent, processed: ProcessedEvent) => void | Promise<void>;
  /** Finds the job of a feedback item the mailer cannot correlate itself (a redacted complaint). */
  readonly resolveCorrelation?: (query: CorrelationQuery) => Correlation | undefined | Promise<Correlation | undefined>;
}

/** The mailer's sending-domain check settings. */
export interface MailerPreflightOptions extends PreflightOptions {
  /** From addresses or domains to check. @default the domains of the DKIM keys */
  readonly senders?: readonly string[];
  /** Refuse marketing mail from a From domain that fails a required check. @default false */
  readonly requireForMarketing?: boolean;
  /** How long a domain's result is reused, in ms. @default 3_600_000 (1 h) */
  readonly cacheMs?: number;
}

/** Options of {@link Mailer.send}. */
export interface SendOptions {
  /** Dispatch priority. @default by category, see `defaultPriority` */
  readonly priority?: Priority;
  /** Do not send before this time (a Date or ms since epoch). */
  readonly sendAt?: Date | number;
  /** A second send with the same key within the idempotency window returns the first receipt and sends nothing. */
  readonly idempotencyKey?: string;
  /** Cancels the message: waiting jobs are dropped, sends in flight are aborted where the transport can. */
  readonly signal?: AbortSignal;
}

/** Final state of one recipient. `pending` only appears in reports of a mailer that closed first. */
export type RecipientStatus = 'sent' | 'failed' | 'expired' | 'aborted' | 'suppressed' | 'pending';

/** What happened to one recipient. */
export interface RecipientResult {
  readonly address: string;
  readonly status: RecipientStatus;
  readonly jobId: string;
  /** Attempts counted for the job. */
  readonly attempts: number;
  /** Transport that sent it. */
  readonly transport?: string;
  readonly response?: string;
  readonly providerMessageId?: string;
  /** Why it was not sent. */
  readonly error?: MailError;
}

/** Outcome of a whole message. */
export interface DeliveryReport {
  readonly id: string;
  readonly messageId: string;
  /** `sent`: every recipient; `partial`: some; `failed`: none; `pending`: the mailer closed before the end. */
  readonly status: 'sent' | 'partial' | 'failed' | 'pending';
  readonly recipients: readonly RecipientResult[];
}

/** Returned by {@link Mailer.send} once the message is validated and queued. */
export interface SendReceipt {
  /** Internal message id. */
  readonly id: string;
  /** RFC 5322 Message-ID. */
  readonly messageId: string;
  /** The message as validated and queued (addresses normalized, ids assigned). */
  readonly message: NormalizedMessage;
  /** The jobs the message was split into (one per recipient domain). */
  readonly jobs: readonly { readonly jobId: string; readonly domain: string; readonly recipients: readonly string[] }[];
  /** True when this receipt comes from an earlier send with the same idempotency key. */
  readonly duplicate: boolean;
  /** Resolves (never rejects) with the final outcome of every recipient. */
  done(): Promise<DeliveryReport>;
}

/** One item of a campaign given to {@link Mailer.sendMany}: a message, or a message with its send options. */
export type CampaignItem = MessageInput | { readonly message: MessageInput; readonly options?: SendOptions };

/** Options of {@link Mailer.sendMany}. */
export interface SendManyOptions {
  /**
   * Most jobs held by the mailer (ready, scheduled or in flight) before `sendMany` stops
   * reading its source; it reads on once the queue drains to half of this.
   * @default 10_000
   */
  readonly maxQueued?: number;
  /** Send options applied to items that give none. */
  readonly defaults?: SendOptions;
  /** Called after every `progressEvery` items read. */
  readonly onProgress?: (progress: CampaignProgress) => void;
  /** @default 1_000 */
  readonly progressEvery?: number;
  /** Stops reading the source (already queued messages go on). */
  readonly signal?: AbortSignal;
}

/** Progress of a campaign. */
export interface CampaignProgress {
  /** Items read from the source. */
  readonly read: number;
  /** Messages queued. */
  readonly queued: number;
  /** Items refused by validation (bad address, header injection...). */
  readonly invalid: number;
}

/** Result of {@link Mailer.sendMany}. */
export interface CampaignResult extends CampaignProgress {
  /** The first 100 validation errors, with the index of the item in the source. */
  readonly errors: readonly { readonly index: number; readonly error: MailError }[];
  /** True when the signal stopped the campaign before the source ended. */
  readonly aborted: boolean;
}

/** Options of {@link Mailer.close}. */
export interface CloseOptions {
  /** Wait until every queued job has reached a final state (up to `timeoutMs`). @default false */
  readonly drain?: boolean;
  /** Longest wait for draining and for sends in flight, in ms; then sends in flight are aborted and handed back to the store. @default 30_000 */
  readonly timeoutMs?: number;
}

/** Returned by {@link Mailer.close}. */
export interface CloseResult {
  /** Unfinished jobs left in the store (recovered by the next mailer on a durable store). */
  readonly pending: number;
}

/** Snapshot returned by {@link Mailer.stats}. */
export interface MailerStats {
  /** Ready jobs per priority lane. */
  readonly queued: Readonly<Record<Priority, number>>;
  /** Jobs waiting for their sendAt or retry time. */
  readonly scheduled: number;
  /** Sends in flight. */
  readonly inflight: number;
  /** Domains with something going on. */
  readonly domains: Readonly<Record<string, DomainStats>>;
  /** Event counts since start. */
  readonly totals: Readonly<{ queued: number; sent: number; deferred: number; failed: number; expired: number; throttled: number }>;
}

/** The mailer. */
export interface Mailer {
  /**
   * Validates and queues a message. Resolves once it is queued; `await (await send(m)).done()`
   * waits for the final outcome. Rejects with a MailError (VALIDATION, INVALID_ADDRESS,
   * INVALID_HEADER, TOO_LARGE, CLOSED, ABORTED, STORE) when it cannot be queued.
   */
  send(message: MessageInput, options?: SendOptions): Promise<SendReceipt>;
  /**
   * Queues a campaign from an iterable or async iterable (a database cursor, a CSV stream),
   * reading it only as fast as the queue drains, so a million recipients take bounded memory.
   * Invalid items are counted and skipped; the campaign goes on. Resolves once every item is
   * queued (not delivered: use events or `onIdle()` for that).
   */
  sendMany(source: Iterable<CampaignItem> | AsyncIterable<CampaignItem>, options?: SendManyOptions): Promise<CampaignResult>;
  /** Adds an event listener; returns a function that removes it. */
  on<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): () => void;
  /** Adds a listener called once. */
  once<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): () => void;
  /** Removes an event listener. */
  off<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): void;
  /** A snapshot of queues, domains and totals. */
  stats(): MailerStats;
  /** Resolves when nothing is queued, scheduled or in flight. */
  onIdle(): Promise<void>;
  /**
   * Checks the sending domains (SPF, DKIM keys, DMARC, alignment, MX) and returns one report
   * per domain with the failed required items. Domains: `domains` given here, else
   * `preflight.senders`, else the DKIM key domains; the configured DKIM keys are compared with
   * the published ones.
   */
  preflight(options?: PreflightOptions & { readonly froms?: readonly string[] }): Promise<PreflightResult>;
  /** Resolves once jobs left in the store by a previous run are back in the queue. */
  ready(): Promise<void>;
  /** Stops intake, finishes or hands back in-flight work, closes the transport. Idempotent. */
  close(options?: CloseOptions): Promise<CloseResult>;
  /** True once `close()` was called. */
  readonly closed: boolean;
  /** The transport in use. */
  readonly transport: Transport;
  /** The suppression list in use: add entries here (or through feedback processing). */
  readonly suppression: SuppressionStore;
  /**
   * Feedback processing bound to this mailer's suppression list: `ingest(events)` for provider
   * events, `ingestRaw(mime)` for bounce and complaint mails read from a mailbox. Pass it to
   * `createFeedbackHandler({ processor: mailer.feedback, ... })` from `mailpush/feedback`.
   * Every event is also emitted as a `feedback` event.
   */
  readonly feedback: FeedbackProcessor;
}

interface MessageRecord {
  readonly message: NormalizedMessage;
  readonly jobs: Job[];
  pending: number;
  readonly results: RecipientResult[];
  waiters: ((report: DeliveryReport) => void)[] | undefined;
  report: DeliveryReport | undefined;
  aborted: boolean;
  detach: (() => void) | undefined;
  /** When the message became due (queue time or sendAt), for latency. */
  readonly dueAt: number;
}

const DEFAULT_PRIORITY = { transactional: 'normal', marketing: 'bulk' } as const;

function validateOptions(options: MailerOptions): void {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const t = options.transport as Partial<Transport> | undefined;
  if (typeof t !== 'object' || t === null || typeof t.send !== 'function' || typeof t.name !== 'string') {
    throw configError('transport', 'a Transport (an object with `name` and `send()`)', t);
  }
  if (typeof t.capabilities !== 'object' || t.capabilities === null) throw configError('transport.capabilities', 'an object', t.capabilities);
  const s = options.store as Partial<QueueStore> | undefined;
  if (s !== undefined && (typeof s !== 'object' || s === null || ['add', 'update', 'remove', 'recover', 'size'].some((m) => typeof (s as Record<string, unknown>)[m] !== 'function'))) {
    throw configError('store', 'a QueueStore (add, update, remove, recover, size)', s);
  }
  const sup = options.suppression as Partial<SuppressionStore> | undefined;
  if (sup !== undefined && (typeof sup !== 'object' || sup === null || ['add', 'remove', 'find', 'list'].some((m) => typeof (sup as Record<string, unknown>)[m] !== 'function'))) {
    throw configError('suppression', 'a SuppressionStore (add, remove, find, list)', sup);
  }
  const c = options.clock as Partial<Clock> | undefined;
  if (c !== undefined && (typeof c !== 'object' || c === null || typeof c.now !== 'function' || typeof c.setTimeout !== 'function' || typeof c.clearTimeout !== 'function')) {
    throw configError('clock', 'a Clock (now, setTimeout, clearTimeout)', c);
  }
  if (options.random !== undefined && typeof options.random !== 'function') throw configError('random', 'a function', options.random);
  if (options.defaultPriority !== undefined) {
    for (const [k, v] of Object.entries(options.defaultPriority)) {
      if (!(PRIORITIES as readonly unknown[]).includes(v)) throw configError(`defaultPriority.${k}`, `one of ${PRIORITIES.join(', ')}`, v);
    }
  }
  const w = options.idempotencyWindowMs;
  if (w !== undefined && (typeof w !== 'number' || !(w >= 0) || !Number.isFinite(w))) throw configError('idempotencyWindowMs', 'a finite number >= 0', w);
  if (options.messageIdDomain !== undefined) {
    try {
      if (typeof options.messageIdDomain !== 'string') throw new TypeError();
      normalizeDomain(options.messageIdDomain);
    } catch {
      throw configError('messageIdDomain', 'a domain name', options.messageIdDomain);
    }
  }
}

class MailerImpl implements Mailer {
  readonly transport: Transport;
  readonly suppression: SuppressionStore;
  readonly feedback: FeedbackProcessor;
  private readonly verp: Verp | undefined;
  private readonly emitter = new TypedEmitter();
  private readonly store: QueueStore;
  private readonly ownsStore: boolean;
  private readonly dkim: DkimSigner | undefined;
  private readonly preflightOptions: MailerPreflightOptions;
  private readonly preflightCache = new Map<string, { at: number; result: Promise<PreflightResult> }>();
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly scheduler: Scheduler;
  private readonly retry: ReturnType<typeof resolveRetryOptions>;
  private readonly messageLimits: ReturnType<typeof validateMessageLimits>;
  private readonly defaultPriority: Readonly<Record<'transactional' | 'marketing', Priority>>;
  private readonly messageIdDomain: string | undefined;
  private readonly idempotencyWindowMs: number;
  private readonly idempotency = new Map<string, { receipt: SendReceipt; expiresAt: number }>();
  private readonly records = new Map<string, MessageRecord>();
  private readonly inflight = new Map<string, { controller: AbortController; settled: Promise<void> }>();
  private readonly readyPromise: Promise<void>;
  private idleWaiters: (() => void)[] = [];
  private holds = 0;
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  private drainWaiters: { level: number; resolve: () => void }[] = [];
  private wasIdle = true;
  private closing = false;
  private handingBack = false;
  private closePromise: Promise<CloseResult> | undefined;
  private readonly totals = { queued: 0, sent: 0, deferred: 0, failed: 0, expired: 0, throttled: 0 };

  constructor(options: MailerOptions) {
    validateOptions(options);
    this.transport = options.transport;
    this.store = options.store ?? memoryQueueStore();
    this.ownsStore = options.store === undefined;
    this.suppression = options.suppression ?? memorySuppressionStore();
    this.verp = options.verp === undefined ? undefined : createVerp(options.verp);
    const fb = options.feedback;
    this.feedback = createFeedbackProcessor({
      suppression: this.suppression,
      now: () => this.clock.now(),
      ...(fb?.policy !== undefined ? { policy: fb.policy } : {}),
      ...(fb?.resolveCorrelation !== undefined ? { resolveCorrelation: fb.resolveCorrelation } : {}),
      ...(this.verp !== undefined ? { verp: this.verp } : {}),
      onEvent: async (event, processed) => {
        this.emitter.emit('feedback', event);
        await fb?.onEvent?.(event, processed);
      },
    });
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    if (options.dkim !== undefined && this.transport.capabilities.rawMime !== true) {
      throw configError('dkim', `a raw-MIME transport: ${this.transport.name} builds its own MIME, so sign with the provider`, options.dkim);
    }
    this.dkim = options.dkim === undefined ? undefined : createDkimSigner(options.dkim, this.clock);
    if (options.preflight !== undefined && (typeof options.preflight !== 'object' || options.preflight === null)) throw configError('preflight', 'an object', options.preflight);
    this.preflightOptions = options.preflight ?? {};
    this.retry = resolveRetryOptions(options.retry);
    this.messageLimits = validateMessageLimits(options.messageLimits, 'messageLimits');
    this.defaultPriority = { ...DEFAULT_PRIORITY, ...options.defaultPriority };
    this.messageIdDomain = options.messageIdDomain;
    this.idempotencyWindowMs = options.idempotencyWindowMs ?? 86_400_000;
    this.scheduler = new Scheduler({
      clock: this.clock,
      limits: resolveLimits(options.limits, this.transport.capabilities),
      weights: resolveWeights(options.priorityWeights),
      throttle: resolveThrottle(options.throttle),
      dispatch: (job) => this.startJob(job),
      onDue: (job) => this.storeCall('update', job),
    });
    this.readyPromise = this.recover();
    // recover() reports its own failure through ready(); keep it from being unhandled.
    this.readyPromise.catch(() => undefined);
  }

  get closed(): boolean {
    return this.closing;
  }

  on<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): () => void {
    return this.emitter.on(event, listener);
  }

  once<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): () => void {
    return this.emitter.once(event, listener);
  }

  off<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): void {
    this.emitter.off(event, listener);
  }

  ready(): Promise<void> {
    return this.readyPromise;
  }

  async send(input: MessageInput, options: SendOptions = {}): Promise<SendReceipt> {
    if (this.closing) throw new MailError('The mailer is closed', { code: MailErrorCode.CLOSED });
    if (typeof options !== 'object' || options === null) throw new MailError(`Expected send options to be an object, got ${describeValue(options)}`, { code: MailErrorCode.VALIDATION });
    const { signal, idempotencyKey } = options;
    if (signal !== undefined && !(typeof signal === 'object' && signal !== null && typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function')) {
      throw new MailError(`Expected \`signal\` to be an AbortSignal, got ${describeValue(signal)}`, { code: MailErrorCode.VALIDATION });
    }
    if (signal?.aborted) throw new MailError('The send was aborted before it was queued', { code: MailErrorCode.ABORTED, cause: signal.reason });
    const now = this.clock.now();
    if (idempotencyKey !== undefined) {
      if (typeof idempotencyKey !== 'string' || idempotencyKey.length === 0 || idempotencyKey.length > 512) {
        throw new MailError(`Expected \`idempotencyKey\` to be a non-empty string of at most 512 characters, got ${describeValue(idempotencyKey)}`, { code: MailErrorCode.VALIDATION });
      }
      const seen = this.idempotency.get(idempotencyKey);
      if (seen !== undefined && seen.expiresAt > now) return { ...seen.receipt, duplicate: true };
    }
    const message = normalizeMessage(input, {
      now,
      limits: this.messageLimits,
      ...(this.messageIdDomain !== undefined ? { messageIdDomain: this.messageIdDomain } : {}),
    });
    if (message.category === 'marketing' && this.preflightOptions.requireForMarketing === true) await this.requirePreflight(message.from.address);
    const priority = options.priority ?? this.defaultPriority[message.category];
    if (!(PRIORITIES as readonly unknown[]).includes(priority)) {
      throw new MailError(`Expected \`priority\` to be one of ${PRIORITIES.join(', ')}, got ${describeValue(priority)}`, { code: MailErrorCode.VALIDATION });
    }
    let runAt = now;
    if (options.sendAt !== undefined) {
      const at = options.sendAt instanceof Date ? options.sendAt.getTime() : options.sendAt;
      if (typeof at !== 'number' || !Number.isFinite(at)) {
        throw new MailError(`Expected \`sendAt\` to be a valid Date or a time in ms, got ${describeValue(options.sendAt)}`, { code: MailErrorCode.VALIDATION });
      }
      runAt = Math.max(now, at);
    }

    const jobs: Job[] = [];
    let i = 0;
    for (const [domain, recipients] of this.planJobs(message)) {
      jobs.push({ id: `${message.id}/${i++}`, messageRef: message.id, domain, recipients, priority, state: 'ready', attempt: 0, createdAt: now, runAt });
    }
    try {
      await this.store.add({ message, jobs });
    } catch (err) {
      throw new MailError(`The queue store (${this.store.name}) could not record the message: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err });
    }
    // The store write is async: the mailer may have closed or the signal fired meanwhile.
    const rec: MessageRecord = { message, jobs, pending: jobs.length, results: [], waiters: undefined, report: undefined, aborted: false, detach: undefined, dueAt: runAt };
    this.records.set(message.id, rec);
    const receipt = this.receipt(rec, false);
    if (idempotencyKey !== undefined) this.remember(idempotencyKey, receipt, now);
    if (this.closing) {
      // Closed while the store wrote: the jobs stay in the store for the next run.
      this.records.delete(message.id);
      throw new MailError('The mailer closed while the message was being queued; it is kept in the store', { code: MailErrorCode.CLOSED });
    }
    if (signal !== undefined) {
      const onAbort = (): void => this.abortMessage(rec, signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      rec.detach = () => signal.removeEventListener('abort', onAbort);
    }
    this.wasIdle = false;
    for (const job of jobs) {
      this.totals.queued++;
      if (this.emitter.has('queued')) this.emitter.emit('queued', { ...this.eventBase(job, rec, job.recipients), runAt: job.runAt });
      this.scheduler.enqueue(job);
    }
    if (signal?.aborted) this.abortMessage(rec, signal.reason);
    return receipt;
  }

  sendMany(source: Iterable<CampaignItem> | AsyncIterable<CampaignItem>, options: SendManyOptions = {}): Promise<CampaignResult> {
    const maxQueued = options.maxQueued ?? 10_000;
    if (!Number.isInteger(maxQueued) || maxQueued < 1) return Promise.reject(configError('sendMany.maxQueued', 'an integer >= 1', maxQueued));
    return runCampaign(
      (message, sendOptions) => this.send(message, sendOptions),
      source,
      options,
      () => (this.held() >= maxQueued ? this.drainTo(maxQueued >> 1) : undefined),
    );
  }

  /** Jobs held: ready, scheduled or in flight. */
  private held(): number {
    return this.scheduler.ready + this.scheduler.scheduled + this.scheduler.inflight;
  }

  private drainTo(level: number): Promise<void> {
    if (this.held() <= level || this.closing) return Promise.resolve();
    return this.keepAliveUntil(new Promise((resolve) => this.drainWaiters.push({ level, resolve })));
  }

  stats(): MailerStats {
    const queued = {} as Record<Priority, number>;
    PRIORITIES.forEach((p, i) => {
      queued[p] = this.scheduler.laneCounts[i] ?? 0;
    });
    return {
      queued,
      scheduled: this.scheduler.scheduled,
      inflight: this.scheduler.inflight,
      domains: this.scheduler.domainStats(),
      totals: { ...this.totals },
    };
  }

  onIdle(): Promise<void> {
    if (this.scheduler.idle) return Promise.resolve();
    return this.keepAliveUntil(new Promise((resolve) => this.idleWaiters.push(resolve)));
  }

  async preflight(options: PreflightOptions & { readonly froms?: readonly string[] } = {}): Promise<PreflightResult> {
    const { froms, ...overrides } = options;
    // Only the DNS check settings go to preflightDomains; the mailer-level keys stay here.
    const { senders, requireForMarketing, cacheMs, ...base } = this.preflightOptions;
    void requireForMarketing;
    void cacheMs;
    const keys = this.dkim?.keys ?? [];
    const domains = froms ?? senders ?? [...new Set(keys.map((k) => k.domain))];
    if (domains.length === 0) throw configError('preflight.senders', 'the From domains to check (or DKIM keys to take them from)', domains);
    // The configured DKIM keys are what the published records must match.
    const perDomain: Record<string, { dkimSelectors: string[]; dkimKeys: Record<string, KeyObject>; dkimDomain: string }> = {};
    for (const k of keys) {
      const entry = (perDomain[k.domain] ??= { dkimSelectors: [], dkimKeys: {}, dkimDomain: k.domain });
      entry.dkimSelectors.push(k.selector);
      entry.dkimKeys[k.selector] = k.publicKey;
    }
    const { preflightDomains } = await import('./auth/preflight.js');
    return preflightDomains(domains, { ...(keys.length > 0 ? { domains: perDomain } : {}), ...base, ...overrides });
  }

  /** Rejects with PREFLIGHT when the From domain fails a required check (cached per domain). */
  private async requirePreflight(from: string): Promise<void> {
    const domain = domainOf(from);
    const now = this.clock.now();
    let cached = this.preflightCache.get(domain);
    if (cached === undefined || now - cached.at > (this.preflightOptions.cacheMs ?? 3_600_000)) {
      const result = this.preflight({ froms: [domain] });
      cached = { at: now, result };
      this.preflightCache.set(domain, cached);
      // A check that could not run (bad options) is not remembered.
      result.catch(() => this.preflightCache.delete(domain));
    }
    const result = await cached.result;
    if (!result.ok) {
      const items = result.blocking.map((b) => `${b.item.id}: ${b.item.title}${b.item.fix !== undefined ? ` (fix: ${b.item.fix})` : ''}`);
      throw new MailError(`Marketing mail from ${domain} is refused until its sending-domain checks pass: ${items.join('; ')}`, { code: MailErrorCode.PREFLIGHT });
    }
  }

  /**
   * Keeps the process alive while `promise` is pending. The mailer's timers are unref()'ed so
   * that an idle mailer never holds a process open; but a script awaiting a delivery whose only
   * pending work is a retry timer must not exit before it.
   */
  private keepAliveUntil<T>(promise: Promise<T>): Promise<T> {
    if (this.holds++ === 0) this.keepAlive = setInterval(() => undefined, 1 << 30);
    const release = (): void => {
      if (--this.holds === 0) clearInterval(this.keepAlive);
    };
    promise.then(release, release);
    return promise;
  }

  close(options: CloseOptions = {}): Promise<CloseResult> {
    this.closePromise ??= this.doClose(options);
    return this.closePromise;
  }

  // -------------------------------------------------------------------------------------

  private async recover(): Promise<void> {
    const source = await this.store.recover();
    const now = this.clock.now();
    for await (const entry of source as AsyncIterable<{ message: NormalizedMessage; jobs: readonly Job[] }>) {
      if (this.records.has(entry.message.id)) continue;
      const jobs = entry.jobs.filter((j) => j.state !== 'sent' && j.state !== 'failed' && j.state !== 'expired');
      if (jobs.length === 0) continue;
      const rec: MessageRecord = { message: entry.message, jobs, pending: jobs.length, results: [], waiters: undefined, report: undefined, aborted: false, detach: undefined, dueAt: now };
      this.records.set(entry.message.id, rec);
      this.wasIdle = false;
      for (const job of jobs) this.scheduler.enqueue(job);
    }
    this.checkIdle();
  }

  /**
   * One job per recipient domain; a transport that builds the envelope itself from the whole
   * message (`wholeMessage`, like SendGrid) gets one job with every recipient, limited by the
   * first recipient's domain.
   */
  private planJobs(message: NormalizedMessage): Iterable<[string, string[]]> {
    if (this.transport.capabilities.wholeMessage !== true) return recipientsByDomain(message);
    const recipients = allRecipients(message);
    return [[domainOf(recipients[0] as string), recipients]];
  }

  private remember(key: string, receipt: SendReceipt, now: number): void {
    // Insertion order equals expiry order (the window is constant), so pruning from the front is enough.
    for (const [k, v] of this.idempotency) {
      if (v.expiresAt > now) break;
      this.idempotency.delete(k);
    }
    this.idempotency.set(key, { receipt, expiresAt: now + this.idempotencyWindowMs });
  }

  private receipt(rec: MessageRecord, duplicate: boolean): SendReceipt {
    return {
      id: rec.message.id,
      messageId: rec.message.messageId,
      message: rec.message,
      jobs: rec.jobs.map((j) => ({ jobId: j.id, domain: j.domain, recipients: [...j.recipients] })),
      duplicate,
      done: () => {
        if (rec.report !== undefined) return Promise.resolve(rec.report);
        return this.keepAliveUntil(new Promise<DeliveryReport>((resolve) => (rec.waiters ??= []).push(resolve)));
      },
    };
  }

  private eventBase(job: Job, rec: MessageRecord, recipients: readonly string[]): JobEventBase {
    const m = rec.message;
    return {
      jobId: job.id,
      id: m.id,
      messageId: m.messageId,
      domain: job.domain,
      recipients,
      attempt: job.attempt,
      priority: job.priority,
      category: m.category,
      transport: this.transport.name,
      tags: m.tags,
      metadata: m.metadata,
    };
  }

  /** Store writes are journal updates: a failure is reported but never loses the in-memory state. */
  private storeCall(method: 'update' | 'remove', job: Job): void {
    try {
      const r = this.store[method](job);
      if (r !== undefined) r.catch((err: unknown) => this.reportStoreError(method, err));
    } catch (err) {
      this.reportStoreError(method, err);
    }
  }

  private reportStoreError(method: string, err: unknown): void {
    const error = new MailError(`Queue store (${this.store.name}) ${method} failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err });
    if (this.emitter.has('error')) this.emitter.emit('error', { error, context: `store.${method}` });
    else process.emitWarning(error.message, { code: error.code });
  }

  private startJob(job: Job): void {
    const controller = new AbortController();
    const entry = { controller, settled: undefined as unknown as Promise<void> };
    this.inflight.set(job.id, entry);
    entry.settled = this.runJob(job, controller.signal);
  }

  private async runJob(job: Job, signal: AbortSignal): Promise<void> {
    const rec = this.records.get(job.messageRef);
    if (rec === undefined) {
      // Cannot happen: a job lives as long as its record. Fail safe rather than hang.
      this.inflight.delete(job.id);
      this.scheduler.release(job);
      return;
    }
    if (!(await this.dropSuppressed(job, rec))) return;
    job.attempt++;
    this.storeCall('update', job);
    if (this.emitter.has('sending')) this.emitter.emit('sending', this.eventBase(job, rec, job.recipients));
    let result: SendResult | undefined;
    let error: MailError | undefined;
    try {
      // The job id travels in a header (and, with VERP, in the envelope sender) so that bounces,
      // complaints and provider events correlate back to this job.
      const message: NormalizedMessage = { ...rec.message, headers: [...rec.message.headers, ['X-Mailpush-Job-Id', job.id]] };
      const from = this.verp === undefined ? rec.message.returnPath : this.verp.encode(job.id, job.recipients.length === 1 ? job.recipients[0] : undefined);
      const prepared = prepareMessage(job.id, message, { from, to: job.recipients }, this.dkim?.signerFor(rec.message));
      result = await this.transport.send(prepared, { signal, attempt: job.attempt });
      if (typeof result !== 'object' || result === null || !Array.isArray(result.accepted)) {
        throw new MailError(`Transport ${this.transport.name} resolved with an invalid result: ${describeValue(result)}`, { code: MailErrorCode.INTERNAL, retryable: true });
      }
    } catch (err) {
      result = undefined;
      error = isMailError(err) ? err : new MailError(`Transport ${this.transport.name} failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.INTERNAL, retryable: true, cause: err });
    }
    this.inflight.delete(job.id);

    if (error !== undefined && this.handingBack && (error.code === MailErrorCode.ABORTED || signal.aborted)) {
      // close() gave up waiting: the attempt does not count and the job stays in the store.
      job.attempt--;
      job.state = 'ready';
      job.runAt = this.clock.now();
      this.storeCall('update', job);
      this.scheduler.release(job);
      return;
    }

    // Throttle the domain (or the transport) before the released slot lets the next job go out.
    const rejected = result?.rejected ?? [];
    const throttleError = error !== undefined && isThrottle(error) ? error : rejected.find((r) => isThrottle(r.error))?.error;
    if (throttleError !== undefined) {
      const scope = throttleError.code === MailErrorCode.TRANSPORT_PAUSED || throttleError.scope === 'transport' ? 'transport' : 'domain';
      const change =
        throttleError.code === MailErrorCode.TRANSPORT_PAUSED
          ? this.scheduler.pauseTransport(throttleError.retryAfterMs)
          : scope === 'transport'
            ? this.scheduler.throttleTransport(throttleError.retryAfterMs)
            : this.scheduler.throttle(job.domain, throttleError.retryAfterMs);
      if (change !== undefined) {
        this.totals.throttled++;
        this.emitter.emit('throttled', {
          scope,
          domain: job.domain,
          transport: result?.transport ?? throttleError.transport ?? this.transport.name,
          pausedUntil: change.pausedUntil,
          ratePerSecond: change.ratePerSecond,
          concurrency: change.concurrency,
          error: throttleError,
        });
      }
    }
    this.scheduler.release(job);

    if (result !== undefined) this.onResult(job, rec, result);
    else this.onError(job, rec, error as MailError, job.recipients);
    this.checkIdle();
  }

  /**
   * Takes suppressed recipients out of the job (final 'suppressed'). Returns false when none is
   * left, after ending the job. A failing suppression list defers the job: sending to an address
   * that may have unsubscribed is worse than sending late.
   */
  private async dropSuppressed(job: Job, rec: MessageRecord): Promise<boolean> {
    const m = rec.message;
    const scopes = m.tags.list === undefined ? [m.category] : [m.category, m.tags.list];
    const now = this.clock.now();
    let blocked: string[] | undefined;
    let entry: Awaited<ReturnType<SuppressionStore['find']>>;
    try {
      for (const address of job.recipients) {
        const found = this.suppression.find(address, scopes, now);
        entry = found instanceof Promise ? await found : found;
        if (entry !== undefined) (blocked ??= []).push(address);
      }
    } catch (err) {
      job.attempt++;
      this.inflight.delete(job.id);
      this.scheduler.release(job);
      this.onError(job, rec, new MailError(`Suppression list (${this.suppression.name}) failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err }), job.recipients);
      this.checkIdle();
      return false;
    }
    if (blocked === undefined) return true;
    const error = new MailError(`Recipient is on the suppression list${entry?.reason !== undefined ? ` (${entry.reason})` : ''}`, { code: MailErrorCode.SUPPRESSED, retryable: false });
    this.finish(job, rec, blocked, 'suppressed', error, undefined, 'suppressed');
    const rest = job.recipients.filter((a) => !blocked.includes(a));
    if (rest.length > 0) {
      job.recipients = rest;
      return true;
    }
    this.inflight.delete(job.id);
    this.scheduler.release(job);
    this.jobDone(job, rec, 'failed');
    this.checkIdle();
    return false;
  }

  private onResult(job: Job, rec: MessageRecord, result: SendResult): void {
    const rejectedSet = new Set(result.rejected.map((r) => r.address));
    const accepted = job.recipients.filter((a) => !rejectedSet.has(a));
    if (accepted.length > 0) {
      this.scheduler.recordSuccess(job.domain);
      this.finish(job, rec, accepted, 'sent', undefined, result);
    }
    const retry: string[] = [];
    let retryError: MailError | undefined;
    for (const r of result.rejected) {
      if (r.error.retryable) {
        retry.push(r.address);
        if (retryError === undefined || isThrottle(r.error)) retryError = r.error;
      } else {
        this.finish(job, rec, [r.address], 'failed', r.error, undefined, 'permanent');
      }
    }
    if (retry.length > 0) {
      job.recipients = retry;
      this.onError(job, rec, retryError as MailError, retry);
    } else {
      this.jobDone(job, rec);
    }
  }

  private onError(job: Job, rec: MessageRecord, error: MailError, recipients: readonly string[]): void {
    const now = this.clock.now();
    if (rec.aborted) {
      this.finalFailure(job, rec, recipients, 'aborted', abortError(error));
      return;
    }
    if (isThrottle(error)) {
      job.attempt--; // a throttle or a paused account says nothing about this message: it does not count
      if (now - job.createdAt >= this.retry.maxAgeMs) {
        this.finalFailure(job, rec, recipients, 'expired', expiredError(error, job));
        return;
      }
      job.runAt = Math.max(now, this.scheduler.pausedUntil(job.domain));
      job.lastError = error.toJSON();
      this.storeCall('update', job);
      this.totals.deferred++;
      if (this.emitter.has('deferred')) this.emitter.emit('deferred', { ...this.eventBase(job, rec, recipients), retryAt: job.runAt, error, throttled: true });
      this.scheduler.requeueFront(job);
      return;
    }
    if (error.retryable) {
      const decision = nextRetry(this.retry, job.attempt, job.createdAt, now, error.retryAfterMs, this.random);
      if (!decision.retry) {
        this.finalFailure(job, rec, recipients, 'expired', expiredError(error, job));
        return;
      }
      job.runAt = decision.at;
      job.lastError = error.toJSON();
      this.storeCall('update', job);
      this.totals.deferred++;
      if (this.emitter.has('deferred')) this.emitter.emit('deferred', { ...this.eventBase(job, rec, recipients), retryAt: decision.at, error, throttled: false });
      this.scheduler.enqueue(job);
      return;
    }
    this.finalFailure(job, rec, recipients, 'permanent', error);
  }

  private finalFailure(job: Job, rec: MessageRecord, recipients: readonly string[], reason: FailureReason, error: MailError): void {
    this.finish(job, rec, recipients, reason === 'expired' || reason === 'aborted' || reason === 'suppressed' ? reason : 'failed', error, undefined, reason);
    this.jobDone(job, rec, reason === 'expired' ? 'expired' : 'failed');
  }

  /** Records final results for some recipients of a job and emits `sent` or `failed`. */
  private finish(
    job: Job,
    rec: MessageRecord,
    recipients: readonly string[],
    status: Exclude<RecipientStatus, 'pending'>,
    error: MailError | undefined,
    result: SendResult | undefined,
    reason?: FailureReason,
  ): void {
    const transport = result?.transport ?? this.transport.name;
    for (const address of recipients) {
      rec.results.push({
        address,
        status,
        jobId: job.id,
        attempts: job.attempt,
        transport,
        ...(result?.response !== undefined ? { response: result.response } : {}),
        ...(result?.providerMessageId !== undefined ? { providerMessageId: result.providerMessageId } : {}),
        ...(error !== undefined ? { error } : {}),
      });
    }
    if (status === 'sent') {
      this.totals.sent++;
      if (this.emitter.has('sent')) {
        this.emitter.emit('sent', {
          ...this.eventBase(job, rec, recipients),
          sentBy: transport,
          latencyMs: this.clock.now() - Math.max(rec.dueAt, job.createdAt),
          ...(result?.response !== undefined ? { response: result.response } : {}),
          ...(result?.providerMessageId !== undefined ? { providerMessageId: result.providerMessageId } : {}),
        });
      }
    } else {
      if (status === 'expired') this.totals.expired++;
      else this.totals.failed++;
      if (this.emitter.has('failed')) {
        const e = error as MailError;
        const hard = (reason ?? 'permanent') === 'permanent' && e.category !== undefined && (HARD_CATEGORIES as ReadonlySet<string>).has(e.category);
        this.emitter.emit('failed', { ...this.eventBase(job, rec, recipients), reason: reason ?? 'permanent', error: e, hard });
      }
    }
  }

  private jobDone(job: Job, rec: MessageRecord, state: 'sent' | 'failed' | 'expired' = 'sent'): void {
    job.state = state;
    this.storeCall('remove', job);
    if (--rec.pending === 0) this.completeRecord(rec, false);
    if (this.drainWaiters.length > 0) {
      const held = this.held();
      this.drainWaiters = this.drainWaiters.filter((w) => (held <= w.level ? (w.resolve(), false) : true));
    }
  }

  private completeRecord(rec: MessageRecord, closing: boolean): void {
    this.records.delete(rec.message.id);
    rec.detach?.();
    rec.detach = undefined;
    const results = [...rec.results];
    if (closing) {
      for (const job of rec.jobs) {
        if (job.state === 'sent' || job.state === 'failed' || job.state === 'expired') continue;
        for (const address of job.recipients) results.push({ address, status: 'pending', jobId: job.id, attempts: job.attempt });
      }
    }
    const sent = results.filter((r) => r.status === 'sent').length;
    const status: DeliveryReport['status'] = closing && results.some((r) => r.status === 'pending') ? 'pending' : sent === results.length ? 'sent' : sent === 0 ? 'failed' : 'partial';
    rec.report = Object.freeze({ id: rec.message.id, messageId: rec.message.messageId, status, recipients: Object.freeze(results) });
    const waiters = rec.waiters;
    rec.waiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w(rec.report);
  }

  private abortMessage(rec: MessageRecord, reason: unknown): void {
    if (rec.aborted || rec.report !== undefined) return;
    rec.aborted = true;
    const error = new MailError('The send was aborted', { code: MailErrorCode.ABORTED, cause: reason });
    for (const job of rec.jobs) {
      if (job.state === 'sending') {
        this.inflight.get(job.id)?.controller.abort(reason);
      } else if (this.scheduler.cancel(job)) {
        this.finalFailure(job, rec, job.recipients, 'aborted', error);
      }
    }
    this.checkIdle();
  }

  private checkIdle(): void {
    if (!this.scheduler.idle) {
      this.wasIdle = false;
      return;
    }
    if (this.wasIdle) return;
    this.wasIdle = true;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
    this.emitter.emit('idle', { at: this.clock.now() });
  }

  private async doClose(options: CloseOptions): Promise<CloseResult> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) throw configError('close.timeoutMs', 'a number >= 0', timeoutMs);
    this.closing = true;
    await this.readyPromise.catch(() => undefined);
    if (options.drain === true) await withTimeout(this.onIdle(), timeoutMs);
    this.scheduler.pause();
    const settled = (): Promise<unknown> => Promise.all([...this.inflight.values()].map((e) => e.settled));
    if (!(await withTimeout(settled(), timeoutMs))) {
      this.handingBack = true;
      for (const e of this.inflight.values()) e.controller.abort(new MailError('The mailer is closing', { code: MailErrorCode.CLOSED }));
      await withTimeout(settled(), 1_000);
    }
    this.scheduler.stop();
    for (const rec of [...this.records.values()]) this.completeRecord(rec, true);
    const waiters = [...this.idleWaiters, ...this.drainWaiters.map((w) => w.resolve)];
    this.idleWaiters = [];
    this.drainWaiters = [];
    for (const w of waiters) w();
    try {
      await this.transport.close?.();
    } catch (err) {
      this.reportStoreError('transport.close', err);
    }
    let pending = 0;
    try {
      pending = await this.store.size();
      if (this.ownsStore) await this.store.close?.();
    } catch (err) {
      this.reportStoreError('close', err);
    }
    return { pending };
  }
}

/** A throttle (domain or transport) or a paused transport: requeue without counting the attempt. */
function isThrottle(error: MailError | undefined): boolean {
  return error !== undefined && (error.code === MailErrorCode.THROTTLED || error.code === MailErrorCode.TRANSPORT_PAUSED);
}

function abortError(cause: MailError): MailError {
  return cause.code === MailErrorCode.ABORTED ? cause : new MailError('The send was aborted', { code: MailErrorCode.ABORTED, cause });
}

function expiredError(cause: MailError, job: Job): MailError {
  return new MailError(`Gave up after ${job.attempt} attempt(s): ${cause.message}`, {
    code: MailErrorCode.EXPIRED,
    retryable: false,
    cause,
    ...(cause.responseCode !== undefined ? { responseCode: cause.responseCode } : {}),
    ...(cause.enhancedStatus !== undefined ? { enhancedStatus: cause.enhancedStatus } : {}),
    ...(cause.response !== undefined ? { response: cause.response } : {}),
    ...(cause.transport !== undefined ? { transport: cause.transport } : {}),
    category: 'expired',
  });
}

/** Resolves true when `promise` settled within `ms`, false on timeout. Uses a real, unref()'ed timer. */
function withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

/**
 * The campaign loop behind {@link Mailer.sendMany}: reads `source`, sends each item, counts
 * validation failures, and awaits `backpressure` after each item.
 * @internal
 */
export async function runCampaign(
  send: (message: MessageInput, options: SendOptions) => Promise<unknown>,
  source: Iterable<CampaignItem> | AsyncIterable<CampaignItem>,
  options: SendManyOptions,
  backpressure: () => Promise<void> | undefined,
): Promise<CampaignResult> {
  const every = options.progressEvery ?? 1_000;
  if (!Number.isInteger(every) || every < 1) throw configError('sendMany.progressEvery', 'an integer >= 1', every);
  if (source === null || typeof source !== 'object' || (!(Symbol.asyncIterator in source) && !(Symbol.iterator in source))) {
    throw configError('sendMany.source', 'an iterable or async iterable of messages', source);
  }
  let read = 0;
  let queued = 0;
  let invalid = 0;
  const errors: { index: number; error: MailError }[] = [];
  for await (const item of source as AsyncIterable<CampaignItem>) {
    if (options.signal?.aborted) return { read, queued, invalid, errors, aborted: true };
    const index = read++;
    const wrapped = typeof item === 'object' && item !== null && 'message' in item && typeof item.message === 'object' && item.message !== null;
    const message = wrapped ? (item as { message: MessageInput }).message : (item as MessageInput);
    const sendOptions = (wrapped ? (item as { options?: SendOptions }).options : undefined) ?? options.defaults ?? {};
    try {
      await send(message, sendOptions);
      queued++;
    } catch (err) {
      const error = toMailError(err);
      // The mailer itself cannot take more: stop rather than count every item as invalid.
      if (error.code === MailErrorCode.CLOSED || error.code === MailErrorCode.STORE) throw error;
      invalid++;
      if (errors.length < 100) errors.push({ index, error });
    }
    if (read % every === 0) options.onProgress?.({ read, queued, invalid });
    const wait = backpressure();
    if (wait !== undefined) await wait;
  }
  options.onProgress?.({ read, queued, invalid });
  return { read, queued, invalid, errors, aborted: false };
}

/**
 * Creates a mailer.
 *
 * @example
 * ```ts
 * import { createMailer, smtpTransport } from 'mailpush';
 *
 * const mailer = createMailer({
 *   transport: smtpTransport({ host: 'smtp.example.com', port: 465, secure: true, auth: { user, pass } }),
 *   limits: { domains: { 'gmail.com': { ratePerSecond: 20 } } },
 * });
 * const receipt = await mailer.send(
 *   { from: 'App <app@example.com>', to: 'ann@example.org', subject: 'Reset', text: '...' },
 *   { priority: 'critical' },
 * );
 * const report = await receipt.done();
 * ```
 */
export function createMailer(options: MailerOptions): Mailer {
  try {
    return new MailerImpl(options);
  } catch (err) {
    throw toMailError(err, MailErrorCode.CONFIG);
  }
}
