import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { redisState } from '../../src/bullmq/index.js';
import type { RedisState, RedisStateOptions } from '../../src/bullmq/index.js';

/** The shared test Redis. */
export const REDIS = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) } as const;

/** A key prefix of its own for one test file: `mailpush-test:<random>:`. */
export function testPrefix(): string {
  return `mailpush-test:${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under `prefix` (SCAN + UNLINK; never FLUSH). */
export async function deleteKeys(prefix: string, connection: { host: string; port: number } = REDIS): Promise<number> {
  const redis = new Redis({ ...connection, lazyConnect: false });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/**
 * Opens states on one prefix and remembers them, so that parts (which have no close of their
 * own) can be reopened and everything closed at the end.
 */
export function stateTracker(base: Omit<RedisStateOptions, 'connection' | 'prefix'> = {}) {
  const prefix = testPrefix();
  const open = new Set<RedisState>();
  const owner = new Map<object, RedisState>();
  let n = 0;
  return {
    prefix,
    /** A state on a fresh sub-prefix (an empty store). */
    create(extra: Partial<RedisStateOptions> = {}): RedisState {
      return this.on(`${prefix}${++n}:`, extra);
    },
    /** A state on `p` exactly. */
    on(p: string, extra: Partial<RedisStateOptions> = {}): RedisState {
      const state = redisState({ connection: REDIS, ...base, ...extra, prefix: p });
      open.add(state);
      for (const part of [state.suppression, state.idempotency, state.softBounces, state.correlation, state.replay, state.limiter]) owner.set(part, state);
      return state;
    },
    /** Closes the state that owns `part` and opens a new one on the same prefix. */
    async reopen(part: object, extra: Partial<RedisStateOptions> = {}): Promise<RedisState> {
      const state = owner.get(part);
      if (state === undefined) throw new Error('unknown part');
      await state.close();
      open.delete(state);
      return this.on(state.prefix, extra);
    },
    async closeAll(): Promise<void> {
      await Promise.all([...open].map((s) => s.close()));
      open.clear();
      await deleteKeys(prefix);
    },
  };
}
