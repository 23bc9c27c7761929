/**
 * The seam between the Redis-backed parts and ioredis: loading the optional package lazily,
 * opening a connection whose calls never hang during an outage, running Lua scripts through
 * EVALSHA, and turning Redis failures into STORE {@link MailError}s.
 *
 * @module
 * @internal
 */

import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import { configError, isMailError, MailError, MailErrorCode } from '../errors.js';
import type { Clock } from '../types.js';

/** npm packages of the distributed backend, as named in the MISSING_DEPENDENCY message. */
export const REDIS_PACKAGES = 'bullmq ioredis';

/** ioredis's `Redis` class (the package's default export). */
export type RedisConstructor = new (options: RedisOptions) => Redis;

/**
 * Where to connect: host and port (plus any other ioredis option), or an ioredis client the
 * host already has. A client passed in is shared, not owned: `close()` leaves it open.
 */
export type RedisConnection = (RedisOptions & { readonly host?: string; readonly port?: number }) | Redis;

/** Default key prefix of every key written. */
export const DEFAULT_PREFIX = 'mailpush:';

/** Default bound on one Redis call, ms: a call that got no answer by then rejects with STORE. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;

/** What every Redis-backed part is built from: one client, one key prefix, one clock. */
export interface RedisPartContext {
  /** The client, shared by every part. */
  readonly redis: Redis;
  /** Prefix of every key (`mailpush:`). */
  readonly prefix: string;
  /** Time source of the parts that expire data by themselves (correlation, replay ids). */
  readonly clock: Pick<Clock, 'now'>;
}

/**
 * Loads ioredis synchronously (it is CommonJS), with a MailError naming the packages to
 * install when it is missing.
 */
export function loadIoredis(requireFn: (id: string) => unknown = createRequire(import.meta.url)): RedisConstructor {
  let loaded: unknown;
  try {
    loaded = requireFn('ioredis');
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new MailError(`The Redis backend (mailpush/bullmq) needs the "ioredis" package: npm install ${REDIS_PACKAGES} (${message})`, {
      code: MailErrorCode.MISSING_DEPENDENCY,
      retryable: false,
      cause: err,
    });
  }
  const mod = loaded as { Redis?: unknown; default?: unknown } | null;
  const ctor = typeof mod?.Redis === 'function' ? mod.Redis : typeof mod?.default === 'function' ? mod.default : loaded;
  if (typeof ctor !== 'function') {
    throw new MailError(`The module loaded for "ioredis" has no Redis class: npm install ${REDIS_PACKAGES}`, { code: MailErrorCode.MISSING_DEPENDENCY, retryable: false });
  }
  return ctor as RedisConstructor;
}

/** True when `value` looks like an ioredis client (rather than connection options). */
export function isRedisClient(value: unknown): value is Redis {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { defineCommand?: unknown; sendCommand?: unknown; status?: unknown };
  return typeof v.defineCommand === 'function' && typeof v.sendCommand === 'function' && typeof v.status === 'string';
}

/**
 * Opens a client for `connection` (or adopts the one given). Our own clients are configured
 * so that nothing waits forever while Redis is away: a call made during an outage is retried
 * on one reconnect attempt at most and is bounded by `commandTimeoutMs` in any case.
 */
export function openRedis(connection: RedisConnection, commandTimeoutMs: number, load: () => RedisConstructor = loadIoredis): { redis: Redis; owned: boolean } {
  if (isRedisClient(connection)) return { redis: connection, owned: false };
  if (typeof connection !== 'object' || connection === null) throw configError('connection', 'an object with host and port, or an ioredis client', connection);
  const { host, port } = connection;
  if (host !== undefined && (typeof host !== 'string' || host === '')) throw configError('connection.host', 'a non-empty string', host);
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535)) throw configError('connection.port', 'an integer from 1 to 65535', port);
  const Ctor = load();
  const redis = new Ctor({
    // Commands issued before the first connect wait in the offline queue; once the client has
    // given up on one reconnect attempt they reject instead of piling up.
    enableOfflineQueue: true,
    maxRetriesPerRequest: 1,
    connectTimeout: Math.min(commandTimeoutMs, 10_000),
    commandTimeout: commandTimeoutMs,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
    // Calls made in the same tick (a send's lease releases, its results, its correlation
    // record) go to Redis in one round trip.
    enableAutoPipelining: true,
    ...connection,
  });
  // ioredis emits 'error' for every failed reconnect; unhandled, that would crash the host.
  // The calls themselves reject with STORE errors, which is where the failure is reported.
  redis.on('error', () => undefined);
  return { redis, owned: true };
}

/** Closes a client we own: a clean QUIT when it is connected, a disconnect otherwise. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // fall through: the connection broke while quitting
    }
  }
  redis.disconnect();
}

/** A STORE MailError (retryable) for a failed Redis call, keeping the cause. */
export function storeError(doing: string, err: unknown): MailError {
  if (isMailError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new MailError(`Redis store: ${doing} failed: ${message}`, { code: MailErrorCode.STORE, retryable: true, cause: err });
}

/** Runs one Redis call, turning any failure into a STORE error. */
export async function guard<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw storeError(doing, err);
  }
}

/** A Lua script run through EVALSHA (EVAL once when Redis does not know it, as after a restart). */
export type Script = (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

/**
 * Defines `lua` on the client under `name` (ioredis keeps its SHA and falls back to EVAL on
 * NOSCRIPT) and returns a caller. The key count is passed per call, so one script may take a
 * variable number of keys.
 */
export function defineScript(redis: Redis, name: string, lua: string): Script {
  const commands = redis as unknown as Record<string, ((...args: (string | number)[]) => Promise<unknown>) | undefined>;
  if (typeof commands[name] !== 'function') redis.defineCommand(name, { lua });
  return (keys, args) => (commands[name] as (...a: (string | number)[]) => Promise<unknown>).call(redis, keys.length, ...keys, ...args);
}

/** Validates a key prefix. */
export function checkPrefix(prefix: unknown): string {
  if (prefix === undefined) return DEFAULT_PREFIX;
  if (typeof prefix !== 'string' || prefix === '' || /[\s]/.test(prefix)) throw configError('prefix', 'a non-empty string without spaces', prefix);
  return prefix;
}

/** Whole milliseconds of a TTL, at least 1 (PX refuses 0). */
export function ttlMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}
