/**
 * Complaint parsing: ARF abuse reports (RFC 5965 `multipart/report;
 * report-type=feedback-report`, with RFC 6591 auth-failure and RFC 6430 not-spam types) and
 * a few common non-ARF forms (unsubscribe forwards such as Apple Mail's, the old Hotmail
 * `X-HmXmrOriginalRecipient` forwards).
 *
 * Mailbox providers often redact the complaining recipient. The report then still carries the
 * returned message: its `To` (when not redacted) and mailpush's correlation headers
 * (`X-Mailpush-Job-Id`, `X-Mailpush-Message-Id`, in `originalHeaders`) identify the job.
 *
 * @module
 */

import { describeValue, MailError, MailErrorCode } from '../errors.js';
import { readMaxScanLength } from './dsn.js';
import { allAddresses, firstAddress, headersInText, parseDate, parseHeaderBlock, readInput, readOriginalHeaders, readReport, sanitizeAddress } from './mime.js';
import type { HeaderList, ReportView } from './mime.js';
import { RETURNED_MESSAGE_MARKERS } from './mta/wording.js';
import type { ComplaintReport, ParseComplaintOptions } from './types.js';

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;
const IPV6 = /^[0-9a-f:.]{2,45}$/i;
/** Local parts that providers put in place of a redacted address. */
const REDACTED = /^(?:x+|\*+|redacted|undisclosed[-_.]?recipients?|hidden|removed|anonymi[sz]ed|unknown|recipient)$/i;

/**
 * Parses a complaint: an ARF feedback report (RFC 5965) or a recognised non-ARF complaint or
 * unsubscribe forward.
 *
 * Total for strings and bytes: anything that is not a complaint gives `undefined`, never an
 * exception. Only input that is neither a string nor a `Uint8Array` throws a
 * `MAILPUSH_ERR_VALIDATION` {@link MailError}, and invalid options a `MAILPUSH_ERR_CONFIG` one.
 *
 * @param raw The whole mail as received.
 * @returns The report, or `undefined` when the mail is not a complaint.
 *
 * @example
 * ```ts
 * const complaint = parseComplaint(raw);
 * if (complaint?.feedbackType === 'abuse' && complaint.originalRcptTo) await suppress(complaint.originalRcptTo, 'complaint');
 * // redacted reports: complaint.originalHeaders?.jobId names the job that was complained about
 * ```
 */
export function parseComplaint(raw: string | Uint8Array, options?: ParseComplaintOptions): ComplaintReport | undefined {
  if (typeof raw !== 'string' && !(raw instanceof Uint8Array)) {
    throw new MailError(`Expected the complaint to be a string or a Uint8Array, got ${describeValue(raw)}`, { code: MailErrorCode.VALIDATION });
  }
  const max = readMaxScanLength(options);
  try {
    return analyze(readReport(readInput(raw, max)));
  } catch {
    return undefined;
  }
}

function analyze(view: ReportView): ComplaintReport | undefined {
  const arf = view.reportType === 'feedback-report' || view.feedbackTexts.length > 0;
  if (arf) return fromArf(view);
  return fromForward(view);
}

function returnedHeaders(view: ReportView): HeaderList | undefined {
  if (view.returned !== undefined) return view.returned;
  // The original quoted in the text (some reporters inline it after a marker line).
  const text = view.texts.join('\n\n').slice(0, 262144);
  const lines = text.split('\n', 2000);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length <= 200 && RETURNED_MESSAGE_MARKERS.some((re) => re.test(line))) return headersInText(lines.slice(i + 1).join('\n'));
  }
  return undefined;
}

function recoveredRecipient(returned: HeaderList | undefined): string | undefined {
  if (returned === undefined) return undefined;
  const hotmail = sanitizeAddress(returned.get('x-hmxmroriginalrecipient'));
  if (hotmail !== undefined) return hotmail;
  const to = allAddresses(returned.get('to'));
  if (to.length !== 1) return undefined;
  const address = to[0]!;
  return REDACTED.test(address.slice(0, address.lastIndexOf('@'))) ? undefined : address;
}

