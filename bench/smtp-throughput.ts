/**
 * SMTP throughput to a sink in another process: mailpush (createMailer + smtpTransport, with
 * the queue, domain limits that do not bind and `sent`/`failed` listeners) against raw
 * nodemailer pooled `sendMail` with the same connection count and messages per connection.
 * 5,000 messages of ~2 KB (text and HTML), one recipient each, over 10 recipient domains.
 *
 * The sink (bench/sink-process.ts, parse: false, keeps nothing) runs in its own process for
 * the whole benchmark; each run opens a fresh connection pool. The order of the variants
 * rotates every round, after one warm-up of each, and the medians are reported. A third,
 * informational variant ("raw windowed") keeps at most as many sendMail calls outstanding as
 * mailpush keeps in flight.
 * Time runs from the first send to the last accepted message (connection setup included, on
 * both sides).
 *
 * Run: npx tsx bench/smtp-throughput.ts [--quick] [--rounds N] [--tls]
 *   --tls                      use STARTTLS (self-signed sink certificate) on both sides
 *   --connections N            pool size on both sides (default 5)
 *   --max-messages N|Infinity  messages per pooled connection on both sides (default 100)
 *   --mp-concurrency N         experiment: let mailpush keep N sends in flight by overriding
 *                              the transport's capabilities.maxConcurrency (default: as shipped)
 *   --sink postfix             Postfix's smtp-sink (/usr/sbin/smtp-sink; C, no 100 ms greeting
 *                              delay, so the client is CPU-bound) instead of our smtp-server sink
 *   --store sqlite             mailpush with sqliteStore (a fresh file per run, durability normal)
 */

import { createTransport } from 'nodemailer';
import type { SendMailOptions } from 'nodemailer';
import { createMailer } from '../src/mailer/index.js';
import smtpTransport from '../src/transports/smtp.js';
import type { MessageInput, Transport } from '../src/types.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteStore } from '../src/stores/sqlite.js';
import { countOutcomes, expectAllSent, fmt, header, median, nowMs, parseFlags, result, sleep, startPostfixSink, startSinkChild, summary } from './common.js';
import type { SinkChild } from './common.js';

const flags = parseFlags(5);
const argv = process.argv.slice(2);
const numberFlag = (name: string): number | undefined => {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`Expected ${name} to be an integer >= 1, got ${String(argv[i + 1])}`);
  return n;
};
const COUNT = flags.quick ? 300 : 5_000;
const CONNECTIONS = numberFlag('--connections') ?? 5;
const maxMessagesArg = argv.indexOf('--max-messages') >= 0 ? argv[argv.indexOf('--max-messages') + 1] : undefined;
// nodemailer's default and smtpTransport's default: each connection is replaced after 100
// messages, and smtp-server delays every greeting by 100 ms (early-talker detection).
const MAX_MESSAGES = maxMessagesArg === 'Infinity' ? Infinity : maxMessagesArg === undefined ? 100 : (numberFlag('--max-messages') as number);
const MP_CONCURRENCY = numberFlag('--mp-concurrency');
const TLS = argv.includes('--tls');
const textFlag = (name: string, allowed: readonly string[]): string | undefined => {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1] ?? '';
  if (!allowed.includes(v)) throw new Error(`Expected ${name} to be one of ${allowed.join(', ')}, got ${v}`);
  return v;
};
const POSTFIX = textFlag('--sink', ['ours', 'postfix']) === 'postfix';
const SQLITE = textFlag('--store', ['memory', 'sqlite']) === 'sqlite';
const storeDir = SQLITE ? mkdtempSync(join(tmpdir(), 'mailpush-bench-smtp-')) : '';
let storeSeq = 0;
/** Outstanding sendMail calls of the windowed raw baseline: as many as mailpush keeps in flight. */
const WINDOW = MP_CONCURRENCY ?? CONNECTIONS;
const DOMAINS = 10;

