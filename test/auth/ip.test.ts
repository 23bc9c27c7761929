import { describe, it, expect } from 'vitest';
import { formatIp, inCidr, ipMacroForm, parseIPv4, parseIPv6, parseIp } from '../../src/auth/ip.js';

describe('parseIPv4', () => {
  it('parses dotted quads', () => {
    expect(Array.from(parseIPv4('192.0.2.1')!.bytes)).toEqual([192, 0, 2, 1]);
    expect(Array.from(parseIPv4('0.0.0.0')!.bytes)).toEqual([0, 0, 0, 0]);
    expect(Array.from(parseIPv4('255.255.255.255')!.bytes)).toEqual([255, 255, 255, 255]);
  });

  it.each(['256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1..2.3', '1.2.3.4.', 'a.b.c.d', '', ' 1.2.3.4', '1.2.3.-4'])('refuses %j', (text) => {
    expect(parseIPv4(text)).toBeUndefined();
  });
});

describe('parseIPv6', () => {
  it.each([
    ['2001:db8::1', '2001:db8:0:0:0:0:0:1'],
    ['::', '0:0:0:0:0:0:0:0'],
    ['::1', '0:0:0:0:0:0:0:1'],
    ['1::', '1:0:0:0:0:0:0:0'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::ffff:192.0.2.1', '0:0:0:0:0:ffff:c000:201'],
    ['2001:DB8::A', '2001:db8:0:0:0:0:0:a'],
  ])('parses %s', (text, full) => {
    expect(formatIp(parseIPv6(text)!)).toBe(full);
  });

  it.each(['1:::2', '1::2::3', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::1', '1:2:', '::1.2.3', '1.2.3.4::', '::1:2:3:4:5:6:7:8'])('refuses %j', (text) => {
    expect(parseIPv6(text)).toBeUndefined();
  });
});

describe('parseIp', () => {
  it('reads an IPv4-mapped IPv6 address as IPv4 (RFC 7208 5)', () => {
    const ip = parseIp('::ffff:198.51.100.7')!;
    expect(ip.family).toBe(4);
    expect(formatIp(ip)).toBe('198.51.100.7');
  });
});

describe('inCidr', () => {
  const v4 = (t: string) => parseIp(t)!;
  it('matches by prefix length, including odd lengths', () => {
    expect(inCidr(v4('192.0.2.200'), v4('192.0.2.0'), 24)).toBe(true);
    expect(inCidr(v4('192.0.3.1'), v4('192.0.2.0'), 24)).toBe(false);
    expect(inCidr(v4('192.0.2.129'), v4('192.0.2.128'), 25)).toBe(true);
    expect(inCidr(v4('192.0.2.127'), v4('192.0.2.128'), 25)).toBe(false);
    expect(inCidr(v4('10.1.2.3'), v4('0.0.0.0'), 0)).toBe(true);
    expect(inCidr(v4('192.0.2.1'), v4('192.0.2.1'), 32)).toBe(true);
    expect(inCidr(v4('192.0.2.2'), v4('192.0.2.1'), 32)).toBe(false);
  });

  it('matches IPv6 networks and never mixes families', () => {
    expect(inCidr(v4('2001:db8:1::5'), v4('2001:db8::'), 32)).toBe(true);
    expect(inCidr(v4('2001:db9::5'), v4('2001:db8::'), 32)).toBe(false);
    expect(inCidr(v4('2001:db8::1'), v4('192.0.2.0'), 0)).toBe(false);
  });
});

describe('ipMacroForm', () => {
  it('gives dotted nibbles for IPv6 (RFC 7208 7.3)', () => {
    expect(ipMacroForm(parseIp('2001:db8::cb01')!)).toBe('2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1');
    expect(ipMacroForm(parseIp('192.0.2.3')!)).toBe('192.0.2.3');
  });
});
