import { generateKeyPairSync } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { checkDomain, type CheckDomainOptions, type CheckItem, type DomainReport } from '../../src/auth/check-domain.js';
import { keyRecordFor } from '../../src/auth/dkim-record.js';
import { createMemoryResolver, type MemoryZoneRecords, type MemoryZones } from '../../src/testing/dns.js';

const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const weakKey = generateKeyPairSync('rsa', { modulusLength: 1024 });
const tinyKey = generateKeyPairSync('rsa', { modulusLength: 512 });
const edKey = generateKeyPairSync('ed25519');

const HEALTHY: MemoryZones = {
  'example.com': {
    txt: ['v=spf1 ip4:192.0.2.0/24 include:_spf.esp.example -all', 'google-site-verification=abc'],
    mx: [{ exchange: 'mx1.example.com', priority: 10 }, { exchange: 'mx2.example.com', priority: 20 }],
  },
  '_spf.esp.example': { txt: ['v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 -all'] },
  's1._domainkey.example.com': { txt: [keyRecordFor(key.publicKey)] },
  '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; rua=mailto:dmarc@example.com'] },
  '_mta-sts.example.com': { txt: ['v=STSv1; id=20260701T000000'] },
  '_smtp._tls.example.com': { txt: ['v=TLSRPTv1; rua=mailto:tlsrpt@example.com'] },
};

/** The healthy zones with some names replaced (`undefined` removes a name). */
function zones(changes: Readonly<Record<string, MemoryZoneRecords | undefined>> = {}): MemoryZones {
  const out: Record<string, MemoryZoneRecords> = { ...HEALTHY };
  for (const [name, records] of Object.entries(changes)) {
    if (records === undefined) delete out[name];
    else out[name] = records;
  }
  return out;
}

function check(z: MemoryZones, options: Partial<CheckDomainOptions> = {}): Promise<DomainReport> {
  return checkDomain({
    domain: 'example.com',
    dkimSelectors: ['s1'],
    dkimKeys: { s1: key.privateKey },
    sendingIps: ['192.0.2.10'],
    resolver: createMemoryResolver(z),
    timeoutMs: 200,
    ...options,
  });
}

function items(report: DomainReport): Record<string, CheckItem> {
  return Object.fromEntries(report.items.map((i) => [i.id, i]));
}

function spfZone(txt: string | string[], extra: Readonly<Record<string, MemoryZoneRecords | undefined>> = {}): MemoryZones {
  return zones({ 'example.com': { txt: Array.isArray(txt) ? txt : [txt], mx: HEALTHY['example.com']!.mx! }, ...extra });
}

describe('checkDomain on a healthy domain', () => {
  it('passes every item, with stable ids in a fixed order', async () => {
    const report = await check(zones());
    expect(report.items.filter((i) => i.status !== 'pass')).toEqual([]);
    expect(report.items.map((i) => i.id)).toEqual([
      'spf.present',
      'spf.single',
      'spf.syntax',
      'spf.lookups',
      'spf.void-lookups',
      'spf.includes',
      'spf.all',
      'spf.authorizes',
      'dkim.s1.present',
      'dkim.s1.syntax',
      'dkim.s1.strength',
      'dkim.s1.key-match',
      'dmarc.present',
      'dmarc.syntax',
      'dmarc.policy',
      'dmarc.rua',
      'alignment.dkim',
      'alignment.spf',
      'alignment',
      'mx.present',
      'mta-sts',
      'tls-rpt',
    ]);
    expect(report).toMatchObject({ domain: 'example.com', ok: true, summary: { pass: 22, warn: 0, fail: 0, info: 0 } });
    expect(items(report)['spf.lookups']!.title).toBe('SPF needs 1 of at most 10 DNS lookups');
  });

  it('gives every warn and fail item a one-line fix', async () => {
    const report = await check(spfZone('v=spf1 ?all', { '_dmarc.example.com': { txt: ['v=DMARC1; p=none; pct=20'] }, 's1._domainkey.example.com': { txt: [keyRecordFor(otherKey.publicKey)] } }));
    const needing = report.items.filter((i) => i.status === 'warn' || i.status === 'fail');
    expect(needing.length).toBeGreaterThan(4);
    for (const i of needing) {
      expect(i.fix, i.id).toBeTruthy();
      expect(i.fix, i.id).not.toContain('\n');
      expect(i.title, i.id).not.toContain('\n');
    }
  });

  it('converts a Unicode domain and a trailing dot', async () => {
    const report = await checkDomain({ domain: 'Bücher.DE.', resolver: createMemoryResolver({}), timeoutMs: 100 });
    expect(report.domain).toBe('xn--bcher-kva.de');
  });
});

