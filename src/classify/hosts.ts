/**
 * Per-receiving-host rules, as data: large providers answer with their own codes (Microsoft's
 * `5.7.606`, Orange's `OFR_416`, GoDaddy's `IB212`) or wording whose meaning differs from the
 * generic reading. A provider's rule applies when the remote host contains one of its host
 * strings, or when the recipient's domain is part of one (mail to `wanadoo.fr` is answered by
 * Orange). They run before the generic rules (see `./reason.ts`), and a non-empty answer is
 * final.
 *
 * @module
 */

import type { ReasonFamily } from './phrases.js';

/** What a provider rule sees. */
export interface HostFacts {
  /** The diagnostic text, lower case. */
  readonly text: string;
  /** The enhanced status, when known. */
  readonly status: string | undefined;
  /** The reply code, when known. */
  readonly code: number | undefined;
  /** The refused SMTP command (`RCPT`, `DATA`, ...), when known. */
  readonly command: string | undefined;
}

/** A provider's answer: the reason family and what decided it. */
export interface HostAnswer {
  readonly family: ReasonFamily;
  readonly matched: string;
}

/** One provider. */
export interface HostRule {
  /** Provider id, reported in `decidedBy.rule` as `host/<id>`. */
  readonly id: string;
  /** Host strings (lower case): the remote host contains one, or the recipient domain is part of one. */
  readonly hosts: readonly string[];
  /** Tokens only this provider writes in its replies (lower case), which identify it without the host. */
  readonly tokens?: readonly string[];
  /** The provider's reading of a reply, or `undefined` to leave it to the generic rules. */
  decide(facts: HostFacts): HostAnswer | undefined;
}

const detail = (status: string | undefined): number | undefined => (status === undefined ? undefined : Number(status.split('.')[2]));
const subject = (status: string | undefined): string | undefined => status?.split('.')[1];

function phraseTable(table: readonly (readonly [string, ReasonFamily])[]): (facts: HostFacts) => HostAnswer | undefined {
  return (facts) => {
    for (const [phrase, family] of table) if (facts.text.includes(phrase)) return { family, matched: phrase };
    return undefined;
  };
}

/** Orange, Wanadoo and La Poste: `OFR_416`, `LPN007_510`, `OUK_417`. */
const FRANCE_PTT_CODES: Readonly<Record<string, ReasonFamily>> = Object.freeze({
  '101': 'blocked',
  '102': 'blocked',
  '103': 'blocked',
  '104': 'toomanyconn',
  '401': 'authfailure',
  '415': 'rejected', // "Emetteur invalide. Invalid sender"
  '416': 'userunknown',
  '417': 'mailboxfull',
  '418': 'userunknown', // "Adresse d'au moins un destinataire invalide. Invalid recipient" (the reference's user-unknown pairs name 416 and 418)
  '420': 'suspend',
  '426': 'suspend',
  '505': 'systemerror',
  '506': 'spamdetected',
  '510': 'blocked',
  '517': 'authfailure',
  '999': 'blocked',
});

/** i.ua's `mail.i.ua/err/N` pages. */
const IUA_CODES: Readonly<Record<string, ReasonFamily>> = Object.freeze({
  '1': 'norelaying', // SMTP as a mail gate is forbidden
  '2': 'userunknown',
  '3': 'suspend', // mailbox unused for more than 3 months
  '4': 'mailboxfull',
  '5': 'toomanyconn', // sending limit exceeded
  '6': 'norelaying', // use your provider's SMTP server
  '7': 'blocked', // wrong HELO/EHLO argument
  '8': 'rejected', // the sender address could not be checked
  '9': 'blocked', // the sender's IP is blacklisted
  '10': 'filtered', // not in the recipient's address management list
});

/** Mimecast's published refusals (community.mimecast.com SMTP error codes), after the specific ones above. */
const MIMECAST_PHRASES = phraseTable([
  ['envelope blocked', 'rejected'], // the recipient's or the domain's blocked-senders entry
  ['blocked senders', 'rejected'],
  ['anti-spoofing', 'rejected'],
  ['ip found on rbl', 'blocked'],
  ['local cbl', 'blocked'],
  ['local ip block', 'blocked'],
  ['not rfc compliant', 'notcompliantrfc'],
  ['maximum email size exceeded', 'mesgtoobig'],
  ['recipient limit exceeded', 'toomanyconn'],
  ['internal resources are temporarily unavailable', 'systemerror'],
  ['recipient email address is possibly incorrect', 'userunknown'],
  ['invalid recipient', 'userunknown'],
]);

