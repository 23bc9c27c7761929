/**
 * Bounce parsing: RFC 3464 delivery status notifications and the non-standard bounces of
 * common mail systems (Postfix, Exim, Sendmail, qmail, Exchange/Office 365, Gmail, Yahoo,
 * Amazon SES, Domino, Courier, ...), plus recognition of RFC 3834 automatic replies.
 *
 * Every recipient's reason is decided by the same rule table as synchronous SMTP replies
 * (src/classify): the enhanced status first (RFC 3463), then the diagnostic text.
 *
 * @example
 * ```ts
 * import { parseBounce } from 'mailpush';
 *
 * const report = parseBounce(rawMail);
 * if (report.kind === 'bounce') {
 *   for (const r of report.recipients) if (r.hard) await suppress(r.address, r.reason);
 * }
 * ```
 *
 * @module
 */

import { defaultClassificationRules, defaultClassifier, parseEnhancedStatus } from '../classify/index.js';
import type { Classifier } from '../classify/index.js';
import type { ReasonFamily } from '../classify/phrases.js';
import { matchPhrases } from '../classify/phrases.js';
import { decideBounceReason, NETWORK_FAILURE } from '../classify/reason.js';
import type { ReasonVerdict } from '../classify/reason.js';
import { configError, describeValue, MailError, MailErrorCode } from '../errors.js';
import type { BounceCategory, Classification } from '../types.js';
import {
  DEFAULT_MAX_SCAN_LENGTH,
  allAddresses,
  cleanMessageId,
  firstAddress,
  forwardedReport,
  headersInText,
  MAX_SCAN_LENGTH_LIMIT,
  parseDate,
  parseHeaderBlock,
  readOriginalHeaders,
  readInput,
  readReport,
  sanitizeAddress,
} from './mime.js';
import type { HeaderField, HeaderList, ReportView } from './mime.js';
import { unwrapDiagnostic } from './mta/diagnostics.js';
import { detectMta } from './mta/families.js';
import { mdaReason, provisionalReason } from './mta/provisional.js';
import { SES_SUBTYPE_FIELD, sesJsonReport, sesSubtypeReason } from './mta/sesjson.js';
import { gmailState, MICROSOFT_NDR_HEADERS, powerMtaReason, statusReason } from './mta/tables.js';
import {
  MAILER_DIAGNOSTIC,
  MAILER_TEXT,
  MAX_BOUNCE_RECIPIENTS,
  commandToken,
  dominoRecipients,
  echoedRecipients,
  errorLines,
  findStatus,
  hasEvidence,
  inlineHeaders,
  listedRecipients,
  oneLine,
  preferStatus,
  readCommand,
  readReply,
  recipientBlocks,
  returnedRecipients,
  scanRecipients,
  splitReportText,
  subjectRecipients,
} from './mta/text.js';
import type { ReportText } from './mta/text.js';
import {
  AUTOREPLY_HEADERS,
  AUTOREPLY_SUBJECT,
  BOUNCE_BODY,
  BOUNCE_SENDER,
  BOUNCE_SUBJECT,
  DELAY_TEXT,
  FINAL_TEXT,
  LIST_ERROR_SUBJECT,
  REPORTING_HOST,
} from './mta/wording.js';
import type { BounceAction, BouncedRecipient, BounceKind, BounceResult, OriginalHeaders, ParseBounceOptions } from './types.js';

/** Families whose status is read from the text only, never from the Status field. */
const TEXT_STATUS_ONLY: ReadonlySet<string> = new Set(['opensmtpd']);
/** Lines of report text, outside the recipients' blocks, tested for error wording. */
const MAX_COMMON_LINES = 200;
/** Longest diagnostic text kept per recipient. */
const MAX_DIAGNOSTIC = 1000;

// ---------------------------------------------------------------------------------------
// Public entry point
// ---------------------------------------------------------------------------------------

/**
 * Parses a bounce: an RFC 3464 delivery status notification, the non-standard report of a
 * common mail system, a delay warning, or an RFC 3834 automatic reply.
 *
 * Total for strings and bytes: malformed, truncated, huge or hostile input gives a result
 * (at worst `{ kind: 'not-bounce', recipients: [] }`), never an exception. Only input that is
 * neither a string nor a `Uint8Array` (a `Buffer` is one) throws a `MAILPUSH_ERR_VALIDATION`
 * {@link MailError}, and invalid options a `MAILPUSH_ERR_CONFIG` one.
 *
 * @param raw The whole mail as received (headers and body), CRLF or LF.
 * @returns What the mail is and, for bounces and delays, every recipient with its action,
 *   enhanced status, reply code, diagnostic, reason category and hard/soft verdict.
 *
 * @example
 * ```ts
 * const { kind, recipients, originalHeaders } = parseBounce(raw);
 * // kind: 'bounce', recipients: [{ address: 'ann@example.org', action: 'failed', status: '5.1.1',
 * //   replyCode: 550, reason: 'userunknown', hard: true, ... }]
 * // originalHeaders?.jobId: the X-Mailpush-Job-Id of the message that bounced
 * ```
 */
