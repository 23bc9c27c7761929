import { describe, expect, it } from 'vitest';
import { findHostRule } from '../../src/classify/hosts.js';
import { hasReasonWording, matchPhrases, REASON_PHRASES } from '../../src/classify/phrases.js';
import { categoryOf, decideBounceReason, hardFlag, statusReason } from '../../src/classify/reason.js';
import type { ReasonInput } from '../../src/classify/reason.js';

// Every text here is written for the test: short replies in the usual shapes of each family.
const decide = (input: ReasonInput) => decideBounceReason(input);
const reasonOf = (input: ReasonInput): string => decide(input).reason;

describe('status codes', () => {
  it('maps enhanced statuses to reasons, with the asymmetries of the reference table', () => {
    expect(statusReason('5.1.1')).toBe('userunknown');
    expect(statusReason('5.1.2')).toBe('hostunknown');
    expect(statusReason('5.7.1')).toBe('securityerror');
    expect(statusReason('4.7.1')).toBe('blocked');
    expect(statusReason('5.2.1')).toBe('filtered');
    expect(statusReason('4.2.1')).toBe('suspend');
    expect(statusReason('5.3.4')).toBe('mesgtoobig');
    expect(statusReason('5.2.3')).toBe('exceedlimit');
    expect(statusReason('2.0.0')).toBe('delivered');
    for (const generic of ['4.1.1', '5.0.0', '4.3.0', '4.4.0', '4.5.0', '4.7.0']) expect(statusReason(generic)).toBeUndefined();
  });

  it('decides by a specific status when the text says nothing', () => {
    expect(decide({ status: '5.2.2', replyCode: 552, text: '552 5.2.2 see you' })).toMatchObject({ reason: 'mailboxfull', decidedBy: { rule: 'first-pass/status', family: 'mailboxfull', matched: '5.2.2' } });
    expect(reasonOf({ status: '5.3.2', text: '550 5.3.2 no further detail' })).toBe('notaccept');
    expect(reasonOf({ status: '2.0.0', text: '250 2.0.0 ok' })).toBe('delivered');
  });

  it('names merged families in mailpush categories and keeps the fine family in decidedBy', () => {
    const v = decide({ status: '5.2.3', replyCode: 552, text: '552 5.2.3 message header size exceeds limit' });
    expect(v.reason).toBe('emailtoolarge');
    expect(v.decidedBy.family).toBe('exceedlimit');
    expect(categoryOf('speeding')).toBe('ratelimited');
    expect(categoryOf('toomanyconn')).toBe('ratelimited');
    expect(categoryOf('mailererror')).toBe('mailererror');
    expect(categoryOf('notcompliantrfc')).toBe('notcompliantrfc');
  });
});

describe('userunknown and filtered: who refused, and when', () => {
  it('an unknown user at RCPT is userunknown, hard', () => {
    expect(decide({ status: '5.1.1', replyCode: 550, text: '550 5.1.1 <ann@example.org>: user unknown', command: 'RCPT' })).toMatchObject({ reason: 'userunknown', hard: true });
    expect(decide({ replyCode: 550, text: '550 no such mailbox here', command: 'RCPT' })).toMatchObject({ reason: 'userunknown', hard: true, decidedBy: { rule: 'first-pass/phrase', matched: 'no such mailbox' } });
  });

  it('the same words after DATA mean the recipient filtered us: filtered, soft', () => {
    expect(decide({ replyCode: 550, text: '550 no such mailbox here', command: 'DATA' })).toMatchObject({ reason: 'filtered', hard: false, decidedBy: { family: 'filtered', command: 'DATA' } });
    // A remote reply with no command stated is treated like one after DATA.
    expect(reasonOf({ replyCode: 550, text: '550 recipient unknown' })).toBe('filtered');
  });

  it("the reporting system's own verdict (no reply, no command) is an unknown user", () => {
    expect(decide({ text: 'Unknown recipient: bob@example.org' })).toMatchObject({ reason: 'userunknown', hard: true, decidedBy: { rule: 'first-pass/own-verdict' } });
  });

  it('"has no account" and directory misses stay unknown users even after DATA', () => {
    expect(reasonOf({ replyCode: 554, text: '554 this person does not have an account here', command: 'DATA' })).toBe('userunknown');
    expect(reasonOf({ replyCode: 550, text: '550 Carol not listed in the company directory' })).toBe('userunknown');
  });

  it('a user-unknown status yields when the text says relaying, a block, the quota or a filter refused', () => {
    expect(reasonOf({ status: '5.1.1', replyCode: 550, text: '550 5.1.1 relaying denied', command: 'RCPT' })).toBe('norelaying');
    expect(reasonOf({ status: '5.1.1', replyCode: 550, text: '550 5.1.1 client blocked using bl.example.net', command: 'RCPT' })).toBe('blocked');
    expect(reasonOf({ status: '5.1.1', replyCode: 552, text: '552 5.1.1 mailbox is full', command: 'RCPT' })).toBe('mailboxfull');
    expect(reasonOf({ status: '5.1.1', replyCode: 550, text: '550 5.1.1 refused due to recipient preferences', command: 'RCPT' })).toBe('filtered');
  });

  it('a suspend status vetoes unknown-user wording', () => {
    expect(reasonOf({ status: '4.2.1', replyCode: 450, text: '450 4.2.1 user unknown or temporarily off', command: 'RCPT' })).toBe('suspend');
  });

  it('recipient-refusal wording is filtered at RCPT too', () => {
    expect(reasonOf({ replyCode: 550, text: '550 the user refuses to receive mail from you', command: 'RCPT' })).toBe('filtered');
  });
});

