/**
 * The feedback processor: takes normalized feedback events (or raw DSN/ARF mails), completes
 * their correlation, verifies what a mail-borne report proves, applies the suppression policy
 * to the SuppressionStore, then awaits the host's hook, one event after the other.
 *
 * Ordering, and why: the suppression write comes first, then the hook. If the hook (the host's
 * storage) fails, `ingest` rejects, the webhook answers 5xx and the provider sends the same
 * events again; the suppression writes are idempotent (an existing entry that is at least as
 * strong is kept), the soft-bounce count is idempotent per `eventId`, so the retry converges.
 * The host's hook therefore sees an event at least once, never zero times once acknowledged:
 * make it idempotent with `event.eventId`.
 *
 * Trust, and why: anybody can send a mail to a bounce or abuse mailbox, so a DSN or ARF report
 * is not evidence by itself. With the default `rawTrust: 'verified'`, a report read by
 * `ingestRaw` changes state (suppression, soft-bounce counts, the count reset of a delivery)
 * only for the recipients it proves something about:
 * - a valid VERP token (HMAC-signed by {@link createVerp}) naming that recipient, or naming a
 *   job that the {@link CorrelationStore} says was sent to that recipient;
 * - a returned original whose `X-Mailpush-Job-Id` and `Message-ID` match a job that the
 *   {@link CorrelationStore} says was sent to that recipient.
 * Anything else is an unverified event (`event.verified === false`, the reason in
 * `processed.verification`): the host's hook still sees it, and nothing else changes. Events
 * given to `ingest` (provider webhooks verified by their signature, or the host's own) are
 * trusted, unless they carry `verified: false`.
 *
 * @module
 */

import { createHash } from 'node:crypto';
import { MailError, MailErrorCode, configError, isMailError } from '../errors.js';
import type { CorrelationStore, SentRecord, SuppressionEntry, SuppressionStore } from '../types.js';
import { slice } from '../queue/slice.js';
import { parseComplaint } from './arf.js';
import { parseBounce } from './dsn.js';
import { DEFAULT_MAX_SCAN_LENGTH, readInputYielding } from './mime.js';
import { checkFeedbackEvent, cleanMessageId, copyEvent, normalizeRecipient, withEventId } from './event.js';
import type { FeedbackEvent, FeedbackEventType } from './event.js';
import { createSuppressionPolicy } from './policy.js';
import type { FeedbackPolicy, PolicyDecision, SuppressionPolicyOptions } from './policy.js';
import type { BouncedRecipient, BounceResult, ComplaintReport } from './types.js';
import type { Verp, VerpData } from './verp.js';

/** What is known about an event when correlation is asked for. */
export interface CorrelationQuery {
  readonly type: FeedbackEventType;
  readonly provider: string;
  /** Absent for a complaint whose report redacted the recipient. */
  readonly recipient?: string;
  readonly jobId?: string;
  readonly messageId?: string;
  readonly providerMessageId?: string;
}