export function parseBounce(raw: string | Uint8Array, options?: ParseBounceOptions): BounceResult {
  if (typeof raw !== 'string' && !(raw instanceof Uint8Array)) {
    throw new MailError(`Expected the bounce to be a string or a Uint8Array, got ${describeValue(raw)}`, { code: MailErrorCode.VALIDATION });
  }
  const max = readMaxScanLength(options);
  const classifier = readClassifier(options);
  try {
    const view = readReport(readInput(raw, max));
    const result = analyze(view, classifier);
    if (result.kind !== 'not-bounce' || result.recipients.length > 0 || view.reportType !== undefined) return result;
    // A bounce forwarded as an attachment: the enclosed report is the one to read.
    const inner = forwardedReport(view);
    return inner === undefined ? result : analyze(inner, classifier);
  } catch {
    // A bug on some unforeseen input must not take the caller's bounce processing down.
    return NOT_BOUNCE;
  }
}

/** Reads and validates `maxScanLength` (shared with the complaint parser): 1024 to {@link MAX_SCAN_LENGTH_LIMIT}. */
export function readMaxScanLength(options: unknown): number {
  if (options === undefined) return DEFAULT_MAX_SCAN_LENGTH;
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const value = (options as { maxScanLength?: unknown }).maxScanLength;
  if (value === undefined) return DEFAULT_MAX_SCAN_LENGTH;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1024 || value > MAX_SCAN_LENGTH_LIMIT) {
    throw configError('maxScanLength', `an integer from 1024 to ${MAX_SCAN_LENGTH_LIMIT} (16 MiB)`, value);
  }
  return value;
}

function readClassifier(options: ParseBounceOptions | undefined): Classifier {
  const c: unknown = options?.classifier;
  if (c === undefined) return defaultClassifier;
  if (typeof c !== 'object' || c === null || typeof (c as Classifier).classify !== 'function') throw configError('classifier', 'a Classifier from createClassifier()', c);
  return c as Classifier;
}

const NOT_BOUNCE: BounceResult = Object.freeze({ kind: 'not-bounce', recipients: Object.freeze([]) as readonly BouncedRecipient[] });

// ---------------------------------------------------------------------------------------
// Reason and hardness
// ---------------------------------------------------------------------------------------

/** Wording of delivery attempts that never reached an SMTP conversation. */
const NEVER_CONNECTED =
  /socket error|connection (?:\w+ ){0,2}(?:refused|timed? ?out|reset)|could not connect|couldn'?t connect|unable to connect|failed to connect|no route to host|network is unreachable|host (?:is )?(?:not )?(?:un)?reachable|did not accept our requests to connect|not reachable/i;

/** Ids of the default classification rules: any other id comes from a user rule. */
const DEFAULT_RULE_IDS: ReadonlySet<string> = new Set(defaultClassificationRules.map((r) => r.id));
const ADDRESS_HARD: ReadonlySet<BounceCategory> = new Set<BounceCategory>(['userunknown', 'hostunknown', 'hasmoved']);

/** The remote host a diagnostic names: `host mx.example.org[192.0.2.1] said`, `mx.example.org [192.0.2.1]`. */
function hostInText(text: string): string | undefined {
  // Only a text with a bracketed address can name one; most diagnostics do not.
  if (!text.includes('[')) return undefined;
  return HOST_IN_TEXT.exec(text.length > 4096 ? text.slice(0, 4096) : text)?.[1];
}
const HOST_IN_TEXT = /\b([a-z0-9][\w-]{0,62}(?:\.[\w-]{1,63}){1,8}\.[a-z]{2,24})\.?\s{0,2}\[(?:\d{1,3}(?:\.\d{1,3}){3}|ipv6:[\da-f:]{2,45}|[\da-f:]{2,45})\]/i;

/**
 * Decides one recipient's reason with the Sisimai-order decision (src/classify/reason.ts),
 * after the user rules of a custom classifier, and applies mailpush's own addition: a system
 * that gave up on a host it never reached did so when its queue lifetime ran out (`expired`).
 */
