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
  /** Family id (./families.ts), or ids, whose reports the rule reads; any report when absent. */
  readonly mta?: string | readonly string[];
  /** Tested against the recipient's diagnostic text. */
  readonly pattern: RegExp;
  /** The reason the format names. */
  readonly reason: ReasonFamily;
}

/** Exim and the systems that run it under their own name. */
const EXIM: readonly string[] = ['exim', 'mailru'];

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
  { mta: EXIM, pattern: /\bretry timeout exceeded\b|\bhas been frozen\b|\bwas frozen on arrival\b|\bDelay reason: |retry time not reached for any host after a long failure period|all hosts have been failing for a long time and were last tried/i, reason: 'expired' },
  // Exim (and mail.ru, which runs it): the wording of its routers and transports for what it
  // decided itself, without a remote reply.
  { mta: EXIM, pattern: /\ball host address lookups failed permanently\b|\ball relevant MX records point to non-existent hosts\b|\bUnrouteable address\b/i, reason: 'hostunknown' },
  { mta: EXIM, pattern: /\ban MX or SRV record indicated no SMTP service\b|\bno host found for existing SMTP connection\b/i, reason: 'notaccept' },
  { mta: EXIM, pattern: /\bangle-brackets nested too deep\b|expected word or "<"|\bdomain missing in source-routed address\b|\bmalformed address: /i, reason: 'syntaxerror' },
  { mta: EXIM, pattern: /\bmailbox is full\b|\berror: quota exceed/i, reason: 'mailboxfull' },
  { mta: EXIM, pattern: /Too many ["']Received["'] headers/i, reason: 'contenterror' },
  { mta: EXIM, pattern: /\bdelivery to (?:file|pipe) forbidden\b|\blocal delivery failed\b|\bLMTP error after /i, reason: 'systemerror' },
  { mta: EXIM, pattern: /\buser not found\b/i, reason: 'userunknown' },
  // qmail (and qmail-ldap): qmail-remote's and qmail-ldap's own messages.
  { mta: 'qmail', pattern: /Mailaddress is administrativ(?:e)?ly disabled/i, reason: 'suspend' },
  { mta: 'qmail', pattern: /The message exeeded the maximum size the user accepts/i, reason: 'exceedlimit' },
  { mta: 'qmail', pattern: /\bMessage is too big\b/i, reason: 'mesgtoobig' },
  { mta: 'qmail', pattern: /Sorry, I couldn'?t find any host /i, reason: 'hostunknown' },
  {
    mta: 'qmail',
    pattern:
      /Automatic homedir creator crashed|Illegal value in LDAP attribute|LDAP attribute is not given but mandatory|Timeout while performing search on LDAP server|Too many results returned but needs to be unique|error while executing qmail-forward|Temporary error in automatic homedir creation|Temporary failure in LDAP lookup|Unable to contact LDAP server|Unable to login into LDAP server/i,
    reason: 'systemerror',
  },
  // Courier's own DNS verdicts.
  { mta: 'courier', pattern: /\bNo such domain\./i, reason: 'hostunknown' },
  { mta: 'courier', pattern: /This domain's DNS violates RFC 1035/i, reason: 'systemerror' },
  { mta: 'courier', pattern: /\bDNS lookup failed\./i, reason: 'networkerror' },
  // OpenSMTPD's own relay failures.
  { mta: 'opensmtpd', pattern: /\bInvalid domain name\b|\bDomain does not exist\b/i, reason: 'hostunknown' },
  { mta: 'opensmtpd', pattern: /Destination seem to reject all mails/i, reason: 'notaccept' },
  {
    mta: 'opensmtpd',
    pattern:
      /Address family mismatch on destination MXs|All routes to destination blocked|bad DNS lookup error code|Could not retrieve source address|Loop detected|Network error on destination MXs|No MX found for (?:domain|destination)|No valid route to (?:remote MX|destination)|Temporary failure in MX lookup/i,
    reason: 'networkerror',
  },
  { mta: 'opensmtpd', pattern: /Could not retrieve credentials/i, reason: 'securityerror' },
  // Google Workspace's own sentences: the address or the domain not found, a null MX.
  { mta: 'gsuite', pattern: /because the address couldn'?t be found\. Check for typos/i, reason: 'userunknown' },
  { mta: 'gsuite', pattern: /\bNull MX\b/i, reason: 'notaccept' },
  { mta: 'gsuite', pattern: / had no relevant answers\.| responded with code NXDOMAIN|Domain name not found/i, reason: 'networkerror' },
  // Verizon's text gateways (vtext, vzwpix).
  { mta: 'verizon', pattern: /No valid recipients for this MM|550 - Requested action not taken: no such user here/i, reason: 'userunknown' },
  // Facebook's response codes (postmaster.facebook.com/response_codes) after the reply.
  { mta: 'facebook', pattern: /\b(?:RCP-P1|INT-P[134])\b/, reason: 'userunknown' },
  { mta: 'facebook', pattern: /\bRCP-P[23]\b/, reason: 'filtered' },
  { mta: 'facebook', pattern: /\b(?:MSG-P1|INT-P2)\b/, reason: 'mesgtoobig' },
  { mta: 'facebook', pattern: /\bMSG-P[23]\b/, reason: 'contenterror' },
  { mta: 'facebook', pattern: /\bRCP-T4\b/, reason: 'suspend' },
  { mta: 'facebook', pattern: /\bRCP-T1\b/, reason: 'systemerror' },
  { mta: 'facebook', pattern: /\b(?:CON-T[1-4]|MSG-T1)\b/, reason: 'toomanyconn' },
  // Gmail's own sentences when it got no reply to quote.
  { mta: 'gmail', pattern: /DNS Error: (?:Domain name not found|DNS server returned answer with no data)/i, reason: 'hostunknown' },
  { mta: 'gmail', pattern: /DNS Error: Could not contact DNS servers|Delivery to the following recipients? (?:has been|is) delayed|The recipient server did not accept our requests? to connect/i, reason: 'expired' },
  // AOL's and Outlook.com's (Hotmail's) own wording.
  { mta: 'aol', pattern: /Host or domain name not found/i, reason: 'hostunknown' },
  { mta: 'aol', pattern: /type=MX: Malformed or unexpected name server reply/i, reason: 'notaccept' },
  { mta: 'outlook', pattern: /the domain is not reachable/i, reason: 'hostunknown' },
  { mta: 'outlook', pattern: /Requested action not taken: mailbox unavailable/i, reason: 'userunknown' },
  // Zoho, GMX, 1&1, Sun/Oracle Messaging Server, Lotus Notes.
  { mta: 'zoho', pattern: /\bHost not reachable\b/i, reason: 'expired' },
  { mta: 'gmx', pattern: /delivery retry timeout exceeded/i, reason: 'expired' },
  { mta: 'einsundeins', pattern: /Mail size limit exceeded/i, reason: 'mesgtoobig' },
  { mta: 'messagingserver', pattern: /Illegal host\/domain name found/i, reason: 'hostunknown' },
  { mta: 'domino', pattern: /Message has exceeded maximum hop count/i, reason: 'networkerror' },
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
  const { rules, any } = rulesFor(mta);
  // Most texts match no rule: one scan per group of patterns tells, before the ordered search.
  if (!any.some((re) => re.test(t))) return undefined;
  for (const rule of rules) if (rule.pattern.test(t)) return rule.reason;
  return undefined;
}

/** The rules that read a family's reports, in order, and their patterns joined by flags ("does any match"). */
interface FamilyRules {
  readonly rules: readonly ProvisionalRule[];
  readonly any: readonly RegExp[];
}
const BY_FAMILY = new Map<string | undefined, FamilyRules>();

function rulesFor(mta: string | undefined): FamilyRules {
  let r = BY_FAMILY.get(mta);
  if (r === undefined) {
    const rules = PROVISIONAL_RULES.filter((rule) => rule.mta === undefined || (typeof rule.mta === 'string' ? rule.mta === mta : mta !== undefined && rule.mta.includes(mta)));
    const byFlags = new Map<string, string[]>();
    for (const rule of rules) {
      const flags = rule.pattern.flags.replace(/[gy]/g, '');
      let list = byFlags.get(flags);
      if (list === undefined) byFlags.set(flags, (list = []));
      list.push(`(?:${rule.pattern.source})`);
    }
    r = { rules, any: [...byFlags].map(([flags, sources]) => new RegExp(sources.join('|'), flags)) };
    // Family ids come from ./families.ts: a few dozen at most.
    if (BY_FAMILY.size < 256) BY_FAMILY.set(mta, r);
  }
  return r;
}

/**
 * Local delivery agents (mail.local, procmail, maildrop, vpopmail's vdelivermail, vmailmgr's
 * vdeliver, Dovecot's "was automatically rejected") quoted in any report, and the reason their own words name
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
  // Dovecot's LDA/LMTP: "Your message to <addr> was automatically rejected:" then its reason.
  [/was automatically rejected:\s{0,4}(?:mailbox doesn't exist: )/i, 'userunknown'],
  [/was automatically rejected:\s{0,4}(?:quota exceeded|not enough disk space)/i, 'mailboxfull'],
  [/^\s*vdeliver: .{0,80}(?:invalid or unknown (?:base user or domain|virtual user)|user name does not refer to a virtual user)/im, 'userunknown'],
]);

/** What every line of a local delivery agent starts with. */
const MDA_AGENT = /^\s*(?:mail\.local|procmail|maildrop|vdelivermail|vdeliver): |\bwas automatically rejected:/im;

/**
 * The reason a local delivery agent's line in a report names, or `undefined`.
 *
 * @param text The report's human-readable text.
 * @example
 * mdaReason('procmail: Quota exceeded while writing "/var/mail/ann"'); // 'mailboxfull'
 */
export function mdaReason(text: string): ReasonFamily | undefined {
  const t = text.length > 16384 ? text.slice(0, 16384) : text;
  // Substring searches first: most reports name no agent, and a scan with `^` is slower.
  if (!t.includes('mail.local: ') && !t.includes('procmail: ') && !t.includes('maildrop: ') && !t.includes('vdeliver') && !t.includes('automatically rejected:')) return undefined;
  if (!MDA_AGENT.test(t)) return undefined;
  for (const [pattern, reason] of MDA_RULES) if (pattern.test(t)) return reason;
  return undefined;
}
