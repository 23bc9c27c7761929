import { describe, expect, it } from 'vitest';
import { MailErrorCode, isMailError } from '../src/errors.js';
import type { DeferredEvent, FailedEvent, SentEvent, ThrottledEvent } from '../src/events.js';
import { createMailer } from '../src/mailer/index.js';
import memoryQueueStore from '../src/stores/memory.js';
import { createTestClock } from '../src/testing/clock.js';
import { createTestMailer } from '../src/testing/test-mailer.js';
import memoryTransport from '../src/transports/memory.js';

const msg = (to: string | string[], extra: Record<string, unknown> = {}) => ({ from: 'App <app@example.com>', to, subject: 'Hi', text: 'Hello', ...extra });

async function rejects(p: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    expect(isMailError(err)).toBe(true);
    return err as Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

describe('createMailer options', () => {
  it('names the option and the value it got', () => {
    const transport = memoryTransport();
    expect(() => createMailer({ transport, limits: { default: { ratePerSecond: -1 } } })).toThrow(
      'Expected `limits.default.ratePerSecond` to be a positive number (or Infinity), got -1',
    );
    expect(() => createMailer({ transport, limits: { domains: { 'gmail.com': { concurrency: 1.5 } } } })).toThrow('limits.domains["gmail.com"].concurrency');
    expect(() => createMailer({ transport, retry: { scheduleMs: [] } })).toThrow('`retry.scheduleMs`');
    expect(() => createMailer({ transport, retry: { jitter: 2 } })).toThrow('`retry.jitter`');
    expect(() => createMailer({ transport, throttle: { decreaseFactor: 1 } })).toThrow('`throttle.decreaseFactor`');
    expect(() => createMailer({ transport, priorityWeights: { urgent: 3 } as never })).toThrow('priorityWeights.urgent');
    expect(() => createMailer({ transport: {} as never })).toThrow('`transport`');
    expect(() => createMailer(undefined as never)).toThrow('`options`');
    try {
      createMailer({ transport, idempotencyWindowMs: Number.NaN });
    } catch (err) {
      expect(err).toMatchObject({ code: MailErrorCode.CONFIG, option: 'idempotencyWindowMs' });
    }
  });
});

describe('send', () => {
  it('resolves once queued and reports the final outcome through done()', async () => {
    const mailer = createTestMailer();
    const receipt = await mailer.send(msg(['a@one.test', 'b@two.test', 'c@one.test']));
    expect(receipt.messageId).toMatch(/^<.+@example\.com>$/);
    expect(receipt.jobs.map((j) => [j.domain, j.recipients])).toEqual([
      ['one.test', ['a@one.test', 'c@one.test']],
      ['two.test', ['b@two.test']],
    ]);
    mailer.assertSentTo('b@two.test');
    await mailer.flush();
    const report = await receipt.done();
    expect(report.status).toBe('sent');
    expect(report.recipients.map((r) => r.address).sort()).toEqual(['a@one.test', 'b@two.test', 'c@one.test']);
    expect(mailer.outbox).toHaveLength(2);
    expect(mailer.outbox.every((m) => m.message.messageId === receipt.messageId)).toBe(true);
  });

  it('rejects invalid input with typed errors and queues nothing', async () => {
    const mailer = createTestMailer();
    expect(await rejects(mailer.send(msg('bad address')))).toMatchObject({ code: MailErrorCode.INVALID_ADDRESS });
    expect(await rejects(mailer.send(msg('a@b.test', { subject: 'x\r\nBcc: evil@evil.test' })))).toMatchObject({ code: MailErrorCode.INVALID_HEADER });
    expect(await rejects(mailer.send(msg('a@b.test'), { priority: 'urgent' as never }))).toMatchObject({ code: MailErrorCode.VALIDATION });
    expect(await rejects(mailer.send(msg('a@b.test'), { sendAt: new Date('nope') }))).toMatchObject({ code: MailErrorCode.VALIDATION });
    expect(await rejects(mailer.send(msg('a@b.test'), { idempotencyKey: '' }))).toMatchObject({ code: MailErrorCode.VALIDATION });
    expect(await rejects(mailer.send(null as never))).toMatchObject({ code: MailErrorCode.VALIDATION });
    await mailer.flush();
    mailer.assertNothingSent();
    expect(mailer.outbox).toHaveLength(0);
  });

  it('returns the first receipt for a repeated idempotency key and sends once', async () => {
    const mailer = createTestMailer();
    const a = await mailer.send(msg('a@x.test'), { idempotencyKey: 'order-42' });
    const b = await mailer.send(msg('a@x.test'), { idempotencyKey: 'order-42' });
    expect(b.duplicate).toBe(true);
    expect(b.messageId).toBe(a.messageId);
    await mailer.flush();
    expect(mailer.outbox).toHaveLength(1);
    await mailer.clock.advance(86_400_001);
    const c = await mailer.send(msg('a@x.test'), { idempotencyKey: 'order-42' });
    expect(c.duplicate).toBe(false);
  });

  it('sends once when concurrent sends share an idempotency key, all resolving to the first receipt', async () => {
    const mailer = createTestMailer();
    const receipts = await Promise.all(Array.from({ length: 20 }, () => mailer.send(msg('a@x.test'), { idempotencyKey: 'reset:42' })));
    await mailer.flush();
    expect(mailer.outbox).toHaveLength(1);
    expect(new Set(receipts.map((r) => r.id)).size).toBe(1);
    expect(receipts.filter((r) => !r.duplicate)).toHaveLength(1);
    expect((await receipts[19]!.done()).status).toBe('sent');
  });

  it('lets a concurrent duplicate send on its own when the first send is refused', async () => {
    const mailer = createTestMailer();
    const bad = mailer.send({ from: 'App <app@example.com>', to: 'not an address', subject: 'x', text: 'x' }, { idempotencyKey: 'k1' });
    const good = mailer.send(msg('a@x.test'), { idempotencyKey: 'k1' });
    await expect(bad).rejects.toMatchObject({ code: MailErrorCode.INVALID_ADDRESS });
    expect((await good).duplicate).toBe(false);
    await mailer.flush();
    expect(mailer.outbox).toHaveLength(1);
  });

  it('holds a sendAt message until its time', async () => {
    const mailer = createTestMailer();
    const at = mailer.clock.now() + 3_600_000;
    await mailer.send(msg('a@x.test'), { sendAt: new Date(at) });
    await mailer.clock.advance(3_599_000);
    expect(mailer.outbox).toHaveLength(0);
    mailer.assertSentTo('a@x.test'); // queued counts as sent for the assertion
    await mailer.flush();
    expect(mailer.outbox[0]!.at).toBe(at);
  });

  it('aborts a waiting message through its signal', async () => {
    const mailer = createTestMailer();
    const ac = new AbortController();
    const r = await mailer.send(msg('a@x.test'), { signal: ac.signal, sendAt: mailer.clock.now() + 1000 });
    ac.abort();
    await mailer.flush();
    expect(mailer.outbox).toHaveLength(0);
    const report = await r.done();
    expect(report.status).toBe('failed');
    expect(report.recipients[0]).toMatchObject({ status: 'aborted' });
    expect(await rejects(mailer.send(msg('a@x.test'), { signal: AbortSignal.abort() }))).toMatchObject({ code: MailErrorCode.ABORTED });
  });
});

describe('retries', () => {
  it('retries a temporary failure on the schedule with jitter and then delivers', async () => {
    const mailer = createTestMailer({ random: () => 0.5 });
    const deferred: DeferredEvent[] = [];
    mailer.on('deferred', (e) => deferred.push(e));
    mailer.faults.failNext(2, 'tempfail');
    const start = mailer.clock.now();
    const r = await mailer.send(msg('a@x.test'));
    await mailer.flush();
    expect(deferred.map((d) => d.retryAt - start)).toEqual([30_000, 150_000]);
    expect(deferred[0]!.error).toMatchObject({ code: MailErrorCode.TRANSIENT, responseCode: 451 });
    const report = await r.done();
    expect(report.recipients[0]).toMatchObject({ status: 'sent', attempts: 3 });
  });

  it('lets a server "try again in N seconds" hint win over the schedule', async () => {
    const mailer = createTestMailer({ random: () => 0 });
    const deferred: DeferredEvent[] = [];
    mailer.on('deferred', (e) => deferred.push(e));
    mailer.faults.failNext(1, { responseCode: 450, enhancedStatus: '4.2.0', text: 'Greylisted, please try again in 300 seconds' });
    const start = mailer.clock.now();
    await mailer.send(msg('a@x.test'));
    await mailer.flush();
    expect(deferred[0]!.retryAt - start).toBe(300_000);
    expect(mailer.outbox).toHaveLength(1);
  });

  it('expires after max attempts, distinct from a permanent failure', async () => {
    const mailer = createTestMailer({ retry: { maxAttempts: 3, scheduleMs: [1000] } });
    const failed: FailedEvent[] = [];
    mailer.on('failed', (e) => failed.push(e));
    mailer.faults.failWhen(() => true, 'tempfail');
    const r = await mailer.send(msg('a@x.test'));
    await mailer.flush();
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ reason: 'expired', attempt: 3 });
    expect(failed[0]!.error.code).toBe(MailErrorCode.EXPIRED);
    expect((await r.done()).recipients[0]!.status).toBe('expired');
  });

  it('expires when the next retry would pass the max age', async () => {
    const mailer = createTestMailer({ retry: { maxAgeMs: 60_000, scheduleMs: [45_000], jitter: 0 } });
    const failed: FailedEvent[] = [];
    mailer.on('failed', (e) => failed.push(e));
    mailer.faults.failWhen(() => true, 'tempfail');
    await mailer.send(msg('a@x.test'));
    await mailer.flush();
    expect(failed[0]).toMatchObject({ reason: 'expired', attempt: 2 });
  });

  it('fails a permanent error at once without retrying', async () => {
    const mailer = createTestMailer();
    const failed: FailedEvent[] = [];
    mailer.on('failed', (e) => failed.push(e));
    mailer.faults.failNext(1, 'recipient-unknown');
    const r = await mailer.send(msg('gone@x.test'));
    await mailer.flush();
    expect(failed[0]).toMatchObject({ reason: 'permanent', attempt: 1 });
    expect(failed[0]!.error).toMatchObject({ code: MailErrorCode.PERMANENT, responseCode: 550, category: 'userunknown' });
    expect((await r.done()).status).toBe('failed');
  });

  it('delivers accepted recipients and retries only the deferred ones of a partial failure', async () => {
    const mailer = createTestMailer({ random: () => 0.5 });
    mailer.faults.rejectRecipients('later@x.test', 'tempfail', { times: 1 }).rejectRecipients('gone@x.test', 'recipient-unknown');
    const sent: SentEvent[] = [];
    mailer.on('sent', (e) => sent.push(e));
    const r = await mailer.send(msg(['ok@x.test', 'later@x.test', 'gone@x.test']));
    await mailer.flush();
    expect(sent.map((e) => e.recipients)).toEqual([['ok@x.test'], ['later@x.test']]);
    const report = await r.done();
    expect(report.status).toBe('partial');
    expect(Object.fromEntries(report.recipients.map((x) => [x.address, x.status]))).toEqual({ 'ok@x.test': 'sent', 'later@x.test': 'sent', 'gone@x.test': 'failed' });
  });
});