function decide(input: {
  status: string | undefined;
  code: number | undefined;
  text: string;
  action: BounceAction;
  command: string | undefined;
  diagnosticType: string | undefined;
  remoteHost: string | undefined;
  address: string;
  fallback: ReasonFamily | BounceCategory | undefined;
  classifier: Classifier;
}): ReasonVerdict {
  const { status, code, text, action } = input;
  const delayed = action === 'delayed';
  if (input.classifier !== defaultClassifier) {
    const c: Classification = input.classifier.classify({
      ...(status !== undefined ? { enhancedStatus: status } : {}),
      ...(code !== undefined ? { responseCode: code } : {}),
      text,
    });
    if (!DEFAULT_RULE_IDS.has(c.rule)) {
      const hard = !delayed && (c.hard || (action === 'failed' && ADDRESS_HARD.has(c.category)));
      return { reason: c.category, hard, decidedBy: { rule: `custom/${c.rule}`, family: c.category } };
    }
  }
  const domain = input.address.slice(input.address.lastIndexOf('@') + 1);
  const provisional = (input.fallback as ReasonFamily | undefined) ?? (delayed ? 'expired' : undefined);
  const v = decideBounceReason({
    status,
    replyCode: code,
    text,
    command: input.command,
    action,
    diagnosticType: input.diagnosticType,
    remoteHost: input.remoteHost ?? hostInText(text),
    recipientDomain: domain,
    provisional,
  });
  if (action === 'failed' && code === undefined && (v.reason === 'networkerror' || v.reason === 'onhold') && NEVER_CONNECTED.test(text) && matchPhrases(text.toLowerCase(), NETWORK_FAILURE) === undefined) {
    // Mail systems only give up on unreachable hosts once the queue lifetime is over. The
    // reference's own network-failure wording ("no route to host") stays networkerror.
    return { reason: 'expired', hard: false, decidedBy: { ...v.decidedBy, rule: 'mailpush/gave-up-unreachable', family: 'expired' } };
  }
  return v;
}

// ---------------------------------------------------------------------------------------
// RFC 3464 delivery-status fields
// ---------------------------------------------------------------------------------------

const PER_MESSAGE_FIELDS = new Set(['reporting-mta', 'arrival-date', 'received-from-mta', 'original-envelope-id', 'dsn-gateway', 'x-postfix-queue-id', 'x-postfix-sender']);
const RECIPIENT_FIELDS = new Set(['final-recipient', 'original-recipient', 'x-actual-recipient']);
const REPEATABLE_PER_RECIPIENT = new Set(['final-recipient', 'original-recipient', 'action', 'status', 'diagnostic-code', 'remote-mta', 'x-actual-recipient']);

interface DsnFields {
  readonly message: Map<string, string>;
  readonly recipients: Map<string, string>[];
}

function parseDeliveryStatus(texts: readonly string[]): DsnFields {
  const message = new Map<string, string>();
  const recipients: Map<string, string>[] = [];
  for (const text of texts) {
    for (const block of text.split(/\n[ \t]*\n/)) {
      // Blank runs (a mangled part can be mostly blank lines) hold no field.
      if (!block.includes(':')) continue;
      const fields: readonly HeaderField[] = parseHeaderBlock(dedent(block.replace(/^\s*\n/, '')), true).fields;
      let cur = new Map<string, string>();
      const push = (): void => {
        if ([...RECIPIENT_FIELDS].some((f) => cur.has(f)) || cur.has('action') || cur.has('status')) recipients.push(cur);
        cur = new Map<string, string>();
      };
      for (const f of fields) {
        if (PER_MESSAGE_FIELDS.has(f.name)) {
          if (!message.has(f.name)) message.set(f.name, f.value.trim());
          continue;
        }
        // Fields come in any order (Facebook writes Diagnostic-Code first, SES Action first), so
        // a repeated field opens the next recipient, and so does an Original-Recipient after a
        // complete recipient (RFC 3464 order: Original-Recipient, Final-Recipient, ...).
        const startsNew =
          (REPEATABLE_PER_RECIPIENT.has(f.name) && cur.has(f.name)) ||
          (f.name === 'original-recipient' && cur.has('final-recipient') && cur.has('status'));
        if (startsNew) push();
        if (!cur.has(f.name)) cur.set(f.name, f.value.trim());
      }
      push();
      if (recipients.length >= MAX_BOUNCE_RECIPIENTS) break;
    }
  }
  return { message, recipients: recipients.slice(0, MAX_BOUNCE_RECIPIENTS) };
}

/**
 * A block of fields written with an indentation (some gateways indent the whole part): the
 * first line's indentation removed from every line, so its fields are fields and only the
 * lines indented further are continuations.
 */
function dedent(block: string): string {
  const indent = /^[ \t]+(?=[A-Za-z][\w-]{0,40}[ \t]*:)/.exec(block)?.[0];
  if (indent === undefined) return block;
  return block
    .split('\n')
    .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
    .join('\n');
}

/** DSN fields written into a text part (mislabelled delivery-status parts, some gateways). */
function dsnInText(text: string): string | undefined {
  const m = /^(?:Reporting-MTA|Final-Recipient|Original-Recipient|Arrival-Date|Received-From-MTA)[ \t]*:/im.exec(text);
  if (!m || !/^(?:Final|Original)-Recipient[ \t]*:/im.test(text) || !/^(?:Action|Status)[ \t]*:/im.test(text)) return undefined;
  return text.slice(m.index);
}

