import { describe, expect, it } from 'vitest';
import { parseBounce } from '../../src/feedback/dsn.js';

// Variants of the mail-system families that the development corpus shows little or nothing of,
// written for this test from the general shape of each format as the reference parser's readers
// (Sisimai's Lhost modules) describe it: their section titles, where each names the recipient and
// the reply. Short synthetic texts, not copies of real bounces. `s` or `c` null: the report
// states no enhanced status or reply code, so none may be reported (never one made up).

interface Want {
  readonly a: string;
  readonly s?: string | null;
  readonly c?: number | null;
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

/** A multipart/mixed report: one text part, then the returned message. */
function mixed(from: string, subject: string, text: string, returned = ORIG, extra: readonly string[] = [], textType = 'text/plain; charset=us-ascii'): string {
  return [`From: ${from}`, 'To: app@sender.example', `Subject: ${subject}`, ...extra, 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="MM"', '', '--MM', `Content-Type: ${textType}`, '', text, '', '--MM', 'Content-Type: message/rfc822', '', returned, '--MM--', ''].join(R);
}

/** A multipart/report with the given delivery-status fields. */
function dsnMail(status: string, text = 'Delivery failed.', from = 'MAILER-DAEMON@relay.example', subject = 'Delivery Status Notification (Failure)', cte = ''): string {
  return [`From: ${from}`, 'To: app@sender.example', `Subject: ${subject}`, 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="ZZ"', '', '--ZZ', 'Content-Type: text/plain', '', text, '', '--ZZ', 'Content-Type: message/delivery-status', ...(cte ? [`Content-Transfer-Encoding: ${cte}`] : []), '', status, '', '--ZZ', 'Content-Type: message/rfc822', '', ORIG, '--ZZ--', ''].join(R);
}

const cases: Case[] = [];
const add = (name: string, raw: string, want: readonly Want[], kind?: string): void => void cases.push({ name, raw, want, ...(kind !== undefined ? { kind } : {}) });

// V5sendmail: no DSN, transcript lines only "550 <addr>... reason"
add('v5sendmail user unknown', plain('Mail Delivery Subsystem <MAILER-DAEMON@mx.sender.example>', 'Returned mail: User unknown',
  '   ----- Transcript of session follows -----\n550 <ann@dest.example>... User unknown\n\n   ----- Unsent message follows -----\n' + ORIG), [{ a: 'ann@dest.example', c: 550 }]);
add('v5sendmail host unknown 2 rcpts', plain('Mail Delivery Subsystem <MAILER-DAEMON@mx.sender.example>', 'Returned mail: Host unknown (Name server: nohost.example: host not found)',
  '   ----- Transcript of session follows -----\n550 <a1@nohost.example>... Host unknown (Name server: nohost.example: host not found)\n550 <a2@nohost.example>... Host unknown (Name server: nohost.example: host not found)\n\n   ----- Unsent message follows -----\n' + ORIG), [{ a: 'a1@nohost.example', c: 550 }, { a: 'a2@nohost.example', c: 550 }]);
add('v5sendmail transcript', plain('Mail Delivery Subsystem <MAILER-DAEMON@mx.sender.example>', 'Returned mail: User unknown',
  '   ----- Transcript of session follows -----\n>>> RCPT To:<bo@dest.example>\n<<< 550 <bo@dest.example>... User unknown\n550 bo@dest.example... User unknown\n\n   ----- Unsent message follows -----\n' + ORIG), [{ a: 'bo@dest.example', c: 550 }]);
// X1
add('x1', mixed('Mail Delivery System <MAILER-DAEMON@mx.sender.example>', 'Returned Mail: ',
  'The original message was received at Mon, 7 Dec 2026 10:00:00 +0900\nfrom app@sender.example\n\n---The following addresses had delivery errors---\n\ncy@dest.example [User unknown]\n'), [{ a: 'cy@dest.example', s: null }]);
// X2
add('x2 delivery failure', plain('MAILER-DAEMON@mx.sender.example', 'Delivery failure',
  'Unable to deliver message to the following address(es).\n\n<dee@dest.example>:\nThis user doesn\'t have a dest.example account (dee@dest.example) [0]\n\n--- Original message follows.\n\n' + ORIG), [{ a: 'dee@dest.example' }]);
add('x2 qmail-like', plain('MAILER-DAEMON@mx.sender.example', 'failure delivery',
  "Hi. This is the mail transport agent at mx.sender.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<ed@dest.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n--- Below this line is a copy of the message.\n\n" + ORIG), [{ a: 'ed@dest.example', s: '5.1.1' }]);
// X3
add('x3', mixed('Mail Delivery System <MAILER-DAEMON@mx.sender.example>', 'Delivery status notification',
  '============================================================================\n      This is an automatically generated Delivery Status Notification.\n\nDelivery to the following recipients failed permanently:\n\n  * fay@dest.example\n\n\n============================================================================\n                            Technical details:\n\nSMTP:RCPT host 192.0.2.8: 553 5.3.0 <fay@dest.example>... No such user here\n\n\n============================================================================\n'), [{ a: 'fay@dest.example', s: '5.3.0', c: 553 }]);
add('x3 no code', mixed('Mail Delivery System <MAILER-DAEMON@mx.sender.example>', 'Delivery status notification',
  '============================================================================\n      This is an automatically generated Delivery Status Notification.\n\nDelivery to the following recipients failed permanently:\n\n  * gus@dest.example\n\n============================================================================\n                            Technical details:\n\nRoutingRules rejected the message\n'), [{ a: 'gus@dest.example', s: null }]);
// X4 (qmail relatives)
add('x4 mailbox full', plain('MAILER-DAEMON@mx.sender.example', 'failure notice',
  "Hi. This is the qmail program at mx.sender.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<hal@dest.example>:\nThe users mailfolder is over the allowed quota (size).\n\n--- Below this line is a copy of the message.\n\n" + ORIG), [{ a: 'hal@dest.example', s: null }]);
add('x4 machine generated', plain('MAILER-DAEMON@mx.sender.example', 'failure notice',
  "This is the machine generated message from mail service.\nUnable to deliver message to the following address(es).\n\n<ida@dest.example>:\n192.0.2.7 failed after I sent the message.\nRemote host said: 554 5.7.1 Message refused\n\n--- Below the next line is a copy of the message.\n\n" + ORIG), [{ a: 'ida@dest.example', s: '5.7.1', c: 554 }]);
// X6
add('x6', mixed('MAILER-DAEMON@mx.sender.example', 'There was an error sending your mail',
  'The attached file had the following undeliverable recipient(s):\njo@dest.example\n\nTranscript of session follows:\nRCPT TO:<jo@dest.example>\n<<< 550 5.1.1 <jo@dest.example>... User Unknown\n'), [{ a: 'jo@dest.example', s: '5.1.1', c: 550 }]);
// MailMarshalSMTP
add('mailmarshal 2 rcpts', plain('postmaster@mx.sender.example', 'Undeliverable Mail: "hello"',
  'Your message:\n   From:    app@sender.example\n   Subject: hello\n\nCould not be delivered because of\n\n550 5.1.1 User unknown\n\nThe following recipients were affected:\n    kay@dest.example\n    lou@dest.example\n\nAdditional Information\n======================\n\nOriginal Sender:    <app@sender.example>\nSender-MTA:         <192.0.2.1>\nRemote-MTA:         <192.0.2.5>\nReporting-MTA:      <mx.sender.example>\nMessageName:        <B549996730000.000000000001.0003.mml>\nLast Attempt Date:  Mon, 7 Dec 2026 10:00:00 +0900\n'), [{ a: 'kay@dest.example', s: '5.1.1', c: 550 }, { a: 'lou@dest.example', s: '5.1.1', c: 550 }]);
// Bigfoot: DSN
// mFILTER
add('mfilter', plain('Mailer-Daemon@mx.sender.example', 'failure notice',
  '*********************************************************************\n\u3053\u306e\u30e1\u30fc\u30eb\u306f\u300cm-FILTER\u300d\u304c\u81ea\u52d5\u7684\u306b\u751f\u6210\u3057\u3066\u9001\u4fe1\u3057\u3066\u3044\u307e\u3059\u3002\n*********************************************************************\n\nmay@dest.example\n\n-------server message\n550 5.1.1 unknown user <may@dest.example>\n\n-------SMTP command\nRCPT TO\n\n------------------------------------------------------------\n', ['X-Mailer: m-FILTER']), [{ a: 'may@dest.example', s: '5.1.1', c: 550 }]);
add('mfilter no code', plain('Mailer-Daemon@mx.sender.example', 'failure notice',
  '*********************************************************************\nThis message was generated by m-FILTER.\n*********************************************************************\n\nned@dest.example\n\n-------server message\nsubject filtered\n\n-------SMTP command\nDATA\n', ['X-Mailer: m-FILTER']), [{ a: 'ned@dest.example', s: null }]);
// SurfControl
add('surfcontrol', mixed('Postmaster <postmaster@mx.sender.example>', 'failed delivery',
  'Your message could not be sent.\nA transcript of the attempts to send the message follows.\nThe number of attempts made: 1\nAddressed To: oli@dest.example\n\nMon 7 Dec 2026 10:00:00 +0900\nFailed to send to identified host,\noli@dest.example: [192.0.2.5], 550 oli@dest.example... No such user\n--- Message non-deliverable.\n', ORIG, ['X-SEF-Processed: 5_0_0_910__2026_12_07_10_00_00']), [{ a: 'oli@dest.example', c: 550 }]);
// Activehunter
add('activehunter', mixed('MAILER-DAEMON@mx.sender.example', 'FAILURE NOTICE :',
  '  ----- The following addresses had permanent fatal errors -----\n\n  <pam@dest.example>\n\n  ----- Transcript of session follows -----\n  550 sorry, no mailbox here by that name (#5.1.1 - chkuser)\n', ORIG, ['X-AHMAILID: 1234']), [{ a: 'pam@dest.example', s: '5.1.1', c: 550 }]);
// Notes (Japanese-free english), Domino variants
add('domino 2 lines', plain('Postmaster <postmaster@corp.example>', 'DELIVERY FAILURE: Recipient\'s Domino Directory entry does not specify a valid Notes mail file',
  'Your message\n\n  Subject: hello\n\nwas not delivered to:\n\n  quin@dest.example\n\nbecause:\n\n  Recipient\'s Domino Directory entry does not specify a valid Notes mail file\n'), [{ a: 'quin@dest.example' }]);
add('domino with dsn final-recipient other', ['From: Postmaster <postmaster@corp.example>', 'To: app@sender.example', 'Subject: DELIVERY FAILURE: User rae not listed in Domino Directory', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="DD"', '', '--DD', 'Content-Type: text/plain', '', 'Your message\n\n  Subject: hello\n\nwas not delivered to:\n\n  rae@dest.example\n\nbecause:\n\n  User rae (rae@dest.example) not listed in Domino Directory\n', '--DD', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns;notes.corp.example', '', 'Final-Recipient: rfc822;rae@dest.example', 'Action: failed', 'Status: 5.0.0', '', '--DD--', ''].join(R), [{ a: 'rae@dest.example', s: '5.0.0' }]);
// Exchange 2007 German / French / Spanish / Italian
add('exchange2007 de', plain('postmaster@corp.example', 'Unzustellbar: hello',
  'Fehler bei der Zustellung an folgende Empfänger oder Gruppen:\n\nsam@dest.example\nDie eingegebene E-Mail-Adresse wurde nicht gefunden.\n\nDiagnoseinformationen für Administratoren:\n\nGenerierender Server: ex1.corp.example\n\nsam@dest.example\n#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##\n\nOriginalnachrichtenkopfzeilen:\n\nReceived: from x\nFrom: app@sender.example\nTo: sam@dest.example\n'), [{ a: 'sam@dest.example', s: '5.1.1', c: 550 }]);
add('exchange2007 fr', plain('postmaster@corp.example', 'Non remis : hello',
  'La remise aux destinataires ou groupes suivants a échoué :\n\ntia@dest.example\nL\'adresse de messagerie que vous avez entrée est introuvable.\n\nInformations de diagnostic pour les administrateurs :\n\nServeur de génération : ex1.corp.example\n\ntia@dest.example\n#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##\n'), [{ a: 'tia@dest.example', s: '5.1.1', c: 550 }]);
add('exchange2010 remote server returned', plain('postmaster@corp.example', 'Undeliverable: hello',
  'Delivery has failed to these recipients or groups:\n\nUrsula Lee (ula@dest.example)\nThe recipient\'s mailbox is full and can\'t accept messages now.\n\nDiagnostic information for administrators:\n\nGenerating server: ex1.corp.example\n\nula@dest.example\nmx.dest.example #552 5.2.2 mailbox full ##\n'), [{ a: 'ula@dest.example', s: '5.2.2', c: 552 }]);
add('exchange2013 #< #5.x smtp', plain('postmaster@corp.example', 'Undeliverable: hello',
  'Delivery has failed to these recipients or groups:\n\nval@dest.example<mailto:val@dest.example>\nThe email address you entered couldn\'t be found.\n\nDiagnostic information for administrators:\n\nGenerating server: ex1.corp.example\n\nval@dest.example\nRemote Server returned \'< #5.1.1 smtp;550 5.1.1 <val@dest.example>: Recipient address rejected: User unknown>\'\n'), [{ a: 'val@dest.example', s: '5.1.1', c: 550 }]);
// HTML-only Exchange NDR, mailto link only
add('exchange html only mailto', ['From: postmaster@corp.example', 'To: app@sender.example', 'Subject: Undeliverable: hello', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="HH"', '', '--HH', 'Content-Type: text/html; charset=us-ascii', '', '<html><body><p><b>Delivery has failed to these recipients or groups:</b></p><p><a href="mailto:wes@dest.example">Wes Nguyen</a><br>The email address you entered couldn\'t be found.</p><p>Diagnostic information for administrators:</p><p>Generating server: ex1.corp.example</p><p>Remote Server returned \'550 5.1.1 RESOLVER.ADR.RecipNotFound; not found\'</p></body></html>', '--HH', 'Content-Type: message/rfc822', '', ORIG, '--HH--', ''].join(R), [{ a: 'wes@dest.example', s: '5.1.1', c: 550 }]);
// Exchange 2003 variants
add('exchange2003 MSEXCH', plain('System Administrator <postmaster@corp.example>', 'Undeliverable: hello',
  'Your message\n\n  To:      xia@dest.example\n  Subject: hello\n  Sent:    Mon, 7 Dec 2026 10:00:00 +0900\n\ndid not reach the following recipient(s):\n\nxia@dest.example on Mon, 7 Dec 2026 10:00:00 +0900\n    The recipient name is not recognized\n\tThe MTS-ID of the original message is: c=jp;a= ;p=corp;l=EX10612071000\n    MSEXCH:IMS:CORP:SITE:EX1 0 (000C05A6) Unknown Recipient\n', ['X-Mailer: Internet Mail Service (5.5.2657.72)']), [{ a: 'xia@dest.example', s: null }]);
// Yahoo variants
add('yahoo 554 blocked', plain('MAILER-DAEMON@yahoo.com', 'Failure Notice',
  'Sorry, we were unable to deliver your message to the following address.\n\n<yan@dest.example>:\nRemote host said: 554 5.7.9 Message not accepted for policy reasons. [BODY]\n\n--- Below this line is a copy of the message.\n\n' + ORIG), [{ a: 'yan@dest.example', s: '5.7.9', c: 554 }]);
add('yahoo no smtp', plain('MAILER-DAEMON@yahoo.com', 'Failure Notice',
  'Sorry, we were unable to deliver your message to the following address.\n\n<zoe@dest.example>:\nMessage expired\n\n--- Below this line is a copy of the message.\n\n' + ORIG), [{ a: 'zoe@dest.example', s: null }]);
// EZweb variants
add('ezweb no address line', plain('Postmaster@ezweb.ne.jp', 'Mail System Error - Returned Mail',
  'The user(s) account is disabled.\n\n<abe@ezweb.ne.jp>: 550 #5.1.1 Address rejected\n'), [{ a: 'abe@ezweb.ne.jp', s: '5.1.1', c: 550 }]);
// KDDI
add('kddi mailbox full', plain('Postmaster@dion.ne.jp', 'Returned Mail',
  'Your mail sent on: Mon, 7 Dec 2026 10:00:00 +0900\n   Could not be delivered to: <bea@dion.ne.jp>\n   As their mailbox is full.\n'), [{ a: 'bea@dion.ne.jp', s: null }]);
// Biglobe
add('biglobe', plain('postmaster@biglobe.ne.jp', 'Returned mail: Mail Delivery Failed... User unknown',
  'The message you sent could not be delivered for the following reasons.\n\n ----- The following addresses had delivery problems -----\ncal@biglobe.ne.jp\n\n ----- Non-delivered information -----\nThe number of messages in recipient\'s mailbox exceeded the local limit.\n'), [{ a: 'cal@biglobe.ne.jp', s: null }]);
// Courier delay
add('courier delay', mixed('Courier mail server at mx.sender.example <@>', 'WARNING: delivery status notification.',
  'This is a delivery status notification from mx.sender.example,\nrunning the Courier mail server, version 1.0.\n\nThe original message was received on Mon, 7 Dec 2026 10:00:00 +0000\nfrom localhost [127.0.0.1]\n\n---------------------------------------------------------------------------\n\n                      DELAYS IN DELIVERING YOUR MESSAGE\n\nThis is a warning message only. There is no need to resend your message.\n\n<dan@dest.example>:\n    mx.dest.example [192.0.2.5]:\n>>> RCPT TO:<dan@dest.example>\n<<< 451 4.2.0 Mailbox temporarily locked\n'), [{ a: 'dan@dest.example', s: '4.2.0', c: 451 }], 'delay');
// Postfix variants without DSN, local delivery
add('postfix pipe permission', plain('MAILER-DAEMON@mx.sender.example (Mail Delivery System)', 'Undelivered Mail Returned to Sender',
  'This is the mail system at host mx.sender.example.\n\nI\'m sorry to have to inform you that your message could not\nbe delivered to one or more recipients. It\'s attached below.\n\n                   The mail system\n\n<eli@mx.sender.example>: Command died with status 1: "/usr/local/bin/filter".\n    Command output: permission denied\n'), [{ a: 'eli@mx.sender.example', s: null }]);
add('postfix mail loops', plain('MAILER-DAEMON@mx.sender.example (Mail Delivery System)', 'Undelivered Mail Returned to Sender',
  'This is the mail system at host mx.sender.example.\n\n<fox@loop.example>: mail for loop.example loops back to myself\n'), [{ a: 'fox@loop.example', s: null }]);
// Sendmail: reason line without code; delay warning
add('sendmail warning', plain('Mail Delivery Subsystem <MAILER-DAEMON@mx.sender.example>', 'Warning: could not send message for past 4 hours',
  '    **********************************************\n    **      THIS IS A WARNING MESSAGE ONLY      **\n    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **\n    **********************************************\n\nThe original message was received at Mon, 7 Dec 2026 10:00:00 +0900\nfrom localhost [127.0.0.1]\n\n   ----- Transcript of session follows -----\n<gil@dest.example>... Deferred: Connection timed out with mx.dest.example.\nWarning: message still undelivered after 4 hours\nWill keep trying until message is 5 days old\n'), [{ a: 'gil@dest.example' }], 'delay');
// qmail with "Remote host said" on same line
add('qmail connected no reply', plain('MAILER-DAEMON@mx.sender.example', 'failure notice',
  "Hi. This is the qmail-send program at mx.sender.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<hue@dest.example>:\nConnected to 192.0.2.5 but sender was rejected.\nRemote host said: 553 sorry, your domain does not exists.\n\n--- Below this line is a copy of the message.\n\n" + ORIG), [{ a: 'hue@dest.example', c: 553 }]);
// recipient only in the returned message (attached), free-text report
add('free text only returned to', mixed('MAILER-DAEMON@mx.sender.example', 'Undeliverable mail',
  'Your message could not be delivered.\nReason: mailbox unavailable\n', ['From: App <app@sender.example>', 'To: ivo@dest.example', 'Subject: hello', 'Message-ID: <m1@sender.example>', '', 'hi'].join(R)), [{ a: 'ivo@dest.example' }]);
add('free text user in sentence', plain('MAILER-DAEMON@mx.sender.example', 'Undeliverable mail',
  'The following message to jan@dest.example was undeliverable.\nThe reason for the problem:\n5.1.0 - Unknown address error 550-\'No such user\'\n'), [{ a: 'jan@dest.example', s: '5.1.0', c: 550 }]);
// Amavis
add('amavis', plain('Content-filter at mx.sender.example <postmaster@mx.sender.example>', 'Considered UNSOLICITED BULK EMAIL from you',
  'Your message WAS NOT DELIVERED to:\n  <kit@dest.example>\nbecause it was considered spam.\n\nThe message was rejected with reply:\n  554 5.7.0 Reject, id=12345-01 - spam\n'), [{ a: 'kit@dest.example', s: '5.7.0', c: 554 }]);
// McAfee
add('mcafee 2', plain('postmaster@mx.sender.example', 'Delivery Status',
  '--- The following addresses had delivery problems ---\n\n<lia@dest.example>   (User unknown user: lia@dest.example)\n\n--- Original message follows ---\n', ['X-NAI-Header: Modified by McAfee Email Gateway']), [{ a: 'lia@dest.example' }]);
// MessageLabs
add('messagelabs', mixed('MAILER-DAEMON@messagelabs.com', 'Mail Delivery Failure',
  'Mail Delivery Failure\n\nThe message you sent could not be delivered to the following recipients:\n\nmo@dest.example\n\nRemote MTA mx.dest.example [192.0.2.5] said: 550 5.1.1 User unknown\n'), [{ a: 'mo@dest.example', s: '5.1.1', c: 550 }]);
// GMX variants
add('gmx', plain('"Mail Delivery System" <mailer-daemon@gmx.net>', 'Mail delivery failed: returning message to sender',
  'This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of\nits recipients. This is a permanent error. The following address\nfailed:\n\n"nia@dest.example":\nSMTP error from remote server after RCPT command:\nhost: mx.dest.example\n5.1.1 <nia@dest.example>: Recipient address rejected: User unknown\n\n--- The header of the original message is following. ---\n\n' + ORIG), [{ a: 'nia@dest.example', s: '5.1.1' }]);
// Zoho
add('zoho', plain('mailer-daemon@mail.zoho.com', 'Undelivered Mail Returned to Sender',
  'This message was created automatically by mail delivery software.\nA message that you sent could not be delivered to one or more of its recipients. This is a permanent error.\n\nola@dest.example, ERROR CODE :550 - User does not exist.\n\n\nReceived:from mail.zoho.com\n'), [{ a: 'ola@dest.example', c: 550 }]);
// Verizon
add('verizon vzwpix', plain('sysadmin@vzwpix.com', 'Undeliverable Message',
  'Message could not be delivered to mobile.\nError: No valid recipients for this MM\n\nOriginal Message\nTo: 5551234567@vzwpix.com\nFrom: app@sender.example\n'), [{ a: '5551234567@vzwpix.com' }]);
// Aol old text
add('aol', plain('Mail Delivery Subsystem <MAILER-DAEMON@aol.com>', 'Returned mail: see transcript for details',
  'The original message was received at Mon, 7 Dec 2026 10:00:00 -0500\n\n   ----- The following addresses had permanent fatal errors -----\n<pia@dest.example>\n    (reason: 550 5.1.1 <pia@dest.example>... User unknown)\n'), [{ a: 'pia@dest.example', s: '5.1.1', c: 550 }]);
// Dovecot/LMTP
add('lmtp rejected', plain('MAILER-DAEMON@mx.sender.example', 'Rejected: hello',
  'Your message to <quo@dest.example> was automatically rejected:\nQuota exceeded (mailbox for user is full)\n'), [{ a: 'quo@dest.example' }]);
// ---- recipient-finding stress
add('postfix delivery report unavailable', mixed('MAILER-DAEMON@mx.sender.example (Mail Delivery System)', 'Undelivered Mail Returned to Sender',
  'This is the mail system at host mx.sender.example.\n\nI\'m sorry to have to inform you that your message could not\nbe delivered to one or more recipients. It\'s attached below.\n\nFor further assistance, please send mail to postmaster.\n\n                   The mail system\n\n--- Delivery report unavailable ---\n', ['From: App <app@sender.example>', 'To: rex@dest.example', 'Subject: hello', 'Message-ID: <m1@sender.example>', '', 'hi'].join(R)), [{ a: 'rex@dest.example' }]);
add('rfc822-headers only To', ['From: MAILER-DAEMON@mx.sender.example', 'To: app@sender.example', 'Subject: Delivery failure', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="QQ"', '', '--QQ', 'Content-Type: text/plain', '', 'Your message could not be delivered: mailbox unavailable.', '', '--QQ', 'Content-Type: text/rfc822-headers', '', 'From: app@sender.example', 'To: Sue <sue@dest.example>', 'Subject: hello', 'Message-ID: <m2@sender.example>', '', '--QQ--', ''].join(R), [{ a: 'sue@dest.example' }]);
add('mailto in plain text', plain('postmaster@corp.example', 'Undeliverable: hello',
  'Delivery has failed to these recipients or groups:\n\nTed Cho <mailto:ted@dest.example>\nThe email address you entered couldn\'t be found.\n'), [{ a: 'ted@dest.example' }]);
add('quoted address in sentence', plain('MAILER-DAEMON@mx.sender.example', 'Mail delivery failed',
  'Delivery to "uri@dest.example" failed: the mailbox is full.\n'), [{ a: 'uri@dest.example' }]);
add('address after "to" in prose', plain('MAILER-DAEMON@mx.sender.example', 'Undeliverable message',
  'Your message was not delivered to vic@dest.example for the following reason:\nMailbox does not exist\n'), [{ a: 'vic@dest.example' }]);
add('address with display name line', plain('MAILER-DAEMON@mx.sender.example', 'Undeliverable message',
  'The following recipient could not be reached:\n\n  "Wu, Amy" <amy.wu@dest.example>\n  550 5.1.1 Unknown recipient\n'), [{ a: 'amy.wu@dest.example', s: '5.1.1', c: 550 }]);
add('recipient after Original-Recipient text only in returned headers (X-Original-To)', mixed('MAILER-DAEMON@mx.sender.example', 'Returned mail',
  'The message could not be delivered.\nUser unknown\n', ['Return-Path: <app@sender.example>', 'X-Original-To: xyz@dest.example', 'Delivered-To: xyz@dest.example', 'From: App <app@sender.example>', 'To: list@lists.example', 'Subject: hello', 'Message-ID: <m3@sender.example>', '', 'hi'].join(R)), [{ a: 'xyz@dest.example' }]);
add('verizon vtext', plain('post_master@vtext.com', 'Undeliverable Message',
  'Error: No valid recipients for this MM\n\nOriginal Message\nTo: 5551234567@vtext.com\nFrom: app@sender.example\n'), [{ a: '5551234567@vtext.com' }]);
add('japanese report address in brackets', plain('MAILER-DAEMON@mx.sender.example', '=?UTF-8?B?44Oh44O844Or6YWN5L+h44Ko44Op44O8?=',
  '\u4ee5\u4e0b\u306e\u30a2\u30c9\u30ec\u30b9\u3078\u306e\u914d\u4fe1\u306b\u5931\u6557\u3057\u307e\u3057\u305f\u3002\n\n\u5b9b\u5148\uff1a\u3010yui@dest.example\u3011\n\u7406\u7531\uff1a550 5.1.1 User unknown\n'), [{ a: 'yui@dest.example', s: '5.1.1', c: 550 }]);
add('address in <> with trailing text on same line (qmail-ish spanish)', plain('MAILER-DAEMON@mx.sender.example', 'failure notice',
  'Hola. Este es el programa qmail-send en mx.sender.example.\nLo siento, no he podido entregar tu mensaje a las siguientes direcciones.\n\n<zed@dest.example>:\nLo siento, no existe un buzon con ese nombre. (#5.1.1)\n\n--- Debajo de esta linea hay una copia del mensaje.\n\n' + ORIG), [{ a: 'zed@dest.example', s: '5.1.1' }]);
add('exim with non-smtp lines + address in "generated by"', plain('Mail Delivery System <Mailer-Daemon@mx.sender.example>', 'Mail delivery failed: returning message to sender',
  'This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  save to /home/ab/mbox\n    generated by ab@dest.example\n    Quota exceeded\n\n------ This is a copy of the message, including all the headers. ------\n\n' + ORIG), [{ a: 'ab@dest.example' }]);
add('exim pipe generated by', plain('Mail Delivery System <Mailer-Daemon@mx.sender.example>', 'Mail delivery failed: returning message to sender',
  'This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  pipe to |/usr/local/bin/prog\n    generated by bc@dest.example\n    local delivery failed\n\nThe following text was generated during the delivery attempt:\n\n------ pipe to |/usr/local/bin/prog\n       generated by bc@dest.example ------\n\nsomething failed\n\n------ This is a copy of the message, including all the headers. ------\n\n' + ORIG), [{ a: 'bc@dest.example' }]);
add('google groups', plain('Mail Delivery Subsystem <mailer-daemon@googlemail.com>', 'Delivery Status Notification (Failure)',
  "Hello app@sender.example,\n\nWe're writing to let you know that the group you tried to contact (nogroup) may not exist, or you may not have permission to post messages to the group. A few more details on why you weren't able to post:\n\n * You might have spelled or formatted the group name incorrectly.\n * The owner of the group may have removed this group.\n", ['X-Failed-Recipients: nogroup@googlegroups.com']), [{ a: 'nogroup@googlegroups.com' }]);
add('facebook dsn', ['From: Facebook <mailer-daemon@mx.facebook.com>', 'To: app@sender.example', 'Subject: Sorry, your message could not be delivered', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="FB"', '', '--FB', 'Content-Type: text/plain', '', 'This message was created automatically by Facebook.', '', 'Based on the email preferences of the person you\'re trying to email, this message could not be delivered.', '', '--FB', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; 192.0.2.10', '', 'Final-Recipient: rfc822; cd@facebook.com', 'Action: failed', 'Status: 5.1.1', 'Diagnostic-Code: smtp; 550 5.1.1 RCP-P2 http://postmaster.facebook.com/response_codes?ip=192.0.2.1#rcp Refused due to recipient preferences', '', '--FB--', ''].join(R), [{ a: 'cd@facebook.com', s: '5.1.1', c: 550 }]);
add('notes japanese-ish failure reasons with address line', plain('Postmaster <postmaster@corp.example>', 'Undeliverable message',
  '------- Failure Reasons  --------\n\nUser not listed in public Name & Address Book\nde@dest.example\nef@dest.example\n\n------- Returned Message --------\n' + ORIG), [{ a: 'de@dest.example' }, { a: 'ef@dest.example' }]);
add('sendmail dsn multi rcpt reason lines', plain('Mail Delivery Subsystem <MAILER-DAEMON@mx.sender.example>', 'Returned mail: see transcript for details',
  'The original message was received at Mon, 7 Dec 2026 10:00:00 +0900\nfrom localhost [127.0.0.1]\n\n   ----- The following addresses had permanent fatal errors -----\n<fg@dest.example>\n    (reason: 550 5.1.1 <fg@dest.example>... User Unknown)\n<gh@dest.example>\n    (reason: 552 5.2.2 Mailbox full)\n\n   ----- Transcript of session follows -----\n... while talking to mx.dest.example.:\n>>> RCPT To:<fg@dest.example>\n<<< 550 5.1.1 <fg@dest.example>... User Unknown\n550 5.1.1 <fg@dest.example>... User Unknown\n>>> RCPT To:<gh@dest.example>\n<<< 552 5.2.2 Mailbox full\n'), [{ a: 'fg@dest.example', s: '5.1.1', c: 550 }, { a: 'gh@dest.example', s: '5.2.2', c: 552 }]);
add('exchange 2003 two rcpts', plain('System Administrator <postmaster@corp.example>', 'Undeliverable: hello',
  'Your message did not reach some or all of the intended recipients.\n\n      Subject:\thello\n      Sent:\t12/7/2026 10:00 AM\n\nThe following recipient(s) could not be reached:\n\n      hi@dest.example on 12/7/2026 10:00 AM\n            The e-mail account does not exist at the organization this message was sent to.\n            <ex1.corp.example #5.1.1>\n\n      ij@dest.example on 12/7/2026 10:00 AM\n            This message is larger than the current system limit or the recipient\'s mailbox is full.\n            <ex1.corp.example #5.2.2>\n'), [{ a: 'hi@dest.example', s: '5.1.1' }, { a: 'ij@dest.example', s: '5.2.2' }]);
add('postfix 2 rcpts no dsn, second only in its own line', plain('MAILER-DAEMON@mx.sender.example (Mail Delivery System)', 'Undelivered Mail Returned to Sender',
  'This is the mail system at host mx.sender.example.\n\n<jk@dest.example>: host mx.dest.example[192.0.2.5] said: 550 5.1.1\n    <jk@dest.example>: Recipient address rejected: User unknown (in reply to\n    RCPT TO command)\n\n<kl@dest.example>: host mx.dest.example[192.0.2.5] said: 452 4.2.2 Mailbox\n    full (in reply to RCPT TO command)\n'), [{ a: 'jk@dest.example', s: '5.1.1', c: 550 }, { a: 'kl@dest.example', s: '4.2.2', c: 452 }]);
add('failed to send to', plain('MAILER-DAEMON@mx.sender.example', 'Undeliverable mail',
  'Failed to send to <lm@dest.example>: 550 5.1.1 mailbox unavailable\n'), [{ a: 'lm@dest.example', s: '5.1.1', c: 550 }]);
add('unable to send to', plain('MAILER-DAEMON@mx.sender.example', 'Undeliverable mail',
  'Unable to send to mn@dest.example\nReason: 550 5.1.1 user unknown\n'), [{ a: 'mn@dest.example', s: '5.1.1', c: 550 }]);
add('domino text vs dsn address', ['From: Postmaster <postmaster@corp.example>', 'To: app@sender.example', 'Subject: DELIVERY FAILURE: User pq not listed in Domino Directory', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="DD"', '', '--DD', 'Content-Type: text/plain', '', 'Your message\n\n  Subject: hello\n\nwas not delivered to:\n\n  pq@dest.example\n\nbecause:\n\n  User pq (pq@dest.example) not listed in Domino Directory\n', '--DD', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns;notes.corp.example', '', 'Final-Recipient: rfc822;pq@mail.dest.example', 'Action: failed', 'Status: 5.0.0', '', '--DD--', ''].join(R), [{ a: 'pq@dest.example', s: '5.0.0' }]);
add('dsn final-recipient no type', dsnMail('Reporting-MTA: dns; relay.example\n\nFinal-Recipient: <a3@dest.example>\nAction: failed\nStatus: 5.1.1'), [{ a: 'a3@dest.example', s: '5.1.1' }]);
add('dsn final-recipient with comment', dsnMail('Reporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; a4@dest.example (Ann Four)\nAction: failed\nStatus: 5.2.2'), [{ a: 'a4@dest.example', s: '5.2.2' }]);
add('dsn final-recipient square brackets', dsnMail('Reporting-MTA: dns; relay.example\n\nFinal-Recipient: RFC822; [a5@dest.example]\nAction: failed\nStatus: 5.1.1'), [{ a: 'a5@dest.example', s: '5.1.1' }]);
add('dsn base64 part', dsnMail(Buffer.from('Reporting-MTA: dns; relay.example\r\n\r\nFinal-Recipient: rfc822; a6@dest.example\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 unknown\r\n').toString('base64'), 'Delivery failed.', undefined, undefined, 'base64'), [{ a: 'a6@dest.example', s: '5.1.1', c: 550 }]);
add('dsn no final, action+status, text names rcpt', dsnMail('Reporting-MTA: dns; relay.example\n\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such user', 'Your message to a7@dest.example could not be delivered.'), [{ a: 'a7@dest.example', s: '5.1.1', c: 550 }]);
add('dsn final-recipient local-part only + text', dsnMail('Reporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; a8\nAction: failed\nStatus: 5.1.1', 'Could not deliver to <a8@dest.example>: user unknown'), [{ a: 'a8@dest.example', s: '5.1.1' }]);
add('dsn status 4 action failed', dsnMail('Reporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; a9@dest.example\nAction: failed\nStatus: 4.4.7\nDiagnostic-Code: smtp; 421 4.4.2 connection dropped'), [{ a: 'a9@dest.example', s: '4.4.2', c: 421 }]);
add('dsn ip-literal recipient', dsnMail('Reporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; b1@[192.0.2.9]\nAction: failed\nStatus: 5.1.1'), [{ a: 'b1@[192.0.2.9]', s: '5.1.1' }]);
add('dsn utf-8 type', dsnMail('Reporting-MTA: dns; relay.example\n\nFinal-Recipient: utf-8; b2@dest.example\nAction: failed\nStatus: 5.1.1'), [{ a: 'b2@dest.example', s: '5.1.1' }]);
add('dsn diag x-notes', dsnMail('Reporting-MTA: dns; notes.corp.example\n\nFinal-Recipient: rfc822; b3@dest.example\nAction: failed\nStatus: 5.0.0\nDiagnostic-Code: X-Notes; User b3 (b3@dest.example) not listed in Domino Directory'), [{ a: 'b3@dest.example', s: '5.0.0' }]);
add('dsn status with text before code', dsnMail('Reporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; b4@dest.example\nAction: failed\nStatus: 5.1.1 (bad destination mailbox address)\nDiagnostic-Code: smtp; 550 Requested action not taken: mailbox unavailable'), [{ a: 'b4@dest.example', s: '5.1.1', c: 550 }]);
add('dsn lowercase values spaces', dsnMail('reporting-mta:dns;relay.example\n\nfinal-recipient:rfc822;b5@dest.example\naction:FAILED\nstatus:5.1.1\ndiagnostic-code:smtp;550 5.1.1 nope'), [{ a: 'b5@dest.example', s: '5.1.1', c: 550 }]);

// ---- more families: Gmail/Google Workspace delays, Exchange 2003 naming only a display name, Notes, Yandex, mail.ru, InterScan
const ret = (to: string): string => ['From: App <app@sender.example>', `To: ${to}`, 'Subject: hello', 'Message-ID: <m9@sender.example>', '', 'hi'].join(R);
add('cpanel exim custom', plain('Mail Delivery System <Mailer-Daemon@host.sender.example>', 'Mail delivery failed: returning message to sender',
  'This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  c1@dest.example\n    The mail server could not deliver mail to c1@dest.example.  The account or domain may not exist, they may be blacklisted, or missing the proper dns entries.\n'), [{ a: 'c1@dest.example', s: null }]);
add('gmail delayed old', plain('Mail Delivery Subsystem <mailer-daemon@googlemail.com>', 'Delivery Status Notification (Delay)',
  'This is an automatically generated Delivery Status Notification\n\nTHIS IS A WARNING MESSAGE ONLY.\n\nYOU DO NOT NEED TO RESEND YOUR MESSAGE.\n\nDelivery to the following recipient has been delayed:\n\n     c2@dest.example\n\nMessage will be retried for 2 more day(s)\n\nTechnical details of temporary failure:\nThe recipient server did not accept our requests to connect. Learn more at http://mail.google.com/support/bin/answer.py?answer=7720\n[mx.dest.example. (10): Connection timed out]\n'), [{ a: 'c2@dest.example', s: null }], 'delay');
add('gsuite delivery incomplete', plain('Mail Delivery Subsystem <mailer-daemon@googlemail.com>', 'Delivery Status Notification (Delay)',
  '** Delivery incomplete **\n\nThere was a temporary problem delivering your message to c3@dest.example. Gmail will retry for 46 more hours. You\'ll be notified if the delivery fails permanently.\n\nThe response was:\nThe recipient server did not accept our requests to connect.\n'), [{ a: 'c3@dest.example', s: null }], 'delay');
add('qmail unfortunately', plain('MAILER-DAEMON@mx.sender.example', 'failure notice',
  'Unfortunately, your mail was not delivered to the following address:\n\n<c4@dest.example>:\n192.0.2.5 does not like recipient.\nRemote host said: 550 5.1.1 <c4@dest.example>... No such user\nGiving up on 192.0.2.5.\n\n--- Below this line is a copy of the message.\n\n' + ORIG), [{ a: 'c4@dest.example', s: '5.1.1', c: 550 }]);
add('exchange2003 display name only, rcpt in returned', mixed('System Administrator <postmaster@corp.example>', 'Undeliverable: hello',
  'Your message\n\n  To:      Cat Five\n  Subject: hello\n  Sent:    Mon, 7 Dec 2026 10:00:00 +0900\n\ndid not reach the following recipient(s):\n\nCat Five on Mon, 7 Dec 2026 10:00:00 +0900\n    The recipient name is not recognized\n    MSEXCH:IMS:CORP:SITE:EX1 0 (000C05A6) Unknown Recipient\n', ret('Cat Five <c5@dest.example>')), [{ a: 'c5@dest.example', s: null }]);
add('notes only returned', mixed('Postmaster <postmaster@corp.example>', 'Undeliverable message',
  '------- Failure Reasons  --------\n\nUser not listed in public Name & Address Book\n\n', ret('c6@dest.example')), [{ a: 'c6@dest.example', s: null }]);
add('x4 returned only, system sender', mixed('MAILER-DAEMON@mx.sender.example', 'failure notice',
  'This message could not be delivered: the mailbox is full.\n', ret('c7@dest.example')), [{ a: 'c7@dest.example', s: null }]);
add('text Final-Recipient without action', plain('MAILER-DAEMON@mx.sender.example', 'Returned mail',
  'Your message could not be delivered.\n\nFinal-Recipient: rfc822; c8@dest.example\nDiagnostic: 550 5.1.1 user unknown\n'), [{ a: 'c8@dest.example', s: '5.1.1', c: 550 }]);
add('sendmail dsn delayed', ['From: Mail Delivery Subsystem <MAILER-DAEMON@mx.sender.example>', 'To: app@sender.example', 'Subject: Warning: could not send message for past 4 hours', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="SS"', '', '--SS', 'Content-Type: text/plain', '', '    **********************************************\n    **      THIS IS A WARNING MESSAGE ONLY      **\n    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **\n    **********************************************\n\n   ----- Transcript of session follows -----\n<c9@dest.example>... Deferred: Connection refused by mx.dest.example.\nWarning: message still undelivered after 4 hours\n', '--SS', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.sender.example\n\nFinal-Recipient: RFC822; c9@dest.example\nAction: delayed\nStatus: 4.4.1\nRemote-MTA: DNS; mx.dest.example\nLast-Attempt-Date: Mon, 7 Dec 2026 14:00:00 +0900\nWill-Retry-Until: Sat, 12 Dec 2026 10:00:00 +0900', '', '--SS--', ''].join(R), [{ a: 'c9@dest.example', s: '4.4.1' }], 'delay');
add('wrapped long address in text + dsn', ['From: postmaster@corp.example', 'To: app@sender.example', 'Subject: Undeliverable: hello', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="WW"', '', '--WW', 'Content-Type: text/plain', '', 'Delivery has failed to these recipients or groups:\n\nvery-long-local-part-for-a-test@dest.example\nThe email address couldn\'t be found.', '--WW', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns;ex1.corp.example\n\nFinal-recipient: RFC822; very-long-local-part-for-a-test@dest.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-code: smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound; not found', '', '--WW--', ''].join(R), [{ a: 'very-long-local-part-for-a-test@dest.example', s: '5.1.1', c: 550 }]);
add('rcpt in angle brackets in subject only', plain('MAILER-DAEMON@mx.sender.example', 'Undeliverable: <d1@dest.example>',
  'Your message could not be delivered.\nReason: 550 5.1.1 Mailbox unavailable\n'), [{ a: 'd1@dest.example', s: '5.1.1', c: 550 }]);
add('exim russian mailru', plain('Mail Delivery System <mailer-daemon@corp.mail.ru>', 'Mail delivery failed: returning message to sender',
  'Это письмо создано автоматически\nсервером Mail.Ru, отвечать на него не\nнужно.\n\nК сожалению, Ваше письмо не может\nбыть доставлено одному или нескольким\nполучателям:\n\nd2@dest.example\n\nРекомендуем Вам проверить корректность\nуказания всех адресов.\n\nSMTP error from remote mail server after RCPT TO:<d2@dest.example>:\nhost mx.dest.example [192.0.2.5]: 550 5.1.1 <d2@dest.example>: Recipient address rejected: User unknown\n', ['X-Failed-Recipients: d2@dest.example']), [{ a: 'd2@dest.example', s: '5.1.1', c: 550 }]);
add('yandex dsn', ['From: mailer-daemon@yandex.ru', 'To: app@sender.example', 'Subject: Недоставленное сообщение', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="YY"', '', '--YY', 'Content-Type: text/plain; charset=utf-8', '', 'Сообщение не было доставлено.\n\n<d3@dest.example>: host mx.dest.example[192.0.2.5] said: 550 5.1.1 Mailbox not found (in reply to RCPT TO command)', '--YY', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; forward1.mail.yandex.net\n\nFinal-Recipient: rfc822; d3@dest.example\nOriginal-Recipient: rfc822;d3@dest.example\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.dest.example\nDiagnostic-Code: smtp; 550 5.1.1 Mailbox not found', '', '--YY--', ''].join(R), [{ a: 'd3@dest.example', s: '5.1.1', c: 550 }]);
add('interscan japanese', plain('MAILER-DAEMON@mx.sender.example', '=?UTF-8?B?44Oh44O844Or6YWN5L+h44Gr5aSx5pWX44GX44G+44GX44Gf?=',
  '\u9001\u4fe1\u8005\u306b\u3088\u3063\u3066\u9001\u4fe1\u3055\u308c\u305f\u30e1\u30c3\u30bb\u30fc\u30b8\u306f\u914d\u4fe1\u3067\u304d\u307e\u305b\u3093\u3067\u3057\u305f\u3002\n\nSent <<< RCPT TO:<d4@dest.example>\nReceived >>> 550 5.1.1 <d4@dest.example>... user unknown\n\nUnable to deliver message to <d4@dest.example>.\n'), [{ a: 'd4@dest.example', s: '5.1.1', c: 550 }]);
add('two dsn recipients, one delivered', ['From: MAILER-DAEMON@relay.example', 'To: app@sender.example', 'Subject: Delivery Status Notification', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="TT"', '', '--TT', 'Content-Type: text/plain', '', 'Report.', '--TT', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; d5@dest.example\nAction: delivered\nStatus: 2.0.0\n\nFinal-Recipient: rfc822; d6@dest.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 unknown', '', '--TT--', ''].join(R), [{ a: 'd5@dest.example', s: '2.0.0' }, { a: 'd6@dest.example', s: '5.1.1', c: 550 }]);

// ---- a message its sender sent to itself: the listed recipient is our own address
/** A report about a message its sender sent to itself (`me@self.example`). */
const self = (from: string, subject: string, body: string, orig = true): string => [`From: ${from}`, 'To: me@self.example', `Subject: ${subject}`, 'Return-Path: <>', 'MIME-Version: 1.0', 'Content-Type: text/plain', '', body, ...(orig ? ['', '--- Below this line is a copy of the message.', '', 'From: Me <me@self.example>', 'To: me@self.example', 'Subject: note to self', 'Message-ID: <s1@self.example>', '', 'x'] : [])].join(R);
add('self-sent qmail mailbox full', self('MAILER-DAEMON@mx.self.example', 'failure notice', "Hi. This is the qmail-send program at mx.self.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<me@self.example>:\nThe users mailfolder is over the allowed quota (size). (#5.2.2)\n"), [{ a: 'me@self.example', s: '5.2.2' }]);
add('self-sent postfix', self('MAILER-DAEMON@mx.self.example (Mail Delivery System)', 'Undelivered Mail Returned to Sender', 'This is the mail system at host mx.self.example.\n\n<me@self.example>: cannot update mailbox /var/mail/me for user me. error\n    writing message: Disk quota exceeded\n'), [{ a: 'me@self.example', s: null }]);
add('self-sent sendmail', self('Mail Delivery Subsystem <MAILER-DAEMON@mx.self.example>', 'Returned mail: see transcript for details', '   ----- The following addresses had permanent fatal errors -----\nme@self.example\n    (reason: 552 5.2.2 Mailbox full)\n'), [{ a: 'me@self.example', s: '5.2.2', c: 552 }]);
// must not become recipients: the sender named in prose only
add('sender named only in prose', self('MAILER-DAEMON@mx.self.example', 'Undeliverable mail', 'Your message from me@self.example could not be delivered: mailbox unavailable.\n', false), [], 'not-bounce');
add('sender only as bounce-to, nobody listed', self('MAILER-DAEMON@mx.self.example', 'Undeliverable mail', 'This message was sent to me@self.example because a delivery failed.\nMailbox unavailable.\n', false), [], 'not-bounce');

// ---- localized subjects of reports from a sender that is not a mailer daemon (the subject is the evidence)
add('spanish subject, isp sender', plain('Correo <correo@isp.example>', 'Notificación del estado del envío (error)',
  'No se pudo entregar su mensaje a <e1@dest.example>.\n\n550 5.1.1 Usuario desconocido\n', ['Return-Path: <>']), [{ a: 'e1@dest.example', s: '5.1.1', c: 550 }]);
add('french subject, isp sender', plain('Messagerie <messagerie@isp.example>', 'Échec de la remise : hello',
  'Votre message à <e2@dest.example> n\'a pas pu être remis.\n\n550 5.1.1 Destinataire inconnu\n', ['Return-Path: <>']), [{ a: 'e2@dest.example', s: '5.1.1', c: 550 }]);
add('japanese subject, isp sender', plain('Mail Server <mail@isp.example>', '=?UTF-8?B?44Oh44O844Or6YWN5L+h44Gr5aSx5pWX44GX44G+44GX44Gf?=',
  '\u5b9b\u5148: e3@dest.example\n550 5.1.1 User unknown\n', ['Return-Path: <>']), [{ a: 'e3@dest.example', s: '5.1.1', c: 550 }]);

// ---- log-style lines: the key before the address is not part of it; an address inside a URL is never a recipient
add('postfix log line to=', plain('MAILER-DAEMON@mx.sender.example', 'Undelivered Mail',
  'Delivery failed.\n\nto=f1@dest.example, relay=mx.dest.example[192.0.2.5]:25, status=bounced (host said: 550 5.1.1 user unknown)\n'), [{ a: 'f1@dest.example', s: '5.1.1', c: 550 }]);
add('recipient= key', plain('MAILER-DAEMON@mx.sender.example', 'Undelivered Mail', 'Delivery failed.\n\nrecipient=f2@dest.example reason=550 5.1.1 user unknown\n'), [{ a: 'f2@dest.example', s: '5.1.1', c: 550 }]);
add('address only inside a URL', plain('MAILER-DAEMON@mx.sender.example', 'Undelivered Mail', 'Delivery failed: see https://help.example/?email=f3@dest.example\n550 5.1.1 user unknown\n'), [], 'not-bounce');

// ---- Messaging Server without a delivery-status part: `Original address:` is the recipient's original, not a second recipient
add('messaging server text only, original address', plain('Internet Mail Delivery <postmaster@mx.sender.example>', 'Delivery Notification: Delivery has failed',
  'This report relates to a message you sent with the following header fields:\n\n  Message-id: <m1@sender.example>\n  From: app@sender.example\n  To: g1@dest.example\n  Subject: hello\n\nYour message cannot be delivered to the following recipients:\n\n  Recipient address: g1@mx.dest.example\n  Original address: g1@dest.example\n  Reason: Remote SMTP server has rejected address\n  Diagnostic code: smtp;550 5.1.1 unknown or illegal alias: g1@mx.dest.example\n  Remote system: dns;mx.dest.example (TCP|192.0.2.1|1234|192.0.2.5|25)\n'),
  [{ a: 'g1@mx.dest.example', s: '5.1.1', c: 550 }]);

describe('family variants: every recipient, its status and reply code', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = parseBounce(c.raw);
    expect(r.kind).toBe(c.kind ?? 'bounce');
    expect(r.recipients.map((x) => x.address)).toEqual(c.want.map((w) => w.a));
    for (const w of c.want) {
      const got = r.recipients.find((x) => x.address === w.a)!;
      if (w.s !== undefined) expect(got.status ?? null, `${w.a} status`).toBe(w.s);
      if (w.c !== undefined) expect(got.replyCode ?? null, `${w.a} reply code`).toBe(w.c);
    }
  });
});

describe('an original address named after a recipient', () => {
  it("Messaging Server's `Original address:` line is the recipient's originalRecipient", () => {
    const c = cases.find((x) => x.name === 'messaging server text only, original address')!;
    expect(parseBounce(c.raw).recipients.map((x) => [x.address, x.originalRecipient])).toEqual([['g1@mx.dest.example', 'g1@dest.example']]);
  });
});
