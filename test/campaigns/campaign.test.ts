/**
 * Campaigns end to end over real SMTP (the smtp-server sink on 127.0.0.1) with the memory and
 * SQLite stores: ids, shared fields, stats after the fact, progress events, pause, resume,
 * cancel, and a restart in the middle of a paused campaign.
 */
import { describe, expect, it } from 'vitest';
import { MailErrorCode } from '../../src/errors.js';
import type { CampaignEvent } from '../../src/campaigns/types.js';
import type { FailedEvent } from '../../src/events.js';
import { createMailer } from '../../src/mailer/index.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import { sqliteStore } from '../../src/stores/sqlite.js';
import { memorySubscriptionStore } from '../../src/stores/subscriptions-memory.js';
import { startSmtpSink } from '../../src/testing/smtp-sink.js';
import smtpTransport from '../../src/transports/smtp.js';
import { tempDir } from '../stores/sqlite-helpers.js';
import { COMPLIANCE, NEWS, onCleanup, setup, sleep, until } from './helpers.js';

const recipients = (n: number, prefix = 'user') => Array.from({ length: n }, (_, i) => ({ to: `${prefix}${i}@d${i % 5}.test` }));

describe('sendMany as a campaign', () => {
  it('merges the shared message under each item, tags every message with the campaign id and keeps stats after the fact', async () => {
    const { sink, mailer } = await setup({}, { feedbackId: { senderId: 'acme01' } });
    const events: CampaignEvent[] = [];
    mailer.on('campaign', (e) => events.push(e));
    const items = [...recipients(40).map((r, i) => ({ ...r, tags: { n: String(i) } })), { to: 'not an address' }];
    const result = await mailer.sendMany(items, { campaign: 'weekly-1', message: { ...NEWS, tags: { kind: 'news' } } });
    expect(result).toMatchObject({ campaign: 'weekly-1', read: 41, queued: 40, invalid: 1, aborted: false, cancelled: false });
    await mailer.onIdle();
    expect(sink.count).toBe(40);
    for (const m of sink.messages) {
      expect(m.parsed!.subject).toBe('Weekly news');
      expect(m.parsed!.headers.get('feedback-id')).toBe('weekly-1:marketing:acme01');
    }
    await until(() => events.some((e) => e.kind === 'completed'), 5000, 'the completed event');
    expect(events.find((e) => e.kind === 'completed')).toMatchObject({ campaign: 'weekly-1', state: 'completed', read: 41, queued: 40, sent: 40, invalid: 1, remaining: 0 });
    const stats = await mailer.campaign('weekly-1').stats();
    expect(stats).toMatchObject({ id: 'weekly-1', state: 'completed', remaining: 0 });
    expect(stats.counts).toMatchObject({ queued: 40, sent: 40, invalid: 1, failed: 0, suppressed: 0, cancelled: 0 });
  });

  it('generates an id when none is given, and refuses bad ids and arguments with typed errors', async () => {
    const { mailer } = await setup();
    const result = await mailer.sendMany(recipients(2), { message: NEWS });
    expect(result.campaign).toMatch(/^cmp-[0-9a-f]{16}$/);
    await expect(mailer.sendMany(recipients(1), { campaign: 'has:colon', message: NEWS })).rejects.toMatchObject({ code: MailErrorCode.VALIDATION });
    await expect(mailer.sendMany(recipients(1), { message: 'nope' as never })).rejects.toMatchObject({ code: MailErrorCode.CONFIG });
    await expect(mailer.sendMany({ nolist: true } as never)).rejects.toMatchObject({ code: MailErrorCode.CONFIG });
    await expect(mailer.sendMany(recipients(1), { list: 'news' } as never)).rejects.toMatchObject({ code: MailErrorCode.CONFIG });
    expect(() => mailer.campaign('bad id')).toThrow(expect.objectContaining({ code: MailErrorCode.VALIDATION }));
    await expect(mailer.send({ ...NEWS, to: 'a@b.test', campaign: 'x'.repeat(65) })).rejects.toMatchObject({ code: MailErrorCode.VALIDATION });
    expect((await mailer.campaign('never-sent').stats())).toMatchObject({ state: 'running', remaining: 0, counts: { queued: 0 } });
  });

  it('sends to the members of a list: unsubscribed addresses are not read, suppressed ones are skipped and counted', async () => {
    const { sink, mailer } = await setup();
    const consent = { at: Date.now(), source: 'signup-form', proof: '203.0.113.9' };
    for (const a of ['ann@d1.test', 'bob@d2.test', 'cy@d3.test', 'dee@d4.test', 'eve@d5.test']) await mailer.subscriptions.subscribe('weekly', a, consent);
    await mailer.subscriptions.subscribe('other-list', 'zed@d6.test', consent);
    await mailer.subscriptions.unsubscribe('weekly', 'bob@d2.test', { at: Date.now(), source: 'one-click' });
    await mailer.suppression.add({ address: 'cy@d3.test', reason: 'hard-bounce', createdAt: Date.now() });
    const result = await mailer.sendMany({ list: 'weekly', campaign: 'weekly-list-1', message: NEWS });
    expect(result).toMatchObject({ campaign: 'weekly-list-1', read: 4, queued: 4, invalid: 0, unsubscribed: 1 });
    await mailer.onIdle();
    expect(sink.messages.map((m) => m.envelope.to[0]).sort()).toEqual(['ann@d1.test', 'dee@d4.test', 'eve@d5.test']);
    // The list's messages carry the list (its unsubscribe link is for this list).
    expect(sink.messages.every((m) => (m.parsed!.headers.get('list') as { unsubscribe?: unknown } | undefined)?.unsubscribe !== undefined)).toBe(true);
    const stats = await mailer.campaign('weekly-list-1').stats();
    expect(stats.counts).toMatchObject({ queued: 4, sent: 3, suppressed: 1 });
    expect(stats.remaining).toBe(0);
  });

  it('reports the opt-outs of a list a send started with (SQLite store); not for a source, nor when the store cannot count', async () => {
    const tmp = tempDir('mailpush-campaign-list-');
    onCleanup(async () => tmp.cleanup());
    const { sink, mailer } = await setup({}, { store: sqliteStore({ path: tmp.file() }) });
    const consent = { at: Date.now(), source: 'signup-form' };
    for (const a of ['ann@d1.test', 'bob@d2.test', 'cy@d3.test', 'dee@d4.test']) await mailer.subscriptions.subscribe('weekly', a, consent);
    await mailer.subscriptions.unsubscribe('weekly', 'bob@d2.test', { at: Date.now(), source: 'one-click' });
    // Opted out without ever being subscribed: a record of the list all the same.
    await mailer.subscriptions.unsubscribe('weekly', 'zed@d6.test', { at: Date.now(), source: 'host' });
    await mailer.subscriptions.unsubscribe('other-list', 'ann@d1.test', { at: Date.now(), source: 'one-click' });
    const result = await mailer.sendMany({ list: 'weekly', campaign: 'weekly-list-2', message: NEWS });
    expect(result).toMatchObject({ read: 3, queued: 3, unsubscribed: 2 });
    expect((await mailer.sendMany(recipients(1), { message: NEWS })).unsubscribed).toBeUndefined();
    await mailer.onIdle();
    expect(sink.count).toBe(4);

    const { count, ...countless } = memorySubscriptionStore();
    expect(count).toBeTypeOf('function');
    const plain = await setup({}, { store: { ...memoryStore(), subscriptions: countless } });
    await plain.mailer.subscriptions.subscribe('weekly', 'ann@d1.test', consent);
    await plain.mailer.subscriptions.unsubscribe('weekly', 'bob@d2.test', { at: Date.now(), source: 'one-click' });
    const uncounted = await plain.mailer.sendMany({ list: 'weekly', message: NEWS });
    expect(uncounted).toMatchObject({ read: 1, queued: 1 });
    expect('unsubscribed' in uncounted).toBe(false);
  });

  it('sends progress events at most once per second with rate, remaining and ETA', async () => {
    // 20 ms per message on 2 connections: about 100 messages per second.
    const { sink, mailer } = await setup({ rules: [{ match: () => true, delayMs: 20 }] }, {}, 2);
    const events: CampaignEvent[] = [];
    mailer.on('campaign', (e) => events.push(e));
    const started = Date.now();
    await mailer.sendMany(recipients(150), { campaign: 'progress-1', message: NEWS, total: 150, maxQueued: 50 });
    await mailer.onIdle();
    await until(() => events.some((e) => e.kind === 'completed'), 5000, 'the completed event');
    const elapsed = Date.now() - started;
    const progress = events.filter((e) => e.kind === 'progress');
    expect(sink.count).toBe(150);
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 1);
    const mid = progress.find((e) => e.sent > 0 && e.remaining > 0);
    expect(mid).toBeDefined();
    expect(mid!.ratePerSecond).toBeGreaterThan(10);
    expect(mid!.etaMs).toBeGreaterThan(0);
    expect(mid!.remaining).toBe(150 - mid!.sent - mid!.failed - mid!.suppressed - mid!.cancelled);
  });
});

