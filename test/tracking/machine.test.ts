import { describe, expect, it } from 'vitest';
import { DEFAULT_MACHINE_RULES, compileMachineRules } from '../../src/tracking/machine.js';
import type { TrackingHit } from '../../src/tracking/machine.js';

const hit = (h: Partial<TrackingHit>): TrackingHit => ({ kind: 'open', method: 'GET', userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)', ip: '203.0.113.9', ...h });

describe('machine rules', () => {
  const m = compileMachineRules(DEFAULT_MACHINE_RULES);

  it('recognise image proxies for opens only, and scanners for both', () => {
    expect(m.match(hit({}))).toBeUndefined();
    expect(m.match(hit({ userAgent: 'Mozilla/5.0' }))).toBe('apple-mpp-agent');
    expect(m.match(hit({ kind: 'click', userAgent: 'Mozilla/5.0' }))).toBeUndefined();
    expect(m.match(hit({ ip: '17.1.2.3' }))).toBe('apple-mpp-address');
    expect(m.match(hit({ ip: '::ffff:17.1.2.3' }))).toBe('apple-mpp-address');
    expect(m.match(hit({ kind: 'click', ip: '17.1.2.3' }))).toBeUndefined();
    expect(m.match(hit({ ip: '66.249.84.10' }))).toBe('gmail-image-proxy-address');
    expect(m.match(hit({ userAgent: 'Mozilla/5.0 (via ggpht.com GoogleImageProxy)' }))).toBe('gmail-image-proxy');
    expect(m.match(hit({ userAgent: 'YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html' }))).toBe('yahoo-image-proxy');
    expect(m.match(hit({ kind: 'click', userAgent: 'Mozilla/5.0 HeadlessChrome/120' }))).toBe('scanner-agent');
    expect(m.match(hit({ kind: 'click', userAgent: 'python-requests/2.31' }))).toBe('scanner-agent');
    expect(m.match(hit({ kind: 'click', method: 'HEAD' }))).toBe('head-request');
    expect(m.match(hit({ kind: 'click', userAgent: undefined }))).toBe('no-user-agent');
    expect(m.match(hit({ kind: 'click', userAgent: '   ' }))).toBe('no-user-agent');
  });

  it('match IPv6 ranges and custom rules, first rule wins', () => {
    const custom = compileMachineRules([
      { id: 'relay-v6', applies: 'both', ipRanges: ['2a02:26f7::/32'] },
      { id: 'corp-gateway', applies: 'click', userAgent: /AcmeGateway/g, ipRanges: ['10.0.0.0/8'] },
      ...DEFAULT_MACHINE_RULES,
    ]);
    expect(custom.match(hit({ ip: '2a02:26f7:1:2::5' }))).toBe('relay-v6');
    expect(custom.match(hit({ ip: '2a02:26f8::1' }))).toBeUndefined();
    // A /g pattern is used without its state: the same answer twice.
    expect(custom.match(hit({ kind: 'click', userAgent: 'AcmeGateway/1', ip: '10.1.1.1' }))).toBe('corp-gateway');
    expect(custom.match(hit({ kind: 'click', userAgent: 'AcmeGateway/1', ip: '10.1.1.1' }))).toBe('corp-gateway');
    expect(custom.match(hit({ kind: 'click', userAgent: 'AcmeGateway/1', ip: '11.1.1.1' }))).toBeUndefined();
    expect(custom.match(hit({ ip: 'not-an-ip' }))).toBeUndefined();
  });
});
