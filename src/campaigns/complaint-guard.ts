/**
 * The complaint-rate guard (COMPLIANCE.md P-4): a rolling complaint rate per From domain,
 * complaints over delivered messages in a window (a day by default, as Gmail and Yahoo count).
 * At `warnRate` (0.1 %) it warns; at `pauseRate` (0.3 %) it pauses marketing mail from that
 * domain until the host resumes it. Transactional mail is never held. Nothing happens below
 * `minVolume` delivered messages in the window: three complaints out of a hundred say little.
 *
 * Pure bookkeeping with an injected clock; the mailer feeds it (`sent` events and complaint
 * feedback) and acts on what it returns.
 *
 * @module
 */

import { configError } from '../errors.js';

/** Options of the complaint-rate guard (`createMailer({ complaintGuard })`). */
export interface ComplaintGuardOptions {
  /** `false` turns the guard off. @default true */
  readonly enabled?: boolean;
  /** Length of the rolling window, ms. @default 86_400_000 (24 h) */
  readonly windowMs?: number;
  /** Complaint rate (0..1) at which a `warn` is emitted. @default 0.001 (0.1 %) */
  readonly warnRate?: number;
  /** Complaint rate (0..1) at which marketing mail from the domain is paused. @default 0.003 (0.3 %) */
  readonly pauseRate?: number;
  /** Fewest delivered messages in the window before the guard acts. @default 1000 */
  readonly minVolume?: number;
}

/** Level of a domain's complaint rate. */
export type ComplaintLevel = 'ok' | 'warn' | 'pause';

/** A domain's complaint rate now. */
export interface ComplaintRate {
  /** The From domain. */
  readonly domain: string;
  /** Complaints in the window. */
  readonly complaints: number;
  /** Delivered messages (recipients accepted) in the window. */
  readonly delivered: number;
  /** complaints / delivered (0 when nothing was delivered). */
  readonly rate: number;
  /** The level the rate is at (`ok` below `minVolume`). */
  readonly level: ComplaintLevel;
  /** True while marketing mail from the domain is held (until `resume`). */
  readonly paused: boolean;
  /** The window, ms. */
  readonly windowMs: number;
}

/** What a complaint changed: a new warning or a pause. */
export interface ComplaintChange extends ComplaintRate {
  readonly action: 'warn' | 'pause';
}

/** Buckets per window: the rate rolls in steps of windowMs / 24 (an hour with the default). */
const BUCKETS = 24;

interface DomainCounts {
  readonly delivered: number[];
  readonly complaints: number[];
  /** Index of the bucket of `bucketStart`, and that bucket's start time. */
  head: number;
  bucketStart: number;
  warned: boolean;
  paused: boolean;
}

/** Resolved guard settings. */
export type ResolvedComplaintGuard = Required<ComplaintGuardOptions>;

/**
 * Validates the guard options and fills the defaults; throws a CONFIG MailError naming the option.
 *
 * @example
 * ```ts
 * resolveComplaintGuard({ pauseRate: 0.005 }); // { enabled: true, windowMs: 86_400_000, warnRate: 0.001, pauseRate: 0.005, minVolume: 1000 }
 * ```
 */
export function resolveComplaintGuard(options: ComplaintGuardOptions | undefined): ResolvedComplaintGuard {
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw configError('complaintGuard', 'an object', options);
  const o = options ?? {};
  const rate = (name: 'warnRate' | 'pauseRate', fallback: number): number => {
    const v = o[name] ?? fallback;
    if (typeof v !== 'number' || !(v > 0 && v <= 1)) throw configError(`complaintGuard.${name}`, 'a rate > 0 and <= 1 (0.003 is 0.3 %)', v);
    return v;
  };
  const enabled = o.enabled ?? true;
  if (typeof enabled !== 'boolean') throw configError('complaintGuard.enabled', 'a boolean', enabled);
  const windowMs = o.windowMs ?? 86_400_000;
  if (typeof windowMs !== 'number' || !Number.isFinite(windowMs) || windowMs < BUCKETS) throw configError('complaintGuard.windowMs', `a number of ms >= ${BUCKETS}`, windowMs);
  const minVolume = o.minVolume ?? 1000;
  if (typeof minVolume !== 'number' || !Number.isInteger(minVolume) || minVolume < 1) throw configError('complaintGuard.minVolume', 'an integer >= 1', minVolume);
  const warnRate = rate('warnRate', 0.001);
  const pauseRate = rate('pauseRate', 0.003);
  if (warnRate > pauseRate) throw configError('complaintGuard.warnRate', `a rate <= pauseRate (${pauseRate})`, warnRate);
  return { enabled, windowMs, warnRate, pauseRate, minVolume };
}

/**
 * Rolling complaint rates per From domain.
 *
 * @example
 * ```ts
 * const guard = new ComplaintGuard(resolveComplaintGuard({ minVolume: 1000 }), () => Date.now());
 * guard.delivered('news.example.com', 2000);
 * guard.complaint('news.example.com'); // undefined (0.05 %)
 * guard.complaint('news.example.com'); // { action: 'warn', rate: 0.001, ... }
 * ```
 */
