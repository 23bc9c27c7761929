/**
 * Settle: turns the outcome of an attempt into results, retries and events. Accepted
 * recipients are done; refused ones fail at once or are retried on the schedule (a throttle
 * does not count as an attempt); jobs that reach a final state leave the journal.
 *
 * @module
 * @internal
 */

import { MailError, MailErrorCode } from '../errors.js';
import type { FailureReason, SentEvent } from '../events.js';
import { HARD_CATEGORIES } from '../classify/index.js';
import { nextRetry } from '../retry/schedule.js';
import type { resolveRetryOptions } from '../retry/schedule.js';
import type { Job, SendResult } from '../types.js';
import { dueAt } from './core.js';
import type { MailerCore, MessageRecord } from './core.js';
import type { Journal } from './journal.js';
import type { RecipientResult, RecipientStatus } from './options.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
import { completeRecord, toStored } from './reports.js';

/** Records outcomes of jobs. */
export class Settler {
  constructor(
    private readonly core: MailerCore,
    private readonly journal: Journal,
    private readonly retry: ReturnType<typeof resolveRetryOptions>,
    private readonly random: () => number,
  ) {}

  /** The transport answered: accepted recipients are sent, the refused ones fail or retry. */
  onResult(job: Job, rec: MessageRecord, result: SendResult, now: number = this.core.clock.now()): void {
    const rejected = result.rejected;
    if (rejected.length === 0) {
      // The common case, without a Set and arrays per job.
      if (job.recipients.length > 0) {
        this.core.scheduler.recordSuccess(job.domain);
        this.finish(job, rec, job.recipients, 'sent', undefined, result, undefined, now, this.lastWrite(rec));
      }
      this.jobDone(job, rec);
      return;
    }
    const rejectedSet = new Set(rejected.map((r) => r.address));
    const accepted = job.recipients.filter((a) => !rejectedSet.has(a));
    if (accepted.length > 0) {
      this.core.scheduler.recordSuccess(job.domain);
      this.finish(job, rec, accepted, 'sent', undefined, result, undefined, now);
    }
    const retry: string[] = [];
    let retryError: MailError | undefined;
    for (const r of result.rejected) {
      if (r.error.retryable) {
        retry.push(r.address);
        if (retryError === undefined || isThrottle(r.error)) retryError = r.error;
      } else {
        this.finish(job, rec, [r.address], 'failed', r.error, undefined, 'permanent', now);
      }
    }
    if (retry.length > 0) {
      job.recipients = retry;
      this.onError(job, rec, retryError as MailError, retry);
    } else {
      this.jobDone(job, rec);
    }
  }

