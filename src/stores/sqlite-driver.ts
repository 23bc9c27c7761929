/**
 * The thin seam between the SQLite store and a SQLite library: Node's built-in `node:sqlite`
 * (Node 22.13+ / 24, no native module) or better-sqlite3 (an optional peer dependency, for
 * Node 20). Both are synchronous; the store needs only `exec`, `prepare` (run/get/all) and
 * `close`, so each driver is a few lines of adaptation.
 *
 * @module
 * @internal
 */

import { createRequire } from 'node:module';
import { MailError, MailErrorCode } from '../errors.js';

/** The SQLite libraries the store can use. */
export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3';

/** A value bound to or read from SQLite. */
export type SqliteValue = string | number | bigint | null | Uint8Array;

/** A row as read: column name to value. */
export type SqliteRow = Record<string, unknown>;

/**
 * What a part of `sqliteStore()` kept in its own module (campaigns, subscriptions) needs of the
 * store: its name, the group commit and the statement helpers.
 * @internal
 */
export interface SqlitePartContext {
  /** Store name, for the part's `name`. */
  readonly name: string;
  /** Queues a write into the next group commit. */
  write<T>(fn: () => T): Promise<T>;
  /** Runs a read after committing this part's pending writes; wraps failures as STORE errors. */
  read<T>(doing: string, fn: () => T): T;
  run(sql: string, ...params: SqliteValue[]): number;
  one(sql: string, ...params: SqliteValue[]): SqliteRow | undefined;
  all(sql: string, ...params: SqliteValue[]): SqliteRow[];
}

/** A prepared statement, as both libraries shape it. */
export interface SqliteStatement {
  /** Runs a statement that writes. */
  run(...params: SqliteValue[]): { readonly changes: number | bigint; readonly lastInsertRowid: number | bigint };
  /** The first row, if any. */
  get(...params: SqliteValue[]): SqliteRow | undefined;
  /** Every row. */
  all(...params: SqliteValue[]): SqliteRow[];
}

/** An open connection. */
export interface SqliteConnection {
  readonly driver: SqliteDriverName;
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  close(): void;
}

/** The part of a better-sqlite3 `Database` the store uses. */
export interface BetterSqlite3Database {
  /** Runs one or more SQL statements. */
  exec(sql: string): unknown;
  /** Prepares a statement. */
  prepare(sql: string): SqliteStatement;
  /** Closes the database. */
  close(): unknown;
}

/** better-sqlite3's `Database` class (the package's default export), for the `lib` option. */
export type BetterSqlite3Constructor = new (path: string, options?: { readonly timeout?: number }) => BetterSqlite3Database;

interface NodeSqliteModule {
  readonly DatabaseSync: new (path: string, options?: Record<string, unknown>) => {
    exec(sql: string): void;
    prepare(sql: string): SqliteStatement;
    close(): void;
  };
}

/** npm package name of better-sqlite3. */
export const BETTER_SQLITE3 = 'better-sqlite3';

/**
 * Loads `node:sqlite` when this Node has it (undefined otherwise). Node versions where the
 * module is still flagged experimental print an ExperimentalWarning when it loads: that one
 * warning, and only it, is held back while loading, since the store chose the module itself.
 */
