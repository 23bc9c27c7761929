import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MailErrorCode, createMailer, smtpTransport } from '../../src/index.js';
import type { MailerLogger } from '../../src/index.js';
import { startSmtpSink } from '../../src/testing/index.js';

interface Line {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly context: Record<string, unknown>;
  readonly message: string;
}

function recorder(enabled?: readonly string[]): MailerLogger & { lines: Line[]; of(event: string): Line[] } {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (context: Record<string, unknown>, message: string) => {
    lines.push({ level, context, message });
  };
  return {
    lines,
    of: (event) => lines.filter((l) => l.context.event === event),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    ...(enabled !== undefined ? { isLevelEnabled: (level: string) => enabled.includes(level) } : {}),
  };
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const msg = (to: string) => ({ from: 'App <app@sender.test>', to, subject: 'Hi', text: 'Hello' });

describe('the logger option', () => {
  it('logs failures and throttles at warn, deferrals and feedback at info, each send at debug', async () => {
    const sink = await startSmtpSink({
      parse: false,
      disableStartTls: true,
      rules: [
        { match: '@nosuch.test', reply: 'recipient-unknown' },
        { match: '@throttle.test', reply: 'throttle-gmail', stage: 'data', times: 1 },
      ],
    });
    cleanup.push(() => sink.close());
    sink.addRule({ match: (rcpt) => rcpt.endsWith('@flaky.test') && sink.attempts(rcpt) === 1, reply: 'tempfail' });
    const logger = recorder();
    const mailer = createMailer({
      transport: smtpTransport({ host: sink.host, port: sink.port }),
      retry: { scheduleMs: [50], maxHintMs: 100 },
      throttle: { pauseMs: 100, maxPauseMs: 100 },
      logger,
    });
    cleanup.push(() => mailer.close());
    await mailer.send(msg('ann@ok.test'));
    await mailer.send(msg('bob@nosuch.test'));
    await mailer.send(msg('cy@flaky.test'));
    await mailer.send(msg('di@throttle.test'));
    await mailer.onIdle();
    await mailer.feedback.ingest([{ type: 'bounced', hard: true, recipient: 'ann@ok.test', provider: 'ses', timestamp: Date.now(), raw: {} }]);
    await mailer.send(msg('ann@ok.test')).then((r) => r.done());

    const failed = logger.of('failed');
    expect(failed.map((l) => [l.level, l.context.reason, l.context.domain])).toEqual([
      ['warn', 'permanent', 'nosuch.test'],
      ['info', 'suppressed', 'ok.test'],
    ]);
    expect(failed[0]!.context).toMatchObject({ code: MailErrorCode.PERMANENT, responseCode: 550, enhancedStatus: '5.1.1', recipients: ['bob@nosuch.test'] });
    expect((failed[0]!.context.err as Error).message).toMatch(/550/);
    expect(failed[0]!.message).toMatch(/^mail to nosuch\.test failed: /);
    const throttled = logger.of('throttled');
    expect(throttled).toHaveLength(1);
    expect(throttled[0]).toMatchObject({ level: 'warn', context: { scope: 'domain', domain: 'throttle.test', responseCode: 421 } });
    const deferred = logger.of('deferred');
    expect(deferred.map((l) => [l.level, l.context.domain, l.context.throttled])).toEqual(
      expect.arrayContaining([
        ['info', 'flaky.test', false],
        ['debug', 'throttle.test', true],
      ]),
    );
    expect(logger.of('feedback')).toEqual([expect.objectContaining({ level: 'info', context: expect.objectContaining({ type: 'bounced', recipient: 'ann@ok.test', hard: true }) })]);
    expect(logger.of('sent').every((l) => l.level === 'debug')).toBe(true);
    expect(logger.of('sent').map((l) => l.context.domain).sort()).toEqual(['flaky.test', 'ok.test', 'throttle.test']);
    expect(logger.of('queued')).toHaveLength(5);
    expect(logger.of('sending').length).toBeGreaterThanOrEqual(5);
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('does not subscribe to the events of levels the logger has turned off', async () => {
    const sink = await startSmtpSink({ parse: false, disableStartTls: true, rules: [{ match: '@nosuch.test', reply: 'recipient-unknown' }] });
    cleanup.push(() => sink.close());
    const logger = recorder(['warn', 'error']);
    const mailer = createMailer({ transport: smtpTransport({ host: sink.host, port: sink.port }), logger });
    cleanup.push(() => mailer.close());
    await mailer.send(msg('ann@ok.test'));
    await mailer.send(msg('bob@nosuch.test'));
    await mailer.onIdle();
    expect(logger.lines.map((l) => [l.level, l.context.event])).toEqual([['warn', 'failed']]);
  });

  it('warns once when the relay refuses connections (transportDown)', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const logger = recorder();
    const mailer = createMailer({ transport: smtpTransport({ host: '127.0.0.1', port }), logger });
    cleanup.push(() => mailer.close({ timeoutMs: 100 }));
    await mailer.send(msg('ann@ok.test'));
    await mailer.send(msg('bob@ok.test'));
    const deadline = Date.now() + 5000;
    while (logger.of('transportDown').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const down = logger.of('transportDown');
    expect(down).toHaveLength(1);
    expect(down[0]).toMatchObject({ level: 'warn', context: { transport: 'smtp', reason: 'connect' } });
    expect(down[0]!.message).toMatch(/^transport smtp is down \(connect\): .*; sends paused, next try /);
  });

  it('refuses a logger without the four methods', () => {
    const transport = smtpTransport({ host: '127.0.0.1', port: 25 });
    expect(() => createMailer({ transport, logger: { info: () => undefined } as unknown as MailerLogger })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, message: expect.stringContaining('logger') }));
    const ok = createMailer({ transport, logger: console as unknown as MailerLogger });
    cleanup.push(() => ok.close());
  });
});
