/**
 * Campaigns: the {@link CampaignControl} of a mailer, which wires the parts in ./campaign/:
 *
 * - run.ts and send-many.ts: the loop behind `sendMany` (reads a source with backpressure,
 *   merges the shared `message` fields into each item, tags every message with the campaign id);
 * - states.ts: campaign states cached from the store (pause, resume and cancel, fleet-wide);
 * - holds.ts: jobs held back while their campaign is paused;
 * - counters.ts: per-campaign counters written to the store in batches;
 * - progress.ts: the live counts of a run and its `campaign` events;
 * - and, here, the complaint-rate guard fed by feedback.
 *
 * Holding back: the deliverer asks {@link CampaignControl.hold} before each attempt. A job of a
 * paused campaign (or marketing mail from a From domain the guard paused) goes back to the
 * timer heap for {@link HOLD_MS} and is remembered; `resume` brings it forward at once.
 * A job of a cancelled campaign ends as `aborted` with `MAILPUSH_ERR_CANCELLED`.
 *
 * @module
 */

import { MailError, MailErrorCode, configError } from '../errors.js';
import { checkCampaignId } from '../campaigns/ids.js';
import { ComplaintGuard } from '../campaigns/complaint-guard.js';
import type { ResolvedComplaintGuard } from '../campaigns/complaint-guard.js';
import type { Campaign, CampaignCounts, CampaignEvent, CampaignStats, ComplaintGuardControl } from '../campaigns/types.js';
import type { FeedbackEvent } from '../feedback/event.js';
import type { CampaignState, CampaignStore, CorrelationStore, Job, MessageInput, SubscriptionStore } from '../types.js';
import type { MailerCore, MessageRecord } from './core.js';
import type { Settler } from './settle.js';
import type { CampaignResult, SendManyOptions, SendOptions } from './options.js';
import { CampaignCounters, FEEDBACK_COUNTERS, ZERO } from './campaign/counters.js';
import { Holds } from './campaign/holds.js';
import type { Held } from './campaign/holds.js';
import { newRun, remaining, runEvent, sampleRate, startedRun, wakeRun } from './campaign/progress.js';
import type { Run } from './campaign/progress.js';
import { campaignIdOf, runCampaign } from './campaign/run.js';
import type { CampaignRunHooks, Source } from './campaign/run.js';
import { resolveSendMany, unsubscribedOf } from './campaign/send-many.js';
import { CampaignStates, STATE_TTL_MS } from './campaign/states.js';

export { campaignIdOf, runCampaign } from './campaign/run.js';
export type { CampaignRunHooks } from './campaign/run.js';
export { listSource, resolveSendMany } from './campaign/send-many.js';

/** How long a held job waits in the timer heap before it is checked again (resume brings it forward). @internal */
export const HOLD_MS = 60_000;

/** What the campaign control needs from the mailer. @internal */
export interface CampaignControlParts {
  readonly core: MailerCore;
  readonly settler: Settler;
  readonly store: CampaignStore;
  readonly correlation: CorrelationStore;
  readonly guard: ResolvedComplaintGuard;
  /** Progress events at most this often, ms. @default 1_000 */
  readonly progressIntervalMs?: number;
}

/**
 * A mailer's campaign control: counts per campaign (from the mailer's own events and from
 * feedback), states and holds, progress events, the complaint guard.
 * @internal
 */
export class CampaignControl {
  private readonly core: MailerCore;
  private readonly settler: Settler;
  readonly store: CampaignStore;
  private readonly correlation: CorrelationStore;
  readonly guard: ComplaintGuard;
  private readonly states: CampaignStates;
  private readonly holds: Holds;
  private readonly counters: CampaignCounters;
  private readonly runs = new Map<string, Run>();
  private progressTimer: ReturnType<typeof setInterval> | undefined;
  private readonly progressIntervalMs: number;
  private readonly off: (() => void)[] = [];
  /** The last From address counted for the guard and its domain: mail mostly comes from a few. */
  private lastFrom = '';
  private lastFromDomain = '';

