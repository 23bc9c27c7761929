/**
 * Public types shared by several parts of mailpush: the message model, the transport and
 * store contracts, jobs, events and the clock.
 *
 * @module
 */

import type { MailError } from './errors.js';

// ---------------------------------------------------------------------------------------
// Message model
// ---------------------------------------------------------------------------------------

/** An email address with an optional display name. */
export interface Address {
  /** The address itself, `local@domain`. After normalization the domain is ASCII (IDNA) and lower case. */
  readonly address: string;
  /** Display name, shown by mail clients. */
  readonly name?: string;
}

/** An address as users may pass it: `'a@b.com'`, `'Ann <a@b.com>'` or `{ address, name }`. */
export type AddressInput = string | Address;

/** What kind of mail a message is. Marketing mail gets the bulk-mail compliance rules. */
export type MessageCategory = 'transactional' | 'marketing';

/** An attachment. Content is given inline; mailpush never reads files or fetches URLs for you. */
export interface Attachment {
  /** File name shown to the recipient. */
  readonly filename?: string;
  /** The bytes, or a string (encoded with `encoding`, UTF-8 by default). */
  readonly content: string | Uint8Array;
  /** How a string `content` is encoded. @default 'utf8' */
  readonly encoding?: 'utf8' | 'base64' | 'hex';
  /** MIME type; derived from the file name when missing. */
  readonly contentType?: string;
  /** Content-ID, for inline images referenced as `cid:...` from the HTML. */
  readonly cid?: string;
  /** Content-Disposition. @default 'attachment' ('inline' when `cid` is set) */
  readonly disposition?: 'attachment' | 'inline';
}

/** A message as passed to {@link Mailer.send}. */
export interface MessageInput {
  /** Sender, the RFC 5322 From. Exactly one address. */
  readonly from: AddressInput;
  /** Primary recipients. */
  readonly to?: AddressInput | readonly AddressInput[];
  /** Carbon-copy recipients. */
  readonly cc?: AddressInput | readonly AddressInput[];
  /** Blind carbon-copy recipients: in the envelope, never in the headers. */
  readonly bcc?: AddressInput | readonly AddressInput[];
  /** Reply-To addresses. */
  readonly replyTo?: AddressInput | readonly AddressInput[];
  /** Subject line. */
  readonly subject?: string;
  /** Plain text body. */
  readonly text?: string;
  /** HTML body. */
  readonly html?: string;
  /** Extra headers. Values must not contain CR or LF; arrays give repeated headers. */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  /** Attachments, given inline. */
  readonly attachments?: readonly Attachment[];
  /** Name/value tags, passed to providers that support them (SES tags, SendGrid categories) and carried on events. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Host data carried on every event of this message; never sent. Must be JSON-serializable for durable stores. */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Transactional or marketing. @default 'transactional' */
  readonly category?: MessageCategory;
  /**
   * The list (topic) a marketing message belongs to, like `'newsletter'`: the List-Unsubscribe
   * token carries it, an unsubscribe removes the recipient from this list only, and delivery
   * skips recipients unsubscribed from it. 1 to 64 characters of letters, digits, `.`, `_`,
   * `-` and `:`, starting with a letter or digit; not `marketing` or `transactional`.
   */
  readonly list?: string;
  /**
   * The campaign this message belongs to (set by `sendMany` for each of its messages): journaled
   * with the message, carried on its events and feedback, counted in the campaign's stats and
   * named in the Feedback-ID header. 1 to 64 letters, digits, `.`, `_` or `-`, starting with a
   * letter or digit.
   */
  readonly campaign?: string;
  /** Envelope sender (MAIL FROM / Return-Path). @default the From address */
  readonly returnPath?: string;
  /** Use this Message-ID (with or without angle brackets) instead of a generated one. */
  readonly messageId?: string;
  /** Date header. @default the time of `send()` */
  readonly date?: Date;
  /**
   * A compiled template (`compileTemplate()` from `mailpush/templates`, or any object with a
   * synchronous `render(vars)`): the mailer renders subject, html and text from it with `vars`
   * before validation. Give no `subject`, `html` or `text` with it (VALIDATION error).
   */
  readonly template?: MessageTemplate;
  /** The template's variables for this message (see `template`). Only with `template`. */
  readonly vars?: Readonly<Record<string, unknown>>;
}

