/**
 * The `logger` option: the mailer's events written to a pino-compatible logger. Everything
 * is logged from event listeners, never from the delivery path; with a logger that says a
 * level is off (`isLevelEnabled`, as pino has), the events of that level are not even
 * subscribed, so a production logger at `info` costs nothing per sent message.
 *
 * Levels:
 * - `error`: `error` events (a store write failed, a listener threw: nothing lost, but look);
 * - `warn`: final failures (`failed`: permanent, expired, invalid), `throttled` (a domain or
 *   the transport slowed down), `transportDown` (the transport cannot connect or authenticate),
 *   `complaintRate` warnings and pauses;
 * - `info`: `deferred` (a temporary failure, retried later), `failed` for suppressed and
 *   aborted mail (expected outcomes), `feedback` events, `transportUp`, `recovered` (jobs of
 *   an earlier run back in the queue, one line per burst), `campaign` state changes (paused,
 *   resumed, cancelled, completed), `complaintRate` resumes;
 * - `debug`: `queued`, `sending`, `sent`, deferrals caused by a throttle (the `throttled`
 *   warning already said it), `campaign` progress, `idle`.
 *
 * @module
 */

import { configError } from '../errors.js';
import type { MailError } from '../errors.js';
import type { JobEventBase, MailerEvents, MailerListener } from '../events.js';

/** One logging method of a pino-compatible logger: a context object first, then the message. */
export type LogMethod = (context: Record<string, unknown>, message: string) => void;

/**
 * A pino-compatible logger: pino, or anything with the four methods called as
 * `logger.warn({ ...context }, 'message')`. `isLevelEnabled` is optional.
 */
export interface MailerLogger {
  readonly debug: LogMethod;
  readonly info: LogMethod;
  readonly warn: LogMethod;
  readonly error: LogMethod;
  /** pino's: lets the mailer skip subscribing to events whose level is off. */
  readonly isLevelEnabled?: (level: string) => boolean;
}

type Level = 'debug' | 'info' | 'warn' | 'error';
type On = <K extends keyof MailerEvents>(event: K, listener: MailerListener<K>) => () => void;

/** Checks the `logger` option. @internal */
export function checkLogger(logger: unknown): MailerLogger {
  const l = logger as Partial<MailerLogger> | null;
  if (typeof l !== 'object' || l === null || (['debug', 'info', 'warn', 'error'] as const).some((m) => typeof l[m] !== 'function')) {
    throw configError('logger', 'a pino-compatible logger (an object with debug, info, warn and error methods)', logger);
  }
  return l as MailerLogger;
}

function job(e: JobEventBase): Record<string, unknown> {
  return { jobId: e.jobId, messageId: e.messageId, domain: e.domain, recipients: e.recipients, attempt: e.attempt, priority: e.priority, transport: e.transport };
}

function err(error: MailError): Record<string, unknown> {
  return {
    err: error,
    code: error.code,
    ...(error.responseCode !== undefined ? { responseCode: error.responseCode } : {}),
    ...(error.enhancedStatus !== undefined ? { enhancedStatus: error.enhancedStatus } : {}),
  };
}

/**
 * Writes a mailer's events to `logger` (see the levels in this module's description);
 * returns a function that stops it. Called by `createMailer` for the `logger` option.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * import { createMailer } from 'mailpush';
 *
 * const mailer = createMailer({ transport, logger: pino({ level: 'info' }) });
 * // {"level":40,"event":"failed","reason":"permanent","code":"MAILPUSH_ERR_PERMANENT",...,"msg":"mail to example.org failed: ..."}
 * ```
 * @internal
 */
