/**
 * The `tracking` mailer option: its type, its validation, and the resolved form shared by the
 * shaping step (which writes the links) and the handler (which reads them).
 *
 * @module
 */

import { MailErrorCode, configError } from '../errors.js';
import { knownKeys, rejectUnknownKeys } from '../validation/known-keys.js';
import { escapeAttribute } from './rewrite.js';
import { deriveTokenKeys } from './token.js';
import type { TokenKeys } from './token.js';

/**
 * Open and click tracking of a mailer (`createMailer({ tracking })`). Off unless given, and
 * even then a message is tracked only when sent with `{ track: true }`: pass it only for
 * recipients who consented (COMPLIANCE.md L-3).
 *
 * @example
 * ```ts
 * const mailer = createMailer({
 *   transport,
 *   tracking: { url: 'https://t.example.com/t', secrets: [process.env.TRACKING_SECRET!] },
 * });
 * await mailer.send(message, { track: true }); // only with the recipient's consent
 * ```
 */
export interface TrackingOptions {
  /**
   * Base URL of the tracking handler (`createTrackingHandler`), `https:` (or `http:` for
   * tests). Clicks become `<url>/c/<token>`, the open pixel `<url>/o/<token>`. No query or
   * fragment.
   */
  readonly url: string;
  /**
   * HMAC secrets, each at least 16 bytes: the first signs new links, every one verifies (so a
   * rotation prepends a new secret and drops the old one once its mail is old enough).
   */
  readonly secrets: readonly (string | Uint8Array)[];
  /** Add a 1x1 open pixel to tracked HTML messages. @default true */
  readonly opens?: boolean;
  /** Rewrite the links of tracked HTML messages. @default true */
  readonly clicks?: boolean;
  /**
   * Most links rewritten in one message; links after it are left as they are.
   * @default 500
   */
  readonly maxLinks?: number;
  /**
   * URL prefixes never rewritten, besides `mailto:`, `tel:`, anchors, links marked
   * `data-mailpush-notrack` and the unsubscribe URL (`unsubscribe.url`). @default []
   */
  readonly skip?: readonly string[];
}

/** The resolved tracking settings of a mailer. @internal */
export interface TrackingConfig {
  /** Base URL without its trailing slash. */
  readonly url: string;
  /** The base URL escaped for an attribute value. */
  readonly attrUrl: string;
  readonly keys: TokenKeys;
  readonly opens: boolean;
  readonly clicks: boolean;
  readonly maxLinks: number;
  /** Prefixes (lower-case scheme and host) of links that are left alone. */
  readonly skip: readonly string[];
}

const TRACKING_KEYS = knownKeys(['url', 'secrets', 'opens', 'clicks', 'maxLinks', 'skip']);

/** Resolved configurations by option object, then by unsubscribe URL (two mailers may share one `tracking` object). */
const resolved = new WeakMap<object, Map<string, TrackingConfig>>();

/**
 * Validates the `tracking` option and resolves it (keys derived once; the same object for the
 * same options). `unsubscribeUrl` is the mailer's `unsubscribe.url`, whose links are never
 * rewritten. Throws a CONFIG MailError naming the option.
 *
 * @example
 * ```ts
 * const config = resolveTracking({ url: 'https://t.example.com/t', secrets: [secret] }, 'https://u.example.com/unsub');
 * ```
 * @internal
 */
export function resolveTracking(options: unknown, unsubscribeUrl?: unknown): TrackingConfig {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw configError('tracking', 'an object { url, secrets }', options);
  const unsub = typeof unsubscribeUrl === 'string' ? unsubscribeUrl : '';
  let byUnsub = resolved.get(options);
  const cached = byUnsub?.get(unsub);
  if (cached !== undefined) return cached;
  rejectUnknownKeys(options, TRACKING_KEYS, 'tracking option', MailErrorCode.CONFIG, 'tracking');
  const o = options as Partial<TrackingOptions>;
  const url = baseUrl(o.url, 'tracking.url');
  for (const k of ['opens', 'clicks'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw configError(`tracking.${k}`, 'a boolean', o[k]);
  }
  const maxLinks = o.maxLinks ?? 500;
  if (typeof maxLinks !== 'number' || !Number.isInteger(maxLinks) || maxLinks < 0 || maxLinks > 65_535) throw configError('tracking.maxLinks', 'an integer from 0 to 65535', maxLinks);
  const skip: string[] = [url + '/'];
  if (o.skip !== undefined) {
    if (!Array.isArray(o.skip)) throw configError('tracking.skip', 'an array of URL prefixes', o.skip);
    o.skip.forEach((s, i) => {
      if (typeof s !== 'string' || s === '') throw configError(`tracking.skip[${i}]`, 'a non-empty URL prefix', s);
      skip.push(prefixOf(s));
    });
  }
  if (unsub !== '') skip.push(prefixOf(unsub));
  const config: TrackingConfig = Object.freeze({
    url,
    attrUrl: escapeAttribute(url),
    keys: deriveTokenKeys(o.secrets),
    opens: o.opens ?? true,
    clicks: o.clicks ?? true,
    maxLinks,
    skip: Object.freeze(skip),
  });
  if (byUnsub === undefined) resolved.set(options, (byUnsub = new Map()));
  byUnsub.set(unsub, config);
  return config;
}

function baseUrl(value: unknown, option: string): string {
  let u: URL;
  try {
    if (typeof value !== 'string') throw new TypeError();
    u = new URL(value);
  } catch {
    throw configError(option, 'an absolute http(s) URL', value);
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') {
    throw configError(option, 'an http(s) URL without query, fragment or credentials', value);
  }
  return u.href.replace(/\/+$/, '');
}

/**
 * A comparable prefix: scheme and host in lower case (as URL parsing gives them), the rest as given.
 *
 * @example
 * ```ts
 * prefixOf('HTTPS://U.Example.com/Unsub'); // 'https://u.example.com/Unsub'
 * ```
 */
export function prefixOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)(.*)$/i.exec(url.trim());
  return m === null ? url.trim() : m[1]!.toLowerCase() + m[2]!;
}
