/**
 * SendGrid throughput against the local fake v3 API in another process: mailpush
 * (createMailer + sendgridTransport, queue on, `sent`/`failed` listeners) against a direct
 * loop of `fetch` calls to `POST /v3/mail/send` with the same concurrency (a pool of workers,
 * each building the same kind of JSON body and awaiting the answer, as an application
 * calling the API itself would). 5,000 messages of ~2 KB (text and HTML), one recipient
 * each, over 10 recipient domains.
 *
 * Two direct loops are measured. The baseline bounds each request with a timeout signal
 * (`AbortSignal.timeout`), as production code must and as the transport does (its sends
 * are abortable and time out): with any signal, undici links it to the request, which costs
 * tens of microseconds per request. The bare loop passes no signal at all; its ratio is
 * printed for reference.
 *
 * The fake (src/testing/sendgrid-server.ts, record: false) runs in a child process for the
 * whole benchmark: this file started with `--server`. The order of the three runs rotates
 * every round, after one warm-up of each, and the medians are reported. Time runs from the
 * first send to the last accepted request.
 *
 * Run: npx tsx bench/sendgrid-throughput.ts [--quick] [--rounds N] [--concurrency N] [--latency-ms N]
 *   --concurrency N   requests in flight on both sides (default 20, the transport's default)
 *   --latency-ms N    the fake answers after N ms, like the real API does after tens of ms
 *                     (default 0: CPU-bound, the harshest case for mailpush's overhead)
 *   --enqueue loop    queue with `await mailer.send(m)` in a tight loop instead of
 *                     `mailer.sendMany(inputs, { maxQueued })`. The loop never yields to the
 *                     event loop (each send resolves through microtasks), so no response is
 *                     read until all 5,000 messages are queued: it measures that stall too.
 *
 * mailpush queues the campaign with `sendMany` and a `maxQueued` of 10 x the concurrency:
 * its backpressure interleaves queueing with sending, as a host pushing a campaign does.
 *
 * @module
 */

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createMailer } from '../src/mailer/index.js';
import { startSendGridServer } from '../src/testing/sendgrid-server.js';
import sendgridTransport from '../src/transports/sendgrid.js';
import type { MessageInput } from '../src/types.js';
import { ROOT, countOutcomes, expectAllSent, fmt, header, median, nowMs, parseFlags, result, summary } from './common.js';

// ---------------------------------------------------------------------------------------
// Child process: the fake API. Protocol, one JSON line per command on stdout:
// start -> {"baseUrl","apiKey"}; stdin `count` -> {"count","attempts"}; `close` -> exit.
// ---------------------------------------------------------------------------------------

if (process.argv.includes('--server')) {
  const server = await startSendGridServer({ record: false });
  const li = process.argv.indexOf('--latency-ms');
  if (li >= 0) server.setLatency(Number(process.argv[li + 1]));
  const reply = (value: unknown): void => {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  };
  reply({ baseUrl: server.baseUrl, apiKey: server.apiKey });
  const exit = async (): Promise<void> => {
    await server.close();
    process.exit(0);
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const command = line.trim();
    if (command === 'count') reply({ count: server.count, attempts: server.attempts });
    else if (command === 'close') void exit();
  });
  lines.on('close', () => void exit());
} else {
  await main();
}

interface FakeChild {
  readonly baseUrl: string;
  readonly apiKey: string;
  count(): Promise<{ count: number; attempts: number }>;
  close(): Promise<void>;
}

async function startFakeChild(latencyMs: number): Promise<FakeChild> {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--server', '--latency-ms', String(latencyMs)];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending: ((value: Record<string, unknown>) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => pending.shift()?.(JSON.parse(line) as Record<string, unknown>));
  const next = (): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      pending.push(resolve);
      void exited.then(() => reject(new Error('the fake SendGrid process exited')));
    });
  const hello = await next();
  return {
    baseUrl: String(hello['baseUrl']),
    apiKey: String(hello['apiKey']),
    async count() {
      const reply = next();
      child.stdin.write('count\n');
      const r = await reply;
      return { count: Number(r['count']), attempts: Number(r['attempts']) };
    },
    async close() {
      child.stdin.end('close\n');
      await exited;
    },
  };
}

