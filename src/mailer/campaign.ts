/**
 * Campaigns: the loop behind `sendMany` (reads a source with backpressure, merges the shared
 * `message` fields into each item, tags every message with the campaign id) and the
 * {@link CampaignControl} of a mailer: pause, resume and cancel, progress events, per-campaign
 * counters written to the store, and the complaint-rate guard.
 *
 * Holding back: the deliverer asks {@link CampaignControl.hold} before each attempt. A job of a
 * paused campaign (or marketing mail from a From domain the guard paused) goes back to the
 * timer heap for {@link HOLD_MS} and is remembered here; `resume` brings it forward at once.
 * A job of a cancelled campaign ends as `aborted` with `MAILPUSH_ERR_CANCELLED`.
 *
 * @module
 */

import { MailError, MailErrorCode, configError, isMailError, toMailError } from '../errors.js';
import { checkCampaignId, newCampaignId } from '../campaigns/ids.js';
import { ComplaintGuard } from '../campaigns/complaint-guard.js';
import type { ResolvedComplaintGuard } from '../campaigns/complaint-guard.js';
import type { Campaign, CampaignCounts, CampaignEvent, CampaignStats, ComplaintGuardControl } from '../campaigns/types.js';
import type { FeedbackEvent } from '../feedback/event.js';
import { listMembers } from '../unsubscribe/subscriptions.js';
import { BoundedMap } from '../queue/bounded-map.js';
import type { CampaignState, CampaignStore, CorrelationStore, Job, MessageInput, SubscriptionStore } from '../types.js';
import type { MailerCore, MessageRecord } from './core.js';
import type { Settler } from './settle.js';
import type { CampaignItem, CampaignResult, SendManyOptions, SendOptions } from './options.js';

/** How long a held job waits in the timer heap before it is checked again (resume brings it forward). @internal */
export const HOLD_MS = 60_000;
/** How long a campaign state read from the store is trusted before it is read again (fleet-wide pauses). */
const STATE_TTL_MS = 2_000;
/** Counters are written to the store at most this often (and at close, and before `stats()`). */
const FLUSH_MS = 1_000;
/** Most campaign states cached. */
const MAX_STATES = 10_000;

type Source = Iterable<CampaignItem> | AsyncIterable<CampaignItem>;

/** What a run of {@link runCampaign} asks of the mailer's campaign control. @internal */
export interface CampaignRunHooks {
  /** Resolves when the campaign may read on (undefined: it may now); rejects never. */
  gate(id: string): Promise<void> | undefined;
  /** True once the campaign was cancelled: stop reading. */
  cancelled(id: string): boolean;
  /** Counts items read and refused, and recipients queued. */
  counted(id: string, read: number, invalid: number, recipients: number): void;
  /** The source ended (or the run stopped). */
  ended(id: string): void;
}

/**
 * The campaign loop behind {@link Mailer.sendMany}: reads `source`, merges `options.message`
 * into each item, sets the campaign id, sends, counts validation failures, and awaits
 * `backpressure` after each item.
 * @internal
 */
