/**
 * The reason of a bounced recipient, decided the way the reference bounce parser (Sisimai)
 * decides it, by rule family, and explained: every verdict says which rule decided
 * ({@link BounceDecision}).
 *
 * The order, in short (details on {@link decideBounceReason}):
 * 1. a provisional reason from the report's format that is specific (not in the retry set) is final;
 * 2. the receiving provider's own rules (`./hosts.ts`);
 * 3. a 2.x.x status is `delivered`;
 * 4. the first pass, first hit wins: mailboxfull, mesgtoobig, exceedlimit, suspend, hasmoved,
 *    norelaying, authfailure, userunknown, filtered, requireptr, notcompliantrfc,
 *    badreputation, rejected, hostunknown, spamdetected, speeding, toomanyconn, blocked, each
 *    by provisional reason, status code or phrase, gated by the SMTP command (a user-unknown
 *    phrase counts only at RCPT; after DATA it means `filtered`);
 * 5. the second pass: a generic provisional reason of the format stands, else a specific
 *    status reason, else phrases of the generic families;
 * 6. fallbacks by status subject, diagnostic type, reply code, action and command; then
 *    `onhold` (text that no rule explains) or `undefined` (no text).
 *
 * Where mailpush's wording of a family is wider than the reference's own list of it
 * (`./reference.ts`), a hit found only by the wider wording yields to a later family that the
 * reference's own evidence decides (`decidedBy.overrode`), as the reference would never have
 * fired the earlier one.
 *
 * The hard flag follows from the reason alone: userunknown, hostunknown and hasmoved are hard,
 * notaccept is hard unless temporary, everything else is soft.
 *
 * @module
 */

import type { BounceCategory } from '../types.js';
import { findHostRule, HOST_RULES } from './hosts.js';
import type { HostRule } from './hosts.js';
import { matchPhrases, REASON_PHRASES } from './phrases.js';
import type { Phrase, ReasonFamily } from './phrases.js';
import { OVERRIDE_ONLY, REFERENCE_PHRASES, referenceWording } from './reference.js';

/**
 * Which rule decided a recipient's reason, for debugging and for users who extend the rules.
 *
 * @example
 * ```ts
 * const r = parseBounce(raw).recipients[0];
 * console.log(r?.decidedBy);
 * // { rule: 'first-pass/phrase', family: 'filtered', matched: 'user unknown', command: 'DATA' }
 * ```
 */
export interface BounceDecision {
  /**
   * The rule, as `<stage>/<kind>`:
   * - `provisional`: the report format named a specific reason;
   * - `host/<provider>`: a receiving provider's rule (`host/microsoft`, `host/franceptt`);
   * - `delivered`: a 2.x.x status;
   * - `first-pass/status|phrase|provisional|reply-code`: the first pass, decided by the status
   *   code, a phrase of the family, the provisional reason, or the reply code (525: suspend);
   *   `first-pass/no-account` and `first-pass/own-verdict` are unknown-user wording that counts
   *   beyond RCPT (no account at all; the reporting system's own verdict, with no reply);
   * - `second-pass/status|phrase`: the second pass;
   * - `fallback/<what>`: a fallback (`x.6.y`, `x.7.y`, `mailer`, `reply-code`, `delayed`,
   *   `before-envelope`, `onhold`, `undefined`);
   * - `mailpush/<what>`: a rule of mailpush beyond the reference (`mailpush/gave-up-unreachable`);
   * - `custom/<id>`: a user rule of a custom classifier.
   */
  readonly rule: string;
  /**
   * The reason family in the reference's finer names (`speeding`, `mesgtoobig`,
   * `mailererror`, `notcompliantrfc`...), of which `reason` is the mailpush category.
   */
  readonly family: ReasonFamily | BounceCategory;
  /** What matched: the phrase, the status code, the reply code or the provider token. */
  readonly matched?: string;
  /** The SMTP command the decision took into account, when known. */
  readonly command?: string;
  /**
   * An earlier family that matched only through mailpush's wider wording and was overridden by
   * the reference's own evidence for this one (`'blocked: ip blocked'`): the reference's rule
   * for the earlier family would not have fired on this text.
   */
  readonly overrode?: string;
}

/** What the decision reads about one recipient. */
export interface ReasonInput {
  /** Enhanced status (`5.1.1`). */
  readonly status?: string | undefined;
  /** Reply code (550). */
  readonly replyCode?: number | undefined;
  /** Diagnostic text (any case; at most 2 KiB is read). */
  readonly text?: string | undefined;
  /** The refused SMTP command: `CONN`/`CONNECT`, `HELO`, `EHLO`, `MAIL`, `RCPT`, `DATA`, ... */
  readonly command?: string | undefined;
  /** The RFC 3464 action (`failed`, `delayed`, ...). */
  readonly action?: string | undefined;
  /** Diagnostic type (`SMTP`, `X-Unix`, ...); empty means SMTP. */
  readonly diagnosticType?: string | undefined;
  /** The remote host that answered, for the provider rules. */
  readonly remoteHost?: string | undefined;
  /** The recipient's domain, for the provider rules. */
  readonly recipientDomain?: string | undefined;
  /** A reason the report's format implies (a mail system that only reports one kind of failure). */
  readonly provisional?: ReasonFamily | undefined;
}

/** The verdict: the mailpush category, the hard flag and the explanation. */
export interface ReasonVerdict {
  /** The mailpush category (merged families: `emailtoolarge`, `ratelimited`...). */
  readonly reason: BounceCategory;
  /** A permanent problem with the address itself: suppress it (see {@link hardFlag}). */
  readonly hard: boolean;
  /** Which rule decided. */
  readonly decidedBy: BounceDecision;
}