export function loadNodeSqlite(): NodeSqliteModule | undefined {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof getBuiltin !== 'function') return undefined;
  const emitWarning = process.emitWarning;
  process.emitWarning = function filtered(this: unknown, warning: string | Error, ...rest: unknown[]): void {
    const text = typeof warning === 'string' ? warning : warning.message;
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: unknown } | undefined)?.type;
    const name = typeof warning === 'string' ? type : warning.name;
    if (name === 'ExperimentalWarning' && /sqlite/i.test(text)) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    const mod = getBuiltin('node:sqlite') as NodeSqliteModule | undefined;
    return mod !== undefined && typeof mod.DatabaseSync === 'function' ? mod : undefined;
  } catch {
    // Older Node: node:sqlite exists only behind --experimental-sqlite.
    return undefined;
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** better-sqlite3 as loaded by {@link preloadBetterSqlite3}: its class, or the error loading it threw. */
let preloaded: { readonly ctor: BetterSqlite3Constructor } | { readonly error: unknown } | undefined;

/**
 * Loads better-sqlite3 and its native addon once, ahead of the first `sqliteStore()`, on a Node
 * without `node:sqlite` (where `auto` picks better-sqlite3). Called when `mailpush/stores/sqlite`
 * is imported: loading the package (`bindings` searching for the addon, `dlopen`) takes 50-150 ms
 * of synchronous work, which belongs to the application's start-up rather than to the moment
 * a store is opened, when the host may already serve requests. A failure is kept and thrown by
 * the first {@link loadBetterSqlite3}, with the same MISSING_DEPENDENCY error as without preload.
 */
export function preloadBetterSqlite3(): void {
  if (preloaded !== undefined || loadNodeSqlite() !== undefined) return;
  let ctor: BetterSqlite3Constructor;
  try {
    ctor = loadBetterSqlite3();
  } catch (error) {
    preloaded = { error };
    return;
  }
  preloaded = { ctor };
  try {
    // The addon itself is loaded by the first Database: open and close one in memory.
    new ctor(':memory:').close();
  } catch {
    // An addon that does not load (built for another Node) fails the real open with a STORE error.
  }
}

/** Loads better-sqlite3 synchronously, with a MailError naming the package when it is missing. */
export function loadBetterSqlite3(requireFn?: (id: string) => unknown): BetterSqlite3Constructor {
  if (requireFn === undefined) {
    if (preloaded !== undefined) {
      if ('ctor' in preloaded) return preloaded.ctor;
      throw preloaded.error;
    }
    requireFn = createRequire(import.meta.url);
  }
  let loaded: unknown;
  try {
    loaded = requireFn(BETTER_SQLITE3);
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    const message = err instanceof Error ? err.message : String(err);
    if ((code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') && message.includes(BETTER_SQLITE3)) {
      throw new MailError(
        `The SQLite store needs the "${BETTER_SQLITE3}" package on this Node (${process.version} has no node:sqlite): npm install ${BETTER_SQLITE3}`,
        { code: MailErrorCode.MISSING_DEPENDENCY, retryable: false, cause: err },
      );
    }
    // Installed but unusable, typically a native build for another Node version.
    throw new MailError(`Could not load "${BETTER_SQLITE3}" (try: npm rebuild ${BETTER_SQLITE3}): ${message}`, {
      code: MailErrorCode.MISSING_DEPENDENCY,
      retryable: false,
      cause: err,
    });
  }
  const ctor = typeof loaded === 'function' ? loaded : (loaded as { default?: unknown } | null)?.default;
  if (typeof ctor !== 'function') {
    throw new MailError(`The module loaded for "${BETTER_SQLITE3}" is not its Database class`, { code: MailErrorCode.MISSING_DEPENDENCY, retryable: false });
  }
  return ctor as BetterSqlite3Constructor;
}

/** What {@link openConnection} needs. */
export interface OpenConnectionOptions {
  readonly driver: 'auto' | SqliteDriverName;
  /** A better-sqlite3 `Database` class to use instead of importing the package. */
  readonly lib?: BetterSqlite3Constructor | undefined;
}

/** Which driver `auto` picks on this Node. */
export function resolveDriver(driver: 'auto' | SqliteDriverName, lib?: BetterSqlite3Constructor): SqliteDriverName {
  if (driver !== 'auto') return driver;
  if (lib !== undefined) return 'better-sqlite3';
  return loadNodeSqlite() !== undefined ? 'node:sqlite' : 'better-sqlite3';
}

/**
 * Opens a connection with the chosen driver. Library errors (the file cannot be opened) are
 * thrown as they are; the store turns them into STORE errors with its own wording.
 */
export function openConnection(path: string, options: OpenConnectionOptions): SqliteConnection {
  const driver = resolveDriver(options.driver, options.lib);
  if (driver === 'node:sqlite') {
    const mod = loadNodeSqlite();
    if (mod === undefined) {
      throw new MailError(`The "node:sqlite" driver needs Node 22.13 or later without flags (this is ${process.version}); use driver: 'better-sqlite3'`, {
        code: MailErrorCode.CONFIG,
        option: 'driver',
        retryable: false,
      });
    }
    const db = new mod.DatabaseSync(path);
    return {
      driver,
      exec: (sql) => db.exec(sql),
      prepare: (sql) => db.prepare(sql),
      close: () => db.close(),
    };
  }
  const Database = options.lib ?? loadBetterSqlite3();
  const db = new Database(path, { timeout: 0 });
  return {
    driver,
    exec: (sql) => {
      db.exec(sql);
    },
    prepare: (sql) => db.prepare(sql),
    close: () => {
      db.close();
    },
  };
}

/** SQLite primary result codes by number, for errors of drivers that give only the number. */
const RESULT_NAMES: Readonly<Record<number, string>> = {
  1: 'SQLITE_ERROR',
  2: 'SQLITE_INTERNAL',
  3: 'SQLITE_PERM',
  4: 'SQLITE_ABORT',
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  7: 'SQLITE_NOMEM',
  8: 'SQLITE_READONLY',
  9: 'SQLITE_INTERRUPT',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  15: 'SQLITE_PROTOCOL',
  17: 'SQLITE_SCHEMA',
  18: 'SQLITE_TOOBIG',
  19: 'SQLITE_CONSTRAINT',
  20: 'SQLITE_MISMATCH',
  21: 'SQLITE_MISUSE',
  22: 'SQLITE_NOLFS',
  23: 'SQLITE_AUTH',
  26: 'SQLITE_NOTADB',
};

/**
 * The primary SQLite result code of an error from either driver (`SQLITE_FULL`), or undefined
 * when the error does not come from SQLite. better-sqlite3 gives extended names
 * (`SQLITE_IOERR_WRITE`); node:sqlite gives the extended number in `errcode`.
 */
export function sqliteCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; errcode?: unknown };
  if (typeof e.errcode === 'number') return RESULT_NAMES[e.errcode & 0xff] ?? `SQLITE_${e.errcode & 0xff}`;
  if (typeof e.code === 'string' && e.code.startsWith('SQLITE_')) {
    const primary = Object.values(RESULT_NAMES).find((name) => e.code === name || (e.code as string).startsWith(`${name}_`));
    return primary ?? e.code;
  }
  return undefined;
}
