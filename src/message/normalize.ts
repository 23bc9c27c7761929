/**
 * Message normalization: every message given to `mailer.send()` goes through
 * {@link normalizeMessage} once. The result is validated, immutable and stored in the queue.
 *
 * Error codes:
 * - `INVALID_ADDRESS`: an address (from, to, cc, bcc, replyTo, returnPath) is malformed.
 * - `INVALID_HEADER`: a header name or value (subject, `headers`, attachment filename, content
 *   type or cid, Message-ID, tags) contains CR, LF, NUL or another control character, is too
 *   long, is owned by the message model (From, Subject, ...), is a trace or signature header
 *   that only relays, receivers or the mailer write (Received, Resent-*, DKIM-Signature,
 *   ARC-*, Authentication-Results, X-Mailpush-*), is a JavaScript object key (`__proto__`,
 *   `constructor`, ...) or is repeated where RFC 5322 allows one; also too many headers.
 * - `TOO_LARGE`: the estimated size, the recipient count (entries are counted before any
 *   address is parsed), the attachment count or the metadata size is over its limit.
 * - `VALIDATION`: anything else (wrong types, no recipients, empty message, unsupported
 *   nodemailer options such as attachment `path`, metadata that is not JSON).
 *
 * @module
 */

import { randomFillSync } from 'node:crypto';
import { MailError, MailErrorCode, configError } from '../errors.js';
import type { Address, AddressInput, Attachment, MessageCategory, MessageInput, NormalizedMessage } from '../types.js';
import { describeCharAt, domainOf, findTextControl, normalizeDomain, parseAddress, parseAddressList, showValue } from './address.js';
import { isCampaignId } from '../campaigns/ids.js';
import { htmlToText } from './text-alternative.js';
import { findUnknownKey, knownKeys, unknownKeyError } from '../validation/known-keys.js';
import type { KnownKeys } from '../validation/known-keys.js';

/** Limits applied to every message. All values are positive integers. */
export interface MessageLimits {
  /** Largest estimated composed size, in bytes. @default 26_214_400 (25 MiB) */
  readonly maxBytes?: number;
  /**
   * Most envelope recipients (to + cc + bcc after de-duplication). The entries as given are
   * counted first, before any address is parsed: more than `RECIPIENT_ENTRIES_FACTOR` (10)
   * times this limit, duplicates included, is refused at once, so an oversized list costs
   * nothing to reject. @default 1000
   */
  readonly maxRecipients?: number;
  /**
   * Longest value of an extra header, in characters, before folding (RFC 5322 2.1.1 allows 998
   * octets per line, and a value without spaces cannot be folded). Also bounds header names
   * and the Message-ID. @default 998
   */
  readonly maxHeaderLineLength?: number;
  /** Most extra headers (`headers`, counting each value of a repeated header). @default 100 */
  readonly maxHeaders?: number;
  /** Longest subject in characters; it is folded, so it may exceed `maxHeaderLineLength`. @default 2048 */
  readonly maxSubjectLength?: number;
  /** Most attachments. @default 100 */
  readonly maxAttachments?: number;
  /** Most tags. @default 50 (the SES limit) */
  readonly maxTags?: number;
  /** Longest tag name or value in characters. @default 256 (the SES limit) */
  readonly maxTagLength?: number;
  /** Largest metadata, estimated as its JSON size in characters. @default 65_536 */
  readonly maxMetadataBytes?: number;
}

/** The default {@link MessageLimits}. */
export const DEFAULT_MESSAGE_LIMITS: Required<MessageLimits> = Object.freeze({
  maxBytes: 26_214_400,
  maxRecipients: 1000,
  maxHeaderLineLength: 998,
  maxHeaders: 100,
  maxSubjectLength: 2048,
  maxAttachments: 100,
  maxTags: 50,
  maxTagLength: 256,
  maxMetadataBytes: 65_536,
});

const LIMIT_KEYS = Object.keys(DEFAULT_MESSAGE_LIMITS) as (keyof MessageLimits)[];

/**
 * Merges limits with {@link DEFAULT_MESSAGE_LIMITS} and validates them.
 *
 * @param limits - Limits given by the host; missing ones take their default.
 * @param option - Option path for error messages, like `limits.message`.
 * @returns A frozen object with every limit set.
 * @throws MailError `CONFIG` when `limits` is not an object, has an unknown key or a value
 *   that is not a positive integer.
 */
export function validateMessageLimits(limits: MessageLimits | undefined, option: string): Required<MessageLimits> {
  try {
    return mergeLimits(limits, option);
  } catch (err) {
    if (err instanceof MailError) throw err;
    // A getter or proxy that throws while the limits are read.
    throw new MailError(`Could not read \`${option}\`: ${safeMessage(err)}`, { code: MailErrorCode.CONFIG, option, cause: err });
  }
}

function mergeLimits(limits: MessageLimits | undefined, option: string): Required<MessageLimits> {
  if (limits === undefined) return DEFAULT_MESSAGE_LIMITS;
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) throw configError(option, 'an object', limits);
  for (const key of Object.keys(limits)) {
    if (!(LIMIT_KEYS as string[]).includes(key)) {
      throw new MailError(`Unknown limit \`${option}.${key}\`; the limits are ${LIMIT_KEYS.join(', ')}`, {
        code: MailErrorCode.CONFIG,
        option: `${option}.${key}`,
      });
    }
  }
  const out: Record<string, number> = {};
  for (const key of LIMIT_KEYS) {
    const value: unknown = limits[key];
    if (value === undefined) {
      out[key] = DEFAULT_MESSAGE_LIMITS[key];
    } else if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) {
      out[key] = value;
    } else {
      throw configError(`${option}.${key}`, 'a positive integer', value);
    }
  }
  return Object.freeze(out as Required<MessageLimits>);
}

/** Context of one {@link normalizeMessage} call. */
export interface NormalizeOptions {
  /** Current time, ms since the epoch; the Date header when the message has none. */
  readonly now: number;
  /** Limits, already validated by `validateMessageLimits`. @default DEFAULT_MESSAGE_LIMITS */
  readonly limits?: Required<MessageLimits>;
  /**
   * Generates the internal message id.
   * @default `createMessageId`: `msg_` + 32 random hex digits. When the Message-ID is
   * generated too, both come from the same random (version 4) UUID (`<uuid@domain>` and
   * `msg_` + the uuid's hex digits), which halves the cost; neither is a secret.
   */
  readonly createId?: () => string;
  /** Domain of generated Message-IDs. @default the From domain */
  readonly messageIdDomain?: string | undefined;
  /**
   * Accept recipients in a one-label domain (`ann@localhost`, `ops@mailhub`). Off by default:
   * `ann@example` is far more often a typo for `ann@example.com` than a local host.
   * @default false
   */
  readonly allowLocalDomains?: boolean | undefined;
}

