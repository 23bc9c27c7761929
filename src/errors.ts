/**
 * Errors raised by mailpush. Every rejection from the library is a {@link MailError}
 * with a stable string `code`; match on `error.code` (or {@link isMailError}), not on
 * `instanceof`, so that matching keeps working across duplicate copies of the package.
 *
 * @module
 */

const BRAND = Symbol.for('mailpush.MailError');

/**
 * Every error code mailpush can produce. The strings are stable across releases.
 */
export const MailErrorCode = {
  /** Options passed to a factory are invalid. */
  CONFIG: 'MAILPUSH_ERR_CONFIG',
  /** The message failed validation (addresses, headers, content). */
  VALIDATION: 'MAILPUSH_ERR_VALIDATION',
  /** An address is malformed or not allowed. */
  INVALID_ADDRESS: 'MAILPUSH_ERR_INVALID_ADDRESS',
  /** A header name or value is malformed (CR/LF injection, bad characters, duplicates). */
  INVALID_HEADER: 'MAILPUSH_ERR_INVALID_HEADER',
  /** The message or one of its parts exceeds a configured size limit. */
  TOO_LARGE: 'MAILPUSH_ERR_TOO_LARGE',
  /** The mailer is closed or closing and takes no new messages. */
  CLOSED: 'MAILPUSH_ERR_CLOSED',
  /** The send was aborted through its AbortSignal. */
  ABORTED: 'MAILPUSH_ERR_ABORTED',
  /** The receiving side answered with a temporary failure; the job will be retried. */
  TRANSIENT: 'MAILPUSH_ERR_TRANSIENT',
  /** The receiving side asked us to slow down. */
  THROTTLED: 'MAILPUSH_ERR_THROTTLED',
  /** The receiving side refused the message or recipient for good. */
  PERMANENT: 'MAILPUSH_ERR_PERMANENT',
  /** A job kept failing temporarily until its max age or max attempts ran out. */
  EXPIRED: 'MAILPUSH_ERR_EXPIRED',
  /** The From domain failed a required sending-domain check (SPF, DKIM, DMARC, alignment). */
  PREFLIGHT: 'MAILPUSH_ERR_PREFLIGHT',
  /** The recipient is on the suppression list. */
  SUPPRESSED: 'MAILPUSH_ERR_SUPPRESSED',
  /** The message's campaign was cancelled (`mailer.campaign(id).cancel()`) before it was sent. */
  CANCELLED: 'MAILPUSH_ERR_CANCELLED',
  /**
   * Marketing mail that bulk-mail rules require more of: no `unsubscribe` or `postalAddress`
   * configured on the mailer (RFC 8058, CAN-SPAM), or several recipients where one
   * unsubscribe token per recipient is needed. The send option `skipMarketingCompliance`
   * waives it for one message.
   */
  COMPLIANCE: 'MAILPUSH_ERR_COMPLIANCE',
  /** A connection to the transport could not be made or broke. */
  CONNECTION: 'MAILPUSH_ERR_CONNECTION',
  /** The transport refused our credentials. */
  AUTH: 'MAILPUSH_ERR_AUTH',
  /** TLS was required but not available, or the handshake failed. */
  TLS: 'MAILPUSH_ERR_TLS',
  /** An operation took longer than its timeout. */
  TIMEOUT: 'MAILPUSH_ERR_TIMEOUT',
  /** The transport is paused (for example an ESP account with sending paused). */
  TRANSPORT_PAUSED: 'MAILPUSH_ERR_TRANSPORT_PAUSED',
  /** A store (queue journal, suppression list) failed. */
  STORE: 'MAILPUSH_ERR_STORE',
  /** An optional peer dependency is not installed. */
  MISSING_DEPENDENCY: 'MAILPUSH_ERR_MISSING_DEPENDENCY',
  /** A template does not compile (MJML error, unclosed `{{`, a variable in a typed MJML attribute) or cannot render (missing variables). */
  TEMPLATE: 'MAILPUSH_ERR_TEMPLATE',
  /** An assertion of the testing kit failed. */
  ASSERTION: 'MAILPUSH_ERR_ASSERTION',
  /** Anything else: a bug or an unexpected failure of a dependency. */
  INTERNAL: 'MAILPUSH_ERR_INTERNAL',
} as const;

/** Union of every {@link MailErrorCode} value. */
export type MailErrorCode = (typeof MailErrorCode)[keyof typeof MailErrorCode];

/** What a throttle or pause concerns, see {@link MailErrorOptions.scope}. */
export type ErrorScope = 'domain' | 'transport';

/** Fields accepted by the {@link MailError} constructor besides the message. */
export interface MailErrorOptions {
  /** Stable error code. */
  readonly code: MailErrorCode;
  /** Whether trying again later could succeed. Defaults from the code. */
  readonly retryable?: boolean;
  /** Name of the transport that produced the error, if any. */
  readonly transport?: string;
  /** SMTP reply code or HTTP status of the response that caused the error. */
  readonly responseCode?: number;
  /** RFC 3463 enhanced status code (`5.1.1`), when the response carried one. */
  readonly enhancedStatus?: string;
  /** The raw response text of the server. */
  readonly response?: string;
  /** How long the server asked us to wait before trying again, in milliseconds. */
  readonly retryAfterMs?: number;
  /** Classification category (`userunknown`, `ratelimited`, ...), see {@link BounceCategory}. */
  readonly category?: string;
  /** The recipient address the error is about, when it concerns one recipient. */
  readonly recipient?: string;
  /** Option path for configuration errors (`limits.default.ratePerSecond`). */
  readonly option?: string;
  /**
   * What a THROTTLED or TRANSPORT_PAUSED error is about: the recipient `domain` (SMTP 421
   * 4.7.28: slow that domain down) or the whole `transport` (an ESP account rate or a paused
   * account: slow down or pause every send through it). @default 'domain'
   */
  readonly scope?: ErrorScope;
  /** The underlying error. */
  readonly cause?: unknown;
}

