import { describe, expect, it } from 'vitest';
import { parseBounce } from '../../src/feedback/dsn.js';
import { findReplyCode, findStatus, preferStatus, readCommand, readReply } from '../../src/feedback/mta/text.js';
import { provisionalReason } from '../../src/feedback/mta/provisional.js';
import { one, report } from './synthetic-reports.js';

// Short synthetic reports, written for these tests in the general shape each mail system uses
// (not copies of real bounces): what the parser extracts per recipient (address, status, reply
// code, refused command, provisional reason).

const RETURNED = ['', '--- Original message follows.', '', 'From: app@sender.example', 'To: someone@dest.example', 'Subject: hi', '', 'hello'].join('\n');

describe('status in text (the reference Step 1)', () => {
  it('masks IPv4 addresses, prefers class 5 then 4, and keeps X.0.0 and 4.4.7 as last resorts', () => {
    expect(findStatus('host 192.0.2.1 said: no')).toBeUndefined();
    expect(findStatus('deferred 4.2.1 then refused 5.7.1')).toBe('5.7.1');
    expect(findStatus('5.0.0 rejected: 5.1.1 no such user')).toBe('5.1.1');
    expect(findStatus('4.4.7 gave up; 4.4.1 no answer')).toBe('4.4.1');
    expect(findStatus('status 5.0.0 only')).toBe('5.0.0');
    expect(findStatus('server v5.1.1 says 5.2.2 full')).toBe('5.2.2');
  });

  it('looks only in the reply code class when there is one', () => {
    expect(findStatus('452 4.2.2 full (was 5.1.1 before)', 452)).toBe('4.2.2');
    expect(findStatus('550 only 4.7.1 here', 550)).toBeUndefined();
  });

  it('prefers the field or the text code as the reference does', () => {
    // The reply's class decides when field and text disagree on the class.
    expect(preferStatus('5.0.0', '4.2.2', 452)).toBe('4.2.2');
    expect(preferStatus('4.4.1', '5.1.1', 452)).toBe('4.4.1');
    // A generic field yields to a specific text code.
    expect(preferStatus('5.0.0', '5.1.1', 550)).toBe('5.1.1');
    expect(preferStatus('5.1.0', '5.1.1', 550)).toBe('5.1.1');
    expect(preferStatus('5.0.3', '5.2.2', 550)).toBe('5.2.2');
    expect(preferStatus('4.4.7', '4.2.2', undefined)).toBe('4.2.2');
    expect(preferStatus('5.3.0', '5.7.1', undefined)).toBe('5.7.1');
    // A text X.0.0 yields to the field.
    expect(preferStatus('5.2.2', '5.0.0', 550)).toBe('5.2.2');
    // 5.1.1 yields to a text code without .0; 5.1.3 to a text 5.7.x.
    expect(preferStatus('5.1.1', '5.7.1', 550)).toBe('5.7.1');
    expect(preferStatus('5.1.1', '5.2.0', 550)).toBe('5.1.1');
    expect(preferStatus('5.1.3', '5.7.1', 550)).toBe('5.7.1');
    expect(preferStatus('5.1.3', '5.2.2', 550)).toBe('5.1.3');
    // Other specific fields stay.
    expect(preferStatus('5.2.2', '5.1.1', 550)).toBe('5.2.2');
    expect(preferStatus(undefined, '5.1.1', undefined)).toBe('5.1.1');
    expect(preferStatus('5.1.1', undefined, 550)).toBe('5.1.1');
  });

  it('takes the RFC 3464 text code over a generic Status field in a report', () => {
    const raw = [
      'From: MAILER-DAEMON@mx.sender.example',
      'To: app@sender.example',
      'Subject: Delivery Status Notification (Failure)',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain',
      '',
      'Delivery failed.',
      '--b',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.sender.example',
      '',
      'Final-Recipient: rfc822; ann@dest.example',
      'Action: failed',
      'Status: 5.1.1',
      'Diagnostic-Code: smtp; 550 5.7.1 Service unavailable, client host blocked',
      '',
      '--b--',
      '',
    ].join('\n');
    const r = one(raw);
    expect(r.status).toBe('5.7.1');
    expect(r.replyCode).toBe(550);
  });
});