describe('the other first-pass families', () => {
  it('a quota phrase beats everything else', () => {
    expect(reasonOf({ status: '5.7.1', replyCode: 550, text: '550 5.7.1 over quota, and your host is blocked', command: 'RCPT' })).toBe('mailboxfull');
  });

  it('mesgtoobig, unless the status says exceedlimit', () => {
    expect(decide({ status: '5.3.4', replyCode: 552, text: '552 5.3.4 message too big' }).decidedBy.family).toBe('mesgtoobig');
    expect(decide({ status: '5.2.3', replyCode: 552, text: '552 5.2.3 message too big' }).decidedBy.family).toBe('exceedlimit');
  });

  it('suspend: disabled, suspended, inactive accounts', () => {
    expect(reasonOf({ replyCode: 550, text: '550 this account has been disabled', command: 'RCPT' })).toBe('suspend');
    expect(reasonOf({ replyCode: 550, text: '550 the e-mail account you wrote to is inactive' })).toBe('suspend');
  });

  it('hasmoved', () => {
    expect(decide({ replyCode: 550, text: '550 carol@example.org has been replaced by carol@new.example', command: 'RCPT' })).toMatchObject({ reason: 'hasmoved', hard: true });
    // Other wording is left to the status, as in the reference: 551 5.1.6 is hasmoved, a bare 551 is not (not hard).
    expect(decide({ status: '5.1.6', replyCode: 551, text: '551 5.1.6 user not local; please try <x@new.example>', command: 'RCPT' })).toMatchObject({ reason: 'hasmoved', hard: true });
    expect(decide({ replyCode: 551, text: '551 user not local; please try <x@new.example>', command: 'RCPT' })).toMatchObject({ reason: 'onhold', hard: false });
  });

  it('norelaying: at RCPT, not before the envelope, not when the refusal is a missing SMTP AUTH', () => {
    expect(reasonOf({ replyCode: 554, text: '554 we do not relay for other domains', command: 'RCPT' })).toBe('norelaying');
    // Before the envelope the first pass does not call it a relay refusal; only the second pass's phrases can.
    expect(decide({ replyCode: 554, text: '554 relay access denied', command: 'HELO' }).decidedBy.rule).toBe('second-pass/phrase');
    expect(decide({ replyCode: 554, text: '554 relay access denied', command: 'RCPT' }).decidedBy.rule).toBe('first-pass/phrase');
    expect(reasonOf({ replyCode: 550, text: '550 please turn on SMTP authentication; relaying not permitted', command: 'RCPT' })).toBe('securityerror');
  });

  it('authfailure: SPF, DKIM, DMARC of the sender domain; SMTP AUTH is securityerror', () => {
    expect(reasonOf({ replyCode: 550, text: '550 SPF check failed for sender.example' })).toBe('authfailure');
    expect(reasonOf({ replyCode: 550, text: "550 rejected by the domain's DMARC policy" })).toBe('authfailure');
    expect(reasonOf({ replyCode: 530, text: '530 authentication required' })).toBe('securityerror');
    // A header named DKIM-Signature is not an authentication failure.
    expect(reasonOf({ replyCode: 554, text: "554 duplicate header 'DKIM-Signature'" })).toBe('contenterror');
  });

  it('rejected: sender wording at MAIL, or with a generic status; never "recipient address rejected"', () => {
    expect(decide({ replyCode: 553, text: '553 sender address rejected: domain not found', command: 'MAIL' })).toMatchObject({ reason: 'rejected', hard: false });
    expect(reasonOf({ status: '5.7.1', replyCode: 550, text: '550 5.7.1 invalid sender' })).toBe('rejected');
    expect(reasonOf({ status: '5.1.1', replyCode: 550, text: '550 5.1.1 recipient address rejected', command: 'RCPT' })).toBe('userunknown');
  });

  it('requireptr, badreputation, notcompliantrfc', () => {
    expect(reasonOf({ replyCode: 550, text: '550 no PTR record found. 192.0.2.1', command: 'CONN' })).toBe('requireptr');
    expect(reasonOf({ replyCode: 421, text: '421 poor IP reputation, try later' })).toBe('badreputation');
    expect(decide({ replyCode: 550, text: '550 message is not RFC 5322 compliant' }).decidedBy.family).toBe('notcompliantrfc');
  });

  it('hostunknown, unless the text is a DNS failure rather than a missing domain', () => {
    expect(decide({ status: '5.1.2', replyCode: 550, text: '550 5.1.2 bad destination system' })).toMatchObject({ reason: 'hostunknown', hard: true });
    expect(reasonOf({ status: '5.1.2', text: 'host name lookup failure' })).toBe('networkerror');
    expect(reasonOf({ status: '5.1.2', text: 'host not found (name service error)' })).toBe('hostunknown');
    expect(reasonOf({ replyCode: 553, text: '553 mx.nowhere.example does not exist' })).toBe('hostunknown');
  });

  it('spamdetected is content: the first pass judges it after DATA only; at RCPT a block list wins', () => {
    expect(decide({ replyCode: 554, text: '554 message rejected as spam', command: 'DATA' }).decidedBy).toMatchObject({ rule: 'first-pass/phrase', family: 'spamdetected' });
    // At RCPT only the second pass's phrases can still say spam (the status is generic).
    expect(decide({ replyCode: 554, text: '554 message rejected as spam', command: 'RCPT' }).decidedBy.rule).toBe('second-pass/phrase');
    expect(reasonOf({ replyCode: 554, text: '554 client host blocked using zen.spamhaus.org', command: 'RCPT' })).toBe('blocked');
    // Identifiers that contain the word are not spam verdicts.
    expect(matchPhrases('x-spam-status: no, spamscore=0', REASON_PHRASES.spamdetected)).toBeUndefined();
  });

  it('speeding and toomanyconn', () => {
    expect(decide({ replyCode: 421, text: '421 you are sending too fast, slow down' }).decidedBy.family).toBe('speeding');
    expect(decide({ replyCode: 421, text: '421 too many connections from your host' }).decidedBy.family).toBe('toomanyconn');
  });

  it('blocked: the client, by IP, host name or HELO', () => {
    expect(reasonOf({ replyCode: 554, text: '554 your IP 192.0.2.7 is listed in our block list', command: 'CONN' })).toBe('blocked');
    expect(reasonOf({ status: '4.7.1', replyCode: 450, text: '450 4.7.1 try again' })).toBe('blocked');
  });
});

