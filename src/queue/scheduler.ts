/**
 * The scheduler: one timer heap for scheduled sends, retries and wake-ups; ready lanes per
 * (recipient domain, priority); a weighted-fair pick across priorities and round-robin
 * across domains; token buckets and concurrency gates per domain, per transport and global;
 * adaptive throttling per domain (multiplicative decrease, additive recovery).
 *
 * Invariants:
 * - A job is in exactly one place: the heap (`scheduled`), a lane (`ready`), or in flight
 *   (`sending`). Cancelled jobs may linger in the heap or a lane and are skipped there.
 * - A domain is in the ring of priority p at most once (bit p of `inRing`), and only while it
 *   is not parked. A parked domain waits for a wake-up (pause end, token) in the heap or for
 *   one of its in-flight sends to end.
 * - Nothing here awaits: dispatch hands a job to the `dispatch` callback synchronously and
 *   the owner reports back through {@link Scheduler.release}.
 * - Each lane has two FIFOs: due retries (and sends put back by {@link Scheduler.requeueFront})
 *   are served before fresh jobs of the same domain and priority, so a retry due in 200 ms
 *   does not wait behind the domain's whole backlog.
 * - Jobs of every priority share `concurrency` (global and the transport's); critical jobs may
 *   go `criticalReserve` beyond it, so sends stuck on a stalling server never hold every slot
 *   a critical job could use.
 *
 * @internal
 * @module
 */

import type { Clock, Job, Priority, TimerHandle } from '../types.js';
import { PRIORITIES } from '../types.js';
import { Deque } from './deque.js';
import { TimeHeap } from './heap.js';
import { defaultBurst } from './limits.js';
import type { PriorityWeights, ResolvedDomainLimits, ResolvedLimits, ThrottleOptions } from './limits.js';
import { TokenBucket } from './token-bucket.js';

const LANES = PRIORITIES.length;
const PRIORITY_INDEX: Readonly<Record<Priority, number>> = { critical: 0, high: 1, normal: 2, low: 3, bulk: 4 };
const CRITICAL = PRIORITY_INDEX.critical;
/** Longest delay a Node timer takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface ThrottleState {
  rate: number;
  concurrency: number;
  readonly ceilingRate: number;
  readonly ceilingConcurrency: number;
  successes: number;
}

/** Scheduler view of one recipient domain. */
export class DomainState {
  /** Fresh jobs per priority. */
  readonly lanes: (Deque<Job> | undefined)[] = new Array<Deque<Job> | undefined>(LANES);
  /** Retries (attempt > 0) and requeued sends per priority, served before `lanes`; made on first use. */
  retries: (Deque<Job> | undefined)[] | undefined;
  readonly bucket: TokenBucket;
  /** Ready jobs (not counting cancelled ones left in lanes). */
  queued = 0;
  inflight = 0;
  pausedUntil = 0;
  inRing = 0;
  parked = false;
  throttle: ThrottleState | undefined;
  winStart = 0;
  winCount = 0;
  lastRate = 0;
  /** Idle and kept for reuse (see `Scheduler.maybeForget`): as good as forgotten until used again. */
  kept = false;

  constructor(
    readonly name: string,
    readonly limits: ResolvedDomainLimits,
    now: number,
  ) {
    this.bucket = new TokenBucket(limits.ratePerSecond, limits.burst, now);
    this.winStart = now;
  }

  /** Jobs waiting in priority `p`, retries and fresh, including cancelled ones not yet skipped. */
  waiting(p: number): number {
    return (this.lanes[p]?.length ?? 0) + (this.retries?.[p]?.length ?? 0);
  }

  /** Takes the next ready job of priority `p`, retries first; skips cancelled ones. */
  next(p: number): Job | undefined {
    const retries = this.retries?.[p];
    let job = retries?.shift();
    while (job !== undefined && job.state !== 'ready') job = retries!.shift();
    if (job !== undefined) return job;
    const lane = this.lanes[p];
    job = lane?.shift();
    while (job !== undefined && job.state !== 'ready') job = lane!.shift();
    return job;
  }