/** Reasons so generic that the decision re-examines them (a provisional one stays as a fallback). */
export const RETRY_REASONS: ReadonlySet<ReasonFamily> = new Set<ReasonFamily>([
  'undefined',
  'onhold',
  'systemerror',
  'securityerror',
  'expired',
  'suspend',
  'networkerror',
  'hostunknown',
  'userunknown',
]);

/** Reference family -> mailpush category. */
const CATEGORY: Readonly<Record<ReasonFamily, BounceCategory>> = Object.freeze({
  userunknown: 'userunknown',
  hostunknown: 'hostunknown',
  hasmoved: 'hasmoved',
  notaccept: 'notaccept',
  suspend: 'suspend',
  mailboxfull: 'mailboxfull',
  filtered: 'filtered',
  rejected: 'rejected',
  norelaying: 'norelaying',
  blocked: 'blocked',
  badreputation: 'badreputation',
  requireptr: 'requireptr',
  authfailure: 'authfailure',
  securityerror: 'securityerror',
  policyviolation: 'policyviolation',
  spamdetected: 'spamdetected',
  virusdetected: 'virusdetected',
  contenterror: 'contenterror',
  notcompliantrfc: 'notcompliantrfc',
  mesgtoobig: 'emailtoolarge',
  exceedlimit: 'emailtoolarge',
  speeding: 'ratelimited',
  toomanyconn: 'ratelimited',
  expired: 'expired',
  networkerror: 'networkerror',
  systemerror: 'systemerror',
  systemfull: 'systemfull',
  syntaxerror: 'syntaxerror',
  mailererror: 'mailererror',
  onhold: 'onhold',
  undefined: 'undefined',
  delivered: 'delivered',
});

/**
 * The mailpush category of a reference family.
 *
 * @example
 * ```ts
 * categoryOf('speeding'); // 'ratelimited'
 * categoryOf('mesgtoobig'); // 'emailtoolarge'
 * ```
 */
export function categoryOf(family: ReasonFamily): BounceCategory {
  return CATEGORY[family];
}

function statusTable(): Map<string, ReasonFamily> {
  const m = new Map<string, ReasonFamily>();
  const put = (family: ReasonFamily, ...codes: string[]): void => {
    for (const c of codes) m.set(c, family);
  };
  put('userunknown', '5.1.0', '5.1.1', '5.1.3');
  put('hostunknown', '5.1.2', '5.4.4');
  put('hasmoved', '4.1.6', '5.1.6', '5.7.17', '5.7.18');
  put('notaccept', '5.1.10', '5.7.27', '4.3.2', '5.3.2');
  put('suspend', '4.2.1', '5.7.13');
  put('mailboxfull', '4.2.2', '5.2.2');
  put('filtered', '5.1.4', '5.2.0', '5.2.1', '4.2.4', '5.2.4');
  put('rejected', '4.1.7', '4.1.8', '5.1.7', '5.1.8');
  put('blocked', '4.7.1', '4.7.2');
  put('requireptr', '4.7.25', '5.7.25');
  put('authfailure', '4.7.24', '4.7.26', '5.7.20', '5.7.21', '5.7.22', '5.7.23', '5.7.24', '5.7.26', '5.7.29');
  for (let d = 0; d <= 11; d++) put('securityerror', `5.7.${d}`);
  put('securityerror', '5.7.14', '5.7.15', '5.7.19', '5.7.30', '4.7.5', '4.7.6', '4.7.7', '4.7.12', '4.7.15');
  put('spamdetected', '5.7.28');
  put('mesgtoobig', '5.3.4', '4.7.16', '5.7.16');
  put('exceedlimit', '4.2.3', '5.2.3');
  put('toomanyconn', '5.5.3');
  put('expired', '4.4.1', '4.4.7');
  put('networkerror', '4.4.2', '4.4.4', '4.4.6', '4.4.8', '5.4.0');
  put('systemerror', '4.1.9', '5.1.9', '4.3.3', '4.3.5', '5.3.0', '5.3.3', '5.3.5', '4.4.3', '5.4.3', '4.5.3', '4.5.5', '5.5.4', '5.5.5');
  put('systemfull', '4.3.1', '5.3.1', '4.4.5');
  put('syntaxerror', '5.5.2', '5.5.6');
  // Media errors (RFC 3463 X.6.0-X.6.10: conversion, unsupported media, non-ASCII addresses).
  for (let d = 0; d <= 10; d++) put('contenterror', `4.6.${d}`, `5.6.${d}`);
  return m;
}

/**
 * Enhanced status -> reference family (RFC 3463 codes and the IANA registry, as the reference
 * reads them). Unmapped on purpose: 4.1.1, X.0.0, 4.3.0, 4.4.0, 4.5.0, 4.7.0 (too generic).
 * Note the asymmetries: 5.7.1 is securityerror but 4.7.1 blocked; 5.2.1 filtered but 4.2.1 suspend.
 */
export const STATUS_REASONS: ReadonlyMap<string, ReasonFamily> = statusTable();

/**
 * The family a status maps to (2.x.x is `delivered`), or `undefined`.
 *
 * @example
 * ```ts
 * statusReason('5.7.1'); // 'securityerror'
 * statusReason('4.7.1'); // 'blocked'
 * statusReason('5.0.0'); // undefined (too generic)
 * ```
 */
export function statusReason(status: string | undefined): ReasonFamily | undefined {
  if (status === undefined) return undefined;
  if (status.startsWith('2.')) return 'delivered';
  return STATUS_REASONS.get(status);
}

/**
 * Most characters of a diagnostic the decision reads: a few SMTP reply lines (RFC 5321: 512
 * octets each). Longer texts are report prose or returned headers, which only cost time.
 */
