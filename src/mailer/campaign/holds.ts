/**
 * Jobs held back by the campaign control (paused campaign, or marketing mail from a From domain
 * the complaint guard paused), counted per campaign. While jobs of a campaign are held, its
 * state is read again every few seconds so that a resume made by another process of a fleet
 * (or straight in the store) lets them go.
 *
 * @module
 */

import type { Job } from '../../types.js';

/** A job held back. @internal */
export interface Held {
  readonly job: Job;
  readonly campaign: string | undefined;
  /** Set when held by the complaint guard (From domain). */
  readonly guardDomain: string | undefined;
}

/** The held jobs of a mailer. @internal */
export class Holds {
  private readonly held = new Map<string, Held>();
  private readonly perCampaign = new Map<string, number>();
  private refreshTimer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param refresh - Reads the state of a campaign with held jobs again (every `refreshMs`).
   * @param refreshMs - How often.
   */
  constructor(
    private readonly refresh: (campaign: string) => void,
    private readonly refreshMs: number,
  ) {}

  /** Number of jobs held. */
  get size(): number {
    return this.held.size;
  }

  /** Number of jobs held for `campaign`. */
  heldFor(campaign: string): number {
    return this.perCampaign.get(campaign) ?? 0;
  }

  keep(job: Job, campaign: string | undefined, guardDomain: string | undefined): void {
    if (this.held.has(job.id)) return;
    this.held.set(job.id, { job, campaign, guardDomain });
    if (campaign === undefined) return;
    this.perCampaign.set(campaign, (this.perCampaign.get(campaign) ?? 0) + 1);
    if (this.refreshTimer === undefined) {
      this.refreshTimer = setInterval(() => {
        if (this.perCampaign.size === 0) {
          clearInterval(this.refreshTimer);
          this.refreshTimer = undefined;
          return;
        }
        for (const id of this.perCampaign.keys()) this.refresh(id);
      }, this.refreshMs);
      this.refreshTimer.unref();
    }
  }

  /** Forgets the job (it was sent, failed, or let go); undefined when it was not held. */
  unhold(jobId: string): Held | undefined {
    // Called for every sent or failed job; held jobs are rare (a paused campaign or domain).
    if (this.held.size === 0) return undefined;
    const h = this.held.get(jobId);
    if (h === undefined) return undefined;
    this.held.delete(jobId);
    if (h.campaign !== undefined) {
      const n = (this.perCampaign.get(h.campaign) ?? 1) - 1;
      if (n <= 0) this.perCampaign.delete(h.campaign);
      else this.perCampaign.set(h.campaign, n);
    }
    return h;
  }

  /** The held jobs matching `which`, as a copy (the caller unholds them one by one). */
  matching(which: (h: Held) => boolean): Held[] {
    const out: Held[] = [];
    for (const h of this.held.values()) if (which(h)) out.push(h);
    return out;
  }

  /** Stops the refresh timer (the mailer closes). */
  close(): void {
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
  }
}
