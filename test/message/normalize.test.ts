import { describe, expect, it } from 'vitest';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import type { MailError } from '../../src/errors.js';
import {
  DEFAULT_MESSAGE_LIMITS,
  RECIPIENT_ENTRIES_FACTOR,
  createMessageId,
  normalizeMessage,
  recipientsByDomain,
  validateMessageLimits,
} from '../../src/message/normalize.js';
import type { MessageLimits, NormalizeOptions } from '../../src/message/normalize.js';
import type { MessageInput, NormalizedMessage } from '../../src/types.js';

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);
const OPTIONS: NormalizeOptions = { now: NOW };

function base(overrides: Record<string, unknown> = {}): MessageInput {
  return { from: 'Shop <shop@example.com>', to: 'ann@example.org', subject: 'Hello', text: 'Hi Ann', ...overrides } as MessageInput;
}

function normalize(overrides: Record<string, unknown> = {}, options: Partial<NormalizeOptions> = {}): NormalizedMessage {
  return normalizeMessage(base(overrides), { ...OPTIONS, ...options });
}

function limits(overrides: MessageLimits): Required<MessageLimits> {
  return validateMessageLimits(overrides, 'limits');
}

/** Runs `fn`, expects a MailError and returns it. */
function catchMailError(fn: () => unknown): MailError {
  try {
    fn();
  } catch (err) {
    expect(isMailError(err), `expected a MailError, got ${String(err)}`).toBe(true);
    return err as MailError;
  }
  throw new Error('expected a MailError to be thrown, nothing was thrown');
}

function expectCode(fn: () => unknown, code: string, message?: RegExp | string): MailError {
  const err = catchMailError(fn);
  expect(err.code, err.message).toBe(code);
  if (message !== undefined) {
    if (typeof message === 'string') expect(err.message).toContain(message);
    else expect(err.message).toMatch(message);
  }
  return err;
}

describe('normalizeMessage: a valid message', () => {
  it('fills defaults and parses every field', () => {
    const m = normalize();
    expect(m).toEqual({
      id: expect.stringMatching(/^msg_[0-9a-f]{32}$/),
      messageId: expect.stringMatching(/^<[0-9a-f-]{36}@example\.com>$/),
      from: { address: 'shop@example.com', name: 'Shop' },
      to: [{ address: 'ann@example.org' }],
      cc: [],
      bcc: [],
      replyTo: [],
      subject: 'Hello',
      text: 'Hi Ann',
      headers: [],
      attachments: [],
      tags: {},
      metadata: {},
      category: 'transactional',
      returnPath: 'shop@example.com',
      date: NOW,
      sizeBytes: expect.any(Number),
    });
    expect('html' in m).toBe(false);
  });

  it('normalizes every address field, IDN domains included', () => {
    const m = normalize({
      from: { address: 'News@Bücher.DE', name: 'Bücher News' },
      to: ['Ann <ann@Example.org>', 'bob@bücher.de.'],
      cc: '"Doe, John" <john@example.net>',
      bcc: ['hidden@example.com'],
      replyTo: 'Support <help@example.com>',
      returnPath: 'Bounce@Bounces.Example.com',
    });
    expect(m.from).toEqual({ address: 'News@xn--bcher-kva.de', name: 'Bücher News' });
    expect(m.to).toEqual([{ address: 'ann@example.org', name: 'Ann' }, { address: 'bob@xn--bcher-kva.de' }]);
    expect(m.cc).toEqual([{ address: 'john@example.net', name: 'Doe, John' }]);
    expect(m.bcc).toEqual([{ address: 'hidden@example.com' }]);
    expect(m.replyTo).toEqual([{ address: 'help@example.com', name: 'Support' }]);
    expect(m.returnPath).toBe('Bounce@bounces.example.com');
    expect(m.messageId).toMatch(/@xn--bcher-kva\.de>$/);
  });

  it('accepts a message with only bcc recipients, only html or only attachments', () => {
    expect(normalize({ to: undefined, bcc: 'a@example.com' }).bcc).toHaveLength(1);
    expect(normalize({ text: undefined, html: '<p>Hi</p>' }).html).toBe('<p>Hi</p>');
    expect(normalize({ text: undefined, attachments: [{ filename: 'a.txt', content: 'x' }] }).attachments).toHaveLength(1);
  });

  it('treats null like a missing optional field', () => {
    const m = normalize({ cc: null, subject: null, html: null, headers: null, tags: null, metadata: null, date: null, category: null });
    expect(m.cc).toEqual([]);
    expect(m.subject).toBe('');
    expect(m.category).toBe('transactional');
    expect(m.date).toBe(NOW);
  });

  it('keeps marketing as category', () => {
    expect(normalize({ category: 'marketing' }).category).toBe('marketing');
  });

  it('uses the given date', () => {
    expect(normalize({ date: new Date('2024-05-06T07:08:09Z') }).date).toBe(Date.UTC(2024, 4, 6, 7, 8, 9));
  });

  it('keeps repeated headers in order with names as given', () => {
    const m = normalize({ headers: { 'X-Tag': ['a', 'b'], 'x-campaign': 'spring', 'List-Id': '<news.example.com>', 'X-Empty': [] } });
    expect(m.headers).toEqual([
      ['X-Tag', 'a'],
      ['X-Tag', 'b'],
      ['x-campaign', 'spring'],
      ['List-Id', '<news.example.com>'],
    ]);
  });

  it('allows a tab and unicode in header values and the subject', () => {
    const m = normalize({ subject: 'Grüße\tund ✓', headers: { 'X-Note': 'a\tb ü' } });
    expect(m.subject).toBe('Grüße\tund ✓');
    expect(m.headers[0]).toEqual(['X-Note', 'a\tb ü']);
  });

  it('accepts a subject longer than a header line but within maxSubjectLength', () => {
    expect(normalize({ subject: 'word '.repeat(400) }).subject).toHaveLength(2000);
  });
});

