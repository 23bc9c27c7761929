import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../src/stores/sqlite.js';
import type { SqliteStore } from '../../src/stores/sqlite.js';
import { testMailerStore } from '../../src/testing/mailer-store-conformance.js';
import type { MailerStore } from '../../src/types.js';
import { DRIVERS, tempDir } from './sqlite-helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

it('runs on at least one driver here', () => {
  expect(DRIVERS.length).toBeGreaterThan(0);
});

for (const driver of DRIVERS) {
  testMailerStore({
    name: `sqlite store (${driver})`,
    create: ({ now }) => sqliteStore({ path: tmp.file(), driver, clock: { now }, correlationRetentionMs: 86_400_000 }),
    reopen: async (previous: MailerStore, { now }) => {
      const { path } = previous as SqliteStore;
      await previous.close?.();
      return sqliteStore({ path, driver, clock: { now }, correlationRetentionMs: 86_400_000 });
    },
    correlationRetentionMs: 86_400_000,
  });

  testMailerStore({
    name: `sqlite store in memory (${driver})`,
    create: ({ now }) => sqliteStore({ path: ':memory:', driver, clock: { now } }),
  });
}

describe('sqliteStore', () => {
  it('reports the driver it picked', async () => {
    const store = sqliteStore({ path: ':memory:' });
    expect(DRIVERS).toContain(store.driver);
    await store.close();
  });
});
