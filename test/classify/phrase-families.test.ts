import { describe, expect, it } from 'vitest';
import { decideBounceReason } from '../../src/classify/reason.js';
import type { ReasonInput } from '../../src/classify/reason.js';

// Each reason's common wording across mail systems, decided end to end (status, command and
// order included), and for each a neighbouring reason's text that must not be captured. Every
// text is written for this test in the usual shape of such replies; none is a corpus copy.
const decide = (input: ReasonInput) => decideBounceReason(input);
const reasonOf = (input: ReasonInput): string => decide(input).reason;
const rcpt = (text: string, replyCode = 550): ReasonInput => ({ replyCode, text, command: 'RCPT' });
const data = (text: string, replyCode = 554): ReasonInput => ({ replyCode, text, command: 'DATA' });
const mail = (text: string, replyCode = 553): ReasonInput => ({ replyCode, text, command: 'MAIL' });
const bare = (text: string): ReasonInput => ({ text });

describe('userunknown wording at RCPT', () => {
  it.each([
    '550 sorry, no mailbox here by that name (#5.1.1)',
    '550 No such user here',
    '550 <carol@example.org>: Recipient address rejected: User unknown in virtual mailbox table',
    '550 Requested action not taken: mailbox unavailable',
    '550 Invalid recipient <carol@example.org>',
    '550 Unrouteable address',
    '553 sorry, your envelope recipient has been denied',
    '550 sorry, carol@example.org is in my badrcptto list',
    '550 user carol does not exist',
    '550 Recipient carol@example.org was not found in LDAP',
    '550 <carol@example.org> not found',
    '550 no carol in name directory',
    '550 User (carol) unknown',
    '550 Unknown e-mail address',
    '550 Invalid address',
    '550 nonexistent user',
    '550 there is no one at this address',
    '550 RESOLVER.ADR.RecipNotFound; not found',
  ])('%s', (text) => {
    const v = decide(rcpt(text));
    // "Unrouteable address" is the domain (Exim's router found no route), the rest the user.
    expect(v.reason).toBe(text.includes('Unrouteable') ? 'hostunknown' : 'userunknown');
    expect(v.hard).toBe(true);
  });

  it('sender wording after DATA is not read as an unknown recipient', () => {
    expect(reasonOf(data('550 from address is not valid', 550))).toBe('rejected');
    expect(reasonOf(data('554 5.5.1 Error: no valid recipients'))).not.toBe('filtered');
  });

  it('the same wording after DATA is the recipient filter, and at MAIL is not about the recipient', () => {
    expect(reasonOf(data('550 No such user here', 550))).toBe('filtered');
    expect(reasonOf(data('550 user carol does not exist', 550))).toBe('filtered');
    expect(reasonOf(mail('553 no such user here'))).not.toBe('userunknown');
  });

  it('quota wording beats unknown-user wording, whatever the status', () => {
    expect(reasonOf({ status: '5.1.1', ...rcpt('550 5.1.1 user over quota') })).toBe('mailboxfull');
    expect(reasonOf(rcpt('550 unknown user or mailbox is full'))).toBe('mailboxfull');
  });
});

describe('hostunknown', () => {
  it.each([
    '550 Host unreachable',
    '550 recipient domain must exist',
    '550 mail domain mentioned in email address is unknown',
    '550 all relevant MX records point to non-existent hosts',
    '550 all host address lookups failed permanently',
    '553 example.invalid does not exist',
  ])('%s', (text) => {
    expect(decide(rcpt(text))).toMatchObject({ reason: 'hostunknown', hard: true });
  });

  it('a DNS failure is a network error, and a null MX accepts no mail', () => {
    expect(reasonOf({ status: '5.1.2', ...bare('Name server: example.org: host name lookup failure') })).toBe('networkerror');
    expect(reasonOf(bare('an MX or SRV record indicated no SMTP service'))).toBe('notaccept');
    expect(reasonOf(bare('Sorry, I wasn\'t able to establish an SMTP connection'))).toBe('networkerror');
  });
});

