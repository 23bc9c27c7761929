/**
 * Reading the human-readable part of a report, which is all there is in the non-standard
 * bounces of most mail systems: where the report ends and the returned message begins, which
 * addresses are the bounced recipients (not our sender, the postmaster or a Message-ID), the
 * lines that belong to each, and the reply code, enhanced status and refused SMTP command
 * they quote. Generic: the wording it relies on is in ./wording.ts.
 *
 * @module
 */

import type { Classifier } from '../../classify/index.js';
import { defaultClassifier, normalizeResponseText } from '../../classify/index.js';
import { hasReasonWording } from '../../classify/phrases.js';
import type { HeaderList } from '../mime.js';
import { ADDRESS_IN_TEXT, allAddresses, headersInText, isHeaderLine, sanitizeAddress } from '../mime.js';
import { HEADER_ECHO_LINE, RETURNED_MESSAGE_MARKERS } from './wording.js';

/** Most recipients reported from one bounce. */
export const MAX_BOUNCE_RECIPIENTS = 500;
/** Most characters of human-readable report text examined. */
const MAX_REPORT_TEXT = 256 * 1024;
/** Most lines of report text examined. */
const MAX_REPORT_LINES = 4000;
/** Longest line examined for addresses and wording. */
const MAX_LINE = 2000;
/** Mentions of one recipient whose surrounding lines are read. */
const MAX_MENTIONS = 20;
/** Longest diagnostic text kept per recipient. */
const MAX_DIAGNOSTIC = 1000;

// ---------------------------------------------------------------------------------------
// Report text: the human part, cut where the returned message begins
// ---------------------------------------------------------------------------------------

/** The human-readable part of a report, split where the returned message begins. */
export interface ReportText {
  /** Lines of the report before the returned copy. */
  readonly lines: readonly string[];
  /** Text after the "copy of the message follows" marker, if any. */
  readonly returned: string;
}

/**
 * The markers as two patterns: those anchored at the start of the line (tried there only) and
 * the others (searched along the line): one test each per line instead of one per marker. As one
 * pattern, every anchored marker was tried at every position of every line.
 */
const RETURNED_MARKER_AT_START = new RegExp(`^(?:${RETURNED_MESSAGE_MARKERS.filter((re) => re.source.startsWith('^')).map((re) => `(?:${re.source.slice(1)})`).join('|')})`, 'i');
const RETURNED_MARKER_ANYWHERE = new RegExp(RETURNED_MESSAGE_MARKERS.filter((re) => !re.source.startsWith('^')).map((re) => `(?:${re.source})`).join('|'), 'i');

/**
 * Every match of a global pattern in a text, by `exec` (`matchAll` copies the pattern on each
 * call). The pattern must be this module's own: its `lastIndex` is reset before and after.
 */
function execAll(re: RegExp, text: string): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out.push(m);
    if (m[0] === '') re.lastIndex++;
  }
  re.lastIndex = 0;
  return out;
}

/** Joins the report's texts and cuts them at the first "copy of the message follows" line (bounded). */
export function splitReportText(texts: readonly string[]): ReportText {
  let all = texts.join('\n\n');
  if (all.length > MAX_REPORT_TEXT) all = all.slice(0, MAX_REPORT_TEXT);
  // Line by line up to the marker: the returned copy after it is sliced off whole, never split.
  const lines: string[] = [];
  for (let start = 0; start <= all.length && lines.length < MAX_REPORT_LINES; ) {
    let end = all.indexOf('\n', start);
    if (end < 0) end = all.length;
    const line = all.slice(start, end);
    if (line.length <= 200 && !isBlank(line) && (RETURNED_MARKER_AT_START.test(line) || RETURNED_MARKER_ANYWHERE.test(line))) return { lines, returned: all.slice(end + 1) };
    lines.push(capLine(line));
    start = end + 1;
  }
  return { lines, returned: '' };
}

/** Whether a line is empty or only white space (`trim() === ''`), without a trimmed copy: most lines start with a printable ASCII character. */
export function isBlank(line: string): boolean {
  const c = line.charCodeAt(0);
  if (c > 0x20 && c < 0x7f) return false;
  return line.trim() === '';
}

function capLine(line: string): string {
  return line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line;
}

// ---------------------------------------------------------------------------------------
// Reply codes, statuses, commands in diagnostic text
// ---------------------------------------------------------------------------------------

/**
 * An error reply code followed by an enhanced status: `550 5.1.1`, `550-5.1.1`, `550 #5.1.1`,
 * `550-'5.7.1` (SES), `550: 5.1.1` (Yahoo), or split by a wrapped line (`said: 554\n    5.7.1`).
 */