  constructor(parts: CampaignControlParts) {
    this.core = parts.core;
    this.settler = parts.settler;
    this.store = parts.store;
    this.correlation = parts.correlation;
    this.guard = new ComplaintGuard(parts.guard, () => this.core.clock.now());
    this.progressIntervalMs = parts.progressIntervalMs ?? 1_000;
    this.states = new CampaignStates({
      store: this.store,
      now: () => this.core.clock.now(),
      reportError: (context, what, err) => this.core.reportError(context, what, err),
      changed: (id, before, after) => this.changedInStore(id, before, after),
    });
    this.holds = new Holds((id) => this.states.stateOf(id, true), STATE_TTL_MS);
    this.counters = new CampaignCounters(this.core, this.store);
    const e = this.core.emitter;
    this.off.push(
      e.on('sent', (ev) => {
        if (this.guard.settings.enabled) {
          const from = this.core.records.get(ev.id)?.message.from.address;
          if (from !== undefined) this.guard.delivered(this.fromDomain(from), ev.recipients.length);
        }
        this.holds.unhold(ev.jobId);
        if (ev.campaign !== undefined) this.count(ev.campaign, 'sent', ev.recipients.length);
      }),
      e.on('failed', (ev) => {
        this.holds.unhold(ev.jobId);
        if (ev.campaign === undefined) return;
        const name = ev.reason === 'suppressed' ? 'suppressed' : ev.error.code === MailErrorCode.CANCELLED ? 'cancelled' : 'failed';
        this.count(ev.campaign, name, ev.recipients.length);
      }),
    );
  }

  // -- the hook in the delivery path ---------------------------------------------------

  /**
   * Asked before each attempt: undefined to send now, a time (ms) to wait until (the job is
   * held: paused campaign, or marketing mail from a domain the guard paused), or the error to
   * end the job with (cancelled campaign).
   */
  hold(job: Job, rec: MessageRecord): number | MailError | undefined {
    const m = rec.message;
    const id = m.campaign;
    if (id !== undefined) {
      const state = this.states.stateOf(id);
      if (state === 'cancelled') {
        this.holds.unhold(job.id);
        return cancelledError(id);
      }
      // Unknown yet (being read from the store): look again very soon.
      if (state === undefined) return this.core.clock.now() + 50;
      if (state === 'paused') {
        this.holds.keep(job, id, undefined);
        return this.core.clock.now() + HOLD_MS;
      }
    }
    if (m.category === 'marketing' && this.guard.anyPaused) {
      const domain = domainOfAddress(m.from.address);
      if (this.guard.isPaused(domain)) {
        this.holds.keep(job, id, domain);
        return this.core.clock.now() + HOLD_MS;
      }
    }
    return undefined;
  }

  /** Held jobs matching `which` go back to their lanes now. */
  /** The guard's domain of `from`, without a new string when it is the last one's. */
  private fromDomain(from: string): string {
    if (from !== this.lastFrom) {
      this.lastFrom = from;
      this.lastFromDomain = domainOfAddress(from);
    }
    return this.lastFromDomain;
  }

  private release(which: (h: Held) => boolean): void {
    const now = this.core.clock.now();
    const scheduler = this.core.scheduler;
    for (const h of this.holds.matching(which)) {
      this.holds.unhold(h.job.id);
      // Still waiting in the heap: take it out and put it in its lane now.
      if (h.job.state === 'scheduled' && scheduler.cancel(h.job)) {
        h.job.runAt = now;
        scheduler.enqueue(h.job);
      }
    }
  }

  /** A read from the store found the state changed by another process of the fleet (or in the store). */
  private changedInStore(id: string, before: CampaignState, after: CampaignState): void {
    if (before === 'paused' && after !== 'paused') this.letGo(id);
    if (before !== 'cancelled' && after === 'cancelled') {
      this.cancelHere(id);
      this.letGo(id);
    }
  }

  // -- runs ----------------------------------------------------------------------------

  /** Registers a `sendMany` run; refuses a campaign that was cancelled. */
  async startRun(id: string, total: number | undefined): Promise<void> {
    if (this.runs.has(id)) throw new MailError(`Campaign ${id} is already being sent by sendMany`, { code: MailErrorCode.VALIDATION });
    const record = await this.guardStore('get', () => this.store.get(id));
    if (record?.state === 'cancelled') throw new MailError(`Campaign ${id} was cancelled; give the new send another campaign id`, { code: MailErrorCode.VALIDATION });
    const paused = record?.state === 'paused';
    this.states.set(id, paused ? 'paused' : 'running', paused ? record?.reason : undefined);
    this.runs.set(id, startedRun(id, total, this.core.clock.now()));
    if (!paused) await this.guardStore('setState', () => this.store.setState(id, 'running', this.core.clock.now()));
    this.startProgress();
  }