/** What the host knows about the original send; every field is optional. */
export interface Correlation {
  readonly recipient?: string;
  readonly jobId?: string;
  readonly messageId?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/**
 * How much the processor trusts a mail read by `ingestRaw`:
 * - `'verified'`: a report changes state only for the recipients it proves (a valid VERP token,
 *   or a returned original matching a job in the {@link CorrelationStore}); the rest are
 *   reported as unverified events;
 * - `'mailbox'`: every report is believed, as before. Only for a private mailbox that nobody
 *   outside can write to (the MTA accepts mail for it only from your own systems, or filters
 *   forged reports upstream).
 */
export type RawTrust = 'verified' | 'mailbox';

/** Why an event was not verified: see {@link FeedbackVerification}. */
export type UnverifiedReason =
  /** The report carries no VERP token and no returned original naming a mailpush job. */
  | 'no-proof'
  /** A returned original names a job, but no `correlation` store is configured to check it. */
  | 'no-correlation-store'
  /** The job named (by the VERP token or the returned original) is not in the correlation store (unknown, or past its retention). */
  | 'unknown-job'
  /** The returned original's Message-ID is missing or is not the one of the job it names. */
  | 'message-id-mismatch'
  /** The VERP token or the job names other recipients than this one. */
  | 'recipient-mismatch'
  /** An event given to `ingest` with `verified: false`. */
  | 'caller';

/**
 * Whether an event may change state, and why. `by` says what vouched for it: `verp` (a valid
 * VERP token), `correlation` (a returned original matching a sent job), `mailbox` (the
 * `rawTrust: 'mailbox'` option), `caller` (an event given to `ingest`: a webhook verified by
 * its provider's signature, or the host's own).
 */
export type FeedbackVerification =
  | { readonly verified: true; readonly by: 'verp' | 'correlation' | 'mailbox' | 'caller' }
  | { readonly verified: false; readonly reason: UnverifiedReason; readonly detail: string };

/** How one event was handled. */
export interface ProcessedEvent {
  /** The event, correlated. */
  readonly event: FeedbackEvent;
  /** What the policy decided (`none` for an unverified event: the policy is not asked). */
  readonly decision: PolicyDecision;
  /**
   * What happened to the suppression list: `added`, `kept` (an entry at least as strong was
   * already there), `removed`, `absent` (nothing to lift) or `none`.
   */
  readonly suppression: 'added' | 'kept' | 'removed' | 'absent' | 'none';
  /** Whether the event was allowed to change state, and why. */
  readonly verification: FeedbackVerification;
}

/** Result of {@link FeedbackProcessor.ingest}. */
export interface IngestResult {
  /** How every event was handled, in order; empty when `ingest` was given `keepEvents: false`. */
  readonly events: readonly ProcessedEvent[];
  /** Events processed (`events.length` when they are kept). */
  readonly processed: number;
  /** Suppression entries written. */
  readonly suppressed: number;
  /** Suppression entries lifted (resubscribes). */
  readonly unsuppressed: number;
  /** Events that were not verified and changed nothing (see {@link RawTrust}). */
  readonly unverified: number;
}

/**
 * Options of {@link FeedbackProcessor.ingest}, for large batches: a result that lists every
 * event keeps all of them, their ids and decisions alive until the host drops the result, and
 * the young-generation GC copies all of that while the host's event loop waits (about 0.4 KB
 * per event). With `keepEvents: false` an event, once through the hooks, is garbage.
 */
export interface IngestOptions {
  /**
   * Whether {@link IngestResult.events} lists how every event was handled. With `false` it is
   * empty (the counts stay): see each event in `onEvent` instead. @default true
   */
  readonly keepEvents?: boolean;
  /**
   * Called for every event of this batch, after the processor's own `onEvent` hook and with
   * the same arguments; awaited, and a failure stops the batch like a failure of that hook.
   */
  readonly onEvent?: (event: FeedbackEvent, processed: ProcessedEvent) => void | Promise<void>;
}

/** What a raw mail was. */
export type RawFeedbackKind = 'bounce' | 'delay' | 'delivery' | 'complaint' | 'autoreply' | 'not-bounce';

/** Result of {@link FeedbackProcessor.ingestRaw}. */
export interface RawIngestResult extends IngestResult {
  readonly kind: RawFeedbackKind;
  /** Recipients the report concerned but that could not be identified (a redacted complaint without correlation). */
  readonly unresolved: number;
  /** The bounce parse, for bounces, delays and deliveries. */
  readonly bounce?: BounceResult;
  /** The complaint parse, for complaints. */
  readonly complaint?: ComplaintReport;
}

/** Options of {@link FeedbackProcessor.ingestRaw}. */
export interface RawIngestOptions {
  /** The envelope recipient the mail was delivered to (your bounce address), when the mail server tells it; read for VERP. */
  readonly deliveredTo?: string;
}

/** Options of {@link createFeedbackProcessor}. */
export interface FeedbackProcessorOptions {
  /** The suppression list to update (`mailer.suppression`). */
  readonly suppression: SuppressionStore;
  /** The suppression policy, or options for the default one. @default createSuppressionPolicy() */
  readonly policy?: FeedbackPolicy | SuppressionPolicyOptions;
  /**
   * The host's hook, awaited for every event after the suppression list was updated. A
   * rejection stops the batch and rejects `ingest` (the webhook answers 5xx, the provider retries).
   * It sees unverified events too (`event.verified === false`, `processed.verification`).
   */
  readonly onEvent?: (event: FeedbackEvent, processed: ProcessedEvent) => void | Promise<void>;
  /**
   * Fills in what an event lacks (job id, metadata, a redacted recipient) from the host's records. Awaited.
   * What it returns completes an event; it does not verify a mail-borne report (see `correlation`).
   */
  readonly resolveCorrelation?: (query: CorrelationQuery) => Correlation | undefined | Promise<Correlation | undefined>;
  /** Decodes VERP return paths of raw bounces (the address the bounce was sent to); a valid token verifies its recipient. */
  readonly verp?: Verp;
  /**
   * The jobs mailpush sent (`record()` is called by the mailer after each successful send): a
   * raw report whose returned original names one of them (X-Mailpush-Job-Id and Message-ID) is
   * verified for that job's recipients, and a redacted complaint about a job with one recipient
   * names that recipient. @default none: only VERP verifies raw reports
   */
  readonly correlation?: CorrelationStore;
  /**
   * How much `ingestRaw` trusts a report: see {@link RawTrust}. Provider webhooks given to
   * `ingest` are not concerned (their signature was checked). @default 'verified'
   */
  readonly rawTrust?: RawTrust;
  /** Current time, ms, for suppression entries. @default Date.now */
  readonly now?: () => number;
}

/** Ingests feedback. Create with {@link createFeedbackProcessor}. */
export interface FeedbackProcessor {
  /**
   * Processes events in order: correlation, suppression, hook. Validates every event first (a
   * VALIDATION MailError before any side effect). Rejects with a STORE MailError when the
   * suppression list or the hook fails; events before the failing one were processed. The
   * events are trusted (a webhook verified them), except those with `verified: false`. For a
   * large batch, `{ keepEvents: false }` with an `onEvent` keeps less alive: see {@link IngestOptions}.
   *
   * @example
   * ```ts
   * // 50,000 events from an export: count them as they pass, keep none in the result
   * let hard = 0;
   * const { processed, suppressed } = await processor.ingest(events, {
   *   keepEvents: false,
   *   onEvent: (event) => { if (event.hard === true) hard++ },
   * });
   * ```
   */
  ingest(events: readonly FeedbackEvent[], options?: IngestOptions): Promise<IngestResult>;
  /**
   * Processes a raw mail from a bounce or feedback-loop mailbox: a DSN or non-standard bounce
   * (`bounced` events, `deferred` for delays, `delivered` for success DSNs), an ARF complaint
   * (`complained`, or `unsubscribed` for opt-out reports). Auto-replies and ordinary mail
   * give no event. Each event is verified first (see {@link RawTrust}): an unverified one
   * (`event.verified === false`) changes nothing but still reaches the hook. Rejects like
   * `ingest`, and with VALIDATION for input that is not text or bytes.
   */
  ingestRaw(mime: string | Uint8Array, options?: RawIngestOptions): Promise<RawIngestResult>;
}

/** What a report offers as proof, for {@link FeedbackProcessor.ingestRaw}. */
interface Proofs {
  /** The VERP token the report was sent to (valid: decode checks the HMAC). */
  readonly verp: VerpData | undefined;
  /** `X-Mailpush-Job-Id` of the returned original. */
  readonly jobId: string | undefined;
  /** `Message-ID` of the returned original. */
  readonly messageId: string | undefined;
}

/** What happened to the suppression list for one event. */
type Outcome = ProcessedEvent['suppression'];

/** A verification, with the sent record that proved it (to complete the event). */
type Verdict = FeedbackVerification & { readonly record?: SentRecord };

const TRUSTED_BY_CALLER: FeedbackVerification = Object.freeze({ verified: true, by: 'caller' });
const TRUSTED_BY_MAILBOX: FeedbackVerification = Object.freeze({ verified: true, by: 'mailbox' });

/**
 * Compares a reported address with one mailpush sent to. The domain is compared in lower case;
 * so is the local part: mail systems change its case in reports, and the suppression list
 * compares whole addresses case-insensitively, so this match never lets a report suppress
 * more than the address it matched.
 */
function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * Creates a feedback processor.
 *
 * @example
 * ```ts
 * const processor = createFeedbackProcessor({
 *   suppression: mailer.suppression,
 *   verp: createVerp({ domain: 'bounces.example.com', secret: process.env.VERP_SECRET! }),
 *   correlation: memoryCorrelationStore(), // the mailer records every job it sends here
 *   onEvent: async (event) => { await db.feedback.insert(event) }, // failures make the provider retry
 * });
 * const result = await processor.ingestRaw(bounceMail, { deliveredTo: envelopeRecipient });
 * // result.unverified: events of a report that proved nothing (forged?): seen by onEvent, no suppression
 * ```
 */
export function createFeedbackProcessor(options: FeedbackProcessorOptions): FeedbackProcessor {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const store = options.suppression as Partial<SuppressionStore> | undefined;
  if (typeof store !== 'object' || store === null || ['add', 'remove', 'find', 'list'].some((m) => typeof (store as Record<string, unknown>)[m] !== 'function')) {
    throw configError('suppression', 'a SuppressionStore (add, remove, find, list)', store);
  }
  const suppression = options.suppression;
  const p = options.policy;
  const policy: FeedbackPolicy = p !== undefined && typeof (p as FeedbackPolicy).evaluate === 'function' ? (p as FeedbackPolicy) : createSuppressionPolicy((p ?? {}) as SuppressionPolicyOptions);
  for (const k of ['onEvent', 'resolveCorrelation', 'now'] as const) {
    if (options[k] !== undefined && typeof options[k] !== 'function') throw configError(k, 'a function', options[k]);
  }
  const verp = options.verp;
  if (verp !== undefined && (typeof verp !== 'object' || verp === null || typeof verp.decode !== 'function')) throw configError('verp', 'a Verp (createVerp())', verp);
  const correlation = options.correlation;
  if (correlation !== undefined && (typeof correlation !== 'object' || correlation === null || typeof correlation.find !== 'function' || typeof correlation.record !== 'function')) {
    throw configError('correlation', 'a CorrelationStore (record, find)', correlation);
  }
  const rawTrust = options.rawTrust ?? 'verified';
  if (rawTrust !== 'verified' && rawTrust !== 'mailbox') throw configError('rawTrust', "'verified' or 'mailbox'", rawTrust);
  const onEvent = options.onEvent;
  const resolve = options.resolveCorrelation;
  const now = options.now ?? Date.now;

  const correlate = async (event: FeedbackEvent): Promise<FeedbackEvent> => {
    if (resolve === undefined) return event;
    const c = await guard('resolveCorrelation', () => resolve(query(event)));
    return c === undefined ? event : merge(event, c);
  };

  /** Writes an entry unless one at least as strong is there. Synchronous when the store is. */
  const addUnlessKept = (entry: SuppressionEntry, existing: SuppressionEntry | undefined): Outcome | Promise<Outcome> => {
    if (existing !== undefined && sameTarget(existing, entry) && atLeastAsStrong(existing, entry)) return 'kept';
    const added = call('suppression.add', () => suppression.add(entry));
    return isThenable(added) ? added.then(() => 'added' as const) : 'added';
  };

  /** Applies a decision to the suppression list; synchronous when the store answers synchronously (the memory store). */
  const apply = (decision: PolicyDecision, at: number): Outcome | Promise<Outcome> => {
    if (decision.action === 'suppress') {
      const entry = decision.entry;
      const target = entry.address ?? `x@${entry.domain!}`;
      const existing = call('suppression.find', () => suppression.find(target, entry.scope === undefined ? [] : [entry.scope], at));
      return isThenable(existing) ? existing.then((e) => addUnlessKept(entry, e)) : addUnlessKept(entry, existing);
    }
    if (decision.action === 'unsuppress') return unsuppress(decision, at);
    return 'none';
  };

  const unsuppress = async (decision: PolicyDecision & { action: 'unsuppress' }, at: number): Promise<Outcome> => {
    const t = decision.target;
    const existing = await guard('suppression.find', () => suppression.find(t.address, t.scope === undefined ? [] : [t.scope], at));
    // Only the matching unsubscribe is lifted; an unscoped hard bounce or complaint stays.
    if (existing === undefined || existing.reason !== decision.reason || (existing.scope ?? '') !== (t.scope ?? '') || existing.address?.toLowerCase() !== t.address.toLowerCase()) {
      return 'absent';
    }
    const removed = await guard('suppression.remove', () => suppression.remove(t.scope === undefined ? { address: t.address } : { address: t.address, scope: t.scope }));
    return removed ? 'removed' : 'absent';
  };

  /**
   * Processes events in order. `verifications[i]` is the verdict of `events[i]` (raw mails);
   * without it an event is trusted unless it says `verified: false` (ingest). Awaits only what
   * is asynchronous (a host's store, policy or hook): with the memory store and the default
   * policy an event costs no promise, and the loop yields to the host between slices.
   */
  const run = async (events: readonly FeedbackEvent[], correlated: boolean, verifications?: readonly FeedbackVerification[], batch?: IngestOptions): Promise<IngestResult> => {
    const keep = batch?.keepEvents !== false;
    // At its final size: a growing array leaves its outgrown copies to the GC, and up to half its length unused.
    const done: ProcessedEvent[] = keep ? new Array<ProcessedEvent>(events.length) : [];
    const onBatchEvent = batch?.onEvent;
    let suppressed = 0;
    let unsuppressed = 0;
    let unverified = 0;
    for (let i = 0; i < events.length; i++) {
      const turn = slice();
      if (turn !== undefined) await turn;
      const raw = events[i]!;
      const verification =
        verifications?.[i] ??
        (raw.verified === false ? ({ verified: false, reason: 'caller', detail: 'the event was given with verified: false' } as const) : TRUSTED_BY_CALLER);
      // Every event leaves with an id, derived from what the provider sent (before correlation
      // adds to it) when it brought none, so hooks can be idempotent across retried batches.
      const identified = withEventId(raw);
      const event = correlated || resolve === undefined ? identified : await correlate(identified);
      const at = now();
      let decision: PolicyDecision;
      if (verification.verified) {
        const d = call('policy', () => policy.evaluate(event, at));
        decision = isThenable(d) ? await d : d;
      } else {
        // Not even the policy sees it: its soft-bounce counting and count resets are state too.
        decision = { action: 'none', why: `unverified report: ${verification.detail}` };
        unverified++;
      }
      const applied = apply(decision, at);
      const suppression = isThenable(applied) ? await applied : applied;
      if (suppression === 'added') suppressed++;
      else if (suppression === 'removed') unsuppressed++;
      if (!keep && onEvent === undefined && onBatchEvent === undefined) continue;
      const processed: ProcessedEvent = { event, decision, suppression, verification };
      if (onEvent !== undefined) {
        const hooked = call('onEvent', () => onEvent(event, processed));
        if (isThenable(hooked)) await hooked;
      }
      if (onBatchEvent !== undefined) {
        const hooked = call('onEvent', () => onBatchEvent(event, processed));
        if (isThenable(hooked)) await hooked;
      }
      if (keep) done[i] = processed;
    }
    return { events: done, processed: events.length, suppressed, unsuppressed, unverified };
  };

  /** Looks sent jobs up once per report. */
  const lookup = (): ((jobId: string) => Promise<SentRecord | undefined>) => {
    const cache = new Map<string, Promise<SentRecord | undefined>>();
    return (jobId) => {
      let hit = cache.get(jobId);
      if (hit === undefined) {
        hit = correlation === undefined ? Promise.resolve(undefined) : guard('correlation.find', () => correlation.find(jobId));
        cache.set(jobId, hit);
      }
      return hit;
    };
  };

  /** What a report proves about one recipient (see the module description). */
  const verify = async (recipient: string, proofs: Proofs, find: (jobId: string) => Promise<SentRecord | undefined>): Promise<Verdict> => {
    if (rawTrust === 'mailbox') return TRUSTED_BY_MAILBOX;
    const failures: { reason: UnverifiedReason; detail: string }[] = [];
    const v = proofs.verp;
    if (v !== undefined) {
      if (v.recipient !== undefined) {
        if (sameAddress(v.recipient, recipient)) return { verified: true, by: 'verp' };
        failures.push({ reason: 'recipient-mismatch', detail: `the VERP token was issued for another recipient than ${recipient}` });
      } else if (correlation === undefined) {
        failures.push({ reason: 'no-correlation-store', detail: 'the VERP token names a job but no recipient, and no correlation store can tell its recipients' });
      } else {
        const record = await find(v.jobId);
        if (record === undefined) failures.push({ reason: 'unknown-job', detail: `the VERP job ${v.jobId} is not in the correlation store` });
        else if (!record.recipients.some((r) => sameAddress(r, recipient))) failures.push({ reason: 'recipient-mismatch', detail: `the VERP job ${v.jobId} was not sent to ${recipient}` });
        else return { verified: true, by: 'verp', record };
      }
    }
    if (proofs.jobId !== undefined) {
      if (correlation === undefined) {
        failures.push({ reason: 'no-correlation-store', detail: 'the returned original names a job, but no correlation store is configured to check it' });
      } else {
        const record = await find(proofs.jobId);
        if (record === undefined) failures.push({ reason: 'unknown-job', detail: `the returned original names job ${proofs.jobId}, which is not in the correlation store` });
        else if (proofs.messageId === undefined || record.messageId !== proofs.messageId) {
          failures.push({ reason: 'message-id-mismatch', detail: `the returned original's Message-ID is not the one of job ${proofs.jobId}` });
        } else if (!record.recipients.some((r) => sameAddress(r, recipient))) {
          failures.push({ reason: 'recipient-mismatch', detail: `job ${proofs.jobId} was not sent to ${recipient}` });
        } else return { verified: true, by: 'correlation', record };
      }
    }
    const first = failures[0] ?? { reason: 'no-proof' as const, detail: 'no valid VERP token and no returned original naming a mailpush job' };
    return { verified: false, reason: first.reason, detail: failures.length > 1 ? failures.map((f) => f.detail).join('; ') : first.detail };
  };

  /** Verifies each event of a report, completing the verified ones from the sent record, and marks them. */
  const verifyAll = async (events: FeedbackEvent[], proofs: Proofs): Promise<FeedbackVerification[]> => {
    const find = lookup();
    const out: FeedbackVerification[] = [];
    for (let i = 0; i < events.length; i++) {
      const { record, ...verification } = await verify(events[i]!.recipient, proofs, find);
      out.push(verification as FeedbackVerification);
      events[i] = withVerdict(events[i]!, verification.verified, record);
    }
    return out;
  };

  return {
    async ingest(events, batch) {
      if (!Array.isArray(events)) throw new MailError(`Expected an array of feedback events, got ${typeof events}`, { code: MailErrorCode.VALIDATION });
      if (batch !== undefined) checkIngestOptions(batch);
      // All are checked before any changes state; a large batch gives the host's loop a turn every few ms.
      const checked: FeedbackEvent[] = new Array(events.length);
      for (let i = 0; i < events.length; i++) {
        checked[i] = checkFeedbackEvent(events[i] as unknown, i);
        const turn = slice();
        if (turn !== undefined) await turn;
      }
      return run(checked, false, undefined, batch);
    },
    async ingestRaw(mime, rawOptions = {}) {
      if (typeof mime !== 'string' && !(mime instanceof Uint8Array)) {
        throw new MailError(`Expected the mail to be a string or a Uint8Array, got ${typeof mime}`, { code: MailErrorCode.VALIDATION });
      }
      const top = topHeaders(mime);
      const verpData = verp === undefined ? undefined : findVerp(verp, rawOptions.deliveredTo, top);
      const reportId = cleanMessageId(top.get('message-id')?.[0]);
      const reportTime = parseDate(top.get('date')) ?? now();
      // The same mail read twice (a retry after a failed hook) must give the same event ids.
      const reportKey = reportId ?? `sha256:${createHash('sha256').update(typeof mime === 'string' ? mime.slice(0, 65_536) : mime.subarray(0, 65_536)).digest('hex').slice(0, 32)}`;
      const eventId = (provider: string, i: number, recipient: string): string => `${provider}:${reportKey}:${i}:${recipient.toLowerCase()}`;
      const empty = { events: [], processed: 0, suppressed: 0, unsuppressed: 0, unverified: 0, unresolved: 0 };

      // Read (skimmed, decoded, line ends normalized) in pieces with turns of the host's loop
      // between them; the parsers then read this text at once, as they would have read the mail.
      let input: string | Uint8Array = mime;
      try {
        input = await readInputYielding(mime, DEFAULT_MAX_SCAN_LENGTH);
      } catch {
        // The parsers read the mail themselves, and never throw on it.
      }
      const bounce = parseBounce(input);
      if (bounce.kind === 'bounce' || bounce.kind === 'delay' || (bounce.kind === 'not-bounce' && bounce.recipients.length > 0)) {
        const kind: RawFeedbackKind = bounce.kind === 'not-bounce' ? 'delivery' : bounce.kind;
        const events: FeedbackEvent[] = [];
        let unresolved = 0;
        const recipients: readonly BouncedRecipient[] =
          bounce.recipients.length === 0 && bounce.kind === 'bounce' && verpData?.recipient !== undefined
            ? [{ address: verpData.recipient, action: 'failed', reason: 'undefined', hard: false }]
            : bounce.recipients;
        const jobId = bounce.originalHeaders?.jobId ?? verpData?.jobId;
        const messageId = bounce.originalMessageId ?? bounce.originalHeaders?.messageId;
        recipients.forEach((r, i) => {
          const recipient = normalizeRecipient(r.address);
          if (recipient === undefined) {
            unresolved++;
            return;
          }
          const type: FeedbackEventType = r.action === 'failed' ? 'bounced' : r.action === 'delayed' ? 'deferred' : 'delivered';
          events.push(
            clean({
              type,
              recipient,
              provider: 'dsn',
              timestamp: reportTime,
              eventId: eventId('dsn', i, recipient),
              messageId,
              jobId,
              reason: r.reason,
              hard: type === 'bounced' ? r.hard : false,
              diagnostic: r.diagnosticText ?? r.diagnosticCode,
              status: r.status,
              raw: { report: bounce, recipient: r },
            }),
          );
        });
        const proofs: Proofs = { verp: verpData, jobId: bounce.originalHeaders?.jobId, messageId: bounce.originalHeaders?.messageId ?? bounce.originalMessageId };
        const verifications = await verifyAll(events, proofs);
        return { ...(await run(events, false, verifications)), kind, unresolved, bounce };
      }
      if (bounce.kind === 'autoreply') return { ...empty, kind: 'autoreply', bounce };

      const complaint = parseComplaint(input);
      if (complaint === undefined) return { ...empty, kind: 'not-bounce' };
      const type: FeedbackEventType = complaint.feedbackType === 'opt-out' ? 'unsubscribed' : 'complained';
      // Feedback loops report to the abuse address, but Original-Mail-From is the VERP return path.
      const complaintVerp = verpData ?? (verp !== undefined && complaint.originalMailFrom !== undefined ? verp.decode(complaint.originalMailFrom) : undefined);
      const jobId = complaint.originalHeaders?.jobId ?? complaintVerp?.jobId;
      const messageId = complaint.originalMessageId ?? complaint.originalHeaders?.messageId;
      const proofs: Proofs = { verp: complaintVerp, jobId: complaint.originalHeaders?.jobId, messageId: complaint.originalHeaders?.messageId ?? complaint.originalMessageId };
      const named = complaint.originalRcptTos !== undefined && complaint.originalRcptTos.length > 0 ? complaint.originalRcptTos : complaint.originalRcptTo !== undefined ? [complaint.originalRcptTo] : [];
      let addresses = named.map((a) => normalizeRecipient(a)).filter((a): a is string => a !== undefined);
      if (addresses.length === 0 && complaintVerp?.recipient !== undefined) addresses = [complaintVerp.recipient];
      let unresolved = 0;
      const base = {
        type,
        provider: 'arf',
        timestamp: complaint.arrivalDate ?? reportTime,
        messageId,
        jobId,
        feedbackType: complaint.feedbackType,
        userAgent: complaint.userAgent,
        raw: complaint,
      };
      const events: FeedbackEvent[] = [];
      let correlated = false;
      if (addresses.length === 0) {
        // Redacted: only records of the send (by job or Message-ID) can name the recipient.
        const sent = await redactedRecipient(proofs, lookup());
        if (sent !== undefined) {
          events.push(clean({ ...base, recipient: sent, eventId: eventId('arf', 0, sent) }));
        } else {
          const c = resolve === undefined ? undefined : await guard('resolveCorrelation', () => resolve(clean({ type, provider: 'arf', jobId, messageId }) as CorrelationQuery));
          const recipient = normalizeRecipient(c?.recipient);
          if (recipient === undefined) unresolved = 1;
          else events.push(merge(clean({ ...base, recipient, eventId: eventId('arf', 0, recipient) }), c!));
          // A redacted complaint was correlated here to find its recipient; once is enough.
          correlated = true;
        }
      } else {
        addresses.forEach((recipient, i) => events.push(clean({ ...base, recipient, eventId: eventId('arf', i, recipient) })));
      }
      const verifications = await verifyAll(events, proofs);
      return { ...(await run(events, correlated, verifications)), kind: 'complaint', unresolved, complaint };
    },
  };

  /**
   * The recipient of a redacted complaint, from the sent job its returned original names (with
   * the matching Message-ID), when that job had one recipient.
   */
  async function redactedRecipient(proofs: Proofs, find: (jobId: string) => Promise<SentRecord | undefined>): Promise<string | undefined> {
    if (correlation === undefined) return undefined;
    const jobId = proofs.verp?.jobId ?? proofs.jobId;
    if (jobId === undefined) return undefined;
    const record = await find(jobId);
    if (record === undefined || record.recipients.length !== 1) return undefined;
    // Through the returned original, its Message-ID must match; a VERP token is proof enough.
    if (proofs.verp === undefined && (proofs.messageId === undefined || record.messageId !== proofs.messageId)) return undefined;
    return normalizeRecipient(record.recipients[0]);
  }
}

function checkIngestOptions(batch: IngestOptions): void {
  if (typeof batch !== 'object' || batch === null) throw configError('ingest options', 'an object', batch);
  if (batch.keepEvents !== undefined && typeof batch.keepEvents !== 'boolean') throw configError('keepEvents', 'a boolean', batch.keepEvents);
  if (batch.onEvent !== undefined && typeof batch.onEvent !== 'function') throw configError('onEvent', 'a function', batch.onEvent);
}

/** The event marked verified or not, completed with what the sent record knows. */
function withVerdict(e: FeedbackEvent, verified: boolean, record: SentRecord | undefined): FeedbackEvent {
  const out = copyEvent(e);
  out.verified = verified;
  if (record !== undefined) {
    if (e.jobId === undefined) out.jobId = record.jobId;
    if (e.messageId === undefined) out.messageId = record.messageId;
    if (e.providerMessageId === undefined && record.providerMessageId !== undefined) out.providerMessageId = record.providerMessageId;
    if (record.tags !== undefined) out.tags = { ...record.tags, ...e.tags };
  }
  return out as unknown as FeedbackEvent;
}

function query(e: FeedbackEvent): CorrelationQuery {
  return clean({ type: e.type, provider: e.provider, recipient: e.recipient, jobId: e.jobId, messageId: e.messageId, providerMessageId: e.providerMessageId }) as CorrelationQuery;
}

/** The event completed with what the host knows; the event's own values win, metadata and tags merge. */
function merge(e: FeedbackEvent, c: Correlation): FeedbackEvent {
  if (typeof c !== 'object' || c === null) return e;
  const out = copyEvent(e);
  if (e.jobId === undefined && typeof c.jobId === 'string') out.jobId = c.jobId;
  if (e.messageId === undefined && typeof c.messageId === 'string') out.messageId = c.messageId;
  if (typeof c.metadata === 'object' && c.metadata !== null) out.metadata = { ...c.metadata, ...e.metadata };
  if (typeof c.tags === 'object' && c.tags !== null) out.tags = { ...c.tags, ...e.tags };
  return out as unknown as FeedbackEvent;
}

/** Copies an object without its undefined fields (exactOptionalPropertyTypes). */
function clean<T extends Record<string, unknown>>(o: T): FeedbackEvent {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as unknown as FeedbackEvent;
}

function sameTarget(a: SuppressionEntry, b: SuppressionEntry): boolean {
  if ((a.scope ?? '') !== (b.scope ?? '')) return false;
  if (b.address !== undefined) return a.address?.toLowerCase() === b.address.toLowerCase();
  return a.domain?.toLowerCase() === b.domain?.toLowerCase();
}

/** A permanent entry beats an expiring one; of two expiring ones the later expiry wins. */
function atLeastAsStrong(existing: SuppressionEntry, next: SuppressionEntry): boolean {
  if (existing.expiresAt === undefined) return true;
  return next.expiresAt !== undefined && existing.expiresAt >= next.expiresAt;
}

/** Runs a host-supplied function; anything it throws becomes a STORE MailError (retryable). */
async function guard<T>(what: string, fn: () => T | Promise<T>): Promise<Awaited<T>> {
  try {
    return await fn();
  } catch (err) {
    throw storeError(what, err);
  }
}

/** What a failure of a host-supplied function becomes: a STORE MailError (retryable), kept as is when it is one. */
function storeError(what: string, err: unknown): MailError {
  if (isMailError(err) && err.code === MailErrorCode.STORE) return err;
  return new MailError(`Feedback ${what} failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err });
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * {@link guard} without a promise when `fn` answers synchronously: the value as it is, or a
 * STORE MailError thrown; a promise (rejecting with a STORE MailError) when `fn` returns one.
 */
function call<T>(what: string, fn: () => T | PromiseLike<T>): T | Promise<T> {
  let value: T | PromiseLike<T>;
  try {
    value = fn();
  } catch (err) {
    throw storeError(what, err);
  }
  if (!isThenable(value)) return value;
  return Promise.resolve(value).then(undefined, (err: unknown) => {
    throw storeError(what, err);
  });
}

// ---------------------------------------------------------------------------------------
// Top-level headers of a raw mail (for VERP and the report's own id and date)
// ---------------------------------------------------------------------------------------

const TOP_HEADERS = new Set(['to', 'delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-to', 'x-rcpt-to', 'message-id', 'date']);

function topHeaders(mime: string | Uint8Array): Map<string, string[]> {
  const head = typeof mime === 'string' ? mime.slice(0, 65_536) : Buffer.from(mime.buffer, mime.byteOffset, Math.min(mime.byteLength, 65_536)).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  const block = (end < 0 ? head : head.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const out = new Map<string, string[]>();
  for (const line of block.split(/\r?\n/, 500)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!TOP_HEADERS.has(name)) continue;
    const list = out.get(name) ?? [];
    if (list.length < 20) list.push(line.slice(colon + 1).trim());
    out.set(name, list);
  }
  return out;
}

function findVerp(verp: Verp, deliveredTo: string | undefined, top: Map<string, string[]>): ReturnType<Verp['decode']> {
  const candidates = [deliveredTo, ...['delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-to', 'x-rcpt-to', 'to'].flatMap((h) => top.get(h) ?? [])];
  for (const c of candidates) {
    if (typeof c !== 'string') continue;
    for (const part of c.split(',', 20)) {
      const d = verp.decode(part);
      if (d !== undefined) return d;
    }
  }
  return undefined;
}

function parseDate(values: string[] | undefined): number | undefined {
  const v = values?.[0];
  if (v === undefined || v.length > 200) return undefined;
  const t = Date.parse(v.replace(/\s*\([^)]*\)\s*$/, ''));
  return Number.isNaN(t) ? undefined : t;
}
