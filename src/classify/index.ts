/**
 * The one classification table of mailpush: maps an SMTP reply code, an RFC 3463 enhanced
 * status, the response text and library/OS error codes (or an HTTP status) to an outcome
 * (`accepted | transient | throttled | permanent`), a {@link BounceCategory}, whether the
 * address is hard-bounced, and how long to wait. Transports use it for synchronous replies,
 * the retry logic for its decisions, and the bounce parser for DSN diagnostics.
 *
 * @example
 * ```ts
 * classify({ responseCode: 421, text: '421 4.7.28 ... unusual rate of unsolicited mail ...' });
 * // { outcome: 'throttled', category: 'ratelimited', hard: false, retryAfterMs: 600000,
 * //   enhancedStatus: '4.7.28', rule: 'gmail-rate-4.7.28' }
 * ```
 *
 * @module
 */

import { MailError, MailErrorCode, configError } from '../errors.js';
import type { BounceCategory, Classification, ClassifyInput, Outcome } from '../types.js';
import {
  extractEnhancedStatus,
  extractResponseCode,
  MAX_RETRY_AFTER_MS,
  MAX_TEXT_LENGTH,
  normalizeResponseText,
  parseEnhancedStatus,
  parseRetryAfter,
} from './hints.js';
import {
  AUTH_ERROR_CODES,
  BOUNCE_CATEGORIES,
  HARD_CATEGORIES,
  HTTP_ERROR_CODE,
  HTTP_PERMANENT_STATUSES,
  NETWORK_ERROR_CODES,
  OUTCOMES,
  PAUSED_ERROR_CODES,
  PERMANENT_LIBRARY_ERROR_CODES,
  TIMEOUT_ERROR_CODES,
  TLS_ERROR_CODES,
  defaultClassificationRules,
} from './rules.js';
import type { ClassificationRule, RuleCondition, RuleEffect } from './rules.js';

export type { ClassificationRule, RuleCondition, RuleEffect } from './rules.js';
export {
  AUTH_ERROR_CODES,
  BOUNCE_CATEGORIES,
  HARD_CATEGORIES,
  HTTP_ERROR_CODE,
  HTTP_PERMANENT_STATUSES,
  NETWORK_ERROR_CODES,
  OUTCOMES,
  PAUSED_ERROR_CODES,
  PERMANENT_LIBRARY_ERROR_CODES,
  TIMEOUT_ERROR_CODES,
  TLS_ERROR_CODES,
  defaultClassificationRules,
} from './rules.js';
export {
  extractEnhancedStatus,
  extractResponseCode,
  MAX_RETRY_AFTER_MS,
  MAX_TEXT_LENGTH,
  normalizeResponseText,
  parseEnhancedStatus,
  parseRetryAfter,
} from './hints.js';

/** A classifier: an ordered rule table and the function that applies it. */
export interface Classifier {
  /** The rules, in the order they are tried (frozen copies of what was given). */
  readonly rules: readonly ClassificationRule[];
  /**
   * Classifies a response. Total: never throws, whatever the input (missing or garbage
   * fields, NaN codes, megabytes of text).
   */
  classify(input: ClassifyInput): Classification;
}

/** Options of {@link createClassifier}. */
export interface ClassifierOptions {
  /** Rules tried before the defaults. @default [] */
  readonly rules?: readonly ClassificationRule[];
  /** Replace the default table entirely (use only `rules`). @default false */
  readonly replaceDefaults?: boolean;
}

/** Options of {@link classifiedError}. */
export interface ClassifiedErrorOptions {
  /** Transport name, copied to the error. */
  readonly transport?: string;
  /** The recipient the response is about. */
  readonly recipient?: string;
  /** The underlying error (the nodemailer error, the SDK exception). */
  readonly cause?: unknown;
  /** Message to use instead of the server text. */
  readonly message?: string;
  /** Classifier to use. @default defaultClassifier */
  readonly classifier?: Classifier;
}

// ---------------------------------------------------------------------------------------
// Compilation and validation
// ---------------------------------------------------------------------------------------