describe('hostunknown wording against a status that already explains the lookup', () => {
  it('a network or queue status keeps wider lookup wording from deciding; the reference wording still does', () => {
    expect(reasonOf({ status: '4.4.7', action: 'delayed', text: 'mx.example.org: host not found' })).toBe('expired');
    expect(reasonOf({ status: '5.4.0', text: '554 5.4.0 NXDOMAIN for example.org' })).toBe('networkerror');
    expect(reasonOf({ status: '5.4.0', text: '554 5.4.0 Host or domain name not found' })).toBe('hostunknown');
    expect(reasonOf({ text: '550 NXDOMAIN for example.org', command: 'RCPT' })).toBe('hostunknown');
  });

  it('a null-MX status is not overridden by wording about the domain', () => {
    expect(reasonOf({ status: '5.1.10', replyCode: 556, text: '556 5.1.10 domain example.org not found in DNS (null MX)' })).toBe('notaccept');
  });
});

describe('block lists: named lists only', () => {
  it('"listed at/in" a zone or a named list is blocked; "not listed in" a directory is not', () => {
    expect(reasonOf(rcpt('554 client listed at bl.example.net'))).toBe('blocked');
    expect(reasonOf(rcpt('554 your host is listed in several RBLs'))).toBe('blocked');
    expect(reasonOf(rcpt('550 Carol is not listed in the Domino Directory'))).toBe('userunknown');
    expect(reasonOf(rcpt('550 client not listed in DNSWL, try later'))).not.toBe('userunknown');
    expect(reasonOf({ replyCode: 554, text: '554 message rejected, listed in our records as a test', command: 'DATA' })).not.toBe('blocked');
  });

  it('"your IP" counts only with a refusal', () => {
    expect(reasonOf({ replyCode: 554, text: '554 your IP 192.0.2.7 is refused', command: 'CONN' })).toBe('blocked');
    expect(reasonOf({ replyCode: 554, text: '554 message not accepted for policy reasons (your IP is fine)', command: 'DATA' })).toBe('policyviolation');
  });
});

describe('mailboxfull, suspend and filtered', () => {
  it.each(['552 Disc quota exceeded', '552 too much mail data', '552 recipient rejected: mailbox would exceed maximum allowed storage', '452 user is over quota'])(
    'quota: %s',
    (text) => {
      expect(decide(rcpt(text, 552))).toMatchObject({ reason: 'mailboxfull', hard: false });
    },
  );

  it.each(['550 archived recipient', '550 this account has been disabled or discontinued', '550 this address no longer accepts mail', '550 user suspended'])(
    'suspended account: %s',
    (text) => {
      expect(decide(rcpt(text))).toMatchObject({ reason: 'suspend', hard: false });
    },
  );

  it('reply 525 (account disabled) is suspend', () => {
    expect(decide({ replyCode: 525, text: '525 please contact your administrator', command: 'RCPT' })).toMatchObject({ reason: 'suspend', decidedBy: { rule: 'first-pass/reply-code' } });
  });

  it.each([
    '550 due to extended inactivity new mail is not currently being accepted for this mailbox',
    '550 message rejected due to user rules',
    '550 this mailbox is not accepting any mail',
    '550 the recipient has chosen not to receive mail from you',
  ])('filter: %s', (text) => {
    expect(decide(data(text, 550))).toMatchObject({ reason: 'filtered', hard: false });
  });
});