/** NTT DOCOMO's own replies, read before its status codes. */
const NTTDOCOMO_PHRASES: readonly (readonly [string, ReasonFamily])[] = [
  ['552 too much mail data', 'mailboxfull'],
  ['552 too many recipients', 'toomanyconn'],
  ['503 bad sequence of commands', 'syntaxerror'],
  ['504 command parameter not implemented', 'syntaxerror'],
];

/** GoDaddy's wording when its reply carries no `IBnnn` token. */
const GODADDY_PHRASES = phraseTable([
  ['554 rbl reject', 'blocked'],
  ['ip reputation', 'blocked'],
  ['delivery timeout', 'expired'],
  ["wasn't able to establish an smtp connection", 'expired'],
  ['account disabled', 'suspend'],
  ['account storage limit', 'mailboxfull'],
  ['account does not exist', 'userunknown'],
  ['recipient not found', 'userunknown'],
]);

/** GoDaddy's `IBnnn` tokens. */
const GODADDY_CODES: Readonly<Record<string, ReasonFamily>> = Object.freeze({
  IB103: 'badreputation',
  IB104: 'blocked',
  IB105: 'blocked',
  IB106: 'blocked',
  IB110: 'blocked',
  IB111: 'blocked',
  IB112: 'blocked',
  IB113: 'blocked',
  IB101: 'speeding',
  IB504: 'speeding',
  IB510: 'speeding',
  IB607: 'speeding',
  IB007: 'toomanyconn',
  IB605: 'toomanyconn',
  IB212: 'spamdetected',
  IB705: 'virusdetected',
  IB508: 'authfailure',
  IB108: 'requireptr',
  IB501: 'notcompliantrfc',
  IB502: 'notcompliantrfc',
});

/**
 * Google's SMTP error list (support.google.com/a/answer/3726730), as the reference's Google
 * rule reads it: the enhanced status (class digit ignored; `*` for any) and a phrase of the
 * reply must both agree. First match wins, so the more specific wording comes first.
 */
