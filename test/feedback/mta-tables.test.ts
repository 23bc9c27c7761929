import { describe, expect, it } from 'vitest';
import { provisionalReason } from '../../src/feedback/mta/provisional.js';
import { GMAIL_STATES, gmailState, powerMtaReason } from '../../src/feedback/mta/tables.js';
import { one } from './synthetic-reports.js';

// Short synthetic reports, written for these tests in the general shape of each format (not
// copies of real bounces): the per-format tables that name the refused command and the
// provisional reason (Gmail's "(state N)", PowerMTA's bounce category, Exim's delay wording).

function gmail(from: string, reply: string): string {
  return [
    `From: Mail Delivery Subsystem <${from}>`,
    'To: app@sender.example',
    'Subject: Delivery Status Notification (Failure)',
    'Return-Path: <>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain',
    '',
    'This is an automatically generated Delivery Status Notification',
    '',
    'Delivery to the following recipient failed permanently:',
    '',
    '     rcpt@dest.example',
    '',
    'Technical details of permanent failure:',
    'Google tried to deliver your message, but it was rejected by the recipient domain.',
    'The error that the other server returned was:',
    reply,
    '',
    '----- Original message -----',
    '',
    'From: app@sender.example',
    'To: rcpt@dest.example',
    'Subject: hi',
  ].join('\n');
}

describe("Gmail's (state N) table", () => {
  it('maps the states the reference lists and nothing else', () => {
    expect(gmailState('gmail', '550 550 5.1.1 <a@b.example>... no (state 14).')).toEqual({ command: 'RCPT', reason: 'userunknown' });
    expect(gmailState('gmail', '550 550 nope (state 18).')).toEqual({ command: 'DATA', reason: 'filtered' });
    expect(gmailState('gmail', '550 5.7.1 Access denied (state 13).')).toEqual({ command: 'EHLO', reason: 'blocked' });
    expect(gmailState('gmail', '500 no relay (state 12).')?.reason).toBe('norelaying');
    for (const s of ['6', '8', '9']) expect(GMAIL_STATES[s]?.reason).toBe('systemerror');
    expect(gmailState('gmail', '550 no (state 16).')).toBeUndefined();
    expect(gmailState('gmail', '550 no state here')).toBeUndefined();
    // Only Gmail's reports: another system's "(state 14)" means nothing.
    expect(gmailState('postfix', '550 no (state 14).')).toBeUndefined();
    expect(gmailState(undefined, '550 no (state 14).')).toBeUndefined();
  });

  it('a DATA-stage state makes unknown-user wording filtered, refused after DATA', () => {
    const r = one(gmail('mailer-daemon@googlemail.com', '550 550 Unknown user rcpt@dest.example (state 18).'));
    expect(r.address).toBe('rcpt@dest.example');
    expect(r.command).toBe('DATA');
    expect(r.reason).toBe('filtered');
    expect(r.hard).toBe(false);
  });

  it('state 14 is the RCPT stage: unknown user is userunknown; a more specific status still wins', () => {
    const unknown = one(gmail('mailer-daemon@googlemail.com', '550 550 Unknown user rcpt@dest.example (state 14).'));
    expect(unknown.command).toBe('RCPT');
    expect(unknown.reason).toBe('userunknown');
    expect(unknown.hard).toBe(true);
    // The state's userunknown is provisional and generic: the 5.2.2 status re-decides it.
    const full = one(gmail('mailer-daemon@googlemail.com', '550 550 5.2.2 <rcpt@dest.example>... Mailbox Full (state 14).'));
    expect(full.command).toBe('RCPT');
    expect(full.reason).toBe('mailboxfull');
  });

  it('state 13 is before the envelope: blocked', () => {
    const r = one(gmail('mailer-daemon@googlemail.com', '550 550 Access denied (state 13).'));
    expect(r.command).toBe('EHLO');
    expect(r.reason).toBe('blocked');
  });

  it('the same text from another system is not read by the table', () => {
    // Gmail's state 14 would make this RCPT/userunknown; with no command known, unknown-user
    // wording is filtered (the reference's reading of a reply with no stage).
    const r = one(gmail('mailer-daemon@mx.other.example', '550 550 Unknown user rcpt@dest.example (state 14).'));
    expect(r.command).toBeUndefined();
    expect(r.reason).toBe('filtered');
  });
});

