import { describe, expect, it } from 'vitest';
import { MailError, MailErrorCode } from '../../src/errors.js';
import { domainOf } from '../../src/message/address.js';
import { DEFAULT_MESSAGE_LIMITS, normalizeMessage, normalizeMessageAt } from '../../src/message/normalize.js';

const base = { from: 'App <app@example.com>', to: 'ann@example.org', subject: 'Hi', text: 'Hello' };

describe('normalizeMessageAt (the mailer path: the time apart, the settings object as it is)', () => {
  it('gives what normalizeMessage gives, apart from the generated ids', () => {
    const now = Date.UTC(2026, 0, 2);
    const settings = { limits: DEFAULT_MESSAGE_LIMITS, messageIdDomain: undefined, allowLocalDomains: false };
    const a = normalizeMessageAt({ ...base, headers: { 'X-A': '1' }, attachments: [{ content: 'x', filename: 'a.txt' }] }, now, settings);
    const b = normalizeMessage({ ...base, headers: { 'X-A': '1' }, attachments: [{ content: 'x', filename: 'a.txt' }] }, { now, ...settings });
    expect({ ...a, id: '', messageId: '' }).toEqual({ ...b, id: '', messageId: '' });
    expect(Object.isFrozen(a)).toBe(true);
    expect(a.date).toBe(now);
    expect(a.messageId).toMatch(/^<[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}@example\.com>$/);
    expect(a.id).toMatch(/^msg_[0-9a-f]{32}$/);
  });

  it('shares the empty headers and attachments of messages without them, and never one given', () => {
    const now = Date.now();
    const a = normalizeMessageAt(base, now, {});
    const b = normalizeMessageAt(base, now, {});
    expect(a.headers).toBe(b.headers);
    expect(a.attachments).toBe(b.attachments);
    expect(a.headers).toEqual([]);
    expect(Object.isFrozen(a.headers) && Object.isFrozen(a.attachments)).toBe(true);
    const c = normalizeMessageAt({ ...base, headers: { 'X-A': '1' } }, now, {});
    expect(c.headers).toEqual([['X-A', '1']]);
    expect(a.headers).toEqual([]);
  });

  it('uses messageIdDomain and allowLocalDomains from the settings', () => {
    const now = Date.now();
    expect(normalizeMessageAt(base, now, { messageIdDomain: 'Mail.Example.NET' }).messageId).toMatch(/@mail\.example\.net>$/);
    expect(() => normalizeMessageAt({ ...base, to: 'ops@mailhub' }, now, {})).toThrow(expect.objectContaining({ code: MailErrorCode.INVALID_ADDRESS }));
    expect(normalizeMessageAt({ ...base, to: 'ops@mailhub' }, now, { allowLocalDomains: true }).to[0]?.address).toBe('ops@mailhub');
  });

  it('refuses a bad time with CONFIG and turns a throwing getter into VALIDATION, like normalizeMessage', () => {
    expect(() => normalizeMessageAt(base, Number.NaN, {})).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
    const input = { ...base, get subject(): string { throw new Error('boom'); } };
    let caught: unknown;
    try {
      normalizeMessageAt(input, Date.now(), {});
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MailError);
    expect((caught as MailError).code).toBe(MailErrorCode.VALIDATION);
    expect((caught as MailError).message).toContain('boom');
    expect(() => normalizeMessage(base, null as never)).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
  });

  it('checks one-label domains on the part after the last @ only', () => {
    const now = Date.now();
    expect(() => normalizeMessageAt({ ...base, to: '"a.b@c"@localhost' }, now, {})).toThrow(expect.objectContaining({ code: MailErrorCode.INVALID_ADDRESS }));
    expect(normalizeMessageAt({ ...base, to: '"a@b"@example.org' }, now, {}).to[0]?.address).toBe('"a@b"@example.org');
    expect(() => normalizeMessageAt({ ...base, cc: ['x@example.org', 'first.last@host'] }, now, {})).toThrow(/`cc` address "first.last@host" has a one-label domain/);
  });
});

describe('domainOf', () => {
  it('is the part after the last @, or empty without one', () => {
    expect(domainOf('ann@example.org')).toBe('example.org');
    expect(domainOf('"a@b"@example.org')).toBe('example.org');
    expect(domainOf('no-at-sign')).toBe('');
    expect(domainOf('trailing@')).toBe('');
    expect(domainOf('@example.org')).toBe('example.org');
    expect(domainOf('')).toBe('');
  });
});

describe('generated ids across refills of the random pool (4,096 ids per fill)', () => {
  it('stay unique, version 4 and paired (the id and the Message-ID from the same bytes)', () => {
    const ids = new Set<string>();
    const mids = new Set<string>();
    for (let i = 0; i < 9_000; i++) {
      const m = normalizeMessageAt(base, 0, {});
      ids.add(m.id);
      mids.add(m.messageId);
      expect(m.messageId.replace(/[<>-]|@example\.com/g, '')).toBe(m.id.slice(4));
    }
    expect(ids.size).toBe(9_000);
    expect(mids.size).toBe(9_000);
  });
});
