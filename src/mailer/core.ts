/**
 * The state the stages of the mailer share: the messages in memory, the sends in flight,
 * event totals, idle and drain waiters. Each stage (accept, journal, deliver, settle) reads
 * and updates it; none of them owns the others.
 *
 * @module
 * @internal
 */

import { setMaxListeners } from 'node:events';
import { MailError, MailErrorCode } from '../errors.js';
import { TypedEmitter } from '../events.js';
import type { JobEventBase } from '../events.js';
import { indexOfItem, itemsOf, oneOrMany, withAdded, withRemoved } from '../queue/one-or-many.js';
import type { OneOrMany } from '../queue/one-or-many.js';
import type { Scheduler } from '../queue/scheduler.js';
import type { Clock, Job, NormalizedMessage, Transport } from '../types.js';
import type { DeliveryReport, RecipientResult } from './options.js';
import type { StoredResult } from '../types.js';
import { RecentReports } from './recent-reports.js';

/** A message held in memory with its jobs, results so far and the callers waiting on it. */
export interface MessageRecord {
  readonly message: NormalizedMessage;
  /**
   * The jobs taken into memory: the job itself while there is one (most messages: an array of
   * one is ~56 B more per queued message), else an array. Read through {@link MessageRecord.jobs};
   * changed only by {@link addJobs} and {@link removeJob}.
   */
  held: OneOrMany<Job>;
  /** The jobs as an array (a new array of one when there is one job: do not change it). */
  readonly jobs: readonly Job[];
  /**
   * Jobs held that are not yet final (sent, failed or expired): counted from `held` (one job
   * for most messages), not kept in a field of its own (8 B per queued message).
   */
  readonly pending: number;
  /** Final results so far; made with the first (a queued message holds no empty arrays). */
  results: RecipientResult[] | undefined;
  /** Results settled since the last journal write of this message, written with the next one. */
  unsaved: StoredResult[] | undefined;
  waiters: ((report: DeliveryReport) => void)[] | undefined;
  report: DeliveryReport | undefined;
  aborted: boolean;
  detach: (() => void) | undefined;
  /**
   * When the message became due (queue time or sendAt), for latency, as milliseconds after
   * `message.date` (see {@link dueAt}): a small integer is kept in the record itself, while a
   * timestamp is a 16 B heap number per queued message.
   */
  readonly dueAfterDate: number;
}

/**
 * The fields of a record that a queued message rarely has (results, journal backlog, waiters
 * or report, abort link): made with the first of them, so a message waiting in the queue holds
 * one field instead of five (24 B per queued message). The record's `dueAfterDate` moves here
 * when they are made: until then the field holds it (8 B more per queued message otherwise).
 */
interface RecordExtras {
  results: RecipientResult[] | undefined;
  unsaved: StoredResult[] | undefined;
  /** The `done()` waiters until the message completes, then its report (see `waiters`, `report`). */
  outcome: ((report: DeliveryReport) => void)[] | DeliveryReport | undefined;
  /**
   * `aborted` and `detach` in one field: undefined, the detach function, `true` once aborted,
   * or `{ detach }` when aborted with a listener still attached.
   */
  abortLink: (() => void) | true | { readonly detach: () => void } | undefined;
  readonly dueAfterDate: number;
}

/** A {@link MessageRecord}: accessors over the packed fields (see their comments). */
class HeldMessage implements MessageRecord {
  held: OneOrMany<Job>;
  /** The record's `dueAfterDate` (a number) until the extras are made, then the extras. */
  private extras: RecordExtras | number;

  constructor(
    readonly message: NormalizedMessage,
    jobs: readonly Job[],
    dueAfterDate: number,
    results: RecipientResult[] | undefined,
  ) {
    this.held = oneOrMany(jobs);
    this.extras = dueAfterDate;
    if (results !== undefined) this.more().results = results;
  }

  get dueAfterDate(): number {
    const x = this.extras;
    return typeof x === 'number' ? x : x.dueAfterDate;
  }

  get pending(): number {
    const held = this.held;
    if (!Array.isArray(held)) return isFinal(held) ? 0 : 1;
    let n = 0;
    for (let i = 0; i < held.length; i++) if (!isFinal(held[i] as Job)) n++;
    return n;
  }

  /** The extras, if made. */
  private made(): RecordExtras | undefined {
    const x = this.extras;
    return typeof x === 'number' ? undefined : x;
  }

  private more(): RecordExtras {
    const x = this.extras;
    if (typeof x !== 'number') return x;
    const made: RecordExtras = { results: undefined, unsaved: undefined, outcome: undefined, abortLink: undefined, dueAfterDate: x };
    this.extras = made;
    return made;
  }

  get results(): RecipientResult[] | undefined {
    return this.made()?.results;
  }

  set results(results: RecipientResult[] | undefined) {
    if (results !== undefined || typeof this.extras !== 'number') this.more().results = results;
  }

  get unsaved(): StoredResult[] | undefined {
    return this.made()?.unsaved;
  }

