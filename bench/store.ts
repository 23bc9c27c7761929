/**
 * The durable SQLite store (issue 9) against the memory store, in one run:
 *
 * 1. **SMTP throughput**: smtpTransport (5 pooled connections) to a sink in another process,
 *    memory store vs `sqliteStore` (durability normal, and full for information), 5,000
 *    messages of ~2 KB sent with `await mailer.send()` one after another, the same set-up as
 *    bench/smtp-throughput.ts. Two sinks: ours (bench/sink-process.ts, smtp-server) and
 *    Postfix's `smtp-sink` (C, no greeting delay, so the client is more CPU-bound) when
 *    `/usr/sbin/smtp-sink` is installed (Debian package postfix), else a printed note.
 * 2. **send() latency**: one `send()` per 1 ms timer tick for a few seconds, transport answering
 *    after 1 ms; time from the `send()` call until its promise resolves (with the SQLite store:
 *    until the group commit that holds the message), memory vs sqlite normal vs sqlite full.
 * 3. **Recovery**: a child process queues 100,000 messages (`sendAt` 30 days ahead) and closes;
 *    then, in a fresh child process per round on a copy of that file (and of its -lock sidecar, as a
 *    restart finds them), the time of
 *    `createMailer({ store: sqliteStore({ path }) })` + `await mailer.ready()` (the first window
 *    of `maxJobsInMemory` jobs back in memory), and how long the event loop was blocked
 *    meanwhile (a 10 ms setInterval: ticks seen and the longest gap between ticks; and the
 *    longest turn of the loop, from a self-rearming setImmediate: the work behind that gap, which
 *    the gap exceeds by up to 10 ms depending on the interval's phase). Baseline:
 *    the same on an empty file.
 * 4. **RSS of a backlog**: a child process queues 1,000,000 messages with individual
 *    `await mailer.send()` calls for a transport that never answers (so 5 are in flight and
 *    the rest wait), then reports its peak RSS (`resourceUsage().maxRSS`). The memory store is
 *    measured the same way for 100,000 messages and extrapolated per job.
 *
 * Every variant of a part runs once per round, the order rotating every round, and the
 * medians with their spreads are printed. SQLite files live in a fresh folder under
 * `--dir` (default: the OS temp folder), removed at the end.
 *
 * Drivers: the store uses node:sqlite on Node 24 and better-sqlite3 on Node 20 (Node 20 has no
 * node:sqlite, and the better-sqlite3 build in node_modules is for one Node ABI only), so the
 * two drivers are compared across two runs through their ratios against the memory store:
 *   npx tsx bench/store.ts                                                  # Node 20, better-sqlite3
 *   npx -y -p node@24 node --import tsx bench/store.ts --driver node:sqlite # Node 24
 *
 * Run: npx tsx bench/store.ts [--quick] [--rounds N] [--driver auto|node:sqlite|better-sqlite3]
 *        [--only throughput,latency,recovery,rss] [--dir PATH]
 *        [--recover-count N] [--rss-count N] [--rss-memory-count N] [--in-flight N]
 *   --quick   100 messages per throughput run, 0.3 s of latency, 2,000 jobs to recover,
 *             5,000 (sqlite) / 2,000 (memory) messages of backlog, one round
 *   --in-flight N  experiment: N producers each awaiting send() in the throughput part (default 1)
 *  (it starts `node --expose-gc --import tsx bench/store.ts --child ...` for parts 3 and 4 itself)
 */

import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MailError, MailErrorCode } from '../src/errors.js';
import { createMailer } from '../src/mailer/index.js';
import type { Mailer } from '../src/mailer/index.js';
import { sqliteStore } from '../src/stores/sqlite.js';
import type { SqliteDurability } from '../src/stores/sqlite.js';
import smtpTransport from '../src/transports/smtp.js';
import type { MessageInput, PreparedMessage, SendResult, Transport, TransportSendContext } from '../src/types.js';
import { ROOT, SMTP_SINK, countOutcomes, expectAllSent, fmt, header, median, nowMs, parseFlags, quantile, result, sleep, startPostfixSink, startSinkChild, summary } from './common.js';
import type { SinkChild } from './common.js';