/** Generates an internal message id: `msg_` and the 32 hex digits of a random (version 4) UUID. */
export function createMessageId(): string {
  return idFromBytes(nextUuidBytes());
}

// Ids and Message-IDs are written as bytes into scratch buffers and read out as one flat
// string each. crypto.randomUUID() builds its string from ~20 concatenations (~600 B of
// garbage per call), and `'msg_' + hex` or `join` made more: ~1 KB per message in all,
// about a tenth of what a message allocates on its way through the mailer.
// One randomFillSync per 4,096 ids: a fill has a fixed cost of several µs (4 KiB took ~9.7 µs,
// 64 KiB ~39 µs: 38 ns per id with 256 ids per fill, 10 ns with 4,096).
const UUID_POOL_BYTES = 16 * 4096;
const uuidPool = Buffer.allocUnsafe(UUID_POOL_BYTES);
let uuidPoolAt = UUID_POOL_BYTES;
/** ASCII codes of the 256 byte values as two lower-case hex digits: high in the high byte. */
const HEX_PAIRS: Uint16Array = (() => {
  const digits = '0123456789abcdef';
  const out = new Uint16Array(256);
  for (let i = 0; i < 256; i++) out[i] = (digits.charCodeAt(i >> 4) << 8) | digits.charCodeAt(i & 15);
  return out;
})();
/** `msg_` and 32 hex digits. */
const idScratch = Buffer.from('msg_00000000000000000000000000000000', 'latin1');
/** `<` uuid `@` domain `>`; the domain part is rewritten only when it changes. */
const midScratch = Buffer.alloc(512);
midScratch[0] = 0x3c;
midScratch[37] = 0x40;
let midDomain: string | undefined;
let midLength = 0;

/** Offset in the pool of 16 fresh random bytes with the version 4 and variant bits of a UUID set. */
function nextUuidBytes(): number {
  if (uuidPoolAt === UUID_POOL_BYTES) {
    randomFillSync(uuidPool);
    uuidPoolAt = 0;
  }
  const at = uuidPoolAt;
  uuidPoolAt += 16;
  uuidPool[at + 6] = ((uuidPool[at + 6] as number) & 0x0f) | 0x40;
  uuidPool[at + 8] = ((uuidPool[at + 8] as number) & 0x3f) | 0x80;
  return at;
}

function idFromBytes(at: number): string {
  for (let i = 0; i < 16; i++) {
    const pair = HEX_PAIRS[uuidPool[at + i] as number] as number;
    idScratch[4 + 2 * i] = pair >> 8;
    idScratch[5 + 2 * i] = pair & 0xff;
  }
  return idScratch.toString('latin1', 0, 36);
}

/** `<uuid@domain>` of the 16 bytes at `at` (the uuid in its 8-4-4-4-12 form). */
function messageIdFromBytes(at: number, domain: string): string {
  if (domain !== midDomain) {
    // Normalized domains are ASCII; anything else (or too long) takes the plain way.
    if (domain.length > midScratch.length - 40 || !/^[\x21-\x7e]*$/.test(domain)) return `<${uuidOf(at)}@${domain}>`;
    midScratch.write(domain, 38, 'latin1');
    midScratch[38 + domain.length] = 0x3e;
    midLength = 39 + domain.length;
    midDomain = domain;
  }
  let o = 1;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) midScratch[o++] = 0x2d;
    const pair = HEX_PAIRS[uuidPool[at + i] as number] as number;
    midScratch[o++] = pair >> 8;
    midScratch[o++] = pair & 0xff;
  }
  return midScratch.toString('latin1', 0, midLength);
}

function uuidOf(at: number): string {
  const hex = uuidPool.toString('hex', at, at + 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The last From string parsed, its address and the domain of generated Message-IDs: a mailer
 * sends from few addresses, so the same frozen {@link Address} (and its strings) is shared by
 * every message from it instead of a copy per message. Pure: the same input gives the same value.
 */
let lastFrom: FromParts | undefined;
/** The last `messageIdDomain` option and its normalized form. */
let lastIdDomain: { readonly input: string; readonly domain: string } | undefined;

interface FromParts {
  readonly input: string;
  readonly address: Address;
  readonly domain: string;
}

/** Most From strings {@link fromMemo} holds; it is emptied when full (a bound, not an LRU). */
const FROM_MEMO_SIZE = 32;
/**
 * From strings parsed before, behind {@link lastFrom}: a service that alternates between a few
 * senders (`noreply@`, `news@`) shares each one's frozen Address too. Only strings that parsed
 * are kept; objects are never kept (they could change).
 */
const fromMemo = new Map<string, FromParts>();

/**
 * How many From strings the memo holds (at most 32), for tests.
 *
 * @example
 * ```ts
 * fromMemoSize(); // 0 before any message, never more than 32
 * ```
 * @internal
 */
export function fromMemoSize(): number {
  return fromMemo.size;
}

function readFrom(input: unknown): { readonly address: Address; readonly domain: string } {
  if (typeof input === 'string') {
    const last = lastFrom;
    if (last !== undefined && last.input === input) return last;
    let parts = fromMemo.get(input);
    if (parts === undefined) {
      const address = parseAddress(input, 'from');
      parts = Object.freeze({ input, address, domain: domainOf(address.address) });
      if (fromMemo.size >= FROM_MEMO_SIZE) fromMemo.clear();
      fromMemo.set(input, parts);
    }
    lastFrom = parts;
    return parts;
  }
  const address = parseAddress(input as AddressInput, 'from');
  return { address, domain: domainOf(address.address) };
}

function messageIdDomain(input: string): string {
  const last = lastIdDomain;
  if (last !== undefined && last.input === input) return last.domain;
  let domain: string;
  try {
    domain = normalizeDomain(input);
  } catch {
    throw configError('messageIdDomain', 'a valid domain name', input);
  }
  lastIdDomain = { input, domain };
  return domain;
}

const EMPTY_LIST: readonly never[] = Object.freeze([]);
const EMPTY_RECORD: Readonly<Record<string, never>> = Object.freeze({});

// Headers the message model writes itself. Lower case; the value says where to set it instead.
const OWNED_HEADERS: ReadonlyMap<string, string> = new Map([
  ['from', 'use the `from` field'],
  ['to', 'use the `to` field'],
  ['cc', 'use the `cc` field'],
  ['bcc', 'use the `bcc` field'],
  ['reply-to', 'use the `replyTo` field'],
  ['subject', 'use the `subject` field'],
  ['date', 'use the `date` field'],
  ['message-id', 'use the `messageId` field'],
  ['return-path', 'use the `returnPath` field'],
  ['sender', 'the Sender header is not supported; the From address is the sender'],
  ['mime-version', 'it is written by MIME composition'],
  ['content-type', 'it is written by MIME composition; set `contentType` on attachments'],
  ['content-transfer-encoding', 'it is written by MIME composition'],
  ['content-disposition', 'it is written by MIME composition; set `disposition` on attachments'],
  ['content-id', 'it is written by MIME composition; set `cid` on attachments'],
]);

// Trace and signature headers: written by relays and receivers (Received, Return-Path,
// Resent-*, Authentication-Results) or at signing time (DKIM-Signature, ARC-*), never by the
// author. A caller that sets them forges trace data or a signature the mailer did not make.
// Lower case; the value says why.
const TRACE_HEADERS: ReadonlyMap<string, string> = new Map([
  ['received', 'it is a trace header that each relay adds (RFC 5321 4.4)'],
  ['received-spf', 'it is a trace header that the receiver adds (RFC 7208 9.1)'],
  ['authentication-results', 'it is added by the receiver that verified the message (RFC 8601)'],
  ['dkim-signature', 'DKIM signatures are added by the mailer at send time; configure `dkim` on the mailer'],
  ['domainkey-signature', 'it is an obsolete signature header (RFC 4870); configure `dkim` on the mailer'],
]);

// Header name prefixes refused the same way, with the reason.
const TRACE_PREFIXES: readonly (readonly [string, string])[] = [
  ['resent-', 'Resent-* fields are added when a mailbox re-sends a message it received (RFC 5322 3.6.6), not when a message is composed'],
  ['arc-', 'ARC-* fields are added by intermediaries that forward the message (RFC 8617)'],
  ['x-mailpush-', 'X-Mailpush-* headers are reserved: the mailer adds X-Mailpush-Job-Id itself and feedback processing trusts them to find the job'],
];

// Names of Object.prototype properties (and `prototype`), lower case: a header map built as a
// plain object (`headers[name] = value`, here, in nodemailer or in a transport) drops
// `__proto__` silently and reads `constructor` as a function. Compared case-insensitively
// because some consumers lower-case names before using them as keys.
const OBJECT_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
  'hasownproperty',
  'isprototypeof',
  'propertyisenumerable',
  'tostring',
  'tolocalestring',
  'valueof',
  '__definegetter__',
  '__definesetter__',
  '__lookupgetter__',
  '__lookupsetter__',
]);