describe('normalizeMessage: ids', () => {
  it('generates unique ids and Message-IDs', () => {
    const ids = new Set<string>();
    const messageIds = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const m = normalize();
      ids.add(m.id);
      messageIds.add(m.messageId);
    }
    expect(ids.size).toBe(2000);
    expect(messageIds.size).toBe(2000);
  });

  it('uses createId and messageIdDomain when given', () => {
    const m = normalize({}, { createId: () => 'msg_custom', messageIdDomain: 'Mail.Bücher.de' });
    expect(m.id).toBe('msg_custom');
    expect(m.messageId).toMatch(/^<[0-9a-f-]{36}@mail\.xn--bcher-kva\.de>$/);
  });

  it('createMessageId gives msg_ and 32 hex digits', () => {
    expect(createMessageId()).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(createMessageId()).not.toBe(createMessageId());
  });

  it('rejects a createId that returns no string and an invalid messageIdDomain as CONFIG', () => {
    expectCode(() => normalize({}, { createId: () => '' }), MailErrorCode.CONFIG, 'createId');
    expectCode(() => normalize({}, { createId: () => 42 as unknown as string }), MailErrorCode.CONFIG, 'createId');
    expectCode(() => normalize({}, { messageIdDomain: 'bad domain' }), MailErrorCode.CONFIG, 'messageIdDomain');
  });

  it('rejects a non-finite now as CONFIG', () => {
    expectCode(() => normalize({}, { now: Number.NaN }), MailErrorCode.CONFIG, '`now`');
  });

  it.each([
    ['abc@example.com', '<abc@example.com>'],
    ['<abc@example.com>', '<abc@example.com>'],
    ['<1.2.3$x+y@mail.example.com>', '<1.2.3$x+y@mail.example.com>'],
  ])('keeps the given Message-ID %s as %s', (input, expected) => {
    expect(normalize({ messageId: input }).messageId).toBe(expected);
  });

  it.each([
    ['no @', 'abc'],
    ['two @', 'a@b@c'],
    ['an empty left part', '@example.com'],
    ['an empty right part', 'abc@'],
    ['an opening bracket only', '<abc@example.com'],
    ['a closing bracket only', 'abc@example.com>'],
    ['empty brackets', '<>'],
    ['a space', '<a b@example.com>'],
    ['a double dot', '<a..b@example.com>'],
    ['CR LF injection', '<a@example.com>\r\nBcc: evil@example.net'],
    ['a NUL', 'a\u0000@example.com'],
    ['non-ASCII', 'ü@example.com'],
    ['a number', 42],
    ['an over-long id', `${'a'.repeat(1000)}@example.com`],
  ])('rejects a Message-ID with %s as INVALID_HEADER', (_, messageId) => {
    const err = expectCode(() => normalize({ messageId }), MailErrorCode.INVALID_HEADER, 'messageId');
    expect(err.message).not.toMatch(/[\r\n\u0000]/);
  });
});

describe('normalizeMessage: addresses', () => {
  it('requires exactly one From address', () => {
    expectCode(() => normalize({ from: undefined }), MailErrorCode.INVALID_ADDRESS, 'from');
    expectCode(() => normalize({ from: ['a@example.com'] }), MailErrorCode.INVALID_ADDRESS, 'exactly one address');
    expectCode(() => normalize({ from: 'a@example.com, c@example.com' }), MailErrorCode.INVALID_ADDRESS, '`from`');
    expectCode(() => normalize({ from: 'Ann <a@example.com>, Bob <b@example.com>' }), MailErrorCode.INVALID_ADDRESS, '`from`');
  });

  it('names the field and index of a bad recipient', () => {
    expectCode(() => normalize({ to: ['a@example.com', 'b@example.com', 'bad@'] }), MailErrorCode.INVALID_ADDRESS, '`to[2]`');
    expectCode(() => normalize({ cc: 'nope' }), MailErrorCode.INVALID_ADDRESS, '`cc`');
    expectCode(() => normalize({ bcc: [{ address: 'x' }] }), MailErrorCode.INVALID_ADDRESS, '`bcc[0].address`');
    expectCode(() => normalize({ replyTo: ['ok@example.com', 'a b@c.d'] }), MailErrorCode.INVALID_ADDRESS, '`replyTo[1]`');
  });

  it('requires at least one recipient', () => {
    expectCode(() => normalize({ to: undefined }), MailErrorCode.VALIDATION, 'no recipients');
    expectCode(() => normalize({ to: [], cc: [], bcc: [] }), MailErrorCode.VALIDATION, 'no recipients');
  });

  it('counts recipients after de-duplication against maxRecipients', () => {
    const lim = limits({ maxRecipients: 2 });
    // a@example.com three times (domain case differs) and b: two unique recipients.
    const ok = normalize({ to: ['a@example.com', 'a@EXAMPLE.com'], cc: 'b@example.com', bcc: 'a@example.com' }, { limits: lim });
    expect(ok.to).toHaveLength(2);
    const err = expectCode(() => normalize({ to: ['a@example.com', 'b@example.com'], bcc: 'c@example.com' }, { limits: lim }), MailErrorCode.TOO_LARGE);
    expect(err.message).toContain('3');
    expect(err.message).toContain('2');
  });

  it('accepts a long list of one repeated recipient and refuses a list over the limit', () => {
    expect(normalize({ to: Array.from({ length: 10_000 }, () => 'same@example.com') }).to).toHaveLength(10_000);
    expectCode(() => normalize({ to: Array.from({ length: 1001 }, (_, i) => `u${i}@example.com`) }), MailErrorCode.TOO_LARGE, 'limit is 1000');
  });

  it('refuses more than RECIPIENT_ENTRIES_FACTOR x maxRecipients entries before parsing any', () => {
    expect(RECIPIENT_ENTRIES_FACTOR).toBe(10);
    let reads = 0;
    // Every entry is the same address: de-duplicated it would be one recipient.
    const trap = {
      get address(): string {
        reads++;
        return 'same@example.com';
      },
    };
    const lim = limits({ maxRecipients: 3 });
    // 30 entries over to, cc and bcc: still read, de-duplicated, accepted.
    expect(normalize({ to: new Array(10).fill(trap), cc: new Array(10).fill(trap), bcc: new Array(10).fill(trap) }, { limits: lim }).to).toHaveLength(10);
    expect(reads).toBe(30);
    reads = 0;
    const err = expectCode(() => normalize({ to: new Array(10).fill(trap), cc: new Array(10).fill(trap), bcc: [...new Array(10).fill(trap), 'x@example.com'] }, { limits: lim }), MailErrorCode.TOO_LARGE);
    expect(reads).toBe(0);
    expect(err.message).toBe('Too many recipients: 31 entries in to + cc + bcc, more than 30 are never read (the limit is 3 recipients after de-duplication)');
    // A single string is one entry.
    expect(normalize({ to: new Array(29).fill(trap), cc: 'same@example.com' }, { limits: lim }).cc).toHaveLength(1);
  });

  it('refuses a list of 1,000,000 recipients without parsing it', () => {
    let reads = 0;
    const trap = {
      get address(): string {
        reads++;
        return 'same@example.com';
      },
    };
    const same = new Array(1_000_000).fill(trap);
    const distinct = Array.from({ length: 1_000_000 }, (_, i) => `user${i}@example.com`);
    // Parsing one list takes more than a second; counting it, microseconds. The bound is wide
    // so that a slow machine never fails it, and the read count is exact.
    const started = performance.now();
    expectCode(() => normalize({ to: same }), MailErrorCode.TOO_LARGE, '1000000 entries');
    expectCode(() => normalize({ to: undefined, bcc: distinct }), MailErrorCode.TOO_LARGE, '1000000 entries');
    expect(performance.now() - started).toBeLessThan(200);
    expect(reads).toBe(0);
  });

  it('refuses a comma-separated list in one string cheaply: a string is one address', () => {
    const list = Array.from({ length: 100_000 }, (_, i) => `user${i}@example.com`).join(', ');
    const started = performance.now();
    expectCode(() => normalize({ to: list }), MailErrorCode.INVALID_ADDRESS, 'too long');
    expectCode(() => normalize({ to: 'a@example.com, b@example.com' }), MailErrorCode.INVALID_ADDRESS, '`to`');
    expect(performance.now() - started).toBeLessThan(200);
  });

  it('validates returnPath as a bare address', () => {
    expectCode(() => normalize({ returnPath: 'Ann <a@example.com>' }), MailErrorCode.INVALID_ADDRESS, 'returnPath');
    expectCode(() => normalize({ returnPath: '' }), MailErrorCode.INVALID_ADDRESS, 'returnPath');
    expectCode(() => normalize({ returnPath: 42 }), MailErrorCode.INVALID_ADDRESS, 'returnPath');
    expectCode(() => normalize({ returnPath: 'a@example.com\r\nX: y' }), MailErrorCode.INVALID_ADDRESS, 'returnPath');
  });
});

