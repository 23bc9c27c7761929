import { describe, expect, it } from 'vitest';
import { createClassifier } from '../../src/classify/index.js';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import { parseComplaint } from '../../src/feedback/arf.js';
import { parseBounce } from '../../src/feedback/dsn.js';
import { MAX_SCAN_LENGTH_LIMIT } from '../../src/feedback/mime.js';
import type { BouncedRecipient, BounceResult } from '../../src/feedback/types.js';

// Synthetic fixtures, written for these tests in the shapes the mail systems use.

function mail(headers: readonly string[], body: string, eol = '\n'): string {
  return [...headers, '', body].join('\n').replace(/\n/g, eol);
}

function only(result: BounceResult): BouncedRecipient {
  expect(result.recipients).toHaveLength(1);
  return result.recipients[0]!;
}

const RFC3464_MULTI = mail(
  [
    'From: Mail Delivery System <MAILER-DAEMON@mx.sender.example>',
    'To: app@sender.example',
    'Subject: Delivery Status Notification',
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status;',
    '\tboundary="=_report_1"',
  ],
  [
    'This is a MIME-encapsulated message.',
    '',
    '--=_report_1',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'Delivery to some recipients failed or is delayed.',
    '',
    '--=_report_1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.sender.example',
    'Arrival-Date: Tue, 02 Jan 2024 10:00:00 +0000',
    '',
    'Original-Recipient: rfc822;Ann@Example.ORG',
    'Final-Recipient: rfc822; ann@EXAMPLE.org',
    'Action: failed',
    'Status: 5.1.1',
    'Remote-MTA: dns; mx1.example.org',
    'Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does',
    '    not exist. Please try double-checking the recipient\'s email address.',
    '',
    'Final-Recipient: rfc822; bob@example.net',
    'Action: delayed',
    'Status: 4.2.2',
    'Remote-MTA: dns; mx.example.net',
    'Diagnostic-Code: smtp; 452 4.2.2 Mailbox full',
    'Will-Retry-Until: Fri, 05 Jan 2024 10:00:00 +0000',
    '',
    '--=_report_1',
    'Content-Type: message/rfc822',
    '',
    'From: App <app@sender.example>',
    'To: ann@example.org, bob@example.net',
    'Subject: =?UTF-8?Q?Caf=C3=A9_order?=',
    'Message-ID: <order-42@sender.example>',
    'X-Mailpush-Job-Id: job_abc123',
    'X-Mailpush-Message-Id: msg_def456',
    '',
    'Your order.',
    '--=_report_1--',
    '',
  ].join('\n'),
);

