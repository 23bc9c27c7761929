/**
 * SendGrid transport: the v3 `POST /v3/mail/send` API over plain `fetch`.
 *
 * Why `fetch` (undici in Node >= 20) and not `@sendgrid/mail`: no dependency to install or
 * keep in step; every request is abortable through the send's AbortSignal and bounded by our
 * own timeout; and retries stay where they belong, in the mailer (the SDK's client has its
 * own error shapes and would hide the status and rate-limit headers we classify). The API is
 * one JSON request and three headers, so the SDK would add weight without adding safety.
 *
 * SendGrid builds the MIME message itself from structured JSON, so this transport takes the
 * whole message at once (`capabilities.wholeMessage`): one request per message with every
 * pending recipient, not one per recipient domain.
 *
 * @module
 */

import { STATUS_CODES } from 'node:http';
import { detectMimeType, encodeWords, quoteString } from 'nodemailer/lib/mime-funcs';
import { classifiedError, MAX_TEXT_LENGTH, normalizeResponseText } from '../classify/index.js';
import { configError, describeValue, isMailError, MailError, MailErrorCode } from '../errors.js';
import { knownKeys, rejectUnknownKeys } from '../validation/known-keys.js';
import { checkTransportName, namedTransport } from './named.js';
import { bodyLength, bodyStream, slicedBody } from './sliced-body.js';
import type { BodyPart } from './sliced-body.js';
import type { ErrorScope } from '../errors.js';
import type { Address, Attachment, NormalizedMessage, PreparedMessage, SendResult, Transport, TransportCapabilities, TransportSendContext } from '../types.js';

/** Name of this transport, used in errors and events. */
export const TRANSPORT_NAME = 'sendgrid';

// ---------------------------------------------------------------------------------------
// The v3 mail/send request body (the subset this transport writes)
// ---------------------------------------------------------------------------------------

/** An address in a v3 request. */
export interface SendGridEmail {
  /** The address. */
  readonly email: string;
  /** Display name, written into the header as given (quoted by this transport when it needs to be). */
  readonly name?: string;
}

/** One copy of the message: its recipients (SendGrid writes To and Cc from them). */
export interface SendGridPersonalization {
  /** Primary recipients; SendGrid requires at least one. */
  readonly to: readonly SendGridEmail[];
  /** Carbon copies. */
  readonly cc?: readonly SendGridEmail[];
  /** Blind copies. */
  readonly bcc?: readonly SendGridEmail[];
  /** Subject of this copy, overriding the message's. */
  readonly subject?: string;
  /** Headers of this copy. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Custom arguments of this copy, echoed in event webhooks. */
  readonly custom_args?: Readonly<Record<string, string>>;
  /** Scheduled send time, unix seconds. */
  readonly send_at?: number;
}

/** A body part. */
export interface SendGridContent {
  /** MIME type: `text/plain` first, then `text/html`. */
  readonly type: string;
  /** The part's text; SendGrid requires at least one character. */
  readonly value: string;
}

/** An attachment, its bytes in base64. */
export interface SendGridAttachment {
  /** The bytes, base64-encoded. */
  readonly content: string;
  /** File name; SendGrid requires one. */
  readonly filename: string;
  /** MIME type. */
  readonly type?: string;
  /** `inline` parts need a `content_id`. */
  readonly disposition?: 'attachment' | 'inline';
  /** Content-ID referenced as `cid:` from the HTML. */
  readonly content_id?: string;
}

/**
 * Mail settings passed through as given (see SendGrid's API reference). Known keys are
 * typed; others are sent unchanged.
 */
export interface SendGridMailSettings {
  /** Validate the request without sending anything (SendGrid answers 200). */
  readonly sandbox_mode?: { readonly enable: boolean };
  /** Send even to addresses on unsubscribe, bounce and spam-report lists. */
  readonly bypass_list_management?: { readonly enable: boolean };
  readonly [setting: string]: unknown;
}

/** Tracking settings passed through as given (see SendGrid's API reference). */
export interface SendGridTrackingSettings {
  readonly click_tracking?: { readonly enable: boolean; readonly enable_text?: boolean };
  readonly open_tracking?: { readonly enable: boolean; readonly substitution_tag?: string };
  readonly subscription_tracking?: { readonly enable: boolean; readonly [key: string]: unknown };
  readonly [setting: string]: unknown;
}

/** The JSON body of `POST /v3/mail/send`, as far as this transport and the local fake use it. */
export interface SendGridMailBody {
  readonly personalizations: readonly SendGridPersonalization[];
  readonly from: SendGridEmail;
  readonly reply_to?: SendGridEmail;
  readonly reply_to_list?: readonly SendGridEmail[];
  readonly subject?: string;
  readonly content?: readonly SendGridContent[];
  readonly attachments?: readonly SendGridAttachment[];
  readonly headers?: Readonly<Record<string, string>>;
  readonly categories?: readonly string[];
  readonly custom_args?: Readonly<Record<string, string>>;
  readonly send_at?: number;
  readonly template_id?: string;
  readonly mail_settings?: SendGridMailSettings;
  readonly tracking_settings?: SendGridTrackingSettings;
}

