import { describe, expect, it } from 'vitest';
import { parseBounce } from '../../src/feedback/dsn.js';
import { mdaReason, provisionalReason } from '../../src/feedback/mta/provisional.js';
import { statusReason } from '../../src/feedback/mta/tables.js';
import { readCommand } from '../../src/feedback/mta/text.js';
import { one, report } from './synthetic-reports.js';

// Short synthetic reports written for these tests, in the general shape of each mail system's
// format (the reference parser's per-format readers): recipients written in unusual ways, and
// the verdicts a format names in its own words or codes.

describe('recipients written in unusual ways', () => {
  it('Exchange: `Name (SMTP=addr)` names the address without its type prefix', () => {
    const r = one(
      report(
        'postmaster@corp.example',
        'Undeliverable: hello',
        [
          'Your message did not reach some or all of the intended recipients.',
          '',
          'The following recipient(s) could not be reached:',
          '',
          'Ann Lee (SMTP=ann.lee@dest.example) on 3/4/2011 10:00 AM',
          '    The e-mail account does not exist at the organization this message was sent to.',
          '    <gw.corp.example #5.1.1 smtp;550 5.1.1 mailbox unknown>',
        ].join('\n'),
      ),
    );
    expect(r.address).toBe('ann.lee@dest.example');
    expect(r.status).toBe('5.1.1');
  });

  it('a quoted local part in free text is a recipient', () => {
    const r = one(
      report(
        'MAILER-DAEMON@relay.example',
        'Undelivered Mail Returned to Sender',
        ['This is the mail system at host relay.example.', '', '<"ann lee"@dest.example>: host mx.dest.example[192.0.2.7] said: 550 5.1.1', '    no such mailbox (in reply to RCPT TO command)'].join('\n'),
      ),
    );
    expect(r.address).toBe('"ann lee"@dest.example');
    expect(r.status).toBe('5.1.1');
    expect(r.command).toBe('RCPT');
  });

  it('Sendmail: a pipe alias `(expanded from: <addr>)` reports the address it was expanded from', () => {
    const r = one(
      report(
        'Mail Delivery Subsystem <MAILER-DAEMON@relay.example>',
        'Returned mail: see transcript for details',
        [
          '   ----- The following addresses had permanent fatal errors -----',
          '"|/usr/bin/filter-program"',
          '    (reason: service unavailable)',
          '    (expanded from: <bob@dest.example>)',
          '',
          '   ----- Transcript of session follows -----',
          '554 5.0.0 "|/usr/bin/filter-program"... Service unavailable',
        ].join('\n'),
      ),
    );
    expect(r.address).toBe('bob@dest.example');
  });
});

describe('refused command tokens', () => {
  it('Yahoo: `[BODY]` after the reply is the stage after DATA', () => {
    expect(readCommand('Remote host said: 554 5.7.9 Message not accepted for policy reasons [BODY]')).toBe('DATA');
    const r = one(
      report(
        'MAILER-DAEMON@yahoo.com',
        'Failure Notice',
        ['Sorry, we were unable to deliver your message to the following address.', '', '<carl@dest.example>:', 'Remote host said: 554 5.7.9 Message not accepted for policy reasons [BODY]'].join('\n'),
      ),
    );
    expect(r.command).toBe('DATA');
  });
});

