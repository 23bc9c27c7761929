import { createHash, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { dkimVerify } from 'mailauth';
import type { DKIMResult } from 'mailauth';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { relaxedBodyHash, relaxedHeader, splitMessage } from '../../src/auth/canonicalize.js';
import { DKIM_OVERSIGNED_HEADERS, DKIM_SIGNED_HEADERS, createDkimSigner, dkimDnsRecord } from '../../src/auth/dkim.js';
import type { DkimAlgorithm, DkimKey, DkimOptions, DkimSigner, MessageSigner } from '../../src/auth/dkim.js';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import type { MailError } from '../../src/errors.js';
import { allRecipients, composeMessage, normalizeMessage } from '../../src/message/index.js';
import { prepareMessage } from '../../src/message/prepared.js';
import { startSmtpSink } from '../../src/testing/smtp-sink.js';
import memoryTransport from '../../src/transports/memory.js';
import smtpTransport from '../../src/transports/smtp.js';
import type { MessageInput, NormalizedMessage } from '../../src/types.js';

const NOW = 1_700_000_000_123;
const clock = { now: () => NOW };

let rsa2048: KeyObject;
let rsa1024: KeyObject;
let rsaOther: KeyObject;
let ed: KeyObject;
let edOther: KeyObject;

beforeAll(() => {
  rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  rsaOther = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  ed = generateKeyPairSync('ed25519').privateKey;
  edOther = generateKeyPairSync('ed25519').privateKey;
});

const pem = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }) as string;

/** TXT answers for `<selector>._domainkey.<domain>`, in memory; anything else is NXDOMAIN. */
function resolverFor(records: Readonly<Record<string, string>>) {
  return async (name: string, type: string): Promise<string[][]> => {
    const record = records[name.toLowerCase()];
    if (type !== 'TXT' || record === undefined) throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    // Published as 255-octet character-strings, as a DNS server hands a long RSA record out.
    return [record.match(/.{1,255}/g) ?? []];
  };
}

function zoneOf(signer: DkimSigner): Record<string, string> {
  return Object.fromEntries(signer.keys.map((k) => [`${k.selector}._domainkey.${k.domain}`.toLowerCase(), k.dnsRecord]));
}

async function verify(raw: Buffer | string, records: Readonly<Record<string, string>>): Promise<DKIMResult[]> {
  const result = await dkimVerify(typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw, { resolver: resolverFor(records), curTime: new Date(NOW) });
  return result.results;
}

function statuses(results: readonly DKIMResult[]): string[] {
  return results.map((r) => r.status.result);
}

function message(overrides: Partial<MessageInput> = {}): NormalizedMessage {
  return normalizeMessage(
    {
      from: 'Shop <orders@example.com>',
      to: 'Ann <ann@example.org>',
      subject: 'Your order has shipped',
      text: 'Hello Ann,\nyour order has shipped.\n',
      html: '<p>Hello Ann, your order has <b>shipped</b>.</p>',
      messageId: 'order-1@example.com',
      date: new Date('2024-05-06T07:08:09Z'),
      ...overrides,
    },
    { now: NOW },
  );
}

const MARKETING_HEADERS = {
  'List-Unsubscribe': '<https://u.example.com/u/Opaque123>, <mailto:unsub@example.com?subject=unsubscribe>',
  'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  'Feedback-ID': 'spring:newsletter:example:SenderId42',
};

function signer(options: DkimOptions): DkimSigner {
  return createDkimSigner(options, clock);
}

async function signed(s: DkimSigner, m: NormalizedMessage = message()): Promise<string> {
  const ms = s.signerFor(m);
  expect(ms).toBeDefined();
  return (await ms!.sign(await composeMessage(m))).toString('latin1');
}

/** The DKIM-Signature fields of a signed message, unfolded, tag -> value. */
function signatureTags(raw: string): Record<string, string>[] {
  const { headers } = splitMessage(Buffer.from(raw, 'latin1'));
  return headers
    .filter((h) => h.key === 'dkim-signature')
    .map((h) => {
      const value = h.line.slice(h.line.indexOf(':') + 1).replace(/\r\n/g, '');
      return Object.fromEntries(
        value
          .split(';')
          .map((t) => t.trim())
          .filter((t) => t !== '')
          .map((t) => [t.slice(0, t.indexOf('=')).trim(), t.slice(t.indexOf('=') + 1).replace(/\s+/g, '')]),
      );
    });
}

function configFailure(fn: () => unknown): MailError {
  try {
    fn();
  } catch (err) {
    expect(isMailError(err), String(err)).toBe(true);
    expect((err as MailError).code).toBe(MailErrorCode.CONFIG);
    return err as MailError;
  }
  throw new Error('expected a CONFIG error');
}

const rsaKey = (over: Partial<DkimKey> = {}): DkimKey => ({ domain: 'example.com', selector: 'rsa1', privateKey: rsa2048, ...over });
const edKey = (over: Partial<DkimKey> = {}): DkimKey => ({ domain: 'example.com', selector: 'ed1', privateKey: ed, ...over });

