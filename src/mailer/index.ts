/**
 * `createMailer()`: validates options and wires the path of a message. Each stage has its own
 * module, in the order a message meets them:
 *
 * 1. {@link acceptMessage} (accept.ts): validate, normalize, plan jobs;
 * 2. idempotency (here): concurrent and repeated sends with one key share the first receipt;
 * 3. {@link Journal} (journal.ts): accepted means spooled, every transition journaled;
 * 4. the {@link Scheduler} (queue/) and the {@link Backlog} window (backlog.ts): when each job may go;
 * 5. {@link Deliverer} (deliver.ts): suppression, prepare, transport, throttle;
 * 6. {@link Settler} (settle.ts): results, retries, events; reports.ts builds receipts and reports.
 *
 * @module
 */

import { MailError, MailErrorCode, configError, toMailError } from '../errors.js';
import { createDkimSigner } from '../auth/dkim.js';
import type { DkimSigner } from '../auth/dkim.js';
import type { PreflightOptions, PreflightResult } from '../auth/preflight.js';
import type { FeedbackPolicy, SuppressionPolicyOptions } from '../feedback/policy.js';
import { createFeedbackProcessor } from '../feedback/processor.js';
import type { FeedbackProcessor } from '../feedback/processor.js';
import { createVerp } from '../feedback/verp.js';
import type { Verp } from '../feedback/verp.js';
import type { MailerEvents, MailerListener } from '../events.js';
import { domainOf, validateMessageLimits } from '../message/index.js';
import { resolveLimits, resolveThrottle, resolveWeights } from '../queue/limits.js';
import { Scheduler } from '../queue/scheduler.js';
import { slice } from '../queue/slice.js';
import { resolveRetryOptions } from '../retry/schedule.js';
import { memoryStore } from '../stores/memory-store.js';
import { PRIORITIES, systemClock } from '../types.js';
import type { Clock, Job, MailerStore, MessageInput, NormalizedMessage, Priority, QueueStore, StoredEntry, SubscriptionStore, SuppressionStore, Transport } from '../types.js';
import { NO_SEND_OPTIONS, acceptMessage, checkSendOptions } from './accept.js';
import type { AcceptSettings } from './accept.js';
import { Backlog } from './backlog.js';
import { CampaignControl } from './campaign.js';
import { resolveComplaintGuard } from '../campaigns/complaint-guard.js';
import type { Campaign, ComplaintGuardControl } from '../campaigns/types.js';
import { memoryCampaignStore } from '../stores/campaigns-memory.js';
import { MailerCore, addJobs, newRecord } from './core.js';
import type { MessageRecord } from './core.js';
import { Deliverer, fleetGates } from './deliver.js';
import { SenderChecks } from './sender-checks.js';
import { createShapers } from './shape.js';
import { resolveUnsubscribe } from '../unsubscribe/settings.js';
import type { UnsubscribeSettings } from '../unsubscribe/settings.js';
import { memorySubscriptionStore } from '../stores/subscriptions-memory.js';
import { withConsentGate } from '../unsubscribe/consent.js';
import { Journal } from './journal.js';
import { attachLogger, checkLogger } from './logging.js';
import { TransportHealth } from './transport-health.js';
import { validateOptions } from './options.js';
import type {
  CampaignItem,
  CampaignResult,
  CloseOptions,
  CloseResult,
  DeliveryReport,
  Mailer,
  MailerOptions,
  MailerStats,
  SendManyOptions,
  SendOptions,
  SendReceipt,
  VerifyResult,
} from './options.js';
import { completeRecord, fromStored, pendingReport, receiptOf, reportFromStatus, reportOf } from './reports.js';
import { Settler, abortError } from './settle.js';

export { runCampaign } from './campaign.js';
export type {
  CampaignItem,
  CampaignProgress,
  CampaignResult,
  CloseOptions,
  CloseResult,
  DeliveryReport,
  Mailer,
  MailerFeedbackOptions,
  MailerOptions,
  MailerPreflightOptions,
  MailerStats,
  MailerTotals,
  RecipientResult,
  RecipientStatus,
  SendManyOptions,
  SendOptions,
  SendReceipt,
  VerifyResult,
} from './options.js';

