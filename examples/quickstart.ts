/**
 * Quickstart: a password-reset service and a newsletter sharing one mailer.
 *
 * Starts a local SMTP sink (nothing leaves this machine) that misbehaves like real receivers:
 * some mailboxes answer "try again later" once, some do not exist, one domain throttles with
 * Gmail's 421 4.7.28. Then it queues a bulk batch across several recipient domains with
 * per-domain rate limits, sends critical password resets while the batch drains, shows
 * progress and prints a summary per domain. The queue lives in a SQLite file (in a temporary
 * folder), and the run ends with a restart: mail accepted by one mailer is delivered by the
 * next one on the same file.
 *
 *   npm start                                 # 3,000 bulk messages, about 10-15 s
 *   MAILPUSH_EXAMPLE_QUICK=1 npm start        # 300 bulk messages, a few seconds
 *
 * In your application, import from 'mailpush' and 'mailpush/testing' instead of ../src.
 *
 * @module
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_RETRY, DEFAULT_THROTTLE, createMailer, smtpTransport } from '../src/index.js';
import { sqliteStore } from '../src/stores/sqlite.js';
import type { DeliveryReport, DomainLimits, MessageInput, RetryOptions, ThrottleOptions } from '../src/index.js';
import { startSmtpSink } from '../src/testing/index.js';
import { createMetrics, prometheusExporter } from '../src/metrics/index.js';
import { createStatusHandler, toNodeHandler } from '../src/status/index.js';

const QUICK = process.env.MAILPUSH_EXAMPLE_QUICK === '1';
const BULK = QUICK ? 300 : 3000;
const RESETS = QUICK ? 6 : 12;
const RESET_INTERVAL_MS = QUICK ? 150 : 500;

// ---------------------------------------------------------------------------------------
// Output helpers: one updating line on a terminal, plain periodic lines otherwise.
// ---------------------------------------------------------------------------------------

const tty = process.stdout.isTTY === true;
const colour = tty && process.env.NO_COLOR === undefined;
const paint = (code: number) => (s: string): string => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint(1);
const dim = paint(2);
const red = paint(31);
const green = paint(32);
const yellow = paint(33);

let statusShown = false;
function print(line = ''): void {
  if (statusShown) process.stdout.write('\r\x1b[2K');
  statusShown = false;
  process.stdout.write(`${line}\n`);
}
function status(line: string): void {
  if (tty) {
    process.stdout.write(`\r\x1b[2K${line}`);
    statusShown = true;
  } else {
    print(line);
  }
}

const seconds = (ms: number): string => (ms >= 60_000 ? `${ms / 60_000} min` : `${ms / 1000} s`);
const started = performance.now();
const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s`;

// ---------------------------------------------------------------------------------------
// 1. A local SMTP server with scripted replies.
// ---------------------------------------------------------------------------------------

const sink = await startSmtpSink({
  parse: false, // count messages only; parsing 3,000 of them would slow the sink down
  disableStartTls: true, // its built-in certificate is self-signed; plain SMTP on loopback is fine here
  rules: [
    // Mailboxes that do not exist: refused for good at RCPT TO.
    { match: '@nosuch.test', reply: 'recipient-unknown' },
    // Gmail's "unusual rate" reply after the data, the first two times.
    { match: '@throttle.test', reply: 'throttle-gmail', stage: 'data', times: 2 },
  ],
});
// Every recipient at flaky.test is refused with "451 4.3.0 try again later" on its first attempt.
sink.addRule({ match: (rcpt) => rcpt.endsWith('@flaky.test') && sink.attempts(rcpt) === 1, reply: 'tempfail' });

// ---------------------------------------------------------------------------------------
// 2. The mailer.
// ---------------------------------------------------------------------------------------

const domainLimits: Record<string, DomainLimits> = {
  'big.test': { ratePerSecond: 100 }, // a large provider that takes a steady 100/s
  'small.test': { ratePerSecond: 20, burst: 1 }, // a small provider: 20/s, evenly spaced
  'throttle.test': { ratePerSecond: 100 }, // a provider that will say "slow down" anyway
};

// Server hints ("try again in 10 minutes") are capped too, or the demo would wait them out.
const DEMO_RETRY = { scheduleMs: [500, 1000], maxHintMs: 1000 } as const satisfies RetryOptions;
const DEMO_THROTTLE = { pauseMs: 1500, maxPauseMs: 1500 } as const satisfies ThrottleOptions;

// The durable store: send() resolves once the message is committed to this file, and a
// restarted process resumes what it holds. In production: a path on a persistent disk.
const dataDir = mkdtempSync(join(tmpdir(), 'mailpush-quickstart-'));
const dbPath = join(dataDir, 'mailpush.db');

// Metrics (mailpush/metrics): counters from the mailer's events, store calls timed.
const metrics = createMetrics();

const mailer = createMailer({
  transport: smtpTransport({ host: sink.host, port: sink.port, maxConnections: 5 }),
  store: metrics.instrumentStore(sqliteStore({ path: dbPath })),
  limits: { domains: domainLimits }, // other domains: unlimited (only the 5 connections bound them)
  // Demo timings, so the run ends in seconds. The production defaults are printed below.
  retry: DEMO_RETRY,
  throttle: DEMO_THROTTLE,
  // Marketing mail carries one-click unsubscribe headers and the sender's postal address
  // (mailpush/unsubscribe); without these two options it is refused.
  unsubscribe: { url: 'https://u.acme.test/unsubscribe', secrets: ['quickstart-demo-secret-change-me'] },
  postalAddress: 'Acme Inc., 1 Main Street, Springfield, USA',
});

// A live status page (mailpush/status) and a Prometheus endpoint on a local port.
metrics.observe(mailer);
const exporter = await prometheusExporter(metrics);
const statusPage = createStatusHandler({ mailer, metrics, title: 'mailpush quickstart' });
const web = createServer(toNodeHandler((request) => (new URL(request.url).pathname === '/metrics' ? exporter.handler(request) : statusPage(request))));
await new Promise<void>((resolve) => web.listen(Number(process.env.MAILPUSH_STATUS_PORT ?? 0), '127.0.0.1', resolve));
const statusUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}/`;

print(bold(`mailpush quickstart: ${BULK} bulk messages + ${RESETS} password resets to a local SMTP sink (${sink.url})`));
print(dim(`Queue store: ${dbPath} (SQLite)`));
print(`Live status page: ${statusUrl} (Prometheus metrics at ${statusUrl}metrics)`);
print(dim(`Demo timings: retries after ${DEMO_RETRY.scheduleMs.map(seconds).join(', ')}; a throttled domain pauses ${seconds(DEMO_THROTTLE.pauseMs)}.`));
print(
  dim(
    `Production defaults: retries after ${DEFAULT_RETRY.scheduleMs.map(seconds).join(', ')}; ` +
      `a throttled domain pauses ${seconds(DEFAULT_THROTTLE.pauseMs)} (or as long as the server asks, up to ${seconds(DEFAULT_THROTTLE.maxPauseMs)}).`,
  ),
);
print();

// ---------------------------------------------------------------------------------------
// 3. Watch the events: per-domain tallies and critical-lane latency.
// ---------------------------------------------------------------------------------------

interface Tally {
  sent: number;
  deferred: number;
  failed: number;
  /** SMTP transactions started (attempts), and when the first and the last one started. */
  attempts: number;
  firstAttemptAt: number | undefined;
  lastAttemptAt: number | undefined;
}
const tallies = new Map<string, Tally>();
const tally = (domain: string): Tally => {
  let t = tallies.get(domain);
  if (t === undefined) {
    t = { sent: 0, deferred: 0, failed: 0, attempts: 0, firstAttemptAt: undefined, lastAttemptAt: undefined };
    tallies.set(domain, t);
  }
  return t;
};

