/**
 * Checkpoints of the SQLite store's WAL on a worker thread, and the store's one-writer lock.
 *
 * A checkpoint copies the WAL into the database file and fsyncs it: tens of ms on a busy disk,
 * which SQLite's automatic checkpoint spends inside a `COMMIT` on the thread that commits (the
 * host's event loop). Here the store's connection runs with `wal_autocheckpoint=0` and a second
 * connection on a worker thread runs `PRAGMA wal_checkpoint(PASSIVE)` when asked: PASSIVE never
 * blocks the writer, and the fsyncs happen off the main thread.
 *
 * Two connections on one file cannot use `locking_mode=EXCLUSIVE` (the second could not read
 * the WAL), so the one-writer-per-file guarantee comes from a sidecar file, `<path>-lock`: a
 * SQLite database file that stays empty, whose exclusive lock a store takes at open and holds
 * until `close()`.
 * The OS drops it when the process dies, also on SIGKILL.
 *
 * @module
 * @internal
 */

import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { openConnection } from './sqlite-driver.js';
import type { BetterSqlite3Constructor, SqliteConnection, SqliteDriverName } from './sqlite-driver.js';

/** Suffix of the lock file beside the database (never deleted: a lock file must outlive its holders). */
export const LOCK_SUFFIX = '-lock';

/**
 * Takes the one-writer lock of `path`: opens `<path>-lock` as a SQLite database in exclusive
 * locking mode and holds its exclusive lock. Throws the library's error (SQLITE_BUSY when
 * another process holds it). Close the returned connection to release the lock.
 */
export function takeWriterLock(path: string, driver: SqliteDriverName, lib: BetterSqlite3Constructor | undefined): SqliteConnection {
  const conn = openConnection(path + LOCK_SUFFIX, { driver, lib });
  try {
    conn.exec('PRAGMA busy_timeout = 0');
    conn.exec('PRAGMA locking_mode = EXCLUSIVE');
    // No journal file beside the lock file.
    conn.exec('PRAGMA journal_mode = MEMORY');
    // In exclusive locking mode the lock taken by BEGIN EXCLUSIVE stays after the transaction
    // ends. ROLLBACK, not COMMIT: committing on a new (empty) file wrote its first page and
    // fsynced it, one of the fsyncs of a new store; the lock file never needs any content.
    conn.exec('BEGIN EXCLUSIVE');
    conn.exec('ROLLBACK');
    return conn;
  } catch (err) {
    try {
      conn.close();
    } catch {
      // The lock failure is the error worth reporting.
    }
    throw err;
  }
}

/** The worker's code (CommonJS, evaluated): one connection that checkpoints when asked. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
let db;
try {
  if (workerData.driver === 'node:sqlite') {
    const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
    db = new DatabaseSync(workerData.path);
  } else {
    const Database = require(workerData.modulePath);
    db = new Database(workerData.path, { timeout: 5000 });
  }
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('PRAGMA synchronous = ' + workerData.synchronous);
  db.exec('PRAGMA wal_autocheckpoint = 0');
} catch (err) {
  parentPort.postMessage({ type: 'error', message: String((err && err.message) || err) });
  db = undefined;
}
const checkpoint = db && db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let mark;
parentPort.on('message', (m) => {
  if (m === 'close') {
    try { if (db) db.close(); } catch {}
    parentPort.close();
    return;
  }
  if (!checkpoint) return;
  const start = performance.now();
  let row;
  let restarted = false;
  try {
    // The writer may add frames meanwhile: go again while that leaves some behind (a WAL that
    // is fully copied is restarted by the next commit instead of growing).
    for (let i = 0; i < 4; i++) {
      row = checkpoint.get();
      if (!row || row.busy !== 0 || row.log === row.checkpointed) break;
    }
    // 'restart': the store holds its commits; when the whole WAL is in the file, a one-row
    // commit here starts the WAL over, so the header write and its fsync (which SQLite makes at
    // every restart) happen on this thread rather than in the store's next commit.
    if (m === 'restart' && row && row.busy === 0 && row.log > 0 && row.log === row.checkpointed) {
      mark = mark || db.prepare("INSERT INTO meta (key, value) VALUES ('checkpoint', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
      mark.run(new Date().toISOString());
      restarted = true;
    }
    parentPort.postMessage({ type: 'done', log: row && row.log, checkpointed: row && row.checkpointed, restarted, ms: performance.now() - start });
  } catch (err) {
    parentPort.postMessage({ type: 'failed', message: String((err && err.message) || err) });
  }
});
if (db) parentPort.postMessage({ type: 'ready' });
`;

/** A running checkpoint worker. */
export interface Checkpointer {
  /**
   * Runs a checkpoint; resolves true when it copied the whole WAL, false when frames remain or
   * it failed (or the worker is gone). While one runs, returns that one. With `restart`, a WAL
   * copied whole is then started over by a one-row commit on the worker (the store holds its
   * own commits meanwhile).
   */
  run(restart?: boolean): Promise<boolean>;
  /** Checkpoints run and their total time in the worker (ms). */
  readonly stats: () => { readonly checkpoints: number; readonly ms: number };
  /** Stops the worker (its connection closes first), after one last checkpoint when `final`. */
  close(final?: boolean): Promise<void>;
}

