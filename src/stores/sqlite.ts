/**
 * `mailpush/stores/sqlite`: everything a mailer must keep across restarts, in one SQLite file.
 *
 * One {@link sqliteStore} holds the queue journal (messages, jobs and per-recipient results),
 * the suppression list, idempotency keys, soft-bounce counters, correlation data of sent jobs
 * and webhook replay ids. It runs on Node's built-in `node:sqlite` where Node has it (22.13+,
 * 24) and on better-sqlite3 elsewhere (an optional peer dependency: `npm install better-sqlite3`).
 *
 * How it keeps its promises:
 * - **Group commit.** Writes made in the same tick of the event loop go into one transaction,
 *   committed in a `setImmediate` callback; each write's promise settles after that commit, so
 *   `add()` resolving means the message is in the file. A failed transaction rejects every write
 *   in it and none of them is kept. Reads commit the pending writes of their part first.
 *   A job's later transitions (`update`, `remove`) and correlation records, which the mailer
 *   writes without waiting on them, start no transaction of their own: they join the next
 *   commit (typically the next `add()`) or commit within 2 ms. A kill inside that window loses
 *   those outcomes, and the jobs are sent again with the same Message-ID (at least once);
 *   nothing acknowledged to a caller is ever lost.
 * - **Durability.** WAL journal. `durability: 'normal'` (default, `synchronous=NORMAL`): a
 *   committed write survives a crash or kill of the process; a power loss or OS crash may lose
 *   the last transactions (never corrupts the file). `durability: 'full'` (`synchronous=FULL`):
 *   every commit is fsynced and survives power loss too, at the cost of one fsync per group.
 * - **Checkpoints off the event loop.** Copying the WAL into the file (with its fsyncs) runs on
 *   a worker thread with its own connection (`wal_checkpoint(PASSIVE)` every 512 commits; the
 *   worker starts with the first checkpoint, not at open, as `new Worker()` holds the loop); the
 *   store's connection never checkpoints inside a commit (`wal_autocheckpoint=0`). A second,
 *   short pass copies what was committed during the first while new commits wait (a few ms,
 *   250 ms at most; the event loop runs on and writes keep queueing), and then the worker
 *   starts the WAL over with a one-row commit (`meta` key `checkpoint`): SQLite writes and
 *   fsyncs a new WAL header at every restart, and that fsync happens on the worker inside the
 *   same wait instead of in the store's next commit on the event loop (which then appends to
 *   the restarted WAL). The commits wait about as long as before (the second pass and one
 *   header fsync either way); what changes is that the event loop runs on meanwhile. Where the
 *   worker cannot run (a user-supplied `lib`, `':memory:'`, a worker that fails), SQLite
 *   checkpoints inside commits every 10,000 pages as before. `sqliteStore()` itself writes
 *   nothing (the first write to an empty WAL fsyncs its header): the owner row goes with the
 *   first commit, or at `close()`.
 * - **Few pages per commit.** Each page a transaction dirties is one WAL frame written (two
 *   `pwrite`s and a checksum): the cost of a commit is its pages. Schema version 4 dropped the
 *   index of open messages (page() finds them through the jobs table's key): 8.8% fewer frames
 *   for a sent message.
 * - **One writer per file.** At open the store takes an exclusive lock on a sidecar file,
 *   `<path>-lock` (an empty file, never deleted), held until `close()`. A second store
 *   on the same file, in this or another process, is refused with a STORE error; the lock is
 *   released when the holder closes or its process dies (also on SIGKILL), and the next opener
 *   takes over. Two processes never send the same queue. A writer that locks the database file
 *   itself (an older mailpush, `locking_mode=EXCLUSIVE`) is refused while a store holds it, and
 *   refuses a store while it holds the file.
 * - **Versioned schema.** `PRAGMA application_id` marks the file as ours and `PRAGMA
 *   user_version` is the schema version, upgraded by forward migrations at open. A file written
 *   by a newer mailpush, or another application's database, is refused and left untouched.
 *
 * @example
 * ```ts
 * import { createMailer } from 'mailpush';
 * import { sqliteStore } from 'mailpush/stores/sqlite';
 *
 * const mailer = createMailer({ transport, store: sqliteStore({ path: 'mailpush.db' }) });
 * ```
 *
 * @module
 */

import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { realpathSync } from 'node:fs';
import { configError, isMailError, MailError, MailErrorCode } from '../errors.js';
import type {
  CampaignStore,
  Clock,
  CorrelationStore,
  IdempotencyStore,
  Job,
  MailerStore,
  QueueStore,
  ReplayStore,
  SentRecord,
  SoftBounceCounter,
  StoredEntry,
  StoredPage,
  StoredResult,
  StoredStatus,
  SubscriptionStore,
  SuppressionEntry,
  SuppressionStore,
} from '../types.js';
import { MAX_SOFT_BOUNCES_PER_ADDRESS } from './soft-bounce-memory.js';
import { decodeJob, decodeMessage, encodeJob, encodeMessage, encodeResult, checkJson } from './sqlite-codec.js';
import { openConnection, preloadBetterSqlite3, resolveDriver, sqliteCode } from './sqlite-driver.js';
import { startCheckpointer, takeWriterLock } from './sqlite-checkpointer.js';
import type { Checkpointer } from './sqlite-checkpointer.js';
import type { BetterSqlite3Constructor, SqliteConnection, SqliteDriverName, SqliteRow, SqliteStatement, SqliteValue } from './sqlite-driver.js';
import { classifyFile, MIGRATIONS, APPLICATION_ID, SCHEMA_VERSION } from './sqlite-schema.js';
import { checkSuppressionEntry, suppressionTargetKey } from './suppression-memory.js';
import { sqliteCampaignStore } from './sqlite-campaigns.js';
import { sqliteSubscriptionStore } from './sqlite-subscriptions.js';

export type { BetterSqlite3Constructor, BetterSqlite3Database, SqliteDriverName, SqliteRow, SqliteStatement, SqliteValue } from './sqlite-driver.js';

// On a Node without node:sqlite, load better-sqlite3 and its addon now, at import (start-up),
// rather than inside the first sqliteStore() call (50-150 ms of synchronous loading).
preloadBetterSqlite3();

/** Name of the SQLite store, for errors and logs. */
export const STORE_NAME = 'sqlite';

/** How hard a commit is pushed to disk; see {@link SqliteStoreOptions.durability}. */
export type SqliteDurability = 'normal' | 'full';

