/**
 * The reports of the last finished messages, for `status(id)` and idempotent duplicates when
 * the queue store keeps none (the memory store forgets a message once it is done). Kept as text
 * in a byte ring (queue/text-ring.ts): as objects (a report, its recipient list, a result per
 * recipient, their strings: ~430 B) each lived through one or two young-generation GCs and was
 * copied each time, the largest part of what a tight send loop's GC copied.
 *
 * @module
 * @internal
 */

import { TextRing, hashOfKey, nulCount } from '../queue/text-ring.js';
import type { DeliveryReport, RecipientResult } from './options.js';

/** Fields per recipient in a report's text. */
const RECIPIENT_FIELDS = 7;

/** An optional field: '' when absent, else '+' and the value. */
function optional(value: string | undefined): string {
  return value === undefined ? '' : `+${value}`;
}

function fromOptional(field: string): string | undefined {
  return field === '' ? undefined : field.slice(1);
}

/**
 * A report's text: id, Message-ID, status, then for each recipient its address, status,
 * attempts, job id, transport, response and provider message id, joined by NUL; undefined when
 * a recipient has an error (the report is then kept as it is).
 */
function textOf(report: DeliveryReport): string | undefined {
  let text = `${report.id}\0${report.messageId}\0${report.status}`;
  const recipients = report.recipients;
  for (let i = 0; i < recipients.length; i++) {
    const r = recipients[i] as RecipientResult;
    if (r.error !== undefined) return undefined;
    text += `\0${r.address}\0${r.status}\0${r.attempts}\0${r.jobId}\0${optional(r.transport)}\0${optional(r.response)}\0${optional(r.providerMessageId)}`;
  }
  return text;
}

/** The report a text holds (see {@link textOf}), frozen like the mailer's own. */
function reportOf(text: string): DeliveryReport {
  const f = text.split('\0');
  const results: RecipientResult[] = [];
  for (let i = 3; i + RECIPIENT_FIELDS <= f.length; i += RECIPIENT_FIELDS) {
    const r: { -readonly [K in keyof RecipientResult]: RecipientResult[K] } = {
      address: f[i] as string,
      status: f[i + 1] as RecipientResult['status'],
      jobId: f[i + 3] as string,
      attempts: Number(f[i + 2]),
    };
    const transport = fromOptional(f[i + 4] as string);
    const response = fromOptional(f[i + 5] as string);
    const providerMessageId = fromOptional(f[i + 6] as string);
    if (transport !== undefined) r.transport = transport;
    if (response !== undefined) r.response = response;
    if (providerMessageId !== undefined) r.providerMessageId = providerMessageId;
    results.push(r);
  }
  return Object.freeze({ id: f[0] as string, messageId: f[1] as string, status: f[2] as DeliveryReport['status'], recipients: Object.freeze(results) });
}

/**
 * The last `capacity` finished reports, by message id. `get` gives an equal report (a new
 * object when it was kept as text).
 *
 * @example
 * ```ts
 * const recent = new RecentReports(10_000);
 * recent.set(report);
 * recent.get(report.id); // equal to report
 * ```
 * @internal
 */
export class RecentReports {
  private readonly ring = new TextRing<DeliveryReport>();

  /** @param capacity - Most reports held (an integer >= 1). */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`Expected \`capacity\` to be an integer >= 1, got ${String(capacity)}`);
  }

  /** Reports held. */
  get size(): number {
    return this.ring.size;
  }

  /** Remembers `report` (the newest for its id), forgetting the oldest when full. */
  set(report: DeliveryReport): void {
    const id = report.id;
    const ring = this.ring;
    const text = textOf(report);
    // Kept as text when it splits back into its fields (no field holds a NUL).
    // The ring hashes the id (-1), from the text's bytes when it is ASCII.
    if (text !== undefined && nulCount(text) === 2 + RECIPIENT_FIELDS * report.recipients.length) ring.add(id, -1, text, 0, undefined, this.capacity);
    else ring.add(id, -1, id, 0, report, this.capacity);
  }

  /** The newest report held for `id`, or undefined. */
  get(id: string): DeliveryReport | undefined {
    const slot = this.ring.find(id, hashOfKey(id));
    if (slot < 0) return undefined;
    return this.ring.auxAt(slot) ?? reportOf(this.ring.textAt(slot));
  }
}
