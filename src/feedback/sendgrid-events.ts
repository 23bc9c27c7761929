/**
 * SendGrid Event Webhook: signature verification (ECDSA P-256 / SHA-256 over the timestamp
 * header followed by the raw body, exactly as received) and event parsing.
 *
 * @module
 */

import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { MailError, MailErrorCode, configError } from '../errors.js';
import { cleanMessageId, cleanText, diagnosticVerdict, normalizeRecipient } from './event.js';
import type { FeedbackEvent, FeedbackEventType } from './event.js';
import type { BounceCategory } from '../types.js';

/** Header carrying the base64 DER ECDSA signature. */
export const SENDGRID_SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
/** Header carrying the unix-seconds timestamp that is signed with the body. */
export const SENDGRID_TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';
/** Custom argument the SendGrid transport sets to the job id. */
export const SENDGRID_JOB_ID_ARG = 'mailpush_job_id';
/** Custom argument the SendGrid transport sets to the RFC 5322 Message-ID. */
export const SENDGRID_MESSAGE_ID_ARG = 'mailpush_message_id';

/** Why a SendGrid request was refused, with the HTTP status a webhook should answer. */
export class SendGridVerificationError extends MailError {
  /** 401 no signature, 403 bad signature or stale timestamp. */
  readonly status: 401 | 403;
  constructor(message: string, status: 401 | 403) {
    super(message, { code: MailErrorCode.VALIDATION, retryable: false });
    this.name = 'SendGridVerificationError';
    this.status = status;
  }
}

/** Options of {@link createSendGridVerifier}. */
export interface SendGridVerifierOptions {
  /** The verification key shown in SendGrid's Mail Settings: base64 DER SubjectPublicKeyInfo (a PEM text or a KeyObject also work). */
  readonly publicKey: string | KeyObject;
  /** Oldest timestamp accepted, seconds. @default 600 */
  readonly toleranceSec?: number;
  /** How far in the future a timestamp may be (clock skew), seconds. @default 300 */
  readonly maxClockSkewSec?: number;
  /** Current time, ms. @default Date.now */
  readonly now?: () => number;
}

/** Verifies SendGrid Event Webhook requests. */
export interface SendGridVerifier {
  /**
   * Checks the signature over `timestamp + body`, and the timestamp's freshness. Throws
   * {@link SendGridVerificationError}. `body` must be the raw bytes as received.
   */
  verify(body: Uint8Array, signature: string | null | undefined, timestamp: string | null | undefined): void;
}

/**
 * Decodes base64 strictly, as Go's `base64.StdEncoding` (SendGrid's own SDK) does: the standard
 * alphabet, padding to a multiple of 4, padding only at the end, and zero unused bits (one
 * text, one value). Line breaks and spaces between the characters are allowed. Undefined
 * otherwise; Node's own decoder stops at the first `=` or skips junk, which would accept a
 * key with anything appended.
 */
function strictBase64(text: string): Buffer | undefined {
  const s = text.replace(/[ \t\r\n]+/g, '');
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return undefined;
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64') === s ? bytes : undefined;
}

/**
 * Length of the DER element at the start of `der`, header included; undefined when its header
 * is malformed (indefinite or non-minimal lengths are not DER).
 */
function derElementLength(der: Uint8Array): number | undefined {
  if (der.length < 2) return undefined;
  const first = der[1]!;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || der.length < 2 + n || der[2] === 0) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[2 + i]!;
  if (len < 0x80) return undefined;
  return 2 + n + len;
}

/**
 * Reads the SendGrid verification key; throws a CONFIG MailError when it is not an EC P-256 public key.
 *
 * @example
 * ```ts
 * import { readSendGridPublicKey } from 'mailpush/feedback';
 *
 * const key = readSendGridPublicKey(process.env.SENDGRID_WEBHOOK_KEY); // throws MailError CONFIG unless an EC P-256 key
 * key.asymmetricKeyType; // 'ec'
 * ```
 */
