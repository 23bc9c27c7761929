import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { MailErrorCode, createMailer, memoryStore, smtpTransport } from '../../src/index.js';
import type { Mailer } from '../../src/index.js';
import { createMetrics, prometheusExporter, toNodeHandler } from '../../src/metrics/index.js';
import type { PrometheusExporter } from '../../src/metrics/index.js';
import { importOptional } from '../../src/deps/optional.js';
import { startSmtpSink } from '../../src/testing/index.js';
import type { SmtpSink } from '../../src/testing/index.js';
import { parseExposition } from './prom-text.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function serve(exporter: PrometheusExporter): Promise<{ url: string; server: Server }> {
  const server = createServer(toNodeHandler((request) => exporter.handler(request)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, server };
}

async function scrape(url: string): Promise<ReturnType<typeof parseExposition>> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

const msg = (to: string, i = 0) => ({ from: 'App <app@sender.test>', to, subject: `Hello ${i}`, text: 'Hi there' });

async function setUp(topDomains = 1): Promise<{ sink: SmtpSink; mailer: Mailer; url: string; exporter: PrometheusExporter }> {
  const sink = await startSmtpSink({
    parse: false,
    disableStartTls: true,
    rules: [
      { match: '@nosuch.test', reply: 'recipient-unknown' },
      { match: '@throttle.test', reply: 'throttle-gmail', stage: 'data', times: 1 },
      { match: '@slow.test', stage: 'data', delayMs: 600 },
    ],
  });
  cleanup.push(() => sink.close());
  sink.addRule({ match: (rcpt) => rcpt.endsWith('@flaky.test') && sink.attempts(rcpt) === 1, reply: 'tempfail' });
  const metrics = createMetrics({ topDomains });
  const mailer = createMailer({
    transport: smtpTransport({ host: sink.host, port: sink.port, maxConnections: 3 }),
    store: metrics.instrumentStore(memoryStore()),
    retry: { scheduleMs: [50], maxHintMs: 100 },
    throttle: { pauseMs: 100, maxPauseMs: 100 },
  });
  cleanup.push(() => mailer.close());
  metrics.observe(mailer);
  const exporter = await prometheusExporter(metrics);
  cleanup.push(() => exporter.close());
  const { url } = await serve(exporter);
  return { sink, mailer, url, exporter };
}

