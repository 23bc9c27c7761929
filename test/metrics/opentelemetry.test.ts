/**
 * The OpenTelemetry path, collected by a minimal MeterProvider written against the
 * @opentelemetry/api interfaces (the SDK's sdk-metrics 2.x wants api < 1.10 and 3.x wants
 * Node >= 22.15, so none fits this repository's api 1.10 on Node 20).
 */
import { metrics as otel } from '@opentelemetry/api';
import type { Attributes, BatchObservableCallback, BatchObservableResult, Histogram, Meter, MeterProvider, MetricOptions, Observable, ObservableGauge } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { MailErrorCode, createMailer, memoryStore, smtpTransport } from '../../src/index.js';
import { createMetrics, openTelemetryMetrics } from '../../src/metrics/index.js';
import { startSmtpSink } from '../../src/testing/index.js';

interface Instrument {
  readonly name: string;
  readonly kind: 'observableCounter' | 'observableGauge' | 'histogram';
  readonly options: MetricOptions | undefined;
}

/** Records instruments, runs batch callbacks on collect(), keeps histogram records. */
class TestMeterProvider implements MeterProvider {
  readonly instruments = new Map<string, Instrument>();
  readonly callbacks = new Set<{ cb: BatchObservableCallback; on: Observable[] }>();
  readonly records: { name: string; value: number; attributes: Attributes }[] = [];
  readonly meterNames: string[] = [];

  getMeter(name: string): Meter {
    this.meterNames.push(name);
    const observable = (kind: Instrument['kind']) => (n: string, options?: MetricOptions): ObservableGauge => {
      const i = { name: n, kind, options };
      this.instruments.set(n, i);
      return Object.assign(Object.create(null) as object, { instrumentName: n, addCallback() {}, removeCallback() {} }) as unknown as ObservableGauge;
    };
    const meter = {
      createObservableCounter: observable('observableCounter'),
      createObservableGauge: observable('observableGauge'),
      createObservableUpDownCounter: observable('observableGauge'),
      createHistogram: (n: string, options?: MetricOptions): Histogram => {
        this.instruments.set(n, { name: n, kind: 'histogram', options });
        return { record: (value: number, attributes: Attributes = {}) => this.records.push({ name: n, value, attributes }) } as Histogram;
      },
      createCounter: () => {
        throw new Error('not used');
      },
      createUpDownCounter: () => {
        throw new Error('not used');
      },
      createGauge: () => {
        throw new Error('not used');
      },
      addBatchObservableCallback: (cb: BatchObservableCallback, on: Observable[]) => {
        this.callbacks.add({ cb, on });
      },
      removeBatchObservableCallback: (cb: BatchObservableCallback) => {
        for (const c of this.callbacks) if (c.cb === cb) this.callbacks.delete(c);
      },
    };
    return meter as unknown as Meter;
  }

