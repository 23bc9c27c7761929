/**
 * Subscriptions bound to a mailer: the consent ledger (`mailer.subscriptions`, a
 * {@link SubscriptionStore}) and the suppression list kept in step. An unsubscribe records the
 * opt-out and goes through `mailer.feedback` as an `unsubscribed` event, which suppresses the
 * address for that list only (scope = the list) and reaches the host's hooks and `feedback`
 * listeners; a resubscribe with fresh consent lifts that entry. Delivery checks the
 * suppression list of every job, so the next send after an unsubscribe skips the address.
 *
 * @module
 */

import { configError } from '../errors.js';
import type { FeedbackEvent } from '../feedback/event.js';
import type { Mailer } from '../mailer/options.js';
import { checkListName, subscriptionAddress } from '../stores/subscription-record.js';
import type { Subscription, SubscriptionChange, SubscriptionResult, SubscriptionStore } from '../types.js';

/** What the subscription functions need of a mailer. */
export type SubscriptionMailer = Pick<Mailer, 'subscriptions' | 'feedback' | 'suppression'>;

/** Options of {@link listMembers}. */
export interface ListMembersOptions {
  /** Addresses read per store call. @default 500 */
  readonly pageSize?: number;
  /** Stops the iteration (it ends quietly). */
  readonly signal?: AbortSignal;
}

/**
 * Every address subscribed to `list`, in address order, read page by page (bounded memory for
 * a list of millions). Addresses unsubscribed while it runs are skipped from the next page on;
 * suppressed addresses (bounces, complaints) are still listed: delivery skips them.
 *
 * @example
 * ```ts
 * import { listMembers } from 'mailpush/unsubscribe';
 *
 * for await (const address of listMembers(mailer.subscriptions, 'newsletter')) {
 *   console.log(address);
 * }
 * ```
 */
export async function* listMembers(store: SubscriptionStore, list: string, options: ListMembersOptions = {}): AsyncGenerator<string, void, undefined> {
  checkListName(list);
  const size = options.pageSize ?? 500;
  if (!Number.isInteger(size) || size < 1 || size > 10_000) throw configError('pageSize', 'an integer from 1 to 10000', size);
  let cursor: string | undefined;
  do {
    if (options.signal?.aborted) return;
    const page = await store.page(list, cursor, size);
    for (const item of page.items) yield item.address;
    cursor = page.cursor;
  } while (cursor !== undefined);
}

function event(type: 'unsubscribed' | 'resubscribed', list: string | undefined, address: string, change: SubscriptionChange, raw: unknown, campaign?: string): FeedbackEvent {
  return {
    type,
    ...(campaign !== undefined ? { campaign } : {}),
    recipient: address,
    provider: change.source,
    timestamp: change.at,
    eventId: `${type}:${list ?? '*'}:${address}:${change.at}`,
    ...(list !== undefined ? { list } : {}),
    raw,
  };
}

/**
 * Unsubscribes `address` from `list` (undefined: from all marketing mail, with no list record):
 * records the opt-out in `mailer.subscriptions` and sends an `unsubscribed` feedback event
 * through `mailer.feedback` (suppression for the list, host hooks, `feedback` listeners).
 * Idempotent: a second call changes nothing and sends no second event. `context.campaign`
 * (the campaign of the message whose link was used) is carried by the event.
 *
 * @example
 * ```ts
 * import { unsubscribeAddress } from 'mailpush/unsubscribe';
 *
 * await unsubscribeAddress(mailer, 'newsletter', 'ann@example.com', { at: Date.now(), source: 'preferences-page', proof: req.ip });
 * ```
 */
export async function unsubscribeAddress(
  mailer: SubscriptionMailer,
  list: string | undefined,
  address: string,
  change: SubscriptionChange,
  context: { readonly campaign?: string | undefined } = {},
): Promise<SubscriptionResult | undefined> {
  const a = subscriptionAddress(address);
  let result: SubscriptionResult | undefined;
  if (list !== undefined) result = await mailer.subscriptions.unsubscribe(list, a, change);
  const scope = list ?? 'marketing';
  // Also when the record was already there: a previous call may have failed between the two writes.
  const suppressed = result?.changed === true ? undefined : await mailer.suppression.find(a, [scope], change.at);
  if (suppressed === undefined || suppressed.scope !== scope) {
    const at = result?.subscription.unsubscribed?.at ?? change.at;
    await mailer.feedback.ingest([event('unsubscribed', list, a, { ...change, at }, { subscription: result?.subscription }, context.campaign)]);
  }
  return result;
}

/**
 * Subscribes `address` to `list` with its consent record. Never overrides an unsubscribe (see
 * {@link resubscribeAddress}).
 *
 * @example
 * ```ts
 * import { subscribeAddress } from 'mailpush/unsubscribe';
 *
 * await subscribeAddress(mailer, 'newsletter', 'ann@example.com', { at: Date.now(), source: 'signup-form', proof: '203.0.113.7' });
 * ```
 */
export async function subscribeAddress(mailer: SubscriptionMailer, list: string, address: string, consent: SubscriptionChange): Promise<SubscriptionResult> {
  return mailer.subscriptions.subscribe(list, address, consent);
}

/**
 * Subscribes again an address that unsubscribed, with a consent given after the opt-out (a
 * VALIDATION MailError otherwise), and lifts the list's unsubscribe suppression through a
 * `resubscribed` feedback event. Hard bounces and complaints stay suppressed.
 *
 * @example
 * ```ts
 * import { resubscribeAddress } from 'mailpush/unsubscribe';
 *
 * await resubscribeAddress(mailer, 'newsletter', 'ann@example.com', { at: Date.now(), source: 'double-opt-in', proof: 'confirmation 7f3a' });
 * ```
 */
export async function resubscribeAddress(mailer: SubscriptionMailer, list: string, address: string, consent: SubscriptionChange): Promise<SubscriptionResult> {
  const result = await mailer.subscriptions.resubscribe(list, address, consent);
  if (result.changed) await mailer.feedback.ingest([event('resubscribed', list, result.subscription.address, consent, { subscription: result.subscription })]);
  return result;
}

/**
 * The record of `address` on `list`, if any.
 *
 * @example
 * ```ts
 * const record = await getSubscription(mailer, 'newsletter', 'ann@example.com');
 * record?.status; // 'subscribed' | 'unsubscribed'
 * record?.consent; // { at, source, proof }
 * ```
 */
export async function getSubscription(mailer: SubscriptionMailer, list: string, address: string): Promise<Subscription | undefined> {
  return mailer.subscriptions.get(list, address);
}
