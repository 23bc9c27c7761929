/**
 * Plain values shared by the metrics collector and its per-domain ranking: what became of a
 * recipient, one labelled counter value, and one domain's totals.
 *
 * @module
 * @internal
 */

/** What became of recipients, as counted per domain. */
export type RecipientOutcome = 'sent' | 'failed' | 'deferred' | 'expired' | 'suppressed';

/** Every {@link RecipientOutcome}, in a stable order. */
export const RECIPIENT_OUTCOMES: readonly RecipientOutcome[] = Object.freeze(['sent', 'failed', 'deferred', 'expired', 'suppressed']);

/** A counter value with its labels. */
export interface LabelledValue {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Counters of one domain in the status view (exact for the domains tracked, see {@link MetricsOptions.topDomains}). */
export interface DomainTotals {
  readonly domain: string;
  readonly sent: number;
  readonly failed: number;
  readonly deferred: number;
  readonly expired: number;
  readonly suppressed: number;
}