describe('SPF items', () => {
  it('fails when there is no SPF record and suggests one from the options', async () => {
    const r = items(await check(spfZone('not spf'), { provider: 'sendgrid', sendingIps: ['192.0.2.1'] }));
    expect(r['spf.present']).toMatchObject({ status: 'fail', title: 'No SPF record at example.com' });
    expect(r['spf.present']!.fix).toBe('Publish a TXT record at example.com: "v=spf1 include:sendgrid.net ip4:192.0.2.1 ~all"');
    expect(r['spf.lookups']).toBeUndefined();
  });

  it('fails duplicate SPF records', async () => {
    const report = await check(spfZone(['v=spf1 ip4:192.0.2.0/24 -all', 'v=spf1 include:_spf.esp.example ~all']));
    const r = items(report);
    expect(r['spf.present']!.status).toBe('pass');
    expect(r['spf.single']).toMatchObject({ status: 'fail', title: 'example.com publishes 2 SPF records', fix: 'Merge them into one "v=spf1 ..." record and delete the others' });
    expect(r['spf.syntax']).toBeUndefined();
    expect(report.ok).toBe(false);
  });

  it('fails a malformed record with the reason', async () => {
    const r = items(await check(spfZone('v=spf1 ip4:192.0.2.0/24 incude:_spf.esp.example -all')));
    expect(r['spf.syntax']).toMatchObject({ status: 'fail', title: 'The SPF record of example.com is malformed' });
    expect(r['spf.syntax']!.detail).toContain('unknown mechanism "incude:_spf.esp.example"');
    expect(r['spf.syntax']!.fix).toContain('unknown mechanism');
  });

  it('fails too many lookups through nested includes and lists them', async () => {
    const extra: Record<string, MemoryZoneRecords> = {};
    const top: string[] = [];
    for (let i = 1; i <= 4; i++) {
      top.push(`include:p${i}.example`);
      extra[`p${i}.example`] = { txt: [`v=spf1 include:p${i}a.example include:p${i}b.example ~all`] };
      extra[`p${i}a.example`] = { txt: ['v=spf1 ip4:203.0.113.0/24 -all'] };
      extra[`p${i}b.example`] = { txt: ['v=spf1 ip4:203.0.113.0/24 -all'] };
    }
    const report = await check(spfZone(`v=spf1 ip4:192.0.2.0/24 ${top.join(' ')} -all`, extra));
    const r = items(report);
    expect(r['spf.lookups']).toMatchObject({ status: 'fail', title: 'SPF needs 12 DNS lookups (limit 10)' });
    expect(r['spf.lookups']!.detail).toContain('  include:p4a.example (in p4.example)');
    expect(r['spf.lookups']!.fix).toContain('ip4:/ip6:');
    expect(report.ok).toBe(false);
  });

  it('fails more than two void lookups and warns on one', async () => {
    const three = items(await check(spfZone('v=spf1 ip4:192.0.2.0/24 a:old1.example.com a:old2.example.com mx:old3.example.com -all')));
    expect(three['spf.void-lookups']).toMatchObject({ status: 'fail', title: 'SPF has 3 void lookups (limit 2)' });
    const one = items(await check(spfZone('v=spf1 ip4:192.0.2.0/24 a:old1.example.com -all')));
    expect(one['spf.void-lookups']).toMatchObject({ status: 'warn', title: 'SPF has 1 void lookup (limit 2)' });
  });

  it('fails include loops and missing included records', async () => {
    const r = items(await check(spfZone('v=spf1 ip4:192.0.2.0/24 include:a.example include:gone.example -all', { 'a.example': { txt: ['v=spf1 include:b.example -all'] }, 'b.example': { txt: ['v=spf1 include:a.example -all'] } })));
    expect(r['spf.includes']!.status).toBe('fail');
    expect(r['spf.includes']!.detail).toContain('include loop: example.com -> a.example -> b.example -> a.example');
    expect(r['spf.includes']!.detail).toContain('include:gone.example has no SPF record (NXDOMAIN)');
  });

  it('fails mx terms naming more than 10 hosts', async () => {
    const mx = Array.from({ length: 11 }, (_, i) => ({ exchange: `mx${i}.example.com`, priority: i }));
    const r = items(await check(zones({ 'example.com': { txt: ['v=spf1 ip4:192.0.2.0/24 mx -all'], mx } })));
    expect(r['spf.mx-hosts']!.status).toBe('fail');
  });

  it('warns on ptr, ?all and a missing all, and fails +all anywhere in the tree', async () => {
    expect(items(await check(spfZone('v=spf1 ip4:192.0.2.0/24 ptr -all')))['spf.ptr']!.status).toBe('warn');
    expect(items(await check(spfZone('v=spf1 ip4:192.0.2.0/24 ?all')))['spf.all']).toMatchObject({ status: 'warn', title: 'SPF ends with ?all (neutral)' });
    expect(items(await check(spfZone('v=spf1 ip4:192.0.2.0/24')))['spf.all']).toMatchObject({ status: 'warn', title: 'SPF has no all term' });
    expect(items(await check(spfZone('v=spf1 ip4:192.0.2.0/24 +all')))['spf.all']!.status).toBe('fail');
    const nested = items(await check(spfZone('v=spf1 include:open.example -all', { 'open.example': { txt: ['v=spf1 all'] } })));
    expect(nested['spf.all']!.status).toBe('fail');
    expect(nested['spf.all']!.detail).toContain('open.example');
    expect(items(await check(spfZone('v=spf1 redirect=_spf.esp.example')))['spf.all']).toMatchObject({ status: 'pass', title: 'SPF ends with redirect=_spf.esp.example' });
  });

  it('evaluates ptr for the sending IPs: reverse lookup, then forward confirmation', async () => {
    const z = spfZone('v=spf1 ptr -all', {
      '10.2.0.192.in-addr.arpa': { ptr: ['Mail.Example.com.'] },
      'mail.example.com': { a: ['192.0.2.10'] },
    });
    const r = items(await check(z));
    expect(r['spf.authorizes']).toMatchObject({ status: 'pass' });
    expect(r['spf.authorizes']!.detail).toContain('192.0.2.10: pass (matched "ptr" in the SPF record of example.com)');
    expect(r['spf.ptr']!.status).toBe('warn');
    expect(r['spf.ptr']!.detail).toContain('it was evaluated');
  });

  it('says that ptr was not evaluated when the resolver has no resolvePtr', async () => {
    const z = spfZone('v=spf1 ptr -all', { '10.2.0.192.in-addr.arpa': { ptr: ['mail.example.com'] }, 'mail.example.com': { a: ['192.0.2.10'] } });
    const memory = createMemoryResolver(z);
    const forwardOnly = { resolveTxt: memory.resolveTxt, resolveMx: memory.resolveMx, resolve4: memory.resolve4, resolve6: memory.resolve6 };
    const r = items(await check(z, { resolver: forwardOnly }));
    expect(r['spf.authorizes']!.status).toBe('fail');
    expect(r['spf.ptr']!.detail).toContain('The DNS resolver has no resolvePtr, so ptr was not evaluated');
    expect(memory.queries.some((q) => q.type === 'PTR')).toBe(false);
  });

  it('passes IPs authorized through a nested include and CIDR ranges, v4 and v6', async () => {
    const z = spfZone('v=spf1 include:_spf.example.com -all', {
      '_spf.example.com': { txt: ['v=spf1 include:_spf.esp.example ip4:192.0.2.128/25 ~all'] },
    });
    const r = items(await check(z, { sendingIps: ['198.51.100.77', '2001:db8:1::5', '192.0.2.200'] }));
    expect(r['spf.authorizes']).toMatchObject({ status: 'pass', title: 'SPF authorizes all 3 sending IPs' });
    expect(r['spf.authorizes']!.detail).toContain('198.51.100.77: pass (matched "ip4:198.51.100.0/24" in the SPF record of _spf.esp.example');
  });

  it('fails IPs the record does not authorize, saying what to add', async () => {
    const r = items(await check(zones(), { sendingIps: ['192.0.2.10', '203.0.113.9', '2001:db9::1'] }));
    expect(r['spf.authorizes']).toMatchObject({ status: 'fail', title: 'SPF does not authorize 203.0.113.9, 2001:db9::1' });
    expect(r['spf.authorizes']!.detail).toContain('203.0.113.9: fail (matched "-all" in the SPF record of example.com)');
    expect(r['spf.authorizes']!.fix).toBe(`Add ip4:203.0.113.9 ip6:2001:db9::1 (or your relay's include:) to the SPF record of example.com, before the all term`);
  });

  it('notes when neither IPs nor a provider were given', async () => {
    const r = items(await check(zones(), { sendingIps: [] }));
    expect(r['spf.authorizes']!.status).toBe('info');
  });

  it('checks SPF on the MAIL FROM domain when one is given', async () => {
    const z = zones({ 'bounce.example.com': { txt: ['v=spf1 include:amazonses.com ~all'], mx: [{ exchange: 'feedback-smtp.us-east-1.amazonses.com', priority: 10 }] }, 'amazonses.com': { txt: ['v=spf1 ip4:54.240.0.0/18 -all'] } });
    const r = items(await check(z, { mailFrom: 'bounce.example.com', provider: 'ses', sendingIps: [] }));
    expect(r['spf.present']!.title).toBe('SPF record found at bounce.example.com (the MAIL FROM domain)');
    expect(r['spf.provider']).toMatchObject({ status: 'pass', title: 'SPF includes Amazon SES (include:amazonses.com)' });
    expect(r['alignment.spf']).toMatchObject({ status: 'pass', title: 'SPF MAIL FROM bounce.example.com aligns with example.com' });
    expect(r['mx.mail-from']!.status).toBe('pass');
  });
});

