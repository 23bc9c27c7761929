/**
 * The one normalized feedback event: whatever comes back after sending (an Amazon SES
 * notification, a SendGrid event, a DSN or ARF mail) becomes a {@link FeedbackEvent} for one
 * recipient, which the processor correlates, applies the suppression policy to, and hands to
 * the host's hook.
 *
 * @module
 */

import { hash } from 'node:crypto';
import { classify } from '../classify/index.js';
import { MailError, MailErrorCode, describeValue } from '../errors.js';
import type { BounceCategory } from '../types.js';

/**
 * What happened:
 * - `processed`: the provider accepted the message for delivery (SES Send, SendGrid processed);
 * - `delivered`: the receiving server accepted it;
 * - `deferred`: delivery was delayed and is retried by the provider (never suppresses);
 * - `bounced`: delivery failed; `hard` says whether the address itself is bad;
 * - `complained`: the recipient reported the message as spam (feedback loop, ARF);
 * - `opened`, `clicked`: tracking hits (`machineOpen` flags privacy-proxy opens);
 * - `unsubscribed`, `resubscribed`: list preference changes (`list` names the list or group);
 * - `dropped`: the provider did not even try (its own suppression list, invalid address);
 * - `rejected`: the provider refused the message (virus, template rendering failure).
 */
export type FeedbackEventType =
  | 'processed'
  | 'delivered'
  | 'deferred'
  | 'bounced'
  | 'complained'
  | 'opened'
  | 'clicked'
  | 'unsubscribed'
  | 'resubscribed'
  | 'dropped'
  | 'rejected';

/** Every {@link FeedbackEventType}, in a stable order. */
export const FEEDBACK_EVENT_TYPES: readonly FeedbackEventType[] = Object.freeze([
  'processed',
  'delivered',
  'deferred',
  'bounced',
  'complained',
  'opened',
  'clicked',
  'unsubscribed',
  'resubscribed',
  'dropped',
  'rejected',
]);

/** Where an event came from: `ses`, `sendgrid`, `dsn` (a bounce mail), `arf` (a complaint mail), or a host's own source. */
export type FeedbackProvider = 'ses' | 'sendgrid' | 'dsn' | 'arf' | (string & {});

/** One thing that happened to one recipient of one message. Plain data, safe to store as JSON (except `raw`, which is the provider's own JSON or a parse result). */
export interface FeedbackEvent {
  readonly type: FeedbackEventType;
  /** The recipient concerned, domain in lower case. */
  readonly recipient: string;
  readonly provider: FeedbackProvider;
  /** When it happened according to the provider, ms since the epoch. */
  readonly timestamp: number;
  /**
   * A stable id of this event (SendGrid `sg_event_id`, the SNS message id plus the recipient's
   * index, the report's Message-ID plus the recipient), the same when a provider retries; use
   * it to make host storage idempotent. Every event the processor hands to hooks and `feedback`
   * listeners has one: an event that comes without is given {@link deriveEventId} of its
   * content, so the same event in a retried batch gets the same id.
   */
  readonly eventId?: string;
  /** RFC 5322 Message-ID of the original message, with angle brackets, when known. */
  readonly messageId?: string;
  /** mailpush job id of the original send, when known (`X-Mailpush-Job-Id`, custom args, VERP). */
  readonly jobId?: string;
  /** The provider's id of the original message (SES MessageId, SendGrid X-Message-Id). */
  readonly providerMessageId?: string;
  /** Reason category of a bounce, deferral or drop (shared with synchronous SMTP replies). */
  readonly reason?: BounceCategory;
  /** For `bounced`: a permanent problem with the address itself (unknown user or domain). Policy, reputation and mailbox-full bounces are never hard. */
  readonly hard?: boolean;
  /** The provider's or the remote server's text (`smtp; 550 5.1.1 user unknown`). */
  readonly diagnostic?: string;
  /** RFC 3463 enhanced status (`5.1.1`), when known. */
  readonly status?: string;
  /** For `complained`: the feedback type (`abuse`, `fraud`, `not-spam`, ...). */
  readonly feedbackType?: string;
  /** For `opened`: the open came from a privacy proxy (Apple Mail Privacy Protection), not a person. */
  readonly machineOpen?: boolean;
  /** For `clicked`: the click came from a link scanner (a security gateway, a HEAD request, a burst of clicks), not a person. */
  readonly machineClick?: boolean;
  /** For `opened` and `clicked` flagged as machine activity: the id of the rule that fired (`apple-mpp-agent`, `link-burst`...). */
  readonly machineRule?: string;
  /** For `clicked`: the link. */
  readonly url?: string;
  /** For `unsubscribed` and `resubscribed`: the list, group or topic (absent: all marketing mail). */
  readonly list?: string;
  /** The campaign of the original message (`MessageInput.campaign`), when known. */
  readonly campaign?: string;
  /** User agent of an open, click or complaint. */
  readonly userAgent?: string;
  /** IP address of an open or click. */
  readonly ip?: string;
  /** The message's tags as the provider returned them (SendGrid custom args, SES message tags). */
  readonly tags?: Readonly<Record<string, string>>;
  /** Host data attached by correlation (`resolveCorrelation`). */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /**
   * Set on events read from a mail (`ingestRaw`): `false` when the report proved nothing about
   * this recipient (no valid VERP token, no returned original matching a sent job), so the event
   * changed no state; `true` when it did. Absent on webhook events (verified by their signature).
   * An event given to `ingest` with `verified: false` changes no state either.
   */
  readonly verified?: boolean;
  /** The provider's payload item (SES notification, SendGrid event) or the parse result of a mail. */
  readonly raw: unknown;
}