/** What a template renders for one message. */
export interface RenderedMessage {
  readonly subject: string;
  readonly html: string;
  readonly text: string;
}

/**
 * A template the mailer can render (the `template` field of a message): `compileTemplate()`
 * from `mailpush/templates` makes one; anything with a synchronous `render` works.
 */
export interface MessageTemplate {
  /** Renders subject, html and text for one message. Throws a MailError (TEMPLATE) when it cannot. */
  render(vars: Readonly<Record<string, unknown>>): RenderedMessage;
}

/** A message after validation: addresses parsed, IDN domains in ASCII, ids assigned. Immutable. */
export interface NormalizedMessage {
  /** Internal message id (`msg_...`); stable, used by stores and events. */
  readonly id: string;
  /** The RFC 5322 Message-ID including angle brackets; stable across retries. */
  readonly messageId: string;
  readonly from: Address;
  readonly to: readonly Address[];
  readonly cc: readonly Address[];
  readonly bcc: readonly Address[];
  readonly replyTo: readonly Address[];
  readonly subject: string;
  readonly text?: string;
  readonly html?: string;
  /** Extra headers in order, names as given, values validated. */
  readonly headers: readonly (readonly [name: string, value: string])[];
  readonly attachments: readonly Attachment[];
  readonly tags: Readonly<Record<string, string>>;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly category: MessageCategory;
  /** The list (topic) of a marketing message, as given. */
  readonly list?: string;
  /** The campaign id, as given (see {@link MessageInput.campaign}). */
  readonly campaign?: string;
  /** Envelope sender. */
  readonly returnPath: string;
  /** Date header value, milliseconds since the epoch. */
  readonly date: number;
  /** Estimated size of the composed message in bytes. */
  readonly sizeBytes: number;
}

// ---------------------------------------------------------------------------------------
// Queue and jobs
// ---------------------------------------------------------------------------------------

/** Dispatch priorities, from most to least urgent. */
export type Priority = 'critical' | 'high' | 'normal' | 'low' | 'bulk';

/** All priorities in order of urgency. */
export const PRIORITIES: readonly Priority[] = ['critical', 'high', 'normal', 'low', 'bulk'];

/** State of a job in the queue. `sent`, `failed` and `expired` are final. */
export type JobState = 'scheduled' | 'ready' | 'sending' | 'sent' | 'failed' | 'expired';

/**
 * One unit of delivery: a message to the recipients of one recipient domain. Retries and
 * rate limits apply per job. Jobs are plain data so durable stores can serialize them.
 */
export interface Job {
  /** Job id (`job_...`). */
  readonly id: string;
  /** Internal id of the message this job belongs to. */
  readonly messageRef: string;
  /** Recipient domain (ASCII, lower case); the unit of rate limiting. */
  readonly domain: string;
  /** Envelope recipients still to deliver. Narrowed when some are accepted and others deferred. */
  recipients: string[];
  readonly priority: Priority;
  state: JobState;
  /** Attempts made so far. */
  attempt: number;
  /** When the job was created, ms since epoch. */
  readonly createdAt: number;
  /** Not before this time, ms since epoch (sendAt or retry time). */
  runAt: number;
  /** Last error seen, as JSON. */
  lastError?: Record<string, unknown>;
}

/** A message plus its jobs, as written to a {@link QueueStore}. */
export interface StoredEntry {
  readonly message: NormalizedMessage;
  readonly jobs: readonly Job[];
  /**
   * Final results of recipients already settled (a job whose other recipients were deferred,
   * another job of the message that finished). Given back by `recover()` and `page()` so a
   * restarted mailer reports every recipient. Absent = none yet.
   */
  readonly results?: readonly StoredResult[];
}

/** The final outcome of one recipient, as plain data a store can serialize. */
export interface StoredResult {
  readonly address: string;
  /** `sent`, `failed`, `expired`, `aborted` or `suppressed`. */
  readonly status: 'sent' | 'failed' | 'expired' | 'aborted' | 'suppressed';
  readonly jobId: string;
  readonly attempts: number;
  readonly transport?: string;
  readonly response?: string;
  readonly providerMessageId?: string;
  /** The error, as `MailError.toJSON()`. */
  readonly error?: Readonly<Record<string, unknown>>;
  /** When it was settled, ms since epoch. */
  readonly at: number;
}