describe('provider includes', () => {
  const sendgrid = (txt: string, extra: Readonly<Record<string, MemoryZoneRecords>> = {}) => check(spfZone(txt, { 'sendgrid.net': { txt: ['v=spf1 ip4:167.89.0.0/17 ~all'] }, ...extra }), { provider: 'sendgrid', sendingIps: [] });

  it('passes when the include is in the record or in a nested include', async () => {
    expect(items(await sendgrid('v=spf1 include:sendgrid.net ~all'))['spf.provider']).toMatchObject({ status: 'pass', detail: 'Found in the record of example.com.' });
    const nested = items(await sendgrid('v=spf1 include:_spf.example.com ~all', { '_spf.example.com': { txt: ['v=spf1 include:sendgrid.net -all'] } }));
    expect(nested['spf.provider']).toMatchObject({ status: 'pass', detail: 'Found through the record of _spf.example.com.' });
  });

  it('fails when the include is missing or has a failing qualifier', async () => {
    const missing = items(await sendgrid('v=spf1 ip4:192.0.2.0/24 ~all'));
    expect(missing['spf.provider']).toMatchObject({ status: 'fail', fix: 'Add include:sendgrid.net to the SPF record of example.com, before the all term' });
    expect(missing['spf.authorizes']).toBeUndefined();
    const negated = items(await sendgrid('v=spf1 -include:sendgrid.net ~all'));
    expect(negated['spf.provider']).toMatchObject({ status: 'fail', title: 'include:sendgrid.net has the qualifier "-"' });
  });

  it('does not count an include after all, which is never evaluated', async () => {
    const r = items(await sendgrid('v=spf1 ~all include:sendgrid.net'));
    expect(r['spf.provider']!.status).toBe('fail');
  });

  it('accepts a custom include', async () => {
    const r = items(await check(spfZone('v=spf1 include:_spf.custom.example ~all', { '_spf.custom.example': { txt: ['v=spf1 -all'] } }), { provider: { spfInclude: 'include:_spf.custom.example' }, sendingIps: [] }));
    expect(r['spf.provider']!.status).toBe('pass');
  });

  it('explains that SES without a custom MAIL FROM does not align SPF', async () => {
    const r = items(await check(zones(), { provider: 'ses', sendingIps: [] }));
    expect(r['spf.provider']!.status).toBe('warn');
    expect(r['spf.provider']!.detail).toContain('MAIL FROM amazonses.com');
    expect(r['alignment.spf']).toMatchObject({ status: 'warn', title: 'SPF does not align: SES sends with MAIL FROM amazonses.com' });
    // DKIM still aligns, so DMARC passes.
    expect(r['alignment']!.status).toBe('pass');
  });
});