export async function runCampaign(
  send: (message: MessageInput, options: SendOptions) => Promise<unknown>,
  source: Source,
  options: SendManyOptions,
  backpressure: () => Promise<void> | undefined,
  hooks?: CampaignRunHooks,
  id: string = campaignIdOf(options),
): Promise<CampaignResult> {
  const every = options.progressEvery ?? 1_000;
  if (!Number.isInteger(every) || every < 1) throw configError('sendMany.progressEvery', 'an integer >= 1', every);
  if (source === null || typeof source !== 'object' || (!(Symbol.asyncIterator in source) && !(Symbol.iterator in source))) {
    throw configError('sendMany.source', 'an iterable or async iterable of messages', source);
  }
  const base = checkBase(options.message);
  let read = 0;
  let queued = 0;
  let invalid = 0;
  const errors: { index: number; error: MailError }[] = [];
  const result = (aborted: boolean, cancelled: boolean): CampaignResult => {
    hooks?.ended(id);
    return { campaign: id, read, queued, invalid, errors, aborted, cancelled };
  };
  for await (const item of source as AsyncIterable<CampaignItem>) {
    if (options.signal?.aborted) return result(true, false);
    const gate = hooks?.gate(id);
    if (gate !== undefined) await gate;
    if (hooks?.cancelled(id) === true) return result(true, true);
    if (options.signal?.aborted) return result(true, false);
    const index = read++;
    const wrapped = typeof item === 'object' && item !== null && 'message' in item && typeof item.message === 'object' && item.message !== null;
    const given = wrapped ? (item as { message: MessageInput }).message : (item as MessageInput);
    const sendOptions = (wrapped ? (item as { options?: SendOptions }).options : undefined) ?? options.defaults ?? {};
    let failed = false;
    let recipients = 0;
    try {
      const receipt = (await send(mergeItem(base, given, id), sendOptions)) as { duplicate?: boolean; jobs?: readonly { recipients: readonly string[] }[] } | undefined;
      if (receipt?.duplicate !== true) for (const j of receipt?.jobs ?? []) recipients += j.recipients.length;
      queued++;
    } catch (err) {
      const error = toMailError(err);
      // The mailer itself cannot take more: stop rather than count every item as invalid.
      if (error.code === MailErrorCode.CLOSED || error.code === MailErrorCode.STORE) {
        hooks?.counted(id, 1, 0, 0);
        hooks?.ended(id);
        throw error;
      }
      failed = true;
      invalid++;
      if (errors.length < 100) errors.push({ index, error });
    }
    hooks?.counted(id, 1, failed ? 1 : 0, recipients);
    if (read % every === 0) options.onProgress?.({ campaign: id, read, queued, invalid });
    const wait = backpressure();
    if (wait !== undefined) await wait;
  }
  options.onProgress?.({ campaign: id, read, queued, invalid });
  return result(false, false);
}

/** The campaign id of a run: `options.campaign` checked, or a new one. @internal */
export function campaignIdOf(options: SendManyOptions): string {
  return options.campaign === undefined ? newCampaignId() : checkCampaignId(options.campaign, 'sendMany.campaign');
}

/** The members of `list` as campaign items (`{ to }`), read page by page. @internal */
export async function* listSource(store: SubscriptionStore, list: string, signal: AbortSignal | undefined): AsyncGenerator<CampaignItem> {
  for await (const address of listMembers(store, list, signal === undefined ? {} : { signal })) yield { to: address } as unknown as MessageInput;
}

/**
 * The arguments of `sendMany`: `(source, options)`, or `({ list, ...options })` for the members
 * of a list. Throws CONFIG for anything else.
 * @internal
 */
export function resolveSendMany(
  sourceOrOptions: Source | (SendManyOptions & { readonly list: string }),
  maybeOptions: SendManyOptions | undefined,
  subscriptions: SubscriptionStore | undefined,
): { source: Source; options: SendManyOptions; list?: string } {
  const iterable = typeof sourceOrOptions === 'object' && sourceOrOptions !== null && (Symbol.iterator in sourceOrOptions || Symbol.asyncIterator in sourceOrOptions);
  if (iterable) {
    const options = maybeOptions ?? {};
    if (typeof options !== 'object' || options === null) throw configError('sendMany.options', 'an object', options);
    if (options.list !== undefined) throw configError('sendMany.list', 'absent when a source is given (a list is the source)', options.list);
    return { source: sourceOrOptions as Source, options };
  }
  const options = sourceOrOptions as SendManyOptions | undefined;
  if (typeof options !== 'object' || options === null || options.list === undefined || maybeOptions !== undefined) {
    throw configError('sendMany.source', 'an iterable or async iterable of messages, or { list } to send to a list', sourceOrOptions);
  }
  if (typeof options.list !== 'string') throw configError('sendMany.list', 'a list name', options.list);
  if (subscriptions === undefined) throw configError('sendMany.list', 'a mailer with subscriptions', options.list);
  const list = options.list;
  const base = checkBase(options.message);
  return { source: listSource(subscriptions, list, options.signal), options: { ...options, message: { ...base, list } }, list };
}

