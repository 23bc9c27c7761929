/**
 * The mailer's public types (options, receipts, reports) and the validation of its options.
 *
 * @module
 */

import { configError, MailErrorCode } from '../errors.js';
import type { MailError } from '../errors.js';
import type { PreflightOptions, PreflightResult } from '../auth/preflight.js';
import { PREFLIGHT_OPTION_KEYS } from '../auth/preflight.js';
import type { DkimOptions } from '../auth/dkim.js';
import type { FeedbackEvent } from '../feedback/event.js';
import type { FeedbackPolicy, SuppressionPolicyOptions } from '../feedback/policy.js';
import type { Correlation, CorrelationQuery, FeedbackProcessor, ProcessedEvent, RawTrust } from '../feedback/processor.js';
import type { VerpOptions } from '../feedback/verp.js';
import type { TrackingOptions } from '../tracking/config.js';
import type { ComplaintGuardOptions } from '../campaigns/complaint-guard.js';
import type { FeedbackIdOptions } from '../campaigns/feedback-id.js';
import type { Campaign, ComplaintGuardControl } from '../campaigns/types.js';
import type { UnsubscribeOptions, UnsubscribeSettings } from '../unsubscribe/settings.js';
import type { MailerEvents, MailerListener } from '../events.js';
import { normalizeDomain } from '../message/index.js';
import type { MessageLimits } from '../message/index.js';
import type { LimitsOptions, PriorityWeights, ThrottleOptions } from '../queue/limits.js';
import type { DomainStats } from '../queue/scheduler.js';
import type { RetryOptions } from '../retry/schedule.js';
import { PRIORITIES } from '../types.js';
import type { MailerLogger } from './logging.js';
import { knownKeys, rejectUnknownKeys } from '../validation/known-keys.js';
import type { KnownKeys } from '../validation/known-keys.js';
import type { Clock, MailerStore, MessageInput, NormalizedMessage, Priority, QueueStore, SubscriptionStore, SuppressionStore, Transport } from '../types.js';