// ---------------------------------------------------------------------------------------
// Limits and tables
// ---------------------------------------------------------------------------------------

/** SendGrid's request limits that this transport enforces or works within. */
export const SENDGRID_LIMITS = Object.freeze({
  /** Recipients (to + cc + bcc over all personalizations) per request. */
  maxRecipients: 1000,
  /** Categories per request. */
  maxCategories: 10,
  /** Characters per category. */
  maxCategoryLength: 255,
  /** Bytes of `custom_args`, measured as its JSON. */
  maxCustomArgsBytes: 10_000,
});

/** Custom argument carrying the job id, so event webhooks correlate with mailer events. */
export const JOB_ID_ARG = 'mailpush_job_id';
/** Custom argument carrying the RFC 5322 Message-ID (with angle brackets). */
export const MESSAGE_ID_ARG = 'mailpush_message_id';

/**
 * Headers SendGrid refuses in `headers` (its documented reserved list). The message model
 * already refuses To, From, Subject and the MIME headers; the rest are checked here so the
 * message fails before a request is made, with a message that says why.
 */
export const SENDGRID_RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'x-sg-id',
  'x-sg-eid',
  'received',
  'dkim-signature',
  'content-type',
  'content-transfer-encoding',
  'to',
  'from',
  'subject',
  'reply-to',
  'cc',
  'bcc',
]);

/** How an HTTP status of SendGrid maps to a {@link MailError}. */
export interface SendGridStatusRule {
  /** One status, or an inclusive range. */
  readonly status: number | readonly [from: number, to: number];
  readonly code: MailErrorCode;
  /** Classification category copied to the error. */
  readonly category: string;
  /** Set on THROTTLED errors: a 429 is about the account, not a recipient domain. */
  readonly scope?: ErrorScope;
}

/**
 * The status table, checked in order. 401/403 are refused credentials or a sender identity
 * the key may not use (AUTH, not retryable); 413 and other 4xx are refusals of the request
 * (PERMANENT); 429 throttles the whole transport; 408 and 5xx are worth retrying.
 */
export const SENDGRID_STATUS_RULES: readonly SendGridStatusRule[] = Object.freeze<SendGridStatusRule[]>([
  { status: 401, code: MailErrorCode.AUTH, category: 'authfailure' },
  { status: 403, code: MailErrorCode.AUTH, category: 'authfailure' },
  { status: 408, code: MailErrorCode.TIMEOUT, category: 'networkerror' },
  { status: 413, code: MailErrorCode.PERMANENT, category: 'mesgtoobig' },
  { status: 429, code: MailErrorCode.THROTTLED, category: 'ratelimited', scope: 'transport' },
  { status: [400, 499], code: MailErrorCode.PERMANENT, category: 'rejected' },
  { status: [500, 599], code: MailErrorCode.TRANSIENT, category: 'systemerror' },
  // Redirects are not followed (they could carry the key elsewhere): a wrong baseUrl.
  { status: [300, 399], code: MailErrorCode.PERMANENT, category: 'undefined' },
]);

/** Longest wait a rate-limit header can impose, in milliseconds (1 hour); SendGrid's windows are far shorter. */
export const MAX_RATE_LIMIT_WAIT_MS = 60 * 60 * 1000;

