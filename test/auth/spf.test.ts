import { describe, it, expect } from 'vitest';
import { createDnsLookup, reverseName, type DnsResolver } from '../../src/auth/dns.js';
import { analyzeSpf, evaluateSpf, isSpfRecord, parseSpf, SPF_MAX_PTR_NAMES, type SpfMechanism } from '../../src/auth/spf.js';
import { createMemoryResolver, type MemoryZones } from '../../src/testing/dns.js';

const lookupOver = (zones: MemoryZones, timeoutMs = 200) => {
  const resolver = createMemoryResolver(zones);
  return { resolver, dns: createDnsLookup(resolver, timeoutMs) };
};

const evaluate = (zones: MemoryZones, ip: string, domain = 'example.com') => evaluateSpf(domain, ip, lookupOver(zones).dns);
const analyze = (zones: MemoryZones, domain = 'example.com') => analyzeSpf(domain, lookupOver(zones).dns);

describe('isSpfRecord', () => {
  it.each([
    ['v=spf1', true],
    ['v=spf1 -all', true],
    ['V=SPF1 -all', true],
    ['v=spf10 -all', false],
    ['v=spf1-all', false],
    [' v=spf1 -all', false],
    ['spf1 -all', false],
    ['', false],
  ])('%j -> %s', (txt, expected) => {
    expect(isSpfRecord(txt)).toBe(expected);
  });
});

