/**
 * Shared pieces of the benchmarks: command-line flags, statistics, output and the SMTP sink
 * child process. Not a benchmark itself.
 *
 * @module
 */

import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Mailer } from '../src/mailer/index.js';

/** Repository root, the working directory of child processes (so `--import tsx` resolves). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Command-line flags every benchmark understands. */
export interface BenchFlags {
  /** `--quick`: a short smoke run (CI proves the benchmark still runs). */
  readonly quick: boolean;
  /** `--rounds N`: repetitions to take the median of. @default 1 with --quick, else `fullRounds` */
  readonly rounds: number;
}

/** Reads `--quick` and `--rounds N` from argv. */
export function parseFlags(fullRounds: number, argv: readonly string[] = process.argv.slice(2)): BenchFlags {
  const quick = argv.includes('--quick');
  const i = argv.indexOf('--rounds');
  let rounds = quick ? 1 : fullRounds;
  if (i >= 0) {
    const n = Number(argv[i + 1]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`Expected --rounds to be an integer >= 1, got ${String(argv[i + 1])}`);
    rounds = n;
  }
  return { quick, rounds };
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Value at quantile q (0..1) of a list, nearest-rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx]!;
}

/** "median (min–max, spread ±x%)" for a list of samples. */
export function summary(values: readonly number[], digits = 2, unit = ''): string {
  const m = median(values);
  if (values.length === 1) return `${fmt(m, digits)}${unit}`;
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const spread = m === 0 ? 0 : ((hi - lo) / 2 / Math.abs(m)) * 100;
  return `${fmt(m, digits)}${unit} (min ${fmt(lo, digits)}, max ${fmt(hi, digits)}, spread ±${spread.toFixed(1)}%, n=${values.length})`;
}

/** Number with fixed digits and thousands separators. */
export function fmt(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** One line describing the machine, printed by every benchmark. */
export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  return `node ${process.version}, ${cpus().length} cpu(s) (${cpu.trim()}), ${process.platform}/${process.arch}`;
}

let quickRun = false;

/** Prints the benchmark header. */
export function header(name: string, flags: BenchFlags, details: string): void {
  quickRun = flags.quick;
  console.log(`\n== ${name}${flags.quick ? ' (--quick)' : ''} ==`);
  console.log(`   ${machine()}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other processes compete for the cores)`);
  console.log(`   ${details}; rounds: ${flags.rounds}`);
}

/** Prints a result line: metric, baseline, mailpush, ratio, target. A --quick run is too short to judge a target. */
export function result(metric: string, baseline: string, mailpush: string, ratio: string, target: string, met: boolean | undefined): void {
  const verdict = met === undefined ? '' : quickRun ? '  [quick run: not judged]' : met ? '  [target met]' : '  [target MISSED]';
  console.log(`   ${metric}: baseline ${baseline} | mailpush ${mailpush} | ratio ${ratio} | target ${target}${verdict}`);
}

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export function nowMs(): number {
  return performance.now();
}

/** Lets pending I/O and timers run (one macrotask turn). */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Waits `ms` milliseconds (ref'ed timer). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An SMTP sink running in a child process (bench/sink-process.ts, parse: false). */
export interface SinkChild {
  readonly host: string;
  readonly port: number;
  /** Messages and bytes the sink accepted so far. */
  count(): Promise<{ count: number; bytes: number }>;
  /** Closes the sink and waits for the process to exit. */
  close(): Promise<void>;
}

/**
 * Starts bench/sink-process.ts in its own Node process, so the sink's CPU time is not
 * charged to the client under test (the machine has few cores, so it still competes).
 */
export async function startSinkChild(): Promise<SinkChild> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', 'bench/sink-process.ts'], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout });
  const pending: ((value: Record<string, unknown>) => void)[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  lines.on('line', (line) => {
    const next = pending.shift();
    if (next !== undefined) next(JSON.parse(line) as Record<string, unknown>);
  });
  const nextLine = (): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      pending.push(resolve);
      void exited.then(() => reject(new Error(`sink process exited: ${stderr.trim()}`)));
    });
  const hello = await nextLine();
  const host = String(hello.host);
  const port = Number(hello.port);
  return {
    host,
    port,
    async count() {
      const reply = nextLine();
      child.stdin.write('count\n');
      const r = await reply;
      return { count: Number(r.count), bytes: Number(r.bytes) };
    },
    async close() {
      child.stdin.end('close\n');
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Postfix smtp-sink (C, no greeting delay: the client is more CPU-bound than with our sink)
// ---------------------------------------------------------------------------------------

/** Path of Postfix's smtp-sink (Debian package postfix). */
export const SMTP_SINK = '/usr/sbin/smtp-sink';

/** The TCP port a process listens on, from /proc (smtp-sink does not print it when given port 0). */
function listeningPort(pid: number): number | undefined {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m !== null) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return undefined;
  }
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // f[1] = local "0100007F:9339", f[3] = state ("0A" = LISTEN), f[9] = inode
    if (f[3] === '0A' && inodes.has(f[9] ?? '')) return parseInt(f[1]!.split(':')[1]!, 16);
  }
  return undefined;
}

/** Starts Postfix's smtp-sink on 127.0.0.1, an ephemeral port; counts messages from its `-c` counters. */
export async function startPostfixSink(): Promise<SinkChild> {
  const args = ['-c', '-4', '127.0.0.1:0', '256'];
  // smtp-sink refuses to run as root without dropping privileges.
  if (process.getuid?.() === 0) args.unshift('-u', 'nobody');
  const child: ChildProcessWithoutNullStreams = spawn(SMTP_SINK, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let messages = 0;
  let output = '';
  // The counters come as a stream of `... mesg=N ...` updates: read only the newest one (a
  // regex over a long buffer on every chunk cost the client ~30 µs per message).
  const onData = (chunk: Buffer): void => {
    output = (output.slice(-64) + chunk.toString()).slice(-4096);
    const at = output.lastIndexOf('mesg=');
    if (at < 0) return;
    const m = /^mesg=(\d+)/.exec(output.slice(at));
    if (m !== null) messages = Math.max(messages, Number(m[1]));
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let port: number | undefined;
  for (let i = 0; i < 100 && port === undefined; i++) {
    if (child.exitCode !== null) break;
    await sleep(20);
    if (child.pid !== undefined) port = listeningPort(child.pid);
  }
  if (port === undefined) {
    child.kill();
    throw new Error(`smtp-sink did not start: ${output.trim()}`);
  }
  return {
    host: '127.0.0.1',
    port,
    count: () => Promise.resolve({ count: messages, bytes: 0 }),
    async close() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Counts of a mailer's `sent` and `failed` events (the first failure is printed). */
export interface OutcomeCounts {
  readonly sent: number;
  readonly failed: number;
}

/** Counts the mailer's outcomes from now on; the returned object's fields stay current. */
export function countOutcomes(mailer: Mailer): OutcomeCounts {
  const counts = { sent: 0, failed: 0 };
  mailer.on('sent', () => {
    counts.sent++;
  });
  mailer.on('failed', (e) => {
    if (++counts.failed === 1) console.error(`   first failure: ${e.error.code} ${e.error.message}`);
  });
  return counts;
}

/** Throws unless exactly `count` messages were sent and none failed. */
export function expectAllSent(outcomes: OutcomeCounts, count: number, label: string): void {
  const { sent, failed } = outcomes;
  if (sent !== count || failed !== 0) throw new Error(`${label}: ${sent} sent, ${failed} failed, expected ${count} sent`);
}