describe('parseBounce: RFC 3464 reports', () => {
  it('reads every recipient block of a multi-recipient report, failed and delayed', () => {
    const r = parseBounce(RFC3464_MULTI);
    expect(r.kind).toBe('bounce');
    expect(r.reportingMta).toBe('mx.sender.example');
    expect(r.arrivalDate).toBe(Date.UTC(2024, 0, 2, 10));
    expect(r.recipients).toHaveLength(2);
    const [ann, bob] = r.recipients;
    expect(ann).toMatchObject({
      address: 'ann@example.org',
      originalRecipient: 'Ann@example.org',
      action: 'failed',
      status: '5.1.1',
      replyCode: 550,
      remoteMta: 'mx1.example.org',
      reason: 'userunknown',
      hard: true,
    });
    expect(ann!.diagnosticText).toContain('does not exist');
    expect(bob).toMatchObject({ address: 'bob@example.net', action: 'delayed', status: '4.2.2', reason: 'mailboxfull', hard: false });
    expect(bob!.willRetryUntil).toBe(Date.UTC(2024, 0, 5, 10));
  });

  it('returns the original Message-ID and the correlation headers of the returned message', () => {
    const r = parseBounce(RFC3464_MULTI);
    expect(r.originalMessageId).toBe('<order-42@sender.example>');
    expect(r.originalHeaders).toMatchObject({
      messageId: '<order-42@sender.example>',
      subject: 'Café order',
      jobId: 'job_abc123',
      mailpushMessageId: 'msg_def456',
      to: 'ann@example.org, bob@example.net',
    });
  });

  it('gives the same result for CRLF and LF line ends, strings and bytes', () => {
    const lf = parseBounce(RFC3464_MULTI);
    expect(parseBounce(RFC3464_MULTI.replace(/\n/g, '\r\n'))).toEqual(lf);
    expect(parseBounce(Buffer.from(RFC3464_MULTI))).toEqual(lf);
    expect(parseBounce(new TextEncoder().encode(RFC3464_MULTI))).toEqual(lf);
  });

  it('reports a warning where every recipient is delayed as a delay, never hard', () => {
    const raw = RFC3464_MULTI.replace('Action: failed', 'Action: delayed').replace('Status: 5.1.1', 'Status: 4.4.1').replace('550-5.1.1', '451-4.4.1');
    const r = parseBounce(raw);
    expect(r.kind).toBe('delay');
    expect(r.recipients.every((x) => x.action === 'delayed' && !x.hard)).toBe(true);
  });

  it('prefers the remote server status over a generic X.0.0 Status field', () => {
    const raw = mail(
      ['From: MAILER-DAEMON@mx.sender.example', 'Subject: Undelivered Mail Returned to Sender', 'Content-Type: multipart/report; report-type=delivery-status; boundary=b'],
      [
        '--b',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.sender.example',
        '',
        'Final-Recipient: rfc822; carol@example.com',
        'Action: failed',
        'Status: 5.0.0',
        'Diagnostic-Code: X-Postfix; host mx.example.com[192.0.2.7] said: 552 5.2.2',
        '    <carol@example.com>: mailbox is full (in reply to RCPT TO command)',
        '--b--',
      ].join('\n'),
    );
    const c = only(parseBounce(raw));
    expect(c).toMatchObject({ status: '5.2.2', replyCode: 552, reason: 'mailboxfull', hard: false, command: 'RCPT' });
  });

  it('classifies with the shared rule table: policy and reputation refusals are soft', () => {
    const dsn = (status: string, diag: string): string =>
      mail(
        ['From: MAILER-DAEMON@mx.sender.example', 'Subject: Undelivered Mail Returned to Sender', 'Content-Type: multipart/report; report-type=delivery-status; boundary=b'],
        ['--b', 'Content-Type: message/delivery-status', '', 'Final-Recipient: rfc822; dan@example.com', 'Action: failed', `Status: ${status}`, `Diagnostic-Code: smtp; ${diag}`, '--b--'].join('\n'),
      );
    expect(only(parseBounce(dsn('5.7.1', '554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org')))).toMatchObject({ reason: 'blocked', hard: false });
    expect(only(parseBounce(dsn('5.7.26', '550 5.7.26 Unauthenticated email from sender.example is not accepted due to domain\'s DMARC policy')))).toMatchObject({ reason: 'authfailure', hard: false });
    expect(only(parseBounce(dsn('5.2.2', '552 5.2.2 Quota exceeded')))).toMatchObject({ reason: 'mailboxfull', hard: false });
    expect(only(parseBounce(dsn('5.1.2', '550 5.1.2 Host or domain name not found')))).toMatchObject({ reason: 'hostunknown', hard: true });
    expect(only(parseBounce(dsn('5.1.6', '551 5.1.6 User has moved; please try <dan@new.example>')))).toMatchObject({ reason: 'hasmoved', hard: true });
  });

  it('shares the rule table additions made for bounce wording with SMTP replies', () => {
    const dsn = (diag: string): BouncedRecipient =>
      only(
        parseBounce(
          mail(
            ['From: MAILER-DAEMON@mx.sender.example', 'Subject: Undelivered Mail Returned to Sender', 'Content-Type: multipart/report; report-type=delivery-status; boundary=b'],
            ['--b', 'Content-Type: message/delivery-status', '', 'Final-Recipient: rfc822; eve@example.com', 'Action: failed', 'Status: 5.0.0', `Diagnostic-Code: smtp; ${diag}`, '--b--'].join('\n'),
          ),
        ),
      );
    expect(dsn('550 5.1.1 RCP-P2 Refused due to recipient preferences')).toMatchObject({ reason: 'filtered', hard: false });
    expect(dsn('550 User eve not listed in Domino Directory')).toMatchObject({ reason: 'userunknown', hard: true });
    expect(dsn('550 5.7.1 This message is not RFC 5322 compliant. To reduce the amount of spam sent to Gmail, this message has been blocked')).toMatchObject({ reason: 'notcompliantrfc' });
    expect(dsn('550-Please turn on SMTP Authentication in your mail client. 550 relay not permitted without authentication')).toMatchObject({ reason: 'securityerror' });
    expect(dsn('550 Ip frequency limited')).toMatchObject({ reason: 'ratelimited', hard: false });
    expect(dsn('553 mail.example.com does not exist')).toMatchObject({ reason: 'hostunknown', hard: true });
    expect(dsn('550 5.4.312 Message expired, DNS query failed')).toMatchObject({ reason: 'networkerror', hard: false });
  });

  it('applies a custom classifier, so rules added for SMTP replies decide bounces too', () => {
    const raw = mail(
      ['From: MAILER-DAEMON@mx.sender.example', 'Subject: Undelivered Mail Returned to Sender', 'Content-Type: multipart/report; report-type=delivery-status; boundary=b'],
      ['--b', 'Content-Type: message/delivery-status', '', 'Final-Recipient: rfc822; fay@example.com', 'Action: failed', 'Status: 5.0.0', 'Diagnostic-Code: smtp; 550 ACME-17 recipient retired', '--b--'].join('\n'),
    );
    expect(only(parseBounce(raw)).reason).not.toBe('hasmoved');
    const classifier = createClassifier({ rules: [{ id: 'acme-retired', when: { text: /ACME-17/ }, then: { category: 'hasmoved' } }] });
    expect(only(parseBounce(raw, { classifier }))).toMatchObject({ reason: 'hasmoved', hard: true, decidedBy: { rule: 'custom/acme-retired', family: 'hasmoved' } });
    expect(() => parseBounce(raw, { classifier: {} as never })).toThrow(/classifier/);
  });

  it('parses fields in any order and repeated blocks without blank lines between them', () => {
    const raw = mail(
      ['From: mailer-daemon@mx.example', 'Subject: Delivery failure', 'Content-Type: multipart/report; report-type=delivery-status; boundary=b'],
      [
        '--b',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.example',
        'Diagnostic-Code: smtp; 550 5.1.1 no such user',
        'Status: 5.1.1',
        'Final-Recipient: rfc822; first@example.com',
        'Action: failed',
        'Diagnostic-Code: smtp; 552 5.2.2 over quota',
        'Status: 5.2.2',
        'Final-Recipient: rfc822; second@example.com',
        'Action: failed',
        '--b--',
      ].join('\n'),
    );
    const r = parseBounce(raw);
    expect(r.recipients.map((x) => [x.address, x.reason])).toEqual([
      ['first@example.com', 'userunknown'],
      ['second@example.com', 'mailboxfull'],
    ]);
  });

  it('reports a success DSN as not a bounce, listing the delivered recipients', () => {
    const raw = mail(
      ['From: MAILER-DAEMON@mx.example', 'Subject: Delivery Status Notification (Success)', 'Content-Type: multipart/report; report-type=delivery-status; boundary=b'],
      ['--b', 'Content-Type: message/delivery-status', '', 'Final-Recipient: rfc822; ok@example.com', 'Action: delivered', 'Status: 2.0.0', '--b--'].join('\n'),
    );
    const r = parseBounce(raw);
    expect(r.kind).toBe('not-bounce');
    expect(only(r)).toMatchObject({ action: 'delivered', reason: 'delivered', hard: false });
  });
});

