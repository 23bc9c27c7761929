import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isMailError } from '../../src/errors.js';
import { loadBetterSqlite3, loadNodeSqlite, openConnection } from '../../src/stores/sqlite-driver.js';
import type { SqliteDriverName } from '../../src/stores/sqlite-driver.js';
import { APPLICATION_ID, SCHEMA_VERSION } from '../../src/stores/sqlite-schema.js';
import { sqliteStore } from '../../src/stores/sqlite.js';
import type { SqliteStore, SqliteStoreOptions } from '../../src/stores/sqlite.js';
import type { Job, NormalizedMessage, StoredEntry, StoredResult } from '../../src/types.js';
import { DRIVERS, tempDir } from './sqlite-helpers.js';
import { startChild } from './sqlite-process.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;
let n = 0;

/** A cheap entry (no normalization): one job to a.test. */
function entry(metadata: Record<string, unknown> = { n }): StoredEntry {
  const id = `msg_test_${++n}`;
  const message = {
    id,
    messageId: `<${id}@test.example>`,
    from: { address: 'app@example.com' },
    to: [{ address: `user${n}@a.test` }],
    cc: [],
    bcc: [],
    replyTo: [],
    subject: `message ${n}`,
    text: 'hello',
    headers: [],
    attachments: [],
    tags: {},
    metadata,
    category: 'transactional',
    returnPath: 'app@example.com',
    date: T0,
    sizeBytes: 100,
  } satisfies NormalizedMessage;
  const job: Job = { id: `${id}/0`, messageRef: id, domain: 'a.test', recipients: [`user${n}@a.test`], priority: 'normal', state: 'ready', attempt: 0, createdAt: T0, runAt: T0 };
  return { message, jobs: [job] };
}

async function recoveredIds(store: SqliteStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const e of await store.queue.recover()) ids.push(e.message.id);
  return ids;
}

/** Runs `fn`, returning what it threw (or rejected with). */
async function failure(fn: () => unknown): Promise<{ code?: string; message: string; retryable?: boolean }> {
  try {
    await fn();
  } catch (err) {
    expect(isMailError(err), String(err)).toBe(true);
    return err as { code: string; message: string };
  }
  throw new Error('expected a failure');
}

/** Raw SQL on a closed store's file, through the same driver. */
function raw<T>(path: string, driver: SqliteDriverName, fn: (db: ReturnType<typeof openConnection>) => T): T {
  const db = openConnection(path, { driver });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

describe('sqliteStore options', () => {
  it('validates options, naming the option and the value', () => {
    const bad: [unknown, RegExp][] = [
      [undefined, /`options`/],
      [{}, /`path`.*got undefined/],
      [{ path: '' }, /`path`/],
      [{ path: ':memory:', driver: 'sqlite3' }, /`driver`.*got "sqlite3"/],
      [{ path: ':memory:', durability: 'extra' }, /`durability`.*'normal' or 'full'.*got "extra"/],
      [{ path: ':memory:', resultRetentionMs: -1 }, /`resultRetentionMs`.*got -1/],
      [{ path: ':memory:', correlationRetentionMs: Number.NaN }, /`correlationRetentionMs`/],
      [{ path: ':memory:', softBounceRetentionMs: '1d' }, /`softBounceRetentionMs`/],
      [{ path: ':memory:', pragmas: { journal_mode: 'DELETE' } }, /`pragmas.journal_mode`.*left to the store/],
      [{ path: ':memory:', pragmas: { 'cache_size; DROP': 1 } }, /`pragmas`/],
      [{ path: ':memory:', pragmas: { cache_size: '1; DROP TABLE jobs' } }, /`pragmas.cache_size`/],
      [{ path: ':memory:', clock: Date.now }, /`clock`/],
      [{ path: ':memory:', lib: 'better-sqlite3' }, /`lib`/],
    ];
    for (const [options, message] of bad) {
      let thrown: unknown;
      try {
        sqliteStore(options as SqliteStoreOptions);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify(options)).toMatchObject({ code: 'MAILPUSH_ERR_CONFIG' });
      expect((thrown as Error).message).toMatch(message);
    }
  });

  it('accepts extra pragmas', async () => {
    const store = sqliteStore({ path: tmp.file(), pragmas: { cache_size: -4096, mmap_size: 0 } });
    await store.queue.add(entry());
    expect(store.queue.size()).toBe(1);
    await store.close();
  });
});

describe('sqlite drivers', () => {
  it('names better-sqlite3 and the install command when it is missing', () => {
    const missing = (): never => {
      throw Object.assign(new Error("Cannot find module 'better-sqlite3'"), { code: 'MODULE_NOT_FOUND' });
    };
    let thrown: unknown;
    try {
      loadBetterSqlite3(missing);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'MAILPUSH_ERR_MISSING_DEPENDENCY', retryable: false });
    expect((thrown as Error).message).toContain('npm install better-sqlite3');
  });

  it('says how to rebuild a better-sqlite3 built for another Node', () => {
    const wrongAbi = (): never => {
      throw Object.assign(new Error('The module was compiled against a different Node.js version using NODE_MODULE_VERSION 115'), { code: 'ERR_DLOPEN_FAILED' });
    };
    expect(() => loadBetterSqlite3(wrongAbi)).toThrow(/npm rebuild better-sqlite3/);
  });

  it.skipIf(loadNodeSqlite() !== undefined)('refuses driver node:sqlite on a Node without it, naming the option', () => {
    expect(() => sqliteStore({ path: ':memory:', driver: 'node:sqlite' })).toThrow(expect.objectContaining({ code: 'MAILPUSH_ERR_CONFIG', option: 'driver' }));
  });

  it('accepts a user-supplied better-sqlite3 (lib)', async () => {
    if (!DRIVERS.includes('better-sqlite3')) return;
    const store = sqliteStore({ path: ':memory:', lib: loadBetterSqlite3() });
    expect(store.driver).toBe('better-sqlite3');
    await store.close();
  });

  it('loads node:sqlite without printing a warning', () => {
    if (!DRIVERS.includes('node:sqlite')) return;
    const warnings: unknown[] = [];
    const listener = (w: unknown): number => warnings.push(w);
    process.on('warning', listener);
    const store = sqliteStore({ path: ':memory:', driver: 'node:sqlite' });
    void store.close();
    process.off('warning', listener);
    expect(warnings).toEqual([]);
  });
});

