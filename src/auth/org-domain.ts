/**
 * Organizational domains (RFC 7489 3.2) and DMARC identifier alignment.
 *
 * The organizational domain is the registrable domain under the Public Suffix List, with
 * private suffixes included (`foo.github.io` is its own organization), the same reading as
 * mailauth's DMARC verifier so that the doctor and the verifier agree.
 *
 * @module
 */

import { getDomain } from 'tldts';

const TLDTS_OPTIONS = { allowPrivateDomains: true, detectIp: true, validateHostname: false } as const;

/**
 * The organizational domain of `domain`: `mail.example.co.uk` -> `example.co.uk`. A public
 * suffix itself, a single label or an IP address gives the name unchanged (lower case,
 * without a trailing dot), so comparisons stay strict for them.
 */
export function orgDomain(domain: string): string {
  const name = domain.toLowerCase().replace(/\.$/, '');
  const org = getDomain(name, TLDTS_OPTIONS);
  return org === null || org === '' ? name : org;
}

/** DMARC alignment mode: relaxed (same organizational domain) or strict (identical). */
export type AlignmentMode = 'relaxed' | 'strict';

/**
 * True when `identifier` (DKIM `d=` or the MAIL FROM domain) is aligned with the From
 * domain under `mode` (RFC 7489 3.1).
 */
export function isAligned(fromDomain: string, identifier: string, mode: AlignmentMode): boolean {
  const a = fromDomain.toLowerCase().replace(/\.$/, '');
  const b = identifier.toLowerCase().replace(/\.$/, '');
  if (a === b) return true;
  return mode === 'relaxed' && orgDomain(a) === orgDomain(b);
}