describe('throttling', () => {
  it('pauses the domain on a Gmail 421 4.7.28, does not count the attempt, then resumes', async () => {
    const mailer = createTestMailer({ limits: { domains: { 'gmail.com': { ratePerSecond: 10 } } } });
    const throttled: ThrottledEvent[] = [];
    mailer.on('throttled', (e) => throttled.push(e));
    mailer.faults.failNext(1, 'throttle-gmail');
    const start = mailer.clock.now();
    const r = await mailer.send(msg('a@gmail.com'));
    await mailer.send(msg('b@yahoo.test'));
    await mailer.flush();
    expect(throttled).toHaveLength(1);
    expect(throttled[0]).toMatchObject({ domain: 'gmail.com', ratePerSecond: 5, concurrency: 1 });
    expect(throttled[0]!.pausedUntil - start).toBeGreaterThanOrEqual(600_000);
    const gmail = mailer.outbox.find((m) => m.envelope.to[0] === 'a@gmail.com')!;
    const yahoo = mailer.outbox.find((m) => m.envelope.to[0] === 'b@yahoo.test')!;
    expect(yahoo.at).toBe(start);
    expect(gmail.at).toBeGreaterThanOrEqual(throttled[0]!.pausedUntil);
    expect((await r.done()).recipients[0]).toMatchObject({ status: 'sent', attempts: 1 });
  });
});