/** The unsubscribed records of `list`; undefined when the store cannot count. Rejects with STORE. */
async function unsubscribedOf(store: SubscriptionStore, list: string): Promise<number | undefined> {
  if (store.count === undefined) return undefined;
  try {
    return (await store.count(list)).unsubscribed;
  } catch (err) {
    if (isMailError(err)) throw err;
    throw new MailError(`Subscription store (${store.name}) count failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err });
  }
}

function checkBase(base: unknown): Partial<MessageInput> | undefined {
  if (base === undefined) return undefined;
  if (typeof base !== 'object' || base === null || Array.isArray(base)) throw configError('sendMany.message', 'an object of message fields shared by every item', base);
  return base as Partial<MessageInput>;
}

/** Object-valued fields merged key by key (the item's keys win) rather than replaced. */
const MERGED = ['tags', 'metadata', 'headers', 'vars'] as const;

/** The item over the shared fields, with the campaign id. */
function mergeItem(base: Partial<MessageInput> | undefined, item: MessageInput, campaign: string): MessageInput {
  if (typeof item !== 'object' || item === null) return item; // normalization refuses it with its own message
  const out: Record<string, unknown> = base === undefined ? { ...item } : { ...base, ...item };
  if (base !== undefined) {
    for (const k of MERGED) {
      const b = (base as Record<string, unknown>)[k];
      const i = (item as unknown as Record<string, unknown>)[k];
      if (isPlain(b) && isPlain(i)) out[k] = { ...b, ...i };
    }
  }
  out.campaign = campaign;
  return out as unknown as MessageInput;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------
// Control
// ---------------------------------------------------------------------------------------

/** A job held back here. */
interface Held {
  readonly job: Job;
  readonly campaign: string | undefined;
  /** Set when held by the complaint guard (From domain). */
  readonly guardDomain: string | undefined;
}

interface CachedState {
  state: CampaignState;
  reason: string | undefined;
  loadedAt: number;
  loading: boolean;
  /** False until the store answered once: until then jobs of the campaign wait (it may be paused). */
  known?: boolean;
}

/** Live counts of a `sendMany` run in this process, for progress events. */
interface Run {
  readonly id: string;
  readonly total: number | undefined;
  read: number;
  invalid: number;
  queued: number;
  sent: number;
  failed: number;
  suppressed: number;
  cancelled: number;
  sourceDone: boolean;
  dirty: boolean;
  /** (time, sent) samples of the last ~10 s, for the rate. */
  readonly samples: [number, number][];
  resumeWaiters: (() => void)[];
}

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
  /** States by campaign id; past MAX_STATES the first cached is forgotten (read again when asked). */
  private readonly states = new BoundedMap<string, CachedState>(MAX_STATES, 'fifo');
  private readonly held = new Map<string, Held>();
  private readonly heldPerCampaign = new Map<string, number>();
  private readonly runs = new Map<string, Run>();
  private pending = new Map<string, Record<string, number>>();
  private flushTimer: ReturnType<MailerCore['clock']['setTimeout']> | undefined;
  private progressTimer: ReturnType<typeof setInterval> | undefined;
  private refreshTimer: ReturnType<typeof setInterval> | undefined;
  private readonly progressIntervalMs: number;
  private readonly writes = new Set<Promise<unknown>>();
  private readonly off: (() => void)[] = [];

  constructor(parts: CampaignControlParts) {
    this.core = parts.core;
    this.settler = parts.settler;
    this.store = parts.store;
    this.correlation = parts.correlation;
    this.guard = new ComplaintGuard(parts.guard, () => this.core.clock.now());
    this.progressIntervalMs = parts.progressIntervalMs ?? 1_000;
    const e = this.core.emitter;
    this.off.push(
      e.on('sent', (ev) => {
        const from = this.core.records.get(ev.id)?.message.from.address;
        if (from !== undefined) this.guard.delivered(domainOfAddress(from), ev.recipients.length);
        this.unhold(ev.jobId);
        if (ev.campaign !== undefined) this.count(ev.campaign, 'sent', ev.recipients.length);
      }),
      e.on('failed', (ev) => {
        this.unhold(ev.jobId);
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
      const state = this.stateOf(id);
      if (state === 'cancelled') {
        this.unhold(job.id);
        return cancelledError(id);
      }
      // Unknown yet (being read from the store): look again very soon.
      if (state === undefined) return this.core.clock.now() + 50;
      if (state === 'paused') {
        this.keep(job, id, undefined);
        return this.core.clock.now() + HOLD_MS;
      }
    }
    if (m.category === 'marketing' && this.guard.anyPaused) {
      const domain = domainOfAddress(m.from.address);
      if (this.guard.isPaused(domain)) {
        this.keep(job, id, domain);
        return this.core.clock.now() + HOLD_MS;
      }
    }
    return undefined;
  }

  private keep(job: Job, campaign: string | undefined, guardDomain: string | undefined): void {
    if (this.held.has(job.id)) return;
    this.held.set(job.id, { job, campaign, guardDomain });
    if (campaign === undefined) return;
    this.heldPerCampaign.set(campaign, (this.heldPerCampaign.get(campaign) ?? 0) + 1);
    // While jobs are held for a campaign, its state is read again every few seconds, so that a
    // resume made by another process of a fleet (or straight in the store) lets them go.
    if (this.refreshTimer === undefined) {
      this.refreshTimer = setInterval(() => {
        if (this.heldPerCampaign.size === 0) {
          clearInterval(this.refreshTimer);
          this.refreshTimer = undefined;
          return;
        }
        for (const id of this.heldPerCampaign.keys()) this.stateOf(id, true);
      }, STATE_TTL_MS);
      this.refreshTimer.unref();
    }
  }

  private unhold(jobId: string): Held | undefined {
    const h = this.held.get(jobId);
    if (h === undefined) return undefined;
    this.held.delete(jobId);
    if (h.campaign !== undefined) {
      const n = (this.heldPerCampaign.get(h.campaign) ?? 1) - 1;
      if (n <= 0) this.heldPerCampaign.delete(h.campaign);
      else this.heldPerCampaign.set(h.campaign, n);
    }
    return h;
  }

  /** Held jobs matching `which` go back to their lanes now. */
  private release(which: (h: Held) => boolean): void {
    const now = this.core.clock.now();
    const scheduler = this.core.scheduler;
    for (const h of [...this.held.values()]) {
      if (!which(h)) continue;
      this.unhold(h.job.id);
      // Still waiting in the heap: take it out and put it in its lane now.
      if (h.job.state === 'scheduled' && scheduler.cancel(h.job)) {
        h.job.runAt = now;
        scheduler.enqueue(h.job);
      }
    }
  }

  /** The state of a campaign as cached; starts reading it from the store when unknown or stale. */
  private stateOf(id: string, force = false): CampaignState | undefined {
    const now = this.core.clock.now();
    let c = this.states.get(id);
    if (c !== undefined && (c.loading || (!force && now - c.loadedAt < STATE_TTL_MS))) return c.known === false ? undefined : c.state;
    if (c === undefined) {
      c = { state: 'running', reason: undefined, loadedAt: now, loading: true, known: false };
      this.states.set(id, c);
      const got = this.load(id, c);
      return got ? c.state : undefined;
    }
    c.loading = true;
    this.load(id, c);
    return c.state;
  }

  /** Reads the state of `id` into `c`; true when it was known at once (a synchronous store). */
  private load(id: string, c: CachedState): boolean {
    const apply = (record: Awaited<ReturnType<CampaignStore['get']>>): void => {
      c.loading = false;
      c.known = true;
      c.loadedAt = this.core.clock.now();
      const before = c.state;
      c.state = record?.state ?? 'running';
      c.reason = record?.reason;
      // Resumed by another process of the fleet (or in the store).
      if (before === 'paused' && c.state !== 'paused') this.letGo(id);
      if (before !== 'cancelled' && c.state === 'cancelled') {
        this.cancelHere(id);
        this.letGo(id);
      }
    };
    try {
      const got = this.store.get(id);
      if (!(got instanceof Promise)) {
        apply(got);
        return true;
      }
      got.then(apply, (err: unknown) => {
        // Unknown state: sending as running beats holding mail forever on a failing store.
        c.loading = false;
        c.known = true;
        c.loadedAt = this.core.clock.now();
        this.core.reportError('store.campaigns', `Campaign store (${this.store.name}) get`, err);
      });
    } catch (err) {
      c.loading = false;
      c.known = true;
      this.core.reportError('store.campaigns', `Campaign store (${this.store.name}) get`, err);
      return true;
    }
    return false;
  }

  // -- runs ----------------------------------------------------------------------------

  /** Registers a `sendMany` run; refuses a campaign that was cancelled. */
  async startRun(id: string, total: number | undefined): Promise<void> {
    if (this.runs.has(id)) throw new MailError(`Campaign ${id} is already being sent by sendMany`, { code: MailErrorCode.VALIDATION });
    const record = await this.guardStore('get', () => this.store.get(id));
    if (record?.state === 'cancelled') throw new MailError(`Campaign ${id} was cancelled; give the new send another campaign id`, { code: MailErrorCode.VALIDATION });
    const paused = record?.state === 'paused';
    this.states.set(id, { state: paused ? 'paused' : 'running', reason: paused ? record?.reason : undefined, loadedAt: this.core.clock.now(), loading: false });
    this.runs.set(id, { id, total, read: 0, invalid: 0, queued: 0, sent: 0, failed: 0, suppressed: 0, cancelled: 0, sourceDone: false, dirty: true, samples: [[this.core.clock.now(), 0]], resumeWaiters: [] });
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
      if (invalid > 0) this.add(id, 'invalid', invalid);
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
    const others = (): number => this.held.size - (this.heldPerCampaign.get(id) ?? 0);
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
    this.states.set(id, { state: 'paused', reason, loadedAt: this.core.clock.now(), loading: false });
    await this.guardStore('setState', () => this.store.setState(id, 'paused', this.core.clock.now(), reason));
    this.changed(id, 'paused', reason);
  }

  async resume(id: string): Promise<void> {
    const record = await this.guardStore('get', () => this.store.get(id));
    const state = this.states.get(id)?.state ?? record?.state;
    if (state === 'cancelled') throw new MailError(`Campaign ${id} was cancelled; it cannot be resumed`, { code: MailErrorCode.VALIDATION });
    if (state !== 'paused') return;
    this.states.set(id, { state: 'running', reason: undefined, loadedAt: this.core.clock.now(), loading: false });
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
    if (run !== undefined) {
      const waiters = run.resumeWaiters;
      run.resumeWaiters = [];
      for (const w of waiters) w();
    }
  }

  async cancel(id: string, reason: string): Promise<void> {
    if (this.states.get(id)?.state === 'cancelled') return;
    this.states.set(id, { state: 'cancelled', reason, loadedAt: this.core.clock.now(), loading: false });
    await this.guardStore('setState', () => this.store.setState(id, 'cancelled', this.core.clock.now(), reason));
    const run = this.runs.get(id);
    if (run !== undefined) {
      const waiters = run.resumeWaiters;
      run.resumeWaiters = [];
      for (const w of waiters) w();
    }
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
        this.unhold(job.id);
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
    if (campaign !== undefined && counter !== undefined && (event.type !== 'complained' || complaint)) this.add(campaign, counter, 1);
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

  // -- counters ------------------------------------------------------------------------

  /** Counts for a campaign: for its run's progress and, batched, for the store. */
  private count(id: string, name: 'queued' | 'sent' | 'failed' | 'suppressed' | 'cancelled', n: number): void {
    const run = this.runs.get(id);
    if (run !== undefined) {
      run[name] += n;
      run.dirty = true;
      if (name !== 'queued') this.maybeComplete(run);
    }
    this.add(id, name, n);
  }

  private add(id: string, name: string, n: number): void {
    let p = this.pending.get(id);
    if (p === undefined) this.pending.set(id, (p = {}));
    p[name] = (p[name] ?? 0) + n;
    if (this.flushTimer === undefined) {
      this.flushTimer = this.core.clock.setTimeout(() => {
        this.flushTimer = undefined;
        void this.flush();
      }, FLUSH_MS);
      this.flushTimer.unref?.();
    }
  }

  /** Writes the counts gathered since the last flush; waits for writes already under way. */
  async flush(): Promise<void> {
    if (this.flushTimer !== undefined) {
      this.core.clock.clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    const batch = this.pending;
    this.pending = new Map();
    const now = this.core.clock.now();
    for (const [id, counts] of batch) {
      const w = (async () => {
        try {
          await this.store.increment(id, counts, now);
        } catch (err) {
          this.core.reportError('store.campaigns', `Campaign store (${this.store.name}) increment`, err);
        }
      })();
      this.writes.add(w);
      void w.then(() => this.writes.delete(w));
    }
    await Promise.all([...this.writes]);
  }

  /** Writes what is left and stops the timers (the mailer closes). */
  async close(): Promise<void> {
    if (this.progressTimer !== undefined) clearInterval(this.progressTimer);
    this.progressTimer = undefined;
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    for (const run of this.runs.values()) {
      for (const w of run.resumeWaiters) w();
      run.resumeWaiters = [];
    }
    for (const off of this.off) off();
    await this.flush();
  }

  // -- progress ------------------------------------------------------------------------

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
    if (!run.sourceDone || this.remaining(run, false) > 0 || this.states.get(run.id)?.state !== 'running') return;
    this.runs.delete(run.id);
    this.states.set(run.id, { state: 'completed', reason: undefined, loadedAt: this.core.clock.now(), loading: false });
    void this.guardStore('setState', () => this.store.setState(run.id, 'completed', this.core.clock.now())).catch(() => undefined);
    this.emit(run, 'completed');
  }

  private remaining(run: Run, withUnread: boolean): number {
    const open = Math.max(0, run.queued - run.sent - run.failed - run.suppressed - run.cancelled);
    const unread = withUnread && run.total !== undefined && !run.sourceDone ? Math.max(0, run.total - run.read) : 0;
    return open + unread;
  }

  private changed(id: string, kind: 'paused' | 'resumed' | 'cancelled', reason: string | undefined): void {
    const run = this.runs.get(id) ?? newRun(id);
    this.emit(run, kind, reason);
  }

  private emit(run: Run, kind: CampaignEvent['kind'], reason?: string): void {
    run.dirty = false;
    const now = this.core.clock.now();
    run.samples.push([now, run.sent]);
    while (run.samples.length > 2 && now - run.samples[1]![0] >= 10_000) run.samples.shift();
    const [t0, s0] = run.samples[0]!;
    const rate = now > t0 ? ((run.sent - s0) * 1000) / (now - t0) : 0;
    const remaining = this.remaining(run, true);
    const known = run.sourceDone || run.total !== undefined;
    const state = this.states.get(run.id)?.state ?? 'running';
    if (!this.core.emitter.has('campaign')) return;
    this.core.emitter.emit('campaign', {
      campaign: run.id,
      kind,
      state,
      ...(reason !== undefined ? { reason } : {}),
      read: run.read,
      queued: run.queued,
      invalid: run.invalid,
      sent: run.sent,
      failed: run.failed,
      suppressed: run.suppressed,
      cancelled: run.cancelled,
      remaining,
      ratePerSecond: Math.round(rate * 100) / 100,
      ...(known && rate > 0 ? { etaMs: Math.round((remaining / rate) * 1000) } : {}),
      at: now,
    });
  }

  private async guardStore<T>(what: string, fn: () => T | Promise<T>): Promise<Awaited<T>> {
    try {
      return await fn();
    } catch (err) {
      throw new MailError(`Campaign store (${this.store.name}) ${what} failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err });
    }
  }
}

const ZERO: CampaignCounts = {
  queued: 0,
  invalid: 0,
  sent: 0,
  failed: 0,
  suppressed: 0,
  cancelled: 0,
  delivered: 0,
  bounced: 0,
  complained: 0,
  unsubscribed: 0,
  opened: 0,
  clicked: 0,
};

/** Feedback event types counted per campaign here, and their counter. */
const FEEDBACK_COUNTERS: Partial<Record<FeedbackEvent['type'], string>> = {
  delivered: 'delivered',
  bounced: 'bounced',
  complained: 'complained',
  unsubscribed: 'unsubscribed',
  // opened and clicked are counted by the tracking handler itself (unique and total, human and machine).
};

function newRun(id: string): Run {
  return { id, total: undefined, read: 0, invalid: 0, queued: 0, sent: 0, failed: 0, suppressed: 0, cancelled: 0, sourceDone: false, dirty: false, samples: [], resumeWaiters: [] };
}

/** The error of a job ended by its campaign's cancellation. @internal */
export function cancelledError(id: string): MailError {
  return new MailError(`Campaign ${id} was cancelled`, { code: MailErrorCode.CANCELLED, retryable: false });
}

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

