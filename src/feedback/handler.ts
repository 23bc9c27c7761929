/**
 * One webhook handler for provider feedback: Amazon SES notifications through SNS and the
 * SendGrid Event Webhook. A Fetch API handler (`Request` -> `Response`, for Hono, Bun, Deno,
 * workers and Node 18+) plus {@link toNodeHandler} for node:http, Express and Fastify.
 *
 * Order of work, and the answers:
 * 1. route by path (`paths`), else by the provider's headers; 404 when neither matches;
 *    405 for anything but POST;
 * 2. read the raw body, capped at `maxBodyBytes` (413 above it);
 * 3. verify before anything is parsed or stored, failing closed: 401 without a signature,
 *    403 for a bad signature, an unknown topic, a foreign certificate URL, a stale or future
 *    timestamp; 503 when the SNS certificate cannot be fetched (the provider retries);
 * 4. parse (400 for malformed JSON or envelopes);
 * 5. hand the events to the processor (suppression, then the host's hook) and answer 200
 *    only once it resolved; 500 when it failed, so the provider delivers them again.
 *
 * A request verified and processed once is remembered in a {@link ReplayStore} (SNS TopicArn and
 * MessageId, SendGrid signature) for `replayRetentionMs` (7 days), so a replay or a provider's
 * retry is answered 200 without processing it twice. It is remembered only after processing
 * succeeded: a failing hook answers 5xx and the provider's retry is processed.
 * The handler never throws and never rejects. Problems that do not change the answer (a
 * signed SNS notification whose Message is not JSON, a replay id that could not be stored) are
 * reported to `onError` and counted in `handler.stats`.
 *
 * @example
 * ```ts
 * const handler = createFeedbackHandler({
 *   processor: mailer.feedback,
 *   ses: { topicArns: ['arn:aws:sns:us-east-1:123456789012:ses-feedback'] },
 *   sendgrid: { publicKey: process.env.SENDGRID_WEBHOOK_KEY! },
 * });
 * // Hono:     app.post('/webhooks/*', (c) => handler(c.req.raw));
 * // node:http createServer(toNodeHandler(handler)).listen(8080);
 * ```
 *
 * @module
 */

import { readBody } from '../http/body.js';
import { MailError, MailErrorCode, configError, isMailError, toMailError } from '../errors.js';
import memoryReplayStore from '../stores/replay-memory.js';
import type { ReplayStore } from '../types.js';
import type { FeedbackProcessor } from './processor.js';
import { SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER, createSendGridVerifier, parseSendGridEvents } from './sendgrid-events.js';
import type { SendGridVerifierOptions } from './sendgrid-events.js';
import { SNS_MAX_FETCH_BYTES, SnsVerificationError, createSnsVerifier, defaultSnsFetcher, isSubscribeUrl, parseSesNotification } from './sns.js';
import type { SnsVerifierOptions } from './sns.js';

/** SES (through SNS) options of the handler. */
export interface SesHandlerOptions extends Omit<SnsVerifierOptions, 'now'> {
  /** Confirm SNS subscriptions of allowed topics by fetching their SubscribeURL. @default true */
  readonly autoConfirm?: boolean;
}

/** SendGrid options of the handler. */
export type SendGridHandlerOptions = Omit<SendGridVerifierOptions, 'now'>;

/** URL paths the handler answers on. A request path equal to or ending with one of these goes to that provider. */
export interface FeedbackHandlerPaths {
  /** @default '/ses' */
  readonly ses?: string;
  /** @default '/sendgrid' */
  readonly sendgrid?: string;
}

/**
 * A refused or failed request, for logs; or a request answered 2xx that could not be used (a
 * signed SNS notification whose Message is not JSON) or whose replay id could not be stored.
 */
export interface FeedbackHandlerError {
  readonly provider: 'ses' | 'sendgrid' | undefined;
  /** The HTTP status answered (200 for the problems that do not change the answer). */
  readonly status: number;
  readonly error: MailError;
}

