/**
 * Per-campaign counters written to the campaign store in batches: at most once a second, at
 * close, and before `stats()` reads them back.
 *
 * @module
 */

import type { CampaignCounts } from '../../campaigns/types.js';
import type { FeedbackEvent } from '../../feedback/event.js';
import type { CampaignStore } from '../../types.js';
import type { MailerCore } from '../core.js';

/** Counters are written to the store at most this often (and at close, and before `stats()`). */
const FLUSH_MS = 1_000;

/** Every counter at zero: what a campaign the store does not know reports. @internal */
export const ZERO: CampaignCounts = {
  queued: 0,
  invalid: 0,
  sent: 0,
  failed: 0,
  suppressed: 0,
  cancelled: 0,
  delivered: 0,
  bounced: 0,
  complained: 0,
  unsubscribed: 0,
  opened: 0,
  clicked: 0,
};

/** Feedback event types counted per campaign here, and their counter. @internal */
export const FEEDBACK_COUNTERS: Partial<Record<FeedbackEvent['type'], string>> = {
  delivered: 'delivered',
  bounced: 'bounced',
  complained: 'complained',
  unsubscribed: 'unsubscribed',
  // opened and clicked are counted by the tracking handler itself (unique and total, human and machine).
};

/** Counts gathered since the last write, by campaign. @internal */
export class CampaignCounters {
  private pending = new Map<string, Record<string, number>>();
  private flushTimer: ReturnType<MailerCore['clock']['setTimeout']> | undefined;
  private readonly writes = new Set<Promise<unknown>>();

  constructor(
    private readonly core: MailerCore,
    private readonly store: CampaignStore,
  ) {}

  /** Adds `n` to counter `name` of campaign `id`; written with the next flush. */
  add(id: string, name: string, n: number): void {
    let p = this.pending.get(id);
    if (p === undefined) this.pending.set(id, (p = {}));
    p[name] = (p[name] ?? 0) + n;
    if (this.flushTimer === undefined) {
      this.flushTimer = this.core.clock.setTimeout(() => {
        this.flushTimer = undefined;
        void this.flush();
      }, FLUSH_MS);
      this.flushTimer.unref?.();
    }
  }

  /** Writes the counts gathered since the last flush; waits for writes already under way. */
  async flush(): Promise<void> {
    if (this.flushTimer !== undefined) {
      this.core.clock.clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    const batch = this.pending;
    this.pending = new Map();
    const now = this.core.clock.now();
    for (const [id, counts] of batch) {
      const w = (async () => {
        try {
          await this.store.increment(id, counts, now);
        } catch (err) {
          this.core.reportError('store.campaigns', `Campaign store (${this.store.name}) increment`, err);
        }
      })();
      this.writes.add(w);
      void w.then(() => this.writes.delete(w));
    }
    await Promise.all([...this.writes]);
  }
}