describe('second pass and fallbacks', () => {
  it('a generic status leaves the decision to phrases, in order', () => {
    expect(decide({ status: '5.0.0', replyCode: 554, text: '554 5.0.0 message contains a virus' })).toMatchObject({ reason: 'virusdetected', decidedBy: { rule: 'second-pass/phrase' } });
    expect(reasonOf({ status: '5.7.0', replyCode: 554, text: '554 5.7.0 rejected for policy reasons', command: 'DATA' })).toBe('policyviolation');
    expect(reasonOf({ status: '4.4.7', text: 'no route to host while delivering; message expired' })).toBe('networkerror');
    // mailpush's wider DNS wording ("dns error") yields to the reference's expired wording (src/classify/reference.ts).
    expect(reasonOf({ status: '4.4.7', text: 'dns error while delivering; message expired' })).toBe('expired');
    expect(reasonOf({ status: '4.4.7', text: 'delivery time expired' })).toBe('expired');
    expect(reasonOf({ status: '4.3.0', replyCode: 451, text: '451 4.3.0 local configuration error' })).toBe('systemerror');
  });

  it('a specific non-retry status is not second-guessed by phrases', () => {
    expect(decide({ status: '5.2.0', replyCode: 550, text: '550 5.2.0 service currently unavailable' })).toMatchObject({ reason: 'filtered', decidedBy: { rule: 'second-pass/status' } });
  });

  it('fallbacks by status subject, type, reply code, action and command', () => {
    expect(decide({ status: '5.6.99', text: '554 5.6.99 nope' }).decidedBy).toMatchObject({ rule: 'fallback/x.6.y', family: 'contenterror' });
    expect(decide({ status: '5.7.99', text: '554 5.7.99 nope' }).decidedBy).toMatchObject({ rule: 'fallback/x.7.y', family: 'securityerror' });
    expect(decide({ text: 'the delivery program said no', diagnosticType: 'X-Unix' }).decidedBy.family).toBe('mailererror');
    expect(reasonOf({ replyCode: 501, text: '501 nope' })).toBe('syntaxerror');
    expect(reasonOf({ text: 'still trying', action: 'delayed' })).toBe('expired');
    expect(reasonOf({ replyCode: 550, text: '550 go away', command: 'EHLO' })).toBe('blocked');
    // At the connection with no wording the reference has nothing to say (its fallback is HELO/EHLO only).
    expect(decide({ replyCode: 554, text: '554 no thanks', command: 'CONNECT' }).decidedBy).toMatchObject({ rule: 'fallback/onhold', family: 'onhold', command: 'CONN' });
    expect(decide({ replyCode: 550, text: '550 something we cannot read' }).decidedBy.rule).toBe('fallback/onhold');
    expect(decide({}).decidedBy.rule).toBe('fallback/undefined');
  });

  it('a specific provisional reason is final; a generic one stays as the fallback', () => {
    expect(decide({ text: '550 user unknown', provisional: 'rejected' }).decidedBy).toMatchObject({ rule: 'provisional', family: 'rejected' });
    expect(decide({ text: 'nothing useful', provisional: 'systemerror' }).decidedBy).toMatchObject({ rule: 'provisional', family: 'systemerror' });
  });
});

