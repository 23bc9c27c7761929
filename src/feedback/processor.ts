/**
 * The feedback processor: takes normalized feedback events (or raw DSN/ARF mails), completes
 * their correlation, applies the suppression policy to the SuppressionStore, then awaits the
 * host's hook, one event after the other.
 *
 * Ordering, and why: the suppression write comes first, then the hook. If the hook (the host's
 * storage) fails, `ingest` rejects, the webhook answers 5xx and the provider sends the same
 * events again; the suppression writes are idempotent (an existing entry that is at least as
 * strong is kept), the soft-bounce count is idempotent per `eventId`, so the retry converges.
 * The host's hook therefore sees an event at least once, never zero times once acknowledged:
 * make it idempotent with `event.eventId`.
 *
 * @module
 */

import { createHash } from 'node:crypto';
import { MailError, MailErrorCode, configError, isMailError } from '../errors.js';
import type { SuppressionEntry, SuppressionStore } from '../types.js';
import { parseComplaint } from './arf.js';
import { parseBounce } from './dsn.js';
import { checkFeedbackEvent, cleanMessageId, normalizeRecipient } from './event.js';
import type { FeedbackEvent, FeedbackEventType } from './event.js';
import { createSuppressionPolicy } from './policy.js';
import type { FeedbackPolicy, PolicyDecision, SuppressionPolicyOptions } from './policy.js';
import type { BouncedRecipient, BounceResult, ComplaintReport } from './types.js';
import type { Verp } from './verp.js';

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

/** How one event was handled. */
export interface ProcessedEvent {
  /** The event, correlated. */
  readonly event: FeedbackEvent;
  /** What the policy decided. */
  readonly decision: PolicyDecision;
  /**
   * What happened to the suppression list: `added`, `kept` (an entry at least as strong was
   * already there), `removed`, `absent` (nothing to lift) or `none`.
   */
  readonly suppression: 'added' | 'kept' | 'removed' | 'absent' | 'none';
}

/** Result of {@link FeedbackProcessor.ingest}. */
export interface IngestResult {
  readonly events: readonly ProcessedEvent[];
  /** Suppression entries written. */
  readonly suppressed: number;
  /** Suppression entries lifted (resubscribes). */
  readonly unsuppressed: number;
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
   */
  readonly onEvent?: (event: FeedbackEvent, processed: ProcessedEvent) => void | Promise<void>;
  /** Fills in what an event lacks (job id, metadata, a redacted recipient) from the host's records. Awaited. */
  readonly resolveCorrelation?: (query: CorrelationQuery) => Correlation | undefined | Promise<Correlation | undefined>;
  /** Decodes VERP return paths of raw bounces (the address the bounce was sent to). */
  readonly verp?: Verp;
  /** Current time, ms, for suppression entries. @default Date.now */
  readonly now?: () => number;
}

/** Ingests feedback. Create with {@link createFeedbackProcessor}. */
export interface FeedbackProcessor {
  /**
   * Processes events in order: correlation, suppression, hook. Validates every event first (a
   * VALIDATION MailError before any side effect). Rejects with a STORE MailError when the
   * suppression list or the hook fails; events before the failing one were processed.
   */
  ingest(events: readonly FeedbackEvent[]): Promise<IngestResult>;
  /**
   * Processes a raw mail from a bounce or feedback-loop mailbox: a DSN or non-standard bounce
   * (`bounced` events, `deferred` for delays, `delivered` for success DSNs), an ARF complaint
   * (`complained`, or `unsubscribed` for opt-out reports). Auto-replies and ordinary mail
   * give no event. Rejects like `ingest`, and with VALIDATION for input that is not text or bytes.
   */
  ingestRaw(mime: string | Uint8Array, options?: RawIngestOptions): Promise<RawIngestResult>;
}

