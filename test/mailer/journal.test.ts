import { describe, expect, it } from 'vitest';
import { MailErrorCode, createMailer, memoryQueueStore, memoryTransport } from '../../src/index.js';
import type { QueueStore, StoredEntry } from '../../src/index.js';

const message = { from: 'App <app@example.com>', to: 'ann@example.org', subject: 'Hi', text: 'Hello' };

/** The memory queue store whose `add` fails (synchronously or with a rejected promise) for the subject "fail". */
function failingStore(mode: 'throw' | 'reject'): QueueStore {
  const store = memoryQueueStore();
  return {
    ...store,
    name: 'failing',
    add(entry: StoredEntry) {
      if (entry.message.subject !== 'fail') return store.add(entry);
      if (mode === 'throw') throw new Error('disk full');
      return Promise.reject(new Error('disk full'));
    },
  };
}

describe('journal: send() and the queue store add', () => {
  for (const mode of ['throw', 'reject'] as const) {
    it(`rejects with STORE when the store's add ${mode === 'throw' ? 'throws' : 'rejects'}, queues nothing, and goes on with the next message`, async () => {
      const transport = memoryTransport();
      const mailer = createMailer({ transport, store: failingStore(mode) });
      const err = await mailer.send({ ...message, subject: 'fail' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: MailErrorCode.STORE, message: expect.stringMatching(/queue store \(failing\) could not record the message: disk full/) });
      expect((err as Error).cause).toBeInstanceOf(Error);
      expect(mailer.stats().scheduled + mailer.stats().inflight).toBe(0);
      const receipt = await mailer.send(message);
      expect((await receipt.done()).status).toBe('sent');
      expect(transport.sent.map((m) => m.message.subject)).toEqual(['Hi']);
      await mailer.close();
    });
  }

  it('a synchronous store (memory) resolves send() and delivers; an asynchronous one too', async () => {
    const sync = memoryQueueStore();
    const asyncStore: QueueStore = { ...sync, name: 'async', add: (entry) => Promise.resolve(sync.add(entry)) };
    for (const store of [memoryQueueStore(), asyncStore]) {
      const transport = memoryTransport();
      const mailer = createMailer({ transport, store });
      const receipts = await Promise.all([0, 1, 2].map((i) => mailer.send({ ...message, to: `u${i}@example.org` })));
      const reports = await Promise.all(receipts.map((r) => r.done()));
      expect(reports.map((r) => r.status)).toEqual(['sent', 'sent', 'sent']);
      await mailer.close();
    }
  });
});