interface CompiledRule {
  readonly id: string;
  readonly then: RuleEffect;
  readonly errorCodes: ReadonlySet<string> | undefined;
  readonly codes: ReadonlySet<number> | undefined;
  readonly codePredicate: ((code: number) => boolean) | undefined;
  readonly statusExact: string | undefined;
  readonly statusPattern: RegExp | undefined;
  readonly textPattern: RegExp | undefined;
}

const CONDITION_KEYS: ReadonlySet<string> = new Set(['responseCode', 'enhancedStatus', 'text', 'errorCode']);
const EFFECT_KEYS: ReadonlySet<string> = new Set(['outcome', 'category', 'hard', 'retryAfterMs']);
const RULE_KEYS: ReadonlySet<string> = new Set(['id', 'description', 'when', 'then']);
const OPTION_KEYS: ReadonlySet<string> = new Set(['rules', 'replaceDefaults']);
const CATEGORY_SET: ReadonlySet<string> = new Set(BOUNCE_CATEGORIES);
const OUTCOME_SET: ReadonlySet<string> = new Set(OUTCOMES);
const STATUS_SHAPE = /^[245]\.\d{1,3}\.\d{1,3}$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function checkKeys(value: Record<string, unknown>, allowed: ReadonlySet<string>, path: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      throw configError(`${path}.${key}`, `absent (known keys: ${[...allowed].join(', ')})`, value[key]);
    }
  }
}

/** A RegExp without the `g`/`y` flags, whose `test` would otherwise depend on `lastIndex`. */
function statelessRegExp(re: RegExp): RegExp {
  return re.global || re.sticky ? new RegExp(re.source, re.flags.replace(/[gy]/g, '')) : re;
}

function isReplyCode(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 999;
}

/** Validates one rule, returning a frozen copy (so later changes by the caller have no effect). */
function copyRule(value: unknown, path: string): ClassificationRule {
  if (!isPlainObject(value)) throw configError(path, 'a rule object ({ id, when, then })', value);
  checkKeys(value, RULE_KEYS, path);
  const { id, description, when, then } = value;
  if (typeof id !== 'string' || id.trim() === '') throw configError(`${path}.id`, 'a non-empty string', id);
  if (description !== undefined && typeof description !== 'string') throw configError(`${path}.description`, 'a string', description);
  if (!isPlainObject(when)) throw configError(`${path}.when`, 'an object', when);
  if (!isPlainObject(then)) throw configError(`${path}.then`, 'an object', then);
  checkKeys(when, CONDITION_KEYS, `${path}.when`);
  checkKeys(then, EFFECT_KEYS, `${path}.then`);

  const condition: { -readonly [K in keyof RuleCondition]: RuleCondition[K] } = {};
  const { responseCode, enhancedStatus, text, errorCode } = when;
  if (responseCode !== undefined) {
    if (typeof responseCode === 'function') condition.responseCode = responseCode as (code: number) => boolean;
    else if (isReplyCode(responseCode)) condition.responseCode = responseCode;
    else if (Array.isArray(responseCode) && responseCode.length > 0 && responseCode.every(isReplyCode)) {
      condition.responseCode = Object.freeze([...(responseCode as number[])]);
    } else {
      throw configError(`${path}.when.responseCode`, 'a reply code (integer 100-999), a non-empty array of them, or a predicate', responseCode);
    }
  }
  if (enhancedStatus !== undefined) {
    if (enhancedStatus instanceof RegExp) condition.enhancedStatus = statelessRegExp(enhancedStatus);
    else if (typeof enhancedStatus === 'string' && STATUS_SHAPE.test(enhancedStatus)) condition.enhancedStatus = enhancedStatus;
    else throw configError(`${path}.when.enhancedStatus`, "an enhanced status like '5.1.1' or a RegExp", enhancedStatus);
  }
  if (text !== undefined) {
    if (!(text instanceof RegExp)) throw configError(`${path}.when.text`, 'a RegExp', text);
    condition.text = statelessRegExp(text);
  }
  if (errorCode !== undefined) {
    if (typeof errorCode === 'string' && errorCode !== '') condition.errorCode = errorCode;
    else if (Array.isArray(errorCode) && errorCode.length > 0 && errorCode.every((c) => typeof c === 'string' && c !== '')) {
      condition.errorCode = Object.freeze([...(errorCode as string[])]);
    } else {
      throw configError(`${path}.when.errorCode`, 'a non-empty string or a non-empty array of them', errorCode);
    }
  }

  const { outcome, category, hard, retryAfterMs } = then;
  if (typeof category !== 'string' || !CATEGORY_SET.has(category)) {
    throw configError(`${path}.then.category`, `one of ${BOUNCE_CATEGORIES.join(', ')}`, category);
  }
  const effect: { -readonly [K in keyof RuleEffect]: RuleEffect[K] } = { category: category as BounceCategory };
  if (outcome !== undefined) {
    if (typeof outcome !== 'string' || !OUTCOME_SET.has(outcome)) throw configError(`${path}.then.outcome`, `one of ${OUTCOMES.join(', ')}`, outcome);
    effect.outcome = outcome as Outcome;
  }
  if (hard !== undefined) {
    if (typeof hard !== 'boolean') throw configError(`${path}.then.hard`, 'a boolean', hard);
    effect.hard = hard;
  }
  if (retryAfterMs !== undefined) {
    if (typeof retryAfterMs !== 'number' || !Number.isFinite(retryAfterMs) || retryAfterMs < 0) {
      throw configError(`${path}.then.retryAfterMs`, 'a finite number >= 0', retryAfterMs);
    }
    effect.retryAfterMs = retryAfterMs;
  }

  const rule: { -readonly [K in keyof ClassificationRule]: ClassificationRule[K] } = {
    id,
    when: Object.freeze(condition),
    then: Object.freeze(effect),
  };
  if (description !== undefined) rule.description = description;
  return Object.freeze(rule);
}

