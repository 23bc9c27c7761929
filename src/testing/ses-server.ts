/**
 * A local Amazon SES v2 server for tests, examples and benchmarks: the real AWS SDK (or any
 * SigV4 HTTP client) talks to it through `endpoint`. It speaks `SendEmail` with raw content
 * (`POST /v2/email/outbound-emails`) and `GetAccount` (`GET /v2/email/account`), keeps what
 * it receives, and answers with scripted SES errors: throttling, paused accounts, rejected
 * messages, server errors, dropped connections and slow responses.
 *
 * Errors are written the way SES writes them (an HTTP status, the `x-amzn-ErrorType`
 * header, a JSON body with `message`), which is what the SDK reads to raise its named
 * exceptions (`TooManyRequestsException`, `MessageRejected`, ...).
 *
 * The signature itself is not checked, only the shape of the `Authorization` header and the
 * access key id when `accessKeyId` is set: tests run with dummy credentials. A request whose
 * client hung up before the answer (an aborted send) is not kept, where real SES may have
 * accepted it already.
 *
 * @example
 * ```ts
 * const ses = await startSesServer();
 * const transport = sesTransport({ region: ses.region, endpoint: ses.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
 * ses.failNext(1, 'TooManyRequestsException');
 * // ... send, then:
 * expect(ses.messages[0]?.destination.to).toEqual(['ann@example.com']);
 * await ses.close();
 * ```
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { CountWaiters, Connections, listenOn } from './fake-server.js';
import { readNodeBody } from '../http/body.js';
import { configError, MailError, MailErrorCode } from '../errors.js';
import { compileRecipientMatch, FAULT_PRESETS, formatReply, resolveFault } from '../transports/faults.js';
import type { Fault, FaultPreset, FaultReply, RecipientMatch } from '../transports/faults.js';

/** Names of the SES errors the server can answer with, see {@link SES_SERVER_ERRORS}. */
export type SesErrorName =
  | 'TooManyRequestsException'
  | 'ThrottlingException'
  | 'LimitExceededException'
  | 'SendingPausedException'
  | 'AccountSuspendedException'
  | 'MessageRejected'
  | 'MailFromDomainNotVerifiedException'
  | 'NotFoundException'
  | 'BadRequestException'
  | 'InternalFailure'
  | 'ServiceUnavailable'
  | 'AccessDeniedException'
  | 'UnrecognizedClientException'
  | 'InvalidSignatureException'
  | 'ExpiredTokenException';

/** An error response of your own. */
export interface SesErrorReply {
  /** HTTP status, 400-599. */
  readonly status: number;
  /** Exception name, sent in `x-amzn-ErrorType`; without it the SDK raises a generic exception named `Unknown`. */
  readonly type?: string;
  /** The `message` of the JSON body. */
  readonly message: string;
  /** Sent as a `Retry-After` header, in seconds. */
  readonly retryAfterSeconds?: number;
}

/**
 * What a scripted failure answers: an SES error name, an error of your own, or one of the
 * shared faults of mailpush/testing. A preset (`'tempfail'`, `'throttle-gmail'`, ...) is
 * answered with the SES error it stands for, see {@link SES_FAULT_PRESETS}. A reply object
 * of your own with a reply code is passed through: that code as the HTTP status, the reply
 * (`451 4.3.0 ...`) as the message, no error type (as from a gateway in front of SES).
 * `connection` drops the connection, `timeout` never answers.
 */
export type SesFault = SesErrorName | SesErrorReply | Fault;

/** The canonical status and message of each {@link SesErrorName}. */
export const SES_SERVER_ERRORS: Readonly<Record<SesErrorName, { readonly status: number; readonly message: string }>> = Object.freeze({
  TooManyRequestsException: { status: 429, message: 'Maximum sending rate exceeded.' },
  ThrottlingException: { status: 400, message: 'Rate exceeded' },
  LimitExceededException: { status: 400, message: 'Daily message quota exceeded.' },
  SendingPausedException: { status: 400, message: 'Sending is paused for this account.' },
  AccountSuspendedException: { status: 400, message: 'The account has been suspended from sending email.' },
  MessageRejected: { status: 400, message: 'Email address is not verified. The following identities failed the check in region US-EAST-1: sender@example.com' },
  MailFromDomainNotVerifiedException: { status: 400, message: 'The MAIL FROM domain is not verified.' },
  NotFoundException: { status: 404, message: 'Configuration set does not exist.' },
  BadRequestException: { status: 400, message: 'Bad request.' },
  InternalFailure: { status: 500, message: 'The request processing has failed because of an unknown error, exception or failure.' },
  ServiceUnavailable: { status: 503, message: 'Service is unable to handle request.' },
  AccessDeniedException: { status: 403, message: 'User is not authorized to perform: ses:SendEmail' },
  UnrecognizedClientException: { status: 403, message: 'The security token included in the request is invalid.' },
  InvalidSignatureException: { status: 403, message: 'The request signature we calculated does not match the signature you provided.' },
  ExpiredTokenException: { status: 403, message: 'The security token included in the request is expired' },
});

