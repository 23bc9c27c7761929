/**
 * `mailpush/unsubscribe`: one-click unsubscribe (RFC 8058) and list subscriptions with consent.
 *
 * - Configure the mailer with `unsubscribe: { url, secrets }` and `postalAddress`: marketing
 *   mail then carries `List-Unsubscribe` and `List-Unsubscribe-Post` (signed by DKIM), a visible
 *   link and the postal address; without them it is refused (`MAILPUSH_ERR_COMPLIANCE`) unless
 *   sent with `skipMarketingCompliance: true`.
 * - Serve {@link createUnsubscribeHandler} at that URL (Fetch API, or node:http through
 *   {@link toNodeHandler}).
 * - Keep consent with {@link subscribeAddress}, {@link unsubscribeAddress} and
 *   {@link resubscribeAddress}; iterate a list with {@link listMembers}.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createMailer, smtpTransport } from 'mailpush';
 * import { createUnsubscribeHandler, subscribeAddress, toNodeHandler } from 'mailpush/unsubscribe';
 *
 * const mailer = createMailer({
 *   transport: smtpTransport({ host: 'relay.internal', port: 587 }),
 *   unsubscribe: { url: 'https://u.example.com/unsubscribe', secrets: [process.env.UNSUB_SECRET!] },
 *   postalAddress: 'Example Inc., 1 Main St, Springfield, USA',
 * });
 * createServer(toNodeHandler(createUnsubscribeHandler({ mailer }))).listen(8080);
 * await subscribeAddress(mailer, 'newsletter', 'ann@example.com', { at: Date.now(), source: 'signup-form', proof: '203.0.113.7' });
 * await mailer.send({ from: 'news@example.com', to: 'ann@example.com', subject: 'News', html: '<p>Hi</p>', category: 'marketing', list: 'newsletter' });
 * ```
 *
 * @module
 */

export { createUnsubscribeHandler, DEFAULT_UNSUBSCRIBE_MAX_BODY_BYTES } from './handler.js';
export type { UnsubscribeHandler, UnsubscribeHandlerOptions } from './handler.js';
export { toNodeHandler, DEFAULT_NODE_MAX_BODY_BYTES } from '../http/node.js';
export type { NodeRequest, NodeHandlerOptions } from '../http/node.js';
export { listMembers, subscribeAddress, unsubscribeAddress, resubscribeAddress, getSubscription } from './subscriptions.js';
export type { ListMembersOptions, SubscriptionMailer } from './subscriptions.js';
export { unsubscribeLink, verifyUnsubscribeToken, UNSUBSCRIBE_URL_PLACEHOLDER, POSTAL_ADDRESS_PLACEHOLDER, ONE_CLICK_POST_VALUE } from './shaper.js';
export type { UnsubscribeLink } from './shaper.js';
export { resolveUnsubscribe, DEFAULT_TOKEN_TTL_MS, MIN_TOKEN_TTL_MS } from './settings.js';
export type { UnsubscribeOptions, UnsubscribeSettings, UnsubscribeMailerOptions } from './settings.js';
export type { UnsubscribeSecret, UnsubscribeTokenData, TokenCheck, TokenFailure, TokenKeys } from './token.js';
export { memorySubscriptionStore } from '../stores/subscriptions-memory.js';
export { checkListName } from '../stores/subscription-record.js';
export type { Subscription, SubscriptionChange, SubscriptionCount, SubscriptionPage, SubscriptionResult, SubscriptionStatus, SubscriptionStore } from '../types.js';