describe('parseBounce: non-standard bounces', () => {
  it('reads Postfix notifications, and a user unknown after DATA as a filter (soft)', () => {
    const raw = mail(
      ['From: MAILER-DAEMON@mail.sender.example (Mail Delivery System)', 'To: app@sender.example', 'Subject: Undelivered Mail Returned to Sender'],
      [
        'This is the mail system at host mail.sender.example.',
        '',
        "I'm sorry to have to inform you that your message could not",
        'be delivered to one or more recipients. It\'s attached below.',
        '',
        '<erin@example.com>: host mx.example.com[192.0.2.5] said: 550 Unknown user',
        '    erin@example.com (in reply to end of DATA command)',
        '',
        '<frank@example.com>: host mx.example.com[192.0.2.5] said: 550 5.1.1',
        '    <frank@example.com>: Recipient address rejected: User unknown in local',
        '    recipient table (in reply to RCPT TO command)',
      ].join('\n'),
    );
    const r = parseBounce(raw);
    expect(r.kind).toBe('bounce');
    expect(r.mta).toBe('postfix');
    const [erin, frank] = r.recipients;
    expect(erin).toMatchObject({ address: 'erin@example.com', replyCode: 550, command: 'DATA', reason: 'filtered', hard: false });
    expect(frank).toMatchObject({ address: 'frank@example.com', status: '5.1.1', command: 'RCPT', reason: 'userunknown', hard: true });
  });

  it('reads Exim failures with the copy of the message that follows', () => {
    const raw = mail(
      [
        'From: Mail Delivery System <Mailer-Daemon@relay.sender.example>',
        'To: app@sender.example',
        'Subject: Mail delivery failed: returning message to sender',
        'X-Failed-Recipients: gina@example.com',
        'Auto-Submitted: auto-replied',
      ],
      [
        'This message was created automatically by mail delivery software.',
        '',
        'A message that you sent could not be delivered to one or more of its',
        'recipients. This is a permanent error. The following address(es) failed:',
        '',
        '  gina@example.com',
        '    host mx.example.com [192.0.2.8]',
        '    SMTP error from remote mail server after RCPT TO:<gina@example.com>:',
        '    550 5.1.1 <gina@example.com>: Recipient address rejected: User unknown',
        '',
        '------ This is a copy of the message, including all the headers. ------',
        '',
        'Return-path: <app@sender.example>',
        'From: app@sender.example',
        'To: gina@example.com',
        'Subject: Hello',
        'Message-Id: <hello-1@sender.example>',
        'X-Mailpush-Job-Id: job_exim',
        '',
        'Hello',
      ].join('\n'),
    );
    const r = parseBounce(raw);
    expect(r.mta).toBe('exim');
    expect(only(r)).toMatchObject({ address: 'gina@example.com', status: '5.1.1', replyCode: 550, reason: 'userunknown', hard: true, command: 'RCPT' });
    expect(r.originalMessageId).toBe('<hello-1@sender.example>');
    expect(r.originalHeaders?.jobId).toBe('job_exim');
  });

  it('reads qmail failures, one block per recipient with its own reason', () => {
    const raw = mail(
      ['From: MAILER-DAEMON@mx.sender.example', 'To: app@sender.example', 'Subject: failure notice'],
      [
        'Hi. This is the qmail-send program at mx.sender.example.',
        "I'm afraid I wasn't able to deliver your message to the following addresses.",
        "This is a permanent error; I've given up. Sorry it didn't work out.",
        '',
        '<hank@example.com>:',
        '192.0.2.10 does not like recipient.',
        'Remote host said: 550 5.1.1 <hank@example.com>... User Unknown',
        'Giving up on 192.0.2.10.',
        '',
        '<ivy@example.net>:',
        '192.0.2.11 does not like recipient.',
        'Remote host said: 552 5.2.2 <ivy@example.net>... Mailbox Full',
        'Giving up on 192.0.2.11.',
        '',
        '<jay@nowhere.example>:',
        "Sorry, I couldn't find any host named nowhere.example. (#5.1.2)",
        '',
        '--- Below this line is a copy of the message.',
        '',
        'From: app@sender.example',
        'To: hank@example.com',
        '',
        'Hi',
      ].join('\n'),
    );
    const r = parseBounce(raw);
    expect(r.mta).toBe('qmail');
    expect(r.recipients.map((x) => [x.address, x.status, x.reason, x.hard])).toEqual([
      ['hank@example.com', '5.1.1', 'userunknown', true],
      ['ivy@example.net', '5.2.2', 'mailboxfull', false],
      ['jay@nowhere.example', '5.1.2', 'hostunknown', true],
    ]);
  });

  it('reads Exchange / Office 365 NDRs, text and HTML-only', () => {
    const text = [
      'Delivery has failed to these recipients or distribution lists:',
      '',
      'Kim<mailto:kim@example.com>',
      "The recipient's e-mail address was not found in the recipient's e-mail system.",
      '',
      'Diagnostic information for administrators:',
      '',
      'Generating server: EX01.example.com',
      '',
      'kim@example.com',
      '#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##',
      '',
      'Original message headers:',
      '',
      'From: App <app@sender.example>',
      'To: Kim <kim@example.com>',
      'Message-ID: <ndr-1@sender.example>',
    ].join('\n');
    const plain = mail(['From: postmaster@example.com', 'To: app@sender.example', 'Subject: Undeliverable: Hello'], text);
    const r = parseBounce(plain);
    expect(r.mta).toBe('exchange');
    expect(only(r)).toMatchObject({ address: 'kim@example.com', status: '5.1.1', replyCode: 550, reason: 'userunknown', hard: true });
    expect(r.originalMessageId).toBe('<ndr-1@sender.example>');

    const html = `<html><head><style>p { color: red }</style></head><body><p><b>Your message to <a href="mailto:lee@example.com">lee@example.com</a> couldn't be delivered.</b></p>
<table><tr><td>lee</td><td>Office 365</td></tr></table><p>Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient lee@example.com not found by SMTP address lookup'</p></body></html>`;
    const htmlOnly = mail(
      ['From: Microsoft Outlook <postmaster@outlook.example>', 'To: app@sender.example', 'Subject: Undeliverable: Hello', 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable'],
      html.replace(/=/g, '=3D'),
    );
    expect(only(parseBounce(htmlOnly))).toMatchObject({ address: 'lee@example.com', status: '5.1.10', reason: 'userunknown', hard: true });
  });

  it('reads Gmail failures and delay warnings', () => {
    const failure = mail(
      ['From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>', 'To: app@sender.example', 'Subject: Delivery Status Notification (Failure)'],
      [
        'Delivery to the following recipient failed permanently:',
        '',
        '     max@example.com',
        '',
        'Technical details of permanent failure:',
        'Google tried to deliver your message, but it was rejected by the server for the recipient domain example.com by mx.example.com. [192.0.2.20].',
        '',
        'The error that the other server returned was:',
        '550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using bl.spamcop.net',
        '',
        '----- Original message -----',
        '',
        'Message-ID: <g-1@sender.example>',
        'To: max@example.com',
      ].join('\n'),
    );
    const r = parseBounce(failure);
    expect(r.mta).toBe('gmail');
    expect(only(r)).toMatchObject({ address: 'max@example.com', action: 'failed', status: '5.7.1', reason: 'blocked', hard: false });

    const delay = mail(
      ['From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>', 'To: app@sender.example', 'Subject: Delivery Status Notification (Delay)'],
      [
        'This is an automatically generated Delivery Status Notification',
        '',
        'THIS IS A WARNING MESSAGE ONLY.',
        '',
        'YOU DO NOT NEED TO RESEND YOUR MESSAGE.',
        '',
        'Delivery to the following recipient has been delayed:',
        '',
        '     nia@example.com',
        '',
        'Message will be retried for 2 more day(s)',
        '',
        'Technical details of temporary failure:',
        'The recipient server did not accept our requests to connect. [example.com. [192.0.2.30]:25: socket error]',
      ].join('\n'),
    );
    const d = parseBounce(delay);
    expect(d.kind).toBe('delay');
    expect(only(d)).toMatchObject({ address: 'nia@example.com', action: 'delayed', hard: false });
  });

  it('reads Sendmail transcripts: the refused command decides between unknown user and filter', () => {
    const sendmail = (command: string): string =>
      mail(
        ['From: Mail Delivery Subsystem <MAILER-DAEMON@mx.sender.example>', 'To: app@sender.example', 'Subject: Returned mail: see transcript for details'],
        [
          'The original message was received at Tue, 2 Jan 2024 10:00:00 +0000',
          'from localhost [127.0.0.1]',
          '',
          '   ----- The following addresses had permanent fatal errors -----',
          '<oli@example.com>',
          '    (reason: 550 User unknown)',
          '',
          '   ----- Transcript of session follows -----',
          '... while talking to mx.example.com.:',
          command === 'RCPT' ? '>>> RCPT To:<oli@example.com>' : '>>> DATA',
          '<<< 550 <oli@example.com>... User unknown',
          '554 5.0.0 Service unavailable',
          '',
          '   ----- Unsent message follows -----',
          'From: app@sender.example',
          'To: oli@example.com',
        ].join('\n'),
      );
    expect(only(parseBounce(sendmail('RCPT')))).toMatchObject({ address: 'oli@example.com', reason: 'userunknown', hard: true, command: 'RCPT' });
    expect(only(parseBounce(sendmail('DATA')))).toMatchObject({ address: 'oli@example.com', reason: 'filtered', hard: false, command: 'DATA' });
    // Each verdict says which rule decided it.
    expect(only(parseBounce(sendmail('RCPT'))).decidedBy).toMatchObject({ rule: 'first-pass/phrase', family: 'userunknown', matched: 'user unknown', command: 'RCPT' });
    expect(only(parseBounce(sendmail('DATA'))).decidedBy).toMatchObject({ rule: 'first-pass/phrase', family: 'filtered', matched: 'user unknown', command: 'DATA' });
  });

  it('explains every recipient of a DSN: the rule, the family and what matched', () => {
    const raw = mail(
      ['From: MAILER-DAEMON@mx.sender.example', 'Subject: Undelivered Mail Returned to Sender', 'Content-Type: multipart/report; report-type=delivery-status; boundary=b'],
      [
        '--b',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.sender.example',
        '',
        'Final-Recipient: rfc822; pia@example.com',
        'Action: failed',
        'Status: 5.1.1',
        'Remote-MTA: dns; mx.example.com',
        'Diagnostic-Code: smtp; 550 5.1.1 <pia@example.com>: Recipient address rejected: mailbox is full',
        '',
        'Final-Recipient: rfc822; quinn@example.net',
        'Action: failed',
        'Status: 5.7.606',
        'Remote-MTA: dns; example-net.mail.protection.outlook.com',
        'Diagnostic-Code: smtp; 550 5.7.606 Access denied, banned sending IP [192.0.2.1]',
        '',
        'Final-Recipient: rfc822; rex@example.org',
        'Action: failed',
        'Status: 5.0.0',
        'Diagnostic-Code: smtp; 550 5.0.0 we could not make sense of it',
        '--b--',
      ].join('\n'),
    );
    const [pia, quinn, rex] = parseBounce(raw).recipients;
    // The quota wording beats the 5.1.1 status: a full mailbox, soft.
    expect(pia).toMatchObject({ reason: 'mailboxfull', hard: false, decidedBy: { rule: 'first-pass/phrase', family: 'mailboxfull' } });
    expect(quinn).toMatchObject({ reason: 'blocked', hard: false, decidedBy: { rule: 'host/microsoft', family: 'blocked', matched: '5.7.606' } });
    expect(rex).toMatchObject({ reason: 'onhold', hard: false, decidedBy: { rule: 'fallback/onhold' } });
  });

  it('never counts our own sender, the postmaster or Message-IDs as bounced recipients', () => {
    const raw = mail(
      ['From: postmaster@mx.example.com', 'To: app@sender.example', 'Subject: Undeliverable Mail'],
      [
        'Unknown user: pat@example.com',
        '',
        'Contact postmaster@example.com for help, or see https://help.example.com/?u=q@example.com.',
        'If the user has moved, please try <pat.new@example.net>; you can also contact help@example.com.',
        'Mail from: app@sender.example',
        'Message-ID: <abc@sender.example>',
        '',
        'Original message follows.',
        '',
        'From: App <app@sender.example>',
        'To: pat@example.com',
      ].join('\n'),
    );
    const r = parseBounce(raw);
    expect(r.recipients.map((x) => x.address)).toEqual(['pat@example.com']);
    expect(only(r)).toMatchObject({ reason: 'userunknown', hard: true });
  });
});

describe('parseBounce: the refused SMTP command named in capitals', () => {
  const dsn = (diagnostic: string): string =>
    mail(
      ['From: MAILER-DAEMON@mx.sender.example', 'To: app@sender.example', 'Subject: Delivery Status Notification (Failure)', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="r1"'],
      ['--r1', 'Content-Type: text/plain', '', 'Delivery failed.', '--r1', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.sender.example', '', 'Final-Recipient: rfc822; tina@example.org', 'Action: failed', `Diagnostic-Code: smtp; ${diagnostic}`, '--r1--'].join('\n'),
    );

  it('reads a reply that names RCPT as refused at RCPT: an unknown user is hard', () => {
    expect(only(parseBounce(dsn('550 No such user here (RCPT TO:<tina@example.org>)')))).toMatchObject({ command: 'RCPT', reason: 'userunknown', hard: true });
  });

  it('reads a reply that names DATA as after DATA: the same words are the filter (soft)', () => {
    expect(only(parseBounce(dsn('DATA: 550 No such user here')))).toMatchObject({ command: 'DATA', reason: 'filtered', hard: false });
  });

  it('does not take a verb inside a longer word or in lower case', () => {
    expect(only(parseBounce(dsn('550 DATABASE says no such user here'))).command).toBeUndefined();
    expect(only(parseBounce(dsn('550 rcpt no such user here'))).command).toBeUndefined();
  });
});

describe('parseBounce: a system that gave up on a host', () => {
  const gaveUp = (why: string): string =>
    mail(['From: MAILER-DAEMON@relay.sender.example', 'To: app@sender.example', 'Subject: Undeliverable: Hello'], ['Delivery to the following recipient failed permanently:', '', '     uma@example.org', '', `Technical details: ${why}`].join('\n'));

  it('reads a host it never reached as expired (the queue lifetime ran out)', () => {
    expect(only(parseBounce(gaveUp('[example.org 192.0.2.7: socket error]')))).toMatchObject({ reason: 'expired', hard: false, decidedBy: { rule: 'mailpush/gave-up-unreachable' } });
  });

  it("keeps the reference's own network-failure wording as networkerror", () => {
    expect(only(parseBounce(gaveUp('connect to example.org[192.0.2.7]: No route to host')))).toMatchObject({ reason: 'networkerror', hard: false });
  });
});

describe('parseBounce: `Action: expired`', () => {
  const expired = (extra: readonly string[]): string =>
    mail(
      ['From: MAILER-DAEMON@mx.sender.example', 'To: app@sender.example', 'Subject: Delivery Status Notification', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="r2"'],
      ['--r2', 'Content-Type: text/plain', '', 'Your message could not be delivered.', '--r2', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.sender.example', '', 'Final-Recipient: rfc822; vera@example.org', 'Action: expired', 'Status: 5.0.0', ...extra, '--r2--'].join('\n'),
    );

  it('reads a report that only says the queue lifetime ran out as expired (soft)', () => {
    expect(only(parseBounce(expired([])))).toMatchObject({ address: 'vera@example.org', reason: 'expired', hard: false });
  });

  it('lets a specific diagnostic replace it', () => {
    expect(only(parseBounce(expired(['Diagnostic-Code: smtp; 552 5.2.2 mailbox full'])))).toMatchObject({ reason: 'mailboxfull' });
  });
});

describe('parseBounce: recipients named only in echoes or in the returned message', () => {
  const head = ['From: Mail Delivery Subsystem <MAILER-DAEMON@relay.sender.example>', 'To: app@sender.example', 'Subject: Returned mail: see transcript for details'];

  it('finds a recipient named only as `addr... User unknown` in free text', () => {
    const r = parseBounce(mail(head, ['The original message was received from localhost.', '', '   ----- The following addresses had permanent fatal errors -----', 'nina@example.com... User unknown'].join('\n')));
    expect(only(r)).toMatchObject({ address: 'nina@example.com' });
  });

  it('finds a recipient named only in an `<addr>:` line', () => {
    const r = parseBounce(mail(head, ['Delivery failed for the following address.', '', '<omar@example.net>:', 'Sorry, no mailbox here by that name. (#5.1.1)'].join('\n')));
    expect(only(r)).toMatchObject({ address: 'omar@example.net', status: '5.1.1' });
  });

  it('finds the recipient of a quoted `RCPT TO:<addr>` transcript, never the MAIL FROM sender', () => {
    const r = parseBounce(
      mail(head, ['   ----- Transcript of session follows -----', '>>> MAIL FROM:<bounces@sender.example>', '<<< 250 2.1.0 Ok', '>>> RCPT TO:<pia@example.org>', '<<< 550 5.1.1 No such user'].join('\n')),
    );
    const rec = only(r);
    expect(rec).toMatchObject({ address: 'pia@example.org', status: '5.1.1', command: 'RCPT', reason: 'userunknown', hard: true });
  });

  it('finds a recipient echoed only as a `To:` line of a quoted summary', () => {
    const raw = mail(head, ['Your message could not be delivered.', '', '  To: quinn@example.com', '  Subject: Order 7', '', 'Reason: mailbox unavailable'].join('\n'));
    expect(only(parseBounce(raw))).toMatchObject({ address: 'quinn@example.com' });
  });

  it('prefers an echoed envelope line (`X-Original-To:`) and ignores a `To:` that lists several addresses', () => {
    const several = mail(head, ['Your message could not be delivered.', '', '  To: a1@example.com, a2@example.com', '', 'Reason: mailbox unavailable'].join('\n'));
    expect(parseBounce(several).recipients).toHaveLength(0);
    const envelope = mail(head, ['Your message could not be delivered.', '', '  To: a1@example.com, a2@example.com', '  X-Original-To: a2@example.com', '', 'Reason: mailbox unavailable'].join('\n'));
    expect(only(parseBounce(envelope))).toMatchObject({ address: 'a2@example.com' });
  });

  it('falls back to the attached original: its Delivered-To before its To, never its sender', () => {
    const raw = mail(
      [...head.slice(0, 2), 'Subject: Undeliverable message', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b1"'],
      [
        '--b1',
        'Content-Type: text/plain',
        '',
        'The message below could not be delivered. Mailbox unavailable.',
        '--b1',
        'Content-Type: message/rfc822',
        '',
        'From: App <app@sender.example>',
        'To: List <team@example.org>',
        'Delivered-To: rosa@example.org',
        'Subject: Hello',
        '',
        'Hi.',
        '--b1--',
      ].join('\n'),
    );
    expect(only(parseBounce(raw))).toMatchObject({ address: 'rosa@example.org' });
  });

  it('falls back to the only To: of the returned original, and never reports a postmaster or our sender', () => {
    const raw = mail(head, [
      'Your message could not be delivered: mailbox unavailable.',
      '',
      '------ This is a copy of the message, including all the headers. ------',
      'Return-Path: <app@sender.example>',
      'From: app@sender.example',
      'To: sam@example.net',
      'Subject: Hello',
      '',
      'Hi.',
    ].join('\n'));
    expect(only(parseBounce(raw))).toMatchObject({ address: 'sam@example.net' });
    const toSystem = raw.replace('To: sam@example.net', 'To: postmaster@example.net');
    expect(parseBounce(toSystem).recipients).toHaveLength(0);
    const toSender = raw.replace('To: sam@example.net', 'To: app@sender.example');
    expect(parseBounce(toSender).recipients).toHaveLength(0);
  });
});

describe('parseBounce: auto-replies and ordinary mail', () => {
  it('recognises RFC 3834 auto-replies and vacation messages without bounced recipients', () => {
    const byHeader = mail(['From: Quinn <quinn@example.com>', 'To: app@sender.example', 'Subject: Re: Hello', 'Auto-Submitted: auto-replied'], 'I am away until Monday.');
    expect(parseBounce(byHeader)).toMatchObject({ kind: 'autoreply', recipients: [], from: 'quinn@example.com' });
    const bySubject = mail(['From: rae@example.com', 'To: app@sender.example', 'Subject: Automatic reply: Hello'], 'Thanks, I will answer later.');
    expect(parseBounce(bySubject).kind).toBe('autoreply');
    const byXHeader = mail(['From: sam@example.com', 'Subject: Away', 'X-Autoreply: yes'], 'Back soon.');
    expect(parseBounce(byXHeader).kind).toBe('autoreply');
    const precedence = mail(['From: tia@example.com', 'Subject: Hello again', 'Precedence: auto_reply'], 'Auto answer.');
    expect(parseBounce(precedence).kind).toBe('autoreply');
  });

  it('reports an ordinary message as not a bounce', () => {
    const raw = mail(
      ['From: Uma <uma@example.com>', 'To: app@sender.example', 'Subject: Question about my order', 'Message-ID: <q1@example.com>'],
      'Hello, the parcel could not be delivered to my neighbour, user unknown at the door. Can you help?',
    );
    expect(parseBounce(raw)).toMatchObject({ kind: 'not-bounce', recipients: [], subject: 'Question about my order' });
  });

  it('does not take a person\'s message that reads like a bounce for one', () => {
    const raw = mail(
      ['From: Vic <vic@example.com>', 'Return-Path: <vic@example.com>', 'To: app@sender.example', 'Subject: Re: your parcel could not be delivered'],
      'Hi, the parcel for my colleague zoe@example.com could not be delivered yesterday. Can you resend it?',
    );
    expect(parseBounce(raw)).toMatchObject({ kind: 'not-bounce', recipients: [] });
  });

  it('reads a bounce forwarded as an attachment', () => {
    const raw = mail(
      ['From: Helpdesk <help@sender.example>', 'To: bounces@sender.example', 'Subject: Fwd: returned mail', 'Content-Type: multipart/mixed; boundary=fw'],
      ['--fw', 'Content-Type: text/plain', '', 'See the attached bounce.', '', '--fw', 'Content-Type: message/rfc822', '', RFC3464_MULTI, '--fw--'].join('\n'),
    );
    const r = parseBounce(raw);
    expect(r.kind).toBe('bounce');
    expect(r.recipients.map((x) => x.address)).toEqual(['ann@example.org', 'bob@example.net']);
  });

  it('reports an abuse report as not a bounce (parseComplaint reads it)', () => {
    const raw = mail(
      ['From: feedback@fbl.example', 'Subject: Abuse report', 'Content-Type: multipart/report; report-type=feedback-report; boundary=b'],
      ['--b', 'Content-Type: message/feedback-report', '', 'Feedback-Type: abuse', 'Version: 1', '--b--'].join('\n'),
    );
    expect(parseBounce(raw).kind).toBe('not-bounce');
  });
});

describe('parseBounce: malformed, hostile and huge input', () => {
  it('rejects only what is neither a string nor bytes, with a typed validation error', () => {
    for (const bad of [undefined, null, 42, {}, [], new ArrayBuffer(4)]) {
      let caught: unknown;
      try {
        parseBounce(bad as unknown as string);
      } catch (err) {
        caught = err;
      }
      expect(isMailError(caught)).toBe(true);
      expect((caught as { code: string }).code).toBe(MailErrorCode.VALIDATION);
    }
  });

  it('rejects invalid options with a configuration error naming the option', () => {
    expect(() => parseBounce('x', { maxScanLength: -1 })).toThrow(/maxScanLength/);
    try {
      parseBounce('x', { maxScanLength: 12.5 });
    } catch (err) {
      expect((err as { code: string }).code).toBe(MailErrorCode.CONFIG);
    }
  });

  it('returns not-bounce for empty, binary and garbage input', () => {
    expect(parseBounce('').kind).toBe('not-bounce');
    expect(parseBounce(new Uint8Array(0)).kind).toBe('not-bounce');
    expect(parseBounce(Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).kind).toBe('not-bounce');
    expect(parseBounce('\u0000\u0001:\n\n--\n--\n\r\r\r').kind).toBe('not-bounce');
  });

  it('still reads a report whose MIME is truncated in the middle of a part', () => {
    const cut = RFC3464_MULTI.slice(0, RFC3464_MULTI.indexOf('Final-Recipient: rfc822; bob'));
    const r = parseBounce(cut);
    expect(only(r)).toMatchObject({ address: 'ann@example.org', reason: 'userunknown' });
  });

  it('reads a multipart whose boundary parameter is missing', () => {
    const raw = RFC3464_MULTI.replace('\tboundary="=_report_1"', '\tx-nothing=1');
    expect(parseBounce(raw).recipients.map((x) => x.address)).toEqual(['ann@example.org', 'bob@example.net']);
  });

  it('decodes base64, quoted-printable, RFC 2047 and legacy charsets', () => {
    const text = 'Die Nachricht an <vera@example.de> konnte nicht zugestellt werden: 550 5.1.1 Benutzer unbekannt – Ärger';
    const latin1 = Buffer.from(text.replace('–', '-'), 'latin1');
    const raw = Buffer.concat([
      Buffer.from(
        [
          'From: MAILER-DAEMON@mx.example.de',
          'Subject: =?ISO-8859-1?Q?Unzustellbar=3A_Nachricht_f=FCr_Sie?=',
          'Content-Type: multipart/mixed; boundary=q',
          '',
          '--q',
          'Content-Type: text/plain; charset=utf-8',
          'Content-Transfer-Encoding: base64',
          '',
          Buffer.from(text).toString('base64'),
          '--q',
          'Content-Type: text/plain; charset=iso-8859-1',
          'Content-Transfer-Encoding: 8bit',
          '',
          '',
        ].join('\r\n'),
      ),
      latin1,
      Buffer.from('\r\n--q--\r\n'),
    ]);
    const r = parseBounce(raw);
    expect(r.subject).toBe('Unzustellbar: Nachricht für Sie');
    expect(only(r)).toMatchObject({ address: 'vera@example.de', status: '5.1.1', reason: 'userunknown' });
  });

  it('sanitizes hostile recipient fields: CR/LF, brackets, case and junk are not passed through', () => {
    const raw = mail(
      ['From: MAILER-DAEMON@mx.example', 'Subject: Undelivered Mail Returned to Sender', 'Content-Type: multipart/report; report-type=delivery-status; boundary=b'],
      [
        '--b',
        'Content-Type: message/delivery-status',
        '',
        'Final-Recipient: rfc822; <Wes@EXAMPLE.COM>',
        'Action: failed',
        'Status: 5.1.1',
        '',
        'Final-Recipient: rfc822; evil@example.com\rBcc: victim@example.org',
        'Action: failed',
        'Status: 5.1.1',
        '',
        'Final-Recipient: rfc822; <script>alert(1)</script>',
        'Action: failed',
        'Status: 5.1.1',
        '',
        `Final-Recipient: rfc822; ${'a'.repeat(300)}@example.com`,
        'Action: failed',
        'Status: 5.1.1',
        '--b--',
      ].join('\n'),
    );
    const addresses = parseBounce(raw).recipients.map((x) => x.address);
    expect(addresses).toContain('Wes@example.com');
    for (const a of addresses) {
      expect(a).not.toMatch(/[\r\n<>\s]/);
      expect(a.length).toBeLessThanOrEqual(254);
    }
    expect(addresses.some((a) => a.includes('victim'))).toBe(false);
  });

  it('bounds the work on huge inputs: a 10 MB mail, 10,000 parts, a 10 MB line', () => {
    const big = RFC3464_MULTI.replace('Your order.', 'x'.repeat(10 * 1024 * 1024));
    let start = performance.now();
    expect(parseBounce(big).recipients).toHaveLength(2);
    expect(performance.now() - start).toBeLessThan(3000);

    const parts = 'From: MAILER-DAEMON@x.example\nSubject: Undelivered\nContent-Type: multipart/report; report-type=delivery-status; boundary=z\n\n' + '--z\nContent-Type: multipart/mixed; boundary=z\n\nx\n'.repeat(10_000);
    start = performance.now();
    expect(parseBounce(parts).kind).toBe('not-bounce');
    expect(performance.now() - start).toBeLessThan(3000);

    const line = 'From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail\n\n' + '<<a@b.example>: 550 5.1.1 '.repeat(400_000);
    start = performance.now();
    const r = parseBounce(line);
    expect(performance.now() - start).toBeLessThan(3000);
    expect(r.recipients.length).toBeLessThanOrEqual(500);
  });

  /** A DSN whose parts come in this order; `first` is the human-readable part. */
  const bigDsn = (first: string, eol = '\r\n') =>
    [
      'Return-Path: <>',
      'From: MAILER-DAEMON@mx.shop.example (Mail Delivery System)',
      'To: bounces@shop.example',
      'Subject: Undelivered Mail Returned to Sender',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="=_b1"',
      '',
      'This is a MIME-encapsulated message.',
      '',
      '--=_b1',
      'Content-Type: text/plain; charset=utf-8',
      '',
      first,
      '',
      '--=_b1',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.shop.example',
      '',
      'Final-Recipient: rfc822; ann@example.org',
      'Action: failed',
      'Status: 5.1.1',
      'Diagnostic-Code: smtp; 550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown',
      '',
      '--=_b1',
      'Content-Type: text/rfc822-headers',
      '',
      'From: Shop <orders@shop.example>',
      'To: ann@example.org',
      'Subject: Your order',
      'Message-ID: <msg_1@shop.example>',
      'X-Mailpush-Job-Id: msg_0123456789abcdef0123456789abcdef/0',
      '',
      '--=_b1--',
      '',
    ].join(eol);
  // Neutral prose, with multi-byte characters so that a cut could split one.
  const prose = (bytes: number) => 'Le système a rencontré un problème — voir ci-dessous. '.repeat(Math.ceil(bytes / 60));

  it('finds the delivery-status part behind a first text part larger than maxScanLength, as text or bytes', () => {
    const raw = bigDsn(prose(3 * 1024 * 1024));
    expect(raw.length).toBeGreaterThan(2 * 1024 * 1024);
    for (const input of [raw, Buffer.from(raw, 'utf8'), raw.replace(/\r\n/g, '\n')]) {
      const r = parseBounce(input);
      expect(r.kind).toBe('bounce');
      expect(only(r)).toMatchObject({ address: 'ann@example.org', action: 'failed', status: '5.1.1', reason: 'userunknown', hard: true });
      expect(r.originalHeaders).toMatchObject({ messageId: '<msg_1@shop.example>', jobId: 'msg_0123456789abcdef0123456789abcdef/0' });
      expect(r.reportingMta).toBe('mx.shop.example');
    }
    // A smaller scan length skims sooner, with the same answer.
    expect(only(parseBounce(bigDsn(prose(200_000)), { maxScanLength: 64 * 1024 }))).toMatchObject({ address: 'ann@example.org', hard: true });
  });

  it('finds the report behind a huge attachment in a nested multipart, and an ARF report behind a huge text', () => {
    const attachment = Buffer.alloc(6 * 1024 * 1024, 7).toString('base64').replace(/.{76}/g, '$&\r\n');
    const report = bigDsn('Delivery failed.');
    const reportBody = report.slice(report.indexOf('\r\n\r\n') + 4);
    const nested = [
      'From: MAILER-DAEMON@mx.shop.example',
      'Subject: Undelivered Mail Returned to Sender',
      'Content-Type: multipart/mixed; boundary=outer',
      '',
      '--outer',
      'Content-Type: application/octet-stream; name=big.bin',
      'Content-Transfer-Encoding: base64',
      '',
      attachment,
      '--outer',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="=_b1"',
      '',
      reportBody,
      '--outer--',
      '',
    ].join('\r\n');
    const r = parseBounce(Buffer.from(nested));
    expect(only(r)).toMatchObject({ address: 'ann@example.org', status: '5.1.1', hard: true });

    const arf = [
      'From: fbl@isp.example',
      'Subject: Abuse report',
      'Content-Type: multipart/report; report-type=feedback-report; boundary=p',
      '',
      '--p',
      'Content-Type: text/plain',
      '',
      prose(3 * 1024 * 1024),
      '--p',
      'Content-Type: message/feedback-report',
      '',
      'Feedback-Type: abuse',
      'Version: 1',
      'Original-Rcpt-To: <vic@isp.example>',
      '',
      '--p--',
      '',
    ].join('\r\n');
    expect(parseComplaint(arf)).toMatchObject({ feedbackType: 'abuse', arf: true, originalRcptTo: 'vic@isp.example' });
  });

  it('skims a 50 MB report in bounded time', () => {
    const raw = bigDsn('x'.repeat(50 * 1024 * 1024));
    let start = performance.now();
    expect(only(parseBounce(raw))).toMatchObject({ address: 'ann@example.org', hard: true });
    expect(performance.now() - start).toBeLessThan(3000);
    // A short boundary repeated all over 60 MB, in mid-line and on lines of its own.
    const hostile = 'From: MAILER-DAEMON@x.example\nContent-Type: multipart/report; boundary=a\n\n' + '--a x\nx--a\n'.repeat(5_000_000);
    for (const input of [hostile, Buffer.from(hostile)]) {
      start = performance.now();
      expect(parseBounce(input).kind).toBe('not-bounce');
      expect(performance.now() - start).toBeLessThan(3000);
    }
  });

  it('caps maxScanLength at MAX_SCAN_LENGTH_LIMIT (16 MiB)', () => {
    expect(MAX_SCAN_LENGTH_LIMIT).toBe(16 * 1024 * 1024);
    expect(parseBounce('x', { maxScanLength: MAX_SCAN_LENGTH_LIMIT }).kind).toBe('not-bounce');
    for (const maxScanLength of [MAX_SCAN_LENGTH_LIMIT + 1, 100 * 1024 * 1024, Infinity]) {
      let caught: unknown;
      try {
        parseBounce('x', { maxScanLength });
      } catch (err) {
        caught = err;
      }
      expect(caught, String(maxScanLength)).toMatchObject({ code: MailErrorCode.CONFIG, message: expect.stringMatching(/maxScanLength.*16777216/) });
      expect(() => parseComplaint('x', { maxScanLength })).toThrow(/maxScanLength/);
    }
  });

  it('never throws on damaged copies of a real-shaped report', () => {
    // Deterministic fuzz: cut, duplicate and corrupt a fixture at many offsets.
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const base = RFC3464_MULTI;
    for (let i = 0; i < 300; i++) {
      const a = rand(base.length);
      const b = rand(base.length);
      const noise = ['\r', '\n\n', '--=_report_1', '=?UTF-8?B?', ':', '<', '\u0000', '=\n', 'Content-Type: multipart/mixed; boundary=x\n'][rand(9)]!;
      const input = base.slice(0, Math.min(a, b)) + noise + base.slice(Math.max(a, b));
      const r = parseBounce(i % 2 === 0 ? input : Buffer.from(input, 'latin1'));
      expect(['bounce', 'delay', 'autoreply', 'not-bounce']).toContain(r.kind);
      for (const x of r.recipients) expect(x.address).toMatch(/^[^\s<>@]+@[^\s<>@]+$/);
    }
  });
});