  /**
   * `mailer.sendMany`: resolves the arguments (a source, or `{ list }`), registers the run,
   * and reads the source with backpressure.
   */
  async sendMany(
    send: (message: MessageInput, options: SendOptions) => Promise<unknown>,
    sourceOrOptions: Source | (SendManyOptions & { readonly list: string }),
    maybeOptions: SendManyOptions | undefined,
    subscriptions: SubscriptionStore,
  ): Promise<CampaignResult> {
    const { source, options, list } = resolveSendMany(sourceOrOptions, maybeOptions, subscriptions);
    const maxQueued = options.maxQueued ?? 10_000;
    if (!Number.isInteger(maxQueued) || maxQueued < 1) throw configError('sendMany.maxQueued', 'an integer >= 1', maxQueued);
    const total = options.total;
    if (total !== undefined && (!Number.isSafeInteger(total) || total < 0)) throw configError('sendMany.total', 'an integer >= 0', total);
    const id = campaignIdOf(options);
    // Counted before the first page is read: the opt-outs the send starts with, which no page gives.
    const unsubscribed = list === undefined ? undefined : await unsubscribedOf(subscriptions, list);
    await this.startRun(id, total);
    try {
      const result = await runCampaign(send, source, options, () => this.backpressure(id, maxQueued), this.hooks, id);
      return unsubscribed === undefined ? result : { ...result, unsubscribed };
    } catch (err) {
      this.hooks.ended(id);
      throw err;
    }
  }

  /** The hooks of a run for {@link runCampaign}. */
  readonly hooks: CampaignRunHooks = {
    gate: (id) => {
      const run = this.runs.get(id);
      // A closing mailer lets the run go on, to be refused by send() (CLOSED).
      if (run === undefined || this.core.closing || this.states.get(id)?.state !== 'paused') return undefined;
      return this.core.keepAliveUntil(new Promise<void>((resolve) => run.resumeWaiters.push(resolve)));
    },
    cancelled: (id) => this.states.get(id)?.state === 'cancelled',
    counted: (id, read, invalid, recipients) => {
      const run = this.runs.get(id);
      if (run !== undefined) {
        run.read += read;
        run.invalid += invalid;
        run.dirty = true;
      }
      if (invalid > 0) this.counters.add(id, 'invalid', invalid);
      if (recipients > 0) this.count(id, 'queued', recipients);
    },
    ended: (id) => {
      const run = this.runs.get(id);
      if (run === undefined) return;
      run.sourceDone = true;
      run.dirty = true;
      this.maybeComplete(run);
    },
  };

  /**
   * Backpressure of a run: waits while the mailer holds `maxQueued` jobs or more, not counting
   * jobs held back for other campaigns (a paused campaign must not stall the others).
   */
  backpressure(id: string, maxQueued: number): Promise<void> | undefined {
    const core = this.core;
    const others = (): number => this.holds.size - this.holds.heldFor(id);
    if (core.held() - others() < maxQueued) return undefined;
    const half = maxQueued >> 1;
    return (async () => {
      let waiting: { level: number; done: Promise<void> } | undefined;
      while (!core.closing && core.held() - others() > half) {
        const level = half + others();
        if (waiting?.level !== level) waiting = { level, done: core.drainTo(level) };
        await Promise.race([waiting.done, sleep(500)]);
      }
    })();
  }

  // -- control -------------------------------------------------------------------------

  /** The handle of a campaign. */
  handle(id: string): Campaign {
    checkCampaignId(id, 'id');
    return {
      id,
      pause: () => this.pause(id, 'user'),
      resume: () => this.resume(id),
      cancel: () => this.cancel(id, 'user'),
      stats: () => this.stats(id),
    };
  }