const MAX_TEXT = 2048;
/**
 * The reply code and status that begin each continued line of a multi-line reply
 * (`550-5.2.1 `), inside the text: joined lines read as one sentence, as the reference reads them
 * ("receiving mail at a rate that 550-5.2.1 prevents additional messages" is its speeding phrase).
 */
const CONTINUATION = /(?<=\S) [245]\d\d-(?:[245]\.\d{1,3}\.\d{1,3} )?/g;
/** White space that `\s+` -> `' '` changes: a white space character other than a space, or two spaces. */
const UNEVEN_SPACE = /[^\S ]| {2}/;
/** Diagnostic types of local delivery programs; every other type (SMTP, X-Postfix, unknown) reads as SMTP. */
const LOCAL_TYPES: ReadonlySet<string> = new Set(['X-UNIX', 'X-LOCAL', 'X-PIPE']);
const BEFORE_ENVELOPE: ReadonlySet<string> = new Set(['CONN', 'EHLO', 'HELO']);
const ENVELOPE: ReadonlySet<string> = new Set(['CONN', 'EHLO', 'HELO', 'MAIL', 'RCPT']);

/** Families the second pass tries by phrase, in order. */
const SECOND_PASS: readonly ReasonFamily[] = [
  'mailboxfull',
  'authfailure',
  'badreputation',
  'speeding',
  'spamdetected',
  'virusdetected',
  'policyviolation',
  'norelaying',
  'systemerror',
  'networkerror',
  'suspend',
  'contenterror',
  'systemfull',
  'notaccept',
  'expired',
  'securityerror',
  'mailererror',
  // mailpush: a malformed recipient address, in the address parsers' words (the reference's
  // format parsers name it; its generic rules only know syntax errors by reply code).
  'syntaxerror',
];

interface Facts {
  readonly text: string;
  readonly status: string | undefined;
  readonly code: number | undefined;
  readonly command: string | undefined;
  readonly smtp: boolean;
  readonly statusFamily: ReasonFamily | undefined;
  readonly provisional: ReasonFamily | undefined;
  /** Phrase results already looked up for this text, by {@link FAMILY_SLOT} (families are asked more than once). */
  readonly seen: (string | null | undefined)[];
}

interface Hit {
  readonly rule: string;
  readonly matched?: string;
  /**
   * A phrase hit whose family has a reference list (`./reference.ts`) that the text does not
   * match: only mailpush's wider wording found it. Such a hit yields to a later family that
   * the reference's own evidence decides (see {@link decideBounceReason}).
   */
  readonly wider?: boolean;
  /** The held wider-wording hit this one overrode (`family: phrase`). */
  readonly overrode?: string;
}

/**
 * A phrase hit of `family`: marked `wider` when the family has a reference list that the text
 * does not match; with the reference's own phrase as `matched` when it does.
 */
function phraseHit(f: Facts, family: ReasonFamily, rule: string, matched: string): Hit {
  const list = REFERENCE_PHRASES[family];
  if (list === undefined) return { rule, matched };
  const own = matchPhrases(f.text, list);
  if (own !== undefined) return { rule, matched: own };
  return OVERRIDE_ONLY.has(family) ? { rule, matched } : { rule, matched, wider: true };
}

/** Each family's slot in {@link Facts.seen} (an array: a Map per decision cost more than its lookups). */
const FAMILY_SLOT: Readonly<Record<ReasonFamily, number>> = Object.freeze(Object.fromEntries(Object.keys(CATEGORY).map((family, i) => [family, i])) as Record<ReasonFamily, number>);

function phrase(f: Facts, family: ReasonFamily): string | undefined {
  const slot = FAMILY_SLOT[family];
  let m = f.seen[slot];
  if (m === undefined) {
    m = matchPhrases(f.text, REASON_PHRASES[family]) ?? null;
    f.seen[slot] = m;
  }
  return m ?? undefined;
}

/** The common predicate: the provisional reason, the status, or a phrase of the family. */
function common(f: Facts, family: ReasonFamily, useStatus = true): Hit | undefined {
  if (f.provisional === family) return { rule: 'first-pass/provisional' };
  if (useStatus && f.statusFamily === family) return { rule: 'first-pass/status', matched: f.status! };
  const m = phrase(f, family);
  return m === undefined ? undefined : phraseHit(f, family, 'first-pass/phrase', m);
}

/** Quotas of the sender (per day, per hour, per message rate): rate limits, not a full mailbox. */
const SENDING_QUOTA: readonly Phrase[] = ['daily message quota', 'sending quota', 'send quota', 'outbound quota', 'hourly quota', 'daily sending', 'max emails per hour'];

/** A demand for SMTP authentication, which explains a relay refusal. */
const AUTH_DEMAND: readonly Phrase[] = ['smtp authentication', 'smtp auth', 'authentication required', 'authentication is required', 'must authenticate', 'without authentication', 'please authenticate', "you don't authenticate"];

/**
 * The reference's own relay-refusal sentences that name authentication: they stay
 * `norelaying` although they demand SMTP AUTH (the demand vetoes only the wider relay wording).
 */
const RELAY_WITH_AUTH: readonly Phrase[] = [
  'is not permitted to relay through this server without authentication',
  'requires authentication when attempting to send to a non-local e-mail address',
];

/**
 * Wording that the recipient has no account at all at the destination: an unknown user even
 * when the refusal came after DATA (some providers check the account only there).
 */
const NO_ACCOUNT: readonly Phrase[] = [['not listed in', 'directory'], ['not listed in', 'address book'], ['doesn\'t have', 'account'], ['does not have', 'account'], 'no account by that name'];

/**
 * Phrases that keep a user-unknown status from deciding: the text says who really refused. The
 * reference's list (relaying, client block, quota, moved, sender, null MX) plus the reference's
 * own filter sentences ("refused due to recipient preferences"), which its format parsers
 * report as filtered whatever the status; wider filter wording does not veto (see vetoesUnknown).
 */
