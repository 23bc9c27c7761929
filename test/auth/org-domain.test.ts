import { describe, it, expect } from 'vitest';
import { isAligned, orgDomain } from '../../src/auth/org-domain.js';

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
});
