/**
 * Provisional reasons that a mail system's own report format names, as data: the verdicts a
 * family writes in its own words (Exchange's `RESOLVER.ADR.RecipNotFound` token, InterScan's
 * "Unable to deliver message to", fml's "Loop Alert"), which the reference parser's format
 * readers hand to the decision as its provisional reason. The decision (src/classify/reason.ts)
 * treats a specific provisional reason as final and re-examines a generic one (userunknown,
 * expired, systemerror...), so a row here only says what the report itself claims.
 *
 * Each row names the family it belongs to (`mta`, the id of ./families.ts) or none when its
 * token is unique to one kind of system wherever it appears; the first matching row wins.
 *
 * @module
 */

import type { ReasonFamily } from '../../classify/phrases.js';

/** One provisional-reason rule of a report format. */
export interface ProvisionalRule {
  /** Family id (./families.ts) whose reports the rule reads; any report when absent. */
  readonly mta?: string;
  /** Tested against the recipient's diagnostic text. */
  readonly pattern: RegExp;
  /** The reason the format names. */
  readonly reason: ReasonFamily;
}

/** The built-in rules. */
export const PROVISIONAL_RULES: readonly ProvisionalRule[] = Object.freeze([
  // Exchange 2007 and later write a component token after the status: `550 5.1.1
  // RESOLVER.ADR.RecipNotFound; not found`, `554 5.4.4 SMTPSEND.DNS.NonExistentDomain`.
  { pattern: /\bRESOLVER\.ADR\.(?:RecipNotFound|RecipientNotFound|ExRecipNotFound)\b/, reason: 'userunknown' },
  { pattern: /\bRESOLVER\.ADR\.RecipLimit\b/, reason: 'toomanyconn' },
  { pattern: /\bRESOLVER\.ADR\.(?:BadPrimary|InvalidInSmtp|Ambiguous)\b/, reason: 'systemerror' },
  { pattern: /\bRESOLVER\.RST\.AuthRequired\b/, reason: 'securityerror' },
  { pattern: /\bRESOLVER\.RST\.NotAuthorized\b/, reason: 'rejected' },
  { pattern: /\bRESOLVER\.RST\.RecipSizeLimit\b/, reason: 'mesgtoobig' },
  { pattern: /\bSMTPSEND\.DNS\.NonExistentDomain\b/, reason: 'hostunknown' },
  { pattern: /\bSMTPSEND\.DNS\.MxLoopback\b/, reason: 'networkerror' },
  { pattern: /\bQUEUE\.Expired\b/, reason: 'expired' },
  // Exchange 2000/2003 (its Internet Mail Service) ends the reason with an error code in
  // parentheses: `MSEXCH:IMS:ORG:SITE:SERVER 0 (000C05A6) Unknown Recipient`.
  { mta: 'exchange', pattern: /\(000C05A6\)/, reason: 'userunknown' },
  { mta: 'exchange', pattern: /\(000C0595\)/, reason: 'filtered' },
  { mta: 'exchange', pattern: /\(00010264\)/, reason: 'mesgtoobig' },
  { mta: 'exchange', pattern: /\(000D06B5\)/, reason: 'networkerror' },
  { mta: 'exchange', pattern: /\(000B0981\)/, reason: 'securityerror' },
  { mta: 'exchange', pattern: /\(000B09(?:9C|AA|B6)\)/, reason: 'onhold' },
  // InterScan MSS says only "Unable to deliver message to <addr>" when the recipient's server
  // refused it: its verdict on the address.
  { mta: 'interscanmss', pattern: /\bUnable to deliver message to\b/i, reason: 'userunknown' },
  // McAfee's gateway names the unknown recipient itself.
  { mta: 'mcafee', pattern: /\b(?:no such user|user unknown|unknown user|invalid recipient|user\b.{1,80}\bunknown\.)/i, reason: 'userunknown' },
  // Lotus Domino / Notes: the directory lookup.
  { mta: 'domino', pattern: /not listed in (?:the )?(?:public )?(?:Name & Address Book|Domino Directory)|no se encuentra en el Directorio de Domino|non répertorié dans l'annuaire Domino|ディレクトリ(?:には見つかりません|のリストにありません)/i, reason: 'userunknown' },
  { mta: 'domino', pattern: /Cannot route mail to user/i, reason: 'filtered' },
  { mta: 'domino', pattern: /Several matches found in (?:the )?Domino Directory/i, reason: 'systemerror' },
  // IMail Server.
  { mta: 'imailserver', pattern: /^\s*(?:Unknown user|Invalid final delivery userid)\b/im, reason: 'userunknown' },
  { mta: 'imailserver', pattern: /^\s*Unknown host\b/im, reason: 'hostunknown' },
  { mta: 'imailserver', pattern: /^\s*User mailbox exceeds allowed size/im, reason: 'mailboxfull' },
  { mta: 'imailserver', pattern: /^\s*Delivery failed \d+ attempts/im, reason: 'expired' },
  // Amazon SES receiving mail for a domain: the reply text is its verdict.
  { mta: 'receivingses', pattern: /\bMailbox does not exist\b/i, reason: 'filtered' },
  { mta: 'receivingses', pattern: /\bMessage too large\b/i, reason: 'mesgtoobig' },
  { mta: 'receivingses', pattern: /\bMailbox full\b/i, reason: 'mailboxfull' },
  { mta: 'receivingses', pattern: /\bMessage content rejected\b/i, reason: 'contenterror' },
  // Biglobe (and the ISPs on its system): its "Non-delivered information" names the verdict.
  { mta: 'biglobe', pattern: /Mail Delivery Failed\.{3} User unknown/i, reason: 'filtered' },
  { mta: 'biglobe', pattern: /number of messages in recipient's mailbox exceeded the local limit/i, reason: 'mailboxfull' },
  // KDDI (au one net / DION): "Could not be delivered to: <addr>" and why.
  { mta: 'kddi', pattern: /\bAs their mailbox is full\b/i, reason: 'mailboxfull' },
  { mta: 'kddi', pattern: /\bDue to the following SMTP relay error\b/i, reason: 'norelaying' },
  { mta: 'kddi', pattern: /\bAs the remote domain does ?n'?t exist\b/i, reason: 'hostunknown' },
  // Exim's delay wording: the retry time ran out, or the message was frozen in the queue.
  { mta: 'exim', pattern: /\bretry timeout exceeded\b|\bhas been frozen\b|\bwas frozen on arrival\b|\bDelay reason: |retry time not reached for any host after a long failure period|all hosts have been failing for a long time and were last tried/i, reason: 'expired' },
  // fml mailing list manager: its error mails (a post from a non-member, a loop, a security alert).
  { mta: 'fml', pattern: /not (?:a )?member|ignored not member post|reject(?:ed)? (?:mail|post)|spammer/i, reason: 'rejected' },
  { mta: 'fml', pattern: /security alert/i, reason: 'securityerror' },
  { mta: 'fml', pattern: /fml system error|loop alert|loop back warning|unix from loop|duplicated message-id/i, reason: 'systemerror' },
]);

/**
 * The provisional reason a report's own format names for one recipient, or `undefined`.
 *
 * @param mta The family id of the report (./families.ts), if known.
 * @param text The recipient's diagnostic text (and, for families that write their verdict in the
 *   subject, the subject).
 */
export function provisionalReason(mta: string | undefined, text: string): ReasonFamily | undefined {
  if (text === '') return undefined;
  const t = text.length > 8192 ? text.slice(0, 8192) : text;
  for (const rule of PROVISIONAL_RULES) {
    if (rule.mta !== undefined && rule.mta !== mta) continue;
    if (rule.pattern.test(t)) return rule.reason;
  }
  return undefined;
}

/**
 * Local delivery agents (mail.local, procmail, maildrop, vpopmail's vdelivermail, vmailmgr's
 * vdeliver) quoted at the start of a line in any report, and the reason their own words name
 * (the reference's Sisimai::MDA): their verdict on the whole report.
 */
export const MDA_RULES: readonly (readonly [pattern: RegExp, reason: ReasonFamily])[] = Object.freeze([
  [/^\s*mail\.local: .{0,80}(?:disc quota exceeded|mailbox full or quota exceeded)/im, 'mailboxfull'],
  [/^\s*mail\.local: .{0,80}(?:unknown user|user unknown|invalid mailbox path|user missing home directory)/im, 'userunknown'],
  [/^\s*mail\.local: .{0,80}temporary file write error/im, 'systemerror'],
  [/^\s*procmail: .{0,80}quota exceeded while writing/im, 'mailboxfull'],
  [/^\s*procmail: .{0,80}no space left to finish writing/im, 'systemfull'],
  [/^\s*maildrop: .{0,80}maildir over quota/im, 'mailboxfull'],
  [/^\s*maildrop: .{0,80}(?:invalid user specified|cannot find system user)/im, 'userunknown'],
  [/^\s*vdelivermail: .{0,80}account is locked email bounced/im, 'suspend'],
  [/^\s*vdelivermail: .{0,80}(?:domain|user) is over quota/im, 'mailboxfull'],
  [/^\s*vdelivermail: .{0,80}sorry, no mailbox here by that name/im, 'userunknown'],
  [/^\s*vdeliver: .{0,80}delivery failed due to system quota violation/im, 'mailboxfull'],
  [/^\s*vdeliver: .{0,80}(?:invalid or unknown (?:base user or domain|virtual user)|user name does not refer to a virtual user)/im, 'userunknown'],
]);

/** What every line of a local delivery agent starts with. */
const MDA_AGENT = /^\s*(?:mail\.local|procmail|maildrop|vdelivermail|vdeliver): /im;

/**
 * The reason a local delivery agent's line in a report names, or `undefined`.
 *
 * @param text The report's human-readable text.
 * @example
 * mdaReason('procmail: Quota exceeded while writing "/var/mail/ann"'); // 'mailboxfull'
 */
export function mdaReason(text: string): ReasonFamily | undefined {
  const t = text.length > 16384 ? text.slice(0, 16384) : text;
  if (!MDA_AGENT.test(t)) return undefined;
  for (const [pattern, reason] of MDA_RULES) if (pattern.test(t)) return reason;
  return undefined;
}
