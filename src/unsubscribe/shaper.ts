/**
 * The unsubscribe step of the shaping stage (src/mailer/shape.ts): marketing mail gets its
 * `List-Unsubscribe` (HTTPS first, then the optional mailto) and
 * `List-Unsubscribe-Post: List-Unsubscribe=One-Click` headers (RFC 2369, RFC 8058), a visible
 * unsubscribe link and the sender's postal address in the body (CAN-SPAM). It runs at accept
 * time, before DKIM signs at prepare time, so the signature covers both headers.
 *
 * Marketing mail is refused (`MAILPUSH_ERR_COMPLIANCE`) when the mailer has no `unsubscribe`
 * or no `postalAddress`, and when it has several recipients: a token names one recipient, and
 * one message carries one header, so a shared message would let one recipient unsubscribe
 * another (or, bound to the list only, nobody). Send one message per recipient (`sendMany`).
 * The send option `skipMarketingCompliance: true` waives all three for one message (the host
 * handles unsubscribes its own way); headers are still added when they can be.
 *
 * Body: the placeholders {@link UNSUBSCRIBE_URL_PLACEHOLDER} and
 * {@link POSTAL_ADDRESS_PLACEHOLDER} are replaced in `html` and `text` (a template passes them
 * as its `unsubscribeUrl` and `postalAddress` variables); a body without them gets a short
 * footer with the link and the address.
 *
 * @module
 */

import { MailError, MailErrorCode } from '../errors.js';
import type { ShapeContext, Shaper } from '../message/shape-step.js';
import type { MessageInput, NormalizedMessage } from '../types.js';
import { checkPostalAddress, resolveUnsubscribe } from './settings.js';
import type { UnsubscribeMailerOptions, UnsubscribeSettings } from './settings.js';
import { createToken, verifyToken } from './token.js';
import type { TokenCheck } from './token.js';

/** Replaced by the recipient's unsubscribe URL in `html` and `text` of marketing mail. */
export const UNSUBSCRIBE_URL_PLACEHOLDER = '%%unsubscribe_url%%';
/** Replaced by the mailer's `postalAddress` (HTML-escaped in `html`) in marketing mail. */
export const POSTAL_ADDRESS_PLACEHOLDER = '%%postal_address%%';

/** The header value `List-Unsubscribe-Post` must have (RFC 8058 §3.1). */
export const ONE_CLICK_POST_VALUE = 'List-Unsubscribe=One-Click';

/** The headers and link of one recipient. */
export interface UnsubscribeLink {
  /** The HTTPS URL, `<url>/<token>`. */
  readonly url: string;
  /** The token alone. */
  readonly token: string;
  /** `List-Unsubscribe` value: `<https://...>` then `<mailto:...>` when configured. */
  readonly listUnsubscribe: string;
  /** `List-Unsubscribe-Post` value. */
  readonly listUnsubscribePost: string;
}

/**
 * The URL, token and header values for one recipient of a list.
 *
 * @example
 * ```ts
 * const link = unsubscribeLink(mailer.unsubscribe!, 'newsletter', 'ann@example.com', Date.now());
 * link.listUnsubscribe; // '<https://u.example.com/unsubscribe/AQx...>'
 * ```
 */
export function unsubscribeLink(settings: UnsubscribeSettings, list: string | undefined, recipient: string, now: number, campaign?: string): UnsubscribeLink {
  const token = createToken(settings.keys, list, recipient, now, campaign);
  const url = `${settings.url}/${token}`;
  const mailto = settings.mailto === undefined ? '' : `, <mailto:${settings.mailto}?subject=unsubscribe%20${token}>`;
  return { url, token, listUnsubscribe: `<${url}>${mailto}`, listUnsubscribePost: ONE_CLICK_POST_VALUE };
}

/**
 * Checks a token from outside (the URL, or the subject of a mail sent to the `mailto` address)
 * with the mailer's secrets and token lifetime. Never throws.
 *
 * @example
 * ```ts
 * import { verifyUnsubscribeToken } from 'mailpush/unsubscribe';
 *
 * const token = /unsubscribe ([A-Za-z0-9_-]+)/.exec(subject)?.[1];
 * const check = verifyUnsubscribeToken(mailer.unsubscribe!, token);
 * if (check.ok) await unsubscribeAddress(mailer, check.list, check.recipient, { at: Date.now(), source: 'mailto' });
 * ```
 */