/** Options of {@link sqliteStore}. */
export interface SqliteStoreOptions {
  /** The database file (created when missing), or `':memory:'` for a store that lives only in this process. */
  readonly path: string;
  /**
   * SQLite library: `'node:sqlite'` (built into Node 22.13+ and 24), `'better-sqlite3'` (the
   * optional peer dependency), or `'auto'`: node:sqlite when this Node has it, else better-sqlite3.
   * @default 'auto'
   */
  readonly driver?: 'auto' | SqliteDriverName;
  /** A better-sqlite3 `Database` class to use instead of importing the package (a bundled or patched copy). */
  readonly lib?: BetterSqlite3Constructor;
  /**
   * `'normal'` (`synchronous=NORMAL`): a committed write survives a crash of the process, a power
   * loss may lose the last transactions. `'full'` (`synchronous=FULL`): every group commit is
   * fsynced and survives power loss too; slower on disks with slow fsync.
   * @default 'normal'
   */
  readonly durability?: SqliteDurability;
  /** How long `queue.status(id)` still answers for a finished message, in ms. 0 forgets it at once. @default 604_800_000 (7 days) */
  readonly resultRetentionMs?: number;
  /** How long a sent job's correlation record is kept, in ms. @default 2_592_000_000 (30 days) */
  readonly correlationRetentionMs?: number;
  /** How long a soft bounce is kept, in ms; keep it at least the policy's `softBounceWindowMs`. @default 2_592_000_000 (30 days) */
  readonly softBounceRetentionMs?: number;
  /**
   * Extra `PRAGMA`s run after open, like `{ cache_size: -64_000 }` or `{ mmap_size: 268_435_456 }`.
   * The pragmas the store relies on (journal_mode, locking_mode, synchronous, user_version,
   * application_id, ...) are refused.
   * @default none
   */
  readonly pragmas?: Readonly<Record<string, string | number>>;
  /** Time source for retention and for `finished_at` stamps. @default the system clock */
  readonly clock?: Pick<Clock, 'now'>;
}

/** The SQLite {@link MailerStore}. */
export interface SqliteStore extends MailerStore {
  /** The file, as given. */
  readonly path: string;
  /** The SQLite library in use. */
  readonly driver: SqliteDriverName;
  /** The durability setting in use. */
  readonly durability: SqliteDurability;
  /** The queue journal; it pages its backlog and answers `status(id)` during the result retention. */
  readonly queue: QueueStore & Required<Pick<QueueStore, 'page' | 'status'>>;
  /** Per-campaign state and counters (tables `campaigns` and `campaign_counts`). */
  readonly campaigns: CampaignStore;
  /** Lists, subscriptions and consent (table `subscriptions`). */
  readonly subscriptions: SubscriptionStore;
  /** Commits the pending writes now instead of at the end of the tick. Throws the commit's STORE error. */
  flush(): void;
  /** Counters since open: how writes were grouped into transactions. */
  stats(): SqliteStoreStats;
  /** Commits the pending writes and closes the file, releasing the lock. Idempotent. */
  close(): Promise<void>;
}

/** What {@link SqliteStore.stats} counts since the store was opened. */
export interface SqliteStoreStats {
  /** Writes committed (each `add`, `update`, `claim`, ... is one). */
  readonly writes: number;
  /** Transactions committed: with group commit, far fewer than writes under load. */
  readonly commits: number;
  /** Transactions that failed; every write in them was rejected and none was kept. */
  readonly failedCommits: number;
  /** Checkpoint passes run by the store's worker thread, two per checkpoint (0 where SQLite checkpoints inside commits). */
  readonly checkpoints: number;
}

const DAY_MS = 86_400_000;
/** Messages read per page by `recover()`, with a turn of the event loop between pages (a page of 250 takes 2-5 ms). */
const RECOVER_PAGE = 250;
/** Rows read per page by `suppression.list()`. */
const LIST_PAGE = 1000;
/**
 * A write nobody waits on before answering a caller (a job's later transitions and correlation
 * records, which the mailer journals without awaiting them) does not start a transaction of its
 * own: it joins the next commit that happens anyway (the next `add()`), or commits after this
 * many ms, or once this many writes wait. Under load that turns 1.4 commits per message into
 * about 1. A crash loses at most this window of outcomes; those jobs are sent again (at least once).
 */
const LAZY_COMMIT_MS = 2;
const LAZY_MAX_OPS = 256;
/** Expired rows are deleted at most this often, in chunks, after a commit. */
const PRUNE_INTERVAL_MS = 60_000;
const PRUNE_CHUNK = 5000;
/** WAL pages between automatic checkpoints, where the store checkpoints on its own thread. */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;
/** Commits between checkpoints of the worker (about 10-15 WAL pages each under a send loop: 5,000-7,500 pages, 20-30 MB of WAL; SQLite's own checkpoints ran every 10,000 pages). */
const CHECKPOINT_COMMITS = 512;
/** Longest time commits wait for the second pass of a checkpoint. */
const HOLD_MAX_MS = 250;
/**
 * busy_timeout of the store's connection once the file is open. The one-writer rule is the
 * sidecar lock (`<path>-lock`), not this: other connections to the file are the checkpoint
 * worker and readers. The worker holds the write lock for its restart commit (while the store
 * holds its commits; a read's flush, `flush()` or `close()` in that moment waits for it, a
 * header write and an fsync), and any connection takes it for a moment when it finds the WAL
 * index header torn by a commit in progress (SQLite's wal-index recovery): with a timeout of 0 such a moment
 * failed a commit with SQLITE_BUSY ("one writer per file") in each of 3 runs of 1,000,000
 * awaited sends (bench/store.ts --only rss). The open itself keeps 0, so that a file an older
 * mailpush holds in exclusive mode is refused at once.
 */
const BUSY_MS = 5000;
/**
 * Page cache: negative = KiB (4 MiB, 1,024 pages). What a commit needs again is small: the
 * right-hand paths of the append-only keys (messages, jobs, results, the finished and sent-at
 * indexes) and the inner pages of the two random-key indexes (`messages.id`, `correlation`),
 * about 150 pages at 1,000,000 messages; their leaves (50 MB at that size) miss in any cache
 * the store could afford and are read from the OS's file cache. 16 MiB held 12 MB more RSS
 * (bench/store.ts --only rss) for no measurable CPU per message. Hosts can raise it with
 * `pragmas: { cache_size: ... }`.
 */
const CACHE_SIZE = -4_096;

/** Pragmas the store sets itself or relies on. */
const RESERVED_PRAGMAS: ReadonlySet<string> = new Set([
  'journal_mode',
  'locking_mode',
  'synchronous',
  'user_version',
  'application_id',
  'busy_timeout',
  'query_only',
  'writable_schema',
  'foreign_keys',
  'recursive_triggers',
  'temp_store_directory',
  'data_store_directory',
]);

/** Files held open by a store of this process (shared by duplicate copies of the package). */
const OPEN_FILES_KEY = Symbol.for('mailpush.sqliteStore.openFiles');

function openFiles(): Set<string> {
  // Two copies of SQLite in one process (node:sqlite and better-sqlite3) do not see each other's
  // locks, and POSIX locks never conflict within a process: this set is the in-process guard.
  const g = globalThis as { [OPEN_FILES_KEY]?: Set<string> };
  return (g[OPEN_FILES_KEY] ??= new Set());
}