describe('signatures verify with mailauth', () => {
  it('signs with RSA 2048: a=rsa-sha256, c=relaxed/relaxed, t= from the clock, no l=', async () => {
    const s = signer({ keys: [rsaKey()] });
    const raw = await signed(s);
    expect(statuses(await verify(raw, zoneOf(s)))).toEqual(['pass']);
    const [tags] = signatureTags(raw);
    expect(tags).toMatchObject({ v: '1', a: 'rsa-sha256', c: 'relaxed/relaxed', d: 'example.com', s: 'rsa1', t: String(Math.floor(NOW / 1000)) });
    expect(tags).not.toHaveProperty('l');
    expect(raw).not.toMatch(/[;\s]l=/);
    expect(raw.startsWith('DKIM-Signature: ')).toBe(true);
  });

  it('signs with Ed25519 (RFC 8463): a=ed25519-sha256 over the SHA-256 of the header data', async () => {
    const s = signer({ keys: [edKey()] });
    const raw = await signed(s);
    const results = await verify(raw, zoneOf(s));
    expect(statuses(results)).toEqual(['pass']);
    expect((results[0] as DKIMResult & { algo: string }).algo).toBe('ed25519-sha256');
    // A 64-byte Ed25519 signature.
    expect(Buffer.from(signatureTags(raw)[0]!.b!, 'base64')).toHaveLength(64);
  });

  it('dual-signs with RSA and Ed25519 when a domain has both, and both verify', async () => {
    const s = signer({ keys: [rsaKey(), edKey()] });
    const raw = await signed(s);
    const results = await verify(raw, zoneOf(s));
    expect(results.map((r) => [r.status.result, (r as DKIMResult & { algo: string }).algo, r.selector])).toEqual([
      ['pass', 'rsa-sha256', 'rsa1'],
      ['pass', 'ed25519-sha256', 'ed1'],
    ]);
  });

  it('signs with a 1024-bit RSA key (the RFC 8301 minimum)', async () => {
    const s = signer({ keys: [rsaKey({ privateKey: rsa1024 })] });
    expect(s.keys[0]!.bits).toBe(1024);
    expect(statuses(await verify(await signed(s), zoneOf(s)))).toEqual(['pass']);
  });

  it('fails against the wrong public key in DNS', async () => {
    const s = signer({ keys: [rsaKey(), edKey()] });
    const raw = await signed(s);
    const wrong = {
      'rsa1._domainkey.example.com': dkimDnsRecord(rsaOther),
      'ed1._domainkey.example.com': dkimDnsRecord(edOther),
    };
    expect(statuses(await verify(raw, wrong))).toEqual(['fail', 'fail']);
  });
});

describe('tampering after signing breaks every signature', () => {
  let s: DkimSigner;
  let raw: string;
  beforeAll(async () => {
    s = signer({ keys: [rsaKey(), edKey()] });
    raw = await signed(s, message({ headers: MARKETING_HEADERS, cc: 'cc@example.net', replyTo: 'help@example.com' }));
    expect(statuses(await verify(raw, zoneOf(s)))).toEqual(['pass', 'pass']);
  });

  it('a changed Subject fails', async () => {
    const tampered = raw.replace('Subject: Your order has shipped', 'Subject: Your order has been cancelled');
    expect(tampered).not.toBe(raw);
    expect(statuses(await verify(tampered, zoneOf(s)))).toEqual(['fail', 'fail']);
  });

  it('a changed body fails (body hash)', async () => {
    const at = raw.indexOf('\r\n\r\n');
    const tampered = raw.slice(0, at) + raw.slice(at).replace('<b>shipped</b>', '<b>stolen</b>');
    expect(tampered).not.toBe(raw);
    const results = await verify(tampered, zoneOf(s));
    expect(statuses(results)).not.toContain('pass');
    expect(results[0]!.status.comment).toMatch(/body hash/);
  });

  it('text appended to the body fails (no l= tag)', async () => {
    const tampered = `${raw}\r\nClick here: https://evil.example/\r\n`;
    expect(statuses(await verify(tampered, zoneOf(s)))).not.toContain('pass');
  });

  it('a removed List-Unsubscribe-Post fails', async () => {
    const tampered = raw.replace('List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n', '');
    expect(tampered).not.toBe(raw);
    expect(statuses(await verify(tampered, zoneOf(s)))).toEqual(['fail', 'fail']);
  });

  it.each([
    ['From', 'From: Bank <security@bank.example>\r\n'],
    ['Subject', 'Subject: Urgent: verify your account\r\n'],
    ['To', 'To: victim@example.org\r\n'],
    ['Reply-To', 'Reply-To: attacker@evil.example\r\n'],
    ['List-Unsubscribe', 'List-Unsubscribe: <https://evil.example/u>\r\n'],
    ['Feedback-ID', 'Feedback-ID: a:b:c:Other\r\n'],
  ])('a %s prepended after signing fails (oversigning)', async (_name, extra) => {
    // Put above the signatures' own fields too: a verifier takes instances from the bottom.
    const tampered = extra + raw;
    expect(statuses(await verify(tampered, zoneOf(s)))).toEqual(['fail', 'fail']);
  });

  it.each([
    ['Cc', 'Cc: more@evil.example\r\n'],
    ['List-Id', 'List-Id: <other.evil.example>\r\n'],
  ])('a %s added where there was none fails (absent fields are signed as empty)', async (name, extra) => {
    const at = raw.indexOf(`\r\n${name === 'Cc' ? 'Reply-To' : 'Subject'}:`);
    const tampered = raw.slice(0, at + 2) + extra + raw.slice(at + 2);
    expect(statuses(await verify(tampered, zoneOf(s)))).toEqual(['fail', 'fail']);
  });

  it('an unsigned header added by a relay (Received) keeps both signatures valid', async () => {
    const relayed = `Received: from mx.example.org by mx2.example.org; Mon, 6 May 2024 07:08:10 +0000\r\nX-Spam-Score: 0.1\r\n${raw}`;
    expect(statuses(await verify(relayed, zoneOf(s)))).toEqual(['pass', 'pass']);
  });

  it('whitespace changes in headers and body survive relaxed canonicalization', async () => {
    const at = raw.indexOf('\r\n\r\n');
    const head = raw.slice(0, at).replace('Subject: Your order has shipped', 'SUBJECT:   Your  order\r\n\thas shipped   ');
    const body = raw.slice(at + 4).replace(/\r\n/g, '  \r\n').replace(/ /g, ' \t') + '\r\n\r\n\r\n';
    expect(head).not.toBe(raw.slice(0, at));
    expect(statuses(await verify(`${head}\r\n\r\n${body}`, zoneOf(s)))).toEqual(['pass', 'pass']);
  });
});

