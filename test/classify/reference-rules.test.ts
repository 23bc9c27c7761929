import { describe, expect, it } from 'vitest';
import { decideBounceReason, statusReason } from '../../src/classify/reason.js';
import type { ReasonInput } from '../../src/classify/reason.js';
import { hasReasonWording } from '../../src/classify/phrases.js';

// Rule families of the reference's decision (../shared/BOUNCE-REASONS.md) checked one by one in
// the fourth session: each test is a short text written for it, in the usual shape of such
// replies, with the SMTP command and status that select the rule.
const decide = (input: ReasonInput) => decideBounceReason(input);
const reasonOf = (input: ReasonInput): string => decide(input).reason;
const rcpt = (text: string, replyCode = 550): ReasonInput => ({ replyCode, text, command: 'RCPT' });
const data = (text: string, replyCode = 554): ReasonInput => ({ replyCode, text, command: 'DATA' });
const mail = (text: string, replyCode = 553): ReasonInput => ({ replyCode, text, command: 'MAIL' });
const bare = (text: string): ReasonInput => ({ text });

describe('media-error statuses (X.6.Y) map to contenterror', () => {
  it('maps the RFC 3463 media codes of both classes', () => {
    for (const s of ['4.6.0', '4.6.5', '5.6.0', '5.6.1', '5.6.3', '5.6.7', '5.6.10']) expect(statusReason(s)).toBe('contenterror');
  });

  it('a media status is specific: the second pass returns it without reading phrases', () => {
    expect(decide({ status: '5.6.0', ...rcpt('554 5.6.0 message contains spam or a virus', 554) })).toMatchObject({
      reason: 'contenterror',
      decidedBy: { rule: 'second-pass/status', family: 'contenterror' },
    });
    // After DATA the first pass still reads the content wording.
    expect(reasonOf({ status: '5.6.0', ...data('554 5.6.0 message contains spam') })).toBe('spamdetected');
  });
});

describe('the last fallbacks', () => {
  it('a refused HELO/EHLO with no wording is the client (blocked); a refusal at the connection is not', () => {
    expect(reasonOf({ replyCode: 554, text: '554 not today', command: 'EHLO' })).toBe('blocked');
    expect(reasonOf({ replyCode: 554, text: '554 not today', command: 'CONN' })).toBe('onhold');
  });
});

describe('relaying and SMTP AUTH', () => {
  it("the reference's relay sentences that name authentication stay norelaying", () => {
    expect(reasonOf(rcpt('550 5.7.1 mail.example.net is not permitted to relay through this server without authentication'))).toBe('norelaying');
    expect(reasonOf(rcpt('530 this mail server requires authentication when attempting to send to a non-local e-mail address', 530))).toBe('norelaying');
  });

  it('a bare demand for AUTH is securityerror, not a relay refusal', () => {
    expect(reasonOf(rcpt("553 sorry, you don't authenticate or the domain isn't in my list of allowed rcpthosts", 553))).toBe('securityerror');
  });
});

describe('network failures veto a host-unknown status', () => {
  it.each(['554 message looping between hosts', '554 message probably in a routing loop'])('%s', (text) => {
    expect(reasonOf({ status: '5.4.4', replyCode: 554, text })).toBe('networkerror');
  });
});