  /** Concurrency in force (the throttle may hold it below the configured limit). */
  concurrency(): number {
    return this.throttle === undefined ? this.limits.concurrency : Math.min(this.limits.concurrency, this.throttle.concurrency);
  }
}

type TimerItem = Job | DomainState;

/** Name of the pseudo-domain that carries the transport's own limits and throttle state. */
export const TRANSPORT_SCOPE = '*transport*';

/** What the scheduler reports when it slows a domain down. */
export interface ThrottleChange {
  readonly domain: string;
  readonly pausedUntil: number;
  readonly ratePerSecond: number;
  readonly concurrency: number;
}

/** Snapshot of one domain for `stats()`. */
export interface DomainStats {
  readonly queued: number;
  readonly inflight: number;
  /** Tokens available now (Infinity when unlimited). */
  readonly tokens: number;
  /** Rate in force, per second (lower than configured while throttled). */
  readonly ratePerSecond: number;
  /** Concurrency in force. */
  readonly concurrency: number;
  /** Paused until this time (ms since epoch), or 0. */
  readonly pausedUntil: number;
  readonly throttled: boolean;
}

/** Options of the scheduler. */
export interface SchedulerOptions {
  readonly clock: Clock;
  readonly limits: ResolvedLimits;
  readonly weights: PriorityWeights;
  readonly throttle: Required<ThrottleOptions>;
  /** Starts sending a job; must not throw. `now` is the time the scheduler read to let it go. */
  readonly dispatch: (job: Job, now: number) => void;
  /** Called when a scheduled job becomes due (before it enters its lane). */
  readonly onDue?: (job: Job) => void;
}

/** Most domain states the scheduler holds before idle ones are forgotten instead of kept. */
const KEEP_IDLE_DOMAINS = 1_000;

/** @internal */
export class Scheduler {
  private readonly clock: Clock;
  private readonly limits: ResolvedLimits;
  private readonly throttleOpts: Required<ThrottleOptions>;
  private readonly dispatchFn: (job: Job, now: number) => void;
  private readonly onDue: ((job: Job) => void) | undefined;
  private readonly domains = new Map<string, DomainState>();
  private readonly rings: Deque<DomainState>[] = [];
  private readonly pass: number[] = new Array<number>(LANES).fill(0);
  private readonly stride: number[];
  private vtime = 0;
  private readonly heap = new TimeHeap<TimerItem>();
  private timer: TimerHandle | undefined;
  private armedAt = Infinity;
  /** The transport's own limits, pause and throttle, kept like a domain's. */
  private readonly transport: DomainState;
  private pumping = false;
  private repump = false;
  private paused = false;
  /** Jobs in flight. */
  inflight = 0;
  /** Jobs waiting in the heap (sendAt or retry), including cancelled ones not yet popped. */
  scheduled = 0;
  /** Ready jobs per lane. */
  readonly laneCounts: number[] = new Array<number>(LANES).fill(0);
  /** Ready jobs in all lanes: the sum of {@link laneCounts}, kept so `idle` (asked after every send) adds nothing up. */
  private readyCount = 0;
  /**
   * Domain states (and the transport's) with a throttle in force: while there is none (most of
   * the time), an accepted send looks up no domain for the throttle recovery.
   */
  private throttled = 0;

  constructor(options: SchedulerOptions) {
    this.clock = options.clock;
    this.limits = options.limits;
    this.throttleOpts = options.throttle;
    this.dispatchFn = options.dispatch;
    this.onDue = options.onDue;
    this.stride = PRIORITIES.map((p) => 1 / options.weights[p]);
    for (let i = 0; i < LANES; i++) this.rings.push(new Deque<DomainState>());
    const tRate = this.limits.transportRate;
    this.transport = new DomainState(
      TRANSPORT_SCOPE,
      { ratePerSecond: tRate, burst: defaultBurst(tRate), concurrency: this.limits.transportConcurrency },
      this.clock.now(),
    );
  }