describe('normalizeMessage: header injection', () => {
  const attack = 'x\r\nBcc: evil@example.net';

  it.each<[string, Record<string, unknown>, string]>([
    ['the subject', { subject: attack }, MailErrorCode.INVALID_HEADER],
    ['the subject (LF only)', { subject: 'x\nBcc: evil@example.net' }, MailErrorCode.INVALID_HEADER],
    ['the subject (CR only)', { subject: 'x\rBcc: evil@example.net' }, MailErrorCode.INVALID_HEADER],
    ['the subject (NUL)', { subject: 'x\u0000y' }, MailErrorCode.INVALID_HEADER],
    ['the subject (NEL)', { subject: 'x\u0085y' }, MailErrorCode.INVALID_HEADER],
    ['a header value', { headers: { 'X-Note': attack } }, MailErrorCode.INVALID_HEADER],
    ['a repeated header value', { headers: { 'X-Note': ['ok', attack] } }, MailErrorCode.INVALID_HEADER],
    ['a header name', { headers: { 'X-Note\r\nBcc': 'evil@example.net' } }, MailErrorCode.INVALID_HEADER],
    ['a header name with a colon', { headers: { 'Bcc: evil@example.net\r\nX': 'y' } }, MailErrorCode.INVALID_HEADER],
    ['an attachment filename', { attachments: [{ filename: `a.txt${attack}`, content: 'x' }] }, MailErrorCode.INVALID_HEADER],
    ['an attachment content type', { attachments: [{ contentType: `text/plain${attack}`, content: 'x' }] }, MailErrorCode.INVALID_HEADER],
    ['an attachment cid', { attachments: [{ cid: `img${attack}`, content: 'x' }] }, MailErrorCode.INVALID_HEADER],
    ['a tag value', { tags: { campaign: attack } }, MailErrorCode.INVALID_HEADER],
    ['a tag name', { tags: { [`campaign${attack}`]: 'x' } }, MailErrorCode.INVALID_HEADER],
    ['a tag value with a tab', { tags: { campaign: 'a\tb' } }, MailErrorCode.INVALID_HEADER],
    ['a display name', { to: `Ann${attack} <a@example.com>` }, MailErrorCode.INVALID_ADDRESS],
    ['a display name in an object', { to: { address: 'a@example.com', name: attack } }, MailErrorCode.INVALID_ADDRESS],
    ['the From address', { from: `shop@example.com${attack}` }, MailErrorCode.INVALID_ADDRESS],
  ])('rejects CR/LF in %s', (_, overrides, code) => {
    const err = expectCode(() => normalize(overrides), code);
    // The value is shown escaped, so logging the error cannot forge log lines either.
    expect(err.message).not.toMatch(/[\r\n\u0000\u0085]/);
  });

  it.each([
    ['From', 'from'],
    ['to', 'to'],
    ['CC', 'cc'],
    ['BCC', 'bcc'],
    ['Reply-To', 'replyTo'],
    ['Subject', 'subject'],
    ['Date', 'date'],
    ['Message-ID', 'messageId'],
    ['Return-Path', 'returnPath'],
    ['Sender', 'Sender'],
    ['MIME-Version', 'MIME'],
    ['Content-Type', 'MIME'],
    ['content-transfer-encoding', 'MIME'],
    ['Content-Disposition', 'MIME'],
  ])('refuses the model-owned header %s and points to %s', (name, hint) => {
    expectCode(() => normalize({ headers: { [name]: 'x' } }), MailErrorCode.INVALID_HEADER, hint);
  });

  it.each([
    ['DKIM-Signature', 'the mailer'],
    ['dkim-signature', 'the mailer'],
    ['DomainKey-Signature', 'obsolete'],
    ['Received', 'relay'],
    ['RECEIVED', 'relay'],
    ['Received-SPF', 'receiver'],
    ['Authentication-Results', 'receiver'],
    ['Resent-From', 'RFC 5322 3.6.6'],
    ['Resent-Message-ID', 'RFC 5322 3.6.6'],
    ['resent-date', 'RFC 5322 3.6.6'],
    ['ARC-Seal', 'RFC 8617'],
    ['ARC-Message-Signature', 'RFC 8617'],
    ['ARC-Authentication-Results', 'RFC 8617'],
    ['X-Mailpush-Job-Id', 'reserved'],
    ['x-mailpush-message-id', 'reserved'],
  ])('refuses the trace or signature header %s, naming it', (name, why) => {
    const err = expectCode(() => normalize({ headers: { 'X-Ok': 'fine', [name]: 'forged' } }), MailErrorCode.INVALID_HEADER, why);
    expect(err.message).toContain(`The header ${JSON.stringify(name)} cannot be set through \`headers\``);
  });

  it('still accepts headers that only look like trace headers', () => {
    const names = ['X-Original-Received', 'Resentment', 'X-Resent-Note', 'Arcade', 'X-ARC-Note', 'X-Mailpush', 'X-DKIM-Note', 'Proto'];
    const m = normalize({ headers: Object.fromEntries(names.map((n) => [n, 'v'])) });
    expect(m.headers.map(([n]) => n)).toEqual(names);
  });

  it.each(['__proto__', 'constructor', 'prototype', 'Constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'])(
    'refuses the object key %s as a header name (from JSON.parse) instead of dropping it',
    (name) => {
      const input = JSON.parse(`{"from":"shop@example.com","to":"ann@example.org","text":"Hi","headers":{"X-A":"1",${JSON.stringify(name)}:"X"}}`) as MessageInput;
      expect(Object.keys(input.headers as object)).toContain(name);
      const err = expectCode(() => normalizeMessage(input, OPTIONS), MailErrorCode.INVALID_HEADER, 'JavaScript object property');
      expect(err.message).toContain(JSON.stringify(name));
    },
  );

  it.each([
    ['an empty name', ''],
    ['a space', 'X Note'],
    ['a colon', 'X:Note'],
    ['non-ASCII', 'X-Nöte'],
    ['DEL', 'X-\u007f'],
  ])('refuses a header name with %s', (_, name) => {
    expectCode(() => normalize({ headers: { [name]: 'x' } }), MailErrorCode.INVALID_HEADER);
  });

  it('refuses headers RFC 5322 allows once when given twice', () => {
    expectCode(() => normalize({ headers: { 'In-Reply-To': ['<a@x>', '<b@x>'] } }), MailErrorCode.INVALID_HEADER, 'only once');
    expectCode(() => normalize({ headers: { References: '<a@x>', references: '<b@x>' } }), MailErrorCode.INVALID_HEADER, 'only once');
    expectCode(() => normalize({ headers: { 'List-Unsubscribe-Post': ['List-Unsubscribe=One-Click', 'x'] } }), MailErrorCode.INVALID_HEADER, 'only once');
  });

  it('limits the number and length of headers', () => {
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`X-H${i}`, 'v']));
    expectCode(() => normalize({ headers: many }), MailErrorCode.INVALID_HEADER, 'more than 100');
    expectCode(() => normalize({ headers: { 'X-Many': Array.from({ length: 101 }, () => 'v') } }), MailErrorCode.INVALID_HEADER, 'more than 100');
    expect(normalize({ headers: { 'X-Long': 'v'.repeat(998) } }).headers).toHaveLength(1);
    expectCode(() => normalize({ headers: { 'X-Long': 'v'.repeat(999) } }), MailErrorCode.INVALID_HEADER, '999');
    expectCode(() => normalize({ headers: { [`X-${'n'.repeat(997)}`]: 'v' } }), MailErrorCode.INVALID_HEADER, 'longer than');
    expectCode(() => normalize({ subject: 's'.repeat(2049) }), MailErrorCode.INVALID_HEADER, '2048');
    expectCode(() => normalize({ subject: 's'.repeat(10_000_000) }), MailErrorCode.INVALID_HEADER, 'subject');
  });

  it('refuses header values that are not strings and headers that are not a plain object', () => {
    expectCode(() => normalize({ headers: { 'X-Count': 1 } }), MailErrorCode.INVALID_HEADER, 'string');
    expectCode(() => normalize({ headers: { 'X-Count': [null] } }), MailErrorCode.INVALID_HEADER, 'string');
    expectCode(() => normalize({ headers: new Map([['X-A', 'b']]) }), MailErrorCode.VALIDATION, 'plain object');
    expectCode(() => normalize({ headers: [['X-A', 'b']] }), MailErrorCode.VALIDATION, 'plain object');
  });
});