type Driver = 'auto' | 'node:sqlite' | 'better-sqlite3';
type Part = 'throughput' | 'latency' | 'recovery' | 'rss';
const PARTS: readonly Part[] = ['throughput', 'latency', 'recovery', 'rss'];

const argv = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i < 0 ? undefined : argv[i + 1];
};
const intOption = (name: string): number | undefined => {
  const raw = option(name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`Expected ${name} to be an integer >= 0, got ${raw}`);
  return n;
};
/** Sends awaited at once in the throughput part: 1 = `for (...) await send()`, as bench/smtp-throughput.ts does. */
const IN_FLIGHT = intOption('--in-flight') ?? 1;
if (IN_FLIGHT < 1) throw new Error(`Expected --in-flight to be an integer >= 1, got ${IN_FLIGHT}`);
const DRIVER = (option('--driver') ?? 'auto') as Driver;
if (!['auto', 'node:sqlite', 'better-sqlite3'].includes(DRIVER)) throw new Error(`Expected --driver to be auto, node:sqlite or better-sqlite3, got ${DRIVER}`);

/** A transport that never answers until the mailer aborts the send (closing). */
function stalledTransport(): Transport {
  return {
    name: 'stalled',
    capabilities: { rawMime: true },
    send: (_prepared: PreparedMessage, { signal }: TransportSendContext) =>
      new Promise<SendResult>((_resolve, reject) => {
        signal.addEventListener('abort', () => reject(new MailError('The send was aborted', { code: MailErrorCode.ABORTED, retryable: true })), { once: true });
      }),
  };
}

const filler = 'We have received your request and will get back to you shortly. Thank you for your patience. ';

/** A small personalized message (~300 B of text), as in bench/memory.ts. */
function smallMessage(i: number): MessageInput {
  const text = `Hello user ${i},\n\n${filler}${filler}${filler.slice(0, 70)}\n\nRef ${i.toString(36)}`;
  return { from: 'News <news@example.com>', to: `user${i}@d${i % 1_000}.example`, subject: `Update ${i}`, text };
}

function fileBytes(path: string): number {
  let total = 0;
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(path + suffix)) total += statSync(path + suffix).size;
  return total;
}

// ---------------------------------------------------------------------------------------
// Child processes: recovery set-up, recovery measurement, backlog RSS
// ---------------------------------------------------------------------------------------

interface SetupSample {
  readonly ms: number;
  readonly pending: number;
  readonly bytes: number;
  readonly driver: string;
}

/** Queues `count` messages due in 30 days into a SQLite file and closes the mailer. */
async function childSetup(path: string, count: number): Promise<SetupSample> {
  const store = sqliteStore({ path, driver: DRIVER });
  const mailer = createMailer({ transport: stalledTransport(), store });
  await mailer.ready();
  const sendAt = Date.now() + 30 * 86_400_000;
  const start = nowMs();
  // Batches of concurrent sends share group commits: only the set-up, not measured.
  for (let i = 0; i < count; i += 500) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(count, i + 500); j++) batch.push(mailer.send(smallMessage(j), { sendAt }));
    await Promise.all(batch);
  }
  const ms = nowMs() - start;
  const { pending } = await mailer.close({ timeoutMs: 0 });
  return { ms, pending, bytes: fileBytes(path), driver: store.driver };
}

interface RecoverySample {
  /** `sqliteStore()` (open, lock, migrate) + `createMailer()` + `await ready()`, ms. */
  readonly ms: number;
  /** `sqliteStore()` alone, ms. */
  readonly openMs: number;
  /** 10 ms interval ticks seen while recovering, and how many an idle loop would have seen. */
  readonly ticks: number;
  readonly expectedTicks: number;
  /** Longest gap between two ticks of the 10 ms interval around the recovery, ms. */
  readonly maxGapMs: number;
  /**
   * Longest turn of the event loop around the recovery, ms: the longest time between two runs
   * of a self-rearming `setImmediate`, i.e. the longest stretch of work that held the loop. A
   * gap of the 10 ms interval is up to 10 ms longer than the work that caused it, depending on
   * where in the interval the work started (the recovery starts just before a tick is due).
   */
  readonly maxTurnMs: number;
  /** Jobs in memory once ready() resolved. */
  readonly inMemory: number;
  readonly backlog: boolean;
  readonly rssBytes: number;
  readonly driver: string;
}