/** Options of {@link createMailer}. */
export interface MailerOptions {
  /** Where mail goes: `smtpTransport(...)`, `memoryTransport()`, or any {@link Transport}. */
  readonly transport: Transport;
  /** Rate and concurrency limits per recipient domain, per transport and global. */
  readonly limits?: LimitsOptions;
  /** Weighted-fair shares of the priority lanes. @default DEFAULT_PRIORITY_WEIGHTS */
  readonly priorityWeights?: Partial<PriorityWeights>;
  /** Reaction to throttling responses. */
  readonly throttle?: ThrottleOptions;
  /** Retry policy for temporary failures. */
  readonly retry?: RetryOptions;
  /**
   * Everything that must outlive the process: the queue journal, the suppression list,
   * idempotency keys, soft-bounce counters, correlation data and webhook replay ids, as one
   * {@link MailerStore} (`sqliteStore({ path })` from `mailpush/stores/sqlite`), or a bare
   * {@link QueueStore} for the queue alone (the rest then stays in memory).
   * @default memoryStore(): nothing survives the process
   */
  readonly store?: MailerStore | QueueStore;
  /**
   * The suppression list, consulted before every send (so an unsubscribe or a hard bounce that
   * arrives during a campaign stops the rest of it). @default the store's, see `mailer.suppression`
   */
  readonly suppression?: SuppressionStore;
  /**
   * Most jobs the mailer holds in memory (ready, scheduled or in flight) when the store keeps
   * a backlog of its own (`QueueStore.page`, as the SQLite store does): beyond this, accepted
   * messages wait on disk and are read back in order as the queue drains. Critical mail is
   * always taken in at once. Ignored with the memory store, which holds everything anyway.
   * @default 10_000
   */
  readonly maxJobsInMemory?: number;
  /** Size and count limits applied to every message. */
  readonly messageLimits?: MessageLimits;
  /**
   * DKIM keys. A message whose From domain (or, failing that, its closest parent domain) has
   * active keys is signed by each of them (dual RSA + Ed25519 when both are given), after every
   * header is final. Needs a raw-MIME transport (SMTP, SES). @default no signing
   */
  readonly dkim?: DkimOptions;
  /**
   * Sending-domain checks (SPF, DKIM, DMARC, alignment) run by {@link Mailer.preflight}; with
   * `requireForMarketing`, marketing mail from a From domain whose required checks fail is
   * refused (PREFLIGHT) until the DNS is fixed. Checks are cached per domain for `cacheMs`.
   */
  readonly preflight?: MailerPreflightOptions;
  /** Feedback processing behind `mailer.feedback`: suppression policy, the host's awaited hook, correlation. */
  readonly feedback?: MailerFeedbackOptions;
  /**
   * VERP: each job's envelope sender (Return-Path) becomes `bounces+<token>@domain`, a signed
   * token naming the job, so a bounce that reaches that mailbox correlates exactly.
   * @default off: the envelope sender is the message's `returnPath`
   */
  readonly verp?: VerpOptions;
  /** Priority of messages sent without one, by category. @default { transactional: 'normal', marketing: 'bulk' } */
  readonly defaultPriority?: Partial<Record<'transactional' | 'marketing', Priority>>;
  /** Domain of generated Message-IDs. @default the From domain */
  readonly messageIdDomain?: string;
  /**
   * Accept recipients in one-label domains (`ops@localhost`, `ann@mailhub`). Off by default,
   * since `ann@example` is usually a typo for a full domain: such a recipient is refused with
   * `INVALID_ADDRESS`. @default false
   */
  readonly allowLocalDomains?: boolean;
  /** How long an `idempotencyKey` is remembered, in ms. @default 86_400_000 (24 h) */
  readonly idempotencyWindowMs?: number;
  /** Time source and timers. @default the system clock with unref()'ed timers */
  readonly clock?: Clock;
  /** Random source in [0, 1) for retry jitter. @default Math.random */
  readonly random?: () => number;
  /**
   * A pino-compatible logger (`debug`, `info`, `warn`, `error` methods taking a context object
   * and a message). Written from the mailer's events, never from the delivery path: failures
   * and throttles at `warn`, deferrals and feedback at `info`, each send at `debug` (see
   * README, Logging). @default silent
   */
  readonly logger?: MailerLogger;
  /**
   * Open and click tracking (`mailpush/tracking`): signed click links and an open pixel in the
   * HTML of messages sent with `{ track: true }` (only with the recipient's consent).
   * @default off
   */
  readonly tracking?: TrackingOptions;
  /**
   * One-click unsubscribe (`mailpush/unsubscribe`): marketing mail gets `List-Unsubscribe`
   * (`<url>/<token>`, then the optional mailto) and `List-Unsubscribe-Post`, covered by DKIM, and
   * a visible link. Tokens are encrypted with the first secret; every secret is accepted.
   * Marketing mail is refused without it unless sent with `skipMarketingCompliance`.
   * @default off
   */
  readonly unsubscribe?: UnsubscribeOptions;
  /**
   * The sender's physical postal address, put into marketing mail (CAN-SPAM); marketing mail is
   * refused without it unless sent with `skipMarketingCompliance`.
   */
  readonly postalAddress?: string;
  /**
   * Gmail's feedback loop: every message gets a `Feedback-ID: campaign:customer:category:SenderId`
   * header (what it lacks left out), covered by DKIM. @default no Feedback-ID
   */
  readonly feedbackId?: FeedbackIdOptions;
  /**
   * The complaint-rate guard: complaints over delivered recipients per From domain in a rolling
   * window; `complaintRate` events at `warnRate` (0.1 %) and at `pauseRate` (0.3 %), where
   * marketing mail from the domain is held until `mailer.complaintGuard.resume(domain)`.
   * Transactional mail is never held. @default on, with the defaults of {@link ComplaintGuardOptions}
   */
  readonly complaintGuard?: ComplaintGuardOptions;
}

