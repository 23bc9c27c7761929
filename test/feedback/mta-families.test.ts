import { describe, expect, it } from 'vitest';
import { parseBounce } from '../../src/feedback/dsn.js';
import { readCommand } from '../../src/feedback/mta/text.js';

// One short synthetic report per mail-system family and per RFC 3464 oddity, written for this
// test in the general shape each system uses (not copies of real bounces): the parser must find
// every recipient, its enhanced status, the remote reply code and the refused SMTP command.
// `s`, `c` or `cmd` null: the report states none, so none may be reported.

interface Want {
  readonly a: string;
  readonly s?: string | null;
  readonly c?: number | null;
  readonly cmd?: string | null;
}
interface Case {
  readonly name: string;
  readonly raw: string;
  readonly want: readonly Want[];
  readonly kind?: string;
}

const R = '\n';
const ORIG = ['From: App <app@sender.example>', 'To: someone@dest.example', 'Subject: hello', 'Message-ID: <m1@sender.example>', '', 'hi'].join(R);

/** A plain-text report. */
function plain(from: string, subject: string, body: string, extra: readonly string[] = []): string {
  return [`From: ${from}`, 'To: app@sender.example', `Subject: ${subject}`, 'Date: Mon, 7 Dec 2026 10:00:00 +0000', ...extra, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=us-ascii', '', body].join(R);
}

/** A multipart/report: human text, delivery-status fields, returned message. */
function dsn(from: string, subject: string, text: string, status: string, returned = ORIG, extra: readonly string[] = []): string {
  return [
    `From: ${from}`,
    'To: app@sender.example',
    `Subject: ${subject}`,
    ...extra,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="BB"',
    '',
    '--BB',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    text,
    '',
    '--BB',
    'Content-Type: message/delivery-status',
    '',
    status,
    '',
    '--BB',
    'Content-Type: message/rfc822',
    '',
    returned,
    '--BB--',
    '',
  ].join(R);
}

function check(c: Case): void {
  const r = parseBounce(c.raw);
  expect(r.kind).toBe(c.kind ?? 'bounce');
  expect(r.recipients.map((x) => x.address)).toEqual(c.want.map((w) => w.a));
  for (const w of c.want) {
    const got = r.recipients.find((x) => x.address === w.a)!;
    if (w.s !== undefined) expect(got.status ?? null, `${w.a} status`).toBe(w.s);
    if (w.c !== undefined) expect(got.replyCode ?? null, `${w.a} reply code`).toBe(w.c);
    if (w.cmd !== undefined) expect(got.command ?? null, `${w.a} command`).toBe(w.cmd);
  }
}

const families: Case[] = [];
const fixes: Case[] = [];
const add = (name: string, raw: string, want: readonly Want[], kind?: string): void => void families.push({ name, raw, want, ...(kind !== undefined ? { kind } : {}) });
const fix = (name: string, raw: string, want: readonly Want[], kind?: string): void => void fixes.push({ name, raw, want, ...(kind !== undefined ? { kind } : {}) });

// ---- Postfix
add('postfix dsn folded diag', dsn('MAILER-DAEMON@mx.sender.example (Mail Delivery System)', 'Undelivered Mail Returned to Sender',
  'This is the mail system at host mx.sender.example.\n\n<ann@dest.example>: host mx.dest.example[192.0.2.5] said: 550 5.1.1\n    <ann@dest.example>: Recipient address rejected: User unknown (in reply to\n    RCPT TO command)',
  'Reporting-MTA: dns; mx.sender.example\nX-Postfix-Queue-ID: 4ABC\nArrival-Date: Mon, 7 Dec 2026 10:00:00 +0000\n\nFinal-Recipient: rfc822; ann@dest.example\nOriginal-Recipient: rfc822;ann@dest.example\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.dest.example\nDiagnostic-Code: smtp; 550 5.1.1 <ann@dest.example>: Recipient address\n    rejected: User unknown'),
  [{ a: 'ann@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
add('postfix old, no dsn', plain('MAILER-DAEMON@mx.sender.example (Mail Delivery System)', 'Undelivered Mail Returned to Sender',
  'This is the Postfix program at host mx.sender.example.\n\nI\'m sorry to have to inform you that the message returned\nbelow could not be delivered to one or more destinations.\n\nFor further assistance, please contact <postmaster@mx.sender.example>\n\n\t\t\tThe Postfix program\n\n<bob@dest.example>: host mx.dest.example[192.0.2.5] said: 552 5.2.2 Mailbox\n    full (in reply to end of DATA command)\n\n--- Returned message follows ---\n' + ORIG),
  [{ a: 'bob@dest.example', s: '5.2.2', c: 552, cmd: 'DATA' }]);
add('postfix local unknown user + expanded from', dsn('MAILER-DAEMON@mx.sender.example (Mail Delivery System)', 'Undelivered Mail Returned to Sender',
  'This is the mail system at host mx.sender.example.\n\n<bob@mx.sender.example> (expanded from <info@sender.example>): unknown user:\n    "bob"',
  'Reporting-MTA: dns; mx.sender.example\n\nFinal-Recipient: rfc822; bob@mx.sender.example\nOriginal-Recipient: rfc822; info@sender.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: X-Postfix; unknown user: "bob"'),
  [{ a: 'bob@mx.sender.example', s: '5.1.1' }]);
add('postfix delayed', dsn('MAILER-DAEMON@mx.sender.example (Mail Delivery System)', 'Delayed Mail (still being retried)',
  'This is the mail system at host mx.sender.example.\n\n####################################################################\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n####################################################################\n\nYour message could not be delivered for more than 4 hour(s).\nIt will be retried until it is 5 day(s) old.\n\n<cy@dest.example>: connect to mx.dest.example[192.0.2.5]:25: Connection timed\n    out',
  'Reporting-MTA: dns; mx.sender.example\n\nFinal-Recipient: rfc822; cy@dest.example\nAction: delayed\nStatus: 4.4.1\nDiagnostic-Code: X-Postfix; connect to mx.dest.example[192.0.2.5]:25:\n    Connection timed out\nWill-Retry-Until: Sat, 12 Dec 2026 10:00:00 +0000'),
  [{ a: 'cy@dest.example', s: '4.4.1' }], 'delay');
add('postfix 2 rcpts, different errors', dsn('MAILER-DAEMON@mx.sender.example (Mail Delivery System)', 'Undelivered Mail Returned to Sender',
  'This is the mail system at host mx.sender.example.\n\n<a1@dest.example>: host mx.dest.example[192.0.2.5] said: 550 5.1.1 No such\n    user (in reply to RCPT TO command)\n\n<a2@other.example>: host mx.other.example[192.0.2.6] said: 552 5.2.2 Quota\n    exceeded (in reply to RCPT TO command)',
  'Reporting-MTA: dns; mx.sender.example\n\nFinal-Recipient: rfc822; a1@dest.example\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.dest.example\nDiagnostic-Code: smtp; 550 5.1.1 No such user\n\nFinal-Recipient: rfc822; a2@other.example\nAction: failed\nStatus: 5.2.2\nRemote-MTA: dns; mx.other.example\nDiagnostic-Code: smtp; 552 5.2.2 Quota exceeded'),
  [{ a: 'a1@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }, { a: 'a2@other.example', s: '5.2.2', c: 552, cmd: 'RCPT' }]);
// ---- DSN oddities
add('dsn: only Original-Recipient', dsn('MAILER-DAEMON@relay.example', 'Delivery Status Notification (Failure)', 'Delivery failed.',
  'Reporting-MTA: dns; relay.example\n\nOriginal-Recipient: rfc822;orig@dest.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 user unknown'),
  [{ a: 'orig@dest.example', s: '5.1.1', c: 550 }]);
add('dsn: x400 Final-Recipient + X-Actual', dsn('MAILER-DAEMON@relay.example', 'Delivery Status Notification (Failure)', 'Delivery failed.',
  'Reporting-MTA: dns; relay.example\n\nFinal-Recipient: x400; /C=US/O=Corp/S=Lee/G=Ann/\nX-Actual-Recipient: rfc822; ann.lee@dest.example\nAction: failed\nStatus: 5.1.1'),
  [{ a: 'ann.lee@dest.example', s: '5.1.1' }]);
add('dsn: bracketed, no blank between rcpts, CR-less', dsn('MAILER-DAEMON@relay.example', 'Returned mail', 'Delivery failed.',
  'Reporting-MTA: dns; relay.example\nFinal-Recipient: rfc822;<p1@dest.example>\nAction: failed\nStatus: 5.1.1\nFinal-Recipient: RFC822; <P2@Dest.Example>\nAction: failed\nStatus: 5.2.2 (mailbox full)\nDiagnostic-Code: SMTP; 552-5.2.2 quota\n 552 5.2.2 exceeded'),
  [{ a: 'p1@dest.example', s: '5.1.1' }, { a: 'P2@dest.example', s: '5.2.2', c: 552 }]);
add('dsn as text/plain part', ['From: MAILER-DAEMON@relay.example', 'To: app@sender.example', 'Subject: Delivery failure', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="X"', '', '--X', 'Content-Type: text/plain', '', 'Your mail could not be delivered.', '', '--X', 'Content-Type: text/plain', '', 'Reporting-MTA: dns; relay.example', '', 'Final-Recipient: rfc822; t1@dest.example', 'Action: failed', 'Status: 5.7.1', 'Diagnostic-Code: smtp; 550 5.7.1 rejected by policy', '', '--X--'].join(R),
  [{ a: 't1@dest.example', s: '5.7.1', c: 550 }]);
add('dsn status without code in field, code in diag', dsn('MAILER-DAEMON@relay.example', 'Undeliverable', 'failed.',
  'Reporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; q1@dest.example\nAction: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp; 550 5.1.1 <q1@dest.example>... User unknown'),
  [{ a: 'q1@dest.example', s: '5.1.1', c: 550 }]);
add('dsn global delivery-status utf8', dsn('MAILER-DAEMON@relay.example', 'Undeliverable', 'failed.',
  'Reporting-MTA: dns; relay.example\n\nFinal-Recipient: utf-8; 用户@dest.example\nAction: failed\nStatus: 5.1.1').replace('message/delivery-status', 'message/global-delivery-status'),
  [{ a: '用户@dest.example', s: '5.1.1' }]);
// ---- Sendmail
add('sendmail dsn transcript DATA', dsn('Mail Delivery Subsystem <MAILER-DAEMON@mx.sender.example>', 'Returned mail: see transcript for details',
  'The original message was received at Mon, 7 Dec 2026 10:00:00 +0000\nfrom localhost [127.0.0.1]\n\n   ----- The following addresses had permanent fatal errors -----\n<dan@dest.example>\n    (reason: 554 5.7.1 Message rejected as spam)\n\n   ----- Transcript of session follows -----\n... while talking to mx.dest.example.:\n>>> DATA\n<<< 554 5.7.1 Message rejected as spam\n554 5.0.0 Service unavailable',
  'Reporting-MTA: dns; mx.sender.example\nReceived-From-MTA: DNS; localhost\nArrival-Date: Mon, 7 Dec 2026 10:00:00 +0000\n\nFinal-Recipient: RFC822; dan@dest.example\nAction: failed\nStatus: 5.7.1\nRemote-MTA: DNS; mx.dest.example\nDiagnostic-Code: SMTP; 554 5.7.1 Message rejected as spam\nLast-Attempt-Date: Mon, 7 Dec 2026 10:00:01 +0000'),
  [{ a: 'dan@dest.example', s: '5.7.1', c: 554, cmd: 'DATA' }]);
add('sendmail no dsn', plain('Mail Delivery Subsystem <MAILER-DAEMON@mx.sender.example>', 'Returned mail: User unknown',
  'The original message was received at Mon, 7 Dec 2026 10:00:00 +0000\nfrom localhost [127.0.0.1]\n\n   ----- Transcript of session follows -----\n... while talking to mx.dest.example.:\n>>> RCPT To:<eve@dest.example>\n<<< 550 5.1.1 <eve@dest.example>... User unknown\n550 5.1.1 <eve@dest.example>... User unknown\n\n   ----- Original message follows -----\n' + ORIG),
  [{ a: 'eve@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
// ---- Exim
add('exim classic 2 rcpts', plain('Mail Delivery System <Mailer-Daemon@mx.sender.example>', 'Mail delivery failed: returning message to sender',
  'This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  gil@dest.example\n    SMTP error from remote mail server after RCPT TO:<gil@dest.example>:\n    host mx.dest.example [192.0.2.5]: 550 5.1.1 <gil@dest.example>: Recipient address rejected: User unknown\n  hal@nowhere.example\n    Unrouteable address\n\n------ This is a copy of the message, including all the headers. ------\n\n' + ORIG, ['X-Failed-Recipients: gil@dest.example, hal@nowhere.example']),
  [{ a: 'gil@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }, { a: 'hal@nowhere.example', s: null }]);
add('exim after end of data + pipelined', plain('Mail Delivery System <Mailer-Daemon@mx.sender.example>', 'Mail delivery failed: returning message to sender',
  'This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  ivy@dest.example\n    host mx.dest.example [192.0.2.5]\n    SMTP error from remote mail server after end of data:\n    550-5.7.1 Our system has detected that this message is\n    550 5.7.1 likely unsolicited mail.\n\n------ This is a copy of the message, including all the headers. ------\n\n' + ORIG, ['X-Failed-Recipients: ivy@dest.example']),
  [{ a: 'ivy@dest.example', s: '5.7.1', c: 550, cmd: 'DATA' }]);
add('exim with dsn (4.9x)', dsn('Mail Delivery System <Mailer-Daemon@mx.sender.example>', 'Mail delivery failed: returning message to sender',
  'This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  jo@dest.example\n    host mx.dest.example [192.0.2.5]\n    SMTP error from remote mail server after RCPT TO:<jo@dest.example>:\n    550 5.1.1 user unknown',
  'Reporting-MTA: dns; mx.sender.example\n\nAction: failed\nFinal-Recipient: rfc822;jo@dest.example\nStatus: 5.0.0\nRemote-MTA: dns; mx.dest.example\nDiagnostic-Code: smtp; 550 5.1.1 user unknown'),
  [{ a: 'jo@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
add('exim delay', plain('Mail Delivery System <Mailer-Daemon@mx.sender.example>', 'Warning: message 1abc-000 delayed 24 hours',
  'This message was created automatically by mail delivery software.\n\nA message that you sent has not yet been delivered to one or more of its\nrecipients after more than 24 hours on the queue on mx.sender.example.\n\nThe message identifier is:     1abc-000\nThe subject of the message is: hello\nThe date of the message is:    Mon, 7 Dec 2026 10:00:00 +0000\n\nThe address to which the message has not yet been delivered is:\n\n  kim@dest.example\n    Delay reason: SMTP error from remote mail server after RCPT TO:<kim@dest.example>:\n    host mx.dest.example [192.0.2.5]: 451 4.7.1 Greylisted, try again later\n\nNo action is required on your part.'),
  [{ a: 'kim@dest.example', s: '4.7.1', c: 451, cmd: 'RCPT' }], 'delay');
add('exim: address in generated-from', plain('Mail Delivery System <Mailer-Daemon@mx.sender.example>', 'Mail delivery failed: returning message to sender',
  'This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  lee@real.example\n    (generated from info@alias.example)\n    mailbox is full: retry timeout exceeded\n\n------ This is a copy of the message, including all the headers. ------\n\n' + ORIG),
  [{ a: 'lee@real.example', s: null }]);
// ---- qmail
add('qmail two rcpts', plain('MAILER-DAEMON@mx.sender.example', 'failure notice',
  "Hi. This is the qmail-send program at mx.sender.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<mo@dest.example>:\n192.0.2.5 does not like recipient.\nRemote host said: 550 5.1.1 <mo@dest.example>: Recipient address rejected\nGiving up on 192.0.2.5.\n\n<ned@dest2.example>:\nSorry, I couldn't find any host named dest2.example. (#5.1.2)\n\n--- Below this line is a copy of the message.\n\n" + ORIG),
  [{ a: 'mo@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }, { a: 'ned@dest2.example', s: '5.1.2' }]);
add('qmail local no mailbox', plain('MAILER-DAEMON@mx.sender.example', 'failure notice',
  "Hi. This is the qmail-send program at mx.sender.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<oz@mx.sender.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n--- Enclosed are the original headers of the message.\n"),
  [{ a: 'oz@mx.sender.example', s: '5.1.1' }]);
// ---- Courier
add('courier', dsn('Courier mail server at mx.sender.example <@>', 'NOTICE: mail delivery status.',
  'This is a delivery status notification from mx.sender.example,\nrunning the Courier mail server, version 1.0.\n\nThe original message was received on Mon, 7 Dec 2026 10:00:00 +0000\nfrom localhost [127.0.0.1]\n\n---------------------------------------------------------------------------\n\n                           UNDELIVERABLE MAIL\n\nYour message to the following recipients cannot be delivered:\n\n<pat@dest.example>:\n    mx.dest.example [192.0.2.5]:\n>>> RCPT TO:<pat@dest.example>\n<<< 550 5.1.1 <pat@dest.example>... User unknown\n\n---------------------------------------------------------------------------',
  'Reporting-MTA: dns; mx.sender.example\nArrival-Date: Mon, 7 Dec 2026 10:00:00 +0000\n\nFinal-Recipient: rfc822; pat@dest.example\nAction: failed\nStatus: 5.0.0\nRemote-MTA: dns; mx.dest.example\nDiagnostic-Code: smtp; 550 5.1.1 <pat@dest.example>... User unknown'),
  [{ a: 'pat@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
// ---- Exchange
add('exchange 2007 text only', plain('postmaster@corp.example', 'Undeliverable: hello',
  "Delivery has failed to these recipients or groups:\n\nrob@dest.example\nThe e-mail address you entered couldn't be found. Please check the recipient's e-mail address and try to resend the message.\n\n\n\n\n\nDiagnostic information for administrators:\n\nGenerating server: ex1.corp.example\n\nrob@dest.example\n#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##\n\nOriginal message headers:\n\nReceived: from x\nFrom: app@sender.example\nTo: rob@dest.example\n"),
  [{ a: 'rob@dest.example', s: '5.1.1', c: 550 }]);
add('exchange 2003 text only', plain('System Administrator <postmaster@corp.example>', 'Undeliverable: hello',
  'Your message did not reach some or all of the intended recipients.\n\n      Subject:\thello\n      Sent:\t12/7/2026 10:00 AM\n\nThe following recipient(s) could not be reached:\n\n      sam@dest.example on 12/7/2026 10:00 AM\n            The e-mail account does not exist at the organization this message was sent to.  Check the e-mail address, or contact the recipient directly to find out the correct address.\n            <ex1.corp.example #5.1.1>\n', ['X-Mailer: Internet Mail Service (5.5.2653.19)']),
  [{ a: 'sam@dest.example', s: '5.1.1' }]);
add('exchange 2003 smtp reply', plain('System Administrator <postmaster@corp.example>', 'Undeliverable: hello',
  'Your message did not reach some or all of the intended recipients.\n\n      Subject:\thello\n      Sent:\t12/7/2026 10:00 AM\n\nThe following recipient(s) could not be reached:\n\n      tom@dest.example on 12/7/2026 10:00 AM\n            You do not have permission to send to this recipient.  For assistance, contact your system administrator.\n            <ex1.corp.example #5.7.1 smtp;550 5.7.1 <tom@dest.example>... Relaying denied>\n'),
  [{ a: 'tom@dest.example', s: '5.7.1', c: 550 }]);
add('office365 dsn + html', ['From: postmaster@outlook.com', 'To: app@sender.example', 'Subject: Undeliverable: hello', 'X-MS-Exchange-CrossTenant-Id: 1', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"', '', '--B1', 'Content-Type: multipart/alternative; boundary="B2"', '', '--B2', 'Content-Type: text/plain; charset="us-ascii"', 'Content-Transfer-Encoding: quoted-printable', '', 'Your message to uma@dest.example couldn=E2=80=99t be delivered.', 'uma wasn=E2=80=99t found at dest.example.', '', 'Remote Server returned \'550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup\'', '', '--B2', 'Content-Type: text/html; charset="us-ascii"', '', '<html><body><p>Your message to uma@dest.example couldn\'t be delivered.</p></body></html>', '--B2--', '', '--B1', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com', '', 'Final-recipient: RFC822; uma@dest.example', 'Action: failed', 'Status: 5.1.10', 'Diagnostic-code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup', '', '--B1--'].join(R),
  [{ a: 'uma@dest.example', s: '5.1.10', c: 550 }]);
// ---- Domino / Notes / GroupWise
add('domino', plain('Postmaster <postmaster@corp.example>', 'DELIVERY FAILURE: User vic (vic@dest.example) not listed in Domino Directory',
  'Your message\n\n  Subject: hello\n\nwas not delivered to:\n\n  vic@dest.example\n\nbecause:\n\n  User vic (vic@dest.example) not listed in Domino Directory\n'),
  [{ a: 'vic@dest.example' }]);
add('notes', plain('Postmaster <postmaster@corp.example>', 'Undeliverable message',
  '------- Failure Reasons  --------\n\nUser not listed in public Name & Address Book\nwes@dest.example\n\n------- Returned Message --------\n' + ORIG),
  [{ a: 'wes@dest.example' }]);
add('groupwise', plain('Mail Administrator <postmaster@corp.example>', 'Message status - undeliverable',
  'The message that you sent was undeliverable to the following:\n\txan@dest.example (user not found)\n\nPossible causes: the e-mail address is misspelled, or the user was removed.\n'),
  [{ a: 'xan@dest.example' }]);
// ---- Gmail old
add('gmail old permanent', plain('Mail Delivery Subsystem <mailer-daemon@googlemail.com>', 'Delivery Status Notification (Failure)',
  'Delivery to the following recipient failed permanently:\n\n     yul@dest.example\n\nTechnical details of permanent failure:\nGoogle tried to deliver your message, but it was rejected by the server for the recipient domain dest.example by mx.dest.example. [192.0.2.5].\n\nThe error that the other server returned was:\n550 5.1.1 <yul@dest.example>: Recipient address rejected: User unknown in local recipient table (state 14).\n\n   ----- Original message -----\n\n' + ORIG),
  [{ a: 'yul@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
add('gmail new (gsuite)', dsn('Mail Delivery Subsystem <mailer-daemon@googlemail.com>', 'Delivery Status Notification (Failure)',
  "** Address not found **\n\nYour message wasn't delivered to zed@dest.example because the address couldn't be found, or is unable to receive mail.\n\nThe response from the remote server was:\n550 5.1.1 The email account that you tried to reach does not exist.",
  'Reporting-MTA: dns; googlemail.com\n\nFinal-Recipient: rfc822; zed@dest.example\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.dest.example. (192.0.2.5, the server for the domain dest.example.)\nDiagnostic-Code: smtp; 550 5.1.1 The email account that you tried to reach does not exist.'),
  [{ a: 'zed@dest.example', s: '5.1.1', c: 550 }]);
// ---- Yahoo / AOL
add('yahoo', plain('MAILER-DAEMON@yahoo.com', 'Failure Notice',
  'Sorry, we were unable to deliver your message to the following address.\n\n<abe@dest.example>:\nRemote host said: 552 1 Requested mail action aborted, mailbox not found [RCPT_TO]\n\n--- Below this line is a copy of the message.\n\n' + ORIG),
  [{ a: 'abe@dest.example', s: null, c: 552, cmd: 'RCPT' }]);
// ---- Messaging Server
add('messaging server', dsn('Internet Mail Delivery <postmaster@mx.sender.example>', 'Delivery Notification: Delivery has failed',
  'This report relates to a message you sent with the following header fields:\n\n  Message-id: <m1@sender.example>\n  Date: Mon, 7 Dec 2026 10:00:00 +0000\n  From: app@sender.example\n  To: bea@dest.example\n  Subject: hello\n\nYour message cannot be delivered to the following recipients:\n\n  Recipient address: bea@dest.example\n  Original address: bea@dest.example\n  Reason: Remote SMTP server has rejected address\n  Diagnostic code: smtp;550 5.1.1 unknown or illegal alias: bea@dest.example\n  Remote system: dns;mx.dest.example (TCP|192.0.2.1|1234|192.0.2.5|25) (mx.dest.example ESMTP)',
  'Reporting-MTA: dns;mx.sender.example (tcp_intranet-daemon)\n\nOriginal-recipient: rfc822;bea@dest.example\nFinal-recipient: rfc822;bea@dest.example\nAction: failed\nStatus: 5.1.1 (Remote SMTP server has rejected address)\nRemote-MTA: dns;mx.dest.example\nDiagnostic-code: smtp;550 5.1.1 unknown or illegal alias: bea@dest.example'),
  [{ a: 'bea@dest.example', s: '5.1.1', c: 550 }]);
// ---- IMail, ApacheJames, MailMarshal, Biglobe, DragonFly, OpenSMTPD, InterScan, SurfControl, Activehunter
add('imail unknown user', plain('Postmaster <postmaster@mx.sender.example>', 'Undeliverable Mail',
  'Unknown user: cal@dest.example\n\nOriginal message follows.\n\n' + ORIG, ['X-Mailer: <SMTP32 v8.22>']),
  [{ a: 'cal@dest.example' }]);
add('imail smtp response', plain('Postmaster <postmaster@mx.sender.example>', 'Undeliverable Mail',
  'Body of message generated response:\n\nSMTP error from remote mail server after RCPT TO:\nHost: mx.dest.example\n\ndee@dest.example\nSMTP Server Response: 550 5.1.1 dee@dest.example unknown\n\nOriginal message follows.\n', ['X-Mailer: <SMTP32 v8.22>']),
  [{ a: 'dee@dest.example', s: '5.1.1', c: 550 }]);
add('apache james', plain('MAILER-DAEMON@mx.sender.example', 'Mail delivery failed',
  'Message\n\nError message below:\n550 - Requested action not taken: no such user here\n\nMessage details:\n  Subject: hello\n  Sent date: Mon Dec 07 10:00:00 UTC 2026\n  MAIL FROM: app@sender.example\n  RCPT TO: eli@dest.example\n  From: App <app@sender.example>\n  To: eli@dest.example\n  Size (in bytes): 1024\n  Number of lines: 10\n'),
  [{ a: 'eli@dest.example', c: 550 }]);
add('mailmarshal', plain('MailMarshal <postmaster@corp.example>', 'Undeliverable Mail: "hello"',
  'Your message:\n   From:    App <app@sender.example>\n   Subject: hello\n\nCould not be delivered because of\n\n550 5.1.1 User unknown\n\nThe following recipients were affected: \n    fio@dest.example\n\nAdditional Information\n======================\n\nOriginal Sender:    <app@sender.example>\nSender-MTA:         <192.0.2.1>\nRemote-MTA:         <192.0.2.5>\nReporting-MTA:      <mm.corp.example>\nMessageName:        <B123.mml>\nLast-Attempt-Date:  <10:00:00 Mon, 07 Dec 2026>\n'),
  [{ a: 'fio@dest.example', s: '5.1.1', c: 550 }]);
add('biglobe', plain('postmaster@biglobe.ne.jp', 'Returned mail: Delivery failed',
  ' ----- The following addresses had delivery problems -----\ngus@dest.example\n\n ----- Non-delivered information -----\nThe number of messages in recipient\'s mailbox exceeded the local limit.\n'),
  [{ a: 'gus@dest.example' }]);
add('dragonfly', plain('MAILER-DAEMON@mx.sender.example', 'Mail delivery failed',
  'This is the DragonFly Mail Agent v0.13 at mx.sender.example.\n\nThere was an error delivering your mail to <hank@dest.example>.\n\nmx.dest.example [192.0.2.5] did not like our RCPT TO:\n550 5.1.1 <hank@dest.example>: Recipient address rejected: User unknown\n\nOriginal message follows.\n\n' + ORIG),
  [{ a: 'hank@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
add('opensmtpd', plain('Mailer Daemon <MAILER-DAEMON@mx.sender.example>', 'Delivery status notification: error',
  'Hi!\n\nThis is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.\n\n    An error has occurred while attempting to deliver a message for\n    the following list of recipients:\n\nian@dest.example: 550 5.1.1 <ian@dest.example>: Recipient address rejected: User unknown\n\n    Below is a copy of the original message:\n\n' + ORIG),
  [{ a: 'ian@dest.example', s: '5.1.1', c: 550 }]);
add('interscan', plain('"InterScan MSS for SMTP" <postmaster@mx.sender.example>', 'Mail could not be delivered',
  '****** Message from InterScan Messaging Security Suite ******\n\nSent <<< RCPT TO:<jan@dest.example>\nReceived >>> 550 5.1.1 <jan@dest.example>... user unknown\n\nUnable to deliver message to <jan@dest.example>.\nPlease check the recipient address.\n'),
  [{ a: 'jan@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
add('surfcontrol', plain('Mail Administrator <postmaster@corp.example>', 'Mail could not be delivered',
  'Your message could not be sent.\nA transcript of the attempts to send the message follows.\nThe number of attempts made: 1\nAddressed To: kai@dest.example\n\nMon, 07 Dec 2026 10:00:00 +0000\nFailed to send to identified host,\nkai@dest.example: [192.0.2.5], 550 kai@dest.example... No such user\n--- Message non-deliverable.\n', ['X-SEF-ZeroHour-RefID: 1']),
  [{ a: 'kai@dest.example', c: 550 }]);
add('activehunter', plain('MAILER-DAEMON@mx.sender.example', 'FAILURE NOTICE : hello',
  '  ----- The following addresses had permanent fatal errors -----\n\n<lex@dest.example>\n\n ----- Transcript of session follows -----\n550 sorry, no mailbox here by that name (#5.1.1 - chkusr)\n'),
  [{ a: 'lex@dest.example', s: '5.1.1', c: 550 }]);
add('mfilter', ['From: MAILER-DAEMON@mx.sender.example', 'To: app@sender.example', 'Subject: failure notice', 'X-Mailer: m-FILTER', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', '*** 宛先アドレス', '<max@dest.example>', '', '*** SMTPのやりとり', 'RCPT TO:<max@dest.example>', '<<< 550 5.1.1 unknown user <max@dest.example>', '', '------ 元メール情報 ------'].join(R),
  [{ a: 'max@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
// ---- free text / returned-only
add('free text angle brackets', plain('Mail Delivery System <MAILER-DAEMON@relay.example>', 'Undeliverable mail',
  'Your message could not be delivered to <nia@dest.example> because the mailbox is full.\n'),
  [{ a: 'nia@dest.example' }]);
add('recipient only in returned To', ['From: MAILER-DAEMON@relay.example', 'To: app@sender.example', 'Subject: Undelivered Mail', 'Return-Path: <>', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="Q"', '', '--Q', 'Content-Type: text/plain', '', 'The mailbox of the recipient does not exist.', '', '--Q', 'Content-Type: message/rfc822', '', ['From: App <app@sender.example>', 'To: Ola <ola@dest.example>', 'Subject: hello', '', 'hi'].join(R), '--Q--'].join(R),
  [{ a: 'ola@dest.example' }]);
add('address with trailing dot sentence', plain('MAILER-DAEMON@relay.example', 'Delivery failure',
  'Delivery to pia@dest.example failed. The recipient address does not exist.\n'),
  [{ a: 'pia@dest.example' }]);
add('addr... User unknown', plain('MAILER-DAEMON@relay.example', 'Returned mail',
  '550 quinn@dest.example... User unknown\n'),
  [{ a: 'quinn@dest.example', c: 550 }]);
add('uppercase local and plus', plain('MAILER-DAEMON@relay.example', 'Undelivered Mail Returned to Sender',
  'This is the mail system at host relay.example.\n\n<Ray.M+tag@Dest.Example>: host mx.dest.example[192.0.2.5] said: 550 5.1.1\n    User unknown (in reply to RCPT TO command)\n'),
  [{ a: 'Ray.M+tag@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
add('Status field 5.1.1, text 5.7.1', dsn('MAILER-DAEMON@relay.example', 'Undelivered Mail Returned to Sender', 'This is the mail system at host relay.example.',
  'Reporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; sue@dest.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.7.1 Blocked by policy'),
  [{ a: 'sue@dest.example', s: '5.7.1', c: 550 }]);
add('IPv4 not a status', plain('MAILER-DAEMON@relay.example', 'Undelivered Mail Returned to Sender',
  'This is the mail system at host relay.example.\n\n<tia@dest.example>: host mx.dest.example[5.1.2.3] said: 550 Mailbox unavailable\n    (in reply to RCPT TO command)\n'),
  [{ a: 'tia@dest.example', s: null, c: 550, cmd: 'RCPT' }]);
add('code 4xx status field 5', dsn('MAILER-DAEMON@relay.example', 'Undelivered Mail Returned to Sender', 'This is the mail system at host relay.example.',
  'Reporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; ulf@dest.example\nAction: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp; 452 4.2.2 Mailbox full'),
  [{ a: 'ulf@dest.example', s: '4.2.2', c: 452 }]);
add('diag with "#5.1.1" exchange', dsn('postmaster@corp.example', 'Undeliverable: hello', 'Delivery has failed to these recipients or groups:\n\nval@dest.example',
  'Reporting-MTA: dns;ex1.corp.example\n\nFinal-recipient: RFC822; val@dest.example\nAction: failed\nStatus: 5.1.1\nX-Display-Name: Val\nDiagnostic-code: smtp;550 #5.1.1 RESOLVER.ADR.RecipNotFound; not found'),
  [{ a: 'val@dest.example', s: '5.1.1', c: 550 }]);
add('aol dsn', dsn('Mail Delivery System <MAILER-DAEMON@aol.com>', 'Undelivered Mail Returned to Sender',
  'This is the mail system at host omr-m1.mx.aol.com.\n\n<wyn@dest.example>: host mx.dest.example[192.0.2.5] said: 550 5.1.1 <wyn@dest.example>... User unknown\n    (in reply to RCPT TO command)',
  'Reporting-MTA: dns; omr-m1.mx.aol.com\n\nFinal-Recipient: rfc822; wyn@dest.example\nOriginal-Recipient: rfc822;wyn@dest.example\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.dest.example\nDiagnostic-Code: smtp; 550 5.1.1 <wyn@dest.example>... User unknown'),
  [{ a: 'wyn@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
add('outlook.com dsn', dsn('postmaster@hotmail.com', 'Delivery Status Notification (Failure)',
  'This is an automatically generated Delivery Status Notification.\n\nDelivery to the following recipients failed.\n\n       xia@dest.example',
  'Reporting-MTA: dns;BAY0-OMC1-S1.bay0.hotmail.com\n\nFinal-Recipient: rfc822;xia@dest.example\nAction: failed\nStatus: 5.5.0\nDiagnostic-Code: smtp;550 Requested action not taken: mailbox unavailable (1234:abc)'),
  [{ a: 'xia@dest.example', s: '5.5.0', c: 550 }]);
add('mail.ru exim russian', plain('Mail Delivery System <mailer-daemon@corp.mail.ru>', 'Mail failure.',
  'This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  yan@dest.example\n    SMTP error from remote mail server after RCPT TO:<yan@dest.example>:\n    host mx.dest.example [192.0.2.5]: 550 Message was not accepted -- invalid mailbox.\n'),
  [{ a: 'yan@dest.example', s: null, c: 550, cmd: 'RCPT' }]);
add('x-failed-recipients only', plain('Mail Delivery System <Mailer-Daemon@mx.sender.example>', 'Mail delivery failed',
  'A message that you sent could not be delivered.\nThe mail server said: mailbox unavailable.\n', ['X-Failed-Recipients: zoe@dest.example']),
  [{ a: 'zoe@dest.example' }]);
add('japanese iso-2022-jp free text', ['From: MAILER-DAEMON@mx.sender.example', 'To: app@sender.example', 'Subject: =?ISO-2022-JP?B?GyRCJVElRiE8JTgbKEI=?=', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=iso-2022-jp', '', 'Delivery failed:', '<ako@dest.example>', '550 5.1.1 unknown user'].join(R),
  [{ a: 'ako@dest.example', s: '5.1.1', c: 550 }]);
add('message/rfc822 returned with html only text', ['From: MAILER-DAEMON@relay.example', 'To: app@sender.example', 'Subject: Undeliverable: hi', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="Q"', '', '--Q', 'Content-Type: text/html', '', '<p>Delivery has failed to these recipients or groups:</p><p><a href="mailto:bo@dest.example">bo@dest.example</a><br>The email address couldn\'t be found.</p><p>Remote Server returned \'550 5.1.1 User unknown\'</p>', '--Q--'].join(R),
  [{ a: 'bo@dest.example', s: '5.1.1', c: 550 }]);

// ---- round 2: other systems
add('sendmail multi no dsn (reason lines)', plain('Mail Delivery Subsystem <MAILER-DAEMON@mx.sender.example>', 'Returned mail: see transcript for details',
  'The original message was received at Mon, 7 Dec 2026 10:00:00 +0000\nfrom localhost [127.0.0.1]\n\n   ----- The following addresses had permanent fatal errors -----\nr1@dest.example\n    (reason: 550 5.1.1 User unknown)\n<r2@dest2.example>\n    (reason: 552 5.2.2 Mailbox full)\n\n   ----- Transcript of session follows -----\n... while talking to mx.dest.example.:\n>>> RCPT To:<r1@dest.example>\n<<< 550 5.1.1 User unknown\n... while talking to mx.dest2.example.:\n>>> RCPT To:<r2@dest2.example>\n<<< 552 5.2.2 Mailbox full\n'),
  [{ a: 'r1@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }, { a: 'r2@dest2.example', s: '5.2.2', c: 552, cmd: 'RCPT' }]);
add('exim pipe generated by', plain('Mail Delivery System <Mailer-Daemon@mx.sender.example>', 'Mail delivery failed: returning message to sender',
  'This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  pipe to |/usr/local/bin/procmail\n    generated by s1@dest.example\n    local delivery failed\n'),
  [{ a: 's1@dest.example' }]);
add('mdaemon transcript', plain('MDaemon@mx.sender.example', 'Permanent Delivery Failure',
  'The attached message had PERMANENT fatal delivery errors!\n\nAfter one or more unsuccessful delivery attempts the attached message has been removed from the mail queue on this server.\n\nYOUR MESSAGE WAS NOT DELIVERED TO ONE OR MORE RECIPIENTS!\n\n--- Session Transcript ---\n Mon 2026-12-07 10:00:00: Parsing message <mx.sender.example\\pd35000001.msg>\n *  From: app@sender.example\n *  To: t1@dest.example\n *  Subject: hello\n Mon 2026-12-07 10:00:00: Attempting SMTP connection to [192.0.2.5 : 25]\n Mon 2026-12-07 10:00:00: <-- 220 mx.dest.example ESMTP\n Mon 2026-12-07 10:00:00: --> EHLO mx.sender.example\n Mon 2026-12-07 10:00:00: <-- 250 mx.dest.example\n Mon 2026-12-07 10:00:00: --> MAIL From:<app@sender.example> SIZE=1234\n Mon 2026-12-07 10:00:00: <-- 250 2.1.0 Ok\n Mon 2026-12-07 10:00:00: --> RCPT To:<t1@dest.example>\n Mon 2026-12-07 10:00:00: <-- 550 5.1.1 <t1@dest.example>: Recipient address rejected: User unknown\n--- End Transcript ---\n'),
  [{ a: 't1@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
add('communigate', plain('CommuniGate Pro <postmaster@mx.sender.example>', 'Undeliverable mail: Failed to deliver to \'<u1@dest.example>\'',
  "Failed to deliver to '<u1@dest.example>'\nSMTP module(domain dest.example) reports:\n host mx.dest.example says:\n 550 5.1.1 User unknown\n"),
  [{ a: 'u1@dest.example', s: '5.1.1', c: 550 }]);
add('hmailserver', plain('mailer-daemon@mx.sender.example', 'Message undeliverable: hello',
  'Your message did not reach some or all of the intended recipients.\n\n   Sent: Mon, 7 Dec 2026 10:00:00 +0000\n   Subject: hello\n\nThe following recipient(s) could not be reached:\n\nv1@dest.example\n   Error Type: SMTP\n   Remote server (192.0.2.5) issued an error.\n   hMailServer sent: RCPT TO:<v1@dest.example>\n   Remote server replied: 550 5.1.1 <v1@dest.example>: Recipient address rejected: User unknown\n\n'),
  [{ a: 'v1@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
add('hmailserver DATA', plain('mailer-daemon@mx.sender.example', 'Message undeliverable: hello',
  'Your message did not reach some or all of the intended recipients.\n\nThe following recipient(s) could not be reached:\n\nv2@dest.example\n   Error Type: SMTP\n   Remote server (192.0.2.5) issued an error.\n   hMailServer sent: DATA\n   Remote server replied: 554 5.7.1 Message rejected as spam\n\n'),
  [{ a: 'v2@dest.example', s: '5.7.1', c: 554, cmd: 'DATA' }]);
add('smartermail', plain('postmaster@mx.sender.example', 'Undeliverable: hello',
  'Delivery to the following recipients failed.\n\n       w1@dest.example\n\nReason: Remote host said: 550 5.1.1 No such user\n'),
  [{ a: 'w1@dest.example', s: '5.1.1', c: 550 }]);
add('mirapoint', plain('Mail Administrator <postmaster@mx.sender.example>', 'Mail System Error - Returned Mail',
  'This Message was undeliverable due to the following reason:\n\nThe user(s) account is temporarily over quota.\n\n<x1@dest.example>\n\nPlease reply to <postmaster@mx.sender.example>\nif you feel this message to be in error.\n'),
  [{ a: 'x1@dest.example' }]);
add('netscape unreachable', plain('Mail Administrator <postmaster@mx.sender.example>', 'Mail System Error - Returned Mail',
  'This Message was undeliverable due to the following reason:\n\nYour message was not delivered because the destination computer was\nnot reachable within the allowed queue period. The amount of time\na message is queued before it is returned depends on local configura-\ntion parameters.\n\n    <y1@dest.example>\n'),
  [{ a: 'y1@dest.example' }]);
add('iis smtpsvc', dsn('postmaster@mx.sender.example', 'Delivery Status Notification (Failure)',
  'This is an automatically generated Delivery Status Notification.\n\nUnable to deliver message to the following recipients, due to being unable to connect successfully to the destination mail server.\n\n       z1@dest.example',
  'Reporting-MTA: dns;mx.sender.example\nReceived-From-MTA: dns;client\nArrival-Date: Mon, 7 Dec 2026 10:00:00 +0000\n\nFinal-Recipient: rfc822;z1@dest.example\nAction: failed\nStatus: 4.4.7'),
  [{ a: 'z1@dest.example', s: '4.4.7' }]);
add('mailenable', plain('POSTMASTER@mx.sender.example', 'Message Delivery Failure',
  'Message delivery to \'a2@dest.example\' failed for the following reason:\n\nThe remote mail server rejected the recipient (550 5.1.1 user unknown).\n'),
  [{ a: 'a2@dest.example', s: '5.1.1', c: 550 }]);
add('kerio like', dsn('Kerio Connect <postmaster@mx.sender.example>', 'Undeliverable: hello',
  'Your message to b2@dest.example was not delivered.',
  'Reporting-MTA: dns; mx.sender.example\n\nFinal-Recipient: rfc822;b2@dest.example\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.dest.example\nDiagnostic-Code: smtp; 550 5.1.1 <b2@dest.example>: Recipient address rejected'),
  [{ a: 'b2@dest.example', s: '5.1.1', c: 550 }]);
add('postfix: Final-Recipient local, X-Actual', dsn('MAILER-DAEMON@mx.sender.example (Mail Delivery System)', 'Undelivered Mail Returned to Sender',
  'This is the mail system at host mx.sender.example.\n\n<c2@dest.example> (expanded from <c2@alias.example>): host mx.dest.example[192.0.2.5]\n    said: 550 5.1.1 No such user (in reply to RCPT TO command)',
  'Reporting-MTA: dns; mx.sender.example\n\nFinal-Recipient: rfc822; c2@alias.example\nX-Actual-Recipient: rfc822; c2@dest.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 No such user'),
  [{ a: 'c2@alias.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
add('dsn field names lowercase, no space', dsn('MAILER-DAEMON@mx.sender.example', 'Returned mail', 'failed',
  'reporting-mta:dns;mx.sender.example\n\nfinal-recipient:rfc822;e2@dest.example\naction:failed\nstatus:5.2.2\ndiagnostic-code:smtp;552 5.2.2 over quota'),
  [{ a: 'e2@dest.example', s: '5.2.2', c: 552 }]);
add('two delivery-status parts', ['From: MAILER-DAEMON@relay.example', 'To: app@sender.example', 'Subject: Undeliverable', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="Z"', '', '--Z', 'Content-Type: text/plain', '', 'failed', '', '--Z', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; relay.example', '', 'Final-Recipient: rfc822; f2@dest.example', 'Action: failed', 'Status: 5.1.1', '', '--Z', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; relay.example', '', 'Final-Recipient: rfc822; g2@dest.example', 'Action: failed', 'Status: 5.2.2', '', '--Z--'].join(R),
  [{ a: 'f2@dest.example', s: '5.1.1' }, { a: 'g2@dest.example', s: '5.2.2' }]);
add('dsn inline in body (no mime)', plain('MAILER-DAEMON@relay.example', 'Returned mail: see transcript for details',
  'The original message was received at Mon, 7 Dec 2026\n\n   ----- The following addresses had permanent fatal errors -----\n<h2@dest.example>\n\nReporting-MTA: dns; relay.example\n\nFinal-Recipient: RFC822; h2@dest.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: SMTP; 550 5.1.1 User unknown\n'),
  [{ a: 'h2@dest.example', s: '5.1.1', c: 550 }]);
add('exchange german', plain('postmaster@firma.example', 'Unzustellbar: hallo',
  'Fehler bei der Zustellung an folgende Empfänger oder Gruppen:\n\ni2@dest.example\nDie eingegebene E-Mail-Adresse wurde nicht gefunden.\n\nDiagnoseinformationen für Administratoren:\n\nGenerierender Server: ex.firma.example\n\ni2@dest.example\n#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##\n'),
  [{ a: 'i2@dest.example', s: '5.1.1', c: 550 }]);
add('ezweb', plain('Postmaster@ezweb.ne.jp', 'Mail Delivery Failure',
  'The user(s) account is disabled.\n\n<j2@ezweb.ne.jp>: 550 user unknown (in reply to RCPT TO command)\n'),
  [{ a: 'j2@ezweb.ne.jp', c: 550, cmd: 'RCPT' }]);
add('kddi', plain('Postmaster@dion.ne.jp', 'Mail Delivery Failure',
  'Your mail sent on: Mon, 7 Dec 2026 10:00:00 +0900\n\nCould not be delivered to: <k2@dest.example>\nAs their mailbox is full.\n'),
  [{ a: 'k2@dest.example' }]);
add('verizon vtext', plain('post_master@vtext.com', 'Undeliverable Message',
  'Error: No valid recipients for this MM\n\nOriginal Message:\nFrom: app@sender.example\nTo: 5555551234@vtext.com\nSubject: hello\n'),
  [{ a: '5555551234@vtext.com' }]);
add('mcafee', plain('Mail Delivery System <postmaster@mx.sender.example>', 'Delivery Status Notification',
  'Your message could not be delivered because of a problem with a recipient.\n\n--- The following addresses had delivery problems ---\n\n<l2@dest.example>   (User unknown l2@dest.example)\n\n--- Original Message ---\n', ['X-NAI-Header: Modified by McAfee Email Gateway']),
  [{ a: 'l2@dest.example' }]);
add('postfix tls/connect', dsn('MAILER-DAEMON@mx.sender.example (Mail Delivery System)', 'Undelivered Mail Returned to Sender',
  "This is the mail system at host mx.sender.example.\n\n<m2@dest.example>: host mx.dest.example[192.0.2.5] refused to talk to me: 554\n    5.7.1 Service unavailable; Client host [192.0.2.1] blocked using\n    zen.spamhaus.org",
  'Reporting-MTA: dns; mx.sender.example\n\nFinal-Recipient: rfc822; m2@dest.example\nAction: failed\nStatus: 5.7.1\nRemote-MTA: dns; mx.dest.example\nDiagnostic-Code: smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.1]\n    blocked using zen.spamhaus.org'),
  [{ a: 'm2@dest.example', s: '5.7.1', c: 554, cmd: 'CONNECT' }]);
add('sendmail MAIL FROM refused', dsn('Mail Delivery Subsystem <MAILER-DAEMON@mx.sender.example>', 'Returned mail: see transcript for details',
  '   ----- The following addresses had permanent fatal errors -----\n<n2@dest.example>\n    (reason: 553 5.1.8 <app@sender.example>... Domain of sender address does not exist)\n\n   ----- Transcript of session follows -----\n... while talking to mx.dest.example.:\n>>> MAIL From:<app@sender.example> SIZE=1000\n<<< 553 5.1.8 <app@sender.example>... Domain of sender address does not exist\n501 5.6.0 Data format error',
  'Reporting-MTA: dns; mx.sender.example\n\nFinal-Recipient: RFC822; n2@dest.example\nAction: failed\nStatus: 5.1.8\nRemote-MTA: DNS; mx.dest.example\nDiagnostic-Code: SMTP; 553 5.1.8 <app@sender.example>... Domain of sender address does not exist'),
  [{ a: 'n2@dest.example', s: '5.1.8', c: 553, cmd: 'MAIL' }]);
add('exim mailbox full local', plain('Mail Delivery System <Mailer-Daemon@mx.sender.example>', 'Mail delivery failed: returning message to sender',
  'This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  o2@mx.sender.example\n    mailbox is full: retry timeout exceeded\n'),
  [{ a: 'o2@mx.sender.example', s: null }]);
add('exim quoted-address', plain('Mail Delivery System <Mailer-Daemon@mx.sender.example>', 'Mail delivery failed: returning message to sender',
  'This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  p2@dest.example <p2@dest.example>: 550 5.1.1 unknown user\n'),
  [{ a: 'p2@dest.example', s: '5.1.1', c: 550 }]);
add('gmail delayed', plain('Mail Delivery Subsystem <mailer-daemon@googlemail.com>', 'Delivery Status Notification (Delay)',
  'This is an automatically generated Delivery Status Notification\n\nTHIS IS A WARNING MESSAGE ONLY.\n\nYOU DO NOT NEED TO RESEND YOUR MESSAGE.\n\nDelivery to the following recipient has been delayed:\n\n     q2@dest.example\n\nMessage will be retried for 2 more day(s)\n\nTechnical details of temporary failure:\nThe recipient server did not accept our requests to connect. Learn more at https://support.google.com/mail/answer/7720\n[mx.dest.example. 192.0.2.5: timed out]\n\n----- Original message -----\n' + ORIG),
  [{ a: 'q2@dest.example', s: null }], 'delay');
add('qmail german', plain('MAILER-DAEMON@mx.sender.example', 'failure notice',
  'Hallo, hier ist das qmail-send Programm auf mx.sender.example.\nLeider konnte Ihre Nachricht nicht an folgende Adresse zugestellt werden.\n\n<r3@dest.example>:\n192.0.2.5 does not like recipient.\nRemote host said: 550 5.1.1 <r3@dest.example>... User unknown\nGiving up on 192.0.2.5.\n\n--- Nachfolgend eine Kopie der Nachricht.\n\n' + ORIG),
  [{ a: 'r3@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
add('amazon ses dsn', dsn('MAILER-DAEMON@amazonses.com', 'Delivery Status Notification (Failure)',
  'An error occurred while trying to deliver the mail to the following recipients:\ns3@dest.example',
  'Reporting-MTA: dns; a1-1.smtp-out.amazonses.com\n\nAction: failed\nFinal-Recipient: rfc822; s3@dest.example\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\nStatus: 5.1.1'),
  [{ a: 's3@dest.example', s: '5.1.1', c: 550 }]);
add('non-bracket addr line then indented error', plain('MAILER-DAEMON@relay.example', 'Delivery failure',
  'The following message to t3@dest.example was undeliverable.\nThe reason for the problem:\n5.1.0 - Unknown address error 550-\'No such user\'\n'),
  [{ a: 't3@dest.example', s: '5.1.0', c: 550 }]);
// ---- round 3: addresses that are not recipients
add('message from A to B', plain('MAILER-DAEMON@relay.example', 'Undeliverable mail',
  'The message from app@sender.example to y3@dest.example could not be delivered.\nReason: 550 5.1.1 no such user\n'),
  [{ a: 'y3@dest.example', s: '5.1.1', c: 550 }]);
add('original sender line', plain('MAILER-DAEMON@relay.example', 'Undeliverable mail',
  'Original-Sender: app2@sender.example\nRecipient: z3@dest.example\nReason: 550 5.1.1 no such user\n'),
  [{ a: 'z3@dest.example', s: '5.1.1', c: 550 }]);
add('forwarded to', plain('MAILER-DAEMON@relay.example', 'Undeliverable mail',
  '<a4@dest.example>: This account has moved. Mail is no longer forwarded to a4.new@other.example.\n550 5.1.6 recipient no longer on server\n'),
  [{ a: 'a4@dest.example', s: '5.1.6', c: 550 }]);
add('dkim header echo in text', plain('MAILER-DAEMON@relay.example', 'Undelivered Mail Returned to Sender',
  'This is the mail system at host relay.example.\n\n<b4@dest.example>: host mx.dest.example[192.0.2.5] said: 550 5.1.1 unknown\n    (in reply to RCPT TO command)\n\nReporting-MTA: dns; relay.example\nX-Postfix-Sender: rfc822; bounce+abc@sender.example\n'),
  [{ a: 'b4@dest.example', s: '5.1.1', c: 550 }]);

fix("Sendmail's warning banner ('YOU DO NOT NEED TO RESEND YOUR MESSAGE') is not where the returned message begins", plain('Mail Delivery Subsystem <MAILER-DAEMON@mx.sender.example>', 'Warning: could not send message for past 4 hours',
  '    **********************************************\n    **      THIS IS A WARNING MESSAGE ONLY      **\n    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **\n    **********************************************\n\nThe original message was received at Mon, 7 Dec 2026 10:00:00 +0000\n\n   ----- Transcript of session follows -----\n<fay@dest.example>... Deferred: Connection timed out with mx.dest.example.\nWarning: message still undelivered after 4 hours\nWill keep trying until message is 5 days old\n'),
  [{ a: 'fay@dest.example', s: null }], 'delay');
fix('a delivery-status block with an unusable Final-Recipient (LOCAL; name) is the one recipient the text names', dsn('MAILER-DAEMON@mx.sender.example', 'Returned mail', 'The following addresses had permanent fatal errors\n<d2@dest.example>',
  'Reporting-MTA: dns; mx.sender.example\n\nFinal-Recipient: LOCAL; d2\nAction: failed\nStatus: 5.1.1'),
  [{ a: 'd2@dest.example', s: '5.1.1' }]);
fix("a help address after 'please email' is not a recipient", plain('MAILER-DAEMON@relay.example', 'Undeliverable mail',
  'Your message to <u3@dest.example> was rejected: 550 5.7.1 Message blocked.\nIf you believe this is an error, please email support@isp.example or visit https://isp.example/help.\n'),
  [{ a: 'u3@dest.example', s: '5.7.1', c: 550 }]);
fix("a complaint address after 'report false positives to' is not a recipient and leaves the error line to the recipient", plain('MAILER-DAEMON@relay.example', 'Undeliverable mail',
  '<v3@dest.example>:\n550 5.7.1 Rejected by content filter. Report false positives to fp@isp.example\n'),
  [{ a: 'v3@dest.example', s: '5.7.1', c: 550 }]);
fix("an address after 'contact your administrator at' is not a recipient", plain('MAILER-DAEMON@relay.example', 'Undeliverable mail',
  'Delivery to the following recipient failed permanently:\n\n    w3@dest.example\n\nContact your administrator at admin@corp.example for help.\n'),
  [{ a: 'w3@dest.example' }]);
fix("an address after 'Questions?' in an HTML-only report is not a recipient", ['From: MAILER-DAEMON@relay.example', 'To: app@sender.example', 'Subject: Undeliverable: hi', 'MIME-Version: 1.0', 'Content-Type: text/html', '', '<p>Your message to <b>x3@dest.example</b> couldn\'t be delivered.</p><p>Questions? <a href="mailto:help@relay.example">help@relay.example</a></p><p>Remote Server returned \'550 5.1.1 User unknown\'</p>'].join(R),
  [{ a: 'x3@dest.example', s: '5.1.1', c: 550 }]);fix('a recipient after "your e-mail to" or "send this message to" stays a recipient (the help wording is narrow)', plain('MAILER-DAEMON@relay.example', 'Undeliverable mail',
  'Your e-mail to c4@dest.example could not be delivered: 550 5.1.1 no such user.\nWe could not send this message to d4@dest.example: 552 5.2.2 mailbox full.\n'),
  [{ a: 'c4@dest.example' }, { a: 'd4@dest.example' }]);
fix('a delivery-status part whose fields are all indented is read (not taken for one folded field)', dsn('MAILER-DAEMON@relay.example', 'Returned mail', 'failed',
  '  Reporting-MTA: dns; relay.example\n\n  Final-Recipient: rfc822; v4@dest.example\n  Action: failed\n  Status: 5.1.1\n  Diagnostic-Code: smtp; 550 5.1.1 unknown\n    user here'),
  [{ a: 'v4@dest.example', s: '5.1.1', c: 550 }]);
fix('a Status field that writes the reply code first (Status: 550 5.1.1) gives its status', dsn('MAILER-DAEMON@relay.example', 'Returned mail', 'failed',
  'Reporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; a5@dest.example\nAction: failed\nStatus: 550 5.1.1'),
  [{ a: 'a5@dest.example', s: '5.1.1' }]);
// ---- round 4
add('ezweb recipient/reason lines', plain('Postmaster@ezweb.ne.jp', 'Mail System Error - Returned Mail',
  'Each of the following recipients was rejected by a remote mail server.\nThe reasons given by the server are included to help you determine why\neach recipient was rejected.\n\n    Recipient: <i4@ezweb.ne.jp>\n    Reason:    550 <i4@ezweb.ne.jp>... User unknown\n'),
  [{ a: 'i4@ezweb.ne.jp', c: 550 }]);
add('ezweb not delivered within', plain('Postmaster@ezweb.ne.jp', 'Mail System Error - Returned Mail',
  'Your message was not delivered within 0 days and 1 hours.\nRemote host is not responding.\n\n<j4@ezweb.ne.jp>\n'),
  [{ a: 'j4@ezweb.ne.jp', s: null }]);
add('top-level delivery-status', 'From: MAILER-DAEMON@relay.example\nTo: app@sender.example\nSubject: Delivery Status Notification\nMIME-Version: 1.0\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; k4@dest.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 unknown\n',
  [{ a: 'k4@dest.example', s: '5.1.1', c: 550 }]);
add('report without text part', 'From: MAILER-DAEMON@relay.example\nTo: app@sender.example\nSubject: Delivery Status Notification\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=zz\n\n--zz\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; l4@dest.example\nAction: failed\nStatus: 5.2.2\n\n--zz\nContent-Type: text/rfc822-headers\n\nFrom: app@sender.example\nTo: l4@dest.example\n\n--zz--\n',
  [{ a: 'l4@dest.example', s: '5.2.2' }]);
add('gmail perm_failure dns', plain('Mail Delivery Subsystem <mailer-daemon@googlemail.com>', 'Delivery Status Notification (Failure)',
  'Delivery to the following recipient failed permanently:\n\n     m4@nx.example\n\nTechnical details of permanent failure:\nDNS Error: Domain name not found\n\n----- Original message -----\n' + ORIG),
  [{ a: 'm4@nx.example', s: null, c: null }]);
add('gmail 550 550 doubled', plain('Mail Delivery Subsystem <mailer-daemon@googlemail.com>', 'Delivery Status Notification (Failure)',
  'Delivery to the following recipient failed permanently:\n\n     n4@dest.example\n\nTechnical details of permanent failure:\nGoogle tried to deliver your message, but it was rejected by the recipient domain. We recommend contacting the other email provider for further information about the cause of this error. The error that the other server returned was: 550 550 5.1.1 <n4@dest.example>: Recipient address rejected: User unknown (state 14).\n\n----- Original message -----\n' + ORIG),
  [{ a: 'n4@dest.example', s: '5.1.1', c: 550, cmd: 'RCPT' }]);
add('postfix: status only in field, diag without code', dsn('MAILER-DAEMON@mx.sender.example (Mail Delivery System)', 'Undelivered Mail Returned to Sender',
  'This is the mail system at host mx.sender.example.\n\n<o4@dest.example>: mail for dest.example loops back to myself',
  'Reporting-MTA: dns; mx.sender.example\n\nFinal-Recipient: rfc822; o4@dest.example\nAction: failed\nStatus: 5.4.6\nDiagnostic-Code: X-Postfix; mail for dest.example loops back to myself'),
  [{ a: 'o4@dest.example', s: '5.4.6', c: null }]);
add('postfix: host not found', dsn('MAILER-DAEMON@mx.sender.example (Mail Delivery System)', 'Undelivered Mail Returned to Sender',
  'This is the mail system at host mx.sender.example.\n\n<p4@nx.example>: Host or domain name not found. Name service error for\n    name=nx.example type=A: Host not found',
  'Reporting-MTA: dns; mx.sender.example\n\nFinal-Recipient: rfc822; p4@nx.example\nAction: failed\nStatus: 5.4.4\nDiagnostic-Code: X-Postfix; Host or domain name not found. Name service error\n    for name=nx.example type=A: Host not found'),
  [{ a: 'p4@nx.example', s: '5.4.4', c: null }]);
add('qmail: connected but sender rejected', plain('MAILER-DAEMON@mx.sender.example', 'failure notice',
  "Hi. This is the qmail-send program at mx.sender.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<q4@dest.example>:\nConnected to 192.0.2.5 but sender was rejected.\nRemote host said: 553 5.1.8 sender domain does not exist\n"),
  [{ a: 'q4@dest.example', s: '5.1.8', c: 553, cmd: 'MAIL' }]);
add('sendmail: 2 rcpts dsn, one delayed', dsn('Mail Delivery Subsystem <MAILER-DAEMON@mx.sender.example>', 'Returned mail: see transcript for details',
  '   ----- The following addresses had permanent fatal errors -----\n<r4@dest.example>\n    (reason: 550 5.1.1 User unknown)\n\n   ----- The following addresses had transient non-fatal errors -----\n<s4@slow.example>\n    (reason: 451 4.3.0 Temporary failure)',
  'Reporting-MTA: dns; mx.sender.example\n\nFinal-Recipient: RFC822; r4@dest.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: SMTP; 550 5.1.1 User unknown\n\nFinal-Recipient: RFC822; s4@slow.example\nAction: delayed\nStatus: 4.3.0\nDiagnostic-Code: SMTP; 451 4.3.0 Temporary failure'),
  [{ a: 'r4@dest.example', s: '5.1.1', c: 550 }, { a: 's4@slow.example', s: '4.3.0', c: 451 }]);
add('exchange: X.500 then smtp', dsn('postmaster@corp.example', 'Undeliverable: hello',
  'Delivery has failed to these recipients or groups:\n\nTom Doe\nThe e-mail address you entered couldn\'t be found.',
  'Reporting-MTA: dns;ex1.corp.example\n\nFinal-recipient: RFC822; t4@dest.example\nAction: failed\nStatus: 5.1.1\nX-Display-Name: Tom Doe\n\nFinal-recipient: X400; /o=Corp/ou=Exchange/cn=Recipients/cn=u4\nX-Supplementary-Info: <u4@dest.example>\nAction: failed\nStatus: 5.1.1'),
  [{ a: 't4@dest.example', s: '5.1.1' }]);
// ---- round 5
add('dsn crlf + trailing spaces', dsn('MAILER-DAEMON@relay.example', 'Returned mail', 'failed',
  'Reporting-MTA: dns; relay.example   \n   \nFinal-Recipient: rfc822; w4@dest.example   \nAction: failed   \nStatus: 5.2.2   \nDiagnostic-Code: smtp; 552 5.2.2 full   ').replace(/\n/g, '\r\n'),
  [{ a: 'w4@dest.example', s: '5.2.2', c: 552 }]);
add('dsn recipient fields first, message fields after', dsn('MAILER-DAEMON@relay.example', 'Returned mail', 'failed',
  'Final-Recipient: rfc822; x4@dest.example\nAction: failed\nStatus: 5.1.1\n\nReporting-MTA: dns; relay.example'),
  [{ a: 'x4@dest.example', s: '5.1.1' }]);
add('dsn diag on several continuation lines with tabs', dsn('MAILER-DAEMON@relay.example', 'Returned mail', 'failed',
  'Reporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; y4@dest.example\nAction: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp;\n\t550-5.7.1 [192.0.2.1] Our system has detected that this\n\t550-5.7.1 message is likely unsolicited mail.\n\t550 5.7.1 https://support.example/?p=Spam'),
  [{ a: 'y4@dest.example', s: '5.7.1', c: 550 }]);
add('dsn Status with words', dsn('MAILER-DAEMON@relay.example', 'Returned mail', 'failed',
  'Reporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; z4@dest.example\nAction: failed (permanent)\nStatus: 5.1.1 (bad destination mailbox address)'),
  [{ a: 'z4@dest.example', s: '5.1.1' }]);
add('dsn Status: 5.1.1, base64 part', ['From: MAILER-DAEMON@relay.example', 'To: app@sender.example', 'Subject: Returned mail', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="Z"', '', '--Z', 'Content-Type: text/plain', '', 'failed', '--Z', 'Content-Type: message/delivery-status', 'Content-Transfer-Encoding: base64', '', Buffer.from('Reporting-MTA: dns; relay.example\r\n\r\nFinal-Recipient: rfc822; b5@dest.example\r\nAction: failed\r\nStatus: 5.1.1\r\n').toString('base64'), '--Z--'].join(R),
  [{ a: 'b5@dest.example', s: '5.1.1' }]);
fix('a list of bare addresses shares the error lines that follow it', plain('MAILER-DAEMON@relay.example', 'Undeliverable mail',
  'The following recipients could not be reached:\n  ca@x.example\n  cb@y.example\nReason: 550 5.1.1 User unknown\n'),
  [{ a: 'ca@x.example', s: '5.1.1', c: 550 }, { a: 'cb@y.example', s: '5.1.1', c: 550 }]);
fix("a recipient with its own error lines does not take the next recipient's", plain('MAILER-DAEMON@relay.example', 'Undeliverable mail',
  'The following recipients could not be reached:\n  cc@x.example\n    550 5.1.1 User unknown\n  cd@y.example\n    552 5.2.2 Mailbox full\n'),
  [{ a: 'cc@x.example', s: '5.1.1', c: 550 }, { a: 'cd@y.example', s: '5.2.2', c: 552 }]);

describe('one synthetic report per mail-system family: recipients, status, reply code, refused command', () => {
  for (const c of families) it(c.name, () => check(c));
});

describe('reports the parser used to misread', () => {
  for (const c of fixes) it(c.name, () => check(c));
});

describe('where the returned message begins', () => {
  it("qmail's '--- Enclosed are the original headers of the message.' starts the returned headers (correlation headers found)", () => {
    const raw = plain(
      'MAILER-DAEMON@mx.sender.example',
      'failure notice',
      [
        'Hi. This is the qmail-send program at mx.sender.example.',
        "I'm afraid I wasn't able to deliver your message to the following addresses.",
        "This is a permanent error; I've given up. Sorry it didn't work out.",
        '',
        '<oz@dest.example>:',
        'Sorry, no mailbox here by that name. (#5.1.1)',
        '',
        '--- Enclosed are the original headers of the message.',
        '',
        'Return-Path: <app@sender.example>',
        'From: app@sender.example',
        'To: oz@dest.example',
        'Message-ID: <abc@sender.example>',
        'X-Mailpush-Job-Id: job-1',
        'Subject: hi',
      ].join(R),
    );
    const r = parseBounce(raw);
    expect(r.recipients.map((x) => [x.address, x.status])).toEqual([['oz@dest.example', '5.1.1']]);
    expect(r.originalMessageId).toBe('<abc@sender.example>');
    expect(r.originalHeaders?.jobId).toBe('job-1');
  });

  it("qmail's '--- Below this line is the original bounce.' (a double bounce) starts the returned part", () => {
    const raw = plain(
      'MAILER-DAEMON@mx.sender.example',
      'failure notice',
      ['Hi. This is the qmail-send program at mx.sender.example.', '', '<pa@dest.example>:', 'Sorry, no mailbox here by that name. (#5.1.1)', '', '--- Below this line is the original bounce.', '', 'Return-Path: <>', 'Message-ID: <b2@sender.example>', 'To: other@elsewhere.example', ''].join(R),
    );
    const r = parseBounce(raw);
    expect(r.recipients.map((x) => x.address)).toEqual(['pa@dest.example']);
    expect(r.originalMessageId).toBe('<b2@sender.example>');
  });
});

describe('original headers quoted inline, with no marker line', () => {
  it('the header block around a quoted Message-ID is the original (Messaging Server: "with the following header fields")', () => {
    const raw = plain(
      'Internet Mail Delivery <postmaster@mx.sender.example>',
      'Delivery Notification: Delivery has failed',
      [
        'This report relates to a message you sent with the following header fields:',
        '',
        '  Message-id: <m9@sender.example>',
        '  Date: Mon, 7 Dec 2026 10:00:00 +0000',
        '  From: app@sender.example',
        '  To: qa@dest.example',
        '  Subject: hello',
        '  X-Mailpush-Job-Id: job-9',
        '',
        'Your message cannot be delivered to the following recipients:',
        '',
        '  Recipient address: qa@dest.example',
        '  Reason: Remote SMTP server has rejected address',
        '  Diagnostic code: smtp;550 5.1.1 unknown or illegal alias: qa@dest.example',
      ].join(R),
    );
    const r = parseBounce(raw);
    expect(r.recipients.map((x) => [x.address, x.status, x.replyCode])).toEqual([['qa@dest.example', '5.1.1', 550]]);
    expect(r.originalMessageId).toBe('<m9@sender.example>');
    expect(r.originalHeaders).toMatchObject({ jobId: 'job-9', subject: 'hello' });
  });

  it('a returned header block after the error lines, `>` quoted', () => {
    const raw = plain(
      'MAILER-DAEMON@relay.example',
      'Undeliverable mail',
      ['rb@dest.example Invalid Address, 550 5.1.1 user unknown', '', '> Received: from mx.sender.example', '>   by relay.example; Mon, 7 Dec 2026 10:00:00 +0000', '> Message-ID: <m8@sender.example>', '> From: app@sender.example', '> To: rb@dest.example'].join(R),
    );
    const r = parseBounce(raw);
    expect(r.recipients.map((x) => x.address)).toEqual(['rb@dest.example']);
    expect(r.originalMessageId).toBe('<m8@sender.example>');
    expect(r.originalHeaders?.to).toBe('rb@dest.example');
  });

  it('no original headers when the report quotes no Message-ID', () => {
    const r = parseBounce(plain('MAILER-DAEMON@relay.example', 'Undeliverable mail', '<rc@dest.example>: 550 5.1.1 user unknown\nSubject: hello\n'));
    expect(r.originalHeaders).toBeUndefined();
  });
});

describe('returned-message titles in other languages', () => {
  it('a framed German or French title starts the returned copy: its addresses are not recipients, its Message-ID is found', () => {
    for (const title of ['--- Nachfolgend eine Kopie der Nachricht.', "----- Message d'origine -----"]) {
      const raw = plain(
        'MAILER-DAEMON@mx.sender.example',
        'failure notice',
        ['<rd@dest.example>:', '192.0.2.5 does not like recipient.', 'Remote host said: 550 5.1.1 unknown user', '', title, '', 'From: app@sender.example', 'To: rd@dest.example', 'Message-ID: <m7@sender.example>', '', 'Grüße, bob@partner.example'].join(R),
      );
      const r = parseBounce(raw);
      expect(r.recipients.map((x) => [x.address, x.status])).toEqual([['rd@dest.example', '5.1.1']]);
      expect(r.originalMessageId).toBe('<m7@sender.example>');
    }
  });
});

describe('refused command: CHUNKING', () => {
  it("BDAT (CHUNKING's DATA) and Exim's 'after sending data block' are the DATA stage", () => {
    expect(readCommand('SMTP error from remote mail server after pipelined BDAT: 554 5.7.1 rejected')).toBe('DATA');
    expect(readCommand('host mx.dest.example[192.0.2.5] said: 550 5.7.1 spam (in reply to end of BDAT command)')).toBe('DATA');
    expect(readCommand('SMTP error from remote mail server after sending data block: 554 rejected')).toBe('DATA');
  });
});

describe('an address a recipient was expanded from', () => {
  it("Postfix's `<bob@host> (expanded from <info@...>)` in text is one recipient whose originalRecipient is the alias", () => {
    const r = parseBounce(
      plain('MAILER-DAEMON@mx.sender.example (Mail Delivery System)', 'Undelivered Mail Returned to Sender', 'This is the mail system at host mx.sender.example.\n\n<bob@mx.dest.example> (expanded from <info@dest.example>): unknown user:\n    "bob"\n'),
    );
    expect(r.recipients.map((x) => [x.address, x.originalRecipient])).toEqual([['bob@mx.dest.example', 'info@dest.example']]);
  });
});