  /** Ready jobs in all lanes. */
  get ready(): number {
    return this.readyCount;
  }

  /** True when nothing is ready, scheduled or in flight. */
  get idle(): boolean {
    return this.inflight === 0 && this.scheduled === 0 && this.readyCount === 0;
  }

  /**
   * Adds a job: into its lane when due (a retry, `attempt > 0`, before fresh jobs), else into the
   * heap. A job due when it was made (`runAt <= createdAt`: a send without `sendAt`) is due now
   * without reading the clock, as is one due at `now` when the caller has read it. `now`, when
   * given, is also the time the pump starts with (the caller read it in the same synchronous
   * turn): one clock read per send instead of two.
   */
  enqueue(job: Job, now?: number): void {
    if (job.runAt > job.createdAt && job.runAt > (now ?? this.clock.now())) {
      job.state = 'scheduled';
      this.scheduled++;
      this.heap.push(job.runAt, job);
      this.arm();
    } else {
      job.state = 'ready';
      this.toLane(job, false);
      this.pump(now);
    }
  }

  /** Puts a job back at the head of its lane, before due retries (a throttled send that must go first when the domain resumes). */
  requeueFront(job: Job): void {
    job.state = 'ready';
    this.toLane(job, true);
    this.pump();
  }

  /** A job in flight has finished its attempt (whatever the outcome). */
  release(job: Job): void {
    this.inflight--;
    this.transport.inflight--;
    const d = this.domains.get(job.domain);
    if (d !== undefined) {
      d.inflight--;
      if (d.parked && d.pausedUntil <= this.clock.now()) this.unpark(d);
      this.maybeForget(d);
    }
    this.pump();
  }

  /** Marks a job cancelled wherever it waits; returns true when it was waiting (not in flight). */
  cancel(job: Job): boolean {
    if (job.state === 'ready') {
      const d = this.domains.get(job.domain);
      if (d !== undefined) d.queued--;
      this.laneCounts[PRIORITY_INDEX[job.priority]]!--;
      this.readyCount--;
      return true;
    }
    if (job.state === 'scheduled') {
      this.scheduled--;
      return true;
    }
    return false;
  }

  /**
   * Slows a domain down after a throttling response: pauses it (hint or default), halves its
   * rate and drops it to one connection. Returns the change, or undefined when the domain was
   * already paused by an earlier response of the same burst (only the pause may grow then).
   */
  throttle(domain: string, retryAfterMs: number | undefined): ThrottleChange | undefined {
    return this.applyThrottle(this.domainState(domain), retryAfterMs, true);
  }

  /** Slows the whole transport down (an ESP account rate limit), like {@link throttle} for a domain. */
  throttleTransport(retryAfterMs: number | undefined): ThrottleChange | undefined {
    return this.applyThrottle(this.transport, retryAfterMs, true);
  }

  /** Pauses every send through the transport (a paused ESP account) without changing its rate. */
  pauseTransport(retryAfterMs: number | undefined): ThrottleChange | undefined {
    return this.applyThrottle(this.transport, retryAfterMs, false);
  }