const RETRYABLE_CODES: ReadonlySet<MailErrorCode> = new Set<MailErrorCode>([
  MailErrorCode.TRANSIENT,
  MailErrorCode.THROTTLED,
  MailErrorCode.CONNECTION,
  MailErrorCode.TIMEOUT,
  MailErrorCode.TRANSPORT_PAUSED,
  MailErrorCode.STORE,
]);

/**
 * The one error type of mailpush.
 *
 * @example
 * ```ts
 * try { await mailer.send(msg) } catch (err) {
 *   if (isMailError(err) && err.code === MailErrorCode.INVALID_ADDRESS) { ... }
 * }
 * ```
 */
export class MailError extends Error {
  /** Stable error code; match on this. */
  readonly code: MailErrorCode;
  /** Whether trying again later could succeed. */
  readonly retryable: boolean;
  /** Transport name, when a transport produced the error. */
  readonly transport?: string;
  /** SMTP reply code or HTTP status. */
  readonly responseCode?: number;
  /** RFC 3463 enhanced status code. */
  readonly enhancedStatus?: string;
  /** Raw server response. */
  readonly response?: string;
  /** Server hint: wait this long before retrying, in milliseconds. */
  readonly retryAfterMs?: number;
  /** Classification category, when the error was classified. */
  readonly category?: string;
  /** Recipient address the error concerns. */
  readonly recipient?: string;
  /** Option path for configuration errors. */
  readonly option?: string;
  /** What a throttle or pause concerns. */
  readonly scope?: ErrorScope;

  constructor(message: string, options: MailErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MailError';
    this.code = options.code;
    this.retryable = options.retryable ?? RETRYABLE_CODES.has(options.code);
    if (options.transport !== undefined) this.transport = options.transport;
    if (options.responseCode !== undefined) this.responseCode = options.responseCode;
    if (options.enhancedStatus !== undefined) this.enhancedStatus = options.enhancedStatus;
    if (options.response !== undefined) this.response = options.response;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.category !== undefined) this.category = options.category;
    if (options.recipient !== undefined) this.recipient = options.recipient;
    if (options.option !== undefined) this.option = options.option;
    if (options.scope !== undefined) this.scope = options.scope;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** A plain JSON form, safe to log or to store in a durable queue. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, code: this.code, message: this.message, retryable: this.retryable };
    for (const k of ['transport', 'responseCode', 'enhancedStatus', 'response', 'retryAfterMs', 'category', 'recipient', 'option', 'scope'] as const) {
      if (this[k] !== undefined) out[k] = this[k];
    }
    return out;
  }
}

/**
 * Rebuilds a {@link MailError} from its {@link MailError.toJSON} form (as kept by a durable
 * store). Unknown fields are ignored; a value that is not such a form gives an INTERNAL error.
 *
 * @example
 * ```ts
 * const error = mailErrorFromJSON(JSON.parse(row.error));
 * ```
 */
export function mailErrorFromJSON(json: Readonly<Record<string, unknown>>): MailError {
  const str = (k: string): string | undefined => (typeof json[k] === 'string' ? (json[k] as string) : undefined);
  const num = (k: string): number | undefined => (typeof json[k] === 'number' ? (json[k] as number) : undefined);
  const code = (Object.values(MailErrorCode) as string[]).includes(str('code') ?? '') ? (str('code') as MailErrorCode) : MailErrorCode.INTERNAL;
  const scope = str('scope');
  const opts: { -readonly [K in keyof MailErrorOptions]: MailErrorOptions[K] } = { code };
  if (typeof json.retryable === 'boolean') opts.retryable = json.retryable;
  for (const k of ['transport', 'enhancedStatus', 'response', 'category', 'recipient', 'option'] as const) {
    const v = str(k);
    if (v !== undefined) opts[k] = v;
  }
  const responseCode = num('responseCode');
  if (responseCode !== undefined) opts.responseCode = responseCode;
  const retryAfterMs = num('retryAfterMs');
  if (retryAfterMs !== undefined) opts.retryAfterMs = retryAfterMs;
  if (scope === 'domain' || scope === 'transport') opts.scope = scope;
  return new MailError(str('message') ?? 'Unknown error', opts);
}

/**
 * True when `value` is a {@link MailError}, from this or any other copy of the package.
 *
 * @example
 * ```ts
 * import { isMailError, MailErrorCode } from 'mailpush';
 *
 * try {
 *   await mailer.send({ from: 'app@example.com', to: form.email, subject: 'Welcome', text: 'Hello' });
 * } catch (err) {
 *   if (isMailError(err) && err.code === MailErrorCode.INVALID_ADDRESS) console.error(err.message);
 * }
 * ```
 */
export function isMailError(value: unknown): value is MailError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/**
 * Builds the configuration error for an option, with the message style used throughout:
 * "Expected `limits.default.ratePerSecond` to be a positive number, got -1".
 */
export function configError(option: string, expected: string, got: unknown): MailError {
  return new MailError(`Expected \`${option}\` to be ${expected}, got ${describeValue(got)}`, {
    code: MailErrorCode.CONFIG,
    option,
  });
}

/** Short printable form of an arbitrary value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (value instanceof Date) return `Date(${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()})`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null || typeof value !== 'object') return String(value);
  return 'an object';
}

/** Wraps anything thrown into a MailError, keeping MailErrors as they are. */
export function toMailError(err: unknown, fallback: MailErrorCode = MailErrorCode.INTERNAL): MailError {
  if (isMailError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new MailError(message, { code: fallback, cause: err });
}
