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

describe('the memo of From strings', () => {
  it('shares one frozen Address per sender when senders alternate, and stays bounded', async () => {
    const { fromMemoSize } = await import('../../src/message/normalize.js');
    const now = Date.now();
    const a1 = normalizeMessageAt({ ...base, from: 'News <news@example.com>' }, now, {});
    const b1 = normalizeMessageAt({ ...base, from: 'noreply@Example.com' }, now, {});
    const a2 = normalizeMessageAt({ ...base, from: 'News <news@example.com>' }, now, {});
    const b2 = normalizeMessageAt({ ...base, from: 'noreply@Example.com' }, now, {});
    expect(a2.from).toBe(a1.from);
    expect(b2.from).toBe(b1.from);
    expect(a1.from).toEqual({ address: 'news@example.com', name: 'News' });
    expect(b1.from).toEqual({ address: 'noreply@example.com' });
    expect(Object.isFrozen(a1.from) && Object.isFrozen(b1.from)).toBe(true);
    // Many distinct senders: each still parsed right, the memo never over 32.
    for (let i = 0; i < 200; i++) {
      const m = normalizeMessageAt({ ...base, from: ` Sender ${i} <S${i}@D${i % 7}.Example.com> ` }, now, {});
      expect(m.from).toEqual({ address: `S${i}@d${i % 7}.example.com`, name: `Sender ${i}` });
      expect(m.returnPath).toBe(`S${i}@d${i % 7}.example.com`);
      expect(m.messageId.endsWith(`@d${i % 7}.example.com>`)).toBe(true);
      expect(fromMemoSize()).toBeLessThanOrEqual(32);
    }
    expect(normalizeMessageAt({ ...base, from: 'News <news@example.com>' }, now, {}).from).toEqual({ address: 'news@example.com', name: 'News' });
  });

  it('never keeps a From that failed, nor an object', () => {
    const now = Date.now();
    for (let i = 0; i < 2; i++) {
      expect(() => normalizeMessageAt({ ...base, from: 'bad@@example.com' }, now, {})).toThrow(expect.objectContaining({ code: MailErrorCode.INVALID_ADDRESS }));
      expect(() => normalizeMessageAt({ ...base, from: 'a@b.com, c@d.com' }, now, {})).toThrow(expect.objectContaining({ code: MailErrorCode.INVALID_ADDRESS }));
    }
    const from = { address: 'ann@example.com', name: 'Ann' };
    const m1 = normalizeMessageAt({ ...base, from }, now, {});
    from.name = 'Bob';
    const m2 = normalizeMessageAt({ ...base, from }, now, {});
    expect(m1.from.name).toBe('Ann');
    expect(m2.from.name).toBe('Bob');
  });
});
