/**
 * The suppression policy: which feedback events put an address (or a domain) on the
 * suppression list, for what, and for how long.
 *
 * - A hard bounce (unknown user or domain, moved) suppresses the address at once, for all mail.
 * - A complaint suppresses at once, for all mail by default (`complaintScope` narrows it);
 *   `not-spam`, `auth-failure` and `virus` reports are not the recipient's wish and do not.
 * - A soft bounce that concerns the address (mailbox full, disabled, undecided) suppresses it
 *   only after `softBounceThreshold` of them within `softBounceWindowMs`, and only for
 *   `softBounceSuppressMs`. A delivery clears the count.
 * - Policy, reputation, content and rate-limit refusals (`blocked`, `policyviolation`,
 *   `badreputation`, ...) never suppress: they are about the sender, not the address.
 * - Deferrals and delays never suppress.
 * - An unsubscribe suppresses for its list (SendGrid group, SES topic) or, without one, for
 *   marketing mail; a resubscribe lifts that entry.
 * - Opens and clicks never suppress, and nothing here relies on them.
 *
 * @module
 */

import { configError } from '../errors.js';
import type { BounceCategory, SoftBounceCounter, SuppressionEntry, SuppressionReason } from '../types.js';
import type { FeedbackEvent } from './event.js';
import { memorySoftBounceCounter } from '../stores/soft-bounce-memory.js';

/** What the policy decided for one event. */
export type PolicyDecision =
  | { readonly action: 'none'; readonly why: string }
  | { readonly action: 'suppress'; readonly entry: SuppressionEntry; readonly why: string }
  | {
      readonly action: 'unsuppress';
      readonly target: { readonly address: string; readonly scope?: string };
      /** Only an entry with this reason is lifted (a resubscribe never lifts a hard bounce). */
      readonly reason: SuppressionReason;
      readonly why: string;
    };

/**
 * Decides what an event does to the suppression list. `evaluate` may keep state (the soft
 * bounce counts) and must be idempotent per `event.eventId`, because providers retry.
 */
export interface FeedbackPolicy {
  /** Decides what an event does to the suppression list. */
  evaluate(event: FeedbackEvent, now: number): PolicyDecision | Promise<PolicyDecision>;
}

/** Counts soft bounces per address: the contract lives with the other store contracts. */
export type { SoftBounceCounter } from '../types.js';

/**
 * Reasons that never suppress: the receiving side refused the sender, the content or the rate,
 * not the address (COMPLIANCE.md B-2: 5.7.x is policy, never suppress the recipient).
 */
export const NEVER_SUPPRESS_REASONS: ReadonlySet<BounceCategory> = new Set<BounceCategory>([
  'blocked',
  'spamdetected',
  'policyviolation',
  'ratelimited',
  'securityerror',
  'authfailure',
  'requireptr',
  'badreputation',
  'contenterror',
  'notcompliantrfc',
  'virusdetected',
  'emailtoolarge',
  'mesgtoobig',
  'norelaying',
  'syntaxerror',
  'rejected',
  'delivered',
]);

/** Complaint feedback types that do not suppress: not the recipient asking to stop. */
export const NON_COMPLAINT_FEEDBACK_TYPES: ReadonlySet<string> = new Set(['not-spam', 'auth-failure', 'virus']);

/** Options of {@link createSuppressionPolicy}. */
export interface SuppressionPolicyOptions {
  /** Soft bounces within `softBounceWindowMs` that suppress the address; 0 turns soft-bounce suppression off. @default 3 */
  readonly softBounceThreshold?: number;
  /** Window the soft bounces are counted in, ms. @default 604_800_000 (7 days) */
  readonly softBounceWindowMs?: number;
  /** How long a soft-bounce suppression lasts, ms. @default 2_592_000_000 (30 days) */
  readonly softBounceSuppressMs?: number;
  /** How long a hard-bounce suppression lasts, ms. @default forever */
  readonly hardBounceSuppressMs?: number;
  /** Scope of complaint suppressions: absent = all mail, or `'marketing'`, or a list name. @default all mail */
  readonly complaintScope?: string;
  /** Scope of an unsubscribe. @default the event's `list`, else `'marketing'` */
  readonly unsubscribeScope?: (event: FeedbackEvent) => string;
  /** Suppress the whole recipient domain on a hard `hostunknown` bounce (the domain does not exist). @default false */
  readonly suppressDomainOnHostUnknown?: boolean;
  /** Where soft bounces are counted. @default an in-memory counter of at most 100,000 addresses */
  readonly counter?: SoftBounceCounter;
}

