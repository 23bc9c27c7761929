/**
 * Types of the mail feedback parsers: what `parseBounce` reports about a delivery status
 * notification (RFC 3464 or a mail system's own format) and what `parseComplaint`
 * reports about an abuse report (ARF, RFC 5965).
 *
 * @module
 */

import type { Classifier } from '../classify/index.js';
import type { BounceDecision } from '../classify/reason.js';
import type { BounceCategory } from '../types.js';

/**
 * What a parsed mail is:
 * - `bounce`: a delivery failure report (at least one recipient failed);
 * - `delay`: a warning only, every recipient is still being retried (`action: 'delayed'`);
 * - `autoreply`: an RFC 3834 automatic reply (out of office, vacation), no recipient bounced;
 * - `not-bounce`: anything else (an ordinary message, a complaint report, garbage), and a
 *   success DSN (every recipient `delivered`, `relayed` or `expanded`, listed as such).
 */
export type BounceKind = 'bounce' | 'delay' | 'autoreply' | 'not-bounce';

/** The RFC 3464 `Action` of a recipient. */
export type BounceAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

/**
 * A few headers of the returned original message (the `message/rfc822` or
 * `text/rfc822-headers` part, or the copy quoted in the body), decoded and on one line.
 */
export interface OriginalHeaders {
  /** `Message-ID`, with angle brackets. */
  readonly messageId?: string;
  /** `From`. */
  readonly from?: string;
  /** `To`. */
  readonly to?: string;
  /** `Subject`, RFC 2047 words decoded. */
  readonly subject?: string;
  /** `Date`. */
  readonly date?: string;
  /** mailpush's correlation header `X-Mailpush-Job-Id`. */
  readonly jobId?: string;
  /** mailpush's correlation header `X-Mailpush-Message-Id` (the internal message id). */
  readonly mailpushMessageId?: string;
}

/** One recipient of a bounce or delay report. */
export interface BouncedRecipient {
  /** The address that failed (`Final-Recipient`), local part as given, domain in lower case. */
  readonly address: string;
  /** The address as the sender gave it (`Original-Recipient`), when the report states it. */
  readonly originalRecipient?: string;
  /** What happened. */
  readonly action: BounceAction;
  /** RFC 3463 enhanced status (`5.1.1`); `undefined` when the report carries none. */
  readonly status?: string;
  /** SMTP reply code of the remote server (550), when known. */
  readonly replyCode?: number;
  /** The raw `Diagnostic-Code` field (`smtp; 550 5.1.1 ...`), or the error lines of a non-standard report. */
  readonly diagnosticCode?: string;
  /** The diagnostic on one line, without its type prefix (`550 5.1.1 <a@b.example>: user unknown`). */
  readonly diagnosticText?: string;
  /** The server that refused (`Remote-MTA`), when known. */
  readonly remoteMta?: string;
  /** The reason category, decided by the enhanced status first, then the diagnostic text (src/classify). */
  readonly reason: BounceCategory;
  /**
   * A permanent problem with the address itself (unknown user or host, moved, accepts no
   * mail): suppress it. Never true for mailbox full, policy, reputation or content refusals,
   * and never for a delayed recipient.
   */
  readonly hard: boolean;
  /** `Will-Retry-Until` of a delayed recipient, ms since the epoch. */
  readonly willRetryUntil?: number;
  /** The SMTP command the remote server refused (`RCPT`, `DATA`, `MAIL`, `CONNECT`...), when stated. */
  readonly command?: string;
  /**
   * Which rule decided `reason` (and so `hard`): the stage and kind (`first-pass/status`,
   * `host/microsoft`, `fallback/onhold`...), the reason family in the reference's finer names,
   * and what matched. Always set by `parseBounce`. For debugging and for users who extend the rules.
   */
  readonly decidedBy?: BounceDecision;
}

