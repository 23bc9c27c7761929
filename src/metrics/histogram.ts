/**
 * A histogram kept as plain counters (one array of bucket counts per label set), cheap enough
 * to observe on every send; the Prometheus exporter publishes it through a custom metric of
 * prom-client's registry (prom-client's own Histogram hashes the labels on every observe).
 *
 * @module
 * @internal
 */

interface Series {
  readonly labels: Readonly<Record<string, string>>;
  /** counts[i]: observations <= bounds[i] and > bounds[i - 1]; the last slot is above every bound. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/** One value of a prom-client metric, as `registry.metrics()` formats it. */
export interface PromValue {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

/** @internal */
export class HistogramData {
  private readonly series = new Map<string, Series>();

  constructor(
    readonly labelNames: readonly [string] | readonly [string, string],
    readonly bounds: readonly number[],
  ) {}

  /** Records `value` for the label values `a` (and `b` with two label names). */
  observe(value: number, a: string, b?: string): void {
    const key = b === undefined ? a : `${a}\u0000${b}`;
    let s = this.series.get(key);
    if (s === undefined) {
      const labels: Record<string, string> = { [this.labelNames[0]]: a };
      if (this.labelNames[1] !== undefined) labels[this.labelNames[1]] = b ?? '';
      s = { labels, counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    let i = 0;
    const bounds = this.bounds;
    while (i < bounds.length && value > bounds[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** The `_bucket` (cumulative, `le` labels), `_sum` and `_count` values of every label set. */
  values(name: string): PromValue[] {
    const out: PromValue[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i]!;
        out.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le }, value: cumulative });
      });
      out.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
      out.push({ metricName: `${name}_sum`, labels: s.labels, value: s.sum });
      out.push({ metricName: `${name}_count`, labels: s.labels, value: s.count });
    }
    return out;
  }
}