/**
 * Every name {@link MailerOptions} takes: `createMailer` refuses any other key with a CONFIG
 * error that suggests the nearest name (`retires` -> `retry`).
 * Adding a mailer option? Add its name here too, or createMailer refuses it.
 * @internal
 */
export const MAILER_OPTION_KEYS: KnownKeys = knownKeys([
  'transport', 'limits', 'priorityWeights', 'throttle', 'retry', 'store', 'suppression', 'maxJobsInMemory',
  'messageLimits', 'dkim', 'preflight', 'feedback', 'verp', 'defaultPriority', 'messageIdDomain',
  'idempotencyWindowMs', 'clock', 'random', 'allowLocalDomains',
  // Issues 12-14 (unsubscribe, tracking, campaigns, observability).
  'unsubscribe', 'postalAddress', 'tracking', 'complaintGuard', 'logger', 'feedbackId',
]);

/** Feedback settings of the mailer. */
export interface MailerFeedbackOptions {
  /** Suppression policy (or its options). @default hard bounces and complaints at once, soft bounces after 3 in 7 days */
  readonly policy?: FeedbackPolicy | SuppressionPolicyOptions;
  /** The host's hook, awaited for every event after suppression; a failure makes the webhook answer 5xx so the provider retries. */
  readonly onEvent?: (event: FeedbackEvent, processed: ProcessedEvent) => void | Promise<void>;
  /**
   * How much `mailer.feedback.ingestRaw` trusts a bounce or complaint mail. `'verified'`: a report
   * changes state only for what it proves (a valid VERP token, or a returned original whose
   * X-Mailpush-Job-Id and Message-ID match a job this mailer sent, from `store.correlation`);
   * other reports reach `onEvent` as unverified events (`event.verified === false`) and change
   * nothing. `'mailbox'`: every report is believed (a private mailbox nobody outside can write to).
   * @default 'verified'
   */
  readonly rawTrust?: RawTrust;
  /** Finds the job of a feedback item the mailer cannot correlate itself (a redacted complaint). It completes events; it does not verify a mail-borne report. */
  readonly resolveCorrelation?: (query: CorrelationQuery) => Correlation | undefined | Promise<Correlation | undefined>;
}

/** The mailer's sending-domain check settings. */
export interface MailerPreflightOptions extends PreflightOptions {
  /** From addresses or domains to check. @default the domains of the DKIM keys */
  readonly senders?: readonly string[];
  /** Refuse marketing mail from a From domain that fails a required check. @default false */
  readonly requireForMarketing?: boolean;
  /** How long a domain's result is reused, in ms. @default 3_600_000 (1 h) */
  readonly cacheMs?: number;
}

/** Options of {@link Mailer.send}. */
export interface SendOptions {
  /** Dispatch priority. @default by category, see `defaultPriority` */
  readonly priority?: Priority;
  /** Do not send before this time (a Date or ms since epoch). */
  readonly sendAt?: Date | number;
  /** A second send with the same key within the idempotency window returns the first receipt and sends nothing. */
  readonly idempotencyKey?: string;
  /** Cancels the message: waiting jobs are dropped, sends in flight are aborted where the transport can. */
  readonly signal?: AbortSignal;
  /**
   * Track opens and clicks of this message (needs the mailer's `tracking` option and exactly
   * one recipient). Pass it only for a recipient who consented (COMPLIANCE.md L-3). @default false
   */
  readonly track?: boolean;
  /**
   * Send this marketing message without the unsubscribe and postal-address requirements (the
   * host handles unsubscribes its own way, or the mail is a service message sent as
   * marketing): no `MAILPUSH_ERR_COMPLIANCE` refusal. Headers are still added when the mailer
   * has `unsubscribe` and the message one recipient. @default false
   */
  readonly skipMarketingCompliance?: boolean;
}

