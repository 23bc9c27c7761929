/**
 * Fault injection for tests: scripted failures, throttle replies and latency for the memory
 * transport and the test mailer. The same preset replies drive the SMTP sink, so a fault
 * reads the same whether it comes from memory or over a real SMTP session.
 *
 * @module
 */

import { classifiedError } from '../classify/index.js';
import { configError } from '../errors.js';
import type { MailError } from '../errors.js';
import type { PreparedMessage } from '../types.js';

/** Names of the built-in faults, see {@link FAULT_PRESETS}. */
export type FaultPreset =
  | 'tempfail'
  | 'permfail'
  | 'throttle-gmail'
  | 'throttle-microsoft'
  | 'throttle-yahoo'
  | 'connection'
  | 'timeout'
  | 'recipient-unknown'
  | 'mailbox-full';

/**
 * A scripted reply of the receiving side. Replies with a `responseCode` are SMTP replies
 * (`451 4.3.0 text`); the ones without (`connection`, `timeout`) stand for failures that
 * never produce a reply, described by a library `errorCode` instead.
 */
export interface FaultReply {
  /** SMTP reply code, 400-599. Absent for failures without a reply. */
  readonly responseCode?: number;
  /** RFC 3463 enhanced status code (`4.7.28`), written after the reply code. */
  readonly enhancedStatus?: string;
  /** Reply text, without the reply code and the enhanced status. */
  readonly text: string;
  /** Library error code (`ECONNECTION`, `ETIMEDOUT`) for a failure without a reply. */
  readonly errorCode?: string;
}

/** A fault: a preset name or a reply of your own. */
export type Fault = FaultPreset | FaultReply;

/**
 * The built-in faults. Throttle texts are the ones the providers send (COMPLIANCE.md
 * section 5, B-5), with documentation addresses (192.0.2.0/24) in place of real IPs.
 */
export const FAULT_PRESETS: Readonly<Record<FaultPreset, FaultReply>> = Object.freeze({
  tempfail: { responseCode: 451, enhancedStatus: '4.3.0', text: 'Temporary server error. Please try again later' },
  permfail: { responseCode: 554, enhancedStatus: '5.7.1', text: 'Message rejected by policy' },
  'throttle-gmail': {
    responseCode: 421,
    enhancedStatus: '4.7.28',
    text:
      'Gmail has detected an unusual rate of unsolicited email originating from your IP address. ' +
      'To protect our users from spam, email sent from your IP address has been temporarily rate limited. ' +
      'For more information, go to https://support.google.com/mail/?p=UnsolicitedRateLimitError ' +
      'to review our Bulk Email Senders Guidelines.',
  },
  'throttle-microsoft': {
    responseCode: 451,
    enhancedStatus: '4.7.500',
    text: 'Server busy. Please try again later from [192.0.2.10]. (S77714)',
  },
  'throttle-yahoo': {
    responseCode: 421,
    enhancedStatus: '4.7.0',
    text: '[TSS04] Messages from 192.0.2.10 temporarily deferred due to unexpected volume or user complaints',
  },
  connection: { errorCode: 'ECONNECTION', text: 'Connection closed unexpectedly' },
  timeout: { errorCode: 'ETIMEDOUT', text: 'Timeout waiting for the server reply' },
  'recipient-unknown': {
    responseCode: 550,
    enhancedStatus: '5.1.1',
    text:
      "The email account that you tried to reach does not exist. Please try double-checking the recipient's " +
      'email address for typos or unnecessary spaces.',
  },
  'mailbox-full': {
    responseCode: 552,
    enhancedStatus: '5.2.2',
    text: 'The recipient\'s inbox is out of storage space. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaPerm',
  },
});

const ENHANCED_STATUS = /^[245]\.\d{1,3}\.\d{1,3}$/;
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Resolves a preset name to its reply and checks a reply of your own.
 *
 * @param option Option path named in the configuration error.
 *
 * @example
 * ```ts
 * import { resolveFault } from 'mailpush/testing';
 *
 * resolveFault('throttle-gmail'); // { responseCode: 421, enhancedStatus: '4.7.28', text: 'Gmail has detected ...' }
 * resolveFault({ responseCode: 452, enhancedStatus: '4.2.2', text: 'Mailbox full' }); // checked and returned as is
 * resolveFault({ responseCode: 452, enhancedStatus: '5.2.2', text: 'Mailbox full' }); // throws MailError CONFIG: classes differ
 * ```
 */