describe('parseSpf', () => {
  const mechanism = (txt: string): SpfMechanism => {
    const r = parseSpf(`v=spf1 ${txt}`);
    if (!r.ok) throw new Error(r.error);
    return r.record.mechanisms[0]!;
  };

  it('reads qualifiers, names (case-insensitive) and targets', () => {
    expect(mechanism('-ALL')).toMatchObject({ qualifier: '-', name: 'all' });
    expect(mechanism('~include:_spf.example.net')).toMatchObject({ qualifier: '~', name: 'include', domainSpec: '_spf.example.net' });
    expect(mechanism('?exists:%{i}._spf.%{d}')).toMatchObject({ qualifier: '?', name: 'exists', domainSpec: '%{i}._spf.%{d}' });
    expect(mechanism('ptr')).toMatchObject({ name: 'ptr' });
    expect(mechanism('a')).toMatchObject({ qualifier: '+', name: 'a', prefix4: 32, prefix6: 128 });
  });

  it('reads CIDR lengths of ip4, ip6, a and mx (dual-cidr-length)', () => {
    expect(mechanism('ip4:192.0.2.0/24')).toMatchObject({ prefix4: 24 });
    expect(mechanism('ip4:192.0.2.1')).toMatchObject({ prefix4: 32 });
    expect(mechanism('ip6:2001:db8::/32')).toMatchObject({ prefix6: 32 });
    expect(mechanism('a/24')).toMatchObject({ prefix4: 24, prefix6: 128 });
    expect(mechanism('a//64')).toMatchObject({ prefix4: 32, prefix6: 64 });
    expect(mechanism('mx:mail.example.com/24//64')).toMatchObject({ domainSpec: 'mail.example.com', prefix4: 24, prefix6: 64 });
  });

  it('reads redirect and exp, and keeps unknown modifiers', () => {
    const r = parseSpf('v=spf1 redirect=_spf.example.com exp=explain.%{d} foo=bar');
    expect(r.ok && r.record).toMatchObject({ redirect: '_spf.example.com', exp: 'explain.%{d}', mechanisms: [] });
    expect(r.ok && r.record.terms).toHaveLength(3);
  });

  it('tolerates several spaces between terms and a trailing space', () => {
    const r = parseSpf('v=spf1   ip4:192.0.2.1   -all ');
    expect(r.ok && r.record.mechanisms.map((m) => m.name)).toEqual(['ip4', 'all']);
  });

  it.each([
    ['v=spf1 inlcude:example.net -all', 'unknown mechanism "inlcude:example.net"'],
    ['v=spf1 ip4:300.1.1.1 -all', 'is not a valid IPv4 address'],
    ['v=spf1 ip4:192.0.2.0/33', 'larger than 32'],
    ['v=spf1 ip6:2001:db8::/129', 'larger than 128'],
    ['v=spf1 ip6:192.0.2.1', 'not a valid IPv6 address'],
    ['v=spf1 ip4:', 'needs an address'],
    ['v=spf1 include:', 'the domain is empty'],
    ['v=spf1 include', 'needs a domain'],
    ['v=spf1 exists', 'needs a domain'],
    ['v=spf1 all:foo', '"all" takes no argument'],
    ['v=spf1 redirect=a.example redirect=b.example', 'appears more than once'],
    ['v=spf1 include:localhost', 'is not a domain name'],
    ['v=spf1 include:example.123', 'is not a domain name'],
    ['v=spf1 a/', 'empty CIDR length'],
    ['v=spf1 ip4:192.0.2.0/024', 'leading zero'],
    ['v=spf1 exists:%{z}.example.com', 'unknown macro letter'],
    ['v=spf1 exists:%{i.example.com', 'unterminated macro'],
    ['v=spf1 exists:%{c}.example.com', 'unknown macro letter'],
    ['v=spf1 -all exp=%{t}.example.com', 'unknown macro letter'],
    ['v=spf1 exists:%x.example.com', 'must be followed by'],
    ['v=spf1 exists:%{i0}.example.com', 'zero labels'],
    ['v=spf1 exists:%{ir#}.example.com', 'invalid delimiter'],
    ['v=spf1 a -all v=spf1 mx', 'two records merged'],
    ['v=spf1 a\t-all', 'a tab'],
    ['v=spf1 ip4:192.0.2.1 ñ', 'non-ASCII'],
    ['spf1 -all', 'does not start with "v=spf1 "'],
  ])('reports %j as malformed (%s)', (txt, reason) => {
    const r = parseSpf(txt);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toContain(reason);
  });

  it('parses a huge record in linear time', () => {
    const terms = Array.from({ length: 20_000 }, (_, i) => `ip4:10.${(i >> 8) & 255}.${i & 255}.0/24`);
    const started = performance.now();
    const r = parseSpf(`v=spf1 ${terms.join(' ')} -all`);
    expect(r.ok && r.record.mechanisms).toHaveLength(20_001);
    // Generous: the machine may be loaded; a quadratic parser would take minutes here.
    expect(performance.now() - started).toBeLessThan(8000);
  });

  it('parses a hostile run of percent signs and braces quickly', () => {
    const started = performance.now();
    const r = parseSpf(`v=spf1 exists:${'%{'.repeat(50_000)}`);
    expect(r.ok).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('evaluateSpf', () => {
  const base: MemoryZones = {
    'example.com': { txt: ['v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a:web.example.com mx include:_spf.example.net -all'], mx: [{ exchange: 'mx1.example.com', priority: 10 }] },
    'web.example.com': { a: ['198.51.100.10'] },
    'mx1.example.com': { a: ['198.51.100.25'], aaaa: ['2001:db9::25'] },
    '_spf.example.net': { txt: ['v=spf1 ip4:203.0.113.0/25 ~all'] },
  };

  it.each([
    ['192.0.2.77', 'pass', 'ip4:192.0.2.0/24'],
    ['2001:db8:ffff::1', 'pass', 'ip6:2001:db8::/32'],
    ['198.51.100.10', 'pass', 'a:web.example.com'],
    ['198.51.100.25', 'pass', '"mx"'],
    ['2001:db9::25', 'pass', '"mx"'],
    ['203.0.113.5', 'pass', 'matched "ip4:203.0.113.0/25" in the SPF record of _spf.example.net, through "include:_spf.example.net" in example.com'],
    ['203.0.113.200', 'fail', '"-all" in the SPF record of example.com'],
    ['::ffff:192.0.2.9', 'pass', 'ip4:192.0.2.0/24'],
  ])('%s -> %s', async (ip, result, reason) => {
    const r = await evaluate(base, ip);
    expect(r.result).toBe(result);
    expect(r.reason).toContain(reason);
  });

  it('include matches only on pass; fail, softfail and neutral let evaluation go on (S-2)', async () => {
    for (const [all, expected] of [
      ['-all', 'softfail'],
      ['~all', 'softfail'],
      ['?all', 'softfail'],
      ['', 'softfail'],
    ] as const) {
      const r = await evaluate({ 'example.com': { txt: ['v=spf1 include:inc.example ~all'] }, 'inc.example': { txt: [`v=spf1 ip4:10.0.0.0/8 ${all}`] } }, '192.0.2.1');
      expect(r.result, `included record ending in ${JSON.stringify(all)}`).toBe(expected);
    }
    const passed = await evaluate({ 'example.com': { txt: ['v=spf1 -include:inc.example ~all'] }, 'inc.example': { txt: ['v=spf1 +all'] } }, '192.0.2.1');
    expect(passed.result).toBe('fail');
  });

  it('include of a name without SPF record is a permerror, and errors propagate (S-2)', async () => {
    expect((await evaluate({ 'example.com': { txt: ['v=spf1 include:none.example -all'] } }, '192.0.2.1')).result).toBe('permerror');
    expect((await evaluate({ 'example.com': { txt: ['v=spf1 include:bad.example -all'] }, 'bad.example': { txt: ['v=spf1 foo -all'] } }, '192.0.2.1')).result).toBe('permerror');
    expect((await evaluate({ 'example.com': { txt: ['v=spf1 include:slow.example -all'] }, 'slow.example': { fault: 'servfail' } }, '192.0.2.1')).result).toBe('temperror');
  });

  it('evaluates redirect only when nothing matched and there is no all', async () => {
    const zones: MemoryZones = {
      'example.com': { txt: ['v=spf1 ip4:192.0.2.1 redirect=_spf.example.com'] },
      '_spf.example.com': { txt: ['v=spf1 ip4:198.51.100.0/24 -all'] },
      'withall.example': { txt: ['v=spf1 ?all redirect=_spf.example.com'] },
    };
    expect((await evaluate(zones, '192.0.2.1')).result).toBe('pass');
    expect((await evaluate(zones, '198.51.100.3')).result).toBe('pass');
    expect((await evaluate(zones, '203.0.113.3')).result).toBe('fail');
    expect((await evaluate(zones, '198.51.100.3', 'withall.example')).result).toBe('neutral');
  });

  it('a redirect to a name without SPF is a permerror', async () => {
    expect((await evaluate({ 'example.com': { txt: ['v=spf1 redirect=gone.example'] } }, '192.0.2.1')).result).toBe('permerror');
  });

  it('defaults to neutral when nothing matches', async () => {
    const r = await evaluate({ 'example.com': { txt: ['v=spf1 ip4:192.0.2.1'] } }, '198.51.100.1');
    expect(r.result).toBe('neutral');
  });

  it('gives none without a record and temperror when the lookup times out', async () => {
    expect((await evaluate({}, '192.0.2.1')).result).toBe('none');
    expect((await evaluate({ 'example.com': { fault: 'hang' } }, '192.0.2.1')).result).toBe('temperror');
  });

  it('returns permerror at the 11th DNS-querying term, even if a later term would match', async () => {
    const a = Array.from({ length: 11 }, (_, i) => `a:h${i}.example.com`).join(' ');
    const zones: MemoryZones = { 'example.com': { txt: [`v=spf1 ${a} ip4:192.0.2.1 -all`] } };
    for (let i = 0; i < 11; i++) (zones as Record<string, object>)[`h${i}.example.com`] = { a: ['198.51.100.1'] };
    const r = await evaluate(zones, '192.0.2.1');
    expect(r.result).toBe('permerror');
    expect(r.reason).toContain('more than 10 DNS lookups');
    // A match before the limit is reached still passes.
    expect((await evaluate(zones, '198.51.100.1')).result).toBe('pass');
  });

  it('returns permerror after the third void lookup', async () => {
    const r = await evaluate({ 'example.com': { txt: ['v=spf1 a:v1.example.com a:v2.example.com exists:v3.example.com ip4:192.0.2.1 -all'] } }, '192.0.2.1');
    expect(r.result).toBe('permerror');
    expect(r.reason).toContain('void lookups');
    expect(r.voidLookups).toBe(3);
  });

  it('stops on include loops with permerror', async () => {
    const r = await evaluate({ 'example.com': { txt: ['v=spf1 include:b.example -all'] }, 'b.example': { txt: ['v=spf1 include:example.com -all'] } }, '192.0.2.1');
    expect(r.result).toBe('permerror');
    expect(r.reason).toContain('include loop: example.com -> b.example -> example.com');
  });

  it('refuses mx with more than 10 hosts', async () => {
    const mx = Array.from({ length: 11 }, (_, i) => ({ exchange: `mx${i}.example.com`, priority: i }));
    const r = await evaluate({ 'example.com': { txt: ['v=spf1 mx -all'], mx } }, '192.0.2.1');
    expect(r.result).toBe('permerror');
  });

  it('expands macros for exists (client IP, domain, reversed labels)', async () => {
    const zones: MemoryZones = {
      'example.com': { txt: ['v=spf1 exists:%{ir}.%{v}._spf.%{d} -all'] },
      '1.2.0.192.in-addr._spf.example.com': { a: ['127.0.0.2'] },
    };
    expect((await evaluate(zones, '192.0.2.1')).result).toBe('pass');
    expect((await evaluate(zones, '192.0.2.2')).result).toBe('fail');
  });

  it('expands sender macros and truncation digits', async () => {
    const zones: MemoryZones = {
      'example.com': { txt: ['v=spf1 exists:%{l}.%{d2}.users.example.net -all'] },
      'postmaster.example.com.users.example.net': { a: ['127.0.0.2'] },
    };
    expect((await evaluate(zones, '192.0.2.1')).result).toBe('pass');
  });

  describe('ptr (RFC 7208 5.5)', () => {
    const evaluateOver = async (zones: MemoryZones, ip: string, resolver?: DnsResolver) => {
      const memory = createMemoryResolver(zones);
      const evaluation = await evaluateSpf('example.com', ip, createDnsLookup(resolver ?? memory, 200));
      return { ...evaluation, queries: memory.queries.map((q) => `${q.type} ${q.name}`) };
    };

    it('matches a validated PTR name equal to the domain or below it', async () => {
      const base: MemoryZones = { 'example.com': { txt: ['v=spf1 ptr -all'], a: ['192.0.2.1'] }, 'mail.example.com': { a: ['192.0.2.2'] } };
      const own = await evaluateOver({ ...base, '1.2.0.192.in-addr.arpa': { ptr: ['example.com'] } }, '192.0.2.1');
      expect(own).toMatchObject({ result: 'pass', reason: 'matched "ptr" in the SPF record of example.com', lookups: 1 });
      expect(own.queries).toEqual(['TXT example.com', 'PTR 1.2.0.192.in-addr.arpa', 'A example.com']);
      // Case and the trailing root dot of the PTR answer do not matter.
      const sub = await evaluateOver({ ...base, '2.2.0.192.in-addr.arpa': { ptr: ['Mail.EXAMPLE.com.'] } }, '192.0.2.2');
      expect(sub.result).toBe('pass');
    });

    it('matches ptr:<domain> against that domain', async () => {
      const zones: MemoryZones = {
        'example.com': { txt: ['v=spf1 ptr:relay.example.net -all'] },
        '7.2.0.192.in-addr.arpa': { ptr: ['out1.relay.example.net'] },
        'out1.relay.example.net': { a: ['192.0.2.7'] },
      };
      expect((await evaluateOver(zones, '192.0.2.7')).result).toBe('pass');
    });

    it('does not match a PTR name whose addresses do not include the client (not validated)', async () => {
      const zones: MemoryZones = {
        'example.com': { txt: ['v=spf1 ptr -all'] },
        '9.113.0.203.in-addr.arpa': { ptr: ['mail.example.com'] },
        'mail.example.com': { a: ['192.0.2.1'] },
      };
      expect(await evaluateOver(zones, '203.0.113.9')).toMatchObject({ result: 'fail', reason: 'matched "-all" in the SPF record of example.com' });
    });

    it('does not match, nor validate, PTR names outside the domain', async () => {
      const zones: MemoryZones = {
        'example.com': { txt: ['v=spf1 ptr -all'] },
        '1.2.0.192.in-addr.arpa': { ptr: ['host.attacker.example', 'notexample.com', 'example.com.evil.example'] },
        'host.attacker.example': { a: ['192.0.2.1'] },
        'notexample.com': { a: ['192.0.2.1'] },
      };
      const r = await evaluateOver(zones, '192.0.2.1');
      expect(r.result).toBe('fail');
      expect(r.queries).toEqual(['TXT example.com', 'PTR 1.2.0.192.in-addr.arpa']);
    });

    it('reverse-maps IPv6 clients under ip6.arpa and validates with AAAA', async () => {
      const zones: MemoryZones = {
        'example.com': { txt: ['v=spf1 ptr -all'] },
        [reverseName('2001:db8::25')!]: { ptr: ['mx.example.com'] },
        'mx.example.com': { aaaa: ['2001:0db8:0000::0025'], a: ['2001:db8::25'] },
      };
      const r = await evaluateOver(zones, '2001:db8::25');
      expect(r.result).toBe('pass');
      expect(r.queries).toEqual(['TXT example.com', `PTR ${reverseName('2001:db8::25')!}`, 'AAAA mx.example.com']);
    });

    it('validates only the first 10 PTR names (RFC 7208 4.6.4)', async () => {
      const names = (matchAt: number) => Array.from({ length: 12 }, (_, i) => (i === matchAt ? 'good.example.com' : `bad${i}.example.com`));
      const zones = (matchAt: number): MemoryZones => ({
        'example.com': { txt: ['v=spf1 ptr -all'] },
        '1.2.0.192.in-addr.arpa': { ptr: names(matchAt) },
        'good.example.com': { a: ['192.0.2.1'] },
        ...Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`bad${i}.example.com`, { a: ['198.51.100.1'] }])),
      });
      expect(SPF_MAX_PTR_NAMES).toBe(10);
      const tenth = await evaluateOver(zones(9), '192.0.2.1');
      expect(tenth.result).toBe('pass');
      const eleventh = await evaluateOver(zones(10), '192.0.2.1');
      expect(eleventh.result).toBe('fail');
      // One PTR query and at most 10 address queries.
      expect(eleventh.queries.filter((q) => q.startsWith('A '))).toHaveLength(10);
    });

    it('does not match on a DNS error of the PTR lookup (no temperror)', async () => {
      const zones: MemoryZones = { 'example.com': { txt: ['v=spf1 ptr ~all'] }, '1.2.0.192.in-addr.arpa': { fault: 'servfail' } };
      expect(await evaluateOver(zones, '192.0.2.1')).toMatchObject({ result: 'softfail', voidLookups: 0 });
    });

    it('skips a PTR name whose address lookup fails and goes on with the next', async () => {
      const zones: MemoryZones = {
        'example.com': { txt: ['v=spf1 ptr -all'] },
        '1.2.0.192.in-addr.arpa': { ptr: ['broken.example.com', 'mail.example.com'] },
        'broken.example.com': { fault: 'servfail' },
        'mail.example.com': { a: ['192.0.2.1'] },
      };
      expect((await evaluateOver(zones, '192.0.2.1')).result).toBe('pass');
    });

    it('counts a client without PTR records as a void lookup', async () => {
      const r = await evaluateOver({ 'example.com': { txt: ['v=spf1 ptr ptr:other.example ptr:third.example -all'] } }, '192.0.2.1');
      // The PTR answer is cached, but each term that finds nothing is void: the third is over the limit.
      expect(r).toMatchObject({ result: 'permerror', lookups: 3, voidLookups: 3 });
    });

    it('counts ptr against the limit of 10 DNS lookups', async () => {
      const a = Array.from({ length: 10 }, () => 'a:h.example.com').join(' ');
      const zones: MemoryZones = { 'example.com': { txt: [`v=spf1 ${a} ptr -all`] }, 'h.example.com': { a: ['198.51.100.1'] }, '1.2.0.192.in-addr.arpa': { ptr: ['example.com'] } };
      expect(await evaluateOver(zones, '192.0.2.1')).toMatchObject({ result: 'permerror', lookups: 11 });
    });

    it('never matches with a resolver that has no resolvePtr', async () => {
      const zones: MemoryZones = { 'example.com': { txt: ['v=spf1 ptr -all'], a: ['192.0.2.1'] }, '1.2.0.192.in-addr.arpa': { ptr: ['example.com'] } };
      const memory = createMemoryResolver(zones);
      const forwardOnly: DnsResolver = { resolveTxt: memory.resolveTxt, resolveMx: memory.resolveMx, resolve4: memory.resolve4, resolve6: memory.resolve6 };
      const r = await evaluateSpf('example.com', '192.0.2.1', createDnsLookup(forwardOnly, 200));
      expect(r).toMatchObject({ result: 'fail', lookups: 1, voidLookups: 0 });
      expect(memory.queries.map((q) => q.type)).toEqual(['TXT']);
    });
  });

  it('refuses what is not an IP', async () => {
    expect((await evaluate({}, 'not-an-ip')).result).toBe('permerror');
  });
});

describe('analyzeSpf', () => {
  it('counts lookups through nested includes, redirect, a, mx, ptr and exists (RFC 7208 4.6.4)', async () => {
    const a = await analyze({
      'example.com': { txt: ['v=spf1 a mx ptr exists:x.example.com include:one.example ip4:192.0.2.1 redirect=r.example'], a: ['192.0.2.1'], mx: [{ exchange: 'mx.example.com', priority: 1 }] },
      'x.example.com': { a: ['127.0.0.1'] },
      'one.example': { txt: ['v=spf1 include:two.example a:h.one.example ~all'] },
      'two.example': { txt: ['v=spf1 ip4:203.0.113.0/24 -all'] },
      'h.one.example': { aaaa: ['2001:db8::1'] },
      'r.example': { txt: ['v=spf1 -all'] },
    });
    expect(a.status).toBe('ok');
    // a, mx, ptr, exists, include:one, include:two, a:h.one, redirect
    expect(a.lookups).toBe(8);
    expect(a.voidLookups).toBe(0);
    expect(a.lookupTerms.map((t) => `${t.depth}:${t.term}`)).toEqual(['0:a', '0:mx', '0:ptr', '0:exists:x.example.com', '0:include:one.example', '1:include:two.example', '1:a:h.one.example', '0:redirect=r.example']);
    expect(a.problems.map((p) => p.kind)).toEqual(['ptr']);
    expect(a.includes.map((i) => i.target)).toEqual(['one.example', 'two.example']);
  });

  it('reports the real count past 10 with the nested include that crosses the limit', async () => {
    const zones: Record<string, { txt: string[] }> = { 'example.com': { txt: ['v=spf1 include:i1.example include:i2.example include:i3.example -all'] } };
    for (let i = 1; i <= 3; i++) {
      zones[`i${i}.example`] = { txt: [`v=spf1 include:i${i}a.example include:i${i}b.example include:i${i}c.example ~all`] };
      for (const x of ['a', 'b', 'c']) zones[`i${i}${x}.example`] = { txt: ['v=spf1 ip4:192.0.2.0/24 -all'] };
    }
    const a = await analyze(zones);
    expect(a.lookups).toBe(12);
    const limit = a.problems.find((p) => p.kind === 'lookup-limit')!;
    expect(limit.message).toContain('include:i3b.example');
    expect(limit.domain).toBe('i3.example');
  });

  it('stops walking a pathological tree and says the count is a lower bound', async () => {
    const zones: Record<string, { txt: string[] }> = {};
    for (let i = 0; i < 100; i++) zones[i === 0 ? 'example.com' : `n${i}.example`] = { txt: [`v=spf1 include:n${i + 1}.example -all`] };
    zones['n100.example'] = { txt: ['v=spf1 -all'] };
    const { resolver, dns } = lookupOver(zones);
    const a = await analyzeSpf('example.com', dns);
    expect(a.truncated).toBe(true);
    expect(a.lookups).toBe(41);
    expect(resolver.queries.length).toBeLessThan(50);
  });

  it('counts void lookups and flags more than two', async () => {
    const a = await analyze({ 'example.com': { txt: ['v=spf1 a:gone1.example.com mx:gone2.example.com exists:gone3.example.com include:gone4.example -all'] } });
    expect(a.voidLookups).toBe(4);
    expect(a.problems.map((p) => p.kind)).toEqual(['void-limit', 'missing']);
  });

  it('does not call a host with only AAAA records void', async () => {
    const a = await analyze({ 'example.com': { txt: ['v=spf1 a:v6.example.com -all'] }, 'v6.example.com': { aaaa: ['2001:db8::1'] } });
    expect(a.voidLookups).toBe(0);
  });

  it('finds include loops, missing, duplicate and malformed included records', async () => {
    const a = await analyze({
      'example.com': { txt: ['v=spf1 include:loop.example include:missing.example include:dup.example include:bad.example -all'] },
      'loop.example': { txt: ['v=spf1 include:example.com -all'] },
      'dup.example': { txt: ['v=spf1 -all', 'v=spf1 ~all'] },
      'bad.example': { txt: ['v=spf1 ip4:1.2.3 -all'] },
    });
    expect(a.problems.map((p) => p.kind)).toEqual(['loop', 'missing', 'multiple', 'malformed']);
    expect(a.problems[0]!.message).toContain('example.com -> loop.example -> example.com');
    expect(a.problems[3]!.message).toContain('"ip4:1.2.3"');
  });

  it('catches a self-include and a redirect loop', async () => {
    const self = await analyze({ 'example.com': { txt: ['v=spf1 include:example.com -all'] } });
    expect(self.problems.map((p) => p.kind)).toEqual(['loop']);
    const redirect = await analyze({ 'example.com': { txt: ['v=spf1 redirect=b.example'] }, 'b.example': { txt: ['v=spf1 redirect=example.com'] } });
    expect(redirect.problems.map((p) => p.kind)).toEqual(['loop']);
  });

  it('flags mx with more than 10 hosts', async () => {
    const mx = Array.from({ length: 12 }, (_, i) => ({ exchange: `mx${i}.example.com`, priority: i }));
    const a = await analyze({ 'example.com': { txt: ['v=spf1 mx -all'], mx } });
    expect(a.problems.map((p) => p.kind)).toEqual(['mx-limit']);
    expect(a.problems[0]!.message).toContain('12 MX hosts');
  });

  it('flags +all in included records', async () => {
    const a = await analyze({ 'example.com': { txt: ['v=spf1 include:open.example -all'] }, 'open.example': { txt: ['v=spf1 +all'] } });
    expect(a.problems.map((p) => p.kind)).toEqual(['plus-all']);
  });

  it('does not follow terms that depend on the client IP, but counts them', async () => {
    const { resolver, dns } = lookupOver({ 'example.com': { txt: ['v=spf1 exists:%{i}._spf.example.com include:%{ir}.inc.example -all'] } });
    const a = await analyzeSpf('example.com', dns);
    expect(a.lookups).toBe(2);
    expect(a.problems.map((p) => p.kind)).toEqual(['unresolved', 'unresolved']);
    expect(resolver.queries).toEqual([{ name: 'example.com', type: 'TXT' }]);
  });

  it('reports none, multiple, malformed and DNS errors of the top record', async () => {
    expect((await analyze({ 'example.com': { txt: ['google-site-verification=x'] } })).status).toBe('none');
    expect((await analyze({ 'example.com': { txt: ['v=spf1 -all', 'v=spf1 a -all'] } })).status).toBe('multiple');
    const bad = await analyze({ 'example.com': { txt: ['v=spf1 ip4:999.0.0.1 -all'] } });
    expect(bad.status).toBe('malformed');
    expect(bad.error).toContain('999.0.0.1');
    const servfail = await analyze({ 'example.com': { fault: 'servfail' } });
    expect(servfail).toMatchObject({ status: 'dns-error', dnsFailure: 'servfail' });
  });

  it('joins the character-strings of a long record before parsing (RFC 7208 3.3)', async () => {
    const ips = Array.from({ length: 60 }, (_, i) => `ip4:198.51.${i}.0/24`).join(' ');
    const a = await analyze({ 'example.com': { txt: [`v=spf1 ${ips} -all`] } });
    expect(a.status).toBe('ok');
    expect(a.parsed?.mechanisms).toHaveLength(61);
  });

  it('reports a DNS failure inside the tree as a problem, not a throw', async () => {
    const a = await analyze({ 'example.com': { txt: ['v=spf1 include:slow.example -all'] }, 'slow.example': { fault: 'hang' } });
    expect(a.problems).toHaveLength(1);
    expect(a.problems[0]).toMatchObject({ kind: 'dns' });
    expect(a.problems[0]!.message).toContain('timed out for slow.example');
  });
});