const NOT_REALLY_UNKNOWN: readonly ReasonFamily[] = ['norelaying', 'blocked', 'mailboxfull', 'hasmoved', 'rejected', 'notaccept', 'filtered'];

/**
 * Texts in which "address rejected" is not the sender's: the recipient's address or the
 * client's IP address was refused. With one of these, no sender wording counts (the reference's
 * rule), so "Recipient address rejected: sender unknown" is not `rejected`.
 */
const NOT_SENDER: readonly Phrase[] = ['recipient address rejected', 'sender ip address rejected', '5.1.0 address rejected'];

/**
 * Whether `other`'s wording keeps a user-unknown status from deciding. For blocked, notaccept
 * and filtered only the reference's own list counts (`./reference.ts`), as in the reference's
 * UserUnknown rule (`Sisimai::Reason::<other>->match`): mailpush's wider wording of those
 * families ("your IP is blocked", "the recipient has blocked") does not turn a 5.1.1 into them.
 * Sender wording keeps mailpush's list (the recalled Rejected list missed a held-out case).
 */
function vetoesUnknown(f: Facts, other: ReasonFamily): boolean {
  if (other === 'filtered') return phrase(f, 'filtered') !== undefined && referenceWording(f.text, 'filtered') === 'reference';
  if (other === 'rejected') return senderPhrase(f) !== undefined;
  if (phrase(f, other) === undefined) return false;
  return referenceWording(f.text, other) !== 'wider';
}

/** Sender wording, unless the text says a recipient or the client IP was refused. */
function senderPhrase(f: Facts): string | undefined {
  const m = phrase(f, 'rejected');
  return m === undefined || matchPhrases(f.text, NOT_SENDER) !== undefined ? undefined : m;
}

/**
 * The connecting client named as a source of spam ("you are sending spam", "dynamic/zombied/spam
 * IPs blocked"): the reference's blocked wording, which no spam-content rule may take.
 */
const CLIENT_SPAM: readonly Phrase[] = ['currently sending spam', 'you are sending spam', 'spam ips blocked', 'too many spams from your ip', 'looks suspiciously like spammer'];

/**
 * Loops found by counting Received headers: a header limit (contenterror), not the routing or
 * system loop their wording also names ("too many Received headers - suspected mail loop").
 */
const RECEIVED_LOOP: readonly Phrase[] = ['too many received: headers', 'too many "received" headers', 'too many received headers'];

/**
 * The reference's own DNS and routing failure wording (Sisimai's NetworkError list): a failed or
 * temporary lookup, no route, a loop. It vetoes a host-unknown status; the wider DNS wording of
 * REASON_PHRASES.networkerror ("dns error") does not, since "DNS error: domain not found" is
 * a non-existent domain.
 *
 * @example
 * ```ts
 * matchPhrases('name server: example.org: host name lookup failure', NETWORK_FAILURE); // 'host name lookup failure'
 * ```
 */
export const NETWORK_FAILURE: readonly Phrase[] = [
  'could not connect and send the mail to',
  'dns records for the destination computer could not be found',
  'hop count exceeded',
  'host is unreachable',
  'host name lookup failure',
  'host not found, try again',
  'mail forwarding loop for',
  'malformed name server reply',
  'malformed or unexpected name server reply',
  'maximum forwarding loop count exceeded',
  'message looping',
  'message probably in a routing loop',
  'no route to host',
  'too many hops',
  'unable to resolve route',
  'unrouteable mail domain',
];

/**
 * The reference's own wording of a non-existent domain (Sisimai's HostUnknown list, with the
 * Exim and qmail router messages its format parsers read as hostunknown). When the status names
 * a network, queue or system failure (4.4.x, 4.3.x), only this wording overrides it; the wider
 * wording of REASON_PHRASES.hostunknown ("host not found", "NXDOMAIN") describes what a lookup
 * returned, which such a status already explains.
 */
const HOST_UNKNOWN_REFERENCE: readonly Phrase[] = [
  'domain does not exist',
  'domain is not reachable',
  'domain must exist',
  'host or domain name not found',
  'host unknown',
  'host unreachable',
  'mail domain mentioned in email address is unknown',
  'name or service not known',
  'no such domain',
  'unknown domain name',
  'the account or domain may not exist',
  'unknown host',
  'unroutable address',
  'unrouteable address',
  'all host address lookups failed permanently',
  'all relevant mx records point to non-existent hosts',
  'couldn\'t find any host',
  ['553 ', ' does not exist'],
];
/** Status families that a lookup's wording does not override (see HOST_UNKNOWN_REFERENCE). */
const LOOKUP_EXPLAINED: ReadonlySet<ReasonFamily> = new Set<ReasonFamily>(['networkerror', 'expired', 'systemerror', 'systemfull']);

/** A refusal of the connecting client's name or host: host-not-found wording in it is about the client. */
const CLIENT_REFUSED: readonly Phrase[] = ['helo command rejected', 'ehlo command rejected', 'client host rejected', 'helo name', 'invalid helo'];

/**
 * Host-unknown wording that is not part of a DNS-failure or null-MX phrase: "host not found"
 * inside "host not found, try again" (a temporary lookup failure) or "name server: .: host not
 * found" (an MX of ".", RFC 7505 null MX) does not say the domain does not exist. With
 * `referenceOnly`, the reference's own wording only (HOST_UNKNOWN_REFERENCE).
 */