describe('rejected (the envelope sender) and its neighbours', () => {
  it.each([
    '553 5.1.8 <a@b.example>: Sender address rejected: Domain not found',
    '550 sender verify failed',
    '553 sorry, your envelope sender is in my badmailfrom list',
    '550 Backscatter protection detected an invalid or expired email address',
    '550 unroutable sender address',
    '550 Emetteur invalide',
    '501 syntax error: empty email address',
  ])('%s', (text) => {
    expect(decide(mail(text))).toMatchObject({ reason: 'rejected', hard: false });
  });

  it('"recipient address rejected" and "sender IP address rejected" are never the sender', () => {
    expect(reasonOf(data('550 Recipient address rejected: sender unknown', 550))).not.toBe('rejected');
    expect(reasonOf({ status: '5.7.1', ...rcpt('550 5.7.1 Recipient address rejected: delivery not authorized') })).toBe('securityerror');
    expect(reasonOf(rcpt('554 Sender IP address rejected'))).toBe('blocked');
    // A user-unknown status with "recipient address rejected" stays userunknown (the sender veto does not apply).
    expect(reasonOf({ status: '5.1.1', ...rcpt('550 5.1.1 <c@d.example>: Recipient address rejected: User unknown') })).toBe('userunknown');
  });

  it('sender wording counts at MAIL, not at RCPT with a specific status', () => {
    expect(reasonOf(mail('550 5.1.1 unknown user; sender address rejected', 550))).toBe('rejected');
    // At RCPT it only keeps the user-unknown status from deciding in the first pass; the status decides in the second.
    expect(decide({ status: '5.1.1', ...rcpt('550 5.1.1 unknown user; sender address rejected') })).toMatchObject({ reason: 'userunknown', decidedBy: { rule: 'second-pass/status' } });
    expect(reasonOf({ status: '5.2.2', ...rcpt('552 5.2.2 mailbox full; invalid sender', 552) })).toBe('mailboxfull');
  });
});

describe('blocked, requireptr, badreputation, norelaying: the connecting client', () => {
  it.each([
    '554 Service not available, closing transmission channel',
    '550 go away',
    '554 your server requires confirmation',
    '421 Server IP 192.0.2.9 listed as abusive',
    '554 Connection was dropped by remote host',
    '550 we do not accept mail from dynamic IPs',
    '554 rejected because the sending MTA or the sender has not passed validation',
    '554 your address is in a dynamic range',
    '554 sending IP 192.0.2.4 banned',
    '501 5.5.4 HELO/EHLO argument is invalid',
  ])('%s', (text) => {
    expect(decide({ replyCode: 554, text, command: 'CONN' })).toMatchObject({ reason: 'blocked', hard: false });
  });

  it("PTR wording decides requireptr only in the reference's sentences; other PTR wording is left to the status", () => {
    expect(reasonOf({ replyCode: 550, text: '550 reverse DNS required for 192.0.2.4', command: 'CONN' })).toBe('requireptr');
    expect(reasonOf({ replyCode: 550, text: '550 fix reverse DNS for 192.0.2.4', command: 'CONN' })).toBe('requireptr');
    expect(reasonOf({ replyCode: 554, text: '554 client blocked using bl.example.net; see our PTR policy page', command: 'CONN' })).toBe('blocked');
    // Postfix's reverse-hostname check: the reference reads the status (4.7.1 blocked, 5.7.1 securityerror).
    expect(reasonOf({ status: '4.7.1', replyCode: 450, text: '450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.4]', command: 'RCPT' })).toBe('blocked');
    expect(reasonOf({ status: '5.7.1', replyCode: 550, text: '550 5.7.1 reverse DNS of 192.0.2.4 is generic', command: 'RCPT' })).toBe('securityerror');
    // Its hostname check is requireptr whatever the status.
    expect(reasonOf({ status: '4.7.1', replyCode: 450, text: '450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.4]', command: 'RCPT' })).toBe('requireptr');
  });

  it.each(['550 unresolvable relay host name', '550 the corresponding forward DNS entry does not point to the sending IP', '550 domain example.net mismatches client IP'])(
    'no valid PTR: %s',
    (text) => {
      expect(reasonOf({ replyCode: 550, text, command: 'CONN' })).toBe('requireptr');
    },
  );

  it.each(["553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", '550 we don\'t handle mail for example.org', '550 insecure mail relay', '554 not local host example.org, not a gateway'])(
    'relaying: %s',
    (text) => {
      expect(reasonOf(rcpt(text))).toBe('norelaying');
    },
  );

  it('a HELO sequence error is a syntax error, a refused HELO name is blocked', () => {
    expect(reasonOf({ replyCode: 503, text: '503 5.5.1 send HELO first', command: 'MAIL' })).toBe('syntaxerror');
    expect(reasonOf({ replyCode: 501, text: '501 5.5.4 HELO/EHLO argument is invalid', command: 'EHLO' })).toBe('blocked');
  });

  it('relay wording before the envelope is only read in the second pass, after the client checks', () => {
    expect(decide({ replyCode: 554, text: '554 insecure mail relay', command: 'EHLO' }).decidedBy.rule).toBe('second-pass/phrase');
    // The client checks decide in the first pass with the reference's block wording; wider
    // block wording ("listed at <zone>") yields to the reference's relay sentence, as there.
    expect(reasonOf({ replyCode: 554, text: '554 insecure mail relay; client host [192.0.2.1] blocked using bl.example.net', command: 'EHLO' })).toBe('blocked');
    expect(reasonOf({ replyCode: 554, text: '554 insecure mail relay from a host listed at bl.example.net', command: 'EHLO' })).toBe('norelaying');
    expect(reasonOf(rcpt('554 insecure mail relay from a host listed at bl.example.net'))).toBe('norelaying');
  });
});