/** Counters of a {@link FeedbackHandler}, since it was created. */
export interface FeedbackHandlerStats {
  /** Requests received. */
  readonly requests: number;
  /** Requests whose events were handed to the processor and processed. */
  readonly processed: number;
  /** Events handed to the processor. */
  readonly events: number;
  /** Replays and retries answered without processing them again. */
  readonly duplicates: number;
  /** Requests answered with a status that is not 2xx. */
  readonly errors: number;
  /** Signed SNS notifications whose Message is not JSON (answered 200: a retry cannot fix them). */
  readonly unreadable: number;
}

/** Options of {@link createFeedbackHandler}. */
export interface FeedbackHandlerOptions {
  /** Where verified events go (`mailer.feedback`, or `createFeedbackProcessor(...)`). */
  readonly processor: FeedbackProcessor;
  /** Accept Amazon SES notifications through SNS. */
  readonly ses?: SesHandlerOptions;
  /** Accept the SendGrid Event Webhook. */
  readonly sendgrid?: SendGridHandlerOptions;
  /** Largest request body read, bytes (SNS messages are at most 256 KiB, SendGrid batches about 768 KiB). @default 2_097_152 */
  readonly maxBodyBytes?: number;
  /** Paths per provider. @default { ses: '/ses', sendgrid: '/sendgrid' } */
  readonly paths?: FeedbackHandlerPaths;
  /**
   * Most requests the default in-memory replay store remembers; 0 turns replay detection off.
   * Ignored when `replay` is given. @default 10_000
   */
  readonly replayCacheSize?: number;
  /**
   * Where processed requests are remembered, to answer replays and retries without processing
   * them again (`mailer` stores give one with `store.replay`). A failing `has` answers 503 (the
   * provider retries); a failing `add` after processing is reported to `onError` and answered 200.
   * @default memoryReplayStore({ maxEntries: replayCacheSize })
   */
  readonly replay?: ReplayStore;
  /**
   * How long a processed request is remembered, ms. Longer than the freshness windows (SNS
   * messages are refused after `ses.maxMessageAgeMs`, 2 h; SendGrid after `sendgrid.toleranceSec`,
   * 10 min), so that a replay is caught even when a host widens them. @default 604_800_000 (7 days)
   */
  readonly replayRetentionMs?: number;
  /**
   * Called for every answer that is not 2xx, and for problems answered 200 (a signed SNS
   * notification whose Message is not JSON, a replay id that could not be stored). Never
   * awaited; what it throws is ignored.
   */
  readonly onError?: (info: FeedbackHandlerError) => void;
  /** Current time, ms. @default Date.now */
  readonly now?: () => number;
}

/** A Fetch API handler. */
export interface FeedbackHandler {
  (request: Request): Promise<Response>;
  /** The body cap, used by {@link toNodeHandler}. */
  readonly maxBodyBytes: number;
  /** Counters since the handler was created (a live view). */
  readonly stats: FeedbackHandlerStats;
}

/** Default {@link FeedbackHandlerOptions.replayRetentionMs}: 7 days. */
export const DEFAULT_REPLAY_RETENTION_MS = 7 * 86_400_000;

/** The text SES posts to a topic when event publishing to it is set up: a notice, not an error. */
const SES_SETUP_NOTICE = /^Successfully validated SNS topic for Amazon SES event publishing\.?$/;

/** The default cap on request bodies. */
export const DEFAULT_FEEDBACK_MAX_BODY_BYTES = 2 * 1024 * 1024;

type Provider = 'ses' | 'sendgrid';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly error?: MailError,
  ) {
    super(message);
  }
}

function json(status: number, body: Record<string, unknown>, extra?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extra } });
}

function checkPath(name: string, value: unknown): string {
  if (typeof value !== 'string' || !/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(value)) throw configError(`paths.${name}`, "a path starting with '/'", value);
  return value.length > 1 ? value.replace(/\/+$/, '') : value;
}

