/**
 * Deliver: one attempt of a job the scheduler dispatched. Checks the suppression list, prepares
 * the message (job-id header, VERP envelope sender, DKIM), hands it to the transport, slows the
 * domain or the transport down on a throttle, records sent jobs for feedback correlation, and
 * passes the outcome to {@link Settler}.
 *
 * @module
 * @internal
 */

import { MailError, MailErrorCode, describeValue, isMailError } from '../errors.js';
import type { DkimSigner } from '../auth/dkim.js';
import type { Verp } from '../feedback/verp.js';
import { prepareMessage } from '../message/prepared.js';
import type { ResolvedLimits } from '../queue/limits.js';
import type { CorrelationStore, Job, NormalizedMessage, SendResult, SharedLimiter, SharedLimiterGate, SuppressionStore } from '../types.js';
import type { MailerCore, MessageRecord } from './core.js';
import type { Journal } from './journal.js';
import { isThrottle } from './settle.js';
import type { Settler } from './settle.js';

/** What delivering needs besides the shared state. */
export interface DeliverParts {
  readonly journal: Journal;
  readonly settler: Settler;
  readonly suppression: SuppressionStore;
  readonly correlation: CorrelationStore;
  readonly verp: Verp | undefined;
  readonly dkim: DkimSigner | undefined;
  /** Limits shared by a fleet (the store's), checked before each send. */
  readonly limiter: SharedLimiter | undefined;
  /** The fleet gates of a job: its recipient domain and the transport. */
  readonly gates: (job: Job) => readonly SharedLimiterGate[];
}

/** Key of the transport's gate in a {@link SharedLimiter}. */
export const TRANSPORT_GATE = '*transport*';

/**
 * Jobs of one domain a process keeps waiting for the fleet limiter's tokens; beyond that, a
 * refused job of a shared queue goes back to the queue (delayed) instead of holding a slot.
 */
const LOCAL_LIMITER_WAITERS = 2;

/** Runs attempts. */
export class Deliverer {
  /** Per domain, the jobs waiting here for the fleet limiter. */
  private readonly limiterWaits = new Map<string, Set<string>>();

  constructor(
    private readonly core: MailerCore,
    private readonly parts: DeliverParts,
  ) {}

  /** The scheduler's dispatch callback: starts an attempt of `job`. */
  start(job: Job): void {
    const controller = new AbortController();
    const entry = { controller, settled: undefined as unknown as Promise<void> };
    this.core.inflight.set(job.id, entry);
    entry.settled = this.run(job, controller.signal);
  }