describe('reply codes', () => {
  it('reads a code and status split by a wrapped line or written with a colon', () => {
    expect(readReply('said: 554\n    5.7.1 Service unavailable')).toMatchObject({ code: 554, status: '5.7.1' });
    expect(readReply('550: 5.1.1 <a@b.example>... User Unknown')).toMatchObject({ code: 550, status: '5.1.1' });
  });

  it('finds a code quoted in other ways, never inside a number, a version or a path', () => {
    expect(findReplyCode('Invalid Address, ERROR_CODE :550, user unknown')).toBe(550);
    expect(findReplyCode('[Status: Error, ResponseCode 421, Host not reachable]')).toBe(421);
    expect(findReplyCode('queue id 15501 on smtp550.example.net, /var/550/x')).toBeUndefined();
    expect(findReplyCode('host 192.0.2.550 failed')).toBeUndefined();
    expect(findReplyCode('[2001:db8:550::1]:25: socket error')).toBeUndefined();
    // Within the status class only.
    expect(findReplyCode('550 then 452', '4.2.2')).toBe(452);
  });

  it('does not report a code that only a success or a transcript of 2xx gives', () => {
    expect(readReply('250 2.1.0 Ok').code).toBeUndefined();
  });
});

describe('refused SMTP command, by family wording', () => {
  const cases: readonly (readonly [string, string])[] = [
    ['host mx.dest.example[192.0.2.5] said: 550 No such user (in reply to RCPT TO command)', 'RCPT'],
    ['host mx.dest.example[192.0.2.5] said: 550 rejected (in reply to end of DATA command)', 'DATA'],
    ['host mx.dest.example[192.0.2.5] said: 553 sender unknown (in reply to MAIL FROM command)', 'MAIL'],
    ['host mx.dest.example[192.0.2.5] refused to talk to me: 554 go away', 'CONNECT'],
    ['conversation with mx.dest.example[192.0.2.5] timed out while receiving the initial server greeting', 'CONNECT'],
    ['lost connection with mx.dest.example[192.0.2.5] while sending RCPT TO', 'RCPT'],
    ['SMTP error from remote mail server after pipelined RCPT TO:<a@dest.example>: 550 unknown', 'RCPT'],
    ['SMTP error from remote mail server after pipelined MAIL FROM:<app@sender.example> SIZE=1000: 550 no', 'MAIL'],
    ['SMTP error from remote mail server after end of data: 550 rejected', 'DATA'],
    ['SMTP error from remote mail server after initial connection: 554 blocked', 'CONNECT'],
    ['192.0.2.5 failed after I sent the message.\nRemote host said: 554 rejected', 'DATA'],
    ['192.0.2.5 failed on DATA command.\nRemote host said: 554 no', 'DATA'],
    ["Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)", 'CONNECT'],
    ['Connected to 192.0.2.5 but my name was rejected.\nRemote host said: 550 go away', 'HELO'],
    ['Connected to 192.0.2.5 but sender was rejected.\nRemote host said: 553 no', 'MAIL'],
    ['192.0.2.5 does not like recipient.\nRemote host said: 550 no mailbox', 'RCPT'],
    ['SMTP error from remote server after RCPT command:\nhost: mx.dest.example\n550 unknown', 'RCPT'],
    ['SMTP error from remote server for TEXT command, host: mx.dest.example reason: 550 spam', 'DATA'],
    ['SMTP error from remote server for MAIL FROM command, host: mx.dest.example reason: 550 no', 'MAIL'],
    ['Remote host said: 550 5.1.1 unknown [RCPT_TO]', 'RCPT'],
    ['... while talking to mx.dest.example.:\n>>> DATA\n<<< 554 5.7.1 rejected', 'DATA'],
    ['Sent <<< RCPT TO:<a@dest.example>\nReceived >>> 550 5.1.1 user unknown', 'RCPT'],
    ['SMTP error from remote mail server after STARTTLS: 454 TLS not available', 'STARTTLS'],
  ];
  for (const [text, command] of cases) {
    it(`${command}: ${text.split('\n')[0]!.slice(0, 60)}`, () => {
      expect(readCommand(text)).toBe(command);
    });
  }

  it('names no command for plain prose', () => {
    expect(readCommand('The mailbox is full.')).toBeUndefined();
  });
});