/**
 * A stable id for an event that has none: `d:` and a SHA-256 of what identifies it (provider,
 * type, recipient, time, the original's ids, reason, status, list, url, campaign). The same
 * event delivered twice (a provider retrying a batch) gets the same id; two events that differ
 * in any of these get different ones.
 *
 * @example
 * ```ts
 * const id = deriveEventId({ type: 'opened', recipient: 'ann@example.org', provider: 'tracking', timestamp: 1765000000000, raw: {} });
 * id === deriveEventId({ type: 'opened', recipient: 'ann@example.org', provider: 'tracking', timestamp: 1765000000000, raw: {} }); // true
 * ```
 */
export function deriveEventId(event: FeedbackEvent): string {
  const parts = [
    event.provider,
    event.type,
    event.recipient.toLowerCase(),
    String(event.timestamp),
    event.messageId ?? '',
    event.jobId ?? '',
    event.providerMessageId ?? '',
    event.reason ?? '',
    event.status ?? '',
    event.feedbackType ?? '',
    event.list ?? '',
    event.url ?? '',
    event.campaign ?? '',
  ];
  // The first 32 base64url characters (24 bytes) of the digest. The one-shot hash() costs about
  // half of a Hash object (Node >= 20.12), and its base64url string output about half of a
  // Buffer output (no ArrayBuffer per id). join(), not `+`: it writes one flat string of 34
  // characters, where `+` keeps a cons string (32 bytes) over the slice, which itself would keep
  // the whole 43-character digest alive; a batch of 50,000 events keeps every id.
  return ['d:', hash('sha256', JSON.stringify(parts), 'base64url').slice(0, 32)].join('');
}

/** The event with an `eventId` ({@link deriveEventId} when it had none). @internal */
export function withEventId(event: FeedbackEvent): FeedbackEvent & { readonly eventId: string } {
  return event.eventId !== undefined && event.eventId !== '' ? (event as FeedbackEvent & { eventId: string }) : (withField(event, 'eventId', deriveEventId(event)) as FeedbackEvent & { eventId: string });
}

/**
 * A copy of an event with one field set (replaced in place when present). `Object.assign`, not
 * `{ ...event, [key]: value }`: V8 gives each object made by a spread plus a field its own
 * hidden class, about 450 bytes that a batch of 50,000 events keeps alive and the young
 * generation GC copies while the host's event loop waits. A copy whose source has an own
 * `__proto__` key (JSON) is spread, so that the key stays data.
 * @internal
 */
export function withField<K extends keyof FeedbackEvent>(event: FeedbackEvent, key: K, value: FeedbackEvent[K]): FeedbackEvent {
  const out = copyEvent(event);
  out[key] = value;
  return out as unknown as FeedbackEvent;
}

/** A shallow copy of an event to add fields to; see {@link withField} for why not a spread. @internal */
export function copyEvent(event: FeedbackEvent): Record<string, unknown> {
  return Object.hasOwn(event, '__proto__') ? { ...event } : Object.assign({}, event as unknown as Record<string, unknown>);
}

const TYPES: ReadonlySet<string> = new Set(FEEDBACK_EVENT_TYPES);
const ADDRESS = /^[^\s@<>()",;]{1,256}@[^\s@<>()",;]{1,255}$/;

/**
 * Normalizes a recipient address as events carry it: trimmed, angle brackets removed, domain
 * in lower case (a trailing dot dropped). Undefined when it does not look like an address.
 *
 * @example
 * ```ts
 * import { normalizeRecipient } from 'mailpush/feedback';
 *
 * normalizeRecipient(' <Ann@Example.COM.> '); // 'Ann@example.com'
 * normalizeRecipient('not an address'); // undefined
 * ```
 */