  /** The attempt failed for `recipients`: fail, expire, or schedule the next attempt. */
  onError(job: Job, rec: MessageRecord, error: MailError, recipients: readonly string[]): void {
    const core = this.core;
    const now = core.clock.now();
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
      job.runAt = Math.max(now, core.scheduler.pausedUntil(job.domain));
      job.lastError = error.toJSON();
      this.journal.update(job, rec);
      core.totals.deferred++;
      if (core.emitter.has('deferred')) core.emitter.emit('deferred', { ...core.eventBase(job, rec, recipients), retryAt: job.runAt, error, throttled: true });
      core.scheduler.requeueFront(job);
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
      core.totals.deferred++;
      if (core.emitter.has('deferred')) core.emitter.emit('deferred', { ...core.eventBase(job, rec, recipients), retryAt: decision.at, error, throttled: false });
      if (core.shared) {
        // The retry waits in the shared queue, where any process of the fleet may take it.
        void this.journal.handBack(job, rec);
        core.dropJob(job, rec);
        return;
      }
      this.journal.update(job, rec);
      core.scheduler.enqueue(job);
      return;
    }
    this.finalFailure(job, rec, recipients, 'permanent', error);
  }

  finalFailure(job: Job, rec: MessageRecord, recipients: readonly string[], reason: FailureReason, error: MailError): void {
    const status = reason === 'expired' || reason === 'aborted' || reason === 'suppressed' ? reason : 'failed';
    this.finish(job, rec, recipients, status, error, undefined, reason, this.core.clock.now(), this.lastWrite(rec));
    this.jobDone(job, rec, reason === 'expired' ? 'expired' : 'failed');
  }

  /**
   * True when results settled now go to the store only with the `remove` of the message's last
   * job (the caller calls {@link jobDone} right after) and the store forgets them with the
   * message (the memory store): they need no stored form.
   */
  private lastWrite(rec: MessageRecord): boolean {
    return rec.pending === 1 && !this.journal.keepsFinishedResults;
  }

  /**
   * Records final results for some recipients of a job and emits `sent` or `failed`.
   * `unjournaled`: see {@link lastWrite}.
   */
  finish(
    job: Job,
    rec: MessageRecord,
    recipients: readonly string[],
    status: Exclude<RecipientStatus, 'pending'>,
    error: MailError | undefined,
    result: SendResult | undefined,
    reason?: FailureReason,
    now: number = this.core.clock.now(),
    unjournaled = false,
  ): void {
    const core = this.core;
    const transport = result?.transport ?? core.transport.name;
    const response = result?.response;
    const providerMessageId = result?.providerMessageId;
    // Built field by field, not with spreads: this runs for every recipient of every job.
    for (let i = 0; i < recipients.length; i++) {
      const r: Mutable<RecipientResult> = { address: recipients[i] as string, status, jobId: job.id, attempts: job.attempt, transport };
      if (response !== undefined) r.response = response;
      if (providerMessageId !== undefined) r.providerMessageId = providerMessageId;
      if (error !== undefined) r.error = error;
      // A first result makes arrays of one slot: `[]` and push reserved 17 slots each (~300 B
      // per message for the two).
      const results = rec.results;
      if (results === undefined) rec.results = [r];
      else results.push(r);
      if (unjournaled) continue;
      const stored = toStored(r, now);
      const unsaved = rec.unsaved;
      if (unsaved === undefined) rec.unsaved = [stored];
      else unsaved.push(stored);
    }
    if (status === 'sent') {
      core.totals.sent++;
      if (core.emitter.has('sent')) {
        // One literal (the base fields and the sent ones): no map transitions or property
        // backing store for the fields added after the base.
        const m = rec.message;
        const event: Mutable<SentEvent> = {
          jobId: job.id,
          id: m.id,
          messageId: m.messageId,
          domain: job.domain,
          recipients,
          attempt: job.attempt,
          priority: job.priority,
          category: m.category,
          transport: core.transport.name,
          tags: m.tags,
          metadata: m.metadata,
          campaign: m.campaign,
          sentBy: transport,
          latencyMs: now - Math.max(dueAt(rec), job.createdAt),
        };
        if (response !== undefined) event.response = response;
        if (providerMessageId !== undefined) event.providerMessageId = providerMessageId;
        core.emitter.emit('sent', event);
      }
    } else {
      if (status === 'expired') core.totals.expired++;
      else core.totals.failed++;
      if (core.emitter.has('failed')) {
        const e = error as MailError;
        const hard = (reason ?? 'permanent') === 'permanent' && e.category !== undefined && (HARD_CATEGORIES as ReadonlySet<string>).has(e.category);
        core.emitter.emit('failed', { ...core.eventBase(job, rec, recipients), reason: reason ?? 'permanent', error: e, hard });
      }
    }
  }

  /** A job reached a final state: it leaves the journal, and the message completes with its last job. */
  jobDone(job: Job, rec: MessageRecord, state: 'sent' | 'failed' | 'expired' = 'sent'): void {
    job.state = state;
    this.journal.remove(job, rec);
    // The job is final now: the message completes when none of its jobs is left.
    if (rec.pending === 0 && rec.report === undefined) completeRecord(this.core, rec, false);
    this.core.jobLeft();
  }
}

/** A throttle (domain or transport) or a paused transport: requeue without counting the attempt. */
export function isThrottle(error: MailError | undefined): boolean {
  return error !== undefined && (error.code === MailErrorCode.THROTTLED || error.code === MailErrorCode.TRANSPORT_PAUSED);
}

/** The error of an aborted send. */
export function abortError(cause: MailError): MailError {
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