describe('h= (the signed header list)', () => {
  it('is exact for a marketing message with List-Unsubscribe(-Post), Feedback-ID, Cc and Reply-To', async () => {
    const s = signer({ keys: [rsaKey()] });
    const raw = await signed(s, message({ headers: MARKETING_HEADERS, cc: 'cc@example.net', replyTo: 'help@example.com' }));
    expect(signatureTags(raw)[0]!.h).toBe(
      [
        'from:from',
        'reply-to:reply-to',
        'subject:subject',
        'date:date',
        'to:to',
        'cc:cc',
        'list-id',
        'list-help',
        'list-unsubscribe:list-unsubscribe',
        'list-subscribe',
        'list-post',
        'list-owner',
        'list-archive',
        'message-id',
        'mime-version',
        'content-type',
        'list-unsubscribe-post:list-unsubscribe-post',
        'feedback-id:feedback-id',
      ].join(':'),
    );
    expect(statuses(await verify(raw, zoneOf(s)))).toEqual(['pass']);
  });

  it('covers List-Unsubscribe, List-Unsubscribe-Post (RFC 8058) and Feedback-ID with a verified signature', async () => {
    const s = signer({ keys: [edKey()] });
    const raw = await signed(s, message({ headers: MARKETING_HEADERS }));
    const [result] = await verify(raw, zoneOf(s));
    expect(result!.status.result).toBe('pass');
    const keys = (result as DKIMResult & { signingHeaders: { keys: string } }).signingHeaders.keys.toLowerCase().split(/:\s*/);
    expect(keys).toEqual(expect.arrayContaining(['list-unsubscribe', 'list-unsubscribe-post', 'feedback-id']));
  });

  it('never lists Return-Path, Received, Comments, Keywords or Bcc, even when present', async () => {
    const s = signer({ keys: [rsaKey()] });
    const head = [
      'Return-Path: <bounce@example.com>',
      'Received: from a by b; Mon, 6 May 2024 07:08:09 +0000',
      'Comments: a comment',
      'Keywords: one, two',
      'Bcc: hidden@example.org',
      'From: orders@example.com',
      'To: ann@example.org',
      'Subject: hi',
    ].join('\r\n');
    const out = (await s.signerFor(message())!.sign(Buffer.from(`${head}\r\n\r\nbody\r\n`))).toString('latin1');
    const h = signatureTags(out)[0]!.h!.split(':');
    for (const name of ['return-path', 'received', 'comments', 'keywords', 'bcc']) expect(h).not.toContain(name);
    expect(statuses(await verify(out, zoneOf(s)))).toEqual(['pass']);
  });

  it('lists a field as often as it occurs, plus once for oversigned names', async () => {
    const s = signer({ keys: [rsaKey()] });
    const m = message({ headers: { References: '<a@x> <b@y>', 'In-Reply-To': '<b@y>' } });
    const raw = await signed(s, m);
    const h = signatureTags(raw)[0]!.h!;
    expect(h).toContain('in-reply-to:references');
    expect(h).not.toContain('references:references');
    expect(statuses(await verify(raw, zoneOf(s)))).toEqual(['pass']);
  });

  it('skipHeaders leaves Message-ID and Date out of h= for relays that rewrite them', async () => {
    const s = signer({ keys: [rsaKey()], skipHeaders: ['Message-ID', 'date'] });
    const raw = await signed(s);
    const h = signatureTags(raw)[0]!.h!.split(':');
    expect(h).not.toContain('message-id');
    expect(h).not.toContain('date');
    const rewritten = raw.replace(/Message-ID: <[^>]+>/i, 'Message-ID: <0100018f-ses@email.amazonses.com>');
    expect(rewritten).not.toBe(raw);
    expect(statuses(await verify(rewritten, zoneOf(s)))).toEqual(['pass']);
  });

  it('a key with its own header list signs only those (plus oversigning)', async () => {
    const s = signer({ keys: [rsaKey({ headers: ['From', 'Subject', 'X-Campaign'] })] });
    const raw = await signed(s, message({ headers: { 'X-Campaign': 'spring' } }));
    expect(signatureTags(raw)[0]!.h).toBe('from:from:subject:subject:x-campaign');
    expect(statuses(await verify(raw, zoneOf(s)))).toEqual(['pass']);
  });

  it('exports the default lists, From first, none of the never-signed fields', () => {
    expect(DKIM_SIGNED_HEADERS[0]).toBe('From');
    for (const name of ['Return-Path', 'Received', 'Comments', 'Keywords']) expect(DKIM_SIGNED_HEADERS).not.toContain(name);
    for (const name of DKIM_OVERSIGNED_HEADERS) expect(DKIM_SIGNED_HEADERS).toContain(name);
  });
});