  set unsaved(unsaved: StoredResult[] | undefined) {
    if (unsaved !== undefined || typeof this.extras !== 'number') this.more().unsaved = unsaved;
  }

  get waiters(): ((report: DeliveryReport) => void)[] | undefined {
    const o = this.made()?.outcome;
    return Array.isArray(o) ? o : undefined;
  }

  /** Ignored once the report is set (the waiters were called then). */
  set waiters(waiters: ((report: DeliveryReport) => void)[] | undefined) {
    const o = this.made()?.outcome;
    if (o === undefined || Array.isArray(o)) {
      if (waiters !== undefined || typeof this.extras !== 'number') this.more().outcome = waiters;
    }
  }

  get report(): DeliveryReport | undefined {
    const o = this.made()?.outcome;
    return o === undefined || Array.isArray(o) ? undefined : o;
  }

  /** Replaces the waiters: read them before (see `completeRecord`). */
  set report(report: DeliveryReport | undefined) {
    if (report !== undefined || typeof this.extras !== 'number') this.more().outcome = report;
  }

  get aborted(): boolean {
    const l = this.made()?.abortLink;
    return l === true || (typeof l === 'object' && l !== null);
  }

  set aborted(aborted: boolean) {
    const detach = this.detach;
    const link = aborted ? (detach === undefined ? true : { detach }) : detach;
    if (link !== undefined || typeof this.extras !== 'number') this.more().abortLink = link;
  }

  get detach(): (() => void) | undefined {
    const l = this.made()?.abortLink;
    return typeof l === 'function' ? l : l === true || l === undefined ? undefined : l.detach;
  }

  set detach(detach: (() => void) | undefined) {
    const link = this.aborted ? (detach === undefined ? true : { detach }) : detach;
    if (link !== undefined || typeof this.extras !== 'number') this.more().abortLink = link;
  }

  get jobs(): readonly Job[] {
    return itemsOf(this.held);
  }
}

/**
 * True when a job reached a final state (it is not attempted again).
 *
 * @example
 * ```ts
 * if (isFinal(job)) cache.drop(job);
 * ```
 */
export function isFinal(job: Job): boolean {
  const s = job.state;
  return s === 'sent' || s === 'failed' || s === 'expired';
}

/** Creates the record of a message entering memory. */
export function newRecord(message: NormalizedMessage, jobs: readonly Job[], dueAt: number, results?: RecipientResult[]): MessageRecord {
  const after = dueAt - message.date;
  // `| 0` makes a small integer (a difference of two timestamps is a heap number even when
  // it is whole); any other difference is kept as it is.
  return new HeldMessage(message, jobs, after === (after | 0) ? after | 0 : after, results?.length === 0 ? undefined : results);
}

/** Adds jobs to a record (another job of a message already in memory). */
export function addJobs(rec: MessageRecord, jobs: readonly Job[]): void {
  rec.held = withAdded(rec.held, jobs);
}

/** Removes a job from a record, if it holds it. */
export function removeJob(rec: MessageRecord, job: Job): void {
  const i = indexOfItem(rec.held, job);
  if (i >= 0) rec.held = withRemoved(rec.held, i);
}

/** When the message of a record became due (queue time or sendAt), ms since the epoch. */
export function dueAt(rec: MessageRecord): number {
  return rec.message.date + rec.dueAfterDate;
}

/** Most finished reports kept for `status()` and idempotent duplicates when the store keeps none. */
const RECENT_REPORTS = 10_000;

/** Shared state of one mailer. */
export class MailerCore {
  readonly emitter = new TypedEmitter();
  /** Messages in memory by internal id. */
  readonly records = new Map<string, MessageRecord>();
  /** Sends in flight with their own AbortController (messages sent with a `signal`), by job id. */
  readonly inflight = new Map<string, { controller: AbortController; settled: Promise<void> }>();
  /**
   * Sends in flight on the shared controller: counted, not kept by id (a map entry and an
   * object per send, and the map's table rebuilt as sends come and go, for the few readers:
   * close() and aborting a message, which only concern sends with their own controller).
   */
  sharedInflight = 0;
  private sharedWaiters: (() => void)[] = [];
  private sharedAbort: AbortController | undefined;

  /** The AbortController of sends without their own signal; a new one after an abort. */
  sharedController(): AbortController {
    let c = this.sharedAbort;
    if (c === undefined || c.signal.aborted) {
      c = this.sharedAbort = new AbortController();
      // Transports add a listener per send in flight: no leak warning for 11 concurrent sends.
      setMaxListeners(0, c.signal);
    }
    return c;
  }

  /** Aborts every send in flight on the shared controller. */
  abortShared(reason: unknown): void {
    if (this.sharedInflight > 0) this.sharedAbort?.abort(reason);
  }