describe('pause, resume, cancel', () => {
  it('pause holds the queued jobs and stops reading; transactional mail and other campaigns go on; resume sends the rest', async () => {
    const { sink, mailer } = await setup({ rules: [{ match: () => true, delayMs: 15 }] }, {}, 2);
    const kinds: string[] = [];
    mailer.on('campaign', (e) => {
      if (e.campaign === 'spring' && e.kind !== 'progress') kinds.push(e.kind);
    });
    let read = 0;
    function* source() {
      for (const r of recipients(200, 'spring')) {
        read++;
        yield r;
      }
    }
    const run = mailer.sendMany(source(), { campaign: 'spring', message: NEWS, maxQueued: 40 });
    await until(() => sink.count >= 20, 10_000, '20 messages');
    await mailer.campaign('spring').pause();
    const atPause = sink.count;
    const readAtPause = read;
    await sleep(400);
    // Only the sends in flight at the pause may have finished.
    expect(sink.count - atPause).toBeLessThanOrEqual(2);
    expect(read - readAtPause).toBeLessThanOrEqual(1);
    expect((await mailer.campaign('spring').stats()).state).toBe('paused');

    // Transactional mail and another campaign are not held.
    const reset = await mailer.send({ from: 'Acme <app@acme.test>', to: 'ann@d1.test', subject: 'Reset', text: 'code 1234' });
    const other = await mailer.sendMany(recipients(60, 'other'), { campaign: 'other', message: NEWS, maxQueued: 40 });
    expect(other.queued).toBe(60);
    expect((await reset.done()).status).toBe('sent');
    await until(() => sink.messages.filter((m) => m.envelope.to[0]!.startsWith('other')).length === 60, 10_000, 'the other campaign');
    expect(sink.messages.filter((m) => m.envelope.to[0]!.startsWith('spring')).length).toBeLessThanOrEqual(atPause + 2);

    await mailer.campaign('spring').resume();
    const result = await run;
    expect(result).toMatchObject({ campaign: 'spring', read: 200, queued: 200, cancelled: false });
    await mailer.onIdle();
    expect(sink.messages.filter((m) => m.envelope.to[0]!.startsWith('spring')).length).toBe(200);
    expect(new Set(sink.messages.map((m) => m.envelope.to[0])).size).toBe(sink.count);
    await until(() => kinds.includes('completed'), 5000, 'completed');
    expect(kinds).toEqual(['paused', 'resumed', 'completed']);
    expect((await mailer.campaign('spring').stats()).counts).toMatchObject({ queued: 200, sent: 200 });
  });

  it('cancel stops reading and ends the queued jobs as cancelled with MAILPUSH_ERR_CANCELLED', async () => {
    const { sink, mailer } = await setup({ rules: [{ match: () => true, delayMs: 15 }] }, {}, 2);
    const failed: FailedEvent[] = [];
    mailer.on('failed', (e) => failed.push(e));
    const run = mailer.sendMany(recipients(300, 'c'), { campaign: 'doomed', message: NEWS, maxQueued: 50 });
    await until(() => sink.count >= 10, 10_000, '10 messages');
    await mailer.campaign('doomed').cancel();
    const result = await run;
    expect(result).toMatchObject({ campaign: 'doomed', aborted: true, cancelled: true });
    expect(result.read).toBeLessThan(300);
    await mailer.onIdle();
    const stats = await mailer.campaign('doomed').stats();
    expect(stats.state).toBe('cancelled');
    expect(stats.counts.cancelled).toBeGreaterThan(0);
    expect(stats.counts.sent).toBe(sink.count);
    expect(stats.counts.sent + stats.counts.cancelled).toBe(stats.counts.queued);
    expect(stats.remaining).toBe(0);
    expect(failed.length).toBe(stats.counts.cancelled);
    expect(failed.every((e) => e.reason === 'aborted' && e.error.code === MailErrorCode.CANCELLED && e.campaign === 'doomed')).toBe(true);
    await sleep(200);
    expect(sink.count).toBe(stats.counts.sent);
    await expect(mailer.campaign('doomed').resume()).rejects.toMatchObject({ code: MailErrorCode.VALIDATION });
    await expect(mailer.campaign('doomed').pause()).rejects.toMatchObject({ code: MailErrorCode.VALIDATION });
    await expect(mailer.sendMany(recipients(1), { campaign: 'doomed', message: NEWS })).rejects.toMatchObject({ code: MailErrorCode.VALIDATION });
  });

  it('a paused campaign stays paused across a restart of a SQLite-backed mailer, and its counts add up', async () => {
    const tmp = tempDir('mailpush-campaign-restart-');
    onCleanup(async () => tmp.cleanup());
    const path = tmp.file();
    const sink = await startSmtpSink({ disableStartTls: true, rules: [{ match: () => true, delayMs: 10 }] });
    onCleanup(() => sink.close());
    const open = () =>
      createMailer({ transport: smtpTransport({ host: sink.host, port: sink.port, maxConnections: 2 }), store: sqliteStore({ path }), ...COMPLIANCE });

    const first = open();
    const run = first.sendMany(recipients(60, 'r'), { campaign: 'restart-1', message: NEWS, maxQueued: 30 });
    run.catch(() => undefined);
    await until(() => sink.count >= 5, 10_000, '5 messages');
    await first.campaign('restart-1').pause();
    await until(() => first.stats().inflight === 0, 5000, 'sends in flight');
    const sentBefore = sink.count;
    await first.close({ timeoutMs: 2000 });
    // The run was waiting for a resume; the mailer closed under it.
    await expect(run).rejects.toMatchObject({ code: MailErrorCode.CLOSED });

    const second = open();
    onCleanup(() => second.close({ timeoutMs: 2000 }));
    await second.ready();
    await sleep(400);
    expect(sink.count).toBe(sentBefore);
    const paused = await second.campaign('restart-1').stats();
    expect(paused).toMatchObject({ state: 'paused', reason: 'user' });
    expect(paused.counts.sent).toBe(sentBefore);
    expect(paused.counts.queued).toBeGreaterThan(sentBefore);

    await second.campaign('restart-1').resume();
    await until(() => sink.count === paused.counts.queued, 10_000, 'the recovered jobs');
    await second.onIdle();
    const after = await second.campaign('restart-1').stats();
    expect(after.state).toBe('running');
    expect(after.counts).toMatchObject({ queued: paused.counts.queued, sent: paused.counts.queued });
    expect(after.remaining).toBe(0);
  });
});