describe('keys: selection, rotation, formats', () => {
  it('uses only the active key of a rotation; the inactive one is published but not used', async () => {
    const s = signer({
      keys: [
        rsaKey({ selector: 'old', privateKey: rsaOther, active: false }),
        rsaKey({ selector: 'new', privateKey: rsa2048 }),
      ],
    });
    const raw = await signed(s);
    expect(signatureTags(raw).map((t) => t.s)).toEqual(['new']);
    expect(s.keys.map((k) => [k.selector, k.active])).toEqual([
      ['old', false],
      ['new', true],
    ]);
    expect(statuses(await verify(raw, { 'new._domainkey.example.com': dkimDnsRecord(rsa2048) }))).toEqual(['pass']);
  });

  it('signs a subdomain From with the parent domain keys, and prefers the exact domain', async () => {
    const s = signer({
      keys: [rsaKey(), edKey({ domain: 'news.example.com', selector: 'n1' })],
    });
    expect(s.signerFor({ from: { address: 'a@mail.example.com' } })!.keys.map((k) => k.domain)).toEqual(['example.com']);
    expect(s.signerFor({ from: { address: 'a@deep.mail.example.com' } })!.keys.map((k) => k.domain)).toEqual(['example.com']);
    expect(s.signerFor({ from: { address: 'a@news.example.com' } })!.keys.map((k) => k.selector)).toEqual(['n1']);
    expect(s.signerFor({ from: { address: 'a@example.org' } })).toBeUndefined();
    expect(s.signerFor({ from: { address: 'a@notexample.com' } })).toBeUndefined();
    // A hand-built message with a non-canonical From domain (case, trailing root dot).
    expect(s.signerFor({ from: { address: 'a@News.Example.COM.' } })!.keys.map((k) => k.selector)).toEqual(['n1']);
    expect(s.signerFor({ from: { address: 'a@example.com.' } })!.keys.map((k) => k.domain)).toEqual(['example.com']);
    const m = message({ from: 'a@mail.example.com' });
    const raw = await signed(s, m);
    expect(statuses(await verify(raw, zoneOf(s)))).toEqual(['pass']);
  });

  it('normalizes an IDN key domain to its ASCII form and matches the normalized From', async () => {
    const s = signer({ keys: [rsaKey({ domain: 'Bücher.Example' })] });
    expect(s.keys[0]!.domain).toBe('xn--bcher-kva.example');
    const m = message({ from: 'info@bücher.example' });
    const raw = await signed(s, m);
    expect(signatureTags(raw)[0]!.d).toBe('xn--bcher-kva.example');
    expect(statuses(await verify(raw, zoneOf(s)))).toEqual(['pass']);
  });

  it.each([
    ['a PEM string (PKCS#8)', () => pem(rsa2048)],
    ['a PEM string (PKCS#1)', () => rsa2048.export({ type: 'pkcs1', format: 'pem' }) as string],
    ['a PEM Buffer', () => Buffer.from(pem(ed))],
    ['DER PKCS#8', () => rsa2048.export({ type: 'pkcs8', format: 'der' })],
    ['DER PKCS#1', () => rsa2048.export({ type: 'pkcs1', format: 'der' })],
    ['a raw 32-byte Ed25519 seed', () => Buffer.from(String(ed.export({ format: 'jwk' }).d), 'base64url')],
    ['a KeyObject', () => ed],
  ])('accepts %s', async (_name, key) => {
    const s = signer({ keys: [rsaKey({ privateKey: key() })] });
    expect(statuses(await verify(await signed(s), zoneOf(s)))).toEqual(['pass']);
  });

  it('parses a key once: wiping the PEM buffer after creation does not affect signing', async () => {
    const buf = Buffer.from(pem(rsa2048));
    const s = signer({ keys: [rsaKey({ privateKey: buf })] });
    buf.fill(0);
    expect(statuses(await verify(await signed(s), zoneOf(s)))).toEqual(['pass']);
    expect(statuses(await verify(await signed(s), zoneOf(s)))).toEqual(['pass']);
  });

  it('returns the same MessageSigner for every message of a domain (nothing built per message)', () => {
    const s = signer({ keys: [rsaKey()] });
    expect(s.signerFor(message())).toBe(s.signerFor(message({ subject: 'other' })));
  });
});

