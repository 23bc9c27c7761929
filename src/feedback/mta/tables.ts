/**
 * Per-format tables that tell the refused SMTP command and the provisional reason from a
 * code a mail system writes in its own report, as data (the reference parser, Sisimai, reads
 * them in its format readers):
 *
 * - Gmail ends the other server's reply with `(state N)`, the stage of its SMTP client when
 *   the reply came (Sisimai::Lhost::Gmail's state table);
 * - PowerMTA writes its own verdict per recipient in `X-PowerMTA-BounceCategory`
 *   (Sisimai::Lhost::PowerMTA);
 * - Office 365 names its verdict by its own enhanced status codes, often with three-digit
 *   details (`5.7.133`, `4.7.650`), from Microsoft's list of non-delivery codes
 *   (Sisimai::Lhost::Office365's status table).
 *
 * A reason here is provisional: the decision (src/classify/reason.ts) keeps a specific one and
 * re-examines a generic one (userunknown, expired, systemerror...).
 *
 * @module
 */

import type { ReasonFamily } from '../../classify/phrases.js';

/** What a format's code says about a recipient: the refused command and the provisional reason. */
export interface FormatVerdict {
  /** The SMTP command at whose reply delivery stopped. */
  readonly command: string;
  /** The reason the format names. */
  readonly reason: ReasonFamily;
}

/**
 * Gmail's `(state N)`: the SMTP stage of the reply. States not listed (16 among them) are not
 * in the reference's table and tell nothing.
 */
export const GMAIL_STATES: Readonly<Record<string, FormatVerdict>> = Object.freeze({
  6: { command: 'MAIL', reason: 'systemerror' }, // "Remote server does not support TLS"
  8: { command: 'AUTH', reason: 'systemerror' }, // SMTP AUTH failed with the remote server
  9: { command: 'AUTH', reason: 'systemerror' }, // TLS certificate trouble
  12: { command: 'AUTH', reason: 'norelaying' }, // "does not support SMTP Authenticated Relay"
  13: { command: 'EHLO', reason: 'blocked' }, // refused before the envelope
  14: { command: 'RCPT', reason: 'userunknown' },
  15: { command: 'DATA', reason: 'filtered' },
  17: { command: 'DATA', reason: 'filtered' },
  18: { command: 'DATA', reason: 'filtered' },
});

const GMAIL_STATE = /\(state (\d{1,2})\)/;

/**
 * The command and provisional reason of Gmail's `(state N)`, or `undefined`.
 *
 * @param mta The family id of the report (./families.ts); only `gmail` reports are read.
 * @param text The recipient's diagnostic text.
 * @example
 * gmailState('gmail', '550 550 5.1.1 <a@b.example>... User Unknown (state 14).');
 * // { command: 'RCPT', reason: 'userunknown' }
 */
export function gmailState(mta: string | undefined, text: string): FormatVerdict | undefined {
  if (mta !== 'gmail') return undefined;
  const m = GMAIL_STATE.exec(text.length > 8192 ? text.slice(0, 8192) : text);
  return m === null ? undefined : GMAIL_STATES[m[1]!];
}

/**
 * PowerMTA's bounce categories (`X-PowerMTA-BounceCategory`) that the reference maps to a
 * reason. Others (`other`, `unknown`, and categories the reference does not map) leave the
 * reason to the decision.
 */
export const POWERMTA_CATEGORIES: ReadonlyMap<string, ReasonFamily> = new Map<string, ReasonFamily>([
  ['bad-domain', 'hostunknown'],
  ['bad-mailbox', 'userunknown'],
  ['inactive-mailbox', 'suspend'],
  ['message-expired', 'expired'],
  ['no-answer-from-host', 'networkerror'],
  ['policy-related', 'policyviolation'],
  ['quota-issues', 'mailboxfull'],
  ['spam-related', 'spamdetected'],
]);

/**
 * The provisional reason of a PowerMTA `X-PowerMTA-BounceCategory` value, or `undefined`.
 *
 * @param value The field's value (`bad-mailbox`), if the recipient has one.
 * @example
 * powerMtaReason('quota-issues'); // 'mailboxfull'
 * powerMtaReason('other'); // undefined
 */
