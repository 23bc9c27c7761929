/**
 * Accept: checks the send options, validates and normalizes the message, and plans its jobs
 * (one per recipient domain). Synchronous and side-effect free: nothing is queued here.
 *
 * @module
 * @internal
 */

import { MailError, MailErrorCode, describeValue } from '../errors.js';
import { allRecipients, domainOf, recipientsByDomain } from '../message/index.js';
import { normalizeMessageAt } from '../message/normalize.js';
import type { validateMessageLimits } from '../message/index.js';
import { PRIORITIES } from '../types.js';
import type { Job, MessageInput, NormalizedMessage, Priority, Transport } from '../types.js';
import type { SendOptions } from './options.js';
import { shapeInput, shapeMessage } from './shape.js';
import { findUnknownKey, knownKeys, unknownKeyError } from '../validation/known-keys.js';
import type { KnownKeys } from '../validation/known-keys.js';
import type { Shaper } from './shape.js';

/** What accepting needs from the mailer's settings. */
export interface AcceptSettings {
  readonly transport: Transport;
  readonly limits: ReturnType<typeof validateMessageLimits>;
  readonly defaultPriority: Readonly<Record<'transactional' | 'marketing', Priority>>;
  readonly messageIdDomain: string | undefined;
  /** Recipients in one-label domains are accepted (the mailer option `allowLocalDomains`). */
  readonly allowLocalDomains?: boolean;
  /** Shaping steps (templates, list and campaign headers, tracking), in order: see shape.ts. */
  readonly shapers: readonly Shaper[];
  /**
   * One string per recipient domain, shared by the jobs of every message to it (see
   * {@link internDomain}); the mailer makes it empty, accepting fills it.
   */
  readonly domains?: Map<string, string>;
}

/** Most domains {@link AcceptSettings.domains} holds; past it, a job keeps its own string. */
const MAX_INTERNED_DOMAINS = 10_000;

/**
 * The shared copy of a recipient domain: a queued job holds its domain for as long as it
 * waits, and a string per job (~32 B) adds up over 100,000 queued jobs to few domains.
 */
function internDomain(domains: Map<string, string> | undefined, domain: string): string {
  if (domains === undefined) return domain;
  const known = domains.get(domain);
  if (known !== undefined) return known;
  if (domains.size < MAX_INTERNED_DOMAINS) domains.set(domain, domain);
  return domain;
}

/** `/0` ... `/15`: a job id is its message id and one of these (one cons string, no number formatting). */
const JOB_SUFFIXES: readonly string[] = Array.from({ length: 16 }, (_, i) => `/${i}`);

/** A message ready to be journaled. */
export interface Accepted {
  readonly message: NormalizedMessage;
  readonly jobs: Job[];
  readonly priority: Priority;
  /** When it becomes due (now or sendAt). */
  readonly runAt: number;
}

/**
 * Every name {@link SendOptions} takes: `send()` refuses any other key with a VALIDATION error
 * that suggests the nearest name (`priorty` -> `priority`).
 * Adding a send option? Add its name here too, or send() refuses it.
 */
export const SEND_OPTION_KEYS: KnownKeys = knownKeys([
  'priority', 'sendAt', 'idempotencyKey', 'signal',
  // Issues 12-13 (tracking, unsubscribe).
  'track', 'skipMarketingCompliance',
]);

/** The options of a `send()` given none: one frozen object, not a new `{}` per call (and nothing to check). */
export const NO_SEND_OPTIONS: SendOptions = Object.freeze({});