describe('configuration is validated eagerly', () => {
  it.each([512, 1023])('refuses a %i-bit RSA key', (bits) => {
    const key = generateKeyPairSync('rsa', { modulusLength: bits }).privateKey;
    const err = configFailure(() => signer({ keys: [rsaKey({ privateKey: key })] }));
    expect(err.option).toBe('dkim.keys[0].privateKey');
    expect(err.message).toContain(`${bits}-bit`);
  });

  it.each(['rsa-sha1', 'RSA-SHA1', 'ed25519-sha1'])('refuses the SHA-1 algorithm %s', (algorithm) => {
    const err = configFailure(() => signer({ keys: [rsaKey({ algorithm: algorithm as DkimAlgorithm })] }));
    expect(err.option).toBe('dkim.keys[0].algorithm');
    expect(err.message).toMatch(/SHA-1/);
  });

  it('refuses an unknown option or key field (a typo) naming it and the nearest known name', () => {
    const top = configFailure(() => signer({ keys: [rsaKey()], skipHeader: ['message-id'] } as never));
    expect(top.option).toBe('dkim.skipHeader');
    expect(top.message).toMatch(/Unknown DKIM option "skipHeader"; did you mean `skipHeaders`\?/);
    const inKey = configFailure(() => signer({ keys: [rsaKey(), edKey({ privatekey: ed } as never)] }));
    expect(inKey.option).toBe('dkim.keys[1].privatekey');
    expect(inKey.message).toMatch(/did you mean `privateKey`\?/);
    expect(() => signer({ keys: [rsaKey({ algorithm: 'rsa-sha256', active: true, headers: ['from', 'subject'] })], skipHeaders: [], workers: 0, workerMinBytes: 1, workerTimeoutMs: 1_000 })).not.toThrow();
  });

  it('refuses an unknown algorithm', () => {
    expect(configFailure(() => signer({ keys: [rsaKey({ algorithm: 'rsa-sha512' as DkimAlgorithm })] })).option).toBe('dkim.keys[0].algorithm');
  });

  it('refuses a key type that does not match the algorithm, both ways', () => {
    expect(configFailure(() => signer({ keys: [rsaKey({ algorithm: 'ed25519-sha256' })] })).option).toBe('dkim.keys[0].algorithm');
    expect(configFailure(() => signer({ keys: [edKey({ algorithm: 'rsa-sha256' })] })).option).toBe('dkim.keys[0].algorithm');
  });

  it('refuses a truncated PEM without putting key material in the message', () => {
    const good = pem(rsa2048);
    const lines = good.split('\n');
    const broken = [...lines.slice(0, 6), ...lines.slice(-2)].join('\n');
    const err = configFailure(() => signer({ keys: [rsaKey({ privateKey: broken })] }));
    expect(err.option).toBe('dkim.keys[0].privateKey');
    expect(err.message).toMatch(/a string of \d+ characters/);
    for (const line of lines.slice(1, 6)) expect(err.message).not.toContain(line.slice(0, 12));
  });

  it('refuses a PEM that parses but whose private parts are corrupt (signing self-test)', () => {
    const good = pem(rsa2048);
    const lines = good.split('\n');
    // Inside the modulus: the DER stays well-formed, the numbers no longer fit together.
    const at = 3;
    const line = lines[at]!;
    lines[at] = line.slice(0, 10) + (line[10] === 'A' ? 'B' : 'A') + line.slice(11);
    const err = configFailure(() => signer({ keys: [rsaKey({ privateKey: lines.join('\n') })] }));
    expect(err.option).toBe('dkim.keys[0].privateKey');
    expect(err.message).toContain('do not verify');
    expect(err.message).not.toContain(line.slice(0, 12));
  });

  it.each([
    ['a string without PEM', 'not a key'],
    ['an empty Buffer', Buffer.alloc(0)],
    ['random bytes', Buffer.from('3082ffff0000aabbcc', 'hex')],
    ['a number', 42],
    ['undefined', undefined],
    ['a public key PEM', null],
    ['an EC key', 'ec'],
    ['an encrypted PEM without passphrase', 'encrypted'],
  ])('refuses %s as a private key', (_name, value) => {
    let key: unknown = value;
    if (value === null) key = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' });
    if (value === 'ec') key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    if (value === 'encrypted') key = rsa1024.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' });
    const err = configFailure(() => signer({ keys: [rsaKey({ privateKey: key as string })] }));
    expect(err.option).toBe('dkim.keys[0].privateKey');
  });

  it('refuses a public KeyObject', () => {
    const pub = generateKeyPairSync('ed25519').publicKey;
    expect(configFailure(() => signer({ keys: [edKey({ privateKey: pub })] })).message).toContain('a public KeyObject');
  });

  it('refuses two active keys for one domain and algorithm (rotation needs active: false on one)', () => {
    const err = configFailure(() => signer({ keys: [rsaKey({ selector: 'a' }), rsaKey({ selector: 'b', privateKey: rsaOther })] }));
    expect(err.option).toBe('dkim.keys[1].active');
    expect(err.message).toContain('dkim.keys[0]');
  });

  it('refuses a domain and algorithm with no active key', () => {
    const err = configFailure(() => signer({ keys: [rsaKey({ active: false }), edKey()] }));
    expect(err.option).toBe('dkim.keys[0].active');
  });

  it('allows one active RSA and one active Ed25519 key per domain, and other domains alongside', () => {
    const s = signer({ keys: [rsaKey(), edKey(), rsaKey({ domain: 'example.org' })] });
    expect(s.keys).toHaveLength(3);
  });

  it('refuses a selector used twice in one domain', () => {
    expect(configFailure(() => signer({ keys: [rsaKey({ selector: 's1' }), edKey({ selector: 'S1' })] })).option).toBe('dkim.keys[1].selector');
  });

  it.each(['', 's1; d=evil.example', 's 1', 'a..b', '-x', 'x'.repeat(64), 42])('refuses the selector %j', (selector) => {
    expect(configFailure(() => signer({ keys: [rsaKey({ selector: selector as string })] })).option).toBe('dkim.keys[0].selector');
  });

  it.each(['', 'exa mple.com', 'example.com;x', 'a@b.com', '[127.0.0.1]', 7])('refuses the domain %j', (domain) => {
    expect(configFailure(() => signer({ keys: [rsaKey({ domain: domain as string })] })).option).toBe('dkim.keys[0].domain');
  });

  it.each([
    [[] as string[], 'dkim.keys[0].headers'],
    [['Subject'], 'dkim.keys[0].headers'],
    [['From', 'Received'], 'dkim.keys[0].headers[1]'],
    [['From', 'Return-Path'], 'dkim.keys[0].headers[1]'],
    [['From', 'DKIM-Signature'], 'dkim.keys[0].headers[1]'],
    [['From', 'from'], 'dkim.keys[0].headers[1]'],
    [['From', 'Bad Name'], 'dkim.keys[0].headers[1]'],
    [['From', 'X:Y'], 'dkim.keys[0].headers[1]'],
    [['From', 'X;d=evil.example'], 'dkim.keys[0].headers[1]'],
  ])('refuses the header list %j', (headers, option) => {
    expect(configFailure(() => signer({ keys: [rsaKey({ headers })] })).option).toBe(option);
  });

  it('refuses skipping From', () => {
    expect(configFailure(() => signer({ keys: [rsaKey()], skipHeaders: ['FROM'] })).option).toBe('dkim.skipHeaders');
  });

  it.each([
    [undefined, 'dkim'],
    [{}, 'dkim.keys'],
    [{ keys: [] }, 'dkim.keys'],
    [{ keys: [null] }, 'dkim.keys[0]'],
    [{ keys: [{ domain: 'example.com', selector: 's', privateKey: 'x', active: 'yes' }] }, 'dkim.keys[0].active'],
  ])('refuses the options %j', (options, option) => {
    expect(configFailure(() => signer(options as unknown as DkimOptions)).option).toBe(option);
  });

  it('refuses a clock without now()', () => {
    expect(configFailure(() => createDkimSigner({ keys: [rsaKey()] }, {} as typeof clock)).option).toBe('clock');
  });
});