function compileRule(rule: ClassificationRule): CompiledRule {
  const { responseCode, enhancedStatus, text, errorCode } = rule.when;
  return {
    id: rule.id,
    then: rule.then,
    errorCodes: errorCode === undefined ? undefined : new Set(typeof errorCode === 'string' ? [errorCode] : errorCode),
    codes: responseCode === undefined || typeof responseCode === 'function' ? undefined : new Set(typeof responseCode === 'number' ? [responseCode] : responseCode),
    codePredicate: typeof responseCode === 'function' ? responseCode : undefined,
    statusExact: typeof enhancedStatus === 'string' ? enhancedStatus : undefined,
    statusPattern: enhancedStatus instanceof RegExp ? enhancedStatus : undefined,
    textPattern: text,
  };
}

// ---------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------

/** What is known about a response, cleaned up once. */
interface Facts {
  readonly code: number | undefined;
  readonly status: string | undefined;
  readonly text: string;
  readonly errorCode: string | undefined;
}

function readCode(value: unknown): number | undefined {
  if (typeof value === 'string' && /^\s{0,4}\d{3}\s{0,4}$/.test(value)) value = Number(value);
  return typeof value === 'number' && Number.isInteger(value) && value >= 200 && value <= 599 ? value : undefined;
}

function readFacts(input: unknown): Facts {
  const raw = typeof input === 'object' && input !== null ? (input as Record<string, unknown>) : {};
  const rawText = raw['text'];
  const text = typeof rawText === 'string' ? normalizeResponseText(rawText) : '';
  const code = readCode(raw['responseCode']) ?? readCode(extractResponseCode(text));
  let status = parseEnhancedStatus(raw['enhancedStatus']);
  if (status === undefined) {
    status = extractEnhancedStatus(text);
    // RFC 3463 §2: the status class matches the reply class. A mismatch means what we found
    // in the text is something else (a version number, a relayed code).
    if (status !== undefined && code !== undefined && status[0] !== String(code)[0]) status = undefined;
  }
  const rawError = raw['errorCode'];
  const errorCode = typeof rawError === 'string' && rawError !== '' ? rawError.slice(0, 200) : undefined;
  return { code, status, text, errorCode };
}