function hostUnknownPhrase(f: Facts, referenceOnly = false): string | undefined {
  // A specific null-MX status (5.1.10, 4.3.2) is not overridden by wording about the domain.
  if (f.statusFamily === 'notaccept') return undefined;
  const list = referenceOnly || (f.statusFamily !== undefined && LOOKUP_EXPLAINED.has(f.statusFamily)) ? HOST_UNKNOWN_REFERENCE : REASON_PHRASES.hostunknown;
  const m = list === REASON_PHRASES.hostunknown ? phrase(f, 'hostunknown') : matchPhrases(f.text, list);
  if (m === undefined) return undefined;
  // The recipient's domain is judged from RCPT on: "host not found" before it, or in a refusal
  // of the client's HELO name or host ("Helo command rejected: Host not found"), is about us.
  if (f.command !== undefined && (BEFORE_ENVELOPE.has(f.command) || f.command === 'MAIL')) return undefined;
  if (matchPhrases(f.text, CLIENT_REFUSED) !== undefined) return undefined;
  let t = f.text;
  for (const p of [...NETWORK_FAILURE, ...(REASON_PHRASES.notaccept ?? [])]) if (typeof p === 'string' && t.includes(p)) t = t.split(p).join(' | ');
  return t === f.text ? m : matchPhrases(t, list);
}

/** The first pass, in order. Each predicate says whether (and why) its family holds. */
const FIRST_PASS: readonly (readonly [ReasonFamily, (f: Facts) => Hit | undefined])[] = [
  [
    'mailboxfull',
    (f) => {
      // A sending quota ("Daily message quota exceeded") is our rate, not the recipient's mailbox.
      if (f.provisional !== 'mailboxfull' && f.statusFamily !== 'mailboxfull' && matchPhrases(f.text, SENDING_QUOTA) !== undefined) return undefined;
      return common(f, 'mailboxfull');
    },
  ],
  ['mesgtoobig', (f) => (f.statusFamily === 'exceedlimit' ? undefined : common(f, 'mesgtoobig'))],
  ['exceedlimit', (f) => common(f, 'exceedlimit')],
  // Account state by wording (or reply 525) only, as the reference's Suspend rule: a 4.2.1 status
  // alone is left to the second pass, so "4.2.1 ... receiving mail too quickly" is a rate limit.
  ['suspend', (f) => (f.code === 525 ? { rule: 'first-pass/reply-code', matched: '525' } : common(f, 'suspend', false))],
  // Likewise by wording only (the reference's HasMoved rule); a 5.1.6 status alone decides in the second pass.
  ['hasmoved', (f) => common(f, 'hasmoved', false)],
  [
    'norelaying',
    (f) => {
      // Relaying is refused at RCPT; before the envelope it is someone else's refusal, and an
      // authentication or system problem is not a relay refusal.
      if (f.command !== undefined && BEFORE_ENVELOPE.has(f.command)) return undefined;
      if (f.provisional === 'securityerror' || f.provisional === 'systemerror' || f.provisional === 'undefined') return undefined;
      const ref = matchPhrases(f.text, RELAY_WITH_AUTH);
      if (ref !== undefined) return { rule: 'first-pass/phrase', matched: ref };
      // "Relaying denied, authenticate first": the refusal is the missing SMTP AUTH (securityerror).
      if (matchPhrases(f.text, AUTH_DEMAND) !== undefined) return undefined;
      return common(f, 'norelaying');
    },
  ],
  ['authfailure', (f) => common(f, 'authfailure')],
  [
    'userunknown',
    (f) => {
      if (f.provisional === 'userunknown') return { rule: 'first-pass/provisional' };
      if (f.statusFamily === 'suspend') return undefined;
      if (f.statusFamily === 'userunknown') {
        // X.1.1 is "bad destination mailbox", unless the text says the refusal was about
        // relaying, the client, the quota, a move, the sender or a domain accepting no mail.
        for (const other of NOT_REALLY_UNKNOWN) if (vetoesUnknown(f, other)) return undefined;
        return { rule: 'first-pass/status', matched: f.status! };
      }
      // Unknown-user wording is an unknown user when it answers RCPT TO, or when it is the
      // reporting system's own verdict (no remote reply, no command: a local delivery agent or
      // directory lookup, which knows its users; the reference's format parsers say so too).
      const own = f.command === undefined && f.code === undefined;
      if (f.command !== 'MAIL' && f.command !== 'CONN' && f.command !== 'HELO' && f.command !== 'EHLO') {
        const none = matchPhrases(f.text, NO_ACCOUNT);
        if (none !== undefined) return { rule: 'first-pass/no-account', matched: none };
      }
      if (f.command !== 'RCPT' && !own) return undefined;
      const m = phrase(f, 'userunknown');
      return m === undefined ? undefined : { rule: own ? 'first-pass/own-verdict' : 'first-pass/phrase', matched: m };
    },
  ],
  [
    'filtered',
    (f) => {
      if (f.provisional === 'filtered') return { rule: 'first-pass/provisional' };
      if (f.statusFamily === 'suspend') return undefined;
      if (f.statusFamily === 'filtered') {
        const m = phrase(f, 'userunknown') ?? phrase(f, 'filtered');
        return m === undefined ? undefined : { rule: 'first-pass/status', matched: `${f.status} + ${m}` };
      }
      // Wording of the recipient refusing us ("refuses to receive", "blocked by the recipient")
      // is a filter at any stage after the client was accepted, RCPT included: the reference's
      // format parsers report it as filtered whatever the command (its generic rule alone would not).
      if (f.command !== 'CONN' && f.command !== 'HELO' && f.command !== 'EHLO' && f.command !== 'MAIL') {
        const own = phrase(f, 'filtered');
        if (own !== undefined) return { rule: 'first-pass/phrase', matched: own };
      }
      // The envelope was accepted (after DATA, or the report does not say): a refusal of the
      // recipient now, even in unknown-user words, is the recipient's filter.
      if (f.command !== undefined && ENVELOPE.has(f.command)) return undefined;
      const m = phrase(f, 'userunknown');
      return m === undefined ? undefined : { rule: 'first-pass/phrase', matched: m };
    },
  ],
  ['requireptr', (f) => common(f, 'requireptr')],
  ['notcompliantrfc', (f) => common(f, 'notcompliantrfc', false)],
  ['badreputation', (f) => common(f, 'badreputation', false)],
  [
    'rejected',
    (f) => {
      if (f.provisional === 'rejected') return { rule: 'first-pass/provisional' };
      if (f.statusFamily === 'rejected') return { rule: 'first-pass/status', matched: f.status! };
      // Sender wording counts where the sender is what was being judged.
      const s = f.statusFamily;
      const counts =
        f.command === 'MAIL' ||
        (f.command === 'DATA' && s !== 'userunknown') ||
        s === undefined ||
        s === 'onhold' ||
        s === 'undefined' ||
        s === 'securityerror' ||
        s === 'systemerror';
      if (!counts) return undefined;
      const m = senderPhrase(f);
      return m === undefined ? undefined : phraseHit(f, 'rejected', 'first-pass/phrase', m);
    },
  ],
  [
    'hostunknown',
    (f) => {
      if (f.provisional === 'hostunknown') return { rule: 'first-pass/provisional' };
      if (f.statusFamily === 'hostunknown') {
        // X.1.2 / X.4.4 is a non-existent domain unless the text names a DNS or routing failure
        // (the reference's networkerror wording: "host name lookup failure", "host not found,
        // try again"), or says the domain has no mail exchanger or a null MX, which the
        // reference's format parsers report as notaccept whatever the status.
        if (matchPhrases(f.text, NETWORK_FAILURE) !== undefined) return undefined;
        if (phrase(f, 'notaccept') !== undefined && hostUnknownPhrase(f) === undefined) return undefined;
        return { rule: 'first-pass/status', matched: f.status! };
      }
      const m = hostUnknownPhrase(f);
      if (m === undefined) return undefined;
      // The reference's own wording (HOST_UNKNOWN_REFERENCE) decides; wider wording ("host not
      // found", "NXDOMAIN") yields to a later family that the reference's wording decides.
      const own = hostUnknownPhrase(f, true) !== undefined;
      return own ? { rule: 'first-pass/phrase', matched: m } : { rule: 'first-pass/phrase', matched: m, wider: true };
    },
  ],
  [
    'spamdetected',
    (f) => {
      // Content is judged after DATA; before it, "spam" wording is about the client.
      if (f.statusFamily !== 'spamdetected' && f.command !== undefined && ENVELOPE.has(f.command)) return undefined;
      if (f.provisional !== 'spamdetected' && f.statusFamily !== 'spamdetected' && matchPhrases(f.text, CLIENT_SPAM) !== undefined) return undefined;
      return common(f, 'spamdetected');
    },
  ],
  ['speeding', (f) => common(f, 'speeding', false)],
  ['toomanyconn', (f) => common(f, 'toomanyconn')],
  ['blocked', (f) => common(f, 'blocked')],
];