function powerMta(category: string | undefined, diagnostic: string): string {
  const boundary = 'b-powermta-test';
  return [
    'From: postmaster@mta.sender.example',
    'To: app@sender.example',
    'Subject: Delivery report',
    'Return-Path: <>',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain',
    '',
    'Hello, this is the mail server on mta.sender.example.',
    'I am sending you this message to inform you on the delivery status of a message you previously sent.',
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mta.sender.example',
    '',
    'Action: failed',
    'Final-Recipient: rfc822;rcpt@dest.example',
    'Status: 5.0.0 (undefined status)',
    'Remote-MTA: dns; mx.dest.example',
    `Diagnostic-Code: smtp; ${diagnostic}`,
    ...(category !== undefined ? [`X-PowerMTA-BounceCategory: ${category}`] : []),
    '',
    `--${boundary}--`,
  ].join('\n');
}

describe("PowerMTA's X-PowerMTA-BounceCategory", () => {
  it('maps the categories the reference maps, case and blanks aside', () => {
    expect(powerMtaReason('bad-mailbox')).toBe('userunknown');
    expect(powerMtaReason('bad-domain')).toBe('hostunknown');
    expect(powerMtaReason(' Quota-Issues ')).toBe('mailboxfull');
    expect(powerMtaReason('spam-related')).toBe('spamdetected');
    expect(powerMtaReason('policy-related')).toBe('policyviolation');
    expect(powerMtaReason('inactive-mailbox')).toBe('suspend');
    expect(powerMtaReason('message-expired')).toBe('expired');
    expect(powerMtaReason('no-answer-from-host')).toBe('networkerror');
    expect(powerMtaReason('other')).toBeUndefined();
    expect(powerMtaReason('unknown')).toBeUndefined();
    expect(powerMtaReason(undefined)).toBeUndefined();
  });

  it("a specific category decides a reply that says nothing readable", () => {
    expect(one(powerMta('quota-issues', '552 message refused')).reason).toBe('mailboxfull');
    expect(one(powerMta('spam-related', '550 message refused')).reason).toBe('spamdetected');
    expect(one(powerMta('policy-related', '550 message refused')).reason).toBe('policyviolation');
  });

  it('without a category (or with "other") the reply decides as before', () => {
    const none = one(powerMta(undefined, '552 message refused'));
    expect(none.reason).not.toBe('mailboxfull');
    expect(one(powerMta('other', '552 message refused')).reason).toBe(none.reason);
    // A generic category (bad-mailbox: userunknown) is re-examined: the reply's own words win.
    expect(one(powerMta('bad-mailbox', '552 5.2.2 mailbox full')).reason).toBe('mailboxfull');
  });
});

describe("Exim's delay wording", () => {
  it('is the provisional expired of Exim reports only', () => {
    for (const text of [
      'rcpt@dest.example\n    retry timeout exceeded',
      'Message 1abcde-000001-XY has been frozen',
      'Message was frozen on arrival by ACL',
      'Delay reason: connection timed out',
      'all hosts have been failing for a long time and were last tried after this message arrived',
    ]) {
      expect(provisionalReason('exim', text)).toBe('expired');
      expect(provisionalReason('postfix', text)).toBeUndefined();
    }
  });

  it('a given-up Exim report with that wording is expired', () => {
    const raw = [
      'From: Mail Delivery System <Mailer-Daemon@mx.sender.example>',
      'To: app@sender.example',
      'Subject: Mail delivery failed: returning message to sender',
      'Return-Path: <>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain',
      '',
      'This message was created automatically by mail delivery software.',
      '',
      'A message that you sent could not be delivered to one or more of its',
      'recipients. This is a permanent error. The following address(es) failed:',
      '',
      '  rcpt@dest.example',
      '    retry timeout exceeded',
      '',
      '------ This is a copy of the message, including all the headers. ------',
      '',
      'From: app@sender.example',
      'To: rcpt@dest.example',
      'Subject: hi',
    ].join('\n');
    const r = one(raw);
    expect(r.address).toBe('rcpt@dest.example');
    expect(r.reason).toBe('expired');
    expect(r.hard).toBe(false);
  });
});