/** The defaults of {@link createSuppressionPolicy}. */
export const DEFAULT_SUPPRESSION_POLICY = Object.freeze({
  softBounceThreshold: 3,
  softBounceWindowMs: 7 * 86_400_000,
  softBounceSuppressMs: 30 * 86_400_000,
});

/** The in-memory counter lives with the other memory stores; re-exported here where it used to be. */
export { memorySoftBounceCounter } from '../stores/soft-bounce-memory.js';
export type { MemorySoftBounceCounterOptions } from '../stores/soft-bounce-memory.js';

function checkMs(name: string, value: unknown, min: number): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < min)) {
    throw configError(`policy.${name}`, `a finite number >= ${min} (ms)`, value);
  }
}

const DAY_MS = 86_400_000;
const days = (ms: number): string => (ms % DAY_MS === 0 ? `${ms / DAY_MS} d` : `${Math.round(ms / 60_000)} min`);

/**
 * Creates the default suppression policy (see the module description).
 *
 * @example
 * ```ts
 * const policy = createSuppressionPolicy({ softBounceThreshold: 5, complaintScope: 'marketing' });
 * const processor = createFeedbackProcessor({ suppression: mailer.suppression, policy });
 * ```
 */
export function createSuppressionPolicy(options: SuppressionPolicyOptions = {}): FeedbackPolicy {
  if (typeof options !== 'object' || options === null) throw configError('policy', 'an object', options);
  const threshold = options.softBounceThreshold ?? DEFAULT_SUPPRESSION_POLICY.softBounceThreshold;
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 0) throw configError('policy.softBounceThreshold', 'an integer >= 0', threshold);
  checkMs('softBounceWindowMs', options.softBounceWindowMs, 1);
  checkMs('softBounceSuppressMs', options.softBounceSuppressMs, 1);
  checkMs('hardBounceSuppressMs', options.hardBounceSuppressMs, 1);
  const windowMs = options.softBounceWindowMs ?? DEFAULT_SUPPRESSION_POLICY.softBounceWindowMs;
  const softMs = options.softBounceSuppressMs ?? DEFAULT_SUPPRESSION_POLICY.softBounceSuppressMs;
  const hardMs = options.hardBounceSuppressMs;
  const complaintScope = options.complaintScope;
  if (complaintScope !== undefined && (typeof complaintScope !== 'string' || complaintScope === '')) throw configError('policy.complaintScope', 'a non-empty string', complaintScope);
  if (options.unsubscribeScope !== undefined && typeof options.unsubscribeScope !== 'function') throw configError('policy.unsubscribeScope', 'a function', options.unsubscribeScope);
  const unsubscribeScope = options.unsubscribeScope ?? ((e: FeedbackEvent) => e.list ?? 'marketing');
  const counter = options.counter ?? memorySoftBounceCounter();
  if (typeof counter !== 'object' || counter === null || typeof counter.hit !== 'function' || typeof counter.reset !== 'function') {
    throw configError('policy.counter', 'a SoftBounceCounter (hit, reset)', counter);
  }
  const domainOnHostUnknown = options.suppressDomainOnHostUnknown === true;

  /** An entry built with one shape (no spreads: a batch of bounces keeps thousands of them). */
  const entryOf = (target: { address: string } | { domain: string }, reason: SuppressionReason, e: FeedbackEvent, now: number, expiresAt: number | undefined): SuppressionEntry => {
    const entry: { -readonly [K in keyof SuppressionEntry]: SuppressionEntry[K] } =
      'address' in target ? { address: target.address, reason, source: e.provider, createdAt: now } : { domain: target.domain, reason, source: e.provider, createdAt: now };
    if (e.diagnostic !== undefined) entry.detail = e.diagnostic;
    if (expiresAt !== undefined) entry.expiresAt = expiresAt;
    // Frozen: a store may keep it as it is instead of copying it (the memory store does).
    return Object.freeze(entry);
  };
  /** The `why` of a hard bounce, per reason (the same string for every bounce of a batch). */
  const hardWhy = new Map<string, string>();

  /** A soft bounce that concerns the address: counted, and suppressed at the threshold. */
  const softBounce = async (e: FeedbackEvent, now: number): Promise<PolicyDecision> => {
    const id = e.eventId ?? `${e.provider}|${e.providerMessageId ?? e.messageId ?? e.jobId ?? ''}|${e.timestamp}`;
    const count = await counter.hit(e.recipient, id, e.timestamp, windowMs);
    if (count < threshold) return { action: 'none', why: `soft bounce ${count} of ${threshold} within ${days(windowMs)}` };
    await counter.reset(e.recipient);
    return { action: 'suppress', entry: entryOf({ address: e.recipient }, 'soft-bounce', e, now, now + softMs), why: `${count} soft bounces within ${days(windowMs)}: suppressed for ${days(softMs)}` };
  };

  const delivered = async (e: FeedbackEvent): Promise<PolicyDecision> => {
    await counter.reset(e.recipient);
    return { action: 'none', why: 'delivered' };
  };

  return {
    // Not async: the decisions that need no counter are returned as they are, so a batch of
    // hard bounces costs the processor no promise per event.
    evaluate(e, now) {
      switch (e.type) {
        case 'bounced': {
          if (e.hard === true) {
            const domainWide = domainOnHostUnknown && e.reason === 'hostunknown';
            const target = domainWide ? { domain: e.recipient.slice(e.recipient.lastIndexOf('@') + 1) } : { address: e.recipient };
            const entry = entryOf(target, 'hard-bounce', e, now, hardMs !== undefined ? now + hardMs : undefined);
            const reason = e.reason ?? 'undefined';
            let why = hardWhy.get(reason);
            if (why === undefined) {
              why = `hard bounce (${reason})`;
              if (hardWhy.size < 1000) hardWhy.set(reason, why);
            }
            return { action: 'suppress', entry, why: domainWide ? `${why}: the whole domain` : why };
          }
          if (e.reason !== undefined && NEVER_SUPPRESS_REASONS.has(e.reason)) {
            return { action: 'none', why: `${e.reason} is about the sender or the content, not the address` };
          }
          if (threshold === 0) return { action: 'none', why: 'soft bounce (soft-bounce suppression is off)' };
          return softBounce(e, now);
        }
        case 'complained': {
          const type = e.feedbackType?.toLowerCase();
          if (type !== undefined && NON_COMPLAINT_FEEDBACK_TYPES.has(type)) return { action: 'none', why: `a ${type} report is not a complaint by the recipient` };
          const entry: SuppressionEntry = Object.freeze(
            complaintScope !== undefined
              ? { address: e.recipient, reason: 'complaint', scope: complaintScope, source: e.provider, createdAt: now, detail: e.feedbackType ?? 'complaint' }
              : { address: e.recipient, reason: 'complaint', source: e.provider, createdAt: now, detail: e.feedbackType ?? 'complaint' },
          );
          return { action: 'suppress', entry, why: `complaint (${e.feedbackType ?? 'unspecified'})` };
        }
        case 'unsubscribed': {
          const scope = unsubscribeScope(e);
          if (typeof scope !== 'string' || scope === '') return { action: 'none', why: 'unsubscribe without a scope (unsubscribeScope gave none)' };
          const entry: SuppressionEntry = Object.freeze({ address: e.recipient, reason: 'unsubscribe', scope, source: e.provider, createdAt: now });
          return { action: 'suppress', entry, why: `unsubscribed from ${scope}` };
        }
        case 'resubscribed': {
          const scope = unsubscribeScope(e);
          if (typeof scope !== 'string' || scope === '') return { action: 'none', why: 'resubscribe without a scope' };
          return { action: 'unsuppress', target: { address: e.recipient, scope }, reason: 'unsubscribe', why: `resubscribed to ${scope}` };
        }
        case 'delivered':
          return delivered(e);
        case 'deferred':
          return { action: 'none', why: 'a delay never suppresses' };
        default:
          return { action: 'none', why: `${e.type} does not change the suppression list` };
      }
    },
  };
}
