import { describe, it, expect } from 'vitest';
import { canonicalDomain, isAligned, orgDomain } from '../../src/auth/org-domain.js';

describe('orgDomain', () => {
  it.each([
    ['example.com', 'example.com'],
    ['mail.example.com', 'example.com'],
    ['a.b.c.example.com', 'example.com'],
    ['News.Example.COM.', 'example.com'],
    ['bounce.example.co.uk', 'example.co.uk'],
    ['example.co.uk', 'example.co.uk'],
    ['foo.github.io', 'foo.github.io'],
    ['x.foo.github.io', 'foo.github.io'],
    ['xn--bcher-kva.de', 'xn--bcher-kva.de'],
    ['mail.xn--bcher-kva.de', 'xn--bcher-kva.de'],
    ['co.uk', 'co.uk'],
    ['com', 'com'],
  ])('%s -> %s', (domain, org) => {
    expect(orgDomain(domain)).toBe(org);
  });
});

describe('isAligned', () => {
  it('relaxed: same organizational domain', () => {
    expect(isAligned('example.com', 'mail.example.com', 'relaxed')).toBe(true);
    expect(isAligned('news.example.com', 'bounce.example.com', 'relaxed')).toBe(true);
    expect(isAligned('example.com', 'example.net', 'relaxed')).toBe(false);
    expect(isAligned('example.co.uk', 'other.co.uk', 'relaxed')).toBe(false);
    expect(isAligned('a.github.io', 'b.github.io', 'relaxed')).toBe(false);
    expect(isAligned('example.com', 'amazonses.com', 'relaxed')).toBe(false);
  });

  it('strict: identical domains only, ignoring case and a trailing dot', () => {
    expect(isAligned('example.com', 'EXAMPLE.com.', 'strict')).toBe(true);
    expect(isAligned('example.com', 'mail.example.com', 'strict')).toBe(false);
  });

  it('compares both sides in canonical form: case, trailing dots and IDN', () => {
    expect(isAligned('MAC.com.', 'mac.com', 'strict')).toBe(true);
    expect(isAligned('mac.com.', 'Mac.Com.', 'strict')).toBe(true);
    expect(isAligned('Mail.MAC.com.', 'mac.com', 'relaxed')).toBe(true);
    expect(isAligned('bücher.de', 'xn--bcher-kva.de', 'strict')).toBe(true);
    expect(isAligned('Bücher.DE.', 'mail.xn--bcher-kva.de', 'relaxed')).toBe(true);
  });

  it('never aligns a name that is not a domain (an empty label), in either mode', () => {
    for (const mode of ['strict', 'relaxed'] as const) {
      expect(isAligned('mac.com', '.mac.com.', mode)).toBe(false);
      expect(isAligned('.mac.com.', 'mac.com', mode)).toBe(false);
      expect(isAligned('mac.com', 'mac..com', mode)).toBe(false);
      expect(isAligned('mac.com', 'mac.com..', mode)).toBe(false);
      expect(isAligned('mac.com', '', mode)).toBe(false);
    }
  });
});

describe('canonicalDomain', () => {
  it.each([
    ['Example.COM.', 'example.com'],
    ['mail.example.com', 'mail.example.com'],
    ['_dmarc.Example.com', '_dmarc.example.com'],
    ['Bücher.DE.', 'xn--bcher-kva.de'],
    ['.example.com', undefined],
    ['example..com', undefined],
    ['example.com..', undefined],
    ['', undefined],
    ['exa mple.com', undefined],
  ])('%j -> %j', (name, expected) => {
    expect(canonicalDomain(name)).toBe(expected);
  });

  it('leaves a name that is not a domain out of every organization', () => {
    expect(orgDomain('.mac.com.')).toBe('.mac.com.');
  });
});