  /** A send's attempt is over (whatever the outcome): it no longer counts as in flight. */
  sendEnded(jobId: string): void {
    if (this.inflight.size !== 0 && this.inflight.delete(jobId)) return;
    if (--this.sharedInflight > 0) return;
    const waiters = this.sharedWaiters;
    if (waiters.length === 0) return;
    this.sharedWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once every send in flight has ended. */
  sendsSettled(): Promise<unknown> {
    const own = [...this.inflight.values()].map((e) => e.settled);
    if (this.sharedInflight > 0) own.push(new Promise<void>((resolve) => this.sharedWaiters.push(resolve)));
    return Promise.all(own);
  }
  /** Finished reports, newest last, bounded. */
  readonly recent = new RecentReports(RECENT_REPORTS);
  readonly totals = { queued: 0, sent: 0, deferred: 0, failed: 0, expired: 0, throttled: 0 };
  /** Set once by the mailer right after construction (the scheduler dispatches into the stages). */
  scheduler!: Scheduler;
  wasIdle = true;
  closing = false;
  /** close() gave up waiting: aborted sends go back to the store instead of failing. */
  handingBack = false;
  /**
   * The queue is shared by a fleet (BullMQ): a message's jobs may be delivered by several
   * processes, so a record in memory holds only the jobs taken here, and its completion here
   * says nothing about the whole message (the store's `watch` and `status` do).
   */
  shared = false;
  /** Called when a message completes (the backlog refills, spilled waiters resolve). */
  onComplete: (report: DeliveryReport) => void = () => undefined;
  /** True while messages wait on disk to be read back (the backlog): the mailer is not idle then. */
  backlogBusy: () => boolean = () => false;
  private idleWaiters: (() => void)[] = [];
  private drainWaiters: { level: number; resolve: () => void }[] = [];
  private holds = 0;
  private keepAlive: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly transport: Transport,
    readonly clock: Clock,
  ) {}

  /** Jobs held in memory: ready, scheduled or in flight. */
  held(): number {
    return this.scheduler.ready + this.scheduler.scheduled + this.scheduler.inflight;
  }

  eventBase(job: Job, rec: MessageRecord, recipients: readonly string[]): JobEventBase {
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
      campaign: m.campaign,
    };
  }

  /** Reports a failure that lost nothing (a journal write, a correlation record) as an `error` event or a warning. */
  reportError(context: string, what: string, err: unknown): void {
    const error = new MailError(`${what} failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err });
    if (this.emitter.has('error')) this.emitter.emit('error', { error, context });
    else process.emitWarning(error.message, { code: error.code });
  }

  /**
   * A job left this process without reaching a final state (handed back to a shared queue, to
   * wait for a retry elsewhere): it no longer counts here, and the record goes with its last job.
   */
  dropJob(job: Job, rec: MessageRecord): void {
    removeJob(rec, job);
    if (rec.pending === 0) {
      this.records.delete(rec.message.id);
      rec.detach?.();
      rec.detach = undefined;
    }
    this.jobLeft();
  }

  rememberReport(report: DeliveryReport): void {
    this.recent.set(report);
  }

  /** Nothing queued, scheduled, in flight or waiting on disk. */
  get idle(): boolean {
    return this.scheduler.idle && !this.backlogBusy();
  }

  checkIdle(): void {
    if (!this.idle) {
      this.wasIdle = false;
      return;
    }
    if (this.wasIdle) return;
    this.wasIdle = true;
    const waiters = this.idleWaiters;
    if (waiters.length > 0) {
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
    // A mailer fed one message at a time goes idle after each: no event (and no clock) unheard.
    if (this.emitter.has('idle')) this.emitter.emit('idle', { at: this.clock.now() });
  }

  onIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return this.keepAliveUntil(new Promise((resolve) => this.idleWaiters.push(resolve)));
  }

  /** Resolves once at most `level` jobs are held (or the mailer closes). */
  drainTo(level: number): Promise<void> {
    if (this.held() <= level || this.closing) return Promise.resolve();
    return this.keepAliveUntil(new Promise((resolve) => this.drainWaiters.push({ level, resolve })));
  }

  /** A job left memory: wake the drain waiters whose level is reached. */
  jobLeft(): void {
    if (this.drainWaiters.length === 0) return;
    const held = this.held();
    this.drainWaiters = this.drainWaiters.filter((w) => (held <= w.level ? (w.resolve(), false) : true));
  }

  /** Resolves every idle and drain waiter (the mailer closed). */
  releaseWaiters(): void {
    const waiters = [...this.idleWaiters, ...this.drainWaiters.map((w) => w.resolve)];
    this.idleWaiters = [];
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Keeps the process alive while `promise` is pending. The mailer's timers are unref()'ed so
   * that an idle mailer never holds a process open; but a script awaiting a delivery whose only
   * pending work is a retry timer must not exit before it.
   */
  keepAliveUntil<T>(promise: Promise<T>): Promise<T> {
    if (this.holds++ === 0) this.keepAlive = setInterval(() => undefined, 1 << 30);
    const release = (): void => {
      if (--this.holds === 0) clearInterval(this.keepAlive);
    };
    promise.then(release, release);
    return promise;
  }
}