const REJECTED = (text: string): SesErrorReply => ({ status: 400, type: 'MessageRejected', message: text });
const RATE_EXCEEDED: SesErrorReply = { status: 429, type: 'TooManyRequestsException', message: SES_SERVER_ERRORS.TooManyRequestsException.message };

/**
 * The SES answer to each shared fault preset, so that suites written against the memory
 * transport or the SMTP sink read naturally here: a temporary failure is a 503, a refusal a
 * 400 `MessageRejected` with the preset's text (SES refuses a message, not a recipient: bad
 * addresses bounce later, asynchronously), and every provider throttle is SES's own
 * "Maximum sending rate exceeded".
 */
export const SES_FAULT_PRESETS: Readonly<Record<FaultPreset, SesErrorReply | 'drop' | 'hang'>> = Object.freeze({
  tempfail: { status: 503, type: 'ServiceUnavailable', message: SES_SERVER_ERRORS.ServiceUnavailable.message },
  permfail: REJECTED(FAULT_PRESETS.permfail.text),
  'throttle-gmail': RATE_EXCEEDED,
  'throttle-microsoft': RATE_EXCEEDED,
  'throttle-yahoo': RATE_EXCEEDED,
  connection: 'drop',
  timeout: 'hang',
  'recipient-unknown': REJECTED(FAULT_PRESETS['recipient-unknown'].text),
  'mailbox-full': REJECTED(FAULT_PRESETS['mailbox-full'].text),
});

/** A scripted failure for sends to some recipients. */
export interface SesServerRule {
  /** Recipients the rule applies to (any destination address of the request): address, `'@domain'`, glob, RegExp or predicate. */
  readonly match: RecipientMatch;
  /** The answer. @default accept (useful with `delayMs` alone for a slow server) */
  readonly fault?: SesFault;
  /** Wait this long before answering, in milliseconds. @default 0 */
  readonly delayMs?: number;
  /** Apply to the first `times` matching requests only. @default unlimited */
  readonly times?: number;
}

/** Options of {@link startSesServer}. */
export interface SesServerOptions {
  /** Port to listen on (always on 127.0.0.1); 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Region the server plays; the credential scope of requests must name it. @default 'us-east-1' */
  readonly region?: string;
  /** Refuse requests signed with another access key id (`UnrecognizedClientException`). @default any */
  readonly accessKeyId?: string;
  /** Verified identities (addresses or domains); mail from others is refused with `MessageRejected`. @default every sender is verified */
  readonly verifiedIdentities?: readonly string[];
  /** Existing configuration sets; any other name is refused with `NotFoundException`. @default every name exists */
  readonly configurationSets?: readonly string[];
  /** The account's maximum send rate per second, enforced with `TooManyRequestsException`. @default unlimited */
  readonly maxSendRate?: number;
  /** The account's sending quota since the start (or `reset()`), enforced with `LimitExceededException`. @default unlimited */
  readonly max24HourSend?: number;
  /** Scripted failures, checked in order after `failNext`. @default [] */
  readonly rules?: readonly SesServerRule[];
  /** Delay of every response, in milliseconds. @default 0 */
  readonly latencyMs?: number;
  /** Largest request body, in bytes; larger requests get 413. @default 57671680 (55 MiB: a 40 MiB message in base64, plus room) */
  readonly maxRequestBytes?: number;
  /** Largest raw message after base64 decoding, in bytes; larger ones get `MessageRejected`. @default 41943040 (40 MiB) */
  readonly maxMessageBytes?: number;
  /** Keep each accepted message in {@link SesServer.messages}; with false only the counts move (benchmarks). @default true */
  readonly keepMessages?: boolean;
}