const GOOGLE_REPLIES: readonly (readonly [ReasonFamily, string, string])[] = [
  // The recipient.
  ['userunknown', '1.1', 'the email account that you tried to reach does not exist'],
  ['hostunknown', '1.2', "we weren't able to find the recipient domain"],
  ['userunknown', '1.3', 'is not a valid rfc 5321 address'],
  ['suspend', '2.1', 'the email account that you tried to reach is disabled'],
  ['suspend', '2.1', 'the email account that you tried to reach is inactive'],
  ['speeding', '2.1', 'is receiving mail too quickly'],
  ['speeding', '2.1', 'is receiving mail at a rate that prevents additional messages'],
  ['mailboxfull', '2.2', 'the email account that you tried to reach is over quota'],
  ['mailboxfull', '2.2', 'the recipient\'s inbox is out of storage space'],
  ['exceedlimit', '2.3', "your message exceeded google's message header size limits"],
  ['mesgtoobig', '2.3', "your message exceeded google's message size limits"],
  ['mesgtoobig', '3.4', "your message exceeded google's message size limits"],
  ['toomanyconn', '5.3', 'your message has too many recipients'],
  ['toomanyconn', '5.3', 'domain policy size per transaction exceeded'],
  ['speeding', '4.5', 'daily sending quota exceeded'],
  ['speeding', '4.5', 'daily user sending quota exceeded'],
  ['speeding', '7.1', 'daily smtp relay limit exceeded'],
  // The system and the session.
  ['systemerror', '*', 'temporary system problem'],
  ['systemerror', '3.0', 'mail server temporarily rejected message'],
  ['systemerror', '3.0', 'multiple destination domains per transaction is unsupported'],
  ['toomanyconn', '4.5', 'server busy, try again later'],
  ['networkerror', '4.2', 'timeout - closing connection'],
  ['syntaxerror', '5.0', 'smtp protocol violation'],
  ['syntaxerror', '5.1', 'starttls may not be repeated'],
  ['syntaxerror', '5.2', 'cannot decode response'],
  ['syntaxerror', '5.2', 'syntax error'],
  ['syntaxerror', '5.1', 'too many unrecognized commands'],
  ['syntaxerror', '5.1', 'unrecognized command'],
  ['syntaxerror', '5.1', 'unimplemented command'],
  ['syntaxerror', '5.1', 'bad sequence of commands'],
  ['syntaxerror', '5.1', 'first.'],
  ['syntaxerror', '5.4', 'invalid command arguments'],
  ['blocked', '5.4', 'helo/ehlo argument is invalid'],
  // Authentication of the session, TLS.
  ['securityerror', '7.0', 'must issue a starttls command first'],
  ['securityerror', '7.0', 'tls required for rcpt domain'],
  ['securityerror', '7.0', 'cannot authenticate due to temporary system problem'],
  ['securityerror', '7.0', 'no identity changes permitted'],
  ['securityerror', '7.0', 'too many unauthenticated commands'],
  ['securityerror', '7.0', 'too many login attempts'],
  ['securityerror', '7.4', 'unrecognized authentication type'],
  ['securityerror', '5.1', 'authentication required'],
  ['securityerror', '5.4', 'optional argument not permitted for that auth mode'],
  ['securityerror', '7.1', 'application-specific password required'],
  ['securityerror', '7.1', 'please log in with your web browser'],
  ['securityerror', '7.1', 'username and password not accepted'],
  ['securityerror', '7.1', 'invalid credentials for relay'],
  ['securityerror', '7.8', 'username and password not accepted'],
  ['securityerror', '7.9', 'please log in with your web browser'],
  ['securityerror', '7.29', 'wasn\'t sent over a tls connection'],
  // Who sends: the client, the sending domain.
  ['blocked', '7.0', 'ip not in whitelist for rcpt domain'],
  ['blocked', '7.0', 'try again later, closing connection'],
  ['blocked', '7.1', 'is not authorized to send email directly to our servers'],
  ['blocked', '7.0', 'unusual rate of unsolicited mail originating from your ip address'],
  ['blocked', '7.1', 'unusual rate of unsolicited mail originating from your ip address'],
  ['badreputation', '7.0', 'very low reputation of the sending'],
  ['badreputation', '7.1', 'very low reputation of the sending'],
  ['badreputation', '7.1', 'likely suspicious due to the very low reputation'],
  ['requireptr', '*', 'does not have a ptr record'],
  ['requireptr', '*', 'ptr record setup'],
  ['norelaying', '7.0', 'mail relay denied'],
  ['authfailure', '7.1', 'unauthenticated email is not accepted from this domain'],
  ['authfailure', '*', 'does not pass authentication checks'],
  ['authfailure', '*', 'has been rate limited because it is unauthenticated'],
  ['authfailure', '*', 'unauthenticated email from'],
  ['authfailure', '*', 'does not pass spf'],
  ['authfailure', '*', 'spf check for'],
  ['authfailure', '*', 'dkim checks did not pass'],
  ['authfailure', '*', 'dkim authentication didn\'t pass'],
  ['authfailure', '*', 'dmarc policy'],
  ['authfailure', '*', 'isn\'t aligned with either the authenticated spf or dkim'],
  ['authfailure', '*', 'is not aligned with either the authenticated spf or dkim'],
  // The message.
  ['notcompliantrfc', '7.1', 'not rfc 5322 compliant'],
  ['notcompliantrfc', '7.1', 'missing a valid address in from: header'],
  ['notcompliantrfc', '7.1', 'multiple addresses in from: header'],
  ['notcompliantrfc', '7.1', 'message-id header'],
  ['notcompliantrfc', '7.1', 'rfcmessagenoncompliant'],
  ['contenterror', '6.0', 'mail message is malformed'],
  ['contenterror', '6.0', 'message exceeded 50 hops'],
  ['spamdetected', '7.1', 'this message is likely unsolicited mail'],
  ['spamdetected', '7.0', 'suspicious due to the nature of the content'],
  ['spamdetected', '7.1', 'suspicious due to the nature of the content'],
  ['virusdetected', '7.0', 'its content presents a potential security issue'],
  ['policyviolation', '7.0', 'illegal attachment'],
  ['policyviolation', '7.1', 'has a policy that prohibited the mail that you sent'],
];

