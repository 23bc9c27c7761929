/**
 * The SubscriptionStore conformance suite against the three stores: memory, SQLite (a real
 * file, each driver this Node has) and Redis (the real server on 127.0.0.1, a prefix of our own).
 */
import { afterAll } from 'vitest';
import { redisState } from '../../src/bullmq/index.js';
import type { RedisState } from '../../src/bullmq/index.js';
import { sqliteStore } from '../../src/stores/sqlite.js';
import type { SqliteStore } from '../../src/stores/sqlite.js';
import { memorySubscriptionStore } from '../../src/stores/subscriptions-memory.js';
import { testSubscriptionStore } from '../../src/testing/subscription-store-conformance.js';
import type { SubscriptionStore } from '../../src/types.js';
import { deleteKeys, REDIS, testPrefix } from '../bullmq/helpers.js';
import { DRIVERS, tempDir } from '../stores/sqlite-helpers.js';

testSubscriptionStore({ name: 'memory subscription store', create: () => memorySubscriptionStore() });

const tmp = tempDir('mailpush-subscriptions-');
const sqliteOwners = new Map<SubscriptionStore, SqliteStore>();
for (const driver of DRIVERS) {
  const open = (path: string): SubscriptionStore => {
    const store = sqliteStore({ path, driver });
    const part = store.subscriptions;
    sqliteOwners.set(part, store);
    // The part has no close of its own: closing it closes its store.
    return Object.assign(Object.create(part) as SubscriptionStore, { close: () => store.close() });
  };
  testSubscriptionStore({
    name: `sqlite subscription store (${driver})`,
    create: () => open(tmp.file()),
    reopen: async (previous) => {
      await previous.close?.();
      const owner = [...sqliteOwners.values()].find((s) => Object.getPrototypeOf(previous) === s.subscriptions);
      if (owner === undefined) throw new Error('unknown store');
      return open(owner.path);
    },
  });
}

const prefix = testPrefix();
const states: RedisState[] = [];
let n = 0;
const openRedis = (p: string): SubscriptionStore => {
  const state = redisState({ connection: REDIS, prefix: p });
  states.push(state);
  return Object.assign(Object.create(state.subscriptions) as SubscriptionStore, { close: () => state.close(), prefix: p });
};
testSubscriptionStore({
  name: 'redis subscription store',
  create: () => openRedis(`${prefix}${++n}:`),
  reopen: async (previous) => {
    await previous.close?.();
    return openRedis((previous as SubscriptionStore & { prefix: string }).prefix);
  },
});

afterAll(async () => {
  await Promise.all(states.map((s) => s.close()));
  await deleteKeys(prefix);
  await Promise.all([...sqliteOwners.values()].map((s) => s.close()));
  tmp.cleanup();
});
