/** Unsubscribe tokens (COMPLIANCE.md U-3, L-1, L-2): round trip, tampering, rotation, lifetime. */
import { describe, expect, it } from 'vitest';
import { MailErrorCode } from '../../src/errors.js';
import { DEFAULT_TOKEN_TTL_MS, MIN_TOKEN_TTL_MS, resolveUnsubscribe } from '../../src/unsubscribe/settings.js';
import { createToken, deriveTokenKeys, verifyToken } from '../../src/unsubscribe/token.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 5, 1);
const keys = deriveTokenKeys(['current-secret-0123456789']);

describe('unsubscribe tokens', () => {
  it('round-trips the list and the recipient, and never shows the address', () => {
    const token = createToken(keys, 'newsletter', 'Ann.Smith@example.org', T0);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(token, 'base64url').toString('latin1')).not.toMatch(/ann|smith|example|newsletter/i);
    expect(verifyToken(keys, token, T0, DEFAULT_TOKEN_TTL_MS)).toEqual({ ok: true, list: 'newsletter', recipient: 'Ann.Smith@example.org', issuedAt: T0 });
    // Two tokens for the same recipient differ (random nonce): a token reveals nothing by equality.
    expect(createToken(keys, 'newsletter', 'Ann.Smith@example.org', T0)).not.toBe(token);
    expect(verifyToken(keys, createToken(keys, undefined, 'bob@example.org', T0), T0, DEFAULT_TOKEN_TTL_MS)).toEqual({ ok: true, list: undefined, recipient: 'bob@example.org', issuedAt: T0 });
    expect(verifyToken(keys, createToken(keys, 'news', 'bob@example.org', T0, 'spring-2026'), T0, DEFAULT_TOKEN_TTL_MS)).toEqual({ ok: true, list: 'news', recipient: 'bob@example.org', issuedAt: T0, campaign: 'spring-2026' });
  });

  it('refuses every single-byte change, truncation and garbage', () => {
    const token = createToken(keys, 'newsletter', 'ann@example.org', T0);
    const bytes = Buffer.from(token, 'base64url');
    for (let i = 0; i < bytes.length; i++) {
      const changed = Buffer.from(bytes);
      changed[i] = (changed[i] as number) ^ 0x01;
      const check = verifyToken(keys, changed.toString('base64url'), T0, DEFAULT_TOKEN_TTL_MS);
      expect(check.ok, `byte ${i}`).toBe(false);
    }
    expect(verifyToken(keys, token.slice(0, -2), T0, DEFAULT_TOKEN_TTL_MS).ok).toBe(false);
    for (const junk of [undefined, '', 'x', 'a'.repeat(5000), `${token}!`, 42, null]) {
      expect(verifyToken(keys, junk, T0, DEFAULT_TOKEN_TTL_MS)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('refuses a token made with a secret it does not know', () => {
    const other = deriveTokenKeys(['someone-elses-secret-000']);
    expect(verifyToken(keys, createToken(other, 'newsletter', 'ann@example.org', T0), T0, DEFAULT_TOKEN_TTL_MS)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('rotates: the first secret signs, every secret verifies', () => {
    const old = deriveTokenKeys(['old-secret-0123456789abc']);
    const rotated = deriveTokenKeys(['new-secret-0123456789abc', 'old-secret-0123456789abc']);
    const before = createToken(old, 'newsletter', 'ann@example.org', T0);
    expect(verifyToken(rotated, before, T0 + DAY, DEFAULT_TOKEN_TTL_MS)).toMatchObject({ ok: true, recipient: 'ann@example.org' });
    const after = createToken(rotated, 'newsletter', 'ann@example.org', T0 + DAY);
    expect(verifyToken(old, after, T0 + DAY, DEFAULT_TOKEN_TTL_MS)).toEqual({ ok: false, reason: 'invalid' });
    expect(verifyToken(deriveTokenKeys(['new-secret-0123456789abc']), after, T0 + DAY, DEFAULT_TOKEN_TTL_MS).ok).toBe(true);
  });

  it('stays valid for at least 60 days (365 by default), then expires', () => {
    const token = createToken(keys, 'newsletter', 'ann@example.org', T0);
    expect(verifyToken(keys, token, T0 + 60 * DAY, MIN_TOKEN_TTL_MS).ok).toBe(true);
    expect(verifyToken(keys, token, T0 + 61 * DAY, MIN_TOKEN_TTL_MS)).toEqual({ ok: false, reason: 'expired' });
    expect(verifyToken(keys, token, T0 + 365 * DAY, DEFAULT_TOKEN_TTL_MS).ok).toBe(true);
    expect(verifyToken(keys, token, T0 + 366 * DAY, DEFAULT_TOKEN_TTL_MS)).toEqual({ ok: false, reason: 'expired' });
    // Issued far in the future: refused (a clock gone wrong should not make eternal tokens).
    expect(verifyToken(keys, token, T0 - DAY, DEFAULT_TOKEN_TTL_MS)).toEqual({ ok: false, reason: 'expired' });
  });
});

describe('unsubscribe options', () => {
  const url = 'https://u.example.com/unsubscribe';
  const good = { url, secrets: ['current-secret-0123456789'] };

  it('resolves with a 365-day lifetime by default and strips a trailing slash', () => {
    const s = resolveUnsubscribe({ unsubscribe: { ...good, url: `${url}/` } });
    expect(s).toMatchObject({ url, tokenTtlMs: 365 * DAY });
    expect(resolveUnsubscribe({})).toBeUndefined();
  });

  it.each([
    ['an http URL off loopback', { ...good, url: 'http://u.example.com/unsubscribe' }, 'unsubscribe.url'],
    ['a URL with a query', { ...good, url: `${url}?a=1` }, 'unsubscribe.url'],
    ['not a URL', { ...good, url: 'unsubscribe' }, 'unsubscribe.url'],
    ['no secrets', { ...good, secrets: [] }, 'unsubscribe.secrets'],
    ['a short secret', { ...good, secrets: ['short'] }, 'unsubscribe.secrets[0]'],
    ['a lifetime under 60 days', { ...good, tokenTtlMs: 59 * DAY }, 'unsubscribe.tokenTtlMs'],
    ['a bad mailto', { ...good, mailto: 'not mail' }, 'unsubscribe.mailto'],
    ['an unknown key', { ...good, secret: 'x' }, 'unsubscribe.secret'],
    ['a non-boolean requireConsent', { ...good, requireConsent: 'yes' }, 'unsubscribe.requireConsent'],
  ])('refuses %s with CONFIG naming the option', (_name, unsubscribe, option) => {
    expect(() => resolveUnsubscribe({ unsubscribe: unsubscribe as never })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option }));
  });

  it('refuses a bad postal address, and never prints a secret', () => {
    expect(() => resolveUnsubscribe({ postalAddress: '  ' })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'postalAddress' }));
    try {
      resolveUnsubscribe({ unsubscribe: { url, secrets: ['tooshort-secret'] } });
      expect.unreachable();
    } catch (err) {
      expect(String((err as Error).message)).not.toContain('tooshort-secret');
    }
  });
});
