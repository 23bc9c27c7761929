/**
 * The mailer options of unsubscribe and CAN-SPAM (`unsubscribe`, `postalAddress`), checked
 * once at `createMailer()` and resolved into keys.
 *
 * @module
 */

import { configError } from '../errors.js';
import { deriveTokenKeys } from './token.js';
import type { TokenKeys, UnsubscribeSecret } from './token.js';

const DAY_MS = 86_400_000;

/** Shortest token lifetime accepted: CASL wants an unsubscribe to work for 60 days, CAN-SPAM for 30. */
export const MIN_TOKEN_TTL_MS = 60 * DAY_MS;

/** Default token lifetime: 365 days (mail stays in inboxes; an old newsletter's link should still work). */
export const DEFAULT_TOKEN_TTL_MS = 365 * DAY_MS;

/** The `unsubscribe` option of `createMailer`. */
export interface UnsubscribeOptions {
  /**
   * The HTTPS endpoint served by `createUnsubscribeHandler` (RFC 8058 requires HTTPS), without a
   * query or fragment: each message gets `<url>/<token>`. `http:` is accepted for
   * `localhost` and loopback addresses only, for tests.
   */
  readonly url: string;
  /**
   * Token secrets, each at least 16 bytes: the first makes new tokens, every one is accepted.
   * To rotate, put a new secret first and keep the old ones for `tokenTtlMs`.
   */
  readonly secrets: readonly UnsubscribeSecret[];
  /**
   * An address that also takes unsubscribe requests by mail: added after the HTTPS URL as
   * `<mailto:address?subject=unsubscribe%20<token>>` (Yahoo accepts it; Gmail needs the HTTPS one).
   * Reading that mailbox is the host's job (`verifyUnsubscribeToken` reads the subject's token).
   */
  readonly mailto?: string;
  /** How long a token is accepted, ms; at least 60 days. @default 31_536_000_000 (365 days) */
  readonly tokenTtlMs?: number;
  /**
   * Marketing mail needs a consent record: a marketing message must name its `list`
   * (MAILPUSH_ERR_COMPLIANCE otherwise), and delivery skips (as `suppressed`) every recipient
   * without a subscribed record on that list in `mailer.subscriptions`. @default false (the host
   * keeps consent elsewhere)
   */
  readonly requireConsent?: boolean;
}

/** The resolved unsubscribe settings of a mailer (`mailer.unsubscribe`): keys, not secrets. */
export interface UnsubscribeSettings {
  /** The endpoint, without a trailing slash. */
  readonly url: string;
  readonly keys: TokenKeys;
  readonly mailto?: string;
  readonly tokenTtlMs: number;
  /** See {@link UnsubscribeOptions.requireConsent}. */
  readonly requireConsent: boolean;
}

/** What of the mailer options the unsubscribe parts read. */
export interface UnsubscribeMailerOptions {
  readonly unsubscribe?: UnsubscribeOptions;
  readonly postalAddress?: string;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const MAILTO = /^[A-Za-z0-9.!#$%&'*+/=^_`{|}~-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/;

/**
 * Checks and resolves `unsubscribe`; undefined when it is not set. Throws a CONFIG MailError
 * naming the option.
 *
 * @example
 * ```ts
 * const settings = resolveUnsubscribe({ unsubscribe: { url: 'https://u.example.com/unsubscribe', secrets: [process.env.UNSUB_SECRET!] } });
 * settings?.tokenTtlMs; // 31_536_000_000
 * ```
 */
export function resolveUnsubscribe(options: UnsubscribeMailerOptions): UnsubscribeSettings | undefined {
  const u = options.unsubscribe as Partial<UnsubscribeOptions> | undefined;
  checkPostalAddress(options.postalAddress);
  if (u === undefined) return undefined;
  if (typeof u !== 'object' || u === null) throw configError('unsubscribe', 'an object { url, secrets, mailto?, tokenTtlMs? }', u);
  for (const key of Object.keys(u)) {
    if (!['url', 'secrets', 'mailto', 'tokenTtlMs', 'requireConsent'].includes(key)) throw configError(`unsubscribe.${key}`, 'absent (known: url, secrets, mailto, tokenTtlMs, requireConsent)', (u as Record<string, unknown>)[key]);
  }
  let url: URL;
  try {
    if (typeof u.url !== 'string') throw new TypeError('not a string');
    url = new URL(u.url);
  } catch {
    throw configError('unsubscribe.url', 'an absolute https URL', u.url);
  }
  const loopback = LOOPBACK.has(url.hostname);
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw configError('unsubscribe.url', 'an https URL without query, fragment or credentials (http only for localhost)', u.url);
  }
  const keys = deriveTokenKeys(u.secrets);
  if (u.mailto !== undefined && (typeof u.mailto !== 'string' || !MAILTO.test(u.mailto))) throw configError('unsubscribe.mailto', 'an email address', u.mailto);
  const ttl = u.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < MIN_TOKEN_TTL_MS) throw configError('unsubscribe.tokenTtlMs', `a number of ms >= ${MIN_TOKEN_TTL_MS} (60 days)`, ttl);
  if (u.requireConsent !== undefined && typeof u.requireConsent !== 'boolean') throw configError('unsubscribe.requireConsent', 'a boolean', u.requireConsent);
  return {
    url: url.href.replace(/\/+$/, ''),
    keys,
    ...(u.mailto !== undefined ? { mailto: u.mailto } : {}),
    tokenTtlMs: ttl,
    requireConsent: u.requireConsent === true,
  };
}

/** Checks `postalAddress`: a non-empty string of at most 500 characters, no control characters but newlines. */
export function checkPostalAddress(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '' || value.length > 500 || /[\u0000-\u0009\u000b-\u001f\u007f]/.test(value)) {
    throw configError('postalAddress', "the sender's physical postal address, a non-empty string of at most 500 characters", value);
  }
  return value.trim();
}