const resetStartedAt = new Map<string, number>(); // requestId -> performance.now() before send()
const criticalLatencyMs: number[] = [];

mailer.on('sending', (e) => {
  const t = tally(e.domain);
  t.attempts++;
  t.firstAttemptAt ??= performance.now();
  t.lastAttemptAt = performance.now();
});
mailer.on('sent', (e) => {
  tally(e.domain).sent += e.recipients.length;
  if (e.priority === 'critical') {
    const startedAt = resetStartedAt.get(String(e.metadata.requestId));
    if (startedAt !== undefined) criticalLatencyMs.push(performance.now() - startedAt);
  }
});
mailer.on('deferred', (e) => {
  tally(e.domain).deferred += e.recipients.length;
});
let firstFailure: string | undefined;
mailer.on('failed', (e) => {
  tally(e.domain).failed += e.recipients.length;
  firstFailure ??= `${e.error.code} ${e.error.responseCode} ${e.error.enhancedStatus}`;
});
mailer.on('throttled', (e) => {
  print(
    `${elapsed()}  ${yellow('throttled')} ${e.domain}: "${(e.error.response ?? e.error.message).slice(0, 48)}..." -> ` +
      `paused ${((e.pausedUntil - Date.now()) / 1000).toFixed(1)} s, then ${e.ratePerSecond.toFixed(1)}/s on ${e.concurrency} connection`,
  );
});