const OBJECT_KEY_REASON = 'it is the name of a JavaScript object property, which header maps built from plain objects drop or misread';

// Every refused name in one map: one lookup per header on the hot path.
const REFUSED_HEADERS: ReadonlyMap<string, string> = new Map([
  ...OWNED_HEADERS,
  ...TRACE_HEADERS,
  ...[...OBJECT_KEYS].map((key) => [key, OBJECT_KEY_REASON] as const),
]);

/** Why a header name (lower case) may not be set through `headers`, or undefined. */
function refusedHeader(lower: string): string | undefined {
  const reason = REFUSED_HEADERS.get(lower);
  if (reason !== undefined) return reason;
  // Prefixes start with a, r or x: skip the loop for every other name.
  const c = lower.charCodeAt(0);
  if (c === 0x61 || c === 0x72 || c === 0x78) {
    for (const [prefix, why] of TRACE_PREFIXES) if (lower.startsWith(prefix)) return why;
  }
  return undefined;
}

// At most once per message: RFC 5322 3.6 (In-Reply-To, References), RFC 8058 (one
// List-Unsubscribe-Post) and Gmail's Feedback-ID; Yahoo refuses duplicated headers. The value
// is a bit to remember which were seen without allocating a Set per message.
const SINGLE_HEADERS: ReadonlyMap<string, number> = new Map([
  ['in-reply-to', 1],
  ['references', 2],
  ['list-unsubscribe', 4],
  ['list-unsubscribe-post', 8],
  ['list-id', 16],
  ['feedback-id', 32],
]);

// nodemailer message options that mailpush does not take, with what to do instead. Checked
// so that such a message fails loudly rather than going out without them.
const UNSUPPORTED_FIELDS: readonly (readonly [string, string])[] = [
  ['raw', 'raw MIME is not accepted; give from, to, subject, text, html and attachments'],
  ['envelope', 'the envelope comes from from/to/cc/bcc and `returnPath`'],
  ['sender', 'the Sender header is not supported'],
  ['inReplyTo', "set it through `headers: { 'In-Reply-To': ... }`"],
  ['references', "set it through `headers: { References: ... }`"],
  ['alternatives', 'only `text` and `html` bodies are supported'],
  ['amp', 'AMP bodies are not supported'],
  ['watchHtml', 'only `text` and `html` bodies are supported'],
  ['icalEvent', 'give the calendar as an attachment'],
  ['dkim', 'DKIM is configured on the mailer, not per message'],
  ['priority', 'it is an option of mailer.send(), not a message field'],
  ['sendAt', 'it is an option of mailer.send(), not a message field'],
  ['idempotencyKey', 'it is an option of mailer.send(), not a message field'],
  ['template', 'templates are rendered by mailer.send() and sendMany(); normalize the rendered message (template.render(vars))'],
  ['vars', 'template variables are rendered by mailer.send() and sendMany() together with `template`'],
];

/** Refuses a recipient whose domain has one label (`ann@example`): a typo unless the mailer allows local domains. */
function checkDotted(list: readonly Address[], field: string): void {
  // Indexed loops here and in addressesSize: `for...of` allocated an iterator result per
  // address on this path (~300 B per message in an allocation profile).
  for (let i = 0; i < list.length; i++) {
    const a = list[i] as Address;
    if (hasDottedDomain(a.address)) continue;
    throw new MailError(
      `\`${field}\` address ${JSON.stringify(a.address)} has a one-label domain (no dot): a typo for a full domain? Set the mailer option \`allowLocalDomains: true\` to send to local hosts`,
      { code: MailErrorCode.INVALID_ADDRESS, recipient: a.address },
    );
  }
}

/** True when the domain of a normalized address (after its last `@`) has a dot; a loop from the end, no runtime call. */
function hasDottedDomain(address: string): boolean {
  for (let i = address.length - 1; i >= 0; i--) {
    const c = address.charCodeAt(i);
    if (c === 0x2e) return true;
    if (c === 0x40) return false;
  }
  return false;
}

/**
 * Every field {@link MessageInput} takes: any other key is refused with a VALIDATION error that
 * suggests the nearest name (`fromm` -> `from`); the nodemailer fields above get their own hint.
 * Adding a message field? Add its name here too, or normalizeMessage refuses it.
 */