/** Opens the file, recovers, and measures how long that took and how long the event loop stalled. */
async function childRecover(path: string): Promise<RecoverySample> {
  const ticks: number[] = [];
  const timer = setInterval(() => ticks.push(nowMs()), 10);
  // Turns of the event loop: the time of each run of a self-rearming immediate.
  const turns: number[] = [];
  let turning = true;
  const turn = (): void => {
    turns.push(nowMs());
    if (turning) setImmediate(turn);
  };
  setImmediate(turn);
  await sleep(60);
  const t0 = nowMs();
  const store = sqliteStore({ path, driver: DRIVER });
  const opened = nowMs();
  const mailer: Mailer = createMailer({ transport: stalledTransport(), store });
  await mailer.ready();
  const t1 = nowMs();
  await sleep(40);
  clearInterval(timer);
  turning = false;
  let maxTurnMs = 0;
  for (let i = 1; i < turns.length; i++) if (turns[i]! > t0 && turns[i - 1]! < t1) maxTurnMs = Math.max(maxTurnMs, turns[i]! - turns[i - 1]!);
  // Gaps that overlap [t0, t1]: from the last tick before t0 to the first tick after t1.
  const before = ticks.filter((t) => t < t0);
  const after = ticks.filter((t) => t > t1);
  const around = [before[before.length - 1] ?? t0, ...ticks.filter((t) => t >= t0 && t <= t1), after[0] ?? t1];
  let maxGapMs = 0;
  for (let i = 1; i < around.length; i++) maxGapMs = Math.max(maxGapMs, around[i]! - around[i - 1]!);
  const stats = mailer.stats();
  const inMemory = stats.scheduled + stats.inflight + Object.values(stats.queued).reduce((a, b) => a + b, 0);
  const sample: RecoverySample = {
    ms: t1 - t0,
    openMs: opened - t0,
    ticks: around.length - 2,
    expectedTicks: Math.floor((t1 - t0) / 10),
    maxGapMs,
    maxTurnMs,
    inMemory,
    backlog: stats.backlog,
    rssBytes: process.memoryUsage().rss,
    driver: store.driver,
  };
  await mailer.close({ timeoutMs: 0 });
  return sample;
}

interface RssSample {
  readonly count: number;
  /** RSS when the child started, before the store was opened: Node, tsx and the loaded modules (not the store's). */
  readonly startRssBytes: number;
  /** RSS after start-up and a warm-up of 1,000 sends, before the measured sends. */
  readonly baseRssBytes: number;
  /** Peak RSS of the process (`resourceUsage().maxRSS`). */
  readonly peakRssBytes: number;
  /**
   * The highest RSS seen by sampling every 1,000 sends, after how many sends, and V8's heapTotal
   * then: RSS minus heapTotal is native memory (SQLite's page cache, the checkpoint worker's
   * thread and heap, malloc, Node and tsx themselves).
   */
  readonly sampledPeak: { readonly rssBytes: number; readonly atSend: number; readonly heapTotalBytes: number };
  readonly endRssBytes: number;
  readonly heapUsedBytes: number;
  /** heapUsed after two forced full collections at the end. */
  readonly liveHeapBytes: number;
  /** Seconds for the measured sends. */
  readonly seconds: number;
  /** Jobs in memory at the end (queued + scheduled + in flight) and whether the store holds more. */
  readonly inMemory: number;
  readonly backlog: boolean;
  readonly pending: number;
  readonly fileBytes: number;
  readonly driver: string;
}

