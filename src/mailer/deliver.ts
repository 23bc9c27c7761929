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
import { ComposeCache, prepareJob } from '../message/prepared.js';
import { slice } from '../queue/slice.js';
import type { ResolvedLimits } from '../queue/limits.js';
import type { CorrelationStore, Job, PreparedMessage, SendResult, SentRecord, SharedLimiter, SharedLimiterGate, SuppressionEntry, SuppressionStore } from '../types.js';
import type { MailerCore, MessageRecord } from './core.js';
import type { Journal } from './journal.js';
import { isThrottle } from './settle.js';
import type { Settler } from './settle.js';
import type { TransportHealth } from './transport-health.js';

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
  /** Campaign control (campaign.ts): a time to hold the job until, an error to end it with, or undefined to go on. */
  readonly hold?: (job: Job, rec: MessageRecord) => number | MailError | undefined;
  /** Tells a transport that cannot connect or authenticate from a failed message (transport-health.ts). */
  readonly health?: TransportHealth;
}

/** The suppression scopes of a message without a list: shared, not an array per attempt. */
const TRANSACTIONAL_SCOPE: readonly string[] = Object.freeze(['transactional']);
const MARKETING_SCOPE: readonly string[] = Object.freeze(['marketing']);

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
  /** Composed bytes of jobs between attempts (see prepare). */
  private readonly composed = new ComposeCache();

  constructor(
    private readonly core: MailerCore,
    private readonly parts: DeliverParts,
  ) {}

  /**
   * The scheduler's dispatch callback: starts an attempt of `job`. Sends share one
   * AbortController (only close() aborts them all); a message sent with its own `signal` gets
   * a controller per job, so that aborting it stops only its own sends.
   * `now`: the time the scheduler let the job go (read just before).
   */
  start(job: Job, now: number = this.core.clock.now()): void {
    const core = this.core;
    const rec = core.records.get(job.messageRef);
    if (rec?.detach !== undefined) {
      const controller = new AbortController();
      const entry = { controller, settled: undefined as unknown as Promise<void> };
      core.inflight.set(job.id, entry);
      entry.settled = this.run(job, controller.signal, rec, now);
      return;
    }
    core.sharedInflight++;
    void this.run(job, core.sharedController().signal, rec, now);
  }

  private async run(job: Job, signal: AbortSignal, rec: MessageRecord | undefined, now: number): Promise<void> {
    const core = this.core;
    const { journal, settler } = this.parts;
    // A pump draining a transport that answers at once is one chain of microtasks: give the
    // host's timers and I/O a turn every few ms (see queue/slice.ts).
    const turn = slice();
    if (turn !== undefined) {
      await turn;
      now = core.clock.now();
    }
    if (rec === undefined) {
      // Cannot happen: a job lives as long as its record. Fail safe rather than hang.
      core.sendEnded(job.id);
      core.scheduler.release(job);
      return;
    }
    // A job of a paused campaign waits (in the timer heap); one of a cancelled campaign ends.
    const held = this.parts.hold?.(job, rec);
    if (held !== undefined) {
      core.sendEnded(job.id);
      core.scheduler.release(job);
      if (typeof held === 'number') (job.runAt = held), core.scheduler.enqueue(job);
      else settler.finalFailure(job, rec, job.recipients, 'aborted', held);
      core.checkIdle();
      return;
    }
    // Suppression stores that answer synchronously (memory) cost no await here.
    const pass = this.dropSuppressed(job, rec, now);
    if (!(pass === true || (pass !== false && (await pass)))) return;
    const leaseId = this.parts.limiter === undefined ? undefined : `${job.id}#${job.attempt + 1}`;
    if (leaseId !== undefined && !(await this.acquire(job, leaseId))) return;
    job.attempt++;
    // The attempt itself is journaled with its outcome (the retry or the final state), one write
    // per attempt rather than two: a crash during the send then resumes the job with the
    // attempts counted before it (and sends it again, at least once). Recipients the
    // suppression list just took out are written now.
    if (rec.unsaved !== undefined) journal.update(job, rec);
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
    core.sendEnded(job.id);
    // One reading of the clock for what follows the answer (the sent record, results, events).
    now = core.clock.now();
    const health = this.parts.health;
    if (health !== undefined) {
      if (error === undefined) health.onSuccess();
      else error = health.onError(error);
    }

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
      this.recordSent(job, rec, result, now);
      settler.onResult(job, rec, result, now);
    } else {
      settler.onError(job, rec, error as MailError, job.recipients);
    }
    // A job that will not be attempted again needs its composed bytes no more.
    if (job.state === 'sent' || job.state === 'failed' || job.state === 'expired') this.composed.drop(job);
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
    core.sendEnded(job.id);
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

  /**
   * The job id travels in a header (and, with VERP, in the envelope sender) so that feedback
   * correlates back to the job. The header is added while composing, and the composed bytes
   * are kept for the job's next attempt (dropped in `run` when the job ends).
   */
  private prepare(job: Job, rec: MessageRecord): PreparedMessage {
    const { verp, dkim } = this.parts;
    const from = verp === undefined ? rec.message.returnPath : verp.encode(job.id, job.recipients.length === 1 ? job.recipients[0] : undefined);
    return prepareJob(job, rec.message, { from, to: job.recipients }, dkim?.signerFor(rec.message), this.composed);
  }

  /** Throttles the domain (or the transport) before the released slot lets the next job go out. */
  private throttleOn(job: Job, result: SendResult | undefined, error: MailError | undefined): void {
    // Most answers: accepted, nothing refused (no callback made to search an empty list).
    if (error === undefined && (result?.rejected as readonly unknown[] | undefined)?.length === 0) return;
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
  private recordSent(job: Job, rec: MessageRecord, result: SendResult, now: number): void {
    const rejected = result.rejected.length === 0 ? undefined : new Set(result.rejected.map((r) => r.address));
    const recipients = rejected === undefined ? job.recipients : job.recipients.filter((a) => !rejected.has(a));
    if (recipients.length === 0) return;
    const { correlation } = this.parts;
    const m = rec.message;
    try {
      // No spreads (every sent job passes here). `recipients` is never changed in place (a job
      // gets a new array when its recipients change), so the store gets it without a copy.
      const entry: { -readonly [K in keyof SentRecord]: SentRecord[K] } = { jobId: job.id, id: m.id, messageId: m.messageId, recipients, sentAt: now };
      if (result.providerMessageId !== undefined) entry.providerMessageId = result.providerMessageId;
      for (const _ in m.tags) {
        entry.tags = m.tags;
        break;
      }
      if (m.campaign !== undefined) entry.campaign = m.campaign;
      entry.from = m.from.address;
      const r = correlation.record(entry);
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
  private dropSuppressed(job: Job, rec: MessageRecord, now: number): boolean | Promise<boolean> {
    const m = rec.message;
    // The message's list (else the older `tags.list`): an unsubscribe from it is scoped to it.
    const list = m.list ?? m.tags.list;
    const scopes = list === undefined ? (m.category === 'marketing' ? MARKETING_SCOPE : TRANSACTIONAL_SCOPE) : [m.category, list];
    const suppression = this.parts.suppression;
    let blocked: string[] | undefined;
    let entry: SuppressionEntry | undefined;
    const recipients = job.recipients;
    try {
      for (let i = 0; i < recipients.length; i++) {
        const found = suppression.find(recipients[i] as string, scopes, now);
        // The first answer that is a promise switches to the awaiting path for the rest.
        if (found instanceof Promise) return this.dropSuppressedAsync(job, rec, scopes, now, i, found, blocked);
        if (found !== undefined) {
          entry = found;
          (blocked ??= []).push(recipients[i] as string);
        }
      }
    } catch (err) {
      return this.suppressionFailed(job, rec, err);
    }
    return blocked === undefined ? true : this.dropBlocked(job, rec, blocked, entry);
  }

  private async dropSuppressedAsync(
    job: Job,
    rec: MessageRecord,
    scopes: readonly string[],
    now: number,
    from: number,
    first: Promise<SuppressionEntry | undefined>,
    blocked: string[] | undefined,
  ): Promise<boolean> {
    const suppression = this.parts.suppression;
    let entry: SuppressionEntry | undefined;
    const recipients = job.recipients;
    try {
      for (let i = from; i < recipients.length; i++) {
        const found = i === from ? first : suppression.find(recipients[i] as string, scopes, now);
        const e = found instanceof Promise ? await found : found;
        if (e !== undefined) {
          entry = e;
          (blocked ??= []).push(recipients[i] as string);
        }
      }
    } catch (err) {
      return this.suppressionFailed(job, rec, err);
    }
    return blocked === undefined ? true : this.dropBlocked(job, rec, blocked, entry);
  }

  /** A failing suppression list defers the job. */
  private suppressionFailed(job: Job, rec: MessageRecord, err: unknown): false {
    const core = this.core;
    const { suppression, settler } = this.parts;
    job.attempt++;
    core.sendEnded(job.id);
    core.scheduler.release(job);
    settler.onError(job, rec, new MailError(`Suppression list (${suppression.name}) failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err }), job.recipients);
    core.checkIdle();
    return false;
  }

  /** Ends the suppressed recipients of a job; false when none is left. */
  private dropBlocked(job: Job, rec: MessageRecord, blocked: string[], entry: SuppressionEntry | undefined): boolean {
    const core = this.core;
    const settler = this.parts.settler;
    const error = new MailError(`Recipient is on the suppression list${entry?.reason !== undefined ? ` (${entry.reason})` : ''}`, { code: MailErrorCode.SUPPRESSED, retryable: false });
    settler.finish(job, rec, blocked, 'suppressed', error, undefined, 'suppressed');
    const rest = job.recipients.filter((a) => !blocked.includes(a));
    if (rest.length > 0) {
      job.recipients = rest;
      return true;
    }
    core.sendEnded(job.id);
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