export function verifyUnsubscribeToken(settings: UnsubscribeSettings, token: unknown, now: number = Date.now()): TokenCheck {
  return verifyToken(settings.keys, token, now, settings.tokenTtlMs);
}

function compliance(message: string): MailError {
  return new MailError(message, { code: MailErrorCode.COMPLIANCE, retryable: false });
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);

/** Puts the link and the address into one body, as placeholders or a footer. */
function fillBody(body: string, url: string, postal: string | undefined, html: boolean): string {
  const hasUrl = body.includes(UNSUBSCRIBE_URL_PLACEHOLDER);
  const hasPostal = body.includes(POSTAL_ADDRESS_PLACEHOLDER);
  const postalText = postal === undefined ? '' : html ? escapeHtml(postal).replace(/\r?\n/g, '<br>') : postal;
  let out = body;
  if (hasUrl) out = out.split(UNSUBSCRIBE_URL_PLACEHOLDER).join(html ? escapeHtml(url) : url);
  if (hasPostal) out = out.split(POSTAL_ADDRESS_PLACEHOLDER).join(postalText);
  const needLink = !hasUrl;
  const needPostal = !hasPostal && postal !== undefined;
  if (!needLink && !needPostal) return out;
  if (!html) {
    const lines = [needLink ? `Unsubscribe: ${url}` : undefined, needPostal ? postalText : undefined].filter((l) => l !== undefined);
    return `${out.replace(/\s+$/, '')}\n\n--\n${lines.join('\n')}\n`;
  }
  const parts = [needLink ? `<a href="${escapeHtml(url)}">Unsubscribe</a>` : undefined, needPostal ? postalText : undefined].filter((p) => p !== undefined);
  const footer = `<p style="font-size:12px;color:#666666">${parts.join('<br>')}</p>`;
  const close = out.search(/<\/body\s*>/i);
  return close < 0 ? `${out}${footer}` : `${out.slice(0, close)}${footer}${out.slice(close)}`;
}

/**
 * The template variables `unsubscribeUrl` and `postalAddress` of marketing messages, as the
 * placeholders this step replaces per recipient (the template step renders before the token
 * exists). Wired into the template step by createShapers.
 *
 * @example
 * ```ts
 * const builtins = unsubscribeBuiltins(mailerOptions);
 * builtins({ from: 'news@example.com', to: 'ann@example.com', category: 'marketing' }, ctx);
 * // { unsubscribeUrl: '%%unsubscribe_url%%', postalAddress: '%%postal_address%%' }
 * ```
 */
export function unsubscribeBuiltins(options: UnsubscribeMailerOptions): (input: MessageInput, ctx: ShapeContext) => Readonly<Record<string, string>> | undefined {
  void options;
  const vars = Object.freeze({ unsubscribeUrl: UNSUBSCRIBE_URL_PLACEHOLDER, postalAddress: POSTAL_ADDRESS_PLACEHOLDER });
  return (input) => ((input as MessageInput | null)?.category === 'marketing' ? vars : undefined);
}

/** The message with its placeholders removed (no link to put there). */
function withoutPlaceholders(m: NormalizedMessage, postal: string | undefined): NormalizedMessage {
  const html = stripPlaceholders(m.html, postal, true);
  const text = stripPlaceholders(m.text, postal, false);
  if (html === m.html && text === m.text) return m;
  return Object.freeze({ ...m, ...(html !== undefined ? { html } : {}), ...(text !== undefined ? { text } : {}), sizeBytes: m.sizeBytes + utf8(html) - utf8(m.html) + utf8(text) - utf8(m.text) });
}

/** Removes the placeholders from a body that gets no link (skipMarketingCompliance without `unsubscribe`). */
function stripPlaceholders(body: string | undefined, postal: string | undefined, html: boolean): string | undefined {
  if (body === undefined || (!body.includes(UNSUBSCRIBE_URL_PLACEHOLDER) && !body.includes(POSTAL_ADDRESS_PLACEHOLDER))) return body;
  const p = postal === undefined ? '' : html ? escapeHtml(postal).replace(/\r?\n/g, '<br>') : postal;
  return body.split(UNSUBSCRIBE_URL_PLACEHOLDER).join('').split(POSTAL_ADDRESS_PLACEHOLDER).join(p);
}

