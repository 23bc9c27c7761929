/**
 * `mailpush/metrics`: a mailer's figures for Prometheus (prom-client) and OpenTelemetry
 * (@opentelemetry/api), both optional peer dependencies loaded only by their exporter.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createMetrics, prometheusExporter, toNodeHandler } from 'mailpush/metrics';
 *
 * const metrics = createMetrics({ topDomains: 20 });
 * metrics.observe(mailer);
 * const exporter = await prometheusExporter(metrics);
 * createServer(toNodeHandler(exporter.handler)).listen(9464, '127.0.0.1');
 * ```
 *
 * @module
 */

export { createMetrics, maskAddress, OTHER_DOMAIN, RECIPIENT_OUTCOMES } from './collector.js';
export type {
  DomainGauge,
  DomainTotals,
  LabelledValue,
  MailerMetrics,
  MetricsObserver,
  MetricsOptions,
  MetricsSnapshot,
  RecentFailure,
  RecipientOutcome,
} from './collector.js';
export { prometheusExporter } from './prometheus.js';
export type { PrometheusExporter, PrometheusExporterOptions } from './prometheus.js';
export { openTelemetryMetrics } from './opentelemetry.js';
export type { OpenTelemetryMetrics, OpenTelemetryMetricsOptions } from './opentelemetry.js';
export { toNodeHandler } from '../http/node.js';
export type { NodeHandlerOptions, NodeRequest } from '../http/node.js';
