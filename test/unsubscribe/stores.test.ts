/**
 * One-click unsubscribe and the next send, with the subscriptions and the suppression list in
 * each store: memory, a SQLite file, and Redis (the real server, a prefix of our own).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { redisState } from '../../src/bullmq/index.js';
import { createMailer } from '../../src/mailer/index.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import { sqliteStore } from '../../src/stores/sqlite.js';
import memoryTransport from '../../src/transports/memory.js';
import type { MailerStore } from '../../src/types.js';
import { createUnsubscribeHandler, listMembers, subscribeAddress, toNodeHandler } from '../../src/unsubscribe/index.js';
import { deleteKeys, REDIS, testPrefix } from '../bullmq/helpers.js';
import { tempDir } from '../stores/sqlite-helpers.js';

const tmp = tempDir('mailpush-unsub-stores-');
const prefix = testPrefix();
afterAll(async () => {
  await deleteKeys(prefix);
  tmp.cleanup();
});

const stores: [string, () => { store: MailerStore; close: () => Promise<void> }][] = [
  ['memory', () => ({ store: memoryStore(), close: async () => undefined })],
  ['sqlite', () => ({ store: sqliteStore({ path: tmp.file() }), close: async () => undefined })],
  [
    'redis',
    () => {
      const state = redisState({ connection: REDIS, prefix });
      return { store: { ...memoryStore(), suppression: state.suppression, subscriptions: state.subscriptions }, close: () => state.close() };
    },
  ],
];

describe.each(stores)('with the %s store', (_name, make) => {
  it('a one-click POST unsubscribes from the list in the store, and the next send is suppressed', async () => {
    const { store, close } = make();
    const transport = memoryTransport();
    const mailer = createMailer({ transport, store, unsubscribe: { url: 'https://u.shop.example/unsubscribe', secrets: ['stores-test-secret-000001'] }, postalAddress: '1 Main St' });
    const server = createServer(toNodeHandler(createUnsubscribeHandler({ mailer })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      expect(mailer.subscriptions).toBe(store.subscriptions);
      for (const a of ['ann@example.org', 'bob@example.org']) await subscribeAddress(mailer, 'weekly', a, { at: Date.now() - 1, source: 'signup-form' });
      const first = await mailer.send({ from: 'news@shop.example', to: 'ann@example.org', subject: 'Weekly', text: 'Hi', category: 'marketing', list: 'weekly' });
      await first.done();
      const header = first.message.headers.find(([n]) => n === 'List-Unsubscribe')?.[1] ?? '';
      const path = new URL(/<(https:[^>]+)>/.exec(header)?.[1] as string).pathname;
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
      expect(res.status).toBe(200);
      expect((await store.subscriptions?.get('weekly', 'ann@example.org'))?.status).toBe('unsubscribed');
      const members: string[] = [];
      for await (const a of listMembers(mailer.subscriptions, 'weekly')) members.push(a);
      expect(members).toEqual(['bob@example.org']);
      const second = await (await mailer.send({ from: 'news@shop.example', to: 'ann@example.org', subject: 'Weekly 2', text: 'Hi', category: 'marketing', list: 'weekly' })).done();
      expect(second.recipients[0]?.status).toBe('suppressed');
      expect(transport.count).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await mailer.close();
      await close();
    }
  });
});