/** Final state of one recipient. `pending` only appears in reports of a mailer that closed first. */
export type RecipientStatus = 'sent' | 'failed' | 'expired' | 'aborted' | 'suppressed' | 'pending';

/** What happened to one recipient. */
export interface RecipientResult {
  readonly address: string;
  readonly status: RecipientStatus;
  readonly jobId: string;
  /** Attempts counted for the job. */
  readonly attempts: number;
  /** Transport that sent it. */
  readonly transport?: string;
  readonly response?: string;
  readonly providerMessageId?: string;
  /** Why it was not sent. */
  readonly error?: MailError;
}

/** Outcome of a whole message. */
export interface DeliveryReport {
  readonly id: string;
  readonly messageId: string;
  /** `sent`: every recipient; `partial`: some; `failed`: none; `pending`: the mailer closed before the end. */
  readonly status: 'sent' | 'partial' | 'failed' | 'pending';
  readonly recipients: readonly RecipientResult[];
}

/** Returned by {@link Mailer.send} once the message is validated and queued. */
export interface SendReceipt {
  /** Internal message id. */
  readonly id: string;
  /** RFC 5322 Message-ID. */
  readonly messageId: string;
  /** The message as validated and queued (addresses normalized, ids assigned). */
  readonly message: NormalizedMessage;
  /** The jobs the message was split into (one per recipient domain). */
  readonly jobs: readonly { readonly jobId: string; readonly domain: string; readonly recipients: readonly string[] }[];
  /** True when this receipt comes from an earlier send with the same idempotency key. */
  readonly duplicate: boolean;
  /** Resolves (never rejects) with the final outcome of every recipient. */
  done(): Promise<DeliveryReport>;
}

/**
 * One item of a campaign given to {@link Mailer.sendMany}: a message, or a message with its send
 * options. With `sendMany`'s `message` option an item only needs what differs per recipient
 * (`{ to, vars }`): the shared fields are merged under it.
 */
export type CampaignItem = Partial<MessageInput> | { readonly message: Partial<MessageInput>; readonly options?: SendOptions };

/** Options of {@link Mailer.sendMany}. */
export interface SendManyOptions {
  /**
   * Most jobs held by the mailer (ready, scheduled or in flight) before `sendMany` stops
   * reading its source; it reads on once the queue drains to half of this.
   * @default 10_000
   */
  readonly maxQueued?: number;
  /** Send options applied to items that give none. */
  readonly defaults?: SendOptions;
  /** Called after every `progressEvery` items read. */
  readonly onProgress?: (progress: CampaignProgress) => void;
  /** @default 1_000 */
  readonly progressEvery?: number;
  /** Stops reading the source (already queued messages go on). */
  readonly signal?: AbortSignal;
  /**
   * The campaign id (1 to 64 letters, digits, `.`, `_`, `-`): every message gets it as its
   * `campaign`, and `mailer.campaign(id)` pauses, resumes, cancels it and reads its stats.
   * A cancelled id is refused. @default a new id (`cmp-...`), returned in the result
   */
  readonly campaign?: string;
  /**
   * Message fields shared by every item (`from`, `subject`, `template`, `list`, `category`...):
   * each item is merged over them (`tags`, `metadata`, `headers` and `vars` key by key).
   */
  readonly message?: Partial<MessageInput>;
  /**
   * Send to every address subscribed to this list (`mailer.subscriptions`), read page by page,
   * instead of a source: each gets `{ to: address, list }` over `message`. Unsubscribed
   * addresses are not members: the result reports how many as `unsubscribed`. Suppressed ones
   * are skipped at delivery and counted as `suppressed`.
   */
  readonly list?: string;
  /** Number of items the source will give, when known: progress events then include them in `remaining` and `etaMs`. */
  readonly total?: number;
}

