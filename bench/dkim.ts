/**
 * DKIM-signed SMTP throughput against nodemailer's own DKIM signing, to SMTP sinks in other
 * processes (Postfix's smtp-sink when installed, and our smtp-server sink).
 *
 * - mailpush: `createMailer({ transport: smtpTransport(...), dkim })`, RSA 2048, one
 *   `await send()` after the other, then `onIdle()`
 * - nodemailer PEM: raw nodemailer pooled `sendMail` with its `dkim` option and the key as a
 *   PEM string (the baseline of the 2x goal of issue 11: it parses the PEM and signs on the
 *   main thread for every message)
 * - nodemailer KeyObject: the same with a pre-parsed KeyObject (an honest second baseline:
 *   what a nodemailer user who knows the trick gets)
 * - informational: raw nodemailer unsigned, mailpush unsigned, mailpush dual (RSA + Ed25519),
 *   mailpush with `workers: 0` (body hash on the event loop, key operation on libuv's pool),
 *   mailpush with `workerMinBytes: 0` (every message hashed and signed on a worker thread)
 * - informational, signing only (no SMTP, no composing): mailpush `signatureHeaders` against
 *   nodemailer's `DKIM#sign` with the PEM key, on the same composed message, 5 at a time
 * - informational, signing only by body size (not with --quick): main-thread and total CPU
 *   per signature on the event loop (`workers: 0`) and on worker threads (`workerMinBytes: 0`),
 *   the measurement behind the 64 KiB default of `workerMinBytes` (main-thread CPU is exact
 *   on Node >= 23.9, `process.threadCpuUsage`; on Node 20 it comes from /proc in 10 ms ticks)
 *
 * Every run reports msg/s, the client process's CPU per message (user+system, signing
 * threads and workers included), the CPU of the main thread alone (from
 * `process.threadCpuUsage` or /proc; the event loop's share) and event-loop health: ticks of a
 * 10 ms `setInterval` kept during the run (ticks / (run ms / 10)) and the longest gap between
 * two ticks. Runs rotate their order every round after one warm-up of each; medians (min-max)
 * are reported. `--size N` adds an attachment of N bytes to every message (the worker pool
 * takes bodies of 64 KiB and more).
 *
 * Run: npx tsx bench/dkim.ts [--quick] [--rounds N] [--count N] [--sink postfix|ours|both]
 *      [--only mailpush,nodemailerPem,...] [--size N]
 */