// Most bytes of a response body read; SendGrid's error bodies are a few hundred bytes.
const MAX_BODY_BYTES = 64 * 1024;
// Errors of the list shown in the MailError message, and characters per error.
const MAX_SHOWN_ERRORS = 10;
const MAX_ERROR_TEXT = 300;
// printable ASCII without space: what an Authorization header can carry unchanged.
const API_KEY_SHAPE = /^[\x21-\x7e]+$/;
const NON_ASCII = /[^\x00-\x7f]/;
const NAME_SPECIALS = /[,;"]/;

// ---------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------

/**
 * A `fetch` implementation: the global one, undici's, or a wrapper (proxy agents, logging).
 * `init.body` is the JSON as a string, or, for a message with more than 256 KiB of
 * attachments, the same JSON as UTF-8 bytes (a `Buffer`, built without holding the event loop).
 */
export type SendGridFetch = (url: string, init: RequestInit) => Promise<Response>;

/**
 * Options of {@link sendgridTransport}.
 *
 * There is no `send_at` option. The mailer holds scheduled messages itself (`sendAt`) and
 * hands a job to the transport only when it is due, so a `send_at` would always be "now";
 * handing scheduling to SendGrid would also take the message out of the mailer's reach
 * (cancelling, rate limits, suppression checks at send time) and SendGrid only accepts it up
 * to 72 hours ahead.
 */
export interface SendGridTransportOptions {
  /** Transport name in events and errors; give two SendGrid transports (two accounts or subusers) their own names to combine them in `failover`. @default 'sendgrid' */
  readonly name?: string;
  /** The API key (needs the `mail.send` scope). Never logged or copied into errors. */
  readonly apiKey: string;
  /** API base URL; `https://api.eu.sendgrid.com` for EU data residency, or a local fake in tests. @default 'https://api.sendgrid.com' */
  readonly baseUrl?: string;
  /** Longest time for one request, response body included, in milliseconds; then the send fails with TIMEOUT (retryable). @default 30000 */
  readonly timeoutMs?: number;
  /** Most requests in flight at once; the transport's `maxConcurrency`. @default 20 */
  readonly maxConcurrency?: number;
  /** Send the message's tag values as SendGrid categories (at most 10, each at most 255 characters, duplicates and longer values left out). @default true */
  readonly categoriesFromTags?: boolean;
  /**
   * Also send our Message-ID as a `Message-ID` header. SendGrid does not list it as reserved
   * but does not promise to keep it either; it is always in `custom_args` as
   * `mailpush_message_id` for event correlation. @default false
   */
  readonly messageIdHeader?: boolean;
  /**
   * `mail_settings` sent with every message (list management bypass, footer, ...). With
   * `sandbox_mode` SendGrid answers 200 and delivers nothing, yet every send is reported
   * accepted. @default none
   */
  readonly mailSettings?: SendGridMailSettings;
  /** `tracking_settings` sent with every message (click, open, subscription tracking, ...). @default none */
  readonly trackingSettings?: SendGridTrackingSettings;
  /** The fetch implementation. @default globalThis.fetch (undici) */
  readonly fetch?: SendGridFetch;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// Typed as a record of every option so that adding one to SendGridTransportOptions without listing it here fails to compile.
// mailSettings and trackingSettings are SendGrid's own objects, passed through as given: not checked.
const OPTION_KEYS = knownKeys(
  Object.keys({
    name: true,
    apiKey: true,
    baseUrl: true,
    timeoutMs: true,
    maxConcurrency: true,
    categoriesFromTags: true,
    messageIdHeader: true,
    mailSettings: true,
    trackingSettings: true,
    fetch: true,
  } satisfies Record<keyof SendGridTransportOptions, true>),
);

function checkOptions(options: unknown): SendGridTransportOptions & { readonly baseUrl: string } {
  if (!isPlainObject(options)) throw configError('options', 'an object', options);
  rejectUnknownKeys(options, OPTION_KEYS, 'SendGrid transport option', MailErrorCode.CONFIG);
  const o = options as unknown as SendGridTransportOptions;
  const key: unknown = o.apiKey;
  // The key itself never goes into the message: only its type and length.
  if (typeof key !== 'string' || key === '' || key.length > 1024 || !API_KEY_SHAPE.test(key)) {
    const got = typeof key === 'string' ? `a string of ${key.length} characters${key === '' ? '' : ' with spaces or other characters a header cannot carry'}` : describeValue(key);
    throw new MailError(`Expected \`apiKey\` to be a non-empty string of printable ASCII without spaces, got ${got}`, {
      code: MailErrorCode.CONFIG,
      option: 'apiKey',
    });
  }
  let baseUrl = 'https://api.sendgrid.com';
  if (o.baseUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = typeof o.baseUrl === 'string' ? new URL(o.baseUrl) : undefined;
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
      throw configError('baseUrl', 'an http(s) URL without credentials, query or fragment', o.baseUrl);
    }
    baseUrl = url.href.replace(/\/+$/, '');
  }
  if (o.timeoutMs !== undefined && !(typeof o.timeoutMs === 'number' && Number.isFinite(o.timeoutMs) && o.timeoutMs > 0 && o.timeoutMs <= 2_147_483_647)) {
    throw configError('timeoutMs', 'a number of milliseconds from 1 to 2147483647', o.timeoutMs);
  }
  if (o.maxConcurrency !== undefined && !(Number.isInteger(o.maxConcurrency) && o.maxConcurrency >= 1 && o.maxConcurrency <= 10_000)) {
    throw configError('maxConcurrency', 'an integer from 1 to 10000', o.maxConcurrency);
  }
  for (const k of ['categoriesFromTags', 'messageIdHeader'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw configError(k, 'a boolean', o[k]);
  }
  const settings: { mailSettings?: SendGridMailSettings; trackingSettings?: SendGridTrackingSettings } = {};
  for (const k of ['mailSettings', 'trackingSettings'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (!isPlainObject(v)) throw configError(k, 'a plain object', v);
    try {
      // A JSON copy: later changes by the caller do not leak into requests.
      settings[k] = JSON.parse(JSON.stringify(v)) as SendGridMailSettings;
    } catch (err) {
      throw new MailError(`Expected \`${k}\` to be JSON-serializable: ${err instanceof Error ? err.message : String(err)}`, { code: MailErrorCode.CONFIG, option: k, cause: err });
    }
  }
  if (o.fetch !== undefined && typeof o.fetch !== 'function') throw configError('fetch', 'a fetch function', o.fetch);
  if (o.fetch === undefined && typeof globalThis.fetch !== 'function') throw configError('fetch', 'a fetch function (this runtime has no global fetch)', undefined);
  return { ...o, ...settings, baseUrl };
}

// ---------------------------------------------------------------------------------------
// Message -> v3 JSON
// ---------------------------------------------------------------------------------------

interface BodyOptions {
  readonly categoriesFromTags: boolean;
  readonly messageIdHeader: boolean;
  readonly mailSettings: SendGridMailSettings | undefined;
  readonly trackingSettings: SendGridTrackingSettings | undefined;
}

function validationError(message: string): MailError {
  return new MailError(message, { code: MailErrorCode.VALIDATION, transport: TRANSPORT_NAME });
}

function toEmail(a: Address): SendGridEmail {
  if (a.name === undefined || a.name === '') return { email: a.address };
  // SendGrid writes the name into the header as given; a comma or semicolon would split
  // the address list there, so such names go out as an RFC 5322 quoted-string.
  return { email: a.address, name: NAME_SPECIALS.test(a.name) ? quoteString(a.name) : a.name };
}

/**
 * Builds the personalizations: the message's to/cc/bcc restricted to the job's pending
 * recipients (`envelope.to`), deduplicated case-insensitively across the three lists
 * (SendGrid refuses duplicates), envelope recipients missing from the headers as bcc.
 */
function personalizations(message: NormalizedMessage, pending: readonly string[]): { list: SendGridPersonalization[]; count: number } {
  const wanted = new Map<string, string>();
  for (const address of pending) {
    const key = address.toLowerCase();
    if (!wanted.has(key)) wanted.set(key, address);
  }
  const used = new Set<string>();
  const pick = (list: readonly Address[]): SendGridEmail[] => {
    const out: SendGridEmail[] = [];
    for (const a of list) {
      const key = a.address.toLowerCase();
      if (!wanted.has(key) || used.has(key)) continue;
      used.add(key);
      out.push(toEmail(a));
    }
    return out;
  };
  let to = pick(message.to);
  let cc = pick(message.cc);
  const bcc = pick(message.bcc);
  for (const [key, address] of wanted) {
    if (!used.has(key)) {
      used.add(key);
      bcc.push({ email: address });
    }
  }
  const count = used.size;
  if (to.length === 0 && cc.length > 0) {
    // SendGrid requires a `to` in every personalization. The Cc recipients saw each other's
    // addresses anyway; they now appear in To instead of Cc.
    to = cc;
    cc = [];
  }
  if (to.length === 0) {
    // Only blind copies left: one personalization (one copy) each, so that no recipient
    // sees another's address.
    return { list: bcc.map((b) => ({ to: [b] })), count };
  }
  const p: { to: SendGridEmail[]; cc?: SendGridEmail[]; bcc?: SendGridEmail[] } = { to };
  if (cc.length > 0) p.cc = cc;
  if (bcc.length > 0) p.bcc = bcc;
  return { list: [p], count };
}

function attachmentBase64(a: Attachment): string {
  if (typeof a.content !== 'string') return Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength).toString('base64');
  // Decoding and encoding again turns base64url, line breaks and missing padding into the
  // plain base64 SendGrid accepts.
  return Buffer.from(a.content, a.encoding ?? 'utf8').toString('base64');
}

function toAttachments(list: readonly Attachment[]): SendGridAttachment[] {
  return list.map((a, i) => attachmentEntry(a, i, attachmentBase64(a)));
}

/** The JSON entry of an attachment, with `content` first (the order of the request body). */
function attachmentEntry(a: Attachment, i: number, content: string): SendGridAttachment {
  // SendGrid requires a file name.
  const filename = a.filename ?? `attachment-${i + 1}`;
  const disposition = a.disposition ?? (a.cid !== undefined ? 'inline' : 'attachment');
  const type = a.contentType ?? (a.filename !== undefined ? detectMimeType(a.filename) : 'application/octet-stream');
  return {
    content,
    filename,
    type,
    disposition,
    ...(a.cid !== undefined ? { content_id: a.cid } : {}),
  };
}

/**
 * Attachment bytes above which the request body is built in slices ({@link sendBody}): the
 * base64 in chunks and the JSON from pieces, yielding the event loop between them.
 */
const SLICED_BODY_BYTES = 256 * 1024;

function attachmentBytes(a: Attachment): Buffer {
  return typeof a.content !== 'string' ? Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength) : Buffer.from(a.content, a.encoding ?? 'utf8');
}

/**
 * The JSON request body: `JSON.stringify(toBody(...))` for a small message. With large
 * attachments, the pieces of the same JSON: text from JSON.stringify of small parts, and each
 * attachment's bytes, whose base64 goes between two of them (it needs no JSON escaping), for
 * `slicedBody` or `bodyStream` to write in chunks with turns of the event loop between them.
 * Built at once, a 10 MB attachment held the loop ~45 ms (CPU) in one turn: its base64, the
 * JSON.stringify of a 13 MB string, and the UTF-8 encoding of the body in fetch.
 */
function sendBody(prepared: PreparedMessage, o: BodyOptions): string | BodyPart[] {
  const attachments = prepared.message.attachments;
  let size = 0;
  for (const a of attachments) size += typeof a.content === 'string' ? a.content.length : a.content.byteLength;
  if (size <= SLICED_BODY_BYTES) return JSON.stringify(toBody(prepared, o));
  // Validates and maps everything but the attachment contents (empty strings stand in).
  const body = toBody(prepared, o, true) as unknown as Record<string, unknown>;
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  let seen = false;
  for (const k of Object.keys(body)) {
    if (k === 'attachments') seen = true;
    else (seen ? after : before)[k] = body[k];
  }
  // JSON text, and the bytes whose base64 goes between two of them.
  const segments: BodyPart[] = [`${JSON.stringify(before).slice(0, -1)},"attachments":[`];
  for (let i = 0; i < attachments.length; i++) {
    const a = attachments[i]!;
    // The entry is `{"content":"",...}`: the base64 goes between its quotes.
    const entry = JSON.stringify(attachmentEntry(a, i, ''));
    segments.push(i === 0 ? CONTENT_OPEN : `,${CONTENT_OPEN}`, { base64: attachmentBytes(a) }, entry.slice(CONTENT_OPEN.length));
  }
  const rest = JSON.stringify(after);
  segments.push(rest === '{}' ? ']}' : `],${rest.slice(1)}`);
  return segments;
}

const CONTENT_OPEN = '{"content":"';

function headerValue(value: string): string {
  // SendGrid sends header values as given and asks for encoded unicode.
  return NON_ASCII.test(value) ? encodeWords(value, 'Q', 52) : value;
}

function toHeaders(message: NormalizedMessage, messageIdHeader: boolean): Record<string, string> | undefined {
  if (message.headers.length === 0 && !messageIdHeader) return undefined;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const seen = new Set<string>();
  for (const [name, value] of message.headers) {
    const lower = name.toLowerCase();
    if (SENDGRID_RESERVED_HEADERS.has(lower)) throw validationError(`SendGrid does not allow the header ${JSON.stringify(name)}`);
    // The API takes an object: one value per name.
    if (seen.has(lower)) throw validationError(`SendGrid takes one value per header; ${JSON.stringify(name)} is given more than once`);
    seen.add(lower);
    out[name] = headerValue(value);
  }
  if (messageIdHeader && !seen.has('message-id')) out['Message-ID'] = message.messageId;
  return out;
}

function toCategories(tags: Readonly<Record<string, string>>): string[] | undefined {
  const out: string[] = [];
  for (const value of Object.values(tags)) {
    if (out.length === SENDGRID_LIMITS.maxCategories) break;
    if (value === '' || value.length > SENDGRID_LIMITS.maxCategoryLength || out.includes(value)) continue;
    out.push(value);
  }
  return out.length === 0 ? undefined : out;
}

/** Our ids first, then the tags in order while they fit in SendGrid's 10,000 bytes. */
function toCustomArgs(prepared: PreparedMessage): Record<string, string> {
  const ids = { [JOB_ID_ARG]: prepared.jobId, [MESSAGE_ID_ARG]: prepared.message.messageId };
  const tags = Object.entries(prepared.message.tags);
  if (tags.length === 0) return ids;
  const entries: [string, string][] = Object.entries(ids);
  // `{"k":"v"}` plus a comma per entry, with JSON escaping counted through JSON.stringify.
  let bytes = 1;
  const cost = (k: string, v: string): number => Buffer.byteLength(JSON.stringify(k)) + Buffer.byteLength(JSON.stringify(v)) + 2;
  for (const [k, v] of entries) bytes += cost(k, v);
  for (const [k, v] of tags) {
    if (k === JOB_ID_ARG || k === MESSAGE_ID_ARG) continue;
    const c = cost(k, v);
    if (bytes + c > SENDGRID_LIMITS.maxCustomArgsBytes) continue;
    bytes += c;
    entries.push([k, v]);
  }
  // fromEntries defines own properties, so a tag named `__proto__` stays a plain key.
  return Object.fromEntries(entries);
}

/** Maps a prepared message to the v3 JSON body. Throws a VALIDATION MailError for what SendGrid cannot take. */
function toBody(prepared: PreparedMessage, o: BodyOptions, noContent = false): SendGridMailBody {
  const m = prepared.message;
  const { list, count } = personalizations(m, prepared.envelope.to);
  if (count === 0) throw validationError('SendGrid send has no recipients');
  if (count > SENDGRID_LIMITS.maxRecipients) {
    throw validationError(`SendGrid takes at most ${SENDGRID_LIMITS.maxRecipients} recipients per message, got ${count}`);
  }
  const content: SendGridContent[] = [];
  if (m.text !== undefined && m.text !== '') content.push({ type: 'text/plain', value: m.text });
  if (m.html !== undefined && m.html !== '') content.push({ type: 'text/html', value: m.html });
  // SendGrid requires a non-empty body part; an attachments-only message gets a blank text.
  if (content.length === 0) content.push({ type: 'text/plain', value: ' ' });
  const body: Record<string, unknown> = {
    personalizations: list,
    from: toEmail(m.from),
    // SendGrid requires a non-empty subject; a single space reads as no subject.
    subject: m.subject === '' ? ' ' : m.subject,
    content,
  };
  if (m.replyTo.length === 1) body['reply_to'] = toEmail(m.replyTo[0]!);
  else if (m.replyTo.length > 1) body['reply_to_list'] = m.replyTo.map(toEmail);
  if (m.attachments.length > 0) body['attachments'] = noContent ? m.attachments.map((a, i) => attachmentEntry(a, i, '')) : toAttachments(m.attachments);
  const headers = toHeaders(m, o.messageIdHeader);
  if (headers !== undefined) body['headers'] = headers;
  if (o.categoriesFromTags) {
    const categories = toCategories(m.tags);
    if (categories !== undefined) body['categories'] = categories;
  }
  body['custom_args'] = toCustomArgs(prepared);
  if (o.mailSettings !== undefined) body['mail_settings'] = o.mailSettings;
  if (o.trackingSettings !== undefined) body['tracking_settings'] = o.trackingSettings;
  return body as unknown as SendGridMailBody;
}

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

async function readBody(res: Response): Promise<string> {
  // A declared length within the cap (the empty 202 above all) is read in one go: fetch
  // refuses a body longer than its Content-Length, so the cap still holds.
  const length = res.headers.get('content-length');
  if (length === '0') return '';
  const stream = res.body;
  if ((length !== null && /^\d{1,9}$/.test(length) && Number(length) <= MAX_BODY_BYTES) || stream === null || stream === undefined || typeof stream.getReader !== 'function') {
    const text = await res.text();
    return text.length > MAX_BODY_BYTES ? text.slice(0, MAX_BODY_BYTES) : text;
  }
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > MAX_BODY_BYTES) {
      chunks.push(value.subarray(0, MAX_BODY_BYTES - size));
      size = MAX_BODY_BYTES;
      // The rest is not worth reading; cancelling drops the connection.
      await reader.cancel().catch(() => {});
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function clampWait(ms: number): number {
  return Math.min(Math.max(0, Math.round(ms)), MAX_RATE_LIMIT_WAIT_MS);
}

/**
 * The wait a 429 or 5xx asks for: `X-RateLimit-Reset` (unix seconds; a value below 10^9
 * is read as seconds from now), else `Retry-After` (seconds or an HTTP date).
 */
function waitFromHeaders(headers: Headers, now: number): number | undefined {
  const reset = headers.get('x-ratelimit-reset')?.trim();
  if (reset !== undefined && /^\d{1,13}(?:\.\d{1,6})?$/.test(reset)) {
    const n = Number(reset);
    return clampWait(n >= 1e9 ? n * 1000 - now : n * 1000);
  }
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter !== undefined && retryAfter !== '') {
    if (/^\d{1,13}$/.test(retryAfter)) return clampWait(Number(retryAfter) * 1000);
    const at = Date.parse(retryAfter);
    if (Number.isFinite(at)) return clampWait(at - now);
  }
  return undefined;
}

function oneLine(text: string, max: number): string {
  const line = normalizeResponseText(text);
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

/** SendGrid's `errors[]` as `message (field x)` items; undefined when the body is not that shape. */
function describeErrors(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const errors = isPlainObject(parsed) ? parsed['errors'] : undefined;
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  const items: string[] = [];
  for (const e of errors.slice(0, MAX_SHOWN_ERRORS)) {
    if (!isPlainObject(e)) continue;
    const message = typeof e['message'] === 'string' ? oneLine(e['message'], MAX_ERROR_TEXT) : '';
    const field = typeof e['field'] === 'string' && e['field'] !== '' ? oneLine(e['field'], 100) : undefined;
    if (message === '' && field === undefined) continue;
    items.push(field === undefined ? message : `${message || 'invalid'} (field ${field})`);
  }
  if (items.length === 0) return undefined;
  const more = errors.length > MAX_SHOWN_ERRORS ? `; and ${errors.length - MAX_SHOWN_ERRORS} more` : '';
  return items.join('; ') + more;
}

function ruleFor(status: number): SendGridStatusRule | undefined {
  return SENDGRID_STATUS_RULES.find((r) => (typeof r.status === 'number' ? r.status === status : status >= r.status[0] && status <= r.status[1]));
}

// ---------------------------------------------------------------------------------------
// The transport
// ---------------------------------------------------------------------------------------

/**
 * Creates a SendGrid transport.
 *
 * Each send is one `POST /v3/mail/send` with the job's pending recipients. Outcomes:
 * 2xx resolves with every recipient accepted and `X-Message-Id` as `providerMessageId`;
 * 429 rejects with THROTTLED (`scope: 'transport'`, `retryAfterMs` from `X-RateLimit-Reset`
 * or `Retry-After`); 401/403 with AUTH; 413 and other 4xx with PERMANENT, SendGrid's
 * `errors[]` in the message; 408, 5xx and network failures with TRANSIENT / CONNECTION
 * (retryable); the timeout with TIMEOUT; an aborted signal with ABORTED.
 *
 * A request that fails after SendGrid received it (a lost response) is retried by the mailer
 * like any transient failure, so a message can then go out twice: delivery is at least once.
 *
 * Not mapped: the envelope sender (SendGrid uses its own bounce address) and the Date header
 * (SendGrid writes it). Our Message-ID travels in `custom_args` (see `messageIdHeader`).
 *
 * @example
 * ```ts
 * import sendgridTransport from 'mailpush/transports/sendgrid';
 * const mailer = createMailer({ transport: sendgridTransport({ apiKey: process.env.SENDGRID_API_KEY! }) });
 * ```
 */
export default function sendgridTransport(options: SendGridTransportOptions): Transport {
  if (typeof options === 'object' && options !== null && options.name !== undefined) {
    const { name, ...rest } = options;
    return namedTransport(sendgridTransport(rest), checkTransportName('name', name));
  }
  const o = checkOptions(options);
  const apiKey = o.apiKey;
  const fetchImpl: SendGridFetch = o.fetch ?? ((url, init) => globalThis.fetch(url, init));
  const sendUrl = `${o.baseUrl}/v3/mail/send`;
  const scopesUrl = `${o.baseUrl}/v3/scopes`;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const bodyOptions: BodyOptions = {
    categoriesFromTags: o.categoriesFromTags ?? true,
    messageIdHeader: o.messageIdHeader ?? false,
    mailSettings: o.mailSettings,
    trackingSettings: o.trackingSettings,
  };
  const capabilities: TransportCapabilities = Object.freeze({ rawMime: false, wholeMessage: true, maxConcurrency: o.maxConcurrency ?? 20 });
  const requestHeaders = Object.freeze({
    authorization: `Bearer ${apiKey}`,
    'content-type': 'application/json',
    accept: 'application/json',
  });
  let closed = false;

  /** Removes the key from any text that leaves this closure (server echoes, library errors). */
  const redact = (text: string): string => (text.includes(apiKey) ? text.split(apiKey).join('[redacted]') : text);

  const closedError = (): MailError => new MailError('SendGrid transport is closed', { code: MailErrorCode.CLOSED, transport: TRANSPORT_NAME });
  const abortedError = (signal: AbortSignal): MailError =>
    new MailError('SendGrid send was aborted', { code: MailErrorCode.ABORTED, transport: TRANSPORT_NAME, cause: signal.reason });

  function httpError(status: number, body: string, headers: Headers): MailError {
    const rule: SendGridStatusRule = ruleFor(status) ?? { status, code: MailErrorCode.TRANSIENT, category: 'undefined' };
    const reason = STATUS_CODES[status] ?? 'Unknown Status';
    const cleanBody = redact(body);
    let detail = describeErrors(cleanBody) ?? (cleanBody.trim() === '' ? undefined : oneLine(cleanBody, MAX_ERROR_TEXT));
    if (status >= 300 && status < 400) {
      const location = headers.get('location');
      detail = `unexpected redirect${location === null ? '' : ` to ${oneLine(redact(location), 200)}`}; check \`baseUrl\``;
    }
    const retryable = rule.code === MailErrorCode.THROTTLED || rule.code === MailErrorCode.TRANSIENT || rule.code === MailErrorCode.TIMEOUT;
    const retryAfterMs = retryable ? waitFromHeaders(headers, Date.now()) : undefined;
    const message = oneLine(`SendGrid ${status} ${reason}${detail === undefined ? '' : `: ${detail}`}`, 1000);
    return new MailError(message, {
      code: rule.code,
      retryable,
      transport: TRANSPORT_NAME,
      responseCode: status,
      response: cleanBody.length > MAX_TEXT_LENGTH ? cleanBody.slice(0, MAX_TEXT_LENGTH) : cleanBody,
      category: rule.category,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(rule.scope !== undefined ? { scope: rule.scope } : {}),
    });
  }

  function networkError(err: unknown): MailError {
    if (isMailError(err)) return err;
    // undici: TypeError('fetch failed') with the socket error (ECONNREFUSED, ...) as cause.
    const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
    const rawCode = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
    const errorCode = typeof rawCode === 'string' && rawCode !== '' ? rawCode : 'ECONNECTION';
    const text = redact(cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err));
    return classifiedError({ errorCode }, { transport: TRANSPORT_NAME, cause: err, message: `SendGrid request failed: ${text}` });
  }

  /** One request with the timeout and the caller's signal. Resolves with status, body and headers. */
  async function request(url: string, init: RequestInit, signal: AbortSignal | undefined): Promise<{ status: number; body: string; headers: Headers }> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('timeout'));
    }, timeoutMs);
    timer.unref();
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await fetchImpl(url, { ...init, signal: controller.signal, redirect: 'manual' });
      const body = await readBody(res);
      return { status: res.status, body, headers: res.headers };
    } catch (err) {
      if (signal?.aborted === true) throw abortedError(signal);
      if (timedOut) {
        throw new MailError(`SendGrid request timed out after ${timeoutMs} ms`, { code: MailErrorCode.TIMEOUT, transport: TRANSPORT_NAME, category: 'networkerror', cause: err });
      }
      throw networkError(err);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async function send(prepared: PreparedMessage, context: TransportSendContext): Promise<SendResult> {
    const { signal } = context;
    if (closed) throw closedError();
    if (signal.aborted) throw abortedError(signal);
    let init: RequestInit & { duplex?: 'half' };
    try {
      const json = sendBody(prepared, bodyOptions);
      if (typeof json === 'string') init = { method: 'POST', headers: requestHeaders, body: json };
      // With the built-in fetch, a large body is made while it is sent (a Buffer would be copied whole in one turn).
      else if (o.fetch === undefined) init = { method: 'POST', headers: { ...requestHeaders, 'content-length': String(bodyLength(json)) }, body: bodyStream(json), duplex: 'half' };
      else init = { method: 'POST', headers: requestHeaders, body: (await slicedBody(json)).body };
    } catch (err) {
      if (isMailError(err)) throw err;
      throw new MailError(`Could not build the SendGrid request: ${err instanceof Error ? err.message : String(err)}`, { code: MailErrorCode.VALIDATION, transport: TRANSPORT_NAME, cause: err });
    }
    // Building a large body yields the event loop: the send may have been cancelled meanwhile.
    if (closed) throw closedError();
    if (signal.aborted) throw abortedError(signal);
    const res = await request(sendUrl, init, signal);
    if (res.status >= 200 && res.status < 300) {
      const id = res.headers.get('x-message-id');
      const response = `SendGrid ${res.status} ${STATUS_CODES[res.status] ?? ''}`.trimEnd();
      const accepted = prepared.envelope.to;
      return id === null || id === '' ? { response, accepted, rejected: [] } : { providerMessageId: id, response, accepted, rejected: [] };
    }
    throw httpError(res.status, res.body, res.headers);
  }

  return {
    name: TRANSPORT_NAME,
    capabilities,
    send(prepared, context) {
      // Only MailErrors leave: anything unexpected becomes INTERNAL with the key removed.
      return send(prepared, context).catch((err: unknown) => {
        if (isMailError(err)) throw err;
        throw new MailError(redact(`SendGrid send failed: ${err instanceof Error ? err.message : String(err)}`), { code: MailErrorCode.INTERNAL, transport: TRANSPORT_NAME, cause: err });
      });
    },
    /** Checks the key with `GET /v3/scopes` and that it holds the `mail.send` scope. */
    async verify() {
      if (closed) throw closedError();
      const res = await request(scopesUrl, { method: 'GET', headers: { authorization: requestHeaders.authorization, accept: 'application/json' } }, undefined);
      if (res.status < 200 || res.status >= 300) throw httpError(res.status, res.body, res.headers);
      let scopes: unknown;
      try {
        scopes = (JSON.parse(res.body) as { scopes?: unknown }).scopes;
      } catch {
        return;
      }
      if (Array.isArray(scopes) && !scopes.includes('mail.send')) {
        throw new MailError('The SendGrid API key lacks the mail.send scope', { code: MailErrorCode.AUTH, retryable: false, transport: TRANSPORT_NAME, category: 'authfailure' });
      }
    },
    close() {
      // Requests in flight finish (a sent request cannot be recalled); new sends get CLOSED.
      closed = true;
      return Promise.resolve();
    },
  };
}