// The relay itself unreachable (DNS, refused, credentials) is said once, not per message;
// verify() connects, says EHLO (and would authenticate) before anything is queued.
mailer.on('transportDown', (e) => print(`${elapsed()}  ${red('transport down')} (${e.reason}): ${e.error.message}`));
const check = await mailer.verify();
if (!check.ok) throw check.error;
print(`${elapsed()}  transport ${check.transport} verified in ${check.durationMs} ms`);

function progress(): string {
  const s = mailer.stats();
  const ready = Object.values(s.queued).reduce((a, b) => a + b, 0);
  const throttled = Object.entries(s.domains)
    .filter(([, d]) => d.throttled || d.pausedUntil > 0)
    .map(([name]) => name);
  return (
    `${elapsed()}  sent ${String(s.totals.sent).padStart(5)}  deferred ${String(s.totals.deferred).padStart(3)}  ` +
    `failed ${String(s.totals.failed + s.totals.expired).padStart(3)}  queued ${String(ready + s.scheduled).padStart(5)}  ` +
    `in flight ${s.inflight}  throttled: ${throttled.length > 0 ? throttled.join(', ') : '-'}`
  );
}
let lastPlainLine = 0;
const ticker = setInterval(() => {
  if (tty) return status(progress());
  // Without a terminal, a line every 2 s (1 s in quick mode) keeps logs short.
  if (performance.now() - lastPlainLine >= (QUICK ? 1000 : 2000)) {
    lastPlainLine = performance.now();
    print(progress());
  }
}, 100);

// ---------------------------------------------------------------------------------------
// 4. The workload.
// ---------------------------------------------------------------------------------------

// Recipient domain of bulk message i: 40% big, 6% small, 30% mail, 14% throttle, 8% flaky, 2% nosuch.
function bulkDomain(i: number): string {
  const slot = i % 50;
  if (slot < 20) return 'big.test';
  if (slot < 23) return 'small.test';
  if (slot < 38) return 'mail.test';
  if (slot < 45) return 'throttle.test';
  if (slot < 49) return 'flaky.test';
  return 'nosuch.test';
}

const RESET_DOMAINS = ['big.test', 'small.test', 'mail.test'];

/** A password reset: critical priority, and the caller waits for the outcome. */
async function sendPasswordReset(n: number): Promise<DeliveryReport> {
  const requestId = `reset-${n}`;
  const to = `reset${n}@${RESET_DOMAINS[n % RESET_DOMAINS.length]}`;
  resetStartedAt.set(requestId, performance.now());
  const receipt = await mailer.send(
    {
      from: 'Acme Accounts <accounts@acme.test>',
      to,
      subject: 'Reset your password',
      text: `Someone asked to reset the password of ${to}. The link is valid for 15 minutes.`,
      metadata: { requestId },
    },
    { priority: 'critical' },
  );
  return receipt.done(); // resolves with the outcome of every recipient, never rejects
}