describe('normalizeMessage: content and size', () => {
  it('refuses an empty message', () => {
    expectCode(() => normalize({ text: undefined }), MailErrorCode.VALIDATION, 'empty');
    expectCode(() => normalize({ text: '', html: '' }), MailErrorCode.VALIDATION, 'empty');
    expectCode(() => normalize({ attachments: [], text: undefined }), MailErrorCode.VALIDATION, 'empty');
  });

  it('refuses bodies and a subject that are not strings', () => {
    expectCode(() => normalize({ text: 42 }), MailErrorCode.VALIDATION, '`text`');
    expectCode(() => normalize({ html: Buffer.from('<p>') }), MailErrorCode.VALIDATION, '`html`');
    expectCode(() => normalize({ subject: ['a'] }), MailErrorCode.VALIDATION, '`subject`');
  });

  it('estimates the size from UTF-8 byte lengths', () => {
    const ascii = normalize({ text: 'e'.repeat(1000) }).sizeBytes;
    const utf8 = normalize({ text: 'é'.repeat(1000) }).sizeBytes;
    expect(utf8 - ascii).toBe(1000);
    const withHtml = normalize({ text: 'e'.repeat(1000), html: 'h'.repeat(500) }).sizeBytes;
    expect(withHtml - ascii).toBe(500);
  });

  it('counts attachments at their base64 size', () => {
    const without = normalize().sizeBytes;
    const withBytes = normalize({ attachments: [{ content: new Uint8Array(3000) }] }).sizeBytes;
    // 3000 bytes -> 4000 base64 characters plus line breaks, plus part headers.
    expect(withBytes - without).toBeGreaterThanOrEqual(4000);
    expect(withBytes - without).toBeLessThan(4000 + 500);
  });

  it('refuses a message over maxBytes with the size and the limit in the message', () => {
    const lim = limits({ maxBytes: 10_000 });
    const err = expectCode(() => normalize({ attachments: [{ content: new Uint8Array(8000) }] }, { limits: lim }), MailErrorCode.TOO_LARGE);
    expect(err.message).toMatch(/about \d{5} bytes/);
    expect(err.message).toContain('10000');
    expectCode(() => normalize({ text: 'x'.repeat(10_001) }, { limits: lim }), MailErrorCode.TOO_LARGE, '10000');
    expectCode(() => normalize({ text: 'é'.repeat(5_000) }, { limits: lim }), MailErrorCode.TOO_LARGE, '10000');
  });

  it('refuses a 30 MB body with the default limit without trouble', () => {
    expectCode(() => normalize({ html: 'x'.repeat(30 * 1024 * 1024) }), MailErrorCode.TOO_LARGE, '26214400');
  });
});

