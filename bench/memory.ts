/**
 * Memory per queued job: 100,000 small messages (~300 B of text, one recipient each, 1,000
 * recipient domains) queued in a mailer, against the same 100,000 normalized messages held
 * in a plain array (the baseline), so the ratio and the difference show what the queue adds
 * per job (job object, message record, store journal entry, heap or lane slot).
 *
 * Two ways of holding jobs are measured:
 * - scheduled: `sendAt` one hour ahead, so every job waits in the timer heap;
 * - ready: a transport that never answers, so 50 jobs are in flight and the rest wait in
 *   the per-domain ready lanes (the backlog of a slow transport).
 *
 * Each measurement runs in a fresh child process started with `--expose-gc` (RSS never
 * shrinks back reliably, so one process per measurement), after two forced collections.
 * "heap" is `heapUsed` plus `arrayBuffers`: the contents of typed arrays and Buffers live
 * outside the JS heap, and `heapUsed` alone would not count a structure kept in them.
 *
 * Run: npx tsx bench/memory.ts [--quick] [--rounds N]
 *  (it starts `node --expose-gc --import tsx bench/memory.ts --child <mode> <count>` itself)
 */

import { spawn } from 'node:child_process';
import { createMailer } from '../src/mailer/index.js';
import { normalizeMessage } from '../src/message/normalize.js';
import type { MessageInput, NormalizedMessage, SendResult, Transport } from '../src/types.js';
import { ROOT, fmt, header, median, parseFlags, result, summary } from './common.js';

type Mode = 'baseline' | 'scheduled' | 'ready';
const MODES: readonly Mode[] = ['baseline', 'scheduled', 'ready'];
const DOMAINS = 1_000;

interface Sample {
  readonly rssBytes: number;
  /** `heapUsed` + `arrayBuffers` (typed array contents are outside the JS heap). */
  readonly heapUsedBytes: number;
  readonly count: number;
}

const filler = 'We have received your request and will get back to you shortly. Thank you for your patience. ';

function makeMessage(i: number): MessageInput {
  // Personalized text, as a real campaign has: every message holds its own ~300 B string.
  const text = `Hello user ${i},\n\n${filler}${filler}${filler.slice(0, 70)}\n\nRef ${i.toString(36)}`;
  return { from: 'News <news@example.com>', to: `user${i}@d${i % DOMAINS}.example`, subject: `Update ${i}`, text };
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run with node --expose-gc');
  g();
  g();
}

async function child(mode: Mode, count: number): Promise<void> {
  // Warm the code paths (and their allocations) before the baseline snapshot.
  const warm = normalizeMessage(makeMessage(0), { now: Date.now() });
  gc();
  const before = process.memoryUsage();
  let keep: unknown;
  if (mode === 'baseline') {
    const held: NormalizedMessage[] = [];
    const now = Date.now();
    for (let i = 0; i < count; i++) held.push(normalizeMessage(makeMessage(i), { now }));
    keep = held;
  } else {
    const never: Transport = {
      name: 'stalled',
      capabilities: { rawMime: true },
      send: () => new Promise<SendResult>(() => undefined),
    };
    const mailer = createMailer({ transport: never });
    mailer.on('sent', () => undefined);
    await mailer.ready();
    const sendAt = mode === 'scheduled' ? Date.now() + 3_600_000 : undefined;
    for (let i = 0; i < count; i++) await mailer.send(makeMessage(i), sendAt === undefined ? {} : { sendAt });
    const stats = mailer.stats();
    const waiting = stats.scheduled + stats.inflight + Object.values(stats.queued).reduce((a, b) => a + b, 0);
    if (waiting !== count) throw new Error(`expected ${count} jobs waiting, got ${waiting}`);
    keep = mailer;
  }
  gc();
  const after = process.memoryUsage();
  const sample: Sample = { rssBytes: after.rss - before.rss, heapUsedBytes: after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers), count };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
  // Keep the measured objects reachable until after the snapshot.
  if (keep === undefined || warm === undefined) process.exitCode = 1;
  process.exit();
}

function runChild(mode: Mode, count: number): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/memory.ts', '--child', mode, String(count)], { cwd: ROOT });
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('exit', (code) => {
      if (code !== 0) reject(new Error(`memory child ${mode} failed (${String(code)}): ${err}`));
      else resolve(JSON.parse(out.trim()) as Sample);
    });
  });
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  await child(process.argv[childAt + 1] as Mode, Number(process.argv[childAt + 2]));
} else {
  const flags = parseFlags(3);
  const COUNT = flags.quick ? 2_000 : 100_000;
  header('memory per queued job', flags, `${fmt(COUNT)} jobs (~300 B text, 1 recipient, ${fmt(DOMAINS)} domains), one child process per measurement`);
  const samples: Record<Mode, Sample[]> = { baseline: [], scheduled: [], ready: [] };
  for (let r = 0; r < flags.rounds; r++) {
    const order = r % 2 === 0 ? MODES : [...MODES].reverse();
    for (const mode of order) samples[mode].push(await runChild(mode, COUNT));
    const b = samples.baseline[r]!;
    console.log(
      `   round ${r + 1}: baseline ${fmt(b.heapUsedBytes / COUNT)} B/job heap, scheduled ${fmt(samples.scheduled[r]!.heapUsedBytes / COUNT)}, ready ${fmt(samples.ready[r]!.heapUsedBytes / COUNT)}`,
    );
  }
  for (const key of ['heapUsedBytes', 'rssBytes'] as const) {
    const base = samples.baseline.map((s) => s[key] / COUNT);
    for (const mode of ['scheduled', 'ready'] as const) {
      const mine = samples[mode].map((s) => s[key] / COUNT);
      const ratios = mine.map((m, i) => m / base[i]!);
      const over = mine.map((m, i) => m - base[i]!);
      result(
        `${key === 'heapUsedBytes' ? 'heap (heapUsed + arrayBuffers)' : 'RSS'} per job, ${mode}`,
        summary(base, 0, ' B'),
        summary(mine, 0, ' B'),
        summary(ratios, 2),
        'none (informational)',
        undefined,
      );
      console.log(`      queue overhead per job (${mode}): ${summary(over, 0, ' B')}; total for ${fmt(COUNT)} jobs ${fmt(median(mine) * COUNT / 1048576, 1)} MiB`);
    }
  }
}
