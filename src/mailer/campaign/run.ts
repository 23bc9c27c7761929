/**
 * The loop behind `sendMany`: reads a source with backpressure, merges the shared `message`
 * fields into each item, tags every message with the campaign id, and counts what it read,
 * queued and refused.
 *
 * @module
 */

import { MailErrorCode, configError, toMailError } from '../../errors.js';
import type { MailError } from '../../errors.js';
import { checkCampaignId, newCampaignId } from '../../campaigns/ids.js';
import type { MessageInput } from '../../types.js';
import type { CampaignItem, CampaignResult, SendManyOptions, SendOptions } from '../options.js';

/** What `sendMany` reads messages from. @internal */
export type Source = Iterable<CampaignItem> | AsyncIterable<CampaignItem>;

/** What a run of {@link runCampaign} asks of the mailer's campaign control. @internal */
export interface CampaignRunHooks {
  /** Resolves when the campaign may read on (undefined: it may now); rejects never. */
  gate(id: string): Promise<void> | undefined;
  /** True once the campaign was cancelled: stop reading. */
  cancelled(id: string): boolean;
  /** Counts items read and refused, and recipients queued. */
  counted(id: string, read: number, invalid: number, recipients: number): void;
  /** The source ended (or the run stopped). */
  ended(id: string): void;
}

/**
 * The campaign loop behind {@link Mailer.sendMany}: reads `source`, merges `options.message`
 * into each item, sets the campaign id, sends, counts validation failures, and awaits
 * `backpressure` after each item.
 * @internal
 */
export async function runCampaign(
  send: (message: MessageInput, options: SendOptions) => Promise<unknown>,
  source: Source,
  options: SendManyOptions,
  backpressure: () => Promise<void> | undefined,
  hooks?: CampaignRunHooks,
  id: string = campaignIdOf(options),
): Promise<CampaignResult> {
  const every = options.progressEvery ?? 1_000;
  if (!Number.isInteger(every) || every < 1) throw configError('sendMany.progressEvery', 'an integer >= 1', every);
  if (source === null || typeof source !== 'object' || (!(Symbol.asyncIterator in source) && !(Symbol.iterator in source))) {
    throw configError('sendMany.source', 'an iterable or async iterable of messages', source);
  }
  const base = checkBase(options.message);
  let read = 0;
  let queued = 0;
  let invalid = 0;
  const errors: { index: number; error: MailError }[] = [];
  const result = (aborted: boolean, cancelled: boolean): CampaignResult => {
    hooks?.ended(id);
    return { campaign: id, read, queued, invalid, errors, aborted, cancelled };
  };
  for await (const item of source as AsyncIterable<CampaignItem>) {
    if (options.signal?.aborted) return result(true, false);
    const gate = hooks?.gate(id);
    if (gate !== undefined) await gate;
    if (hooks?.cancelled(id) === true) return result(true, true);
    if (options.signal?.aborted) return result(true, false);
    const index = read++;
    const wrapped = typeof item === 'object' && item !== null && 'message' in item && typeof item.message === 'object' && item.message !== null;
    const given = wrapped ? (item as { message: MessageInput }).message : (item as MessageInput);
    const sendOptions = (wrapped ? (item as { options?: SendOptions }).options : undefined) ?? options.defaults ?? {};
    let failed = false;
    let recipients = 0;
    try {
      const receipt = (await send(mergeItem(base, given, id), sendOptions)) as { duplicate?: boolean; jobs?: readonly { recipients: readonly string[] }[] } | undefined;
      if (receipt?.duplicate !== true) for (const j of receipt?.jobs ?? []) recipients += j.recipients.length;
      queued++;
    } catch (err) {
      const error = toMailError(err);
      // The mailer itself cannot take more: stop rather than count every item as invalid.
      if (error.code === MailErrorCode.CLOSED || error.code === MailErrorCode.STORE) {
        hooks?.counted(id, 1, 0, 0);
        hooks?.ended(id);
        throw error;
      }
      failed = true;
      invalid++;
      if (errors.length < 100) errors.push({ index, error });
    }
    hooks?.counted(id, 1, failed ? 1 : 0, recipients);
    if (read % every === 0) options.onProgress?.({ campaign: id, read, queued, invalid });
    const wait = backpressure();
    if (wait !== undefined) await wait;
  }
  options.onProgress?.({ campaign: id, read, queued, invalid });
  return result(false, false);
}

/** The campaign id of a run: `options.campaign` checked, or a new one. @internal */
export function campaignIdOf(options: SendManyOptions): string {
  return options.campaign === undefined ? newCampaignId() : checkCampaignId(options.campaign, 'sendMany.campaign');
}

/** `sendMany.message`, the fields shared by every item: undefined or an object. @internal */
export function checkBase(base: unknown): Partial<MessageInput> | undefined {
  if (base === undefined) return undefined;
  if (typeof base !== 'object' || base === null || Array.isArray(base)) throw configError('sendMany.message', 'an object of message fields shared by every item', base);
  return base as Partial<MessageInput>;
}

/** Object-valued fields merged key by key (the item's keys win) rather than replaced. */
const MERGED = ['tags', 'metadata', 'headers', 'vars'] as const;

/** The item over the shared fields, with the campaign id. */
function mergeItem(base: Partial<MessageInput> | undefined, item: MessageInput, campaign: string): MessageInput {
  if (typeof item !== 'object' || item === null) return item; // normalization refuses it with its own message
  const out: Record<string, unknown> = base === undefined ? { ...item } : { ...base, ...item };
  if (base !== undefined) {
    for (const k of MERGED) {
      const b = (base as Record<string, unknown>)[k];
      const i = (item as unknown as Record<string, unknown>)[k];
      if (isPlain(b) && isPlain(i)) out[k] = { ...b, ...i };
    }
  }
  out.campaign = campaign;
  return out as unknown as MessageInput;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