describe('normalizeMessage: attachments', () => {
  it('copies attachments into frozen objects and keeps the bytes by reference', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const input = { filename: 'a.bin', content: bytes, contentType: 'application/octet-stream', disposition: 'attachment', extra: 'dropped' };
    const m = normalize({ attachments: [input] });
    const [a] = m.attachments;
    expect(a).toEqual({ filename: 'a.bin', content: bytes, contentType: 'application/octet-stream', disposition: 'attachment' });
    expect(a).not.toBe(input);
    expect(Object.isFrozen(a)).toBe(true);
    expect(a?.content).toBe(bytes);
  });

  it('accepts Buffers, strings in every encoding and inline images', () => {
    const m = normalize({
      attachments: [
        { filename: 'a.txt', content: Buffer.from('hello') },
        { filename: 'b.txt', content: 'aGVsbG8=', encoding: 'base64' },
        { filename: 'c.txt', content: '68656c6c6f', encoding: 'hex' },
        { filename: 'd.txt', content: 'hello', encoding: 'utf8' },
        { filename: 'logo.png', content: new Uint8Array(4), cid: 'logo@example.com', disposition: 'inline' },
      ],
    });
    expect(m.attachments.map((a) => a.encoding)).toEqual([undefined, 'base64', 'hex', 'utf8', undefined]);
    expect(m.attachments[4]?.cid).toBe('logo@example.com');
  });

  it.each<[string, unknown, RegExp]>([
    ['a path', { path: '/etc/passwd' }, /never reads files or fetches URLs/],
    ['a path next to content', { path: '/etc/passwd', content: 'x' }, /never reads files/],
    ['an href', { href: 'http://169.254.169.254/latest/meta-data/' }, /never reads files or fetches URLs/],
    ['a raw part', { raw: 'Content-Type: text/plain\r\n\r\nx' }, /not supported/],
    ['a stream', { content: { pipe() {}, on() {} } }, /stream/],
    ['an ArrayBuffer', { content: new ArrayBuffer(4) }, /string or Uint8Array/],
    ['a number', { content: 42 }, /string or Uint8Array/],
    ['no content', { filename: 'a.txt' }, /content is required/],
    ['invalid base64', { content: 'not base64!', encoding: 'base64' }, /not valid base64/],
    ['odd hex', { content: 'abc', encoding: 'hex' }, /not valid hex/],
    ['non-hex', { content: 'zz', encoding: 'hex' }, /not valid hex/],
    ['an unknown encoding', { content: 'x', encoding: 'latin1' }, /encoding/],
    ['an unknown disposition', { content: 'x', disposition: 'attached' }, /disposition/],
    ['a content type without a slash', { content: 'x', contentType: 'pdf' }, /MIME type/],
    ['a filename that is not a string', { content: 'x', filename: 42 }, /filename/],
    ['an attachment that is a string', 'file.txt', /to be an object/],
    ['an attachment that is a Buffer', Buffer.from('x'), /to be an object/],
  ])('refuses an attachment with %s', (_, attachment, reason) => {
    const err = catchMailError(() => normalize({ attachments: [attachment] }));
    expect([MailErrorCode.VALIDATION, MailErrorCode.INVALID_HEADER]).toContain(err.code);
    expect(err.message).toContain('attachments[0]');
    expect(err.message).toMatch(reason);
  });

  it('refuses a cid with spaces or angle brackets and an over-long filename', () => {
    expectCode(() => normalize({ attachments: [{ content: 'x', cid: 'a b' }] }), MailErrorCode.INVALID_HEADER, 'cid');
    expectCode(() => normalize({ attachments: [{ content: 'x', cid: '<a@b>' }] }), MailErrorCode.INVALID_HEADER, 'cid');
    expectCode(() => normalize({ attachments: [{ content: 'x', filename: 'f'.repeat(256) }] }), MailErrorCode.INVALID_HEADER, 'filename');
  });

  it('refuses attachments that are not an array and too many attachments', () => {
    expectCode(() => normalize({ attachments: { content: 'x' } }), MailErrorCode.VALIDATION, 'array');
    expectCode(() => normalize({ attachments: Array.from({ length: 3 }, () => ({ content: 'x' })) }, { limits: limits({ maxAttachments: 2 }) }), MailErrorCode.TOO_LARGE, 'attachments');
  });
});