describe('DKIM items', () => {
  it('fails a missing key and shows the record to publish', async () => {
    const r = items(await check(zones({ 's1._domainkey.example.com': undefined })));
    expect(r['dkim.s1.present']).toMatchObject({ status: 'fail', title: 'No DKIM key at s1._domainkey.example.com' });
    expect(r['dkim.s1.present']!.detail).toContain(`Publish: s1._domainkey.example.com TXT "${keyRecordFor(key.publicKey)}"`);
  });

  it('fails a published key that is not the configured one', async () => {
    const report = await check(zones({ 's1._domainkey.example.com': { txt: [keyRecordFor(otherKey.publicKey)] } }));
    const r = items(report);
    expect(r['dkim.s1.key-match']).toMatchObject({ status: 'fail', title: 'The key at s1._domainkey.example.com is not the configured key' });
    expect(r['dkim.s1.key-match']!.detail).toContain(keyRecordFor(key.publicKey));
    expect(r['alignment.dkim']!.status).toBe('warn');
    // SPF still aligns and passes.
    expect(r['alignment']!.status).toBe('pass');
  });

  it('compares keys given as PEM strings, public keys and Ed25519 KeyObjects', async () => {
    const pem = key.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect(items(await check(zones(), { dkimKeys: { s1: pem } }))['dkim.s1.key-match']!.status).toBe('pass');
    expect(items(await check(zones(), { dkimKeys: { s1: key.publicKey } }))['dkim.s1.key-match']!.status).toBe('pass');
    const ed = items(await check(zones({ 'ed._domainkey.example.com': { txt: [keyRecordFor(edKey.publicKey)] } }), { dkimSelectors: ['s1'], dkimKeys: { s1: key.privateKey, ed: edKey.privateKey } }));
    expect(ed['dkim.ed.key-match']!.status).toBe('pass');
    expect(ed['dkim.ed.strength']).toMatchObject({ status: 'pass', title: 'Ed25519 key' });
  });

  it('fails a revoked key (empty p=)', async () => {
    const r = items(await check(zones({ 's1._domainkey.example.com': { txt: ['v=DKIM1; k=rsa; p='] } })));
    expect(r['dkim.s1.present']).toMatchObject({ status: 'fail', title: 'The DKIM key s1 is revoked (empty p=)' });
  });

  it('warns on a 1024-bit key and fails a shorter one', async () => {
    const weak = items(await check(zones({ 's1._domainkey.example.com': { txt: [keyRecordFor(weakKey.publicKey)] } }), { dkimKeys: { s1: weakKey.privateKey } }));
    expect(weak['dkim.s1.strength']).toMatchObject({ status: 'warn', title: 'RSA key of 1024 bits: 2048 advised' });
    expect(weak['alignment.dkim']!.status).toBe('pass');
    const tiny = items(await check(zones({ 's1._domainkey.example.com': { txt: [keyRecordFor(tinyKey.publicKey)] } }), { dkimKeys: { s1: tinyKey.privateKey } }));
    expect(tiny['dkim.s1.strength']).toMatchObject({ status: 'fail', title: 'RSA key of 512 bits (minimum 1024)' });
    expect(tiny['alignment.dkim']!.status).toBe('warn');
  });

  it('fails malformed key records with the reason', async () => {
    const r = items(await check(zones({ 's1._domainkey.example.com': { txt: ['v=DKIM1; k=rsa; p=!!notbase64!!'] } })));
    expect(r['dkim.s1.present']!.status).toBe('pass');
    expect(r['dkim.s1.syntax']).toMatchObject({ status: 'fail', fix: 'Correct the record: p= is not valid base64' });
  });

  it('fails a TXT record that is not a key, and two key records', async () => {
    expect(items(await check(zones({ 's1._domainkey.example.com': { txt: ['hello'] } })))['dkim.s1.present']).toMatchObject({ status: 'fail', title: 'The TXT record at s1._domainkey.example.com is not a DKIM key' });
    const two = items(await check(zones({ 's1._domainkey.example.com': { txt: [keyRecordFor(key.publicKey), keyRecordFor(otherKey.publicKey)] } })));
    expect(two['dkim.s1.present']).toMatchObject({ status: 'fail', title: '2 DKIM key records at s1._domainkey.example.com' });
  });

  it('warns on a key in testing mode', async () => {
    const r = items(await check(zones({ 's1._domainkey.example.com': { txt: [`${keyRecordFor(key.publicKey)}; t=y`] } })));
    expect(r['dkim.s1.syntax']!.status).toBe('warn');
  });

  it('looks keys up under the DKIM domain and checks every selector', async () => {
    const z = zones({ 's2._domainkey.mail.example.com': { txt: [keyRecordFor(otherKey.publicKey)] }, 's1._domainkey.mail.example.com': { txt: [keyRecordFor(key.publicKey)] } });
    const r = items(await check(z, { dkimDomain: 'mail.example.com', dkimSelectors: ['s1', 's2'], dkimKeys: { s1: key.privateKey, s2: otherKey.privateKey } }));
    expect(r['dkim.s1.key-match']!.status).toBe('pass');
    expect(r['dkim.s2.key-match']!.status).toBe('pass');
    expect(r['alignment.dkim']!.title).toBe('DKIM d=mail.example.com aligns with example.com');
  });

  it('takes the selectors from dkimKeys when none are listed', async () => {
    const r = items(await check(zones(), { dkimSelectors: undefined as never, dkimKeys: { s1: key.privateKey } }));
    expect(r['dkim.s1.key-match']!.status).toBe('pass');
  });

  it('warns that DKIM was not checked without selectors', async () => {
    const r = items(await check(zones(), { dkimSelectors: [], dkimKeys: {} }));
    expect(r['dkim.configured']!.status).toBe('warn');
    expect(r['alignment.dkim']!.status).toBe('info');
  });
});