describe('unknown domain, DNS failure or a domain that accepts no mail', () => {
  it('keeps a host-unknown status unless the text names a DNS or routing failure', () => {
    expect(decide({ status: '5.1.2', replyCode: 550, text: '550 5.1.2 bad destination system' })).toMatchObject({ reason: 'hostunknown', hard: true, decidedBy: { rule: 'first-pass/status' } });
    expect(decide({ status: '5.4.4', text: 'Name server: mx.example.org: host name lookup failure' })).toMatchObject({ reason: 'networkerror', hard: false });
    expect(decide({ status: '5.4.4', text: 'Host or domain name not found. Name service error for name=example.org type=MX: Host not found, try again' })).toMatchObject({ reason: 'networkerror', hard: false });
  });

  it('does not let wider DNS wording veto a host-unknown status ("DNS error" saying the domain is not found)', () => {
    expect(decide({ status: '5.1.2', text: 'DNS Error: lookup of example.org type MX failed: domain name not found' })).toMatchObject({ reason: 'hostunknown', hard: true });
  });

  it('reads null-MX and no-mail-exchanger wording as notaccept, even under a host-unknown status', () => {
    expect(decide({ status: '5.4.4', text: "Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)" })).toMatchObject({ reason: 'notaccept', hard: true });
    expect(decide({ status: '5.1.2', text: 'Name server: .: host not found' })).toMatchObject({ reason: 'notaccept', hard: true });
    expect(decide({ text: 'all hosts for example.org: an MX or SRV record indicated no SMTP service' })).toMatchObject({ reason: 'notaccept', hard: true });
    // but a plain statement that the domain does not exist stays hostunknown
    expect(decide({ status: '5.1.2', text: 'no MX record for example.org: domain does not exist' })).toMatchObject({ reason: 'hostunknown' });
  });

  it('lets a null-MX statement win over generic DNS wording, but not over a real lookup failure', () => {
    expect(decide({ replyCode: 550, text: '550 DNS error: example.org does not accept mail (nullMX)' })).toMatchObject({ reason: 'notaccept', hard: true });
    expect(decide({ replyCode: 451, text: '451 temporary DNS failure looking up example.org' })).toMatchObject({ reason: 'networkerror', hard: false });
    expect(decide({ text: 'Name server: example.org: host name lookup failure; no MX record' })).toMatchObject({ reason: 'networkerror' });
  });

  it('reads host-not-found wording about the client (HELO name, client host, before RCPT) as the client refused, not an unknown domain', () => {
    expect(reasonOf({ replyCode: 504, status: '5.5.2', text: '504 5.5.2 <bad.example>: Helo command rejected: Host not found' })).toBe('blocked');
    expect(reasonOf({ replyCode: 550, text: '550 Host not found', command: 'HELO' })).toBe('blocked');
    expect(decide({ replyCode: 550, text: '550 Host not found', command: 'RCPT' })).toMatchObject({ reason: 'hostunknown', hard: true });
  });

  it('does not read "host not found" inside a temporary lookup failure as an unknown host', () => {
    expect(decide({ text: 'example.org: Host not found, try again' })).toMatchObject({ reason: 'networkerror', hard: false });
    expect(decide({ text: 'example.org: Host not found' })).toMatchObject({ reason: 'hostunknown', hard: true });
  });
});