export function resolveFault(fault: Fault, option = 'fault'): FaultReply {
  if (typeof fault === 'string') {
    if (!Object.hasOwn(FAULT_PRESETS, fault)) {
      throw configError(option, `one of ${Object.keys(FAULT_PRESETS).join(', ')} or a reply object`, fault);
    }
    return FAULT_PRESETS[fault];
  }
  if (typeof fault !== 'object' || fault === null) {
    throw configError(option, 'a preset name or a reply object', fault);
  }
  const { responseCode, enhancedStatus, text, errorCode } = fault;
  if (responseCode !== undefined && !(Number.isInteger(responseCode) && responseCode >= 400 && responseCode <= 599)) {
    throw configError(`${option}.responseCode`, 'an integer from 400 to 599', responseCode);
  }
  if (responseCode === undefined && (typeof errorCode !== 'string' || errorCode === '')) {
    throw configError(`${option}.errorCode`, 'a non-empty string when `responseCode` is missing', errorCode);
  }
  if (enhancedStatus !== undefined) {
    if (typeof enhancedStatus !== 'string' || !ENHANCED_STATUS.test(enhancedStatus)) {
      throw configError(`${option}.enhancedStatus`, 'an enhanced status code like "4.7.0"', enhancedStatus);
    }
    if (responseCode !== undefined && enhancedStatus[0] !== String(responseCode)[0]) {
      throw configError(`${option}.enhancedStatus`, `of the same class as ${responseCode}`, enhancedStatus);
    }
  }
  // The text ends up on an SMTP reply line: CR or LF would let it forge further replies.
  if (typeof text !== 'string' || CONTROL_CHARS.test(text) || text.length > 2000) {
    throw configError(`${option}.text`, 'a single line of at most 2000 characters', text);
  }
  return fault;
}

/**
 * Formats a reply the way an SMTP server writes it: `451 4.3.0 text`. Replies without a code give the text alone.
 *
 * @example
 * ```ts
 * import { formatReply, resolveFault } from 'mailpush/testing';
 *
 * formatReply(resolveFault('tempfail')); // '451 4.3.0 Temporary server error. Please try again later'
 * formatReply({ errorCode: 'ECONNECTION', text: 'Connection closed unexpectedly' }); // 'Connection closed unexpectedly'
 * ```
 */
export function formatReply(reply: FaultReply): string {
  if (reply.responseCode === undefined) return reply.text;
  return reply.enhancedStatus === undefined
    ? `${reply.responseCode} ${reply.text}`
    : `${reply.responseCode} ${reply.enhancedStatus} ${reply.text}`;
}

/**
 * Builds the classified {@link MailError} a transport rejects with for a fault.
 *
 * @example
 * ```ts
 * import { faultError } from 'mailpush/testing';
 *
 * const err = faultError('recipient-unknown', { transport: 'my-transport', recipient: 'ann@example.org' });
 * err.code; // 'MAILPUSH_ERR_PERMANENT'
 * [err.responseCode, err.enhancedStatus, err.retryable]; // [550, '5.1.1', false]
 * faultError('tempfail').retryable; // true
 * ```
 */
export function faultError(fault: Fault, context: { readonly transport?: string; readonly recipient?: string } = {}): MailError {
  const reply = resolveFault(fault);
  const response = formatReply(reply);
  return classifiedError(
    {
      ...(reply.responseCode !== undefined ? { responseCode: reply.responseCode } : {}),
      ...(reply.enhancedStatus !== undefined ? { enhancedStatus: reply.enhancedStatus } : {}),
      ...(reply.errorCode !== undefined ? { errorCode: reply.errorCode } : {}),
      text: response,
    },
    {
      ...(context.transport !== undefined ? { transport: context.transport } : {}),
      ...(context.recipient !== undefined ? { recipient: context.recipient } : {}),
      message: context.recipient === undefined ? `Injected fault: ${response}` : `Injected fault for ${context.recipient}: ${response}`,
    },
  );
}