/**
 * Creates a feedback processor.
 *
 * @example
 * ```ts
 * const processor = createFeedbackProcessor({
 *   suppression: mailer.suppression,
 *   onEvent: async (event) => { await db.feedback.insert(event) }, // failures make the provider retry
 * });
 * await processor.ingestRaw(bounceMail);
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
  const onEvent = options.onEvent;
  const resolve = options.resolveCorrelation;
  const now = options.now ?? Date.now;

  const correlate = async (event: FeedbackEvent): Promise<FeedbackEvent> => {
    if (resolve === undefined) return event;
    const c = await guard('resolveCorrelation', () => resolve(query(event)));
    return c === undefined ? event : merge(event, c);
  };

  const apply = async (decision: PolicyDecision, at: number): Promise<ProcessedEvent['suppression']> => {
    if (decision.action === 'suppress') {
      const entry = decision.entry;
      const target = entry.address ?? `x@${entry.domain!}`;
      const existing = await guard('suppression.find', () => suppression.find(target, entry.scope === undefined ? [] : [entry.scope], at));
      if (existing !== undefined && sameTarget(existing, entry) && atLeastAsStrong(existing, entry)) return 'kept';
      await guard('suppression.add', () => suppression.add(entry));
      return 'added';
    }
    if (decision.action === 'unsuppress') {
      const t = decision.target;
      const existing = await guard('suppression.find', () => suppression.find(t.address, t.scope === undefined ? [] : [t.scope], at));
      // Only the matching unsubscribe is lifted; an unscoped hard bounce or complaint stays.
      if (existing === undefined || existing.reason !== decision.reason || (existing.scope ?? '') !== (t.scope ?? '') || existing.address?.toLowerCase() !== t.address.toLowerCase()) {
        return 'absent';
      }
      const removed = await guard('suppression.remove', () => suppression.remove(t.scope === undefined ? { address: t.address } : { address: t.address, scope: t.scope }));
      return removed ? 'removed' : 'absent';
    }
    return 'none';
  };

  const run = async (events: readonly FeedbackEvent[], correlated = false): Promise<IngestResult> => {
    const done: ProcessedEvent[] = [];
    let suppressed = 0;
    let unsuppressed = 0;
    for (const raw of events) {
      const event = correlated ? raw : await correlate(raw);
      const at = now();
      const decision = await guard('policy', () => policy.evaluate(event, at));
      const suppression = await apply(decision, at);
      if (suppression === 'added') suppressed++;
      else if (suppression === 'removed') unsuppressed++;
      const processed: ProcessedEvent = { event, decision, suppression };
      if (onEvent !== undefined) await guard('onEvent', () => onEvent(event, processed));
      done.push(processed);
    }
    return { events: done, suppressed, unsuppressed };
  };

  return {
    async ingest(events) {
      if (!Array.isArray(events)) throw new MailError(`Expected an array of feedback events, got ${typeof events}`, { code: MailErrorCode.VALIDATION });
      const checked = events.map((e: unknown, i) => checkFeedbackEvent(e, i));
      return run(checked);
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

      const bounce = parseBounce(mime);
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
        return { ...(await run(events)), kind, unresolved, bounce };
      }
      if (bounce.kind === 'autoreply') return { events: [], suppressed: 0, unsuppressed: 0, kind: 'autoreply', unresolved: 0, bounce };

      const complaint = parseComplaint(mime);
      if (complaint === undefined) return { events: [], suppressed: 0, unsuppressed: 0, kind: 'not-bounce', unresolved: 0 };
      const type: FeedbackEventType = complaint.feedbackType === 'opt-out' ? 'unsubscribed' : 'complained';
      // Feedback loops report to the abuse address, but Original-Mail-From is the VERP return path.
      const complaintVerp = verpData ?? (verp !== undefined && complaint.originalMailFrom !== undefined ? verp.decode(complaint.originalMailFrom) : undefined);
      const jobId = complaint.originalHeaders?.jobId ?? complaintVerp?.jobId;
      const messageId = complaint.originalMessageId ?? complaint.originalHeaders?.messageId;
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
      if (addresses.length === 0) {
        // Redacted: only the host's records (by job or Message-ID) can name the recipient.
        const c = resolve === undefined ? undefined : await guard('resolveCorrelation', () => resolve(clean({ type, provider: 'arf', jobId, messageId }) as CorrelationQuery));
        const recipient = normalizeRecipient(c?.recipient);
        if (recipient === undefined) unresolved = 1;
        else events.push(merge(clean({ ...base, recipient, eventId: eventId('arf', 0, recipient) }), c!));
      } else {
        addresses.forEach((recipient, i) => events.push(clean({ ...base, recipient, eventId: eventId('arf', i, recipient) })));
      }
      // A redacted complaint was correlated above to find its recipient; once is enough.
      return { ...(await run(events, addresses.length === 0)), kind: 'complaint', unresolved, complaint };
    },
  };
}

function query(e: FeedbackEvent): CorrelationQuery {
  return clean({ type: e.type, provider: e.provider, recipient: e.recipient, jobId: e.jobId, messageId: e.messageId, providerMessageId: e.providerMessageId }) as CorrelationQuery;
}

/** The event completed with what the host knows; the event's own values win, metadata and tags merge. */
function merge(e: FeedbackEvent, c: Correlation): FeedbackEvent {
  if (typeof c !== 'object' || c === null) return e;
  const out: Record<string, unknown> = { ...e };
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
    if (isMailError(err) && err.code === MailErrorCode.STORE) throw err;
    throw new MailError(`Feedback ${what} failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err });
  }
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