/** The newsletter's readers, read page by page as from a database; one address is broken. */
async function* readers(): AsyncGenerator<MessageInput> {
  for (let i = 0; i < BULK; i++) {
    if (i % 25 === 0) await new Promise((resolve) => setImmediate(resolve)); // the next page
    if (i === 7) yield { from: 'Acme News <news@acme.test>', to: 'reader7@@mail.test', subject: 'Acme Weekly', text: '...' };
    yield {
      from: 'Acme News <news@acme.test>',
      to: `reader${i}@${bulkDomain(i)}`,
      subject: `Acme Weekly #${i}`,
      text: 'This week at Acme: ...',
      category: 'marketing', // marketing mail goes to the 'bulk' lane by default
      tags: { campaign: 'weekly' },
    };
  }
}

// The resets arrive one by one while the campaign is queued and drains.
const resets = (async () => {
  const reports: Promise<DeliveryReport>[] = [];
  for (let n = 0; n < RESETS; n++) {
    await new Promise((resolve) => setTimeout(resolve, RESET_INTERVAL_MS));
    reports.push(sendPasswordReset(n));
  }
  return Promise.all(reports);
})();

// sendMany reads the source only as fast as the queue drains (bounded memory for any size)
// and skips invalid items instead of stopping.
const campaign = await mailer.sendMany(readers());
print(
  `${elapsed()}  campaign queued: ${campaign.queued} of ${campaign.read} read, ${campaign.invalid} invalid ` +
    `(${campaign.errors.map((e) => `item ${e.index}: ${e.error.code}`).join(', ')})`,
);
const resetReports = await resets;
await mailer.onIdle();
clearInterval(ticker);
print(progress());
print();

// ---------------------------------------------------------------------------------------
// 5. Summary.
// ---------------------------------------------------------------------------------------

// Achieved rate: attempts per second between the domain's first and last attempt, which is
// what the limits govern (retries count, and a connection set-up does not skew it).
const rows: string[][] = [['domain', 'sent', 'deferred', 'failed', 'achieved/s', 'limit/s']];
for (const [domain, t] of [...tallies].sort(([a], [b]) => a.localeCompare(b))) {
  const activeMs = t.firstAttemptAt !== undefined && t.lastAttemptAt !== undefined ? t.lastAttemptAt - t.firstAttemptAt : 0;
  const rate = t.attempts > 1 && activeMs > 0 ? ((t.attempts - 1) / (activeMs / 1000)).toFixed(1) : '-';
  const limit = domainLimits[domain]?.ratePerSecond;
  rows.push([domain, String(t.sent), String(t.deferred), String(t.failed), rate, limit === undefined ? 'unlimited' : String(limit)]);
}
const sum = (key: 'sent' | 'deferred' | 'failed'): number => [...tallies.values()].reduce((a, t) => a + t[key], 0);
rows.push(['total', String(sum('sent')), String(sum('deferred')), String(sum('failed')), '', '']);
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
print(bold('Summary per recipient domain'));
rows.forEach((row, i) => {
  const line = row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ');
  print(i === 0 || i === rows.length - 1 ? bold(line) : line);
});
print();

const sorted = [...criticalLatencyMs].sort((a, b) => a - b);
const pct = (p: number): string => `${(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN).toFixed(1)} ms`;
print(
  `${bold('Critical lane')} (password resets, send() to 'sent' event, ${sorted.length} messages): ` +
    `p50 ${pct(50)}, p99 ${pct(99)}, max ${pct(100)}, sent while the bulk batch drained.`,
);

// Every message reached a final state; only the unknown users at nosuch.test may have failed.
const expectedFailures = Math.floor(BULK / 50);
const failed = sum('failed');
const sent = sum('sent');
print(
  `All ${campaign.queued + RESETS} messages reached a final state: ${green(`${sent} sent`)}, ${failed} failed ` +
    `(${expectedFailures} unknown users at nosuch.test were scripted to fail: ${firstFailure ?? '-'}).`,
);
print(`The SMTP sink accepted ${sink.count} messages.`);