  async pause(id: string, reason: string): Promise<void> {
    const record = await this.guardStore('get', () => this.store.get(id));
    const cached = this.states.get(id);
    if ((cached?.state ?? record?.state) === 'cancelled') throw new MailError(`Campaign ${id} was cancelled; it cannot be paused`, { code: MailErrorCode.VALIDATION });
    if (cached?.state === 'paused') return;
    this.states.set(id, 'paused', reason);
    await this.guardStore('setState', () => this.store.setState(id, 'paused', this.core.clock.now(), reason));
    this.changed(id, 'paused', reason);
  }

  async resume(id: string): Promise<void> {
    const record = await this.guardStore('get', () => this.store.get(id));
    const state = this.states.get(id)?.state ?? record?.state;
    if (state === 'cancelled') throw new MailError(`Campaign ${id} was cancelled; it cannot be resumed`, { code: MailErrorCode.VALIDATION });
    if (state !== 'paused') return;
    this.states.set(id, 'running');
    await this.guardStore('setState', () => this.store.setState(id, 'running', this.core.clock.now()));
    this.letGo(id);
    this.changed(id, 'resumed', undefined);
    const run = this.runs.get(id);
    // Everything may have been settled while it was paused.
    if (run !== undefined) this.maybeComplete(run);
  }

  /** A campaign runs again: its held jobs go to their lanes, its run reads on. */
  private letGo(id: string): void {
    this.release((h) => h.campaign === id);
    const run = this.runs.get(id);
    if (run !== undefined) wakeRun(run);
  }

  async cancel(id: string, reason: string): Promise<void> {
    if (this.states.get(id)?.state === 'cancelled') return;
    this.states.set(id, 'cancelled', reason);
    await this.guardStore('setState', () => this.store.setState(id, 'cancelled', this.core.clock.now(), reason));
    const run = this.runs.get(id);
    if (run !== undefined) wakeRun(run);
    this.cancelHere(id);
    this.changed(id, 'cancelled', reason);
    if (run !== undefined) this.runs.delete(id);
  }

  /** Ends every waiting job of campaign `id` held in memory (sends in flight finish). */
  private cancelHere(id: string): void {
    const core = this.core;
    const error = cancelledError(id);
    for (const rec of [...core.records.values()]) {
      if (rec.message.campaign !== id) continue;
      for (const job of [...rec.jobs]) {
        if (job.state === 'sending' || job.state === 'sent' || job.state === 'failed' || job.state === 'expired') continue;
        if (!core.scheduler.cancel(job)) continue;
        this.holds.unhold(job.id);
        this.settler.finalFailure(job, rec, job.recipients, 'aborted', error);
      }
    }
    core.checkIdle();
  }

  async stats(id: string): Promise<CampaignStats> {
    await this.flush();
    const record = await this.guardStore('get', () => this.store.get(id));
    const counts = { ...ZERO, ...record?.counts } as CampaignCounts;
    const cached = this.states.get(id);
    const state = record?.state ?? cached?.state ?? 'running';
    const reason = record?.reason ?? (record === undefined ? cached?.reason : undefined);
    return {
      id,
      state,
      ...(reason !== undefined ? { reason } : {}),
      ...(record !== undefined ? { createdAt: record.createdAt, updatedAt: record.updatedAt } : {}),
      counts,
      remaining: Math.max(0, counts.queued - counts.sent - counts.failed - counts.suppressed - counts.cancelled),
    };
  }

  // -- feedback and the guard ----------------------------------------------------------

  /**
   * Completes a feedback event with its campaign (from the event, its tags, or the sent job it
   * names), counts it for the campaign, and feeds complaints to the guard. Never rejects.
   */
  async onFeedback(event: FeedbackEvent): Promise<FeedbackEvent> {
    let campaign = event.campaign ?? event.tags?.campaign;
    let from: string | undefined;
    if (event.jobId !== undefined) {
      try {
        const sent = await this.correlation.find(event.jobId);
        campaign ??= sent?.campaign;
        from = sent?.from;
      } catch (err) {
        this.core.reportError('store.correlation', `Correlation store (${this.correlation.name}) find`, err);
      }
    }
    if (campaign !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(campaign)) campaign = undefined;
    const out = campaign !== undefined && event.campaign !== campaign ? { ...event, campaign } : event;
    if (event.verified === false) return out;
    const counter = FEEDBACK_COUNTERS[event.type];
    const complaint = event.type === 'complained' && event.feedbackType !== 'not-spam';
    if (campaign !== undefined && counter !== undefined && (event.type !== 'complained' || complaint)) this.counters.add(campaign, counter, 1);
    if (complaint && from !== undefined) {
      const change = this.guard.complaint(domainOfAddress(from));
      if (change !== undefined) this.core.emitter.emit('complaintRate', { ...change, at: this.core.clock.now() });
    }
    return out;
  }