// ---------------------------------------------------------------------------------------
// Recipient matching, shared with the SMTP sink
// ---------------------------------------------------------------------------------------

/**
 * Which recipients a rule applies to: an exact address, `'@domain'` for a whole domain, a
 * glob (`'*@slow.test'`, `'user?@*'`), a RegExp or a predicate. Strings compare case-insensitively.
 */
export type RecipientMatch = string | RegExp | ((recipient: string) => boolean);

/**
 * Compiles a {@link RecipientMatch} to a predicate; throws a configuration error for an empty or non-string value.
 *
 * @example
 * ```ts
 * import { compileRecipientMatch } from 'mailpush/testing';
 *
 * const slow = compileRecipientMatch('*@slow.test');
 * slow('Ann@SLOW.test'); // true
 * compileRecipientMatch('@example.org')('bob@example.org'); // true
 * ```
 */
export function compileRecipientMatch(match: RecipientMatch, option = 'match'): (recipient: string) => boolean {
  if (typeof match === 'function') return match;
  if (match instanceof RegExp) {
    // A global or sticky RegExp keeps lastIndex between calls and would match every other time.
    const re = match.global || match.sticky ? new RegExp(match.source, match.flags.replace(/[gy]/g, '')) : match;
    return (recipient) => re.test(recipient);
  }
  if (typeof match !== 'string' || match === '' || match.length > 1000) {
    throw configError(option, 'an address, "@domain", a glob, a RegExp or a function', match);
  }
  const pattern = match.toLowerCase();
  if (pattern.includes('*') || pattern.includes('?')) return (recipient) => globMatch(pattern, recipient.toLowerCase());
  if (pattern.startsWith('@')) return (recipient) => recipient.toLowerCase().endsWith(pattern);
  return (recipient) => recipient.toLowerCase() === pattern;
}

/**
 * Glob matching with `*` (any run) and `?` (one character). Iterative with one backtrack
 * point, so hostile patterns like `*a*a*a*b` stay O(pattern x text) instead of the
 * exponential backtracking a translated RegExp can hit.
 */
function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    const c = pattern[p];
    if (c === '?' || (c !== undefined && c !== '*' && c === text[t])) {
      p++;
      t++;
    } else if (c === '*') {
      star = p++;
      mark = t;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

// ---------------------------------------------------------------------------------------
// FaultInjector
// ---------------------------------------------------------------------------------------

/** Latency of a send: fixed milliseconds, or computed per message. */
export type Latency = number | ((prepared: PreparedMessage) => number);

/** Options of a rule added with {@link FaultInjector.failWhen} or {@link FaultInjector.rejectRecipients}. */
export interface FaultRuleOptions {
  /** Apply to the first `times` matching sends (or recipients) only. @default unlimited */
  readonly times?: number;
}

interface Rule<T> {
  readonly test: T;
  readonly reply: FaultReply;
  remaining: number;
}

function checkCount(value: unknown, option: string): number {
  if (value === Infinity) return Infinity;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw configError(option, 'a positive integer or Infinity', value);
  }
  return value;
}

/**
 * Scripted failures and latency for a test transport. Rules are checked in order:
 * `failNext` first, then `failWhen` rules, then per-recipient `rejectRecipients` rules.
 *
 * @example
 * ```ts
 * const transport = memoryTransport();
 * transport.faults.failNext(2, 'throttle-gmail').rejectRecipients('@bounce.test');
 * ```
 */
export class FaultInjector {
  #next: { remaining: number; reply: FaultReply }[] = [];
  #when: Rule<(prepared: PreparedMessage) => boolean>[] = [];
  #recipients: Rule<(recipient: string) => boolean>[] = [];
  #latency: Latency = 0;

  /** Fails the next `count` sends with `fault`. @default count 1, fault 'tempfail' */
  failNext(count = 1, fault: Fault = 'tempfail'): this {
    this.#next.push({ remaining: checkCount(count, 'count'), reply: resolveFault(fault) });
    return this;
  }

