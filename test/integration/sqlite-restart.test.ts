/**
 * What the SQLite store keeps across a restart, in one process: two mailers in turn on the
 * same file (the first closed, or dropped without closing), real SQLite files in a temporary folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecoveredEvent } from '../../src/events.js';
import { sqliteStore } from '../../src/stores/sqlite.js';
import { createTestMailer } from '../../src/testing/test-mailer.js';
import type { TestMailer } from '../../src/testing/test-mailer.js';

const START = Date.UTC(2026, 11, 7, 9, 0, 0);
const msg = (to: string, subject = 'Hi') => ({ from: 'App <app@example.com>', to, subject, text: 'Hello' });

const dirs: string[] = [];
const open: TestMailer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close({ timeoutMs: 1_000 })));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailpush-restart-'));
  dirs.push(dir);
  return join(dir, 'mail.db');
}

function mailerOn(path: string, options: Parameters<typeof createTestMailer>[0] = {}): TestMailer {
  const mailer = createTestMailer({ startTime: START, ...options, store: sqliteStore({ path }) });
  open.push(mailer);
  return mailer;
}

async function restart(first: TestMailer, path: string, options: Parameters<typeof createTestMailer>[0] = {}): Promise<TestMailer> {
  await first.close({ timeoutMs: 1_000 });
  open.splice(open.indexOf(first), 1);
  const second = mailerOn(path, options);
  return second;
}

describe('the SQLite store across a restart', () => {
  it('refuses a hard-bounced address after the restart', async () => {
    const path = dbPath();
    const first = mailerOn(path);
    await first.suppression.add({ address: 'gone@x.test', reason: 'hard-bounce', source: 'dsn', createdAt: START });
    const second = await restart(first, path);
    const receipt = await second.send(msg('gone@x.test'));
    await second.flush();
    const report = await receipt.done();
    expect(report.recipients[0]).toMatchObject({ status: 'suppressed' });
    expect(second.outbox).toHaveLength(0);
  });

  it('does not send an idempotent resend twice after the restart', async () => {
    const path = dbPath();
    const first = mailerOn(path);
    const a = await first.send(msg('a@x.test'), { idempotencyKey: 'reset:42' });
    await first.flush();
    expect(first.outbox).toHaveLength(1);
    const second = await restart(first, path);
    const b = await second.send(msg('a@x.test'), { idempotencyKey: 'reset:42' });
    await second.flush();
    expect(b).toMatchObject({ duplicate: true, id: a.id, messageId: a.messageId });
    expect(second.outbox).toHaveLength(0);
    expect((await b.done()).status).toBe('sent');
  });

  it('keeps soft-bounce counters', async () => {
    const path = dbPath();
    const first = mailerOn(path);
    expect(await first.store.softBounces.hit('soft@x.test', 'b1', START, 7 * 86_400_000)).toBe(1);
    expect(await first.store.softBounces.hit('soft@x.test', 'b2', START + 1_000, 7 * 86_400_000)).toBe(2);
    const second = await restart(first, path);
    expect(await second.store.softBounces.hit('soft@x.test', 'b3', START + 2_000, 7 * 86_400_000)).toBe(3);
  });

  it('keeps scheduled mail at its time and reports it recovered', async () => {
    const path = dbPath();
    const first = mailerOn(path);
    const at = START + 3_600_000;
    const receipt = await first.send(msg('later@x.test'), { sendAt: at });
    const { pending } = await first.close({ timeoutMs: 1_000 });
    expect(pending).toBe(1);
    open.splice(open.indexOf(first), 1);
    const recovered: RecoveredEvent[] = [];
    const second = createTestMailer({ startTime: START + 60_000, store: sqliteStore({ path }) });
    open.push(second);
    second.on('recovered', (e) => recovered.push(e));
    await second.ready();
    expect(recovered).toMatchObject([{ id: receipt.id, messageId: receipt.messageId, runAt: at, recipients: ['later@x.test'] }]);
    expect((await second.status(receipt.id))?.status).toBe('pending');
    await second.clock.advance(3_600_000 - 60_000 - 1);
    expect(second.outbox).toHaveLength(0);
    await second.flush();
    expect(second.outbox).toHaveLength(1);
    expect(second.outbox[0]!.at).toBe(at);
    expect(second.outbox[0]!.message.messageId).toBe(receipt.messageId);
    expect(await second.status(receipt.id)).toMatchObject({ status: 'sent', messageId: receipt.messageId });
  });

  it('answers status() for a message finished before the restart', async () => {
    const path = dbPath();
    const first = mailerOn(path);
    first.faults.failNext(1, 'permfail');
    const bad = await first.send(msg('nobody@x.test'));
    const good = await first.send(msg('ann@x.test'));
    await first.flush();
    const second = await restart(first, path);
    expect(await second.status(good.id)).toMatchObject({ status: 'sent', recipients: [{ address: 'ann@x.test', status: 'sent', attempts: 1 }] });
    const failed = await second.status(bad.id);
    expect(failed).toMatchObject({ status: 'failed', recipients: [{ address: 'nobody@x.test', status: 'failed' }] });
    expect(failed!.recipients[0]!.error?.code).toBe('MAILPUSH_ERR_PERMANENT');
    expect(await second.status('msg_unknown')).toBeUndefined();
  });

  it('resumes retries with their attempt count and time, and keeps results of settled recipients', async () => {
    const path = dbPath();
    const first = mailerOn(path, { retry: { scheduleMs: [60_000], jitter: 0 } });
    first.faults.failNext(1, 'tempfail');
    const receipt = await first.send({ ...msg('a@x.test'), to: ['a@x.test', 'b@y.test'] });
    await first.clock.advance(1_000);
    // One job was deferred for a minute, the other delivered.
    expect(first.outbox).toHaveLength(1);
    const second = await restart(first, path, { retry: { scheduleMs: [60_000], jitter: 0 } });
    await second.ready();
    const before = await second.status(receipt.id);
    expect(before?.status).toBe('pending');
    expect(before?.recipients.filter((r) => r.status === 'sent')).toHaveLength(1);
    await second.flush();
    expect(second.outbox).toHaveLength(1);
    expect(second.outbox[0]!.at).toBeGreaterThanOrEqual(START + 60_000);
    const after = await second.status(receipt.id);
    expect(after?.status).toBe('sent');
    expect(after?.recipients.map((r) => r.attempts).sort()).toEqual([1, 2]);
  });

  it('holds a bounded window in memory and reads the backlog back in order', async () => {
    const path = dbPath();
    const mailer = mailerOn(path, { maxJobsInMemory: 50, transport: { latencyMs: 10 } });
    const receipts = [];
    let maxHeld = 0;
    mailer.on('queued', () => {
      const s = mailer.stats();
      maxHeld = Math.max(maxHeld, Object.values(s.queued).reduce((a, b) => a + b, 0) + s.scheduled + s.inflight);
    });
    for (let i = 0; i < 500; i++) receipts.push(await mailer.send(msg(`u${i}@d${i % 5}.test`, `n${i}`)));
    expect(maxHeld).toBeLessThanOrEqual(50);
    expect(await mailer.store.queue.size()).toBe(500);
    const last = receipts[499]!.done();
    await mailer.flush();
    expect((await last).status).toBe('sent');
    expect(mailer.outbox).toHaveLength(500);
    expect(new Set(mailer.outbox.map((m) => m.message.subject)).size).toBe(500);
    // Read back in the order accepted (within the window's concurrency).
    const order = mailer.outbox.map((m) => Number(m.message.subject.slice(1)));
    expect(order.slice(0, 50).every((n) => n < 100)).toBe(true);
    expect(order.slice(-50).every((n) => n >= 400)).toBe(true);
    expect(await mailer.store.queue.size()).toBe(0);
  });
});
