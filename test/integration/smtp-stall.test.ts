/**
 * A relay that stalls after DATA (issue 8): it takes the message data and never answers.
 * The mailer over real SMTP (nodemailer's pool and the smtp-server sink on 127.0.0.1):
 * critical mail still goes out while every normal connection is stuck, and a stalled
 * transaction times out per `dataTimeoutMs` and is retried. Timings are real but short.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MailErrorCode } from '../../src/errors.js';
import type { DeferredEvent } from '../../src/events.js';
import { createMailer } from '../../src/mailer/index.js';
import type { Mailer, MailerOptions } from '../../src/mailer/index.js';
import { startSmtpSink } from '../../src/testing/smtp-sink.js';
import type { SmtpSink, SmtpSinkOptions } from '../../src/testing/smtp-sink.js';
import smtpTransport from '../../src/transports/smtp.js';
import type { SmtpTransportOptions } from '../../src/transports/smtp.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((fn) => fn()));
});

async function setup(
  sinkOptions: SmtpSinkOptions,
  transportOptions: Partial<SmtpTransportOptions> = {},
  options: Partial<MailerOptions> = {},
): Promise<{ sink: SmtpSink; mailer: Mailer }> {
  const sink = await startSmtpSink({ disableStartTls: true, ...sinkOptions });
  const mailer = createMailer({
    transport: smtpTransport({ host: sink.host, port: sink.port, maxConnections: 5, ...transportOptions }),
    retry: { scheduleMs: [100], jitter: 0 },
    ...options,
  });
  cleanup.push(async () => {
    // The sink first: it drops the stalled connections, so the mailer has nothing left to wait for.
    await sink.close();
    await mailer.close({ timeoutMs: 2000 });
  });
  return { sink, mailer };
}

const msg = (to: string, subject = 'Hello') => ({ from: 'App <app@example.com>', to, subject, text: 'Hello from mailpush.\n' });

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('SMTP relay stalling after DATA', () => {
  it('sends a critical message within two seconds while five stalled transactions hold every connection', async () => {
    const { sink, mailer } = await setup({ rules: [{ match: '*@stall.test', stage: 'data', reply: 'timeout' }] });
    for (let i = 0; i < 5; i++) await mailer.send(msg(`s${i}@stall.test`, `stalled ${i}`), { priority: 'normal' });
    await until(() => [0, 1, 2, 3, 4].every((i) => sink.attempts(`s${i}@stall.test`) === 1));
    for (let i = 0; i < 20; i++) await mailer.send(msg(`n${i}@other.test`, `normal ${i}`), { priority: 'high' });
    const started = Date.now();
    await mailer.send(msg('ann@example.com', 'Password reset'), { priority: 'critical' });
    await sink.waitFor(1, 2000);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(sink.messages[0]!.parsed!.subject).toBe('Password reset');
  });

  it('times a stalled transaction out after dataTimeoutMs and retries it as a transient failure', async () => {
    const { sink, mailer } = await setup({ rules: [{ match: 'stall@example.com', stage: 'data', reply: 'timeout', times: 1 }] }, { dataTimeoutMs: 300 });
    const deferred: DeferredEvent[] = [];
    mailer.on('deferred', (e) => deferred.push(e));
    const started = Date.now();
    const receipt = await mailer.send(msg('stall@example.com'));
    const report = await receipt.done();
    expect(report.status).toBe('sent');
    expect(deferred).toHaveLength(1);
    expect(deferred[0]!.error).toMatchObject({ code: MailErrorCode.TIMEOUT, retryable: true });
    expect(deferred[0]!.throttled).toBe(false);
    expect(sink.attempts('stall@example.com')).toBe(2);
    expect(sink.count).toBe(1);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('frees the connections once the stalled transactions time out, and delivers everything', async () => {
    const { sink, mailer } = await setup({ rules: [{ match: '*@stall.test', stage: 'data', reply: 'timeout', times: 5 }] }, { dataTimeoutMs: 500 });
    const receipts = [];
    for (let i = 0; i < 5; i++) receipts.push(await mailer.send(msg(`s${i}@stall.test`), { priority: 'bulk' }));
    await until(() => [0, 1, 2, 3, 4].every((i) => sink.attempts(`s${i}@stall.test`) === 1));
    for (let i = 0; i < 100; i++) receipts.push(await mailer.send(msg(`u${i}@d${i % 10}.test`), { priority: 'normal' }));
    await sink.waitFor(105, 5000);
    const reports = await Promise.all(receipts.map((r) => r.done()));
    expect(reports.every((r) => r.status === 'sent')).toBe(true);
  });
});
