/**
 * The figures behind `mailpush/metrics` and `mailpush/status`, gathered from a mailer's events
 * and its `stats()` (never from the delivery path itself): counters per recipient domain with
 * bounded cardinality, errors by code, feedback by type, latencies pushed to the exporters,
 * and queue, throttle and pause gauges read from `stats()` when a snapshot is taken.
 *
 * No dependency: the Prometheus and OpenTelemetry exporters read a {@link MailerMetrics}.
 *
 * @module
 */

import { configError } from '../errors.js';
import type { MailError } from '../errors.js';
import type { DeferredEvent, FailedEvent } from '../events.js';
import type { FeedbackEventType } from '../feedback/event.js';
import type { Mailer, MailerStats } from '../mailer/options.js';
import type { DomainStats } from '../queue/scheduler.js';
import { PRIORITIES } from '../types.js';
import type { MailerStore, Priority, QueueStore } from '../types.js';
import { DomainRanking, OTHER_DOMAIN } from './ranking.js';
import type { DomainTotals, LabelledValue, RecipientOutcome } from './values.js';

export { OTHER_DOMAIN } from './ranking.js';
export { RECIPIENT_OUTCOMES } from './values.js';
export type { DomainTotals, LabelledValue, RecipientOutcome } from './values.js';

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /**
   * Recipient domains that get their own label; the others are counted as `other`. The
   * busiest domains (by recipients counted) win the labels, re-ranked every `rerankMs`.
   * @default 20
   */
  readonly topDomains?: number;
  /** How often the domain labels are re-ranked, ms. @default 60_000 */
  readonly rerankMs?: number;
  /** Failures kept for the status page, newest first. @default 50 */
  readonly recentFailures?: number;
  /** Current time, ms. @default Date.now */
  readonly now?: () => number;
}

/** Queue, throttle and pause state of one domain (or `other`, summed) in a {@link MetricsSnapshot}. */
export interface DomainGauge {
  readonly domain: string;
  readonly queued: number;
  readonly inflight: number;
  /** Rate in force, per second (Infinity when unlimited); absent for `other`. */
  readonly ratePerSecond?: number;
  /** Concurrency in force (Infinity when unlimited); absent for `other`. */
  readonly concurrency?: number;
  /** Paused domains (1 or 0 for a named domain, a count for `other`). */
  readonly paused: number;
  /** Throttled domains (1 or 0 for a named domain, a count for `other`). */
  readonly throttled: number;
}

/** A failure kept for the status page. Addresses are masked (`a***@example.com`). */
export interface RecentFailure {
  readonly at: number;
  readonly domain: string;
  /** `failed` or `deferred`. */
  readonly kind: 'failed' | 'deferred';
  readonly reason: string;
  readonly code: string;
  readonly responseCode?: number;
  /** The error message, cut to 300 characters, addresses in it masked. */
  readonly message: string;
  readonly recipients: readonly string[];
  readonly campaign?: string;
}

/** Every figure at one moment. Counters are cumulative since the collector started. */
export interface MetricsSnapshot {
  readonly at: number;
  /** Transport name. */
  readonly transport: string;
  /** Ready jobs per priority lane. */
  readonly lanes: Readonly<Record<Priority, number>>;
  readonly scheduled: number;
  readonly inflight: number;
  readonly backlog: boolean;
  /** Recipients by `outcome` and `domain` (the top domains and `other`). */
  readonly recipients: readonly LabelledValue[];
  /** Throttle events by `scope` and `domain`. */
  readonly throttles: readonly LabelledValue[];
  /** Errors of attempts (deferred and permanently failed), by `code` and `response_code`. */
  readonly transportErrors: readonly LabelledValue[];
  /** Feedback events by `type`. */
  readonly feedback: readonly LabelledValue[];
  /** Queue and throttle state per domain (the top domains and `other`). */
  readonly domains: readonly DomainGauge[];
  /** The transport's own gate (account rate, pause). */
  readonly transportState: {
    readonly paused: boolean;
    readonly throttled: boolean;
    readonly ratePerSecond: number;
    readonly concurrency: number;
    /** Why the transport is down (`transportDown` event: dns, connect, tls, auth), undefined while it is up. */
    readonly down: string | undefined;
  };
  /** Domains paused / throttled right now, all of them. */
  readonly pausedDomains: number;
  readonly throttledDomains: number;
}