/** What a store knows of one message: see {@link QueueStore.status}. */
export interface StoredStatus {
  /** Internal message id (`msg_...`). */
  readonly id: string;
  /** The RFC 5322 Message-ID. */
  readonly messageId: string;
  /** Jobs not yet final. Empty once the message is done. */
  readonly jobs: readonly Job[];
  /** Settled recipients. */
  readonly results: readonly StoredResult[];
}

/** One page of unfinished entries, in the order they were added: see {@link QueueStore.page}. */
export interface StoredPage {
  readonly entries: readonly StoredEntry[];
  /** Pass back to get the next page; undefined when this page reached the end. */
  readonly cursor: string | undefined;
}

/**
 * The queue journal. Every state transition of a job goes through it, so a durable store
 * can be plugged in without touching the scheduler. Methods may return synchronously.
 *
 * Jobs passed to `update` are the scheduler's live objects: a store must copy what it keeps
 * (a memory store may keep the reference).
 */
export interface QueueStore {
  /** Store name, for errors and logs. */
  readonly name: string;
  /** Records a new message and its jobs. */
  add(entry: StoredEntry): void | Promise<void>;
  /**
   * Records a state change of a job (state, attempt, runAt, recipients, lastError), and the
   * final results of recipients that this transition settled (some accepted, others deferred).
   */
  update(job: Job, results?: readonly StoredResult[]): void | Promise<void>;
  /**
   * Removes a job that reached a final state, recording the results of its last recipients.
   * The message goes once it has no jobs left (a store that answers `status()` may keep its
   * results for a while).
   */
  remove(job: Job, results?: readonly StoredResult[]): void | Promise<void>;
  /** Returns every unfinished job with its message, to resume after a restart. */
  recover(): Iterable<StoredEntry> | AsyncIterable<StoredEntry> | Promise<Iterable<StoredEntry>>;
  /**
   * Optional, for durable stores that keep a backlog larger than memory: unfinished entries
   * added after `cursor` (undefined = from the start), oldest first, at most `limit` messages.
   * With it the mailer holds a bounded window of jobs in memory and reads the rest page by page.
   */
  page?(cursor: string | undefined, limit: number): StoredPage | Promise<StoredPage>;
  /**
   * Optional: what the store knows of a message by its internal id (`send()`'s `receipt.id`):
   * its unfinished jobs and settled results, also after a restart. Undefined when unknown (or
   * forgotten after the store's retention).
   */
  status?(id: string): StoredStatus | undefined | Promise<StoredStatus | undefined>;
  /** Number of unfinished jobs held. */
  size(): number | Promise<number>;
  /**
   * Set by a queue that a fleet of processes shares (BullMQ on Redis). The mailer then takes
   * the jobs it delivers from {@link SharedQueue.consume} (not from its own sends), gives a job
   * that must wait (a retry) back with {@link SharedQueue.handBack}, and learns the outcome of
   * a message with {@link SharedQueue.watch}.
   */
  readonly shared?: SharedQueue;
  /** Releases resources. */
  close?(): void | Promise<void>;
}

/** The fleet side of a shared {@link QueueStore}. */
export interface SharedQueue {
  /** Whether this process delivers jobs (role `worker` or `both`); a producer only enqueues. */
  readonly consumes: boolean;
  /**
   * Starts handing this process jobs as they become due: `load` takes each into memory (one
   * job of a message per call, `entry.jobs` of length 1). The job stays taken by this process
   * until `remove` (final) or `handBack`; a process that dies lets it go to another one.
   */
  consume(load: (entry: StoredEntry) => void): void;
  /**
   * Gives a job back to the fleet: it waits in the store until `job.runAt` (a retry), with its
   * attempt count, recipients and last error as they are now, and the results `results` settled.
   */
  handBack(job: Job, results?: readonly StoredResult[]): Promise<void>;
  /**
   * Stops taking jobs and gives back those taken but not yet started (due now), so that
   * another process sends them. Called by `mailer.close()` before the store closes.
   */
  stop(): Promise<void>;
  /** Resolves with the message's status once it has no unfinished job anywhere in the fleet (undefined: unknown id). */
  watch(id: string): Promise<StoredStatus | undefined>;
}