describe('DMARC items', () => {
  it('fails a missing record with the record to publish', async () => {
    const report = await check(zones({ '_dmarc.example.com': undefined }));
    const r = items(report);
    expect(r['dmarc.present']).toMatchObject({ status: 'fail', title: 'No DMARC record for example.com', fix: 'Publish a TXT record at _dmarc.example.com: "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com"' });
    expect(r['dmarc.policy']).toBeUndefined();
    expect(r['alignment.spf']!.detail).toContain('relaxed assumed');
    expect(report.ok).toBe(false);
  });

  it('uses the organizational domain record for a subdomain, with sp=', async () => {
    const z: MemoryZones = {
      'news.example.com': { txt: ['v=spf1 ip4:192.0.2.0/24 -all'], mx: [{ exchange: 'mx.example.com', priority: 1 }] },
      's1._domainkey.news.example.com': { txt: [keyRecordFor(key.publicKey)] },
      '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com'] },
    };
    const r = items(await checkDomain({ domain: 'news.example.com', dkimSelectors: ['s1'], resolver: createMemoryResolver(z), timeoutMs: 200 }));
    expect(r['dmarc.present']).toMatchObject({ status: 'pass', title: 'DMARC record found at _dmarc.example.com (the organizational domain)' });
    expect(r['dmarc.policy']).toMatchObject({ status: 'pass', title: 'DMARC policy is sp=quarantine' });
  });

  it('fails several records and invalid records', async () => {
    expect(items(await check(zones({ '_dmarc.example.com': { txt: ['v=DMARC1; p=none', 'v=DMARC1; p=reject'] } })))['dmarc.present']!.status).toBe('fail');
    const bad = items(await check(zones({ '_dmarc.example.com': { txt: ['v=DMARC1; p=rejected'] } })));
    expect(bad['dmarc.syntax']).toMatchObject({ status: 'fail', title: 'The DMARC record at _dmarc.example.com is invalid' });
    expect(bad['dmarc.syntax']!.detail).toContain('p=rejected is not a policy');
  });

  it('fails a v=dmarc1 record: the version is case-sensitive and receivers ignore the record', async () => {
    const report = await check(zones({ '_dmarc.example.com': { txt: ['v=dmarc1; p=reject; rua=mailto:dmarc@example.com'] } }));
    const r = items(report);
    expect(r['dmarc.present']).toMatchObject({
      status: 'fail',
      title: 'No valid DMARC record for example.com: "v=dmarc1" must be "v=DMARC1"',
      fix: 'Write the version in upper case at _dmarc.example.com: "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"',
    });
    expect(r['dmarc.present']!.detail).toContain('_dmarc.example.com: v=dmarc1; p=reject; rua=mailto:dmarc@example.com');
    expect(r['dmarc.present']!.detail).toContain('case-sensitive');
    expect(r['dmarc.present']!.detail).toContain('Receivers apply no DMARC policy to example.com, whatever p= says.');
    // Nothing of the ignored record is reported as if it applied.
    expect(r['dmarc.policy']).toBeUndefined();
    expect(r['dmarc.syntax']).toBeUndefined();
    expect(r['alignment.dkim']!.detail).toContain('relaxed assumed');
    expect(report.ok).toBe(false);
  });

  it('warns when a subdomain v=dmarc1 record is ignored in favour of the organizational one', async () => {
    const z: MemoryZones = {
      'news.example.com': { txt: ['v=spf1 ip4:192.0.2.0/24 -all'], mx: [{ exchange: 'mx.example.com', priority: 1 }] },
      '_dmarc.news.example.com': { txt: ['v=Dmarc1; p=none'] },
      '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; rua=mailto:d@example.com'] },
    };
    const r = items(await checkDomain({ domain: 'news.example.com', resolver: createMemoryResolver(z), timeoutMs: 200 }));
    expect(r['dmarc.present']).toMatchObject({ status: 'pass', title: 'DMARC record found at _dmarc.example.com (the organizational domain)' });
    expect(r['dmarc.present']!.detail).toContain('No valid record at _dmarc.news.example.com');
    expect(r['dmarc.ignored']).toMatchObject({
      status: 'warn',
      title: 'A DMARC record at _dmarc.news.example.com is ignored: "v=Dmarc1" must be "v=DMARC1"',
      fix: 'Write the version in upper case at _dmarc.news.example.com: "v=DMARC1; p=none"',
    });
    expect(r['dmarc.policy']).toMatchObject({ title: 'DMARC policy is p=reject' });
  });

  it('does not count a v=dmarc1 report authorization record (RFC 7489 7.1)', async () => {
    const dmarc = { '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; rua=mailto:reports@dmarc-service.example'] } };
    const lower = zones({ ...dmarc, 'example.com._report._dmarc.dmarc-service.example': { txt: ['v=dmarc1'] } });
    expect(items(await check(lower))['dmarc.rua']!.status).toBe('warn');
    // The destination domain is compared in canonical form.
    const same = zones({ '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; rua=mailto:reports@Reports.Example.COM.'] } });
    expect(items(await check(same))['dmarc.rua']!.status).toBe('pass');
  });

  it('warns on p=none with the fix to tighten it', async () => {
    const r = items(await check(zones({ '_dmarc.example.com': { txt: ['v=DMARC1; p=none; rua=mailto:d@example.com'] } })));
    expect(r['dmarc.policy']).toMatchObject({ status: 'warn', fix: 'Move to quarantine/reject once reports are clean' });
  });

  it('warns on a missing p (read as none per DMARCbis), on pct, on t=y and on a missing rua', async () => {
    const r = items(await check(zones({ '_dmarc.example.com': { txt: ['v=DMARC1; pct=25; t=y'] } })));
    expect(r['dmarc.policy']).toMatchObject({ status: 'warn', title: 'The DMARC record has no p= tag (read as p=none)' });
    expect(r['dmarc.pct']).toMatchObject({ status: 'warn', title: 'pct=25 is removed in DMARCbis' });
    expect(r['dmarc.pct']!.detail).toContain('Only 25% of failing mail');
    expect(r['dmarc.testing']!.status).toBe('warn');
    expect(r['dmarc.rua']).toMatchObject({ status: 'warn', fix: 'Add rua=mailto:dmarc-reports@example.com' });
  });

  it('checks that an external report destination consents (RFC 7489 7.1)', async () => {
    const dmarc = { '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; rua=mailto:reports@dmarc-service.example'] } };
    expect(items(await check(zones(dmarc)))['dmarc.rua']).toMatchObject({ status: 'warn', title: 'A DMARC report destination is not authorized' });
    const authorized = zones({ ...dmarc, 'example.com._report._dmarc.dmarc-service.example': { txt: ['v=DMARC1'] } });
    expect(items(await check(authorized))['dmarc.rua']!.status).toBe('pass');
  });

  it('warns on unusable report URIs without failing the record', async () => {
    const r = items(await check(zones({ '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; rua=dmarc@example.com'] } })));
    expect(r['dmarc.syntax']!.status).toBe('warn');
  });
});

