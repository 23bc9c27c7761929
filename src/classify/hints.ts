/**
 * Facts read out of a server's response text: the RFC 3463 enhanced status, the reply code
 * of a DSN diagnostic, and "try again in N minutes" hints. Every function here is total
 * (never throws) and reads at most {@link MAX_TEXT_LENGTH} characters, so that a hostile or
 * huge response costs the same as a normal one.
 *
 * @module
 */

/**
 * Most characters of a response text that classification reads. SMTP reply lines are at most
 * 512 octets (RFC 5321 §4.5.3.1.5); a few multi-line replies or a DSN diagnostic fit well
 * within this, and the cap bounds the cost of every regular expression run on the text.
 */
export const MAX_TEXT_LENGTH = 8192;

/** Longest wait a server hint can impose, in milliseconds (24 hours); longer hints are capped. */
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

// Class 2/4/5, subject 0-7 (the subjects RFC 3463 defines), detail 0-999. Not preceded by a
// word character or a dot, not followed by one or by `.digit`: this keeps IP addresses
// (192.168.1.1, 5.1.1.4) and most version numbers out.
const STATUS_CORE = String.raw`([245]\.[0-7]\.\d{1,3})(?!\w|\.\d)`;
/** After a reply code: `550 5.1.1`, `550-5.1.1`, `smtp;550 #5.1.1`. */
const STATUS_AFTER_CODE = new RegExp(String.raw`(?<![\w.])[245]\d\d[ -] {0,2}#?` + STATUS_CORE);
/** qmail and Exchange style: `(#5.1.1)`, `#< #5.1.1 smtp;550 ...>`. */
const STATUS_AFTER_HASH = new RegExp('#' + STATUS_CORE);
/** Anywhere, standing alone: `Status: 5.1.1`, `5.7.1 Relay denied`. */
const STATUS_ALONE = new RegExp(String.raw`(?<![\w.+-])` + STATUS_CORE);
/** A status given by a caller (a DSN `Status:` field), maybe followed by a comment. */
const STATUS_GIVEN = /^\s{0,8}([245]\.\d{1,3}\.\d{1,3})(?![\w.])/;

/**
 * Finds the RFC 3463 enhanced status code (`5.1.1`, `4.7.500`) in a response or diagnostic
 * text. Prefers a status right after a reply code (`550-5.1.1`, `smtp; 550 5.1.1`), then one
 * after `#` (`#5.1.1`), then the first one standing alone. Things that only look like a status
 * are ignored: IP addresses, `x.y.z` runs longer than three parts, classes other than 2/4/5,
 * subjects above 7.
 *
 * @param text Response text; non-strings give `undefined`.
 * @returns The status, or `undefined` when there is none.
 *
 * @example
 * ```ts
 * import { extractEnhancedStatus } from 'mailpush';
 *
 * extractEnhancedStatus('550-5.1.1 The email account that you tried to reach does not exist'); // '5.1.1'
 * extractEnhancedStatus('554 rejected from 192.0.2.1'); // undefined
 * ```
 */
export function extractEnhancedStatus(text: string): string | undefined {
  if (typeof text !== 'string' || text.length === 0) return undefined;
  const t = text.length > MAX_TEXT_LENGTH ? text.slice(0, MAX_TEXT_LENGTH) : text;
  return (STATUS_AFTER_CODE.exec(t) ?? STATUS_AFTER_HASH.exec(t) ?? STATUS_ALONE.exec(t))?.[1];
}

/**
 * Reads an enhanced status a caller passed (for example a DSN `Status:` field such as
 * `5.1.10 (host/domain does not accept mail)`): the leading `class.subject.detail`, or
 * `undefined` when the value does not start with one.
 *
 * @example
 * ```ts
 * import { parseEnhancedStatus } from 'mailpush';
 *
 * parseEnhancedStatus('5.1.10 (host/domain does not accept mail)'); // '5.1.10'
 * parseEnhancedStatus('failed'); // undefined
 * ```
 */
export function parseEnhancedStatus(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return STATUS_GIVEN.exec(value.length > 64 ? value.slice(0, 64) : value)?.[1];
}

// `550 ...`, `smtp; 550 ...`, `X-Postfix; 550 ...` at the start; or `... said: 550 ...`
// (Postfix DSN diagnostics) anywhere.
const CODE_AT_START = /^\s{0,8}(?:[A-Za-z][\w.-]{0,30}\s{0,4};\s{0,8})?([2-5]\d\d)(?=[ -]|$)/;
const CODE_AFTER_SAID = /\bsaid:\s{0,8}([2-5]\d\d)(?=[ -]|$)/i;

/**
 * Finds the SMTP reply code a response or DSN diagnostic starts with: `550 5.1.1 ...`,
 * `smtp; 550 ...`, `X-Postfix; host mx[1.2.3.4] said: 550 ...`.
 *
 * @returns The code (200-599), or `undefined`.
 *
 * @example
 * ```ts
 * import { extractResponseCode } from 'mailpush';
 *
 * extractResponseCode('smtp; 550 5.1.1 user unknown'); // 550
 * extractResponseCode('X-Postfix; host mx.example.org[192.0.2.1] said: 452 4.2.2 mailbox full'); // 452
 * ```
 */