export const MESSAGE_KEYS: KnownKeys = knownKeys([
  'from', 'to', 'cc', 'bcc', 'replyTo', 'subject', 'text', 'html', 'headers', 'attachments', 'tags', 'metadata',
  'category', 'returnPath', 'messageId', 'date',
  // Issue 12 (templates, unsubscribe lists, campaigns).
  'template', 'vars', 'list', 'campaign',
]);

/** A message's `list`: the rule of src/stores/subscription-record.ts (not imported: stores sit below messages). */
const LIST_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/**
 * Entries of to + cc + bcc as given (duplicates included) that are read at most, as a multiple
 * of `maxRecipients`. Counted from array lengths before any address is parsed, so a list of a
 * million addresses is refused in constant time; below it, duplicates are still allowed and
 * the limit applies to unique addresses.
 */
export const RECIPIENT_ENTRIES_FACTOR = 10;

const CATEGORIES: readonly MessageCategory[] = ['transactional', 'marketing'];
const ENCODINGS: readonly string[] = ['utf8', 'base64', 'hex'];
const DISPOSITIONS: readonly string[] = ['attachment', 'inline'];
const MAX_ATTACHMENT_PARAM_LENGTH = 255;
const MAX_METADATA_DEPTH = 64;
// Latest date nodemailer can format as a 4-digit year (9999-12-31T23:59:59.999Z).
const MAX_DATE_MS = 253_402_300_799_999;
// Headers the composer writes (Date, Message-ID, MIME-Version, Content-Type, boundaries).
const BASE_OVERHEAD_BYTES = 512;
const PART_OVERHEAD_BYTES = 256;
const BASE64_CHARS = /^[A-Za-z0-9+/=_\-\s]*$/;
const HEX_CHARS = /^[0-9A-Fa-f]*$/;

function validation(message: string, cause?: unknown): MailError {
  return new MailError(message, cause === undefined ? { code: MailErrorCode.VALIDATION } : { code: MailErrorCode.VALIDATION, cause });
}

function invalidHeader(message: string): MailError {
  return new MailError(message, { code: MailErrorCode.INVALID_HEADER });
}

function tooLarge(message: string): MailError {
  return new MailError(message, { code: MailErrorCode.TOO_LARGE });
}

/** True for `{}`-like objects, from this or another realm, and null-prototype objects. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/** Own property assignment that also works for the key `__proto__`. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** Refuses control characters (TAB allowed) in text that becomes part of a header. */
function checkHeaderText(text: string, what: string): void {
  const i = findTextControl(text);
  if (i >= 0) throw invalidHeader(`${what} contains ${describeCharAt(text, i)} (${showValue(text)}); line breaks in headers are not allowed`);
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw validation(`Expected ${what} to be a string, got ${showValue(value)}`);
  return value;
}

function utf8Length(text: string): number {
  return text.length === 0 ? 0 : Buffer.byteLength(text, 'utf8');
}

/** Size of `bytes` bytes in base64 with CRLF every 76 characters. */
function base64Size(bytes: number): number {
  const encoded = Math.ceil(bytes / 3) * 4;
  return encoded + Math.ceil(encoded / 76) * 2;
}

function addressesSize(list: readonly Address[]): number {
  let size = 0;
  // Names count one byte per character: encoded-words inflate them anyway, this is an estimate.
  for (let i = 0; i < list.length; i++) {
    const a = list[i] as Address;
    size += a.address.length + (a.name === undefined ? 0 : a.name.length) + 6;
  }
  return size;
}

/** Entries of an address field as given: an array counts its items, one address counts one. */
function entryCount(value: unknown): number {
  if (value === undefined || value === null) return 0;
  return Array.isArray(value) ? (value as readonly unknown[]).length : 1;
}

function readAddressList(value: unknown, field: string): readonly Address[] {
  if (value === undefined || value === null) return EMPTY_LIST;
  return Object.freeze(parseAddressList(value as AddressInput | readonly AddressInput[], field));
}

interface HeadersResult {
  readonly headers: NormalizedMessage['headers'];
  readonly bytes: number;
}

function headerField(name: string, repeated: boolean, index: number): string {
  const shown = JSON.stringify(name.length > 40 ? `${name.slice(0, 37)}...` : name);
  return `headers[${shown}]${repeated ? `[${index}]` : ''}`;
}

/** The result for a message without `headers` (most): one shared object, not a new one per message. */
const NO_HEADERS: HeadersResult = { headers: EMPTY_LIST, bytes: 0 };

function readHeaders(value: unknown, limits: Required<MessageLimits>): HeadersResult {
  if (value === undefined || value === null) return NO_HEADERS;
  if (!isPlainObject(value)) throw validation(`Expected \`headers\` to be a plain object of name -> value, got ${showValue(value)}`);
  const out: (readonly [string, string])[] = [];
  let bytes = 0;
  let seenSingle = 0;
  const max = limits.maxHeaders;
  const maxLength = limits.maxHeaderLineLength;
  for (const name of Object.keys(value)) {
    if (name.length === 0) throw invalidHeader('A header name in `headers` is empty');
    if (name.length > maxLength - 2) throw invalidHeader(`The header name ${showValue(name)} is longer than ${maxLength - 2} characters`);
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      // RFC 5322 2.2: field-name = 1*ftext, printable US-ASCII except ':'.
      if (c < 33 || c > 126 || c === 58) {
        throw invalidHeader(`The header name ${showValue(name)} contains ${describeCharAt(name, i)}; names are printable ASCII without ':'`);
      }
    }
    const lower = name.toLowerCase();
    const refused = refusedHeader(lower);
    if (refused !== undefined) throw invalidHeader(`The header ${JSON.stringify(name)} cannot be set through \`headers\`: ${refused}`);
    const raw = value[name];
    const repeated = Array.isArray(raw);
    const count = repeated ? (raw as readonly unknown[]).length : 1;
    const single = SINGLE_HEADERS.get(lower);
    if (single !== undefined) {
      if (count > 1 || (seenSingle & single) !== 0) throw invalidHeader(`The header ${JSON.stringify(name)} may appear only once`);
      seenSingle |= single;
    }
    if (out.length + count > max) throw invalidHeader(`Too many headers in \`headers\`: more than ${max}`);
    for (let i = 0; i < count; i++) {
      const v: unknown = repeated ? (raw as readonly unknown[])[i] : raw;
      if (typeof v !== 'string') throw invalidHeader(`Expected ${headerField(name, repeated, i)} to be a string, got ${showValue(v)}`);
      if (v.length > maxLength) {
        throw invalidHeader(`The value of ${headerField(name, repeated, i)} is ${v.length} characters long, over the limit of ${maxLength}`);
      }
      if (findTextControl(v) >= 0) checkHeaderText(v, `The value of ${headerField(name, repeated, i)}`);
      out.push(Object.freeze([name, v] as const));
      bytes += name.length + utf8Length(v) + 4;
    }
  }
  return { headers: out.length === 0 ? EMPTY_LIST : Object.freeze(out), bytes };
}