function verdict(family: ReasonFamily, hit: Hit, f: Facts, action: string | undefined, hardSource: () => string): ReasonVerdict {
  const decidedBy: { -readonly [K in keyof BounceDecision]: BounceDecision[K] } = { rule: hit.rule, family };
  if (hit.matched !== undefined) decidedBy.matched = hit.matched.length > 120 ? hit.matched.slice(0, 120) : hit.matched;
  if (f.command !== undefined) decidedBy.command = f.command;
  if (hit.overrode !== undefined) decidedBy.overrode = hit.overrode.length > 120 ? hit.overrode.slice(0, 120) : hit.overrode;
  // The status and text are only read for notaccept: the string is built for it alone.
  return { reason: CATEGORY[family], hard: hardFlag(family, action, family === 'notaccept' ? hardSource() : ''), decidedBy: Object.freeze(decidedBy) };
}

const TEMPORARY = /(?:^|[^\d.])4\d\d(?![\d.])|(?:^|[^\d])4\.\d{1,3}\.\d{1,3}| temporar| persistent/;

/**
 * The hard flag of a reason (the reference's rule): unknown user, unknown host and moved
 * mailbox are hard; a domain accepting no mail is hard unless the reply is temporary (a 4xx
 * code, "temporary", "persistent"); everything else is soft, whatever its class. A delayed
 * recipient is never hard (mailpush: delivery is still being tried).
 *
 * @param statusAndText The status and the diagnostic text, read only for `notaccept`.
 *
 * @example
 * ```ts
 * hardFlag('userunknown', 'failed', '550 5.1.1 user unknown'); // true
 * hardFlag('mailboxfull', 'failed', '552 5.2.2 mailbox full'); // false: soft, whatever the class
 * hardFlag('notaccept', 'failed', '451 4.3.2 not accepting mail'); // false: temporary
 * ```
 */
export function hardFlag(family: ReasonFamily, action: string | undefined, statusAndText: string): boolean {
  if (action === 'delayed' || action === 'delivered' || action === 'relayed' || action === 'expanded') return false;
  if (family === 'userunknown' || family === 'hostunknown' || family === 'hasmoved') return true;
  if (family !== 'notaccept') return false;
  const s = statusAndText.toLowerCase();
  const code = /(?:^|[^\d.])([245])\.\d{1,3}\.\d{1,3}/.exec(s)?.[1] ?? /(?:^|[^\d.])([245])\d\d(?![\d.])/.exec(s)?.[1];
  if (code === '5') return true;
  return !TEMPORARY.test(s);
}

/**
 * Whether a hit rests on the reference's own evidence: a status, a provisional reason, a reply
 * code, or a phrase of a family whose reference list (`./reference.ts`) matches. A phrase of a
 * family with no reference list there is mailpush's wording as a whole, which does not
 * override a held hit that came earlier in the order.
 */
