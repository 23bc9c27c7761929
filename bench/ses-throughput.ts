/**
 * SES throughput against the local SES v2 fake in another process: mailpush (createMailer +
 * sesTransport, with the queue, domain limits that do not bind and `sent`/`failed`
 * listeners) against the AWS SDK called directly in a loop with the same concurrency.
 * 1,000 messages of ~2 KB (text and HTML), one recipient each, over 10 recipient domains.
 *
 * Both sides compose the MIME message with nodemailer (the direct loop with MailComposer,
 * the usual way to feed SES raw content; mailpush through its composer) and send it with
 * `SendEmailCommand` (`Content.Raw`) on an `SESv2Client` with `maxAttempts: 1`, 20 requests
 * in flight. Each run creates a fresh client (connection setup included on both sides).
 * Runs alternate A-B-B-A (direct, mailpush, mailpush, direct, ...) after one warm-up of
 * each, and the medians are reported. Time runs from the first send to the last accepted
 * message.
 *
 * The fake runs in a child process (this file with `--serve`), so its JSON parsing and
 * base64 decoding are not charged to the client under test.
 *
 * By default the fake answers at once, so both sides are bound by client CPU (signing,
 * serializing, composing) and the ratio shows mailpush's own cost. `--latency-ms 60` makes
 * every answer take about as long as a real SES call from the same region: throughput is
 * then bound by requests in flight, as in production.
 *
 * Run: npx tsx bench/ses-throughput.ts [--quick] [--rounds N] [--concurrency N] [--latency-ms N]
 *
 * @module
 */

// The AWS SDK warns once on Node < 22 about its 2027 releases; not part of what is measured.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import MailComposer from 'nodemailer/lib/mail-composer';
import { createMailer } from '../src/mailer/index.js';
import { startSesServer } from '../src/testing/ses-server.js';
import sesTransport from '../src/transports/ses.js';
import type { MessageInput } from '../src/types.js';
import { ROOT, countOutcomes, expectAllSent, fmt, header, median, nowMs, parseFlags, result, summary } from './common.js';

const argv = process.argv.slice(2);
const credentials = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench-secret' } as const;

// ---------------------------------------------------------------------------------------
// Child process: the fake SES server. One JSON line per command on stdout:
//   start -> {"endpoint":"http://127.0.0.1:40123","region":"us-east-1"}
//   stdin `count` -> {"count":1000,"requests":1000}
//   stdin `close` (or end of stdin, or SIGTERM) -> closes the server and exits
// ---------------------------------------------------------------------------------------

function numberFlag(name: string, fallback: number, min: number): number {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < min) throw new Error(`Expected ${name} to be an integer >= ${min}, got ${String(argv[i + 1])}`);
  return n;
}
const LATENCY_MS = numberFlag('--latency-ms', 0, 0);

if (argv.includes('--serve')) {
  const server = await startSesServer({ keepMessages: false, latencyMs: LATENCY_MS });
  const reply = (value: unknown): void => {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  };
  reply({ endpoint: server.endpoint, region: server.region });
  let exiting = false;
  const exit = async (): Promise<void> => {
    if (exiting) return;
    exiting = true;
    await server.close();
    process.exit(0);
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const command = line.trim();
    if (command === 'count') reply({ count: server.count, requests: server.requests });
    else if (command === 'close') void exit();
    else if (command !== '') reply({ error: `unknown command ${JSON.stringify(command)}` });
  });
  lines.on('close', () => void exit());
  process.on('SIGTERM', () => void exit());
} else {
  await main();
}

interface FakeChild {
  readonly endpoint: string;
  readonly region: string;
  count(): Promise<{ count: number; requests: number }>;
  close(): Promise<void>;
}

async function startFakeChild(): Promise<FakeChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', '--latency-ms', String(LATENCY_MS)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending: ((value: Record<string, unknown>) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => pending.shift()?.(JSON.parse(line) as Record<string, unknown>));
  const nextLine = (): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      pending.push(resolve);
      void exited.then(() => reject(new Error(`SES fake process exited: ${stderr.trim()}`)));
    });
  const hello = await nextLine();
  return {
    endpoint: String(hello.endpoint),
    region: String(hello.region),
    async count() {
      const reply = nextLine();
      child.stdin.write('count\n');
      const r = await reply;
      return { count: Number(r.count), requests: Number(r.requests) };
    },
    async close() {
      child.stdin.end('close\n');
      await exited;
    },
  };
}

