/**
 * The arguments of `sendMany`: a source, or `{ list }` to send to the members of a
 * subscription list (read page by page), and the list's opt-outs counted before the send.
 *
 * @module
 */

import { MailError, MailErrorCode, configError, isMailError } from '../../errors.js';
import { listMembers } from '../../unsubscribe/subscriptions.js';
import type { MessageInput, SubscriptionStore } from '../../types.js';
import type { CampaignItem, SendManyOptions } from '../options.js';
import { checkBase } from './run.js';
import type { Source } from './run.js';

/** The members of `list` as campaign items (`{ to }`), read page by page. @internal */
export async function* listSource(store: SubscriptionStore, list: string, signal: AbortSignal | undefined): AsyncGenerator<CampaignItem> {
  for await (const address of listMembers(store, list, signal === undefined ? {} : { signal })) yield { to: address } as unknown as MessageInput;
}

/**
 * The arguments of `sendMany`: `(source, options)`, or `({ list, ...options })` for the members
 * of a list. Throws CONFIG for anything else.
 * @internal
 */
export function resolveSendMany(
  sourceOrOptions: Source | (SendManyOptions & { readonly list: string }),
  maybeOptions: SendManyOptions | undefined,
  subscriptions: SubscriptionStore | undefined,
): { source: Source; options: SendManyOptions; list?: string } {
  const iterable = typeof sourceOrOptions === 'object' && sourceOrOptions !== null && (Symbol.iterator in sourceOrOptions || Symbol.asyncIterator in sourceOrOptions);
  if (iterable) {
    const options = maybeOptions ?? {};
    if (typeof options !== 'object' || options === null) throw configError('sendMany.options', 'an object', options);
    if (options.list !== undefined) throw configError('sendMany.list', 'absent when a source is given (a list is the source)', options.list);
    return { source: sourceOrOptions as Source, options };
  }
  const options = sourceOrOptions as SendManyOptions | undefined;
  if (typeof options !== 'object' || options === null || options.list === undefined || maybeOptions !== undefined) {
    throw configError('sendMany.source', 'an iterable or async iterable of messages, or { list } to send to a list', sourceOrOptions);
  }
  if (typeof options.list !== 'string') throw configError('sendMany.list', 'a list name', options.list);
  if (subscriptions === undefined) throw configError('sendMany.list', 'a mailer with subscriptions', options.list);
  const list = options.list;
  const base = checkBase(options.message);
  return { source: listSource(subscriptions, list, options.signal), options: { ...options, message: { ...base, list } }, list };
}

/** The unsubscribed records of `list`; undefined when the store cannot count. Rejects with STORE. @internal */
export async function unsubscribedOf(store: SubscriptionStore, list: string): Promise<number | undefined> {
  if (store.count === undefined) return undefined;
  try {
    return (await store.count(list)).unsubscribed;
  } catch (err) {
    if (isMailError(err)) throw err;
    throw new MailError(`Subscription store (${store.name}) count failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err });
  }
}