const problems: string[] = [];
if (failed !== expectedFailures || tally('nosuch.test').failed !== expectedFailures) problems.push(`expected ${expectedFailures} failures at nosuch.test, got ${failed} in all`);
if (sent + failed !== campaign.queued + RESETS) problems.push(`${campaign.queued + RESETS - sent - failed} messages did not reach a final state`);
if (sink.count !== sent) problems.push(`the sink accepted ${sink.count} messages but ${sent} were reported sent`);
if (resetReports.some((r) => r.status !== 'sent')) problems.push('a password reset was not delivered');
if (sorted.length !== RESETS) problems.push(`only ${sorted.length} of ${RESETS} password resets were reported sent`);

// The same figures, as Prometheus scrapes them.
const scraped = await (await fetch(`${statusUrl}metrics`)).text();
const scrapedTotal = (outcome: string): number =>
  scraped
    .split('\n')
    .filter((line) => line.startsWith(`mailpush_recipients_total{outcome="${outcome}"`))
    .reduce((a, line) => a + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
print(`GET ${statusUrl}metrics: mailpush_recipients_total ${scrapedTotal('sent')} sent, ${scrapedTotal('failed')} failed, ${scrapedTotal('deferred')} deferred`);
if (scrapedTotal('sent') !== sent || scrapedTotal('failed') !== failed) problems.push(`the metrics say ${scrapedTotal('sent')} sent and ${scrapedTotal('failed')} failed`);

const { pending } = await mailer.close();
if (pending !== 0) problems.push(`${pending} jobs were left in the store`);
print();

// ---------------------------------------------------------------------------------------
// 6. A restart: a mailer accepts mail and stops before sending it (a deploy, a crash); the
//    next one on the same file resumes it, with the same Message-IDs.
// ---------------------------------------------------------------------------------------

const RESTART = 20;
const beforeRestart = createMailer({ transport: smtpTransport({ host: sink.host, port: sink.port }), store: sqliteStore({ path: dbPath }) });
const sendAt = Date.now() + 1_000; // due in a second: the first mailer stops before that
const accepted = [];
for (let i = 0; i < RESTART; i++) {
  accepted.push(await beforeRestart.send({ from: 'Acme Billing <billing@acme.test>', to: `customer${i}@mail.test`, subject: `Invoice ${i}`, text: 'Your invoice is attached.' }, { sendAt }));
}
const stopped = await beforeRestart.close();
print(`${bold('Restart')}: the first mailer accepted ${RESTART} invoices and stopped with ${stopped.pending} of them queued in ${dbPath}.`);

const sinkBefore = sink.count;
const afterRestart = createMailer({ transport: smtpTransport({ host: sink.host, port: sink.port }), store: sqliteStore({ path: dbPath }) });
let recovered = 0;
afterRestart.on('recovered', () => recovered++);
await afterRestart.ready();
await afterRestart.onIdle();
const resumed = await Promise.all(accepted.map((r) => afterRestart.status(r.id)));
const delivered = resumed.filter((r) => r?.status === 'sent').length;
print(`The next mailer on the same file recovered ${recovered} and delivered ${delivered} of them (the sink got ${sink.count - sinkBefore}).`);
if (recovered !== RESTART || delivered !== RESTART || sink.count - sinkBefore !== RESTART) problems.push(`the restart delivered ${delivered} of ${RESTART} invoices (${recovered} recovered)`);
const left = await afterRestart.close();
await sink.close();
rmSync(dataDir, { recursive: true, force: true });
if (left.pending !== 0) problems.push(`${left.pending} jobs were left in the store after the restart`);

if (problems.length > 0) {
  for (const p of problems) print(red(`Problem: ${p}`));
  process.exitCode = 1;
} else {
  print(green(`Mailer closed cleanly (${left.pending} jobs left) after ${elapsed().trim()}.`));
}
if (tty && process.stdin.isTTY === true && !QUICK) {
  // At a terminal, the status page stays up with the first mailer's final figures until Enter.
  print(dim(`The status page stays at ${statusUrl}; press Enter to exit.`));
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.pause();
}
statusPage.close();
exporter.close();
web.closeAllConnections();
await new Promise((resolve) => web.close(resolve));
