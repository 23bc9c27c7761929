/**
 * Campaign ids and counter names: what they may contain, and the checks every store and the
 * mailer apply to them.
 *
 * @module
 */

import { MailError, MailErrorCode, describeValue } from '../errors.js';
import { CAMPAIGN_COUNTER_NAME } from '../types.js';
import type { CampaignState } from '../types.js';
import { randomBytes } from 'node:crypto';

/**
 * A campaign id: a letter or digit, then up to 63 letters, digits, `.`, `_` or `-`. No colon,
 * so it can stand as a field of the Feedback-ID header.
 */
export const CAMPAIGN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Every {@link CampaignState}. */
export const CAMPAIGN_STATES: readonly CampaignState[] = ['running', 'paused', 'cancelled', 'completed'];

/**
 * True when `id` is a valid campaign id (see {@link CAMPAIGN_ID}).
 *
 * @example
 * ```ts
 * isCampaignId('spring-sale.2026'); // true
 * isCampaignId('a:b'); // false
 * ```
 */
export function isCampaignId(id: unknown): id is string {
  return typeof id === 'string' && CAMPAIGN_ID.test(id);
}

/**
 * Throws a VALIDATION MailError naming `where` unless `id` is a valid campaign id.
 *
 * @example
 * ```ts
 * checkCampaignId(options.campaign, 'sendMany.campaign');
 * ```
 */
export function checkCampaignId(id: unknown, where = 'campaign'): string {
  if (!isCampaignId(id)) {
    throw new MailError(`Expected \`${where}\` to be 1 to 64 letters, digits, '.', '_' or '-' starting with a letter or digit, got ${describeValue(id)}`, {
      code: MailErrorCode.VALIDATION,
    });
  }
  return id;
}

/**
 * A new campaign id: `cmp-` and 16 random hex digits.
 *
 * @example
 * ```ts
 * newCampaignId(); // 'cmp-3f9a0c2e7b1d4a65'
 * ```
 */
export function newCampaignId(): string {
  return `cmp-${randomBytes(8).toString('hex')}`;
}

/**
 * Checks the counters given to {@link CampaignStore.increment}: a plain object of valid names
 * to safe integers. Throws a VALIDATION MailError; returns the entries that are not zero.
 *
 * @example
 * ```ts
 * checkCounts({ sent: 3, opened: 0 }); // [['sent', 3]]
 * ```
 */
export function checkCounts(counts: unknown): [string, number][] {
  if (typeof counts !== 'object' || counts === null || Array.isArray(counts)) {
    throw new MailError(`Expected campaign counts to be an object of name -> integer, got ${describeValue(counts)}`, { code: MailErrorCode.VALIDATION });
  }
  const out: [string, number][] = [];
  for (const [name, value] of Object.entries(counts)) {
    if (!CAMPAIGN_COUNTER_NAME.test(name)) throw new MailError(`Invalid campaign counter name ${describeValue(name)}: expected ${String(CAMPAIGN_COUNTER_NAME)}`, { code: MailErrorCode.VALIDATION });
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new MailError(`Expected campaign counter \`${name}\` to be an integer, got ${describeValue(value)}`, { code: MailErrorCode.VALIDATION });
    if (value !== 0) out.push([name, value]);
  }
  return out;
}

/**
 * Checks a state (and its optional reason) given to {@link CampaignStore.setState}.
 *
 * @example
 * ```ts
 * checkState('paused', 'user');
 * ```
 */
export function checkState(state: unknown, reason?: unknown): CampaignState {
  if (!(CAMPAIGN_STATES as readonly unknown[]).includes(state)) {
    throw new MailError(`Expected a campaign state (${CAMPAIGN_STATES.join(', ')}), got ${describeValue(state)}`, { code: MailErrorCode.VALIDATION });
  }
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 200)) {
    throw new MailError(`Expected the campaign state reason to be a string of at most 200 characters, got ${describeValue(reason)}`, { code: MailErrorCode.VALIDATION });
  }
  return state as CampaignState;
}
