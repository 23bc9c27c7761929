/**
 * Amazon SNS message verification and Amazon SES notification parsing.
 *
 * Verification follows AWS's rules: the signing certificate is fetched only from
 * `https://sns.<region>.amazonaws.com[.cn]/SimpleNotificationService-<id>.pem` (https, the
 * exact host pattern, no user info, port, query or fragment; look-alike hosts and S3-hosted
 * certificates are refused), cached, checked to be valid at the message's `Timestamp`, and the
 * signature (SignatureVersion 1 = SHA1withRSA, 2 = SHA256withRSA) is checked over the canonical
 * string. TLS to the pinned host is what authenticates the certificate, as in AWS's own SDKs.
 *
 * @module
 */

import { X509Certificate, createVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { MailError, MailErrorCode, configError, describeValue } from '../errors.js';
import { BoundedMap } from '../queue/bounded-map.js';
import { cleanMessageId, cleanText, diagnosticVerdict, normalizeRecipient, parseTime } from './event.js';
import type { FeedbackEvent, FeedbackEventType } from './event.js';
import type { BounceCategory } from '../types.js';

// ---------------------------------------------------------------------------------------
// Fetching
// ---------------------------------------------------------------------------------------

/** Options passed to a {@link SnsFetcher}. */
export interface SnsFetchOptions {
  /** Aborted when the timeout elapses. */
  readonly signal: AbortSignal;
  /** Most bytes of response body to read; larger bodies must be refused. */
  readonly maxBytes: number;
}

/**
 * Performs an https GET and resolves with the response body as text for a 2xx answer;
 * rejects for anything else. Used for signing certificates and subscription confirmations.
 * Inject one in tests (no network) or to go through a proxy.
 */
export type SnsFetcher = (url: string, options: SnsFetchOptions) => Promise<string>;

/** Most bytes read from a certificate or confirmation response. */
export const SNS_MAX_FETCH_BYTES = 64 * 1024;

/** The default {@link SnsFetcher}: global `fetch`, no redirects, a size cap. */
export const defaultSnsFetcher: SnsFetcher = async (url, { signal, maxBytes }) => {
  const fail = (message: string, cause?: unknown): MailError => new MailError(message, { code: MailErrorCode.CONNECTION, ...(cause !== undefined ? { cause } : {}) });
  let response: Response;
  try {
    response = await fetch(url, { method: 'GET', redirect: 'error', signal });
  } catch (err) {
    throw fail(`GET ${url} failed: ${(err as Error)?.message ?? String(err)}`, err);
  }
  if (response.status < 200 || response.status > 299) {
    await response.body?.cancel().catch(() => undefined);
    throw fail(`GET ${url} answered HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw fail(`GET ${url}: body of ${declared} bytes is over ${maxBytes}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body !== null) {
    const reader = response.body.getReader();
    for (;;) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (err) {
        throw fail(`GET ${url}: reading the body failed: ${(err as Error)?.message ?? String(err)}`, err);
      }
      const { done, value } = next;
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw fail(`GET ${url}: body over ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  }
  return Buffer.concat(chunks).toString('utf8');
};

// ---------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------

/** Host of every SNS endpoint: `sns.<region>.amazonaws.com`, `.com.cn` in China. */
const SNS_HOST = /^sns\.[a-z]{2}(?:-[a-z]+){1,3}-\d{1,2}\.amazonaws\.com(?:\.cn)?$/;
const CERT_PATH = /^\/SimpleNotificationService-[A-Za-z0-9_-]{1,128}\.pem$/;

function parseSnsUrl(value: string): URL | undefined {
  if (value.length > 2048) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  // The URL parser resolves tricks (user info, encoded dots, backslashes) into these fields,
  // so checking them, and not the text, pins the request to the real host.
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.port !== '' || url.hash !== '') return undefined;
  if (!SNS_HOST.test(url.hostname)) return undefined;
  return url;
}

/**
 * True when `url` is an SNS signing certificate URL mailpush will fetch.
 *
 * @example
 * ```ts
 * import { isSigningCertUrl } from 'mailpush/feedback';
 *
 * isSigningCertUrl('https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc123.pem'); // true
 * isSigningCertUrl('https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-abc123.pem'); // false
 * ```
 */
export function isSigningCertUrl(url: string): boolean {
  const u = parseSnsUrl(url);
  return u !== undefined && u.search === '' && CERT_PATH.test(u.pathname);
}

/**
 * True when `url` is an SNS ConfirmSubscription URL for `topicArn`.
 *
 * @example
 * ```ts
 * import { isSubscribeUrl } from 'mailpush/feedback';
 *
 * const topic = 'arn:aws:sns:us-east-1:123456789012:ses-feedback';
 * isSubscribeUrl(`https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${topic}&Token=2336412f37`, topic); // true
 * isSubscribeUrl('https://example.com/?Action=ConfirmSubscription', topic); // false
 * ```
 */
export function isSubscribeUrl(url: string, topicArn: string): boolean {
  const u = parseSnsUrl(url);
  if (u === undefined || u.pathname !== '/') return false;
  return u.searchParams.get('Action') === 'ConfirmSubscription' && u.searchParams.get('TopicArn') === topicArn && (u.searchParams.get('Token') ?? '') !== '';
}

// ---------------------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------------------

/** The SNS message types. */
export type SnsMessageType = 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';

/** A signed SNS message (the HTTP body SNS posts), after shape checks. */
export interface SnsEnvelope {
  readonly Type: SnsMessageType;
  readonly MessageId: string;
  readonly TopicArn: string;
  readonly Subject?: string;
  readonly Message: string;
  readonly Timestamp: string;
  readonly SignatureVersion: '1' | '2';
  readonly Signature: string;
  readonly SigningCertURL: string;
  readonly UnsubscribeURL?: string;
  readonly Token?: string;
  readonly SubscribeURL?: string;
}

const TYPES: ReadonlySet<string> = new Set(['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation']);
const TOPIC_ARN = /^arn:aws(?:-[a-z]+){0,2}:sns:[a-z0-9-]{1,40}:\d{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?$/;

/** Why an SNS message was refused, with the HTTP status a webhook should answer. */
export class SnsVerificationError extends MailError {
  /** 400 malformed, 403 refused (forged, unknown topic, stale), 503 certificate unavailable (retry). */
  readonly status: 400 | 403 | 503;
  constructor(message: string, status: 400 | 403 | 503, cause?: unknown) {
    super(message, { code: status === 503 ? MailErrorCode.CONNECTION : MailErrorCode.VALIDATION, retryable: status === 503, ...(cause !== undefined ? { cause } : {}) });
    this.name = 'SnsVerificationError';
    this.status = status;
  }
}

/**
 * Checks the shape of a parsed SNS body: the HTTP(S) delivery, or the `Sns` object of an AWS
 * Lambda record (which spells `SigningCertUrl` and `UnsubscribeUrl`; the envelope returned
 * uses the HTTP names). Throws {@link SnsVerificationError} (400) when a required field is
 * missing or not a string.
 */
export function readSnsEnvelope(body: unknown): SnsEnvelope {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SnsVerificationError('SNS body is not a JSON object', 400);
  const b = body as Record<string, unknown>;
  const str = (k: string, required: boolean): string | undefined => {
    const v = b[k];
    if (v === undefined || v === null) {
      if (required) throw new SnsVerificationError(`SNS message has no ${k}`, 400);
      return undefined;
    }
    if (typeof v !== 'string') throw new SnsVerificationError(`SNS message field ${k} is not a string`, 400);
    return v;
  };
  /**
   * A field SNS spells two ways: `SigningCertURL` over HTTP, `SigningCertUrl` in the records it
   * delivers to AWS Lambda. Neither key name is signed (the string to sign uses canonical names
   * and leaves these two out), so both are read; two different values are refused.
   */
  const either = (k: string, lambda: string, required: boolean): string | undefined => {
    const a = str(k, false);
    const b = str(lambda, false);
    if (a !== undefined && b !== undefined && a !== b) throw new SnsVerificationError(`SNS message has both ${k} and ${lambda}, with different values`, 400);
    const v = a ?? b;
    if (v === undefined && required) throw new SnsVerificationError(`SNS message has no ${k}`, 400);
    return v;
  };
  const type = str('Type', true)!;
  if (!TYPES.has(type)) throw new SnsVerificationError(`Unknown SNS message Type ${describeValue(type)}`, 400);
  const confirmation = type !== 'Notification';
  const env: Record<string, string> = {};
  for (const k of ['MessageId', 'TopicArn', 'Message', 'Timestamp', 'SignatureVersion', 'Signature']) env[k] = str(k, true)!;
  env.SigningCertURL = either('SigningCertURL', 'SigningCertUrl', true)!;
  const subject = str('Subject', false);
  if (subject !== undefined) env.Subject = subject;
  const unsubscribe = either('UnsubscribeURL', 'UnsubscribeUrl', false);
  if (unsubscribe !== undefined) env.UnsubscribeURL = unsubscribe;
  for (const k of ['Token', 'SubscribeURL']) {
    const v = str(k, confirmation);
    if (v !== undefined) env[k] = v;
  }
  if (env.SignatureVersion !== '1' && env.SignatureVersion !== '2') throw new SnsVerificationError(`Unsupported SNS SignatureVersion ${describeValue(env.SignatureVersion)}`, 403);
  env.Type = type;
  return env as unknown as SnsEnvelope;
}

/**
 * The canonical string SNS signs (PROVIDERS.md): `key\nvalue\n` for each present key, in order.
 *
 * @example
 * ```ts
 * import { snsStringToSign } from 'mailpush/feedback';
 *
 * const text = snsStringToSign({ Type: 'Notification', MessageId: 'm1', TopicArn: 'arn:aws:sns:us-east-1:123456789012:ses-feedback', Message: 'hi', Timestamp: '2026-01-01T00:00:00.000Z' });
 * // 'Message\nhi\nMessageId\nm1\nTimestamp\n2026-01-01T00:00:00.000Z\nTopicArn\narn:aws:sns:...\nType\nNotification\n'
 * ```
 */
export function snsStringToSign(env: Omit<SnsEnvelope, 'Signature' | 'SignatureVersion' | 'SigningCertURL'>): string {
  const keys =
    env.Type === 'Notification'
      ? (['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const)
      : (['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'] as const);
  let out = '';
  for (const k of keys) {
    const v = env[k];
    if (v !== undefined) out += `${k}\n${v}\n`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Verifier
// ---------------------------------------------------------------------------------------

/** Options of {@link createSnsVerifier}. */
export interface SnsVerifierOptions {
  /** Topic ARNs accepted; messages (and subscription confirmations) of any other topic are refused. Required. */
  readonly topicArns: readonly string[];
  /** How certificates are fetched. @default {@link defaultSnsFetcher} */
  readonly fetcher?: SnsFetcher;
  /** Timeout of a certificate fetch, ms. @default 5_000 */
  readonly fetchTimeoutMs?: number;
  /** Most certificates cached (least recently used go first). @default 32 */
  readonly certCacheSize?: number;
  /**
   * Oldest message accepted, by its `Timestamp`, ms. SNS stops retrying an HTTP delivery after
   * at most an hour, so older messages are replays. @default 7_200_000 (2 h)
   */
  readonly maxMessageAgeMs?: number;
  /** How far in the future a `Timestamp` may be (clock skew), ms. @default 300_000 */
  readonly maxClockSkewMs?: number;
  /** Current time, ms. @default Date.now */
  readonly now?: () => number;
}

/** Verifies SNS messages; see {@link createSnsVerifier}. */
export interface SnsVerifier {
  /** The allowed topics. */
  readonly topicArns: ReadonlySet<string>;
  /**
   * Verifies a parsed SNS body (or the `Sns` object of a record SNS delivered to AWS Lambda,
   * `event.Records[i].Sns`): shape, topic, certificate URL, freshness, certificate validity,
   * signature. Resolves with the envelope; rejects with {@link SnsVerificationError}.
   */
  verify(body: unknown): Promise<SnsEnvelope>;
  /** Number of cached certificates. */
  readonly cacheSize: number;
}

interface CachedCert {
  readonly key: KeyObject;
  readonly validFrom: number;
  readonly validTo: number;
}

/**
 * Creates an SNS message verifier with a bounded certificate cache. Concurrent messages
 * signed with a certificate not yet cached share one fetch; a failed fetch is not cached.
 *
 * @example
 * ```ts
 * import { createSnsVerifier, parseSesNotification } from 'mailpush/feedback';
 *
 * const verifier = createSnsVerifier({ topicArns: ['arn:aws:sns:us-east-1:123456789012:ses-feedback'] });
 * const envelope = await verifier.verify(JSON.parse(body)); // rejects with SnsVerificationError (err.status 400, 403 or 503)
 * const events = parseSesNotification(envelope.Message, { envelopeId: envelope.MessageId });
 * ```
 */
export function createSnsVerifier(options: SnsVerifierOptions): SnsVerifier {
  if (typeof options !== 'object' || options === null) throw configError('ses', 'an object', options);
  const arns = options.topicArns;
  if (!Array.isArray(arns) || arns.length === 0) throw configError('ses.topicArns', 'a non-empty array of SNS topic ARNs', arns);
  arns.forEach((arn: unknown, i) => {
    if (typeof arn !== 'string' || !TOPIC_ARN.test(arn)) throw configError(`ses.topicArns[${i}]`, 'an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)', arn);
  });
  const fetcher = options.fetcher ?? defaultSnsFetcher;
  if (typeof fetcher !== 'function') throw configError('ses.fetcher', 'a function', fetcher);
  const timeoutMs = options.fetchTimeoutMs ?? 5_000;
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 1 && timeoutMs <= 120_000)) throw configError('ses.fetchTimeoutMs', 'a number of ms from 1 to 120000', timeoutMs);
  const cacheMax = options.certCacheSize ?? 32;
  if (typeof cacheMax !== 'number' || !Number.isInteger(cacheMax) || cacheMax < 1 || cacheMax > 10_000) throw configError('ses.certCacheSize', 'an integer from 1 to 10000', cacheMax);
  const maxAge = options.maxMessageAgeMs ?? 7_200_000;
  if (typeof maxAge !== 'number' || !(maxAge > 0)) throw configError('ses.maxMessageAgeMs', 'a positive number of ms (Infinity to turn the check off)', maxAge);
  const skew = options.maxClockSkewMs ?? 300_000;
  if (typeof skew !== 'number' || !(skew >= 0)) throw configError('ses.maxClockSkewMs', 'a number of ms >= 0', skew);
  const now = options.now ?? Date.now;
  const topics: ReadonlySet<string> = new Set(arns as readonly string[]);
  const cache = new BoundedMap<string, CachedCert>(cacheMax, 'lru');
  const inflight = new Map<string, Promise<CachedCert>>();

  const load = async (url: string): Promise<CachedCert> => {
    let pem: string;
    try {
      pem = await fetcher(url, { signal: AbortSignal.timeout(timeoutMs), maxBytes: SNS_MAX_FETCH_BYTES });
    } catch (err) {
      throw new SnsVerificationError(`Could not fetch the SNS signing certificate ${url}: ${(err as Error)?.message ?? String(err)}`, 503, err);
    }
    let cert: X509Certificate;
    try {
      if (typeof pem !== 'string' || pem.length > SNS_MAX_FETCH_BYTES) throw new Error('not a PEM text');
      cert = new X509Certificate(pem);
    } catch (err) {
      throw new SnsVerificationError(`The SNS signing certificate ${url} does not parse`, 503, err);
    }
    const validFrom = Date.parse(cert.validFrom);
    const validTo = Date.parse(cert.validTo);
    if (Number.isNaN(validFrom) || Number.isNaN(validTo) || cert.publicKey.asymmetricKeyType !== 'rsa') {
      throw new SnsVerificationError(`The SNS signing certificate ${url} has no RSA key or no readable validity`, 503);
    }
    return { key: cert.publicKey, validFrom, validTo };
  };

  const certificate = async (url: string): Promise<CachedCert> => {
    const hit = cache.get(url);
    if (hit !== undefined) return hit;
    let pending = inflight.get(url);
    if (pending === undefined) {
      pending = load(url).finally(() => inflight.delete(url));
      inflight.set(url, pending);
    }
    const cert = await pending;
    cache.set(url, cert);
    return cert;
  };

  return {
    topicArns: topics,
    get cacheSize() {
      return cache.size;
    },
    async verify(body) {
      const env = readSnsEnvelope(body);
      // Cheap refusals first: an unknown topic or a foreign certificate URL never costs a fetch.
      if (!topics.has(env.TopicArn)) throw new SnsVerificationError(`SNS topic ${describeValue(env.TopicArn)} is not in ses.topicArns`, 403);
      if (!isSigningCertUrl(env.SigningCertURL)) throw new SnsVerificationError(`SNS SigningCertURL ${describeValue(env.SigningCertURL)} is not an https URL on sns.<region>.amazonaws.com`, 403);
      const at = /^\d{4}-\d\d-\d\dT/.test(env.Timestamp) ? Date.parse(env.Timestamp) : NaN;
      if (Number.isNaN(at)) throw new SnsVerificationError(`SNS Timestamp ${describeValue(env.Timestamp)} is not an ISO date`, 400);
      const t = now();
      if (at < t - maxAge) throw new SnsVerificationError(`SNS message of ${env.Timestamp} is older than ${maxAge} ms (stale or replayed)`, 403);
      if (at > t + skew) throw new SnsVerificationError(`SNS message of ${env.Timestamp} is in the future`, 403);
      if (env.Signature.length > 4096 || !/^[A-Za-z0-9+/]+={0,2}$/.test(env.Signature)) throw new SnsVerificationError('SNS Signature is not base64', 403);
      const cert = await certificate(env.SigningCertURL);
      if (at < cert.validFrom || at > cert.validTo) throw new SnsVerificationError('The SNS signing certificate was not valid at the message Timestamp', 403);
      const verifier = createVerify(env.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
      verifier.update(snsStringToSign(env), 'utf8');
      let ok = false;
      try {
        ok = verifier.verify(cert.key, env.Signature, 'base64');
      } catch {
        ok = false;
      }
      if (!ok) throw new SnsVerificationError('SNS signature does not verify', 403);
      return env;
    },
  };
}

// ---------------------------------------------------------------------------------------
// SES notifications
// ---------------------------------------------------------------------------------------

/** Context of an SES notification: where it came from. */
export interface SesParseContext {
  /** The SNS MessageId: with the recipient's index it gives each event a stable `eventId`. */
  readonly envelopeId?: string;
  /** Fallback time when the notification carries none, ms. */
  readonly receivedAt?: number;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);
const arr = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);

/** Most recipients read from one notification (SES sends to at most 50 per message). */
const MAX_RECIPIENTS = 1000;

const SES_HARD_SUBTYPES: ReadonlyMap<string, BounceCategory> = new Map([
  ['NoEmail', 'userunknown'],
  ['Suppressed', 'rejected'],
  ['OnAccountSuppressionList', 'rejected'],
]);
const SES_SOFT_SUBTYPES: ReadonlyMap<string, BounceCategory> = new Map([
  ['MailboxFull', 'mailboxfull'],
  ['MessageTooLarge', 'mesgtoobig'],
  ['ContentRejected', 'contenterror'],
  ['AttachmentRejected', 'contenterror'],
]);
const SES_DELAY_TYPES: ReadonlyMap<string, BounceCategory> = new Map([
  ['InternalFailure', 'systemerror'],
  ['General', 'undefined'],
  ['MailboxFull', 'mailboxfull'],
  ['SpamDetected', 'spamdetected'],
  ['RecipientServerError', 'systemerror'],
  ['IPFailure', 'blocked'],
  ['TransientCommunicationFailure', 'networkerror'],
  ['BYOIPHostNameLookupUnavailable', 'systemerror'],
  ['Undetermined', 'undefined'],
  ['SendingDeferral', 'ratelimited'],
]);

/**
 * The hard/soft verdict of an SES bounce recipient: the diagnostic decides when the shared
 * table recognises it; otherwise SES's own bounce type and subtype do. SES calls policy blocks
 * `Permanent`/`General` too, and those are never hard.
 */
function sesBounceVerdict(bounceType: string, subType: string, status: string | undefined, diagnostic: string | undefined): { reason: BounceCategory; hard: boolean } {
  const v = diagnosticVerdict(status, diagnostic);
  const hardSub = SES_HARD_SUBTYPES.get(subType);
  if (bounceType === 'Permanent' && hardSub !== undefined) return { reason: v.decisive && v.hard ? v.reason : hardSub, hard: true };
  if (bounceType === 'Permanent') {
    if (v.decisive) return { reason: v.reason, hard: v.hard };
    const soft = SES_SOFT_SUBTYPES.get(subType);
    if (soft !== undefined) return { reason: soft, hard: false };
    // SES says permanent and nothing says otherwise: it adds such addresses to its own suppression list.
    return { reason: v.reason === 'undefined' ? 'userunknown' : v.reason, hard: true };
  }
  if (v.decisive) return { reason: v.reason, hard: false };
  return { reason: SES_SOFT_SUBTYPES.get(subType) ?? v.reason, hard: false };
}

function headerValue(mail: Json, name: string): string | undefined {
  for (const h of arr(mail.headers).slice(0, 500)) {
    const o = obj(h);
    if (o !== undefined && typeof o.name === 'string' && o.name.toLowerCase() === name && typeof o.value === 'string') return o.value;
  }
  return undefined;
}

/** SES tags `{ name: [values] }` as `{ name: value }`, without SES's own `ses:` tags. */
function sesTags(mail: Json): Record<string, string> | undefined {
  const tags = obj(mail.tags);
  if (tags === undefined) return undefined;
  const out: Record<string, string> = {};
  let n = 0;
  for (const [k, v] of Object.entries(tags)) {
    if (k.startsWith('ses:') || n >= 50) continue;
    const first = Array.isArray(v) ? v[0] : v;
    if (typeof first === 'string') {
      Object.defineProperty(out, k, { value: first, enumerable: true, writable: true, configurable: true });
      n++;
    }
  }
  return n === 0 ? undefined : out;
}

const SES_JOB_ID_TAG = 'mailpush_job_id';

interface Common {
  readonly provider: 'ses';
  readonly providerMessageId?: string;
  readonly messageId?: string;
  readonly jobId?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly raw: unknown;
}

/**
 * Parses the `Message` of an SES notification (feedback notifications with
 * `notificationType`, and event publishing with `eventType`) into one {@link FeedbackEvent}
 * per recipient. Total: anything that is not an SES notification (a test message, an
 * `AmazonSnsSubscriptionSucceeded` notice, garbage) gives an empty list; recipients that are
 * not addresses are skipped; unknown fields are ignored.
 *
 * @example
 * ```ts
 * import { parseSesNotification } from 'mailpush/feedback';
 *
 * const envelope = await verifier.verify(JSON.parse(body)); // a verified SNS message (createSnsVerifier)
 * for (const event of parseSesNotification(envelope.Message, { envelopeId: envelope.MessageId })) {
 *   console.log(event.type, event.recipient, event.hard); // 'bounced' 'ann@example.org' true
 * }
 * ```
 */
export function parseSesNotification(message: unknown, context: SesParseContext = {}): FeedbackEvent[] {
  let n: Json | undefined;
  if (typeof message === 'string') {
    if (message.length > 1_048_576 || !message.trimStart().startsWith('{')) return [];
    try {
      n = obj(JSON.parse(message));
    } catch {
      return [];
    }
  } else n = obj(message);
  if (n === undefined) return [];
  const kind = typeof n.eventType === 'string' ? n.eventType : typeof n.notificationType === 'string' ? n.notificationType : undefined;
  const mail = obj(n.mail);
  if (kind === undefined || mail === undefined) return [];

  const common: Common = {
    provider: 'ses',
    raw: n,
    ...opt('providerMessageId', cleanText(mail.messageId, 200)),
    ...opt('messageId', cleanMessageId(obj(mail.commonHeaders)?.messageId) ?? cleanMessageId(headerValue(mail, 'message-id'))),
    ...opt('jobId', cleanText(headerValue(mail, 'x-mailpush-job-id'), 200) ?? cleanText(arr(obj(mail.tags)?.[SES_JOB_ID_TAG])[0], 200)),
    ...opt('tags', sesTags(mail)),
  };
  const fallbackTime = parseTime(mail.timestamp) ?? context.receivedAt ?? Date.now();
  const destination = arr(mail.destination);
  const out: FeedbackEvent[] = [];
  const base = context.envelopeId ?? `${common.providerMessageId ?? 'ses'}:${kind}`;
  const push = (type: FeedbackEventType, address: unknown, time: unknown, extra: Partial<Omit<FeedbackEvent, 'type' | 'recipient'>>): void => {
    if (out.length >= MAX_RECIPIENTS) return;
    const recipient = normalizeRecipient(address);
    if (recipient === undefined) return;
    const timestamp = parseTime(time) ?? fallbackTime;
    out.push({ type, recipient, timestamp, eventId: `${base}:${out.length}`, ...common, ...extra } as FeedbackEvent);
  };

  switch (kind) {
    case 'Bounce': {
      const b = obj(n.bounce) ?? {};
      const bounceType = typeof b.bounceType === 'string' ? b.bounceType : 'Undetermined';
      const subType = typeof b.bounceSubType === 'string' ? b.bounceSubType : 'General';
      for (const r of arr(b.bouncedRecipients).slice(0, MAX_RECIPIENTS)) {
        const rec = obj(r);
        if (rec === undefined) continue;
        const status = cleanText(rec.status, 32);
        const diagnostic = cleanText(rec.diagnosticCode);
        const verdict = sesBounceVerdict(bounceType, subType, status, diagnostic);
        push('bounced', rec.emailAddress, b.timestamp, {
          ...verdict,
          ...opt('status', status),
          ...opt('diagnostic', diagnostic ?? `${bounceType}/${subType}`),
        });
      }
      break;
    }
    case 'Complaint': {
      const c = obj(n.complaint) ?? {};
      const feedbackType = cleanText(c.complaintFeedbackType, 64)?.toLowerCase();
      for (const r of arr(c.complainedRecipients).slice(0, MAX_RECIPIENTS)) {
        push('complained', obj(r)?.emailAddress, c.timestamp, { ...opt('feedbackType', feedbackType), ...opt('userAgent', cleanText(c.userAgent, 300)) });
      }
      break;
    }
    case 'Delivery': {
      const d = obj(n.delivery) ?? {};
      for (const r of arr(d.recipients).slice(0, MAX_RECIPIENTS)) push('delivered', r, d.timestamp, { reason: 'delivered', ...opt('diagnostic', cleanText(d.smtpResponse)) });
      break;
    }
    case 'DeliveryDelay': {
      const d = obj(n.deliveryDelay) ?? {};
      const delayType = typeof d.delayType === 'string' ? d.delayType : 'Undetermined';
      for (const r of arr(d.delayedRecipients).slice(0, MAX_RECIPIENTS)) {
        const rec = obj(r);
        if (rec === undefined) continue;
        const status = cleanText(rec.status, 32);
        const diagnostic = cleanText(rec.diagnosticCode);
        const v = diagnosticVerdict(status, diagnostic);
        push('deferred', rec.emailAddress, d.timestamp, {
          reason: v.decisive ? v.reason : (SES_DELAY_TYPES.get(delayType) ?? 'undefined'),
          hard: false,
          ...opt('status', status),
          ...opt('diagnostic', diagnostic ?? delayType),
        });
      }
      break;
    }
    case 'Send':
      for (const r of destination.slice(0, MAX_RECIPIENTS)) push('processed', r, mail.timestamp, {});
      break;
    case 'Reject': {
      const reason = cleanText(obj(n.reject)?.reason, 300) ?? 'Rejected';
      for (const r of destination.slice(0, MAX_RECIPIENTS)) push('rejected', r, mail.timestamp, { reason: /virus|bad content/i.test(reason) ? 'virusdetected' : 'rejected', diagnostic: reason });
      break;
    }
    case 'Rendering Failure': {
      const f = obj(n.failure) ?? {};
      const diagnostic = cleanText(f.errorMessage) ?? 'Rendering failure';
      for (const r of destination.slice(0, MAX_RECIPIENTS)) push('rejected', r, mail.timestamp, { reason: 'contenterror', diagnostic });
      break;
    }
    case 'Open': {
      const o = obj(n.open) ?? {};
      for (const r of destination.slice(0, MAX_RECIPIENTS)) push('opened', r, o.timestamp, { ...opt('userAgent', cleanText(o.userAgent, 300)), ...opt('ip', cleanText(o.ipAddress, 64)) });
      break;
    }
    case 'Click': {
      const c = obj(n.click) ?? {};
      for (const r of destination.slice(0, MAX_RECIPIENTS)) {
        push('clicked', r, c.timestamp, { ...opt('url', cleanText(c.link, 2048)), ...opt('userAgent', cleanText(c.userAgent, 300)), ...opt('ip', cleanText(c.ipAddress, 64)) });
      }
      break;
    }
    case 'Subscription': {
      const s = obj(n.subscription) ?? {};
      const changes = subscriptionChanges(s);
      for (const r of destination.slice(0, MAX_RECIPIENTS)) {
        for (const change of changes) push(change.type, r, s.timestamp, change.list === undefined ? {} : { list: change.list });
      }
      break;
    }
    default:
      break;
  }
  return out;
}

/** Topic preference changes of an SES Subscription event: opt-outs and opt-ins. */
function subscriptionChanges(s: Json): { type: 'unsubscribed' | 'resubscribed'; list?: string }[] {
  const next = obj(s.newTopicPreferences) ?? {};
  const prev = obj(s.oldTopicPreferences) ?? {};
  if (next.unsubscribeAll === true) return prev.unsubscribeAll === true ? [] : [{ type: 'unsubscribed' }];
  const out: { type: 'unsubscribed' | 'resubscribed'; list?: string }[] = [];
  if (prev.unsubscribeAll === true) out.push({ type: 'resubscribed' });
  const before = new Map<string, string>();
  for (const t of arr(prev.topicSubscriptionStatus).slice(0, 100)) {
    const o = obj(t);
    if (typeof o?.topicName === 'string' && typeof o.subscriptionStatus === 'string') before.set(o.topicName, o.subscriptionStatus);
  }
  for (const t of arr(next.topicSubscriptionStatus).slice(0, 100)) {
    const o = obj(t);
    if (typeof o?.topicName !== 'string' || typeof o.subscriptionStatus !== 'string' || o.topicName === '') continue;
    if (before.get(o.topicName) === o.subscriptionStatus) continue;
    if (o.subscriptionStatus === 'OptOut') out.push({ type: 'unsubscribed', list: o.topicName });
    else if (o.subscriptionStatus === 'OptIn' && before.get(o.topicName) === 'OptOut') out.push({ type: 'resubscribed', list: o.topicName });
  }
  return out;
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
