/**
 * The fleet-wide limiter: per-key token buckets, concurrency leases and the adaptive throttle
 * (AIMD) kept in Redis and changed only by Lua scripts, so every process that shares the
 * prefix shares the limits. A key is a recipient domain (`gmail.com`) or the transport
 * (`*transport*`); the semantics are those of the in-process scheduler.
 *
 * @module
 */

import { configError } from '../errors.js';
import { resolveDomainLimits, resolveThrottle } from '../queue/limits.js';
import type { DomainLimits, ResolvedDomainLimits, ThrottleOptions } from '../queue/limits.js';
import { ACQUIRE, RELEASE, STATE } from './limiter-scripts.js';
import { defineScript, guard } from './redis.js';
import type { RedisPartContext } from './redis.js';

/** Limits of one key: `ratePerSecond` (token bucket), `burst` and `concurrency`, as for a domain in `limits.domains`. */
export type LimiterLimits = DomainLimits;

/** One key and its limits, for {@link RedisLimiter.acquireAll}. */
export interface LimiterGate {
  /** The key: a recipient domain, or the transport's scope name. */
  readonly key: string;
  /** Its limits; unlimited when empty. */
  readonly limits: LimiterLimits;
}

/** Why an acquire was refused. */
export type AcquireRefusal = 'paused' | 'concurrency' | 'rate';

/** What {@link RedisLimiter.acquire} answers. */
export type AcquireResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** When to try again, ms: the end of a pause, the next token, or a short poll while every slot is taken. */
      readonly waitMs: number;
      readonly reason: AcquireRefusal;
      /** The key that waits longest. */
      readonly key: string;
    };

/** How a send that held a lease ended, for the throttle. */
export type ReleaseOutcome = 'success' | 'throttled' | 'paused' | 'other';

/** What {@link RedisLimiter.release} answers. */
export interface ReleaseResult {
  /** False when the lease had already lapsed (or was never taken). */
  readonly released: boolean;
  /**
   * What the release changed: `throttled` (paused and slowed down now, or paused for a
   * `paused` outcome), `pause-extended` (already paused; a longer hint moved the end),
   * `recovered-step` (additive increase), `recovered` (back to the configured limits).
   */
  readonly change: 'none' | 'throttled' | 'pause-extended' | 'recovered-step' | 'recovered';
  /** Paused until this time (Redis clock, ms since epoch), or 0. */
  readonly pausedUntil: number;
}

/** Snapshot of one key, from {@link RedisLimiter.state}. */
export interface LimiterState {
  /** Tokens available now (Infinity when unlimited; the burst when the key was never used). */
  readonly tokens: number;
  /** Rate in force, per second (lower than configured while throttled; Infinity when unlimited). */
  readonly ratePerSecond: number;
  /** Concurrency in force (Infinity when unlimited). */
  readonly concurrency: number;
  /** Leases held and not lapsed. */
  readonly inflight: number;
  /** Paused until this time (Redis clock, ms since epoch), or 0. */
  readonly pausedUntil: number;
  readonly throttled: boolean;
  /** The Redis clock when the snapshot was taken, ms since epoch. */
  readonly now: number;
  /** False when Redis holds nothing for the key (never used, or idle past `stateTtlMs`). */
  readonly known: boolean;
}

/** Options of {@link redisLimiter}. */
export interface RedisLimiterOptions {
  /** How the shared throttle reacts to throttling responses (same options as the mailer's `throttle`). */
  readonly throttle?: ThrottleOptions;
  /**
   * How long a lease holds a slot unless released, ms: the slots of a worker that died come
   * back after this. Keep it above the longest send (the transport's timeout).
   * @default 60_000
   */
  readonly leaseMs?: number;
  /** Wait suggested when every slot of a key is taken, ms (a slot frees when a send ends, which Redis does not announce). @default 50 */
  readonly concurrencyRetryMs?: number;
  /** How long the state of an idle key is kept, ms (its bucket is full again long before). @default 86_400_000 (1 day) */
  readonly stateTtlMs?: number;
}

/** The fleet-wide limiter. Every method is one round trip to Redis. */
export interface RedisLimiter {
  /**
   * Takes a token and a lease on `key`, or nothing. `leaseId` must be unique per send (the
   * job id and attempt): {@link release} gives it back.
   */
  acquire(key: string, limits: LimiterLimits, leaseId: string): Promise<AcquireResult>;
  /** Takes a token and a lease on every gate (a domain and the transport), or nothing on any. */
  acquireAll(gates: readonly LimiterGate[], leaseId: string): Promise<AcquireResult>;
  /**
   * Gives a lease back and feeds the shared throttle: `throttled` pauses the key for every
   * worker (for `hintMs`, or the throttle's `pauseMs`) and slows it down; `paused` only pauses
   * it; `success` counts towards recovery; `other` only releases.
   */
  release(key: string, leaseId: string, outcome: ReleaseOutcome, hintMs?: number): Promise<ReleaseResult>;
  /** The key's state now. */
  state(key: string): Promise<LimiterState>;
}

const CHANGES: readonly ReleaseResult['change'][] = ['none', 'throttled', 'pause-extended', 'recovered-step', 'recovered'];
const REFUSALS: readonly AcquireRefusal[] = ['paused', 'concurrency', 'rate'];
const OUTCOMES: ReadonlySet<string> = new Set<ReleaseOutcome>(['success', 'throttled', 'paused', 'other']);

function positiveInteger(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw configError(option, 'a positive integer (ms)', value);
  return value;
}