  private applyThrottle(d: DomainState, retryAfterMs: number | undefined, slowDown: boolean): ThrottleChange | undefined {
    const now = this.clock.now();
    const t = this.throttleOpts;
    const until = now + Math.min(retryAfterMs ?? t.pauseMs, t.maxPauseMs);
    if (d.pausedUntil > now) {
      if (until > d.pausedUntil) {
        d.pausedUntil = until;
        this.wakeAt(d, until);
      }
      return undefined;
    }
    d.pausedUntil = until;
    // The domain may be parked waiting for a slot; make sure something wakes it after the pause.
    this.wakeAt(d, until);
    if (slowDown) {
      const configured = d.limits.ratePerSecond;
      // An unlimited domain has no rate to halve: estimate what it was getting, extrapolating
      // the current window (at least a quarter second, so that a few early sends do not look
      // like thousands per second).
      const observed = Math.max(d.lastRate, (d.winCount * 1000) / Math.max(250, now - d.winStart));
      const current = d.throttle?.rate ?? (Number.isFinite(configured) ? configured : Math.max(observed, t.minRatePerSecond));
      const rate = Math.max(t.minRatePerSecond, current * t.decreaseFactor);
      if (d.throttle === undefined) this.throttled++;
      d.throttle = {
        rate,
        concurrency: 1,
        ceilingRate: d.throttle?.ceilingRate ?? current,
        ceilingConcurrency: d.throttle?.ceilingConcurrency ?? (Number.isFinite(d.limits.concurrency) ? d.limits.concurrency : Math.max(1, d.inflight)),
        successes: 0,
      };
      d.bucket.setRate(rate, 1, now);
      d.bucket.tokens = Math.min(d.bucket.tokens, 1);
    }
    return { domain: d.name, pausedUntil: until, ratePerSecond: d.throttle?.rate ?? d.limits.ratePerSecond, concurrency: d.concurrency() };
  }

  /** Records an accepted send for the throttle recovery (additive increase) of its domain and of the transport. */
  recordSuccess(domain: string): void {
    if (this.throttled === 0) return;
    const d = this.domains.get(domain);
    const stepped = (d !== undefined && this.stepUp(d)) || this.stepUp(this.transport);
    if (stepped) this.pump();
  }

  private stepUp(d: DomainState): boolean {
    const th = d.throttle;
    if (th === undefined || ++th.successes < this.throttleOpts.recoverAfter) return false;
    th.successes = 0;
    th.rate = Math.min(th.ceilingRate, th.rate + th.ceilingRate * this.throttleOpts.recoverStep);
    th.concurrency = Math.min(th.ceilingConcurrency, th.concurrency + 1);
    const now = this.clock.now();
    if (th.rate >= th.ceilingRate && th.concurrency >= th.ceilingConcurrency) {
      d.throttle = undefined;
      this.throttled--;
      d.bucket.setRate(d.limits.ratePerSecond, d.limits.burst, now);
    } else {
      d.bucket.setRate(th.rate, 1, now);
    }
    if (d.parked && d !== this.transport) this.unpark(d);
    return true;
  }

  /** Stops dispatching (jobs stay where they are). */
  pause(): void {
    this.paused = true;
  }

  /** Stops the timer; nothing is dispatched afterwards. */
  stop(): void {
    this.paused = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
  }

  /** Per-domain snapshot. */
  domainStats(): Record<string, DomainStats> {
    const now = this.clock.now();
    const out: Record<string, DomainStats> = {};
    for (const d of this.domains.values()) if (!d.kept) out[d.name] = this.snapshot(d, now);
    return out;
  }

  private snapshot(d: DomainState, now: number): DomainStats {
    d.bucket.refill(now);
    return {
      queued: d.queued,
      inflight: d.inflight,
      tokens: d.bucket.tokens,
      ratePerSecond: d.throttle?.rate ?? d.limits.ratePerSecond,
      concurrency: d.concurrency(),
      pausedUntil: d.pausedUntil > now ? d.pausedUntil : 0,
      throttled: d.throttle !== undefined,
    };
  }

  /** Time until which a domain is paused (0 when it is not). */
  pausedUntil(domain: string): number {
    return Math.max(this.domains.get(domain)?.pausedUntil ?? 0, this.transport.pausedUntil);
  }

  /** Snapshot of the transport's own gate. */
  transportStats(): DomainStats {
    return this.snapshot(this.transport, this.clock.now());
  }

  // -------------------------------------------------------------------------------------

  private domainState(name: string): DomainState {
    let d = this.domains.get(name);
    if (d === undefined) {
      d = new DomainState(name, this.limits.domains.get(name) ?? this.limits.default, this.clock.now());
      this.domains.set(name, d);
    } else {
      d.kept = false;
    }
    return d;
  }

