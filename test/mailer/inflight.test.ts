import { describe, expect, it } from 'vitest';
import { createMailer } from '../../src/mailer/index.js';
import memoryQueueStore from '../../src/stores/memory.js';
import memoryTransport from '../../src/transports/memory.js';

const msg = (to: string) => ({ from: 'App <app@example.com>', to, subject: 'Hi', text: 'Hello' });
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('sends in flight: shared and own controllers', () => {
  it('aborting a message stops only its own send; the sends on the shared controller go on', async () => {
    const transport = memoryTransport({ latencyMs: 100 });
    const mailer = createMailer({ transport });
    const own = new AbortController();
    const a = await mailer.send(msg('a@x.test'), { signal: own.signal });
    const b = await mailer.send(msg('b@y.test'));
    const c = await mailer.send(msg('c@z.test'));
    await tick(10);
    expect(mailer.stats().inflight).toBe(3);
    own.abort(new Error('changed my mind'));
    expect((await a.done()).status).toBe('failed');
    expect((await b.done()).status).toBe('sent');
    expect((await c.done()).status).toBe('sent');
    expect(transport.sent.map((m) => m.envelope.to[0])).toEqual(['b@y.test', 'c@z.test']);
    expect(await mailer.close()).toEqual({ pending: 0 });
  });

  it('close() waits for shared and own sends alike, then aborts both after its timeout and keeps them in the store', async () => {
    const store = memoryQueueStore();
    const transport = memoryTransport({ latencyMs: 5_000 });
    const mailer = createMailer({ transport, store });
    const own = new AbortController();
    const a = await mailer.send(msg('a@x.test'), { signal: own.signal });
    const b = await mailer.send(msg('b@y.test'));
    await tick(10);
    expect(mailer.stats().inflight).toBe(2);
    const started = Date.now();
    expect(await mailer.close({ timeoutMs: 50 })).toEqual({ pending: 2 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await a.done()).status).toBe('pending');
    expect((await b.done()).status).toBe('pending');
    expect(transport.sent).toHaveLength(0);
    expect(store.size()).toBe(2);
  });

  it('close() resolves at once when the last shared send ends before its timeout', async () => {
    const transport = memoryTransport({ latencyMs: 30 });
    const mailer = createMailer({ transport });
    for (let i = 0; i < 5; i++) await mailer.send(msg(`u${i}@d${i}.test`));
    await tick(5);
    expect(await mailer.close({ timeoutMs: 5_000 })).toEqual({ pending: 0 });
    expect(transport.sent).toHaveLength(5);
  });
});