function matches(rule: CompiledRule, facts: Facts): boolean {
  if (rule.errorCodes !== undefined && (facts.errorCode === undefined || !rule.errorCodes.has(facts.errorCode))) return false;
  if (rule.codes !== undefined && (facts.code === undefined || !rule.codes.has(facts.code))) return false;
  if (rule.codePredicate !== undefined && (facts.code === undefined || rule.codePredicate(facts.code) !== true)) return false;
  if (rule.statusExact !== undefined && facts.status !== rule.statusExact) return false;
  if (rule.statusPattern !== undefined && !rule.statusPattern.test(facts.status ?? '')) return false;
  if (rule.textPattern !== undefined && !rule.textPattern.test(facts.text)) return false;
  return true;
}

const PERMANENT_LIBRARY: ReadonlySet<string> = new Set(PERMANENT_LIBRARY_ERROR_CODES);
const HARD: ReadonlySet<BounceCategory> = new Set(HARD_CATEGORIES);

/**
 * The class of a reply: its first digit, except that HTTP-only client errors (400, 401, 403,
 * 413, ...) count as permanent, since for HTTP a 4xx is final.
 */
function replyClass(facts: Facts): number | undefined {
  if (facts.code !== undefined) return HTTP_PERMANENT_STATUSES.has(facts.code) ? 5 : Math.floor(facts.code / 100);
  if (facts.status !== undefined) return Number(facts.status[0]);
  return undefined;
}

function deriveOutcome(facts: Facts, category: BounceCategory): Outcome {
  const cls = replyClass(facts);
  if (cls === 2) return 'accepted';
  if (cls === 5) return 'permanent';
  if (cls === undefined && facts.errorCode !== undefined && PERMANENT_LIBRARY.has(facts.errorCode)) return 'permanent';
  return category === 'ratelimited' ? 'throttled' : 'transient';
}

const FALLBACK_RULE: CompiledRule = {
  id: 'default',
  then: { category: 'undefined' },
  errorCodes: undefined,
  codes: undefined,
  codePredicate: undefined,
  statusExact: undefined,
  statusPattern: undefined,
  textPattern: undefined,
};

function decide(rule: CompiledRule, facts: Facts): Classification {
  const { category } = rule.then;
  const outcome = rule.then.outcome ?? deriveOutcome(facts, category);
  // Only a permanent failure can condemn an address; a hint only matters if we will retry.
  const hard = outcome === 'permanent' && (rule.then.hard ?? HARD.has(category));
  const retryAfterMs = outcome === 'transient' || outcome === 'throttled' ? (parseRetryAfter(facts.text) ?? rule.then.retryAfterMs) : undefined;
  const result: { -readonly [K in keyof Classification]: Classification[K] } = { outcome, category, hard, rule: rule.id };
  if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
  if (facts.status !== undefined) result.enhancedStatus = facts.status;
  return result;
}

function run(compiled: readonly CompiledRule[], input: ClassifyInput): Classification {
  let facts: Facts;
  try {
    facts = readFacts(input);
  } catch {
    // A hostile input (a throwing getter) is treated as an unknown response.
    facts = { code: undefined, status: undefined, text: '', errorCode: undefined };
  }
  for (const rule of compiled) {
    let hit = false;
    try {
      hit = matches(rule, facts);
    } catch {
      // A throwing user predicate simply does not match.
    }
    if (hit) return decide(rule, facts);
  }
  return decide(FALLBACK_RULE, facts);
}

// The default table is validated like user rules (a mistake in it fails at import, in every
// test) and compiled once for all classifiers.
const COMPILED_DEFAULTS: readonly CompiledRule[] = Object.freeze(
  defaultClassificationRules.map((rule, i) => compileRule(copyRule(rule, `defaultClassificationRules[${i}]`))),
);
const DEFAULT_IDS: ReadonlySet<string> = new Set(defaultClassificationRules.map((r) => r.id));
if (DEFAULT_IDS.size !== defaultClassificationRules.length) throw configError('defaultClassificationRules', 'rules with unique ids', 'duplicates');

/**
 * Builds a classifier from the default table, with `rules` tried first. Validates every rule
 * eagerly: unknown keys, bad categories or outcomes, malformed conditions and duplicate ids
 * throw a `MAILPUSH_ERR_CONFIG` {@link MailError} naming the option (`rules[2].then.category`).
 *
 * @example
 * ```ts
 * const classifier = createClassifier({
 *   rules: [{ id: 'acme-quota', when: { responseCode: 452, text: /acme quota/i }, then: { category: 'ratelimited', retryAfterMs: 60_000 } }],
 * });
 * ```
 */
