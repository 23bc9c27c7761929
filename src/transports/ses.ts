/**
 * Amazon SES transport (`mailpush/transports/ses`) over the SES v2 `SendEmail` API with raw
 * MIME content, so the headers mailpush composes (Message-ID, List-Unsubscribe, a DKIM
 * signature) reach the recipient unchanged.
 *
 * `@aws-sdk/client-sesv2` is an optional peer dependency, loaded on the first send or
 * verify; pass `sdk` (the module) or `client` (your own `SESv2Client`) to control which copy
 * is used. SES exceptions map to classified {@link MailError}s through
 * {@link SES_ERROR_RULES}, an ordered table you can extend with `errorRules`.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { classifiedError, MAX_RETRY_AFTER_MS, MAX_TEXT_LENGTH, BOUNCE_CATEGORIES, NETWORK_ERROR_CODES, TIMEOUT_ERROR_CODES } from '../classify/index.js';
import { configError, describeValue, MailError, MailErrorCode, toMailError } from '../errors.js';
import { knownKeys, rejectUnknownKeys } from '../validation/known-keys.js';
import { checkTransportName, namedTransport } from './named.js';
import { bodyReadable, hashBody, slicedBody } from './sliced-body.js';
import type { BodyPart } from './sliced-body.js';
import type { Readable } from 'node:stream';
import type { ErrorScope } from '../errors.js';
import type { BounceCategory, PreparedMessage, RejectedRecipient, SendResult, Transport, TransportCapabilities, TransportSendContext } from '../types.js';

/** Name of this transport, used in errors and events. */
export const TRANSPORT_NAME = 'ses';

/** The npm package this transport loads. */
export const SES_SDK_PACKAGE = '@aws-sdk/client-sesv2';

/** Most recipients SES takes in one `SendEmail` call (To, Cc and Bcc together). */
export const SES_MAX_RECIPIENTS = 50;

/** Largest raw MIME message SES v2 accepts, in bytes (40 MB); larger ones fail with `TOO_LARGE` before any request. */
export const SES_MAX_MESSAGE_BYTES = 40 * 1024 * 1024;

/**
 * Raw messages larger than this many bytes are not base64-encoded by the SDK: the request body
 * is built in slices (see {@link sesTransport}).
 */
export const SES_SLICED_RAW_BYTES = 256 * 1024;

/** Most email tags sent with one message; further tags of the message are left out. */
export const SES_MAX_TAGS = 50;

/** Longest SES tag name or value, in characters. */
export const SES_MAX_TAG_LENGTH = 256;

// ---------------------------------------------------------------------------------------
// The slice of @aws-sdk/client-sesv2 this file uses, typed structurally so that the
// declaration files of mailpush never reference the optional SDK.
// ---------------------------------------------------------------------------------------

/** AWS credentials. */
export interface SesCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** For temporary credentials (STS, SSO, roles). */
  readonly sessionToken?: string;
  /** When temporary credentials expire; the SDK calls a provider again before then. */
  readonly expiration?: Date;
}

/** Static credentials, or a provider the SDK calls whenever it needs fresh ones. */
export type SesCredentialsInput = SesCredentials | (() => Promise<SesCredentials>);

/** Configuration this transport passes to `new SESv2Client(...)`. */
export interface SesClientConfig {
  readonly region: string;
  readonly endpoint?: string;
  readonly credentials?: SesCredentialsInput;
  readonly maxAttempts: number;
  readonly requestHandler?: {
    readonly httpAgent?: { readonly maxSockets?: number; readonly keepAlive?: boolean };
    readonly httpsAgent?: { readonly maxSockets?: number; readonly keepAlive?: boolean };
  };
}