  /** Fails every send for which `predicate` returns true (or the first `options.times` of them). */
  failWhen(predicate: (prepared: PreparedMessage) => boolean, fault: Fault = 'tempfail', options: FaultRuleOptions = {}): this {
    if (typeof predicate !== 'function') throw configError('predicate', 'a function', predicate);
    this.#when.push({ test: predicate, reply: resolveFault(fault), remaining: checkCount(options.times ?? Infinity, 'times') });
    return this;
  }

  /**
   * Refuses matching recipients while accepting the others, like a server answering RCPT TO
   * with an error for some recipients only. A send whose recipients are all refused rejects.
   * @default fault 'recipient-unknown'
   */
  rejectRecipients(match: RecipientMatch, fault: Fault = 'recipient-unknown', options: FaultRuleOptions = {}): this {
    this.#recipients.push({
      test: compileRecipientMatch(match),
      reply: resolveFault(fault),
      remaining: checkCount(options.times ?? Infinity, 'times'),
    });
    return this;
  }

  /** Sets the latency of every send, in milliseconds or per message. @default 0 */
  setLatency(latency: Latency): this {
    if (typeof latency !== 'function' && !(typeof latency === 'number' && Number.isFinite(latency) && latency >= 0)) {
      throw configError('latency', 'a finite number >= 0 or a function', latency);
    }
    this.#latency = latency;
    return this;
  }

  /** Removes every fault and the latency. */
  reset(): void {
    this.#next = [];
    this.#when = [];
    this.#recipients = [];
    this.#latency = 0;
  }

  /** True when any fault or latency is set; transports skip the other checks when false. */
  get active(): boolean {
    return this.#next.length > 0 || this.#when.length > 0 || this.#recipients.length > 0 || this.#latency !== 0;
  }

  /** True when per-recipient rules are set. */
  get hasRecipientRules(): boolean {
    return this.#recipients.length > 0;
  }

  /** Latency for this send, in milliseconds. */
  latencyFor(prepared: PreparedMessage): number {
    const latency = typeof this.#latency === 'function' ? this.#latency(prepared) : this.#latency;
    if (!Number.isFinite(latency) || latency < 0) {
      throw configError('latency', 'a function returning a finite number >= 0', latency);
    }
    return latency;
  }

  /**
   * Decides whether this send fails as a whole, consuming one use of the rule that applies.
   * Returns the error to reject with, or `undefined`.
   */
  takeFault(prepared: PreparedMessage, transport?: string): MailError | undefined {
    const next = this.#next[0];
    if (next !== undefined) {
      if (--next.remaining <= 0) this.#next.shift();
      return faultError(next.reply, transport === undefined ? {} : { transport });
    }
    for (let i = 0; i < this.#when.length; i++) {
      const rule = this.#when[i]!;
      if (!rule.test(prepared)) continue;
      if (--rule.remaining <= 0) this.#when.splice(i, 1);
      return faultError(rule.reply, transport === undefined ? {} : { transport });
    }
    return undefined;
  }

  /** Decides whether one recipient is refused, consuming one use of the rule that applies. */
  takeRecipientFault(recipient: string, transport?: string): MailError | undefined {
    for (let i = 0; i < this.#recipients.length; i++) {
      const rule = this.#recipients[i]!;
      if (!rule.test(recipient)) continue;
      if (--rule.remaining <= 0) this.#recipients.splice(i, 1);
      return faultError(rule.reply, transport === undefined ? { recipient } : { transport, recipient });
    }
    return undefined;
  }
}

/**
 * Creates an empty {@link FaultInjector}.
 *
 * @example
 * ```ts
 * import { createFaultInjector, memoryTransport } from 'mailpush/testing';
 *
 * const faults = createFaultInjector().failNext(1, 'throttle-microsoft').rejectRecipients('@bounce.test');
 * const transport = memoryTransport({ faults }); // the first send is throttled, then @bounce.test recipients are refused
 * ```
 */
export function createFaultInjector(): FaultInjector {
  return new FaultInjector();
}
