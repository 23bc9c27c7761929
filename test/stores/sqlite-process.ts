import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SqliteDriverName } from '../../src/stores/sqlite-driver.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/sqlite-child.ts', import.meta.url));

/** A child process running test/stores/fixtures/sqlite-child.ts, with its JSON lines. */
export interface Child {
  readonly process: ChildProcess;
  /** Every line received so far, parsed. */
  readonly lines: Record<string, unknown>[];
  /** Resolves with the first line (from now on or already received) that `match` accepts. */
  next(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves when the process has exited (or could not start). */
  readonly exited: Promise<number | null>;
  /** Set when the process could not be started (EACCES on a Node binary other users cannot run). */
  spawnError?: Error;
}

/** Starts the child fixture under the same Node (and tsx), optionally as another user. */
export function startChild(args: readonly [mode: string, path: string, driver: SqliteDriverName, ...rest: string[]], asUser?: number): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asUser === undefined ? {} : { uid: asUser, gid: asUser, env: { ...process.env, HOME: '/tmp' } }),
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let buffer = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    let i;
    while ((i = buffer.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffer.slice(0, i)) as Record<string, unknown>;
      buffer = buffer.slice(i + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', (err) => {
      result.spawnError = err;
      resolve(null);
    });
  });
  const result: Child = {
    process: child,
    lines,
    exited,
    next(match, timeoutMs = 15_000) {
      const found = lines.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child: no matching line within ${timeoutMs} ms; stderr: ${stderr.slice(0, 2000)}`)), timeoutMs).unref();
        void exited.then(() => setTimeout(() => reject(new Error(`child exited; stderr: ${stderr.slice(0, 2000)}`)), 50));
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
  return result;
}