describe('alignment', () => {
  it('fails when neither the DKIM d= nor the MAIL FROM aligns', async () => {
    const z = zones({
      's1._domainkey.esp.example': { txt: [keyRecordFor(key.publicKey)] },
      'bounce.esp.example': { txt: ['v=spf1 ip4:192.0.2.0/24 -all'], mx: [{ exchange: 'mx.esp.example', priority: 1 }] },
    });
    const report = await check(z, { dkimDomain: 'esp.example', mailFrom: 'bounce.esp.example' });
    const r = items(report);
    expect(r['alignment.dkim']).toMatchObject({ status: 'warn', title: 'DKIM d=esp.example does not align with example.com' });
    expect(r['alignment.spf']).toMatchObject({ status: 'warn', title: 'SPF MAIL FROM bounce.esp.example does not align with example.com' });
    expect(r['alignment']).toMatchObject({ status: 'fail', title: 'Neither DKIM nor SPF aligns with From example.com' });
    expect(report.ok).toBe(false);
  });

  it('applies strict modes from the DMARC record', async () => {
    const z = zones({
      '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; adkim=s; aspf=s; rua=mailto:d@example.com'] },
      's1._domainkey.mail.example.com': { txt: [keyRecordFor(key.publicKey)] },
      'bounce.example.com': { txt: ['v=spf1 ip4:192.0.2.0/24 -all'], mx: [{ exchange: 'mx.example.com', priority: 1 }] },
    });
    const r = items(await check(z, { dkimDomain: 'mail.example.com', mailFrom: 'bounce.example.com' }));
    expect(r['alignment.dkim']!.detail).toContain('strict alignment');
    expect(r['alignment.dkim']!.status).toBe('warn');
    expect(r['alignment.spf']!.status).toBe('warn');
    expect(r['alignment']!.status).toBe('fail');
    // The same setup aligns under relaxed rules.
    const relaxed = items(await check({ ...z, '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; rua=mailto:d@example.com'] } }, { dkimDomain: 'mail.example.com', mailFrom: 'bounce.example.com' }));
    expect(relaxed['alignment']).toMatchObject({ status: 'pass', title: 'From example.com is aligned through DKIM and SPF' });
  });

  it('fails when the identifiers align but neither DKIM nor SPF works', async () => {
    const r = items(await check(spfZone('v=spf1 -all', { 's1._domainkey.example.com': undefined })));
    expect(r['alignment']).toMatchObject({ status: 'fail', title: 'No aligned DKIM or SPF passes for From example.com' });
  });
});