import { existsSync, readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { loadavg } from 'node:os';
import { createTransport } from 'nodemailer';
import NodemailerDkim from 'nodemailer/lib/dkim';
import type { SendMailOptions } from 'nodemailer';
import { createDkimSigner } from '../src/auth/dkim.js';
import type { DkimOptions, DkimSigner } from '../src/auth/dkim.js';
import { createMailer } from '../src/mailer/index.js';
import { composeMessage } from '../src/message/compose.js';
import { normalizeMessage } from '../src/message/normalize.js';
import smtpTransport from '../src/transports/smtp.js';
import type { MessageInput } from '../src/types.js';
import { SMTP_SINK, countOutcomes, expectAllSent, fmt, header, median, nowMs, parseFlags, result, startPostfixSink, startSinkChild, summary } from './common.js';
import type { SinkChild } from './common.js';

const flags = parseFlags(5);
const argv = process.argv.slice(2);
function flag(name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}
const COUNT = Number(flag('--count') ?? (flags.quick ? 50 : 3_000));
if (!Number.isInteger(COUNT) || COUNT < 1) throw new Error(`Expected --count to be an integer >= 1, got ${String(flag('--count'))}`);
const CONNECTIONS = 5;
const MAX_MESSAGES = 100;
const DOMAINS = 10;
const FROM_DOMAIN = 'shop.example.com';
const hasPostfix = existsSync(SMTP_SINK);
const sinkFlag = flag('--sink') ?? (flags.quick ? 'postfix' : 'both');
if (!['postfix', 'ours', 'both'].includes(sinkFlag)) throw new Error(`Expected --sink to be postfix, ours or both, got ${sinkFlag}`);
const sinkNames: ('postfix' | 'ours')[] = [];
if (sinkFlag !== 'ours' && hasPostfix) sinkNames.push('postfix');
if (sinkFlag !== 'postfix' || !hasPostfix) sinkNames.push('ours');
if (sinkFlag !== 'ours' && !hasPostfix) console.log(`   note: ${SMTP_SINK} not found (Debian package postfix), using our sink only`);

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const ed = generateKeyPairSync('ed25519').privateKey;
const rsaPem = rsa.export({ type: 'pkcs8', format: 'pem' }) as string;
const rsaDkim: DkimOptions = { keys: [{ domain: FROM_DOMAIN, selector: 'rsa1', privateKey: rsaPem }] };
const rsaInThread: DkimOptions = { ...rsaDkim, workers: 0 };
const rsaAllOnWorkers: DkimOptions = { ...rsaDkim, workerMinBytes: 0 };
const dualDkim: DkimOptions = {
  keys: [
    { domain: FROM_DOMAIN, selector: 'rsa1', privateKey: rsaPem },
    { domain: FROM_DOMAIN, selector: 'ed1', privateKey: ed },
  ],
};

const paragraph = 'Hello, your order has shipped and is on its way. Track it any time from your account page. ';
const text = paragraph.repeat(Math.ceil(950 / paragraph.length)).slice(0, 950);
const html = `<html><body><p>${text.slice(0, 900)}</p></body></html>`;
const SIZE = Number(flag('--size') ?? 0);
if (!Number.isInteger(SIZE) || SIZE < 0) throw new Error(`Expected --size to be an integer >= 0, got ${String(flag('--size'))}`);
// Incompressible bytes, like a PDF or an image.
const attachment = Buffer.alloc(SIZE);
for (let i = 0, x = 12345; i < SIZE; i++) {
  x = (x * 1103515245 + 12345) % 2 ** 31;
  attachment[i] = x >>> 23;
}
const attachments = SIZE === 0 ? undefined : [{ filename: 'invoice.pdf', content: attachment, contentType: 'application/pdf' }];
const inputs: MessageInput[] = [];
const raws: SendMailOptions[] = [];
for (let i = 0; i < COUNT; i++) {
  const to = `customer${i}@shop${i % DOMAINS}.example`;
  const subject = `Your order #${100000 + i} has shipped`;
  inputs.push({ from: `Shop <orders@${FROM_DOMAIN}>`, to, subject, text, html, ...(attachments === undefined ? {} : { attachments }) });
  raws.push({ from: `Shop <orders@${FROM_DOMAIN}>`, to, subject, text, html, ...(attachments === undefined ? {} : { attachments }) });
}

/** CPU time of the main thread (the event loop) in microseconds, or NaN where unknown. */
function mainThreadCpuUs(): number {
  const threadCpuUsage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage;
  if (threadCpuUsage !== undefined) {
    const u = threadCpuUsage();
    return u.user + u.system;
  }
  try {
    // Fields 14 and 15 of /proc/<pid>/task/<tid>/stat: utime and stime in clock ticks (1/100 s).
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return NaN;
  }
}

interface Run {
  readonly perSecond: number;
  readonly cpuUsPerMessage: number;
  /** CPU of the main thread per message. */
  readonly mainCpuUsPerMessage: number;
  /** Share of the 10 ms interval's ticks that fired during the run. */
  readonly ticksKept: number;
  readonly longestGapMs: number;
}

async function measure(sink: SinkChild, fn: (sink: SinkChild) => Promise<void>): Promise<Run> {
  const before = await sink.count();
  let ticks = 0;
  let last = nowMs();
  let longestGapMs = 0;
  const timer = setInterval(() => {
    const now = nowMs();
    longestGapMs = Math.max(longestGapMs, now - last);
    last = now;
    ticks++;
  }, 10);
  const cpu = process.cpuUsage();
  const mainCpu = mainThreadCpuUs();
  const start = nowMs();
  last = start;
  await fn(sink);
  const ms = nowMs() - start;
  const used = process.cpuUsage(cpu);
  const mainUsed = mainThreadCpuUs() - mainCpu;
  clearInterval(timer);
  longestGapMs = Math.max(longestGapMs, nowMs() - last);
  // Postfix's sink reports its counter a little after the last message.
  let count = 0;
  for (let i = 0; i < 100; i++) {
    count = (await sink.count()).count - before.count;
    if (count >= COUNT) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (count !== COUNT) throw new Error(`sink received ${count} messages, expected ${COUNT}`);
  return {
    perSecond: (COUNT / ms) * 1000,
    cpuUsPerMessage: (used.user + used.system) / COUNT,
    mainCpuUsPerMessage: mainUsed / COUNT,
    ticksKept: Math.min(1, ticks / (ms / 10)),
    longestGapMs,
  };
}

async function mailpush(sink: SinkChild, dkim: DkimOptions | undefined): Promise<void> {
  const transport = smtpTransport({ host: sink.host, port: sink.port, maxConnections: CONNECTIONS, maxMessages: MAX_MESSAGES, ignoreTLS: true });
  const mailer = createMailer(dkim === undefined ? { transport } : { transport, dkim });
  const outcomes = countOutcomes(mailer);
  await mailer.ready();
  for (const m of inputs) await mailer.send(m);
  await mailer.onIdle();
  await mailer.close();
  expectAllSent(outcomes, COUNT, 'mailpush');
}

async function nodemailer(sink: SinkChild, privateKey: string | typeof rsa | undefined): Promise<void> {
  const pool = createTransport({
    pool: true,
    host: sink.host,
    port: sink.port,
    maxConnections: CONNECTIONS,
    maxMessages: MAX_MESSAGES,
    ignoreTLS: true,
    ...(privateKey === undefined ? {} : { dkim: { domainName: FROM_DOMAIN, keySelector: 'rsa1', privateKey: privateKey as string } }),
  });
  await Promise.all(raws.map((m) => pool.sendMail(m)));
  pool.close();
}

const variants = {
  mailpush: (s: SinkChild) => mailpush(s, rsaDkim),
  mailpushInThread: (s: SinkChild) => mailpush(s, rsaInThread),
  mailpushAllOnWorkers: (s: SinkChild) => mailpush(s, rsaAllOnWorkers),
  nodemailerPem: (s: SinkChild) => nodemailer(s, rsaPem),
  nodemailerKeyObject: (s: SinkChild) => nodemailer(s, rsa),
  nodemailerUnsigned: (s: SinkChild) => nodemailer(s, undefined),
  mailpushUnsigned: (s: SinkChild) => mailpush(s, undefined),
  mailpushDual: (s: SinkChild) => mailpush(s, dualDkim),
} as const;
type Variant = keyof typeof variants;
const allVariants = Object.keys(variants) as Variant[];
const only = flag('--only');
const order: Variant[] =
  only !== undefined
    ? only.split(',').map((v) => {
        if (!allVariants.includes(v as Variant)) throw new Error(`Expected --only to list variants of ${allVariants.join(', ')}, got ${v}`);
        return v as Variant;
      })
    : flags.quick
      ? ['mailpush', 'nodemailerPem']
      : ['mailpush', 'nodemailerPem', 'nodemailerKeyObject', 'nodemailerUnsigned', 'mailpushUnsigned', 'mailpushInThread', 'mailpushAllOnWorkers', 'mailpushDual'];

header(
  'dkim',
  flags,
  `${fmt(COUNT)} messages per run (~2 KB text+html${SIZE === 0 ? '' : ` + a ${fmt(SIZE)}-byte attachment`}, 1 recipient, ${DOMAINS} domains), ${CONNECTIONS} pooled connections, maxMessages ${MAX_MESSAGES}, RSA 2048; sinks: ${sinkNames.join(', ')}`,
);

const sinks: Record<string, SinkChild> = {};
for (const name of sinkNames) sinks[name] = name === 'postfix' ? await startPostfixSink() : await startSinkChild();
const runs: Record<string, Record<Variant, Run[]>> = {};
for (const name of sinkNames) runs[name] = Object.fromEntries(order.map((v) => [v, []])) as unknown as Record<Variant, Run[]>;

if (!flags.quick) for (const name of sinkNames) for (const v of order) await measure(sinks[name]!, variants[v]);
const loads: number[] = [];
for (let r = 0; r < flags.rounds; r++) {
  // Rotate the order so no variant always runs first (or last) in a round.
  const rotated = [...order.slice(r % order.length), ...order.slice(0, r % order.length)];
  for (const name of sinkNames) {
    for (const v of rotated) runs[name]![v].push(await measure(sinks[name]!, variants[v]));
    console.log(
      `   round ${r + 1} ${name}: ` +
        order.map((v) => `${v} ${fmt(runs[name]![v][r]!.perSecond)}/s ${fmt(runs[name]![v][r]!.cpuUsPerMessage)}us`).join(', ') +
        ` (load ${loadavg()[0]!.toFixed(2)})`,
    );
  }
  loads.push(loadavg()[0]!);
}

for (const name of sinkNames) {
  const rs = runs[name]!;
  const rate = (v: Variant): number[] => rs[v].map((x) => x.perSecond);
  const ratio = (a: Variant, b: Variant): number[] => rs[a].map((x, i) => x.perSecond / rs[b][i]!.perSecond);
  console.log(`   -- sink: ${name === 'postfix' ? "Postfix's smtp-sink" : 'our smtp-server sink (child process)'}`);
  if (order.includes('mailpush') && order.includes('nodemailerPem')) {
    result('mailpush DKIM vs nodemailer dkim PEM (msg/s)', summary(rate('nodemailerPem'), 0), summary(rate('mailpush'), 0), summary(ratio('mailpush', 'nodemailerPem'), 3), '>= 2.0', median(ratio('mailpush', 'nodemailerPem')) >= 2);
  }
  if (order.includes('mailpush') && order.includes('nodemailerKeyObject')) {
    result('mailpush DKIM vs nodemailer dkim KeyObject (msg/s)', summary(rate('nodemailerKeyObject'), 0), summary(rate('mailpush'), 0), summary(ratio('mailpush', 'nodemailerKeyObject'), 3), 'info', undefined);
  }
  if (order.includes('mailpush') && order.includes('nodemailerUnsigned')) {
    result('mailpush DKIM vs nodemailer unsigned (msg/s)', summary(rate('nodemailerUnsigned'), 0), summary(rate('mailpush'), 0), summary(ratio('mailpush', 'nodemailerUnsigned'), 3), 'info', undefined);
  }
  if (order.includes('mailpush') && order.includes('mailpushUnsigned')) {
    result('mailpush DKIM vs mailpush unsigned (msg/s)', summary(rate('mailpushUnsigned'), 0), summary(rate('mailpush'), 0), summary(ratio('mailpush', 'mailpushUnsigned'), 3), 'info', undefined);
  }
  for (const v of order) {
    const x = rs[v];
    console.log(
      `   ${v}: ${summary(rate(v), 0)} msg/s; cpu/msg ${summary(x.map((r) => r.cpuUsPerMessage), 0, ' us')}; ` +
        `main thread cpu/msg ${summary(x.map((r) => r.mainCpuUsPerMessage), 0, ' us')}; ` +
        `ticks kept ${summary(x.map((r) => r.ticksKept * 100), 0, '%')}; longest gap ${summary(x.map((r) => r.longestGapMs), 0, ' ms')}`,
    );
  }
}
console.log(`   load average (1 min) after each round: ${loads.map((l) => l.toFixed(2)).join(', ')}`);
for (const s of Object.values(sinks)) await s.close();

// Signing alone: the cost of the signer itself, without SMTP or MIME composition around it.
const SIGN_COUNT = flags.quick ? 30 : 2_000;
const composed = await composeMessage(normalizeMessage(inputs[0]!, { now: Date.now() }));
const dkimSigner = createDkimSigner(rsaDkim);
const messageSigner = dkimSigner.signerFor({ from: { address: `orders@${FROM_DOMAIN}` } })!;
const nodemailerDkim = new NodemailerDkim({ domainName: FROM_DOMAIN, keySelector: 'rsa1', privateKey: rsaPem });

async function signingRun(signOne: () => Promise<unknown>): Promise<{ perSecond: number; cpuUs: number }> {
  let next = 0;
  const cpu = process.cpuUsage();
  const start = nowMs();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next++ < SIGN_COUNT) await signOne();
    }),
  );
  const ms = nowMs() - start;
  const used = process.cpuUsage(cpu);
  return { perSecond: (SIGN_COUNT / ms) * 1000, cpuUs: (used.user + used.system) / SIGN_COUNT };
}
const signMailpush = (): Promise<unknown> => messageSigner.signatureHeaders(composed);
const signNodemailer = (): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const out = nodemailerDkim.sign(composed);
    out.on('data', (c: Buffer) => chunks.push(c));
    out.on('end', () => resolve(Buffer.concat(chunks)));
    out.on('error', reject);
  });