/** GOOGLE_REPLIES by status without its class (`*` entries in every list), in table order. */
const GOOGLE_BY_STATUS: ReadonlyMap<string, readonly (readonly [ReasonFamily, string, string])[]> = (() => {
  const m = new Map<string, (readonly [ReasonFamily, string, string])[]>();
  for (const e of GOOGLE_REPLIES) if (e[1] !== '*' && !m.has(e[1])) m.set(e[1], []);
  for (const e of GOOGLE_REPLIES) for (const [k, list] of m) if (e[1] === '*' || e[1] === k) list.push(e);
  return m;
})();
const GOOGLE_ANY_STATUS = GOOGLE_REPLIES.filter((e) => e[1] === '*');

function googleTable(f: HostFacts): HostAnswer | undefined {
  const st = f.status;
  // Without a status every entry may apply; with one, only its entries and the `*` ones.
  const list = st === undefined ? GOOGLE_REPLIES : (GOOGLE_BY_STATUS.get(st.slice(2)) ?? GOOGLE_ANY_STATUS);
  for (const [family, , phrase] of list) {
    if (f.text.includes(phrase)) return { family, matched: st === undefined ? phrase : `${st} ${phrase}` };
  }
  return undefined;
}

/** The built-in provider rules. */
export const HOST_RULES: readonly HostRule[] = Object.freeze([
  {
    id: 'google',
    hosts: ['aspmx.l.google.com', 'gmail-smtp-in.l.google.com'],
    // Google's SMTP servers end every reply with " - gsmtp": the reply is Google's even when the
    // report does not name the remote host.
    tokens: [' - gsmtp'],
    decide(f: HostFacts): HostAnswer | undefined {
      const s = subject(f.status);
      const d = detail(f.status);
      // Google's published replies: (enhanced status without its class, wording) -> reason.
      const answer = googleTable(f);
      if (answer !== undefined) return answer;
      if (f.text.includes('receiving mail too quickly') || f.text.includes('unusual rate')) return { family: 'speeding', matched: 'rate wording' };
      if (s === '7' && d === 25) return { family: 'requireptr', matched: `${f.status}` };
      if (s === '7' && d !== undefined && d >= 24 && d <= 32 && d !== 25 && d !== 28) return { family: 'authfailure', matched: `${f.status}` };
      if (s === '2' && d === 1 && f.text.includes('disabled')) return { family: 'suspend', matched: `${f.status} disabled` };
      if (f.text.includes('application-specific password') || (s === '7' && f.text.includes('tls'))) return { family: 'securityerror', matched: 'tls/password' };
      return undefined;
    },
  },
  {
    id: 'microsoft',
    hosts: ['.prod.outlook.com', '.protection.outlook.com'],
    // Also Microsoft's own three-digit X.4.3NN statuses (DNS and queue failures of Exchange
    // Online), which the reference's Office 365 reader maps by code: 4/5.4.312 networkerror,
    // 5.4.316 expired; no other mail system uses them.
    tokens: ['resolver.adr.', 'resolver.rst.', '.prod.outlook.com', '.protection.outlook.com', '4.4.312', '5.4.312', '4.4.316', '5.4.316', '5.4.310', '5.4.311'],
    decide(f: HostFacts): HostAnswer | undefined {
      const st = f.status;
      if (st === undefined) return undefined;
      const [c, s, dd] = st.split('.');
      const d = Number(dd);
      const m = (family: ReasonFamily): HostAnswer => ({ family, matched: st });
      if (s === '7') {
        if (c === '5' && d >= 606 && d <= 649) return m('blocked');
        if (c === '4' && ((d >= 500 && d <= 699) || (d >= 850 && d <= 899))) return m('blocked');
        if (c === '5' && d >= 700 && d <= 749) return m('speeding');
        if (d >= 900 && d <= 999) return m('policyviolation');
        if (d >= 501 && d <= 503) return m('rejected');
        if (d === 23 || d === 509) return m('authfailure');
        if (d === 504 || d === 505) return m('suspend');
      }
      if (s === '7') {
        if (d === 506 || d === 511 || d === 513 || d === 750) return m('blocked'); // bad HELO, banned sender, customer block list, unregistered domain
        if (d === 512) return m('notcompliantrfc'); // must be RFC 5322 section 3.6.2 compliant
        if (d === 25) return m('requireptr');
      }
      if (s === '4' && (st === '4.4.7' || st === '5.4.300' || d === 316)) return m('expired');
      if (s === '4' && d === 317) return m('securityerror');
      if (s === '4' && (d === 310 || d === 311)) return m('hostunknown'); // DNS domain does not exist
      if (s === '4' && (d === 312 || d === 6 || d === 14)) return m('networkerror'); // DNS query failed, routing loop
      if (st === '5.1.10') return m('userunknown');
      if (s === '2' && (d === 121 || d === 122)) return m('speeding'); // per-hour receive limit from a sender
      if (st === '5.1.90' || (s === '2' && d === 2 && f.text.includes('submission quota'))) return m('speeding'); // the sender's own limits
      if (st === '5.4.1') {
        if (f.text.includes('relay access denied')) return m('norelaying');
        // Directory-based edge blocking: the recipient is not in the tenant's directory.
        if (f.text.includes('access denied')) return m('userunknown');
      }
      return undefined;
    },
  },
  {
    id: 'yahoo',
    hosts: ['.yahoodns.net'],
    decide: phraseTable([
      ['deferred due to unexpected volume or user complaints', 'rejected'],
      ['permanently deferred', 'rejected'],
      ['due to unresolvable rfc.5321', 'rejected'],
      ['yahoo requires all senders to authenticate with either spf or dkim', 'authfailure'],
      ["because the ip is in spamhaus's list", 'blocked'],
      ['not accepted from ip addresses on spamhaus xbl', 'blocked'],
      ['relaying denied for ', 'norelaying'],
      ['headers are not rfc compliant', 'notcompliantrfc'],
      ['not accepted for policy reasons', 'policyviolation'],
      ['user is receiving mail too quickly', 'speeding'],
      [' is no longer valid.', 'suspend'],
      ['this mailbox is disabled', 'suspend'],
      ['syntax error in parameters or arguments', 'syntaxerror'],
      ['max message per connection reached', 'toomanyconn'],
      ["this user doesn't have a ", 'userunknown'],
      ['mailbox not found', 'userunknown'],
    ]),
  },
  {
    id: 'apple',
    hosts: ['.mail.icloud.com', '.apple.com', '.me.com'],
    // support.apple.com/HT204137: iCloud's refusals, by their wording.
    decide: phraseTable([
      ['recipient no longer on server', 'hasmoved'],
      ['excessive volume', 'speeding'],
      ["s dmarc policy", 'authfailure'],
      ['for failing both spf and dkim', 'authfailure'],
      ['rejected due to having a domain present in the spamhaus', 'blocked'],
      ['rejected due to listing in spamhaus', 'blocked'],
      ['blocked - see https://support.proofpoint.com/dnsbl-lookup', 'blocked'],
      ['not accepting connections', 'blocked'],
      ['user is over quota', 'mailboxfull'],
      ['relay access denied', 'norelaying'],
      ['host/domain does not accept mail', 'notaccept'],
      ['due to local policy', 'policyviolation'],
      ['sender address rejected', 'rejected'],
      ['inactive email address', 'userunknown'],
      ['user does not exist', 'userunknown'],
      ['unknown or illegal alias', 'userunknown'],
    ]),
  },
  {
    id: 'tencent',
    hosts: ['.qq.com'],
    // service.mail.qq.com/detail/122/*: the longer wording first ("suspected spam ip" is the client).
    decide: phraseTable([
      ['frequency limited', 'toomanyconn'],
      ['spf check failed', 'authfailure'],
      ['dmarc check failed', 'authfailure'],
      ['suspected bounce attacks', 'blocked'],
      ['suspected spam ip', 'blocked'],
      ['connection denied', 'blocked'],
      ['message too large', 'mesgtoobig'],
      ['suspected spam', 'rejected'],
      ['mail is rejected by recipients', 'rejected'],
      ['spam is embedded in the email', 'spamdetected'],
      ['mail content denied', 'spamdetected'],
      ['mailbox unavailable or access denied', 'speeding'],
      ['is a deactivated mailbox', 'suspend'],
      ['bad address syntax', 'syntaxerror'],
      ['mailbox not found', 'userunknown'],
    ]),
  },
  {
    id: 'godaddy',
    hosts: ['.secureserver.net'],
    decide(f: HostFacts): HostAnswer | undefined {
      const m = /\bib(\d{3})\b/.exec(f.text);
      const family = m ? GODADDY_CODES[`IB${m[1]}`] : undefined;
      return family === undefined ? GODADDY_PHRASES(f) : { family, matched: m![0] };
    },
  },
  {
    id: 'spectrum',
    hosts: ['charter.net'],
    decide(f: HostFacts): HostAnswer | undefined {
      const m = /aup#(\d{4})/.exec(f.text);
      if (!m) return undefined;
      const n = Number(m[1]);
      if (n >= 1300 && n <= 1340) return { family: 'toomanyconn', matched: m[0] };
      if (n >= 1350 && n <= 1490) return { family: 'speeding', matched: m[0] };
      if (n >= 1000 && n <= 1099) return { family: 'blocked', matched: m[0] }; // the sending IP on Spectrum's block lists
      if (n === 1260) return { family: 'networkerror', matched: m[0] }; // IPv6 not processed
      return undefined;
    },
  },
  {
    id: 'cox',
    hosts: ['cox.net'],
    decide(f: HostFacts): HostAnswer | undefined {
      // Cox's error codes (cox.com email error codes), with or without the `AUP#` prefix.
      const m = /\b(cxbl|cdrbl|cxdns|cxsndr|cxsmtp|cxcnct|cxmxrt|cxthrt|cxmjm?|ipthrt|ipbl\d{4}|rrbl\d{4}|urlbl\d{0,3})\b/.exec(f.text);
      if (!m) return undefined;
      const c = m[1]!;
      const family: ReasonFamily =
        c === 'cxdns' ? 'requireptr'
        : c === 'cxsndr' ? 'authfailure'
        : c === 'cxsmtp' ? 'rejected'
        : c === 'cxcnct' || c === 'cxmxrt' ? 'toomanyconn'
        : c === 'cxthrt' || c.startsWith('cxmj') || c === 'ipthrt' ? 'securityerror'
        : c.startsWith('urlbl') ? 'spamdetected'
        : 'blocked';
      return { family, matched: c };
    },
  },
  {
    id: 'franceptt',
    hosts: ['.laposte.net', '.orange.fr', '.wanadoo.fr', 'smtp.orange.fr', 'smtp.wanadoo.fr', 'smtpz4.laposte.net'],
    decide(f: HostFacts): HostAnswer | undefined {
      const m = /\b(?:lpn|ofr|ouk)[a-z0-9]{0,8}_(\d{3})\b/.exec(f.text);
      if (!m) return undefined;
      // Codes the provider documents but the table does not map say nothing decisive: undefined.
      return { family: FRANCE_PTT_CODES[m[1]!] ?? 'undefined', matched: m[0] };
    },
  },
  {
    id: 'mimecast',
    hosts: ['.mimecast.com'],
    decide(f: HostFacts): HostAnswer | undefined {
      if (f.text.includes('account outbounds disabled')) return { family: 'onhold', matched: 'account outbounds disabled' };
      if (f.text.includes('rejected due to security policies')) return { family: 'virusdetected', matched: 'rejected due to security policies' };
      if (f.text.includes('host network not allowed') || f.text.includes('ip not allowed')) return { family: 'policyviolation', matched: 'network not allowed' };
      return MIMECAST_PHRASES(f);
    },
  },
  {
    id: 'iua',
    hosts: ['.email.ua'],
    decide(f: HostFacts): HostAnswer | undefined {
      // i.ua links each refusal to mail.i.ua/err/N.
      const m = /\.i\.ua\/err\/(\d{1,2})\b/.exec(f.text);
      const family = m ? IUA_CODES[m[1]!] : undefined;
      return family === undefined ? undefined : { family, matched: m![0] };
    },
  },
  {
    id: 'kddi',
    hosts: ['.ezweb.ne.jp', 'msmx.au.com'],
    decide(f: HostFacts): HostAnswer | undefined {
      // `550 : User unknown` names no address: the recipient's reception filter refused us.
      if (/\b5\d\d:?\s{0,2}:\s{0,2}user unknown/.test(f.text)) return { family: 'filtered', matched: '550 : user unknown' };
      if (/@[^\s:>]+>?\s{0,2}:\s{0,2}user unknown/.test(f.text)) return { family: 'userunknown', matched: '<addr>: user unknown' };
      return undefined;
    },
  },
  {
    id: 'nttdocomo',
    hosts: ['mfsmax.docomo.ne.jp'],
    decide(f: HostFacts): HostAnswer | undefined {
      for (const [phrase, family] of NTTDOCOMO_PHRASES) if (f.text.includes(phrase)) return { family, matched: phrase };
      if (f.status === '5.1.1') return { family: 'userunknown', matched: '5.1.1' };
      if (f.status === '5.2.0') return { family: 'filtered', matched: '5.2.0' };
      if (f.status === '5.0.0' && f.command === 'RCPT') return { family: 'userunknown', matched: '5.0.0 at RCPT' };
      if (f.status === '5.0.0' && f.command === 'DATA') return { family: 'rejected', matched: '5.0.0 at DATA' };
      return undefined;
    },
  },
] satisfies HostRule[]);

