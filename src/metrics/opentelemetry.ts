/**
 * The same figures as the Prometheus exporter, through the OpenTelemetry metrics API
 * (@opentelemetry/api, an optional peer dependency): observable counters and gauges read from
 * one snapshot per collection, and histograms recorded as latencies are observed. Any
 * MeterProvider (the OpenTelemetry SDK with an OTLP or Prometheus exporter) collects them.
 *
 * @module
 */

import type { Attributes, BatchObservableCallback, Histogram, Meter, MeterProvider, Observable } from '@opentelemetry/api';
import { configError } from '../errors.js';
import type { MailerMetrics } from './collector.js';
import { HISTOGRAMS, SNAPSHOT_METRICS } from './definitions.js';
import type { SnapshotMetric } from './definitions.js';
import { importOptional, interop } from '../deps/optional.js';

type OtelApi = typeof import('@opentelemetry/api');

/** Options of {@link openTelemetryMetrics}. */
export interface OpenTelemetryMetricsOptions {
  /** The meter to create the instruments on. @default meterProvider.getMeter('mailpush') */
  readonly meter?: Meter;
  /** Where the meter comes from when `meter` is not given. @default the global provider of @opentelemetry/api */
  readonly meterProvider?: MeterProvider;
  /** Prefix of every instrument name. @default 'mailpush.' */
  readonly prefix?: string;
  /** @opentelemetry/api itself, when it cannot be imported from here. @default import('@opentelemetry/api') */
  readonly lib?: OtelApi;
}

/** Instruments registered by {@link openTelemetryMetrics}. */
export interface OpenTelemetryMetrics {
  /** The meter in use. */
  readonly meter: Meter;
  /** Stops reporting (removes the batch callback and the latency observer). Idempotent. */
  close(): void;
}

const INSTRUMENT_PREFIX = /^[A-Za-z][A-Za-z0-9_.\-/]*$|^$/;

/**
 * Publishes a collector's figures as OpenTelemetry instruments. Needs @opentelemetry/api
 * only when neither `meter` nor `meterProvider` is given (then it uses the global provider);
 * rejects with MISSING_DEPENDENCY when it is needed and not installed.
 *
 * @example
 * ```ts
 * import { metrics as otel } from '@opentelemetry/api';
 * import { createMetrics, openTelemetryMetrics } from 'mailpush/metrics';
 *
 * const metrics = createMetrics();
 * metrics.observe(mailer);
 * await openTelemetryMetrics(metrics, { meter: otel.getMeter('my-service') });
 * ```
 */
export async function openTelemetryMetrics(metrics: MailerMetrics, options: OpenTelemetryMetricsOptions = {}): Promise<OpenTelemetryMetrics> {
  if (typeof metrics !== 'object' || metrics === null || typeof metrics.snapshot !== 'function') throw configError('metrics', 'a collector from createMetrics()', metrics);
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const prefix = options.prefix ?? 'mailpush.';
  if (typeof prefix !== 'string' || !INSTRUMENT_PREFIX.test(prefix)) throw configError('prefix', 'an instrument name prefix (a letter, then letters, digits, _ . - /)', prefix);
  let meter = options.meter;
  if (meter === undefined) {
    const provider = options.meterProvider ?? (options.lib ?? interop(await importOptional('The OpenTelemetry metrics (mailpush/metrics)', '@opentelemetry/api', () => import('@opentelemetry/api')))).metrics;
    if (typeof provider?.getMeter !== 'function') throw configError('meterProvider', 'a MeterProvider (getMeter)', provider);
    meter = provider.getMeter('mailpush');
  }
  if (typeof meter !== 'object' || meter === null || typeof meter.createObservableGauge !== 'function' || typeof meter.addBatchObservableCallback !== 'function') {
    throw configError('meter', 'an OpenTelemetry Meter', meter);
  }
  const m = meter;
  const observables: [SnapshotMetric, Observable<Attributes>][] = SNAPSHOT_METRICS.map((def) => {
    const opts = { description: def.help, ...(def.unit !== undefined ? { unit: def.unit } : {}) };
    return [def, def.kind === 'counter' ? m.createObservableCounter(prefix + def.otelName, opts) : m.createObservableGauge(prefix + def.otelName, opts)];
  });
  const callback: BatchObservableCallback<Attributes> = (result) => {
    const snapshot = metrics.snapshot();
    for (const [def, instrument] of observables) for (const v of def.read(snapshot)) result.observe(instrument, v.value, v.labels);
  };
  const instruments = observables.map(([, o]) => o);
  m.addBatchObservableCallback(callback, instruments);

  const histogram = (h: (typeof HISTOGRAMS)[keyof typeof HISTOGRAMS]): Histogram =>
    m.createHistogram(prefix + h.otelName, { description: h.help, unit: 's', advice: { explicitBucketBoundaries: [...h.buckets] } });
  const delivery = histogram(HISTOGRAMS.delivery);
  const attempt = histogram(HISTOGRAMS.attempt);
  const store = histogram(HISTOGRAMS.store);
  const removeObserver = metrics.addObserver({
    delivery: (seconds, priority) => delivery.record(seconds, { priority }),
    attempt: (seconds, outcome) => attempt.record(seconds, { outcome }),
    store: (seconds, op, ok) => store.record(seconds, { op, result: ok ? 'ok' : 'error' }),
  });

  let closed = false;
  return {
    meter: m,
    close() {
      if (closed) return;
      closed = true;
      removeObserver();
      m.removeBatchObservableCallback(callback, instruments);
    },
  };
}