/** Result of `parseBounce`. */
export interface BounceResult {
  /** What the mail is. */
  readonly kind: BounceKind;
  /**
   * Bounced or delayed recipients, in report order. Empty for `autoreply` and `not-bounce`,
   * except for a success DSN, whose delivered recipients are listed.
   */
  readonly recipients: readonly BouncedRecipient[];
  /** `Reporting-MTA` of the report (or the host named in a non-standard one). */
  readonly reportingMta?: string;
  /** `Arrival-Date` of the original message at the reporting MTA, ms since the epoch. */
  readonly arrivalDate?: number;
  /** Message-ID of the original message (from the returned part or the body), with angle brackets. */
  readonly originalMessageId?: string;
  /** Headers of the returned original message, when it was returned. */
  readonly originalHeaders?: OriginalHeaders;
  /** The mail system family that wrote the report (`postfix`, `exim`, `exchange`...), when recognised. */
  readonly mta?: string;
  /** The address in the report's own `From` (the MTA or, for an auto-reply, the person who replied). */
  readonly from?: string;
  /** The report's `Subject`, decoded. */
  readonly subject?: string;
}

/** Options of `parseBounce`. */
export interface ParseBounceOptions {
  /**
   * Most characters of the input that are parsed, which bounds the time and memory spent on
   * huge inputs. An input that is longer is skimmed first: its MIME parts are found through the
   * whole input (up to 64 MiB, a plain substring search), the report parts (delivery-status,
   * feedback-report, returned headers) are kept whole and the other parts are shortened, so a
   * report behind a huge first text part or attachment is still found. At most 16_777_216
   * (`MAX_SCAN_LENGTH_LIMIT`); a CONFIG MailError above it. @default 2_097_152
   */
  readonly maxScanLength?: number;
  /**
   * Classifier deciding each recipient's reason, so that rules added for synchronous replies
   * (`createClassifier({ rules })`) apply to bounces too. @default defaultClassifier
   */
  readonly classifier?: Classifier;
}

/** ARF `Feedback-Type` values (RFC 5965, RFC 6591 `auth-failure`, RFC 6430 `not-spam`), plus `opt-out` for unsubscribe forwards. */
export type FeedbackType = 'abuse' | 'fraud' | 'virus' | 'other' | 'not-spam' | 'auth-failure' | 'opt-out' | (string & {});

/** Result of `parseComplaint`: one abuse or feedback report. */
export interface ComplaintReport {
  /** `Feedback-Type`, lower case (`abuse`, `fraud`, `not-spam`, `auth-failure`...). */
  readonly feedbackType: FeedbackType;
  /** Whether the mail was a standard ARF report (`multipart/report; report-type=feedback-report`). */
  readonly arf: boolean;
  /** `User-Agent` of the reporter. */
  readonly userAgent?: string;
  /** `Version` (1 for RFC 5965). */
  readonly version?: string;
  /** `Original-Mail-From`: the envelope sender of the reported message. */
  readonly originalMailFrom?: string;
  /**
   * The complaining recipient: `Original-Rcpt-To`, or when the report redacts it, the `To`
   * of the returned message or the recipient named by mailpush's correlation headers.
   */
  readonly originalRcptTo?: string;
  /** Every `Original-Rcpt-To` given (reports may name several). */
  readonly originalRcptTos?: readonly string[];
  /** How `originalRcptTo` was found. */
  readonly recipientSource?: 'report' | 'returned-to' | 'reporter';
  /** `Arrival-Date` (or `Received-Date`) of the reported message, ms since the epoch. */
  readonly arrivalDate?: number;
  /** `Source-IP` of the reported message. */
  readonly sourceIp?: string;
  /** `Reported-Domain`. */
  readonly reportedDomain?: string;
  /** `Reported-URI` values. */
  readonly reportedUris?: readonly string[];
  /** `Authentication-Results` of the report (auth-failure reports). */
  readonly authenticationResults?: string;
  /** Message-ID of the reported message, with angle brackets. */
  readonly originalMessageId?: string;
  /** Headers of the reported message. */
  readonly originalHeaders?: OriginalHeaders;
  /** The address in the report's own `From` (the feedback loop, or the complaining user for a forward). */
  readonly from?: string;
}

/** Options of `parseComplaint`. */
export interface ParseComplaintOptions {
  /** As {@link ParseBounceOptions.maxScanLength}. @default 2_097_152 */
  readonly maxScanLength?: number;
}