/**
 * Creates the feedback webhook handler. At least one of `ses` and `sendgrid` is required.
 * Throws a CONFIG MailError for invalid options (an empty topic list, a key that is not a P-256 key).
 *
 * @example
 * ```ts
 * import { createFeedbackHandler } from 'mailpush/feedback';
 *
 * const handler = createFeedbackHandler({
 *   processor: mailer.feedback,
 *   sendgrid: { publicKey: process.env.SENDGRID_WEBHOOK_KEY! },
 * });
 * app.post('/webhooks/sendgrid', (c) => handler(c.req.raw)); // Hono
 * ```
 */
export function createFeedbackHandler(options: FeedbackHandlerOptions): FeedbackHandler {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const processor = options.processor;
  if (typeof processor !== 'object' || processor === null || typeof processor.ingest !== 'function') {
    throw configError('processor', 'a FeedbackProcessor (createFeedbackProcessor() or mailer.feedback)', processor);
  }
  if (options.ses === undefined && options.sendgrid === undefined) throw configError('ses', 'set (or `sendgrid`): the handler needs a provider', undefined);
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw configError('now', 'a function', now);
  const maxBody = options.maxBodyBytes ?? DEFAULT_FEEDBACK_MAX_BODY_BYTES;
  if (typeof maxBody !== 'number' || !Number.isInteger(maxBody) || maxBody < 1024 || maxBody > 64 * 1024 * 1024) {
    throw configError('maxBodyBytes', 'an integer from 1024 to 67108864', maxBody);
  }
  const replayMax = options.replayCacheSize ?? 10_000;
  if (typeof replayMax !== 'number' || !Number.isInteger(replayMax) || replayMax < 0) throw configError('replayCacheSize', 'an integer >= 0', replayMax);
  const given = options.replay;
  if (given !== undefined && (typeof given !== 'object' || given === null || typeof given.has !== 'function' || typeof given.add !== 'function')) {
    throw configError('replay', 'a ReplayStore (has, add)', given);
  }
  const replay: ReplayStore | undefined = given ?? (replayMax === 0 ? undefined : memoryReplayStore({ maxEntries: replayMax }));
  const retentionMs = options.replayRetentionMs ?? DEFAULT_REPLAY_RETENTION_MS;
  if (typeof retentionMs !== 'number' || !Number.isFinite(retentionMs) || retentionMs < 60_000) throw configError('replayRetentionMs', 'a finite number of ms >= 60000', retentionMs);
  if (options.onError !== undefined && typeof options.onError !== 'function') throw configError('onError', 'a function', options.onError);
  const paths = { ses: checkPath('ses', options.paths?.ses ?? '/ses'), sendgrid: checkPath('sendgrid', options.paths?.sendgrid ?? '/sendgrid') };

  const ses = options.ses === undefined ? undefined : { verifier: createSnsVerifier({ ...options.ses, now }), fetcher: options.ses.fetcher ?? defaultSnsFetcher, autoConfirm: options.ses.autoConfirm !== false, timeoutMs: options.ses.fetchTimeoutMs ?? 5_000 };
  const sendgrid = options.sendgrid === undefined ? undefined : createSendGridVerifier({ ...options.sendgrid, now });

  const stats = { requests: 0, processed: 0, events: 0, duplicates: 0, errors: 0, unreadable: 0 };

  const seen = async (key: string): Promise<boolean> => {
    if (replay === undefined) return false;
    let hit: boolean;
    try {
      const r = replay.has(key, now());
      hit = r instanceof Promise ? await r : r;
    } catch (err) {
      throw new HttpError(503, 'The replay store is unavailable; retry later', storeError(`Replay store (${replay.name}) has`, err));
    }
    if (hit) stats.duplicates++;
    return hit;
  };
  /** Remembers a processed request. The processing is done: a failure is reported, not answered 5xx. */
  const remember = async (provider: Provider, key: string): Promise<void> => {
    if (replay === undefined) return;
    try {
      const r = replay.add(key, now() + retentionMs);
      if (r instanceof Promise) await r;
    } catch (err) {
      report(provider, 200, storeError(`Replay store (${replay.name}) add`, err));
    }
  };

  const route = (request: Request, pathname: string): Provider | undefined => {
    const p = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
    const byPath = (path: string): boolean => p === path || (path !== '/' && p.endsWith(path));
    if (byPath(paths.ses)) return 'ses';
    if (byPath(paths.sendgrid)) return 'sendgrid';
    if (request.headers.has('x-amz-sns-message-type')) return 'ses';
    if (request.headers.has(SENDGRID_SIGNATURE_HEADER)) return 'sendgrid';
    return undefined;
  };

  const handleSes = async (request: Request, body: Uint8Array): Promise<Response> => {
    if (ses === undefined) throw new HttpError(404, 'SES feedback is not configured');
    const type = request.headers.get('x-amz-sns-message-type');
    const topic = request.headers.get('x-amz-sns-topic-arn');
    if (type === null || topic === null) throw new HttpError(400, 'Not an SNS request (x-amz-sns-message-type and x-amz-sns-topic-arn headers missing)');
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    } catch {
      throw new HttpError(400, 'SNS body is not JSON');
    }
    // Header and body must agree before anything is fetched: a proxy or an attacker mixing them is refused.
    const b = parsed as Record<string, unknown> | null;
    const headerId = request.headers.get('x-amz-sns-message-id');
    if (typeof b !== 'object' || b === null || b.Type !== type || b.TopicArn !== topic || (headerId !== null && b.MessageId !== headerId)) {
      throw new HttpError(400, 'SNS headers and body disagree');
    }
    const env = await ses.verifier.verify(parsed);
    const key = `ses:${env.TopicArn}:${env.MessageId}`;
    if (await seen(key)) return json(200, { ok: true, duplicate: true });
    if (env.Type === 'SubscriptionConfirmation') {
      if (!isSubscribeUrl(env.SubscribeURL ?? '', env.TopicArn)) throw new HttpError(403, 'SNS SubscribeURL is not a ConfirmSubscription URL on sns.<region>.amazonaws.com for this topic');
      if (!ses.autoConfirm) return json(200, { ok: true, confirmed: false });
      try {
        await ses.fetcher(env.SubscribeURL!, { signal: AbortSignal.timeout(ses.timeoutMs), maxBytes: SNS_MAX_FETCH_BYTES });
      } catch (err) {
        throw new HttpError(503, 'Could not confirm the SNS subscription', new MailError(`Confirming the SNS subscription failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.CONNECTION, cause: err }));
      }
      await remember('ses', key);
      return json(200, { ok: true, confirmed: true });
    }
    if (env.Type === 'UnsubscribeConfirmation') {
      await remember('ses', key);
      return json(200, { ok: true });
    }
    const message = readSesMessage(env.Message);
    if (message === undefined) {
      // Signed by AWS, so a retry brings the same bytes: answered 200, but never silently.
      stats.unreadable++;
      const error = new MailError(`SNS notification ${env.MessageId} of ${env.TopicArn} carries a Message that is not JSON; no SES event was read from it`, {
        code: MailErrorCode.VALIDATION,
      });
      report('ses', 200, error);
      await remember('ses', key);
      return json(200, { ok: true, events: 0, suppressed: 0, ignored: 'Message is not JSON' });
    }
    const events = parseSesNotification(message, { envelopeId: env.MessageId, receivedAt: now() });
    const result = await ingest(events);
    await remember('ses', key);
    return json(200, { ok: true, events: result.events, suppressed: result.suppressed });
  };

  const handleSendGrid = async (request: Request, body: Uint8Array): Promise<Response> => {
    if (sendgrid === undefined) throw new HttpError(404, 'SendGrid feedback is not configured');
    const signature = request.headers.get(SENDGRID_SIGNATURE_HEADER);
    sendgrid.verify(body, signature, request.headers.get(SENDGRID_TIMESTAMP_HEADER));
    const key = `sg:${signature!}`;
    if (await seen(key)) return json(200, { ok: true, duplicate: true });
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    } catch {
      throw new HttpError(400, 'SendGrid body is not JSON');
    }
    if (!Array.isArray(parsed)) throw new HttpError(400, 'SendGrid body is not a JSON array of events');
    const result = await ingest(parseSendGridEvents(parsed, now()));
    await remember('sendgrid', key);
    return json(200, { ok: true, events: result.events, suppressed: result.suppressed });
  };

  const ingest = async (events: Parameters<FeedbackProcessor['ingest']>[0]): Promise<{ events: number; suppressed: number }> => {
    try {
      // Only the counts are answered: a large SendGrid batch need not keep every event alive.
      const r = await processor.ingest(events, { keepEvents: false });
      // A processor of the host's own making may predate `processed`.
      const count = typeof r.processed === 'number' ? r.processed : r.events.length;
      stats.processed++;
      stats.events += count;
      return { events: count, suppressed: r.suppressed };
    } catch (err) {
      const error = toMailError(err, MailErrorCode.STORE);
      // Invalid events from our own parsers would be a bug; a provider retry will not fix them, but 500 keeps them.
      throw new HttpError(500, 'Processing the events failed; retry later', error);
    }
  };

  const report = (provider: Provider | undefined, status: number, error: MailError): void => {
    if (options.onError === undefined) return;
    try {
      options.onError({ provider, status, error });
    } catch {
      // A logging hook must not change the answer.
    }
  };

  const handler = async (request: Request): Promise<Response> => {
    let provider: Provider | undefined;
    stats.requests++;
    try {
      let pathname: string;
      try {
        pathname = new URL(request.url).pathname;
      } catch {
        pathname = '/';
      }
      provider = route(request, pathname);
      if (provider === undefined) throw new HttpError(404, 'No feedback provider at this path');
      if (request.method !== 'POST') return json(405, { ok: false, error: 'Use POST' }, { allow: 'POST' });
      const body = await readBody(request, maxBody);
      if (body === undefined) throw new HttpError(413, `Body over ${maxBody} bytes`);
      return provider === 'ses' ? await handleSes(request, body) : await handleSendGrid(request, body);
    } catch (err) {
      let status = 500;
      let message = 'Internal error';
      let error: MailError;
      if (err instanceof HttpError) {
        status = err.status;
        message = err.message;
        error = err.error ?? new MailError(err.message, { code: status >= 500 ? MailErrorCode.INTERNAL : MailErrorCode.VALIDATION });
      } else if (err instanceof SnsVerificationError || (isMailError(err) && typeof (err as { status?: unknown }).status === 'number')) {
        status = (err as MailError & { status: number }).status;
        message = (err as MailError).message;
        error = err as MailError;
      } else {
        error = toMailError(err);
      }
      stats.errors++;
      report(provider, status, error);
      return json(status, { ok: false, error: message });
    }
  };
  return Object.assign(handler, { maxBodyBytes: maxBody, stats: stats as FeedbackHandlerStats });
}

/**
 * The `Message` of a verified SNS notification as SES writes it (a JSON object), or the SES
 * setup notice as an empty object; undefined when it is neither.
 */
function readSesMessage(message: string): Record<string, unknown> | undefined {
  const text = message.trim();
  if (SES_SETUP_NOTICE.test(text)) return {};
  if (!text.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function storeError(what: string, err: unknown): MailError {
  return new MailError(`${what} failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err });
}

// The Node adapter lives in src/http (shared with the unsubscribe handler); re-exported here.
export { toNodeHandler } from '../http/node.js';
export type { NodeRequest as NodeFeedbackRequest, NodeHandlerOptions } from '../http/node.js';
