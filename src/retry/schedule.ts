/**
 * Retry policy as data: a schedule of delays, jitter, max attempts and max age.
 *
 * @module
 */

import { configError, MailErrorCode } from '../errors.js';
import { knownKeys, rejectUnknownKeys } from '../validation/known-keys.js';

/** How a job that failed temporarily is retried. */
export interface RetryOptions {
  /**
   * Delay before each retry in milliseconds: the first entry after the first failure, and so
   * on; the last entry repeats.
   * @default [30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000]
   */
  readonly scheduleMs?: readonly number[];
  /**
   * Random spread applied to each delay, as a fraction: 0.2 means +-20%.
   * @default 0.2
   */
  readonly jitter?: number;
  /**
   * Attempts (including the first) after which a job that still fails temporarily expires.
   * Throttled attempts do not count.
   * @default 20
   */
  readonly maxAttempts?: number;
  /**
   * Age after which a job that still fails temporarily expires, in milliseconds since it
   * was queued (RFC 5321 4.5.4.1 suggests 4-5 days).
   * @default 345_600_000 (4 days)
   */
  readonly maxAgeMs?: number;
  /**
   * Longest wait honoured from a server hint ("try again in N seconds", Retry-After).
   * @default 86_400_000 (1 day)
   */
  readonly maxHintMs?: number;
}

/** The default retry policy. */
export const DEFAULT_RETRY: Required<RetryOptions> = Object.freeze({
  scheduleMs: Object.freeze([30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000]),
  jitter: 0.2,
  maxAttempts: 20,
  maxAgeMs: 4 * 24 * 3_600_000,
  maxHintMs: 24 * 3_600_000,
});

/** Every name {@link RetryOptions} takes; any other key is refused (`maxAttemps` -> `maxAttempts`). Adding an option? Add it here too. */
const RETRY_OPTION_KEYS = knownKeys(['scheduleMs', 'jitter', 'maxAttempts', 'maxAgeMs', 'maxHintMs']);

/** Validates retry options and fills in defaults. */
export function resolveRetryOptions(options: RetryOptions | undefined, option = 'retry'): Required<RetryOptions> {
  if (typeof options === 'object' && options !== null) rejectUnknownKeys(options, RETRY_OPTION_KEYS, `${option} option`, MailErrorCode.CONFIG, option);
  const o = { ...DEFAULT_RETRY, ...options };
  if (!Array.isArray(o.scheduleMs) || o.scheduleMs.length === 0) {
    throw configError(`${option}.scheduleMs`, 'a non-empty array of delays in milliseconds', o.scheduleMs);
  }
  o.scheduleMs.forEach((d, i) => {
    if (typeof d !== 'number' || !Number.isFinite(d) || d < 0) throw configError(`${option}.scheduleMs[${i}]`, 'a finite number >= 0', d);
  });
  if (typeof o.jitter !== 'number' || !(o.jitter >= 0 && o.jitter < 1)) throw configError(`${option}.jitter`, 'a number >= 0 and < 1', o.jitter);
  if (!Number.isInteger(o.maxAttempts) || o.maxAttempts < 1) throw configError(`${option}.maxAttempts`, 'an integer >= 1', o.maxAttempts);
  if (typeof o.maxAgeMs !== 'number' || !(o.maxAgeMs > 0)) throw configError(`${option}.maxAgeMs`, 'a positive number', o.maxAgeMs);
  if (typeof o.maxHintMs !== 'number' || !(o.maxHintMs >= 0)) throw configError(`${option}.maxHintMs`, 'a number >= 0', o.maxHintMs);
  return Object.freeze({ ...o, scheduleMs: Object.freeze([...o.scheduleMs]) });
}

/** Decision for a job that failed temporarily. */
export type RetryDecision = { readonly retry: true; readonly at: number } | { readonly retry: false; readonly reason: 'max-attempts' | 'max-age' };

/**
 * Decides when to retry after the `attempt`-th attempt (1-based) failed temporarily.
 * A server hint wins over the schedule (capped by `maxHintMs`, never jittered below it).
 *
 * @example
 * ```ts
 * import { DEFAULT_RETRY, nextRetry } from 'mailpush';
 *
 * const now = Date.now();
 * nextRetry(DEFAULT_RETRY, 1, now, now, undefined); // { retry: true, at: now + 30 s +-20% }
 * nextRetry(DEFAULT_RETRY, 2, now, now, 300_000, () => 0); // { retry: true, at: now + 300_000 }: the server's hint
 * nextRetry(DEFAULT_RETRY, 20, now, now, undefined); // { retry: false, reason: 'max-attempts' }
 * ```
 */
export function nextRetry(
  policy: Required<RetryOptions>,
  attempt: number,
  createdAt: number,
  now: number,
  hintMs: number | undefined,
  random: () => number = Math.random,
): RetryDecision {
  if (attempt >= policy.maxAttempts) return { retry: false, reason: 'max-attempts' };
  let delay: number;
  if (hintMs !== undefined && hintMs >= 0) {
    // A hint is a minimum: spread upwards only, so we never knock before the server said.
    delay = Math.min(hintMs, policy.maxHintMs) * (1 + policy.jitter * random());
  } else {
    const base = policy.scheduleMs[Math.min(attempt - 1, policy.scheduleMs.length - 1)] as number;
    delay = base * (1 + policy.jitter * (2 * random() - 1));
  }
  const at = now + Math.round(delay);
  if (at > createdAt + policy.maxAgeMs) return { retry: false, reason: 'max-age' };
  return { retry: true, at };
}