export function createClassifier(options?: ClassifierOptions): Classifier {
  if (options !== undefined && !isPlainObject(options)) throw configError('options', 'an object', options);
  const opts = (options ?? {}) as Record<string, unknown>;
  checkKeys(opts, OPTION_KEYS, 'options');
  const { rules: userRules, replaceDefaults } = opts;
  if (replaceDefaults !== undefined && typeof replaceDefaults !== 'boolean') throw configError('replaceDefaults', 'a boolean', replaceDefaults);
  if (userRules !== undefined && !Array.isArray(userRules)) throw configError('rules', 'an array of rules', userRules);

  const rules: ClassificationRule[] = [];
  const compiled: CompiledRule[] = [];
  const ids = new Set<string>();
  (userRules ?? []).forEach((value: unknown, i: number) => {
    const rule = copyRule(value, `rules[${i}]`);
    if (ids.has(rule.id)) throw configError(`rules[${i}].id`, 'a unique rule id', rule.id);
    ids.add(rule.id);
    rules.push(rule);
    compiled.push(compileRule(rule));
  });
  if (replaceDefaults !== true) {
    rules.forEach((rule, i) => {
      if (DEFAULT_IDS.has(rule.id)) throw configError(`rules[${i}].id`, 'a rule id not used by the default rules', rule.id);
    });
    rules.push(...defaultClassificationRules);
    compiled.push(...COMPILED_DEFAULTS);
  }
  Object.freeze(compiled);
  return Object.freeze({
    rules: Object.freeze(rules),
    classify: (input: ClassifyInput): Classification => {
      try {
        return run(compiled, input);
      } catch {
        return { outcome: 'transient', category: 'undefined', hard: false, rule: FALLBACK_RULE.id };
      }
    },
  });
}

/** The classifier with the default table. */
export const defaultClassifier: Classifier = createClassifier();

/**
 * Classifies a response with the default table.
 *
 * @example
 * ```ts
 * classify({ responseCode: 550, text: '550 5.1.1 <a@b.com>: Recipient address rejected: User unknown' });
 * // { outcome: 'permanent', category: 'userunknown', hard: true, enhancedStatus: '5.1.1', rule: 'x.1.1-user-unknown' }
 * ```
 */