/** One gate of a {@link SharedLimiter}: a recipient domain, or the transport (`*transport*`). */
export interface SharedLimiterGate {
  readonly key: string;
  readonly limits: { readonly ratePerSecond?: number; readonly burst?: number; readonly concurrency?: number };
}

/** Rate, concurrency and throttle state shared by a fleet of processes (see `mailpush/bullmq`). */
export interface SharedLimiter {
  /** Takes a token and a lease on every gate, or nothing: then try again in `waitMs`. */
  acquireAll(gates: readonly SharedLimiterGate[], leaseId: string): Promise<{ readonly ok: true } | { readonly ok: false; readonly waitMs: number }>;
  /** Gives a lease back; `throttled` slows the key down for every process (for `hintMs`), `paused` pauses it. */
  release(key: string, leaseId: string, outcome: 'success' | 'throttled' | 'paused' | 'other', hintMs?: number): Promise<unknown>;
}

// ---------------------------------------------------------------------------------------
// Other state that must outlive the process
// ---------------------------------------------------------------------------------------

/**
 * Idempotency keys: which message holds a key, for the idempotency window. Methods may return
 * synchronously.
 */
export interface IdempotencyStore {
  readonly name: string;
  /**
   * Claims `key` for message `id` until `expiresAt` unless an unexpired claim exists. Returns
   * the id of the message that holds the key: `id` itself when the claim was made now.
   */
  claim(key: string, id: string, expiresAt: number, now: number): string | Promise<string>;
  /** Drops the claim of `key` if message `id` holds it (the send failed before it was queued). */
  release(key: string, id: string): void | Promise<void>;
  /** Releases resources. */
  close?(): void | Promise<void>;
}

/** What the mailer remembers of one job it handed to a transport, to verify bounces and complaints. */
export interface SentRecord {
  /** Job id, as carried in `X-Mailpush-Job-Id` and in VERP tokens. */
  readonly jobId: string;
  /** Internal message id (`msg_...`). */
  readonly id: string;
  /** The RFC 5322 Message-ID, with angle brackets. */
  readonly messageId: string;
  /** Envelope recipients of the job (lower-case domain). */
  readonly recipients: readonly string[];
  /** When it was handed to the transport, ms since epoch. */
  readonly sentAt: number;
  /** Provider's id for it, when the transport returned one (SES, SendGrid). */
  readonly providerMessageId?: string;
  readonly tags?: Readonly<Record<string, string>>;
  /** The message's campaign id, when it has one (feedback is counted for the campaign). */
  readonly campaign?: string;
  /** The From address (the complaint-rate guard counts complaints per From domain). */
  readonly from?: string;
}

/**
 * Correlation data: the jobs that were sent, so that feedback (a bounce naming a job id and a
 * Message-ID) can be checked against what mailpush really sent. Methods may return synchronously.
 */
export interface CorrelationStore {
  readonly name: string;
  /** Records a sent job (a second record of the same job id replaces the first). */
  record(entry: SentRecord): void | Promise<void>;
  /** The record of `jobId`, when known and within the store's retention. */
  find(jobId: string): SentRecord | undefined | Promise<SentRecord | undefined>;
  /** Releases resources. */
  close?(): void | Promise<void>;
}

/**
 * Webhook replay ids: provider notification ids already processed, so that a replayed or
 * retried delivery is acknowledged without being processed twice. Methods may return synchronously.
 */
export interface ReplayStore {
  readonly name: string;
  /** True when `key` was added and has not expired at `now`. */
  has(key: string, now: number): boolean | Promise<boolean>;
  /** Remembers `key` until `expiresAt`. */
  add(key: string, expiresAt: number): void | Promise<void>;
  /** Releases resources. */
  close?(): void | Promise<void>;
}

/**
 * Soft bounces per address, for the policy that suppresses after N soft bounces in a window.
 * Methods may return synchronously.
 */
export interface SoftBounceCounter {
  /**
   * Records a soft bounce of `address` (a second call with the same `id` counts nothing) and
   * returns how many distinct soft bounces fall within `windowMs` before `at`, this one included.
   */
  hit(address: string, id: string, at: number, windowMs: number): number | Promise<number>;
  /** Forgets the soft bounces of `address` (after a delivery or once it is suppressed). */
  reset(address: string): void | Promise<void>;
}