describe('prometheusExporter over HTTP', () => {
  it('serves outcomes per domain (busiest named, the rest as other), errors by code, feedback, latencies and store timings', async () => {
    const { sink, mailer, url } = await setUp(1);
    // The first domain seen takes the one free label.
    for (let i = 0; i < 6; i++) await mailer.send(msg(`user${i}@busy.test`, i));
    await mailer.onIdle();
    const others = ['a@one.test', 'b@one.test', 'c@two.test', 'x@nosuch.test', 'y@nosuch.test', 'p@flaky.test', 'q@flaky.test', 't@throttle.test'];
    for (const [i, to] of others.entries()) await mailer.send(msg(to, i));
    await mailer.onIdle();
    await mailer.feedback.ingest([
      { type: 'delivered', recipient: 'user1@busy.test', provider: 'ses', timestamp: Date.now(), raw: {} },
      { type: 'complained', recipient: 'user2@busy.test', provider: 'ses', timestamp: Date.now(), raw: {} },
      { type: 'delivered', recipient: 'user3@busy.test', provider: 'ses', timestamp: Date.now(), raw: {} },
    ]);

    const m = await scrape(url);
    expect(sink.count).toBe(6 + 6);
    expect(m.types.get('mailpush_recipients_total')).toBe('counter');
    expect(m.types.get('mailpush_queued_jobs')).toBe('gauge');
    expect(m.types.get('mailpush_delivery_latency_seconds')).toBe('histogram');
    expect(m.value('mailpush_recipients_total', { outcome: 'sent', domain: 'busy.test' })).toBe(6);
    expect(m.value('mailpush_recipients_total', { outcome: 'sent', domain: 'other' })).toBe(6);
    expect(m.value('mailpush_recipients_total', { outcome: 'failed', domain: 'other' })).toBe(2);
    expect(m.value('mailpush_recipients_total', { outcome: 'deferred', domain: 'other' })).toBe(3);
    // Bounded: only the named domain and `other` appear as labels.
    const domains = new Set(m.find('mailpush_recipients_total').map((s) => s.labels.domain));
    expect([...domains].sort()).toEqual(['busy.test', 'other']);
    expect(m.value('mailpush_transport_errors_total', { code: MailErrorCode.PERMANENT, response_code: '550' })).toBe(2);
    expect(m.value('mailpush_transport_errors_total', { code: MailErrorCode.TRANSIENT, response_code: '451' })).toBe(2);
    expect(m.value('mailpush_transport_errors_total', { code: MailErrorCode.THROTTLED, response_code: '421' })).toBe(1);
    expect(m.value('mailpush_throttles_total', { scope: 'domain', domain: 'other' })).toBe(1);
    expect(m.value('mailpush_feedback_events_total', { type: 'delivered' })).toBe(2);
    expect(m.value('mailpush_feedback_events_total', { type: 'complained' })).toBe(1);
    expect(m.value('mailpush_delivery_latency_seconds_count', { priority: 'normal' })).toBe(12);
    expect(m.value('mailpush_send_duration_seconds_count', { outcome: 'sent' })).toBe(12);
    expect(m.value('mailpush_send_duration_seconds_count', { outcome: 'failed' })).toBe(2);
    expect(m.value('mailpush_send_duration_seconds_count', { outcome: 'deferred' })).toBe(3);
    expect(m.value('mailpush_store_duration_seconds_count', { op: 'queue.add', result: 'ok' })).toBe(14);
    expect(m.value('mailpush_store_duration_seconds_count', { op: 'suppression.find', result: 'ok' })).toBeGreaterThanOrEqual(14);
    const bucketsOk = m.find('mailpush_delivery_latency_seconds_bucket', { priority: 'normal', le: '+Inf' });
    expect(bucketsOk[0]?.value).toBe(12);
    // Idle: nothing queued or in flight, nothing paused.
    for (const lane of ['critical', 'high', 'normal', 'low', 'bulk']) expect(m.value('mailpush_queued_jobs', { lane })).toBe(0);
    expect(m.value('mailpush_inflight_jobs')).toBe(0);
    expect(m.value('mailpush_transport_paused', { transport: 'smtp' })).toBe(0);
    expect(m.value('mailpush_backlog')).toBe(0);
  });

  it('shows sends in flight and queued jobs while they happen, and zero after', async () => {
    const { mailer, url } = await setUp(5);
    for (let i = 0; i < 5; i++) await mailer.send(msg(`s${i}@slow.test`, i), { priority: 'low' });
    let seen: ReturnType<typeof parseExposition> | undefined;
    for (let i = 0; i < 50 && seen === undefined; i++) {
      const m = await scrape(url);
      if ((m.value('mailpush_inflight_jobs') ?? 0) >= 1 && (m.value('mailpush_queued_jobs', { lane: 'low' }) ?? 0) >= 1) seen = m;
      else await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen, 'a scrape saw sends in flight and jobs queued').toBeDefined();
    expect(seen!.value('mailpush_inflight_jobs')).toBe(3); // maxConnections: 3
    expect(seen!.value('mailpush_queued_jobs', { lane: 'low' })).toBe(2);
    expect(seen!.value('mailpush_domain_inflight_jobs', { domain: 'other' })).toBe(3);
    await mailer.onIdle();
    const after = await scrape(url);
    expect(after.value('mailpush_inflight_jobs')).toBe(0);
    expect(after.value('mailpush_recipients_total', { outcome: 'sent', domain: 'slow.test' })).toBe(5);
  });

  it('reports the transport down (transport_up 0) while the relay refuses connections', async () => {
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const metrics = createMetrics();
    const mailer = createMailer({ transport: smtpTransport({ host: '127.0.0.1', port }) });
    cleanup.push(() => mailer.close({ timeoutMs: 100 }));
    metrics.observe(mailer);
    const exporter = await prometheusExporter(metrics);
    cleanup.push(() => exporter.close());
    const { url } = await serve(exporter);
    expect((await scrape(url)).value('mailpush_transport_up', { transport: 'smtp' })).toBe(1);
    const down = new Promise((resolve) => mailer.once('transportDown', resolve));
    await mailer.send(msg('ann@ok.test'));
    await down;
    const m = await scrape(url);
    expect(m.value('mailpush_transport_up', { transport: 'smtp' })).toBe(0);
    expect(m.value('mailpush_recipients_total', { outcome: 'sent', domain: 'ok.test' })).toBeUndefined();
  });

  it('answers 405 to anything but GET or HEAD, and HEAD without a body', async () => {
    const { url } = await setUp();
    const post = await fetch(url, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('joins a given registry, refuses a name already taken there, and close() frees the names', async () => {
    const registry = new Registry();
    const metrics = createMetrics();
    const mailer = createMailer({ transport: smtpTransport({ host: '127.0.0.1', port: 9 }) });
    cleanup.push(() => mailer.close());
    metrics.observe(mailer);
    const first = await prometheusExporter(metrics, { registry });
    await expect(prometheusExporter(metrics, { registry })).rejects.toMatchObject({ code: MailErrorCode.CONFIG });
    const second = await prometheusExporter(metrics, { registry, prefix: 'second_' });
    const text = await registry.metrics();
    expect(text).toContain('mailpush_queued_jobs{lane="critical"} 0');
    expect(text).toContain('second_queued_jobs{lane="critical"} 0');
    first.close();
    first.close();
    second.close();
    expect(await registry.metrics()).toBe('\n');
    await expect(prometheusExporter(metrics, { prefix: 'bad prefix' })).rejects.toMatchObject({ code: MailErrorCode.CONFIG });
  });

  it('a missing optional package is a MISSING_DEPENDENCY error naming the install command', async () => {
    const pkg = 'mailpush-no-such-package';
    const err = await importOptional('The test', pkg, () => import(/* @vite-ignore */ pkg)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: MailErrorCode.MISSING_DEPENDENCY });
    expect((err as Error).message).toContain(`npm install ${pkg}`);
  });

  it('refuses bad collector options and a snapshot before observe()', () => {
    expect(() => createMetrics({ topDomains: -1 })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
    expect(() => createMetrics({ rerankMs: Number.NaN })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
    const metrics = createMetrics();
    expect(() => metrics.snapshot()).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
    expect(() => metrics.observe({} as Mailer)).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
  });
});
