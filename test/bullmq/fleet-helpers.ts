/**
 * Helpers of the fleet tests (test/bullmq/fleet.test.ts): processes of a mailer fleet
 * (test/fixtures/bullmq-fleet-child.ts) that take commands on stdin, and a private
 * redis-server that a test may stop and start again.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/bullmq-fleet-child.ts', import.meta.url));

export type Line = Record<string, unknown>;

/** A process of the fleet: its JSON lines, and commands sent to it. */
export interface FleetChild {
  readonly process: ChildProcess;
  readonly lines: Line[];
  /** Resolves with the first line (received or to come) that `match` accepts. */
  next(match: (line: Line) => boolean, timeoutMs?: number): Promise<Line>;
  /** Sends a command; resolves with the first answer of `phase` (or any answer without a phase). */
  request(command: Record<string, unknown>, timeoutMs?: number, phase?: string): Promise<Line>;
  /** The answer of a command sent earlier, by its `rid`. */
  answer(rid: number, phase?: string, timeoutMs?: number): Promise<Line>;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

let rids = 0;

/** Starts one process of the fleet with `config` (see the fixture's header). */
export function startFleetChild(config: Record<string, unknown>): FleetChild {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(config)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  const waiters: { match: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  let buffer = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    let i;
    while ((i = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      let line: Line;
      try {
        line = JSON.parse(text) as Line;
      } catch {
        err += `(stdout) ${text}\n`;
        continue;
      }
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  // A child killed while the test writes to it must not crash the test with EPIPE.
  child.stdin!.on('error', () => undefined);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(null));
  });
  const next = (match: (line: Line) => boolean, timeoutMs = 20_000): Promise<Line> => {
    const found = lines.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching line within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)), timeoutMs);
      waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`child exited; stderr: ${err.slice(-2000)}`));
      });
    });
  };
  const answer = (rid: number, phase?: string, timeoutMs = 20_000): Promise<Line> => next((l) => l.rid === rid && (phase === undefined || l.phase === phase || l.phase === undefined), timeoutMs);
  return {
    process: child,
    lines,
    exited,
    stderr: () => err,
    next,
    answer,
    request(command, timeoutMs, phase) {
      const rid = ++rids;
      child.stdin!.write(`${JSON.stringify({ ...command, rid })}\n`);
      return answer(rid, phase, timeoutMs);
    },
  };
}

/** Sends a command without waiting: returns its `rid`, for {@link FleetChild.answer}. */
export function post(child: FleetChild, command: Record<string, unknown>): number {
  const rid = ++rids;
  child.process.stdin!.write(`${JSON.stringify({ ...command, rid })}\n`);
  return rid;
}

/** A TCP port nobody listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts a private redis-server on `port` (no persistence) and resolves once it accepts connections. */
export async function startRedisServer(port: number): Promise<ChildProcess> {
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  return server;
}

/** Kills a redis-server started by {@link startRedisServer} and waits for it to exit. */
export async function stopRedisServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGKILL');
  await exited;
}

/** Percentile `p` (0..100) of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