describe('MX, MTA-STS and TLS-RPT', () => {
  it('warns without MX, notes a null MX, and warns when the MAIL FROM domain has no MX', async () => {
    expect(items(await check(zones({ 'example.com': { txt: HEALTHY['example.com']!.txt! } })))['mx.present']!.status).toBe('warn');
    const nullMx = items(await check(zones({ 'example.com': { txt: HEALTHY['example.com']!.txt!, mx: [{ exchange: '', priority: 0 }] } })));
    expect(nullMx['mx.present']).toMatchObject({ status: 'info', title: 'example.com has a null MX: it accepts no mail (RFC 7505)' });
    const r = items(await check(zones({ 'bounce.example.com': { txt: ['v=spf1 ip4:192.0.2.0/24 -all'] } }), { mailFrom: 'bounce.example.com' }));
    expect(r['mx.mail-from']!.status).toBe('warn');
  });

  it('reports absent MTA-STS and TLS-RPT as info, and malformed ones as warn', async () => {
    const absent = items(await check(zones({ '_mta-sts.example.com': undefined, '_smtp._tls.example.com': undefined })));
    expect(absent['mta-sts']!.status).toBe('info');
    expect(absent['tls-rpt']!.status).toBe('info');
    const bad = items(await check(zones({ '_mta-sts.example.com': { txt: ['v=STSv1; id=not valid!'] }, '_smtp._tls.example.com': { txt: ['v=TLSRPTv1; rua=tlsrpt@example.com'] } })));
    expect(bad['mta-sts']!.status).toBe('warn');
    expect(bad['tls-rpt']!.status).toBe('warn');
  });

  it('says the MTA-STS check is DNS-only unless a fetch function is given', async () => {
    const r = items(await check(zones()));
    expect(r['mta-sts']!.detail).toContain('DNS-only check: the policy at https://mta-sts.example.com/.well-known/mta-sts.txt was not fetched');
  });

  it('checks a fetched MTA-STS policy against the MX hosts', async () => {
    const urls: string[] = [];
    const policy = (body: string, status = 200) => async (url: string) => {
      urls.push(url);
      return { status, body };
    };
    const good = items(await check(zones(), { fetchMtaStsPolicy: policy('version: STSv1\r\nmode: enforce\r\nmx: *.example.com\r\nmax_age: 604800\r\n') }));
    expect(good['mta-sts']).toMatchObject({ status: 'pass', title: 'MTA-STS policy in enforce mode (id=20260701T000000)' });
    expect(urls[0]).toBe('https://mta-sts.example.com/.well-known/mta-sts.txt');
    const mismatch = items(await check(zones(), { fetchMtaStsPolicy: policy('version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 604800\n') }));
    expect(mismatch['mta-sts']!.status).toBe('fail');
    expect(mismatch['mta-sts']!.detail).toContain('MX host mx2.example.com matches no mx: pattern');
    expect(items(await check(zones(), { fetchMtaStsPolicy: policy('', 404) }))['mta-sts']!.status).toBe('warn');
    const throwing = items(await check(zones(), { fetchMtaStsPolicy: () => Promise.reject(new Error('certificate has expired')) }));
    expect(throwing['mta-sts']).toMatchObject({ status: 'warn' });
    expect(throwing['mta-sts']!.detail).toContain('certificate has expired');
    expect(items(await check(zones(), { fetchMtaStsPolicy: policy('version: STSv1\nmode: sometimes\nmax_age: 99999999999\n') }))['mta-sts']!.status).toBe('warn');
    // mx: patterns are compared in canonical form (a trailing root dot, upper case).
    const dotted = items(await check(zones(), { fetchMtaStsPolicy: policy('version: STSv1\nmode: enforce\nmx: MX1.example.com.\nmx: mx2.example.com.\nmax_age: 604800\n') }));
    expect(dotted['mta-sts']!.status).toBe('pass');
  });

  it('gives up on a policy fetch that never answers', async () => {
    const r = items(await check(zones(), { timeoutMs: 50, fetchMtaStsPolicy: () => new Promise(() => undefined) }));
    expect(r['mta-sts']).toMatchObject({ status: 'warn', title: 'The MTA-STS policy could not be fetched' });
    expect(r['mta-sts']!.detail).toContain('no answer within 50 ms');
  });
});

describe('DNS failures', () => {
  it('gives a clear result within the timeout when the resolver never answers', async () => {
    const started = Date.now();
    const report = await checkDomain({ domain: 'example.com', dkimSelectors: ['s1'], sendingIps: ['192.0.2.1'], resolver: createMemoryResolver({}, { fault: 'hang' }), timeoutMs: 100 });
    expect(Date.now() - started).toBeLessThan(1500);
    const r = items(report);
    expect(r['spf.present']).toMatchObject({ status: 'fail', title: 'Could not read the SPF record of example.com', detail: 'DNS lookup timed out for example.com (TXT) after 100 ms' });
    expect(r['dkim.s1.present']!.detail).toBe('DNS lookup timed out for s1._domainkey.example.com (TXT) after 100 ms');
    expect(r['dmarc.present']!.status).toBe('fail');
    expect(r['mx.present']!.status).toBe('warn');
    expect(r['tls-rpt']!.status).toBe('warn');
    expect(report.ok).toBe(false);
  });

  it('reports SERVFAIL of one name as that item, and fixes point at the DNS servers', async () => {
    const r = items(await check(zones({ '_dmarc.example.com': { fault: 'servfail' } })));
    expect(r['dmarc.present']).toMatchObject({ status: 'fail', detail: 'DNS server failure (SERVFAIL) for _dmarc.example.com (TXT)' });
    expect(r['dmarc.present']!.fix).toContain('SERVFAIL');
    expect(r['spf.present']!.status).toBe('pass');
  });

  it('reports a timeout inside the SPF tree as a failed include', async () => {
    const r = items(await check(spfZone('v=spf1 include:slow.example -all', { 'slow.example': { fault: 'hang' } }), { sendingIps: ['192.0.2.1'] }));
    expect(r['spf.includes']).toMatchObject({ status: 'fail', title: 'An included SPF record could not be read' });
    expect(r['spf.authorizes']!.detail).toContain('temperror');
  });
});