function checkAttachmentParam(value: unknown, where: string, maxLength: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw validation(`Expected ${where} to be a string, got ${showValue(value)}`);
  if (value.length === 0 || value.length > maxLength) throw invalidHeader(`${where} must be 1 to ${maxLength} characters long, got ${value.length}`);
  checkHeaderText(value, where);
  return value;
}

interface AttachmentsResult {
  readonly attachments: readonly Attachment[];
  readonly bytes: number;
}

/** The result for a message without `attachments` (most), shared like {@link NO_HEADERS}. */
const NO_ATTACHMENTS: AttachmentsResult = { attachments: EMPTY_LIST, bytes: 0 };

function readAttachments(value: unknown, limits: Required<MessageLimits>): AttachmentsResult {
  if (value === undefined || value === null) return NO_ATTACHMENTS;
  if (!Array.isArray(value)) throw validation(`Expected \`attachments\` to be an array, got ${showValue(value)}`);
  const list = value as readonly unknown[];
  if (list.length > limits.maxAttachments) {
    throw tooLarge(`Too many attachments: ${list.length}, the limit is ${limits.maxAttachments}`);
  }
  const out: Attachment[] = [];
  let bytes = 0;
  for (let i = 0; i < list.length; i++) {
    const where = `attachments[${i}]`;
    const item: unknown = list[i];
    if (typeof item !== 'object' || item === null || Array.isArray(item) || ArrayBuffer.isView(item)) {
      throw validation(`Expected ${where} to be an object, got ${showValue(item)}`);
    }
    const a = item as Record<string, unknown>;
    // mailpush never reads files or fetches URLs: a message must not be able to make the
    // process read /etc/passwd or call an internal URL.
    for (const key of ['path', 'href', 'raw'] as const) {
      if (a[key] !== undefined) {
        throw validation(`${where}.${key} is not supported: mailpush never reads files or fetches URLs; give the bytes as \`content\``);
      }
    }
    const content: unknown = a.content;
    let size: number;
    let encoding: Attachment['encoding'] | undefined;
    if (typeof content === 'string') {
      const enc: unknown = a.encoding;
      if (enc !== undefined && enc !== null && !ENCODINGS.includes(enc as string)) {
        throw validation(`Expected ${where}.encoding to be 'utf8', 'base64' or 'hex', got ${showValue(enc)}`);
      }
      encoding = (enc ?? undefined) as Attachment['encoding'] | undefined;
      if (encoding === 'base64') {
        if (!BASE64_CHARS.test(content)) throw validation(`${where}.content is not valid base64`);
        size = base64Size(Math.floor((content.length * 3) / 4));
      } else if (encoding === 'hex') {
        if (content.length % 2 !== 0 || !HEX_CHARS.test(content)) throw validation(`${where}.content is not valid hex`);
        size = base64Size(content.length / 2);
      } else {
        size = base64Size(utf8Length(content));
      }
    } else if (content instanceof Uint8Array) {
      size = base64Size(content.byteLength);
    } else if (content === undefined || content === null) {
      throw validation(`${where}.content is required: give the bytes as a string or Uint8Array (files and URLs are never read)`);
    } else {
      const stream = typeof content === 'object' && typeof (content as { pipe?: unknown }).pipe === 'function';
      throw validation(
        `Expected ${where}.content to be a string or Uint8Array, got ${stream ? 'a stream (streams are not supported, give a Buffer)' : showValue(content)}`,
      );
    }
    const filename = checkAttachmentParam(a.filename, `${where}.filename`, MAX_ATTACHMENT_PARAM_LENGTH);
    const contentType = checkAttachmentParam(a.contentType, `${where}.contentType`, MAX_ATTACHMENT_PARAM_LENGTH);
    if (contentType !== undefined && contentType.indexOf('/') <= 0) {
      throw validation(`Expected ${where}.contentType to be a MIME type like 'application/pdf', got ${showValue(contentType)}`);
    }
    const cid = checkAttachmentParam(a.cid, `${where}.cid`, MAX_ATTACHMENT_PARAM_LENGTH);
    if (cid !== undefined) {
      for (let j = 0; j < cid.length; j++) {
        const c = cid.charCodeAt(j);
        if (c < 33 || c > 126 || c === 0x3c || c === 0x3e) throw invalidHeader(`${where}.cid contains ${describeCharAt(cid, j)}; use printable ASCII without <>`);
      }
    }
    const disposition: unknown = a.disposition;
    if (disposition !== undefined && disposition !== null && !DISPOSITIONS.includes(disposition as string)) {
      throw validation(`Expected ${where}.disposition to be 'attachment' or 'inline', got ${showValue(disposition)}`);
    }
    const attachment: { -readonly [K in keyof Attachment]: Attachment[K] } = { content: content as string | Uint8Array };
    if (filename !== undefined) attachment.filename = filename;
    if (encoding !== undefined) attachment.encoding = encoding;
    if (contentType !== undefined) attachment.contentType = contentType;
    if (cid !== undefined) attachment.cid = cid;
    if (disposition !== undefined && disposition !== null) attachment.disposition = disposition as 'attachment' | 'inline';
    out.push(Object.freeze(attachment));
    bytes += size + PART_OVERHEAD_BYTES + (filename === undefined ? 0 : 2 * utf8Length(filename));
  }
  return { attachments: out.length === 0 ? EMPTY_LIST : Object.freeze(out), bytes };
}

function tagField(name: string): string {
  return `tags[${showValue(name)}]`;
}

/** Tags travel in headers for some transports (X-SES-MESSAGE-TAGS, X-SMTPAPI): no controls, no tabs. */
function checkTagText(text: string, name: string, isValue: boolean): void {
  if (text.includes('\t') || findTextControl(text) >= 0) {
    const what = isValue ? `The value of ${tagField(name)}` : `The tag name ${showValue(name)}`;
    if (text.includes('\t')) throw invalidHeader(`${what} contains a tab`);
    checkHeaderText(text, what);
  }
}

function readTags(value: unknown, limits: Required<MessageLimits>): Readonly<Record<string, string>> {
  if (value === undefined || value === null) return EMPTY_RECORD;
  if (!isPlainObject(value)) throw validation(`Expected \`tags\` to be a plain object of name -> string, got ${showValue(value)}`);
  const keys = Object.keys(value);
  if (keys.length === 0) return EMPTY_RECORD;
  if (keys.length > limits.maxTags) throw validation(`Too many tags: ${keys.length}, the limit is ${limits.maxTags}`);
  const max = limits.maxTagLength;
  const out: Record<string, string> = {};
  for (const name of keys) {
    if (name.length === 0 || name.length > max) throw validation(`Tag names must be 1 to ${max} characters long, got ${showValue(name)}`);
    checkTagText(name, name, false);
    const v = value[name];
    if (typeof v !== 'string') throw validation(`Expected ${tagField(name)} to be a string, got ${showValue(v)}`);
    if (v.length > max) throw validation(`${tagField(name)} is ${v.length} characters long, over the limit of ${max}`);
    checkTagText(v, name, true);
    setOwn(out, name, v);
  }
  return Object.freeze(out);
}