describe('content: spam, size, format', () => {
  it.each([
    '554 blacklisted URL in message',
    '550 spamming not allowed',
    '550 your email breaches local URIBL policy',
    '554 this message was rejected by recurrent pattern detection system',
    '554 message refused by MailMarshal SpamProfiler',
    '550 our filters rate at and above 95 percent probability of being spam',
  ])('spam: %s', (text) => {
    expect(reasonOf(data(text))).toBe('spamdetected');
  });

  it('spam wording before DATA yields to the client checks of the first pass', () => {
    // The client named in the reference's block-list wording (Postfix's "Client host [ip] blocked using").
    expect(reasonOf(rcpt('550 Client host [192.0.2.9] blocked using bl.example.net; spamming not allowed'))).toBe('blocked');
    expect(reasonOf(data('550 spamming not allowed from hosts listed at bl.example.net'))).toBe('spamdetected');
    // "listed at <zone>" is only mailpush's wider block wording: the reference's spam sentence decides (src/classify/reference.ts).
    expect(reasonOf(rcpt('550 spamming not allowed from hosts listed at bl.example.net'))).toBe('spamdetected');
    expect(decide(rcpt('550 spamming not allowed')).decidedBy.rule).toBe('second-pass/phrase');
  });

  it.each(['552 message file too big', '552 exceeded maximum inbound message size', '552 taille limite du message atteinte'])('too big: %s', (text) => {
    expect(decide(data(text, 552))).toMatchObject({ reason: 'emailtoolarge', decidedBy: { family: 'mesgtoobig' } });
  });

  it('a loop found by counting Received headers is a content error, not a routing or system loop', () => {
    expect(decide(bare('Too many "Received" headers - suspected mail loop'))).toMatchObject({ reason: 'contenterror', decidedBy: { family: 'contenterror' } });
    expect(reasonOf(bare('Routing loop detected -- too many Received: headers'))).toBe('contenterror');
    expect(reasonOf(bare('it would create a mail loop'))).toBe('systemerror');
    expect(reasonOf(bare('too many hops, possible mail loop'))).toBe('networkerror');
  });
});