const paragraph = 'Hello, your order has shipped and is on its way. Track it any time from your account page. ';
const text = paragraph.repeat(Math.ceil(950 / paragraph.length)).slice(0, 950);
const html = `<html><body><p>${text.slice(0, 900)}</p></body></html>`;

const inputs: MessageInput[] = [];
const raws: SendMailOptions[] = [];
for (let i = 0; i < COUNT; i++) {
  const to = `customer${i}@shop${i % DOMAINS}.example`;
  const subject = `Your order #${100000 + i} has shipped`;
  inputs.push({ from: 'Shop <orders@shop.example.com>', to, subject, text, html });
  raws.push({ from: 'Shop <orders@shop.example.com>', to, subject, text, html });
}

const tlsOptions = TLS ? { tls: { rejectUnauthorized: false } } : { ignoreTLS: true };

interface Run {
  readonly perSecond: number;
  readonly bytesPerMessage: number;
  /** CPU time (user + system) of this process per message: less sensitive to other load than wall time. */
  readonly cpuUsPerMessage: number;
}

const sink: SinkChild = POSTFIX ? await startPostfixSink() : await startSinkChild();

async function withSink(fn: (sink: SinkChild) => Promise<number>): Promise<Run> {
  const before = await sink.count();
  const cpu = process.cpuUsage();
  const ms = await fn(sink);
  const used = process.cpuUsage(cpu);
  let after = await sink.count();
  // smtp-sink prints its counters as it goes: give the last line a moment.
  for (let i = 0; POSTFIX && i < 100 && after.count - before.count < COUNT; i++) {
    await sleep(20);
    after = await sink.count();
  }
  const count = after.count - before.count;
  if (count !== COUNT) throw new Error(`sink received ${count} messages, expected ${COUNT}`);
  return { perSecond: (COUNT / ms) * 1000, bytesPerMessage: (after.bytes - before.bytes) / count, cpuUsPerMessage: (used.user + used.system) / COUNT };
}

function runRaw(): Promise<Run> {
  return withSink(async (sink) => {
    const pool = createTransport({ pool: true, host: sink.host, port: sink.port, maxConnections: CONNECTIONS, maxMessages: MAX_MESSAGES, ...tlsOptions });
    const start = nowMs();
    await Promise.all(raws.map((m) => pool.sendMail(m)));
    const ms = nowMs() - start;
    pool.close();
    return ms;
  });
}

/**
 * Informational second baseline: raw nodemailer, but never more than WINDOW sendMail calls
 * outstanding (what mailpush's in-flight cap does), to separate the effect of handing
 * nodemailer all 5,000 messages at once from the cost of mailpush itself.
 */
function runRawWindowed(): Promise<Run> {
  return withSink(async (sink) => {
    const pool = createTransport({ pool: true, host: sink.host, port: sink.port, maxConnections: CONNECTIONS, maxMessages: MAX_MESSAGES, ...tlsOptions });
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < raws.length) await pool.sendMail(raws[next++]!);
    };
    const start = nowMs();
    await Promise.all(Array.from({ length: WINDOW }, worker));
    const ms = nowMs() - start;
    pool.close();
    return ms;
  });
}

function runMailpush(): Promise<Run> {
  return withSink(async (sink) => {
    const smtp = smtpTransport({ host: sink.host, port: sink.port, maxConnections: CONNECTIONS, maxMessages: MAX_MESSAGES, ...tlsOptions });
    const transport: Transport = MP_CONCURRENCY === undefined ? smtp : { ...smtp, capabilities: { ...smtp.capabilities, maxConcurrency: MP_CONCURRENCY } };
    const store = SQLITE ? sqliteStore({ path: join(storeDir, `store-${++storeSeq}.db`) }) : undefined;
    const mailer = createMailer({
      transport,
      ...(store === undefined ? {} : { store }),
      limits: {
        ...(MP_CONCURRENCY === undefined ? {} : { concurrency: MP_CONCURRENCY }),
        // Limits that exist but never bind: the scheduler still checks them for every job.
        domains: {
          'shop0.example': { ratePerSecond: 1_000_000, concurrency: 1_000 },
          'shop1.example': { ratePerSecond: 500_000 },
          'shop2.example': { concurrency: 500 },
        },
      },
    });
    const outcomes = countOutcomes(mailer);
    await mailer.ready();
    const start = nowMs();
    for (const m of inputs) await mailer.send(m);
    await mailer.onIdle();
    const ms = nowMs() - start;
    await mailer.close();
    expectAllSent(outcomes, COUNT, 'mailpush');
    return ms;
  });
}

