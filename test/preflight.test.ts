import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dkimDnsRecord } from '../src/auth/dkim.js';
import { MailErrorCode } from '../src/errors.js';
import { createMemoryResolver } from '../src/testing/dns.js';
import { createTestMailer } from '../src/testing/test-mailer.js';

const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

function zones(dkimKey = key) {
  return {
    'example.com': { txt: ['v=spf1 include:amazonses.com -all'], mx: [{ exchange: 'mx.example.com', priority: 10 }] },
    'amazonses.com': { txt: ['v=spf1 ip4:192.0.2.0/24 -all'] },
    's1._domainkey.example.com': { txt: [dkimDnsRecord(dkimKey)] },
    '_dmarc.example.com': { txt: ['v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com'] },
  };
}

describe('mailer.preflight', () => {
  it('refuses a preflight setting with a typo with CONFIG, naming it', async () => {
    // The mailer's preflight option is checked when the mailer is created.
    expect(() =>
      createTestMailer({
        dkim: { keys: [{ domain: 'example.com', selector: 's1', privateKey: key }] },
        preflight: { resolver: createMemoryResolver(zones()), provder: 'ses' } as never,
      }),
    ).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'preflight.provder', message: expect.stringMatching(/did you mean `provider`\?/) }));
    const plain = createTestMailer({ preflight: { resolver: createMemoryResolver(zones()) } });
    await expect(plain.preflight({ froms: ['example.com'], timeoutMS: 100 } as never)).rejects.toMatchObject({ code: MailErrorCode.CONFIG, option: 'timeoutMS' });
  });

  it('checks the DKIM key domains against the published records', async () => {
    const mailer = createTestMailer({
      dkim: { keys: [{ domain: 'example.com', selector: 's1', privateKey: key }] },
      preflight: { resolver: createMemoryResolver(zones()), provider: 'ses' },
    });
    const result = await mailer.preflight();
    expect(result.reports.map((r) => r.domain)).toEqual(['example.com']);
    expect(result.blocking).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('reports a published key that does not match the configured one', async () => {
    const mailer = createTestMailer({
      dkim: { keys: [{ domain: 'example.com', selector: 's1', privateKey: key }] },
      preflight: { resolver: createMemoryResolver(zones(other)), provider: 'ses' },
    });
    const result = await mailer.preflight();
    expect(result.ok).toBe(false);
    expect(result.blocking.map((b) => b.item.id)).toContain('dkim.s1.key-match');
  });

  it('refuses marketing mail from a failing domain when required, but not transactional mail', async () => {
    const broken = { ...zones(), '_dmarc.example.com': { txt: [] as string[] } };
    const mailer = createTestMailer({
      dkim: { keys: [{ domain: 'example.com', selector: 's1', privateKey: key }] },
      preflight: { resolver: createMemoryResolver(broken), provider: 'ses', requireForMarketing: true },
    });
    const base = { from: 'news@example.com', to: 'ann@example.org', subject: 'Hi', text: 'Hello' };
    await expect(mailer.send({ ...base, category: 'marketing' }, { skipMarketingCompliance: true })).rejects.toMatchObject({ code: MailErrorCode.PREFLIGHT, message: expect.stringContaining('dmarc.present') });
    await expect(mailer.send(base)).resolves.toMatchObject({ duplicate: false });
    mailer.assertSent(1);
  });
});