function referenceEvidence(hit: Hit, family: ReasonFamily, f: Facts): boolean {
  if (!hit.rule.endsWith('/phrase') && !hit.rule.endsWith('/own-verdict') && !hit.rule.endsWith('/no-account')) return true;
  return referenceWording(f.text, family) === 'reference';
}

/** The SMTP command in the reference's spelling: a real verb or `CONN`, else undefined. */
function normalizeCommand(command: string | undefined): string | undefined {
  if (command === undefined) return undefined;
  const c = command.trim().toUpperCase();
  if (c === 'CONNECT' || c === 'CONN') return 'CONN';
  return /^(?:HELO|EHLO|MAIL|RCPT|DATA|AUTH|STARTTLS|BDAT|QUIT|RSET|XFORWARD)$/.test(c) ? c : undefined;
}

/**
 * Decides the reason of one bounced recipient and explains it.
 *
 * 1. A specific provisional reason (outside {@link RETRY_REASONS}) is final.
 * 2. With text and a known provider (remote host or recipient domain), its rules go first.
 * 3. A 2.x.x status is `delivered`.
 * 4. First pass (diagnostic type SMTP or none), first hit wins, each family by provisional
 *    reason, status or phrase, with these gates: a user-unknown status yields to relaying,
 *    block, quota, moved, sender and null-MX wording; user-unknown wording counts only at RCPT;
 *    after DATA (or with no command) filter and user-unknown wording mean `filtered`; sender
 *    wording counts at MAIL, at DATA, or with a generic status; relaying is never refused
 *    before the envelope; spam is content, judged after the envelope. A phrase hit that only
 *    mailpush's wider wording found (the family's reference list in `./reference.ts` does not
 *    match) is held: a later hit on the reference's own evidence (status, provisional reason,
 *    the later family's reference list) wins and names it in `decidedBy.overrode`; otherwise
 *    the held hit stands (before the generic status and the fallbacks; not for X-Unix).
 * 5. Second pass: a generic provisional reason of the report's format that the first pass did
 *    not replace stands (the reference returns it unread; a provisional `expired` that only
 *    reflects `Action: delayed` does not count). Otherwise a specific status reason (not in
 *    the retry set) decides, then the phrases of the generic families, in order, and the
 *    status reason as the last word.
 * 6. Fallbacks: X.6.Y contenterror, X.7.Y securityerror, a local delivery program
 *    mailererror, reply 401-407/501-507 syntaxerror, a delayed action expired, a refused
 *    HELO/EHLO blocked; then `onhold` when there is text, `undefined` when there is none. A
 *    provisional reason in the retry set is kept over `onhold`/`undefined`.
 *
 * Total: never throws; unusable fields are ignored (a status not shaped `x.y.z`, a provisional
 * reason that is not a family), and hostile input gives `undefined`.
 *
 * @example
 * ```ts
 * decideBounceReason({ status: '5.1.1', replyCode: 550, text: '550 5.1.1 <a@b.example>: user unknown', command: 'RCPT' });
 * // { reason: 'userunknown', hard: true, decidedBy: { rule: 'first-pass/status', family: 'userunknown', matched: '5.1.1', command: 'RCPT' } }
 * decideBounceReason({ replyCode: 550, text: '550 user unknown', command: 'DATA' });
 * // { reason: 'filtered', hard: false, decidedBy: { rule: 'first-pass/phrase', family: 'filtered', matched: 'user unknown', command: 'DATA' } }
 * ```
 */
export function decideBounceReason(input: ReasonInput, hostRules: readonly HostRule[] = HOST_RULES): ReasonVerdict {
  try {
    return decideUnsafe(typeof input === 'object' && input !== null ? input : {}, Array.isArray(hostRules) ? hostRules : HOST_RULES);
  } catch {
    // Hostile input (a throwing getter, a throwing user host rule) is an unexplained failure.
    return { reason: 'undefined', hard: false, decidedBy: { rule: 'fallback/undefined', family: 'undefined' } };
  }
}

const isFamily = (value: unknown): value is ReasonFamily => typeof value === 'string' && Object.prototype.hasOwnProperty.call(CATEGORY, value);
const DELIVERED_ACTIONS: ReadonlySet<string> = new Set(['delivered', 'relayed', 'expanded']);