for (const driver of DRIVERS) {
  const open = (options: Partial<SqliteStoreOptions> = {}): SqliteStore => sqliteStore({ path: tmp.file(), driver, ...options });

  describe(`sqlite store (${driver})`, () => {
    describe('group commit', () => {
      it('commits the writes of one tick in one transaction, and resolves add() after it', async () => {
        const store = open();
        const before = store.stats().commits;
        const entries = Array.from({ length: 200 }, () => entry());
        let resolved = 0;
        const adds = entries.map((e) => Promise.resolve(store.queue.add(e)).then(() => resolved++));
        await Promise.resolve();
        expect(resolved).toBe(0);
        await Promise.all(adds);
        expect(store.stats().commits).toBe(before + 1);
        expect(store.stats().writes).toBeGreaterThanOrEqual(200);
        expect(store.queue.size()).toBe(200);
        await store.close();
      });

      it('lets a read see the writes made before it', async () => {
        const store = open();
        const e = entry();
        const added = store.queue.add(e);
        // Not awaited: the read commits the pending write first.
        expect(store.queue.status(e.message.id)).toMatchObject({ id: e.message.id });
        expect(store.queue.size()).toBe(1);
        await added;
        await store.close();
      });

      it('refuses metadata a file cannot keep at add(), naming the field, and keeps the rest of the tick', async () => {
        const store = open();
        const good = entry();
        const bad = entry({ when: new Date(T0) });
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        const results = await Promise.allSettled([store.queue.add(good), store.queue.add(bad), store.queue.add(entry({ nested: cyclic })), store.queue.add(entry({ n: Number.NaN }))]);
        expect(results[0]!.status).toBe('fulfilled');
        for (const r of results.slice(1)) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'MAILPUSH_ERR_VALIDATION' } });
        expect(((results[1] as PromiseRejectedResult).reason as Error).message).toMatch(/`metadata.when`.*Date/);
        expect(((results[2] as PromiseRejectedResult).reason as Error).message).toMatch(/circular/);
        expect(await recoveredIds(store)).toEqual([good.message.id]);
        await store.close();
      });

      it('lets remove(), update() and correlation records join the next commit instead of starting their own', async () => {
        const store = open();
        const [a, b, c] = [entry(), entry(), entry()];
        await Promise.all([store.queue.add(a), store.queue.add(b)]);
        const before = store.stats().commits;
        const removed = store.queue.remove(a.jobs[0]!);
        const updated = store.queue.update({ ...b.jobs[0]!, attempt: 1 } as Job);
        const recorded = store.correlation.record({ jobId: a.jobs[0]!.id, id: a.message.id, messageId: a.message.messageId, recipients: a.jobs[0]!.recipients, sentAt: T0 });
        // A turn of the event loop (check phase) comes before the lazy timer: nothing committed yet.
        await new Promise((r) => setImmediate(r));
        expect(store.stats().commits).toBe(before);
        // The next add() commits them all in its transaction.
        await store.queue.add(c);
        await Promise.all([removed, updated, recorded]);
        expect(store.stats().commits).toBe(before + 1);
        expect(store.queue.size()).toBe(2);
        await store.close();
      });

      it('commits a lazy write on its own when no other write comes', async () => {
        const path = tmp.file();
        const store = sqliteStore({ path, driver });
        const e = entry();
        await store.queue.add(e);
        const before = store.stats().commits;
        await store.queue.remove(e.jobs[0]!);
        expect(store.stats().commits).toBe(before + 1);
        await store.close();
        const again = sqliteStore({ path, driver });
        expect(again.queue.size()).toBe(0);
        expect(again.queue.status(e.message.id)).toMatchObject({ jobs: [] });
        await again.close();
      });

      it('copies a job at update(): later changes to the object are not written', async () => {
        const store = open();
        const e = entry();
        await store.queue.add(e);
        const job = e.jobs[0]! as Job;
        job.attempt = 1;
        const written = store.queue.update(job);
        job.attempt = 99;
        await written;
        expect((await store.queue.status(e.message.id))!.jobs[0]!.attempt).toBe(1);
        await store.close();
      });
    });

    describe('status and retention', () => {
      it('answers status(id) for a finished message during the result retention, then forgets it', async () => {
        let now = T0;
        const path = tmp.file();
        const store = sqliteStore({ path, driver, clock: { now: () => now } });
        const e = entry();
        await store.queue.add(e);
        const result: StoredResult = { address: e.jobs[0]!.recipients[0]!, status: 'sent', jobId: e.jobs[0]!.id, attempts: 1, at: T0 };
        await store.queue.remove(e.jobs[0]!, [result]);
        expect(await store.queue.status(e.message.id)).toEqual({ id: e.message.id, messageId: e.message.messageId, jobs: [], results: [result] });
        expect(await recoveredIds(store)).toEqual([]);
        now = T0 + 7 * DAY - 1;
        expect(await store.queue.status(e.message.id)).toBeDefined();
        now = T0 + 7 * DAY;
        expect(await store.queue.status(e.message.id)).toBeUndefined();
        // A commit later than a minute after the last pruning deletes the rows for good.
        now = T0 + 8 * DAY;
        await store.queue.add(entry());
        await store.close();
        const early = sqliteStore({ path, driver, clock: { now: () => T0 } });
        expect(await early.queue.status(e.message.id)).toBeUndefined();
        await early.close();
      });

      it('writes nothing at open when rows have expired: the first commit deletes them', async () => {
        let now = T0;
        const path = tmp.file();
        const store = sqliteStore({ path, driver, clock: { now: () => now } });
        const e = entry();
        await store.queue.add(e);
        await store.queue.remove(e.jobs[0]!);
        await store.close();
        now = T0 + 8 * DAY;
        const later = sqliteStore({ path, driver, clock: { now: () => now } });
        expect(existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0).toBe(0);
        expect(raw(path, driver, (db) => db.prepare('SELECT count(*) AS n FROM messages').get()?.n)).toBe(1);
        await later.queue.add(entry());
        expect(raw(path, driver, (db) => db.prepare('SELECT count(*) AS n FROM messages WHERE id = ?').get(e.message.id)?.n)).toBe(0);
        await later.close();
      });

      it('forgets a finished message at once with resultRetentionMs: 0', async () => {
        const store = open({ resultRetentionMs: 0 });
        const e = entry();
        await store.queue.add(e);
        await store.queue.remove(e.jobs[0]!);
        expect(await store.queue.status(e.message.id)).toBeUndefined();
        await store.close();
      });

      it('keeps a message added without jobs as finished, with its results', async () => {
        const store = open();
        const e = entry();
        const result: StoredResult = { address: 'x@a.test', status: 'suppressed', jobId: e.jobs[0]!.id, attempts: 0, at: T0 };
        await store.queue.add({ message: e.message, jobs: [], results: [result] });
        expect(await recoveredIds(store)).toEqual([]);
        expect(store.queue.size()).toBe(0);
        expect(await store.queue.status(e.message.id)).toMatchObject({ jobs: [], results: [result] });
        await store.close();
      });
    });

    describe('one writer per file', () => {
      it('refuses a second store on the same file in this process, and opens once the first is closed', async () => {
        const path = tmp.file();
        const first = sqliteStore({ path, driver });
        const err = await failure(() => sqliteStore({ path, driver }));
        expect(err.code).toBe('MAILPUSH_ERR_STORE');
        expect(err.message).toMatch(/one writer per file/);
        await first.close();
        await first.close();
        const second = sqliteStore({ path, driver });
        await second.close();
      });

      it('refuses a store in another process while the file is held, and lets it take over once the holder is gone', async () => {
        const path = tmp.file();
        const first = sqliteStore({ path, driver });
        const refused = startChild(['open', path, driver]);
        const line = await refused.next((l) => 'error' in l || 'opened' in l);
        expect(line).toMatchObject({ error: { code: 'MAILPUSH_ERR_STORE' } });
        expect((line.error as { message: string }).message).toMatch(/one writer per file/);
        await refused.exited;
        await first.close();
        const taker = startChild(['open', path, driver]);
        expect(await taker.next((l) => 'error' in l || 'opened' in l)).toEqual({ opened: true });
        await taker.exited;
      });

      it('takes over from a process killed with SIGKILL, with everything it acknowledged', async () => {
        const path = tmp.file();
        const holder = startChild(['hold', path, driver, '50']);
        const ready = await holder.next((l) => 'ready' in l || 'error' in l);
        expect(ready).toMatchObject({ ready: true });
        const err = await failure(() => sqliteStore({ path, driver }));
        expect(err).toMatchObject({ code: 'MAILPUSH_ERR_STORE', retryable: true });
        holder.process.kill('SIGKILL');
        await holder.exited;
        const store = sqliteStore({ path, driver });
        expect((await recoveredIds(store)).sort()).toEqual([...(ready.ids as string[])].sort());
        await store.close();
      });

      it('holds the file against a writer that locks the database itself (an older mailpush), and leaves a -lock file', async () => {
        const path = tmp.file();
        const store = sqliteStore({ path, driver });
        await store.queue.add(entry());
        const other = openConnection(path, { driver });
        try {
          other.exec('PRAGMA busy_timeout = 0');
          other.exec('PRAGMA locking_mode = EXCLUSIVE');
          expect(() => other.exec("BEGIN IMMEDIATE; INSERT INTO meta (key, value) VALUES ('x', 'y'); COMMIT")).toThrow(/locked|busy/i);
        } finally {
          other.close();
        }
        expect(existsSync(`${path}-lock`)).toBe(true);
        // The lock is a lock only: the file stays empty (nothing written, nothing fsynced).
        expect(statSync(`${path}-lock`).size).toBe(0);
        await store.queue.add(entry());
        await store.close();
        const again = sqliteStore({ path, driver });
        expect(await recoveredIds(again)).toHaveLength(2);
        await again.close();
        // And the other way round: a store is refused while such a writer holds the file.
        const older = openConnection(path, { driver });
        try {
          older.exec('PRAGMA locking_mode = EXCLUSIVE');
          older.exec("BEGIN IMMEDIATE; INSERT INTO meta (key, value) VALUES ('x', 'y') ON CONFLICT (key) DO NOTHING; COMMIT");
          const err = await failure(() => sqliteStore({ path, driver }));
          expect(err.code).toBe('MAILPUSH_ERR_STORE');
          expect(err.message).toMatch(/one writer per file/);
        } finally {
          older.close();
        }
        const last = sqliteStore({ path, driver });
        expect(await recoveredIds(last)).toHaveLength(2);
        await last.close();
      });

      it('waits for another connection that holds the write lock for a moment (the checkpoint worker, a wal-index recovery) instead of failing the commit', async () => {
        // With busy_timeout 0 the store's commit failed at once with SQLITE_BUSY ("one writer per
        // file") whenever another connection held the WAL write lock, which the checkpoint
        // worker does for its restart commit and any reader does for a moment when it meets a
        // torn WAL index header: 1,000,000 awaited sends (bench/store.ts --only rss) failed so.
        const path = tmp.file();
        const store = sqliteStore({ path, driver });
        await store.queue.add(entry());
        const open =
          driver === 'node:sqlite'
            ? `const db = new (process.getBuiltinModule('node:sqlite').DatabaseSync)(${JSON.stringify(path)});`
            : `const db = new (require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))}))(${JSON.stringify(path)});`;
        const script = `${open}
          db.exec('BEGIN IMMEDIATE');
          process.stdout.write('locked\\n');
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
          db.exec('ROLLBACK');
          db.close();`;
        const child = spawn(process.execPath, ['--no-warnings', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        const exited = new Promise((resolve) => child.on('exit', resolve));
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => (d.toString().includes('locked') ? resolve() : undefined));
          child.on('exit', (code) => reject(new Error(`the lock holder exited (${String(code)}) before taking the lock`)));
        });
        const started = Date.now();
        await store.queue.add(entry());
        expect(Date.now() - started).toBeGreaterThanOrEqual(100);
        expect(await exited).toBe(0);
        await store.close();
        const again = sqliteStore({ path, driver });
        expect(await recoveredIds(again)).toHaveLength(2);
        await again.close();
      });
    });

    describe('checkpoints', () => {
      it('checkpoints on a worker thread, so the WAL does not grow with the queue', async () => {
        const path = tmp.file();
        const store = sqliteStore({ path, driver });
        const waitFor = async (passes: number): Promise<void> => {
          for (let i = 0; i < 1500 && store.stats().checkpoints < passes; i++) await new Promise((r) => setTimeout(r, 20));
        };
        // The first checkpoint (after 512 commits) starts the worker: wait for its two passes.
        for (let i = 0; i < 600; i++) await store.queue.add(entry());
        await waitFor(2);
        expect(store.stats().checkpoints).toBeGreaterThanOrEqual(2);
        const before = statSync(`${path}-wal`).size;
        // Two more checkpoints with the worker running (a pass that outlasts the 250 ms hold is
        // shared by two checkpoints, so count at least 2 more passes): the WAL restarts from its
        // start, so the file does not grow by the ~32 MB these 1,100 commits write (7 pages each).
        for (let i = 0; i < 1100; i++) await store.queue.add(entry());
        await waitFor(4);
        expect(store.stats().checkpoints).toBeGreaterThanOrEqual(4);
        expect(statSync(`${path}-wal`).size - before).toBeLessThan(24_000_000);
        await store.close();
        expect(existsSync(`${path}-wal`)).toBe(false);
        const again = sqliteStore({ path, driver });
        expect(again.queue.size()).toBe(1700);
        await again.close();
      }, 90_000);

      it('starts the WAL over on the worker after a checkpoint, so the next commit of this thread appends (no WAL-header fsync here)', async () => {
        const path = tmp.file();
        const store = sqliteStore({ path, driver });
        // Bytes 12-15 of the WAL header count its restarts (SQLite's "checkpoint sequence number").
        const restarts = (): number => readFileSync(`${path}-wal`).readUInt32BE(12);
        // Exactly the commits that start the first checkpoint (512), then nothing from this thread.
        while (store.stats().commits < 512) await store.queue.add(entry());
        const before = restarts();
        for (let i = 0; i < 1500 && store.stats().checkpoints < 2; i++) await new Promise((r) => setTimeout(r, 20));
        expect(store.stats().checkpoints).toBeGreaterThanOrEqual(2);
        // The worker's one-row commit restarted the WAL while this thread wrote nothing.
        for (let i = 0; i < 250 && restarts() === before; i++) await new Promise((r) => setTimeout(r, 20));
        expect(restarts()).toBe(before + 1);
        const walBytes = statSync(`${path}-wal`).size;
        // This thread's next commit appends to the restarted WAL: no second restart.
        await store.queue.add(entry());
        expect(restarts()).toBe(before + 1);
        expect(statSync(`${path}-wal`).size).toBeLessThanOrEqual(walBytes);
        await store.close();
        const again = sqliteStore({ path, driver });
        expect(again.queue.size()).toBe(513);
        expect((await recoveredIds(again)).length).toBe(513);
        await again.close();
      }, 90_000);

      it('checkpoints inside commits, as SQLite does by default, with a user-supplied library (lib)', async () => {
        if (driver !== 'better-sqlite3') return;
        const path = tmp.file();
        const store = sqliteStore({ path, driver, lib: loadBetterSqlite3() });
        for (let i = 0; i < 300; i++) await store.queue.add(entry());
        expect(store.stats().checkpoints).toBe(0);
        await store.close();
      });
    });

    describe('crash safety', () => {
      it('keeps every add() that resolved before a SIGKILL, and the file stays intact', async () => {
        const path = tmp.file();
        const child = startChild(['burst', path, driver]);
        // Kill it mid-burst, once a good number of adds were acknowledged.
        await child.next(() => child.lines.filter((l) => 'acked' in l).length >= 20, 30_000);
        child.process.kill('SIGKILL');
        await child.exited;
        const acked = child.lines.flatMap((l) => (l.acked as string[] | undefined) ?? []);
        expect(acked.length).toBeGreaterThanOrEqual(2000);
        const store = sqliteStore({ path, driver });
        const recovered = new Set(await recoveredIds(store));
        expect(acked.filter((id) => !recovered.has(id))).toEqual([]);
        expect(store.queue.size()).toBe(recovered.size);
        await store.close();
        expect(raw(path, driver, (db) => db.prepare('PRAGMA integrity_check').get())).toEqual({ integrity_check: 'ok' });
      });

      it('keeps every resolved add() and remove() of a mailer-like loop (lazy commits) after a SIGKILL', async () => {
        const path = tmp.file();
        const child = startChild(['settle', path, driver]);
        await child.next(() => child.lines.filter((l) => 'removed' in l).length >= 500, 60_000);
        child.process.kill('SIGKILL');
        await child.exited;
        const acked = child.lines.flatMap((l) => (typeof l.acked === 'string' ? [l.acked] : []));
        const removed = new Set(child.lines.flatMap((l) => (typeof l.removed === 'string' ? [l.removed] : [])));
        const store = sqliteStore({ path, driver });
        const recovered = new Set(await recoveredIds(store));
        // Nothing acknowledged is lost: an id is either still queued or its remove() was committed
        // (a remove that had not resolved may or may not be in the file: that job is sent again).
        // A remove commits with the next add(), so the kill can fall between that commit and the
        // child's report of it: the file then shows the message finished with its result.
        const lost: string[] = [];
        for (const id of acked) {
          if (recovered.has(id) || removed.has(id)) continue;
          const status = await store.queue.status(id);
          if (status === undefined || status.jobs.length > 0 || !status.results.some((r) => r.status === 'sent')) lost.push(id);
        }
        expect(lost).toEqual([]);
        expect([...removed].filter((id) => recovered.has(id))).toEqual([]);
        // Every resolved remove() left its message finished, with its result, for status().
        const last = [...removed].pop()!;
        expect(store.queue.status(last)).toMatchObject({ id: last, jobs: [], results: [{ status: 'sent' }] });
        expect(store.queue.size()).toBe(recovered.size);
        await store.close();
        expect(raw(path, driver, (db) => db.prepare('PRAGMA integrity_check').get())).toEqual({ integrity_check: 'ok' });
      }, 90_000);

      it('recovers 100,000 pending jobs (read back in pages, yielding between them)', async () => {
        const path = tmp.file();
        const store = sqliteStore({ path, driver });
        for (let b = 0; b < 10; b++) await Promise.all(Array.from({ length: 10_000 }, () => store.queue.add(entry())));
        await store.close();
        const start = performance.now();
        const again = sqliteStore({ path, driver });
        let jobs = 0;
        for await (const e of await again.queue.recover()) jobs += e.jobs.length;
        const ms = performance.now() - start;
        expect(jobs).toBe(100_000);
        expect(again.queue.size()).toBe(100_000);
        // The 3 s goal is measured by bench/store.ts; here only a bound that catches a blow-up
        // (quadratic paging, a full scan per page): this 2-core CI machine, shared, took 3.5-4.4 s
        // at load 14-17 for what takes ~1 s idle.
        expect(ms).toBeLessThan(20_000);
        await again.close();
      }, 120_000);

      it('uses WAL and checkpoints it on close', async () => {
        const path = tmp.file();
        const store = sqliteStore({ path, driver });
        await store.queue.add(entry());
        expect(existsSync(`${path}-wal`)).toBe(true);
        await store.close();
        expect(existsSync(`${path}-wal`)).toBe(false);
        expect(raw(path, driver, (db) => db.prepare('PRAGMA journal_mode').get())).toEqual({ journal_mode: 'wal' });
      });
    });

    describe('faults', () => {
      it('refuses a file that is not a database, and leaves it as it was', async () => {
        const path = tmp.file();
        const junk = Buffer.from('this is not a database at all, just some text '.repeat(200));
        writeFileSync(path, junk);
        const err = await failure(() => sqliteStore({ path, driver }));
        expect(err.code).toBe('MAILPUSH_ERR_STORE');
        expect(err.message).toMatch(/not a SQLite database/);
        expect(readFileSync(path).equals(junk)).toBe(true);
      });

      it('reports a corrupt store with a STORE error, at open or at recovery', async () => {
        const path = tmp.file();
        const store = sqliteStore({ path, driver });
        for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 100 }, () => store.queue.add(entry())));
        await store.close();
        const bytes = readFileSync(path);
        // Keep the header page, garble the rest.
        for (let i = 4096; i < bytes.length; i += 7) bytes[i] = (bytes[i]! * 31 + 17) & 0xff;
        writeFileSync(path, bytes);
        const err = await failure(async () => {
          const s = sqliteStore({ path, driver });
          try {
            await recoveredIds(s);
          } finally {
            await s.close().catch(() => undefined);
          }
        });
        expect(err.code).toBe('MAILPUSH_ERR_STORE');
        expect(err.message).toMatch(/corrupt|not a SQLite database|malformed/i);
      });

      it('refuses another application’s database and does not touch it', async () => {
        const path = tmp.file();
        raw(path, driver, (db) => db.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('Ann'); PRAGMA user_version = 3"));
        const err = await failure(() => sqliteStore({ path, driver }));
        expect(err.code).toBe('MAILPUSH_ERR_STORE');
        expect(err.message).toMatch(/not a mailpush store.*user_version 3.*customers/);
        expect(raw(path, driver, (db) => [db.prepare('SELECT name FROM customers').all(), db.prepare('PRAGMA user_version').get()])).toEqual([[{ name: 'Ann' }], { user_version: 3 }]);
      });

      it('refuses a store written by a newer mailpush', async () => {
        const path = tmp.file();
        const store = sqliteStore({ path, driver });
        await store.close();
        raw(path, driver, (db) => db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`));
        const err = await failure(() => sqliteStore({ path, driver }));
        expect(err).toMatchObject({ code: 'MAILPUSH_ERR_STORE', retryable: false });
        expect(err.message).toMatch(new RegExp(`newer mailpush \\(schema version ${SCHEMA_VERSION + 1}; this one reads up to ${SCHEMA_VERSION}\\)`));
        expect(raw(path, driver, (db) => db.prepare('PRAGMA application_id').get())).toEqual({ application_id: APPLICATION_ID });
      });

      it('opens an existing store at the current version as it is', async () => {
        const path = tmp.file();
        const store = sqliteStore({ path, driver });
        const e = entry();
        await store.queue.add(e);
        await store.close();
        const again = sqliteStore({ path, driver });
        expect(await recoveredIds(again)).toEqual([e.message.id]);
        await again.close();
        expect(raw(path, driver, (db) => db.prepare('PRAGMA user_version').get())).toEqual({ user_version: SCHEMA_VERSION });
      });

      it('upgrades a version 3 file (with the index of open messages) and pages it as before', async () => {
        const path = tmp.file();
        const store = sqliteStore({ path, driver });
        const entries = Array.from({ length: 7 }, () => entry());
        await Promise.all(entries.map((e) => store.queue.add(e)));
        await store.queue.remove(entries[2]!.jobs[0]!);
        await store.queue.remove(entries[5]!.jobs[0]!);
        await store.close();
        // What mailpush wrote before version 4.
        raw(path, driver, (db) => db.exec('CREATE INDEX messages_open ON messages (seq) WHERE finished_at IS NULL; PRAGMA user_version = 3'));
        const again = sqliteStore({ path, driver });
        const open = entries.filter((_, i) => i !== 2 && i !== 5).map((e) => e.message.id);
        expect(await recoveredIds(again)).toEqual(open);
        const first = await again.queue.page(undefined, 3);
        expect(first.entries.map((e) => e.message.id)).toEqual(open.slice(0, 3));
        const second = await again.queue.page(first.cursor, 3);
        expect(second.entries.map((e) => e.message.id)).toEqual(open.slice(3));
        expect(second.cursor).toBeUndefined();
        expect(again.queue.size()).toBe(5);
        await again.close();
        expect(raw(path, driver, (db) => [db.prepare('PRAGMA user_version').get(), db.prepare("SELECT name FROM sqlite_schema WHERE name = 'messages_open'").all()])).toEqual([
          { user_version: SCHEMA_VERSION },
          [],
        ]);
        expect(SCHEMA_VERSION).toBe(4);
      });

      it('reports a full disk: writes of the failed transaction are rejected and none is kept', async () => {
        const path = tmp.file();
        // max_page_count is clamped to the pages in use: the file cannot grow.
        const store = sqliteStore({ path, driver, pragmas: { max_page_count: 1 } });
        const acked: string[] = [];
        const refused: string[] = [];
        let error: { code?: string; message?: string } | undefined;
        for (let round = 0; round < 50 && error === undefined; round++) {
          const entries = Array.from({ length: 20 }, () => entry({ pad: 'x'.repeat(500) }));
          const results = await Promise.allSettled(entries.map((e) => store.queue.add(e)));
          results.forEach((r, i) => {
            if (r.status === 'fulfilled') acked.push(entries[i]!.message.id);
            else {
              refused.push(entries[i]!.message.id);
              error = r.reason as typeof error;
            }
          });
        }
        expect(error).toMatchObject({ code: 'MAILPUSH_ERR_STORE', retryable: true });
        expect(error!.message).toMatch(/full/);
        expect(refused).toHaveLength(20);
        expect(store.stats().failedCommits).toBeGreaterThan(0);
        // The store keeps working for reads, and holds exactly what it acknowledged.
        expect(await recoveredIds(store)).toEqual(acked);
        expect(store.queue.size()).toBe(acked.length);
        for (const id of refused) expect(await store.queue.status(id)).toBeUndefined();
        await store.close();
        const again = sqliteStore({ path, driver });
        expect(await recoveredIds(again)).toEqual(acked);
        await again.close();
      });

      const root = process.getuid?.() === 0;
      const NOBODY = 65534;

      /** A small tmpfs of its own that can be made read-only (root only; this machine allows mounts). */
      const readOnlyMount = () => {
        const dir = mkdtempSync(join(tmpdir(), 'mailpush-ro-'));
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
        return {
          dir,
          remountReadOnly: () => execFileSync('mount', ['-o', 'remount,ro', dir]),
          cleanup: () => {
            try {
              execFileSync('umount', [dir]);
            } finally {
              rmSync(dir, { recursive: true, force: true });
            }
          },
        };
      };
      let mountWorks: boolean | undefined;
      const readOnlyMountWorks = (): boolean => {
        if (mountWorks === undefined) {
          try {
            readOnlyMount().cleanup();
            mountWorks = true;
          } catch {
            mountWorks = false;
          }
        }
        return mountWorks;
      };

      it('reports a folder it cannot write to (a new file)', async () => {
        if (root && readOnlyMountWorks()) {
          // Root writes through permission bits: a read-only file system refuses it too.
          const mount = readOnlyMount();
          try {
            mount.remountReadOnly();
            const path = join(mount.dir, 'new.db');
            const err = await failure(() => sqliteStore({ path, driver }));
            expect(err.code).toBe('MAILPUSH_ERR_STORE');
            expect(existsSync(path)).toBe(false);
          } finally {
            mount.cleanup();
          }
          return;
        }
        const dir = tempDir();
        try {
          chmodSync(dir.dir, 0o555);
          const path = dir.file('new.db');
          if (root) {
            const child = startChild(['open', path, driver], NOBODY);
            // Root without a read-only mount tests as another user; one that cannot run this Node fails here.
            const line = await child.next((l) => 'error' in l || 'opened' in l);
            expect(line).toMatchObject({ error: { code: 'MAILPUSH_ERR_STORE' } });
            expect((line.error as { message: string }).message).toMatch(/cannot be opened or created|read-only/);
          } else {
            const err = await failure(() => sqliteStore({ path, driver }));
            expect(err.code).toBe('MAILPUSH_ERR_STORE');
          }
          expect(existsSync(path)).toBe(false);
        } finally {
          chmodSync(dir.dir, 0o755);
          dir.cleanup();
        }
      });

      it('reports a read-only folder holding an existing store', async () => {
        if (root && readOnlyMountWorks()) {
          const mount = readOnlyMount();
          try {
            const path = join(mount.dir, 'kept.db');
            const store = sqliteStore({ path, driver });
            await store.queue.add(entry());
            await store.close();
            mount.remountReadOnly();
            const err = await failure(() => sqliteStore({ path, driver }));
            expect(err.code).toBe('MAILPUSH_ERR_STORE');
            // SQLite reports a read-only file system as an I/O error when it opens the WAL.
            expect(err.message).toMatch(/read-only|cannot be opened|I\/O error/);
          } finally {
            mount.cleanup();
          }
          return;
        }
        const dir = tempDir();
        try {
          const path = dir.file('kept.db');
          const store = sqliteStore({ path, driver });
          await store.queue.add(entry());
          await store.close();
          chmodSync(dir.dir, 0o555);
          if (root) {
            // The file itself stays writable by the user: only the folder is read-only.
            chownSync(path, NOBODY, NOBODY);
            const child = startChild(['open', path, driver], NOBODY);
            // Root without a read-only mount tests as another user; one that cannot run this Node fails here.
            const line = await child.next((l) => 'error' in l || 'opened' in l);
            expect(line).toMatchObject({ error: { code: 'MAILPUSH_ERR_STORE' } });
            expect((line.error as { message: string }).message).toMatch(/read-only|cannot be opened/);
          } else {
            const err = await failure(() => sqliteStore({ path, driver }));
            expect(err.code).toBe('MAILPUSH_ERR_STORE');
          }
        } finally {
          chmodSync(dir.dir, 0o755);
          dir.cleanup();
        }
      });
    });

    it('rejects use after close with CLOSED', async () => {
      const store = open();
      await store.close();
      await expect(store.queue.add(entry())).rejects.toMatchObject({ code: 'MAILPUSH_ERR_CLOSED' });
      expect(() => store.queue.size()).toThrow(expect.objectContaining({ code: 'MAILPUSH_ERR_CLOSED' }));
    });
  });
}