  private async run(job: Job, signal: AbortSignal): Promise<void> {
    const core = this.core;
    const { journal, settler } = this.parts;
    const rec = core.records.get(job.messageRef);
    if (rec === undefined) {
      // Cannot happen: a job lives as long as its record. Fail safe rather than hang.
      core.inflight.delete(job.id);
      core.scheduler.release(job);
      return;
    }
    if (!(await this.dropSuppressed(job, rec))) return;
    const leaseId = this.parts.limiter === undefined ? undefined : `${job.id}#${job.attempt + 1}`;
    if (leaseId !== undefined && !(await this.acquire(job, leaseId))) return;
    job.attempt++;
    // The attempt itself is journaled with its outcome (the retry or the final state), one write
    // per attempt rather than two: a crash during the send then resumes the job with the
    // attempts counted before it (and sends it again, at least once). Recipients the
    // suppression list just took out are written now.
    if (rec.unsaved.length > 0) journal.update(job, rec);
    if (core.emitter.has('sending')) core.emitter.emit('sending', core.eventBase(job, rec, job.recipients));
    let result: SendResult | undefined;
    let error: MailError | undefined;
    try {
      result = await core.transport.send(this.prepare(job, rec), { signal, attempt: job.attempt, priority: job.priority });
      if (typeof result !== 'object' || result === null || !Array.isArray(result.accepted)) {
        throw new MailError(`Transport ${core.transport.name} resolved with an invalid result: ${describeValue(result)}`, { code: MailErrorCode.INTERNAL, retryable: true });
      }
    } catch (err) {
      result = undefined;
      error = isMailError(err) ? err : new MailError(`Transport ${core.transport.name} failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.INTERNAL, retryable: true, cause: err });
    }
    core.inflight.delete(job.id);

    if (error !== undefined && core.handingBack && (error.code === MailErrorCode.ABORTED || signal.aborted)) {
      // close() gave up waiting: the attempt does not count and the job stays in the store.
      job.attempt--;
      job.state = 'ready';
      job.runAt = core.clock.now();
      journal.update(job, rec);
      core.scheduler.release(job);
      return;
    }

    this.throttleOn(job, result, error);
    if (leaseId !== undefined) this.releaseLeases(job, leaseId, result, error);
    core.scheduler.release(job);
    if (result !== undefined) {
      this.recordSent(job, rec, result);
      settler.onResult(job, rec, result);
    } else {
      settler.onError(job, rec, error as MailError, job.recipients);
    }
    core.checkIdle();
  }

  /**
   * Takes the fleet's tokens and leases for the job's domain and the transport. When they are
   * not free, the job waits here for the time the limiter names (no attempt counted) and false
   * is returned. A limiter that fails holds the job back a second: sending over a limit that
   * cannot be checked could get the sender blocked.
   */
  private async acquire(job: Job, leaseId: string): Promise<boolean> {
    const core = this.core;
    const limiter = this.parts.limiter as SharedLimiter;
    const waiting = this.limiterWaits.get(job.domain);
    waiting?.delete(job.id);
    let waitMs: number;
    try {
      const gate = await limiter.acquireAll(this.parts.gates(job), leaseId);
      if (gate.ok) {
        if (waiting?.size === 0) this.limiterWaits.delete(job.domain);
        return true;
      }
      waitMs = gate.waitMs;
    } catch (err) {
      core.reportError('store.limiter', 'Shared limiter acquire', err);
      waitMs = 1_000;
    }
    core.inflight.delete(job.id);
    core.scheduler.release(job);
    const rec = core.records.get(job.messageRef);
    const here = waiting ?? new Set<string>();
    if (core.shared && rec !== undefined && here.size >= LOCAL_LIMITER_WAITERS) {
      // Enough jobs of this domain already wait here for the fleet's tokens: this one goes back
      // to the shared queue for about as long as those ahead of it will take, so that it does
      // not hold a slot other domains could use.
      job.runAt = core.clock.now() + Math.max(1, waitMs) * (here.size + 1) * (1 + 0.2 * Math.random());
      void this.parts.journal.handBack(job, rec);
      core.dropJob(job, rec);
    } else {
      here.add(job.id);
      if (waiting === undefined) this.limiterWaits.set(job.domain, here);
      job.runAt = core.clock.now() + Math.max(1, waitMs);
      core.scheduler.enqueue(job);
    }
    if (here.size === 0) this.limiterWaits.delete(job.domain);
    core.checkIdle();
    return false;
  }


  /** Gives the leases back and tells the fleet's throttle how the send went. */
  private releaseLeases(job: Job, leaseId: string, result: SendResult | undefined, error: MailError | undefined): void {
    const limiter = this.parts.limiter as SharedLimiter;
    const throttle = error !== undefined && isThrottle(error) ? error : result?.rejected.find((r) => isThrottle(r.error))?.error;
    const paused = throttle?.code === MailErrorCode.TRANSPORT_PAUSED;
    const onTransport = throttle !== undefined && (paused || throttle.scope === 'transport');
    const ok = result !== undefined && result.accepted.length > 0;
    const domainOutcome = throttle !== undefined && !onTransport ? 'throttled' : ok ? 'success' : 'other';
    const transportOutcome = onTransport ? (paused ? 'paused' : 'throttled') : ok ? 'success' : 'other';
    const report = (err: unknown): void => this.core.reportError('store.limiter', 'Shared limiter release', err);
    for (const gate of this.parts.gates(job)) {
      const outcome = gate.key === TRANSPORT_GATE ? transportOutcome : domainOutcome;
      limiter.release(gate.key, leaseId, outcome, throttle?.retryAfterMs).catch(report);
    }
  }

  /** The job id travels in a header (and, with VERP, in the envelope sender) so that feedback correlates back to the job. */
  private prepare(job: Job, rec: MessageRecord): ReturnType<typeof prepareMessage> {
    const { verp, dkim } = this.parts;
    const message: NormalizedMessage = { ...rec.message, headers: [...rec.message.headers, ['X-Mailpush-Job-Id', job.id]] };
    const from = verp === undefined ? rec.message.returnPath : verp.encode(job.id, job.recipients.length === 1 ? job.recipients[0] : undefined);
    return prepareMessage(job.id, message, { from, to: job.recipients }, dkim?.signerFor(rec.message));
  }

  /** Throttles the domain (or the transport) before the released slot lets the next job go out. */
  private throttleOn(job: Job, result: SendResult | undefined, error: MailError | undefined): void {
    const core = this.core;
    const rejected = result?.rejected ?? [];
    const throttleError = error !== undefined && isThrottle(error) ? error : rejected.find((r) => isThrottle(r.error))?.error;
    if (throttleError === undefined) return;
    const scope = throttleError.code === MailErrorCode.TRANSPORT_PAUSED || throttleError.scope === 'transport' ? 'transport' : 'domain';
    const change =
      throttleError.code === MailErrorCode.TRANSPORT_PAUSED
        ? core.scheduler.pauseTransport(throttleError.retryAfterMs)
        : scope === 'transport'
          ? core.scheduler.throttleTransport(throttleError.retryAfterMs)
          : core.scheduler.throttle(job.domain, throttleError.retryAfterMs);
    if (change === undefined) return;
    core.totals.throttled++;
    core.emitter.emit('throttled', {
      scope,
      domain: job.domain,
      transport: result?.transport ?? throttleError.transport ?? core.transport.name,
      pausedUntil: change.pausedUntil,
      ratePerSecond: change.ratePerSecond,
      concurrency: change.concurrency,
      error: throttleError,
    });
  }

  /** Remembers what was sent to whom, so that a bounce naming this job can be verified. */
  private recordSent(job: Job, rec: MessageRecord, result: SendResult): void {
    const rejected = result.rejected.length === 0 ? undefined : new Set(result.rejected.map((r) => r.address));
    const recipients = rejected === undefined ? job.recipients : job.recipients.filter((a) => !rejected.has(a));
    if (recipients.length === 0) return;
    const { correlation } = this.parts;
    const m = rec.message;
    try {
      const r = correlation.record({
        jobId: job.id,
        id: m.id,
        messageId: m.messageId,
        recipients: [...recipients],
        sentAt: this.core.clock.now(),
        ...(result.providerMessageId !== undefined ? { providerMessageId: result.providerMessageId } : {}),
        ...(Object.keys(m.tags).length > 0 ? { tags: m.tags } : {}),
      });
      if (r !== undefined) r.catch((err: unknown) => this.core.reportError('store.correlation', `Correlation store (${correlation.name}) record`, err));
    } catch (err) {
      this.core.reportError('store.correlation', `Correlation store (${correlation.name}) record`, err);
    }
  }

  /**
   * Takes suppressed recipients out of the job (final 'suppressed'). Returns false when none is
   * left, after ending the job. A failing suppression list defers the job: sending to an address
   * that may have unsubscribed is worse than sending late.
   */
  private async dropSuppressed(job: Job, rec: MessageRecord): Promise<boolean> {
    const core = this.core;
    const { suppression, settler } = this.parts;
    const m = rec.message;
    const scopes = m.tags.list === undefined ? [m.category] : [m.category, m.tags.list];
    const now = core.clock.now();
    let blocked: string[] | undefined;
    let entry: Awaited<ReturnType<SuppressionStore['find']>>;
    try {
      for (const address of job.recipients) {
        const found = suppression.find(address, scopes, now);
        entry = found instanceof Promise ? await found : found;
        if (entry !== undefined) (blocked ??= []).push(address);
      }
    } catch (err) {
      job.attempt++;
      core.inflight.delete(job.id);
      core.scheduler.release(job);
      settler.onError(job, rec, new MailError(`Suppression list (${suppression.name}) failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err }), job.recipients);
      core.checkIdle();
      return false;
    }
    if (blocked === undefined) return true;
    const error = new MailError(`Recipient is on the suppression list${entry?.reason !== undefined ? ` (${entry.reason})` : ''}`, { code: MailErrorCode.SUPPRESSED, retryable: false });
    settler.finish(job, rec, blocked, 'suppressed', error, undefined, 'suppressed');
    const rest = job.recipients.filter((a) => !blocked.includes(a));
    if (rest.length > 0) {
      job.recipients = rest;
      return true;
    }
    core.inflight.delete(job.id);
    core.scheduler.release(job);
    settler.jobDone(job, rec, 'failed');
    core.checkIdle();
    return false;
  }
}

/** The gates of a job in a fleet's shared limiter: its recipient domain and the transport, with this mailer's limits. */
export function fleetGates(limits: ResolvedLimits, fleet: ResolvedLimits): (job: Job) => readonly SharedLimiterGate[] {
  // Only finite limits go to the limiter: an absent one is unlimited.
  const finite = (l: { ratePerSecond?: number; burst?: number; concurrency?: number }): SharedLimiterGate['limits'] =>
    Object.fromEntries(Object.entries(l).filter(([, v]) => Number.isFinite(v)));
  const transport: SharedLimiterGate = { key: TRANSPORT_GATE, limits: finite({ ratePerSecond: fleet.transportRate, concurrency: fleet.transportConcurrency }) };
  const perDomain = new Map<string, SharedLimiterGate['limits']>();
  return (job) => {
    let own = perDomain.get(job.domain);
    if (own === undefined) {
      const d = limits.domains.get(job.domain) ?? limits.default;
      own = finite({ ratePerSecond: d.ratePerSecond, burst: d.burst, concurrency: d.concurrency });
      if (perDomain.size < 10_000) perDomain.set(job.domain, own);
    }
    return [{ key: job.domain, limits: own }, transport];
  };
}
