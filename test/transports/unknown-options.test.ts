import { describe, expect, it } from 'vitest';
import { MailErrorCode } from '../../src/errors.js';
import sendgridTransport from '../../src/transports/sendgrid.js';
import sesTransport from '../../src/transports/ses.js';
import smtpTransport from '../../src/transports/smtp.js';

/** The error a factory throws (the check runs at construction, before any connection). */
function thrown(fn: () => unknown): Record<string, unknown> {
  try {
    fn();
  } catch (err) {
    return err as Record<string, unknown>;
  }
  throw new Error('expected a throw');
}

describe('transport options with a typo are refused at construction', () => {
  it('SMTP: an unknown option gets CONFIG, its name and the nearest known one', () => {
    const err = thrown(() => smtpTransport({ host: '127.0.0.1', maxConnection: 5 } as never));
    expect(err).toMatchObject({ code: MailErrorCode.CONFIG, option: 'maxConnection' });
    expect(String(err.message)).toMatch(/Unknown SMTP transport option "maxConnection"; did you mean `maxConnections`\?/);
    expect(thrown(() => smtpTransport({ host: '127.0.0.1', requireTls: true } as never)).message).toMatch(/did you mean `requireTLS`\?/);
  });

  it('SMTP: an unknown auth field gets CONFIG naming auth.<field>', () => {
    const err = thrown(() => smtpTransport({ host: '127.0.0.1', auth: { user: 'u', password: 'p' } } as never));
    expect(err).toMatchObject({ code: MailErrorCode.CONFIG, option: 'auth.password' });
    expect(String(err.message)).toMatch(/did you mean `pass`\?/);
  });

  it('SES: an unknown option or listManagementOptions field gets CONFIG', () => {
    expect(thrown(() => sesTransport({ region: 'us-east-1', ratePerSec: 14 } as never))).toMatchObject({
      code: MailErrorCode.CONFIG,
      option: 'ratePerSec',
      message: expect.stringMatching(/Unknown SES transport option "ratePerSec"; did you mean `ratePerSecond`\?/),
    });
    expect(thrown(() => sesTransport({ region: 'us-east-1', listManagementOptions: { contactListName: 'news', topic: 'weekly' } } as never))).toMatchObject({
      code: MailErrorCode.CONFIG,
      option: 'listManagementOptions.topic',
    });
  });

  it('SendGrid: an unknown option gets CONFIG; its pass-through settings objects are not checked', () => {
    expect(thrown(() => sendgridTransport({ apiKey: 'SG.test', timeout: 5_000 } as never))).toMatchObject({
      code: MailErrorCode.CONFIG,
      option: 'timeout',
      message: expect.stringMatching(/did you mean `timeoutMs`\?/),
    });
    expect(() => sendgridTransport({ apiKey: 'SG.test', mailSettings: { sandbox_mode: { enable: true }, footer: { enable: false } } })).not.toThrow();
  });

  it('accepts every documented option name', async () => {
    const smtp = smtpTransport({
      host: '127.0.0.1',
      port: 2525,
      secure: false,
      requireTLS: false,
      ignoreTLS: true,
      tls: {},
      auth: { user: 'u', pass: 'p' },
      maxConnections: 2,
      criticalReserve: 1,
      maxMessages: 100,
      connectionTimeoutMs: 1_000,
      greetingTimeoutMs: 1_000,
      commandTimeoutMs: 1_000,
      dataTimeoutMs: 1_000,
      socketTimeoutMs: 1_000,
      name: 'client.example',
      transportName: 'relay',
      logger: false,
    });
    await smtp.close?.();
    const ses = sesTransport({
      name: 'ses',
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:1',
      configurationSetName: 'set',
      tagsFromMessage: true,
      listManagementOptions: { contactListName: 'news', topicName: 'weekly' },
      feedbackForwardingEmailAddress: 'bounces@example.com',
      ratePerSecond: 14,
      maxConcurrency: 5,
      requestTimeoutMs: 1_000,
    });
    await ses.close?.();
    const sendgrid = sendgridTransport({ name: 'sg', apiKey: 'SG.test', baseUrl: 'http://127.0.0.1:1', timeoutMs: 1_000, maxConcurrency: 4, categoriesFromTags: true, messageIdHeader: true, trackingSettings: {}, fetch: globalThis.fetch });
    await sendgrid.close?.();
  });
});