/**
 * Everything of a mailer that must outlive the process, as one object: pass it as
 * `createMailer({ store })`. `memoryStore()` is the default; `sqliteStore({ path })` from
 * `mailpush/stores/sqlite` keeps it all in one file.
 */
export interface MailerStore {
  /** Store name, for errors and logs. */
  readonly name: string;
  /** The queue journal. */
  readonly queue: QueueStore;
  /** The suppression list. */
  readonly suppression: SuppressionStore;
  /** Idempotency keys. */
  readonly idempotency: IdempotencyStore;
  /** Soft-bounce counters of the suppression policy. */
  readonly softBounces: SoftBounceCounter;
  /** Sent jobs, for verifying and correlating feedback. */
  readonly correlation: CorrelationStore;
  /** Webhook replay ids. */
  readonly replay: ReplayStore;
  /**
   * Lists, subscriptions and consent records (`mailpush/unsubscribe`). Optional so that stores
   * written before it keep working: without it the mailer keeps subscriptions in memory.
   */
  readonly subscriptions?: SubscriptionStore;
  /**
   * Per-campaign counters and state (`sendMany` campaigns). Optional so that stores written
   * before it keep working: without it the mailer keeps campaign stats in memory.
   */
  readonly campaigns?: CampaignStore;
  /**
   * Limits shared by a fleet: with it, every send first takes a token and a lease for its
   * recipient domain and the transport here, on top of this process's own limits.
   */
  readonly limiter?: SharedLimiter;
  /** Flushes and releases everything (the parts' own `close` are not called separately). */
  close?(): void | Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Campaigns
// ---------------------------------------------------------------------------------------

/**
 * Lifecycle of a campaign: `running` (reading its source or sending), `paused` (its queued
 * jobs are held back, its source is not read), `cancelled` (final: its queued jobs ended as
 * cancelled), `completed` (a `sendMany` run read its source to the end and every recipient it
 * queued reached a final state).
 */
export type CampaignState = 'running' | 'paused' | 'cancelled' | 'completed';

/**
 * Names of the counters the mailer keeps per campaign, counted per recipient. Any other name
 * matching {@link CAMPAIGN_COUNTER_NAME} may be counted too (`opened`, `clicked` by tracking),
 * through {@link CampaignStore.increment}.
 */
export const CAMPAIGN_COUNTERS = [
  'queued',
  'invalid',
  'sent',
  'failed',
  'suppressed',
  'cancelled',
  'delivered',
  'bounced',
  'complained',
  'unsubscribed',
  'opened',
  'clicked',
] as const;

/** A counter name: a lower-case letter, then up to 63 letters, digits, `_`, `.` or `-`. */
export const CAMPAIGN_COUNTER_NAME = /^[a-z][A-Za-z0-9_.-]{0,63}$/;

/** What a store keeps of one campaign. */
export interface CampaignRecord {
  /** The campaign id. */
  readonly id: string;
  readonly state: CampaignState;
  /** Why it is in this state (`'user'`, `'complaint-rate'`), when said. */
  readonly reason?: string;
  /** When the store first heard of it, ms since epoch. */
  readonly createdAt: number;
  /** Last change of state or counts, ms since epoch. */
  readonly updatedAt: number;
  /** Counters by name (see {@link CAMPAIGN_COUNTERS}); absent names are 0. */
  readonly counts: Readonly<Record<string, number>>;
}

/**
 * Per-campaign state and counters, kept through restarts. Methods may return synchronously.
 * A campaign unknown to the store is created by the first `increment` or `setState`.
 */
export interface CampaignStore {
  readonly name: string;
  /**
   * Adds each of `counts` (integers, names matching {@link CAMPAIGN_COUNTER_NAME}) to the
   * campaign's counters, atomically with respect to other calls; `at` becomes `updatedAt`.
   */
  increment(id: string, counts: Readonly<Record<string, number>>, at: number): void | Promise<void>;
  /** Sets the campaign's state (and its reason; absent clears it). */
  setState(id: string, state: CampaignState, at: number, reason?: string): void | Promise<void>;
  /** The campaign, or undefined when unknown. */
  get(id: string): CampaignRecord | undefined | Promise<CampaignRecord | undefined>;
  /** Releases resources. */
  close?(): void | Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Suppression
// ---------------------------------------------------------------------------------------

/** Why an address or domain is suppressed. */
export type SuppressionReason = 'hard-bounce' | 'soft-bounce' | 'complaint' | 'unsubscribe' | 'manual';

/** One suppression: an address or a whole domain that must not be mailed. */
export interface SuppressionEntry {
  /** The address (compared case-insensitively). Exactly one of `address` and `domain`. */
  readonly address?: string;
  /** A whole recipient domain (ASCII, lower case). */
  readonly domain?: string;
  readonly reason: SuppressionReason;
  /**
   * What it applies to: absent = all mail; otherwise a message category (`'marketing'`) or a
   * list name matched against the message's `tags.list`.
   */
  readonly scope?: string;
  /** Where it came from (`ses`, `sendgrid`, `dsn`, `one-click`, `host`). */
  readonly source?: string;
  /** Free text: the bounce diagnostic, the complaint type. */
  readonly detail?: string;
  /** When it was added, ms since epoch. */
  readonly createdAt: number;
  /** When it lapses, ms since epoch; absent = never. */
  readonly expiresAt?: number;
}

/**
 * The suppression list. The mailer consults it before every send; feedback processing adds
 * to it. Methods may return synchronously.
 */
export interface SuppressionStore {
  readonly name: string;
  /** Adds or replaces the entry for the same target and scope. */
  add(entry: SuppressionEntry): void | Promise<void>;
  /** Removes the entry for this target and scope (absent scope: the unscoped entry); true when one was removed. */
  remove(target: { readonly address?: string; readonly domain?: string; readonly scope?: string }): boolean | Promise<boolean>;
  /**
   * The entry that blocks `address` for a message with these scopes at time `now`: an entry for
   * the address or its domain, unscoped or with one of `scopes`, not expired. Undefined when none.
   */
  find(address: string, scopes: readonly string[], now: number): SuppressionEntry | undefined | Promise<SuppressionEntry | undefined>;
  /** Every entry (expired ones may be included). */
  list(): Iterable<SuppressionEntry> | AsyncIterable<SuppressionEntry>;
  /** Releases resources. */
  close?(): void | Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Subscriptions (lists and consent)
// ---------------------------------------------------------------------------------------

/** Whether an address currently receives a list. */
export type SubscriptionStatus = 'subscribed' | 'unsubscribed';

/** A dated change of a subscription and its proof: a consent, or an opt-out. */
export interface SubscriptionChange {
  /** When it happened, ms since the epoch. */
  readonly at: number;
  /** Where it came from: `'signup-form'`, `'import'`, `'one-click'`, `'host'`, ... */
  readonly source: string;
  /** Evidence: the IP address of the request, a form id, a double opt-in confirmation id. */
  readonly proof?: string;
}

/** One address on one list, with its consent record. Plain data. */
export interface Subscription {
  /** The list (topic). */
  readonly list: string;
  /** The address, lower case. */
  readonly address: string;
  readonly status: SubscriptionStatus;
  /** The consent behind the current (or last) subscription; absent for an address that unsubscribed without ever being subscribed here. */
  readonly consent?: SubscriptionChange;
  /** The opt-out, while `status` is `'unsubscribed'`. */
  readonly unsubscribed?: SubscriptionChange;
  /** When the record last changed, ms since the epoch. */
  readonly updatedAt: number;
}

/** Result of a change: the record as it is now, and whether this call changed it. */
export interface SubscriptionResult {
  readonly subscription: Subscription;
  readonly changed: boolean;
}

/** One page of a list's subscribed addresses, in address order: see {@link SubscriptionStore.page}. */
export interface SubscriptionPage {
  readonly items: readonly Subscription[];
  /** Pass back for the next page; undefined at the end. */
  readonly cursor: string | undefined;
}

/** The records of one list by status: see {@link SubscriptionStore.count}. */
export interface SubscriptionCount {
  /** Addresses that receive the list (what {@link SubscriptionStore.page} pages through). */
  readonly subscribed: number;
  /** Addresses that opted out of the list (kept as records, never sent to). */
  readonly unsubscribed: number;
}

/**
 * Lists, subscriptions and consent. Methods may return synchronously. The rules (the same in
 * every store; `mailpush/testing/conformance` has the suite):
 * - `subscribe` never overrides an unsubscribe: an address that opted out stays out (an old
 *   import cannot add it back); only `resubscribe`, with a consent dated after the opt-out,
 *   does. Subscribing a subscribed address keeps it subscribed and records the newer consent.
 * - `unsubscribe` is idempotent: the first opt-out's date and source are kept. It works for an
 *   address the list never had (the record then has no consent).
 * - Lists are independent: a change touches one (list, address) record.
 * - Addresses are compared case-insensitively and stored in lower case.
 */
export interface SubscriptionStore {
  readonly name: string;
  /** The record of `address` on `list`, if any. */
  get(list: string, address: string): Subscription | undefined | Promise<Subscription | undefined>;
  /** Subscribes with `consent` (see the rules above). */
  subscribe(list: string, address: string, consent: SubscriptionChange): SubscriptionResult | Promise<SubscriptionResult>;
  /** Subscribes again after an unsubscribe; throws a VALIDATION MailError when `consent.at` is not after the opt-out. */
  resubscribe(list: string, address: string, consent: SubscriptionChange): SubscriptionResult | Promise<SubscriptionResult>;
  /** Unsubscribes (idempotent). */
  unsubscribe(list: string, address: string, change: SubscriptionChange): SubscriptionResult | Promise<SubscriptionResult>;
  /** Every record of `address`, one per list, in list order. */
  lists(address: string): readonly Subscription[] | Promise<readonly Subscription[]>;
  /** Subscribed addresses of `list` after `cursor` (undefined = from the start), in address order, at most `limit`. */
  page(list: string, cursor: string | undefined, limit: number): SubscriptionPage | Promise<SubscriptionPage>;
  /**
   * How many records of `list` are subscribed and how many unsubscribed, read at one instant
   * (a list the store never heard of has 0 and 0). Optional: a store without it still works,
   * and a list send (`sendMany({ list })`) then reports no `unsubscribed` count.
   */
  count?(list: string): SubscriptionCount | Promise<SubscriptionCount>;
  /** Releases resources. */
  close?(): void | Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Transports
// ---------------------------------------------------------------------------------------

/** What a transport can do and the limits it imposes on its own. */
export interface TransportCapabilities {
  /** The transport sends raw MIME (SMTP, SES) rather than structured content (SendGrid). */
  readonly rawMime: boolean;
  /**
   * The transport takes the whole message at once (it builds headers from its own envelope,
   * like SendGrid), so the mailer sends one job per message rather than one per domain.
   * @default false
   */
  readonly wholeMessage?: boolean;
  /** Most sends in flight at once through this transport. @default unlimited */
  readonly maxConcurrency?: number;
  /** Most sends per second through this transport (an ESP account rate). @default unlimited */
  readonly ratePerSecond?: number;
}

/**
 * What the mailer hands a transport for one attempt of a job.
 *
 * A transport that takes MIME should send `raw()`: the mailer composes a job's message once,
 * with its job id, and keeps the bytes for the job's later attempts, so a retry or a
 * failover member sends the same bytes (only DKIM signature fields are computed again, per
 * attempt). A transport that builds its own request (SendGrid) reads `message`.
 */
export interface PreparedMessage {
  /** The job id. */
  readonly jobId: string;
  /**
   * The validated message. From the mailer, its headers end with `X-Mailpush-Job-Id: <jobId>`
   * (the copy with that header is built on first read: a transport that only calls `raw()`
   * never pays for it).
   */
  readonly message: NormalizedMessage;
  /** SMTP envelope for this job: MAIL FROM and the RCPT TO addresses of this job only. */
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  /**
   * The full MIME message of `message` (the job id header included), signed when `signer` is
   * set. Composed on first call and cached per prepared message; the mailer also reuses the
   * unsigned bytes across the job's attempts.
   */
  raw(): Promise<Buffer>;
  /**
   * Set when the mailer DKIM-signs this job. `raw()` already returns the signed bytes; a
   * transport that composes the MIME itself from `message` must put
   * `await signer.signatureHeaders(bytes)` on top of exactly the bytes it sends.
   */
  readonly signer?: MimeSigner;
}

/** Signs a composed message: see {@link PreparedMessage.signer}. */
export interface MimeSigner {
  /** Header fields to place above the complete message `raw`, each ending with CRLF (DKIM-Signature). */
  signatureHeaders(raw: Buffer): Promise<string>;
}

/** Per-send context given to a transport. */
export interface TransportSendContext {
  /** Aborted when the send is cancelled or the mailer closes. */
  readonly signal: AbortSignal;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Priority of the job, so a transport can keep capacity for critical mail. @default 'normal' */
  readonly priority?: Priority;
}

/** A recipient the receiving side refused while accepting others. */
export interface RejectedRecipient {
  readonly address: string;
  /** Classified error for this recipient. */
  readonly error: MailError;
}

/** Result of a transport send. */
export interface SendResult {
  /** Id the provider assigned (SES message id, SendGrid X-Message-Id, SMTP queue id when known). */
  readonly providerMessageId?: string;
  /** Final response text of the server. */
  readonly response?: string;
  /** Recipients accepted. */
  readonly accepted: readonly string[];
  /**
   * Recipients refused, each with its own classified error. When every recipient is refused
   * for the same kind of reason the transport rejects; when some are refused for good and
   * others only for now it may resolve with no accepted recipient, so that the unknown
   * address fails at once while the deferred one is retried.
   */
  readonly rejected: readonly RejectedRecipient[];
  /** Name of the transport that actually sent, for composite transports. */
  readonly transport?: string;
}

/**
 * A way to send mail. `send` resolves with a {@link SendResult} or rejects with a
 * {@link MailError} only (classified: `retryable`, `responseCode`, `retryAfterMs`, `category`).
 */
export interface Transport {
  /** Transport name used in events and errors (`smtp`, `memory`, ...). */
  readonly name: string;
  readonly capabilities: TransportCapabilities;
  /** Sends one job. */
  send(prepared: PreparedMessage, context: TransportSendContext): Promise<SendResult>;
  /** Checks connectivity and credentials. */
  verify?(): Promise<void>;
  /** Closes connections. Idempotent. */
  close?(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------

/** What to do with a response. */
export type Outcome = 'accepted' | 'transient' | 'throttled' | 'permanent';

/**
 * Reason categories shared by synchronous SMTP replies and asynchronous bounces.
 */
export type BounceCategory =
  | 'delivered'
  | 'userunknown'
  | 'mailboxfull'
  | 'hostunknown'
  | 'filtered'
  | 'blocked'
  | 'spamdetected'
  | 'policyviolation'
  | 'expired'
  | 'suspend'
  | 'ratelimited'
  | 'systemerror'
  | 'systemfull'
  | 'emailtoolarge'
  | 'networkerror'
  | 'norelaying'
  | 'notaccept'
  | 'securityerror'
  | 'syntaxerror'
  | 'rejected'
  | 'virusdetected'
  | 'authfailure'
  | 'requireptr'
  | 'badreputation'
  | 'contenterror'
  /** Not RFC 5322 compliant (a header the receiver requires is missing or malformed): the content, not the address. */
  | 'notcompliantrfc'
  /** The receiving host's local delivery program (a pipe, procmail, maildrop) failed. */
  | 'mailererror'
  | 'hasmoved'
  | 'onhold'
  | 'mesgtoobig'
  | 'undefined';

/** Input to the classifier: whatever is known about a response. */
export interface ClassifyInput {
  /** SMTP reply code (250, 421, 550) or HTTP status. */
  readonly responseCode?: number;
  /** RFC 3463 enhanced status (`4.7.28`). Extracted from `text` when missing. */
  readonly enhancedStatus?: string;
  /** Response or diagnostic text. */
  readonly text?: string;
  /** Error code of a library or the OS (`ECONNECTION`, `ETIMEDOUT`, `EAUTH`). */
  readonly errorCode?: string;
}

/** Result of classification. */
export interface Classification {
  readonly outcome: Outcome;
  readonly category: BounceCategory;
  /** A permanent problem with the address itself (unknown user or host, moved): suppress it. */
  readonly hard: boolean;
  /** How long to wait before the next attempt, when known (server hint or rule default). */
  readonly retryAfterMs?: number;
  /** The enhanced status code, given or extracted. */
  readonly enhancedStatus?: string;
  /** Id of the rule that matched. */
  readonly rule: string;
}

// ---------------------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------------------

/** Handle of a timer set through a {@link Clock}. */
export interface TimerHandle {
  /** Keeps the timer from holding the process open (a no-op for virtual clocks). */
  unref?(): unknown;
}

/** Time source and timer, injectable so that tests run without waiting. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer. */
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock: `Date.now` and unref()'ed timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
