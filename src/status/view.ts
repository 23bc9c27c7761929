/**
 * What the status page shows, as plain JSON: the queue per lane, domains (the busiest, the
 * active and every paused or throttled one, capped), the transport's state, recent failures
 * and campaign progress.
 *
 * @module
 */

import type { MailerMetrics, RecentFailure } from '../metrics/collector.js';
import type { Mailer } from '../mailer/options.js';
import type { JobEventBase } from '../events.js';
import type { Priority } from '../types.js';

/** One domain on the status page. `null` rates and concurrency mean unlimited. */
export interface StatusDomain {
  readonly domain: string;
  readonly queued: number;
  readonly inflight: number;
  readonly ratePerSecond: number | null;
  readonly concurrency: number | null;
  /** Paused until this time (ms since epoch), or 0. */
  readonly pausedUntil: number;
  readonly throttled: boolean;
  readonly sent: number;
  readonly failed: number;
  readonly deferred: number;
  readonly expired: number;
  readonly suppressed: number;
}

/** Progress of one campaign, counted from the job events that carry its id. */
export interface StatusCampaign {
  readonly id: string;
  /** Jobs queued (one per recipient domain of each message). */
  readonly queued: number;
  readonly sent: number;
  readonly failed: number;
  readonly deferred: number;
  /** Jobs not final yet. */
  readonly pending: number;
  readonly startedAt: number;
  readonly updatedAt: number;
  /** From the mailer's `campaign` progress events, when it emits them: `running`, `paused`, `cancelled`, `completed`. */
  readonly state?: string;
  /** Recipients sent per second recently (from `campaign` events). */
  readonly ratePerSecond?: number;
  /** Estimated time to the end, ms (from `campaign` events). */
  readonly etaMs?: number;
}

/** The fields of a `campaign` progress event the page uses (see `mailer.campaign(id)`). */
interface CampaignProgressEvent {
  readonly campaign?: unknown;
  readonly kind?: unknown;
  readonly state?: unknown;
  readonly queued?: unknown;
  readonly sent?: unknown;
  readonly failed?: unknown;
  readonly suppressed?: unknown;
  readonly cancelled?: unknown;
  readonly remaining?: unknown;
  readonly ratePerSecond?: unknown;
  readonly etaMs?: unknown;
}

/** The status page's data (`?format=json`). */
export interface StatusView {
  readonly at: number;
  readonly title: string;
  readonly transport: {
    readonly name: string;
    readonly paused: boolean;
    readonly throttled: boolean;
    readonly ratePerSecond: number | null;
    /** Why the transport is down (dns, connect, tls, auth), null while it is up. */
    readonly down: string | null;
  };
  readonly lanes: Readonly<Record<Priority, number>>;
  readonly scheduled: number;
  readonly inflight: number;
  readonly backlog: boolean;
  readonly totals: Readonly<Record<string, number>>;
  readonly domains: readonly StatusDomain[];
  readonly failures: readonly RecentFailure[];
  readonly campaigns: readonly StatusCampaign[];
}

const MAX_DOMAINS = 50;
const MAX_CAMPAIGNS = 20;

const finiteOrNull = (n: number): number | null => (Number.isFinite(n) ? n : null);

interface CampaignCount {
  queued: number;
  sent: number;
  failed: number;
  deferred: number;
  startedAt: number;
  updatedAt: number;
  /** The latest `campaign` event: its counts win over those counted from job events. */
  progress?: CampaignProgressEvent;
  /** Order of the last change (most recent highest). */
  seq: number;
  /** Changed since the last `list()` (which stamps `updatedAt`). */
  dirty?: boolean;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Counts campaign progress from job events: the campaign id is the event's `campaign` field
 * (where events carry one) or else the message's `campaign` tag. At most 20 campaigns, the
 * latest active ones.
 * @internal
 */
export class CampaignTracker {
  private readonly campaigns = new Map<string, CampaignCount>();
  private readonly offs: (() => void)[];
  private seq = 0;

  constructor(
    mailer: Mailer,
    private readonly now: () => number,
  ) {
    const id = (e: JobEventBase): string | undefined => {
      const c = (e as { campaign?: unknown }).campaign ?? e.tags.campaign;
      return typeof c === 'string' && c !== '' ? c : undefined;
    };
    const bump = (e: JobEventBase, key: 'queued' | 'sent' | 'failed' | 'deferred'): void => {
      const c = id(e);
      if (c === undefined) return;
      this.count(c)[key]++;
    };
    this.offs = [
      mailer.on('queued', (e) => bump(e, 'queued')),
      mailer.on('recovered', (e) => bump(e, 'queued')),
      mailer.on('sent', (e) => bump(e, 'sent')),
      mailer.on('failed', (e) => bump(e, 'failed')),
      mailer.on('deferred', (e) => bump(e, 'deferred')),
      // Campaign progress events, on mailers that emit them.
      (mailer.on as unknown as (event: string, listener: (e: CampaignProgressEvent) => void) => () => void)('campaign', (e) => {
        if (typeof e?.campaign === 'string' && e.campaign !== '') this.count(e.campaign).progress = e;
      }),
    ];
  }

