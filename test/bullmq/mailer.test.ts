/**
 * The mailer on the BullMQ store, in one process: producers and workers as separate mailers
 * on one Redis prefix, a real redis-server on 127.0.0.1, the memory transport.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bullmqStore } from '../../src/bullmq/index.js';
import type { BullmqStoreOptions } from '../../src/bullmq/index.js';
import { MailErrorCode } from '../../src/errors.js';
import { createMailer } from '../../src/mailer/index.js';
import type { Mailer, MailerOptions } from '../../src/mailer/index.js';
import memoryTransport from '../../src/transports/memory.js';
import type { MemoryTransport } from '../../src/transports/memory.js';
import { deleteKeys, REDIS, testPrefix } from './helpers.js';

const open: Mailer[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close({ timeoutMs: 2_000 })));
  await Promise.all(prefixes.splice(0).map((p) => deleteKeys(p)));
});

function fleet() {
  const prefix = testPrefix();
  prefixes.push(prefix);
  const make = (options: Partial<BullmqStoreOptions> = {}, mailer: Partial<MailerOptions> = {}): { mailer: Mailer; transport: MemoryTransport } => {
    const transport = memoryTransport();
    const m = createMailer({ transport, store: bullmqStore({ connection: REDIS, prefix, lockDurationMs: 2_000, ...options }), retry: { scheduleMs: [300], jitter: 0 }, ...mailer });
    open.push(m);
    return { mailer: m, transport };
  };
  return { prefix, make };
}

const msg = (to: string | string[], subject = 'Hi') => ({ from: 'App <app@example.com>', to, subject, text: 'Hello' });

describe('the mailer on the BullMQ store', () => {
  it('delivers through a worker what a producer enqueued, and the producer learns the outcome', async () => {
    const { make } = fleet();
    const producer = make({ role: 'producer' });
    const worker = make({ role: 'worker' });
    await worker.mailer.ready();
    const receipts = [];
    for (let i = 0; i < 20; i++) receipts.push(await producer.mailer.send(msg([`u${i}@a.test`, `u${i}@b.test`], `n${i}`)));
    const reports = await Promise.all(receipts.map((r) => r.done()));
    expect(reports.every((r) => r.status === 'sent')).toBe(true);
    expect(reports[0]!.recipients.map((r) => r.status)).toEqual(['sent', 'sent']);
    expect(producer.transport.count).toBe(0);
    expect(worker.transport.count).toBe(40);
    // The same Message-ID on both jobs of a message, and status() from any process.
    expect(new Set(worker.transport.sent.filter((s) => s.message.subject === 'n0').map((s) => s.message.messageId))).toEqual(new Set([receipts[0]!.messageId]));
    expect(await producer.mailer.status(receipts[3]!.id)).toMatchObject({ status: 'sent', messageId: receipts[3]!.messageId });
  });

  it('retries a temporary failure as a delayed job, with its attempt count', async () => {
    const { make } = fleet();
    const both = make();
    await both.mailer.ready();
    both.transport.faults.failNext(1, 'tempfail');
    const receipt = await both.mailer.send(msg('ann@a.test'));
    const report = await receipt.done();
    expect(report.status).toBe('sent');
    expect(report.recipients[0]).toMatchObject({ status: 'sent', attempts: 2 });
    expect(both.transport.count).toBe(1);
  });

  it('keeps sendAt as a delayed job', async () => {
    const { make } = fleet();
    const both = make();
    await both.mailer.ready();
    const at = Date.now() + 700;
    const receipt = await both.mailer.send(msg('later@a.test'), { sendAt: at });
    await new Promise((r) => setTimeout(r, 300));
    expect(both.transport.count).toBe(0);
    await receipt.done();
    expect(both.transport.sent[0]!.at).toBeGreaterThanOrEqual(at - 5);
  });

  it('deduplicates idempotency keys across processes', async () => {
    const { make } = fleet();
    const a = make({ role: 'producer' });
    const b = make({ role: 'producer' });
    const worker = make({ role: 'worker' });
    await worker.mailer.ready();
    const [r1, r2] = await Promise.all([a.mailer.send(msg('x@a.test'), { idempotencyKey: 'reset:1' }), b.mailer.send(msg('x@a.test'), { idempotencyKey: 'reset:1' })]);
    expect(r1!.id).toBe(r2!.id);
    expect([r1!.duplicate, r2!.duplicate].sort()).toEqual([false, true]);
    await r1!.done();
    await r2!.done();
    expect(worker.transport.count).toBe(1);
  });

  it('honours a suppression added through another process', async () => {
    const { make } = fleet();
    const producer = make({ role: 'producer' });
    const worker = make({ role: 'worker' });
    await worker.mailer.ready();
    await producer.mailer.suppression.add({ address: 'gone@a.test', reason: 'hard-bounce', createdAt: Date.now() });
    const report = await (await producer.mailer.send(msg('gone@a.test'))).done();
    expect(report.recipients[0]).toMatchObject({ status: 'suppressed' });
    expect(worker.transport.count).toBe(0);
  });

  it('hands waiting jobs back on close, and another worker sends them', async () => {
    const { make } = fleet();
    const producer = make({ role: 'producer' });
    const slow = make({ role: 'worker', laneConcurrency: 50 }, { limits: { domains: { 'a.test': { ratePerSecond: 5, burst: 1 } } } });
    await slow.mailer.ready();
    const receipts = [];
    for (let i = 0; i < 30; i++) receipts.push(await producer.mailer.send(msg(`u${i}@a.test`)));
    await new Promise((r) => setTimeout(r, 500));
    await slow.mailer.close();
    const sentBefore = slow.transport.count;
    expect(sentBefore).toBeLessThan(30);
    const next = make({ role: 'worker' });
    await next.mailer.ready();
    const reports = await Promise.all(receipts.map((r) => r.done()));
    expect(reports.every((r) => r.status === 'sent')).toBe(true);
    expect(sentBefore + next.transport.count).toBe(30);
  });

  it('rejects send() with a typed error when Redis cannot be reached', async () => {
    const transport = memoryTransport();
    const mailer = createMailer({ transport, store: bullmqStore({ connection: { host: '127.0.0.1', port: 1 }, prefix: testPrefix(), role: 'producer', commandTimeoutMs: 500 }) });
    open.push(mailer);
    await expect(mailer.send(msg('a@a.test'))).rejects.toMatchObject({ code: MailErrorCode.STORE });
  });
});