describe('events and stats', () => {
  it('emits queued, sending, sent and idle with ids, tags and metadata', async () => {
    const mailer = createTestMailer();
    const seen: string[] = [];
    for (const e of ['queued', 'sending', 'sent', 'idle'] as const) mailer.on(e, () => seen.push(e));
    let sent: SentEvent | undefined;
    mailer.on('sent', (e) => (sent = e));
    await mailer.send(msg('a@x.test', { tags: { campaign: 'c1' }, metadata: { userId: 7 } }), { priority: 'high' });
    await mailer.flush();
    expect(seen).toEqual(['queued', 'sending', 'sent', 'idle']);
    expect(sent).toMatchObject({ domain: 'x.test', priority: 'high', tags: { campaign: 'c1' }, metadata: { userId: 7 }, transport: 'memory', attempt: 1 });
  });

  it('keeps delivering when a listener throws, and reports it as an error event', async () => {
    const mailer = createTestMailer();
    const errors: string[] = [];
    mailer.on('error', (e) => errors.push(e.context));
    mailer.on('sent', () => {
      throw new Error('listener bug');
    });
    await mailer.send(msg('a@x.test'));
    await mailer.flush();
    expect(mailer.outbox).toHaveLength(1);
    expect(errors).toEqual(['listener:sent']);
  });

  it('reports queue depth per lane, in flight and totals', async () => {
    const mailer = createTestMailer({ transport: { latencyMs: 10 }, limits: { concurrency: 1 } });
    for (let i = 0; i < 3; i++) await mailer.send(msg(`a${i}@x.test`), { priority: 'bulk' });
    await mailer.send(msg('c@y.test'), { priority: 'critical', sendAt: mailer.clock.now() + 5000 });
    const s = mailer.stats();
    expect(s.queued.bulk).toBe(2);
    expect(s.inflight).toBe(1);
    expect(s.scheduled).toBe(1);
    await mailer.flush();
    expect(mailer.stats().totals).toMatchObject({ queued: 4, sent: 4, failed: 0 });
  });
});