/**
 * What {@link findHostRule} needs of a rule list, computed once per list: each rule's host
 * strings with one dot on each side (`.host.`), and first tests that tell when no rule can
 * match (most recipients are at no listed provider): every host string in one pattern (for the
 * remote host), the dotted ones joined (for the recipient's domain), every token in one pattern.
 */
interface HostIndex {
  readonly dotted: readonly (readonly string[])[];
  readonly anyHost: RegExp;
  /** Every run of whole labels of every dotted host (`.a.b.`, `.b.c.`, `.a.b.c.` of `.a.b.c.`): a domain's `.d.` occurs in a dotted host exactly when it is one of them. */
  readonly domainRuns: ReadonlySet<string>;
  readonly anyToken: RegExp;
}
const INDEX = new WeakMap<readonly HostRule[], HostIndex>();
const escapeLiteral = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A pattern that matches where any of the strings occurs (none: never). */
const anyOf = (strings: readonly string[]): RegExp => (strings.length === 0 ? /(?!)/ : new RegExp(strings.map(escapeLiteral).join('|')));
/** The substrings of a dotted host that start and end with a dot. */
function labelRuns(dotted: string): string[] {
  const dots: number[] = [];
  for (let i = 0; i < dotted.length; i++) if (dotted[i] === '.') dots.push(i);
  const out: string[] = [];
  for (let a = 0; a < dots.length; a++) for (let b = a + 1; b < dots.length; b++) out.push(dotted.slice(dots[a]!, dots[b]! + 1));
  return out;
}