describe('normalizeMessage: tags and metadata', () => {
  it('copies tags and metadata into frozen objects', () => {
    const tags = { campaign: 'spring', kind: 'news' };
    const nested = { plan: 'pro' };
    const metadata = { userId: 42, user: nested, list: [1, 'a', null, true, { x: 1.5 }], nothing: null };
    const m = normalize({ tags, metadata });
    expect(m.tags).toEqual(tags);
    expect(m.tags).not.toBe(tags);
    expect(m.metadata).toEqual(metadata);
    expect(m.metadata).not.toBe(metadata);
    expect(Object.isFrozen(m.tags)).toBe(true);
    expect(Object.isFrozen(m.metadata)).toBe(true);
    // Nested metadata values are validated but not copied (documented).
    expect(m.metadata.user).toBe(nested);
    tags.campaign = 'changed';
    (metadata as Record<string, unknown>).added = true;
    expect(m.tags.campaign).toBe('spring');
    expect('added' in m.metadata).toBe(false);
  });

  it('keeps a __proto__ key as an own property without touching the prototype', () => {
    const tags = JSON.parse('{"__proto__": "x", "a": "b"}') as Record<string, string>;
    const metadata = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    const m = normalize({ tags, metadata });
    expect(Object.getOwnPropertyNames(m.tags)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(m.tags)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(m.metadata)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each<[string, unknown]>([
    ['a number value', { a: 1 }],
    ['an empty name', { '': 'x' }],
    ['a name over 256 characters', { ['n'.repeat(257)]: 'x' }],
    ['a value over 256 characters', { a: 'v'.repeat(257) }],
    ['an array', ['a']],
    ['a Map', new Map([['a', 'b']])],
  ])('refuses tags with %s', (_, tags) => {
    expectCode(() => normalize({ tags }), MailErrorCode.VALIDATION, 'ag');
  });

  it('refuses more than maxTags tags', () => {
    const tags = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, 'v']));
    expectCode(() => normalize({ tags }), MailErrorCode.VALIDATION, 'Too many tags');
  });

  class Point {
    x = 1;
  }
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const cyclicArray: unknown[] = [1];
  cyclicArray.push({ back: cyclicArray });
  let deep: Record<string, unknown> = {};
  const deepRoot = deep;
  for (let i = 0; i < 100; i++) {
    const next = {};
    deep.next = next;
    deep = next;
  }

  it.each<[string, unknown, RegExp]>([
    ['a function', { fn: () => 1 }, /metadata\.fn.*a function/],
    ['a BigInt', { n: 10n }, /metadata\.n.*BigInt/],
    ['a symbol', { s: Symbol('x') }, /metadata\.s.*symbol/],
    ['NaN', { n: Number.NaN }, /metadata\.n.*NaN/],
    ['Infinity', { list: [1, Number.POSITIVE_INFINITY] }, /metadata\.list\[1\].*Infinity/],
    ['a Date', { when: new Date() }, /metadata\.when.*Date/],
    ['a Map', { m: new Map() }, /Map/],
    ['a class instance', { p: new Point() }, /not a plain object/],
    ['a Buffer', { b: Buffer.from('x') }, /binary data/],
    ['undefined in an array', { list: [1, undefined] }, /metadata\.list\[1\].*undefined/],
    ['a cycle', { root: cyclic }, /circular/],
    ['a cycle through an array', { root: cyclicArray }, /circular/],
    ['very deep nesting', { root: deepRoot }, /nested deeper/],
    ['an odd key path', { 'a b': [{ c: () => 1 }] }, /metadata\["a b"\]\[0\]\.c/],
  ])('refuses metadata with %s', (_, metadata, reason) => {
    expectCode(() => normalize({ metadata }), MailErrorCode.VALIDATION, reason);
  });

  it('accepts shared (non-circular) references and undefined properties in metadata', () => {
    const shared = { a: 1 };
    const m = normalize({ metadata: { x: shared, y: [shared, shared], z: undefined } });
    expect(m.metadata.x).toBe(shared);
  });

  it('refuses metadata that is not a plain object or is too large', () => {
    expectCode(() => normalize({ metadata: [1] }), MailErrorCode.VALIDATION, 'plain object');
    expectCode(() => normalize({ metadata: 'x' }), MailErrorCode.VALIDATION, 'plain object');
    expectCode(() => normalize({ metadata: { big: 'x'.repeat(70_000) } }), MailErrorCode.TOO_LARGE, '65536');
    // A huge array stops at the budget instead of walking every element.
    expectCode(() => normalize({ metadata: { list: new Array(10_000_000).fill(0) } }), MailErrorCode.TOO_LARGE, 'metadata');
  });
});

describe('normalizeMessage: other fields and hostile input', () => {
  it('refuses an unknown category and a bad date', () => {
    expectCode(() => normalize({ category: 'bulk' }), MailErrorCode.VALIDATION, 'category');
    expectCode(() => normalize({ date: new Date(Number.NaN) }), MailErrorCode.VALIDATION, 'valid Date');
    expectCode(() => normalize({ date: '2024-01-01' }), MailErrorCode.VALIDATION, 'date');
    expectCode(() => normalize({ date: Date.now() }), MailErrorCode.VALIDATION, 'date');
    expectCode(() => normalize({ date: new Date(Date.UTC(10000, 0, 1)) }), MailErrorCode.VALIDATION, 'date');
  });

  it.each([
    ['raw', 'Subject: x\r\n\r\nbody', /raw MIME/],
    ['envelope', { from: 'a@b.c', to: ['evil@example.net'] }, /envelope/],
    ['inReplyTo', '<a@b>', /In-Reply-To/],
    ['priority', 'high', /mailer.send/],
    ['sendAt', new Date(), /mailer.send/],
  ])('refuses the nodemailer-style field %s with a hint', (key, value, hint) => {
    expectCode(() => normalize({ [key]: value }), MailErrorCode.VALIDATION, hint);
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['a string', 'a@example.com'],
    ['an array', [base()]],
    ['a function', () => base()],
  ])('refuses %s as message with VALIDATION', (_, input) => {
    expectCode(() => normalizeMessage(input as MessageInput, OPTIONS), MailErrorCode.VALIDATION, 'object');
  });

  it('turns throwing getters anywhere into VALIDATION with the cause kept', () => {
    const boom = new Error('boom');
    const throwing = {
      get x(): never {
        throw boom;
      },
    };
    const getterOn = (key: string): MessageInput => Object.defineProperty({ ...base() }, key, { get: () => throwing.x, enumerable: true }) as MessageInput;
    for (const key of ['from', 'to', 'subject', 'headers', 'attachments', 'tags', 'metadata', 'date', 'raw']) {
      const err = expectCode(() => normalizeMessage(getterOn(key), OPTIONS), MailErrorCode.VALIDATION, 'boom');
      expect(err.cause).toBe(boom);
    }
    const err = expectCode(() => normalize({ headers: { get 'X-A'(): string { throw boom; } } }), MailErrorCode.VALIDATION, 'boom');
    expect(err.cause).toBe(boom);
    expectCode(() => normalize({ metadata: { a: { get b(): string { throw boom; } } } }), MailErrorCode.VALIDATION, 'boom');
    expectCode(() => normalize({ attachments: [{ get content(): string { throw boom; } }] }), MailErrorCode.VALIDATION, 'boom');
  });

  it('survives errors that cannot even be printed', () => {
    const evil = {
      get message(): string {
        throw new Error('nested');
      },
    };
    const input = Object.defineProperty({ ...base() }, 'to', {
      get() {
        throw evil;
      },
    }) as MessageInput;
    expectCode(() => normalizeMessage(input, OPTIONS), MailErrorCode.VALIDATION);
    const sym = Object.defineProperty({ ...base() }, 'to', {
      get() {
        throw Symbol('weird');
      },
    }) as MessageInput;
    expectCode(() => normalizeMessage(sym, OPTIONS), MailErrorCode.VALIDATION);
  });

  it('wraps a proxy that throws on every access', () => {
    const proxy = new Proxy(
      {},
      {
        get() {
          throw new TypeError('trap');
        },
        ownKeys() {
          throw new TypeError('trap');
        },
      },
    );
    expectCode(() => normalizeMessage(proxy as MessageInput, OPTIONS), MailErrorCode.VALIDATION, 'trap');
    expectCode(() => normalize({ to: new Proxy(['a@example.com'], { get: () => { throw new TypeError('trap'); } }) }), MailErrorCode.VALIDATION, 'trap');
  });

  it('reads each field once, so a getter cannot swap a value after it was checked', () => {
    let reads = 0;
    const input = Object.defineProperty({ ...base() }, 'subject', {
      get() {
        reads++;
        return reads === 1 ? 'Clean' : 'x\r\nBcc: evil@example.net';
      },
      enumerable: true,
    }) as MessageInput;
    expect(normalizeMessage(input, OPTIONS).subject).toBe('Clean');
    expect(reads).toBe(1);
  });
});

