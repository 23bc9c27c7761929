/**
 * Bounded-cardinality counters per recipient domain: the busiest `top` domains get their own
 * label, every other domain is counted as `other`.
 *
 * Invariants:
 * - at most `top` labelled domains, plus `other`;
 * - every exported series only grows: a domain that loses its label has its series dropped
 *   (Prometheus sees the series end), and one that wins a label starts a new series at 0
 *   (what it did before stays in `other`), so `rate()` over the series is right at all times;
 * - memory is bounded: exact counts are kept for at most `cap` domains; past that the least
 *   busy half is forgotten (a heavy-hitters approximation).
 *
 * @module
 * @internal
 */

import type { DomainTotals, LabelledValue, RecipientOutcome } from './values.js';

/** Label of the domains that are not among the busiest. */
export const OTHER_DOMAIN = 'other';

interface Tracked {
  sent: number;
  failed: number;
  deferred: number;
  expired: number;
  suppressed: number;
  /** Recipients counted, halved at every re-rank so that the ranking follows recent traffic. */
  score: number;
}

/** @internal */
export class DomainRanking {
  private readonly tracked = new Map<string, Tracked>();
  private labelled = new Set<string>();
  private readonly values = new Map<string, number>();
  private lastRerank: number;
  private readonly cap: number;

  constructor(
    private readonly top: number,
    private readonly rerankMs: number,
    private readonly now: () => number,
  ) {
    this.lastRerank = now();
    this.cap = Math.max(1000, top * 20);
  }

  /** The label of a domain now: itself when it is among the busiest, else `other`. */
  label(domain: string): string {
    return this.labelled.has(domain) ? domain : OTHER_DOMAIN;
  }

  count(domain: string, outcome: RecipientOutcome, n: number): void {
    let t = this.tracked.get(domain);
    if (t === undefined) {
      t = { sent: 0, failed: 0, deferred: 0, expired: 0, suppressed: 0, score: 0 };
      this.tracked.set(domain, t);
      if (this.tracked.size > this.cap) this.forget();
    }
    t[outcome] += n;
    t.score += n;
    // A free label goes at once to the next domain seen.
    if (!this.labelled.has(domain) && this.labelled.size < this.top && domain !== OTHER_DOMAIN) this.labelled.add(domain);
    const key = `${outcome}\u0000${this.label(domain)}`;
    this.values.set(key, (this.values.get(key) ?? 0) + n);
  }

  /** Re-ranks the labels when `rerankMs` has passed since the last time. */
  maybeRerank(): void {
    const now = this.now();
    if (now - this.lastRerank < this.rerankMs) return;
    this.lastRerank = now;
    const ranked = this.ranked(this.top);
    const next = new Set(ranked.map(([d]) => d));
    for (const d of this.labelled) {
      if (next.has(d)) continue;
      for (const key of [...this.values.keys()]) if (key.endsWith(`\u0000${d}`)) this.values.delete(key);
    }
    this.labelled = next;
    for (const t of this.tracked.values()) t.score /= 2;
  }

  /** Counters by `outcome` and `domain`. */
  series(): LabelledValue[] {
    const out: LabelledValue[] = [];
    for (const [key, value] of this.values) {
      const [outcome, domain] = key.split('\u0000') as [string, string];
      out.push({ labels: { outcome, domain }, value });
    }
    return out;
  }

  /** Exact counters of the busiest tracked domains. */
  totals(limit: number): DomainTotals[] {
    return this.ranked(limit).map(([domain, t]) => ({ domain, sent: t.sent, failed: t.failed, deferred: t.deferred, expired: t.expired, suppressed: t.suppressed }));
  }

  private ranked(limit: number): [string, Tracked][] {
    return [...this.tracked].sort((a, b) => b[1].score - a[1].score || (a[0] < b[0] ? -1 : 1)).slice(0, limit);
  }

  /** Forgets the least busy half of the tracked domains (never a labelled one). */
  private forget(): void {
    const keepCount = this.cap >> 1;
    const kept = new Set(this.ranked(keepCount).map(([d]) => d));
    for (const d of this.tracked.keys()) if (!kept.has(d) && !this.labelled.has(d)) this.tracked.delete(d);
  }
}
