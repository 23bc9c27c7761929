/**
 * The one list of exported figures: both exporters (Prometheus and OpenTelemetry) walk it, so
 * they publish the same figures under matching names.
 *
 * @module
 * @internal
 */

import type { LabelledValue, MetricsSnapshot } from './collector.js';

/** A counter or gauge read from a snapshot. */
export interface SnapshotMetric {
  /** Prometheus name without the prefix (`recipients_total`). */
  readonly name: string;
  /** OpenTelemetry name without the prefix (`recipients`). */
  readonly otelName: string;
  readonly help: string;
  readonly kind: 'counter' | 'gauge';
  readonly labels: readonly string[];
  readonly unit?: string;
  read(s: MetricsSnapshot): readonly LabelledValue[];
}

/** A histogram fed by observations. */
export interface HistogramMetric {
  readonly name: string;
  readonly otelName: string;
  readonly help: string;
  readonly labels: readonly string[];
  /** Upper bounds in seconds. */
  readonly buckets: readonly number[];
}

const one = (value: number): readonly LabelledValue[] => [{ labels: {}, value }];
/** Infinite values (no limit) are left out: "no series" reads as "unlimited". */
const finite = (values: LabelledValue[]): readonly LabelledValue[] => values.filter((v) => Number.isFinite(v.value));
const perDomain = (s: MetricsSnapshot, pick: (d: MetricsSnapshot['domains'][number]) => number | undefined): readonly LabelledValue[] =>
  finite(s.domains.flatMap((d) => {
    const v = pick(d);
    return v === undefined ? [] : [{ labels: { domain: d.domain }, value: v }];
  }));

/** Counters and gauges, in the order they are published. */
export const SNAPSHOT_METRICS: readonly SnapshotMetric[] = [
  { name: 'recipients_total', otelName: 'recipients', kind: 'counter', labels: ['outcome', 'domain'], help: 'Recipients by outcome (sent, failed, deferred, expired, suppressed) and recipient domain (the busiest domains, the rest as "other").', read: (s) => s.recipients },
  { name: 'throttles_total', otelName: 'throttles', kind: 'counter', labels: ['scope', 'domain'], help: 'Throttle responses that slowed a domain or the transport down (domain is the transport name for scope="transport").', read: (s) => s.throttles },
  { name: 'transport_errors_total', otelName: 'transport.errors', kind: 'counter', labels: ['code', 'response_code'], help: 'Failed attempts (deferred or permanently failed) by MailError code and SMTP/HTTP response code.', read: (s) => s.transportErrors },
  { name: 'feedback_events_total', otelName: 'feedback.events', kind: 'counter', labels: ['type'], help: 'Feedback events processed (delivered, bounced, complained, opened, ...) by type.', read: (s) => s.feedback },
  { name: 'queued_jobs', otelName: 'queue.jobs', kind: 'gauge', labels: ['lane'], help: 'Ready jobs per priority lane.', read: (s) => Object.entries(s.lanes).map(([lane, value]) => ({ labels: { lane }, value })) },
  { name: 'scheduled_jobs', otelName: 'queue.scheduled', kind: 'gauge', labels: [], help: 'Jobs waiting for their sendAt or retry time.', read: (s) => one(s.scheduled) },
  { name: 'inflight_jobs', otelName: 'inflight', kind: 'gauge', labels: [], help: 'Sends in flight.', read: (s) => one(s.inflight) },
  { name: 'backlog', otelName: 'backlog', kind: 'gauge', labels: [], help: '1 while accepted messages wait in the store to be read into memory.', read: (s) => one(s.backlog ? 1 : 0) },
  { name: 'domain_queued_jobs', otelName: 'domain.queued', kind: 'gauge', labels: ['domain'], help: 'Ready jobs per recipient domain.', read: (s) => perDomain(s, (d) => d.queued) },
  { name: 'domain_inflight_jobs', otelName: 'domain.inflight', kind: 'gauge', labels: ['domain'], help: 'Sends in flight per recipient domain.', read: (s) => perDomain(s, (d) => d.inflight) },
  { name: 'domain_rate_per_second', otelName: 'domain.rate', kind: 'gauge', labels: ['domain'], unit: '1/s', help: 'Send rate in force per recipient domain (lower than configured while throttled; absent when unlimited).', read: (s) => perDomain(s, (d) => d.ratePerSecond) },
  { name: 'domain_concurrency', otelName: 'domain.concurrency', kind: 'gauge', labels: ['domain'], help: 'Concurrency in force per recipient domain (absent when unlimited).', read: (s) => perDomain(s, (d) => d.concurrency) },
  { name: 'domain_paused', otelName: 'domain.paused', kind: 'gauge', labels: ['domain'], help: '1 while a domain is paused after a throttle response ("other": how many such domains).', read: (s) => perDomain(s, (d) => d.paused) },
  { name: 'domain_throttled', otelName: 'domain.throttled', kind: 'gauge', labels: ['domain'], help: '1 while a domain runs below its configured rate after a throttle response ("other": how many such domains).', read: (s) => perDomain(s, (d) => d.throttled) },
  { name: 'paused_domains', otelName: 'domains.paused', kind: 'gauge', labels: [], help: 'Recipient domains paused now.', read: (s) => one(s.pausedDomains) },
  { name: 'throttled_domains', otelName: 'domains.throttled', kind: 'gauge', labels: [], help: 'Recipient domains running below their configured rate now.', read: (s) => one(s.throttledDomains) },
  { name: 'transport_up', otelName: 'transport.up', kind: 'gauge', labels: ['transport'], help: '0 while the transport cannot connect or authenticate (after a transportDown event), else 1.', read: (s) => [{ labels: { transport: s.transport }, value: s.transportState.down === undefined ? 1 : 0 }] },
  { name: 'transport_paused', otelName: 'transport.paused', kind: 'gauge', labels: ['transport'], help: '1 while the transport is paused (an account-level throttle or pause).', read: (s) => [{ labels: { transport: s.transport }, value: s.transportState.paused ? 1 : 0 }] },
  { name: 'transport_throttled', otelName: 'transport.throttled', kind: 'gauge', labels: ['transport'], help: '1 while the transport runs below its configured rate.', read: (s) => [{ labels: { transport: s.transport }, value: s.transportState.throttled ? 1 : 0 }] },
  { name: 'transport_rate_per_second', otelName: 'transport.rate', kind: 'gauge', labels: ['transport'], unit: '1/s', help: 'Send rate in force for the transport (absent when unlimited).', read: (s) => finite([{ labels: { transport: s.transport }, value: s.transportState.ratePerSecond }]) },
];

/** Histograms, fed by the collector's observers. */
export const HISTOGRAMS = {
  delivery: {
    name: 'delivery_latency_seconds',
    otelName: 'delivery.latency',
    labels: ['priority'],
    help: 'Time from queueing (or sendAt) to acceptance by the transport, per priority lane, seconds.',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600],
  },
  attempt: {
    name: 'send_duration_seconds',
    otelName: 'send.duration',
    labels: ['outcome'],
    help: 'Duration of one transport attempt (from the sending event to its outcome), seconds.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  },
  store: {
    name: 'store_duration_seconds',
    otelName: 'store.duration',
    labels: ['op', 'result'],
    help: 'Duration of store calls (queue.add, queue.update, suppression.find, ...; result ok or error), seconds. Needs metrics.instrumentStore().',
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  },
} as const satisfies Record<string, HistogramMetric>;