describe('rates, security, system, expiry', () => {
  it('a sending quota is a rate, a mailbox quota is mailboxfull', () => {
    expect(reasonOf({ replyCode: 454, text: '454 Throttling failure: Daily message quota exceeded' })).toBe('ratelimited');
    expect(reasonOf({ replyCode: 552, text: '552 mailbox quota exceeded' })).toBe('mailboxfull');
  });

  it.each(['421 connection rate limit exceeded', '421 too many errors from your IP', '450 please try again slower'])(
    'rate: %s',
    (text) => {
      expect(reasonOf({ replyCode: 421, text, command: 'MAIL' })).toBe('ratelimited');
    },
  );

  it.each(['530 authentication turned on in your email client is required', '554 Account not subscribed to SES', "553 sorry, you don't authenticate or the domain isn't in my list of allowed rcpthosts"])(
    'SMTP AUTH and transport security: %s',
    (text) => {
      expect(reasonOf({ replyCode: 530, text })).toMatch(/^(?:securityerror|norelaying)$/);
    },
  );

  it('Gmail: an IP that must use its provider\'s relay is blocked; a domain not authorized by SPF is authfailure; a recipient-side policy is policyviolation', () => {
    expect(reasonOf({ status: '5.7.1', replyCode: 550, text: "550 5.7.1 The IP you're using to send mail is not authorized to send email directly to our servers.", command: 'RCPT' })).toBe('blocked');
    expect(reasonOf(data('550 example.com is not authorized to send mail on behalf of example.org', 550))).toBe('authfailure');
    expect(reasonOf({ status: '5.7.1', replyCode: 550, text: '550 5.7.1 The user or domain that you are sending to (or from) has a policy that prohibited the mail that you sent.', command: 'DATA' })).toBe('policyviolation');
  });

  it('SPF wording is authfailure, not securityerror', () => {
    expect(reasonOf(data('550 please inspect your SPF settings', 550))).toBe('authfailure');
    expect(reasonOf(data('550 see http://spf.pobox.com/why.html', 550))).toBe('authfailure');
    expect(reasonOf(data('550 this mail was refused because the sender is unauthenticated', 550))).toBe('authfailure');
    expect(reasonOf({ replyCode: 535, text: '535 authentication failed' })).toBe('securityerror');
  });

  it.each(['local delivery failed', 'delivery to pipe forbidden', 'queue file write error', 'Unable to contact LDAP server', '554 Transaction failed for unknown reasons'])('system: %s', (text) => {
    expect(reasonOf(bare(text))).toBe('systemerror');
  });

  it.each(['Connection timed out', 'message has been frozen', 'server did not respond in time', 'retry timeout exceeded', 'queue lifetime exceeded', 'could not be delivered within 3 days'])('expired: %s', (text) => {
    expect(decide(bare(text))).toMatchObject({ reason: 'expired', hard: false });
  });

  it('only the message\'s time "has expired"; a certificate that has expired is transport security', () => {
    expect(reasonOf(bare('the message lifetime has expired'))).toBe('expired');
    expect(reasonOf({ replyCode: 454, text: '454 TLS failed: the certificate has expired' })).toBe('securityerror');
  });

  it('a network error is tried before expiry in the second pass', () => {
    expect(reasonOf(bare('network error; retry timeout exceeded'))).toBe('networkerror');
    expect(reasonOf(bare('Temporary failure in name resolution; queue lifetime exceeded'))).toBe('networkerror');
  });

  it('a local delivery program failure is a mailer error (systemerror category)', () => {
    expect(decide(bare('|/usr/local/bin/maildrop: bin/maidrop exited'))).toMatchObject({ reason: 'mailererror', decidedBy: { family: 'mailererror' } });
  });

  it('null MX wording is notaccept, hard unless temporary', () => {
    expect(decide(bare('550 no route for current request'))).toMatchObject({ reason: 'notaccept', hard: true });
    expect(decide(bare('451 4.3.2 SMTP protocol returned a permanent error, temporarily'))).toMatchObject({ reason: 'notaccept', hard: false });
  });
});

