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
  /** Envelope sender (MAIL FROM / Return-Path). @default the From address */
  readonly returnPath?: string;
  /** Use this Message-ID (with or without angle brackets) instead of a generated one. */
  readonly messageId?: string;
  /** Date header. @default the time of `send()` */
  readonly date?: Date;
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
  /** Records a state change of a job (state, attempt, runAt, recipients, lastError). */
  update(job: Job): void | Promise<void>;
  /** Removes a job that reached a final state; the message goes once it has no jobs left. */
  remove(job: Job): void | Promise<void>;
  /** Returns every unfinished job with its message, to resume after a restart. */
  recover(): Iterable<StoredEntry> | AsyncIterable<StoredEntry> | Promise<Iterable<StoredEntry>>;
  /** Number of unfinished jobs held. */
  size(): number | Promise<number>;
  /** Releases resources. */
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

/** What the mailer hands a transport for one job. */
export interface PreparedMessage {
  /** The job id. */
  readonly jobId: string;
  /** The validated message. */
  readonly message: NormalizedMessage;
  /** SMTP envelope for this job: MAIL FROM and the RCPT TO addresses of this job only. */
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  /** Composes the full MIME message (cached per prepared message), signed when `signer` is set. */
  raw(): Promise<Buffer>;
  /**
   * Set when the mailer DKIM-signs this job. `raw()` already returns the signed bytes; a
   * transport that composes the MIME itself (as SMTP does while streaming) must put
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