describe('close', () => {
  it('stops intake, is idempotent, and hands back queued jobs to the store', async () => {
    const store = memoryQueueStore();
    const clock = createTestClock();
    const transport = memoryTransport({ clock });
    const mailer = createMailer({ transport, store, clock });
    await mailer.send(msg('a@x.test'), { sendAt: clock.now() + 60_000 });
    const [a, b] = [mailer.close(), mailer.close()];
    expect(a).toBe(b);
    expect(await a).toEqual({ pending: 1 });
    expect(await rejects(mailer.send(msg('a@x.test')))).toMatchObject({ code: MailErrorCode.CLOSED });
    // a new mailer on the same store picks the job up
    const transport2 = memoryTransport({ clock });
    const next = createMailer({ transport: transport2, store, clock });
    await next.ready();
    await clock.advance(60_000);
    expect(transport2.sent).toHaveLength(1);
    await next.close();
  });

  it('waits for sends in flight, and aborts them after the timeout keeping them in the store', async () => {
    const store = memoryQueueStore();
    const transport = memoryTransport({ latencyMs: 5_000 });
    const mailer = createMailer({ transport, store });
    const r = await mailer.send(msg('a@x.test'));
    await new Promise((res) => setTimeout(res, 10));
    expect(mailer.stats().inflight).toBe(1);
    const result = await mailer.close({ timeoutMs: 50 });
    expect(result.pending).toBe(1);
    expect((await r.done()).status).toBe('pending');
    expect(transport.sent).toHaveLength(0);
  });

  it('drains the queue first when asked', async () => {
    const transport = memoryTransport({ latencyMs: 5 });
    const mailer = createMailer({ transport });
    for (let i = 0; i < 20; i++) await mailer.send(msg(`a${i}@x${i % 3}.test`));
    expect(await mailer.close({ drain: true })).toEqual({ pending: 0 });
    expect(transport.sent).toHaveLength(20);
  });
});