  /** One collection: every observation by instrument name. */
  async collect(): Promise<Map<string, { value: number; attributes: Attributes }[]>> {
    const out = new Map<string, { value: number; attributes: Attributes }[]>();
    for (const { cb, on } of this.callbacks) {
      const result: BatchObservableResult = {
        observe: (instrument: Observable, value: number, attributes: Attributes = {}) => {
          expect(on).toContain(instrument);
          const name = (instrument as unknown as { instrumentName: string }).instrumentName;
          const list = out.get(name) ?? [];
          list.push({ value, attributes });
          out.set(name, list);
        },
      };
      await cb(result);
    }
    return out;
  }
}

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('openTelemetryMetrics', () => {
  it('reports the same figures as observable instruments and histograms, through the global provider of @opentelemetry/api', async () => {
    const sink = await startSmtpSink({ parse: false, disableStartTls: true, rules: [{ match: '@nosuch.test', reply: 'recipient-unknown' }] });
    cleanup.push(() => sink.close());
    const provider = new TestMeterProvider();
    expect(otel.setGlobalMeterProvider(provider)).toBe(true);
    cleanup.push(() => otel.disable());

    const metrics = createMetrics({ topDomains: 5 });
    const mailer = createMailer({ transport: smtpTransport({ host: sink.host, port: sink.port }), store: metrics.instrumentStore(memoryStore()) });
    cleanup.push(() => mailer.close());
    metrics.observe(mailer);
    const instruments = await openTelemetryMetrics(metrics);
    expect(provider.meterNames).toEqual(['mailpush']);

    for (let i = 0; i < 4; i++) await mailer.send({ from: 'a@sender.test', to: `u${i}@ok.test`, subject: 's', text: 't' });
    await mailer.send({ from: 'a@sender.test', to: 'x@nosuch.test', subject: 's', text: 't' });
    await mailer.onIdle();

    expect(provider.instruments.get('mailpush.recipients')?.kind).toBe('observableCounter');
    expect(provider.instruments.get('mailpush.queue.jobs')?.kind).toBe('observableGauge');
    expect(provider.instruments.get('mailpush.delivery.latency')).toMatchObject({ kind: 'histogram', options: { unit: 's', advice: { explicitBucketBoundaries: expect.any(Array) } } });
    const seen = await provider.collect();
    expect(seen.get('mailpush.recipients')).toEqual(
      expect.arrayContaining([
        { value: 4, attributes: { outcome: 'sent', domain: 'ok.test' } },
        { value: 1, attributes: { outcome: 'failed', domain: 'nosuch.test' } },
      ]),
    );
    expect(seen.get('mailpush.transport.errors')).toEqual([{ value: 1, attributes: { code: MailErrorCode.PERMANENT, response_code: '550' } }]);
    expect(seen.get('mailpush.queue.jobs')).toHaveLength(5);
    expect(seen.get('mailpush.inflight')).toEqual([{ value: 0, attributes: {} }]);
    expect(seen.get('mailpush.transport.up')).toEqual([{ value: 1, attributes: { transport: 'smtp' } }]);
    expect(provider.records.filter((r) => r.name === 'mailpush.delivery.latency')).toHaveLength(4);
    expect(provider.records.filter((r) => r.name === 'mailpush.send.duration' && r.attributes.outcome === 'failed')).toHaveLength(1);
    expect(provider.records.filter((r) => r.name === 'mailpush.store.duration' && r.attributes.op === 'queue.add')).toHaveLength(5);

    instruments.close();
    instruments.close();
    expect(provider.callbacks.size).toBe(0);
    await mailer.send({ from: 'a@sender.test', to: 'late@ok.test', subject: 's', text: 't' }).then((r) => r.done());
    expect(provider.records.filter((r) => r.name === 'mailpush.delivery.latency')).toHaveLength(4);
  });

  it('uses a given meter without importing the API, and refuses what is not a meter', async () => {
    const provider = new TestMeterProvider();
    const metrics = createMetrics();
    const mailer = createMailer({ transport: smtpTransport({ host: '127.0.0.1', port: 9 }) });
    cleanup.push(() => mailer.close());
    metrics.observe(mailer);
    const a = await openTelemetryMetrics(metrics, { meter: provider.getMeter('host'), prefix: 'mail.' });
    expect([...provider.instruments.keys()]).toContain('mail.recipients');
    a.close();
    const b = await openTelemetryMetrics(metrics, { meterProvider: provider });
    expect(provider.meterNames).toEqual(['host', 'mailpush']);
    b.close();
    await expect(openTelemetryMetrics(metrics, { meter: {} as Meter })).rejects.toMatchObject({ code: MailErrorCode.CONFIG });
    await expect(openTelemetryMetrics(metrics, { prefix: '1bad' })).rejects.toMatchObject({ code: MailErrorCode.CONFIG });
    await expect(openTelemetryMetrics({} as never)).rejects.toMatchObject({ code: MailErrorCode.CONFIG });
  });
});