describe('verdicts a format names in its own words or codes', () => {
  it('Office 365: its status table names the reason (5.7.1 and 5.7.13x: the sender may not send here)', () => {
    expect(statusReason('office365', '5.7.1')).toBe('rejected');
    expect(statusReason('office365', '5.7.134')).toBe('rejected');
    expect(statusReason('office365', '4.7.650')).toBe('blocked');
    expect(statusReason('office365', '5.7.708')).toBe('toomanyconn');
    expect(statusReason('office365', '5.4.6')).toBe('networkerror');
    expect(statusReason('office365', '5.1.1')).toBeUndefined();
    expect(statusReason('postfix', '5.7.1')).toBeUndefined();
    const r = one(
      report(
        'Microsoft Outlook <postmaster@outlook.com>',
        'Undeliverable: hello',
        [
          'Delivery has failed to these recipients or groups:',
          '',
          'team@dest.example',
          "Your message couldn't be delivered because you weren't recognized as a valid sender.",
          '',
          'Diagnostic information for administrators:',
          '',
          'Generating server: AB1PR01MB0001.eurprd01.prod.outlook.com',
          '',
          'team@dest.example',
          "Remote Server returned '550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required'",
        ].join('\n'),
        ['X-MS-Exchange-Message-Is-Ndr:', 'X-MS-Exchange-CrossTenant-OriginalArrivalTime: 01 Mar 2021 10:00:00.0000 (UTC)'],
      ),
    );
    expect(r.status).toBe('5.7.133');
    expect(r.reason).toBe('rejected');
  });

  it("Office 365's table is not read for another system's report that quotes Microsoft's reply", () => {
    const r = one(
      report(
        'postmaster@relay.example',
        'Undelivered Mail Returned to Sender',
        [
          'This is the mail system at host relay.example.',
          '',
          '<una@dest.example>: host dest-example.mail.protection.outlook.com[192.0.2.9] said:',
          '    550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus (in reply to RCPT TO command)',
        ].join('\n'),
        ['X-Postfix-Queue-ID: 4F2A1B3C'],
      ),
    );
    expect(r.status).toBe('5.7.1');
    expect(r.reason).not.toBe('rejected');
  });

  it('Biglobe: "Mail Delivery Failed... User unknown" is its recipient filter; the mailbox limit is a full mailbox', () => {
    const body = (reason: string): string =>
      ['   ----- The following addresses had delivery problems -----', 'dan@dest.example', '', '   ----- Non-delivered information -----', reason].join('\n');
    expect(one(report('postmaster@biglobe.ne.jp', 'Returned mail: User unknown', body('Mail Delivery Failed... User unknown'))).reason).toBe('filtered');
    expect(one(report('postmaster@biglobe.ne.jp', 'Returned mail: Mailbox full', body("The number of messages in recipient's mailbox exceeded the local limit."))).reason).toBe('mailboxfull');
  });

  it('KDDI: "As the remote domain doesnt exist" and "Due to the following SMTP relay error"', () => {
    const body = (why: string): string => ['Your mail sent on: Mon, 1 Mar 2021 10:00:00 +0900', 'Could not be delivered to: <eve@dest.example>', why].join('\n');
    expect(one(report('Postmaster@dion.ne.jp', 'Mail System Error - Returned Mail', body('As the remote domain doesnt exist.'))).reason).toBe('hostunknown');
    expect(one(report('Postmaster@dion.ne.jp', 'Mail System Error - Returned Mail', body('Due to the following SMTP relay error.'))).reason).toBe('norelaying');
  });

  it('local delivery agents: their own words name the reason (mail.local, procmail, maildrop, vpopmail, vmailmgr)', () => {
    expect(mdaReason('mail.local: unknown user: fred')).toBe('userunknown');
    expect(mdaReason('procmail: Quota exceeded while writing "/var/mail/fred"')).toBe('mailboxfull');
    expect(mdaReason('procmail: No space left to finish writing "/var/mail/fred"')).toBe('systemfull');
    expect(mdaReason('maildrop: maildir over quota.')).toBe('mailboxfull');
    expect(mdaReason('vdelivermail: account is locked email bounced fred@dest.example')).toBe('suspend');
    expect(mdaReason('vdeliver: Invalid or unknown virtual user')).toBe('userunknown');
    // Only at the start of a line: a mention in prose is not the agent speaking.
    expect(mdaReason('we tried procmail: quota exceeded while writing')).toBeUndefined();
    expect(mdaReason('550 5.1.1 unknown user')).toBeUndefined();
    const r = one(
      report(
        'Mail Delivery Subsystem <MAILER-DAEMON@host.dest.example>',
        'Returned mail: see transcript for details',
        [
          '   ----- The following addresses had permanent fatal errors -----',
          '<fred@dest.example>',
          '    (reason: 554 5.3.0 unknown mailer error 75)',
          '',
          '   ----- Transcript of session follows -----',
          'mail.local: Disc quota exceeded',
          '554 5.3.0 unknown mailer error 75',
        ].join('\n'),
      ),
    );
    expect(r.address).toBe('fred@dest.example');
    expect(r.reason).toBe('mailboxfull');
  });
});