function fromArf(view: ReportView): ComplaintReport {
  const fields = parseHeaderBlock(view.feedbackTexts.join('\n').replace(/^\s+/, ''));
  const out: { -readonly [K in keyof ComplaintReport]: ComplaintReport[K] } = {
    feedbackType: /^[\w-]{1,40}/.exec((fields.get('feedback-type') ?? '').toLowerCase())?.[0] ?? 'other',
    arf: true,
  };
  const text = (name: string, max = 255): string | undefined => {
    const v = fields.get(name)?.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
    return v === undefined || v === '' ? undefined : v.slice(0, max);
  };
  const userAgent = text('user-agent');
  if (userAgent !== undefined) out.userAgent = userAgent;
  const version = text('version', 20);
  if (version !== undefined) out.version = version;
  const mailFrom = sanitizeAddress(fields.get('original-mail-from'));
  if (mailFrom !== undefined) out.originalMailFrom = mailFrom;
  const rcptTos = fields
    .getAll('original-rcpt-to')
    .map((v) => sanitizeAddress(v))
    .filter((a): a is string => a !== undefined && !REDACTED.test(a.slice(0, a.lastIndexOf('@'))))
    .slice(0, 100);
  const returned = returnedHeaders(view);
  if (rcptTos.length > 0) {
    out.originalRcptTo = rcptTos[0]!;
    out.originalRcptTos = Object.freeze(rcptTos);
    out.recipientSource = 'report';
  } else {
    const recovered = recoveredRecipient(returned);
    if (recovered !== undefined) {
      out.originalRcptTo = recovered;
      out.recipientSource = 'returned-to';
    }
  }
  const arrival = parseDate(fields.get('arrival-date') ?? fields.get('received-date'));
  if (arrival !== undefined) out.arrivalDate = arrival;
  const ip = fields.get('source-ip')?.replace(/^\[|\]$/g, '').trim();
  if (ip !== undefined && (IPV4.test(ip) || (ip.includes(':') && IPV6.test(ip)))) out.sourceIp = ip;
  const domain = text('reported-domain')?.toLowerCase();
  if (domain !== undefined && /^[a-z0-9.-]{1,253}$/.test(domain)) out.reportedDomain = domain;
  const uris = fields.getAll('reported-uri').map((u) => u.slice(0, 2048)).filter((u) => u !== '').slice(0, 50);
  if (uris.length > 0) out.reportedUris = Object.freeze(uris);
  const auth = text('authentication-results', 2048);
  if (auth !== undefined) out.authenticationResults = auth;
  finish(out, view, returned);
  return Object.freeze(out);
}

/** Non-ARF forms: unsubscribe forwards and Hotmail-style complaint forwards. */
function fromForward(view: ReportView): ComplaintReport | undefined {
  const h = view.headers;
  if (h.get('x-apple-unsubscribe')?.toLowerCase() === 'true') {
    const out: { -readonly [K in keyof ComplaintReport]: ComplaintReport[K] } = { feedbackType: 'opt-out', arf: false };
    const reporter = firstAddress(view.fromHeader);
    if (reporter !== undefined) {
      out.originalRcptTo = reporter;
      out.recipientSource = 'reporter';
    }
    finish(out, view, view.returned);
    return Object.freeze(out);
  }
  const returned = returnedHeaders(view);
  const hotmail = sanitizeAddress(returned?.get('x-hmxmroriginalrecipient'));
  if (hotmail !== undefined) {
    const out: { -readonly [K in keyof ComplaintReport]: ComplaintReport[K] } = { feedbackType: 'abuse', arf: false, originalRcptTo: hotmail, recipientSource: 'report' };
    finish(out, view, returned);
    return Object.freeze(out);
  }
  return undefined;
}

function finish(out: { -readonly [K in keyof ComplaintReport]: ComplaintReport[K] }, view: ReportView, returned: HeaderList | undefined): void {
  const from = firstAddress(view.fromHeader);
  if (from !== undefined) out.from = from;
  const original = returned === undefined ? undefined : readOriginalHeaders(returned);
  if (original !== undefined) {
    out.originalHeaders = Object.freeze(original);
    if (original.messageId !== undefined) out.originalMessageId = original.messageId;
  }
}