/** Progress of a campaign. */
export interface CampaignProgress {
  /** The campaign id. */
  readonly campaign: string;
  /** Items read from the source. */
  readonly read: number;
  /** Messages queued. */
  readonly queued: number;
  /** Items refused by validation (bad address, header injection...). */
  readonly invalid: number;
}

/** Result of {@link Mailer.sendMany}. */
export interface CampaignResult extends CampaignProgress {
  /** The first 100 validation errors, with the index of the item in the source. */
  readonly errors: readonly { readonly index: number; readonly error: MailError }[];
  /** True when the signal (or a cancellation) stopped the campaign before the source ended. */
  readonly aborted: boolean;
  /** True when the campaign was cancelled (`mailer.campaign(id).cancel()`) while it was read. */
  readonly cancelled: boolean;
  /**
   * A list send (`sendMany({ list })`): the addresses that had unsubscribed from the list when
   * the send started, so were not sent to (they are not members; suppressed members are
   * counted at delivery, as `suppressed`). Absent for a source, and when the subscription
   * store has no {@link SubscriptionStore.count}.
   */
  readonly unsubscribed?: number;
}

/** Options of {@link Mailer.close}. */
export interface CloseOptions {
  /** Wait until every queued job has reached a final state (up to `timeoutMs`). @default false */
  readonly drain?: boolean;
  /** Longest wait for draining and for sends in flight, in ms; then sends in flight are aborted and handed back to the store. @default 30_000 */
  readonly timeoutMs?: number;
}

/** Returned by {@link Mailer.close}. */
export interface CloseResult {
  /** Unfinished jobs left in the store (recovered by the next mailer on a durable store). */
  readonly pending: number;
}

/**
 * Counts of {@link MailerStats.totals}, since the mailer started (not across restarts). Each
 * counts job events: a job is one message's recipients in one recipient domain, so a message
 * to three domains adds 3 to `queued`. A job whose recipients end differently counts once per
 * outcome.
 */
export interface MailerTotals {
  /** Jobs accepted by `send()` or `sendMany()` in this run (jobs read back after a restart are not counted: see the `recovered` event). */
  readonly queued: number;
  /** Deliveries accepted by the transport (a `sent` event). */
  readonly sent: number;
  /** Temporary failures that will be retried, throttles and paused transports included (a `deferred` event). */
  readonly deferred: number;
  /**
   * Final failures other than expiry (a `failed` event with `reason` `permanent`, `aborted`,
   * `suppressed` or `invalid`). Expired jobs are NOT in here: they are in `expired`; use
   * `failed + expired` for every job that ended undelivered.
   */
  readonly failed: number;
  /** Jobs that kept failing temporarily until the retry `maxAgeMs` or `maxAttempts` ran out (a `failed` event with `reason: 'expired'`). */
  readonly expired: number;
  /** Times a domain or the transport was slowed down or paused (a `throttled` event). */
  readonly throttled: number;
}

/** Snapshot returned by {@link Mailer.stats}. */
export interface MailerStats {
  /** Ready jobs per priority lane. */
  readonly queued: Readonly<Record<Priority, number>>;
  /** Jobs waiting for their sendAt or retry time. */
  readonly scheduled: number;
  /** Sends in flight. */
  readonly inflight: number;
  /** True while accepted messages wait in the store to be read into memory (see `maxJobsInMemory`). */
  readonly backlog: boolean;
  /** Domains with something going on. */
  readonly domains: Readonly<Record<string, DomainStats>>;
  /** The transport's own gate: its rate and concurrency in force, and a pause after an account-level throttle. */
  readonly transport: DomainStats;
  /** Event counts since the mailer started (per job: one job is a message's recipients in one domain). */
  readonly totals: Readonly<MailerTotals>;
}