const signingMp: { perSecond: number; cpuUs: number }[] = [];
const signingNm: { perSecond: number; cpuUs: number }[] = [];
if (!flags.quick) {
  await signingRun(signMailpush);
  await signingRun(signNodemailer);
}
for (let r = 0; r < flags.rounds; r++) {
  if (r % 2 === 0) {
    signingNm.push(await signingRun(signNodemailer));
    signingMp.push(await signingRun(signMailpush));
  } else {
    signingMp.push(await signingRun(signMailpush));
    signingNm.push(await signingRun(signNodemailer));
  }
}
const signingRatios = signingMp.map((m, i) => m.perSecond / signingNm[i]!.perSecond);
result(
  'signing only, mailpush vs nodemailer DKIM#sign with PEM (signatures/s)',
  summary(signingNm.map((x) => x.perSecond), 0),
  summary(signingMp.map((x) => x.perSecond), 0),
  summary(signingRatios, 2),
  'info',
  undefined,
);
console.log(
  `   signing only, cpu per signature (us, median): mailpush ${fmt(median(signingMp.map((x) => x.cpuUs)))}, nodemailer PEM ${fmt(median(signingNm.map((x) => x.cpuUs)))}`,
);

// Signing only, by body size: where handing the body to a worker starts to pay.
if (!flags.quick) {
  const onLoop = createDkimSigner({ ...rsaDkim, workers: 0 });
  const onWorkers = createDkimSigner({ ...rsaDkim, workerMinBytes: 0 });
  const from = { from: { address: `orders@${FROM_DOMAIN}` } };
  const line = 'Hello, your order has shipped and is on its way. Track it any time from your account.\r\n';
  console.log('   signing only by body size, per signature, median of rounds: main-thread cpu / total cpu (us)');
  for (const size of [2_000, 16_000, 64_000, 256_000, 1_000_000]) {
    const raw = Buffer.from(`From: orders@${FROM_DOMAIN}\r\nTo: a@example.org\r\nSubject: s\r\n\r\n${line.repeat(Math.ceil(size / line.length))}`);
    const n = Math.max(50, Math.min(600, Math.floor(60_000_000 / size)));
    const sample = async (signer: DkimSigner): Promise<{ main: number; total: number }> => {
      const ms = signer.signerFor(from)!;
      let next = 0;
      const cpu = process.cpuUsage();
      const main = mainThreadCpuUs();
      await Promise.all(
        Array.from({ length: CONNECTIONS }, async () => {
          while (next++ < n) await ms.signatureHeaders(raw);
        }),
      );
      const used = process.cpuUsage(cpu);
      return { main: (mainThreadCpuUs() - main) / n, total: (used.user + used.system) / n };
    };
    await sample(onLoop);
    await sample(onWorkers);
    const a: { main: number; total: number }[] = [];
    const b: { main: number; total: number }[] = [];
    for (let r = 0; r < flags.rounds; r++) {
      a.push(await sample(onLoop));
      b.push(await sample(onWorkers));
    }
    const m = (xs: { main: number; total: number }[], k: 'main' | 'total'): string => fmt(median(xs.map((x) => x[k])));
    console.log(`   ${fmt(raw.length).padStart(9)} bytes: event loop ${m(a, 'main')} / ${m(a, 'total')}; workers ${m(b, 'main')} / ${m(b, 'total')}`);
  }
  await onWorkers.close();
}