describe('non-standard reports, per family format', () => {
  it('Postfix: a reply wrapped over lines, refused at RCPT', () => {
    const r = one(
      report(
        'MAILER-DAEMON@mx.sender.example (Mail Delivery System)',
        'Undelivered Mail Returned to Sender',
        [
          'This is the mail system at host mx.sender.example.',
          '',
          "I'm sorry to have to inform you that your message could not",
          'be delivered to one or more recipients.',
          '',
          '<ann@dest.example>: host mx.dest.example[192.0.2.5] said: 550',
          '    5.1.1 <ann@dest.example>: Recipient address rejected: no such mailbox',
          '    (in reply to RCPT TO command)',
        ].join('\n'),
      ),
    );
    expect(r).toMatchObject({ address: 'ann@dest.example', status: '5.1.1', replyCode: 550, command: 'RCPT', reason: 'userunknown', hard: true });
  });

  it('qmail: an unknown user refused after the message was sent is the recipient filter', () => {
    const r = one(
      report(
        'MAILER-DAEMON@mx.sender.example',
        'failure notice',
        [
          'Hi. This is the qmail-send program at mx.sender.example.',
          "I'm afraid I wasn't able to deliver your message to the following addresses.",
          "This is a permanent error; I've given up. Sorry it didn't work out.",
          '',
          '<bob@dest.example>:',
          '192.0.2.5 failed after I sent the message.',
          'Remote host said: 550 No such user here',
        ].join('\n') + RETURNED,
      ),
    );
    expect(r).toMatchObject({ address: 'bob@dest.example', replyCode: 550, command: 'DATA', reason: 'filtered', hard: false });
  });

  it('1&1 / GMX: "for TEXT command" is DATA', () => {
    const r = one(
      report(
        '"Mail Delivery System" <mailer-daemon@mail.sender.example>',
        'Mail delivery failed: returning message to sender',
        [
          'This message was created automatically by mail delivery software.',
          '',
          'A message that you sent could not be delivered to one or more of',
          'its recipients. This is a permanent error. The following address',
          'failed:',
          '',
          'cid@dest.example:',
          'SMTP error from remote server for TEXT command, host: mx.dest.example (192.0.2.5) reason: 550 5.7.1 message refused',
        ].join('\n') + RETURNED,
      ),
    );
    expect(r).toMatchObject({ address: 'cid@dest.example', status: '5.7.1', replyCode: 550, command: 'DATA' });
  });

  it('InterScan MSS: its own "Unable to deliver message to" verdict is an unknown recipient', () => {
    const r = one(
      report(
        'MAILER-DAEMON@gw.sender.example',
        'Mail could not be delivered',
        [
          '****** Message from InterScan Messaging Security Suite ******',
          '',
          'The following mail could not be delivered.',
          'Reason:  Unable to deliver message to <dee@dest.example> (and other recipients in the same domain).',
        ].join('\n') + RETURNED,
      ),
    );
    expect(r).toMatchObject({ address: 'dee@dest.example', reason: 'userunknown', hard: true });
    expect(r.decidedBy?.rule).toBe('first-pass/provisional');
  });

  it('Exchange: the component token names the reason (RESOLVER.ADR.RecipNotFound)', () => {
    const r = one(
      report(
        'postmaster@mail.sender.example',
        'Undeliverable: hi',
        [
          'Delivery has failed to these recipients or groups:',
          '',
          'eve@dest.example',
          "The e-mail address you entered couldn't be found.",
          '',
          'Diagnostic information for administrators:',
          '',
          'Generating server: mail.sender.example',
          '',
          'eve@dest.example',
          '#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##',
        ].join('\n') + RETURNED,
      ),
    );
    expect(r).toMatchObject({ address: 'eve@dest.example', status: '5.1.1', replyCode: 550, reason: 'userunknown' });
  });

  it('fml: a mailing list loop alert is a bounce for the list address, never for the admin sender', () => {
    const raw = [
      'From: list-admin@lists.dest.example',
      'To: list-admin@lists.dest.example',
      'Subject: Loop Alert: Duplicated Message-ID (cats ML)',
      'X-MLServer: fml [fml 4.0.3 release]',
      'MIME-Version: 1.0',
      'Content-Type: text/plain',
      '',
      'Duplicated Message-ID in <cats@lists.dest.example>.',
      '',
      'Original mail as follows:',
      '',
      '   From: app@sender.example',
      '   To: <someone@other.example>',
      '   Received: from x by y',
      '   \tfor <someone@other.example>; Mon, 7 Dec 2026 10:00:00 +0000',
      '',
    ].join('\n');
    const r = one(raw);
    expect(r).toMatchObject({ address: 'cats@lists.dest.example', reason: 'systemerror', hard: false });
  });

  it('an ordinary list mail with X-MLServer is not a bounce', () => {
    const raw = ['From: ann@dest.example', 'To: cats@lists.dest.example', 'Subject: lunch?', 'X-MLServer: fml [fml 4.0.3 release]', '', 'Shall we?'].join('\n');
    expect(parseBounce(raw).kind).toBe('not-bounce');
  });
});

