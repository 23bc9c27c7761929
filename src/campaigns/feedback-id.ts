/**
 * The `Feedback-ID` header of Gmail's feedback loop (COMPLIANCE.md F-1): `a:b:c:SenderId`, up
 * to three identifiers of the sender's choosing then the SenderId, which is mandatory, 5 to 15
 * characters and stable across the mail stream. mailpush writes `campaign:category:SenderId`
 * (or `campaign:customer:category:SenderId` with a customer id), so Gmail's Postmaster Tools
 * reports spam rates per campaign and per kind of mail; nothing in it is unique per message.
 *
 * The header is added by a shaping step at accept time, so DKIM (applied later) covers it.
 *
 * @module
 */

import { MailError, MailErrorCode, configError, describeValue } from '../errors.js';
import type { NormalizedMessage } from '../types.js';
import type { Shaper } from '../message/shape-step.js';

/** Header name, as Gmail documents it. */
export const FEEDBACK_ID_HEADER = 'Feedback-ID';

/** An identifier field before the SenderId: 1 to 64 letters, digits, `.`, `_` or `-` (no colon). */
export const FEEDBACK_ID_FIELD = /^[A-Za-z0-9._-]{1,64}$/;

/** The SenderId: 5 to 15 letters, digits, `.`, `_` or `-`. */
export const FEEDBACK_SENDER_ID = /^[A-Za-z0-9._-]{5,15}$/;

/** Options of the Feedback-ID header (`createMailer({ feedbackId })`). */
export interface FeedbackIdOptions {
  /** Gmail's SenderId: 5 to 15 letters, digits, `.`, `_` or `-`, the same for the whole mail stream. */
  readonly senderId: string;
  /** An identifier of the customer (for a platform sending for several), placed before the category. @default none */
  readonly customerId?: string;
}

/** The fields of a Feedback-ID value. */
export interface FeedbackIdParts {
  /** Up to three identifiers, in order. */
  readonly fields: readonly string[];
  readonly senderId: string;
}

/**
 * Builds a Feedback-ID value from its identifiers (empty or undefined ones are left out) and the
 * SenderId. Throws a VALIDATION MailError for a field with a colon, a bad length or more than
 * three identifiers.
 *
 * @example
 * ```ts
 * formatFeedbackId(['spring-sale', 'marketing'], 'acme1'); // 'spring-sale:marketing:acme1'
 * ```
 */
export function formatFeedbackId(fields: readonly (string | undefined)[], senderId: string): string {
  const used = fields.filter((f): f is string => f !== undefined && f !== '');
  if (used.length > 3) throw invalid(`at most three identifiers before the SenderId, got ${used.length}`);
  for (const f of used) if (!FEEDBACK_ID_FIELD.test(f)) throw invalid(`an identifier must be 1 to 64 letters, digits, '.', '_' or '-' (no colon), got ${describeValue(f)}`);
  if (typeof senderId !== 'string' || !FEEDBACK_SENDER_ID.test(senderId)) throw invalid(`the SenderId must be 5 to 15 letters, digits, '.', '_' or '-', got ${describeValue(senderId)}`);
  return [...used, senderId].join(':');
}

/**
 * Parses a Feedback-ID value; undefined when it does not follow Gmail's format (1 to 3
 * identifiers then a SenderId of 5 to 15 characters, no empty field).
 *
 * @example
 * ```ts
 * parseFeedbackId('spring-sale:marketing:acme1'); // { fields: ['spring-sale', 'marketing'], senderId: 'acme1' }
 * parseFeedbackId('a::b:acme1'); // undefined
 * ```
 */
export function parseFeedbackId(value: string): FeedbackIdParts | undefined {
  if (typeof value !== 'string') return undefined;
  const parts = value.trim().split(':');
  if (parts.length < 2 || parts.length > 4) return undefined;
  const senderId = parts.pop() as string;
  if (!FEEDBACK_SENDER_ID.test(senderId) || !parts.every((p) => FEEDBACK_ID_FIELD.test(p))) return undefined;
  return { fields: parts, senderId };
}

/**
 * Checks the `feedbackId` mailer option; throws a CONFIG MailError naming the field.
 *
 * @example
 * ```ts
 * checkFeedbackIdOptions({ senderId: 'acme1' });
 * ```
 */
export function checkFeedbackIdOptions(options: unknown): FeedbackIdOptions {
  if (typeof options !== 'object' || options === null) throw configError('feedbackId', 'an object with a `senderId`', options);
  const o = options as Partial<FeedbackIdOptions>;
  if (typeof o.senderId !== 'string' || !FEEDBACK_SENDER_ID.test(o.senderId)) throw configError('feedbackId.senderId', "5 to 15 letters, digits, '.', '_' or '-'", o.senderId);
  if (o.customerId !== undefined && (typeof o.customerId !== 'string' || !FEEDBACK_ID_FIELD.test(o.customerId))) {
    throw configError('feedbackId.customerId', "1 to 64 letters, digits, '.', '_' or '-' (no colon)", o.customerId);
  }
  return o as FeedbackIdOptions;
}

/**
 * The campaign-headers shaping step. With `options`, every message gets one Feedback-ID
 * (`campaign:customer:category:SenderId`, leaving out what it lacks); a message that brings its
 * own Feedback-ID keeps it, once it is checked. Without `options` it only checks a Feedback-ID
 * given in `headers`. A malformed or repeated one is refused with INVALID_HEADER.
 *
 * @example
 * ```ts
 * // in createShapers(): feedbackIdShaper(options.feedbackId)
 * const step = feedbackIdShaper({ senderId: 'acme1' });
 * ```
 */
export function feedbackIdShaper(options: FeedbackIdOptions | undefined): Shaper {
  const settings = options === undefined ? undefined : checkFeedbackIdOptions(options);
  return {
    message(message: NormalizedMessage): NormalizedMessage {
      let given: string | undefined;
      let count = 0;
      for (const [name, value] of message.headers) {
        if (name.toLowerCase() !== 'feedback-id') continue;
        count++;
        given = value;
      }
      if (count > 1) throw invalidHeader(`Gmail reads one Feedback-ID header per message, got ${count}`);
      if (given !== undefined) {
        if (parseFeedbackId(given) === undefined) throw invalidHeader(`Invalid Feedback-ID ${describeValue(given)}: expected a:b:c:SenderId (1 to 3 identifiers without colons, a SenderId of 5 to 15 characters)`);
        return message;
      }
      if (settings === undefined) return message;
      const value = formatFeedbackId([message.campaign, settings.customerId, message.category], settings.senderId);
      return {
        ...message,
        headers: [...message.headers, [FEEDBACK_ID_HEADER, value]],
        sizeBytes: message.sizeBytes + FEEDBACK_ID_HEADER.length + value.length + 4,
      };
    },
  };
}

function invalid(why: string): MailError {
  return new MailError(`Invalid Feedback-ID: ${why}`, { code: MailErrorCode.VALIDATION });
}

function invalidHeader(message: string): MailError {
  return new MailError(message, { code: MailErrorCode.INVALID_HEADER });
}