describe("the reference's wording of each family", () => {
  it('reads quota, suspension, expiry, system and mailer wording the reference lists', () => {
    expect(reasonOf({ replyCode: 552, text: '552 sorry, the mailbox of bea is exceeding its mailbox quota', command: 'RCPT' })).toBe('mailboxfull');
    expect(reasonOf({ text: "delivery failed: the user's space has been used up" })).toBe('mailboxfull');
    expect(reasonOf({ replyCode: 550, text: '550 ann@example.org is a deactivated mailbox', command: 'RCPT' })).toBe('suspend');
    expect(reasonOf({ replyCode: 550, text: '550 this account has been temporarily suspended', command: 'RCPT' })).toBe('suspend');
    expect(reasonOf({ text: 'retry time not reached for any host after a long failure period' })).toBe('expired');
    expect(reasonOf({ text: 'remote server is misconfigured' })).toBe('systemerror');
    expect(decide({ text: 'command failed: /usr/local/bin/filter || exit 75' }).decidedBy.family).toBe('mailererror');
  });

  it('tells the client (blocked), the sender (rejected), content (spamdetected) and site policy (policyviolation) apart by their wording', () => {
    expect(reasonOf({ replyCode: 554, text: '554 bad sender ip address 192.0.2.1', command: 'CONN' })).toBe('blocked');
    expect(reasonOf({ replyCode: 554, text: '554 dynamic/zombied/spam IPs blocked', command: 'CONN' })).toBe('blocked');
    expect(reasonOf({ replyCode: 550, text: '550 envelope sender is not valid', command: 'MAIL' })).toBe('rejected');
    expect(reasonOf({ replyCode: 550, text: '550 your message failed several antispam checks', command: 'DATA' })).toBe('spamdetected');
    expect(reasonOf({ replyCode: 550, text: '550 the message was rejected by organization policy', command: 'DATA' })).toBe('policyviolation');
    expect(reasonOf({ replyCode: 550, text: '550 we do not accept messages containing images or other attachments', command: 'DATA' })).toBe('policyviolation');
  });

  it('reads "has been blocked" as the client only when it names the client, not the message', () => {
    expect(reasonOf({ replyCode: 554, text: '554 your mail server 192.0.2.1 has been blocked for abuse' })).toBe('blocked');
    expect(reasonOf({ replyCode: 550, text: '550 Your message has been blocked: local policy violation', command: 'DATA' })).toBe('policyviolation');
  });

  it('reads a mailbox out of space in other words as mailboxfull, even under a user-unknown status, but not a message too big', () => {
    for (const text of ['550 5.1.1 the recipient inbox is out of storage space', '550 5.1.1 Mailbox is over capacity', '550 5.1.1 mailbox exceeds allowed size', '550 5.1.1 quota reached']) {
      expect(decide({ replyCode: 550, status: '5.1.1', text, command: 'RCPT' })).toMatchObject({ reason: 'mailboxfull', hard: false });
    }
    expect(reasonOf({ replyCode: 552, status: '5.2.3', text: '552 5.2.3 Message exceeds maximum size for this mailbox', command: 'DATA' })).toBe('emailtoolarge');
  });

  it('reads unknown-user wording the reference lists at RCPT (hard) and after DATA as the filter (soft)', () => {
    for (const text of ['550 Requested action not taken: mailbox unavailable', '550 sorry, no mailbox found', '550 utilisateur inconnu', '553 sorry, that address is in my badrcptto list']) {
      expect(decide({ replyCode: Number(text.slice(0, 3)), text, command: 'RCPT' })).toMatchObject({ reason: 'userunknown', hard: true });
      expect(decide({ replyCode: Number(text.slice(0, 3)), text, command: 'DATA' })).toMatchObject({ reason: 'filtered', hard: false });
    }
  });
});

describe('hard flag', () => {
  it('follows the reason, not the class', () => {
    expect(hardFlag('userunknown', 'failed', '')).toBe(true);
    expect(hardFlag('mailboxfull', 'failed', '552 5.2.2 full')).toBe(false);
    expect(hardFlag('blocked', 'failed', '554 5.7.1 blocked')).toBe(false);
    expect(hardFlag('notaccept', 'failed', '556 5.1.10 null MX')).toBe(true);
    expect(hardFlag('notaccept', 'failed', '451 4.3.2 not accepting now')).toBe(false);
    expect(hardFlag('notaccept', 'failed', 'no mail exchanger, temporary failure')).toBe(false);
    expect(hardFlag('notaccept', 'failed', '')).toBe(true);
    expect(hardFlag('userunknown', 'delayed', '450 4.1.1 user unknown')).toBe(false);
  });
});

