import { generateKeyPairSync } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { isRequiredCheck, preflightDomains, REQUIRED_CHECKS } from '../../src/auth/preflight.js';
import { keyRecordFor } from '../../src/auth/dkim-record.js';
import { createMemoryResolver, type MemoryZoneRecords } from '../../src/testing/dns.js';

const key = generateKeyPairSync('ed25519');

function healthy(domain: string, selector = 's1'): Record<string, MemoryZoneRecords> {
  return {
    [domain]: { txt: ['v=spf1 ip4:192.0.2.0/24 -all'], mx: [{ exchange: `mx.${domain}`, priority: 10 }] },
    [`${selector}._domainkey.${domain}`]: { txt: [keyRecordFor(key.publicKey)] },
    [`_dmarc.${domain}`]: { txt: [`v=DMARC1; p=none; rua=mailto:d@${domain}`] },
  };
}

describe('preflightDomains', () => {
  it('checks each distinct From domain once and passes healthy ones despite warnings', async () => {
    const resolver = createMemoryResolver({ ...healthy('example.com'), ...healthy('example.org') });
    const result = await preflightDomains(['news@example.com', 'Alerts@EXAMPLE.com', 'example.org'], { dkimSelectors: ['s1'], sendingIps: ['192.0.2.1'], resolver, timeoutMs: 200 });
    expect(result.reports.map((r) => r.domain)).toEqual(['example.com', 'example.org']);
    // p=none and the missing MTA-STS are warnings and notes, not blockers.
    expect(result.reports[0]!.items.some((i) => i.status === 'warn')).toBe(true);
    expect(result).toMatchObject({ ok: true, blocking: [] });
  });

  it('lists failed required items of every domain as blocking', async () => {
    const zones = { ...healthy('example.com'), ...healthy('example.org') };
    delete zones['_dmarc.example.org'];
    const result = await preflightDomains(['a@example.com', 'b@example.org'], { dkimSelectors: ['s1', 's2'], resolver: createMemoryResolver(zones), timeoutMs: 200 });
    expect(result.ok).toBe(false);
    expect(result.blocking.map((b) => `${b.domain} ${b.item.id}`)).toEqual(['example.com dkim.s2.present', 'example.org dkim.s2.present', 'example.org dmarc.present']);
    expect(result.blocking[2]!.item.status).toBe('fail');
  });

  it('does not block on failed optional items', async () => {
    const zones = healthy('example.com');
    zones['_mta-sts.example.com'] = { txt: ['v=STSv1; id=1'] };
    const result = await preflightDomains(['example.com'], {
      dkimSelectors: ['s1'],
      resolver: createMemoryResolver(zones),
      timeoutMs: 200,
      fetchMtaStsPolicy: async () => ({ status: 200, body: 'version: STSv1\nmode: enforce\nmx: other.example\nmax_age: 86400\n' }),
    });
    expect(result.reports[0]!.items.find((i) => i.id === 'mta-sts')!.status).toBe('fail');
    expect(result.ok).toBe(true);
  });

  it('merges per-domain settings over the shared ones', async () => {
    const resolver = createMemoryResolver({ ...healthy('example.com'), ...healthy('example.org', 'k2') });
    const result = await preflightDomains(['example.com', 'example.org'], { dkimSelectors: ['s1'], domains: { 'example.org': { dkimSelectors: ['k2'] } }, resolver, timeoutMs: 200 });
    expect(result.ok).toBe(true);
    expect(result.reports[1]!.items.some((i) => i.id === 'dkim.k2.present' && i.status === 'pass')).toBe(true);
  });

  it('matches per-domain settings whatever the case or trailing dot of their key', async () => {
    const resolver = createMemoryResolver({ ...healthy('example.com'), ...healthy('example.org', 'k2') });
    const result = await preflightDomains(['news@example.com', 'news@Example.ORG'], { dkimSelectors: ['s1'], domains: { 'EXAMPLE.org.': { dkimSelectors: ['k2'] } }, resolver, timeoutMs: 200 });
    expect(result.reports.map((r) => r.domain)).toEqual(['example.com', 'example.org']);
    expect(result.reports[1]!.items.some((i) => i.id === 'dkim.k2.present' && i.status === 'pass')).toBe(true);
    expect(result.ok).toBe(true);
  });

  it('refuses per-domain keys that are not domains or name the same domain twice', async () => {
    const resolver = createMemoryResolver({});
    await expect(preflightDomains(['example.com'], { resolver, domains: { 'not a domain': {} } })).rejects.toMatchObject({ code: 'MAILPUSH_ERR_CONFIG', option: 'domains["not a domain"]' });
    await expect(preflightDomains(['example.com'], { resolver, domains: { 'example.com': {}, 'Example.com.': {} } })).rejects.toMatchObject({ code: 'MAILPUSH_ERR_CONFIG', option: 'domains["Example.com."]' });
  });

  it('blocks when DNS cannot be read (a timeout is not a pass)', async () => {
    const result = await preflightDomains(['example.com'], { dkimSelectors: ['s1'], resolver: createMemoryResolver({}, { fault: 'hang' }), timeoutMs: 50 });
    expect(result.ok).toBe(false);
    expect(result.blocking.map((b) => b.item.id)).toEqual(['spf.present', 'dkim.s1.present', 'dmarc.present', 'alignment']);
  });

  it('takes a custom list of required checks', async () => {
    const zones = healthy('example.com');
    delete zones['_dmarc.example.com'];
    const result = await preflightDomains(['example.com'], { dkimSelectors: ['s1'], resolver: createMemoryResolver(zones), timeoutMs: 200, required: ['spf.present'] });
    expect(result.ok).toBe(true);
  });

  it('refuses an unknown option or per-domain setting (a typo) with CONFIG naming it', async () => {
    const resolver = createMemoryResolver(healthy('example.com'));
    await expect(preflightDomains(['example.com'], { resolver, dkimSelector: ['s1'] } as never)).rejects.toMatchObject({
      code: 'MAILPUSH_ERR_CONFIG',
      option: 'dkimSelector',
      message: expect.stringMatching(/Unknown preflight option "dkimSelector"; did you mean `dkimSelectors`\?/),
    });
    await expect(preflightDomains(['example.com'], { resolver, domains: { 'example.com': { sendingIP: ['192.0.2.1'] } } } as never)).rejects.toMatchObject({
      code: 'MAILPUSH_ERR_CONFIG',
      option: 'domains["example.com"].sendingIP',
      message: expect.stringMatching(/did you mean `sendingIps`\?/),
    });
    await expect(preflightDomains(['example.com'], { resolver, domains: { 'example.com': 'strict' } } as never)).rejects.toMatchObject({ code: 'MAILPUSH_ERR_CONFIG', option: 'domains["example.com"]' });
  });

  it('refuses invalid From values', async () => {
    await expect(preflightDomains(['not a domain'])).rejects.toMatchObject({ code: 'MAILPUSH_ERR_CONFIG', option: 'froms[0]' });
    await expect(preflightDomains([42 as never])).rejects.toMatchObject({ code: 'MAILPUSH_ERR_CONFIG', option: 'froms[0]' });
    await expect(preflightDomains('example.com' as never)).rejects.toMatchObject({ code: 'MAILPUSH_ERR_CONFIG', option: 'froms' });
  });
});

describe('isRequiredCheck', () => {
  it.each([
    ['spf.present', true],
    ['spf.authorizes', true],
    ['spf.provider', true],
    ['spf.all', false],
    ['dkim.s1.present', true],
    ['dkim.s1.key-match', true],
    ['dkim.s1', false],
    ['dkim.configured', false],
    ['dmarc.present', true],
    ['dmarc.policy', false],
    ['dmarc.rua', false],
    ['alignment', true],
    ['alignment.dkim', false],
    ['mx.present', false],
    ['mta-sts', false],
  ])('%s -> %s', (id, expected) => {
    expect(isRequiredCheck(id)).toBe(expected);
  });

  it('is data that hosts can extend', () => {
    expect(Object.isFrozen(REQUIRED_CHECKS)).toBe(true);
    expect(isRequiredCheck('mx.present', [...REQUIRED_CHECKS, 'mx.present'])).toBe(true);
  });
});