/** Checks the parts of {@link SendOptions} that need no message; throws VALIDATION or ABORTED. */
export function checkSendOptions(options: SendOptions): void {
  if (options === NO_SEND_OPTIONS) return;
  if (typeof options !== 'object' || options === null) throw new MailError(`Expected send options to be an object, got ${describeValue(options)}`, { code: MailErrorCode.VALIDATION });
  const unknown = findUnknownKey(options, SEND_OPTION_KEYS);
  if (unknown !== undefined) throw unknownKeyError('send option', unknown, SEND_OPTION_KEYS, MailErrorCode.VALIDATION);
  const { signal, idempotencyKey } = options;
  if (signal !== undefined && !(typeof signal === 'object' && signal !== null && typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function')) {
    throw new MailError(`Expected \`signal\` to be an AbortSignal, got ${describeValue(signal)}`, { code: MailErrorCode.VALIDATION });
  }
  if (signal?.aborted) throw new MailError('The send was aborted before it was queued', { code: MailErrorCode.ABORTED, cause: signal.reason });
  if (idempotencyKey !== undefined && (typeof idempotencyKey !== 'string' || idempotencyKey.length === 0 || idempotencyKey.length > 512)) {
    throw new MailError(`Expected \`idempotencyKey\` to be a non-empty string of at most 512 characters, got ${describeValue(idempotencyKey)}`, { code: MailErrorCode.VALIDATION });
  }
}

/** Validates and normalizes `input` and plans its jobs. Throws a MailError for bad input. */
export function acceptMessage(input: MessageInput, options: SendOptions, settings: AcceptSettings, now: number): Accepted {
  const shapers = settings.shapers;
  const ctx = shapers.length === 0 ? undefined : { options, now };
  if (ctx !== undefined) input = shapeInput(shapers, input, ctx);
  // The settings are the normalize options (limits, messageIdDomain, allowLocalDomains): no
  // options object per send.
  let message = normalizeMessageAt(input, now, settings);
  if (ctx !== undefined) message = shapeMessage(shapers, message, ctx);
  const priority = options.priority ?? settings.defaultPriority[message.category];
  if (!(PRIORITIES as readonly unknown[]).includes(priority)) {
    throw new MailError(`Expected \`priority\` to be one of ${PRIORITIES.join(', ')}, got ${describeValue(priority)}`, { code: MailErrorCode.VALIDATION });
  }
  let runAt = now;
  if (options.sendAt !== undefined) {
    const at = options.sendAt instanceof Date ? options.sendAt.getTime() : options.sendAt;
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      throw new MailError(`Expected \`sendAt\` to be a valid Date or a time in ms, got ${describeValue(options.sendAt)}`, { code: MailErrorCode.VALIDATION });
    }
    runAt = Math.max(now, at);
  }
  const single = onlyRecipient(message);
  // Most messages have one recipient: one job (whatever the transport), without the grouping
  // map and set, in an array of one slot (a growing array reserves 17 while the job waits).
  if (single !== undefined) return { message, jobs: [newJob(message.id, 0, internDomain(settings.domains, domainOf(single)), [single], priority, now, runAt)], priority, runAt };
  const jobs: Job[] = [];
  let i = 0;
  for (const [domain, recipients] of planJobs(message, settings.transport)) jobs.push(newJob(message.id, i++, internDomain(settings.domains, domain), recipients, priority, now, runAt));
  return { message, jobs: jobs.length === 1 ? [jobs[0] as Job] : jobs, priority, runAt };
}

/** A new job of message `id` (a module function, not a closure per message). */
function newJob(id: string, i: number, domain: string, recipients: string[], priority: Priority, now: number, runAt: number): Job {
  return { id: id + (JOB_SUFFIXES[i] ?? `/${i}`), messageRef: id, domain, recipients, priority, state: 'ready', attempt: 0, createdAt: now, runAt };
}

/** The address of a message with exactly one envelope recipient, else undefined. */
function onlyRecipient(message: NormalizedMessage): string | undefined {
  const { to, cc, bcc } = message;
  if (to.length + cc.length + bcc.length !== 1) return undefined;
  return ((to[0] ?? cc[0] ?? bcc[0]) as { readonly address: string }).address;
}

/**
 * One job per recipient domain; a transport that builds the envelope itself from the whole
 * message (`wholeMessage`, like SendGrid) gets one job with every recipient, limited by the
 * first recipient's domain.
 */
function planJobs(message: NormalizedMessage, transport: Transport): Iterable<[string, string[]]> {
  if (transport.capabilities.wholeMessage !== true) return recipientsByDomain(message);
  const recipients = allRecipients(message);
  return [[domainOf(recipients[0] as string), recipients]];
}