describe('Amazon SES notifications mailed by an SNS email subscription', () => {
  const mail = (body: string): string =>
    ['From: AWS Notifications <no-reply@sns.amazonaws.com>', 'To: ops@sender.example', 'Subject: AWS Notification Message', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=UTF-8', '', body].join('\n');
  const footer = '\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the link below to unsubscribe:\nhttps://sns.us-east-1.amazonaws.com/unsubscribe.html?x=1\n';

  it('reads the JSON notification in the body as a report: recipient, action, status, diagnostic', () => {
    const n = {
      notificationType: 'Bounce',
      bounce: {
        bounceType: 'Permanent',
        bounceSubType: 'General',
        bouncedRecipients: [{ emailAddress: 'gil@dest.example', action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 mailbox does not exist' }],
        reportingMTA: 'dsn; b1-2.smtp-out.us-east-1.amazonses.com',
      },
      mail: { source: 'app@sender.example', destination: ['gil@dest.example'] },
    };
    const r = parseBounce(mail(JSON.stringify(n) + footer));
    expect(r.kind).toBe('bounce');
    expect(r.mta).toBe('amazonses');
    expect(r.recipients).toHaveLength(1);
    const x = r.recipients[0]!;
    expect([x.address, x.status, x.replyCode, x.reason, x.hard]).toEqual(['gil@dest.example', '5.1.1', 550, 'userunknown', true]);
    expect(r.reportingMta).toBe('b1-2.smtp-out.us-east-1.amazonses.com');
  });

  it('reads the notification inside the SNS envelope; a subtype that names the reason is its provisional reason', () => {
    const inner = { notificationType: 'Bounce', bounce: { bounceType: 'Transient', bounceSubType: 'MailboxFull', bouncedRecipients: [{ emailAddress: 'hal@dest.example' }] }, mail: {} };
    const envelope = { Type: 'Notification', MessageId: 'm-1', TopicArn: 'arn:aws:sns:us-east-1:1:bounces', Message: JSON.stringify(inner) };
    const x = one(mail(JSON.stringify(envelope, null, 2) + footer));
    expect([x.address, x.action, x.reason, x.hard]).toEqual(['hal@dest.example', 'failed', 'mailboxfull', false]);
    // The JSON is not prose: nothing of it is taken as the diagnostic.
    expect(x.diagnosticText).toBeUndefined();
  });

  it('a delivery notification is not a bounce; malformed JSON is not a report', () => {
    const d = { notificationType: 'Delivery', delivery: { recipients: ['ivy@dest.example'], smtpResponse: '250 2.6.0 Message received' }, mail: {} };
    const r = parseBounce(mail(JSON.stringify(d)));
    expect(r.kind).toBe('not-bounce');
    expect(r.recipients[0]?.action).toBe('delivered');
    expect(parseBounce(mail('{"notificationType":"Bounce","bounce":{"bouncedRecipients":[{"emailAddress":')).kind).toBe('not-bounce');
  });
});

describe('Exchange 2000/2003 error codes', () => {
  it('names the reason by the code in parentheses after MSEXCH:IMS', () => {
    const body = (code: string): string =>
      [
        'Your message did not reach some or all of the intended recipients.',
        '',
        'The following recipient(s) could not be reached:',
        '',
        '      jan@dest.example on 4/29/2010 11:34 PM',
        '            The recipient name is not recognized',
        `            The MTS-ID of the original message is: c=US;a= ;p=Org;l=EX1-100429143445Z-1`,
        `            MSEXCH:IMS:Org:Site:EX1 0 (${code}) Unknown Recipient`,
      ].join('\n');
    expect(provisionalReason('exchange', 'MSEXCH:IMS:Org:Site:EX1 0 (000C05A6) Unknown Recipient')).toBe('userunknown');
    expect(provisionalReason('exchange', 'MSEXCH:IMS:Org:Site:EX1 0 (00010264) Message exceeds size limit')).toBe('mesgtoobig');
    const x = one(report('System Administrator <postmaster@corp.example>', 'Undeliverable: hello', body('000C0595')));
    expect(x.address).toBe('jan@dest.example');
    expect(x.reason).toBe('filtered');
  });
});

describe("each family's own wording for what it decided itself (the reference's per-format tables)", () => {
  const rows: readonly (readonly [mta: string, text: string, reason: string])[] = [
    ['exim', 'an MX or SRV record indicated no SMTP service', 'notaccept'],
    ['mailru', 'an MX or SRV record indicated no SMTP service', 'notaccept'],
    ['exim', 'all relevant MX records point to non-existent hosts', 'hostunknown'],
    ['exim', 'malformed address: <x may not follow ann@dest.example', 'syntaxerror'],
    ['exim', 'Too many "Received" headers - suspected mail loop', 'contenterror'],
    ['exim', 'delivery to pipe forbidden', 'systemerror'],
    ['qmail', 'Mailaddress is administrativly disabled. (#5.2.1)', 'suspend'],
    ['qmail', 'The message exeeded the maximum size the user accepts', 'exceedlimit'],
    ['qmail', 'Unable to contact LDAP server', 'systemerror'],
    ['courier', 'No such domain.', 'hostunknown'],
    ['courier', 'DNS lookup failed.', 'networkerror'],
    ['opensmtpd', 'No MX found for domain', 'networkerror'],
    ['opensmtpd', 'Destination seem to reject all mails', 'notaccept'],
    ['aol', 'Host or domain name not found. Name service error for name=dest.example type=A', 'hostunknown'],
    ['outlook', '550 Requested action not taken: mailbox unavailable', 'userunknown'],
    ['gmx', 'delivery retry timeout exceeded', 'expired'],
    ['gmail', 'DNS Error: Domain name not found', 'hostunknown'],
    ['facebook', '550 5.1.1 RCP-P1 The attempted recipient address does not exist', 'userunknown'],
    ['facebook', '450 4.2.1 RCP-T4 The attempted recipient address is currently deactivated', 'suspend'],
    ['facebook', '421 4.7.0 CON-T3 Too many new connections', 'toomanyconn'],
    ['gmail', 'DNS Error: Could not contact DNS servers', 'expired'],
    ['einsundeins', 'Mail size limit exceeded', 'mesgtoobig'],
    ['messagingserver', 'Illegal host/domain name found', 'hostunknown'],
  ];
  for (const [mta, text, reason] of rows) {
    it(`${mta}: "${text.slice(0, 50)}" is ${reason}`, () => {
      expect(provisionalReason(mta, text)).toBe(reason);
      // Another family's report does not read the row.
      expect(provisionalReason('sendmail', text)).toBeUndefined();
    });
  }

  it('Exim: a null MX found by its router is notaccept, not an unknown host', () => {
    const x = one(
      report(
        'Mail Delivery System <Mailer-Daemon@relay.example>',
        'Mail delivery failed: returning message to sender',
        [
          'This message was created automatically by mail delivery software.',
          '',
          'A message that you sent could not be delivered to one or more of its',
          'recipients. This is a permanent error. The following address(es) failed:',
          '',
          '  kim@nullmx.example',
          '    an MX or SRV record indicated no SMTP service',
        ].join('\n'),
      ),
    );
    expect([x.address, x.reason, x.hard]).toEqual(['kim@nullmx.example', 'notaccept', true]);
  });

  it('qmail-ldap: an administratively disabled address is suspended, not filtered by its 5.2.1', () => {
    const x = one(
      report(
        'MAILER-DAEMON@mx.dest.example',
        'failure notice',
        [
          'Hi. This is the qmail-send program at mx.dest.example.',
          "I'm afraid I wasn't able to deliver your message to the following addresses.",
          "This is a permanent error; I've given up. Sorry it didn't work out.",
          '',
          '<lee@dest.example>:',
          'Mailaddress is administrativly disabled. (#5.2.1)',
        ].join('\n'),
      ),
    );
    expect([x.address, x.status, x.reason]).toEqual(['lee@dest.example', '5.2.1', 'suspend']);
  });
});

describe('a recipient named only in the Subject', () => {
  it('Domino-like: the body names the user without a domain, the Subject gives the address', () => {
    const x = one(
      report(
        'Postmaster@gw.corp.example',
        'DELIVERY FAILURE: User mia (mia@corp.example) not listed in Domino Directory',
        ['Your message', '', '  Subject: hello', '', 'was not delivered to:', '', '  mia', '', 'because:', '', '  User mia not listed in Domino Directory'].join('\n'),
      ),
    );
    expect([x.address, x.reason]).toEqual(['mia@corp.example', 'userunknown']);
  });

  it('not when the Subject names several addresses, nor for a mail that is not a report', () => {
    const several = parseBounce(report('Postmaster@gw.corp.example', 'Undeliverable: nia@corp.example, oli@corp.example', 'Your message could not be delivered.'));
    expect(several.recipients).toHaveLength(0);
    const chat = parseBounce(['From: pat@friend.example', 'To: app@sender.example', 'Subject: lunch with quinn@corp.example?', '', 'See you at noon.'].join('\n'));
    expect(chat.kind).toBe('not-bounce');
  });
});

describe('OpenSMTPD: the status comes from its text, as the reference reads its reports', () => {
  const mail = (line: string, status: string): string =>
    [
      'From: Mailer Daemon <MAILER-DAEMON@relay.example>',
      'To: app@sender.example',
      'Subject: Delivery status notification: delayed',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      '    This is the MAILER-DAEMON, please DO NOT REPLY to this email.',
      '',
      line,
      '',
      '--b1',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; relay.example',
      '',
      'Final-Recipient: rfc822; ron@dest.example',
      'Action: delayed',
      `Status: ${status}`,
      '',
      '--b1--',
      '',
    ].join('\n');

  it("ignores the Status field of its queue's own verdict", () => {
    const x = parseBounce(mail('ron@dest.example: Envelope expired', '4.4.7')).recipients[0]!;
    expect([x.address, x.status, x.reason]).toEqual(['ron@dest.example', undefined, 'expired']);
  });

  it('keeps the code the remote server gave in the text', () => {
    const x = parseBounce(mail('ron@dest.example: 552 5.2.2 Mailbox full', '5.0.0')).recipients[0]!;
    expect([x.status, x.replyCode, x.reason]).toEqual(['5.2.2', 552, 'mailboxfull']);
  });
});

describe("Dovecot's rejection mail", () => {
  it('"Your message to <addr> was automatically rejected:" is a bounce; its reason line names the reason', () => {
    const mail = (why: string): string => report('Mail Delivery Subsystem <MAILER-DAEMON@mx.dest.example>', 'Rejected: hello', `Your message to <sam@dest.example> was automatically rejected:\n${why}\n`);
    const full = one(mail('Quota exceeded (mailbox for user is full)'));
    expect([full.address, full.reason]).toEqual(['sam@dest.example', 'mailboxfull']);
    expect(one(mail("Mailbox doesn't exist: sam")).reason).toBe('userunknown');
  });
});

describe('Google Workspace, Verizon and au reports', () => {
  const gsuite = (address: string, domain: string, dsn: string): string =>
    [
      'From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>',
      'To: app@sender.example',
      'Subject: Delivery Status Notification (Failure)',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="g1"',
      '',
      '--g1',
      'Content-Type: text/plain; charset=UTF-8',
      '',
      '** Address not found **',
      '',
      `Your message wasn't delivered to ${address} because the domain ${domain} couldn't be found. Check for typos or unnecessary spaces and try again.`,
      '',
      '--g1',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; googlemail.com',
      '',
      `Final-Recipient: rfc822; ${address}`,
      'Action: failed',
      'Status: 4.0.0',
      `Diagnostic-Code: smtp; ${dsn}`,
      '',
      '--g1--',
      '',
    ].join('\n');

  it("Google Workspace: its DNS lookup wording ('responded with code NXDOMAIN') is its provisional networkerror", () => {
    const r = parseBounce(gsuite('val@nxdomain.example', 'nxdomain.example', "DNS Error: 4413 DNS type 'mx' lookup of nxdomain.example responded with code NXDOMAIN"));
    expect(r.mta).toBe('gsuite');
    expect(provisionalReason('gsuite', "DNS type 'mx' lookup of nxdomain.example responded with code NXDOMAIN")).toBe('networkerror');
    expect(provisionalReason('gsuite', 'The domain nullmx.example has a Null MX record')).toBe('notaccept');
  });

  it('Verizon: "No valid recipients for this MM" is an unknown recipient', () => {
    expect(provisionalReason('verizon', 'Error: No valid recipients for this MM')).toBe('userunknown');
  });

  it("au: a report marked by the recipient's spam filter (X-SPASIGN: NG) is filtered", () => {
    const x = one(report('Postmaster@ezweb.ne.jp', 'Mail System Error - Returned Mail', ['Your mail was not delivered to the following address.', '', '<wan@ezweb.ne.jp>'].join('\n'), ['X-SPASIGN: NG']));
    expect([x.address, x.reason]).toEqual(['wan@ezweb.ne.jp', 'filtered']);
  });
});