/** An `SESv2Client`, or anything with its `send` (and, optionally, `destroy`). */
export interface SesClient {
  /** Sends an SDK command. */
  send(command: object, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  /** Closes the client. */
  destroy?(): void;
}

/** The request body of SES v2 `SendEmail` as this transport builds it. */
export interface SesSendEmailInput {
  readonly FromEmailAddress: string;
  readonly Destination: { readonly ToAddresses: string[] };
  readonly Content: { readonly Raw: { readonly Data: Uint8Array } };
  readonly FeedbackForwardingEmailAddress?: string;
  readonly ConfigurationSetName?: string;
  readonly EmailTags?: { Name: string; Value: string }[];
  readonly ListManagementOptions?: { ContactListName: string; TopicName?: string };
}

/** The parts of the `@aws-sdk/client-sesv2` module this transport uses: pass the module itself. */
export interface SesSdk {
  readonly SESv2Client: new (config: SesClientConfig) => SesClient;
  readonly SendEmailCommand: new (input: SesSendEmailInput) => object;
  readonly GetAccountCommand: new (input: Record<string, never>) => object;
}

// ---------------------------------------------------------------------------------------
// Error table
// ---------------------------------------------------------------------------------------

/**
 * How an SES (or AWS, or network) error maps to a {@link MailError}. A rule applies when
 * every condition it has matches; rules are tried in order and the first match decides.
 */
export interface SesErrorRule {
  /** Rule id, for documentation and debugging. */
  readonly id: string;
  /** Exception names (`error.name`) or error codes (`error.code`, like `ECONNRESET`) the rule applies to. */
  readonly names?: readonly string[];
  /** HTTP statuses the rule applies to. */
  readonly statuses?: readonly number[];
  /** A pattern the exception message must match. */
  readonly text?: RegExp;
  /** The error code to reject with; `retryable` follows from it. */
  readonly code: MailErrorCode;
  /** Classification category of the error. */
  readonly category: BounceCategory;
  /** What a `THROTTLED` or `TRANSPORT_PAUSED` error is about; SES account limits concern the whole `transport`. */
  readonly scope?: ErrorScope;
  /** Wait before the next attempt when the response carries no `Retry-After` header, in milliseconds. */
  readonly retryAfterMs?: number;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

const THROTTLING_NAMES = ['TooManyRequestsException', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'RequestLimitExceeded', 'SlowDown'];
const HTTP_SERVER_ERRORS = [500, 501, 502, 503, 504, 505, 506, 507, 508, 509, 510, 511];

/**
 * The default SES error table, tried after the `errorRules` option. Errors no rule matches
 * go to the shared classifier with the HTTP status and the exception message.
 *
 * - Sending rate exceeded (`TooManyRequestsException`, AWS throttling): `THROTTLED` for the
 *   whole transport, 1 s unless `Retry-After` says otherwise.
 * - Daily quota (`LimitExceededException`, or a throttle saying "daily quota"): the 24-hour
 *   quota is a rolling window with no reset time in the response, so the transport pauses
 *   (`TRANSPORT_PAUSED`) for 1 hour before trying again.
 * - `SendingPausedException` / `AccountSuspendedException`: the account cannot send at all;
 *   `TRANSPORT_PAUSED` for 15 minutes (messages wait in the queue, attempts are not counted).
 * - `MessageRejected`, `MailFromDomainNotVerifiedException`, `NotFoundException` (unknown
 *   configuration set or contact list), `BadRequestException`: `PERMANENT` for this message.
 *   None of them is about the recipient's address, so none is a hard bounce.
 * - Credential and signature errors: `AUTH`, not retryable.
 * - AWS server errors, HTTP 5xx (500-511): `TRANSIENT`; network errors: `CONNECTION`
 *   or `TIMEOUT`, all retryable. HTTP 429 without a known name: transport throttle.
 */
export const SES_ERROR_RULES: readonly SesErrorRule[] = deepFreeze([
  {
    id: 'daily-quota',
    names: [...THROTTLING_NAMES, 'LimitExceededException'],
    text: /daily (?:message |sending )?quota|24[- ]hour (?:sending )?quota|sending quota exceeded/i,
    code: MailErrorCode.TRANSPORT_PAUSED,
    category: 'ratelimited',
    scope: 'transport',
    retryAfterMs: HOUR,
  },
  { id: 'sending-rate', names: THROTTLING_NAMES, code: MailErrorCode.THROTTLED, category: 'ratelimited', scope: 'transport', retryAfterMs: SECOND },
  { id: 'sending-rate-text', text: /maximum sending rate exceeded/i, code: MailErrorCode.THROTTLED, category: 'ratelimited', scope: 'transport', retryAfterMs: SECOND },
  { id: 'limit-exceeded', names: ['LimitExceededException'], code: MailErrorCode.TRANSPORT_PAUSED, category: 'ratelimited', scope: 'transport', retryAfterMs: HOUR },
  {
    id: 'sending-paused',
    names: ['SendingPausedException', 'AccountSendingPausedException', 'AccountSuspendedException'],
    code: MailErrorCode.TRANSPORT_PAUSED,
    category: 'blocked',
    scope: 'transport',
    retryAfterMs: 15 * MINUTE,
  },
  { id: 'message-rejected', names: ['MessageRejected'], code: MailErrorCode.PERMANENT, category: 'rejected' },
  { id: 'mail-from-not-verified', names: ['MailFromDomainNotVerifiedException'], code: MailErrorCode.PERMANENT, category: 'authfailure' },
  { id: 'not-found', names: ['NotFoundException'], code: MailErrorCode.PERMANENT, category: 'rejected' },
  {
    id: 'bad-request',
    names: ['BadRequestException', 'ValidationException', 'SerializationException', 'InvalidParameterValue', 'InvalidParameterCombination', 'MissingParameter'],
    code: MailErrorCode.PERMANENT,
    category: 'syntaxerror',
  },
  {
    id: 'credentials',
    names: [
      'CredentialsProviderError',
      'AccessDenied',
      'AccessDeniedException',
      'UnrecognizedClientException',
      'InvalidClientTokenId',
      'SignatureDoesNotMatch',
      'InvalidSignatureException',
      'IncompleteSignature',
      'IncompleteSignatureException',
      'MissingAuthenticationToken',
      'MissingAuthenticationTokenException',
      'ExpiredToken',
      'ExpiredTokenException',
      'NotAuthorized',
    ],
    code: MailErrorCode.AUTH,
    category: 'authfailure',
  },
  {
    id: 'server-error',
    names: ['InternalFailure', 'InternalError', 'InternalServerError', 'InternalServiceErrorException', 'ServiceUnavailable', 'ServiceUnavailableException', 'ConcurrentModificationException'],
    code: MailErrorCode.TRANSIENT,
    category: 'systemerror',
  },
  // Before 'timeout': the SDK renames ECONNRESET and EPIPE errors to TimeoutError (so that
  // its own retry treats them as transient), but the code still says what happened.
  { id: 'network', names: NETWORK_ERROR_CODES.filter((c) => !TIMEOUT_ERROR_CODES.includes(c)), code: MailErrorCode.CONNECTION, category: 'networkerror' },
  { id: 'timeout', names: ['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', ...TIMEOUT_ERROR_CODES], code: MailErrorCode.TIMEOUT, category: 'networkerror' },
  { id: 'http-429', statuses: [429], code: MailErrorCode.THROTTLED, category: 'ratelimited', scope: 'transport', retryAfterMs: SECOND },
  { id: 'http-5xx', statuses: HTTP_SERVER_ERRORS, code: MailErrorCode.TRANSIENT, category: 'systemerror' },
]);

function deepFreeze<T>(rules: T[]): readonly T[] {
  for (const r of rules) {
    for (const v of Object.values(r as object)) if (Array.isArray(v)) Object.freeze(v);
    Object.freeze(r);
  }
  return Object.freeze(rules);
}

// ---------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------

/** SES list management: which contact list (and topic) a message belongs to, for unsubscribe handling. */
export interface SesListManagementOptions {
  readonly contactListName: string;
  readonly topicName?: string;
}

/** Options of {@link sesTransport}. */
export interface SesTransportOptions {
  /** Transport name in events and errors; give two SES transports (two regions, two accounts) their own names to combine them in `failover`. @default 'ses' */
  readonly name?: string;
  /** AWS region of the SES account (`us-east-1`). Required unless `client` is given. */
  readonly region?: string;
  /** Credentials. @default the SDK's default provider chain (environment, shared files, SSO, container and instance roles) */
  readonly credentials?: SesCredentialsInput;
  /** Endpoint URL instead of the regional one (a VPC endpoint, a local fake). @default `https://email.<region>.amazonaws.com` */
  readonly endpoint?: string;
  /**
   * Your own `SESv2Client` (for proxies, custom agents, middleware). `region`, `credentials`
   * and `endpoint` must then be left out. Create it with `maxAttempts: 1`: the mailer retries
   * and throttles, and SDK retries underneath would multiply its attempts and hide throttling.
   * The transport never destroys a client it did not create.
   * @default a client created on first use, with `maxAttempts: 1`
   */
  readonly client?: SesClient;
  /** Configuration set for event publishing (deliveries, bounces, complaints). @default none */
  readonly configurationSetName?: string;
  /**
   * Send the message's `tags` as SES email tags (they come back in event notifications).
   * SES allows only ASCII letters, digits, `_` and `-` in tag names and values, at most 256
   * characters: other characters become `_`, longer ones are cut. Tags with an empty name
   * or value are left out, a name repeated after this cleanup keeps its first value, and
   * tags beyond {@link SES_MAX_TAGS} are left out.
   * @default true
   */
  readonly tagsFromMessage?: boolean;
  /** SES list management options sent with every message. @default none */
  readonly listManagementOptions?: SesListManagementOptions;
  /** Where SES forwards bounces and complaints by email. @default SES's default (the From address) */
  readonly feedbackForwardingEmailAddress?: string;
  /**
   * The account's maximum send rate per second (`GetAccount` `SendQuota.MaxSendRate`); the
   * mailer never sends faster through this transport. SES counts every recipient of a
   * message, the mailer counts sends: leave headroom when sends have several recipients.
   * @default unlimited
   */
  readonly ratePerSecond?: number;
  /** Most requests in flight at once. @default 20 */
  readonly maxConcurrency?: number;
  /**
   * Longest wait for one SES request, upload included, in milliseconds; then the send fails
   * with a retryable `TIMEOUT` (SES may have accepted it anyway). Raise it for messages of
   * tens of megabytes on slow links. @default 30000
   */
  readonly requestTimeoutMs?: number;
  /** Rules tried before {@link SES_ERROR_RULES}. @default [] */
  readonly errorRules?: readonly SesErrorRule[];
  /**
   * The `@aws-sdk/client-sesv2` module, or a function loading it.
   * @default `import('@aws-sdk/client-sesv2')` on first use
   */
  readonly sdk?: SesSdk | (() => Promise<SesSdk>);
}

const DEFAULT_MAX_CONCURRENCY = 20;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
// The SDK's own default socket pool size; raised when more requests may be in flight.
const SDK_DEFAULT_MAX_SOCKETS = 50;
const MAX_TIMER_MS = 2_147_483_647;
const REGION = /^[a-z]{2,}(?:-[a-z0-9]+)+$/;
const CONFIGURATION_SET = /^[A-Za-z0-9_-]{1,64}$/;
const EMAIL = /^[^\s@\u0000-\u001f\u007f]+@[^\s@\u0000-\u001f\u007f]+$/;
const CATEGORY_SET: ReadonlySet<string> = new Set(BOUNCE_CATEGORIES);
const CODE_SET: ReadonlySet<string> = new Set(Object.values(MailErrorCode));
const RULE_KEYS: ReadonlySet<string> = new Set(['id', 'names', 'statuses', 'text', 'code', 'category', 'scope', 'retryAfterMs']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function checkCredentials(value: unknown): void {
  if (typeof value === 'function') return;
  if (!isObject(value)) throw configError('credentials', 'an object with accessKeyId and secretAccessKey, or a provider function', value);
  for (const key of ['accessKeyId', 'secretAccessKey'] as const) {
    if (typeof value[key] !== 'string' || value[key] === '') throw configError(`credentials.${key}`, 'a non-empty string', value[key]);
  }
  if (value.sessionToken !== undefined && typeof value.sessionToken !== 'string') throw configError('credentials.sessionToken', 'a string', value.sessionToken);
}

function checkEndpoint(value: unknown): void {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '') {
    throw configError('endpoint', 'an http or https URL without credentials', value);
  }
}

function checkSdk(value: unknown): void {
  if (typeof value === 'function') return;
  if (!isSdk(value)) throw configError('sdk', 'the @aws-sdk/client-sesv2 module (SESv2Client, SendEmailCommand, GetAccountCommand) or a function loading it', value);
}

function isSdk(value: unknown): value is SesSdk {
  return isObject(value) && typeof value.SESv2Client === 'function' && typeof value.SendEmailCommand === 'function' && typeof value.GetAccountCommand === 'function';
}

interface CompiledRule {
  readonly rule: SesErrorRule;
  readonly names: ReadonlySet<string> | undefined;
  readonly statuses: ReadonlySet<number> | undefined;
  readonly text: RegExp | undefined;
}

function compileRule(value: unknown, path: string): CompiledRule {
  if (!isObject(value) || Array.isArray(value)) throw configError(path, 'a rule object ({ id, code, category, ... })', value);
  for (const key of Object.keys(value)) {
    if (!RULE_KEYS.has(key)) throw configError(`${path}.${key}`, `absent (known keys: ${[...RULE_KEYS].join(', ')})`, value[key]);
  }
  const r = value as unknown as SesErrorRule;
  if (typeof r.id !== 'string' || r.id === '') throw configError(`${path}.id`, 'a non-empty string', r.id);
  if (r.names !== undefined && !(Array.isArray(r.names) && r.names.length > 0 && r.names.every((n) => typeof n === 'string' && n !== ''))) {
    throw configError(`${path}.names`, 'a non-empty array of exception names', r.names);
  }
  if (r.statuses !== undefined && !(Array.isArray(r.statuses) && r.statuses.length > 0 && r.statuses.every((s) => Number.isInteger(s) && s >= 100 && s <= 999))) {
    throw configError(`${path}.statuses`, 'a non-empty array of HTTP statuses', r.statuses);
  }
  if (r.text !== undefined && !(r.text instanceof RegExp)) throw configError(`${path}.text`, 'a RegExp', r.text);
  if (r.names === undefined && r.statuses === undefined && r.text === undefined) throw configError(path, 'a rule with at least one of names, statuses and text', value);
  if (typeof r.code !== 'string' || !CODE_SET.has(r.code)) throw configError(`${path}.code`, 'a MailErrorCode', r.code);
  if (typeof r.category !== 'string' || !CATEGORY_SET.has(r.category)) throw configError(`${path}.category`, 'a bounce category', r.category);
  if (r.scope !== undefined && r.scope !== 'domain' && r.scope !== 'transport') throw configError(`${path}.scope`, '"domain" or "transport"', r.scope);
  if (r.retryAfterMs !== undefined && !(typeof r.retryAfterMs === 'number' && Number.isFinite(r.retryAfterMs) && r.retryAfterMs >= 0)) {
    throw configError(`${path}.retryAfterMs`, 'a finite number of milliseconds >= 0', r.retryAfterMs);
  }
  // A global or sticky RegExp keeps lastIndex between calls and would match every other time.
  const text = r.text === undefined ? undefined : r.text.global || r.text.sticky ? new RegExp(r.text.source, r.text.flags.replace(/[gy]/g, '')) : r.text;
  return {
    rule: Object.freeze({ ...r }),
    names: r.names === undefined ? undefined : new Set(r.names),
    statuses: r.statuses === undefined ? undefined : new Set(r.statuses),
    text,
  };
}

const COMPILED_DEFAULTS: readonly CompiledRule[] = SES_ERROR_RULES.map((rule, i) => compileRule(rule, `SES_ERROR_RULES[${i}]`));

// Typed as a record of every option so that adding one to SesTransportOptions without listing it here fails to compile.
const OPTION_KEYS = knownKeys(
  Object.keys({
    name: true,
    region: true,
    credentials: true,
    endpoint: true,
    client: true,
    configurationSetName: true,
    tagsFromMessage: true,
    listManagementOptions: true,
    feedbackForwardingEmailAddress: true,
    ratePerSecond: true,
    maxConcurrency: true,
    requestTimeoutMs: true,
    errorRules: true,
    sdk: true,
  } satisfies Record<keyof SesTransportOptions, true>),
);
const LIST_MANAGEMENT_KEYS = knownKeys(Object.keys({ contactListName: true, topicName: true } satisfies Record<keyof SesListManagementOptions, true>));

function checkOptions(options: unknown): SesTransportOptions {
  if (!isObject(options)) throw configError('options', 'an object', options);
  rejectUnknownKeys(options, OPTION_KEYS, 'SES transport option', MailErrorCode.CONFIG);
  const o = options as SesTransportOptions;
  if (o.client !== undefined) {
    if (!isObject(o.client) || typeof o.client.send !== 'function') throw configError('client', 'an SESv2Client (an object with send())', o.client);
    for (const key of ['region', 'credentials', 'endpoint'] as const) {
      if (o[key] !== undefined) throw configError(key, 'unset when `client` is given (configure the client instead)', o[key]);
    }
  } else if (typeof o.region !== 'string' || !REGION.test(o.region) || o.region.length > 64) {
    throw configError('region', 'an AWS region like "us-east-1"', o.region);
  }
  if (o.credentials !== undefined) checkCredentials(o.credentials);
  if (o.endpoint !== undefined) checkEndpoint(o.endpoint);
  if (o.configurationSetName !== undefined && (typeof o.configurationSetName !== 'string' || !CONFIGURATION_SET.test(o.configurationSetName))) {
    throw configError('configurationSetName', 'a configuration set name (1-64 ASCII letters, digits, _ and -)', o.configurationSetName);
  }
  if (o.tagsFromMessage !== undefined && typeof o.tagsFromMessage !== 'boolean') throw configError('tagsFromMessage', 'a boolean', o.tagsFromMessage);
  if (o.listManagementOptions !== undefined) {
    const l = o.listManagementOptions as unknown;
    if (!isObject(l)) throw configError('listManagementOptions', 'an object with contactListName', l);
    rejectUnknownKeys(l, LIST_MANAGEMENT_KEYS, 'SES listManagementOptions option', MailErrorCode.CONFIG, 'listManagementOptions');
    if (typeof l.contactListName !== 'string' || l.contactListName === '') throw configError('listManagementOptions.contactListName', 'a non-empty string', l.contactListName);
    if (l.topicName !== undefined && (typeof l.topicName !== 'string' || l.topicName === '')) throw configError('listManagementOptions.topicName', 'a non-empty string', l.topicName);
  }
  if (o.feedbackForwardingEmailAddress !== undefined && (typeof o.feedbackForwardingEmailAddress !== 'string' || o.feedbackForwardingEmailAddress.length > 320 || !EMAIL.test(o.feedbackForwardingEmailAddress))) {
    throw configError('feedbackForwardingEmailAddress', 'an email address', o.feedbackForwardingEmailAddress);
  }
  if (o.ratePerSecond !== undefined && !(typeof o.ratePerSecond === 'number' && Number.isFinite(o.ratePerSecond) && o.ratePerSecond > 0)) {
    throw configError('ratePerSecond', 'a finite number > 0', o.ratePerSecond);
  }
  if (o.maxConcurrency !== undefined && !(Number.isInteger(o.maxConcurrency) && o.maxConcurrency >= 1 && o.maxConcurrency <= 1000)) {
    throw configError('maxConcurrency', 'an integer from 1 to 1000', o.maxConcurrency);
  }
  if (o.requestTimeoutMs !== undefined && !(typeof o.requestTimeoutMs === 'number' && Number.isFinite(o.requestTimeoutMs) && o.requestTimeoutMs > 0 && o.requestTimeoutMs <= MAX_TIMER_MS)) {
    throw configError('requestTimeoutMs', 'a number of milliseconds from 1 to 2147483647', o.requestTimeoutMs);
  }
  if (o.errorRules !== undefined && !Array.isArray(o.errorRules)) throw configError('errorRules', 'an array of rules', o.errorRules);
  if (o.sdk !== undefined) checkSdk(o.sdk);
  return o;
}

// ---------------------------------------------------------------------------------------
// Message mapping
// ---------------------------------------------------------------------------------------

const TAG_INVALID = /[^A-Za-z0-9_-]/g;

/**
 * Turns message tags into SES email tags, following the rules described at
 * {@link SesTransportOptions.tagsFromMessage}.
 *
 * @example
 * ```ts
 * import { toSesTags } from 'mailpush/transports/ses';
 *
 * toSesTags({ campaign: 'spring sale', 'list.id': 'news' });
 * // [{ Name: 'campaign', Value: 'spring_sale' }, { Name: 'list_id', Value: 'news' }]
 * ```
 */
export function toSesTags(tags: Readonly<Record<string, string>>): { Name: string; Value: string }[] {
  const out: { Name: string; Value: string }[] = [];
  const seen = new Set<string>();
  for (const [key, value] of Object.entries(tags)) {
    if (out.length >= SES_MAX_TAGS) break;
    if (typeof value !== 'string') continue;
    const name = key.slice(0, SES_MAX_TAG_LENGTH).replace(TAG_INVALID, '_');
    const v = value.slice(0, SES_MAX_TAG_LENGTH).replace(TAG_INVALID, '_');
    if (name === '' || v === '' || seen.has(name)) continue;
    seen.add(name);
    out.push({ Name: name, Value: v });
  }
  return out;
}

function checkEnvelope(envelope: PreparedMessage['envelope']): MailError | undefined {
  const to = envelope.to;
  if (to.length === 0) return new MailError('SES send has no recipients', { code: MailErrorCode.VALIDATION, transport: TRANSPORT_NAME });
  if (to.length > SES_MAX_RECIPIENTS) {
    return new MailError(`SES accepts at most ${SES_MAX_RECIPIENTS} recipients per message, this send has ${to.length}`, {
      code: MailErrorCode.VALIDATION,
      transport: TRANSPORT_NAME,
    });
  }
  for (const address of to) {
    if (typeof address !== 'string' || address.length > 320 || !EMAIL.test(address)) {
      return new MailError(`SES recipient ${describeValue(address)} is not a plain address`, { code: MailErrorCode.VALIDATION, transport: TRANSPORT_NAME });
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Error mapping
// ---------------------------------------------------------------------------------------

interface ErrorFacts {
  readonly name: string;
  readonly code: string | undefined;
  readonly message: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
}

/** Retry-After: delay-seconds or an HTTP date (RFC 9110 10.2.3). */
function parseRetryAfterHeader(value: unknown, now: number): number | undefined {
  if (typeof value !== 'string' || value.length > 100) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d{1,10}$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - now);
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/** Reads what matters from an SDK exception, a Node error or anything thrown. Never throws. */
function factsOf(err: unknown): ErrorFacts {
  try {
    if (!isObject(err)) return { name: 'Error', code: undefined, message: String(err), status: undefined, retryAfterMs: undefined };
    const e = err as { name?: unknown; code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: unknown }; $response?: { statusCode?: unknown; headers?: Record<string, unknown> } };
    const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
    const headers = e.$response?.headers;
    let retryAfter: unknown;
    if (isObject(headers)) {
      for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === 'retry-after') retryAfter = v;
    }
    // The SDK appends a hint about `$response` to deserialization errors; it means nothing to mailpush users.
    const message = typeof e.message === 'string' ? e.message.replace(/\n\s*Deserialization error: to see the raw response[^\n]*/, '') : '';
    return {
      name: typeof e.name === 'string' && e.name !== '' ? e.name : 'Error',
      code: typeof e.code === 'string' ? e.code : undefined,
      message,
      status: typeof status === 'number' && Number.isInteger(status) ? status : undefined,
      retryAfterMs: parseRetryAfterHeader(retryAfter, Date.now()),
    };
  } catch {
    return { name: 'Error', code: undefined, message: 'Unreadable error', status: undefined, retryAfterMs: undefined };
  }
}

const WAITABLE_CODES: ReadonlySet<MailErrorCode> = new Set<MailErrorCode>([
  MailErrorCode.THROTTLED,
  MailErrorCode.TRANSPORT_PAUSED,
  MailErrorCode.TRANSIENT,
  MailErrorCode.CONNECTION,
  MailErrorCode.TIMEOUT,
]);

function ruleMatches(c: CompiledRule, f: ErrorFacts): boolean {
  if (c.names !== undefined && !c.names.has(f.name) && (f.code === undefined || !c.names.has(f.code))) return false;
  if (c.statuses !== undefined && (f.status === undefined || !c.statuses.has(f.status))) return false;
  if (c.text !== undefined && !c.text.test(f.message)) return false;
  return true;
}

function oneLine(text: string, max = 500): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

function describeFacts(f: ErrorFacts): string {
  // 'Unknown' is the SDK's name for an error response without an error type.
  const name = f.name === 'Unknown' && f.status !== undefined ? `HTTP ${f.status}` : f.name;
  const label = f.code !== undefined && f.code !== name ? `${name} (${f.code})` : name;
  return oneLine(f.message === '' ? `SES ${label}` : `SES ${label}: ${f.message}`);
}

function mapError(err: unknown, rules: readonly CompiledRule[]): MailError {
  const f = factsOf(err);
  const response = f.message === '' ? undefined : f.message.slice(0, MAX_TEXT_LENGTH);
  for (const c of rules) {
    if (!ruleMatches(c, f)) continue;
    const { rule } = c;
    const retryAfterMs = f.retryAfterMs ?? rule.retryAfterMs;
    return new MailError(describeFacts(f), {
      code: rule.code,
      transport: TRANSPORT_NAME,
      category: rule.category,
      ...(f.status !== undefined ? { responseCode: f.status } : {}),
      ...(response !== undefined ? { response } : {}),
      // A wait only means something for an error the mailer will retry.
      ...(retryAfterMs !== undefined && WAITABLE_CODES.has(rule.code) ? { retryAfterMs } : {}),
      ...(rule.scope !== undefined ? { scope: rule.scope } : {}),
      cause: err,
    });
  }
  // Nothing SES-specific: the shared classifier reads the status and text (a gateway in front
  // of SES may answer with an SMTP-style text such as "451 4.3.0 ...").
  return classifiedError(
    { ...(f.status !== undefined ? { responseCode: f.status } : {}), text: f.message, errorCode: f.code ?? f.name },
    { transport: TRANSPORT_NAME, cause: err, message: describeFacts(f) },
  );
}

// ---------------------------------------------------------------------------------------
// Large messages: the request body built in slices
// ---------------------------------------------------------------------------------------

/** The SDK's request as a build-step middleware sees it (`@smithy/protocol-http` HttpRequest). */
interface SdkHttpRequest {
  body?: unknown;
  headers: Record<string, string>;
}

type SdkHandler = (args: { request?: unknown }) => Promise<unknown>;

/** Thrown by the middleware when the SDK's body is not the JSON it expects; the send goes the plain way. */
class SlicingUnsupported extends Error {}

/**
 * A placeholder for `Content.Raw.Data` and its base64 as the SDK writes it into the JSON body.
 * Random, so it cannot occur elsewhere in the body; its base64 holds `+`, `/` and `=`, so a
 * serializer that escaped any of them would not be found (and the send goes the plain way).
 */
function rawPlaceholder(): { readonly bytes: Buffer; readonly text: string } {
  const bytes = Buffer.concat([randomBytes(24), Buffer.from([0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff, 0x00])]);
  return { bytes, text: bytes.toString('base64') };
}

/** The body around the placeholder's only occurrence (the SDK writes JSON text or its UTF-8 bytes), or undefined. */
function aroundPlaceholder(body: unknown, placeholder: string): [BodyPart, BodyPart] | undefined {
  if (typeof body === 'string') {
    const at = body.indexOf(placeholder);
    if (at < 0 || body.indexOf(placeholder, at + placeholder.length) >= 0) return undefined;
    return [body.slice(0, at), body.slice(at + placeholder.length)];
  }
  if (!(body instanceof Uint8Array)) return undefined;
  // A Buffer view: the SDK's own Uint8Array subclass turns indexOf into a string search of a decoded copy.
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const at = bytes.indexOf(placeholder, 0, 'latin1');
  if (at < 0 || bytes.indexOf(placeholder, at + placeholder.length, 'latin1') >= 0) return undefined;
  return [bytes.subarray(0, at), bytes.subarray(at + placeholder.length)];
}

/**
 * Adds to an SDK command a build-step middleware that puts the base64 of `raw` where the
 * placeholder's is in the serialized JSON body: the same bytes the SDK would send for the whole
 * message, with their SHA-256 in the `x-amz-content-sha256` header (the SDK sends that header
 * too; its SigV4 signer takes the payload hash from it instead of hashing the body in one go).
 * Done in one step by the SDK, the base64, JSON and hash of a 10 MB message held the loop
 * ~80 ms. With `stream`, the body is hashed by {@link hashBody} and sent as
 * {@link bodyReadable} (readable once: only for a client that never retries); else built by
 * {@link slicedBody}. Returns false when the command has no middleware stack (not an AWS SDK
 * v3 command).
 */
function addSlicedRawBody(command: object, raw: Buffer, placeholder: string, check: () => void, stream: boolean): boolean {
  const stack = (command as { middlewareStack?: unknown }).middlewareStack;
  if (!isObject(stack) || typeof stack.add !== 'function') return false;
  const middleware =
    (next: SdkHandler): SdkHandler =>
    async (args) => {
      const request = args.request as SdkHttpRequest | undefined;
      const around = request !== undefined && isObject(request.headers) ? aroundPlaceholder(request.body, placeholder) : undefined;
      if (request === undefined || around === undefined) throw new SlicingUnsupported();
      const parts: BodyPart[] = [around[0], { base64: raw }, around[1]];
      let body: Buffer | Readable;
      let length: number;
      let sha256: string;
      if (stream) {
        ({ length, sha256 } = await hashBody(parts, check));
        body = bodyReadable(parts);
      } else {
        const built = await slicedBody(parts, { sha256: true, check });
        ({ body } = built);
        length = built.body.length;
        sha256 = built.sha256!;
      }
      for (const name of Object.keys(request.headers)) {
        const lower = name.toLowerCase();
        if (lower === 'content-length' || lower === 'x-amz-content-sha256') delete request.headers[name];
      }
      request.body = body;
      // Set here: the SDK's content-length middleware measured the placeholder's body, or cannot measure a stream.
      request.headers['content-length'] = String(length);
      request.headers['x-amz-content-sha256'] = sha256;
      return next(args);
    };
  (stack.add as (mw: unknown, options: object) => void)(middleware, { step: 'build', priority: 'high', name: 'mailpushSlicedRawBody' });
  return true;
}

// ---------------------------------------------------------------------------------------
// The transport
// ---------------------------------------------------------------------------------------

interface Runtime {
  readonly sdk: SesSdk;
  readonly client: SesClient;
  /** The client was created here, so close() destroys it. */
  readonly owned: boolean;
}

const NO_REJECTIONS: readonly RejectedRecipient[] = Object.freeze([]);

function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

async function loadSdk(source: SesTransportOptions['sdk']): Promise<SesSdk> {
  if (source !== undefined && typeof source !== 'function') return source;
  let loaded: unknown;
  try {
    loaded = source === undefined ? await import('@aws-sdk/client-sesv2') : await source();
  } catch (err) {
    const code = isObject(err) ? err.code : undefined;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new MailError(`The SES transport needs the "${SES_SDK_PACKAGE}" package: npm install ${SES_SDK_PACKAGE}`, {
        code: MailErrorCode.MISSING_DEPENDENCY,
        transport: TRANSPORT_NAME,
        cause: err,
      });
    }
    throw new MailError(`Could not load "${SES_SDK_PACKAGE}": ${err instanceof Error ? err.message : String(err)}`, {
      code: MailErrorCode.INTERNAL,
      transport: TRANSPORT_NAME,
      cause: err,
    });
  }
  // Some bundlers hand a CommonJS module over as the `default` export.
  const sdk = isSdk(loaded) ? loaded : isObject(loaded) && isSdk(loaded.default) ? loaded.default : undefined;
  if (sdk === undefined) {
    throw new MailError(`The module loaded for "${SES_SDK_PACKAGE}" has no SESv2Client, SendEmailCommand and GetAccountCommand`, {
      code: MailErrorCode.MISSING_DEPENDENCY,
      transport: TRANSPORT_NAME,
    });
  }
  return sdk;
}

/**
 * Creates an Amazon SES transport (SES v2 API, raw MIME).
 *
 * Each send is one `SendEmail` call: `FromEmailAddress` is the message's From address (it
 * must be a verified identity), `Destination.ToAddresses` holds the job's envelope
 * recipients, Bcc included (they are never in the MIME headers), and `Content.Raw.Data` the
 * composed message. SES chooses the envelope sender itself (its own bounce domain or your
 * custom MAIL FROM domain), so the message's `returnPath` is not used; bounces come back as
 * SES notifications, correlated by the SES message id returned as `providerMessageId`.
 *
 * The client this transport creates has `maxAttempts: 1`: the mailer's retry schedule and
 * throttling decide when to try again, and an SDK retry underneath would hide the account's
 * rate limit from it. Aborting a send cancels its HTTP request; if SES had already accepted
 * the message by then, it is sent all the same.
 *
 * A message over {@link SES_SLICED_RAW_BYTES} is not base64-encoded and hashed by the SDK in
 * one step (~80 ms of a blocked event loop for 10 MB): the SDK serializes the request with a
 * small placeholder, and a middleware on the command puts the message's base64 in its place,
 * in chunks with turns of the event loop between them, hashing the body for the SigV4
 * signature (`x-amz-content-sha256`). Through the client this transport creates, the body is
 * hashed first and then streamed, base64 made chunk by chunk while the socket takes it (no
 * buffer of the body's size, whose garbage collection held the loop 10-25 ms); through your
 * own `client`, which may retry a request, it is built as one buffer. The bytes sent are the
 * ones the SDK would send. A client whose middleware changes the serialized body so that the
 * placeholder cannot be found gets the SDK's own body from then on.
 *
 * @example
 * ```ts
 * import sesTransport from 'mailpush/transports/ses';
 *
 * const mailer = createMailer({
 *   transport: sesTransport({ region: 'eu-west-1', configurationSetName: 'events', ratePerSecond: 14 }),
 * });
 * ```
 */
export default function sesTransport(options: SesTransportOptions): Transport {
  if (typeof options === 'object' && options !== null && options.name !== undefined) {
    const { name, ...rest } = options;
    return namedTransport(sesTransport(rest), checkTransportName('name', name));
  }
  const o = checkOptions(options);
  const rules = [...(o.errorRules ?? []).map((r, i) => compileRule(r, `errorRules[${i}]`)), ...COMPILED_DEFAULTS];
  const maxConcurrency = o.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
  const requestTimeoutMs = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const tagsFromMessage = o.tagsFromMessage ?? true;
  const listManagement =
    o.listManagementOptions === undefined
      ? undefined
      : {
          ContactListName: o.listManagementOptions.contactListName,
          ...(o.listManagementOptions.topicName !== undefined ? { TopicName: o.listManagementOptions.topicName } : {}),
        };
  const capabilities: TransportCapabilities = Object.freeze({
    rawMime: true,
    maxConcurrency,
    ...(o.ratePerSecond !== undefined ? { ratePerSecond: o.ratePerSecond } : {}),
  });

  let runtime: Promise<Runtime> | undefined;
  /** Large messages go through {@link addSlicedRawBody}; false once the SDK's body did not fit it. */
  let slicing = true;
  let closed = false;
  let closing: Promise<void> | undefined;
  const inflight = new Set<Promise<unknown>>();

  function getRuntime(): Promise<Runtime> {
    runtime ??= loadSdk(o.sdk).then((sdk) => {
      if (o.client !== undefined) return { sdk, client: o.client, owned: false };
      const maxSockets = Math.max(SDK_DEFAULT_MAX_SOCKETS, maxConcurrency);
      const config: SesClientConfig = {
        region: o.region!,
        maxAttempts: 1,
        requestHandler: { httpAgent: { maxSockets, keepAlive: true }, httpsAgent: { maxSockets, keepAlive: true } },
        ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
        ...(o.credentials !== undefined ? { credentials: o.credentials } : {}),
      };
      try {
        return { sdk, client: new sdk.SESv2Client(config), owned: true };
      } catch (err) {
        throw new MailError(`Could not create the SES client: ${err instanceof Error ? err.message : String(err)}`, {
          code: MailErrorCode.CONFIG,
          transport: TRANSPORT_NAME,
          cause: err,
        });
      }
    });
    return runtime;
  }

  function closedError(): MailError {
    return new MailError('SES transport is closed', { code: MailErrorCode.CLOSED, transport: TRANSPORT_NAME });
  }

  function abortedError(signal: AbortSignal): MailError {
    return new MailError('SES send was aborted', { code: MailErrorCode.ABORTED, transport: TRANSPORT_NAME, cause: signal.reason });
  }

  function track<T>(promise: Promise<T>): Promise<T> {
    inflight.add(promise);
    const done = (): void => {
      inflight.delete(promise);
    };
    promise.then(done, done);
    return promise;
  }

  /** Runs one SDK call with the caller's signal and the request timeout, mapping failures. */
  async function call(command: (sdk: SesSdk, owned: boolean) => object, signal: AbortSignal | undefined): Promise<unknown> {
    const rt = await getRuntime();
    if (signal?.aborted === true) throw abortedError(signal);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new MailError(`SES request timed out after ${requestTimeoutMs} ms`, { code: MailErrorCode.TIMEOUT, transport: TRANSPORT_NAME }));
    }, requestTimeoutMs);
    timer.unref();
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await rt.client.send(command(rt.sdk, rt.owned), { abortSignal: controller.signal });
    } catch (err) {
      if (err instanceof SlicingUnsupported) throw err;
      // Checked through a function: TypeScript would keep the narrowing from before the await.
      if (signal !== undefined && isAborted(signal)) throw abortedError(signal);
      if (timedOut) {
        throw new MailError(`SES request timed out after ${requestTimeoutMs} ms`, {
          code: MailErrorCode.TIMEOUT,
          transport: TRANSPORT_NAME,
          category: 'networkerror',
          cause: err,
        });
      }
      const f = factsOf(err);
      // A 2xx whose body could not be read: SES accepted the message. Sending it again would
      // deliver it twice, so it counts as sent, without a message id.
      if (f.status !== undefined && f.status >= 200 && f.status < 300) return { unreadable: f.message };
      throw mapError(err, rules);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async function doSend(prepared: PreparedMessage, context: TransportSendContext): Promise<SendResult> {
    const { signal } = context;
    const invalid = checkEnvelope(prepared.envelope);
    if (invalid !== undefined) throw invalid;
    let raw: Buffer;
    try {
      raw = await prepared.raw();
    } catch (err) {
      throw toMailError(err, MailErrorCode.VALIDATION);
    }
    if (raw.length > SES_MAX_MESSAGE_BYTES) {
      throw new MailError(`Message of ${raw.length} bytes exceeds the SES limit of ${SES_MAX_MESSAGE_BYTES} bytes`, {
        code: MailErrorCode.TOO_LARGE,
        transport: TRANSPORT_NAME,
        category: 'mesgtoobig',
      });
    }
    if (signal.aborted) throw abortedError(signal);
    const message = prepared.message;
    const tags = tagsFromMessage ? toSesTags(message.tags) : [];
    const input: SesSendEmailInput = {
      FromEmailAddress: message.from.address,
      Destination: { ToAddresses: [...prepared.envelope.to] },
      Content: { Raw: { Data: raw } },
      ...(o.feedbackForwardingEmailAddress !== undefined ? { FeedbackForwardingEmailAddress: o.feedbackForwardingEmailAddress } : {}),
      ...(o.configurationSetName !== undefined ? { ConfigurationSetName: o.configurationSetName } : {}),
      ...(tags.length > 0 ? { EmailTags: tags } : {}),
      ...(listManagement !== undefined ? { ListManagementOptions: { ...listManagement } } : {}),
    };
    let output: { MessageId?: unknown; unreadable?: string } | undefined;
    let sent = false;
    if (raw.length > SES_SLICED_RAW_BYTES && slicing) {
      // The SDK serializes a small placeholder; the middleware puts the message in its place.
      const placeholder = rawPlaceholder();
      const sliced: SesSendEmailInput = { ...input, Content: { Raw: { Data: placeholder.bytes } } };
      const check = (): void => {
        if (signal.aborted) throw abortedError(signal);
      };
      try {
        output = (await call((sdk, owned) => {
          const command = new sdk.SendEmailCommand(sliced);
          // A stream can be sent once: only through the client created here, which never retries (maxAttempts 1).
          if (!addSlicedRawBody(command, raw, placeholder.text, check, owned)) throw new SlicingUnsupported();
          return command;
        }, signal)) as typeof output;
        sent = true;
      } catch (err) {
        if (!(err instanceof SlicingUnsupported)) throw err;
        // No request was made: this SDK (or a middleware of the user's client) writes the body
        // differently. Send this and later messages the plain way.
        slicing = false;
      }
    }
    if (!sent) output = (await call((sdk) => new sdk.SendEmailCommand(input), signal)) as typeof output;
    const id = output?.MessageId;
    const accepted = prepared.envelope.to;
    if (typeof id === 'string' && id !== '') return { providerMessageId: id, response: `SES MessageId ${id}`, accepted, rejected: NO_REJECTIONS };
    const response = output?.unreadable !== undefined ? `SES accepted the message; its response could not be read: ${oneLine(output.unreadable, 200)}` : 'SES accepted the message without a MessageId';
    return { response, accepted, rejected: NO_REJECTIONS };
  }

  return {
    name: TRANSPORT_NAME,
    capabilities,
    send(prepared, context) {
      if (closed) return Promise.reject(closedError());
      if (context.signal.aborted) return Promise.reject(abortedError(context.signal));
      return track(doSend(prepared, context));
    },
    verify() {
      if (closed) return Promise.reject(closedError());
      return track(
        call((sdk) => new sdk.GetAccountCommand({}), undefined).then((output) => {
          if (isObject(output) && output.SendingEnabled === false) {
            throw new MailError('SES sending is disabled for this account', {
              code: MailErrorCode.TRANSPORT_PAUSED,
              transport: TRANSPORT_NAME,
              category: 'blocked',
              scope: 'transport',
            });
          }
        }),
      );
    },
    close() {
      // Sends in flight finish first (abort their signals to cut them short); a client this
      // transport created is destroyed afterwards, one given in `client` is left alone.
      if (closing === undefined) {
        closed = true;
        closing = Promise.allSettled([...inflight]).then(async () => {
          if (runtime === undefined) return;
          const rt = await runtime.catch(() => undefined);
          if (rt?.owned === true) rt.client.destroy?.();
        });
      }
      return closing;
    },
  };
}
