/**
 * The plain-text alternative of an HTML body, made with html-to-text: for HTML-only messages
 * (by the normalizer) and for templates (once, at compile time).
 *
 * html-to-text is loaded on first use (synchronously, it ships CommonJS), so a process that
 * never sends HTML-only mail never loads it.
 *
 * @module
 * @internal
 */

import { createRequire } from 'node:module';
import { MailError, MailErrorCode } from '../errors.js';
import { BoundedMap } from '../queue/bounded-map.js';

type Convert = (html: string, options?: Record<string, unknown>) => string;

/** npm package name of html-to-text. */
export const HTML_TO_TEXT = 'html-to-text';

// Email-oriented settings: images say nothing in a text part, a link whose text is its URL
// is printed once, lines wrap at 78 characters (RFC 5322 2.1.1 recommends 78).
const OPTIONS: Readonly<Record<string, unknown>> = Object.freeze({
  wordwrap: 78,
  selectors: [
    { selector: 'img', format: 'skip' },
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
  ],
});

let convertFn: Convert | undefined;

function load(): Convert {
  if (convertFn !== undefined) return convertFn;
  let mod: { convert?: unknown };
  try {
    mod = createRequire(import.meta.url)(HTML_TO_TEXT) as { convert?: unknown };
  } catch (err) {
    throw new MailError(`The text alternative of HTML mail needs the "${HTML_TO_TEXT}" package: npm install ${HTML_TO_TEXT}`, {
      code: MailErrorCode.MISSING_DEPENDENCY,
      retryable: false,
      cause: err,
    });
  }
  if (typeof mod.convert !== 'function') throw new MailError(`The module loaded for "${HTML_TO_TEXT}" has no convert()`, { code: MailErrorCode.MISSING_DEPENDENCY, retryable: false });
  convertFn = mod.convert as Convert;
  return convertFn;
}

// The last few bodies converted: a campaign that sends one HTML body to many recipients
// converts it once. Keyed by the string itself (V8 caches a string's hash).
const CACHE_SIZE = 16;
const cache = new BoundedMap<string, string>(CACHE_SIZE, 'fifo');

/**
 * The text alternative of a whole HTML document or body. Costs about 1 to 3 ms for a typical
 * newsletter (once per distinct body thanks to a small cache); messages that have a text part
 * never call it.
 */
export function htmlToText(html: string): string {
  const hit = cache.get(html);
  if (hit !== undefined) return hit;
  const text = load()(html, OPTIONS);
  cache.set(html, text);
  return text;
}

// Named entities worth knowing in a fragment; others are left as written.
const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', copy: '\u00a9', reg: '\u00ae', hellip: '\u2026', mdash: '\u2014', ndash: '\u2013', euro: '\u20ac' };

function decodeEntities(text: string): string {
  if (text.indexOf('&') < 0) return text;
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,8});/g, (whole, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[e] ?? whole;
  });
}

const LINK = /<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')[^>]*>([\s\S]*?)<\/a\s*>/gi;
const BREAK = /<br\s*\/?>|<\/(?:p|div|li|tr|h[1-6]|blockquote|table)\s*>/gi;
const ITEM = /<li\b[^>]*>/gi;
const DROPPED = /<(script|style|head)\b[\s\S]*?<\/\1\s*>/gi;
const TAG = /<!--[\s\S]*?-->|<\/?[a-zA-Z][^>]*>/g;

/**
 * The text of an HTML fragment (a raw `{{{variable}}}`'s value in a generated text part), by a
 * small regex converter rather than html-to-text: this runs on every render, so it must cost
 * microseconds. Links become `text [url]`, `<br>` and block ends become line breaks, list items
 * get `* `, other tags are dropped and common entities decoded.
 */
export function htmlFragmentToText(html: string): string {
  if (html.indexOf('<') < 0 && html.indexOf('&') < 0) return html;
  const text = html
    .replace(DROPPED, '')
    .replace(LINK, (_m, dq: string | undefined, sq: string | undefined, inner: string) => {
      const href = decodeEntities(dq ?? sq ?? '');
      const label = decodeEntities(inner.replace(TAG, '')).trim();
      return label.length === 0 || label === href ? href : `${label} [${href}]`;
    })
    .replace(BREAK, '\n')
    .replace(ITEM, '* ')
    .replace(TAG, '');
  return decodeEntities(text).replace(/[ \t]*\n[ \t]*/g, '\n').replace(/\n{3,}/g, '\n\n').trim();
}