describe('normalizeMessage: immutability', () => {
  it('freezes the result and its arrays and keeps no reference to input arrays', () => {
    const to = ['a@example.com'];
    const headerValues = ['1', '2'];
    const attachments = [{ content: 'x' }];
    const m = normalize({ to, cc: ['c@example.com'], replyTo: 'r@example.com', headers: { 'X-A': headerValues }, attachments });
    for (const value of [m, m.from, m.to, m.to[0], m.cc, m.bcc, m.replyTo, m.headers, m.headers[0], m.attachments, m.attachments[0], m.tags, m.metadata]) {
      expect(Object.isFrozen(value)).toBe(true);
    }
    expect(m.to).not.toBe(to);
    expect(m.attachments).not.toBe(attachments);
    to.push('b@example.com');
    headerValues.push('3');
    attachments.push({ content: 'y' });
    expect(m.to).toHaveLength(1);
    expect(m.headers).toHaveLength(2);
    expect(m.attachments).toHaveLength(1);
    expect(() => {
      (m.to as unknown[]).push('x');
    }).toThrow(TypeError);
  });
});

describe('recipientsByDomain', () => {
  it('groups to, cc and bcc by domain, each address once, in order', () => {
    const m = normalize({
      to: ['a@example.com', 'b@Bücher.de', 'c@example.com'],
      cc: ['a@EXAMPLE.com', 'd@xn--bcher-kva.de'],
      bcc: ['e@other.org', 'c@example.com'],
    });
    expect([...recipientsByDomain(m)]).toEqual([
      ['example.com', ['a@example.com', 'c@example.com']],
      ['xn--bcher-kva.de', ['b@xn--bcher-kva.de', 'd@xn--bcher-kva.de']],
      ['other.org', ['e@other.org']],
    ]);
  });

  it('returns a new map the caller may change', () => {
    const m = normalize();
    const a = recipientsByDomain(m);
    a.get('example.org')?.push('x@example.org');
    expect(recipientsByDomain(m).get('example.org')).toEqual(['ann@example.org']);
  });
});

describe('validateMessageLimits', () => {
  it('returns the defaults for undefined and merges partial limits', () => {
    expect(validateMessageLimits(undefined, 'limits')).toBe(DEFAULT_MESSAGE_LIMITS);
    const merged = validateMessageLimits({ maxBytes: 1000 }, 'limits');
    expect(merged).toEqual({ ...DEFAULT_MESSAGE_LIMITS, maxBytes: 1000 });
    expect(Object.isFrozen(merged)).toBe(true);
    expect(DEFAULT_MESSAGE_LIMITS).toMatchObject({ maxBytes: 26_214_400, maxRecipients: 1000, maxHeaderLineLength: 998, maxHeaders: 100 });
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10', null])('refuses %s as a limit value', (value) => {
    const err = expectCode(() => validateMessageLimits({ maxRecipients: value as number }, 'limits.message'), MailErrorCode.CONFIG);
    expect(err.option).toBe('limits.message.maxRecipients');
    expect(err.message).toMatch(/^Expected `limits\.message\.maxRecipients` to be a positive integer, got /);
  });

  it('turns a throwing getter into CONFIG', () => {
    const lim = Object.defineProperty({}, 'maxBytes', {
      get() {
        throw new Error('nope');
      },
      enumerable: true,
    }) as MessageLimits;
    expectCode(() => validateMessageLimits(lim, 'limits'), MailErrorCode.CONFIG, 'nope');
  });

  it('refuses unknown keys and non-objects', () => {
    const err = expectCode(() => validateMessageLimits({ maxByte: 10 } as MessageLimits, 'limits'), MailErrorCode.CONFIG, 'Unknown limit `limits.maxByte`');
    expect(err.option).toBe('limits.maxByte');
    expectCode(() => validateMessageLimits(5 as MessageLimits, 'limits'), MailErrorCode.CONFIG, 'an object');
    expectCode(() => validateMessageLimits([] as MessageLimits, 'limits'), MailErrorCode.CONFIG, 'an object');
  });
});

// ---------------------------------------------------------------------------------------
// Fuzzing: random garbage must only ever produce MailErrors, and whatever passes must be clean.
// ---------------------------------------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'a@example.com',
  'Ann <a@example.com>',
  '"Doe, John" <j@example.com>',
  '\r\n',
  '\n',
  '\u0000',
  '\t',
  '\u0085',
  '\u2028',
  'ü',
  '💩',
  '\ud800',
  '"',
  '<',
  '>',
  ',',
  ';',
  '@',
  '.',
  ' ',
  '\\',
  '[',
  ']',
  'xn--',
  'bücher.de',
  'Bcc: evil@example.net',
  '__proto__',
  'constructor',
  'x'.repeat(300),
];