describe('dkimDnsRecord', () => {
  it('publishes Ed25519 as k=ed25519; p=<base64 of the raw 32-byte key> (RFC 8463)', () => {
    const record = dkimDnsRecord(edKey());
    const m = /^v=DKIM1; k=ed25519; p=([A-Za-z0-9+/]+=*)$/.exec(record);
    expect(m).not.toBeNull();
    const raw = Buffer.from(m![1]!, 'base64');
    expect(raw).toHaveLength(32);
    const jwk = ed.export({ format: 'jwk' });
    expect(raw.toString('base64url')).toBe(jwk.x);
  });

  it('publishes RSA as k=rsa; p=<base64 SPKI DER>', () => {
    const record = dkimDnsRecord(pem(rsa2048));
    expect(record).toMatch(/^v=DKIM1; k=rsa; p=MIIBIjAN[A-Za-z0-9+/]+=*$/);
  });

  it('takes a public key too, and matches the record the signer reports', () => {
    const s = signer({ keys: [rsaKey(), edKey()] });
    const [rsaInfo, edInfo] = s.keys;
    expect(dkimDnsRecord(rsaInfo!.publicKey)).toBe(rsaInfo!.dnsRecord);
    expect(dkimDnsRecord(edInfo!.publicKey.export({ type: 'spki', format: 'pem' }) as string)).toBe(edInfo!.dnsRecord);
  });

  it('refuses what is not a key, with a CONFIG error', () => {
    expect(configFailure(() => dkimDnsRecord('nope')).code).toBe(MailErrorCode.CONFIG);
  });
});

describe('canonicalization', () => {
  /** A plain reading of RFC 6376 3.4.4, to check the optimized hash against. */
  function referenceBody(body: string): string {
    let lines = body.replace(/\r?\n/g, '\n').split('\n');
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    else if (body.length > 0) {
      /* last line without a line break */
    }
    lines = lines.map((l) => l.replace(/[ \t]+$/g, '').replace(/[ \t]+/g, ' '));
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines.length === 0 ? '' : `${lines.join('\r\n')}\r\n`;
  }
  const sha = (s: string): string => createHash('sha256').update(Buffer.from(s, 'latin1')).digest('base64');

  it('matches the RFC 6376 3.4.6 example', () => {
    expect(relaxedBodyHash(Buffer.from(' C \r\nD \t E\r\n\r\n\r\n'))).toBe(sha(' C\r\nD E\r\n'));
    expect(relaxedHeader('A: X')).toBe('a:X');
    expect(relaxedHeader('B : Y\t\r\n\tZ  ')).toBe('b:Y Z');
  });

  it('hashes an empty body as the empty string, and adds a missing final CRLF', () => {
    expect(relaxedBodyHash(Buffer.alloc(0))).toBe(sha(''));
    expect(relaxedBodyHash(Buffer.from('\r\n\r\n'))).toBe(sha(''));
    expect(relaxedBodyHash(Buffer.from('abc'))).toBe(sha('abc\r\n'));
    expect(relaxedBodyHash(Buffer.from('abc\r\n\r\n'))).toBe(sha('abc\r\n'));
  });

  it('agrees with a plain reading of the RFC on 2,000 random bodies (fast and slow paths)', () => {
    let seed = 42;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = ['a', 'b', ' ', '  ', '\t', '\r\n', '\r\n', '\n', 'x y'];
    for (let i = 0; i < 2000; i++) {
      let body = '';
      const len = rnd(40);
      for (let j = 0; j < len; j++) body += alphabet[rnd(alphabet.length)];
      expect(relaxedBodyHash(Buffer.from(body, 'latin1')), JSON.stringify(body)).toBe(sha(referenceBody(body)));
    }
  });

  it('treats a CR without LF as content, as mailauth does', async () => {
    const s = signer({ keys: [rsaKey()] });
    const out = await s.signerFor(message())!.sign(Buffer.from('From: a@example.com\r\nSubject: x\r\n\r\nline\rwith CR\r\nend\r\n'));
    expect(statuses(await verify(out, zoneOf(s)))).toEqual(['pass']);
  });

  it('splits folded header fields and keeps the folding in the line', () => {
    const { headers, body } = splitMessage(Buffer.from('Subject: a\r\n b\r\nFrom : x@y\r\n\r\nbody'));
    expect(headers).toEqual([
      { key: 'subject', line: 'Subject: a\r\n b' },
      { key: 'from', line: 'From : x@y' },
    ]);
    expect(body.toString()).toBe('body');
    expect(splitMessage(Buffer.from('From: a@b\r\n')).body).toHaveLength(0);
    expect(splitMessage(Buffer.from('\r\nbody')).headers).toEqual([]);
  });
});

