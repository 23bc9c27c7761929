/**
 * Amazon SES notifications delivered by mail: an SNS topic with an email subscription sends
 * the notification's JSON as the body of a plain mail (`AWS Notification Message`), either the
 * SES notification itself or the SNS envelope whose `Message` holds it as a string. The
 * reference parser (Sisimai::Lhost::AmazonSES) reads these as bounces; here they become the
 * same per-recipient fields as an RFC 3464 report, so the rest of the parsing is shared.
 *
 * @module
 */

import type { ReasonFamily } from '../../classify/phrases.js';

/** Longest body read as a notification (SES notifications are a few KiB; headers can be included). */
const MAX_JSON = 256 * 1024;
/** Most recipients read from one notification. */
const MAX_RECIPIENTS = 500;

/** The notification as RFC 3464-like fields: per message and per recipient, field names lower case. */
export interface SesJsonReport {
  readonly message: Map<string, string>;
  readonly recipients: Map<string, string>[];
}

/**
 * SES `bounceSubType` values that name a reason by themselves (the reference's table); the
 * others (`General`, `NoEmail`, `ContentRejected`...) leave it to the diagnostic.
 */
const SUBTYPE_REASONS: Readonly<Record<string, ReasonFamily>> = Object.freeze({
  MailboxFull: 'mailboxfull',
  MessageTooLarge: 'mesgtoobig',
});

/** Field carrying the notification's `bounceSubType` in a recipient's fields. */
export const SES_SUBTYPE_FIELD = 'x-ses-bouncesubtype';

/**
 * The provisional reason of an SES `bounceSubType`, or `undefined`.
 *
 * @example
 * sesSubtypeReason('MailboxFull'); // 'mailboxfull'
 * sesSubtypeReason('General'); // undefined
 */
export function sesSubtypeReason(subtype: string | undefined): ReasonFamily | undefined {
  return subtype === undefined ? undefined : SUBTYPE_REASONS[subtype.trim()];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length <= 4000 ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    return obj(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** An enhanced status at the start of an SMTP reply (`250 2.6.0 Message received`). */
const REPLY_STATUS = /^\s*\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/;

/**
 * The SES notification in a mail body, as RFC 3464-like fields, or `undefined` when the body is
 * not one (or is a complaint, which the complaint parser reads).
 *
 * @param text The mail's text body.
 * @example
 * const r = sesJsonReport('{"notificationType":"Bounce","bounce":{"bounceType":"Permanent",' +
 *   '"bouncedRecipients":[{"emailAddress":"ann@example.org","status":"5.1.1"}]},"mail":{}}');
 * r?.recipients[0]?.get('final-recipient'); // 'rfc822; ann@example.org'
 */
export function sesJsonReport(text: string): SesJsonReport | undefined {
  if (text.length > MAX_JSON || (!text.includes('"notificationType"') && !text.includes('"eventType"') && !text.includes('"Type"'))) return undefined;
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end <= start) return undefined;
  let n = parseJson(text.slice(start, end + 1));
  // The SNS envelope: the notification is its Message, a JSON string.
  const inner = n !== undefined && n['Type'] === 'Notification' ? str(n['Message']) : undefined;
  if (inner !== undefined) n = parseJson(inner);
  if (n === undefined) return undefined;
  const type = str(n['notificationType']) ?? str(n['eventType']);
  const message = new Map<string, string>();
  const recipients: Map<string, string>[] = [];
  if (type === 'Bounce') {
    const b = obj(n['bounce']);
    const list = b?.['bouncedRecipients'];
    if (b === undefined || !Array.isArray(list)) return undefined;
    const mta = str(b['reportingMTA']);
    if (mta !== undefined) message.set('reporting-mta', mta);
    const subtype = str(b['bounceSubType']);
    for (const item of list.slice(0, MAX_RECIPIENTS)) {
      const r = obj(item);
      const address = str(r?.['emailAddress']);
      if (r === undefined || address === undefined) continue;
      const f = new Map<string, string>([['final-recipient', `rfc822; ${address}`]]);
      const action = str(r['action']);
      const status = str(r['status']);
      const diag = str(r['diagnosticCode']);
      // SES sends a bounce notification once it has given up, transient or not.
      f.set('action', action ?? 'failed');
      if (status !== undefined) f.set('status', status);
      if (diag !== undefined) f.set('diagnostic-code', diag);
      if (subtype !== undefined) f.set(SES_SUBTYPE_FIELD, subtype);
      recipients.push(f);
    }
  } else if (type === 'Delivery') {
    const d = obj(n['delivery']);
    const list = d?.['recipients'];
    if (d === undefined || !Array.isArray(list)) return undefined;
    const mta = str(d['reportingMTA']);
    if (mta !== undefined) message.set('reporting-mta', mta);
    const response = str(d['smtpResponse']);
    const status = response === undefined ? undefined : REPLY_STATUS.exec(response)?.[1];
    for (const item of list.slice(0, MAX_RECIPIENTS)) {
      const address = str(item);
      if (address === undefined) continue;
      const f = new Map<string, string>([
        ['final-recipient', `rfc822; ${address}`],
        ['action', 'delivered'],
        ['status', status ?? '2.0.0'],
      ]);
      if (response !== undefined) f.set('diagnostic-code', `smtp; ${response}`);
      recipients.push(f);
    }
  } else return undefined;
  return recipients.length === 0 ? undefined : { message, recipients };
}