const CODE_AND_STATUS = /(?<![\w.:/-])([45]\d\d)(?:[ -]{1,2}|:?\s{1,12})['"#(]?(?:[45]\d\d[ -])?#?([45]\.\d{1,3}\.\d{1,3})(?![\w.]|\.\d)/;
/** A reply code where a server reply is quoted. */
const CODE_ONLY = /(?:^|[\s;:(\[<>#"'=])([45][0-5]\d)(?=[ -]{1,3}(?:[A-Za-z<#\[('":]|[45]\.\d))/m;
/**
 * The reply codes a server sends with an error, in the reference's order of preference
 * (Sisimai::SMTP::Reply): a looser search for texts that quote the code in other ways
 * (`ERROR_CODE :550`, `ResponseCode 421`, `550:`).
 */
const ERROR_REPLY_CODES: Readonly<Record<'4' | '5', readonly string[]>> = {
  '5': ['550', '552', '553', '551', '521', '525', '502', '520', '523', '524', '530', '533', '534', '535', '538', '555', '556', '554', '500', '501', '503', '504', '557'],
  '4': ['421', '450', '451', '452', '422', '430', '432', '453', '454', '455', '458', '459'],
};
/** IPv4 addresses: masked before a status or a code is searched (`192.0.2.1` holds neither). */
const IPV4 = /(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.]?\d)/g;
const HAS_IPV4 = new RegExp(IPV4.source);
/** An enhanced status in text: class 2/4/5, subject 0-7, 1-3 detail digits, not part of a number or version. */
const STATUS_IN_TEXT = /(?<![\w.])([245])\.[0-7]\.\d{1,3}(?!\d|\.\d)/g;

/** The reply a diagnostic quotes. */
export interface Reply {
  readonly code?: number;
  readonly status?: string;
  /** Whether the status stood right after the reply code (the remote server's own). */
  readonly statusWithCode: boolean;
}

/** Whether a status is only a last resort among the codes of a text: `X.0.0`, or `4.4.7` (the sender's own give-up). */
function lastResortStatus(status: string): boolean {
  return status.endsWith('.0.0') || status === '4.4.7';
}

/**
 * The enhanced status a text quotes, as the reference finds it (Sisimai::SMTP::Status->find):
 * IPv4 addresses masked; only codes of the reply code's class when there is a reply code, else
 * class 5 before 4 before 2; the first specific code wins, `X.0.0` and `4.4.7` are last resorts.
 */
export function findStatus(text: string, replyCode?: number): string | undefined {
  // Most lines hold no status at all: one cheap test before the masking and the scan.
  if (!MAYBE_STATUS.test(text)) return undefined;
  const t = HAS_IPV4.test(text) ? text.replace(IPV4, '*') : text;
  const wanted = replyCode !== undefined ? String(replyCode)[0]! : undefined;
  let best: string | undefined;
  let bestClass = 9;
  let fallback: string | undefined;
  let fallbackClass = 9;
  for (const m of execAll(STATUS_IN_TEXT, t)) {
    const c = m[1]!;
    if (wanted !== undefined && c !== wanted) continue;
    const rank = CLASS_RANK[c]!;
    if (!lastResortStatus(m[0])) {
      if (rank < bestClass) [best, bestClass] = [m[0], rank];
    } else if (rank < fallbackClass) [fallback, fallbackClass] = [m[0], rank];
  }
  return best ?? fallback;
}
const MAYBE_STATUS = /[245]\.[0-7]\.\d/;
/** What every reply code or status contains. */
const MAYBE_REPLY = /[45]\d\d|[245]\.[0-7]\.\d/;
const NO_REPLY: Reply = Object.freeze({ statusWithCode: false });
const CLASS_RANK: Readonly<Record<string, number>> = { '5': 0, '4': 1, '2': 2 };

/** Candidate error reply codes: three digits not touching a word character, `.` or `/` before, nor a digit, `.` or `/` after. */
const LOOSE_CODE = /(?<![\w./])[45][0-5]\d(?![\d./])/g;
/** Preference rank of each error reply code (lower first), by class. */
const CODE_RANK: ReadonlyMap<string, number> = new Map([...ERROR_REPLY_CODES['5'], ...ERROR_REPLY_CODES['4']].map((c, i) => [c, i]));

/**
 * An error reply code anywhere in a text, not touching a digit, `.` or `/` (the reference's
 * Sisimai::SMTP::Reply->find): codes of the status's class when there is a status, else 5xx
 * before 4xx; within a class, in the reference's order of preference.
 */
export function findReplyCode(text: string, status?: string): number | undefined {
  if (status?.[0] === '2') return undefined;
  const t = HAS_IPV4.test(text) ? text.replace(IPV4, '*') : text;
  let best: string | undefined;
  for (const m of execAll(LOOSE_CODE, t)) {
    const code = m[0];
    const rank = CODE_RANK.get(code);
    if (rank === undefined || (status !== undefined && code[0] !== status[0])) continue;
    // A group of an IPv6 address (`2001:db8:550::1`), not a reply.
    if (t[m.index - 1] === ':' && t[m.index + 3] === ':') continue;
    if (best === undefined || rank < CODE_RANK.get(best)!) best = code;
  }
  return best === undefined ? undefined : Number(best);
}

/**
 * The error reply code and enhanced status a diagnostic quotes (never a 2xx success from a
 * transcript). `loose`: also a code quoted in other ways ({@link findReplyCode}); off where
 * single lines are only tested for evidence.
 */
export function readReply(text: string, loose = true): Reply {
  const t = text.length > 8192 ? text.slice(0, 8192) : text;
  // Most lines quote neither a code nor a status: one scan tells.
  if (!MAYBE_REPLY.test(t)) return NO_REPLY;
  const both = CODE_AND_STATUS.exec(t);
  if (both) {
    // The server's own `550 5.0.0` may be followed by the specific code (`... 5.1.1 user unknown`).
    const status = lastResortStatus(both[2]!) ? (findStatus(t, Number(both[1])) ?? both[2]!) : both[2]!;
    return { code: Number(both[1]), status, statusWithCode: true };
  }
  const codeMatch = CODE_ONLY.exec(t);
  let code = codeMatch ? Number(codeMatch[1]) : undefined;
  const status = findStatus(t, code);
  if (code === undefined && loose) code = findReplyCode(t, status);
  const out: { code?: number; status?: string; statusWithCode: boolean } = { statusWithCode: false };
  if (code !== undefined) out.code = code;
  // Success statuses (`250 2.1.0 Ok` in a transcript) are never the error being reported.
  if (status !== undefined && status[0] !== '2' && (code === undefined || status[0] === String(code)[0])) out.status = status;
  return out;
}

/**
 * The status of an RFC 3464 recipient: its `Status:` field or the code its diagnostic quotes,
 * as the reference prefers them (Sisimai::SMTP::Status->prefer). When the reply code's class
 * tells them apart, the one of its class; else a generic field (`X.0.0`, `X.Y.0`, `X.0.Z`,
 * `4.4.7`, `5.3.x`) yields to a specific text code, a text `X.0.0` to the field, a field
 * `5.1.1` to any text code not ending in `.0`, a field `5.1.3` to a text `5.7.x`.
 */
export function preferStatus(field: string | undefined, inText: string | undefined, replyCode: number | undefined): string | undefined {
  if (inText === undefined || inText === field) return field;
  if (field === undefined) return inText;
  if (replyCode !== undefined && field[0] !== inText[0]) {
    const c = String(replyCode)[0];
    if (inText[0] === c) return inText;
    if (field[0] === c) return field;
  }
  if (inText.endsWith('.0.0')) return field;
  const [, subject, detail] = field.split('.');
  if (subject === '0' || detail === '0' || field === '4.4.7' || (field[0] === '5' && subject === '3')) return inText;
  if (field === '5.1.1' && !inText.endsWith('.0')) return inText;
  if (field === '5.1.3' && inText.startsWith('5.7.')) return inText;
  return field;
}

/**
 * Phrases naming the SMTP command a remote server refused, in the common wording of each
 * family: Postfix `(in reply to RCPT TO command)` and `lost connection ... while sending MAIL
 * FROM`, Exim `SMTP error from remote mail server after [pipelined] RCPT TO:<...>`, qmail
 * `does not like recipient` / `failed after I sent the message` / `my name was rejected`,
 * GMX and 1&1 `after RCPT command` / `for TEXT command`, Yahoo and AOL `[RCPT_TO]` and `[BODY]`
 * (the stage after DATA: the message body was refused). CHUNKING's `BDAT` is the DATA stage.
 */
const COMMANDS: readonly (readonly [RegExp, string])[] = [
  [
    /in reply to (?:end of )?(?:DATA|BDAT) command|\bBDAT\b|after sending data block|\[BODY\]|after (?:pipelined )?end of (?:data|message)|after (?:pipelined )?DATA\b|our final DATA|following DATA|end of data|failed (?:after I sent the message|on DATA command)|for TEXT command|while sending (?:end of data|message (?:body|content)|DATA command)/i,
    'DATA',
  ],
  [
    /in reply to RCPT TO command|after (?:pipelined )?RCPT (?:TO|command)|like our RCPT TO|following RCPT|\bRCPT_TO\b|SMTP:RCPT|does not like recipient|rejected recipient|for RCPT TO command|while sending RCPT TO/i,
    'RCPT',
  ],
  [/in reply to MAIL FROM command|after (?:pipelined )?MAIL (?:FROM|command)|like our MAIL FROM|\bMAIL_FROM\b|sender was rejected|for MAIL FROM command|while sending MAIL FROM/i, 'MAIL'],
  [/in reply to STARTTLS command|after STARTTLS\b|while sending STARTTLS/i, 'STARTTLS'],
  [/in reply to (?:HELO|EHLO) command|after (?:pipelined )?(?:HELO|EHLO)\b|my name was rejected|while performing the (?:HELO|EHLO) handshake|while sending (?:HELO|EHLO)/i, 'HELO'],
  [
    /after initial connection|after (?:the )?(?:greeting|banner)|during (?:the )?(?:initial )?connection|on connect\b|connection (?:refused|rejected) by remote|refused to talk to me|while receiving the (?:initial )?(?:server )?greeting|but greeting failed|(?:wasn't|was not) able to establish an SMTP connection/i,
    'CONNECT',
  ],
];
/** A session transcript: `>>> RCPT To:<...>` then `<<< 550 ...` (Sendmail), `--> RCPT` / `<-- 550` (MDaemon). */
const TRANSCRIPT_SENT = /(?:^|\s)(?:>{2,}|-->|->|Sent:?\s*<{2,})\s*(DATA|RCPT|MAIL|EHLO|HELO|QUIT|RSET|STARTTLS|AUTH)\b/i;
const TRANSCRIPT_ERROR = /(?:^|\s)(?:<{2,}|<--|<-|Received:?\s*>{2,})\s*[45]\d\d\b/;
const COMMAND_TITLE = /^\s*-*\s*SMTP command\s*:?\s*-*\s*$/i;
/** A space in a pattern as any run of white space (a reply wrapped over lines). */
const anySpace = (re: RegExp): RegExp => new RegExp(re.source.replace(/ /g, '\\s+'), re.flags);
const COMMANDS_ANY_SPACE: readonly (readonly [RegExp, string])[] = COMMANDS.map(([re, command]) => [anySpace(re), command] as const);
/** Every phrase in one pattern: most texts name no command, and one scan tells them apart. */
const ANY_COMMAND_PHRASE = new RegExp(COMMANDS_ANY_SPACE.map(([re]) => re.source).join('|'), 'i');

/** What a transcript or a command title needs to contain: skips the line loop for plain prose. */
const TRANSCRIPT_HINT = /->|>>|smtp command/i;

/** Replies that only a RCPT TO gets, when nothing else names the command. */
const RCPT_REPLY = /recipient address rejected|(?:has|have) rejected (?:the )?(?:recipient )?address|does not like recipient/i;
const RCPT_REPLY_ANY_SPACE = new RegExp(RCPT_REPLY.source.replace(/ /g, '\\s+'), RCPT_REPLY.flags);

/** The SMTP command the remote server refused (`DATA`, `RCPT`, `MAIL`, `HELO`, `CONNECT`), when the text tells. */
export function readCommand(text: string): string | undefined {
  // The patterns take any run of white space where they show a space (wrapped lines), so the
  // text is read as it is, without a flattened copy.
  if (ANY_COMMAND_PHRASE.test(text)) for (const [re, command] of COMMANDS_ANY_SPACE) if (re.test(text)) return command;
  if (!TRANSCRIPT_HINT.test(text)) return RCPT_REPLY_ANY_SPACE.test(text) ? 'RCPT' : undefined;
  // In a transcript the refused command is the last one sent before the first error reply.
  let last: string | undefined;
  const lines = text.split('\n', 400);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const sent = TRANSCRIPT_SENT.exec(line);
    if (sent) last = sent[1]!.toUpperCase().replace('EHLO', 'HELO');
    else if (TRANSCRIPT_ERROR.test(line) && last !== undefined) return last;
    else if (COMMAND_TITLE.test(line)) {
      const next = /^\s*(DATA|RCPT|MAIL|HELO|EHLO)\b/i.exec(lines[i + 1] ?? '');
      if (next) return next[1]!.toUpperCase().replace('EHLO', 'HELO');
    }
  }
  return last ?? (RCPT_REPLY_ANY_SPACE.test(text) ? 'RCPT' : undefined);
}

/**
 * SMTP verbs written in capitals as words of a diagnostic (`RCPT`, `MAIL FROM`, `DATA`...), the
 * reference parser's last way of finding the command (Sisimai::SMTP::Command->find: a
 * case-sensitive search, not part of a longer word). The latest stage named wins: a reply that
 * names both RCPT and DATA came after the envelope.
 */
const COMMAND_TOKEN = /(?<![A-Za-z0-9_])(DATA|RCPT|MAIL F(?:ROM|rom)|AUTH|STARTTLS|EHLO|HELO)(?![A-Za-z0-9_])/g;
const TOKEN_STAGE: Readonly<Record<string, number>> = { HELO: 1, EHLO: 2, STARTTLS: 3, AUTH: 4, 'MAIL F': 5, RCPT: 6, DATA: 7 };
const TOKEN_COMMAND: Readonly<Record<string, string>> = { HELO: 'HELO', EHLO: 'HELO', STARTTLS: 'STARTTLS', AUTH: 'AUTH', 'MAIL F': 'MAIL', RCPT: 'RCPT', DATA: 'DATA' };

/**
 * The SMTP command a diagnostic names in capitals (`... RCPT TO:<a@b.example> ... 550 ...`,
 * `DATA: 554 ...`), when {@link readCommand} found no phrase saying which command was refused.
 */
export function commandToken(text: string): string | undefined {
  const t = text.length > 4096 ? text.slice(0, 4096) : text;
  let best: string | undefined;
  for (const m of execAll(COMMAND_TOKEN, t)) {
    const token = m[1]!.startsWith('MAIL') ? 'MAIL F' : m[1]!;
    if (best === undefined || TOKEN_STAGE[token]! > TOKEN_STAGE[best]!) best = token;
  }
  return best === undefined ? undefined : TOKEN_COMMAND[best];
}

/** Diagnostic types of local delivery programs: their failures are mailer errors, not address problems. */
export const MAILER_DIAGNOSTIC = /^x-(?:unix|local|pipe)$/i;
/** Wording of failing local delivery programs (a pipe, procmail). */
export const MAILER_TEXT = /\bpipe to \||\bcommand output:|\bmailer error\b|\bprocmail:|\bcommand died\b|\bexit (?:code|status) \d/i;

// ---------------------------------------------------------------------------------------
// Finding recipients and their error lines in text
// ---------------------------------------------------------------------------------------

/** Local parts that are never the bounced recipient of a report. */
const SYSTEM_LOCAL = /^(?:mailer-?daemon|post_?master|mail-?daemon|mdaemon|double-bounce)$/i;
/**
 * Text just before an address that makes it a forwarding address or a contact, not a recipient.
 * `send to` only as advice (`please send mail to`), not where sending failed (`Failed to send to
 * <ann@...>`, `Unable to send to ann@...`: that address is the recipient).
 */
const OTHER_BEFORE =
  /(?:please try|\btry|forward(?:ed|ing)? to|new (?:e-?mail )?address(?: is)?|\bcontact|write to|reply to|(?<!(?:fail(?:ed|ure)?|unable|trying|attempting|attempted|tried|error) to |(?:could|can|did|will|was) ?not |(?:couldn|can|didn|won|wasn)'?t )send (?:it |mail )?to)\s{0,3}[:=]?\s{0,3}[<"'(]{0,2}$/i;
/**
 * Text just before an address that makes it a help or complaint address of the reporting
 * system (`please email support@...`, `contact your administrator at admin@...`, `report false
 * positives to fp@...`, `Questions? help@...`), not a recipient. Narrow on purpose: a recipient
 * is often named after "to" (`your message to ann@...`), so only these help wordings count.
 */
const HELP_BEFORE =
  /(?:(?:^|[.!?;,]\s{0,3}|\b(?:please|or|and|to|can|may|should|kindly)\s{1,3})e-?mail(?: us| them)?(?: at)?|\b(?:us|them|administrator|admin|support|help ?desk|service desk|team|department|postmaster|hostmaster|webmaster|provider|isp)\s{1,3}(?:at|via)|\breach (?:us|them|our [\w-]{1,20}) at|\b(?:report|send|forward|direct|submit|address)\s{1,3}(?:any |all |your )?(?:false positives?|complaints?|questions?|inquiries|enquiries|appeals?|(?:delisting |removal |unblock(?:ing)? )?requests?|problems|comments|feedback)\s{1,3}(?:to|at)|\b(?:questions|inquiries|enquiries|help|support|feedback)\s{0,2}[?:])\s{0,3}[<"'(]{0,2}$/i;
/** Text just before an address that makes it our sender rather than a recipient. */
const SENDER_BEFORE = /(?:(?<!expanded )\bfrom|\bsender(?: address)?|\bmail from|\benvelope-from|\breturn-path|\bsent by|\breply-to|\boriginator)\s{0,3}[:=]?\s{0,3}[<"'(]{0,2}$/i;
/**
 * An address type written before the address (Exchange's `Name (SMTP=a@b.example)`, an
 * `RFC822=` or `rfc822;` prefix): not part of the local part.
 */
const TYPE_PREFIX = /^(?:smtp|rfc822|x400|ex)=/i;
/** A key written before an address in log-style lines (`to=`, `rcpt=`, `recipient=`, `orcpt=rfc822;`): not part of the local part. */
const KEY_PREFIX = /^(?:to|rcpt|recipient|orcpt|address|addr|mailbox|user|e-?mail)=(?:rfc822;)?/i;
/** An address with a quoted local part (`"ann lee"@example.org`), which {@link ADDRESS_IN_TEXT} does not match. */
const QUOTED_ADDRESS_IN_TEXT = /"(?:[^"\\\r\n@<>]|\\[^\r\n]){1,62}"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])/g;

/** {@link ADDRESS_IN_TEXT} for this module's scans alone (see execAll). */
const ADDRESS_SCAN = new RegExp(ADDRESS_IN_TEXT.source, 'g');

/** Where the bounced recipients of a report are named. */
export interface TextScan {
  /** Recipients in order of first appearance. */
  readonly recipients: string[];
  /** Lines (index) that mention each recipient in a recipient context. */
  readonly occurrences: Map<string, number[]>;
  /**
   * The address each recipient was expanded from, when the report says so after it on the same
   * line (Postfix's `<bob@host> (expanded from <info@example.org>): ...`): the address the sender
   * used, reported as `originalRecipient`, not as another recipient.
   */
  readonly expandedFrom: Map<string, string>;
}

/** `Original address:` / `Original recipient:` at the start of a line right before an address. */
const ORIGINAL_ADDRESS_BEFORE = /^\s{0,12}original[- ](?:address|recipient)\s{0,3}:\s{0,3}(?:rfc822;\s{0,3})?[<"']?$/i;
/** `(expanded from <` right before an address (Postfix, Sendmail). */
const EXPANDED_FROM_BEFORE = /\(?expanded from:?\s{0,3}<?$/i;

/** Characters stripped from the start of an address found in text (`.`, `'`, `=`, `/`, `-`). */
const LEADING_PUNCTUATION: ReadonlySet<number> = new Set([0x2e, 0x27, 0x3d, 0x2f, 0x2d]);

/** Finds the bounced recipients named in report lines, skipping `excluded` (our sender) and system addresses. */
export function scanRecipients(lines: readonly string[], excluded: ReadonlySet<string>): TextScan {
  const recipients: string[] = [];
  const occurrences = new Map<string, number[]>();
  const expandedFrom = new Map<string, string>();
  /** The last recipient named, and its line: an `Original address:` line just after it is its original. */
  let lastRecipient: string | undefined;
  let lastLine = -10;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.includes('@') || HEADER_ECHO_LINE.test(line)) continue;
    const matches = line.includes('"@') ? [...execAll(ADDRESS_SCAN, line), ...execAll(QUOTED_ADDRESS_IN_TEXT, line)] : execAll(ADDRESS_SCAN, line);
    /** The recipient named before on this line, which an `(expanded from <...>)` address belongs to. */
    let previous: string | undefined;
    for (const m of matches) {
      let at = m.index;
      let text = m[0];
      const type = TYPE_PREFIX.exec(text);
      if (type !== null) {
        at += type[0].length;
        text = text.slice(type[0].length);
      }
      // A log-style `to=ann@b.example` or `recipient=ann@b.example`: the key is not part of the local part.
      const key = type === null ? KEY_PREFIX.exec(text) : null;
      if (key !== null) {
        at += key[0].length;
        text = text.slice(key[0].length);
      }
      const token = tokenAround(line, at, text.length);
      // A URL, or a value after `=`, `/`, `?` or `&` (a query string, a path).
      const before1 = at > 0 ? line.charCodeAt(at - 1) : -1;
      if (token.includes('://') || before1 === 0x3d /* = */ || before1 === 0x2f /* / */ || before1 === 0x3f /* ? */ || before1 === 0x26 /* & */) {
        if (type === null && key === null) continue;
      }
      const address = sanitizeAddress(LEADING_PUNCTUATION.has(text.charCodeAt(0)) ? text.replace(/^[.'=/-]+/, '') : text);
      if (address === undefined || excluded.has(address.toLowerCase())) continue;
      const local = address.slice(0, address.lastIndexOf('@'));
      if (SYSTEM_LOCAL.test(local)) continue;
      const before = line.slice(Math.max(0, at - 40), at);
      if (SENDER_BEFORE.test(before) || OTHER_BEFORE.test(before) || HELP_BEFORE.test(before)) continue;
      if (previous !== undefined && previous !== address && EXPANDED_FROM_BEFORE.test(before)) {
        if (!expandedFrom.has(previous)) expandedFrom.set(previous, address);
        continue;
      }
      // `Original address: ann@b.example` a line or two after `Recipient address: ann@mx.b.example`
      // (Sun/Oracle Messaging Server): the address the sender used, not a second recipient.
      if (lastRecipient !== undefined && lastRecipient !== address && i - lastLine <= 3 && ORIGINAL_ADDRESS_BEFORE.test(before)) {
        if (!expandedFrom.has(lastRecipient)) expandedFrom.set(lastRecipient, address);
        continue;
      }
      previous = address;
      lastRecipient = address;
      lastLine = i;
      let list = occurrences.get(address);
      if (list === undefined) {
        if (recipients.length >= MAX_BOUNCE_RECIPIENTS) continue;
        list = [];
        occurrences.set(address, list);
        recipients.push(address);
      }
      if (list[list.length - 1] !== i) list.push(i);
    }
  }
  return { recipients, occurrences, expandedFrom };
}

/**
 * Header-like lines that name a recipient of the original message: the envelope (`X-Original-To`,
 * `Delivered-To`, `Envelope-To`, RFC 3464 recipient fields written as text, `RCPT TO:<...>` of a
 * transcript) or its `To:` header, as a report quotes them (`>` quoting allowed).
 */
const RECIPIENT_ECHO =
  /^[ \t]*(?:(?:>{1,3}|-->|->)[ \t]*)?(x-original-to|delivered-to|x-delivered-to|envelope-to|x-envelope-to|original-recipient|final-recipient|x-actual-recipient|rcpt to|to)[ \t]*:[ \t]*(.{3,998})$/i;

/** Keeps the addresses that can be a bounced recipient: not our sender, not a system mailbox. */
function recipientOnly(addresses: readonly string[], excluded: ReadonlySet<string>): string[] {
  return addresses.filter((a) => !excluded.has(a.toLowerCase()) && !SYSTEM_LOCAL.test(a.slice(0, a.lastIndexOf('@'))));
}

/**
 * The recipients a report names only in echoed header or transcript lines (`To: a@b.example`,
 * `X-Original-To:`, `RCPT TO:<a@b.example>`), which {@link scanRecipients} skips as header
 * echoes: for reports that name nobody elsewhere. Envelope lines win over `To:`; a `To:` counts
 * only when it names exactly one possible recipient (a list does not say which one failed).
 */
export function echoedRecipients(lines: readonly string[], excluded: ReadonlySet<string>): string[] {
  const envelope: string[] = [];
  const to: string[] = [];
  for (let i = 0; i < lines.length && i < MAX_REPORT_LINES; i++) {
    const line = lines[i]!;
    if (!line.includes('@') || !line.includes(':')) continue;
    const m = RECIPIENT_ECHO.exec(line);
    if (m === null) continue;
    const list = m[1]!.toLowerCase() === 'to' ? to : envelope;
    for (const a of recipientOnly(allAddresses(m[2], 20), excluded)) if (!list.includes(a)) list.push(a);
  }
  if (envelope.length > 0) return envelope.slice(0, MAX_BOUNCE_RECIPIENTS);
  return to.length === 1 ? to : [];
}

/**
 * The recipient a report names only in its Subject (`DELIVERY FAILURE: User ann (ann@b.example)
 * not listed in Domino Directory`, `Undeliverable: ann@b.example`): for reports that name nobody
 * in their text. Exactly one possible recipient, else none.
 *
 * @example
 * subjectRecipients('DELIVERY FAILURE: User ann (ann@b.example) not listed', new Set()); // ['ann@b.example']
 * subjectRecipients('Undeliverable: ann@b.example, bo@b.example', new Set()); // []
 */
export function subjectRecipients(subject: string, excluded: ReadonlySet<string>): string[] {
  if (!subject.includes('@')) return [];
  const found = recipientOnly(allAddresses(subject.length > 998 ? subject.slice(0, 998) : subject, 5), excluded);
  return found.length === 1 ? found : [];
}

/** A line that lists an address as a recipient: the address first (after bullets, quotes, `<`), then `:`, `...`, a blank or the end. */
const LISTED_LINE = /^[\s*\u2022>-]{0,12}[<"'(\[]{0,2}(?:mailto:)?$/i;
const LISTED_AFTER = /^[>"')\]]{0,2}(?::|\.{3}|\s|,|$)/;

/**
 * The recipients a report lists at the start of a line (`<ann@b.example>:`, `ann@b.example`,
 * `<ann@b.example>... User unknown`, `  * ann@b.example`), our own addresses included: for a report
 * about a message its sender sent to itself (a full mailbox of one's own), where every other way
 * finds nobody since the address is also the sender's. `excluded` holds the reporting system's own
 * address only.
 *
 * @example
 * listedRecipients(['<ann@b.example>:', 'mailbox full'], new Set()).recipients; // ['ann@b.example']
 * listedRecipients(['Your message from ann@b.example was not delivered'], new Set()).recipients; // []
 */
export function listedRecipients(lines: readonly string[], excluded: ReadonlySet<string>): TextScan {
  const scan = scanRecipients(lines, excluded);
  const recipients: string[] = [];
  const occurrences = new Map<string, number[]>();
  for (const address of scan.recipients) {
    const list = scan.occurrences.get(address)!;
    const listed = list.some((i) => {
      const line = lines[i]!;
      const at = line.toLowerCase().indexOf(address.toLowerCase());
      return at >= 0 && LISTED_LINE.test(line.slice(0, at)) && LISTED_AFTER.test(line.slice(at + address.length));
    });
    if (!listed) continue;
    recipients.push(address);
    occurrences.set(address, list);
  }
  return { recipients, occurrences, expandedFrom: scan.expandedFrom };
}

/** Lotus Domino's title of its recipient list: `was not delivered to:`, then the addresses, then `because:`. */
const NOT_DELIVERED_TO = /^\s*was not delivered to:\s*$/i;

/**
 * The recipients a Lotus Domino report lists under `was not delivered to:` (up to `because:`),
 * which the reference's reader takes as the recipients even when the report's delivery-status
 * part names another address (the address after Domino rewrote it).
 *
 * @example
 * dominoRecipients(['Your message', 'was not delivered to:', '', '  ann@b.example', '', 'because:'], new Set()); // ['ann@b.example']
 */
export function dominoRecipients(lines: readonly string[], excluded: ReadonlySet<string>): string[] {
  const start = lines.findIndex((l) => l.length < 80 && NOT_DELIVERED_TO.test(l));
  if (start < 0) return [];
  const out: string[] = [];
  for (let i = start + 1; i < lines.length && i < start + 40; i++) {
    const line = lines[i]!;
    if (/^\s*because:\s*$/i.test(line)) break;
    for (const a of recipientOnly(allAddresses(line, 5), excluded)) if (!out.includes(a)) out.push(a);
  }
  return out;
}

/** Envelope-recipient fields of a returned message, most specific first (the first found is the one the message was delivered to). */
const RETURNED_ENVELOPE_FIELDS = ['x-original-to', 'delivered-to', 'x-delivered-to', 'envelope-to', 'x-envelope-to'] as const;

/**
 * The recipient of a returned message (the original, attached or quoted), for a report that
 * names nobody itself: its envelope recipient (`X-Original-To`, `Delivered-To`, `Envelope-To`,
 * first found), else its only `To:` address. Our sender and system mailboxes never count.
 */
export function returnedRecipients(headers: HeaderList, excluded: ReadonlySet<string>): string[] {
  for (const name of RETURNED_ENVELOPE_FIELDS) {
    const found = recipientOnly(allAddresses(headers.get(name), 5), excluded);
    if (found.length > 0) return [found[0]!];
  }
  const to = recipientOnly(allAddresses(headers.getAll('to').join(', '), 20), excluded);
  return to.length === 1 ? to : [];
}

/** A quoted `Message-ID:` or `X-Mailpush-Job-Id:` line (indented or `>` quoted). */
const QUOTED_ID_LINE = /^[ \t>]*(?:Message-ID|X-Mailpush-Job-Id)[ \t]*:[ \t]*\S/i;

/**
 * The headers of the original message quoted inline in a report that has no returned part and
 * no line announcing one (`This report relates to a message you sent with the following header
 * fields:`, a returned copy after a marker in another language): the header block around the
 * first quoted `Message-ID:` (or `X-Mailpush-Job-Id:`) line, `>` quoting removed.
 *
 * @example
 * inlineHeaders(['Your message', '', '  Message-id: <m1@sender.example>', '  Subject: hi', '', 'was not delivered'])?.get('message-id'); // '<m1@sender.example>'
 */
export function inlineHeaders(lines: readonly string[]): HeaderList | undefined {
  for (let i = 0; i < lines.length && i < MAX_REPORT_LINES; i++) {
    const line = lines[i]!;
    // Most lines name no such field: a substring test before the pattern.
    if (line.length > 1000 || !(line.includes('-ID') || line.includes('-Id') || line.includes('-id')) || !QUOTED_ID_LINE.test(line)) continue;
    // Back to the start of the block: header lines and their continuations, up to 60 lines.
    let start = i;
    while (start > 0 && i - start < 60) {
      const prev = lines[start - 1]!;
      if (prev.trim() === '' || !(isHeaderLine(unquote(prev).trim()) || /^[ \t]/.test(unquote(prev)))) break;
      start--;
    }
    return headersInText(lines.slice(start, start + 200).map(unquote).join('\n'));
  }
  return undefined;
}

function unquote(line: string): string {
  return line.replace(/^[ \t]*>[ \t]?/, '');
}

function tokenAround(line: string, start: number, length: number): string {
  let a = start;
  let b = start + length;
  while (a > 0 && !/\s/.test(line[a - 1]!)) a--;
  while (b < line.length && !/\s/.test(line[b]!)) b++;
  return line.slice(a, b);
}

/** Most lines of a list of bare addresses stepped over to reach the error lines after it. */
const MAX_LIST_STEP = 200;

function bareAddressLine(line: string, address: string): boolean {
  return onlyAddress(line.trim(), address.toLowerCase());
}

/**
 * Lines belonging to each recipient: from each mention to the next blank line or the next
 * recipient, past a list of bare addresses to the lines that follow it.
 */
export function recipientBlocks(lines: readonly string[], scan: TextScan): Map<string, number[]> {
  const owner = new Map<number, string>();
  for (const [address, list] of scan.occurrences) for (const i of list) if (!owner.has(i)) owner.set(i, address);
  const blocks = new Map<string, number[]>();
  // Whether an owned line only names its address (0 not known yet, 1 yes, 2 no): lists are stepped over often.
  let bareCache: Uint8Array | undefined;
  const bare = (j: number, address: string): boolean => {
    bareCache ??= new Uint8Array(lines.length);
    if (bareCache[j] === 0) bareCache[j] = bareAddressLine(lines[j]!, address) ? 1 : 2;
    return bareCache[j] === 1;
  };
  for (const [address, list] of scan.occurrences) {
    const set = new Set<number>();
    // A few mentions are enough to find the error lines; more only cost time.
    for (const start of list.slice(0, MAX_MENTIONS)) {
      // The command line of a transcript (`>>> DATA`) before the reply that names the address.
      if (start > 0 && TRANSCRIPT_SENT.test(lines[start - 1]!) && !owner.has(start - 1)) set.add(start - 1);
      set.add(start);
      // A list of bare addresses (`a@x.example`, `b@y.example`, then `Reason: ...`) shares the
      // lines after it: the other addresses of the list are stepped over while this one has no
      // line of its own yet.
      let ownLines = false;
      let inList: boolean | undefined;
      for (let j = start + 1, end = start + 16; j < lines.length && j < end; j++) {
        const other = owner.get(j);
        if (other !== undefined && other !== address) {
          if (ownLines || !(inList ??= owner.get(start) === address ? bare(start, address) : bareAddressLine(lines[start]!, address)) || !bare(j, other)) break;
          end = Math.min(j + 16, start + MAX_LIST_STEP);
          continue;
        }
        if (isBlank(lines[j]!)) break;
        ownLines = true;
        set.add(j);
      }
    }
    blocks.set(
      address,
      [...set].sort((a, b) => a - b),
    );
  }
  return blocks;
}

/** Failures that name no reason family but explain a report line: connections, temporary trouble. */
const FAILURE_WORDING =
  /socket error|connection (?:\w{1,20} ){0,2}(?:refused|timed? ?out|reset|closed|lost)|(?:could not|couldn'?t|unable to|failed to) connect|try again later|temporar(?:y|ily) (?:failure|unavailable|error)|service (?:is )?(?:currently |temporarily )?(?:unavailable|not available)/i;

/**
 * Whether a text carries something the bounce decision can use: a reply code, a status or the
 * wording of a reason family (src/classify/phrases.ts); with a custom classifier, also wording
 * its rules know.
 */
export function hasEvidence(text: string, classifier: Classifier): boolean {
  if (isBlank(text)) return false;
  const reply = readReply(text, false);
  if (reply.code !== undefined || reply.status !== undefined) return true;
  if (hasReasonWording(text) || FAILURE_WORDING.test(text)) return true;
  return classifier !== defaultClassifier && classifier.classify({ text }).category !== 'undefined';
}

/** Drops the lines that only name the address (and bullets, "on <date>" tails) from a block. */
export function errorLines(lines: readonly string[], indexes: readonly number[], address: string): string[] {
  if (indexes.length === 0) return [];
  const out: string[] = [];
  const wanted = address.toLowerCase();
  for (const i of indexes) {
    const line = lines[i]!.trim();
    if (line === '' || onlyAddress(line, wanted)) continue;
    out.push(line);
  }
  return out;
}

const BEFORE_ADDRESS = /^[\s*•>-]*(?:(?:recipient|to|address|e-?mail)\s*:?\s*)?[<"'(\[]*(?:mailto:)?$/i;
const AFTER_ADDRESS = /^[>"')\]]*:?\s*(?:on .{0,80})?$/i;

/** Whether a line only names the address (`<a@b.example>:`, `To: a@b.example`, `- a@b.example on <date>`). */
function onlyAddress(line: string, address: string): boolean {
  const at = line.toLowerCase().indexOf(address);
  return at >= 0 && BEFORE_ADDRESS.test(line.slice(0, at)) && AFTER_ADDRESS.test(line.slice(at + address.length));
}

/** A diagnostic on one line, capped. */
export function oneLine(text: string): string {
  const t = normalizeResponseText(text);
  return t.length > MAX_DIAGNOSTIC ? t.slice(0, MAX_DIAGNOSTIC) : t;
}