const DEFAULT_PRIORITY = { transactional: 'normal', marketing: 'bulk' } as const;

/** The whole store from the `store` option: a MailerStore as given, a bare QueueStore with memory parts around it. */
function resolveStore(store: MailerStore | QueueStore | undefined, clock: Clock): { store: MailerStore; owned: boolean } {
  // Retention of sent records follows the mailer's clock (a virtual one in tests).
  const memory = (): MailerStore => memoryStore({ correlation: { now: () => clock.now() } });
  if (store === undefined) return { store: memory(), owned: true };
  if ('queue' in store) return { store, owned: true };
  const parts = memory();
  return { store: { ...parts, name: store.name, queue: store, close: () => parts.close?.() }, owned: false };
}

/** Messages waiting on disk whose `done()` was called: their reports come once they complete. */
interface SpilledWait {
  readonly jobs: readonly Job[];
  readonly message: NormalizedMessage;
  readonly waiters: ((report: DeliveryReport) => void)[];
}


class MailerImpl implements Mailer {
  readonly transport: Transport;
  readonly store: MailerStore;
  readonly suppression: SuppressionStore;
  readonly feedback: FeedbackProcessor;
  readonly tracking: MailerOptions['tracking'];
  readonly unsubscribe: UnsubscribeSettings | undefined;
  readonly subscriptions: SubscriptionStore;
  private readonly core: MailerCore;
  private readonly journal: Journal;
  private readonly backlog: Backlog;
  private readonly settler: Settler;
  private readonly deliverer: Deliverer;
  private readonly ownsStore: boolean;
  private readonly verp: Verp | undefined;
  private readonly dkim: DkimSigner | undefined;
  private readonly accept: AcceptSettings;
  private readonly checks: SenderChecks;
  private readonly campaigns: CampaignControl;
  private readonly health: TransportHealth;
  private readonly idempotencyWindowMs: number;
  /** Sends in progress by idempotency key: a concurrent duplicate resolves to the first one's receipt. */
  private readonly keysInFlight = new Map<string, Promise<SendReceipt>>();
  private readonly spilledWaits = new Map<string, SpilledWait>();
  private readonly startedAt: number;
  private readonly readyPromise: Promise<void>;
  private closePromise: Promise<CloseResult> | undefined;