async function main(): Promise<void> {
  const flags = parseFlags(5);
  const argv = process.argv.slice(2);
  const ci = argv.indexOf('--concurrency');
  const CONCURRENCY = ci >= 0 ? Number(argv[ci + 1]) : 20;
  if (!Number.isInteger(CONCURRENCY) || CONCURRENCY < 1) throw new Error(`Expected --concurrency to be an integer >= 1, got ${String(argv[ci + 1])}`);
  const li = argv.indexOf('--latency-ms');
  const LATENCY_MS = li >= 0 ? Number(argv[li + 1]) : 0;
  if (!Number.isInteger(LATENCY_MS) || LATENCY_MS < 0) throw new Error(`Expected --latency-ms to be an integer >= 0, got ${String(argv[li + 1])}`);
  const COUNT = flags.quick ? 500 : 5_000;
  const DOMAINS = 10;

  const paragraph = 'Hello, your order has shipped and is on its way. Track it any time from your account page. ';
  const text = paragraph.repeat(Math.ceil(950 / paragraph.length)).slice(0, 950);
  const html = `<html><body><p>${text.slice(0, 900)}</p></body></html>`;
  const inputs: MessageInput[] = [];
  for (let i = 0; i < COUNT; i++) {
    inputs.push({ from: 'Shop <orders@shop.example.com>', to: `customer${i}@shop${i % DOMAINS}.example`, subject: `Your order #${100000 + i} has shipped`, text, html });
  }

  const LOOP = argv.includes('--enqueue') && argv[argv.indexOf('--enqueue') + 1] === 'loop';
  const fake = await startFakeChild(LATENCY_MS);

  // Client CPU time per message is recorded too: on a shared machine it moves less than
  // wall-clock throughput when other processes compete for the cores.
  async function measured(fn: () => Promise<void>): Promise<{ perSecond: number; cpuUs: number }> {
    const before = await fake.count();
    const cpu = process.cpuUsage();
    const start = nowMs();
    await fn();
    const ms = nowMs() - start;
    const used = process.cpuUsage(cpu);
    const after = await fake.count();
    if (after.count - before.count !== COUNT || after.attempts - before.attempts !== COUNT) {
      throw new Error(`the fake accepted ${after.count - before.count} of ${after.attempts - before.attempts} requests, expected ${COUNT}`);
    }
    return { perSecond: (COUNT / ms) * 1000, cpuUs: (used.user + used.system) / COUNT };
  }

  // The application calling the API itself: the same JSON fields the transport writes.
  function runDirect(withTimeout: boolean): Promise<{ perSecond: number; cpuUs: number }> {
    return measured(async () => {
      const url = `${fake.baseUrl}/v3/mail/send`;
      const headers = { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json', accept: 'application/json' };
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < COUNT) {
          const i = next++;
          const m = inputs[i]!;
          const body = JSON.stringify({
            personalizations: [{ to: [{ email: m.to as string }] }],
            from: { email: 'orders@shop.example.com', name: 'Shop' },
            subject: m.subject,
            content: [
              { type: 'text/plain', value: m.text },
              { type: 'text/html', value: m.html },
            ],
            custom_args: { order: String(i) },
          });
          const res = await fetch(url, withTimeout ? { method: 'POST', headers, body, signal: AbortSignal.timeout(30_000) } : { method: 'POST', headers, body });
          await res.arrayBuffer();
          if (res.status !== 202) throw new Error(`direct: SendGrid answered ${res.status}`);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    });
  }

  function runMailpush(): Promise<{ perSecond: number; cpuUs: number }> {
    return measured(async () => {
      const mailer = createMailer({ transport: sendgridTransport({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, maxConcurrency: CONCURRENCY }) });
      const outcomes = countOutcomes(mailer);
      await mailer.ready();
      if (LOOP) {
        for (const m of inputs) await mailer.send(m);
      } else {
        const campaign = await mailer.sendMany(inputs, { maxQueued: CONCURRENCY * 10 });
        if (campaign.queued !== COUNT) throw new Error(`mailpush: queued ${campaign.queued} of ${COUNT}`);
      }
      await mailer.onIdle();
      await mailer.close();
      expectAllSent(outcomes, COUNT, 'mailpush');
    });
  }

  header(
    'sendgrid-throughput',
    flags,
    `${fmt(COUNT)} messages (~2 KB, text+html, 1 recipient, ${DOMAINS} domains), ${CONCURRENCY} requests in flight on both sides, fake v3 API in a child process answering after ${LATENCY_MS} ms, mailpush queueing with ${LOOP ? 'a send() loop' : `sendMany (maxQueued ${CONCURRENCY * 10})`}`,
  );
  const runs = [() => runDirect(true), () => runMailpush(), () => runDirect(false)] as const;
  if (!flags.quick) for (const run of runs) await run();
  const direct: number[] = [];
  const mp: number[] = [];
  const bare: number[] = [];
  const lists = [direct, mp, bare];
  const cpus: number[][] = [[], [], []];
  for (let r = 0; r < flags.rounds; r++) {
    for (let k = 0; k < runs.length; k++) {
      const which = (r + k) % runs.length;
      const run = await runs[which]!();
      lists[which]!.push(run.perSecond);
      cpus[which]!.push(run.cpuUs);
    }
    console.log(
      `   round ${r + 1}: direct fetch ${fmt(direct[r]!)} msg/s, mailpush ${fmt(mp[r]!)} msg/s, ratio ${(mp[r]! / direct[r]!).toFixed(3)}` +
        ` (bare fetch without a signal ${fmt(bare[r]!)} msg/s, ratio ${(mp[r]! / bare[r]!).toFixed(3)})`,
    );
  }
  const ratios = mp.map((m, i) => m / direct[i]!);
  result('throughput (msg/s)', summary(direct, 0), summary(mp, 0), summary(ratios, 3), '>= 0.95', median(ratios) >= 0.95);
  const bareRatios = mp.map((m, i) => m / bare[i]!);
  console.log(`   for reference, against a bare fetch loop without any signal: ${summary(bare, 0)} msg/s, ratio ${summary(bareRatios, 3)}`);
  console.log(
    `   client CPU per message (median): direct ${fmt(median(cpus[0]!))} us, mailpush ${fmt(median(cpus[1]!))} us, bare ${fmt(median(cpus[2]!))} us;` +
      ` CPU ratio direct/mailpush ${(median(cpus[0]!) / median(cpus[1]!)).toFixed(3)}`,
  );
  await fake.close();
}
