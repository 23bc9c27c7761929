/**
 * Organizational domains (RFC 7489 3.2) and DMARC identifier alignment.
 *
 * The organizational domain is the registrable domain under the Public Suffix List, with
 * private suffixes included (`foo.github.io` is its own organization), the same reading as
 * mailauth's DMARC verifier so that the doctor and the verifier agree.
 *
 * Every comparison of domains in `mailpush/auth` goes through {@link canonicalDomain}: lower
 * case, without the trailing root dot, Unicode names as A-labels. `Example.COM.` and
 * `example.com` are the same domain; `.example.com` (an empty label) is no domain at all.
 *
 * @module
 */

import { getDomain } from 'tldts';
import { normalizeDomain } from '../message/address.js';
import { dnsName } from './dns.js';

const TLDTS_OPTIONS = { allowPrivateDomains: true, detectIp: true, validateHostname: false } as const;

/**
 * The form in which domains are compared: lower case, the trailing root dot removed,
 * internationalized names converted to ASCII (`Bücher.DE.` -> `xn--bcher-kva.de`).
 *
 * @param name - A domain name, as found in a record, a header or an option.
 * @returns The canonical name, or undefined when `name` is not a domain name (an empty
 *   label as in `.example.com` or `example..com`, a label over 63 octets, spaces, ...).
 *
 * @example
 * ```ts
 * canonicalDomain('Mail.Example.COM.'); // 'mail.example.com'
 * canonicalDomain('.example.com');      // undefined
 * ```
 */
export function canonicalDomain(name: string): string | undefined {
  if (typeof name !== 'string') return undefined;
  // ASCII names (the common case, and DNS names with underscores) need no IDNA mapping.
  const ascii = dnsName(name);
  if (ascii !== undefined) return ascii;
  try {
    return normalizeDomain(name);
  } catch {
    return undefined;
  }
}

/**
 * The organizational domain of `domain`: `mail.example.co.uk` -> `example.co.uk`. A public
 * suffix itself, a single label or an IP address gives the name unchanged (in its
 * {@link canonicalDomain} form), so comparisons stay strict for them; a name that is not a
 * domain (`.example.com`) is only lower-cased.
 *
 * @example
 * ```ts
 * orgDomain('Mail.Example.co.uk.'); // 'example.co.uk'
 * ```
 */
export function orgDomain(domain: string): string {
  const name = canonicalDomain(domain);
  // Not a domain: returned as it is (lower case), so it is nobody's organizational domain.
  if (name === undefined) return String(domain).toLowerCase();
  const org = getDomain(name, TLDTS_OPTIONS);
  return org === null || org === '' ? name : org;
}

/** DMARC alignment mode: relaxed (same organizational domain) or strict (identical). */
export type AlignmentMode = 'relaxed' | 'strict';

/**
 * True when `identifier` (DKIM `d=` or the MAIL FROM domain) is aligned with the From
 * domain under `mode` (RFC 7489 3.1). Both are compared in their {@link canonicalDomain}
 * form, so case and a trailing dot do not matter; a name that is not a domain (such as
 * `.example.com`) never aligns, in either mode.
 *
 * @example
 * ```ts
 * isAligned('example.com', 'Example.COM.', 'strict');        // true
 * isAligned('example.com', 'bounce.example.com', 'relaxed'); // true
 * isAligned('example.com', 'bounce.example.com', 'strict');  // false
 * ```
 */
export function isAligned(fromDomain: string, identifier: string, mode: AlignmentMode): boolean {
  const a = canonicalDomain(fromDomain);
  const b = canonicalDomain(identifier);
  if (a === undefined || b === undefined) return false;
  if (a === b) return true;
  return mode === 'relaxed' && orgDomain(a) === orgDomain(b);
}