function fuzzString(r: () => number): string {
  let s = '';
  const n = Math.floor(r() * 6);
  for (let i = 0; i < n; i++) {
    s += r() < 0.7 ? PIECES[Math.floor(r() * PIECES.length)] : String.fromCharCode(Math.floor(r() * 0x10000));
  }
  return s;
}

function fuzzValue(r: () => number, depth = 0): unknown {
  const kind = Math.floor(r() * 24);
  switch (kind) {
    case 0:
      return undefined;
    case 1:
      return null;
    case 2:
      return r() < 0.5;
    case 3:
      return [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1e308, -0][Math.floor(r() * 6)];
    case 4:
      return 10n;
    case 5:
      return Symbol('s');
    case 6:
      return () => 1;
    case 7:
      return new Date(r() < 0.5 ? Number.NaN : r() * 4e12);
    case 8:
      return new Uint8Array(Math.floor(r() * 8));
    case 9:
      return new Map([['a', 'b']]);
    case 10:
      return Object.defineProperty({}, 'address', {
        get() {
          throw new Error('getter');
        },
        enumerable: true,
      });
    case 11:
      return new Proxy({}, { get: () => { throw new Error('proxy'); }, ownKeys: () => { throw new Error('proxy'); } });
    case 12: {
      const o: Record<string, unknown> = { a: 1 };
      o.self = o;
      return o;
    }
    case 13:
      return { pipe() {}, on() {} };
    case 14:
      return Object.create(null) as object;
    case 15:
    case 16:
      if (depth > 3) return fuzzString(r);
      return Array.from({ length: Math.floor(r() * 4) }, () => fuzzValue(r, depth + 1));
    case 17:
    case 18: {
      if (depth > 3) return fuzzString(r);
      const o: Record<string, unknown> = {};
      const n = Math.floor(r() * 4);
      for (let i = 0; i < n; i++) o[r() < 0.3 ? ['address', 'name', 'content', 'filename', 'path'][Math.floor(r() * 5)]! : fuzzString(r)] = fuzzValue(r, depth + 1);
      return o;
    }
    default:
      return fuzzString(r);
  }
}

const FIELDS = ['from', 'to', 'cc', 'bcc', 'replyTo', 'subject', 'text', 'html', 'headers', 'attachments', 'tags', 'metadata', 'category', 'returnPath', 'messageId', 'date', 'raw', 'envelope'];

function fuzzMessage(r: () => number): unknown {
  if (r() < 0.05) return fuzzValue(r);
  const m: Record<string, unknown> = {
    from: 'Shop <shop@example.com>',
    to: ['ann@example.org'],
    subject: 'Hi',
    text: 'Hello',
    headers: { 'X-A': 'b' },
    attachments: [{ filename: 'a.txt', content: 'x' }],
    tags: { t: 'v' },
    metadata: { k: [1] },
  };
  for (const field of FIELDS) {
    const roll = r();
    if (roll < 0.04) m[field] = fuzzValue(r);
    else if (roll < 0.07) m[field] = fuzzString(r);
  }
  if (r() < 0.1) m.headers = { [fuzzString(r)]: r() < 0.5 ? fuzzString(r) : [fuzzString(r), fuzzValue(r)] };
  if (r() < 0.1) m.attachments = [{ filename: fuzzValue(r), content: r() < 0.5 ? fuzzString(r) : fuzzValue(r), cid: fuzzValue(r), contentType: fuzzValue(r) }];
  if (r() < 0.1) m.to = [fuzzString(r), { address: fuzzString(r), name: fuzzString(r) }];
  return m;
}

const ALLOWED_CODES: readonly string[] = [MailErrorCode.VALIDATION, MailErrorCode.INVALID_ADDRESS, MailErrorCode.INVALID_HEADER, MailErrorCode.TOO_LARGE];
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

function checkClean(m: NormalizedMessage): void {
  expect(Object.isFrozen(m)).toBe(true);
  for (const list of [m.to, m.cc, m.bcc, m.replyTo, m.headers, m.attachments]) expect(Object.isFrozen(list)).toBe(true);
  expect(m.subject).not.toMatch(CONTROL);
  for (const [name, value] of m.headers) {
    expect(name).toMatch(/^[\x21-\x39\x3b-\x7e]+$/);
    expect(value).not.toMatch(CONTROL);
  }
  for (const a of [m.from, ...m.to, ...m.cc, ...m.bcc, ...m.replyTo]) {
    expect(a.address).toMatch(/^[\x20-\x7e]+@[a-z0-9.-]+$/);
    if (a.name !== undefined) expect(a.name).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  }
  for (const a of m.attachments) {
    if (a.filename !== undefined) expect(a.filename).not.toMatch(CONTROL);
  }
  expect(m.messageId).toMatch(/^<[\x21-\x7e]+@[\x21-\x7e]+>$/);
}

describe('normalizeMessage: fuzzing', () => {
  it.each([1, 2, 3, 4])('throws only MailErrors with message codes on random garbage (seed %i)', (seed) => {
    const r = mulberry32(seed);
    let passed = 0;
    let failed = 0;
    for (let i = 0; i < 1500; i++) {
      const input = fuzzMessage(r);
      const options: NormalizeOptions = r() < 0.2 ? { now: NOW, limits: limits({ maxBytes: 600, maxHeaders: 1, maxTagLength: 3 }) } : OPTIONS;
      let result: NormalizedMessage;
      try {
        result = normalizeMessage(input as MessageInput, options);
      } catch (err) {
        failed++;
        if (!isMailError(err) || !ALLOWED_CODES.includes(err.code)) {
          throw new Error(`seed ${seed}, iteration ${i}: unexpected ${isMailError(err) ? err.code : String(err)}`, { cause: err });
        }
        continue;
      }
      passed++;
      checkClean(result);
    }
    // The generator must produce both outcomes, or this test proves nothing.
    expect(passed).toBeGreaterThan(50);
    expect(failed).toBeGreaterThan(200);
  });
});
