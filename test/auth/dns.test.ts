import * as dnsPromises from 'node:dns/promises';
import { Resolver } from 'node:dns/promises';
import { describe, it, expect } from 'vitest';
import { createDnsLookup, createDnsResolver, dnsName, reverseName, type DnsResolver } from '../../src/auth/dns.js';
import { createMemoryResolver } from '../../src/testing/dns.js';

const rejecting = (error: unknown): DnsResolver => ({
  resolveTxt: () => Promise.reject(error),
  resolveMx: () => Promise.reject(error),
  resolve4: () => Promise.reject(error),
  resolve6: () => Promise.reject(error),
});

describe('createDnsLookup', () => {
  it('joins the character-strings of each TXT record', async () => {
    const dns = createDnsLookup(createMemoryResolver({ 'example.com': { txt: [['v=spf1 ip4:192.0.2.1', ' -all'], 'other'] } }), 100);
    expect(await dns.txt('example.com')).toEqual({ ok: true, records: ['v=spf1 ip4:192.0.2.1 -all', 'other'] });
  });

  it('reads NXDOMAIN and no-data as absent, telling them apart', async () => {
    const dns = createDnsLookup(createMemoryResolver({ 'example.com': { a: ['192.0.2.1'] } }), 100);
    expect(await dns.txt('example.com')).toMatchObject({ ok: false, kind: 'absent', nxdomain: false });
    expect(await dns.txt('nope.example.com')).toMatchObject({ ok: false, kind: 'absent', nxdomain: true });
  });

  it('gives a clear timeout when the resolver never answers, within the time allowed', async () => {
    const dns = createDnsLookup(createMemoryResolver({}, { fault: 'hang' }), 50);
    const started = Date.now();
    const answer = await dns.txt('_dmarc.example.com');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(answer).toEqual({ ok: false, kind: 'timeout', nxdomain: false, message: 'DNS lookup timed out for _dmarc.example.com (TXT) after 50 ms' });
  });

  it('maps SERVFAIL, ETIMEOUT, refused and unknown errors', async () => {
    const zones = createMemoryResolver({ 'a.example': { fault: 'servfail' }, 'b.example': { fault: 'timeout' }, 'c.example': { fault: 'refused' } });
    const dns = createDnsLookup(zones, 100);
    expect(await dns.mx('a.example')).toMatchObject({ kind: 'servfail', message: 'DNS server failure (SERVFAIL) for a.example (MX)' });
    expect(await dns.mx('b.example')).toMatchObject({ kind: 'timeout' });
    expect(await dns.mx('c.example')).toMatchObject({ kind: 'error', message: 'DNS lookup failed for c.example (MX): EREFUSED' });
    expect(await createDnsLookup(rejecting(new Error('boom')), 100).a('x.example')).toMatchObject({ kind: 'error', message: 'DNS lookup failed for x.example (A): boom' });
    expect(await createDnsLookup(rejecting('a string'), 100).a('x.example')).toMatchObject({ kind: 'error' });
  });

  it('survives a resolver that throws synchronously or returns garbage', async () => {
    const throwing: DnsResolver = {
      resolveTxt: () => {
        throw new Error('sync');
      },
      resolveMx: () => Promise.resolve([{ exchange: 42 }] as never),
      resolve4: () => Promise.resolve('192.0.2.1' as never),
      resolve6: () => Promise.resolve([[1]] as never),
    };
    const dns = createDnsLookup(throwing, 100);
    expect(await dns.txt('x.example')).toMatchObject({ ok: false, kind: 'error' });
    expect(await dns.mx('x.example')).toMatchObject({ ok: false, kind: 'error', message: 'DNS lookup for x.example (MX) returned an unexpected value' });
    expect(await dns.a('x.example')).toMatchObject({ ok: false, kind: 'error' });
    expect(await dns.aaaa('x.example')).toMatchObject({ ok: false, kind: 'error' });
  });

  it('asks each name and type once, and never asks invalid names', async () => {
    const resolver = createMemoryResolver({ 'example.com': { txt: ['x'] } });
    const dns = createDnsLookup(resolver, 100);
    await Promise.all([dns.txt('example.com'), dns.txt('EXAMPLE.com.'), dns.txt('example.com')]);
    expect(await dns.txt('a..b')).toMatchObject({ ok: false, kind: 'error' });
    expect(await dns.txt(`${'a'.repeat(64)}.com`)).toMatchObject({ ok: false, kind: 'error' });
    expect(await dns.txt('bad\r\nname.com')).toMatchObject({ ok: false, kind: 'error' });
    expect(resolver.queries).toEqual([{ name: 'example.com', type: 'TXT' }]);
    expect(dns.queryCount).toBe(1);
  });

  it('ignores an answer that arrives after the timeout, without an unhandled rejection', async () => {
    let reject!: (err: Error) => void;
    const late: DnsResolver = { ...rejecting(new Error('x')), resolveTxt: () => new Promise((_, r) => (reject = r)) };
    const answer = await createDnsLookup(late, 20).txt('example.com');
    expect(answer).toMatchObject({ kind: 'timeout' });
    reject(Object.assign(new Error('late'), { code: 'ESERVFAIL' }));
    await new Promise((r) => setTimeout(r, 10));
  });
});

