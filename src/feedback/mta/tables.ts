/**
 * Per-format tables that tell the refused SMTP command and the provisional reason from a
 * code a mail system writes in its own report, as data (the reference parser, Sisimai, reads
 * them in its format readers):
 *
 * - Gmail ends the other server's reply with `(state N)`, the stage of its SMTP client when
 *   the reply came (Sisimai::Lhost::Gmail's state table);
 * - PowerMTA writes its own verdict per recipient in `X-PowerMTA-BounceCategory`
 *   (Sisimai::Lhost::PowerMTA).
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