export function extractResponseCode(text: string): number | undefined {
  if (typeof text !== 'string' || text.length === 0) return undefined;
  const t = text.length > MAX_TEXT_LENGTH ? text.slice(0, MAX_TEXT_LENGTH) : text;
  const m = CODE_AT_START.exec(t) ?? CODE_AFTER_SAID.exec(t);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

// Continuation prefixes of multi-line replies (`\n550-5.1.1 `), so that a phrase broken
// over two lines reads as one.
const CONTINUATION = /[\r\n]+[2-5]\d\d[ -](?:#?[245]\.\d{1,3}\.\d{1,3}(?![\w.]))?/g;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;
const SPACES = / {2,}/g;
const FIRST_LINE_DASH = /^([2-5]\d\d)-/;

/**
 * The form of a response text that rules see: at most {@link MAX_TEXT_LENGTH} characters,
 * the lines of a multi-line reply joined with their repeated `550-5.1.1` prefixes removed,
 * control characters turned into spaces, runs of spaces collapsed, trimmed, and a leading
 * `550-` written `550 `.
 *
 * @example
 * ```ts
 * normalizeResponseText('550-5.1.1 The email account that you tried to reach does\r\n550-5.1.1 not exist.')
 * // '550 5.1.1 The email account that you tried to reach does not exist.'
 * ```
 */
export function normalizeResponseText(text: string): string {
  if (typeof text !== 'string' || text.length === 0) return '';
  const t = text.length > MAX_TEXT_LENGTH ? text.slice(0, MAX_TEXT_LENGTH) : text;
  return t
    .replace(CONTINUATION, ' ')
    .replace(CONTROL, ' ')
    .replace(SPACES, ' ')
    .trim()
    .replace(FIRST_LINE_DASH, '$1 ');
}

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

function unitMs(unit: string): number {
  const u = unit.toLowerCase();
  if (u === 'ms' || u.startsWith('milli') || u.startsWith('msec')) return UNIT_MS['ms']!;
  return UNIT_MS[u[0]!] ?? Number.NaN;
}

const UNITS = String.raw`milliseconds?|millis|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d`;
const WORD_UNITS = String.raw`millisecond|second|minute|hour|day`;
/**
 * `Retry-After: 120` (seconds, as in HTTP) when no unit follows. Bounded quantifiers only:
 * the cost per start position is constant, so the scan is linear in the text.
 */
const RETRY_AFTER_FIELD = new RegExp(
  String.raw`\bretry-after\s{0,4}[:=]\s{0,4}(\d{1,15})(?![\w.])(?!\s{0,3}(?:${UNITS})\b)`,
  'i',
);
/**
 * A trigger word (`try`, `retry`, `wait`, `again`, `later`, `greylisted`, `deferred`, ...),
 * then within 40 characters without digits a number and a unit: "try again in 5 minutes",
 * "please wait 2 hours", "greylisted for 300 seconds", "retry after 30s", "in an hour".
 */
const HINT = new RegExp(
  String.raw`\b(?:try|retry|retrying|wait|waiting|resend|again|later|back ?off|defer(?:red)?|delay(?:ed)?|gr[ae]y-?list(?:ed|ing)?|throttled|limited|paused|blocked|suspended)\b` +
    String.raw`[^\d]{0,40}?(?<![\w+.\-])(?:(\d{1,15}(?:\.\d{1,3})?)\s{0,3}(${UNITS})|(an?|one)\s{1,3}(${WORD_UNITS}))\b`,
  'gi',
);

/**
 * Reads how long a server asks us to wait from its response text: "try again in 5 minutes",
 * "retry in 30 seconds", "please wait 2 hours", "greylisted for 300 seconds",
 * `Retry-After: 120` (seconds). HTTP-date `Retry-After` values are not read (they need a
 * clock); callers convert those themselves.
 *
 * Zero, negative and unparsable hints are ignored; hints above {@link MAX_RETRY_AFTER_MS}
 * are capped to it.
 *
 * @param text Response text; non-strings give `undefined`.
 * @returns The wait in milliseconds (an integer >= 1), or `undefined`.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from 'mailpush';
 *
 * parseRetryAfter('421 4.7.0 Try again in 5 minutes'); // 300000
 * parseRetryAfter('Retry-After: 120'); // 120000
 * parseRetryAfter('550 5.1.1 user unknown'); // undefined
 * ```
 */
export function parseRetryAfter(text: string): number | undefined {
  if (typeof text !== 'string' || text.length === 0) return undefined;
  const t = text.length > MAX_TEXT_LENGTH ? text.slice(0, MAX_TEXT_LENGTH) : text;
  const field = RETRY_AFTER_FIELD.exec(t);
  if (field !== null) {
    const ms = capped(Number(field[1]) * 1000);
    if (ms !== undefined) return ms;
  }
  HINT.lastIndex = 0;
  for (let m = HINT.exec(t); m !== null; m = HINT.exec(t)) {
    const ms = m[1] !== undefined && m[2] !== undefined ? Number(m[1]) * unitMs(m[2]) : unitMs(m[4] ?? '');
    const value = capped(ms);
    if (value !== undefined) {
      HINT.lastIndex = 0;
      return value;
    }
  }
  HINT.lastIndex = 0;
  return undefined;
}

function capped(ms: number): number | undefined {
  if (!Number.isFinite(ms) || ms <= 0) return undefined;
  return Math.max(1, Math.min(MAX_RETRY_AFTER_MS, Math.round(ms)));
}