function decideUnsafe(input: ReasonInput, hostRules: readonly HostRule[]): ReasonVerdict {
  const rawText = typeof input.text === 'string' ? input.text : '';
  let text = (rawText.length > MAX_TEXT ? rawText.slice(0, MAX_TEXT) : rawText).toLowerCase();
  // Each rewrite only where it changes something: white space other than single spaces, a `-`.
  if (UNEVEN_SPACE.test(text)) text = text.replace(/\s+/g, ' ');
  if (text.includes('-')) text = text.replace(CONTINUATION, ' ');
  text = text.trim();
  const status = typeof input.status === 'string' && /^[245]\.\d{1,3}\.\d{1,3}$/.test(input.status) ? input.status : undefined;
  const code = typeof input.replyCode === 'number' && Number.isInteger(input.replyCode) ? input.replyCode : undefined;
  const type = typeof input.diagnosticType === 'string' ? input.diagnosticType.toUpperCase() : '';
  const facts: Facts = {
    text,
    status,
    code,
    command: typeof input.command === 'string' ? normalizeCommand(input.command) : undefined,
    smtp: !LOCAL_TYPES.has(type),
    statusFamily: statusReason(status),
    provisional: isFamily(input.provisional) ? input.provisional : undefined,
    seen: [],
  };
  const action = typeof input.action === 'string' ? input.action : undefined;
  const hardSource = (): string => `${status ?? ''} ${rawText.slice(0, 2000)}`;
  const done = (family: ReasonFamily, hit: Hit): ReasonVerdict => verdict(family, hit, facts, action, hardSource);

  // 0. A recipient the report says was delivered (or relayed, expanded) did not bounce.
  if (action !== undefined && DELIVERED_ACTIONS.has(action)) return done('delivered', { rule: 'delivered', matched: action });

  // 1. A specific reason from the report's format.
  const prov = facts.provisional;
  if (prov !== undefined && !RETRY_REASONS.has(prov)) return done(prov, { rule: 'provisional' });

  // 2. The receiving provider's own rules.
  if (text !== '') {
    const rule = findHostRule(
      typeof input.remoteHost === 'string' ? input.remoteHost : undefined,
      typeof input.recipientDomain === 'string' ? input.recipientDomain : undefined,
      hostRules,
      text,
    );
    const answer = rule?.decide({ text, status, code, command: facts.command });
    if (rule !== undefined && answer !== undefined) return done(answer.family, { rule: `host/${rule.id}`, matched: answer.matched });
  }

  // 3. Success.
  if (facts.statusFamily === 'delivered') return done('delivered', { rule: 'delivered', matched: status! });

  // 4. First pass. A hit found only by wider wording (`Hit.wider`) is held: the reference's
  // rule for that family would not fire, so a later family that the reference's own evidence
  // decides (a status, a provisional reason, its own list) wins; anything else does not, and
  // the held hit stands as it did in the order.
  let held: [ReasonFamily, Hit] | undefined;
  const wins = (family: ReasonFamily, hit: Hit): ReasonVerdict | undefined => {
    if (hit.wider === true) {
      held ??= [family, hit];
      return undefined;
    }
    if (held === undefined) return done(family, hit);
    if (!referenceEvidence(hit, family, facts)) return done(held[0], held[1]);
    return done(family, { ...hit, overrode: `${held[0]}: ${held[1].matched ?? ''}` });
  };
  if (facts.smtp) {
    for (const [family, test] of FIRST_PASS) {
      const hit = test(facts);
      const v = hit === undefined ? undefined : wins(family, hit);
      if (v !== undefined) return v;
    }
  }

  // 5. Second pass. A generic provisional reason from the report's format (Exim's "retry
  // timeout exceeded", a gateway's own "user unknown") that no first-pass rule replaced stands:
  // the reference's second pass returns it unread. Only an `Action: delayed/expired` (not a
  // verdict of the format) leaves the second pass to find a more specific reason.
  // Both are the reference's own evidence: they override a held hit of wider wording.
  const over = held === undefined ? {} : { overrode: `${held[0]}: ${held[1].matched ?? ''}` };
  if (prov !== undefined && !(prov === 'expired' && (action === 'delayed' || action === 'expired'))) return done(prov, { rule: 'provisional', ...over });
  const sr = facts.statusFamily;
  if (sr !== undefined && !RETRY_REASONS.has(sr) && facts.smtp) return done(sr, { rule: 'second-pass/status', matched: status!, ...over });
  for (const family of SECOND_PASS) {
    if (family === 'mailboxfull' && matchPhrases(text, SENDING_QUOTA) !== undefined) continue;
    if (family === 'spamdetected' && matchPhrases(text, CLIENT_SPAM) !== undefined) continue;
    if (family === 'norelaying' && matchPhrases(text, AUTH_DEMAND) !== undefined && matchPhrases(text, RELAY_WITH_AUTH) === undefined) continue;
    if ((family === 'systemerror' || family === 'networkerror') && matchPhrases(text, RECEIVED_LOOP) !== undefined) continue;
    // Generic DNS wording ("DNS error", "name service error") yields to a statement that the
    // domain accepts no mail (null MX, no mail exchanger), which says what the lookup found.
    if (family === 'networkerror' && matchPhrases(text, NETWORK_FAILURE) === undefined && phrase(facts, 'notaccept') !== undefined) continue;
    const m = phrase(facts, family);
    const v = m === undefined ? undefined : wins(family, phraseHit(facts, family, 'second-pass/phrase', m));
    if (v !== undefined) return v;
  }
  // A held hit of wider wording stands over the generic status and the fallbacks, as it did in
  // the order; not over a local delivery program's report (X-Unix), which the reference calls
  // mailererror when no list of its own matched: wider remote-system wording does not describe it.
  if (held !== undefined && (facts.smtp || held[0] === 'mailererror')) return done(held[0], held[1]);
  if (sr !== undefined) return done(sr, { rule: 'second-pass/status', matched: status! });

  // 6. Fallbacks.
  const subject = status?.split('.')[1];
  if (subject === '6') return done('contenterror', { rule: 'fallback/x.6.y', matched: status! });
  if (subject === '7') return done('securityerror', { rule: 'fallback/x.7.y', matched: status! });
  if (LOCAL_TYPES.has(type)) return done('mailererror', { rule: 'fallback/mailer', matched: type });
  if (code !== undefined && ((code >= 401 && code <= 407) || (code >= 501 && code <= 507))) return done('syntaxerror', { rule: 'fallback/reply-code', matched: String(code) });
  if (action === 'delayed' || action === 'expired') return done('expired', { rule: 'fallback/delayed', matched: action });
  // Our HELO/EHLO name refused: the client itself (the reference's last fallback). A refusal at
  // the connection with no wording says nothing more (onhold, as the reference).
  if (facts.command === 'HELO' || facts.command === 'EHLO') return done('blocked', { rule: 'fallback/before-envelope', matched: facts.command });
  if (prov !== undefined) return done(prov, { rule: 'provisional' });
  return text !== '' ? done('onhold', { rule: 'fallback/onhold' }) : done('undefined', { rule: 'fallback/undefined' });
}
