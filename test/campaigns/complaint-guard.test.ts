/**
 * The complaint-rate guard (COMPLIANCE.md P-4): the rolling rate as pure bookkeeping, then
 * end to end: marketing messages through the real SMTP sink, spam complaints fed back as
 * real ARF reports (built around the headers the sink received) through `mailer.feedback`.
 */
import { describe, expect, it } from 'vitest';
import { ComplaintGuard, resolveComplaintGuard } from '../../src/campaigns/complaint-guard.js';
import type { ComplaintRateEvent } from '../../src/campaigns/types.js';
import { MailErrorCode } from '../../src/errors.js';
import type { SinkMessage } from '../../src/testing/smtp-sink.js';
import { NEWS, setup, sleep } from './helpers.js';

describe('ComplaintGuard (bookkeeping)', () => {
  it('warns at 0.1 %, pauses at 0.3 %, only past the minimum volume, once per crossing', () => {
    let now = 0;
    const guard = new ComplaintGuard(resolveComplaintGuard({}), () => now);
    guard.delivered('news.example.com', 999);
    for (let i = 0; i < 3; i++) expect(guard.complaint('news.example.com')).toBeUndefined(); // 999 < minVolume 1000
    guard.delivered('News.Example.com', 2001); // 3 complaints / 3000 = 0.1 %
    expect(guard.complaint('news.example.com')).toMatchObject({ action: 'warn', complaints: 4, delivered: 3000, level: 'warn' });
    expect(guard.complaint('news.example.com')).toBeUndefined(); // still warn: no second warning
    expect(guard.isPaused('news.example.com')).toBe(false);
    for (let i = 0; i < 3; i++) guard.complaint('news.example.com');
    expect(guard.status('news.example.com')).toMatchObject({ complaints: 8, level: 'warn' });
    expect(guard.complaint('news.example.com')).toMatchObject({ action: 'pause', complaints: 9, rate: 0.003, paused: true });
    expect(guard.isPaused('NEWS.example.com')).toBe(true);
    expect(guard.isPaused('other.example.com')).toBe(false);
    expect(guard.pausedDomains()).toEqual(['news.example.com']);
    expect(guard.resume('news.example.com')).toBe(true);
    expect(guard.resume('news.example.com')).toBe(false);
    // Still at the pause level: the next complaint pauses again.
    expect(guard.complaint('news.example.com')).toMatchObject({ action: 'pause' });
  });

  it('counts repeated deliveries from one domain in the right bucket, also between other domains and across the window', () => {
    let now = 0;
    const hour = 3_600_000;
    const guard = new ComplaintGuard(resolveComplaintGuard({ minVolume: 1 }), () => now);
    // Same domain again and again (the path that skips the map lookup), mixed case, another in between.
    for (let i = 0; i < 10; i++) guard.delivered(i % 2 === 0 ? 'a.test' : 'A.Test');
    guard.delivered('b.test', 5);
    guard.delivered('a.test', 2);
    expect(guard.status('a.test')).toMatchObject({ delivered: 12 });
    expect(guard.status('b.test')).toMatchObject({ delivered: 5 });
    // Half a window later the same domain again, then past the window: only the later counts remain.
    now += 12 * hour;
    guard.delivered('a.test', 3);
    expect(guard.status('a.test')).toMatchObject({ delivered: 15 });
    now += 12 * hour + 1;
    guard.delivered('a.test', 4);
    expect(guard.status('a.test')).toMatchObject({ delivered: 7 });
    expect(guard.status('b.test')).toMatchObject({ delivered: 0 });
    // A complaint after memoised deliveries sees them.
    expect(guard.complaint('A.TEST')).toMatchObject({ complaints: 1, delivered: 7 });
  });

  it('rolls: counts older than the window no longer count', () => {
    let now = 0;
    const hour = 3_600_000;
    const guard = new ComplaintGuard(resolveComplaintGuard({ minVolume: 100 }), () => now);
    guard.delivered('a.test', 1000);
    guard.complaint('a.test');
    guard.complaint('a.test');
    expect(guard.status('a.test')).toMatchObject({ complaints: 2, delivered: 1000, level: 'warn' });
    now = 12 * hour;
    guard.delivered('a.test', 1000);
    expect(guard.status('a.test')).toMatchObject({ complaints: 2, delivered: 2000 });
    now = 24 * hour + 1;
    expect(guard.status('a.test')).toMatchObject({ complaints: 0, delivered: 1000, level: 'ok' });
    now = 40 * hour;
    expect(guard.status('a.test')).toMatchObject({ complaints: 0, delivered: 0 });
  });

  it('validates its options, naming the option', () => {
    for (const bad of [{ pauseRate: 0 }, { warnRate: 2 }, { warnRate: 0.01, pauseRate: 0.005 }, { minVolume: 0 }, { windowMs: 1 }, { enabled: 'yes' }]) {
      expect(() => resolveComplaintGuard(bad as never)).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
    }
    const off = new ComplaintGuard(resolveComplaintGuard({ enabled: false, minVolume: 1 }), () => 0);
    off.delivered('a.test', 1);
    expect(off.complaint('a.test')).toBeUndefined();
  });
});