  /** Drops the state of a domain with nothing going on, so a million-domain campaign stays bounded. */
  private maybeForget(d: DomainState): void {
    if (d.queued !== 0 || d.inflight !== 0 || d.inRing !== 0 || d.throttle !== undefined || d.parked) return;
    for (let p = 0; p < LANES; p++) if (d.waiting(p) > 0) return;
    const bucket = d.bucket;
    // An unlimited domain that was never paused (most of them) needs no clock: its bucket is
    // always full.
    if (d.pausedUntil !== 0 || bucket.rate !== Infinity) {
      const now = this.clock.now();
      if (d.pausedUntil > now) return;
      // A pause that has ended is no pause (0 reads the same everywhere: stats, pausedUntil()).
      d.pausedUntil = 0;
      bucket.refill(now);
      if (bucket.tokens < bucket.burst) return;
    }
    // While few domains are known, an idle one is kept and reused instead of being made again
    // for its next job (a DomainState, its bucket, lanes and deque: ~700 B per message when
    // every send leaves its domain idle, as with a fast transport). Kept, it is what a new one
    // would be: full bucket at its own rate, no throttle or pause, a fresh rate window.
    if (this.domains.size > KEEP_IDLE_DOMAINS || bucket.rate !== d.limits.ratePerSecond || bucket.burst !== d.limits.burst) {
      this.domains.delete(d.name);
      return;
    }
    d.kept = true;
    // The rate window starts again with the next send (see `take`): no clock read here.
    d.winStart = -Infinity;
    d.winCount = 0;
    d.lastRate = 0;
  }

  private toLane(job: Job, front: boolean): void {
    const p = PRIORITY_INDEX[job.priority];
    const d = this.domainState(job.domain);
    // A retry has waited its backoff already; behind the fresh backlog it could wait far longer.
    const retry = front || job.attempt > 0;
    const lanes = retry ? (d.retries ??= new Array<Deque<Job> | undefined>(LANES)) : d.lanes;
    let lane = lanes[p];
    if (lane === undefined) {
      lane = new Deque<Job>();
      lanes[p] = lane;
    }
    if (front) lane.unshift(job);
    else lane.push(job);
    d.queued++;
    this.laneCounts[p]!++;
    this.readyCount++;
    if (!d.parked) this.addToRing(d, p);
  }

  private addToRing(d: DomainState, p: number): void {
    const bit = 1 << p;
    if ((d.inRing & bit) !== 0) return;
    const ring = this.rings[p] as Deque<DomainState>;
    // A lane that was idle re-enters at the current virtual time: it neither hoards credit
    // from its idle time nor waits behind lanes that were busy.
    if (ring.length === 0 && (this.pass[p] as number) < this.vtime) this.pass[p] = this.vtime;
    ring.push(d);
    d.inRing |= bit;
  }

  private unpark(d: DomainState): void {
    d.parked = false;
    for (let p = 0; p < LANES; p++) if (d.waiting(p) > 0) this.addToRing(d, p);
  }

  private park(d: DomainState, waitMs: number, now: number): void {
    d.parked = true;
    if (waitMs !== Infinity) this.wakeAt(d, now + waitMs);
  }

  private wakeAt(d: DomainState, at: number): void {
    this.heap.push(at, d);
    this.arm();
  }

  private pickLane(): number {
    let best = -1;
    for (let p = 0; p < LANES; p++) {
      if ((this.rings[p] as Deque<DomainState>).length === 0) continue;
      if (best < 0 || (this.pass[p] as number) < (this.pass[best] as number)) best = p;
    }
    return best;
  }