export function powerMtaReason(value: string | undefined): ReasonFamily | undefined {
  if (value === undefined) return undefined;
  return POWERMTA_CATEGORIES.get(value.trim().toLowerCase());
}

/**
 * Office 365's enhanced status codes and the reason each names (Microsoft's list of
 * non-delivery report codes, as the reference's Office 365 reader maps them). Tested in order
 * against the recipient's status; codes not listed leave the reason to the decision.
 */
export const OFFICE365_STATUSES: readonly (readonly [pattern: RegExp, reason: ReasonFamily])[] = Object.freeze([
  [/^4\.4\.7$/, 'expired'], // message expired in the queue
  [/^4\.4\.312$/, 'networkerror'], // DNS query failed
  [/^4\.4\.316$/, 'expired'], // connection refused until the message expired
  [/^4\.7\.26$/, 'securityerror'], // a message sent over IPv6 must pass SPF or DKIM
  [/^4\.7\.[56]\d\d$/, 'blocked'], // the sending IP is throttled or blocked
  [/^4\.7\.8[5-9]\d$/, 'blocked'],
  [/^5\.1\.10$/, 'userunknown'], // recipient not found
  [/^5\.1\.8$/, 'rejected'], // bad outbound sender
  [/^5\.2\.2$/, 'mailboxfull'],
  [/^5\.2\.3$/, 'mesgtoobig'],
  [/^5\.2\.14$/, 'systemerror'], // misconfigured forwarding
  [/^5\.3\.190$/, 'systemerror'], // journaling to an on-premises mailbox
  [/^5\.4\.1$/, 'norelaying'], // relay access denied
  [/^5\.4\.(?:6|8|14)$/, 'networkerror'], // routing loop, MX pointing to itself, hop count exceeded
  [/^5\.4\.310$/, 'norelaying'],
  [/^5\.6\.11$/, 'contenterror'], // bare line feeds or invalid characters
  [/^5\.7\.1$/, 'rejected'], // delivery not authorized: the sender may not send to the recipient
  [/^5\.7\.1[23]$/, 'rejected'], // sender not authenticated by the organization
  [/^5\.7\.124$/, 'rejected'], // sender not in the group's allowed senders
  [/^5\.7\.13[3-6]$/, 'rejected'], // sender not authenticated for the group or mailbox
  [/^5\.7\.25$/, 'networkerror'], // the sending IPv6 address has no reverse DNS
  [/^5\.7\.50[1-3]$/, 'spamdetected'],
  [/^5\.7\.50[45]$/, 'filtered'],
  [/^5\.7\.50[67]$/, 'blocked'],
  [/^5\.7\.508$/, 'toomanyconn'],
  [/^5\.7\.509$/, 'securityerror'],
  [/^5\.7\.510$/, 'notaccept'], // the domain does not accept mail over IPv6
  [/^5\.7\.511$/, 'rejected'], // banned sender
  [/^5\.7\.512$/, 'securityerror'],
  [/^5\.7\.6(?:0[6-9]|[1-4]\d)$/, 'blocked'], // banned sending IP
  [/^5\.7\.7[0-4]\d$/, 'toomanyconn'], // the tenant exceeded its sending limits
]);

/**
 * Headers that only Exchange Online (Office 365) writes on its own reports, one name per line
 * lower case: its status table applies only to reports carrying one of them.
 */
export const MICROSOFT_NDR_HEADERS = /^(?:x-ms-exchange-message-is-ndr|x-ms-exchange-crosstenant-[\w-]+|x-ms-exchange-transport-crosstenant[\w-]*|x-microsoft-antispam(?:-prvs)?|x-exchange-antispam-report-[\w-]+)$/m;

/**
 * The provisional reason of a status code in the family's own status table (Office 365),
 * or `undefined`.
 *
 * @param mta The family id of the report (./families.ts); only `office365` reports are read.
 * @param status The recipient's enhanced status.
 * @example
 * statusReason('office365', '5.7.133'); // 'rejected'
 * statusReason('postfix', '5.7.133'); // undefined
 */
export function statusReason(mta: string | undefined, status: string | undefined): ReasonFamily | undefined {
  if (mta !== 'office365' || status === undefined) return undefined;
  for (const [pattern, reason] of OFFICE365_STATUSES) if (pattern.test(status)) return reason;
  return undefined;
}