describe('sendMany', () => {
  it('streams a campaign with backpressure, skipping invalid items', async () => {
    const transport = memoryTransport({ latencyMs: 1, record: false });
    const mailer = createMailer({ transport, limits: { concurrency: 20 } });
    let maxHeld = 0;
    let produced = 0;
    async function* recipients() {
      for (let i = 0; i < 3000; i++) {
        produced++;
        const s = mailer.stats();
        maxHeld = Math.max(maxHeld, s.inflight + s.scheduled + Object.values(s.queued).reduce((a, b) => a + b, 0));
        yield i % 500 === 7 ? { message: msg('not an address') } : msg(`user${i}@d${i % 30}.test`);
      }
    }
    const progress: number[] = [];
    const result = await mailer.sendMany(recipients(), { maxQueued: 200, defaults: { priority: 'bulk' }, onProgress: (p) => progress.push(p.read), progressEvery: 1000 });
    expect(result).toMatchObject({ read: 3000, queued: 2994, invalid: 6, aborted: false });
    expect(result.errors[0]).toMatchObject({ index: 7 });
    expect(result.errors[0]!.error.code).toBe(MailErrorCode.INVALID_ADDRESS);
    expect(maxHeld).toBeLessThanOrEqual(200);
    expect(progress).toEqual([1000, 2000, 3000, 3000]);
    await mailer.onIdle();
    expect(transport.count).toBe(2994);
    expect(produced).toBe(3000);
    await mailer.close();
  });

  it('stops reading when its signal aborts and tracks messages in the test mailer', async () => {
    const mailer = createTestMailer();
    const ac = new AbortController();
    const items = Array.from({ length: 10 }, (_, i) => msg(`u${i}@x.test`));
    const result = await mailer.sendMany(
      (function* () {
        for (const [i, m] of items.entries()) {
          if (i === 4) ac.abort();
          yield m;
        }
      })(),
      { signal: ac.signal },
    );
    expect(result).toMatchObject({ read: 4, queued: 4, aborted: true });
    mailer.assertSent(4);
    await expect(mailer.sendMany(42 as never)).rejects.toMatchObject({ code: MailErrorCode.CONFIG });
  });
});

describe('suppression', () => {
  it('does not send to suppressed recipients, checked before every send', async () => {
    const mailer = createTestMailer();
    const failed: FailedEvent[] = [];
    mailer.on('failed', (e) => failed.push(e));
    await mailer.suppression.add({ address: 'gone@x.test', reason: 'hard-bounce', createdAt: mailer.clock.now() });
    await mailer.suppression.add({ domain: 'closed.test', reason: 'manual', createdAt: mailer.clock.now() });
    await mailer.suppression.add({ address: 'unsub@x.test', reason: 'unsubscribe', scope: 'marketing', createdAt: mailer.clock.now() });
    const a = await mailer.send(msg(['ok@x.test', 'gone@x.test', 'who@closed.test']));
    const b = await mailer.send(msg('unsub@x.test', { category: 'marketing' }), { skipMarketingCompliance: true });
    const c = await mailer.send(msg('unsub@x.test'));
    // suppressed while queued: a complaint arriving mid-campaign stops the rest
    const d = await mailer.send(msg('late@x.test'), { sendAt: mailer.clock.now() + 60_000 });
    await mailer.suppression.add({ address: 'late@x.test', reason: 'complaint', createdAt: mailer.clock.now() });
    await mailer.flush();
    expect(Object.fromEntries((await a.done()).recipients.map((r) => [r.address, r.status]))).toEqual({ 'ok@x.test': 'sent', 'gone@x.test': 'suppressed', 'who@closed.test': 'suppressed' });
    expect((await b.done()).recipients[0]!.status).toBe('suppressed');
    expect((await c.done()).recipients[0]!.status).toBe('sent');
    expect((await d.done()).status).toBe('failed');
    expect(failed.every((f) => f.reason === 'suppressed' && f.error.code === MailErrorCode.SUPPRESSED)).toBe(true);
    expect(mailer.outbox.flatMap((m) => m.envelope.to).sort()).toEqual(['ok@x.test', 'unsub@x.test']);
  });

  it('defers instead of sending when the suppression list fails', async () => {
    let fail = true;
    const base = createTestMailer().suppression;
    const flaky = { ...base, name: 'flaky', find: (...args: Parameters<typeof base.find>) => (fail ? Promise.reject(new Error('db down')) : base.find(...args)) };
    const mailer = createTestMailer({ suppression: flaky, random: () => 0.5 });
    const deferred: DeferredEvent[] = [];
    mailer.on('deferred', (e) => deferred.push(e));
    const r = await mailer.send(msg('a@x.test'));
    await mailer.clock.advance(1);
    expect(mailer.outbox).toHaveLength(0);
    expect(deferred[0]!.error.code).toBe(MailErrorCode.STORE);
    fail = false;
    await mailer.flush();
    expect((await r.done()).recipients[0]).toMatchObject({ status: 'sent' });
  });
});