export function readSendGridPublicKey(value: unknown): KeyObject {
  let key: KeyObject;
  try {
    if (typeof value === 'object' && value !== null && (value as KeyObject).type === 'public') key = value as KeyObject;
    else if (typeof value === 'string' && value.includes('-----BEGIN')) key = createPublicKey(value);
    else if (typeof value === 'string') {
      const der = strictBase64(value);
      // Exactly one SubjectPublicKeyInfo (a SEQUENCE) and nothing after it.
      if (der === undefined || der[0] !== 0x30 || derElementLength(der) !== der.length) throw new Error('not one base64 DER SPKI');
      key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    } else throw new Error('not a key');
  } catch {
    throw configError('sendgrid.publicKey', 'the base64 DER (SPKI) verification key from SendGrid', value);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw configError('sendgrid.publicKey', 'an EC P-256 public key', value);
  }
  return key;
}

/**
 * Creates a SendGrid signature verifier.
 *
 * @example
 * ```ts
 * import { createSendGridVerifier, parseSendGridEvents, SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER } from 'mailpush/feedback';
 *
 * const verifier = createSendGridVerifier({ publicKey: process.env.SENDGRID_WEBHOOK_KEY! });
 * const body = new Uint8Array(await request.arrayBuffer()); // the raw bytes, as received
 * verifier.verify(body, request.headers.get(SENDGRID_SIGNATURE_HEADER), request.headers.get(SENDGRID_TIMESTAMP_HEADER)); // throws SendGridVerificationError
 * const events = parseSendGridEvents(JSON.parse(new TextDecoder().decode(body)));
 * ```
 */