function describeKind(value: unknown): string {
  if (value instanceof Date) return 'a Date (give date.toISOString())';
  if (value instanceof Map) return 'a Map (give a plain object)';
  if (value instanceof Set) return 'a Set (give an array)';
  if (ArrayBuffer.isView(value)) return 'binary data (give a string, e.g. base64)';
  if (typeof value === 'bigint') return 'a BigInt (give a string or number)';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'number') return String(value);
  if (value === undefined) return 'undefined inside an array';
  return 'an object that is not a plain object';
}

/**
 * Validates metadata as JSON data. Walks the whole value (bounded by `maxMetadataBytes` and
 * MAX_METADATA_DEPTH) without copying it.
 */
class MetadataChecker {
  private bytes = 0;
  private readonly path: (string | number)[] = [];
  private readonly ancestors: object[] = [];

  constructor(private readonly maxBytes: number) {}

  private fail(value: unknown, reason?: string): never {
    let where = 'metadata';
    for (const key of this.path) {
      where += typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    }
    throw validation(`\`${where}\` is not JSON-serializable: ${reason ?? describeKind(value)}`);
  }

  private add(n: number): void {
    this.bytes += n;
    if (this.bytes > this.maxBytes) throw tooLarge(`\`metadata\` is larger than ${this.maxBytes} characters as JSON`);
  }

  /** Checks the value of property `key` of an object being walked. */
  checkProperty(key: string, value: unknown): void {
    // JSON drops undefined properties, and reading them back gives undefined again.
    if (value === undefined) return;
    this.path.push(key);
    this.add(key.length + 4);
    this.check(value);
    this.path.pop();
  }

  check(value: unknown): void {
    switch (typeof value) {
      case 'string':
        this.add(value.length + 3);
        return;
      case 'boolean':
        this.add(6);
        return;
      case 'number':
        if (!Number.isFinite(value)) this.fail(value);
        this.add(12);
        return;
      case 'object':
        break;
      default:
        this.fail(value);
    }
    if (value === null) {
      this.add(5);
      return;
    }
    if (this.ancestors.includes(value)) this.fail(value, 'it contains a circular reference');
    if (this.ancestors.length >= MAX_METADATA_DEPTH) this.fail(value, `it is nested deeper than ${MAX_METADATA_DEPTH} levels`);
    this.ancestors.push(value);
    if (Array.isArray(value)) {
      const list = value as readonly unknown[];
      this.add(2);
      for (let i = 0; i < list.length; i++) {
        this.path.push(i);
        this.check(list[i]);
        this.path.pop();
      }
    } else if (isPlainObject(value)) {
      this.add(2);
      for (const key of Object.keys(value)) this.checkProperty(key, value[key]);
    } else {
      this.fail(value);
    }
    this.ancestors.pop();
  }
}

function readMetadata(value: unknown, limits: Required<MessageLimits>): Readonly<Record<string, unknown>> {
  if (value === undefined || value === null) return EMPTY_RECORD;
  if (!isPlainObject(value)) throw validation(`Expected \`metadata\` to be a plain object, got ${showValue(value)}`);
  const keys = Object.keys(value);
  if (keys.length === 0) return EMPTY_RECORD;
  const checker = new MetadataChecker(limits.maxMetadataBytes);
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    // Read once: a getter could return something else the second time.
    const v = value[key];
    checker.checkProperty(key, v);
    setOwn(out, key, v);
  }
  return Object.freeze(out);
}

function readMessageId(value: string, maxLength: number): string {
  let id = value;
  const open = id.charCodeAt(0) === 0x3c;
  const close = id.charCodeAt(id.length - 1) === 0x3e;
  if (open !== close) throw invalidHeader(`Invalid \`messageId\` ${showValue(value)}: unbalanced angle brackets`);
  if (open) id = id.slice(1, -1);
  if (id.length + 2 > maxLength) throw invalidHeader(`Invalid \`messageId\` ${showValue(value)}: longer than ${maxLength} characters`);
  const at = id.indexOf('@');
  let ok = at > 0 && at < id.length - 1 && id.indexOf('@', at + 1) < 0;
  if (ok) {
    // id-left and id-right: dot-atom-text (RFC 5322 3.6.4), printable ASCII only.
    let previousDot = true;
    for (let i = 0; i < id.length && ok; i++) {
      const c = id.charCodeAt(i);
      if (i === at) {
        ok = !previousDot;
        previousDot = true;
      } else if (c === 0x2e) {
        ok = !previousDot;
        previousDot = true;
      } else {
        ok = c > 32 && c < 127 && !'"(),:;<>@[\\]'.includes(id[i]!);
        previousDot = false;
      }
    }
    ok &&= !previousDot;
  }
  if (!ok) {
    const control = findTextControl(id);
    if (control >= 0 || id.includes('\t')) throw invalidHeader(`Invalid \`messageId\` ${showValue(value)}: it contains ${describeCharAt(id, control >= 0 ? control : id.indexOf('\t'))}`);
    throw invalidHeader(`Invalid \`messageId\` ${showValue(value)}: expected <left@right> with printable ASCII and no spaces`);
  }
  return open ? value : `<${id}>`;
}

function readDate(value: unknown, now: number): number {
  if (value === undefined || value === null) return now;
  if (!(value instanceof Date)) throw validation(`Expected \`date\` to be a Date, got ${showValue(value)}`);
  const t = value.getTime();
  if (Number.isNaN(t)) throw validation('Expected `date` to be a valid Date, got an invalid Date');
  if (t < 0 || t > MAX_DATE_MS) throw validation(`Expected \`date\` to be between 1970 and 9999, got ${showValue(value)}`);
  return t;
}

function safeMessage(err: unknown): string {
  try {
    return err instanceof Error ? String(err.message) : String(err);
  } catch {
    return 'an unreadable error';
  }
}

const OWN_CODES: ReadonlySet<string> = new Set([
  MailErrorCode.VALIDATION,
  MailErrorCode.INVALID_ADDRESS,
  MailErrorCode.INVALID_HEADER,
  MailErrorCode.TOO_LARGE,
  MailErrorCode.CONFIG,
]);