/** Infinity goes to Lua as -1. */
const finite = (n: number): number => (n === Infinity ? -1 : n);
const infinite = (s: string): number => (s === '' ? Infinity : Number(s) < 0 ? Infinity : Number(s));

/**
 * Creates the fleet-wide limiter on a Redis client. Usually obtained as `redisState(...).limiter`.
 *
 * @example
 * ```ts
 * const { limiter } = redisState({ connection: { host: '127.0.0.1', port: 6379 } });
 * const got = await limiter.acquire('gmail.com', { ratePerSecond: 50, concurrency: 5 }, 'msg_1/0#1');
 * if (got.ok) {
 *   const outcome = await send();
 *   await limiter.release('gmail.com', 'msg_1/0#1', outcome); // 'success' | 'throttled' | 'other'
 * } else {
 *   retryIn(got.waitMs);
 * }
 * ```
 */
export function redisLimiter(context: RedisPartContext, options: RedisLimiterOptions = {}): RedisLimiter {
  if (typeof options !== 'object' || options === null) throw configError('limiter', 'an object', options);
  const throttle = resolveThrottle(options.throttle);
  const leaseMs = positiveInteger(options.leaseMs, 'limiter.leaseMs', 60_000);
  const retryMs = positiveInteger(options.concurrencyRetryMs, 'limiter.concurrencyRetryMs', 50);
  const stateTtlMs = positiveInteger(options.stateTtlMs, 'limiter.stateTtlMs', 86_400_000);
  if (stateTtlMs < leaseMs) throw configError('limiter.stateTtlMs', `at least \`limiter.leaseMs\` (${leaseMs})`, stateTtlMs);
  const acquireScript = defineScript(context.redis, 'mailpushLimiterAcquire1', ACQUIRE);
  const releaseScript = defineScript(context.redis, 'mailpushLimiterRelease1', RELEASE);
  const stateScript = defineScript(context.redis, 'mailpushLimiterState1', STATE);
  const hashOf = (key: string): string => `${context.prefix}lim:h:${key}`;
  const leasesOf = (key: string): string => `${context.prefix}lim:l:${key}`;
  const throttleArgs = [throttle.pauseMs, throttle.maxPauseMs, throttle.decreaseFactor, throttle.minRatePerSecond, throttle.recoverAfter, throttle.recoverStep, stateTtlMs];
  // Limits objects are usually the same few config objects: validate each once.
  const resolved = new WeakMap<object, ResolvedDomainLimits>();
  const resolve = (limits: LimiterLimits, option: string): ResolvedDomainLimits => {
    if (typeof limits !== 'object' || limits === null) throw configError(option, 'an object', limits);
    let r = resolved.get(limits);
    if (r === undefined) resolved.set(limits, (r = resolveDomainLimits(limits, undefined, option)));
    return r;
  };
  const checkKey = (key: unknown, option: string): string => {
    if (typeof key !== 'string' || key === '') throw configError(option, 'a non-empty string', key);
    return key;
  };

  const acquireAll = async (gates: readonly LimiterGate[], leaseId: string): Promise<AcquireResult> => {
    if (!Array.isArray(gates) || gates.length === 0) throw configError('gates', 'a non-empty array of { key, limits }', gates);
    checkKey(leaseId, 'leaseId');
    const keys: string[] = [];
    const args: (string | number)[] = [leaseId, leaseMs, stateTtlMs, retryMs];
    for (const [i, gate] of gates.entries()) {
      const key = checkKey(gate?.key, `gates[${i}].key`);
      const l = resolve(gate.limits, `gates[${i}].limits`);
      keys.push(hashOf(key), leasesOf(key));
      args.push(finite(l.ratePerSecond), finite(l.burst), finite(l.concurrency));
    }
    const reply = (await guard('acquiring a rate-limit token', () => acquireScript(keys, args))) as number[];
    if (reply[0] === 1) return { ok: true };
    return { ok: false, waitMs: reply[1] as number, reason: REFUSALS[(reply[2] as number) - 1] as AcquireRefusal, key: (gates[(reply[3] as number) - 1] as LimiterGate).key };
  };

  return {
    acquire: (key, limits, leaseId) => acquireAll([{ key, limits }], leaseId),
    acquireAll,
    async release(key, leaseId, outcome, hintMs) {
      checkKey(key, 'key');
      checkKey(leaseId, 'leaseId');
      if (!OUTCOMES.has(outcome)) throw configError('outcome', 'one of success, throttled, paused, other', outcome);
      if (hintMs !== undefined && (typeof hintMs !== 'number' || !(hintMs >= 0) || !Number.isFinite(hintMs))) throw configError('hintMs', 'a finite number of ms >= 0', hintMs);
      const args = [leaseId, outcome, hintMs === undefined ? '' : Math.ceil(hintMs), ...throttleArgs];
      const reply = (await guard('releasing a rate-limit lease', () => releaseScript([hashOf(key), leasesOf(key)], args))) as [number, number, string];
      return { released: reply[0] === 1, change: CHANGES[reply[1]] ?? 'none', pausedUntil: Number(reply[2]) };
    },
    async state(key) {
      checkKey(key, 'key');
      const r = (await guard('reading rate-limit state', () => stateScript([hashOf(key), leasesOf(key)], []))) as string[];
      const known = r[1] !== '';
      return {
        tokens: known ? infinite(r[0] as string) : Infinity,
        ratePerSecond: infinite(r[1] as string),
        concurrency: infinite(r[2] as string),
        inflight: Number(r[3]),
        pausedUntil: Number(r[4]),
        throttled: r[5] === '1',
        now: Number(r[7]),
        known,
      };
    },
  };
}
