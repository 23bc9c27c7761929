/**
 * Rate and concurrency limits: per recipient domain, per transport and global, plus the
 * adaptive throttle settings.
 *
 * @module
 */

import { MailErrorCode, configError } from '../errors.js';
import { knownKeys, rejectUnknownKeys } from '../validation/known-keys.js';
import { PRIORITIES } from '../types.js';
import type { Priority } from '../types.js';

/** Limits for one recipient domain. */
export interface DomainLimits {
  /** Sends per second (token bucket rate). @default Infinity */
  readonly ratePerSecond?: number;
  /** Tokens the bucket holds, so short bursts may exceed the rate. @default max(2, ratePerSecond / 10) */
  readonly burst?: number;
  /** Sends in flight at once to this domain. @default Infinity */
  readonly concurrency?: number;
}

/** How the mailer reacts to throttling responses (421 4.7.28, 451 4.7.500, TSS04, 429). */
export interface ThrottleOptions {
  /** Pause of the domain when the response gives no hint and its rule no default, in ms. @default 60_000 */
  readonly pauseMs?: number;
  /** Longest pause honoured, in ms. @default 14_400_000 (4 h) */
  readonly maxPauseMs?: number;
  /** Factor applied to the domain's rate on each throttle (multiplicative decrease). @default 0.5 */
  readonly decreaseFactor?: number;
  /** Lowest rate the throttle goes down to, per second. @default 0.1 */
  readonly minRatePerSecond?: number;
  /** Successes needed for each recovery step (additive increase). @default 10 */
  readonly recoverAfter?: number;
  /** Fraction of the pre-throttle rate added at each recovery step. @default 0.1 */
  readonly recoverStep?: number;
}

/** Weight of each priority lane in the weighted-fair pick (higher = larger share). */
export type PriorityWeights = Readonly<Record<Priority, number>>;

/** All the queue's limits. */
export interface LimitsOptions {
  /** Sends in flight at once across all domains. @default the transport's `maxConcurrency`, or 50 */
  readonly concurrency?: number;
  /** Limits for domains without their own entry. */
  readonly default?: DomainLimits;
  /** Per-domain overrides, keyed by ASCII lower-case domain (`'gmail.com'`). */
  readonly domains?: Readonly<Record<string, DomainLimits>>;
  /** Limits of the transport as a whole (on top of its own `capabilities`). */
  readonly transport?: { readonly ratePerSecond?: number; readonly concurrency?: number };
  /**
   * Sends in flight that only `critical` jobs may add on top of `concurrency` and of the
   * transport's concurrency, so that sends of other priorities stuck on a stalling server can
   * take every normal slot but never these. It matches the SMTP transport's `criticalReserve`
   * connections. Domain limits still apply to critical jobs. 0 turns the reserve off.
   * @default 1
   */
  readonly criticalReserve?: number;
}

/** Default lane weights: a critical lane gets 64 dispatches for each bulk one when both wait. */
export const DEFAULT_PRIORITY_WEIGHTS: PriorityWeights = Object.freeze({ critical: 64, high: 16, normal: 8, low: 4, bulk: 1 });

/** Default throttle reaction. */
export const DEFAULT_THROTTLE: Required<ThrottleOptions> = Object.freeze({
  pauseMs: 60_000,
  maxPauseMs: 4 * 3_600_000,
  decreaseFactor: 0.5,
  minRatePerSecond: 0.1,
  recoverAfter: 10,
  recoverStep: 0.1,
});

// Known names of each options object (an unknown one is a CONFIG error naming the nearest):
// add a field here when you add it to the interface above.
const DOMAIN_LIMIT_KEYS = knownKeys(['ratePerSecond', 'burst', 'concurrency']);
const THROTTLE_KEYS = knownKeys(['pauseMs', 'maxPauseMs', 'decreaseFactor', 'minRatePerSecond', 'recoverAfter', 'recoverStep']);
const LIMITS_KEYS = knownKeys(['concurrency', 'default', 'domains', 'transport', 'criticalReserve']);
const TRANSPORT_LIMIT_KEYS = knownKeys(['ratePerSecond', 'concurrency']);

/** Limits of one domain after defaults. */
export interface ResolvedDomainLimits {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly concurrency: number;
}

function positive(value: unknown, option: string, allowInfinity: boolean): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0 || (!allowInfinity && !Number.isFinite(value))) {
    throw configError(option, allowInfinity ? 'a positive number (or Infinity)' : 'a positive finite number', value);
  }
  return value;
}

function integerOrInfinity(value: unknown, option: string): number {
  if (value === Infinity) return Infinity;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw configError(option, 'an integer >= 1 (or Infinity)', value);
  return value;
}