describe('per-receiving-host rules', () => {
  it('Microsoft codes and ranges, by remote host', () => {
    const host = 'mx1.tenant.mail.protection.outlook.com';
    expect(decide({ status: '5.7.606', replyCode: 550, text: '550 5.7.606 access denied, banned sending IP', remoteHost: host }).decidedBy).toMatchObject({ rule: 'host/microsoft', family: 'blocked' });
    expect(reasonOf({ status: '5.7.708', replyCode: 550, text: '550 5.7.708 service unavailable', remoteHost: host })).toBe('ratelimited');
    expect(reasonOf({ status: '5.1.10', replyCode: 550, text: '550 5.1.10 recipient not found', remoteHost: host })).toBe('userunknown');
    // Without the host, 5.1.10 is the generic null-MX status.
    expect(reasonOf({ status: '5.1.10', replyCode: 550, text: '550 5.1.10 no further detail' })).toBe('notaccept');
  });

  it('French ISP codes, by recipient domain; an unmapped code is undefined', () => {
    expect(decide({ replyCode: 550, text: '550 mwinf OFR_416 [416] adresse inconnue', recipientDomain: 'orange.fr' })).toMatchObject({ reason: 'userunknown', decidedBy: { rule: 'host/franceptt', matched: 'ofr_416' } });
    expect(reasonOf({ replyCode: 550, text: '550 LPN007_123 refused', recipientDomain: 'laposte.net' })).toBe('undefined');
    expect(reasonOf({ replyCode: 550, text: '550 5.1.1 adresse d au moins un destinataire invalide. invalid recipient. ofr_418 [418]', recipientDomain: 'orange.fr' })).toBe('userunknown');
    expect(reasonOf({ replyCode: 550, text: '550 5.1.0 emetteur invalide. invalid sender. lpn007_415', recipientDomain: 'laposte.net' })).toBe('rejected');
  });

  it('KDDI: a reply without an address is the reception filter', () => {
    expect(reasonOf({ text: '550 : User unknown', recipientDomain: 'ezweb.ne.jp' })).toBe('filtered');
  });

  it('matches recipient domains by whole labels and providers by their own tokens', () => {
    expect(findHostRule(undefined, 'outlook.com')?.id).toBe('microsoft');
    expect(findHostRule(undefined, 'k.com')).toBeUndefined();
    expect(findHostRule(undefined, undefined, undefined, '550 5.1.1 resolver.adr.recipnotfound')?.id).toBe('microsoft');
  });
});

