/**
 * Receipts and delivery reports: what `send()` returns, what `done()` and `status()` resolve
 * with, and the conversion of per-recipient results to and from the store's plain form.
 *
 * @module
 * @internal
 */

import { mailErrorFromJSON } from '../errors.js';
import type { Job, NormalizedMessage, StoredResult, StoredStatus } from '../types.js';
import type { MailerCore, MessageRecord } from './core.js';
import type { DeliveryReport, RecipientResult, SendReceipt } from './options.js';

/** The store's plain form of a result. */
export function toStored(r: RecipientResult, at: number): StoredResult {
  const out: { -readonly [K in keyof StoredResult]: StoredResult[K] } = { address: r.address, status: r.status as StoredResult['status'], jobId: r.jobId, attempts: r.attempts, at };
  if (r.transport !== undefined) out.transport = r.transport;
  if (r.response !== undefined) out.response = r.response;
  if (r.providerMessageId !== undefined) out.providerMessageId = r.providerMessageId;
  if (r.error !== undefined) out.error = r.error.toJSON();
  return out;
}

/** A result read back from the store. */
export function fromStored(r: StoredResult): RecipientResult {
  return {
    address: r.address,
    status: r.status,
    jobId: r.jobId,
    attempts: r.attempts,
    ...(r.transport !== undefined ? { transport: r.transport } : {}),
    ...(r.response !== undefined ? { response: r.response } : {}),
    ...(r.providerMessageId !== undefined ? { providerMessageId: r.providerMessageId } : {}),
    ...(r.error !== undefined ? { error: mailErrorFromJSON(r.error) } : {}),
  };
}

/** The overall status of a set of recipient results. */
export function overallStatus(results: readonly RecipientResult[]): DeliveryReport['status'] {
  // One loop, no callbacks or filtered copy: every finished message passes here.
  let sent = 0;
  for (let i = 0; i < results.length; i++) {
    const status = (results[i] as RecipientResult).status;
    if (status === 'pending') return 'pending';
    if (status === 'sent') sent++;
  }
  return sent === results.length ? 'sent' : sent === 0 ? 'failed' : 'partial';
}

/** The recipients of unfinished jobs, as `pending` results. */
function pendingOf(jobs: readonly Job[]): RecipientResult[] {
  const out: RecipientResult[] = [];
  for (const job of jobs) {
    if (job.state === 'sent' || job.state === 'failed' || job.state === 'expired') continue;
    for (const address of job.recipients) out.push({ address, status: 'pending', jobId: job.id, attempts: job.attempt });
  }
  return out;
}

/** A frozen report of these results. */
function report(id: string, messageId: string, results: RecipientResult[]): DeliveryReport {
  return Object.freeze({ id, messageId, status: overallStatus(results), recipients: Object.freeze(results) });
}

/** The report of a message in memory; unfinished recipients are `pending`. */
export function reportOf(rec: MessageRecord): DeliveryReport {
  return report(rec.message.id, rec.message.messageId, rec.results === undefined ? pendingOf(rec.jobs) : [...rec.results, ...pendingOf(rec.jobs)]);
}

/** The report of what a store knows of a message. */
export function reportFromStatus(status: StoredStatus): DeliveryReport {
  return report(status.id, status.messageId, [...status.results.map(fromStored), ...pendingOf(status.jobs)]);
}

/**
 * Ends a record: it leaves memory, its report is frozen and every `done()` waiter gets it.
 * `closing`: the mailer closed first, so unfinished recipients are reported `pending`.
 */
export function completeRecord(core: MailerCore, rec: MessageRecord, closing: boolean): void {
  core.records.delete(rec.message.id);
  const detach = rec.detach;
  if (detach !== undefined) {
    detach();
    rec.detach = undefined;
  }
  // Read before the report is set: the record keeps the waiters and the report in one field
  // (setting the report below replaces them).
  const waiters = rec.waiters;
  // The record's results become the report's (frozen there), not a copy: nothing adds to them
  // once the last job is final, and the record keeps none after this.
  const results = closing ? undefined : rec.results;
  if (results !== undefined) rec.results = undefined;
  const done = closing ? reportOf(rec) : report(rec.message.id, rec.message.messageId, results ?? []);
  rec.report = done;
  // With a shared queue this is only the part of the message sent from here: not its report.
  if (!closing && !core.shared) core.rememberReport(done);
  if (waiters !== undefined) for (const w of waiters) w(done);
  core.onComplete(done);
}

/** The receipt of a message held in memory. */
export function receiptOf(core: MailerCore, rec: MessageRecord, duplicate: boolean): SendReceipt {
  const held = rec.held;
  return {
    id: rec.message.id,
    messageId: rec.message.messageId,
    message: rec.message,
    // One job (most messages): an array of one slot, no callback.
    jobs: Array.isArray(held) ? (held.length === 1 ? [receiptJob(held[0] as Job)] : held.map(receiptJob)) : [receiptJob(held)],
    duplicate,
    done: doneOf(core, rec),
  };
}

function receiptJob(j: Job): SendReceipt['jobs'][number] {
  return { jobId: j.id, domain: j.domain, recipients: j.recipients.slice() };
}

/**
 * The receipt's `done()`. Returned from a function rather than written inline as `done: () =>`:
 * tsx (esbuild's keepNames) wraps a named inline function in a `__name` call that redefines
 * its `name` property, a measurable cost per send in the benchmarks, which run through tsx.
 */
function doneOf(core: MailerCore, rec: MessageRecord): () => Promise<DeliveryReport> {
  return () => {
    if (rec.report !== undefined) return Promise.resolve(rec.report);
    return core.keepAliveUntil(new Promise<DeliveryReport>((resolve) => (rec.waiters ??= []).push(resolve)));
  };
}

/** The report of a message whose outcome is not known here (yet): every recipient pending. */
export function pendingReport(id: string, message: NormalizedMessage, jobs: readonly Job[]): DeliveryReport {
  return report(id, message.messageId, pendingOf(jobs));
}
