/**
 * A test fixture in a child process (the same Node, with tsx) that prints one JSON object per
 * line on stdout: the lines as they come, waiting for a matching one, the exit, stderr, and
 * commands written to its stdin. The SQLite, BullMQ limiter and fleet tests drive their
 * processes through it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One line printed by the child. */
export type Line = Record<string, unknown>;

/** Options of {@link startJsonChild}. */
export interface JsonChildOptions {
  /** Keep stdin open for {@link JsonChild.send}. @default false */
  readonly stdin?: boolean;
  /** Run as this uid/gid (a child that must not read the parent's files), with HOME=/tmp. */
  readonly asUser?: number;
  /** Timeout of `next()` when none is given, in ms. @default 15_000 */
  readonly timeoutMs?: number;
}

/** A running child and its JSON lines. */
export interface JsonChild {
  readonly process: ChildProcess;
  /** Every line received so far, parsed (a line that is not JSON goes to stderr()). */
  readonly lines: Line[];
  /** Resolves with the first line (already received or to come) that `match` accepts; rejects on timeout or when the child exits first. */
  next(match: (line: Line) => boolean, timeoutMs?: number): Promise<Line>;
  /** Writes `value` as one JSON line to the child's stdin (with `stdin: true`). */
  send(value: unknown): void;
  /** Resolves with the exit code when the child has exited (null when it could not start). */
  readonly exited: Promise<number | null>;
  /** What the child wrote to stderr so far. */
  stderr(): string;
  /** Set when the process could not be started (EACCES on a Node binary another user cannot run). */
  spawnError?: Error;
}

/** Starts `script` (a path) with `args` under the same Node and tsx, with cwd the repository root. */
export function startJsonChild(script: string, args: readonly string[], options: JsonChildOptions = {}): JsonChild {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    ...(options.asUser === undefined ? {} : { uid: options.asUser, gid: options.asUser, env: { ...process.env, HOME: '/tmp' } }),
  });
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
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', (e) => {
      result.spawnError = e;
      resolve(null);
    });
  });
  const result: JsonChild = {
    process: child,
    lines,
    exited,
    stderr: () => err,
    send(value) {
      if (child.stdin === null) throw new Error('startJsonChild: the child was started without stdin: true');
      child.stdin.write(`${JSON.stringify(value)}\n`);
    },
    next(match, timeoutMs = options.timeoutMs ?? 15_000) {
      const found = lines.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching line within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)), timeoutMs);
        timer.unref();
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        // Lines still in the pipe when 'exit' fires get a moment to arrive.
        void exited.then(() =>
          setTimeout(() => {
            clearTimeout(timer);
            reject(new Error(`child exited; stderr: ${err.slice(-2000)}`));
          }, 50),
        );
      });
    },
  };
  return result;
}