export function createSendGridVerifier(options: SendGridVerifierOptions): SendGridVerifier {
  if (typeof options !== 'object' || options === null) throw configError('sendgrid', 'an object', options);
  const key = readSendGridPublicKey(options.publicKey);
  const tolerance = options.toleranceSec ?? 600;
  if (typeof tolerance !== 'number' || !(tolerance > 0)) throw configError('sendgrid.toleranceSec', 'a positive number of seconds', tolerance);
  const skew = options.maxClockSkewSec ?? 300;
  if (typeof skew !== 'number' || !(skew >= 0)) throw configError('sendgrid.maxClockSkewSec', 'a number of seconds >= 0', skew);
  const now = options.now ?? Date.now;
  return {
    verify(body, signature, timestamp) {
      if (typeof signature !== 'string' || signature === '' || typeof timestamp !== 'string' || timestamp === '') {
        throw new SendGridVerificationError('SendGrid signature or timestamp header missing', 401);
      }
      if (!/^\d{1,12}$/.test(timestamp)) throw new SendGridVerificationError('SendGrid timestamp is not unix seconds', 403);
      const ageSec = now() / 1000 - Number(timestamp);
      if (ageSec > tolerance) throw new SendGridVerificationError(`SendGrid timestamp is ${Math.round(ageSec)} s old (stale or replayed)`, 403);
      if (-ageSec > skew) throw new SendGridVerificationError('SendGrid timestamp is in the future', 403);
      if (signature.length > 512 || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) throw new SendGridVerificationError('SendGrid signature is not base64', 403);
      let ok = false;
      try {
        ok = cryptoVerify('sha256', Buffer.concat([Buffer.from(timestamp, 'latin1'), body]), { key, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
      } catch {
        ok = false;
      }
      if (!ok) throw new SendGridVerificationError('SendGrid signature does not verify', 403);
    },
  };
}

// ---------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------

/** Fields SendGrid itself sets; every other string field of an event is a custom arg. */
const SENDGRID_FIELDS: ReadonlySet<string> = new Set([
  'email',
  'timestamp',
  'event',
  'smtp-id',
  'sg_event_id',
  'sg_message_id',
  'sg_template_id',
  'sg_template_name',
  'sg_content_type',
  'sg_machine_open',
  'sg_user_id',
  'category',
  'reason',
  'status',
  'response',
  'attempt',
  'type',
  'bounce_classification',
  'useragent',
  'ip',
  'url',
  'url_offset',
  'asm_group_id',
  'tls',
  'cert_err',
  'pool',
  'send_at',
  'marketing_campaign_id',
  'marketing_campaign_name',
  'marketing_campaign_version',
  'marketing_campaign_split_id',
  'singlesend_id',
  'singlesend_name',
  'template_id',
  'template_version_id',
  'template_name',
  'mc_stats',
  'phase_id',
  'variation_id',
  'newsletter',
  'post_type',
  'ab_phase_id',
  'ab_variation',
  'ip_pool_name',
  'ip_pool_id',
  SENDGRID_JOB_ID_ARG,
  SENDGRID_MESSAGE_ID_ARG,
]);

const EVENT_TYPES: ReadonlyMap<string, FeedbackEventType> = new Map([
  ['processed', 'processed'],
  ['deferred', 'deferred'],
  ['delivered', 'delivered'],
  ['bounce', 'bounced'],
  ['dropped', 'dropped'],
  ['open', 'opened'],
  ['click', 'clicked'],
  ['spamreport', 'complained'],
  ['unsubscribe', 'unsubscribed'],
  ['group_unsubscribe', 'unsubscribed'],
  ['group_resubscribe', 'resubscribed'],
]);

const CLASSIFICATIONS: ReadonlyMap<string, { reason: BounceCategory; hard: boolean }> = new Map([
  ['invalid address', { reason: 'userunknown', hard: true }],
  ['mailbox unavailable', { reason: 'suspend', hard: false }],
  ['technical', { reason: 'systemerror', hard: false }],
  ['content', { reason: 'contenterror', hard: false }],
  ['reputation', { reason: 'badreputation', hard: false }],
  ['frequency or volume', { reason: 'ratelimited', hard: false }],
]);

/** Most events read from one request (SendGrid posts batches of up to about a thousand). */
const MAX_EVENTS = 10_000;

/**
 * The hard/soft verdict of a SendGrid bounce. `type: 'blocked'` is a temporary refusal, never
 * hard. `type: 'bounce'` follows the diagnostic when the shared table recognises it, then
 * SendGrid's `bounce_classification`, and is hard otherwise (SendGrid lists it as a bounce).
 */
function bounceVerdict(e: Record<string, unknown>, status: string | undefined, diagnostic: string | undefined): { reason: BounceCategory; hard: boolean } {
  const v = diagnosticVerdict(status, diagnostic);
  if (e.type === 'blocked') return { reason: v.decisive ? v.reason : 'blocked', hard: false };
  if (v.decisive) return { reason: v.reason, hard: v.hard };
  const c = typeof e.bounce_classification === 'string' ? CLASSIFICATIONS.get(e.bounce_classification.toLowerCase()) : undefined;
  if (c !== undefined) return c;
  return { reason: v.reason === 'undefined' ? 'userunknown' : v.reason, hard: true };
}

/**
 * Parses the events of a SendGrid Event Webhook body (already verified) into
 * {@link FeedbackEvent}s. Total for any JSON value: items without an address or with an
 * unknown event name are skipped. Custom args (flattened by SendGrid at the top level of each
 * event) become `tags`, except mailpush's `mailpush_job_id` and `mailpush_message_id`, which
 * give `jobId` and `messageId`.
 *
 * @example
 * ```ts
 * import { parseSendGridEvents } from 'mailpush/feedback';
 *
 * const [event] = parseSendGridEvents([{ event: 'bounce', email: 'ann@example.org', timestamp: 1767225600, type: 'bounce', status: '5.1.1', reason: '550 5.1.1 user unknown' }]);
 * event?.type; // 'bounced'
 * event?.hard; // true
 * event?.timestamp; // 1767225600000 (ms)
 * ```
 */
export function parseSendGridEvents(body: unknown, receivedAt: number = Date.now()): FeedbackEvent[] {
  if (!Array.isArray(body)) return [];
  const out: FeedbackEvent[] = [];
  for (const item of body.slice(0, MAX_EVENTS)) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) continue;
    const e = item as Record<string, unknown>;
    const type = typeof e.event === 'string' ? EVENT_TYPES.get(e.event) : undefined;
    const recipient = normalizeRecipient(e.email);
    if (type === undefined || recipient === undefined) continue;
    const ts = typeof e.timestamp === 'number' ? e.timestamp : typeof e.timestamp === 'string' && /^\d{1,12}$/.test(e.timestamp) ? Number(e.timestamp) : undefined;
    const event: Record<string, unknown> = {
      type,
      recipient,
      provider: 'sendgrid',
      timestamp: ts !== undefined && Number.isFinite(ts) ? ts * 1000 : receivedAt,
      raw: e,
    };
    const set = (k: string, v: unknown): void => {
      if (v !== undefined) event[k] = v;
    };
    set('eventId', cleanText(e.sg_event_id, 200));
    const sgId = cleanText(e.sg_message_id, 300);
    // sg_message_id is `<X-Message-Id>.<filter>...`; the transport reported the X-Message-Id.
    set('providerMessageId', sgId?.split('.')[0] || undefined);
    set('jobId', cleanText(e[SENDGRID_JOB_ID_ARG], 200));
    set('messageId', cleanMessageId(e[SENDGRID_MESSAGE_ID_ARG]) ?? cleanMessageId(e['smtp-id']));
    const status = cleanText(e.status, 32);
    const diagnostic = cleanText(e.reason) ?? cleanText(e.response);
    switch (type) {
      case 'bounced':
        Object.assign(event, bounceVerdict(e, status, diagnostic));
        set('status', status);
        set('diagnostic', diagnostic);
        break;
      case 'deferred': {
        const v = diagnosticVerdict(status, diagnostic);
        event.reason = v.decisive ? v.reason : 'undefined';
        event.hard = false;
        set('status', status);
        set('diagnostic', diagnostic);
        break;
      }
      case 'dropped':
      case 'delivered':
        set('status', status);
        set('diagnostic', diagnostic);
        if (type === 'delivered') event.reason = 'delivered';
        break;
      case 'opened':
        event.machineOpen = e.sg_machine_open === true || e.sg_machine_open === 'true';
        set('userAgent', cleanText(e.useragent, 300));
        set('ip', cleanText(e.ip, 64));
        break;
      case 'clicked':
        set('url', cleanText(e.url, 2048));
        set('userAgent', cleanText(e.useragent, 300));
        set('ip', cleanText(e.ip, 64));
        break;
      case 'complained':
        event.feedbackType = 'abuse';
        break;
      case 'unsubscribed':
      case 'resubscribed': {
        const group = typeof e.asm_group_id === 'number' && Number.isInteger(e.asm_group_id) ? String(e.asm_group_id) : cleanText(e.asm_group_id, 64);
        if (e.event !== 'unsubscribe') set('list', group);
        set('userAgent', cleanText(e.useragent, 300));
        set('ip', cleanText(e.ip, 64));
        break;
      }
      default:
        break;
    }
    const tags = customArgs(e);
    if (tags !== undefined) event.tags = tags;
    out.push(event as unknown as FeedbackEvent);
  }
  return out;
}

function customArgs(e: Record<string, unknown>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  let n = 0;
  for (const k of Object.keys(e)) {
    if (SENDGRID_FIELDS.has(k) || n >= 100) continue;
    const v = e[k];
    if (typeof v !== 'string' || v.length > 10_000) continue;
    out ??= {};
    // defineProperty: a custom arg named `__proto__` stays a plain key.
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    n++;
  }
  return out;
}