describe('RFC 3464 reports with a session transcript', () => {
  it('Sendmail: the transcript names the refused command even where it does not repeat the address', () => {
    const raw = [
      'From: Mail Delivery Subsystem <MAILER-DAEMON@mx.sender.example>',
      'To: app@sender.example',
      'Subject: Returned mail: see transcript for details',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain',
      '',
      '   ----- The following addresses had permanent fatal errors -----',
      '<ivy@dest.example>',
      '    (reason: 550 Requested action not taken)',
      '',
      '   ----- Transcript of session follows -----',
      '... while talking to mx.dest.example.:',
      '>>> DATA',
      '<<< 550 No such user here',
      '554 5.0.0 Service unavailable',
      '',
      '--b',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.sender.example',
      '',
      'Final-Recipient: RFC822; ivy@dest.example',
      'Action: failed',
      'Status: 5.0.0',
      'Diagnostic-Code: SMTP; 550 No such user here',
      '',
      '--b--',
      '',
    ].join('\n');
    const r = one(raw);
    expect(r).toMatchObject({ address: 'ivy@dest.example', status: '5.0.0', replyCode: 550, command: 'DATA', reason: 'filtered', hard: false });
  });
});

describe('Amazon SES receiving', () => {
  it('is told by its inbound Reporting-MTA; its "Mailbox does not exist" is its recipient filter', () => {
    const raw = [
      'From: postmaster@dest.example',
      'To: app@sender.example',
      'Subject: Delivery Status Notification (Failure)',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain',
      '',
      'This message could not be delivered.',
      '--b',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; inbound-smtp.eu-west-1.amazonaws.com',
      '',
      'Action: failed',
      'Final-Recipient: rfc822; jan@dest.example',
      'Diagnostic-Code: smtp; 550 5.1.1 Mailbox does not exist',
      'Status: 5.1.1',
      '',
      '--b--',
      '',
    ].join('\n');
    const result = parseBounce(raw);
    expect(result.mta).toBe('receivingses');
    expect(result.recipients[0]).toMatchObject({ address: 'jan@dest.example', status: '5.1.1', reason: 'filtered', hard: false });
  });
});

describe('provisional reasons of report formats', () => {
  it('reads only the rows of the family that wrote the report', () => {
    expect(provisionalReason('mcafee', '550 ann@dest.example... No such user')).toBe('userunknown');
    expect(provisionalReason('postfix', '550 ann@dest.example... No such user')).toBeUndefined();
    expect(provisionalReason(undefined, '554 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain')).toBe('hostunknown');
    expect(provisionalReason('imailserver', 'Delivery failed 20 attempts: ann@dest.example')).toBe('expired');
    expect(provisionalReason('domino', 'User Ann (ann@dest.example) not listed in Domino Directory')).toBe('userunknown');
    expect(provisionalReason('fml', 'NOT MEMBER article from ann@dest.example')).toBe('rejected');
    expect(provisionalReason('exchange', '')).toBeUndefined();
    expect(provisionalReason('receivingses', '552 5.3.4 Message too large')).toBe('mesgtoobig');
  });
});
