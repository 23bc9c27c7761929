/**
 * The Prometheus exporter: the collector's figures as prom-client metrics (an optional peer
 * dependency, loaded when the exporter is created), and a Fetch API handler that answers a
 * scrape in the text format.
 *
 * @module
 */

import { MailError, MailErrorCode, configError } from '../errors.js';
import type { MailerMetrics, MetricsSnapshot } from './collector.js';
import { HISTOGRAMS, SNAPSHOT_METRICS } from './definitions.js';
import { HistogramData } from './histogram.js';
import { importOptional, interop } from '../deps/optional.js';

type PromClient = typeof import('prom-client');
type Registry = import('prom-client').Registry;

/** Options of {@link prometheusExporter}. */
export interface PrometheusExporterOptions {
  /**
   * Registry the metrics join, e.g. prom-client's global `register` to publish them with your
   * own metrics. @default a new Registry of their own
   */
  readonly registry?: Registry;
  /** Prefix of every metric name. @default 'mailpush_' */
  readonly prefix?: string;
  /** prom-client itself, when it cannot be imported from here (bundlers, a second copy). @default import('prom-client') */
  readonly lib?: PromClient;
}

/** A running exporter. */
export interface PrometheusExporter {
  /** The registry holding the metrics. */
  readonly registry: Registry;
  /** Content-Type of the text format. */
  readonly contentType: string;
  /** The metrics in the Prometheus text format (every metric of the registry). */
  metrics(): Promise<string>;
  /**
   * Fetch API handler for a scrape endpoint: GET or HEAD answers the text format, anything
   * else 405. Mount it on `/metrics`; with node:http use `toNodeHandler(exporter.handler)`.
   */
  handler(request: Request): Promise<Response>;
  /** Removes the metrics from the registry and stops observing. Idempotent. */
  close(): void;
}

const NAME_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/;

/**
 * Publishes a collector's figures through prom-client. Rejects with MISSING_DEPENDENCY when
 * prom-client is not installed, and with CONFIG when a metric name is already taken in the
 * registry (a second exporter on the same registry needs another `prefix`).
 *
 * Every scrape reads `mailer.stats()` once (a snapshot shared by the metrics of one scrape).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createMetrics, prometheusExporter, toNodeHandler } from 'mailpush/metrics';
 *
 * const metrics = createMetrics();
 * metrics.observe(mailer);
 * const exporter = await prometheusExporter(metrics);
 * createServer(toNodeHandler(exporter.handler)).listen(9464, '127.0.0.1'); // GET /metrics
 * ```
 */
export async function prometheusExporter(metrics: MailerMetrics, options: PrometheusExporterOptions = {}): Promise<PrometheusExporter> {
  if (typeof metrics !== 'object' || metrics === null || typeof metrics.snapshot !== 'function') throw configError('metrics', 'a collector from createMetrics()', metrics);
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const prefix = options.prefix ?? 'mailpush_';
  if (typeof prefix !== 'string' || !NAME_PREFIX.test(prefix)) throw configError('prefix', 'a Prometheus name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)', prefix);
  const prom: PromClient = options.lib ?? interop(await importOptional('The Prometheus exporter (mailpush/metrics)', 'prom-client', () => import('prom-client')));
  if (typeof prom.Registry !== 'function' || typeof prom.Counter !== 'function') throw configError('lib', 'the prom-client module', prom);
  const registry = options.registry ?? new prom.Registry();

  let cached: { at: number; snapshot: MetricsSnapshot } | undefined;
  const snapshot = (): MetricsSnapshot => {
    const t = performance.now();
    if (cached === undefined || t - cached.at > 20) cached = { at: t, snapshot: metrics.snapshot() };
    return cached.snapshot;
  };

  const names: string[] = [];
  try {
    for (const def of SNAPSHOT_METRICS) {
      const name = prefix + def.name;
      const config = {
        name,
        help: def.help,
        labelNames: [...def.labels],
        registers: [registry],
      };
      if (def.kind === 'counter') {
        new prom.Counter({
          ...config,
          collect(this: import('prom-client').Counter) {
            this.reset();
            for (const v of def.read(snapshot())) this.inc(v.labels, v.value);
          },
        });
      } else {
        new prom.Gauge({
          ...config,
          collect(this: import('prom-client').Gauge) {
            this.reset();
            for (const v of def.read(snapshot())) this.set(v.labels, v.value);
          },
        });
      }
      names.push(name);
    }
  } catch (err) {
    for (const n of names) registry.removeSingleMetric(n);
    throw configError('prefix', `metric names free in the registry (${(err as Error).message}); use another prefix or registry`, prefix);
  }
  const histogram = (h: (typeof HISTOGRAMS)[keyof typeof HISTOGRAMS]): HistogramData => {
    const name = prefix + h.name;
    const data = new HistogramData(h.labels as unknown as readonly [string] | readonly [string, string], h.buckets);
    // A custom metric of the registry: prom-client formats what get() returns.
    const metric = {
      name,
      help: h.help,
      type: 'histogram',
      aggregator: 'sum',
      get: () => Promise.resolve({ name, help: h.help, type: 'histogram', aggregator: 'sum', values: data.values(name) }),
      reset: () => undefined,
    };
    try {
      registry.registerMetric(metric as unknown as import('prom-client').Metric);
      names.push(name);
      return data;
    } catch (err) {
      for (const n of names) registry.removeSingleMetric(n);
      throw configError('prefix', `metric names free in the registry (${(err as Error).message}); use another prefix or registry`, prefix);
    }
  };
  const delivery = histogram(HISTOGRAMS.delivery);
  const attempt = histogram(HISTOGRAMS.attempt);
  const store = histogram(HISTOGRAMS.store);
  const removeObserver = metrics.addObserver({
    delivery: (seconds, priority) => delivery.observe(seconds, priority),
    attempt: (seconds, outcome) => attempt.observe(seconds, outcome),
    store: (seconds, op, ok) => store.observe(seconds, op, ok ? 'ok' : 'error'),
  });

  let closed = false;
  const exporter: PrometheusExporter = {
    registry,
    contentType: registry.contentType,
    metrics: () => {
      cached = undefined; // one fresh snapshot per scrape
      return registry.metrics();
    },
    async handler(request: Request): Promise<Response> {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return new Response('Use GET\n', { status: 405, headers: { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' } });
      }
      try {
        cached = undefined;
        const body = await registry.metrics();
        return new Response(request.method === 'HEAD' ? null : body, { status: 200, headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' } });
      } catch (err) {
        const error = err instanceof MailError ? err : new MailError(`Collecting metrics failed: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.INTERNAL, cause: err });
        return new Response(`# ${error.code}: ${error.message.replace(/\s+/g, ' ')}\n`, { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
      }
    },
    close() {
      if (closed) return;
      closed = true;
      removeObserver();
      for (const n of names) registry.removeSingleMetric(n);
    },
  };
  return exporter;
}
