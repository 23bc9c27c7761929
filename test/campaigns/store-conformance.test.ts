import { afterAll } from 'vitest';
import { memoryCampaignStore } from '../../src/stores/campaigns-memory.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import { sqliteStore } from '../../src/stores/sqlite.js';
import type { SqliteStore } from '../../src/stores/sqlite.js';
import { testCampaignStore } from '../../src/testing/campaign-store-conformance.js';
import type { CampaignStore } from '../../src/types.js';
import { redisState } from '../../src/bullmq/index.js';
import type { RedisState } from '../../src/bullmq/index.js';
import { REDIS, deleteKeys, testPrefix } from '../bullmq/helpers.js';
import { DRIVERS, tempDir } from '../stores/sqlite-helpers.js';

testCampaignStore({ name: 'memory campaign store', create: () => memoryCampaignStore() });
testCampaignStore({ name: 'memoryStore().campaigns', create: () => memoryStore().campaigns });

const tmp = tempDir('mailpush-campaigns-');
afterAll(() => tmp.cleanup());
for (const driver of DRIVERS) {
  const owners = new Map<CampaignStore, SqliteStore>();
  const open = (path: string): CampaignStore => {
    const store = sqliteStore({ path, driver });
    owners.set(store.campaigns, store);
    return store.campaigns;
  };
  testCampaignStore({
    name: `sqlite campaign store (${driver})`,
    create: () => open(tmp.file()),
    dispose: (s) => owners.get(s)?.close(),
    reopen: async (previous) => {
      const store = owners.get(previous)!;
      await store.close();
      return open(store.path);
    },
  });
}

// Redis: a prefix of this file's own, cleaned at the end.
const prefix = testPrefix();
const redisOwners = new Map<CampaignStore, RedisState>();
let n = 0;
const openRedis = (p: string): CampaignStore => {
  const state = redisState({ connection: REDIS, prefix: p });
  redisOwners.set(state.campaigns, state);
  return state.campaigns;
};
afterAll(async () => {
  await Promise.all([...redisOwners.values()].map((s) => s.close()));
  await deleteKeys(prefix);
});
testCampaignStore({
  name: 'redis campaign store',
  create: () => openRedis(`${prefix}${++n}:`),
  dispose: (s) => redisOwners.get(s)?.close(),
  reopen: async (previous) => {
    const state = redisOwners.get(previous)!;
    await state.close();
    return openRedis(state.prefix);
  },
});