function hostIndex(rules: readonly HostRule[]): HostIndex {
  let d = INDEX.get(rules);
  if (d === undefined) {
    const dotted = rules.map((r) => r.hosts.map((h) => `.${h.replace(/^\./, '')}.`));
    d = {
      dotted,
      anyHost: anyOf(rules.flatMap((r) => r.hosts)),
      domainRuns: new Set(dotted.flat().flatMap(labelRuns)),
      anyToken: anyOf(rules.flatMap((r) => r.tokens ?? [])),
    };
    INDEX.set(rules, d);
  }
  return d;
}

/**
 * The provider whose host strings match the remote host or the recipient's domain (whole
 * labels), or whose own tokens appear in the (lower-case) text.
 *
 * @example
 * ```ts
 * findHostRule('mx1.example.mail.protection.outlook.com', undefined)?.id; // 'microsoft'
 * findHostRule(undefined, 'wanadoo.fr')?.id; // 'franceptt'
 * findHostRule(undefined, 'k.com'); // undefined
 * ```
 */
export function findHostRule(
  remoteHost: string | undefined,
  recipientDomain: string | undefined,
  rules: readonly HostRule[] = HOST_RULES,
  text = '',
): HostRule | undefined {
  const host = remoteHost?.toLowerCase();
  // Whole labels only: mail to `k.com` is not Microsoft's because `outlook.com` ends in `k.com`.
  const domain = recipientDomain !== undefined && recipientDomain.includes('.') ? `.${recipientDomain.toLowerCase()}.` : undefined;
  const index = hostIndex(rules);
  // No host string in the remote host, the domain in no dotted host, no token in the text: no rule.
  if (!(host !== undefined && host !== '' && index.anyHost.test(host)) && !(domain !== undefined && index.domainRuns.has(domain)) && !(text !== '' && index.anyToken.test(text))) return undefined;
  const dotted = index.dotted;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    const hosts = rule.hosts;
    for (let j = 0; j < hosts.length; j++) {
      if (host !== undefined && host !== '' && host.includes(hosts[j]!)) return rule;
      if (domain !== undefined && dotted[i]![j]!.includes(domain)) return rule;
    }
    if (rule.tokens !== undefined && text !== '') for (const t of rule.tokens) if (text.includes(t)) return rule;
  }
  return undefined;
}