export function attachLogger(on: On, logger: MailerLogger): () => void {
  const enabled = (level: Level): boolean => {
    if (typeof logger.isLevelEnabled !== 'function') return true;
    try {
      return logger.isLevelEnabled(level) !== false;
    } catch {
      return true;
    }
  };
  const offs: (() => void)[] = [];
  const log = (level: Level, context: Record<string, unknown>, message: string): void => {
    logger[level](context, message);
  };
  const debug = enabled('debug');
  const info = enabled('info');
  const warn = enabled('warn');

  if (enabled('error')) {
    offs.push(on('error', (e) => log('error', { event: 'error', context: e.context, ...err(e.error) }, `mailpush ${e.context}: ${e.error.message}`)));
  }
  if (warn || info) {
    offs.push(
      on('failed', (e) => {
        const expected = e.reason === 'suppressed' || e.reason === 'aborted';
        if (expected ? !info : !warn) return;
        log(expected ? 'info' : 'warn', { event: 'failed', reason: e.reason, hard: e.hard, ...job(e), ...err(e.error) }, `mail to ${e.domain} ${e.reason === 'permanent' ? 'failed' : e.reason}: ${e.error.message}`);
      }),
    );
  }
  if (warn) {
    offs.push(
      on('throttled', (e) =>
        log(
          'warn',
          { event: 'throttled', scope: e.scope, domain: e.domain, transport: e.transport, pausedUntil: e.pausedUntil, ratePerSecond: e.ratePerSecond, concurrency: e.concurrency, ...err(e.error) },
          `${e.scope === 'transport' ? `transport ${e.transport}` : e.domain} throttled: paused until ${new Date(e.pausedUntil).toISOString()}, then ${e.ratePerSecond}/s`,
        ),
      ),
      on('transportDown', (e) =>
        log(
          'warn',
          { event: 'transportDown', transport: e.transport, reason: e.reason, ...(e.retryAt !== undefined ? { retryAt: e.retryAt } : {}), ...err(e.error) },
          `transport ${e.transport} is down (${e.reason}): ${e.error.message}${e.retryAt !== undefined ? `; sends paused, next try ${new Date(e.retryAt).toISOString()}` : '; messages fail at once'}`,
        ),
      ),
    );
  }
  if (info || debug) {
    offs.push(
      on('deferred', (e) => {
        if (e.throttled ? !debug : !info) return;
        log(e.throttled ? 'debug' : 'info', { event: 'deferred', throttled: e.throttled, retryAt: e.retryAt, ...job(e), ...err(e.error) }, `mail to ${e.domain} deferred until ${new Date(e.retryAt).toISOString()}: ${e.error.message}`);
      }),
    );
  }
  let recovered = 0;
  let recoveredTimer: ReturnType<typeof setTimeout> | undefined;
  if (info) {
    offs.push(
      on('feedback', (e) =>
        log(
          'info',
          {
            event: 'feedback',
            type: e.type,
            recipient: e.recipient,
            provider: e.provider,
            ...(e.messageId !== undefined ? { messageId: e.messageId } : {}),
            ...(e.jobId !== undefined ? { jobId: e.jobId } : {}),
            ...(e.hard !== undefined ? { hard: e.hard } : {}),
            ...(e.reason !== undefined ? { reason: e.reason } : {}),
          },
          `feedback ${e.type} for ${e.recipient} (${e.provider})`,
        ),
      ),
      on('transportUp', (e) => log('info', { event: 'transportUp', transport: e.transport, reason: e.reason, downForMs: e.downForMs }, `transport ${e.transport} is up again after ${Math.round(e.downForMs / 1000)} s`)),
      // One line per burst of recovered jobs (a restart may bring back thousands), a second after the first.
      on('recovered', () => {
        if (recovered++ > 0) return;
        recoveredTimer = setTimeout(() => {
          log('info', { event: 'recovered', jobs: recovered }, `${recovered} job(s) accepted by an earlier run are back in the queue`);
          recovered = 0;
        }, 1000);
        recoveredTimer.unref?.();
      }),
    );
  }
  if (debug) {
    offs.push(
      on('queued', (e) => log('debug', { event: 'queued', runAt: e.runAt, ...job(e) }, `queued for ${e.domain}`)),
      on('sending', (e) => log('debug', { event: 'sending', ...job(e) }, `sending to ${e.domain}`)),
      on('sent', (e) => log('debug', { event: 'sent', sentBy: e.sentBy, latencyMs: e.latencyMs, ...(e.response !== undefined ? { response: e.response } : {}), ...job(e) }, `sent to ${e.domain} in ${e.latencyMs} ms`)),
      on('idle', (e) => log('debug', { event: 'idle', at: e.at }, 'queue idle')),
    );
  }
  // Campaign and complaint-guard events (campaign control): typed loosely, only the fields logged.
  const onLoose = on as unknown as (event: string, listener: (e: Record<string, unknown>) => void) => () => void;
  if (warn || info) {
    offs.push(
      onLoose('complaintRate', (e) => {
        const level: Level = e.action === 'resume' ? 'info' : 'warn';
        if (!enabled(level)) return;
        log(level, { event: 'complaintRate', action: e.action, domain: e.domain, rate: e.rate, complaints: e.complaints, delivered: e.delivered }, `complaint rate of ${String(e.domain)}: ${String(e.action)} at ${typeof e.rate === 'number' ? (e.rate * 100).toFixed(2) : '?'} %`);
      }),
    );
  }
  if (info || debug) {
    offs.push(
      onLoose('campaign', (e) => {
        const level: Level = e.kind === 'progress' ? 'debug' : 'info';
        if (level === 'debug' ? !debug : !info) return;
        log(level, { event: 'campaign', campaign: e.campaign, kind: e.kind, state: e.state, queued: e.queued, sent: e.sent, failed: e.failed, remaining: e.remaining, ...(e.reason !== undefined ? { reason: e.reason } : {}) }, `campaign ${String(e.campaign)} ${String(e.kind)}: ${String(e.sent)} sent, ${String(e.remaining)} remaining`);
      }),
    );
  }
  return () => {
    for (const off of offs) off();
    clearTimeout(recoveredTimer);
  };
}