/** Receives the figures that are observations, not totals (histograms). */
export interface MetricsObserver {
  /** A recipient set was accepted: seconds from queueing (or sendAt) to acceptance. */
  delivery?(seconds: number, priority: Priority): void;
  /** One transport attempt ended: seconds from `sending` to its outcome. */
  attempt?(seconds: number, outcome: 'sent' | 'deferred' | 'failed'): void;
  /** One store call ended (see {@link MailerMetrics.instrumentStore}). */
  store?(seconds: number, op: string, ok: boolean): void;
}

/** The collector: attach it to a mailer with `observe`, read it with `snapshot`. */
export interface MailerMetrics {
  /** Subscribes to a mailer's events; returns a function that unsubscribes. One mailer per collector. */
  observe(mailer: Mailer): () => void;
  /**
   * Wraps a store so its calls are timed (`store` observations): pass the result to
   * `createMailer({ store })`. Queue calls, `suppression.find` and `idempotency.claim` are timed.
   */
  instrumentStore<S extends MailerStore | QueueStore>(store: S): S;
  /** Every figure now. Throws a CONFIG MailError before `observe`. */
  snapshot(): MetricsSnapshot;
  /** Adds an observer of latencies; returns a function that removes it. */
  addObserver(observer: MetricsObserver): () => void;
  /** Counters of the busiest domains seen, busiest first, at most `limit`. */
  domainTotals(limit?: number): DomainTotals[];
  /** The latest failures and deferrals, newest first. */
  recentFailures(): readonly RecentFailure[];
  /** The mailer observed, if any. */
  readonly mailer: Mailer | undefined;
}