  /** Counts of a campaign (created on first sight; the least recently active one goes past 20). Cheap: it runs for every job event. */
  private count(id: string): CampaignCount {
    let c = this.campaigns.get(id);
    if (c === undefined) {
      const now = this.now();
      c = { queued: 0, sent: 0, failed: 0, deferred: 0, startedAt: now, updatedAt: now, seq: 0 };
      this.campaigns.set(id, c);
      if (this.campaigns.size > MAX_CAMPAIGNS) {
        const oldest = [...this.campaigns].sort((a, b) => a[1].seq - b[1].seq)[0];
        if (oldest !== undefined) this.campaigns.delete(oldest[0]);
      }
    }
    c.seq = ++this.seq;
    c.dirty = true;
    return c;
  }

  list(): StatusCampaign[] {
    const now = this.now();
    return [...this.campaigns]
      .sort((a, b) => b[1].seq - a[1].seq)
      .map(([id, c]) => {
        if (c.dirty === true) {
          c.updatedAt = now;
          c.dirty = false;
        }
        const p = c.progress;
        if (p === undefined) return { id, queued: c.queued, sent: c.sent, failed: c.failed, deferred: c.deferred, pending: Math.max(0, c.queued - c.sent - c.failed), startedAt: c.startedAt, updatedAt: c.updatedAt };
        const queued = Math.max(num(p.queued) ?? 0, c.queued);
        const sent = Math.max(num(p.sent) ?? 0, c.sent);
        const failed = Math.max((num(p.failed) ?? 0) + (num(p.suppressed) ?? 0) + (num(p.cancelled) ?? 0), c.failed);
        const rate = num(p.ratePerSecond);
        const eta = num(p.etaMs);
        return {
          id,
          queued,
          sent,
          failed,
          deferred: c.deferred,
          pending: num(p.remaining) ?? Math.max(0, queued - sent - failed),
          startedAt: c.startedAt,
          updatedAt: c.updatedAt,
          ...(typeof p.state === 'string' ? { state: p.kind === 'completed' ? 'completed' : p.state } : {}),
          ...(rate !== undefined ? { ratePerSecond: rate } : {}),
          ...(eta !== undefined ? { etaMs: eta } : {}),
        };
      });
  }

  close(): void {
    for (const off of this.offs) off();
  }
}

/** Builds the status view. @internal */
export function buildView(title: string, mailer: Mailer, metrics: MailerMetrics, campaigns: CampaignTracker, now: number): StatusView {
  const stats = mailer.stats();
  const snapshot = metrics.snapshot();
  const totals = new Map(metrics.domainTotals(MAX_DOMAINS).map((t) => [t.domain, t]));
  const active = Object.entries(stats.domains);
  // Paused and throttled domains first, then the busiest now, then the busiest so far.
  const order = [
    ...active.filter(([, d]) => d.pausedUntil > 0 || d.throttled).map(([n]) => n),
    ...active.sort((a, b) => b[1].queued + b[1].inflight - (a[1].queued + a[1].inflight)).map(([n]) => n),
    ...totals.keys(),
  ];
  const names = [...new Set(order)].slice(0, MAX_DOMAINS);
  const domains: StatusDomain[] = names.map((domain) => {
    const d = stats.domains[domain];
    const t = totals.get(domain);
    return {
      domain,
      queued: d?.queued ?? 0,
      inflight: d?.inflight ?? 0,
      ratePerSecond: d === undefined ? null : finiteOrNull(d.ratePerSecond),
      concurrency: d === undefined ? null : finiteOrNull(d.concurrency),
      pausedUntil: d?.pausedUntil ?? 0,
      throttled: d?.throttled ?? false,
      sent: t?.sent ?? 0,
      failed: t?.failed ?? 0,
      deferred: t?.deferred ?? 0,
      expired: t?.expired ?? 0,
      suppressed: t?.suppressed ?? 0,
    };
  });
  return {
    at: now,
    title,
    transport: {
      name: mailer.transport.name,
      paused: snapshot.transportState.paused,
      throttled: snapshot.transportState.throttled,
      ratePerSecond: finiteOrNull(snapshot.transportState.ratePerSecond),
      down: snapshot.transportState.down ?? null,
    },
    lanes: snapshot.lanes,
    scheduled: stats.scheduled,
    inflight: stats.inflight,
    backlog: stats.backlog,
    totals: { ...stats.totals },
    domains,
    failures: metrics.recentFailures().slice(0, 20),
    campaigns: campaigns.list(),
  };
}
