import { describe, expect, it } from 'vitest';
import { MailErrorCode } from '../../src/errors.js';
import { createTestClock } from '../../src/testing/clock.js';
import { createTestMailer } from '../../src/testing/test-mailer.js';

const welcome = (to: string) => ({ from: 'app@example.com', to, subject: 'Welcome!', text: 'Hi there', tags: { flow: 'signup' } });

function assertionMessage(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    expect((err as { code?: string }).code).toBe(MailErrorCode.ASSERTION);
    return (err as Error).message;
  }
  throw new Error('expected the assertion to fail');
}

describe('createTestMailer', () => {
  it('asserts on queued and delivered messages alike', async () => {
    const mailer = createTestMailer();
    await mailer.send(welcome('ann@example.org'));
    await mailer.send(welcome('bob@example.org'), { sendAt: mailer.clock.now() + 86_400_000 });
    mailer.assertSent(2);
    mailer.assertSentTo('ANN@example.org');
    mailer.assertSent({ subject: 'Welcome!', tags: { flow: 'signup' } }, 2);
    mailer.assertSent({ text: /hi there/i, to: 'bob@example.org' });
    mailer.assertNotSent({ to: 'eve@example.org' });
    mailer.assertNotSent((m) => m.category === 'marketing');
    await mailer.flush();
    expect(mailer.outbox.map((m) => m.envelope.to)).toEqual([['ann@example.org'], ['bob@example.org']]);
    expect(mailer.messages.map((t) => t.report?.status)).toEqual(['sent', 'sent']);
  });

  it('explains a failed assertion with what was sent', async () => {
    const mailer = createTestMailer();
    expect(assertionMessage(() => mailer.assertSentTo('x@example.org'))).toContain('No messages were sent');
    await mailer.send(welcome('ann@example.org'));
    const text = assertionMessage(() => mailer.assertSentTo('x@example.org'));
    expect(text).toContain('Expected a message to x@example.org');
    expect(text).toMatch(/"Welcome!" from app@example.com to ann@example.org \[(queued|sent)\]/);
    expect(assertionMessage(() => mailer.assertNothingSent())).toContain('Expected nothing to be sent');
    expect(assertionMessage(() => mailer.assertSent(3))).toContain('Expected 3 message(s) to be sent, got 1');
    expect(assertionMessage(() => mailer.assertNotSent({ subject: 'Welcome!' }))).toContain('found 1');
  });

  it('runs retries and throttle pauses on virtual time with flush()', async () => {
    const mailer = createTestMailer();
    mailer.faults.failNext(1, 'throttle-yahoo').failNext(3, 'tempfail');
    const wall = Date.now();
    const start = mailer.clock.now();
    const r = await mailer.send(welcome('ann@yahoo.test'));
    await mailer.flush();
    expect(Date.now() - wall).toBeLessThan(2000);
    const report = await r.done();
    expect(report.recipients[0]).toMatchObject({ status: 'sent', attempts: 4 });
    // Yahoo TSS04 asks for hours; three schedule steps (30 s, 2 m, 10 m) follow
    expect(mailer.outbox[0]!.at - start).toBeGreaterThan(3_600_000);
  });

  it('injects latency and failures by predicate', async () => {
    const mailer = createTestMailer();
    mailer.faults.setLatency(250).failWhen((p) => p.message.subject.includes('bad'), 'permfail');
    const ok = await mailer.send(welcome('a@x.test'));
    const bad = await mailer.send({ ...welcome('b@x.test'), subject: 'bad news' });
    await mailer.flush();
    expect((await ok.done()).status).toBe('sent');
    expect((await bad.done()).status).toBe('failed');
    expect(mailer.outbox[0]!.at - mailer.clock.now()).toBeLessThanOrEqual(0);
  });

  it('flush() reports work that cannot finish within the virtual time budget', async () => {
    const mailer = createTestMailer();
    await mailer.send(welcome('a@x.test'), { sendAt: mailer.clock.now() + 10 * 86_400_000 });
    await expect(mailer.flush({ maxTimeMs: 86_400_000 })).rejects.toMatchObject({ code: MailErrorCode.ASSERTION });
  });

  it('clear() forgets what was sent', async () => {
    const mailer = createTestMailer();
    await mailer.send(welcome('a@x.test'));
    await mailer.flush();
    mailer.clear();
    mailer.assertNothingSent();
    expect(mailer.outbox).toHaveLength(0);
  });
});

describe('createTestClock', () => {
  it('fires timers in order as time advances and never early', async () => {
    const clock = createTestClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(2), 200);
    clock.setTimeout(() => fired.push(1), 100);
    const h = clock.setTimeout(() => fired.push(3), 150);
    clock.clearTimeout(h);
    await clock.advance(99);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toEqual([1]);
    expect(clock.nextAt()).toBe(200);
    expect(await clock.next()).toBe(true);
    expect(fired).toEqual([1, 2]);
    expect(clock.now()).toBe(200);
    expect(await clock.next()).toBe(false);
    await expect(clock.advance(-1)).rejects.toMatchObject({ code: MailErrorCode.CONFIG });
  });
});