function canonicalPath(path: string): string {
  const absolute = resolve(path);
  try {
    return join(realpathSync(dirname(absolute)), basename(absolute));
  } catch {
    return absolute;
  }
}

/** SQLite codes after which trying again later may work. */
const RETRYABLE: ReadonlySet<string | undefined> = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_NOMEM', 'SQLITE_INTERRUPT']);

/** What a failing SQLite code means to a user. */
const HINTS: Readonly<Record<string, string>> = {
  SQLITE_FULL: 'the disk (or the file size limit) is full',
  SQLITE_IOERR: 'the disk reported an I/O error',
  SQLITE_CORRUPT: 'the file is corrupt (check it with PRAGMA integrity_check; restore a backup)',
  SQLITE_NOTADB: 'the file is not a SQLite database (corrupt, or another kind of file)',
  SQLITE_READONLY: 'the file or its folder is read-only (the store writes the file and a -wal journal beside it)',
  SQLITE_PERM: 'permission denied',
  SQLITE_CANTOPEN: 'the file cannot be opened or created (does its folder exist, is it writable?)',
  SQLITE_BUSY: 'another mailpush store (in this or another process) holds the file: one writer per file',
  SQLITE_LOCKED: 'another mailpush store (in this or another process) holds the file: one writer per file',
};

type Part = 'queue' | 'suppression' | 'idempotency' | 'softBounces' | 'correlation' | 'replay' | 'campaigns' | 'subscriptions';

interface Op {
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** The resolving functions of the promise being built by {@link capture}; read right after `new Promise(capture)`. */
let capturedResolve: (value: unknown) => void = () => undefined;
let capturedReject: (error: unknown) => void = () => undefined;

/**
 * A promise executor that keeps the resolving functions in module variables: `new Promise(capture)`
 * needs no executor closure per write (one allocation less on the send path).
 */
function capture(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * Entries per generation of the store's job-to-row map (`seqOf`). A WeakMap's table only drops
 * the entries of dead keys at a GC and never shrinks: with a backlog on disk, every message
 * sent beyond the mailer's window adds an entry whose job is garbage at once, and one WeakMap
 * grew to a 2 MB table after 150,000 such sends (for 10,000 live jobs), which V8 then counts
 * as live heap and grows its old generation around (up to 4x). Two generations of 8,192
 * entries hold 2 x 256 KB at most; a job the mailer keeps longer than two generations costs one
 * lookup by its message id when it next changes.
 */
const SEQ_GENERATION = 8192;

/** Shared by the writes that carry no results (most of them). */
const NO_RESULTS: readonly string[] = [];

// The statements of the send path, called with their parameters as arguments (no array per call).
const UPSERT_OWNER = "INSERT INTO meta (key, value) VALUES ('owner', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
const INSERT_MESSAGE = 'INSERT INTO messages (id, message_id, body, bytes, finished_at) VALUES (?, ?, ?, ?, ?)';
const INSERT_JOB = 'INSERT INTO jobs (msg_seq, id, data) VALUES (?, ?, ?)';
const UPDATE_JOB = 'UPDATE jobs SET data = ? WHERE msg_seq = ? AND id = ?';
const DELETE_JOB = 'DELETE FROM jobs WHERE msg_seq = ? AND id = ?';
const INSERT_RESULT = 'INSERT INTO results (msg_seq, data) VALUES (?, ?)';
const ANY_JOB = 'SELECT 1 AS x FROM jobs WHERE msg_seq = ? LIMIT 1';
const FINISH_MESSAGE = 'UPDATE messages SET finished_at = ?, body = NULL, bytes = NULL WHERE seq = ?';
const FIND_SUPPRESSION = 'SELECT target, scope, data FROM suppression WHERE target IN (?, ?)';
const UPSERT_CORRELATION = 'INSERT INTO correlation (job_id, sent_at, data) VALUES (?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET sent_at = excluded.sent_at, data = excluded.data';

/** Encodes results for a write; none (the common case) allocates nothing. */
function encodeResults(results: readonly StoredResult[] | undefined): readonly string[] {
  return results === undefined || results.length === 0 ? NO_RESULTS : results.map(encodeResult);
}

function checkMs(options: SqliteStoreOptions, name: 'resultRetentionMs' | 'correlationRetentionMs' | 'softBounceRetentionMs', fallback: number): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw configError(name, 'a finite number >= 0 (ms)', value);
  return value;
}

function checkPragmas(pragmas: unknown): readonly (readonly [string, string | number])[] {
  if (pragmas === undefined) return [];
  if (typeof pragmas !== 'object' || pragmas === null || Array.isArray(pragmas)) throw configError('pragmas', 'an object of pragma names and values', pragmas);
  return Object.entries(pragmas as Record<string, unknown>).map(([name, value]) => {
    if (!/^[a-z_]+$/.test(name)) throw configError('pragmas', 'pragma names of lower-case letters and _', name);
    if (RESERVED_PRAGMAS.has(name)) throw configError(`pragmas.${name}`, 'left to the store (it sets this pragma itself)', value);
    if (typeof value === 'number' ? !Number.isFinite(value) : typeof value !== 'string' || !/^[\w.-]+$/.test(value)) {
      throw configError(`pragmas.${name}`, 'a finite number or a word', value);
    }
    return [name, value as string | number] as const;
  });
}

function num(row: SqliteRow | undefined, column: string): number {
  return Number(row?.[column] ?? 0);
}

function bytesOf(value: unknown): Uint8Array | null {
  return value instanceof Uint8Array ? value : null;
}

function isString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** The job count the owner row keeps, when the last writer kept it. */
function readKeptCount(conn: SqliteConnection): number | undefined {
  const row = conn.prepare("SELECT value FROM meta WHERE key = 'owner'").get();
  if (row === undefined || typeof row.value !== 'string') return undefined;
  try {
    const jobs = (JSON.parse(row.value) as { jobs?: unknown }).jobs;
    return typeof jobs === 'number' && Number.isSafeInteger(jobs) && jobs >= 0 ? jobs : undefined;
  } catch {
    return undefined;
  }
}

function rejectWith(err: unknown): Promise<never> {
  return Promise.reject(err);
}

/**
 * Creates the SQLite {@link MailerStore}. The file is opened (and created, locked and migrated)
 * right away: a file that is in use, corrupt, foreign, from a newer mailpush or not writable
 * throws a STORE {@link MailError} here, and a missing better-sqlite3 on a Node without
 * `node:sqlite` throws MISSING_DEPENDENCY.
 *
 * @example
 * ```ts
 * import { createMailer } from 'mailpush';
 * import { sqliteStore } from 'mailpush/stores/sqlite';
 *
 * const store = sqliteStore({ path: '/var/lib/app/mailpush.db', durability: 'full' });
 * const mailer = createMailer({ transport, store });
 * // ... on shutdown: mailer.close() closes the store too
 * ```
 */
export function sqliteStore(options: SqliteStoreOptions): SqliteStore {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object with a `path`', options);
  const path = options.path;
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) throw configError('path', "a file path or ':memory:'", path);
  const driverOption = options.driver ?? 'auto';
  if (driverOption !== 'auto' && driverOption !== 'node:sqlite' && driverOption !== 'better-sqlite3') {
    throw configError('driver', "'auto', 'node:sqlite' or 'better-sqlite3'", driverOption);
  }
  if (options.lib !== undefined && typeof options.lib !== 'function') throw configError('lib', "better-sqlite3's Database class", options.lib);
  const durability = options.durability ?? 'normal';
  if (durability !== 'normal' && durability !== 'full') throw configError('durability', "'normal' or 'full'", durability);
  const resultRetentionMs = checkMs(options, 'resultRetentionMs', 7 * DAY_MS);
  const correlationRetentionMs = checkMs(options, 'correlationRetentionMs', 30 * DAY_MS);
  const softBounceRetentionMs = checkMs(options, 'softBounceRetentionMs', 30 * DAY_MS);
  const pragmas = checkPragmas(options.pragmas);
  const clock = options.clock ?? { now: () => Date.now() };
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') throw configError('clock', 'an object with now()', clock);

