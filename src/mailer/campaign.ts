/**
 * The campaign loop behind `sendMany`: reads a source with backpressure, counts and keeps
 * validation failures, and stops when the mailer itself cannot take more.
 *
 * @module
 */

import { MailErrorCode, configError, toMailError } from '../errors.js';
import type { MailError } from '../errors.js';
import type { MessageInput } from '../types.js';
import type { CampaignItem, CampaignResult, SendManyOptions, SendOptions } from './options.js';

/**
 * The campaign loop behind {@link Mailer.sendMany}: reads `source`, sends each item, counts
 * validation failures, and awaits `backpressure` after each item.
 * @internal
 */
export async function runCampaign(
  send: (message: MessageInput, options: SendOptions) => Promise<unknown>,
  source: Iterable<CampaignItem> | AsyncIterable<CampaignItem>,
  options: SendManyOptions,
  backpressure: () => Promise<void> | undefined,
): Promise<CampaignResult> {
  const every = options.progressEvery ?? 1_000;
  if (!Number.isInteger(every) || every < 1) throw configError('sendMany.progressEvery', 'an integer >= 1', every);
  if (source === null || typeof source !== 'object' || (!(Symbol.asyncIterator in source) && !(Symbol.iterator in source))) {
    throw configError('sendMany.source', 'an iterable or async iterable of messages', source);
  }
  let read = 0;
  let queued = 0;
  let invalid = 0;
  const errors: { index: number; error: MailError }[] = [];
  for await (const item of source as AsyncIterable<CampaignItem>) {
    if (options.signal?.aborted) return { read, queued, invalid, errors, aborted: true };
    const index = read++;
    const wrapped = typeof item === 'object' && item !== null && 'message' in item && typeof item.message === 'object' && item.message !== null;
    const message = wrapped ? (item as { message: MessageInput }).message : (item as MessageInput);
    const sendOptions = (wrapped ? (item as { options?: SendOptions }).options : undefined) ?? options.defaults ?? {};
    try {
      await send(message, sendOptions);
      queued++;
    } catch (err) {
      const error = toMailError(err);
      // The mailer itself cannot take more: stop rather than count every item as invalid.
      if (error.code === MailErrorCode.CLOSED || error.code === MailErrorCode.STORE) throw error;
      invalid++;
      if (errors.length < 100) errors.push({ index, error });
    }
    if (read % every === 0) options.onProgress?.({ read, queued, invalid });
    const wait = backpressure();
    if (wait !== undefined) await wait;
  }
  options.onProgress?.({ read, queued, invalid });
  return { read, queued, invalid, errors, aborted: false };
}