/**
 * Validates a message and returns its normalized, frozen form: addresses parsed (IDN domains
 * in ASCII), headers checked, ids and date assigned, size estimated. An HTML-only message gets
 * a text alternative made with html-to-text. `template` and `vars` are refused here: the
 * mailer renders them before normalizing.
 *
 * The result and its arrays are frozen and hold no reference to the input's arrays or
 * objects, with two documented exceptions that are not copied for speed: attachment bytes
 * (a `Uint8Array` given as `content` must not be changed afterwards) and values nested inside
 * `metadata` (the top level is copied; nested objects are validated as JSON but shared).
 *
 * Each input field is read exactly once, so getters cannot change a value after it was checked.
 *
 * @param input - The message as given to `mailer.send()`.
 * @param options - Current time, limits and id generation.
 * @throws MailError `VALIDATION`, `INVALID_ADDRESS`, `INVALID_HEADER` or `TOO_LARGE` (see the
 *   module documentation); `CONFIG` when `options` are invalid. Never another kind of error.
 *
 * @example
 * ```ts
 * const message = normalizeMessage(
 *   { from: 'Shop <shop@example.com>', to: 'ann@bücher.de', subject: 'Hi', text: 'Hello' },
 *   { now: Date.now() },
 * );
 * message.to[0].address; // 'ann@xn--bcher-kva.de'
 * ```
 */
export function normalizeMessage(input: MessageInput, options: NormalizeOptions): NormalizedMessage {
  try {
    if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
    return normalize(input, options.now, options);
  } catch (err) {
    throw ownError(err);
  }
}

/**
 * {@link normalizeMessage} with the time apart from the other options, so that the mailer
 * passes its settings object as it is instead of a new options object per message.
 *
 * @example
 * ```ts
 * const settings = { limits: validateMessageLimits(undefined, 'messageLimits'), messageIdDomain: undefined };
 * const message = normalizeMessageAt({ from: 'shop@example.com', to: 'ann@example.org', subject: 'Hi', text: 'Hello' }, Date.now(), settings);
 * ```
 * @internal
 */
export function normalizeMessageAt(input: MessageInput, now: number, options: Omit<NormalizeOptions, 'now'>): NormalizedMessage {
  try {
    return normalize(input, now, options);
  } catch (err) {
    throw ownError(err);
  }
}

/** The error a normalization throws: its own MailErrors as they are, anything else as VALIDATION. */
function ownError(err: unknown): MailError {
  if (err instanceof MailError && OWN_CODES.has(err.code)) return err;
  // Getters or proxies in the input that throw, or anything unforeseen: still a MailError.
  return validation(`The message could not be read: ${safeMessage(err)}`, err);
}