/** Queues `count` messages one `await send()` at a time for a transport that never answers. */
async function childRss(kind: 'memory' | 'sqlite', path: string, count: number): Promise<RssSample> {
  const startRssBytes = process.memoryUsage().rss;
  const store = kind === 'sqlite' ? sqliteStore({ path, driver: DRIVER }) : undefined;
  const mailer = createMailer({ transport: stalledTransport(), ...(store === undefined ? {} : { store }) });
  mailer.on('sent', () => undefined);
  await mailer.ready();
  const warm = 1_000;
  for (let i = 0; i < warm; i++) await mailer.send(smallMessage(i));
  const baseRssBytes = process.memoryUsage().rss;
  const start = nowMs();
  // Where the peak happens: RSS and V8's heap size every 1,000 sends.
  let peak = { rss: 0, at: 0, heapTotal: 0 };
  for (let i = warm; i < count + warm; i++) {
    await mailer.send(smallMessage(i));
    if (i % 1_000 === 0) {
      const m = process.memoryUsage();
      if (m.rss > peak.rss) peak = { rss: m.rss, at: i - warm, heapTotal: m.heapTotal };
    }
  }
  const seconds = (nowMs() - start) / 1000;
  const mem = process.memoryUsage();
  const stats = mailer.stats();
  const inMemory = stats.scheduled + stats.inflight + Object.values(stats.queued).reduce((a, b) => a + b, 0);
  const pending = store === undefined ? inMemory : await store.queue.size();
  // Live heap (after full collections), to tell live data from garbage in the peak.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const liveHeapBytes = process.memoryUsage().heapUsed;
  return {
    liveHeapBytes,
    count,
    startRssBytes,
    baseRssBytes,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    sampledPeak: { rssBytes: peak.rss, atSend: peak.at, heapTotalBytes: peak.heapTotal },
    endRssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    seconds,
    inMemory,
    backlog: stats.backlog,
    pending,
    fileBytes: store === undefined ? 0 : fileBytes(path),
    driver: store?.driver ?? 'none',
  };
}

function runChild<T>(args: readonly string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/store.ts', '--driver', DRIVER, '--child', ...args], { cwd: ROOT });
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) reject(new Error(`child ${args.join(' ')} failed (${String(code)}): ${err}${out}`));
      else resolve(JSON.parse(last) as T);
    });
  });
}

// ---------------------------------------------------------------------------------------
// Postfix smtp-sink as a second sink
// ---------------------------------------------------------------------------------------

// startPostfixSink and SMTP_SINK live in bench/common.ts (shared with smtp-throughput.ts).

// ---------------------------------------------------------------------------------------
// Part 1: SMTP throughput
// ---------------------------------------------------------------------------------------

type StoreVariant = 'memory' | 'sqlite-normal' | 'sqlite-full';

let workDir = '';
let fileSeq = 0;
const newPath = (label: string): string => join(workDir, `${label}-${++fileSeq}.db`);
const removeDb = (path: string): void => {
  for (const suffix of ['', '-wal', '-shm', '-journal', '-lock']) rmSync(path + suffix, { force: true });
};

/** The store of a variant, on a new file; the mailer closes it. */
function storeFor(variant: StoreVariant): { store?: ReturnType<typeof sqliteStore>; path?: string } {
  if (variant === 'memory') return {};
  const path = newPath(variant);
  const durability: SqliteDurability = variant === 'sqlite-full' ? 'full' : 'normal';
  return { store: sqliteStore({ path, durability, driver: DRIVER }), path };
}

interface ThroughputRun {
  readonly perSecond: number;
  readonly cpuUsPerMessage: number;
  readonly commits: number;
  readonly writes: number;
}