/**
 * Result of {@link Mailer.verify}. `ok: false` carries the typed error and what failed:
 * `dns` (the host name does not resolve), `connect` (refused or unreachable), `tls`, `auth`
 * (credentials refused), `paused` (the ESP account cannot send), `other`.
 */
export type VerifyResult =
  | {
      readonly ok: true;
      /** Transport name. */
      readonly transport: string;
      /** False when the transport has no `verify()` (nothing was checked). */
      readonly checked: boolean;
      /** Time the check took, in ms. */
      readonly durationMs: number;
    }
  | {
      readonly ok: false;
      /** Transport name. */
      readonly transport: string;
      readonly reason: 'dns' | 'connect' | 'tls' | 'auth' | 'paused' | 'other';
      readonly error: MailError;
      /** Time the check took, in ms. */
      readonly durationMs: number;
    };

/** The mailer. */
export interface Mailer {
  /**
   * Validates and queues a message. Resolves once it is queued; `await (await send(m)).done()`
   * waits for the final outcome. Rejects with a MailError (VALIDATION, INVALID_ADDRESS,
   * INVALID_HEADER, TOO_LARGE, CLOSED, ABORTED, STORE) when it cannot be queued.
   */
  send(message: MessageInput, options?: SendOptions): Promise<SendReceipt>;
  /**
   * Queues a campaign from an iterable or async iterable (a database cursor, a CSV stream),
   * reading it only as fast as the queue drains, so a million recipients take bounded memory.
   * Invalid items are counted and skipped; the campaign goes on. Resolves once every item is
   * queued (not delivered: use events or `onIdle()` for that).
   */
  sendMany(source: Iterable<CampaignItem> | AsyncIterable<CampaignItem>, options?: SendManyOptions): Promise<CampaignResult>;
  /**
   * Sends a campaign to every address subscribed to `options.list` (see {@link SendManyOptions.list}).
   *
   * @example
   * ```ts
   * const result = await mailer.sendMany({ list: 'newsletter', campaign: 'weekly-42', message: { from, template, category: 'marketing' } });
   * ```
   */
  sendMany(options: SendManyOptions & { readonly list: string }): Promise<CampaignResult>;
  /**
   * Control of a campaign by id: `pause()`, `resume()`, `cancel()`, `stats()`. Works for any id,
   * also one sent before a restart (its state and counts are in the store).
   *
   * @example
   * ```ts
   * const run = mailer.sendMany(subscribers(), { campaign: 'spring-sale', message: { from, template, category: 'marketing' } });
   * await mailer.campaign('spring-sale').pause();
   * await mailer.campaign('spring-sale').resume();
   * const { counts, remaining } = await mailer.campaign('spring-sale').stats();
   * ```
   */
  campaign(id: string): Campaign;
  /**
   * The complaint-rate guard: `status(domain)`, `paused()`, `resume(domain)` (see `complaintGuard`).
   *
   * @example
   * ```ts
   * mailer.on('complaintRate', (e) => { if (e.action === 'pause') alert(`${e.domain}: ${(e.rate * 100).toFixed(2)} % complaints`) });
   * mailer.complaintGuard.resume('news.example.com'); // after looking into it
   * ```
   */
  readonly complaintGuard: ComplaintGuardControl;
  /** Adds an event listener; returns a function that removes it. */
  on<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): () => void;
  /** Adds a listener called once. */
  once<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): () => void;
  /** Removes an event listener. */
  off<K extends keyof MailerEvents>(event: K, listener: MailerListener<K>): void;
  /** A snapshot of queues, domains and totals. */
  stats(): MailerStats;
  /** Resolves when nothing is queued, scheduled or in flight. */
  onIdle(): Promise<void>;
  /**
   * Checks the sending domains (SPF, DKIM keys, DMARC, alignment, MX) and returns one report
   * per domain with the failed required items. Domains: `domains` given here, else
   * `preflight.senders`, else the DKIM key domains; the configured DKIM keys are compared with
   * the published ones.
   */
  preflight(options?: PreflightOptions & { readonly froms?: readonly string[] }): Promise<PreflightResult>;
  /**
   * Checks that the transport can send: for SMTP a connection with EHLO and AUTH, for SES a
   * GetAccount call, for SendGrid the key's scopes. Never rejects: the result says what
   * failed, with a typed error. Call it at start-up so that a wrong host or password shows at
   * once rather than as messages waiting to be retried.
   *
   * @example
   * ```ts
   * const check = await mailer.verify();
   * if (!check.ok) throw check.error; // e.g. MAILPUSH_ERR_AUTH, reason 'auth'
   * ```
   */
  verify(): Promise<VerifyResult>;
  /** Resolves once jobs left in the store by a previous run are back in the queue (the first window of them, with a store that pages). */
  ready(): Promise<void>;
  /** Stops intake, finishes or hands back in-flight work, closes the transport. Idempotent. */
  close(options?: CloseOptions): Promise<CloseResult>;
  /** True once `close()` was called. */
  readonly closed: boolean;
  /** The transport in use. */
  readonly transport: Transport;
  /** The suppression list in use: add entries here (or through feedback processing). */
  readonly suppression: SuppressionStore;
  /** The store in use (the memory store by default). */
  readonly store: MailerStore;
  /**
   * What is known of a message by its internal id (`receipt.id`): a report whose recipients
   * are `sent`, `failed`, ... or `pending`. Works for messages accepted before a restart when
   * the store keeps results (the SQLite store keeps them for `keepResultsMs`). Undefined when
   * the id is unknown.
   *
   * @example
   * ```ts
   * const report = await mailer.status(savedReceiptId);
   * if (report?.status === 'sent') markDelivered();
   * ```
   */
  status(id: string): Promise<DeliveryReport | undefined>;
  /**
   * Feedback processing bound to this mailer's suppression list: `ingest(events)` for provider
   * events, `ingestRaw(mime)` for bounce and complaint mails read from a mailbox. Pass it to
   * `createFeedbackHandler({ processor: mailer.feedback, ... })` from `mailpush/feedback`.
   * Every event is also emitted as a `feedback` event.
   */
  readonly feedback: FeedbackProcessor;
  /** The `tracking` option as given (read by `createTrackingHandler({ mailer })` from `mailpush/tracking`), or undefined. */
  readonly tracking?: TrackingOptions | undefined;
  /** The resolved `unsubscribe` option (keys, not secrets), read by `createUnsubscribeHandler`; undefined when not configured. */
  readonly unsubscribe: UnsubscribeSettings | undefined;
  /** Lists, subscriptions and consent: the store's `subscriptions`, else an in-memory one (see `mailpush/unsubscribe`). */
  readonly subscriptions: SubscriptionStore;
}