describe('hostile and unusual messages', () => {
  let s: DkimSigner;
  let ms: MessageSigner;
  beforeAll(() => {
    s = signer({ keys: [rsaKey(), edKey()] });
    ms = s.signerFor(message())!;
  });

  it('signs messages with bare LF line ends, tabs, trailing spaces and no final line break', async () => {
    const raw = 'From: a@example.com\nSubject:\tmixed \t endings  \nTo: b@example.org\n\nline one  \n\tindented\r\n\r\n\nlast line without break  ';
    const out = await ms.sign(Buffer.from(raw));
    expect(statuses(await verify(out, zoneOf(s)))).toEqual(['pass', 'pass']);
  });

  it('signs a message with an empty body', async () => {
    const out = await ms.sign(Buffer.from('From: a@example.com\r\nSubject: x\r\n\r\n'));
    expect(statuses(await verify(out, zoneOf(s)))).toEqual(['pass', 'pass']);
  });

  it('signs a message that is all header (no empty line): the signature covers From', async () => {
    const out = (await ms.sign(Buffer.from('From: a@example.com\r\nSubject: x\r\n'))).toString('latin1');
    expect(signatureTags(out).map((t) => t.bh)).toEqual([createHash('sha256').digest('base64'), createHash('sha256').digest('base64')]);
    // mailauth needs the empty line to find the header; with it added the signatures verify.
    expect(statuses(await verify(`${out}\r\n`, zoneOf(s)))).toEqual(['pass', 'pass']);
  });

  it('refuses to sign a message without a From field', async () => {
    const err = await ms.sign(Buffer.from('Subject: x\r\n\r\nbody\r\n')).then(
      () => undefined,
      (e: unknown) => e as MailError,
    );
    expect(err?.code).toBe(MailErrorCode.VALIDATION);
  });

  it('signs 900 recipients in To (a long folded field) and a 3 MB attachment', async () => {
    const to = Array.from({ length: 900 }, (_, i) => `user${i}@example.org`);
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const m = message({ to, attachments: [{ filename: 'big.bin', content: big }] });
    const out = await ms.sign(await composeMessage(m));
    expect(statuses(await verify(out, zoneOf(s)))).toEqual(['pass', 'pass']);
  });

  it('keeps every line of the signature fields within 78 characters', async () => {
    const out = (await ms.sign(await composeMessage(message({ headers: MARKETING_HEADERS })))).toString('latin1');
    const fields = out.slice(0, out.indexOf('\r\nFrom:'));
    for (const line of fields.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
  });

  it('signs a Unicode subject and display name (encoded words) verifiably', async () => {
    const out = await ms.sign(await composeMessage(message({ from: 'Bücher Köln <orders@example.com>', subject: 'Grüße – ✓ 日本語' })));
    expect(statuses(await verify(out, zoneOf(s)))).toEqual(['pass', 'pass']);
  });
});

describe('transports', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    await Promise.all(cleanup.splice(0).map((fn) => fn()));
  });

  it('prepareMessage with a signer: raw() returns signed bytes, once, and exposes the signer', async () => {
    const s = signer({ keys: [rsaKey(), edKey()] });
    const m = message({ headers: MARKETING_HEADERS });
    const ms = s.signerFor(m)!;
    const prepared = prepareMessage('job_1', m, { from: m.returnPath, to: allRecipients(m) }, ms);
    expect(prepared.signer).toBe(ms);
    const raw = prepared.raw();
    expect(prepared.raw()).toBe(raw);
    expect(statuses(await verify(await raw, zoneOf(s)))).toEqual(['pass', 'pass']);
    const unsigned = prepareMessage('job_2', m, { from: m.returnPath, to: allRecipients(m) });
    expect(unsigned.signer).toBeUndefined();
    expect((await unsigned.raw()).toString('latin1')).not.toContain('DKIM-Signature');
  });

  it('the memory transport keeps the signed message with composeRaw', async () => {
    const s = signer({ keys: [edKey()] });
    const m = message();
    const t = memoryTransport({ composeRaw: true });
    await t.send(prepareMessage('job_m', m, { from: m.returnPath, to: allRecipients(m) }, s.signerFor(m)), { signal: new AbortController().signal, attempt: 1 });
    expect(statuses(await verify(t.sent[0]!.raw!, zoneOf(s)))).toEqual(['pass']);
  });

  it('end to end: SMTP transport -> sink; the received bytes carry dual signatures that verify', async () => {
    const sink = await startSmtpSink({ keepRaw: true, parse: false, disableStartTls: true });
    cleanup.push(() => sink.close());
    const t = smtpTransport({ host: sink.host, port: sink.port, ignoreTLS: true, maxConnections: 2 });
    cleanup.push(() => t.close!());
    const s = signer({ keys: [rsaKey(), edKey()] });
    const sent = [
      message({ headers: MARKETING_HEADERS, cc: 'cc@example.net', subject: 'one' }),
      message({ subject: 'two', attachments: [{ filename: 'a.txt', content: 'line\n.\n..dots\n' }] }),
      message({ subject: 'three', from: 'alerts@mail.example.com' }),
    ];
    await Promise.all(
      sent.map((m, i) =>
        t.send(prepareMessage(`job_e${i}`, m, { from: m.returnPath, to: allRecipients(m) }, s.signerFor(m)), { signal: new AbortController().signal, attempt: 1 }),
      ),
    );
    expect(sink.messages).toHaveLength(3);
    for (const received of sink.messages) {
      const raw = received.raw!;
      expect(statuses(await verify(raw, zoneOf(s)))).toEqual(['pass', 'pass']);
    }
    const marketing = sink.messages.find((x) => x.raw!.includes('Subject: one'))!.raw!.toString('latin1');
    for (const tags of signatureTags(marketing)) {
      expect(tags.h!.split(':')).toEqual(expect.arrayContaining(['list-unsubscribe', 'list-unsubscribe-post', 'feedback-id', 'cc']));
    }
  });

  it('SMTP sends a job without a signer unsigned, next to signed ones on the same pool', async () => {
    const sink = await startSmtpSink({ keepRaw: true, parse: false, disableStartTls: true });
    cleanup.push(() => sink.close());
    const t = smtpTransport({ host: sink.host, port: sink.port, ignoreTLS: true, maxConnections: 1 });
    cleanup.push(() => t.close!());
    const s = signer({ keys: [rsaKey()] });
    const m = message();
    const ctx = { signal: new AbortController().signal, attempt: 1 };
    await t.send(prepareMessage('job_u', m, { from: m.returnPath, to: allRecipients(m) }), ctx);
    await t.send(prepareMessage('job_s', m, { from: m.returnPath, to: allRecipients(m) }, s.signerFor(m)), ctx);
    expect(sink.messages.map((x) => x.raw!.includes('DKIM-Signature:'))).toEqual([false, true]);
  });

  it('aborting a send while it is being signed rejects with ABORTED and delivers nothing', async () => {
    const sink = await startSmtpSink({ keepRaw: true, parse: false, disableStartTls: true });
    cleanup.push(() => sink.close());
    const t = smtpTransport({ host: sink.host, port: sink.port, ignoreTLS: true, maxConnections: 1 });
    cleanup.push(() => t.close!());
    const s = signer({ keys: [rsaKey()] });
    const m = message();
    let signing!: () => void;
    const started = new Promise<void>((resolve) => {
      signing = resolve;
    });
    const slow = {
      signatureHeaders: async (raw: Buffer) => {
        signing();
        await new Promise((resolve) => setTimeout(resolve, 100));
        return s.signerFor(m)!.signatureHeaders(raw);
      },
    };
    const controller = new AbortController();
    const sending = t.send(prepareMessage('job_a', m, { from: m.returnPath, to: allRecipients(m) }, slow), { signal: controller.signal, attempt: 1 });
    await started;
    controller.abort();
    const err = await sending.then(
      () => undefined,
      (e: unknown) => e as MailError,
    );
    expect(err?.code).toBe(MailErrorCode.ABORTED);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(sink.count).toBe(0);
    // The pool still works for the next message.
    await t.send(prepareMessage('job_b', m, { from: m.returnPath, to: allRecipients(m) }, s.signerFor(m)), { signal: new AbortController().signal, attempt: 1 });
    expect(sink.count).toBe(1);
  });

  it('a signer that fails makes the SMTP send reject with a MailError, and nothing is delivered', async () => {
    const sink = await startSmtpSink({ keepRaw: true, parse: false, disableStartTls: true });
    cleanup.push(() => sink.close());
    const t = smtpTransport({ host: sink.host, port: sink.port, ignoreTLS: true, maxConnections: 1 });
    cleanup.push(() => t.close!());
    const m = message();
    const broken = { signatureHeaders: () => Promise.reject(new Error('HSM unavailable')) };
    const err = await t
      .send(prepareMessage('job_x', m, { from: m.returnPath, to: allRecipients(m) }, broken), { signal: new AbortController().signal, attempt: 1 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isMailError(err)).toBe(true);
    expect((err as MailError).message).toContain('HSM unavailable');
    expect(sink.count).toBe(0);
  });
});
