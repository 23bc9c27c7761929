/**
 * The consent gate of `unsubscribe.requireConsent` (CASL, GDPR: marketing needs a consent
 * record): the suppression list as delivery sees it, where a marketing message of a list is
 * also blocked for a recipient who has no subscribed record on that list in
 * `mailer.subscriptions`. Delivery already consults the suppression list before every send, so
 * the recipient ends as `suppressed` in the report, with reason `unsubscribe` (opted out) or
 * `manual` (never subscribed: no consent on record). Lookups stay synchronous when both stores
 * are (the memory ones).
 *
 * @module
 * @internal
 */

import type { Subscription, SubscriptionStore, SuppressionEntry, SuppressionStore } from '../types.js';

const CATEGORIES: ReadonlySet<string> = new Set(['marketing', 'transactional']);

function gate(list: string, address: string, subscription: Subscription | undefined, now: number): SuppressionEntry | undefined {
  if (subscription?.status === 'subscribed') return undefined;
  return subscription === undefined
    ? { address, reason: 'manual', scope: list, source: 'consent', detail: `no consent on record for the list ${list}`, createdAt: now }
    : { address, reason: 'unsubscribe', scope: list, source: 'consent', detail: `unsubscribed from the list ${list}`, createdAt: subscription.updatedAt };
}

/**
 * Wraps `suppression` so that `find` for a marketing message of a list (scopes `marketing` and
 * the list) also requires a subscribed record of the address on that list. Everything else
 * passes through.
 *
 * @example
 * ```ts
 * const gated = withConsentGate(mailer.suppression, mailer.subscriptions);
 * await gated.find('ann@example.org', ['marketing', 'newsletter'], Date.now()); // blocks unless subscribed
 * ```
 */
export function withConsentGate(suppression: SuppressionStore, subscriptions: SubscriptionStore): SuppressionStore {
  const find: SuppressionStore['find'] = (address, scopes, now) => {
    const found = suppression.find(address, scopes, now);
    if (!scopes.includes('marketing')) return found;
    const list = scopes.find((s) => !CATEGORIES.has(s));
    if (list === undefined) return found;
    const then = (entry: SuppressionEntry | undefined): SuppressionEntry | undefined | Promise<SuppressionEntry | undefined> => {
      if (entry !== undefined) return entry;
      const sub = subscriptions.get(list, address);
      return sub instanceof Promise ? sub.then((s) => gate(list, address, s, now)) : gate(list, address, sub, now);
    };
    return found instanceof Promise ? found.then(then) : then(found);
  };
  return {
    name: suppression.name,
    add: (entry) => suppression.add(entry),
    remove: (target) => suppression.remove(target),
    find,
    list: () => suppression.list(),
    ...(suppression.close !== undefined ? { close: () => suppression.close?.() } : {}),
  };
}