/** Known names of {@link MailerPreflightOptions}: those of `preflightDomains` and the mailer's own. */
const MAILER_PREFLIGHT_KEYS: KnownKeys = knownKeys([
  ...PREFLIGHT_OPTION_KEYS,
  ...Object.keys({ senders: true, requireForMarketing: true, cacheMs: true } satisfies Record<Exclude<keyof MailerPreflightOptions, keyof PreflightOptions>, true>),
]);

/** Known names of {@link MailerFeedbackOptions}: add a field here when you add it there. */
const FEEDBACK_OPTION_KEYS: KnownKeys = knownKeys(['policy', 'onEvent', 'rawTrust', 'resolveCorrelation']);

/** Validates the options of createMailer; throws a CONFIG MailError naming the option. @internal */
export function validateOptions(options: MailerOptions): void {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  rejectUnknownKeys(options, MAILER_OPTION_KEYS, 'mailer option', MailErrorCode.CONFIG);
  const t = options.transport as Partial<Transport> | undefined;
  if (typeof t !== 'object' || t === null || typeof t.send !== 'function' || typeof t.name !== 'string') {
    throw configError('transport', 'a Transport (an object with `name` and `send()`)', t);
  }
  if (typeof t.capabilities !== 'object' || t.capabilities === null) throw configError('transport.capabilities', 'an object', t.capabilities);
  const s = options.store as Partial<QueueStore & MailerStore> | undefined;
  if (s !== undefined) {
    const queue = (typeof s === 'object' && s !== null && 'queue' in s ? s.queue : s) as Partial<QueueStore> | undefined;
    if (typeof queue !== 'object' || queue === null || ['add', 'update', 'remove', 'recover', 'size'].some((m) => typeof (queue as Record<string, unknown>)[m] !== 'function')) {
      throw configError('store', 'a MailerStore (sqliteStore(), memoryStore()) or a QueueStore (add, update, remove, recover, size)', s);
    }
  }
  const pf = options.preflight;
  if (pf !== undefined && (typeof pf !== 'object' || pf === null)) throw configError('preflight', 'an object', pf);
  if (pf !== undefined) rejectUnknownKeys(pf, MAILER_PREFLIGHT_KEYS, 'preflight option', MailErrorCode.CONFIG, 'preflight');
  const fb = options.feedback;
  if (fb !== undefined && (typeof fb !== 'object' || fb === null)) throw configError('feedback', 'an object', fb);
  if (fb !== undefined) rejectUnknownKeys(fb, FEEDBACK_OPTION_KEYS, 'feedback option', MailErrorCode.CONFIG, 'feedback');
  const rawTrust = options.feedback?.rawTrust;
  if (rawTrust !== undefined && rawTrust !== 'verified' && rawTrust !== 'mailbox') throw configError('feedback.rawTrust', "'verified' or 'mailbox'", rawTrust);
  const maxJobs = options.maxJobsInMemory;
  if (maxJobs !== undefined && (typeof maxJobs !== 'number' || !Number.isInteger(maxJobs) || maxJobs < 1)) throw configError('maxJobsInMemory', 'an integer >= 1', maxJobs);
  const sup = options.suppression as Partial<SuppressionStore> | undefined;
  if (sup !== undefined && (typeof sup !== 'object' || sup === null || ['add', 'remove', 'find', 'list'].some((m) => typeof (sup as Record<string, unknown>)[m] !== 'function'))) {
    throw configError('suppression', 'a SuppressionStore (add, remove, find, list)', sup);
  }
  const c = options.clock as Partial<Clock> | undefined;
  if (c !== undefined && (typeof c !== 'object' || c === null || typeof c.now !== 'function' || typeof c.setTimeout !== 'function' || typeof c.clearTimeout !== 'function')) {
    throw configError('clock', 'a Clock (now, setTimeout, clearTimeout)', c);
  }
  if (options.random !== undefined && typeof options.random !== 'function') throw configError('random', 'a function', options.random);
  if (options.allowLocalDomains !== undefined && typeof options.allowLocalDomains !== 'boolean') throw configError('allowLocalDomains', 'a boolean', options.allowLocalDomains);
  if (options.defaultPriority !== undefined) {
    for (const [k, v] of Object.entries(options.defaultPriority)) {
      if (!(PRIORITIES as readonly unknown[]).includes(v)) throw configError(`defaultPriority.${k}`, `one of ${PRIORITIES.join(', ')}`, v);
    }
  }
  const w = options.idempotencyWindowMs;
  if (w !== undefined && (typeof w !== 'number' || !(w >= 0) || !Number.isFinite(w))) throw configError('idempotencyWindowMs', 'a finite number >= 0', w);
  if (options.messageIdDomain !== undefined) {
    try {
      if (typeof options.messageIdDomain !== 'string') throw new TypeError();
      normalizeDomain(options.messageIdDomain);
    } catch {
      throw configError('messageIdDomain', 'a domain name', options.messageIdDomain);
    }
  }
}

