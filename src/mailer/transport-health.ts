/**
 * Transport health: tells a failure of the transport itself (its relay's name does not
 * resolve, the connection is refused, our credentials are refused, TLS cannot be set up)
 * from a failure about one message, so that the mailer can say so once, loudly, instead of
 * retrying every message quietly for days.
 *
 * - A connection that cannot be set up (DNS, refused, unreachable, TLS) pauses the transport:
 *   the error becomes a retryable `TRANSPORT_PAUSED` (scope 'transport'), so the scheduler
 *   holds every send back for a growing pause (1 s, doubling up to 1 min) and the waiting
 *   messages do not spend attempts. They still expire after the retry `maxAgeMs`.
 * - Refused credentials (`AUTH`) or a certificate that does not verify (`TLS`), which are not
 *   retryable, fail each message at once with that error.
 * - Either way one `transportDown` event is emitted when the transport goes down and one
 *   `transportUp` when a send (or `verify()`) succeeds again.
 *
 * @module
 * @internal
 */

import { MailError, MailErrorCode, toMailError } from '../errors.js';
import type { TransportDownReason } from '../events.js';
import type { Clock, Transport } from '../types.js';
import type { TypedEmitter } from '../events.js';
import type { VerifyResult } from './options.js';

/** First pause after a connection failure, in ms; doubled at each failure while down. */
export const TRANSPORT_DOWN_FIRST_PAUSE_MS = 1_000;
/** Longest pause between tries of a transport that is down, in ms. */
export const TRANSPORT_DOWN_MAX_PAUSE_MS = 60_000;

const DNS_CODES: ReadonlySet<string> = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA', 'EDNS']);
const CONNECT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  // nodemailer's `timeoutType` of the connect phase.
  'CONNECT_TIMEOUT',
]);
const TLS_CODES: ReadonlySet<string> = new Set(['ETLS', 'EREQUIRETLS']);
const CAUSE_DEPTH = 6;

/**
 * Why a transport is down, when `error` says so; undefined for an error about a message or a
 * recipient (or an ambiguous one: a reset or a timeout after the connection was up).
 *
 * @example
 * ```ts
 * transportFault(new MailError('535 5.7.8 bad credentials', { code: MailErrorCode.AUTH })); // 'auth'
 * ```
 */
export function transportFault(error: MailError): TransportDownReason | undefined {
  if (error.recipient !== undefined) return undefined;
  if (error.code === MailErrorCode.AUTH) return 'auth';
  let current: unknown = error.cause;
  // Lookup errors come first: nodemailer reports a DNS failure as EDNS with the system code below.
  let found: TransportDownReason | undefined;
  for (let depth = 0; depth < CAUSE_DEPTH && typeof current === 'object' && current !== null; depth++) {
    const c = current as Record<string, unknown>;
    for (const key of ['code', 'originalCode', 'timeoutType']) {
      const value = c[key];
      if (typeof value !== 'string') continue;
      if (DNS_CODES.has(value)) return 'dns';
      if (CONNECT_CODES.has(value)) found ??= 'connect';
      else if (TLS_CODES.has(value)) found ??= 'tls';
    }
    current = c.cause;
  }
  if (found === undefined && error.code === MailErrorCode.TLS) return 'tls';
  return found;
}

/** Watches the outcomes of sends through one transport. */
export class TransportHealth {
  private down: { readonly since: number; readonly reason: TransportDownReason } | undefined;
  private pauseMs = TRANSPORT_DOWN_FIRST_PAUSE_MS;

  constructor(
    private readonly transport: Transport,
    private readonly emitter: TypedEmitter,
    private readonly clock: Clock,
  ) {}

  /** True while the transport is known to be down. */
  get isDown(): boolean {
    return this.down !== undefined;
  }

  /** A send went through (or was answered): the transport is up. Cheap on the hot path. */
  onSuccess(): void {
    if (this.down !== undefined) this.markUp();
  }

  /**
   * A send failed with `error`: returns the error the attempt settles with. A connection
   * that could not be set up becomes a retryable TRANSPORT_PAUSED (scope 'transport') that
   * pauses the transport; other errors are returned as they are.
   */
  onError(error: MailError): MailError {
    const reason = transportFault(error);
    if (reason === undefined) return error;
    if (error.code === MailErrorCode.TRANSPORT_PAUSED || error.code === MailErrorCode.THROTTLED) {
      // A composite whose members are all down pauses itself; say so once.
      this.markDown(reason, error, error.retryAfterMs);
      return error;
    }
    if (!error.retryable) {
      // Refused credentials, a certificate that does not verify: retrying cannot help, each
      // message fails at once with the error.
      this.markDown(reason, error, undefined);
      return error;
    }
    const pauseMs = this.down === undefined ? TRANSPORT_DOWN_FIRST_PAUSE_MS : this.pauseMs;
    this.markDown(reason, error, pauseMs);
    this.pauseMs = Math.min(TRANSPORT_DOWN_MAX_PAUSE_MS, pauseMs * 2);
    const name = error.transport ?? this.transport.name;
    return new MailError(`Transport ${name} is down (${REASON_TEXT[reason]}); sends are paused for ${pauseMs} ms: ${error.message}`, {
      code: MailErrorCode.TRANSPORT_PAUSED,
      retryable: true,
      transport: name,
      scope: 'transport',
      retryAfterMs: pauseMs,
      cause: error,
    });
  }

  /** Runs the transport's own check (connect, EHLO and AUTH for SMTP; an account call for SES and SendGrid). */
  async verify(): Promise<VerifyResult> {
    const t = this.transport;
    const started = this.clock.now();
    if (typeof t.verify !== 'function') return { ok: true, checked: false, transport: t.name, durationMs: 0 };
    try {
      await t.verify();
    } catch (err) {
      const error = toMailError(err);
      const reason = transportFault(error) ?? (error.code === MailErrorCode.TRANSPORT_PAUSED ? 'paused' : 'other');
      return { ok: false, transport: t.name, reason, error, durationMs: this.clock.now() - started };
    }
    this.onSuccess();
    return { ok: true, checked: true, transport: t.name, durationMs: this.clock.now() - started };
  }

  private markDown(reason: TransportDownReason, error: MailError, pauseMs: number | undefined): void {
    if (this.down !== undefined) return;
    const now = this.clock.now();
    this.down = { since: now, reason };
    this.emitter.emit('transportDown', {
      transport: error.transport ?? this.transport.name,
      reason,
      error,
      at: now,
      ...(pauseMs !== undefined ? { retryAt: now + pauseMs } : {}),
    });
  }

  private markUp(): void {
    const down = this.down!;
    this.down = undefined;
    this.pauseMs = TRANSPORT_DOWN_FIRST_PAUSE_MS;
    const now = this.clock.now();
    this.emitter.emit('transportUp', { transport: this.transport.name, at: now, downForMs: now - down.since, reason: down.reason });
  }
}

const REASON_TEXT: Readonly<Record<TransportDownReason, string>> = {
  dns: 'its host name does not resolve',
  connect: 'the connection cannot be made',
  tls: 'TLS cannot be set up',
  auth: 'the credentials were refused',
};