function normalize(input: MessageInput, now: number, options: Omit<NormalizeOptions, 'now'>): NormalizedMessage {
  if (typeof now !== 'number' || !Number.isFinite(now)) throw configError('now', 'a finite number of ms since the epoch', now);
  const limits = options.limits ?? DEFAULT_MESSAGE_LIMITS;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw validation(`Expected the message to be an object, got ${showValue(input)}`);
  }
  const m = input as unknown as Record<string, unknown>;
  // Named loads: much cheaper than a keyed loop over UNSUPPORTED_FIELDS on every message.
  if (
    m.raw !== undefined ||
    m.envelope !== undefined ||
    m.sender !== undefined ||
    m.inReplyTo !== undefined ||
    m.references !== undefined ||
    m.alternatives !== undefined ||
    m.amp !== undefined ||
    m.watchHtml !== undefined ||
    m.icalEvent !== undefined ||
    m.dkim !== undefined ||
    m.priority !== undefined ||
    m.sendAt !== undefined ||
    m.idempotencyKey !== undefined ||
    m.template !== undefined ||
    m.vars !== undefined
  ) {
    for (const [key, hint] of UNSUPPORTED_FIELDS) {
      if (m[key] !== undefined) throw validation(`The message field \`${key}\` is not supported: ${hint}`);
    }
  }
  const unknown = findUnknownKey(m, MESSAGE_KEYS);
  if (unknown !== undefined) throw unknownKeyError('message field', unknown, MESSAGE_KEYS, MailErrorCode.VALIDATION);

  const fromInput = m.from;
  if (fromInput === undefined || fromInput === null) throw new MailError('The message has no `from` address', { code: MailErrorCode.INVALID_ADDRESS });
  if (Array.isArray(fromInput)) {
    throw new MailError(`\`from\` must be exactly one address, got a list of ${(fromInput as unknown[]).length}`, { code: MailErrorCode.INVALID_ADDRESS });
  }
  const fromParts = readFrom(fromInput);
  const from = fromParts.address;
  const toInput = m.to;
  const ccInput = m.cc;
  const bccInput = m.bcc;
  // Counted before parsing: parsing is about 2 µs per address, and a list far over the limit
  // must not cost seconds before it is refused. Strings are one address each (a string that
  // holds a list is refused by the parser, long ones before they are scanned).
  const entries = entryCount(toInput) + entryCount(ccInput) + entryCount(bccInput);
  const maxEntries = limits.maxRecipients * RECIPIENT_ENTRIES_FACTOR;
  if (entries > maxEntries) {
    throw tooLarge(
      `Too many recipients: ${entries} entries in to + cc + bcc, more than ${maxEntries} are never read (the limit is ${limits.maxRecipients} recipients after de-duplication)`,
    );
  }
  const to = readAddressList(toInput, 'to');
  const cc = readAddressList(ccInput, 'cc');
  const bcc = readAddressList(bccInput, 'bcc');
  const replyTo = readAddressList(m.replyTo, 'replyTo');

  const total = to.length + cc.length + bcc.length;
  if (total === 0) throw validation('The message has no recipients: set `to`, `cc` or `bcc`');
  if (options.allowLocalDomains !== true) {
    checkDotted(to, 'to');
    checkDotted(cc, 'cc');
    checkDotted(bcc, 'bcc');
  }
  if (total > limits.maxRecipients) {
    // Only now is de-duplication worth its Set: below the limit the raw count is enough.
    const unique = new Set<string>();
    for (const list of [to, cc, bcc]) for (const a of list) unique.add(a.address);
    if (unique.size > limits.maxRecipients) {
      throw tooLarge(`Too many recipients: ${unique.size} (to + cc + bcc), the limit is ${limits.maxRecipients}`);
    }
  }

  const subject = optionalString(m.subject, '`subject`') ?? '';
  if (subject.length > limits.maxSubjectLength) {
    throw invalidHeader(`The subject is ${subject.length} characters long, over the limit of ${limits.maxSubjectLength}`);
  }
  checkHeaderText(subject, 'The subject');

  let text = optionalString(m.text, '`text`');
  const html = optionalString(m.html, '`html`');
  // Checked before measuring: a UTF-8 string has at least as many bytes as UTF-16 code units.
  if ((text?.length ?? 0) + (html?.length ?? 0) > limits.maxBytes) {
    throw tooLarge(`The message is larger than the limit of ${limits.maxBytes} bytes (text and html alone have ${(text?.length ?? 0) + (html?.length ?? 0)} characters)`);
  }
  const headers = readHeaders(m.headers, limits);
  const attachments = readAttachments(m.attachments, limits);
  if (!text && !html && attachments.attachments.length === 0) {
    throw validation('The message is empty: give `text`, `html` or `attachments`');
  }
  const tags = readTags(m.tags, limits);
  const metadata = readMetadata(m.metadata, limits);

  const categoryInput = m.category;
  let category: MessageCategory = 'transactional';
  if (categoryInput !== undefined && categoryInput !== null) {
    if (!CATEGORIES.includes(categoryInput as MessageCategory)) {
      throw validation(`Expected \`category\` to be 'transactional' or 'marketing', got ${showValue(categoryInput)}`);
    }
    category = categoryInput as MessageCategory;
  }
  // The list (topic) of a marketing message: its unsubscribe token and suppression scope.
  const listInput = m.list;
  let list: string | undefined;
  if (listInput !== undefined && listInput !== null) {
    if (typeof listInput !== 'string' || !LIST_NAME.test(listInput) || listInput === 'marketing' || listInput === 'transactional') {
      throw validation(`Expected \`list\` to be 1-64 characters of letters, digits, '.', '_', '-', ':' starting with a letter or digit (not 'marketing' or 'transactional'), got ${showValue(listInput)}`);
    }
    list = listInput;
  }
  const campaignInput = m.campaign;
  if (campaignInput !== undefined && campaignInput !== null && !isCampaignId(campaignInput)) {
    throw validation(`Expected \`campaign\` to be 1 to 64 letters, digits, '.', '_' or '-' starting with a letter or digit, got ${showValue(campaignInput)}`);
  }

  const returnPathInput = m.returnPath;
  let returnPath = from.address;
  if (returnPathInput !== undefined && returnPathInput !== null) {
    if (typeof returnPathInput !== 'string') throw new MailError(`Invalid address in \`returnPath\` (${showValue(returnPathInput)}): expected a string`, { code: MailErrorCode.INVALID_ADDRESS });
    const parsed = parseAddress(returnPathInput, 'returnPath');
    if (parsed.name !== undefined) {
      throw new MailError(`Invalid address in \`returnPath\` (${showValue(returnPathInput)}): expected a bare address without a display name`, { code: MailErrorCode.INVALID_ADDRESS });
    }
    returnPath = parsed.address;
  }

  const messageIdInput = m.messageId;
  let messageId: string;
  let uuidId: string | undefined;
  if (messageIdInput !== undefined && messageIdInput !== null) {
    if (typeof messageIdInput !== 'string') throw invalidHeader(`Expected \`messageId\` to be a string, got ${showValue(messageIdInput)}`);
    messageId = readMessageId(messageIdInput, limits.maxHeaderLineLength);
  } else {
    const domain = options.messageIdDomain !== undefined ? messageIdDomain(options.messageIdDomain) : fromParts.domain;
    const uuid = nextUuidBytes();
    messageId = messageIdFromBytes(uuid, domain);
    // Read out now: a getter read below could run another normalize and move the pool on.
    if (options.createId === undefined) uuidId = idFromBytes(uuid);
  }

  const date = readDate(m.date, now);

  // An HTML-only message gets a text alternative (after every cheap check, so refused
  // messages never pay for it); a message with a text part never does.
  if (text === undefined && html !== undefined && html.length > 0) text = htmlToText(html);

  const sizeBytes =
    BASE_OVERHEAD_BYTES +
    from.address.length +
    (from.name === undefined ? 0 : from.name.length) +
    addressesSize(to) +
    addressesSize(cc) +
    addressesSize(replyTo) +
    utf8Length(subject) +
    messageId.length +
    headers.bytes +
    (text === undefined ? 0 : utf8Length(text)) +
    (html === undefined ? 0 : utf8Length(html)) +
    attachments.bytes;
  if (sizeBytes > limits.maxBytes) {
    throw tooLarge(`The message is about ${sizeBytes} bytes, over the limit of ${limits.maxBytes} bytes`);
  }

  const id = options.createId !== undefined ? options.createId() : uuidId ?? createMessageId();
  if (typeof id !== 'string' || id.length === 0) throw configError('createId', 'a function returning a non-empty string', id);

  // The usual bodies are in the literal: a property added afterwards goes to a separate
  // backing store (40 B more per message for as long as it is queued).
  const message: { -readonly [K in keyof NormalizedMessage]: NormalizedMessage[K] } =
    text === undefined
      ? { id, messageId, from, to, cc, bcc, replyTo, subject, headers: headers.headers, attachments: attachments.attachments, tags, metadata, category, returnPath, date, sizeBytes }
      : html === undefined
        ? { id, messageId, from, to, cc, bcc, replyTo, subject, headers: headers.headers, attachments: attachments.attachments, tags, metadata, category, returnPath, date, sizeBytes, text }
        : { id, messageId, from, to, cc, bcc, replyTo, subject, headers: headers.headers, attachments: attachments.attachments, tags, metadata, category, returnPath, date, sizeBytes, text, html };
  if (text === undefined && html !== undefined) message.html = html;
  if (list !== undefined) message.list = list;
  if (typeof campaignInput === 'string') message.campaign = campaignInput;
  return Object.freeze(message);
}

/**
 * Groups the envelope recipients of a message (to, cc and bcc) by domain, each address once,
 * in the order they appear. Domains are those of the normalized addresses (ASCII, lower case).
 *
 * @returns A new map of domain -> addresses; the caller may change it.
 *
 * @example
 * ```ts
 * import { normalizeMessage, recipientsByDomain } from 'mailpush';
 *
 * const message = normalizeMessage({ from: 'shop@example.com', to: ['ann@example.org', 'bob@Example.org'], cc: 'cy@example.net', subject: 'Hi', text: 'Hello' }, { now: Date.now() });
 * recipientsByDomain(message);
 * // Map { 'example.org' => ['ann@example.org', 'bob@example.org'], 'example.net' => ['cy@example.net'] }
 * ```
 */
export function recipientsByDomain(message: NormalizedMessage): Map<string, string[]> {
  const byDomain = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const list of [message.to, message.cc, message.bcc]) {
    for (const { address } of list) {
      if (seen.has(address)) continue;
      seen.add(address);
      const domain = domainOf(address);
      const group = byDomain.get(domain);
      if (group === undefined) byDomain.set(domain, [address]);
      else group.push(address);
    }
  }
  return byDomain;
}