describe('format-independent wording of a few mail systems', () => {
  it('qmail\'s refused HELO name is blocked; a malformed recipient address is a syntax error', () => {
    expect(reasonOf(bare('Connected to 192.0.2.3 but my name was rejected.'))).toBe('blocked');
    expect(decide(bare('malformed address: b@ may not follow <a@example.org>'))).toMatchObject({ reason: 'syntaxerror', decidedBy: { rule: 'second-pass/phrase' } });
    expect(reasonOf(bare('angle-brackets nested too deep'))).toBe('syntaxerror');
  });

  it('OpenSMTPD and Courier wording', () => {
    expect(reasonOf(bare('No MX found for domain'))).toBe('networkerror');
    expect(reasonOf(bare('Temporary failure in MX lookup'))).toBe('networkerror');
    expect(decide(bare('Invalid domain name'))).toMatchObject({ reason: 'hostunknown', hard: true });
    expect(reasonOf(bare('Destination seem to reject all mails'))).toBe('notaccept');
    expect(reasonOf(bare('Could not retrieve credentials'))).toBe('securityerror');
    expect(reasonOf(bare("This domain's DNS violates RFC 1035."))).toBe('systemerror');
    // A loop of Received headers stays a content error even though it says "loop detected".
    expect(reasonOf(bare('Routing loop detected -- too many Received: headers'))).toBe('contenterror');
  });

  it('a hop-count loop is a network error; an illegal domain name is an unknown host', () => {
    expect(reasonOf(bare('Message has exceeded maximum hop count'))).toBe('networkerror');
    expect(reasonOf(bare('Illegal host/domain name found'))).toBe('hostunknown');
  });
});

describe('a generic provisional reason of the report format', () => {
  it('stands unless the first pass replaces it; a delayed action alone leaves the second pass free', () => {
    // The format said "expired" (Exim's retry timeout): second-pass wording does not replace it.
    expect(decide({ provisional: 'expired', action: 'failed', text: 'no route to host; retry timeout exceeded' })).toMatchObject({ reason: 'expired', decidedBy: { rule: 'provisional' } });
    // ... but a first-pass family does (quota wording).
    expect(reasonOf({ provisional: 'expired', action: 'failed', text: 'mailbox is full; retry timeout exceeded' })).toBe('mailboxfull');
    // An expired that only reflects Action: delayed is a fallback: the second pass reads the text.
    expect(reasonOf({ provisional: 'expired', action: 'delayed', text: 'no route to host' })).toBe('networkerror');
    expect(decide({ provisional: 'expired', action: 'delayed', text: 'nothing known' })).toMatchObject({ reason: 'expired' });
  });
});

describe('every decision is explained', () => {
  it('names the rule and the family', () => {
    for (const input of [rcpt('550 No such user here'), data('550 spamming not allowed'), bare('Connection timed out'), bare('no idea')]) {
      const v = decide(input);
      expect(v.decidedBy.rule).toMatch(/^(?:first-pass|second-pass|fallback|host|provisional|delivered)\//);
      expect(typeof v.decidedBy.family).toBe('string');
    }
  });
});

describe('reference index phrases added in the third pass', () => {
  it.each([
    ['553 your access to this mail system has been rejected', 'rejected'],
    ['550 5.7.1 denied by SecuMail valid-address-filter', 'rejected'],
    ['550 5.7.1 sender@example.net email address is on SenderFilterConfig list', 'rejected'],
    ['550 rule imposed mailbox access for sender@example.net refused', 'rejected'],
  ])('%s (at MAIL) is %s', (text, reason) => {
    expect(reasonOf(mail(text))).toBe(reason);
  });

  it.each([
    ['552 carol users mailbox is currently full', 'mailboxfull'],
    ['550 5.7.1 see https://support.google.com/mail/?p=RfcMessageNonCompliant', 'notcompliantrfc'],
    ["554 you're using a mass mailer", 'policyviolation'],
  ])('%s (after DATA) is %s', (text, reason) => {
    expect(reasonOf(data(text))).toBe(reason);
  });
});

describe('badreputation is the sender\'s reputation, not a block list named after it', () => {
  it('a DNSBL called "Reputation" is blocked; reputation wording is badreputation', () => {
    expect(reasonOf(rcpt('554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using Barracuda Reputation; http://www.barracudanetworks.com/reputation/?pr=1&ip=192.0.2.1'))).toBe('blocked');
    expect(reasonOf(rcpt('421 4.7.0 [192.0.2.1] has been temporarily rate limited due to IP reputation', 421))).toBe('badreputation');
    expect(reasonOf(data('550 5.7.1 message refused: a poor email reputation score'))).toBe('badreputation');
  });
});