/**
 * Masks an address for display (the status page's recent failures).
 *
 * @example
 * ```ts
 * maskAddress('ann@example.com'); // 'a***@example.com'
 * ```
 */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${address[0]}***${address.slice(at)}`;
}

/** An address inside a server's answer. */
const ADDRESS_IN_TEXT = /[^\s<>()[\]"',;:@]+@[A-Za-z0-9.-]+/g;

const QUEUE_OPS = ['add', 'update', 'remove', 'recover', 'page', 'status', 'size'] as const;

/**
 * Creates a metrics collector. Give it to `prometheusExporter`, `openTelemetryMetrics` or
 * `createStatusHandler` after `observe(mailer)`.
 *
 * @example
 * ```ts
 * import { createMailer } from 'mailpush';
 * import { createMetrics, prometheusExporter } from 'mailpush/metrics';
 *
 * const metrics = createMetrics({ topDomains: 20 });
 * const mailer = createMailer({ transport, store: metrics.instrumentStore(sqliteStore({ path })) });
 * metrics.observe(mailer);
 * const exporter = await prometheusExporter(metrics);
 * ```
 */
export function createMetrics(options: MetricsOptions = {}): MailerMetrics {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const top = options.topDomains ?? 20;
  if (typeof top !== 'number' || !Number.isInteger(top) || top < 0 || top > 1000) throw configError('topDomains', 'an integer from 0 to 1000', top);
  const rerankMs = options.rerankMs ?? 60_000;
  if (typeof rerankMs !== 'number' || !Number.isFinite(rerankMs) || rerankMs < 0) throw configError('rerankMs', 'a finite number >= 0', rerankMs);
  const keep = options.recentFailures ?? 50;
  if (typeof keep !== 'number' || !Number.isInteger(keep) || keep < 0 || keep > 10_000) throw configError('recentFailures', 'an integer from 0 to 10000', keep);
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw configError('now', 'a function', now);
  return new Collector(top, rerankMs, keep, now);
}

class Collector implements MailerMetrics {
  mailer: Mailer | undefined;
  private readonly ranking: DomainRanking;
  private readonly throttles = new Map<string, number>();
  private readonly errors = new Map<string, number>();
  private readonly feedback = new Map<FeedbackEventType, number>();
  private readonly failures: RecentFailure[] = [];
  private readonly observers = new Set<MetricsObserver>();
  /** `sending` time per job id, for attempt durations (bounded by the sends in flight). */
  private readonly started = new Map<string, number>();
  private down: string | undefined;

  constructor(
    top: number,
    rerankMs: number,
    private readonly keep: number,
    private readonly now: () => number,
  ) {
    this.ranking = new DomainRanking(top, rerankMs, now);
  }

  observe(mailer: Mailer): () => void {
    if (typeof mailer !== 'object' || mailer === null || typeof mailer.on !== 'function' || typeof mailer.stats !== 'function') throw configError('mailer', 'a Mailer', mailer);
    if (this.mailer !== undefined) throw configError('mailer', 'a single mailer per collector (create one collector per mailer)', mailer);
    this.mailer = mailer;
    const offs = [
      mailer.on('sending', (e) => {
        if (this.observers.size > 0) this.started.set(e.jobId, performance.now());
      }),
      mailer.on('sent', (e) => {
        this.ranking.count(e.domain, 'sent', e.recipients.length);
        this.attemptEnded(e.jobId, 'sent');
        if (this.observers.size > 0) for (const o of this.observers) o.delivery?.(e.latencyMs / 1000, e.priority);
      }),
      mailer.on('deferred', (e) => {
        this.ranking.count(e.domain, 'deferred', e.recipients.length);
        this.attemptEnded(e.jobId, 'deferred');
        this.countError(e.error);
        this.remember('deferred', e.throttled ? 'throttled' : 'temporary', e);
      }),
      mailer.on('failed', (e) => {
        const outcome: RecipientOutcome = e.reason === 'expired' ? 'expired' : e.reason === 'suppressed' ? 'suppressed' : 'failed';
        this.ranking.count(e.domain, outcome, e.recipients.length);
        this.attemptEnded(e.jobId, 'failed');
        // Expiry repeats the last deferral's error; suppressed, aborted and invalid never reached the transport.
        if (e.reason === 'permanent') this.countError(e.error);
        if (e.reason !== 'suppressed' && e.reason !== 'aborted') this.remember('failed', e.reason, e);
      }),
      mailer.on('throttled', (e) => {
        const label = e.scope === 'transport' ? e.transport : this.ranking.label(e.domain);
        const key = `${e.scope}\u0000${label}`;
        this.throttles.set(key, (this.throttles.get(key) ?? 0) + 1);
      }),
      mailer.on('transportDown', (e) => {
        this.down = e.reason;
      }),
      mailer.on('transportUp', () => {
        this.down = undefined;
      }),
      mailer.on('feedback', (e) => {
        this.feedback.set(e.type, (this.feedback.get(e.type) ?? 0) + 1);
      }),
    ];
    return () => {
      for (const off of offs) off();
      this.mailer = undefined;
      this.started.clear();
    };
  }

  addObserver(observer: MetricsObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  private attemptEnded(jobId: string, outcome: 'sent' | 'deferred' | 'failed'): void {
    const t = this.started.get(jobId);
    if (t === undefined) return;
    this.started.delete(jobId);
    const seconds = (performance.now() - t) / 1000;
    for (const o of this.observers) o.attempt?.(seconds, outcome);
  }

  private countError(error: MailError): void {
    const key = `${error.code}\u0000${error.responseCode ?? ''}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  private remember(kind: 'failed' | 'deferred', reason: string, e: DeferredEvent | FailedEvent): void {
    if (this.keep === 0) return;
    const { error, recipients } = e;
    // The campaign id, where the event carries one (or the host put one in the metadata).
    const campaign = (e as { campaign?: unknown }).campaign ?? e.metadata.campaign;
    this.failures.unshift({
      at: this.now(),
      domain: e.domain,
      kind,
      reason,
      code: error.code,
      ...(error.responseCode !== undefined ? { responseCode: error.responseCode } : {}),
      // Server answers often quote the address ("550 5.1.1 <bob@example.com>: unknown"): masked too.
      message: error.message.slice(0, 300).replace(ADDRESS_IN_TEXT, (a) => maskAddress(a)),
      recipients: recipients.slice(0, 5).map(maskAddress),
      ...(typeof campaign === 'string' ? { campaign } : {}),
    });
    if (this.failures.length > this.keep) this.failures.length = this.keep;
  }

  recentFailures(): readonly RecentFailure[] {
    return this.failures;
  }

  domainTotals(limit = 50): DomainTotals[] {
    return this.ranking.totals(limit);
  }

  snapshot(): MetricsSnapshot {
    const mailer = this.mailer;
    if (mailer === undefined) throw configError('mailer', 'observed first: call metrics.observe(mailer)', undefined);
    const stats: MailerStats = mailer.stats();
    this.ranking.maybeRerank();
    const lanes = {} as Record<Priority, number>;
    for (const p of PRIORITIES) lanes[p] = stats.queued[p] ?? 0;
    const other = { queued: 0, inflight: 0, paused: 0, throttled: 0 };
    const domains: DomainGauge[] = [];
    let pausedDomains = 0;
    let throttledDomains = 0;
    for (const [domain, d] of Object.entries(stats.domains)) {
      const paused = d.pausedUntil > 0 ? 1 : 0;
      const throttled = d.throttled ? 1 : 0;
      pausedDomains += paused;
      throttledDomains += throttled;
      if (this.ranking.label(domain) === OTHER_DOMAIN) {
        other.queued += d.queued;
        other.inflight += d.inflight;
        other.paused += paused;
        other.throttled += throttled;
      } else {
        domains.push({ domain, queued: d.queued, inflight: d.inflight, ratePerSecond: d.ratePerSecond, concurrency: d.concurrency, paused, throttled });
      }
    }
    domains.push({ domain: OTHER_DOMAIN, ...other });
    const t: DomainStats | undefined = stats.transport;
    return {
      at: this.now(),
      transport: mailer.transport.name,
      lanes,
      scheduled: stats.scheduled,
      inflight: stats.inflight,
      backlog: stats.backlog,
      recipients: this.ranking.series(),
      throttles: [...this.throttles].map(([key, value]) => {
        const [scope, domain] = key.split('\u0000') as [string, string];
        return { labels: { scope, domain }, value };
      }),
      transportErrors: [...this.errors].map(([key, value]) => {
        const [code, responseCode] = key.split('\u0000') as [string, string];
        return { labels: { code, response_code: responseCode }, value };
      }),
      feedback: [...this.feedback].map(([type, value]) => ({ labels: { type }, value })),
      domains,
      transportState: {
        paused: t !== undefined && t.pausedUntil > 0,
        throttled: t?.throttled ?? false,
        ratePerSecond: t?.ratePerSecond ?? Infinity,
        concurrency: t?.concurrency ?? Infinity,
        down: this.down,
      },
      pausedDomains,
      throttledDomains,
    };
  }

  instrumentStore<S extends MailerStore | QueueStore>(store: S): S {
    if (typeof store !== 'object' || store === null) throw configError('store', 'a MailerStore or a QueueStore', store);
    if (!('queue' in store)) return this.timed(store as QueueStore, 'queue', QUEUE_OPS) as S;
    const s = store as MailerStore;
    const queue = this.timed(s.queue, 'queue', QUEUE_OPS);
    const suppression = this.timed(s.suppression, 'suppression', ['find']);
    const idempotency = this.timed(s.idempotency, 'idempotency', ['claim']);
    return new Proxy(s, {
      get(target, prop, receiver) {
        if (prop === 'queue') return queue;
        if (prop === 'suppression') return suppression;
        if (prop === 'idempotency') return idempotency;
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as S;
  }

  /** A proxy of `part` whose methods `ops` report their duration (sync or async) to the observers. */
  private timed<T extends object>(part: T, name: string, ops: readonly string[]): T {
    const observers = this.observers;
    const wrapped = new Map<PropertyKey, unknown>();
    const timedOps = new Set(ops);
    return new Proxy(part, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        if (typeof prop !== 'string' || !timedOps.has(prop)) return (v as (...a: unknown[]) => unknown).bind(target);
        let w = wrapped.get(prop);
        if (w === undefined || (w as { original?: unknown }).original !== v) {
          const op = `${name}.${prop}`;
          const report = (t0: number, ok: boolean): void => {
            const seconds = (performance.now() - t0) / 1000;
            for (const o of observers) o.store?.(seconds, op, ok);
          };
          const fn = (...args: unknown[]): unknown => {
            const t0 = performance.now();
            let r: unknown;
            try {
              r = (v as (...a: unknown[]) => unknown).apply(target, args);
            } catch (err) {
              report(t0, false);
              throw err;
            }
            if (r instanceof Promise) {
              r.then(
                () => report(t0, true),
                () => report(t0, false),
              );
            } else {
              report(t0, true);
            }
            return r;
          };
          w = Object.assign(fn, { original: v });
          wrapped.set(prop, w);
        }
        return w;
      },
    });
  }
}