function isRecord(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates one domain's limits, filling defaults from `base`. */
export function resolveDomainLimits(input: DomainLimits | undefined, base: ResolvedDomainLimits | undefined, option: string): ResolvedDomainLimits {
  if (input !== undefined && !isRecord(input)) throw configError(option, 'an object', input);
  if (input !== undefined) rejectUnknownKeys(input, DOMAIN_LIMIT_KEYS, `${option} option`, MailErrorCode.CONFIG, option);
  const rate = input?.ratePerSecond === undefined ? (base?.ratePerSecond ?? Infinity) : positive(input.ratePerSecond, `${option}.ratePerSecond`, true);
  const concurrency = input?.concurrency === undefined ? (base?.concurrency ?? Infinity) : integerOrInfinity(input.concurrency, `${option}.concurrency`);
  const burst = input?.burst === undefined ? defaultBurst(rate) : positive(input.burst, `${option}.burst`, false);
  if (burst < 1) throw configError(`${option}.burst`, 'a number >= 1', burst);
  return Object.freeze({ ratePerSecond: rate, burst, concurrency });
}

/**
 * Default bucket size: a tenth of a second's worth, at least 2. One token of slack lets a
 * domain whose token came due while every global slot was busy catch up instead of losing
 * that time; over 10 s the initial burst adds about 1% to the rate.
 */
export function defaultBurst(rate: number): number {
  return rate === Infinity ? Infinity : Math.max(2, rate / 10);
}

/** Validated limits. */
export interface ResolvedLimits {
  readonly concurrency: number;
  readonly default: ResolvedDomainLimits;
  readonly domains: ReadonlyMap<string, ResolvedDomainLimits>;
  readonly transportRate: number;
  readonly transportConcurrency: number;
  /** Extra slots, globally and on the transport, that only critical jobs may take. */
  readonly criticalReserve: number;
}

/** Validates all limits. `transportDefault` comes from the transport's capabilities. */
export function resolveLimits(
  input: LimitsOptions | undefined,
  transport: { readonly maxConcurrency?: number | undefined; readonly ratePerSecond?: number | undefined },
): ResolvedLimits {
  if (input !== undefined && !isRecord(input)) throw configError('limits', 'an object', input);
  if (input !== undefined) rejectUnknownKeys(input, LIMITS_KEYS, 'limits option', MailErrorCode.CONFIG, 'limits');
  const def = resolveDomainLimits(input?.default, undefined, 'limits.default');
  const domains = new Map<string, ResolvedDomainLimits>();
  if (input?.domains !== undefined) {
    if (!isRecord(input.domains)) throw configError('limits.domains', 'an object keyed by domain', input.domains);
    for (const [name, value] of Object.entries(input.domains)) {
      const key = name.toLowerCase().replace(/\.$/, '');
      if (!/^[a-z0-9.-]+$/.test(key)) throw configError(`limits.domains[${JSON.stringify(name)}]`, 'keyed by an ASCII domain name (use punycode for IDN)', name);
      domains.set(key, resolveDomainLimits(value, def, `limits.domains[${JSON.stringify(name)}]`));
    }
  }
  const tIn = input?.transport;
  if (tIn !== undefined && !isRecord(tIn)) throw configError('limits.transport', 'an object', tIn);
  if (tIn !== undefined) rejectUnknownKeys(tIn, TRANSPORT_LIMIT_KEYS, 'limits.transport option', MailErrorCode.CONFIG, 'limits.transport');
  const transportRate = Math.min(
    tIn?.ratePerSecond === undefined ? Infinity : positive(tIn.ratePerSecond, 'limits.transport.ratePerSecond', true),
    transport.ratePerSecond ?? Infinity,
  );
  const transportConcurrency = Math.min(
    tIn?.concurrency === undefined ? Infinity : integerOrInfinity(tIn.concurrency, 'limits.transport.concurrency'),
    transport.maxConcurrency ?? Infinity,
  );
  const concurrency =
    input?.concurrency === undefined
      ? transport.maxConcurrency !== undefined && Number.isFinite(transport.maxConcurrency)
        ? transport.maxConcurrency
        : 50
      : integerOrInfinity(input.concurrency, 'limits.concurrency');
  const reserve = input?.criticalReserve ?? 1;
  if (typeof reserve !== 'number' || !Number.isInteger(reserve) || reserve < 0 || reserve > 1000) {
    throw configError('limits.criticalReserve', 'an integer from 0 to 1000', reserve);
  }
  return { concurrency, default: def, domains, transportRate, transportConcurrency, criticalReserve: reserve };
}

/** Validates throttle options. */
export function resolveThrottle(input: ThrottleOptions | undefined): Required<ThrottleOptions> {
  if (input !== undefined && !isRecord(input)) throw configError('throttle', 'an object', input);
  if (input !== undefined) rejectUnknownKeys(input, THROTTLE_KEYS, 'throttle option', MailErrorCode.CONFIG, 'throttle');
  const o = { ...DEFAULT_THROTTLE, ...input };
  positive(o.pauseMs, 'throttle.pauseMs', false);
  positive(o.maxPauseMs, 'throttle.maxPauseMs', false);
  if (typeof o.decreaseFactor !== 'number' || !(o.decreaseFactor > 0 && o.decreaseFactor < 1)) {
    throw configError('throttle.decreaseFactor', 'a number between 0 and 1 (exclusive)', o.decreaseFactor);
  }
  positive(o.minRatePerSecond, 'throttle.minRatePerSecond', false);
  if (!Number.isInteger(o.recoverAfter) || o.recoverAfter < 1) throw configError('throttle.recoverAfter', 'an integer >= 1', o.recoverAfter);
  if (typeof o.recoverStep !== 'number' || !(o.recoverStep > 0 && o.recoverStep <= 1)) throw configError('throttle.recoverStep', 'a number in (0, 1]', o.recoverStep);
  return Object.freeze(o);
}

/** Validates priority weights. */
export function resolveWeights(input: Partial<PriorityWeights> | undefined): PriorityWeights {
  if (input !== undefined && !isRecord(input)) throw configError('priorityWeights', 'an object', input);
  const out = { ...DEFAULT_PRIORITY_WEIGHTS, ...input };
  for (const key of Object.keys(out)) {
    if (!(PRIORITIES as readonly string[]).includes(key)) throw configError(`priorityWeights.${key}`, `one of ${PRIORITIES.join(', ')}`, key);
  }
  for (const p of PRIORITIES) positive(out[p], `priorityWeights.${p}`, false);
  return Object.freeze(out);
}