describe('feedback and VERP', () => {
  it('does not let a forged bounce mail suppress an address it never proves was mailed', async () => {
    const mailer = createTestMailer({ verp: { domain: 'bounces.sender.test', secret: 'a-secret-of-at-least-16-bytes' } });
    const forged = (deliveredTo?: string) =>
      mailer.feedback.ingestRaw(
        [
          'From: MAILER-DAEMON@mx.attacker.test',
          'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
          '',
          '--b',
          'Content-Type: message/delivery-status',
          '',
          'Final-Recipient: rfc822; victim@bigcustomer.example',
          'Action: failed',
          'Status: 5.1.1',
          '--b--',
          '',
        ].join('\r\n'),
        deliveredTo === undefined ? {} : { deliveredTo },
      );
    for (const result of [await forged('bounces+forgedtoken@bounces.sender.test'), await forged()]) {
      expect(result.suppressed).toBe(0);
      expect(result.events[0]!.verification).toMatchObject({ verified: false });
    }
    const receipt = await mailer.send(msg('victim@bigcustomer.example'));
    await mailer.flush();
    expect((await receipt.done()).status).toBe('sent');
  });

  it('stamps each job with its id and a VERP envelope sender, and suppresses on a hard bounce fed back', async () => {
    const mailer = createTestMailer({ verp: { domain: 'bounces.example.com', secret: 'a-secret-of-at-least-16-bytes' } });
    const events: string[] = [];
    mailer.on('feedback', (e) => events.push(`${e.type}:${e.recipient}`));
    const r = await mailer.send(msg('gone@x.test'));
    await mailer.flush();
    const sent = mailer.outbox[0]!;
    expect(sent.envelope.from).toMatch(/^bounces\+[a-z0-9]+@bounces\.example\.com$/);
    expect(sent.message.headers).toContainEqual(['X-Mailpush-Job-Id', r.jobs[0]!.jobId]);
    const dsn = [
      'From: MAILER-DAEMON@mx.x.test',
      `To: ${sent.envelope.from}`,
      'Subject: Undelivered Mail Returned to Sender',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'Your message could not be delivered.',
      '--b1',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.x.test',
      '',
      'Final-Recipient: rfc822; gone@x.test',
      'Action: failed',
      'Status: 5.1.1',
      'Diagnostic-Code: smtp; 550 5.1.1 <gone@x.test>: Recipient address rejected: User unknown',
      '--b1',
      'Content-Type: text/rfc822-headers',
      '',
      `Message-ID: ${r.messageId}`,
      `X-Mailpush-Job-Id: ${r.jobs[0]!.jobId}`,
      '--b1--',
      '',
    ].join('\r\n');
    const result = await mailer.feedback.ingestRaw(dsn);
    expect(result.kind).toBe('bounce');
    expect(result.events[0]!.verification).toMatchObject({ verified: true });
    expect(events).toEqual(['bounced:gone@x.test']);
    expect(await mailer.suppression.find('gone@x.test', ['transactional'], mailer.clock.now())).toMatchObject({ reason: 'hard-bounce' });
    const again = await mailer.send(msg('gone@x.test'));
    await mailer.flush();
    expect((await again.done()).recipients[0]!.status).toBe('suppressed');
  });
});