  const inMemory = path === ':memory:';
  const key = inMemory ? undefined : canonicalPath(path);

  /** A STORE MailError for a failure of `doing`, with what the SQLite code means. */
  const storeError = (err: unknown, doing: string): MailError => {
    if (isMailError(err)) return err;
    const code = sqliteCode(err);
    const detail = err instanceof Error ? err.message : String(err);
    const hint = code === undefined ? undefined : HINTS[code];
    return new MailError(`SQLite store ${path}: ${doing} failed: ${hint === undefined ? detail : `${hint} (${detail})`}${code === undefined ? '' : ` [${code}]`}`, {
      code: MailErrorCode.STORE,
      retryable: RETRYABLE.has(code),
      cause: err,
    });
  };

  if (key !== undefined && openFiles().has(key)) {
    throw new MailError(`SQLite store ${path}: the file is already open by another store of this process: one writer per file (close it first, or share one store)`, {
      code: MailErrorCode.STORE,
      retryable: false,
    });
  }

  // ------------------------------------------------------------------------------------
  // Open: lock, check what the file is, migrate, claim.
  // ------------------------------------------------------------------------------------

  // The one-writer lock: an exclusive lock on the sidecar file `<path>-lock`, held until close()
  // (see sqlite-checkpointer.ts: the database file itself is shared with the checkpoint worker).
  let lock: SqliteConnection | undefined;
  let conn: SqliteConnection;
  try {
    if (!inMemory) lock = takeWriterLock(path, resolveDriver(driverOption, options.lib), options.lib);
    conn = openConnection(path, { driver: driverOption, lib: options.lib });
  } catch (err) {
    try {
      lock?.close();
    } catch {
      // The open failure is the error worth reporting.
    }
    throw storeError(err, 'opening the file');
  }
  let jobCount = 0;
  /** The owner row's JSON up to its job count: `{"pid":..,"host":..,"driver":..,"openedAt":..,"jobs":` (the count and `}` follow). */
  let ownerHead = '';
  try {
    conn.exec('PRAGMA busy_timeout = 0');
    const get = (sql: string): SqliteRow | undefined => conn.prepare(sql).get();
    const found = classifyFile(
      num(get('PRAGMA application_id'), 'application_id'),
      num(get('PRAGMA user_version'), 'user_version'),
      conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
        .all()
        .map((r) => String(r.name)),
    );
    if (found.kind === 'newer') {
      throw new MailError(
        `SQLite store ${path}: the file was written by a newer mailpush (schema version ${found.version}; this one reads up to ${SCHEMA_VERSION}): upgrade mailpush, or use another file`,
        { code: MailErrorCode.STORE, retryable: false },
      );
    }
    if (found.kind === 'foreign') {
      const tables = found.tables.length === 0 ? 'none' : found.tables.slice(0, 8).join(', ') + (found.tables.length > 8 ? ', ...' : '');
      throw new MailError(
        `SQLite store ${path}: the file is not a mailpush store (application_id ${found.applicationId}, user_version ${found.version}, tables: ${tables}): refusing to write into another database`,
        { code: MailErrorCode.STORE, retryable: false },
      );
    }
    if (!inMemory) {
      const mode = String(get('PRAGMA journal_mode = WAL')?.journal_mode ?? '');
      if (mode !== 'wal') throw new MailError(`SQLite store ${path}: could not switch the file to WAL mode (got ${mode})`, { code: MailErrorCode.STORE, retryable: false });
    }
    conn.exec(`PRAGMA synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
    // Checkpoints (copying the WAL into the file, with an fsync) run on a worker thread (started
    // below); until it runs, and wherever it cannot, SQLite checkpoints itself every 10,000 WAL
    // pages (about 40 MB), inside a COMMIT. The page cache holds the hot part of the indexes.
    conn.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    conn.exec(`PRAGMA cache_size = ${CACHE_SIZE}`);
    for (let version = found.kind === 'new' ? 0 : found.version; version < SCHEMA_VERSION; version++) {
      conn.exec('BEGIN IMMEDIATE');
      try {
        conn.exec(MIGRATIONS[version]!);
        if (version === 0) conn.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
        conn.exec(`PRAGMA user_version = ${version + 1}`);
        conn.exec('COMMIT');
      } catch (err) {
        conn.exec('ROLLBACK');
        throw err;
      }
    }
    // The job count is kept in the owner row, written in the same transaction as every change
    // of the jobs table: counting 100,000 jobs at open would hold the event loop for 50-130 ms.
    // A file last written by a version that did not keep it (the owner row has no `jobs`) is
    // counted once.
    const kept = readKeptCount(conn);
    jobCount = kept ?? num(conn.prepare('SELECT count(*) AS n FROM jobs').get(), 'n');
    // The same JSON as JSON.stringify({ pid, host, driver, openedAt, jobs }), without building
    // an object and a string builder per commit (the row is rewritten by every commit that
    // changes the job count: once per send).
    ownerHead = `${JSON.stringify({ pid: process.pid, host: hostname(), driver: conn.driver, openedAt: new Date(clock.now()).toISOString() }).slice(0, -1)},"jobs":`;
    // No write at open: the first write to an empty WAL fsyncs its header (tens of ms on a busy
    // disk). The owner row is written with the first commit, or at close().
    conn.exec(`PRAGMA busy_timeout = ${BUSY_MS}`);
    for (const [name, value] of pragmas) conn.exec(`PRAGMA ${name} = ${value}`);
  } catch (err) {
    try {
      conn.close();
      lock?.close();
    } catch {
      // The open failure is the error worth reporting.
    }
    throw storeError(err, 'opening the file');
  }
  if (key !== undefined) openFiles().add(key);

  /** The checkpoint worker, started by the first checkpoint (`new Worker()` costs the loop 2-100 ms: not at open). */
  let checkpointer: Checkpointer | undefined;
  /** The worker can run here (a file, the library loaded by name) and has not failed. */
  let workerUsable = !inMemory && options.lib === undefined;
  /** Checkpoints of a worker that stopped. */
  let checkpointsDone = 0;
  /** The store checkpoints itself again, as SQLite does by default. */
  const checkpointOnThisThread = (): void => {
    checkpointsDone += checkpointer?.stats().checkpoints ?? 0;
    checkpointer = undefined;
    workerUsable = false;
    if (!closed) conn.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
  };
  if (workerUsable) conn.exec('PRAGMA wal_autocheckpoint = 0');
  const worker = (): Checkpointer | undefined => {
    if (checkpointer === undefined && workerUsable && !closed) {
      checkpointer = startCheckpointer({ path, driver: conn.driver, synchronous: durability === 'full' ? 'FULL' : 'NORMAL', onFailure: checkpointOnThisThread });
      if (checkpointer === undefined) checkpointOnThisThread();
    }
    return checkpointer;
  };

  // ------------------------------------------------------------------------------------
  // Group commit.
  // ------------------------------------------------------------------------------------

  const statements = new Map<string, SqliteStatement>();
  const sql = (text: string): SqliteStatement => {
    let s = statements.get(text);
    if (s === undefined) statements.set(text, (s = conn.prepare(text)));
    return s;
  };
  const run = (text: string, ...params: SqliteValue[]): number => Number(sql(text).run(...params).changes);
  const one = (text: string, ...params: SqliteValue[]): SqliteRow | undefined => sql(text).get(...params);
  const all = (text: string, ...params: SqliteValue[]): SqliteRow[] => sql(text).all(...params);

  let ops: Op[] = [];
  /**
   * The messages added by the running transaction: their jobs and seq, in pairs
   * (`[jobs, seq, jobs, seq, ...]`, `addedLength` entries); {@link seqOf} learns them once the
   * commit succeeded. Reused from commit to commit (`length = 0` would drop its storage).
   */
  const added: (readonly Job[] | number | undefined)[] = [];
  let addedLength = 0;
  /** Empties {@link added}, keeping its storage and nothing it pointed to. */
  const clearAdded = (): void => {
    // A large batch (sendMany) does not keep its storage.
    if (added.length > 512) added.length = 0;
    else for (let i = 0; i < addedLength; i++) added[i] = undefined;
    addedLength = 0;
  };
  const dirty = new Set<Part>();
  let scheduled = false;
  /** The timer that commits lazy writes when no other commit comes first. */
  let lazyTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  /** Change of the job count made by the running transaction. */
  let jobDelta = 0;
  let lastPrune = Number.NEGATIVE_INFINITY;
  /** The owner row still has the previous holder's stamp: the next commit writes it. */
  let ownerStale = true;
  let commitsSinceCheckpoint = 0;
  /** A checkpoint runs on the worker. */
  let checkpointing = false;
  /** Its second pass runs: scheduled commits wait for it. */
  let holding = false;
  let holdTimer: ReturnType<typeof setTimeout> | undefined;
  let writes = 0;
  let commits = 0;
  let failedCommits = 0;

  const closedError = (): MailError => new MailError(`SQLite store ${path} is closed`, { code: MailErrorCode.CLOSED, retryable: false });

  /** Commits every pending write in one transaction; settles their promises. Returns the failure, if any. */
  const flush = (): MailError | undefined => {
    scheduled = false;
    if (lazyTimer !== undefined) {
      clearTimeout(lazyTimer);
      lazyTimer = undefined;
    }
    if (ops.length === 0) return undefined;
    const batch = ops;
    ops = [];
    dirty.clear();
    const values: unknown[] = new Array(batch.length);
    jobDelta = 0;
    try {
      conn.exec('BEGIN IMMEDIATE');
      for (let i = 0; i < batch.length; i++) values[i] = batch[i]!.run();
      if (jobDelta !== 0 || ownerStale) sql(UPSERT_OWNER).run(`${ownerHead}${jobCount + jobDelta}}`);
      conn.exec('COMMIT');
    } catch (err) {
      try {
        conn.exec('ROLLBACK');
      } catch {
        // SQLite may have rolled back already (SQLITE_FULL, I/O errors).
      }
      clearAdded();
      failedCommits++;
      const error = storeError(err, `committing ${batch.length} write${batch.length === 1 ? '' : 's'}`);
      for (const op of batch) op.reject(error);
      return error;
    }
    jobCount += jobDelta;
    ownerStale = false;
    commits++;
    // Committed: the scheduler's job objects of the added messages now lead straight to their rows.
    for (let i = 0; i < addedLength; i += 2) {
      const jobs = added[i] as readonly Job[];
      for (let j = 0; j < jobs.length; j++) rememberSeq(jobs[j]!, added[i + 1] as number);
    }
    clearAdded();
    if (++commitsSinceCheckpoint >= CHECKPOINT_COMMITS) checkpoint();
    writes += batch.length;
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(values[i]);
    prune();
    return undefined;
  };

  /**
   * Has the worker copy the WAL into the file. A WAL that is copied whole is restarted from
   * its start by the next commit instead of growing: but the commits made while the copy ran
   * leave frames behind, so a second pass copies those while new commits wait (a few ms; the
   * writes keep queueing, nothing blocks the event loop).
   */
  function checkpoint(): void {
    if (checkpointing) return;
    const ckpt = worker();
    if (ckpt === undefined) return;
    checkpointing = true;
    commitsSinceCheckpoint = 0;
    const release = (): void => {
      if (holdTimer !== undefined) clearTimeout(holdTimer);
      holdTimer = undefined;
      checkpointing = false;
      if (!holding) return;
      holding = false;
      if (ops.length > 0 && !closed) {
        scheduled = true;
        setImmediate(commitSoon);
      }
    };
    // The first pass's own count cannot tell whether commits came meanwhile: it reads the WAL's
    // length when it starts.
    void ckpt.run().then(() => {
      if (closed || checkpointer === undefined) return release();
      holding = true;
      // A worker stuck on a slow disk must not hold the commits for long.
      holdTimer = setTimeout(release, HOLD_MAX_MS);
      // The second pass ends with the worker's restart commit (see sqlite-checkpointer.ts): the
      // WAL header's write and fsync happen there, not in this thread's next commit.
      void ckpt.run(true).then(release);
    });
  }

  /** The scheduled group commit; waits while a checkpoint holds the commits (see above). */
  const commitSoon = (): void => {
    if (holding) return;
    flush();
  };

  const onLazyTimer = (): void => {
    lazyTimer = undefined;
    if (!holding) flush();
  };

  /** Queues a write into the next group commit; `lazy`: see {@link LAZY_COMMIT_MS}. */
  const write = <T>(part: Part, fn: () => T, lazy = false): Promise<T> => {
    if (closed) return rejectWith(closedError());
    const promise = new Promise<unknown>(capture) as Promise<T>;
    ops.push({ run: fn, resolve: capturedResolve, reject: capturedReject });
    dirty.add(part);
    if (!scheduled) {
      if (lazy && ops.length < LAZY_MAX_OPS) {
        lazyTimer ??= setTimeout(onLazyTimer, LAZY_COMMIT_MS);
      } else {
        scheduled = true;
        setImmediate(commitSoon);
      }
    }
    return promise;
  };

  const read = <T>(part: Part, doing: string, fn: () => T): T => {
    if (closed) throw closedError();
    // Reads see the writes made before them: commit the pending ones of this part first.
    if (dirty.has(part)) flush();
    try {
      return fn();
    } catch (err) {
      throw storeError(err, doing);
    }
  };

  /** Deletes expired rows in chunks; failures are left for the next round. */
  function prune(): void {
    const now = clock.now();
    if (now - lastPrune < PRUNE_INTERVAL_MS) return;
    lastPrune = now;
    try {
      conn.exec('BEGIN IMMEDIATE');
      let full = false;
      const finished = all('SELECT seq FROM messages WHERE finished_at IS NOT NULL AND finished_at <= ? ORDER BY finished_at LIMIT ?', now - resultRetentionMs, PRUNE_CHUNK);
      for (const row of finished) {
        run('DELETE FROM results WHERE msg_seq = ?', row.seq as number);
        run('DELETE FROM messages WHERE seq = ?', row.seq as number);
      }
      full ||= finished.length === PRUNE_CHUNK;
      full ||= run('DELETE FROM correlation WHERE job_id IN (SELECT job_id FROM correlation WHERE sent_at <= ? LIMIT ?)', now - correlationRetentionMs, PRUNE_CHUNK) === PRUNE_CHUNK;
      full ||= run('DELETE FROM replay WHERE key IN (SELECT key FROM replay WHERE expires_at <= ? LIMIT ?)', now, PRUNE_CHUNK) === PRUNE_CHUNK;
      full ||= run('DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE expires_at <= ? LIMIT ?)', now, PRUNE_CHUNK) === PRUNE_CHUNK;
      full ||= run('DELETE FROM soft_bounces WHERE rowid IN (SELECT rowid FROM soft_bounces WHERE at <= ? LIMIT ?)', now - softBounceRetentionMs, PRUNE_CHUNK) === PRUNE_CHUNK;
      conn.exec('COMMIT');
      // More to delete: go on after the next commit rather than in one long transaction.
      if (full) lastPrune = Number.NEGATIVE_INFINITY;
    } catch {
      try {
        conn.exec('ROLLBACK');
      } catch {
        // Already rolled back.
      }
    }
  }
  // No pruning here: deleting expired rows at open would write (and fsync the WAL header) in
  // sqliteStore(). The first commit prunes (`lastPrune` starts at -Infinity).

  // ------------------------------------------------------------------------------------
  // Queue journal.
  // ------------------------------------------------------------------------------------

  /**
   * The seq of the message of each job object the store handed out or was given, so that
   * update/remove find the job's row without a lookup by message id. Weak: the entries go with
   * the scheduler's job objects. Two generations of {@link SEQ_GENERATION} entries each (see
   * there): a job older than both is found by its message id once and remembered again.
   */
  let seqOf = new WeakMap<Job, number>();
  let seqOfOlder = new WeakMap<Job, number>();
  let seqSets = 0;
  const rememberSeq = (job: Job, seq: number): void => {
    if (++seqSets > SEQ_GENERATION) {
      seqOfOlder = seqOf;
      seqOf = new WeakMap();
      seqSets = 1;
    }
    seqOf.set(job, seq);
  };

  /** The seq of the job's unfinished message, or undefined. */
  const messageSeq = (job: Job): number | undefined => {
    const known = seqOf.get(job);
    if (known !== undefined) return known;
    const older = seqOfOlder.get(job);
    if (older !== undefined) {
      rememberSeq(job, older);
      return older;
    }
    const row = one('SELECT seq FROM messages WHERE id = ? AND finished_at IS NULL', job.messageRef);
    if (row === undefined) return undefined;
    rememberSeq(job, row.seq as number);
    return row.seq as number;
  };

  const insertResults = (seq: number, results: readonly string[]): void => {
    for (let i = 0; i < results.length; i++) sql(INSERT_RESULT).run(seq, results[i]!);
  };

  /** Marks a message without jobs finished (or drops it when results are not retained). */
  const finishIfDone = (seq: number): void => {
    if (sql(ANY_JOB).get(seq) !== undefined) return;
    if (resultRetentionMs === 0) {
      run('DELETE FROM results WHERE msg_seq = ?', seq);
      run('DELETE FROM messages WHERE seq = ?', seq);
    } else {
      sql(FINISH_MESSAGE).run(clock.now(), seq);
    }
  };

  const entriesOf = (rows: readonly SqliteRow[]): StoredEntry[] => {
    if (rows.length === 0) return [];
    const first = rows[0]!.seq as number;
    const last = rows[rows.length - 1]!.seq as number;
    const bySeq = new Map<number, { id: string; jobs: Job[]; results: StoredResult[] }>();
    for (const row of rows) bySeq.set(row.seq as number, { id: row.id as string, jobs: [], results: [] });
    for (const row of all('SELECT id, msg_seq, data FROM jobs WHERE msg_seq BETWEEN ? AND ?', first, last)) {
      const held = bySeq.get(row.msg_seq as number);
      if (held === undefined) continue;
      const job = decodeJob(row.id as string, held.id, row.data as string);
      rememberSeq(job, row.msg_seq as number);
      held.jobs.push(job);
    }
    for (const row of all('SELECT msg_seq, data FROM results WHERE msg_seq BETWEEN ? AND ? ORDER BY rowid', first, last)) {
      bySeq.get(row.msg_seq as number)?.results.push(JSON.parse(row.data as string) as StoredResult);
    }
    return rows.map((row) => {
      const held = bySeq.get(row.seq as number)!;
      const message = decodeMessage(row.body as string, bytesOf(row.bytes));
      return held.results.length === 0 ? { message, jobs: held.jobs } : { message, jobs: held.jobs, results: held.results };
    });
  };

  const readPage = (cursor: string | undefined, limit: number): StoredPage => {
    if (!Number.isInteger(limit) || limit < 1) throw configError('limit', 'an integer >= 1', limit);
    let after = 0;
    if (cursor !== undefined) {
      after = typeof cursor === 'string' && /^\d{1,15}$/.test(cursor) ? Number(cursor) : -1;
      if (after < 0) throw configError('cursor', 'a cursor returned by page()', cursor);
    }
    return read('queue', 'reading a page of the queue', () => {
      // An unfinished message is one with jobs (the last remove() finishes it): the jobs table's
      // key finds the page without an index of open messages, which every add and finish wrote.
      const seqs = all('SELECT DISTINCT msg_seq FROM jobs WHERE msg_seq > ? ORDER BY msg_seq LIMIT ?', after, limit + 1);
      const more = seqs.length > limit;
      if (more) seqs.length = limit;
      if (seqs.length === 0) return { entries: [], cursor: undefined };
      const last = seqs[seqs.length - 1]!.msg_seq as number;
      const rows = all('SELECT seq, id, body, bytes FROM messages WHERE seq BETWEEN ? AND ? AND finished_at IS NULL ORDER BY seq', seqs[0]!.msg_seq as number, last);
      return { entries: entriesOf(rows), cursor: more ? String(last) : undefined };
    });
  };

  const queue: SqliteStore['queue'] = {
    name: STORE_NAME,
    add(entry: StoredEntry) {
      let encoded: ReturnType<typeof encodeMessage>;
      /** The jobs as they are now: id and encoded data, in pairs. */
      let jobs: string[];
      let results: readonly string[];
      const message = entry?.message;
      try {
        if (!isString(message?.id) || typeof message.messageId !== 'string') throw configError('entry.message', 'a normalized message with an id', message);
        if (!Array.isArray(entry.jobs)) throw configError('entry.jobs', 'an array of jobs', entry.jobs);
        encoded = encodeMessage(message);
        jobs = new Array<string>(entry.jobs.length * 2);
        for (let i = 0; i < entry.jobs.length; i++) {
          const job = entry.jobs[i]!;
          jobs[2 * i] = job.id;
          jobs[2 * i + 1] = encodeJob(job);
        }
        results = encodeResults(entry.results);
      } catch (err) {
        return rejectWith(err);
      }
      return write('queue', (): undefined => {
        const done = jobs.length === 0;
        const seq = Number(
          sql(INSERT_MESSAGE).run(message.id, message.messageId, done ? null : encoded.json, done ? null : encoded.bytes, done ? clock.now() : null).lastInsertRowid,
        );
        for (let i = 0; i < jobs.length; i += 2) sql(INSERT_JOB).run(seq, jobs[i]!, jobs[i + 1]!);
        insertResults(seq, results);
        jobDelta += jobs.length / 2;
        // The job objects learn their seq when the commit succeeds (see flush()).
        added[addedLength++] = entry.jobs;
        added[addedLength++] = seq;
        return undefined;
      });
    },
    update(job: Job, results?: readonly StoredResult[]) {
      // The job is the scheduler's live object: encode it now, as it is at this transition.
      let data: string;
      let encodedResults: readonly string[];
      try {
        data = encodeJob(job);
        encodedResults = encodeResults(results);
      } catch (err) {
        return rejectWith(err);
      }
      return write('queue', () => {
        const seq = messageSeq(job);
        if (seq === undefined) return;
        if (Number(sql(UPDATE_JOB).run(data, seq, job.id).changes) === 0) {
          // A job the store has not seen, of a message it holds: keep it too.
          if (one('SELECT 1 AS x FROM messages WHERE seq = ? AND finished_at IS NULL', seq) === undefined) return;
          sql(INSERT_JOB).run(seq, job.id, data);
          jobDelta++;
        }
        insertResults(seq, encodedResults);
      }, true);
    },
    remove(job: Job, results?: readonly StoredResult[]) {
      let encodedResults: readonly string[];
      try {
        encodedResults = encodeResults(results);
      } catch (err) {
        return rejectWith(err);
      }
      return write('queue', () => {
        const seq = messageSeq(job);
        if (seq === undefined) return;
        if (Number(sql(DELETE_JOB).run(seq, job.id).changes) === 0) return;
        insertResults(seq, encodedResults);
        jobDelta--;
        finishIfDone(seq);
      }, true);
    },
    async *recover() {
      let cursor: string | undefined;
      for (;;) {
        const page = readPage(cursor, RECOVER_PAGE);
        yield* page.entries;
        cursor = page.cursor;
        if (cursor === undefined) return;
        // Reading 100,000 jobs back in one go would hold the host's event loop for seconds.
        await new Promise<void>((resolveTurn) => setImmediate(resolveTurn));
      }
    },
    page: readPage,
    status(id: string): StoredStatus | undefined {
      if (typeof id !== 'string') throw configError('id', 'a message id', id);
      return read('queue', `looking up ${id}`, () => {
        const row = one('SELECT seq, message_id, finished_at FROM messages WHERE id = ?', id);
        if (row === undefined) return undefined;
        if (row.finished_at !== null && Number(row.finished_at) <= clock.now() - resultRetentionMs) return undefined;
        const seq = row.seq as number;
        const jobs = all('SELECT id, data FROM jobs WHERE msg_seq = ?', seq).map((j) => decodeJob(j.id as string, id, j.data as string));
        const results = all('SELECT data FROM results WHERE msg_seq = ? ORDER BY rowid', seq).map((r) => JSON.parse(r.data as string) as StoredResult);
        return { id, messageId: row.message_id as string, jobs, results };
      });
    },
    size() {
      return read('queue', 'counting jobs', () => jobCount);
    },
  };

  // ------------------------------------------------------------------------------------
  // Suppression list.
  // ------------------------------------------------------------------------------------

  const suppression: SuppressionStore = {
    name: STORE_NAME,
    add(entry: SuppressionEntry) {
      let target: string;
      let data: string;
      try {
        checkSuppressionEntry(entry);
        target = suppressionTargetKey(entry);
        data = JSON.stringify(entry);
      } catch (err) {
        return rejectWith(err);
      }
      const scope = entry.scope ?? '';
      return write('suppression', () => {
        run('INSERT INTO suppression (target, scope, data) VALUES (?, ?, ?) ON CONFLICT (target, scope) DO UPDATE SET data = excluded.data', target, scope, data);
      });
    },
    remove(target) {
      if (target?.address === undefined && target?.domain === undefined) return false;
      const targetKey = suppressionTargetKey(target);
      const scope = target.scope ?? '';
      return write('suppression', () => run('DELETE FROM suppression WHERE target = ? AND scope = ?', targetKey, scope) > 0);
    },
    find(address: string, scopes: readonly string[], now: number) {
      const at = address.lastIndexOf('@');
      const byAddress = `a:${address.toLowerCase()}`;
      const byDomain = at < 0 ? '' : suppressionTargetKey({ domain: address.slice(at + 1) });
      return read('suppression', 'looking up the suppression list', () => {
        const rows = sql(FIND_SUPPRESSION).all(byAddress, byDomain);
        if (rows.length === 0) return undefined;
        // Same precedence as the memory store: the address before its domain, unscoped first.
        for (const target of [byAddress, byDomain]) {
          for (const scope of ['', ...scopes]) {
            const row = rows.find((r) => r.target === target && r.scope === scope);
            if (row === undefined) continue;
            const entry = JSON.parse(row.data as string) as SuppressionEntry;
            if (entry.expiresAt === undefined || entry.expiresAt > now) return entry;
          }
        }
        return undefined;
      });
    },
    *list() {
      let target = '';
      let scope = '';
      for (;;) {
        const rows = read('suppression', 'listing the suppression list', () =>
          all('SELECT target, scope, data FROM suppression WHERE (target, scope) > (?, ?) ORDER BY target, scope LIMIT ?', target, scope, LIST_PAGE),
        );
        for (const row of rows) yield JSON.parse(row.data as string) as SuppressionEntry;
        if (rows.length < LIST_PAGE) return;
        target = rows[rows.length - 1]!.target as string;
        scope = rows[rows.length - 1]!.scope as string;
      }
    },
  };

  // ------------------------------------------------------------------------------------
  // Idempotency keys, soft bounces, correlation, replay ids.
  // ------------------------------------------------------------------------------------

  const idempotency: IdempotencyStore = {
    name: STORE_NAME,
    claim(k: string, id: string, expiresAt: number, now: number) {
      if (!isString(k)) return rejectWith(configError('key', 'a non-empty string', k));
      if (!isString(id)) return rejectWith(configError('id', 'a message id', id));
      if (!Number.isFinite(expiresAt) || !Number.isFinite(now)) return rejectWith(configError('expiresAt', 'a time in ms', Number.isFinite(expiresAt) ? now : expiresAt));
      return write('idempotency', () => {
        const held = one('SELECT id, expires_at FROM idempotency WHERE key = ?', k);
        if (held !== undefined && Number(held.expires_at) > now) return held.id as string;
        run('INSERT INTO idempotency (key, id, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET id = excluded.id, expires_at = excluded.expires_at', k, id, expiresAt);
        return id;
      });
    },
    release(k: string, id: string) {
      return write('idempotency', () => {
        run('DELETE FROM idempotency WHERE key = ? AND id = ?', k, id);
      });
    },
  };

  const softBounces: SoftBounceCounter = {
    hit(address: string, id: string, at: number, windowMs: number) {
      if (typeof address !== 'string' || typeof id !== 'string') return rejectWith(configError('address', 'a string', address));
      if (!Number.isFinite(at) || !(windowMs >= 0)) return rejectWith(configError('windowMs', 'a number >= 0 (ms)', windowMs));
      const a = address.toLowerCase();
      return write('softBounces', () => {
        run('DELETE FROM soft_bounces WHERE address = ? AND at <= ?', a, at - windowMs);
        run('INSERT INTO soft_bounces (address, id, at) VALUES (?, ?, ?) ON CONFLICT (address, id) DO NOTHING', a, id, at);
        run(
          'DELETE FROM soft_bounces WHERE address = ? AND rowid NOT IN (SELECT rowid FROM soft_bounces WHERE address = ? ORDER BY rowid DESC LIMIT ?)',
          a,
          a,
          MAX_SOFT_BOUNCES_PER_ADDRESS,
        );
        return num(one('SELECT count(*) AS n FROM soft_bounces WHERE address = ? AND at <= ? AND at > ?', a, at, at - windowMs), 'n');
      });
    },
    reset(address: string) {
      const a = String(address).toLowerCase();
      return write('softBounces', () => {
        run('DELETE FROM soft_bounces WHERE address = ?', a);
      });
    },
  };

  const correlation: CorrelationStore = {
    name: STORE_NAME,
    record(entry: SentRecord) {
      let data: string;
      try {
        if (!isString(entry?.jobId)) throw configError('entry.jobId', 'a job id', entry?.jobId);
        if (!Number.isFinite(entry.sentAt)) throw configError('entry.sentAt', 'a time in ms', entry.sentAt);
        checkJson(entry, 'entry');
        data = JSON.stringify(entry);
      } catch (err) {
        return rejectWith(err);
      }
      return write('correlation', () => {
        sql(UPSERT_CORRELATION).run(entry.jobId, entry.sentAt, data);
      }, true);
    },
    find(jobId: string) {
      return read('correlation', `looking up job ${jobId}`, () => {
        const row = one('SELECT sent_at, data FROM correlation WHERE job_id = ?', jobId);
        if (row === undefined || Number(row.sent_at) <= clock.now() - correlationRetentionMs) return undefined;
        return JSON.parse(row.data as string) as SentRecord;
      });
    },
  };

  const replay: ReplayStore = {
    name: STORE_NAME,
    has(k: string, now: number) {
      return read('replay', 'looking up a replay id', () => {
        const row = one('SELECT expires_at FROM replay WHERE key = ?', k);
        return row !== undefined && Number(row.expires_at) > now;
      });
    },
    add(k: string, expiresAt: number) {
      if (!isString(k)) return rejectWith(configError('key', 'a non-empty string', k));
      if (!Number.isFinite(expiresAt)) return rejectWith(configError('expiresAt', 'a time in ms', expiresAt));
      return write('replay', () => {
        run('INSERT INTO replay (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at', k, expiresAt);
      });
    },
  };

  return {
    name: STORE_NAME,
    path,
    driver: conn.driver,
    durability,
    queue,
    suppression,
    idempotency,
    softBounces,
    correlation,
    replay,
    campaigns: sqliteCampaignStore({ name: STORE_NAME, write: (fn) => write('campaigns', fn), read: (doing, fn) => read('campaigns', doing, fn), run, one, all }),
    subscriptions: sqliteSubscriptionStore({ name: STORE_NAME, write: (fn) => write('subscriptions', fn), read: (doing, fn) => read('subscriptions', doing, fn), run, one, all }),
    stats: () => ({ writes, commits, failedCommits, checkpoints: checkpointsDone + (checkpointer?.stats().checkpoints ?? 0) }),
    flush() {
      if (closed) throw closedError();
      const failure = flush();
      if (failure !== undefined) throw failure;
    },
    close() {
      closing ??= (async () => {
        // A file opened and closed without writes still gets this holder's owner row.
        if (ownerStale && !closed) void write('queue', () => undefined).catch(() => undefined);
        flush();
        closed = true;
        if (holdTimer !== undefined) clearTimeout(holdTimer);
        // The worker's last checkpoint leaves the close below (which checkpoints the rest on
        // this thread and deletes the WAL) little to copy.
        await checkpointer?.close(true);
        try {
          conn.close();
        } catch (err) {
          throw storeError(err, 'closing the file');
        } finally {
          try {
            lock?.close();
          } catch {
            // The lock goes with the file handle anyway.
          }
          if (key !== undefined) openFiles().delete(key);
        }
      })();
      return closing;
    },
  };
}

export default sqliteStore;