function readAction(value: string | undefined): BounceAction | undefined {
  const v = (value ?? '').trim().toLowerCase();
  if (v.startsWith('fail')) return 'failed';
  if (v.startsWith('delay')) return 'delayed';
  if (v.startsWith('deliver')) return 'delivered';
  if (v.startsWith('relay')) return 'relayed';
  if (v.startsWith('expand')) return 'expanded';
  return undefined;
}

/** `smtp; 550 ...` into its type and text. */
function splitTyped(value: string | undefined): { type?: string; text: string } {
  if (value === undefined) return { text: '' };
  const m = /^\s*([A-Za-z][\w.-]{0,30})\s*;\s*/.exec(value);
  return m ? { type: m[1]!, text: value.slice(m[0].length).trim() } : { text: value.trim() };
}

// ---------------------------------------------------------------------------------------
// The analysis
// ---------------------------------------------------------------------------------------

function senderAddresses(view: ReportView, original: HeaderList | undefined, dsnMessage: Map<string, string> | undefined): Set<string> {
  const out = new Set<string>();
  const add = (v: string | undefined): void => {
    for (const a of allAddresses(v, 20)) out.add(a.toLowerCase());
  };
  const h = view.headers;
  add(view.fromHeader);
  add(h.get('to'));
  add(h.get('return-path'));
  add(h.get('sender'));
  add(h.get('reply-to'));
  if (original !== undefined) {
    add(original.get('from'));
    add(original.get('sender'));
    add(original.get('return-path'));
    add(original.get('reply-to'));
    add(original.get('errors-to'));
  }
  if (dsnMessage !== undefined) add(dsnMessage.get('x-postfix-sender'));
  return out;
}

function isAutoReply(view: ReportView, strongOnly: boolean): boolean {
  const h = view.headers;
  for (const [name, re] of AUTOREPLY_HEADERS) {
    const v = h.get(name);
    if (v !== undefined && re.test(v)) return true;
  }
  if (AUTOREPLY_SUBJECT.test(view.subject)) return true;
  if (strongOnly) return false;
  return /^auto-replied\b/i.test(h.get('auto-submitted') ?? '');
}

/** An unsubscribe request or ARF report: the complaint parser's business. */
function isComplaintMail(view: ReportView): boolean {
  if (view.reportType === 'feedback-report' || view.feedbackTexts.length > 0) return true;
  const h = view.headers;
  return h.get('x-apple-unsubscribe') === 'true' || view.reportType === 'disposition-notification';
}

/** MAILER-DAEMON, postmaster and friends, or the empty sender `<>`. */
function isSystemSender(from: string): boolean {
  return BOUNCE_SENDER.test(from) || /^<?>?$/.test(from.replace(/\s/g, ''));
}

function bounceScore(view: ReportView, report: ReportText, returnPathEmpty: boolean): number {
  let score = 0;
  if (isSystemSender(view.fromHeader)) score += 2;
  if (BOUNCE_SUBJECT.test(view.subject)) score += 2;
  const head = report.lines.slice(0, 80).join('\n');
  if (BOUNCE_BODY.test(head)) score += 2;
  if (returnPathEmpty) score += 1;
  if (view.hasReturnedPart) score += 1;
  if (view.headers.has('x-failed-recipients')) score += 3;
  // A mailing list manager's error mail (fml's X-MLServer) about a post it refused or looped.
  if (view.headers.has('x-mlserver') && LIST_ERROR_SUBJECT.test(view.subject)) score += 3;
  return score;
}