describe('createDnsLookup: PTR', () => {
  it('looks up PTR records, lower case and without the root dot, once per name', async () => {
    const resolver = createMemoryResolver({ '1.2.0.192.in-addr.arpa': { ptr: ['Mail.Example.COM.', 'other.example'] } });
    const dns = createDnsLookup(resolver, 100);
    expect(dns.supportsPtr).toBe(true);
    expect(await dns.ptr('1.2.0.192.IN-ADDR.ARPA.')).toEqual({ ok: true, records: ['mail.example.com', 'other.example'] });
    expect(await dns.ptr('1.2.0.192.in-addr.arpa')).toMatchObject({ ok: true });
    expect(await dns.ptr('2.2.0.192.in-addr.arpa')).toMatchObject({ ok: false, kind: 'absent', nxdomain: true });
    expect(resolver.queries).toEqual([
      { name: '1.2.0.192.in-addr.arpa', type: 'PTR' },
      { name: '2.2.0.192.in-addr.arpa', type: 'PTR' },
    ]);
  });

  it('answers an error, without asking, when the resolver has no resolvePtr', async () => {
    const dns = createDnsLookup(rejecting(new Error('x')), 100);
    expect(dns.supportsPtr).toBe(false);
    expect(await dns.ptr('1.2.0.192.in-addr.arpa')).toEqual({
      ok: false,
      kind: 'error',
      nxdomain: false,
      message: 'PTR lookup of 1.2.0.192.in-addr.arpa not possible: the DNS resolver has no resolvePtr',
    });
    expect(dns.queryCount).toBe(0);
  });

  it('refuses a PTR answer that is not a list of names', async () => {
    const odd: DnsResolver = { ...rejecting(new Error('x')), resolvePtr: () => Promise.resolve([42] as never) };
    expect(await createDnsLookup(odd, 100).ptr('1.2.0.192.in-addr.arpa')).toMatchObject({ ok: false, kind: 'error' });
  });
});

