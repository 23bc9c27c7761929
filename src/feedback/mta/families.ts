/**
 * Signatures of the mail systems that write bounces, as data: which family wrote a report is
 * told by its headers, its From, its Subject and the wording of its first lines. The family is
 * reported as `BounceResult.mta` (for statistics and debugging); the parsing itself is
 * generic, except that a family may name the reason of reports that say nothing readable
 * (`fallbackReason`).
 *
 * Add a family by adding a row; the first row that matches wins, so specific systems (Amazon
 * SES, Office 365) come before the software they run on (Postfix, Exchange).
 *
 * @module
 */

import type { BounceCategory } from '../../types.js';

/** One mail system family and how to recognise its reports. Every field given must match. */
export interface MtaSignature {
  /** Family id reported as `BounceResult.mta` (`postfix`, `exchange`...). */
  readonly id: string;
  /** Tested against the report's `From` header. */
  readonly from?: RegExp;
  /** Tested against the report's decoded `Subject`. */
  readonly subject?: RegExp;
  /** Tested against the names of the report's headers, lower case, one per line (`x-postfix-queue-id`). */
  readonly headerNames?: RegExp;
  /** Tested against the raw top header block. */
  readonly headers?: RegExp;
  /** Tested against the report's human-readable text (the first 8 KiB). */
  readonly body?: RegExp;
  /** Tested against the RFC 3464 `Reporting-MTA` of the report (empty when it has none). */
  readonly reportingMta?: RegExp;
  /**
   * Reason for recipients whose report says nothing the classifier can read (no code, no
   * status, no known wording), when the family only ever reports one kind of failure.
   */
  readonly fallbackReason?: BounceCategory;
}