export function classify(input: ClassifyInput): Classification {
  return defaultClassifier.classify(input);
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

const NETWORK: ReadonlySet<string> = new Set(NETWORK_ERROR_CODES);
const TIMEOUT: ReadonlySet<string> = new Set(TIMEOUT_ERROR_CODES);
const AUTH: ReadonlySet<string> = new Set(AUTH_ERROR_CODES);
const TLS: ReadonlySet<string> = new Set(TLS_ERROR_CODES);
const PAUSED: ReadonlySet<string> = new Set(PAUSED_ERROR_CODES);
const CREDENTIAL_REPLY_CODES: ReadonlySet<number> = new Set([401, 403, 407, 530, 534, 535, 538]);
const TLS_WORDING = /\b(?:TLS|SSL|STARTTLS|REQUIRETLS)\b|certificate|encrypt/i;

/** Longest error message built from a server text, in characters. */
const MAX_MESSAGE_LENGTH = 500;

function errorCodeFor(c: Classification, errorCode: string | undefined, code: number | undefined, text: string): MailErrorCode {
  switch (c.outcome) {
    case 'throttled':
      return MailErrorCode.THROTTLED;
    case 'transient':
      if (errorCode !== undefined && PAUSED.has(errorCode)) return MailErrorCode.TRANSPORT_PAUSED;
      if (errorCode !== undefined && TIMEOUT.has(errorCode)) return MailErrorCode.TIMEOUT;
      if (errorCode !== undefined && NETWORK.has(errorCode)) return MailErrorCode.CONNECTION;
      return MailErrorCode.TRANSIENT;
    case 'permanent': {
      if (c.category === 'securityerror' && ((errorCode !== undefined && TLS.has(errorCode)) || TLS_WORDING.test(text))) return MailErrorCode.TLS;
      const credentials = (errorCode !== undefined && AUTH.has(errorCode)) || (code !== undefined && CREDENTIAL_REPLY_CODES.has(code));
      if (credentials && (c.category === 'authfailure' || c.category === 'securityerror')) return MailErrorCode.AUTH;
      return MailErrorCode.PERMANENT;
    }
    default:
      // An accepted reply is not an error; a transport asking for one has a bug.
      return MailErrorCode.INTERNAL;
  }
}

function oneLine(value: string): string {
  const line = normalizeResponseText(value);
  return line.length > MAX_MESSAGE_LENGTH ? `${line.slice(0, MAX_MESSAGE_LENGTH - 3)}...` : line;
}

function causeMessage(cause: unknown): string | undefined {
  try {
    if (cause instanceof Error && typeof cause.message === 'string' && cause.message !== '') return cause.message;
  } catch {
    // A hostile cause does not break error construction.
  }
  return undefined;
}

/**
 * Builds the {@link MailError} a transport rejects with, from a classified response: the code
 * follows the outcome (`THROTTLED`; `TRANSIENT`, or `CONNECTION`/`TIMEOUT` for network error
 * codes, `TRANSPORT_PAUSED` for a paused account; `PERMANENT`, or `AUTH` for refused
 * credentials, `TLS` for TLS failures), `retryable` is true for transient and throttled
 * outcomes, and the reply code, enhanced status, text, wait hint, category, recipient,
 * transport and cause are copied. The message is the server text on one line, at most 500
 * characters (`550 5.1.1 <a@b.com>: user unknown`). Never throws.
 *
 * @example
 * ```ts
 * transportPromise.catch((err) => {
 *   throw classifiedError({ responseCode: err.responseCode, text: err.response, errorCode: err.code }, { transport: 'smtp', cause: err });
 * });
 * ```
 */
export function classifiedError(input: ClassifyInput, options?: ClassifiedErrorOptions): MailError {
  const opts: ClassifiedErrorOptions = typeof options === 'object' && options !== null ? options : {};
  const classifier = opts.classifier ?? defaultClassifier;
  let c: Classification;
  let facts: Facts;
  try {
    c = classifier.classify(input);
    facts = readFacts(input);
  } catch {
    c = { outcome: 'transient', category: 'undefined', hard: false, rule: FALLBACK_RULE.id };
    facts = { code: undefined, status: undefined, text: '', errorCode: undefined };
  }
  const rawText = typeof input === 'object' && input !== null && typeof input.text === 'string' ? input.text : undefined;

  let message: string;
  if (typeof opts.message === 'string' && opts.message.trim() !== '') {
    message = oneLine(opts.message);
  } else if (facts.text !== '') {
    const prefixed = facts.code !== undefined && !facts.text.startsWith(String(facts.code)) ? `${facts.code} ${facts.text}` : facts.text;
    message = oneLine(prefixed);
  } else {
    const base = causeMessage(opts.cause) ?? (facts.code !== undefined ? `Response ${facts.code}` : `Send failed (${c.outcome})`);
    const withCode = facts.errorCode !== undefined && !base.includes(facts.errorCode) ? `${base} (${facts.errorCode})` : base;
    message = oneLine(withCode);
  }

  return new MailError(message || 'Send failed', {
    code: errorCodeFor(c, facts.errorCode, facts.code, facts.text),
    retryable: c.outcome === 'transient' || c.outcome === 'throttled',
    ...(typeof opts.transport === 'string' ? { transport: opts.transport } : {}),
    ...(facts.code !== undefined ? { responseCode: facts.code } : {}),
    ...(c.enhancedStatus !== undefined ? { enhancedStatus: c.enhancedStatus } : {}),
    ...(rawText !== undefined ? { response: rawText.length > MAX_TEXT_LENGTH ? rawText.slice(0, MAX_TEXT_LENGTH) : rawText } : {}),
    ...(c.retryAfterMs !== undefined ? { retryAfterMs: c.retryAfterMs } : {}),
    category: c.category,
    ...(typeof opts.recipient === 'string' ? { recipient: opts.recipient } : {}),
    ...(opts.cause !== undefined ? { cause: opts.cause } : {}),
  });
}
