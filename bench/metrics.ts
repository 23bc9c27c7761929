/**
 * The cost of observability on send throughput: the same mailer without and with the metrics
 * collector and its Prometheus exporter (scraped every 250 ms during the run, far more often
 * than a real Prometheus), and with everything on (metrics, the status page's campaign counts,
 * a logger at `info`). Rounds interleave the variants, in alternating order.
 *
 * Two transports: a no-op transport (the worst case: the mailer's own cost is all there is) and
 * SMTP to a sink in a child process (what a host sees). Judged: CPU per message over SMTP.
 *
 * Run: npx tsx bench/metrics.ts [--quick] [--rounds N]
 */

import { createMailer, memoryStore, smtpTransport } from '../src/index.js';
import type { MailerLogger, MessageInput, PreparedMessage, SendResult, Transport } from '../src/index.js';
import { createMetrics, prometheusExporter } from '../src/metrics/index.js';
import { createStatusHandler } from '../src/status/index.js';
import { fmt, header, nowMs, parseFlags, result, startSinkChild, summary, tick } from './common.js';

const flags = parseFlags(5);
const NOOP_COUNT = flags.quick ? 2_000 : 30_000;
const SMTP_COUNT = flags.quick ? 200 : 3_000;
const DOMAINS = 100;

type Variant = 'plain' | 'metrics' | 'everything';
const VARIANTS: readonly Variant[] = ['plain', 'metrics', 'everything'];

function makeMessage(i: number): MessageInput {
  return { from: 'App <app@example.com>', to: `user${i}@d${i % DOMAINS}.example`, subject: `Code ${i}`, text: 'Your sign-in code is 123456.', tags: { campaign: 'bench' } };
}

function noopTransport(): Transport {
  return {
    name: 'noop',
    capabilities: { rawMime: true },
    send: (prepared: PreparedMessage): Promise<SendResult> => Promise.resolve({ accepted: prepared.envelope.to, rejected: [] }),
  };
}

/** A pino-like logger at `info`: debug is off (and says so), the rest is formatted and dropped. */
function infoLogger(): MailerLogger {
  let bytes = 0;
  const write = (context: Record<string, unknown>, message: string): void => {
    bytes += message.length + Object.keys(context).length;
  };
  return { debug: write, info: write, warn: write, error: write, isLevelEnabled: (level) => level !== 'debug' || bytes < 0 };
}

interface Run {
  readonly rate: number;
  readonly cpuUs: number;
}

async function run(variant: Variant, transport: Transport, n: number, concurrency: number): Promise<Run> {
  const metrics = variant === 'plain' ? undefined : createMetrics();
  const mailer = createMailer({
    transport,
    limits: { concurrency },
    store: metrics === undefined ? memoryStore() : metrics.instrumentStore(memoryStore()),
    ...(variant === 'everything' ? { logger: infoLogger() } : {}),
  });
  let sent = 0;
  mailer.on('sent', () => {
    sent++;
  });
  let scrape: ReturnType<typeof setInterval> | undefined;
  let scrapes = 0;
  let closeAll = (): void => undefined;
  if (metrics !== undefined) {
    metrics.observe(mailer);
    const exporter = await prometheusExporter(metrics);
    const status = variant === 'everything' ? createStatusHandler({ mailer, metrics }) : undefined;
    scrape = setInterval(() => {
      void exporter.metrics().then(() => scrapes++);
      if (status !== undefined) void status(new Request('http://localhost/?format=json'));
    }, 250);
    closeAll = () => {
      clearInterval(scrape);
      exporter.close();
      status?.close();
    };
  }
  await mailer.ready();
  const cpu = process.cpuUsage();
  const start = nowMs();
  for (let i = 0; i < n; i++) await mailer.send(makeMessage(i));
  await mailer.onIdle();
  const end = nowMs();
  const used = process.cpuUsage(cpu);
  closeAll();
  await mailer.close();
  if (sent !== n) throw new Error(`${variant}: ${sent} sent events, expected ${n}`);
  if (metrics !== undefined && end - start > 600 && scrapes === 0) throw new Error(`${variant}: no scrape happened during the run`);
  return { rate: n / ((end - start) / 1000), cpuUs: (used.user + used.system) / n };
}

/**
 * Judged: CPU per message over SMTP (what a host pays), at most 5 % more with the exporter.
 * Wall-clock rates are printed but not judged: on a shared machine they move more between
 * rounds than the cost measured here. The no-op transport shows the absolute cost per message.
 */
async function series(label: string, makeTransport: () => Transport, n: number, concurrency: number, judged: boolean): Promise<void> {
  const runs: Record<Variant, Run[]> = { plain: [], metrics: [], everything: [] };
  if (!flags.quick) for (const v of VARIANTS) await run(v, makeTransport(), Math.min(n, 10_000), concurrency); // warm-up
  for (let r = 0; r < flags.rounds; r++) {
    const order = r % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    for (const v of order) {
      await tick();
      runs[v].push(await run(v, makeTransport(), n, concurrency));
    }
    console.log(`   ${label} round ${r + 1}: ${VARIANTS.map((v) => `${v} ${fmt(runs[v][r]!.rate)} msg/s, ${fmt(runs[v][r]!.cpuUs, 1)} µs CPU/msg`).join('; ')}`);
  }
  for (const v of ['metrics', 'everything'] as const) {
    const what = v === 'metrics' ? 'metrics + Prometheus exporter + timed store' : 'metrics + status page + info logger';
    const cpuRatios = runs[v].map((x, i) => x.cpuUs / runs.plain[i]!.cpuUs);
    const extra = runs[v].map((x, i) => x.cpuUs - runs.plain[i]!.cpuUs);
    result(`${label}: send rate with ${what} (msg/s)`, summary(runs.plain.map((x) => x.rate), 0), summary(runs[v].map((x) => x.rate), 0), summary(runs[v].map((x, i) => x.rate / runs.plain[i]!.rate), 3), 'none (informational)', undefined);
    const judge = judged && v === 'metrics';
    result(
      `${label}: CPU per message with ${what} (µs; extra ${summary(extra, 1)} µs)`,
      summary(runs.plain.map((x) => x.cpuUs), 1),
      summary(runs[v].map((x) => x.cpuUs), 1),
      summary(cpuRatios, 3),
      judge ? '<= 1.05' : 'none (informational)',
      judge ? [...cpuRatios].sort((a, b) => a - b)[cpuRatios.length >> 1]! <= 1.05 : undefined,
    );
  }
}

header('metrics', flags, `no-op transport: ${fmt(NOOP_COUNT)} messages over ${DOMAINS} domains, concurrency 50; SMTP to a sink process: ${fmt(SMTP_COUNT)} messages, 5 connections; variants interleaved`);
await series('no-op transport', noopTransport, NOOP_COUNT, 50, false);
const sink = await startSinkChild();
try {
  await series('SMTP sink', () => smtpTransport({ host: sink.host, port: sink.port, maxConnections: 5 }), SMTP_COUNT, 5, true);
} finally {
  await sink.close();
}