  /** The guard as the mailer exposes it. */
  readonly complaintGuard: ComplaintGuardControl = {
    status: (domain) => this.guard.status(checkDomain(domain)),
    paused: () => this.guard.pausedDomains(),
    resume: (domain) => {
      const d = checkDomain(domain).toLowerCase();
      if (!this.guard.resume(d)) return false;
      this.release((h) => h.guardDomain === d);
      this.core.emitter.emit('complaintRate', { ...this.guard.status(d), action: 'resume', at: this.core.clock.now() });
      return true;
    },
  };

  // -- counters and progress -----------------------------------------------------------

  /** Counts for a campaign: for its run's progress and, batched, for the store. */
  private count(id: string, name: 'queued' | 'sent' | 'failed' | 'suppressed' | 'cancelled', n: number): void {
    const run = this.runs.get(id);
    if (run !== undefined) {
      run[name] += n;
      run.dirty = true;
      if (name !== 'queued') this.maybeComplete(run);
    }
    this.counters.add(id, name, n);
  }

  /** Writes the counts gathered since the last flush; waits for writes already under way. */
  flush(): Promise<void> {
    return this.counters.flush();
  }

  /** Writes what is left and stops the timers (the mailer closes). */
  async close(): Promise<void> {
    if (this.progressTimer !== undefined) clearInterval(this.progressTimer);
    this.progressTimer = undefined;
    this.holds.close();
    for (const run of this.runs.values()) wakeRun(run);
    for (const off of this.off) off();
    await this.flush();
  }

  private startProgress(): void {
    if (this.progressTimer !== undefined) return;
    this.progressTimer = setInterval(() => this.tick(), this.progressIntervalMs);
    this.progressTimer.unref();
  }

  private tick(): void {
    if (this.runs.size === 0) {
      clearInterval(this.progressTimer);
      this.progressTimer = undefined;
      return;
    }
    for (const run of this.runs.values()) if (run.dirty) this.emit(run, 'progress');
  }

  private maybeComplete(run: Run): void {
    if (!run.sourceDone || remaining(run, false) > 0 || this.states.get(run.id)?.state !== 'running') return;
    this.runs.delete(run.id);
    this.states.set(run.id, 'completed');
    void this.guardStore('setState', () => this.store.setState(run.id, 'completed', this.core.clock.now())).catch(() => undefined);
    this.emit(run, 'completed');
  }

  private changed(id: string, kind: 'paused' | 'resumed' | 'cancelled', reason: string | undefined): void {
    this.emit(this.runs.get(id) ?? newRun(id), kind, reason);
  }

  private emit(run: Run, kind: CampaignEvent['kind'], reason?: string): void {
    const now = this.core.clock.now();
    const rate = sampleRate(run, now);
    if (!this.core.emitter.has('campaign')) return;
    this.core.emitter.emit('campaign', runEvent(run, kind, this.states.get(run.id)?.state ?? 'running', rate, now, reason));
  }

  private async guardStore<T>(what: string, fn: () => T | Promise<T>): Promise<Awaited<T>> {
    try {
      return await fn();
    } catch (err) {
      throw new MailError(`Campaign store (${this.store.name}) ${what} failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err });
    }
  }
}

/** The error of a job ended by its campaign's cancellation. @internal */
export function cancelledError(id: string): MailError {
  return new MailError(`Campaign ${id} was cancelled`, { code: MailErrorCode.CANCELLED, retryable: false });
}

/** The lower-cased domain of a From address. */
function domainOfAddress(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

function checkDomain(domain: unknown): string {
  if (typeof domain !== 'string' || domain.length === 0 || domain.length > 255 || /[\s@]/.test(domain)) throw configError('domain', 'a From domain such as news.example.com', domain);
  return domain;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
