import { describe, expect, it } from 'vitest';
import { createMailer, MailErrorCode, memoryTransport } from '../../src/index.js';
import { createTestMailer } from '../../src/testing/index.js';

describe('one-label recipient domains', () => {
  it('refuses `ann@example` (a typo for a full domain) with INVALID_ADDRESS naming the option', async () => {
    const mailer = createTestMailer();
    for (const field of ['to', 'cc', 'bcc'] as const) {
      const error = await mailer.send({ from: 'app@example.com', to: 'ok@example.org', [field]: 'ann@example', subject: 's', text: 'x' }).then(() => undefined, (e: unknown) => e);
      expect(error).toMatchObject({ code: MailErrorCode.INVALID_ADDRESS, recipient: 'ann@example' });
      expect(String((error as Error).message)).toMatch(/one-label domain.*allowLocalDomains/);
    }
    await mailer.flush();
    mailer.assertNothingSent();
  });

  it('accepts local domains with allowLocalDomains: true', async () => {
    const mailer = createTestMailer({ allowLocalDomains: true });
    await mailer.send({ from: 'app@example.com', to: 'ops@localhost', subject: 's', text: 'x' });
    await mailer.flush();
    mailer.assertSentTo('ops@localhost');
  });

  it('validates the option', () => {
    expect(() => createMailer({ transport: memoryTransport(), allowLocalDomains: 'yes' as never })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'allowLocalDomains' }));
  });
});