async function main(): Promise<void> {
  const { SESv2Client, SendEmailCommand } = await import('@aws-sdk/client-sesv2');
  const flags = parseFlags(5);
  const CONCURRENCY = numberFlag('--concurrency', 20, 1);
  const COUNT = flags.quick ? 100 : 1_000;
  const DOMAINS = 10;

  const paragraph = 'Hello, your order has shipped and is on its way. Track it any time from your account page. ';
  const text = paragraph.repeat(Math.ceil(950 / paragraph.length)).slice(0, 950);
  const html = `<html><body><p>${text.slice(0, 900)}</p></body></html>`;
  const inputs: MessageInput[] = Array.from({ length: COUNT }, (_, n) => ({
    from: 'Shop <orders@shop.example.com>',
    to: `customer${n}@shop${n % DOMAINS}.example`,
    subject: `Your order #${100000 + n} has shipped`,
    text,
    html,
  }));

  const fake = await startFakeChild();

  interface Run {
    readonly perSecond: number;
    /** CPU time of this (client) process per message, in ms: less sensitive than wall time to other load on the machine. */
    readonly cpuMs: number;
  }

  async function measured(fn: () => Promise<number>): Promise<Run> {
    const before = await fake.count();
    const cpu = process.cpuUsage();
    const ms = await fn();
    const used = process.cpuUsage(cpu);
    const after = await fake.count();
    const count = after.count - before.count;
    if (count !== COUNT || after.requests - before.requests !== COUNT) {
      throw new Error(`the fake accepted ${count} messages in ${after.requests - before.requests} requests, expected ${COUNT} in ${COUNT}`);
    }
    return { perSecond: (COUNT / ms) * 1000, cpuMs: (used.user + used.system) / 1000 / COUNT };
  }

  /** The SDK in a loop: CONCURRENCY workers, each composing and sending the next message. */
  function runDirect(): Promise<Run> {
    return measured(async () => {
      const client = new SESv2Client({ region: fake.region, endpoint: fake.endpoint, credentials, maxAttempts: 1 });
      let next = 0;
      const start = nowMs();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < COUNT) {
            const m = inputs[next++]!;
            const raw = await new MailComposer({ from: m.from as string, to: m.to as string, subject: m.subject!, text: m.text!, html: m.html! }).compile().build();
            await client.send(new SendEmailCommand({ FromEmailAddress: 'orders@shop.example.com', Destination: { ToAddresses: [m.to as string] }, Content: { Raw: { Data: raw } } }));
          }
        }),
      );
      const ms = nowMs() - start;
      client.destroy();
      return ms;
    });
  }

  function runMailpush(): Promise<Run> {
    return measured(async () => {
      const transport = sesTransport({ region: fake.region, endpoint: fake.endpoint, credentials, maxConcurrency: CONCURRENCY });
      const mailer = createMailer({
        transport,
        limits: {
          // Limits that exist but never bind: the scheduler still checks them for every job.
          domains: { 'shop0.example': { ratePerSecond: 1_000_000, concurrency: 1_000 }, 'shop1.example': { ratePerSecond: 500_000 } },
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
    'ses-throughput',
    flags,
    `${fmt(COUNT)} messages (~2 KB, text+html, 1 recipient, ${DOMAINS} domains), ${CONCURRENCY} requests in flight, SES v2 fake in a child process answering after ${LATENCY_MS} ms, AWS SDK with maxAttempts 1 on both sides`,
  );

  // Warm-up of both paths (JIT, SDK module loading), not counted.
  if (!flags.quick) {
    await runDirect();
    await runMailpush();
  }

  const direct: Run[] = [];
  const mp: Run[] = [];
  for (let r = 0; r < flags.rounds; r++) {
    if (r % 2 === 0) {
      direct.push(await runDirect());
      mp.push(await runMailpush());
    } else {
      mp.push(await runMailpush());
      direct.push(await runDirect());
    }
    const d = direct[r]!;
    const m = mp[r]!;
    console.log(
      `   round ${r + 1}: SDK direct ${fmt(d.perSecond)} msg/s (${d.cpuMs.toFixed(2)} ms CPU/msg), mailpush ${fmt(m.perSecond)} msg/s (${m.cpuMs.toFixed(2)} ms CPU/msg), ratio ${(m.perSecond / d.perSecond).toFixed(3)}`,
    );
  }
  const ratios = mp.map((m, n) => m.perSecond / direct[n]!.perSecond);
  result('throughput (msg/s)', summary(direct.map((x) => x.perSecond), 0), summary(mp.map((x) => x.perSecond), 0), summary(ratios, 3), '>= 0.95', median(ratios) >= 0.95);
  const cpuRatios = direct.map((d, n) => d.cpuMs / mp[n]!.cpuMs);
  // Diagnostic, not a target: what the throughput ratio would be if the client CPU alone decided it.
  result('client CPU per message (ms)', summary(direct.map((x) => x.cpuMs), 2), summary(mp.map((x) => x.cpuMs), 2), summary(cpuRatios, 3), 'none (direct/mailpush)', undefined);
  await fake.close();
}