describe('hostile and huge records', () => {
  it('handles huge TXT records without throwing', async () => {
    const hugeSpf = `v=spf1 ${Array.from({ length: 3000 }, (_, i) => `ip4:10.${i >> 8}.${i & 255}.0/24`).join(' ')} -all`;
    const r = items(
      await check(
        zones({
          'example.com': { txt: [hugeSpf, 'x'.repeat(60_000)], mx: HEALTHY['example.com']!.mx! },
          's1._domainkey.example.com': { txt: [`v=DKIM1; p=${'QUJD'.repeat(20_000)}`] },
          '_dmarc.example.com': { txt: [`v=DMARC1; p=reject; rua=${'mailto:d@example.com,'.repeat(5000)}`] },
        }),
        { sendingIps: ['10.11.183.1'] },
      ),
    );
    expect(r['spf.syntax']!.status).toBe('pass');
    expect(r['spf.authorizes']!.status).toBe('pass');
    expect(r['dkim.s1.syntax']!.status).toBe('fail');
    expect(r['dkim.s1.present']!.detail.length).toBeLessThanOrEqual(600);
    expect(r['dmarc.rua']!.status).toBe('pass');
  });

  it('quotes hostile terms instead of echoing control characters in titles and fixes', async () => {
    const r = items(await check(spfZone('v=spf1 include:evil.example -all', { 'evil.example': { txt: ['v=spf1 ip4:\u001b[31mred -all'] } })));
    const problem = r['spf.includes']!;
    expect(problem.status).toBe('fail');
    expect(problem.title).not.toContain('\u001b');
    expect(problem.detail).toContain('\\u001b[31mred');
  });

  it('never queries names built from hostile macros', async () => {
    const resolver = createMemoryResolver(spfZone('v=spf1 exists:%{l}..example.com -all'));
    const report = await checkDomain({ domain: 'example.com', dkimSelectors: [], resolver, timeoutMs: 100, sendingIps: ['192.0.2.1'] });
    expect(items(report)['spf.authorizes']!.detail).toContain('permerror');
    expect(resolver.queries.some((q) => q.name.includes('..'))).toBe(false);
  });
});

describe('options', () => {
  const resolver = createMemoryResolver({});
  it.each([
    [{ domain: 'not a domain' }, 'Expected `domain` to be a domain name, got "not a domain"'],
    [{ domain: 42 }, 'Expected `domain` to be a domain name, got 42'],
    [{ domain: 'example.com', sendingIps: ['192.0.2.300'] }, 'Expected `sendingIps[0]` to be an IPv4 or IPv6 address, got "192.0.2.300"'],
    [{ domain: 'example.com', dkimSelectors: ['bad selector'] }, '`dkimSelectors[0]`'],
    [{ domain: 'example.com', dkimKeys: { s1: 'not a key' } }, '`dkimKeys.s1`'],
    [{ domain: 'example.com', provider: 'mailgun' }, '`provider`'],
    [{ domain: 'example.com', provider: { spfInclude: 'no' } }, '`provider.spfInclude`'],
    [{ domain: 'example.com', mailFrom: 'bounce@@' }, '`mailFrom`'],
    [{ domain: 'example.com', timeoutMs: -1 }, '`timeoutMs`'],
    [{ domain: 'example.com', fetchMtaStsPolicy: 'yes' }, '`fetchMtaStsPolicy`'],
  ])('refuses %j', async (options, message) => {
    await expect(checkDomain({ resolver, ...(options as CheckDomainOptions) })).rejects.toMatchObject({ code: 'MAILPUSH_ERR_CONFIG', message: expect.stringContaining(message) });
  });

  it('refuses a resolver without the right shape', async () => {
    await expect(checkDomain({ domain: 'example.com', resolver: {} as never })).rejects.toMatchObject({ code: 'MAILPUSH_ERR_CONFIG', option: 'resolver' });
    const bad = { ...createMemoryResolver({}), resolvePtr: 'no' };
    await expect(checkDomain({ domain: 'example.com', resolver: bad as never })).rejects.toMatchObject({ code: 'MAILPUSH_ERR_CONFIG', option: 'resolver' });
  });

  it('compares domains in canonical form: case and trailing dots in options do not matter', async () => {
    const r = items(await check(zones({ '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; adkim=s; aspf=s; rua=mailto:d@example.com'] } }), { domain: 'Example.COM.', dkimDomain: 'EXAMPLE.com.', mailFrom: 'bounce@example.com.' }));
    expect(r['alignment.dkim']).toMatchObject({ status: 'pass', title: 'DKIM d=example.com aligns with example.com' });
    expect(r['alignment.spf']).toMatchObject({ status: 'pass' });
    expect(r['dmarc.present']).toMatchObject({ status: 'pass', title: 'DMARC record found at _dmarc.example.com' });
  });

  it('accepts a MAIL FROM address as well as a domain', async () => {
    const r = items(await check(zones({ 'bounce.example.com': { txt: ['v=spf1 ip4:192.0.2.0/24 -all'], mx: [{ exchange: 'mx.example.com', priority: 1 }] } }), { mailFrom: 'bounces@Bounce.Example.com' }));
    expect(r['spf.present']!.title).toContain('bounce.example.com');
  });
});