/** What {@link startCheckpointer} needs. */
export interface CheckpointerOptions {
  readonly path: string;
  readonly driver: SqliteDriverName;
  /** `NORMAL` or `FULL`: the checkpoint's fsyncs follow the store's durability. */
  readonly synchronous: 'NORMAL' | 'FULL';
  /** Called once if the worker cannot run checkpoints: the store then checkpoints itself. */
  readonly onFailure: (reason: string) => void;
}

/**
 * Starts the checkpoint worker, or returns undefined where it cannot run (better-sqlite3 that
 * the worker cannot load by name). The worker is unref'd: it never keeps the process alive.
 */
export function startCheckpointer(options: CheckpointerOptions): Checkpointer | undefined {
  let modulePath: string | undefined;
  if (options.driver === 'better-sqlite3') {
    try {
      modulePath = createRequire(import.meta.url).resolve('better-sqlite3');
    } catch {
      return undefined;
    }
  }
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path: options.path, driver: options.driver, modulePath, synchronous: options.synchronous },
      // The worker needs none of the host's flags or loaders.
      execArgv: [],
      // A small heap: the worker holds a connection and a few messages.
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
      env: {},
      stdout: false,
      stderr: false,
    });
  } catch {
    return undefined;
  }
  worker.unref();
  let running: { promise: Promise<boolean>; settle: (copiedAll: boolean) => void } | undefined;
  let failed = false;
  let checkpoints = 0;
  let ms = 0;
  const fail = (reason: string): void => {
    const settle = running?.settle;
    running = undefined;
    settle?.(false);
    if (failed) return;
    failed = true;
    options.onFailure(reason);
  };
  worker.on('message', (m: { type: string; message?: string; ms?: number; log?: number; checkpointed?: number }) => {
    if (m.type === 'done' || m.type === 'failed') {
      // A checkpoint that failed (disk full, I/O error) is tried again on the next request.
      const settle = running?.settle;
      running = undefined;
      if (m.type === 'done') {
        checkpoints++;
        ms += m.ms ?? 0;
      }
      settle?.(m.type === 'done' && m.log === m.checkpointed);
    } else if (m.type === 'error') {
      fail(m.message ?? 'the checkpoint worker could not open the file');
    }
  });
  worker.on('error', (err) => fail(err instanceof Error ? err.message : String(err)));
  const exited = new Promise<void>((resolveExit) => worker.once('exit', () => resolveExit()));
  void exited.then(() => fail('the checkpoint worker exited'));
  let closing: Promise<void> | undefined;
  return {
    run(restart = false) {
      if (running !== undefined) return running.promise;
      if (failed || closing !== undefined) return Promise.resolve(false);
      let settle!: (copiedAll: boolean) => void;
      const promise = new Promise<boolean>((resolveRun) => (settle = resolveRun));
      running = { promise, settle };
      worker.postMessage(restart ? 'restart' : 'checkpoint');
      return promise;
    },
    stats: () => ({ checkpoints, ms }),
    close(final = false) {
      closing ??= (async () => {
        const usable = !failed;
        failed = true;
        if (final && usable) worker.postMessage('checkpoint');
        worker.postMessage('close');
        // A worker stuck in a checkpoint on a dead disk must not hold close() forever.
        const timer = setTimeout(() => void worker.terminate(), 5000);
        await exited;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}