describe('phrases', () => {
  it('matches substrings, ordered pairs and patterns on lower-case text', () => {
    expect(matchPhrases('ann is over quota', REASON_PHRASES.mailboxfull)).toBe('over quota');
    // The leftmost wording is reported: here the family's pattern, which starts at "mailbox".
    expect(matchPhrases('the mailbox of ann is over quota', REASON_PHRASES.mailboxfull)).toBe('mailbox of ann is over quota');
    // At the leftmost place, the shortest string of the list that occurs there.
    expect(matchPhrases('disk quota exceeded for ann', REASON_PHRASES.mailboxfull)).toBe('disk quota');
    expect(matchPhrases('that mailbox, it seems, does not exist', REASON_PHRASES.userunknown)).toBe('mailbox … does not exist');
    expect(matchPhrases('does not exist: the mailbox', REASON_PHRASES.userunknown)).toBeUndefined();
    expect(matchPhrases('', REASON_PHRASES.userunknown)).toBeUndefined();
  });

  it('tells reason wording from report prose, in any case', () => {
    expect(hasReasonWording('Mailbox is FULL')).toBe(true);
    expect(hasReasonWording('This is the mail system at host mx.example.org.')).toBe(false);
  });

  it('never throws: garbage fields are ignored, hostile input is undefined', () => {
    expect(decideBounceReason(null as never)).toMatchObject({ reason: 'undefined', hard: false });
    expect(decideBounceReason({ status: 'x.y.z', replyCode: Number.NaN, provisional: 'nonsense' as never, text: '550 user unknown', command: 'RCPT' })).toMatchObject({ reason: 'userunknown' });
    const hostile = { get text(): string { throw new Error('boom'); } } as ReasonInput;
    expect(decideBounceReason(hostile).decidedBy.rule).toBe('fallback/undefined');
    const throwingRule = [{ id: 'bad', hosts: ['x.example'], decide: () => { throw new Error('boom'); } }];
    expect(decideBounceReason({ text: '550 no', remoteHost: 'mx.x.example' }, throwingRule).reason).toBe('undefined');
  });

  it('a delivered, relayed or expanded recipient did not bounce', () => {
    expect(decide({ action: 'relayed', text: 'relayed to a non-DSN-aware mailer' }).decidedBy).toMatchObject({ rule: 'delivered', family: 'delivered' });
  });

  it('stays fast on long hostile text', () => {
    const text = `${'a.'.repeat(50_000)} user ${'mailbox '.repeat(10_000)}`;
    const started = performance.now();
    decide({ text, replyCode: 550 });
    hasReasonWording(text);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('per-receiving-host rules, by provider table (issue 15, third pass)', () => {
  const google = 'gmail-smtp-in.l.google.com';
  it('Google: the status (class ignored) and the published wording must agree', () => {
    expect(decide({ status: '5.7.0', replyCode: 552, text: '552 5.7.0 this message was blocked because its content presents a potential security issue.', remoteHost: google })).toMatchObject({ reason: 'virusdetected', decidedBy: { rule: 'host/google' } });
    expect(reasonOf({ status: '5.7.0', replyCode: 552, text: '552 5.7.0 our system detected an illegal attachment on your message.', remoteHost: google })).toBe('policyviolation');
    expect(reasonOf({ status: '4.3.0', replyCode: 421, text: '421 4.3.0 temporary system problem. try again later.', remoteHost: google })).toBe('systemerror');
    expect(reasonOf({ status: '5.5.1', replyCode: 503, text: '503 5.5.1 bad sequence of commands.', remoteHost: google })).toBe('syntaxerror');
    expect(reasonOf({ status: '5.7.0', replyCode: 530, text: '530 5.7.0 must issue a starttls command first.', remoteHost: google })).toBe('securityerror');
    expect(reasonOf({ status: '5.7.0', replyCode: 550, text: '550 5.7.0 mail relay denied.', remoteHost: google })).toBe('norelaying');
    expect(reasonOf({ status: '5.7.1', replyCode: 550, text: '550 5.7.1 unauthenticated email is not accepted from this domain.', remoteHost: google })).toBe('authfailure');
    expect(reasonOf({ status: '5.2.1', replyCode: 550, text: '550 5.2.1 the email account that you tried to reach is disabled.', remoteHost: google })).toBe('suspend');
    expect(reasonOf({ status: '4.2.1', replyCode: 450, text: '450 4.2.1 the user you are trying to contact is receiving mail too quickly.', remoteHost: google })).toBe('ratelimited');
    expect(reasonOf({ status: '5.1.2', replyCode: 553, text: "553 5.1.2 we weren't able to find the recipient domain.", remoteHost: google })).toBe('hostunknown');
    // Google's own " - gsmtp" suffix names the provider when the report does not name the host.
    expect(decide({ status: '5.7.0', replyCode: 552, text: '552 5.7.0 our system detected an illegal attachment on your message. x - gsmtp' }).decidedBy.rule).toBe('host/google');
    // A different status with the same words is not Google's entry: the generic rules decide.
    expect(decide({ status: '5.7.1', replyCode: 550, text: '550 5.7.1 mail relay denied', remoteHost: google }).decidedBy.rule).not.toBe('host/google');
  });

  it('Microsoft: relay refusal vs directory-based edge blocking under 5.4.1, DNS and HELO codes', () => {
    const host = 'example-com.mail.protection.outlook.com';
    expect(reasonOf({ status: '5.4.1', replyCode: 550, text: '550 5.4.1 relay access denied', remoteHost: host })).toBe('norelaying');
    expect(reasonOf({ status: '5.4.1', replyCode: 550, text: '550 5.4.1 recipient address rejected: access denied', remoteHost: host })).toBe('userunknown');
    expect(reasonOf({ status: '5.4.310', replyCode: 550, text: '550 5.4.310 dns domain example.org does not exist', remoteHost: host })).toBe('hostunknown');
    expect(reasonOf({ status: '5.7.506', replyCode: 550, text: '550 5.7.506 access denied, bad helo', remoteHost: host })).toBe('blocked');
    expect(reasonOf({ status: '5.7.512', replyCode: 550, text: '550 5.7.512 access denied, message must be rfc 5322 section 3.6.2 compliant', remoteHost: host })).toBe('notcompliantrfc');
  });

  it('Yahoo and Tencent: their wording tables', () => {
    const yahoo = 'mta7.am0.yahoodns.net';
    expect(reasonOf({ replyCode: 554, text: "554 delivery error: dd this user doesn't have a yahoo.com account", command: 'DATA', remoteHost: yahoo })).toBe('userunknown');
    expect(reasonOf({ replyCode: 554, text: '554 30 sorry, your message cannot be delivered. this mailbox is disabled (554.30)', remoteHost: yahoo })).toBe('suspend');
    expect(reasonOf({ status: '5.7.9', replyCode: 554, text: '554 5.7.9 message not accepted for policy reasons.', remoteHost: yahoo })).toBe('policyviolation');
    const qq = 'mx3.qq.com';
    expect(reasonOf({ replyCode: 550, text: '550 suspected spam ip, please try again later', remoteHost: qq })).toBe('blocked');
    expect(reasonOf({ replyCode: 550, text: '550 mail content denied', remoteHost: qq })).toBe('spamdetected');
    expect(reasonOf({ replyCode: 550, text: '550 mailbox not found', command: 'DATA', remoteHost: qq })).toBe('userunknown');
  });

  it('Cox, Spectrum, i.ua and Mimecast codes', () => {
    expect(reasonOf({ replyCode: 554, text: '554 5.7.1 ip blocked by cox, aup#cxcnct', recipientDomain: 'cox.net' })).toBe('ratelimited');
    expect(reasonOf({ replyCode: 550, text: '550 rejected, aup#cxsmtp', recipientDomain: 'cox.net' })).toBe('rejected');
    expect(reasonOf({ replyCode: 554, text: '554 5.7.1 ipbl1000 blocked', recipientDomain: 'cox.net' })).toBe('blocked');
    expect(reasonOf({ replyCode: 554, text: '554 5.7.1 aup#1000 your ip is blocked', recipientDomain: 'charter.net' })).toBe('blocked');
    expect(decide({ replyCode: 550, text: '550 sorry, mailbox is unused. see http://mail.i.ua/err/3/', remoteHost: 'mx.email.ua' })).toMatchObject({ reason: 'suspend', decidedBy: { rule: 'host/iua' } });
    expect(reasonOf({ replyCode: 550, text: '550 see http://mail.i.ua/err/10/', remoteHost: 'mx.email.ua' })).toBe('filtered');
    expect(reasonOf({ replyCode: 550, text: '550 envelope blocked - user entry', remoteHost: 'us-smtp-inbound-1.mimecast.com' })).toBe('rejected');
  });

  it('Apple iCloud and GoDaddy wording', () => {
    const icloud = 'mx01.mail.icloud.com';
    expect(decide({ status: '5.7.1', replyCode: 550, text: '550 5.7.1 [cs01] message rejected due to local policy.', remoteHost: icloud })).toMatchObject({ reason: 'policyviolation', decidedBy: { rule: 'host/apple' } });
    expect(reasonOf({ status: '5.1.1', replyCode: 550, text: '550 5.1.1 <a@icloud.example>: inactive email address', command: 'RCPT', remoteHost: icloud })).toBe('userunknown');
    expect(reasonOf({ replyCode: 554, text: '554 5.7.1 your message was rejected due to example.org\'s dmarc policy.', remoteHost: icloud })).toBe('authfailure');
    expect(reasonOf({ replyCode: 550, text: '550 host/domain does not accept mail', remoteHost: icloud })).toBe('notaccept');
    const godaddy = 'smtp.secureserver.net';
    expect(reasonOf({ replyCode: 550, text: '550 account storage limit reached', remoteHost: godaddy })).toBe('mailboxfull');
    expect(reasonOf({ replyCode: 554, text: '554 rbl reject.', remoteHost: godaddy })).toBe('blocked');
    // NTT DOCOMO: its own reply wording before its status rules.
    expect(reasonOf({ status: '5.0.0', replyCode: 552, text: '552 too much mail data', command: 'RCPT', remoteHost: 'mfsmax.docomo.ne.jp' })).toBe('mailboxfull');
  });
});

describe('first-pass predicates that read no status (the reference: suspend by wording only)', () => {
  it('a 4.2.1 status does not make a rate-limit reply a suspended account; alone it still is suspend', () => {
    expect(reasonOf({ status: '4.2.1', replyCode: 450, text: '450 4.2.1 the user you are trying to contact is receiving mail too quickly', command: 'RCPT' })).toBe('ratelimited');
    expect(decide({ status: '4.2.1', replyCode: 450, text: '450 4.2.1 try later', command: 'RCPT' }).decidedBy).toMatchObject({ rule: 'second-pass/status', family: 'suspend' });
    expect(decide({ status: '5.2.1', replyCode: 550, text: '550 5.2.1 account disabled', command: 'RCPT' }).decidedBy).toMatchObject({ rule: 'first-pass/phrase', family: 'suspend' });
  });

  it('hasmoved likewise: a 5.1.6 status yields to later first-pass wording, alone it decides in the second pass', () => {
    expect(reasonOf({ status: '5.1.6', replyCode: 550, text: '550 5.1.6 relay access denied', command: 'RCPT' })).toBe('norelaying');
    expect(decide({ status: '5.1.6', replyCode: 550, text: '550 5.1.6 see the postmaster', command: 'RCPT' })).toMatchObject({ reason: 'hasmoved', hard: true, decidedBy: { rule: 'second-pass/status' } });
  });
});