/** A message the server accepted. */
export interface SesReceivedMessage {
  /** The raw MIME message, decoded from `Content.Raw.Data`. */
  readonly raw: Buffer;
  /** `FromEmailAddress`, or the address of the raw message's From header when it was not given. */
  readonly from: string;
  /** The request's destination lists (empty arrays for missing lists). */
  readonly destination: { readonly to: readonly string[]; readonly cc: readonly string[]; readonly bcc: readonly string[] };
  readonly configurationSetName?: string;
  /** `EmailTags`, in order. */
  readonly tags: readonly { readonly name: string; readonly value: string }[];
  readonly feedbackForwardingEmailAddress?: string;
  readonly listManagementOptions?: { readonly contactListName: string; readonly topicName?: string };
  /** The `MessageId` given back. */
  readonly messageId: string;
  /** When it was accepted, ms since epoch. */
  readonly receivedAt: number;
}

/** A running server. */
export interface SesServer {
  /** `http://127.0.0.1:PORT`, for the SDK's `endpoint` option. */
  readonly endpoint: string;
  readonly region: string;
  readonly port: number;
  /** Messages accepted so far, in order (empty with `keepMessages: false`). */
  readonly messages: readonly SesReceivedMessage[];
  /** Number of messages accepted so far. */
  readonly count: number;
  /** `SendEmail` requests received so far, accepted or not (shows retries). */
  readonly requests: number;
  /** Answers the next `count` valid `SendEmail` requests with `fault`. @default count 1, fault 'InternalFailure' */
  failNext(count?: number, fault?: SesFault): void;
  /** Sets the delay of every response, in milliseconds. */
  setLatency(ms: number): void;
  /** Pauses (false) or resumes (true) sending for the account: `SendingPausedException`, and `SendingEnabled: false` in GetAccount. */
  setSendingEnabled(enabled: boolean): void;
  /** Resolves once `count` messages were accepted in total; rejects with `TIMEOUT` after `timeoutMs`. @default timeoutMs 5000 */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  /** Forgets messages and counts, scripted failures and latency; re-arms the initial rules and enables sending. */
  reset(): void;
  /** Stops listening and drops open connections (and requests left unanswered). Idempotent. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------

type Answer =
  | { readonly kind: 'error'; readonly status: number; readonly type: string | undefined; readonly message: string; readonly retryAfterSeconds?: number }
  | { readonly kind: 'drop' }
  | { readonly kind: 'hang' };

interface ActiveRule {
  readonly test: (recipient: string) => boolean;
  readonly answer: Answer | undefined;
  readonly delayMs: number;
  remaining: number;
}

const DEFAULT_MAX_REQUEST_BYTES = 55 * 1024 * 1024;
const DEFAULT_MAX_MESSAGE_BYTES = 40 * 1024 * 1024;
const MAX_RECIPIENTS = 50;
const MAX_TAGS = 50;
const MAX_TIMER_MS = 2_147_483_647;
// Real SES sends the type with a namespace suffix; the SDK strips everything from the colon.
const ERROR_TYPE_SUFFIX = ':http://internal.amazon.com/coral/com.amazonaws.sesv2/';
const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([a-z0-9-]+)\/ses\/aws4_request, ?SignedHeaders=([a-z0-9-]+(?:;[a-z0-9-]+)*), ?Signature=[0-9a-f]{64}$/;
const AMZ_DATE = /^\d{8}T\d{6}Z$/;
// Checked as a character class plus padding rules: a repeated group over megabytes of data
// would overflow the RegExp backtracking stack.
const NOT_BASE64 = /[^A-Za-z0-9+/=]/;
const BAD_PADDING = /=[^=]|={3,}/;
const TAG = /^[A-Za-z0-9_-]{1,256}$/;
const ADDRESS = /^[^\s@\u0000-\u001f\u007f]+@[^\s@\u0000-\u001f\u007f]+$/;
const HEADER_END = /\r?\n\r?\n/;
const FROM_HEADER = /^from:[ \t]*((?:[^\r\n]|\r?\n[ \t])*)/im;
const ANGLE_ADDRESS = /<([^<>\s]+@[^<>\s]+)>/;
const BARE_ADDRESS = /([^\s<>,;:"()]+@[^\s<>,;:"()]+)/;

function isErrorName(value: unknown): value is SesErrorName {
  return typeof value === 'string' && Object.hasOwn(SES_SERVER_ERRORS, value);
}

function checkDelay(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw configError(option, 'a number of milliseconds from 0 to 2147483647', value);
  }
  return value;
}

function toAnswer(fault: unknown, option: string): Answer {
  if (isErrorName(fault)) return { kind: 'error', status: SES_SERVER_ERRORS[fault].status, type: fault, message: SES_SERVER_ERRORS[fault].message };
  if (typeof fault === 'string' && Object.hasOwn(SES_FAULT_PRESETS, fault)) {
    const preset = SES_FAULT_PRESETS[fault as FaultPreset];
    if (preset === 'drop' || preset === 'hang') return { kind: preset };
    return { kind: 'error', status: preset.status, type: preset.type, message: preset.message };
  }
  if (typeof fault === 'object' && fault !== null && 'status' in fault) {
    const f = fault as SesErrorReply;
    if (!(Number.isInteger(f.status) && f.status >= 400 && f.status <= 599)) throw configError(`${option}.status`, 'an HTTP status from 400 to 599', f.status);
    if (f.type !== undefined && (typeof f.type !== 'string' || !/^[A-Za-z][A-Za-z0-9_.]{0,127}$/.test(f.type))) {
      throw configError(`${option}.type`, 'an exception name (letters, digits, _ and .)', f.type);
    }
    if (typeof f.message !== 'string' || f.message.length > 10_000) throw configError(`${option}.message`, 'a string of at most 10000 characters', f.message);
    if (f.retryAfterSeconds !== undefined && !(Number.isInteger(f.retryAfterSeconds) && f.retryAfterSeconds >= 0)) {
      throw configError(`${option}.retryAfterSeconds`, 'an integer >= 0', f.retryAfterSeconds);
    }
    return { kind: 'error', status: f.status, type: f.type, message: f.message, ...(f.retryAfterSeconds !== undefined ? { retryAfterSeconds: f.retryAfterSeconds } : {}) };
  }
  let reply: FaultReply;
  try {
    reply = resolveFault(fault as Fault, option);
  } catch {
    throw configError(option, `an SES error name (${Object.keys(SES_SERVER_ERRORS).join(', ')}), { status, type, message }, or a mailpush fault`, fault);
  }
  if (reply.responseCode !== undefined) return { kind: 'error', status: reply.responseCode, type: undefined, message: formatReply(reply) };
  return /TIMEDOUT|TIMEOUT/i.test(reply.errorCode ?? '') ? { kind: 'hang' } : { kind: 'drop' };
}

function checkRule(rule: unknown, option: string): ActiveRule {
  if (typeof rule !== 'object' || rule === null) throw configError(option, 'a rule object', rule);
  const r = rule as SesServerRule;
  const times = r.times ?? Infinity;
  if (times !== Infinity && !(Number.isInteger(times) && times >= 1)) throw configError(`${option}.times`, 'a positive integer', r.times);
  return {
    test: compileRecipientMatch(r.match, `${option}.match`),
    answer: r.fault === undefined ? undefined : toAnswer(r.fault, `${option}.fault`),
    delayMs: checkDelay(r.delayMs ?? 0, `${option}.delayMs`),
    remaining: times,
  };
}

function checkOptions(options: unknown): SesServerOptions {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const o = options as SesServerOptions;
  if (o.port !== undefined && !(Number.isInteger(o.port) && o.port >= 0 && o.port <= 65535)) throw configError('port', 'an integer from 0 to 65535', o.port);
  if (o.region !== undefined && (typeof o.region !== 'string' || !/^[a-z]{2,}(?:-[a-z0-9]+)+$/.test(o.region))) throw configError('region', 'an AWS region like "us-east-1"', o.region);
  if (o.accessKeyId !== undefined && (typeof o.accessKeyId !== 'string' || o.accessKeyId === '')) throw configError('accessKeyId', 'a non-empty string', o.accessKeyId);
  for (const key of ['verifiedIdentities', 'configurationSets'] as const) {
    const list = o[key];
    if (list !== undefined && !(Array.isArray(list) && list.every((x) => typeof x === 'string' && x !== ''))) throw configError(key, 'an array of non-empty strings', list);
  }
  for (const key of ['maxSendRate', 'max24HourSend', 'maxRequestBytes', 'maxMessageBytes'] as const) {
    const value = o[key];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) throw configError(key, 'a finite number > 0', value);
  }
  if (o.rules !== undefined && !Array.isArray(o.rules)) throw configError('rules', 'an array of rules', o.rules);
  if (o.latencyMs !== undefined) checkDelay(o.latencyMs, 'latencyMs');
  if (o.keepMessages !== undefined && typeof o.keepMessages !== 'boolean') throw configError('keepMessages', 'a boolean', o.keepMessages);
  return o;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

const badRequest = (message: string): HttpError => new HttpError(400, 'BadRequestException', message);

function stringList(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) throw badRequest(`${field} must be a list of strings.`);
  for (const address of value as string[]) {
    if (address.length > 320 || !ADDRESS.test(address)) throw badRequest(`Invalid address in ${field}: Missing final '@domain'`);
  }
  return value as string[];
}

/** The address of the From header of a raw message, if it has one. */
function fromHeader(raw: Buffer): string | undefined {
  const head = raw.subarray(0, 64 * 1024).toString('latin1');
  const end = HEADER_END.exec(head);
  const headers = end === null ? head : head.slice(0, end.index);
  const value = FROM_HEADER.exec(headers)?.[1];
  if (value === undefined) return undefined;
  return (ANGLE_ADDRESS.exec(value) ?? BARE_ADDRESS.exec(value))?.[1];
}

function isVerified(address: string, identities: ReadonlySet<string> | undefined): boolean {
  if (identities === undefined) return true;
  const lower = address.toLowerCase();
  return identities.has(lower) || identities.has(lower.slice(lower.lastIndexOf('@') + 1));
}

/** A MessageId shaped like SES's (`0100018c...-<uuid>-000000`), unique per server. */
function newMessageId(): string {
  return `0100${Date.now().toString(16).padStart(12, '0')}-${randomUUID()}-000000`;
}

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

/**
 * Starts a local SES v2 server on 127.0.0.1.
 *
 * Requests must carry a SigV4 `Authorization` header of the right shape for service `ses`
 * and the server's region (403 otherwise, as SES answers). A `SendEmail` body is checked
 * like SES checks it: `Content.Raw.Data` must be valid base64 (`Simple` and `Template`
 * content are not supported by this fake), a sender must be given (`FromEmailAddress` or a
 * From header), there must be 1 to 50 destination addresses, tag names and values must use
 * `[A-Za-z0-9_-]` (at most 256 characters, 50 tags). Invalid requests get 400
 * `BadRequestException`; malformed JSON never crashes the server.
 *
 * @example
 * ```ts
 * import { startSesServer } from 'mailpush/testing';
 * import sesTransport from 'mailpush/transports/ses';
 *
 * const ses = await startSesServer({ verifiedIdentities: ['example.com'] });
 * const transport = sesTransport({ region: ses.region, endpoint: ses.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
 * // ... send through a mailer with this transport, then:
 * await ses.waitFor(1); // ses.messages[0].destination.to, .tags, .raw
 * await ses.close();
 * ```
 */
export async function startSesServer(options: SesServerOptions = {}): Promise<SesServer> {
  const o = checkOptions(options);
  const region = o.region ?? 'us-east-1';
  const maxRequestBytes = o.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const maxMessageBytes = o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const keepMessages = o.keepMessages ?? true;
  const identities = o.verifiedIdentities === undefined ? undefined : new Set(o.verifiedIdentities.map((x) => x.toLowerCase()));
  const configurationSets = o.configurationSets === undefined ? undefined : new Set(o.configurationSets);
  const initialRules = (o.rules ?? []).map((r, i) => checkRule(r, `rules[${i}]`));
  const initialTimes = initialRules.map((r) => r.remaining);

  let messages: SesReceivedMessage[] = [];
  let count = 0;
  let requests = 0;
  let latencyMs = o.latencyMs ?? 0;
  let sendingEnabled = true;
  let next: { remaining: number; answer: Answer }[] = [];
  let rules: ActiveRule[] = [...initialRules];
  // Send times within the last second, for maxSendRate.
  let recent: number[] = [];
  const waits = new CountWaiters('SES server', () => count, 'accepted');

  function writeJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.destroyed || res.headersSent) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': randomUUID(),
      ...headers,
    });
    res.end(text);
  }

  function writeError(res: ServerResponse, status: number, type: string | undefined, message: string, retryAfterSeconds?: number): void {
    const headers: Record<string, string> = {};
    if (type !== undefined) headers['x-amzn-errortype'] = `${type}${ERROR_TYPE_SUFFIX}`;
    if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
    writeJson(res, status, { message }, headers);
  }

  function answerWith(req: IncomingMessage, res: ServerResponse, answer: Answer): void {
    if (answer.kind === 'drop') req.socket.destroy();
    else if (answer.kind === 'error') writeError(res, answer.status, answer.type, answer.message, answer.retryAfterSeconds);
    // 'hang': never answer; close() or the client's abort ends the request.
  }

  function delay(ms: number): Promise<void> {
    return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms).unref());
  }

  function checkAuthorization(req: IncomingMessage): void {
    const auth = req.headers.authorization;
    if (auth === undefined || auth === '') throw new HttpError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    const m = AUTHORIZATION.exec(auth);
    const date = req.headers['x-amz-date'];
    if (m === null || typeof date !== 'string' || !AMZ_DATE.test(date) || !m[4]!.split(';').includes('host')) {
      throw new HttpError(403, 'IncompleteSignatureException', `Authorization header requires 'Credential', 'SignedHeaders' (with host) and 'Signature' parameters and an X-Amz-Date header. Authorization=${auth.slice(0, 200)}`);
    }
    if (m[3] !== region) throw new HttpError(403, 'InvalidSignatureException', `Credential should be scoped to a valid region. Expected ${region}, got ${m[3]}.`);
    if (o.accessKeyId !== undefined && m[1] !== o.accessKeyId) {
      throw new HttpError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    }
  }

  /** Reads the body up to the limit; `undefined` when it was too large (the 413 is already sent) or the request broke. */
  async function readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
    let body: Uint8Array | undefined;
    try {
      body = await readNodeBody(req, maxRequestBytes);
    } catch {
      return undefined; // the client's stream failed: nobody to answer
    }
    if (body !== undefined) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    // Answer, then close: reading the rest of a huge body would be the cost we refuse.
    writeError(res, 413, undefined, 'Request entity too large');
    res.once('finish', () => req.socket.destroySoon());
    return undefined;
  }


  function parseJson(body: Buffer): Record<string, unknown> {
    let value: unknown;
    try {
      value = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      throw badRequest('Request body is not valid JSON.');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('Request body must be a JSON object.');
    return value as Record<string, unknown>;
  }

  /** Validates a SendEmail body; returns the message to record (without its id and time). */
  function checkSendEmail(body: Record<string, unknown>): Omit<SesReceivedMessage, 'messageId' | 'receivedAt'> {
    const content = body.Content as Record<string, unknown> | undefined;
    if (typeof content !== 'object' || content === null) throw badRequest('Content is required.');
    const raw = content.Raw as Record<string, unknown> | undefined;
    if (typeof raw !== 'object' || raw === null) {
      throw badRequest(content.Simple !== undefined || content.Template !== undefined ? 'This SES fake only supports Content.Raw.' : 'Content must have Raw data.');
    }
    const data = raw.Data;
    if (typeof data !== 'string' || data === '' || data.length % 4 !== 0 || NOT_BASE64.test(data) || BAD_PADDING.test(data)) {
      throw badRequest('Content.Raw.Data must be non-empty base64.');
    }
    const bytes = Buffer.from(data, 'base64');
    if (bytes.length > maxMessageBytes) throw new HttpError(400, 'MessageRejected', `Message length is more than ${maxMessageBytes} bytes long: '${bytes.length}'.`);

    const fromField = body.FromEmailAddress;
    if (fromField !== undefined && (typeof fromField !== 'string' || fromField.length > 320 || !/@/.test(fromField) || /[\r\n]/.test(fromField))) {
      throw badRequest('Invalid FromEmailAddress.');
    }
    const fromValue = (fromField as string | undefined) ?? fromHeader(bytes);
    if (fromValue === undefined) throw badRequest("Missing required header 'From'.");
    const from = ANGLE_ADDRESS.exec(fromValue)?.[1] ?? fromValue;

    const d = body.Destination as Record<string, unknown> | undefined;
    if (d !== undefined && (typeof d !== 'object' || d === null || Array.isArray(d))) throw badRequest('Destination must be an object.');
    const to = stringList(d?.ToAddresses, 'ToAddresses');
    const cc = stringList(d?.CcAddresses, 'CcAddresses');
    const bcc = stringList(d?.BccAddresses, 'BccAddresses');
    const recipients = to.length + cc.length + bcc.length;
    if (recipients === 0) throw badRequest('Missing required destination: at least one of ToAddresses, CcAddresses and BccAddresses.');
    if (recipients > MAX_RECIPIENTS) throw badRequest(`Recipient count exceeds ${MAX_RECIPIENTS}.`);

    const tags: { name: string; value: string }[] = [];
    if (body.EmailTags !== undefined) {
      if (!Array.isArray(body.EmailTags) || body.EmailTags.length > MAX_TAGS) throw badRequest(`EmailTags must be a list of at most ${MAX_TAGS} tags.`);
      const names = new Set<string>();
      for (const t of body.EmailTags as unknown[]) {
        const tag = t as { Name?: unknown; Value?: unknown } | null;
        const name = tag?.Name;
        const value = tag?.Value;
        if (typeof name !== 'string' || !TAG.test(name)) throw badRequest(`Invalid tag name <${String(name).slice(0, 300)}>: only alphanumeric ASCII characters, '_', and '-' are allowed.`);
        if (typeof value !== 'string' || !TAG.test(value)) throw badRequest(`Invalid tag value <${String(value).slice(0, 300)}>: only alphanumeric ASCII characters, '_', and '-' are allowed.`);
        if (names.has(name)) throw badRequest(`Duplicate tag name <${name}>.`);
        names.add(name);
        tags.push({ name, value });
      }
    }

    const set = body.ConfigurationSetName;
    if (set !== undefined && typeof set !== 'string') throw badRequest('ConfigurationSetName must be a string.');
    if (set !== undefined && configurationSets !== undefined && !configurationSets.has(set)) {
      throw new HttpError(404, 'NotFoundException', `Configuration set <${set.slice(0, 100)}> does not exist.`);
    }
    const feedback = body.FeedbackForwardingEmailAddress;
    if (feedback !== undefined && (typeof feedback !== 'string' || !ADDRESS.test(feedback))) throw badRequest('Invalid FeedbackForwardingEmailAddress.');
    const list = body.ListManagementOptions as { ContactListName?: unknown; TopicName?: unknown } | undefined;
    if (list !== undefined && (typeof list !== 'object' || list === null || typeof list.ContactListName !== 'string' || (list.TopicName !== undefined && typeof list.TopicName !== 'string'))) {
      throw badRequest('ListManagementOptions must have a ContactListName.');
    }
    if (!isVerified(from, identities)) {
      throw new HttpError(400, 'MessageRejected', `Email address is not verified. The following identities failed the check in region ${region.toUpperCase()}: ${from}`);
    }
    return {
      raw: bytes,
      from,
      destination: { to, cc, bcc },
      ...(set !== undefined ? { configurationSetName: set } : {}),
      tags,
      ...(feedback !== undefined ? { feedbackForwardingEmailAddress: feedback as string } : {}),
      ...(list !== undefined
        ? { listManagementOptions: { contactListName: list.ContactListName as string, ...(typeof list.TopicName === 'string' ? { topicName: list.TopicName } : {}) } }
        : {}),
    };
  }

  /** The scripted answer for this request, consuming one use of the rule that gives it. */
  function scripted(recipients: readonly string[]): { answer: Answer | undefined; delayMs: number } | undefined {
    const first = next[0];
    if (first !== undefined) {
      if (--first.remaining <= 0) next.shift();
      return { answer: first.answer, delayMs: 0 };
    }
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (!recipients.some((r) => rule.test(r))) continue;
      if (--rule.remaining <= 0) rules.splice(i, 1);
      return { answer: rule.answer, delayMs: rule.delayMs };
    }
    return undefined;
  }

  /** Account limits, checked last like SES does after validating the request. */
  function accountLimit(now: number): Answer | undefined {
    if (!sendingEnabled) return { kind: 'error', status: 400, type: 'SendingPausedException', message: SES_SERVER_ERRORS.SendingPausedException.message };
    if (o.max24HourSend !== undefined && count >= o.max24HourSend) {
      return { kind: 'error', status: 400, type: 'LimitExceededException', message: SES_SERVER_ERRORS.LimitExceededException.message };
    }
    if (o.maxSendRate !== undefined) {
      let drop = 0;
      while (drop < recent.length && recent[drop]! <= now - 1000) drop++;
      if (drop > 0) recent = recent.slice(drop);
      if (recent.length >= o.maxSendRate) return { kind: 'error', status: 429, type: 'TooManyRequestsException', message: SES_SERVER_ERRORS.TooManyRequestsException.message };
    }
    return undefined;
  }

  async function sendEmail(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const message = checkSendEmail(parseJson(body));
    const d = message.destination;
    const script = scripted([...d.to, ...d.cc, ...d.bcc]);
    if (script !== undefined && script.delayMs > 0) await delay(script.delayMs);
    if (script?.answer !== undefined) {
      answerWith(req, res, script.answer);
      return;
    }
    const now = Date.now();
    const limit = accountLimit(now);
    if (limit !== undefined) {
      answerWith(req, res, limit);
      return;
    }
    if (req.socket.destroyed || res.destroyed) return; // the client gave up: SES would not have the request either
    if (o.maxSendRate !== undefined) recent.push(now);
    const messageId = newMessageId();
    count++;
    if (keepMessages) messages.push({ ...message, messageId, receivedAt: now });
    writeJson(res, 200, { MessageId: messageId });
    waits.notify();
  }

  function getAccount(res: ServerResponse): void {
    writeJson(res, 200, {
      DedicatedIpAutoWarmupEnabled: false,
      EnforcementStatus: 'HEALTHY',
      ProductionAccessEnabled: true,
      SendQuota: { Max24HourSend: o.max24HourSend ?? 50_000, MaxSendRate: o.maxSendRate ?? 14, SentLast24Hours: count },
      SendingEnabled: sendingEnabled,
      SuppressionAttributes: { SuppressedReasons: ['BOUNCE', 'COMPLAINT'] },
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    const isSend = path === '/v2/email/outbound-emails';
    const isAccount = path === '/v2/email/account';
    if (!isSend && !isAccount) {
      req.resume();
      writeError(res, 404, 'UnknownOperationException', `No operation at ${req.method ?? ''} ${path?.slice(0, 100) ?? ''}`);
      return;
    }
    if ((isSend && req.method !== 'POST') || (isAccount && req.method !== 'GET')) {
      req.resume();
      writeError(res, 405, undefined, `Method ${req.method ?? ''} not allowed`);
      return;
    }
    if (isSend) requests++;
    try {
      checkAuthorization(req);
    } catch (err) {
      req.resume();
      const e = err as HttpError;
      writeError(res, e.status, e.type, e.message);
      return;
    }
    const body = await readBody(req, res);
    if (body === undefined) return;
    if (latencyMs > 0) await delay(latencyMs);
    try {
      if (isSend) await sendEmail(req, res, body);
      else getAccount(res);
    } catch (err) {
      if (err instanceof HttpError) writeError(res, err.status, err.type, err.message);
      else writeError(res, 500, 'InternalFailure', SES_SERVER_ERRORS.InternalFailure.message);
    }
  }

  const server: Server = createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) writeError(res, 500, 'InternalFailure', SES_SERVER_ERRORS.InternalFailure.message);
    });
  });
  const connections = new Connections(server);
  // Garbage on the wire (not HTTP, oversized headers) closes that connection only.
  server.on('clientError', (_err, socket) => socket.destroy());
  // Node closes idle keep-alive connections after 5 s; a client that reuses one at that
  // moment gets "socket hang up". A minute, like AWS endpoints, keeps loaded test machines
  // and benchmarks clear of that race (close() still drops every connection at once).
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;

  const port = await listenOn(server, '127.0.0.1', o.port ?? 0);

  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    port,
    get messages() {
      return messages;
    },
    get count() {
      return count;
    },
    get requests() {
      return requests;
    },
    failNext(n = 1, fault = 'InternalFailure') {
      if (!(Number.isInteger(n) && n >= 1)) throw configError('count', 'a positive integer', n);
      next.push({ remaining: n, answer: toAnswer(fault, 'fault') });
    },
    setLatency(ms) {
      latencyMs = checkDelay(ms, 'latencyMs');
    },
    setSendingEnabled(enabled) {
      if (typeof enabled !== 'boolean') throw configError('enabled', 'a boolean', enabled);
      sendingEnabled = enabled;
    },
    waitFor(target, timeoutMs = 5000) {
      return waits.waitFor(target, timeoutMs);
    },
    reset() {
      messages = [];
      count = 0;
      requests = 0;
      recent = [];
      next = [];
      latencyMs = o.latencyMs ?? 0;
      sendingEnabled = true;
      initialRules.forEach((r, i) => {
        r.remaining = initialTimes[i]!;
      });
      rules = [...initialRules];
    },
    close() {
      if (closed === undefined) {
        waits.close('SES server closed before the expected messages arrived');
        closed = new Promise<void>((resolve) => {
          server.close(() => resolve());
          connections.destroyAll();
        });
      }
      return closed;
    },
  };
}