export function normalizeRecipient(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 600) return undefined;
  let s = value.trim();
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1).trim();
  if (!ADDRESS.test(s)) return undefined;
  const at = s.lastIndexOf('@');
  return `${s.slice(0, at)}@${s.slice(at + 1).toLowerCase().replace(/\.$/, '')}`;
}

/**
 * Checks an event given by a host to `processor.ingest` and returns it with the recipient
 * normalized. Throws a `MAILPUSH_ERR_VALIDATION` {@link MailError} naming the problem.
 *
 * @example
 * ```ts
 * import { checkFeedbackEvent } from 'mailpush/feedback';
 *
 * const event = checkFeedbackEvent({ type: 'bounced', recipient: 'Ann@Example.COM', provider: 'postal', timestamp: Date.now(), hard: true, raw: {} });
 * event.recipient; // 'Ann@example.com'
 * checkFeedbackEvent({ type: 'bounce', recipient: 'ann@example.org' }); // throws MailError MAILPUSH_ERR_VALIDATION
 * ```
 */
export function checkFeedbackEvent(event: unknown, index = 0): FeedbackEvent {
  const where = `events[${index}]`;
  if (typeof event !== 'object' || event === null) throw invalid(`${where} to be an object`, event);
  const e = event as Record<string, unknown>;
  if (typeof e.type !== 'string' || !TYPES.has(e.type)) throw invalid(`${where}.type to be one of ${FEEDBACK_EVENT_TYPES.join(', ')}`, e.type);
  const recipient = normalizeRecipient(e.recipient);
  if (recipient === undefined) throw invalid(`${where}.recipient to be an email address`, e.recipient);
  if (typeof e.provider !== 'string' || e.provider === '') throw invalid(`${where}.provider to be a non-empty string`, e.provider);
  if (typeof e.timestamp !== 'number' || !Number.isFinite(e.timestamp)) throw invalid(`${where}.timestamp to be a time in ms`, e.timestamp);
  if (e.hard !== undefined && typeof e.hard !== 'boolean') throw invalid(`${where}.hard to be a boolean`, e.hard);
  if (e.verified !== undefined && typeof e.verified !== 'boolean') throw invalid(`${where}.verified to be a boolean`, e.verified);
  for (const k of ['eventId', 'messageId', 'jobId', 'providerMessageId', 'list', 'feedbackType'] as const) {
    if (e[k] !== undefined && typeof e[k] !== 'string') throw invalid(`${where}.${k} to be a string`, e[k]);
  }
  return recipient === e.recipient ? (event as FeedbackEvent) : withField(event as FeedbackEvent, 'recipient', recipient);
}

function invalid(expected: string, got: unknown): MailError {
  return new MailError(`Expected ${expected}, got ${describeValue(got)}`, { code: MailErrorCode.VALIDATION });
}

/** Rule ids of the classification table that only look at the reply class: they decide nothing about the reason. */
const FALLBACK_RULES: ReadonlySet<string> = new Set(['default', 'smtp-5xx', 'smtp-4xx', 'smtp-3xx']);

/** What the shared classification table says about a provider's diagnostic. */
export interface DiagnosticVerdict {
  readonly reason: BounceCategory;
  readonly hard: boolean;
  /** False when only the reply class was recognised (or nothing): the provider's own verdict should decide. */
  readonly decisive: boolean;
}

/**
 * Classifies a provider's status and diagnostic text with the table that classifies
 * synchronous SMTP replies and DSNs, so the three agree.
 */
export function diagnosticVerdict(status: string | undefined, text: string | undefined): DiagnosticVerdict {
  const c = classify({
    ...(status !== undefined && /^[245]\.\d{1,3}\.\d{1,3}$/.test(status) ? { enhancedStatus: status } : {}),
    ...(text !== undefined ? { text: text.replace(/^\s*smtp\s*;\s*/i, '') } : {}),
  });
  return { reason: c.category, hard: c.hard, decisive: !FALLBACK_RULES.has(c.rule) && c.category !== 'undefined' };
}

/** Parses an ISO date or a number of ms/s into ms since the epoch; undefined when not a time. */
export function parseTime(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || value.length > 64) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** A one-line, length-capped copy of a provider string; undefined for anything else. */
export function cleanText(value: unknown, max = 1000): string | undefined {
  if (typeof value !== 'string') return undefined;
  const s = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (s === '') return undefined;
  return s.length > max ? s.slice(0, max) : s;
}

/** A Message-ID with angle brackets, or undefined when the value is not one. */
export function cleanMessageId(value: unknown): string | undefined {
  const s = cleanText(value, 998);
  if (s === undefined || /\s/.test(s)) return undefined;
  const inner = s.startsWith('<') && s.endsWith('>') ? s.slice(1, -1) : s;
  if (inner === '' || /[<>]/.test(inner)) return undefined;
  return `<${inner}>`;
}