  constructor(options: MailerOptions) {
    validateOptions(options);
    this.transport = options.transport;
    const clock = options.clock ?? systemClock;
    this.startedAt = clock.now();
    const resolved = resolveStore(options.store, clock);
    this.store = resolved.store;
    this.ownsStore = resolved.owned;
    this.suppression = options.suppression ?? this.store.suppression;
    this.core = new MailerCore(this.transport, clock);
    this.health = new TransportHealth(this.transport, this.core.emitter, clock);
    this.journal = new Journal(this.store.queue, this.core);
    this.verp = options.verp === undefined ? undefined : createVerp(options.verp);
    this.feedback = this.createFeedback(options);
    // Registered first, so the log line of an event precedes what other listeners do with it.
    if (options.logger !== undefined) attachLogger((event, listener) => this.core.emitter.on(event, listener), checkLogger(options.logger));
    this.tracking = options.tracking;
    this.unsubscribe = resolveUnsubscribe(options);
    this.subscriptions = this.store.subscriptions ?? memorySubscriptionStore();
    if (options.dkim !== undefined && this.transport.capabilities.rawMime !== true) {
      throw configError('dkim', `a raw-MIME transport: ${this.transport.name} builds its own MIME, so sign with the provider`, options.dkim);
    }
    this.dkim = options.dkim === undefined ? undefined : createDkimSigner(options.dkim, clock);
    if (options.preflight !== undefined && (typeof options.preflight !== 'object' || options.preflight === null)) throw configError('preflight', 'an object', options.preflight);
    this.checks = new SenderChecks(options.preflight ?? {}, this.dkim, clock);
    this.accept = {
      transport: this.transport,
      limits: validateMessageLimits(options.messageLimits, 'messageLimits'),
      defaultPriority: { ...DEFAULT_PRIORITY, ...options.defaultPriority },
      messageIdDomain: options.messageIdDomain,
      allowLocalDomains: options.allowLocalDomains === true,
      shapers: createShapers(options),
      domains: new Map(),
    };
    this.idempotencyWindowMs = options.idempotencyWindowMs ?? 86_400_000;
    this.settler = new Settler(this.core, this.journal, resolveRetryOptions(options.retry), options.random ?? Math.random);
    this.campaigns = new CampaignControl({
      core: this.core,
      settler: this.settler,
      store: this.store.campaigns ?? memoryCampaignStore(),
      correlation: this.store.correlation,
      guard: resolveComplaintGuard(options.complaintGuard),
    });
    const limits = resolveLimits(options.limits, this.transport.capabilities);
    // The fleet shares an account's rate and the limits set for it, never one process's own
    // connection count (each process has its own pool).
    const fleetTransport = resolveLimits({ transport: options.limits?.transport ?? {} }, { ratePerSecond: this.transport.capabilities.ratePerSecond });
    this.core.shared = this.store.queue.shared !== undefined;
    this.deliverer = new Deliverer(this.core, {
      journal: this.journal,
      settler: this.settler,
      // With unsubscribe.requireConsent, marketing mail of a list also needs a subscribed record.
      suppression: this.unsubscribe?.requireConsent === true ? withConsentGate(this.suppression, this.subscriptions) : this.suppression,
      correlation: this.store.correlation,
      verp: this.verp,
      dkim: this.dkim,
      limiter: this.store.limiter,
      gates: fleetGates(limits, fleetTransport),
      health: this.health,
      hold: (job, rec) => this.campaigns.hold(job, rec),
    });
    this.core.scheduler = new Scheduler({
      clock,
      limits,
      weights: resolveWeights(options.priorityWeights),
      throttle: resolveThrottle(options.throttle),
      dispatch: (job, now) => this.deliverer.start(job, now),
      onDue: (job) => this.journal.update(job, this.core.records.get(job.messageRef)),
    });
    this.backlog = new Backlog(this.core, this.journal, options.maxJobsInMemory ?? 10_000, (entry) => this.load(entry));
    this.core.backlogBusy = () => this.backlog.busy;
    this.core.onComplete = (report) => {
      this.backlog.completed(report.id);
      // Most mailers never wait on a spilled message: no lookup per completed message then.
      const wait = this.spilledWaits.size === 0 ? undefined : this.spilledWaits.get(report.id);
      if (wait !== undefined) {
        this.spilledWaits.delete(report.id);
        for (const w of wait.waiters) w(report);
      }
      this.backlog.maybeRefill();
    };
    this.readyPromise = this.recover();
    // recover() reports its own failure through ready(); keep it from being unhandled.
    this.readyPromise.catch(() => undefined);
  }

  /** The feedback processor, bound to this mailer's suppression list, soft-bounce counter, correlation data and VERP. */
  private createFeedback(options: MailerOptions): FeedbackProcessor {
    const fb = options.feedback;
    const given = fb?.policy;
    const policy: FeedbackPolicy | SuppressionPolicyOptions =
      given !== undefined && typeof (given as Partial<FeedbackPolicy>).evaluate === 'function'
        ? (given as FeedbackPolicy)
        : { counter: this.store.softBounces, ...(given as SuppressionPolicyOptions | undefined) };
    return createFeedbackProcessor({
      suppression: this.suppression,
      now: () => this.core.clock.now(),
      policy,
      correlation: this.store.correlation,
      ...(fb?.rawTrust !== undefined ? { rawTrust: fb.rawTrust } : {}),
      ...(fb?.resolveCorrelation !== undefined ? { resolveCorrelation: fb.resolveCorrelation } : {}),
      ...(this.verp !== undefined ? { verp: this.verp } : {}),
      onEvent: async (given, processed) => {
        // Completed with its campaign, counted for it, complaints fed to the guard (campaign.ts).
        const event = await this.campaigns.onFeedback(given);
        this.core.emitter.emit('feedback', event);
        await fb?.onEvent?.(event, processed);
      },
    });
  }