header(
  'smtp-throughput',
  flags,
  `${fmt(COUNT)} messages (~2 KB, text+html, 1 recipient, ${DOMAINS} domains), ${CONNECTIONS} pooled connections, maxMessages ${MAX_MESSAGES}, ${TLS ? 'STARTTLS' : 'plain (ignoreTLS)'}, ${POSTFIX ? "Postfix's smtp-sink" : 'our sink in a child process'}, mailpush store: ${SQLITE ? 'sqlite (normal)' : 'memory'}` +
    (MP_CONCURRENCY === undefined ? '' : `, EXPERIMENT: mailpush in-flight cap ${MP_CONCURRENCY}`),
);

// Warm-up of every variant (JIT, module loading), not counted.
if (!flags.quick) {
  await runRaw();
  await runMailpush();
  await runRawWindowed();
}

const raw: Run[] = [];
const mp: Run[] = [];
const win: Run[] = [];
const variants: readonly (readonly [Run[], () => Promise<Run>])[] = [
  [raw, runRaw],
  [mp, runMailpush],
  [win, runRawWindowed],
];
for (let r = 0; r < flags.rounds; r++) {
  // Rotate the order every round so that no variant always runs first or last.
  for (let k = 0; k < variants.length; k++) {
    const [list, run] = variants[(r + k) % variants.length]!;
    list.push(await run());
  }
  console.log(
    `   round ${r + 1}: raw ${fmt(raw[r]!.perSecond)} msg/s, mailpush ${fmt(mp[r]!.perSecond)} msg/s (ratio ${(mp[r]!.perSecond / raw[r]!.perSecond).toFixed(3)}), raw windowed ${fmt(win[r]!.perSecond)} msg/s`,
  );
}
const ratios = mp.map((m, i) => m.perSecond / raw[i]!.perSecond);
result('throughput (msg/s) vs raw sendMail', summary(raw.map((x) => x.perSecond), 0), summary(mp.map((x) => x.perSecond), 0), summary(ratios, 3), '>= 1.0', median(ratios) >= 1);
result(
  `throughput (msg/s) vs raw sendMail windowed (${WINDOW} outstanding)`,
  summary(win.map((x) => x.perSecond), 0),
  summary(mp.map((x) => x.perSecond), 0),
  summary(mp.map((m, i) => m.perSecond / win[i]!.perSecond), 3),
  'none (informational)',
  undefined,
);
for (const [label, base] of [['raw sendMail', raw], ['raw windowed', win]] as const) {
  result(
    `client CPU per message (µs, user+system) vs ${label}`,
    summary(base.map((x) => x.cpuUsPerMessage), 0),
    summary(mp.map((x) => x.cpuUsPerMessage), 0),
    summary(mp.map((m, i) => m.cpuUsPerMessage / base[i]!.cpuUsPerMessage), 3),
    'none (informational)',
    undefined,
  );
}
if (!POSTFIX) console.log(`   bytes per message at the sink: raw ${fmt(median(raw.map((x) => x.bytesPerMessage)))}, mailpush ${fmt(median(mp.map((x) => x.bytesPerMessage)))}`);
await sink.close();
if (SQLITE) rmSync(storeDir, { recursive: true, force: true });