describe("the reference's wording, family by family (fourth session)", () => {
  it.each([
    '550 <carol@example.org>: Recipient address rejected.',
    '550 user carol@example.org was not found',
    '550 5.1.0 Address rejected carol@example.org',
  ])('%s at RCPT is userunknown (hard)', (text) => {
    expect(decide(rcpt(text))).toMatchObject({ reason: 'userunknown', hard: true });
  });

  it('an unexplained "Recipient address rejected: <reason>" is not read as an unknown user', () => {
    expect(reasonOf(rcpt('550 <carol@example.org>: Recipient address rejected: Greylisted'))).not.toBe('userunknown');
  });

  it('a recipient not receiving mail after DATA is filtered', () => {
    expect(reasonOf(data('550 user not receiving mail', 550))).toBe('filtered');
  });

  it.each([
    '550 access denied (sender blacklisted)',
    '553 sender carol@example.net rejected',
    '550 invalid domain, see <URL:http://postmaster.example.org/>',
    '553 RFC 1035 violation in the sender domain',
    '550 this is a spam reporting address; no bounces here',
  ])('%s at MAIL is rejected', (text) => {
    expect(reasonOf(mail(text))).toBe('rejected');
  });

  it("a French ISP's SPF refusal code is authfailure", () => {
    expect(reasonOf(bare('550 5.7.0 example.net is not allowed to send mail. OFR_401'))).toBe('authfailure');
  });

  it.each(['554 5.7.1 see http://www.spamhaus.org/help/help_spam_16.htm', '554 5.7.0 Reject, id=31337-04 - bad content', '554 message listed in work.drbl.imedia.ru'])(
    '%s after DATA is spamdetected',
    (text) => {
      expect(reasonOf(data(text))).toBe('spamdetected');
    },
  );

  it('a client named as a spam source is blocked, not spam content', () => {
    expect(reasonOf(data('554 you are sending spam from 192.0.2.1'))).toBe('blocked');
    expect(reasonOf(bare('550 dynamic/zombied/spam IPs blocked'))).toBe('blocked');
    expect(reasonOf(rcpt('554 email blocked by b.barracudacentral.org', 554))).toBe('blocked');
  });

  it("Yahoo's complaint deferral names the client; with unexpected volume it is the reputation", () => {
    expect(reasonOf(rcpt('421 4.7.0 [TS01] Messages from 192.0.2.1 temporarily deferred due to user complaints', 421))).toBe('blocked');
    expect(reasonOf(rcpt('421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints', 421))).toBe('badreputation');
  });

  it('malware URLs are virusdetected; a header too large is contenterror, not a message too big', () => {
    expect(reasonOf(data('554 5.7.1 virus phishing/malicious_url detected'))).toBe('virusdetected');
    expect(reasonOf(data('552 header size exceeds maximum permitted', 552))).toBe('contenterror');
    expect(reasonOf(data('552 message header size exceeds limit', 552))).toBe('emailtoolarge');
    expect(reasonOf(data('552 message size exceeds fixed maximum message size', 552))).toBe('emailtoolarge');
  });

  it('an attachment refused by the transport security scanner is securityerror', () => {
    expect(reasonOf(data('554 executable files are not allowed in compressed files'))).toBe('securityerror');
  });
});

describe('requireptr: the reference sentences decide, other PTR wording is only evidence', () => {
  it('wider PTR wording still marks a report line as an error line', () => {
    expect(hasReasonWording('Client host rejected: cannot find your reverse hostname, [192.0.2.4]')).toBe(true);
    expect(hasReasonWording('the reverse DNS of your host is generic')).toBe(true);
    // So does the client and moved-mailbox wording that no longer decides blocked or hasmoved.
    expect(hasReasonWording('Client host rejected: Access denied')).toBe(true);
    expect(hasReasonWording('551 User not local; please try <x@new.example>')).toBe(true);
    expect(hasReasonWording('your IP 192.0.2.1 has been blocked')).toBe(true);
    expect(hasReasonWording('Hello, this is the mail system at host mx.example.org.')).toBe(false);
  });

  it('but decides nothing: the status or the block-list wording does', () => {
    expect(reasonOf({ status: '4.7.1', ...rcpt('450 4.7.1 Client host rejected: cannot find your reverse hostname', 450) })).toBe('blocked');
    expect(reasonOf(bare('550 no reverse DNS for 192.0.2.4; listed at bl.example.net'))).toBe('blocked');
    expect(reasonOf(bare('550 this system will not accept messages from servers/devices with no reverse DNS'))).toBe('requireptr');
  });
});

describe('multi-line replies read as one sentence', () => {
  it('the code and status that begin each continued line do not break a phrase', () => {
    expect(reasonOf(bare('552-5.2.2 The email account that you tried to reach is over\n552-5.2.2 quota. Please direct the recipient to the help page.'))).toBe('mailboxfull');
    expect(reasonOf(rcpt('554-5.7.1 <carol@example.org>: we do not\n554-5.7.1 relay for this domain', 554))).toBe('norelaying');
  });

  it('keeps the leading reply and a reply quoted later in the text', () => {
    expect(decide(bare('550-5.1.1 user unknown')).decidedBy.matched).toBe('user unknown');
    expect(reasonOf({ replyCode: 550, text: 'host mx.example.org said: 550 blocked' })).toBe('blocked');
  });
});

describe('blocked: the client refused in the reference\'s words, not every mention of the client', () => {
  it("Postfix's bare client refusal is decided by its status", () => {
    expect(reasonOf({ status: '5.7.1', ...rcpt('554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied', 554) })).toBe('securityerror');
    expect(reasonOf({ status: '4.7.1', ...rcpt('450 4.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied', 450) })).toBe('blocked');
    expect(reasonOf(rcpt('450 4.7.1 Client host rejected: may not be mail exchanger', 450))).toBe('blocked');
  });

  it('mail from an IP refused for policy is policyviolation; refused outright it is blocked', () => {
    expect(reasonOf(data('554 Message from 192.0.2.1 rejected due to local policy'))).toBe('policyviolation');
    expect(reasonOf(data('554 message to the recipient is blocked for policy reasons'))).toBe('policyviolation');
    expect(reasonOf(rcpt('550 Mail from 192.0.2.1 refused: listed at bl.example.net'))).toBe('blocked');
    expect(reasonOf(rcpt('550 your IP 192.0.2.1 is blocked'))).toBe('blocked');
  });
});
