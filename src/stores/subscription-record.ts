/**
 * The rules of a {@link SubscriptionStore}, as pure functions every implementation (memory,
 * SQLite, Redis) applies to the record it read, so that the three agree: input checks, and
 * what `subscribe`, `resubscribe` and `unsubscribe` make of an existing record.
 *
 * @module
 * @internal
 */

import { MailError, MailErrorCode, describeValue } from '../errors.js';
import type { Subscription, SubscriptionChange, SubscriptionResult } from '../types.js';

/** List names: a letter or digit, then letters, digits, `.`, `_`, `-`, `:`; at most 64. */
const LIST_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
/** Names the suppression list already uses as scopes (message categories). */
const RESERVED_LISTS: ReadonlySet<string> = new Set(['marketing', 'transactional']);
/** A loose address check: the mailer's own parser validated what it sends; this keeps junk out of keys. */
const ADDRESS = /^[^\s@<>()",;]{1,256}@[^\s@<>()",;]{1,255}$/;

function invalid(message: string): MailError {
  return new MailError(message, { code: MailErrorCode.VALIDATION, retryable: false });
}

/**
 * Checks a list name and returns it. Throws a VALIDATION MailError.
 *
 * @example
 * ```ts
 * checkListName('newsletter'); // 'newsletter'
 * checkListName('marketing'); // throws: reserved (a message category)
 * ```
 */
export function checkListName(list: unknown, what = '`list`'): string {
  if (typeof list !== 'string' || !LIST_NAME.test(list)) {
    throw invalid(`Expected ${what} to be 1-64 characters of letters, digits, '.', '_', '-', ':' starting with a letter or digit, got ${describeValue(list)}`);
  }
  if (RESERVED_LISTS.has(list)) throw invalid(`${what} cannot be '${list}': it is a message category, which the suppression list uses as a scope`);
  return list;
}

/** Checks an address and returns it in lower case (the key of every store). */
export function subscriptionAddress(address: unknown): string {
  if (typeof address !== 'string' || !ADDRESS.test(address)) throw invalid(`Expected an email address, got ${describeValue(address)}`);
  return address.toLowerCase();
}

/** Checks a consent or opt-out record and returns a clean copy (only the known fields). */
export function checkChange(change: unknown, what: string): SubscriptionChange {
  if (typeof change !== 'object' || change === null) throw invalid(`Expected ${what} to be { at, source, proof? }, got ${describeValue(change)}`);
  const c = change as Partial<SubscriptionChange>;
  if (typeof c.at !== 'number' || !Number.isFinite(c.at) || c.at < 0) throw invalid(`Expected ${what}.at to be a time in ms, got ${describeValue(c.at)}`);
  if (typeof c.source !== 'string' || c.source.length === 0 || c.source.length > 200) throw invalid(`Expected ${what}.source to be a string of 1-200 characters, got ${describeValue(c.source)}`);
  if (c.proof !== undefined && (typeof c.proof !== 'string' || c.proof.length > 1000)) throw invalid(`Expected ${what}.proof to be a string of at most 1000 characters, got ${describeValue(c.proof)}`);
  return c.proof === undefined ? { at: c.at, source: c.source } : { at: c.at, source: c.source, proof: c.proof };
}

/** The checked arguments of a change. */
export interface CheckedChange {
  readonly list: string;
  readonly address: string;
  readonly change: SubscriptionChange;
}

/** Checks the arguments of `subscribe`, `resubscribe` and `unsubscribe`. */
export function checkChangeArgs(list: unknown, address: unknown, change: unknown, what: 'consent' | 'change'): CheckedChange {
  return { list: checkListName(list), address: subscriptionAddress(address), change: checkChange(change, what) };
}

/** Checks the arguments of `page`. */
export function checkPageArgs(list: unknown, cursor: unknown, limit: unknown): { list: string; cursor: string | undefined; limit: number } {
  const name = checkListName(list);
  if (cursor !== undefined && typeof cursor !== 'string') throw invalid(`Expected the cursor to be a string from a previous page, got ${describeValue(cursor)}`);
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 10_000) throw invalid(`Expected the page limit to be an integer from 1 to 10000, got ${describeValue(limit)}`);
  return { list: name, cursor: cursor === '' ? undefined : cursor, limit };
}

/** What `subscribe` makes of `existing`. */
export function applySubscribe(existing: Subscription | undefined, c: CheckedChange): SubscriptionResult {
  if (existing?.status === 'unsubscribed') return { subscription: existing, changed: false };
  if (existing !== undefined && existing.consent !== undefined && existing.consent.at >= c.change.at) return { subscription: existing, changed: false };
  const subscription: Subscription = { list: c.list, address: c.address, status: 'subscribed', consent: c.change, updatedAt: c.change.at };
  return { subscription, changed: existing === undefined };
}

/** What `resubscribe` makes of `existing`; throws VALIDATION when the consent is not fresh. */
export function applyResubscribe(existing: Subscription | undefined, c: CheckedChange): SubscriptionResult {
  if (existing?.status !== 'unsubscribed') return applySubscribe(existing, c);
  const optOut = existing.unsubscribed?.at ?? existing.updatedAt;
  if (!(c.change.at > optOut)) {
    throw invalid(`Resubscribing ${c.address} to ${c.list} needs a consent given after the unsubscribe of ${new Date(optOut).toISOString()}; got one of ${new Date(c.change.at).toISOString()}`);
  }
  return { subscription: { list: c.list, address: c.address, status: 'subscribed', consent: c.change, updatedAt: c.change.at }, changed: true };
}

/** What `unsubscribe` makes of `existing` (idempotent: the first opt-out is kept). */
export function applyUnsubscribe(existing: Subscription | undefined, c: CheckedChange): SubscriptionResult {
  if (existing?.status === 'unsubscribed') return { subscription: existing, changed: false };
  const subscription: Subscription = {
    list: c.list,
    address: c.address,
    status: 'unsubscribed',
    ...(existing?.consent !== undefined ? { consent: existing.consent } : {}),
    unsubscribed: c.change,
    updatedAt: c.change.at,
  };
  return { subscription, changed: true };
}