  /**
   * Dispatches as much as the limits allow. Re-entrant calls are folded into the running one.
   * `now`: the time, when the caller has just read it (the first pick uses it).
   */
  pump(now?: number): void {
    if (this.pumping) {
      this.repump = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.repump = false;
        this.pumpOnce(now);
        now = undefined;
      } while (this.repump);
    } finally {
      this.pumping = false;
    }
  }

  private pumpOnce(given: number | undefined): void {
    if (this.paused) return;
    const t = this.transport;
    const concurrency = this.limits.concurrency;
    const reserve = this.limits.criticalReserve;
    // Read when a lane is picked, not before: most pumps (a send ended, nothing ready) pick none.
    let now = given;
    while (this.inflight < concurrency + reserve) {
      // Once the normal slots (global or the transport's) are taken, only the critical lane
      // may go on, into the reserve: stuck sends of other priorities never hold it.
      const reserveOnly = this.inflight >= concurrency || t.inflight >= t.concurrency();
      const p = reserveOnly ? ((this.rings[CRITICAL] as Deque<DomainState>).length > 0 ? CRITICAL : -1) : this.pickLane();
      if (p < 0) return;
      now ??= this.clock.now();
      // The transport gate comes before any domain: when it is closed nothing can go.
      const tLimit = p === CRITICAL ? t.concurrency() + reserve : t.concurrency();
      const tw = t.pausedUntil > now ? t.pausedUntil - now : t.inflight >= tLimit ? Infinity : t.bucket.waitMs(now);
      if (tw > 0) {
        if (tw !== Infinity && !t.parked) {
          t.parked = true;
          this.wakeAt(t, now + tw);
        }
        return;
      }
      const ring = this.rings[p] as Deque<DomainState>;
      const d = ring.shift() as DomainState;
      d.inRing &= ~(1 << p);
      if (d.waiting(p) === 0) continue;
      const wait = this.waitMs(d, now);
      if (wait > 0) {
        this.park(d, wait, now);
        continue;
      }
      const job = d.next(p);
      if (job === undefined) {
        this.maybeForget(d);
        continue;
      }
      this.take(d, now);
      this.take(t, now);
      d.queued--;
      this.laneCounts[p]!--;
      this.readyCount--;
      this.inflight++;
      this.vtime = this.pass[p] as number;
      this.pass[p] = this.vtime + (this.stride[p] as number);
      if (d.waiting(p) > 0) this.addToRing(d, p);
      job.state = 'sending';
      this.dispatchFn(job, now);
      // The dispatch took time: read the clock again if another lane is picked.
      now = undefined;
    }
  }

  /** Time until `d` may send (0: now; Infinity: when one of its sends ends). */
  private waitMs(d: DomainState, now: number): number {
    if (d.pausedUntil > now) return d.pausedUntil - now;
    if (d.inflight >= d.concurrency()) return Infinity;
    return d.bucket.waitMs(now);
  }

  /** Books one send against `d`: a token, a slot, and the observed-rate window. */
  private take(d: DomainState, now: number): void {
    d.bucket.take();
    d.inflight++;
    if (now - d.winStart >= 1000) {
      d.lastRate = (d.winCount * 1000) / (now - d.winStart);
      d.winStart = now;
      d.winCount = 0;
    }
    d.winCount++;
  }

  private arm(): void {
    const next = this.heap.peekTime();
    if (next === Infinity || next >= this.armedAt || this.paused) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.armedAt = next;
    // Node caps timers at 2^31-1 ms (24.8 days) and fires a longer one after 1 ms: a sendAt a
    // month away would spin. Wake at the cap instead; onTimer re-arms for what is left.
    this.timer = this.clock.setTimeout(() => this.onTimer(), Math.min(MAX_TIMER_MS, Math.max(0, next - this.clock.now())));
  }

  private onTimer(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    if (this.paused) return;
    const now = this.clock.now();
    let item = this.heap.popDue(now);
    while (item !== undefined) {
      if (item === this.transport) {
        item.parked = false;
      } else if (item instanceof DomainState) {
        if (item.parked) this.unpark(item);
      } else if (item.state === 'scheduled') {
        this.scheduled--;
        item.state = 'ready';
        this.onDue?.(item);
        this.toLane(item, false);
      }
      // else: a cancelled job; it was already uncounted.
      item = this.heap.popDue(now);
    }
    this.pump();
    this.arm();
  }
}