describe('reverseName', () => {
  it.each([
    ['192.0.2.1', '1.2.0.192.in-addr.arpa'],
    ['::ffff:192.0.2.1', '1.2.0.192.in-addr.arpa'],
    ['2001:db8::1', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'],
    ['2001:DB8:ABCD::FF', 'f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.8.b.d.0.1.0.0.2.ip6.arpa'],
    ['not an ip', undefined],
  ])('%j -> %j', (ip, expected) => {
    expect(reverseName(ip)).toBe(expected);
  });
});

describe('dnsName', () => {
  it.each([
    ['Example.COM.', 'example.com'],
    ['_dmarc.example.com', '_dmarc.example.com'],
    ['s1._domainkey.example.com', 's1._domainkey.example.com'],
    ['', undefined],
    ['.', undefined],
    ['a..b', undefined],
    ['.a', undefined],
    [`${'a.'.repeat(127)}a`, undefined],
    ['ex ample.com', undefined],
    ['exämple.com', undefined],
  ])('%j -> %j', (input, expected) => {
    expect(dnsName(input)).toBe(expected);
  });
});

describe('createDnsResolver', () => {
  it('has the shape of node:dns/promises, so it or a Resolver can be injected as is', () => {
    // Compile-time check; nothing is resolved.
    const fromModule: DnsResolver = dnsPromises;
    const fromResolver: DnsResolver = new Resolver();
    expect(typeof fromModule.resolveMx).toBe('function');
    expect(typeof fromResolver.resolve6).toBe('function');
  });

  it('validates its options', () => {
    expect(() => createDnsResolver({ timeoutMs: 0 })).toThrow('Expected `timeoutMs` to be a positive integer (milliseconds), got 0');
    expect(() => createDnsResolver({ tries: 0 })).toThrow('`tries`');
    expect(() => createDnsResolver({ servers: [] })).toThrow('`servers`');
    expect(() => createDnsResolver({ servers: ['not an ip'] })).toThrow('`servers`');
  });

  it('builds a resolver with the node:dns/promises shape, asking the given servers', async () => {
    const resolver = createDnsResolver({ servers: ['127.0.0.1:1'], timeoutMs: 50, tries: 1 });
    expect(typeof resolver.resolveTxt).toBe('function');
    expect(typeof resolver.resolvePtr).toBe('function');
    expect(typeof dnsPromises.resolvePtr).toBe('function');
    // Nothing listens on port 1: the lookup fails locally, never reaching real DNS.
    const answer = await createDnsLookup(resolver, 2000).txt('example.com');
    expect(answer.ok).toBe(false);
  });
});

describe('createMemoryResolver', () => {
  it('answers with the node:dns error codes and logs the queries', async () => {
    const resolver = createMemoryResolver({ 'a.example.com': { a: ['192.0.2.1'] } });
    await expect(resolver.resolve4('A.example.com.')).resolves.toEqual(['192.0.2.1']);
    await expect(resolver.resolveTxt('a.example.com')).rejects.toMatchObject({ code: 'ENODATA', syscall: 'queryTxt', hostname: 'a.example.com' });
    // An empty non-terminal exists: no data rather than NXDOMAIN.
    await expect(resolver.resolve4('example.com')).rejects.toMatchObject({ code: 'ENODATA' });
    await expect(resolver.resolve4('b.example.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(resolver.queries.map((q) => `${q.type} ${q.name}`)).toEqual(['A a.example.com', 'TXT a.example.com', 'A example.com', 'A b.example.com']);
  });

  it('splits long TXT strings into 255-octet character-strings', async () => {
    const long = `v=spf1 ${'ip4:192.0.2.1 '.repeat(40)}-all`;
    const resolver = createMemoryResolver({ 'example.com': { txt: [long] } });
    const [chunks] = await resolver.resolveTxt('example.com');
    expect(chunks!.length).toBe(Math.ceil(long.length / 255));
    expect(chunks!.every((c) => c.length <= 255)).toBe(true);
    expect(chunks!.join('')).toBe(long);
  });

  it('follows CNAMEs and stops on CNAME loops', async () => {
    const resolver = createMemoryResolver({
      'em123.example.com': { cname: 'u1.wl.sendgrid.net' },
      'u1.wl.sendgrid.net': { txt: ['v=spf1 include:sendgrid.net ~all'] },
      'loop1.example': { cname: 'loop2.example' },
      'loop2.example': { cname: 'loop1.example' },
    });
    await expect(resolver.resolveTxt('em123.example.com')).resolves.toEqual([['v=spf1 include:sendgrid.net ~all']]);
    await expect(resolver.resolveTxt('loop1.example')).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('answers reverse lookups from ptr records, with node:dns errors and the query logged', async () => {
    const resolver = createMemoryResolver({ [reverseName('192.0.2.1')!]: { ptr: ['mail.example.com'] } });
    await expect(resolver.resolvePtr('1.2.0.192.in-addr.arpa')).resolves.toEqual(['mail.example.com']);
    await expect(resolver.resolvePtr('2.2.0.192.in-addr.arpa')).rejects.toMatchObject({ code: 'ENOTFOUND', syscall: 'queryPtr' });
    await expect(resolver.resolve('1.2.0.192.in-addr.arpa', 'PTR')).resolves.toEqual(['mail.example.com']);
    expect(resolver.queries.map((q) => `${q.type} ${q.name}`)).toEqual(['PTR 1.2.0.192.in-addr.arpa', 'PTR 2.2.0.192.in-addr.arpa', 'PTR 1.2.0.192.in-addr.arpa']);
  });

  it('offers a dns.resolve(name, rrtype) function for mailauth', async () => {
    const resolver = createMemoryResolver({ 's1._domainkey.example.com': { txt: ['v=DKIM1; p=abc'] } });
    await expect(resolver.resolve('s1._domainkey.example.com', 'TXT')).resolves.toEqual([['v=DKIM1; p=abc']]);
    await expect(resolver.resolve('example.com', 'SRV')).rejects.toMatchObject({ code: 'ENOTIMP' });
  });

  it('can be changed after creation', async () => {
    const resolver = createMemoryResolver();
    resolver.set('example.com', { a: ['192.0.2.1'] });
    await expect(resolver.resolve4('example.com')).resolves.toEqual(['192.0.2.1']);
    resolver.delete('example.com');
    await expect(resolver.resolve4('example.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('delays answers when asked', async () => {
    const resolver = createMemoryResolver({ 'example.com': { a: ['192.0.2.1'], delayMs: 30 } });
    const started = Date.now();
    await resolver.resolve4('example.com');
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });
});