/** A real ARF report (RFC 5965) about `original`, with its headers returned as text/rfc822-headers. */
function arfAbout(original: SinkMessage): string {
  const raw = original.raw!.toString();
  const headers = raw.slice(0, raw.indexOf('\r\n\r\n') + 2);
  return [
    'From: Example FBL <fbl@isp.example>',
    'To: abuse@acme.test',
    'Subject: FW: complaint',
    `Message-ID: <arf-${Math.random().toString(36).slice(2)}@isp.example>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="arf"',
    '',
    '--arf',
    'Content-Type: text/plain; charset="US-ASCII"',
    '',
    'This is an email abuse report.',
    '',
    '--arf',
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'User-Agent: ExampleFBL/1.0',
    'Version: 1',
    `Original-Rcpt-To: ${original.envelope.to[0]}`,
    '',
    '--arf',
    'Content-Type: text/rfc822-headers',
    '',
    headers.trimEnd(),
    '',
    '--arf--',
    '',
  ].join('\r\n');
}

describe('complaint-rate guard in the mailer', () => {
  it('warns, then pauses marketing from the From domain at the configured rates, never holds transactional mail, and resumes on request', async () => {
    // The defaults (0.1 %, 0.3 %, 1,000 delivered) are covered above; 200 messages keep this quick.
    const { sink, mailer } = await setup({ keepRaw: true, parse: false }, { complaintGuard: { warnRate: 0.005, pauseRate: 0.015, minVolume: 200 } }, 6);
    const events: ComplaintRateEvent[] = [];
    mailer.on('complaintRate', (e) => events.push(e));
    const recipients = Array.from({ length: 200 }, (_, i) => ({ to: `reader${i}@d${i % 10}.test` }));
    await mailer.sendMany(recipients, { campaign: 'big-1', message: NEWS });
    await mailer.onIdle();
    expect(sink.count).toBe(200);
    expect(mailer.complaintGuard.status('acme.test')).toMatchObject({ delivered: 200, complaints: 0, level: 'ok' });

    // One complaint in 200 (0.5 %): the warning.
    const first = await mailer.feedback.ingestRaw(arfAbout(sink.messages[0]!));
    expect(first.events[0]!.verification).toMatchObject({ verified: true });
    expect(events).toEqual([expect.objectContaining({ action: 'warn', domain: 'acme.test', complaints: 1, delivered: 200, rate: 0.005 })]);
    await mailer.feedback.ingestRaw(arfAbout(sink.messages[1]!));
    expect(events).toHaveLength(1);
    // The third (1.5 %): marketing from acme.test is paused.
    await mailer.feedback.ingestRaw(arfAbout(sink.messages[2]!));
    expect(events[1]).toMatchObject({ action: 'pause', domain: 'acme.test', complaints: 3, rate: 0.015, paused: true });
    expect(mailer.complaintGuard.paused()).toEqual(['acme.test']);

    const held = await mailer.send({ ...NEWS, to: 'late@d1.test', campaign: 'big-2' });
    const receipt = await mailer.send({ from: 'Acme <app@acme.test>', to: 'reset@d1.test', subject: 'Reset', text: 'code' });
    const elsewhere = await mailer.send({ ...NEWS, from: 'Other <news@other.test>', to: 'x@d2.test' });
    expect((await receipt.done()).status).toBe('sent');
    expect((await elsewhere.done()).status).toBe('sent');
    await sleep(300);
    expect(sink.messages.some((m) => m.envelope.to[0] === 'late@d1.test')).toBe(false);

    expect(mailer.complaintGuard.resume('acme.test')).toBe(true);
    expect(events[2]).toMatchObject({ action: 'resume', domain: 'acme.test', paused: false });
    expect((await held.done()).status).toBe('sent');

    // The complaints were counted for the campaign they were about.
    const stats = await mailer.campaign('big-1').stats();
    expect(stats.counts).toMatchObject({ queued: 200, sent: 200, complained: 3 });
    expect(mailer.complaintGuard.resume('acme.test')).toBe(false);
    expect(() => mailer.complaintGuard.status('not a domain')).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
  });

  it('counts webhook complaints (jobId known) and ignores unverified reports and not-spam feedback', async () => {
    const { sink, mailer } = await setup({}, { complaintGuard: { minVolume: 10, warnRate: 0.2, pauseRate: 0.5 } });
    const events: ComplaintRateEvent[] = [];
    mailer.on('complaintRate', (e) => events.push(e));
    const feedbackCampaigns: (string | undefined)[] = [];
    mailer.on('feedback', (e) => feedbackCampaigns.push(e.campaign));
    const sent: { jobId: string; to: string }[] = [];
    mailer.on('sent', (e) => sent.push({ jobId: e.jobId, to: e.recipients[0]! }));
    await mailer.sendMany(Array.from({ length: 10 }, (_, i) => ({ to: `w${i}@d.test` })), { campaign: 'hooks-1', message: NEWS });
    await mailer.onIdle();
    expect(sink.count).toBe(10);
    const complaint = (i: number, extra: Record<string, unknown> = {}) => ({ type: 'complained' as const, recipient: sent[i]!.to, provider: 'sendgrid', timestamp: Date.now(), jobId: sent[i]!.jobId, raw: {}, ...extra });
    await mailer.feedback.ingest([complaint(0, { verified: false }), complaint(1, { feedbackType: 'not-spam' })]);
    expect(events).toEqual([]);
    await mailer.feedback.ingest([complaint(2)]);
    expect(events).toEqual([]);
    await mailer.feedback.ingest([complaint(3)]);
    expect(events.map((e) => e.action)).toEqual(['warn']);
    expect(feedbackCampaigns).toEqual(['hooks-1', 'hooks-1', 'hooks-1', 'hooks-1']);
    expect((await mailer.campaign('hooks-1').stats()).counts.complained).toBe(2);
  });
});
