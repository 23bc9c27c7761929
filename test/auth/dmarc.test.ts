import { describe, it, expect } from 'vitest';
import { createDnsLookup } from '../../src/auth/dns.js';
import { dmarcVersionProblem, findDmarc, isDmarcRecord, parseDmarc, reportAddress } from '../../src/auth/dmarc.js';
import { createMemoryResolver, type MemoryZones } from '../../src/testing/dns.js';

describe('isDmarcRecord', () => {
  it.each([
    ['v=DMARC1; p=none', true],
    ['v=DMARC1', true],
    ['v = DMARC1 ; p=none', true],
    ['V=DMARC1; p=none', true],
    // The version value is case-sensitive (RFC 7489 6.3, RFC 9989): receivers ignore these.
    ['v=dmarc1; p=none', false],
    ['v=Dmarc1; p=reject', false],
    ['v = dmarc1', false],
    ['p=none; v=DMARC1', false],
    ['v=DMARC10; p=none', false],
    ['v=spf1 -all', false],
    ['', false],
  ])('%j -> %s', (txt, expected) => {
    expect(isDmarcRecord(txt)).toBe(expected);
  });
});

describe('parseDmarc', () => {
  it('reads every RFC 7489 tag with defaults', () => {
    const r = parseDmarc('v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r; pct=50; rua=mailto:a@example.com, mailto:b@example.net!10m; ruf=mailto:f@example.com; fo=1:d; rf=afrf; ri=3600');
    expect(r).toEqual({
      ok: true,
      notes: [],
      record: { p: 'reject', sp: 'quarantine', adkim: 's', aspf: 'r', pct: 50, rua: ['mailto:a@example.com', 'mailto:b@example.net!10m'], ruf: ['mailto:f@example.com'], fo: '1:d', rf: 'afrf', ri: 3600, unknownTags: [] },
    });
    expect(parseDmarc('v=DMARC1; p=none')).toMatchObject({ ok: true, record: { adkim: 'r', aspf: 'r', rua: [], ruf: [] } });
  });

  it('reads the DMARCbis tags t, np and psd', () => {
    expect(parseDmarc('v=DMARC1; p=reject; np=reject; t=y; psd=n')).toMatchObject({ ok: true, record: { np: 'reject', t: 'y', psd: 'n' } });
  });

  it('accepts a record without p (read as none by DMARCbis) and says nothing is wrong syntactically', () => {
    const r = parseDmarc('v=DMARC1; rua=mailto:d@example.com');
    expect(r.ok && r.record.p).toBeUndefined();
  });

  it('is lenient on case, spaces and a trailing semicolon', () => {
    expect(parseDmarc('v=DMARC1;P=Reject ;  ADKIM = S;')).toMatchObject({ ok: true, record: { p: 'reject', adkim: 's' } });
  });

  it('refuses a version that is not exactly DMARC1, saying why', () => {
    for (const txt of ['v=dmarc1; p=reject', 'v=Dmarc1; p=reject', 'V = dmarC1;p=none']) {
      const r = parseDmarc(txt);
      expect(r.ok, txt).toBe(false);
      expect(!r.ok && r.error).toMatch(/^the version is "v=dmarc1", but it must be exactly "v=DMARC1" in upper case \(the value is case-sensitive, RFC 7489 6\.3 and RFC 9989\): receivers ignore this record$/i);
    }
    expect(dmarcVersionProblem('v=DMARC1; p=none')).toBeUndefined();
    expect(dmarcVersionProblem('v=DMARC2; p=none')).toBeUndefined();
    expect(dmarcVersionProblem('v=spf1 -all')).toBeUndefined();
    expect(dmarcVersionProblem('v=dmarc1')).toContain('"v=dmarc1"');
  });

  it('lists unknown tags and notes bad report URIs', () => {
    const r = parseDmarc('v=DMARC1; p=none; foo=bar; rua=dmarc@example.com,ftp://x, mailto:nobody');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.record.unknownTags).toEqual(['foo']);
    expect(r.notes).toEqual([
      'rua: "dmarc@example.com" is not a URI (expected mailto:reports@example.com)',
      'rua: "ftp://x" uses the scheme "ftp"; receivers send reports by mailto:',
      'rua: "mailto:nobody" is not a valid mailto: address',
    ]);
  });

  it.each([
    ['v=DMARC1; p=block', 'p=block is not a policy'],
    ['v=DMARC1; p=none; sp=maybe', 'sp=maybe is not a policy'],
    ['v=DMARC1; p=none; np=x', 'np=x'],
    ['v=DMARC1; p=none; adkim=x', 'adkim=x must be "r" (relaxed) or "s" (strict)'],
    ['v=DMARC1; p=none; pct=101', 'pct=101 must be a whole number from 0 to 100'],
    ['v=DMARC1; p=none; pct=-1', 'pct=-1'],
    ['v=DMARC1; p=none; pct=5.5', 'pct=5.5'],
    ['v=DMARC1; p=none; fo=2', 'fo=2'],
    ['v=DMARC1; p=none; ri=soon', 'ri=soon'],
    ['v=DMARC1; p=none; t=maybe', 't=maybe'],
    ['v=DMARC1; p=none; psd=x', 'psd=x'],
    ['v=DMARC1; p=none; p=reject', 'the tag "p" appears twice'],
    ['v=DMARC1; p none', '"p none" is not a tag=value pair'],
    ['v=DMARC1; =none', '"=none" is not a tag=value pair'],
    ['v=DMARC1; p-x=none', '"p-x" is not a tag name'],
    ['p=none', 'does not start with "v=DMARC1"'],
  ])('refuses %j (%s)', (txt, reason) => {
    const r = parseDmarc(txt);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toContain(reason);
  });

  it('parses a huge hostile record quickly', () => {
    const started = performance.now();
    const r = parseDmarc(`v=DMARC1; p=none; rua=${'mailto:a@example.com,'.repeat(20_000)}${';'.repeat(50_000)}`);
    expect(r.ok && r.record.rua).toHaveLength(20_000);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('reportAddress', () => {
  it('strips the size limit and query', () => {
    expect(reportAddress('mailto:d@example.com!10m')).toBe('d@example.com');
    expect(reportAddress('MAILTO:d@example.com?subject=x')).toBe('d@example.com');
    expect(reportAddress('https://example.com')).toBeUndefined();
    expect(reportAddress('mailto:@example.com')).toBeUndefined();
  });
});

describe('findDmarc', () => {
  const find = (zones: MemoryZones, domain: string) => findDmarc(domain, createDnsLookup(createMemoryResolver(zones), 100));

  it('finds the record of the From domain itself', async () => {
    const r = await find({ '_dmarc.example.com': { txt: ['v=DMARC1; p=reject'] } }, 'example.com');
    expect(r).toMatchObject({ status: 'found', policyDomain: 'example.com', inherited: false });
  });

  it('falls back to the organizational domain (RFC 7489 6.6.3)', async () => {
    const r = await find({ '_dmarc.example.co.uk': { txt: ['v=DMARC1; p=quarantine; sp=reject'] } }, 'news.mail.example.co.uk');
    expect(r).toMatchObject({ status: 'found', policyDomain: 'example.co.uk', inherited: true });
  });

  it('ignores TXT records that are not DMARC records', async () => {
    const r = await find({ '_dmarc.example.com': { txt: ['some verification token', 'v=DMARC1; p=none'] } }, 'example.com');
    expect(r).toMatchObject({ status: 'found', text: 'v=DMARC1; p=none' });
  });

  it('reports several records, which disable DMARC', async () => {
    const r = await find({ '_dmarc.example.com': { txt: ['v=DMARC1; p=none', 'v=DMARC1; p=reject'] } }, 'example.com');
    expect(r).toMatchObject({ status: 'multiple', texts: ['v=DMARC1; p=none', 'v=DMARC1; p=reject'] });
  });

  it('reports none after checking both names', async () => {
    expect(await find({}, 'mail.example.com')).toEqual({ status: 'none', checked: ['_dmarc.mail.example.com', '_dmarc.example.com'], ignored: [] });
    expect(await find({}, 'example.com')).toEqual({ status: 'none', checked: ['_dmarc.example.com'], ignored: [] });
  });

  it('skips a record with v=dmarc1 as receivers do, and says so', async () => {
    const r = await find({ '_dmarc.example.com': { txt: ['v=dmarc1; p=reject'] } }, 'example.com');
    expect(r).toEqual({
      status: 'none',
      checked: ['_dmarc.example.com'],
      ignored: [{ name: '_dmarc.example.com', text: 'v=dmarc1; p=reject', reason: expect.stringContaining('must be exactly "v=DMARC1"') }],
    });
  });

  it('falls back to the organizational domain past an ignored v=dmarc1 record', async () => {
    const r = await find({ '_dmarc.mail.example.com': { txt: ['v=dmarc1; p=none'] }, '_dmarc.example.com': { txt: ['v=DMARC1; p=reject'] } }, 'mail.example.com');
    expect(r).toMatchObject({ status: 'found', policyDomain: 'example.com', inherited: true, text: 'v=DMARC1; p=reject', ignored: [{ name: '_dmarc.mail.example.com', text: 'v=dmarc1; p=none' }] });
  });

  it('uses the valid record when a v=dmarc1 one sits next to it (not "multiple")', async () => {
    const r = await find({ '_dmarc.example.com': { txt: ['v=dmarc1; p=none', 'v=DMARC1; p=reject'] } }, 'example.com');
    expect(r).toMatchObject({ status: 'found', text: 'v=DMARC1; p=reject', inherited: false, ignored: [{ text: 'v=dmarc1; p=none' }] });
  });

  it('compares the domain in canonical form: case and a trailing dot do not make it inherited', async () => {
    const zones = { '_dmarc.example.com': { txt: ['v=DMARC1; p=reject'] } };
    for (const domain of ['Example.COM.', 'example.com.', 'EXAMPLE.COM']) {
      expect(await find(zones, domain), domain).toMatchObject({ status: 'found', policyDomain: 'example.com', inherited: false });
    }
    expect(await find({}, 'Mail.Example.com.')).toMatchObject({ status: 'none', checked: ['_dmarc.mail.example.com', '_dmarc.example.com'] });
  });

  it('stops at a DNS failure instead of falling back', async () => {
    const resolver = createMemoryResolver({ '_dmarc.mail.example.com': { fault: 'servfail' }, '_dmarc.example.com': { txt: ['v=DMARC1; p=reject'] } });
    const r = await findDmarc('mail.example.com', createDnsLookup(resolver, 100));
    expect(r).toMatchObject({ status: 'dns-error', dnsFailure: 'servfail' });
    expect(resolver.queries).toHaveLength(1);
  });
});