export class ComplaintGuard {
  private readonly domains = new Map<string, DomainCounts>();
  private readonly bucketMs: number;
  private pausedCount = 0;
  /** The domain `delivered` counted last, as given, and its counts. */
  private lastDomain = '';
  private lastCounts: DomainCounts | undefined;

  constructor(
    readonly settings: ResolvedComplaintGuard,
    private readonly now: () => number,
  ) {
    this.bucketMs = settings.windowMs / BUCKETS;
  }

  /** Counts `count` delivered recipients of mail from `domain`. */
  delivered(domain: string, count = 1): void {
    if (!this.settings.enabled) return;
    // Called for every sent message, mostly with the same domain: its counts without a map lookup.
    let d = this.lastCounts;
    if (d === undefined || domain !== this.lastDomain) {
      d = this.roll(domain.toLowerCase());
      this.lastDomain = domain;
      this.lastCounts = d;
    } else {
      this.rollCounts(d);
    }
    d.delivered[d.head]! += count;
  }

  /** Counts a complaint about mail from `domain`; returns the warning or pause it triggers, if any. */
  complaint(domain: string): ComplaintChange | undefined {
    if (!this.settings.enabled) return undefined;
    const key = domain.toLowerCase();
    const d = this.roll(key);
    d.complaints[d.head]! += 1;
    const rate = this.rateOf(key, d);
    if (rate.level === 'pause' && !d.paused) {
      d.paused = true;
      this.pausedCount++;
      d.warned = true;
      return { ...rate, paused: true, action: 'pause' };
    }
    if (rate.level === 'ok') d.warned = false;
    if (rate.level !== 'ok' && !d.warned) {
      d.warned = true;
      return { ...rate, action: 'warn' };
    }
    return undefined;
  }

  /** The rate of `domain` now. */
  status(domain: string): ComplaintRate {
    const key = domain.toLowerCase();
    const d = this.domains.get(key);
    if (d === undefined) return { domain: key, complaints: 0, delivered: 0, rate: 0, level: 'ok', paused: false, windowMs: this.settings.windowMs };
    return this.rateOf(key, this.roll(key));
  }

  /** True while marketing mail from `domain` is paused. */
  isPaused(domain: string): boolean {
    return this.pausedCount > 0 && this.domains.get(domain.toLowerCase())?.paused === true;
  }

  /** True while any domain is paused (a cheap check before looking a domain up). */
  get anyPaused(): boolean {
    return this.pausedCount > 0;
  }

  /** Domains paused now. */
  pausedDomains(): string[] {
    return [...this.domains].filter(([, d]) => d.paused).map(([k]) => k);
  }

  /**
   * Lifts the pause of `domain` (the host looked into it). The counts stay: a further complaint
   * while the rate is still over `pauseRate` pauses it again. Returns false when it was not paused.
   */
  resume(domain: string): boolean {
    const d = this.domains.get(domain.toLowerCase());
    if (d === undefined || !d.paused) return false;
    d.paused = false;
    this.pausedCount--;
    return true;
  }

  private rateOf(domain: string, d: DomainCounts): ComplaintRate {
    let complaints = 0;
    let delivered = 0;
    for (let i = 0; i < BUCKETS; i++) {
      complaints += d.complaints[i]!;
      delivered += d.delivered[i]!;
    }
    const rate = delivered === 0 ? 0 : complaints / delivered;
    const s = this.settings;
    const level: ComplaintLevel = delivered < s.minVolume ? 'ok' : rate >= s.pauseRate ? 'pause' : rate >= s.warnRate ? 'warn' : 'ok';
    return { domain, complaints, delivered, rate, level, paused: d.paused, windowMs: s.windowMs };
  }

  /** The domain's counts with the buckets older than the window emptied. */
  private roll(domain: string): DomainCounts {
    const d = this.domains.get(domain);
    if (d !== undefined) return this.rollCounts(d);
    const fresh: DomainCounts = { delivered: new Array<number>(BUCKETS).fill(0), complaints: new Array<number>(BUCKETS).fill(0), head: 0, bucketStart: this.now(), warned: false, paused: false };
    this.domains.set(domain, fresh);
    return fresh;
  }

  /** `d` with the buckets older than the window emptied. */
  private rollCounts(d: DomainCounts): DomainCounts {
    const now = this.now();
    const steps = Math.floor((now - d.bucketStart) / this.bucketMs);
    if (steps <= 0) return d;
    for (let i = 0; i < Math.min(steps, BUCKETS); i++) {
      d.head = (d.head + 1) % BUCKETS;
      d.delivered[d.head] = 0;
      d.complaints[d.head] = 0;
    }
    d.bucketStart += steps * this.bucketMs;
    return d;
  }
}