const utf8 = (s: string | undefined): number => (s === undefined ? 0 : Buffer.byteLength(s, 'utf8'));

/**
 * Creates the unsubscribe {@link Shaper} from the mailer options (see the module description).
 * Throws a CONFIG MailError for invalid `unsubscribe` or `postalAddress` options.
 *
 * @example
 * ```ts
 * const step = createUnsubscribeShaper({ unsubscribe: { url: 'https://u.example.com/unsubscribe', secrets: [secret] }, postalAddress: '1 Main St, Springfield' });
 * const shaped = step.message!(normalizedMarketingMessage, { options: {}, now: Date.now() });
 * shaped.headers; // [..., ['List-Unsubscribe', '<https://u.example.com/unsubscribe/...>'], ['List-Unsubscribe-Post', 'List-Unsubscribe=One-Click']]
 * ```
 */
export function createUnsubscribeShaper(options: UnsubscribeMailerOptions): Shaper {
  const settings = resolveUnsubscribe(options);
  const postal = checkPostalAddress(options.postalAddress);
  return {
    message(m: NormalizedMessage, ctx: ShapeContext): NormalizedMessage {
      if (m.category !== 'marketing') return m;
      const skipValue: unknown = ctx.options.skipMarketingCompliance;
      if (skipValue !== undefined && typeof skipValue !== 'boolean') {
        throw new MailError(`Expected \`skipMarketingCompliance\` to be a boolean, got ${typeof skipValue}`, { code: MailErrorCode.VALIDATION, retryable: false });
      }
      const skip = skipValue === true;
      if (!skip && settings === undefined) {
        throw compliance('Marketing mail needs the mailer option `unsubscribe` ({ url, secrets }) for its List-Unsubscribe headers (RFC 8058); or send with `skipMarketingCompliance: true`');
      }
      if (!skip && postal === undefined) {
        throw compliance("Marketing mail needs the mailer option `postalAddress`, the sender's physical postal address (CAN-SPAM); or send with `skipMarketingCompliance: true`");
      }
      if (settings === undefined) return withoutPlaceholders(m, postal);
      if (!skip && settings.requireConsent && m.list === undefined) {
        throw compliance('Marketing mail needs a `list` when the mailer has `unsubscribe.requireConsent` (its consent is looked up on that list); or send with `skipMarketingCompliance: true`');
      }
      const recipients = new Set<string>();
      for (const list of [m.to, m.cc, m.bcc]) for (const a of list) recipients.add(a.address);
      if (recipients.size !== 1) {
        if (skip) return withoutPlaceholders(m, postal);
        throw compliance(`Marketing mail with unsubscribe goes to one recipient per message (an unsubscribe token names one recipient), got ${recipients.size}: send one message each (sendMany), or send with \`skipMarketingCompliance: true\``);
      }
      for (const [name] of m.headers) {
        const n = name.toLowerCase();
        if (n === 'list-unsubscribe' || n === 'list-unsubscribe-post') {
          throw new MailError(`The header ${name} is set by the mailer's \`unsubscribe\` option; remove it from \`headers\``, { code: MailErrorCode.INVALID_HEADER, retryable: false });
        }
      }
      const link = unsubscribeLink(settings, m.list, [...recipients][0] as string, ctx.now, m.campaign);
      const html = m.html === undefined ? undefined : fillBody(m.html, link.url, postal, true);
      const text = m.text === undefined ? undefined : fillBody(m.text, link.url, postal, false);
      const added =
        utf8(html) - utf8(m.html) + utf8(text) - utf8(m.text) + 'List-Unsubscribe: \r\n'.length + link.listUnsubscribe.length + 'List-Unsubscribe-Post: \r\n'.length + ONE_CLICK_POST_VALUE.length;
      const out: NormalizedMessage = {
        ...m,
        headers: [...m.headers, ['List-Unsubscribe', link.listUnsubscribe], ['List-Unsubscribe-Post', ONE_CLICK_POST_VALUE]],
        ...(html !== undefined ? { html } : {}),
        ...(text !== undefined ? { text } : {}),
        sizeBytes: m.sizeBytes + added,
      };
      return Object.freeze(out);
    },
  };
}