async function throughputPart(flags: { quick: boolean; rounds: number }): Promise<void> {
  const COUNT = flags.quick ? 100 : 5_000;
  const CONNECTIONS = 5;
  const DOMAINS = 10;
  const paragraph = 'Hello, your order has shipped and is on its way. Track it any time from your account page. ';
  const text = paragraph.repeat(Math.ceil(950 / paragraph.length)).slice(0, 950);
  const html = `<html><body><p>${text.slice(0, 900)}</p></body></html>`;
  const inputs: MessageInput[] = [];
  for (let i = 0; i < COUNT; i++) {
    inputs.push({ from: 'Shop <orders@shop.example.com>', to: `customer${i}@shop${i % DOMAINS}.example`, subject: `Your order #${100000 + i} has shipped`, text, html });
  }

  async function run(sink: SinkChild, variant: StoreVariant): Promise<ThroughputRun> {
    const before = await sink.count();
    const cpu = process.cpuUsage();
    const { store, path } = storeFor(variant);
    const mailer = createMailer({
      transport: smtpTransport({ host: sink.host, port: sink.port, maxConnections: CONNECTIONS, ignoreTLS: true }),
      ...(store === undefined ? {} : { store }),
      limits: {
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
    if (IN_FLIGHT === 1) {
      for (const m of inputs) await mailer.send(m);
    } else {
      let next = 0;
      const producer = async (): Promise<void> => {
        while (next < inputs.length) await mailer.send(inputs[next++]!);
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, producer));
    }
    await mailer.onIdle();
    const ms = nowMs() - start;
    const commits = store?.stats().commits ?? 0;
    const writes = store?.stats().writes ?? 0;
    await mailer.close();
    const used = process.cpuUsage(cpu);
    if (path !== undefined) removeDb(path);
    expectAllSent(outcomes, COUNT, variant);
    // smtp-sink updates its counters as it goes: give the last line a moment.
    let after = await sink.count();
    for (let i = 0; i < 50 && after.count - before.count < COUNT; i++) {
      await sleep(20);
      after = await sink.count();
    }
    if (after.count - before.count !== COUNT) throw new Error(`sink received ${after.count - before.count} messages, expected ${COUNT}`);
    return { perSecond: (COUNT / ms) * 1000, cpuUsPerMessage: (used.user + used.system) / COUNT, commits, writes };
  }

  const sinks: [string, () => Promise<SinkChild>][] = [['our sink (smtp-server, child process)', startSinkChild]];
  if (existsSync(SMTP_SINK)) sinks.push(['Postfix smtp-sink', startPostfixSink]);
  else console.log(`   NOTE: ${SMTP_SINK} is not installed (Debian package postfix): measured against our sink only`);

  const variants: readonly StoreVariant[] = ['memory', 'sqlite-normal', 'sqlite-full'];
  const how = IN_FLIGHT === 1 ? 'one await send() after the other' : `${IN_FLIGHT} producers each awaiting send() (EXPERIMENT)`;
  console.log(`\n   -- 1. SMTP throughput: ${fmt(COUNT)} messages (~2 KB, ${DOMAINS} domains), smtpTransport with ${CONNECTIONS} connections, ${how}, per sink`);
  for (const [label, start] of sinks) {
    const sink = await start();
    try {
      if (!flags.quick) for (const v of variants) await run(sink, v); // warm-up
      const runs: Record<StoreVariant, ThroughputRun[]> = { memory: [], 'sqlite-normal': [], 'sqlite-full': [] };
      for (let r = 0; r < flags.rounds; r++) {
        for (let k = 0; k < variants.length; k++) {
          const v = variants[(r + k) % variants.length]!;
          runs[v].push(await run(sink, v));
        }
        const m = runs.memory[r]!;
        const n = runs['sqlite-normal'][r]!;
        const f = runs['sqlite-full'][r]!;
        console.log(
          `   [${label}] round ${r + 1}: memory ${fmt(m.perSecond)} msg/s, sqlite normal ${fmt(n.perSecond)} (${(n.perSecond / m.perSecond).toFixed(3)}, ${fmt(n.writes)} writes in ${fmt(n.commits)} commits), sqlite full ${fmt(f.perSecond)} (${(f.perSecond / m.perSecond).toFixed(3)})`,
        );
      }
      const mem = runs.memory;
      for (const v of ['sqlite-normal', 'sqlite-full'] as const) {
        const ratios = runs[v].map((x, i) => x.perSecond / mem[i]!.perSecond);
        const goal = v === 'sqlite-normal';
        result(
          `[${label}] throughput (msg/s), ${v.replace('-', ' ')} vs memory store`,
          summary(mem.map((x) => x.perSecond), 0),
          summary(runs[v].map((x) => x.perSecond), 0),
          summary(ratios, 3),
          goal ? '>= 0.9' : 'none (informational)',
          goal ? median(ratios) >= 0.9 : undefined,
        );
        result(
          `[${label}] client CPU per message (µs), ${v.replace('-', ' ')} vs memory store`,
          summary(mem.map((x) => x.cpuUsPerMessage), 0),
          summary(runs[v].map((x) => x.cpuUsPerMessage), 0),
          summary(runs[v].map((x, i) => x.cpuUsPerMessage / mem[i]!.cpuUsPerMessage), 3),
          'none (informational)',
          undefined,
        );
      }
    } finally {
      await sink.close();
    }
  }
}

// ---------------------------------------------------------------------------------------
// Part 2: send() latency
// ---------------------------------------------------------------------------------------

interface LatencyRun {
  readonly latencies: number[];
  readonly perSecond: number;
  readonly writesPerCommit: number;
}

async function latencyPart(flags: { quick: boolean; rounds: number }): Promise<void> {
  const DURATION_MS = flags.quick ? 300 : 3_000;
  const TRANSPORT_MS = 1;
  const variants: readonly StoreVariant[] = ['memory', 'sqlite-normal', 'sqlite-full'];
  const fast: Transport = {
    name: 'fixed-latency',
    capabilities: { rawMime: true },
    send: (prepared: PreparedMessage) => new Promise<SendResult>((resolve) => setTimeout(() => resolve({ accepted: prepared.envelope.to, rejected: [] }), TRANSPORT_MS)),
  };

  async function run(variant: StoreVariant): Promise<LatencyRun> {
    const { store, path } = storeFor(variant);
    const mailer = createMailer({ transport: fast, ...(store === undefined ? {} : { store }), limits: { concurrency: 50 } });
    mailer.on('sent', () => undefined);
    await mailer.ready();
    for (let i = 0; i < 200; i++) await mailer.send(smallMessage(i)); // warm-up
    await mailer.onIdle();
    const before = store?.stats();
    const latencies: number[] = [];
    const pending: Promise<unknown>[] = [];
    let n = 0;
    const start = nowMs();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (nowMs() - start >= DURATION_MS) {
          clearInterval(timer);
          resolve();
          return;
        }
        const t0 = nowMs();
        pending.push(mailer.send(smallMessage(n++)).then(() => latencies.push(nowMs() - t0)));
      }, 1);
    });
    await Promise.all(pending);
    const elapsed = nowMs() - start;
    await mailer.onIdle();
    const after = store?.stats();
    await mailer.close();
    if (path !== undefined) removeDb(path);
    const writesPerCommit = before !== undefined && after !== undefined ? (after.writes - before.writes) / Math.max(1, after.commits - before.commits) : 0;
    return { latencies, perSecond: (n / elapsed) * 1000, writesPerCommit };
  }

  console.log(`\n   -- 2. send() latency: one send() per 1 ms timer tick for ${fmt(DURATION_MS)} ms, transport answers after ${TRANSPORT_MS} ms, concurrency 50`);
  if (!flags.quick) for (const v of variants) await run(v); // warm-up
  const runs: Record<StoreVariant, LatencyRun[]> = { memory: [], 'sqlite-normal': [], 'sqlite-full': [] };
  for (let r = 0; r < flags.rounds; r++) {
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(r + k) % variants.length]!;
      runs[v].push(await run(v));
    }
    const line = variants.map((v) => {
      const x = runs[v][r]!;
      const s = [...x.latencies].sort((a, b) => a - b);
      const commits = v === 'memory' ? '' : `, ${x.writesPerCommit.toFixed(1)} writes/commit`;
      return `${v} p50 ${quantile(s, 0.5).toFixed(3)} p99 ${quantile(s, 0.99).toFixed(3)} ms (${fmt(x.perSecond)}/s${commits})`;
    });
    console.log(`   round ${r + 1}: ${line.join('; ')}`);
  }
  const q = (list: LatencyRun[], p: number): number[] => list.map((x) => quantile([...x.latencies].sort((a, b) => a - b), p));
  for (const [label, p] of [['p50', 0.5], ['p99', 0.99]] as const) {
    const base = q(runs.memory, p);
    for (const v of ['sqlite-normal', 'sqlite-full'] as const) {
      const mine = q(runs[v], p);
      result(`send() ${label} latency (ms), ${v.replace('-', ' ')} vs memory store`, summary(base, 3), summary(mine, 3), summary(mine.map((x, i) => x / base[i]!), 1), 'none (informational)', undefined);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Part 3: recovery
// ---------------------------------------------------------------------------------------

async function recoveryPart(flags: { quick: boolean; rounds: number }): Promise<void> {
  const COUNT = intOption('--recover-count') ?? (flags.quick ? 2_000 : 100_000);
  console.log(`\n   -- 3. recovery: ${fmt(COUNT)} pending jobs (sendAt in 30 days), sqliteStore() + createMailer() + ready() in a fresh child process per round`);
  const pristine = newPath('recover-pristine');
  const setup = await runChild<SetupSample>(['setup', pristine, String(COUNT)]);
  if (setup.pending !== COUNT) throw new Error(`set-up left ${setup.pending} pending jobs, expected ${COUNT}`);
  console.log(
    `   set-up (${setup.driver}): ${fmt(COUNT)} messages queued in ${(setup.ms / 1000).toFixed(1)} s (batches of 500 concurrent sends), file ${fmt(setup.bytes / 1048576, 1)} MiB, ${fmt(setup.pending)} pending after close`,
  );
  const full: RecoverySample[] = [];
  const empty: RecoverySample[] = [];
  for (let r = 0; r < flags.rounds; r++) {
    const copy = newPath('recover');
    // With the -lock sidecar, as a restart finds it (a store never deletes it): a copy without
    // it would make the open create it, and its first page is fsynced (one-off, once per file).
    for (const suffix of ['', '-wal', '-lock']) if (existsSync(pristine + suffix)) copyFileSync(pristine + suffix, copy + suffix);
    const fresh = newPath('empty');
    const order: [RecoverySample[], string][] = [
      [full, copy],
      [empty, fresh],
    ];
    if (r % 2 === 1) order.reverse();
    for (const [list, path] of order) list.push(await runChild<RecoverySample>(['recover', path]));
    removeDb(copy);
    removeDb(fresh);
    const s = full[r]!;
    console.log(
      `   round ${r + 1}: ${s.ms.toFixed(0)} ms (open ${s.openMs.toFixed(0)} ms), ${fmt(s.inMemory)} jobs in memory${s.backlog ? ', rest on disk' : ''}, loop ticks ${s.ticks}/${s.expectedTicks}, longest gap ${s.maxGapMs.toFixed(0)} ms, longest turn ${s.maxTurnMs.toFixed(1)} ms, RSS ${fmt(s.rssBytes / 1048576)} MiB; empty file ${empty[r]!.ms.toFixed(0)} ms (gap ${empty[r]!.maxGapMs.toFixed(0)}, turn ${empty[r]!.maxTurnMs.toFixed(1)} ms)`,
    );
  }
  removeDb(pristine);
  const ms = full.map((s) => s.ms);
  result(`recovery of ${fmt(COUNT)} pending jobs until ready() (ms)`, summary(empty.map((s) => s.ms), 1), summary(ms, 0), summary(ms.map((m, i) => m / empty[i]!.ms), 1), '< 3,000 ms', median(ms) < 3_000);
  result(
    'longest event-loop gap during recovery (ms, 10 ms interval)',
    summary(empty.map((s) => s.maxGapMs), 0),
    summary(full.map((s) => s.maxGapMs), 0),
    '-',
    'none (informational)',
    undefined,
  );
  result(
    'longest turn of the event loop during recovery (ms, the work behind the longest gap)',
    summary(empty.map((s) => s.maxTurnMs), 1),
    summary(full.map((s) => s.maxTurnMs), 1),
    '-',
    '<= 20 ms',
    median(full.map((s) => s.maxTurnMs)) <= 20,
  );
  console.log(`      jobs in memory after ready(): ${summary(full.map((s) => s.inMemory), 0)}; interval ticks during recovery ${summary(full.map((s) => s.ticks), 0)} of ${summary(full.map((s) => s.expectedTicks), 0)} expected`);
}

// ---------------------------------------------------------------------------------------
// Part 4: RSS of a big backlog
// ---------------------------------------------------------------------------------------

async function rssPart(flags: { quick: boolean; rounds: number }): Promise<void> {
  const SQLITE_N = intOption('--rss-count') ?? (flags.quick ? 5_000 : 1_000_000);
  const MEMORY_N = intOption('--rss-memory-count') ?? (flags.quick ? 2_000 : 100_000);
  const TARGET = 1_000_000;
  console.log(`\n   -- 4. RSS of a backlog: individual await send() for a transport that never answers, one child process each; sqlite ${fmt(SQLITE_N)} messages, memory ${fmt(MEMORY_N)}`);
  const path = newPath('rss');
  const [mem, sql] = [await runChild<RssSample>(['rss', 'memory', '-', String(MEMORY_N)]), await runChild<RssSample>(['rss', 'sqlite', path, String(SQLITE_N)])];
  removeDb(path);
  const mb = (b: number): string => `${fmt(b / 1e6, 0)} MB`;
  for (const [label, s] of [
    ['memory', mem],
    [`sqlite (${sql.driver})`, sql],
  ] as const) {
    console.log(
      `   ${label}: ${fmt(s.count)} messages in ${s.seconds.toFixed(1)} s (${fmt(s.count / s.seconds)}/s); RSS at start ${mb(s.startRssBytes)}, base ${mb(s.baseRssBytes)}, peak ${mb(s.peakRssBytes)} (sampled: ${mb(s.sampledPeak.rssBytes)} after ${fmt(s.sampledPeak.atSend)} sends, V8 heapTotal ${mb(s.sampledPeak.heapTotalBytes)}, the rest ${mb(s.sampledPeak.rssBytes - s.sampledPeak.heapTotalBytes)}), end ${mb(s.endRssBytes)}, heapUsed ${mb(s.heapUsedBytes)} (live after GC ${mb(s.liveHeapBytes)}); ${fmt(s.inMemory)} jobs in memory${s.backlog ? ', rest on disk' : ''}, ${fmt(s.pending)} pending${s.fileBytes > 0 ? `, file ${mb(s.fileBytes)}` : ''}`,
    );
  }
  if (sql.pending < SQLITE_N) throw new Error(`sqlite: ${sql.pending} pending, expected at least ${SQLITE_N}`);
  const perJob = (mem.peakRssBytes - mem.baseRssBytes) / mem.count;
  const extrapolated = mem.baseRssBytes + perJob * TARGET;
  const sqlPerJob = (sql.peakRssBytes - sql.baseRssBytes) / sql.count;
  result(
    `peak RSS with ${fmt(SQLITE_N)} queued (memory store: extrapolated from ${fmt(MEMORY_N)} at ${fmt(perJob)} B/job)`,
    `${mb(mem.baseRssBytes + perJob * SQLITE_N)}`,
    mb(sql.peakRssBytes),
    (sql.peakRssBytes / (mem.baseRssBytes + perJob * SQLITE_N)).toFixed(3),
    SQLITE_N === TARGET ? '< 250 MB' : `< 250 MB at ${fmt(TARGET)} (not judged at this N)`,
    SQLITE_N === TARGET ? sql.peakRssBytes < 250e6 : undefined,
  );
  console.log(
    `      per job over the base RSS: memory ${fmt(perJob)} B, sqlite ${fmt(sqlPerJob)} B; memory store at ${fmt(TARGET)} jobs ~ ${mb(extrapolated)}; sqlite send() rate ${fmt(sql.count / sql.seconds)}/s vs memory ${fmt(mem.count / mem.seconds)}/s`,
  );
}

// ---------------------------------------------------------------------------------------

const childAt = argv.indexOf('--child');
if (childAt >= 0) {
  const [mode, a, b] = argv.slice(childAt + 1);
  let out: unknown;
  if (mode === 'setup') out = await childSetup(a!, Number(b));
  else if (mode === 'recover') out = await childRecover(a!);
  else if (mode === 'rss') out = await childRss(a as 'memory' | 'sqlite', argv[childAt + 3]!, Number(argv[childAt + 4]));
  else throw new Error(`unknown child mode ${String(mode)}`);
  process.stdout.write(`${JSON.stringify(out)}\n`);
  // The rss child leaves its stalled sends and open store behind on purpose.
  process.exit(0);
} else {
  const flags = parseFlags(5);
  const only = option('--only');
  const parts = only === undefined ? PARTS : (only.split(',') as Part[]);
  for (const p of parts) if (!PARTS.includes(p)) throw new Error(`Expected --only to list ${PARTS.join(', ')}, got ${p}`);
  const probe = sqliteStore({ path: ':memory:', driver: DRIVER });
  const driver = probe.driver;
  await probe.close();
  workDir = mkdtempSync(join(option('--dir') ?? tmpdir(), 'mailpush-bench-store-'));
  header('durable store (sqlite vs memory)', flags, `driver ${driver}${DRIVER === 'auto' ? ' (auto)' : ''}, files in ${workDir}; parts: ${parts.join(', ')}`);
  try {
    if (parts.includes('throughput')) await throughputPart(flags);
    if (parts.includes('latency')) await latencyPart(flags);
    if (parts.includes('recovery')) await recoveryPart(flags);
    if (parts.includes('rss')) await rssPart(flags);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