/** What the per-recipient readers share. */
interface Context {
  readonly lines: readonly string[];
  readonly blocks: Map<string, number[]>;
  /** The address each recipient named in the text was expanded from (its `originalRecipient`). */
  readonly expandedFrom: ReadonlyMap<string, string>;
  /** Error lines of the report that belong to no recipient (the shared explanation). */
  readonly commonErrors: () => readonly string[];
  /** Whether the report is a delay warning (computed on first use: DSNs with Action fields never ask). */
  readonly delayedReport: () => boolean;
  readonly fallback: BounceCategory | undefined;
  /** The family that wrote the report (./mta/families.ts), for its own provisional reasons. */
  readonly mta: string | undefined;
  /** The family whose own status table applies (./mta/tables.ts), if any. */
  readonly statusTable: string | undefined;
  /** The report's human-readable text, its lines joined. */
  readonly text: string;
  /** Whether the text is prose that can explain a recipient (not a JSON notification). */
  readonly prose: boolean;
  /** The reason a local delivery agent's line in the report names (computed on first use). */
  readonly mda: () => ReasonFamily | undefined;
  readonly classifier: Classifier;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One recipient of an RFC 3464 report, completed from its lines in the human-readable part. */
function fromDsn(fields: Map<string, string>, address: string, ctx: Context, single: boolean): BouncedRecipient {
  const original = sanitizeAddress(splitTyped(fields.get('original-recipient')).text);
  const diag = splitTyped(fields.get('diagnostic-code'));
  const block = ctx.blocks.get(address) ?? (original !== undefined ? ctx.blocks.get(original) : undefined) ?? [];
  const blockText = errorLines(ctx.lines, block, address).join('\n');
  const unwrapped = unwrapDiagnostic(diag.text);
  let diagText = unwrapped.text;
  let reply = readReply(diagText);
  // An empty or code-less Diagnostic-Code: the human-readable part often says more.
  if (ctx.prose && (diagText === '' || (reply.code === undefined && reply.status === undefined && hasEvidence(blockText, ctx.classifier)))) {
    const extra = blockText !== '' ? blockText : single ? ctx.commonErrors().join('\n') : '';
    if (extra !== '') {
      diagText = diagText === '' ? extra : `${diagText}\n${extra}`;
      reply = readReply(diagText);
    }
  }
  // The remote server's own status (right after its reply code) beats the reporting MTA's
  // Status field, which is often a generic X.0.0 or a guess.
  // OpenSMTPD's reports are read from their text, as the reference's format reader does: the
  // Status field of its delivery-status part is its own queue verdict (4.4.7 on every expiry),
  // not a code any server gave.
  // A Status field is a bare code; a few systems write the reply before it (`Status: 550 5.1.1`).
  const statusField = fields.get('status');
  const field = TEXT_STATUS_ONLY.has(ctx.mta ?? '') || statusField === undefined ? undefined : (parseEnhancedStatus(statusField) ?? findStatus(statusField.slice(0, 64)));
  const status = preferStatus(field, reply.status ?? unwrapped.status, reply.code);
  const action = readAction(fields.get('action')) ?? (status?.startsWith('2') ? 'delivered' : status?.startsWith('4') && ctx.delayedReport() ? 'delayed' : 'failed');
  // The phrase naming the refused command, else a verb the diagnostic names in capitals (the reference's last resort).
  // A single recipient's report may show the refused command away from its lines (Sendmail's
  // session transcript: `>>> DATA` / `<<< 554 ...` without the address).
  const state = gmailState(ctx.mta, diagText);
  const command =
    state?.command ?? readCommand(`${diag.text}\n${blockText}`) ?? (single && ctx.prose && ctx.text.length < 20000 ? readCommand(ctx.text) : undefined) ?? commandToken(diagText);
  const mailer = (diag.type !== undefined && MAILER_DIAGNOSTIC.test(diag.type)) || MAILER_TEXT.test(diagText) || /;\s*\|/.test(fields.get('final-recipient') ?? '');
  const remote = clean(splitTyped(fields.get('remote-mta')).text, 255);
  const verdict = decide({
    status,
    code: reply.code,
    text: diagText,
    action,
    command,
    diagnosticType: mailer ? 'X-Unix' : diag.type,
    remoteHost: remote !== '' ? remote : undefined,
    address,
    // `Action: expired` (not an RFC 3464 action, but written by some MTAs): the queue lifetime
    // ran out, the reference's provisional expired, which a more specific reason replaces.
    fallback:
      powerMtaReason(fields.get('x-powermta-bouncecategory')) ??
      sesSubtypeReason(fields.get(SES_SUBTYPE_FIELD)) ??
      state?.reason ??
      statusReason(ctx.statusTable, status) ??
      provisionalReason(ctx.mta, diagText) ??
      ctx.mda() ??
      ctx.fallback ??
      (/^\s*expired/i.test(fields.get('action') ?? '') ? 'expired' : undefined),
    classifier: ctx.classifier,
  });

  const r: Mutable<BouncedRecipient> = { address, action, reason: verdict.reason, hard: verdict.hard, decidedBy: verdict.decidedBy };
  if (original !== undefined) r.originalRecipient = original;
  if (status !== undefined) r.status = status;
  if (reply.code !== undefined) r.replyCode = reply.code;
  const rawDiag = fields.get('diagnostic-code');
  if (rawDiag !== undefined && rawDiag !== '') r.diagnosticCode = clean(rawDiag, MAX_DIAGNOSTIC);
  else if (diagText !== '') r.diagnosticCode = oneLine(diagText);
  if (diagText !== '') r.diagnosticText = oneLine(diagText);
  if (remote !== '') r.remoteMta = remote;
  const until = parseDate(fields.get('will-retry-until'));
  if (until !== undefined && action === 'delayed') r.willRetryUntil = until;
  if (command !== undefined) r.command = command;
  return Object.freeze(r);
}

/** One recipient of a non-standard report: its lines, else the report's shared error lines. */
function fromText(address: string, ctx: Context, single: boolean, wholeText: string): BouncedRecipient {
  const block = errorLines(ctx.lines, ctx.blocks.get(address) ?? [], address);
  // The recipient's own lines, unless they only paraphrase ("has been blocked") while the
  // report quotes the server's reply elsewhere (Gmail's "The response was:").
  const own = readReply(block.join('\n'));
  const sharedReply = (): boolean =>
    ctx.commonErrors().some((l) => {
      const r = readReply(l, false);
      return r.code !== undefined || r.status !== undefined;
    });
  const ownEnough = own.code !== undefined || own.status !== undefined || (block.length > 0 && !sharedReply() && hasEvidence(block.join('\n'), ctx.classifier));
  const lines = ownEnough ? block : [...block, ...ctx.commonErrors()];
  const diagText = lines.join('\n');
  const unwrapped = unwrapDiagnostic(diagText);
  const reply = readReply(unwrapped.text);
  const status = reply.status ?? unwrapped.status;
  const action: BounceAction = ctx.delayedReport() ? 'delayed' : 'failed';
  const state = gmailState(ctx.mta, diagText);
  const command = state?.command ?? readCommand(diagText) ?? (single && wholeText.length < 20000 ? readCommand(wholeText) : undefined) ?? commandToken(diagText);
  const verdict = decide({
    status,
    code: reply.code,
    text: unwrapped.text,
    action,
    command,
    diagnosticType: MAILER_TEXT.test(diagText) ? 'X-Unix' : undefined,
    remoteHost: hostInText(diagText),
    address,
    // A report that gives this recipient no line of its own nor any shared error line: its
    // family's own wording anywhere in the report (Verizon's `Error: No valid recipients for this MM`).
    fallback:
      state?.reason ??
      statusReason(ctx.statusTable, status) ??
      provisionalReason(ctx.mta, diagText) ??
      (diagText === '' && ctx.mta !== undefined ? provisionalReason(ctx.mta, ctx.text.slice(0, 8192)) : undefined) ??
      ctx.mda() ??
      ctx.fallback,
    classifier: ctx.classifier,
  });

  const r: Mutable<BouncedRecipient> = { address, action, reason: verdict.reason, hard: verdict.hard, decidedBy: verdict.decidedBy };
  const expandedFrom = ctx.expandedFrom.get(address);
  if (expandedFrom !== undefined) r.originalRecipient = expandedFrom;
  if (status !== undefined) r.status = status;
  if (reply.code !== undefined) r.replyCode = reply.code;
  if (diagText !== '') {
    r.diagnosticCode = oneLine(diagText);
    r.diagnosticText = oneLine(unwrapped.text);
  }
  if (command !== undefined) r.command = command;
  return Object.freeze(r);
}

/** Control characters out, capped: fields copied from the report into results and logs. */
function clean(value: string, max: number): string {
  const v = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return v.length > max ? v.slice(0, max) : v;
}

function analyze(view: ReportView, classifier: Classifier): BounceResult {
  const base: Mutable<BounceResult> = { kind: 'not-bounce', recipients: [] };
  const fromAddress = firstAddress(view.fromHeader);
  if (fromAddress !== undefined) base.from = fromAddress;
  if (view.subject !== '') base.subject = view.subject.slice(0, 998);
  if (isComplaintMail(view)) return Object.freeze(base);

  const report = splitReportText(view.texts);
  // The returned message: a MIME part, the text after a "copy of the message follows" line, else
  // a header block quoted inline (found by its Message-ID line).
  const originalList = view.returned ?? (report.returned !== '' ? headersInText(report.returned) : inlineHeaders(report.lines));
  const original: OriginalHeaders | undefined = originalList === undefined ? undefined : readOriginalHeaders(originalList);

  // RFC 3464 fields, from delivery-status parts or written into the text.
  const dsnSources = [...view.dsnTexts];
  if (dsnSources.length === 0) {
    for (const t of view.texts) {
      const d = dsnInText(t);
      if (d !== undefined) dsnSources.push(d);
    }
  }
  let prose = true;
  let dsn: DsnFields | undefined = dsnSources.length > 0 ? parseDeliveryStatus(dsnSources) : undefined;
  let dsnRecipients = dsn?.recipients.filter((r) => dsnAddress(r) !== undefined) ?? [];
  // An Amazon SES notification mailed by an SNS email subscription: its JSON as the body.
  if (dsnRecipients.length === 0 && view.texts.length > 0 && view.texts[0]!.trimStart().startsWith('{')) {
    const ses = sesJsonReport(view.texts[0]!);
    if (ses !== undefined) {
      dsn = ses;
      prose = false;
      dsnRecipients = ses.recipients.filter((r) => dsnAddress(r) !== undefined);
    }
  }

  const returnPath = view.headers.get('return-path');
  const returnPathEmpty = returnPath !== undefined && /^<\s*>$/.test(returnPath.trim());
  const score = bounceScore(view, report, returnPathEmpty);
  const isDsnReport = view.reportType === 'delivery-status' || dsnRecipients.length > 0;

  if (!isDsnReport) {
    if (isAutoReply(view, true) && score < 4) return Object.freeze({ ...base, kind: 'autoreply' as const });
    if (score < 3) return Object.freeze(isAutoReply(view, false) ? { ...base, kind: 'autoreply' as const } : base);
  }

  const excluded = senderAddresses(view, originalList, dsn?.message);
  const scan = scanRecipients(report.lines, excluded);
  const blocks = recipientBlocks(report.lines, scan);
  const text = report.lines.join('\n');
  let delayed: boolean | undefined;
  const delayedReport = (): boolean => {
    if (delayed === undefined) {
      const head = [view.subject, report.lines.slice(0, 60).join('\n')].join('\n');
      delayed = DELAY_TEXT.test(head) && !FINAL_TEXT.test(head);
    }
    return delayed;
  };
  const inBlocks = new Set<number>();
  for (const list of blocks.values()) for (const i of list) inBlocks.add(i);
  // Error lines outside every recipient's block: found only when a recipient needs them (a
  // DSN whose Diagnostic-Code quotes the reply never does), since testing each line costs.
  let commonErrors: string[] | undefined;
  const common = (): readonly string[] => {
    if (commonErrors !== undefined) return commonErrors;
    commonErrors = [];
    for (let i = 0, tested = 0; i < report.lines.length && tested < MAX_COMMON_LINES; i++) {
      if (inBlocks.has(i)) continue;
      const line = report.lines[i]!.trim();
      if (line.length < 8) continue;
      tested++;
      if (hasEvidence(line, classifier)) commonErrors.push(line);
    }
    return commonErrors;
  };
  const headerNames = view.headers.fields.map((f) => f.name).join('\n') + '\n' + [...(dsn?.message.keys() ?? [])].join('\n');
  const mta = detectMta({
    from: view.fromHeader,
    subject: view.subject,
    headers: view.headerBlock.slice(0, 65536),
    headerNames,
    body: text,
    reportingMta: dsn?.message.get('reporting-mta') ?? '',
  });
  let mda: ReasonFamily | undefined | null = null;
  const ctx: Context = {
    lines: report.lines,
    blocks,
    expandedFrom: scan.expandedFrom,
    commonErrors: common,
    delayedReport,
    fallback: mta?.fallbackReason,
    mta: mta?.id,
    // Office 365's status table only for reports that Exchange Online wrote (its own headers), as
    // the reference's reader requires: not for another system's report that quotes its reply.
    statusTable: mta?.id === 'office365' && MICROSOFT_NDR_HEADERS.test(headerNames) ? 'office365' : undefined,
    text,
    prose,
    mda: () => (mda === null ? (mda = mdaReason(text)) : mda),
    classifier,
  };

  const recipients: BouncedRecipient[] = [];
  const seen = new Set<string>();
  // Lotus Domino: the recipient its text names under "was not delivered to:" is the one, as the
  // reference reads it, when its delivery-status part names a single other address.
  const domino = mta?.id === 'domino' && dsnRecipients.length === 1 ? dominoRecipients(report.lines, excluded) : [];
  if (dsnRecipients.length > 0) {
    for (const fields of dsnRecipients) {
      const address = domino.length === 1 ? domino[0]! : dsnAddress(fields)!;
      if (seen.has(address.toLowerCase())) continue;
      seen.add(address.toLowerCase());
      recipients.push(fromDsn(fields, address, ctx, dsnRecipients.length === 1));
    }
  } else {
    const candidates = [...scan.recipients];
    // Exim and Google name the failed addresses in a header too; the text is preferred since
    // it carries each address's error.
    if (candidates.length === 0) candidates.push(...allAddresses(view.headers.getAll('x-failed-recipients').join(', '), MAX_BOUNCE_RECIPIENTS));
    // The report names nobody in its prose: recipients it echoes in header or transcript lines
    // (`To: a@b.example`, `RCPT TO:<a@b.example>`), else the returned message's recipient.
    if (candidates.length === 0) candidates.push(...echoedRecipients(report.lines, excluded));
    // Some name the failed address only in their Subject (Domino's "DELIVERY FAILURE: User ... (addr)").
    if (candidates.length === 0 && (score >= 4 || returnPathEmpty || isSystemSender(view.fromHeader))) candidates.push(...subjectRecipients(view.subject, excluded));
    if (candidates.length === 0 && (score >= 4 || returnPathEmpty || isSystemSender(view.fromHeader)) && originalList !== undefined) {
      candidates.push(...returnedRecipients(originalList, excluded));
    }
    // Nobody else: a message its sender sent to itself (the sender's own full mailbox). The
    // addresses the report lists as recipients at the start of a line, our sender's included.
    if (candidates.length === 0 && (score >= 4 || returnPathEmpty || isSystemSender(view.fromHeader))) {
      const own = listedRecipients(report.lines, new Set(fromAddress !== undefined ? [fromAddress.toLowerCase()] : []));
      for (const [address, list] of recipientBlocks(report.lines, own)) blocks.set(address, list);
      candidates.push(...own.recipients);
    }
    // A delivery-status part with one recipient block whose address is not usable (`Final-Recipient:
    // LOCAL; ann`, `rfc822; @mx.example`), and one recipient named in the text: the block's fields
    // (Action, Status, Diagnostic-Code) are that recipient's.
    const unnamed = dsn !== undefined && prose && dsn.recipients.length === 1 && new Set(candidates.map((a) => a.toLowerCase())).size === 1 ? dsn.recipients[0] : undefined;
    for (const address of candidates) {
      if (seen.has(address.toLowerCase())) continue;
      seen.add(address.toLowerCase());
      recipients.push(unnamed !== undefined ? fromDsn(unnamed, address, ctx, true) : fromText(address, ctx, candidates.length === 1, text));
    }
  }

  // A mail that only reads like a bounce (a person's "could not be delivered" message) must
  // come from a mail system or say what failed before its addresses are reported.
  const fromSystem = isDsnReport || returnPathEmpty || view.headers.has('x-failed-recipients') || isSystemSender(view.fromHeader);
  const explained = recipients.some((r) => (r.reason !== 'undefined' && r.reason !== 'onhold') || r.status !== undefined || r.replyCode !== undefined);
  if (recipients.length === 0 || (!fromSystem && !explained)) {
    return Object.freeze(isAutoReply(view, false) && !isDsnReport ? { ...base, kind: 'autoreply' as const } : base);
  }

  let kind: BounceKind = 'bounce';
  if (!recipients.some((r) => r.action === 'failed')) kind = recipients.some((r) => r.action === 'delayed') ? 'delay' : 'not-bounce';
  // Built field by field rather than spread from `base`: the spread's copies of the report
  // objects' many shapes made every later field store a slow one.
  const result: Mutable<BounceResult> = { kind, recipients: Object.freeze(recipients) };
  if (base.from !== undefined) result.from = base.from;
  if (base.subject !== undefined) result.subject = base.subject;
  const reportingMta = clean(splitTyped(dsn?.message.get('reporting-mta')).text || (REPORTING_HOST.exec(text.slice(0, 4096))?.[1] ?? ''), 255);
  if (reportingMta !== '') result.reportingMta = reportingMta;
  const arrival = parseDate(dsn?.message.get('arrival-date'));
  if (arrival !== undefined) result.arrivalDate = arrival;
  if (original !== undefined) result.originalHeaders = Object.freeze(original);
  const messageId = original?.messageId ?? cleanMessageId(quotedMessageId(report.returned.slice(0, 65536)));
  if (messageId !== undefined) result.originalMessageId = messageId;
  if (mta !== undefined) result.mta = mta.id;
  return Object.freeze(result);
}

const MESSAGE_ID_FIELD = /Message-ID:[ \t]*(<[^<>\s]{1,900}>)/gi;

/**
 * The `Message-ID:` of a returned copy quoted in the text, at the start of a line (after
 * blanks or `>` quoting). Searching the field name and checking the line start is much faster
 * than a multi-line `^` pattern over 64 KiB.
 */
function quotedMessageId(text: string): string | undefined {
  // exec rather than matchAll (which copies the pattern on each call); lastIndex reset on the way out.
  const re = MESSAGE_ID_FIELD;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    let i = m.index - 1;
    while (i >= 0 && (text[i] === ' ' || text[i] === '\t' || text[i] === '>')) i--;
    if (i < 0 || text[i] === '\n') {
      re.lastIndex = 0;
      return m[1];
    }
  }
  re.lastIndex = 0;
  return undefined;
}

function dsnAddress(fields: Map<string, string>): string | undefined {
  for (const name of ['final-recipient', 'x-actual-recipient', 'original-recipient']) {
    const a = sanitizeAddress(splitTyped(fields.get(name)).text);
    if (a !== undefined) return a;
  }
  // `rfc822;|/usr/bin/program user@example.com`: a pipe or alias; the address inside it.
  for (const name of ['final-recipient', 'original-recipient']) {
    const a = allAddresses(fields.get(name), 1)[0];
    if (a !== undefined) return a;
  }
  return undefined;
}