  get closed(): boolean {
    return this.core.closing;
  }

  on<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): () => void {
    return this.core.emitter.on(event, listener);
  }

  once<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): () => void {
    return this.core.emitter.once(event, listener);
  }

  off<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): void {
    this.core.emitter.off(event, listener);
  }

  ready(): Promise<void> {
    return this.readyPromise;
  }

  verify(): Promise<VerifyResult> {
    return this.health.verify();
  }

  send(input: MessageInput, options: SendOptions = NO_SEND_OPTIONS): Promise<SendReceipt> {
    try {
      if (this.core.closing) throw new MailError('The mailer is closed', { code: MailErrorCode.CLOSED });
      checkSendOptions(options);
    } catch (err) {
      return Promise.reject(err);
    }
    const key = options.idempotencyKey;
    if (key === undefined) return this.queue(input, options, undefined);
    // Reserved before the first await, so concurrent duplicates find it.
    const first = this.keysInFlight.get(key);
    if (first !== undefined) {
      return first.then(
        (receipt) => (receipt.duplicate ? receipt : { ...receipt, duplicate: true }),
        () => this.send(input, options),
      );
    }
    const promise = this.queue(input, options, key);
    this.keysInFlight.set(key, promise);
    const clear = (): void => {
      if (this.keysInFlight.get(key) === promise) this.keysInFlight.delete(key);
    };
    promise.then(clear, clear);
    return promise;
  }

  /** Accept, claim the idempotency key, journal, then take the message into memory or leave it on disk. */
  private async queue(input: MessageInput, options: SendOptions, key: string | undefined): Promise<SendReceipt> {
    const core = this.core;
    // A tight `await send()` loop (or sendMany) is one long chain of microtasks: give the
    // host's timers and I/O a turn every few ms (see queue/slice.ts).
    const turn = slice();
    if (turn !== undefined) {
      await turn;
      if (core.closing) throw new MailError('The mailer is closed', { code: MailErrorCode.CLOSED });
    }
    const now = core.clock.now();
    const { message, jobs, priority, runAt } = acceptMessage(input, options, this.accept, now);
    // Without an await since `now` was read, the scheduler starts its pump with it (no second
    // clock read in the same synchronous turn).
    let pumpAt: number | undefined = now;
    if (message.category === 'marketing') {
      pumpAt = undefined;
      await this.checks.requireFor(message.from.address);
    }
    if (key !== undefined) {
      pumpAt = undefined;
      const holder = await this.claim(key, message.id, now);
      if (holder !== message.id) return this.duplicateReceipt(holder, message);
    }
    try {
      // The memory store writes synchronously: no await (and no promise) per send then.
      const added = this.journal.add({ message, jobs });
      if (added !== undefined) {
        pumpAt = undefined;
        await added;
      }
    } catch (err) {
      if (key !== undefined) await this.release(key, message.id);
      throw err;
    }
    // A refill of the backlog may already have read it back (only while the store's write was
    // awaited: nothing else runs between a synchronous write and here).
    const loaded = pumpAt === undefined ? core.records.get(message.id) : undefined;
    if (loaded !== undefined) return receiptOf(core, loaded, false);
    if (core.closing) {
      // Closed while the store wrote: the jobs stay in the store for the next run.
      throw new MailError('The mailer closed while the message was being queued; it is kept in the store', { code: MailErrorCode.CLOSED });
    }
    const signal = options.signal;
    // A shared queue hands the jobs to whichever process of the fleet takes them.
    if (core.shared) return this.detached(message, jobs);
    if (signal === undefined && this.backlog.shouldSpill(priority, jobs.length)) return this.detached(message, jobs);
    const rec = newRecord(message, jobs, runAt);
    core.records.set(message.id, rec);
    const receipt = receiptOf(core, rec, false);
    if (signal !== undefined) {
      const onAbort = (): void => this.abortMessage(rec, signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      rec.detach = () => signal.removeEventListener('abort', onAbort);
    }
    core.wasIdle = false;
    for (const job of jobs) {
      core.totals.queued++;
      if (core.emitter.has('queued')) core.emitter.emit('queued', { ...core.eventBase(job, rec, job.recipients), runAt: job.runAt });
      core.scheduler.enqueue(job, pumpAt);
      // A dispatch may have taken time since: the next job's pump reads the clock.
      pumpAt = undefined;
    }
    if (signal?.aborted) this.abortMessage(rec, signal.reason);
    return receipt;
  }

  private async claim(key: string, id: string, now: number): Promise<string> {
    const store = this.store.idempotency;
    try {
      return await store.claim(key, id, now + this.idempotencyWindowMs, now);
    } catch (err) {
      throw new MailError(`The idempotency store (${store.name}) failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err });
    }
  }

  private async release(key: string, id: string): Promise<void> {
    try {
      await this.store.idempotency.release(key, id);
    } catch (err) {
      this.core.reportError('store.idempotency', `Idempotency store (${this.store.idempotency.name}) release`, err);
    }
  }

  /** The receipt of the message that already holds an idempotency key (sent by this run or, with a durable store, an earlier one). */
  private async duplicateReceipt(holder: string, message: NormalizedMessage): Promise<SendReceipt> {
    const rec = this.core.records.get(holder);
    if (rec !== undefined) return receiptOf(this.core, rec, true);
    const wait = this.spilledWaits.get(holder);
    const report = wait === undefined ? await this.status(holder) : undefined;
    const messageId = wait?.message.messageId ?? report?.messageId ?? message.messageId;
    const jobs = new Map<string, { jobId: string; domain: string; recipients: string[] }>();
    for (const r of report?.recipients ?? []) {
      const j = jobs.get(r.jobId) ?? { jobId: r.jobId, domain: domainOf(r.address), recipients: [] };
      j.recipients.push(r.address);
      jobs.set(r.jobId, j);
    }
    return {
      id: holder,
      messageId,
      message: wait?.message ?? { ...message, id: holder, messageId },
      jobs: wait !== undefined ? wait.jobs.map((j) => ({ jobId: j.id, domain: j.domain, recipients: [...j.recipients] })) : [...jobs.values()],
      duplicate: true,
      // The first message is no longer known (the store forgot it): its outcome cannot be told.
      done: () => (report === undefined && wait === undefined ? Promise.resolve(Object.freeze({ id: holder, messageId, status: 'pending' as const, recipients: [] })) : this.doneById(holder, message, [])),
    };
  }

  /** A message not taken into memory (on disk beyond the window, or in a shared queue): its receipt, and its `queued` events. */
  private detached(message: NormalizedMessage, jobs: readonly Job[]): SendReceipt {
    const core = this.core;
    core.totals.queued += jobs.length;
    if (core.emitter.has('queued')) {
      const rec = newRecord(message, jobs as Job[], jobs[0]?.runAt ?? core.clock.now());
      for (const job of jobs) core.emitter.emit('queued', { ...core.eventBase(job, rec, job.recipients), runAt: job.runAt });
    }
    return {
      id: message.id,
      messageId: message.messageId,
      message,
      jobs: jobs.map((j) => ({ jobId: j.id, domain: j.domain, recipients: [...j.recipients] })),
      duplicate: false,
      done: () => this.doneById(message.id, message, jobs),
    };
  }

  /** `done()` of a message that may not be in memory: waits for it to complete, wherever it is. */
  private doneById(id: string, message: NormalizedMessage, jobs: readonly Job[]): Promise<DeliveryReport> {
    const shared = this.store.queue.shared;
    if (shared !== undefined) {
      // Delivered by any process of the fleet: the store says when the last job is done.
      const pending = (): DeliveryReport => pendingReport(id, message, jobs);
      return this.core.keepAliveUntil(shared.watch(id).then((status) => (status === undefined ? pending() : reportFromStatus(status)), pending));
    }
    const rec = this.core.records.get(id);
    if (rec !== undefined) return receiptOf(this.core, rec, false).done();
    const recent = this.core.recent.get(id);
    if (recent !== undefined) return Promise.resolve(recent);
    return this.core.keepAliveUntil(
      new Promise<DeliveryReport>((resolve) => {
        let wait = this.spilledWaits.get(id);
        if (wait === undefined) this.spilledWaits.set(id, (wait = { jobs, message, waiters: [] }));
        wait.waiters.push(resolve);
        // It may have completed before this call and been forgotten by memory: ask the store.
        this.status(id).then(
          (report) => {
            if (report === undefined || report.status === 'pending' || this.core.records.has(id)) return;
            const w = this.spilledWaits.get(id);
            if (w === undefined) return;
            this.spilledWaits.delete(id);
            for (const f of w.waiters) f(report);
          },
          () => undefined,
        );
      }),
    );
  }

  async status(id: string): Promise<DeliveryReport | undefined> {
    if (typeof id !== 'string') return undefined;
    // With a shared queue only the store sees every job of the message.
    if (!this.core.shared) {
      const rec = this.core.records.get(id);
      if (rec !== undefined) return rec.report ?? reportOf(rec);
      const recent = this.core.recent.get(id);
      if (recent !== undefined) return recent;
    }
    let stored;
    try {
      stored = await this.journal.status(id);
    } catch (err) {
      throw new MailError(`The queue store (${this.store.queue.name}) could not look up ${id}: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err });
    }
    return stored === undefined ? undefined : reportFromStatus(stored);
  }

  sendMany(source: Iterable<CampaignItem> | AsyncIterable<CampaignItem> | (SendManyOptions & { readonly list: string }), options?: SendManyOptions): Promise<CampaignResult> {
    return this.campaigns.sendMany((message, sendOptions) => this.send(message, sendOptions), source, options, this.subscriptions);
  }

  campaign(id: string): Campaign {
    return this.campaigns.handle(id);
  }

  get complaintGuard(): ComplaintGuardControl {
    return this.campaigns.complaintGuard;
  }

  stats(): MailerStats {
    const scheduler = this.core.scheduler;
    const queued = {} as Record<Priority, number>;
    PRIORITIES.forEach((p, i) => {
      queued[p] = scheduler.laneCounts[i] ?? 0;
    });
    return {
      queued,
      scheduled: scheduler.scheduled,
      inflight: scheduler.inflight,
      backlog: this.backlog.busy,
      domains: scheduler.domainStats(),
      transport: scheduler.transportStats(),
      totals: { ...this.core.totals },
    };
  }

  onIdle(): Promise<void> {
    return this.core.onIdle();
  }

  preflight(options: PreflightOptions & { readonly froms?: readonly string[] } = {}): Promise<PreflightResult> {
    return this.checks.run(options);
  }

  close(options: CloseOptions = {}): Promise<CloseResult> {
    this.closePromise ??= this.doClose(options);
    return this.closePromise;
  }

  // -------------------------------------------------------------------------------------

  /** Takes the unfinished jobs of a previous run back: the first window of them with a store that pages, else all. */
  private async recover(): Promise<void> {
    const shared = this.store.queue.shared;
    if (shared !== undefined) {
      // The fleet's queue lives in the store: take jobs as they become due.
      if (shared.consumes) shared.consume((entry) => this.load(entry));
    } else if (this.backlog.enabled) {
      await this.backlog.recover();
    } else {
      const source = await this.store.queue.recover();
      for await (const entry of source as AsyncIterable<StoredEntry>) {
        if (!this.core.records.has(entry.message.id)) this.load(entry);
        const turn = slice();
        if (turn !== undefined) await turn;
      }
    }
    this.core.checkIdle();
  }

  /** Takes a stored message into memory (recovery, a refill of the backlog, a job of a shared queue). */
  private load(entry: StoredEntry): void {
    const core = this.core;
    const jobs = entry.jobs.filter((j) => j.state !== 'sent' && j.state !== 'failed' && j.state !== 'expired') as Job[];
    if (jobs.length === 0) return;
    let rec = core.records.get(entry.message.id);
    if (rec === undefined) {
      rec = newRecord(entry.message, jobs, core.clock.now(), (entry.results ?? []).map(fromStored));
      core.records.set(entry.message.id, rec);
    } else {
      // Another job of a message already here (a shared queue hands them out one by one).
      // (It counts them as pending: they are not final.)
      addJobs(rec, jobs);
    }
    core.wasIdle = false;
    for (const job of jobs) {
      if (job.createdAt < this.startedAt && core.emitter.has('recovered')) {
        core.emitter.emit('recovered', { ...core.eventBase(job, rec, job.recipients), runAt: job.runAt, createdAt: job.createdAt });
      }
      core.scheduler.enqueue(job);
    }
  }

  /** On close with a shared queue: every job waiting here (not in flight) goes back to the fleet as it is. */
  private async handBackWaiting(): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const rec of [...this.core.records.values()]) {
      for (const job of [...rec.jobs]) {
        if (job.state === 'sending' || !this.core.scheduler.cancel(job)) continue;
        writes.push(this.journal.handBack(job, rec));
        this.core.dropJob(job, rec);
      }
    }
    await Promise.all(writes);
  }

  private abortMessage(rec: MessageRecord, reason: unknown): void {
    if (rec.aborted || rec.report !== undefined) return;
    rec.aborted = true;
    const error = new MailError('The send was aborted', { code: MailErrorCode.ABORTED, cause: reason });
    for (const job of rec.jobs) {
      if (job.state === 'sending') {
        this.core.inflight.get(job.id)?.controller.abort(reason);
      } else if (this.core.scheduler.cancel(job)) {
        this.settler.finalFailure(job, rec, job.recipients, 'aborted', abortError(error));
      }
    }
    this.core.checkIdle();
  }

  private async doClose(options: CloseOptions): Promise<CloseResult> {
    const core = this.core;
    const timeoutMs = options.timeoutMs ?? 30_000;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) throw configError('close.timeoutMs', 'a number >= 0', timeoutMs);
    core.closing = true;
    await this.readyPromise.catch(() => undefined);
    if (options.drain === true) await withTimeout(core.onIdle(), timeoutMs);
    core.scheduler.pause();
    await this.backlog.settled();
    const shared = this.store.queue.shared;
    // Jobs of a shared queue taken here but not started go back for another process.
    const handedBack = shared === undefined ? Promise.resolve() : this.handBackWaiting();
    if (!(await withTimeout(core.sendsSettled(), timeoutMs))) {
      core.handingBack = true;
      const closing = new MailError('The mailer is closing', { code: MailErrorCode.CLOSED });
      for (const e of core.inflight.values()) e.controller.abort(closing);
      core.abortShared(closing);
      await withTimeout(core.sendsSettled(), 1_000);
    }
    await handedBack;
    if (shared !== undefined) {
      try {
        await shared.stop();
      } catch (err) {
        core.reportError('store.stop', `Queue store (${this.store.queue.name}) stop`, err);
      }
    }
    core.scheduler.stop();
    for (const rec of [...core.records.values()]) completeRecord(core, rec, true);
    for (const [id, wait] of this.spilledWaits) {
      const report = pendingReport(id, wait.message, wait.jobs);
      for (const w of wait.waiters) w(report);
    }
    this.spilledWaits.clear();
    core.releaseWaiters();
    try {
      await this.transport.close?.();
    } catch (err) {
      core.reportError('transport.close', 'Transport close', err);
    }
    // The mailer made the signer: stop its signing workers (nothing is signing any more).
    await this.dkim?.close();
    await this.campaigns.close();
    let pending = 0;
    try {
      pending = await this.store.queue.size();
      if (this.ownsStore) await this.store.close?.();
    } catch (err) {
      core.reportError('store.close', `Store (${this.store.name}) close`, err);
    }
    return { pending };
  }
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
