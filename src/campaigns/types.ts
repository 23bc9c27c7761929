/**
 * Public types of campaign control: the handle returned by `mailer.campaign(id)`, its stats,
 * and the `campaign` and `complaintRate` events.
 *
 * @module
 */

import type { CampaignState } from '../types.js';
import type { ComplaintRate } from './complaint-guard.js';

/** Counters of a campaign, per recipient. Other counters (a host's own) may be present too. */
export interface CampaignCounts {
  /** Recipients queued by the campaign's `sendMany` runs. */
  readonly queued: number;
  /** Items of the source refused by validation (counted per item). */
  readonly invalid: number;
  /** Recipients accepted by the transport. */
  readonly sent: number;
  /** Recipients that failed for good (permanent, expired, aborted). */
  readonly failed: number;
  /** Recipients skipped because they are on the suppression list. */
  readonly suppressed: number;
  /** Recipients whose jobs ended with the campaign's cancellation. */
  readonly cancelled: number;
  /** Feedback: delivered (provider events). */
  readonly delivered: number;
  /** Feedback: bounced after acceptance (DSN, provider events). */
  readonly bounced: number;
  /** Feedback: spam complaints. */
  readonly complained: number;
  /** Feedback: unsubscribed. */
  readonly unsubscribed: number;
  /** Feedback: opened (tracking; includes machine opens). */
  readonly opened: number;
  /** Feedback: clicked (tracking). */
  readonly clicked: number;
  readonly [counter: string]: number;
}

/** What is known of a campaign: its state and counters, kept by the store through restarts. */
export interface CampaignStats {
  readonly id: string;
  /** `running` for a campaign the store never heard of. */
  readonly state: CampaignState;
  /** Why it is paused or cancelled (`user`, `complaint-rate`). */
  readonly reason?: string;
  /** When the store first heard of it, ms since epoch (absent when unknown). */
  readonly createdAt?: number;
  /** Last change, ms since epoch. */
  readonly updatedAt?: number;
  readonly counts: CampaignCounts;
  /** Recipients queued and not yet final: queued - sent - failed - suppressed - cancelled. */
  readonly remaining: number;
}

/**
 * Control of one campaign, from `mailer.campaign(id)`. Pausing and cancelling act on the
 * campaign's jobs held by this mailer and on its `sendMany` source; the state is kept in the
 * store, so jobs of a paused or cancelled campaign recovered after a restart (or taken by
 * another process of a fleet, within a few seconds) are held or cancelled too.
 */
export interface Campaign {
  /** The campaign id. */
  readonly id: string;
  /**
   * Pauses: `sendMany` stops reading the source, and the campaign's queued jobs are held from
   * dispatch (sends in flight finish). Rejects with VALIDATION for a cancelled campaign.
   */
  pause(): Promise<void>;
  /** Resumes a paused campaign: held jobs go out again and the source is read on. */
  resume(): Promise<void>;
  /**
   * Cancels for good: the source is no longer read, and the campaign's queued jobs end as
   * `aborted` recipients with a `MAILPUSH_ERR_CANCELLED` error (sends in flight finish).
   */
  cancel(): Promise<void>;
  /** State and counters, from the store (with this mailer's not yet written counts). */
  stats(): Promise<CampaignStats>;
}

/** A campaign's progress (throttled to one per `progressIntervalMs`) or a change of its state. */
export interface CampaignEvent {
  /** The campaign id. */
  readonly campaign: string;
  /**
   * `progress`: counts moved; `paused`, `resumed`, `cancelled`: its state changed;
   * `completed`: the source was read to the end and every queued recipient is final.
   */
  readonly kind: 'progress' | 'paused' | 'resumed' | 'cancelled' | 'completed';
  readonly state: CampaignState;
  /** Why it was paused or cancelled. */
  readonly reason?: string;
  /** Items read from the source by this run. */
  readonly read: number;
  /** Recipients queued by this run. */
  readonly queued: number;
  /** Items refused by validation. */
  readonly invalid: number;
  readonly sent: number;
  readonly failed: number;
  readonly suppressed: number;
  readonly cancelled: number;
  /** Recipients queued and not yet final, plus the items not yet read when `total` was given. */
  readonly remaining: number;
  /** Recipients sent per second, over the last 10 s or so. */
  readonly ratePerSecond: number;
  /** Estimated time to the end at that rate, ms; undefined while the rate is 0 or the end unknown. */
  readonly etaMs?: number;
  /** Time of the event, ms since epoch. */
  readonly at: number;
}

/**
 * The complaint-rate guard acted: `warn` (the rate of a From domain reached `warnRate`),
 * `pause` (it reached `pauseRate`: marketing mail from the domain is held), `resume` (the
 * host lifted the pause).
 */
export interface ComplaintRateEvent extends ComplaintRate {
  readonly action: 'warn' | 'pause' | 'resume';
  /** Time of the event, ms since epoch. */
  readonly at: number;
}

/** The complaint-rate guard of a mailer (`mailer.complaintGuard`). */
export interface ComplaintGuardControl {
  /** The rolling complaint rate of a From domain now. */
  status(domain: string): ComplaintRate;
  /** From domains whose marketing mail is paused now. */
  paused(): string[];
  /**
   * Lifts the pause of a From domain: its held marketing mail goes out again. A further
   * complaint while the rate is still at `pauseRate` pauses it again. False when it was not paused.
   */
  resume(domain: string): boolean;
}