/** The built-in signatures, most specific first. */
export const MTA_SIGNATURES: readonly MtaSignature[] = Object.freeze([
  // Amazon SES receiving mail for a domain: its inbound servers write the report.
  { id: 'receivingses', reportingMta: /\binbound-smtp\.[\w.-]*amazonaws\.com\b/i },
  { id: 'amazonses', from: /@(?:[\w-]+\.)*amazonses\.com\b/i },
  { id: 'amazonses', headerNames: /^x-ses-outgoing$/m },
  // SES notifications mailed by an SNS email subscription (JSON body).
  { id: 'amazonses', from: /@sns\.amazonaws\.com\b/i, body: /"(?:notificationType|eventType)"/ },
  { id: 'office365', body: /Microsoft (?:Outlook|Office 365|Exchange Online)|outlook\.com|protection\.outlook|\.prod\.outlook\./i, from: /postmaster@|microsoft/i },
  { id: 'office365', headerNames: /^x-ms-exchange-crosstenant-|^x-ms-office365-filtering/m },
  { id: 'outlook', from: /@(?:[\w-]+\.)*(?:hotmail|outlook|live|msn)\.[a-z.]+\b/i },
  // Google Groups refuses posts to groups that do not exist or do not accept the sender; its
  // (localized) report carries no code.
  { id: 'googlegroups', from: /@googlemail\.com|@google\.com/i, headers: /^X-Failed-Recipients:.*@googlegroups\.com/im, fallbackReason: 'rejected' },
  // Google Workspace's newer report ("** Address not found **", "Your message wasn't delivered
  // to"), with its own wording for DNS failures; the older Gmail report follows.
  { id: 'gsuite', from: /@(?:googlemail|google|gmail)\.com\b/i, body: /\*\* (?:Address not found|Message not delivered|Message blocked|Delivery incomplete) \*\*|Your message wasn'?t delivered to /i },
  { id: 'gmail', from: /@(?:googlemail|google|gmail)\.com\b/i },
  { id: 'yahoo', from: /@(?:[\w-]+\.)*yahoo(?:-inc)?\.(?:com|co\.jp|co\.uk)\b/i },
  { id: 'aol', from: /@(?:[\w-]+\.)*aol\.com\b/i },
  { id: 'zoho', from: /@(?:[\w-]+\.)*zoho\.(?:com|eu|in)\b/i },
  { id: 'gmx', from: /@(?:[\w-]+\.)*gmx\.(?:com|net|de)\b/i },
  { id: 'mailru', from: /@(?:[\w-]+\.)*mail\.ru\b/i },
  { id: 'yandex', from: /@(?:[\w-]+\.)*yandex\.(?:ru|com|net)\b/i },
  { id: 'facebook', from: /@(?:[\w-]+\.)*facebook\.com\b/i },
  { id: 'messagelabs', from: /@messagelabs\.com\b/i },
  { id: 'apple', from: /@(?:[\w-]+\.)*(?:apple|icloud|mac|me)\.com\b/i, body: /Delivery Notification|Internet Mail Delivery|Reporting-MTA/i },
  { id: 'verizon', from: /@(?:[\w-]+\.)*(?:vtext|vzwpix|verizon(?:wireless)?)\.(?:com|net)\b/i },
  // au (EZweb): a recipient's spam filter marks the report `X-SPASIGN: NG`.
  { id: 'ezweb', from: /@(?:[\w-]+\.)*(?:ezweb\.ne\.jp|au\.com)\b/i, headers: /^X-SPASIGN:[ \t]*NG\b/im, fallbackReason: 'filtered' },
  { id: 'ezweb', from: /@(?:[\w-]+\.)*(?:ezweb\.ne\.jp|au\.com)\b/i },
  { id: 'biglobe', from: /postmaster@(?:biglobe|inacatv|tmtv|ttv)\.ne\.jp\b/i },
  { id: 'kddi', from: /@(?:[\w-]+\.)*(?:dion|auone-net)\.ne\.jp\b/i },
  { id: 'postfix', headerNames: /^x-postfix-(?:queue-id|sender)$/m },
  { id: 'postfix', body: /^This is the mail system at host |^X-Postfix-Queue-ID:/m },
  { id: 'postfix', subject: /^Undelivered Mail Returned to Sender$/i },
  { id: 'exim', body: /This message was created automatically by mail delivery software|^------ This is a copy of the message, including all the headers/m },
  { id: 'exim', headers: /^Received: .*\(Exim [\d.]+\)/m, subject: /^Mail delivery failed/i },
  { id: 'sendmail', body: /-{3,} The following addresses? had (?:permanent fatal errors|transient non-fatal errors)|-{3,} Transcript of session follows -{3,}/i },
  { id: 'sendmail', subject: /^(?:Returned mail|Postmaster notify|Warning: could not send message)\b/i },
  { id: 'qmail', body: /This is the qmail-send program at |I'm afraid I wasn't able to deliver your message/i },
  { id: 'exchange', body: /Microsoft Exchange|Diagnostic information for administrators|MSEXCH:|did not reach the following recipient/i },
  { id: 'exchange', headers: /^X-Mailer: Internet Mail Service \(5\./im },
  { id: 'domino', body: /Lotus Domino|^-{3,} Failure Reasons -{3,}|not listed in (?:public )?(?:Name & Address Book|Domino Directory)/im },
  { id: 'domino', subject: /^DELIVERY FAILURE:|^Undeliverable message$/ },
  { id: 'courier', body: /running the Courier mail server/i },
  { id: 'messagingserver', body: /Sun Java System Messaging Server|Oracle Communications Messaging|This report relates to a message you sent/i },
  { id: 'opensmtpd', body: /This is the MAILER-DAEMON, please DO NOT REPLY to this e-?mail|^\s*An error has occurred while attempting to deliver a message/im },
  { id: 'dragonfly', body: /This is the DragonFly Mail Agent/i },
  { id: 'mcafee', headers: /^X-NAI-Header:/im },
  { id: 'mcafee', body: /Your message could not be delivered because of a problem with (?:a )?(?:recipient|the address)|McAfee/i },
  { id: 'barracuda', from: /Barracuda/i },
  { id: 'barracuda', subject: /blocked by our bulk email filter/i },
  { id: 'mimecast', body: /mimecast/i },
  { id: 'imailserver', headers: /^X-Mailer: <SMTP32 v/im },
  { id: 'interscanmss', body: /InterScan Messaging Security Suite/i },
  { id: 'mxlogic', body: /MXLogic|mxl\d?\./i },
  { id: 'mailfoundry', subject: /^Message delivery has failed$/i },
  { id: 'mfilter', headers: /^X-Mailer: m-FILTER/im },
  { id: 'activehunter', subject: /^FAILURE NOTICE :/ },
  { id: 'surfcontrol', headers: /^X-SEF-/im },
  { id: 'powermta', body: /X-PowerMTA-/i },
  { id: 'sendgrid', headers: /^X-SG-EID:|sendgrid/im },
  { id: 'amavis', from: /Content-filter at /i },
  { id: 'amavis', subject: /^Considered UNSOLICITED BULK EMAIL|^BANNED CONTENTS? ALERT|^VIRUS \(.*\) IN MAIL/i },
  { id: 'einsundeins', body: /1and1\.(?:com|de)|kundenserver/i },
  { id: 'fml', subject: /^Loop Alert: |\(\S+ ML\)$/ },
]);

/**
 * The signature of the mail system family that wrote a report, or `undefined`.
 *
 * @param facts The report's From, decoded Subject, raw top header block, human text and RFC 3464 Reporting-MTA.
 */
export function detectMta(facts: { from: string; subject: string; headers: string; headerNames: string; body: string; reportingMta?: string }): MtaSignature | undefined {
  const body = facts.body.length > 8192 ? facts.body.slice(0, 8192) : facts.body;
  for (const sig of MTA_SIGNATURES) {
    if (sig.from !== undefined && !sig.from.test(facts.from)) continue;
    if (sig.subject !== undefined && !sig.subject.test(facts.subject)) continue;
    if (sig.headerNames !== undefined && !sig.headerNames.test(facts.headerNames)) continue;
    if (sig.headers !== undefined && !sig.headers.test(facts.headers)) continue;
    if (sig.body !== undefined && !sig.body.test(body)) continue;
    if (sig.reportingMta !== undefined && !sig.reportingMta.test(facts.reportingMta ?? '')) continue;
    return sig;
  }
  return undefined;
}
