/**
 * Feedback-ID (COMPLIANCE.md F-1): the format, the shaping step, and a DKIM signature over it
 * verified after a trip through the real SMTP sink.
 */
import { generateKeyPairSync } from 'node:crypto';
import { dkimVerify } from 'mailauth';
import { describe, expect, it } from 'vitest';
import { createDkimSigner } from '../../src/auth/dkim.js';
import { MailErrorCode } from '../../src/errors.js';
import { checkFeedbackIdOptions, feedbackIdShaper, formatFeedbackId, parseFeedbackId } from '../../src/campaigns/feedback-id.js';
import { createMailer } from '../../src/mailer/index.js';
import { normalizeMessage } from '../../src/message/index.js';
import { NEWS, setup } from './helpers.js';

/** Gmail's documented shape: up to three identifiers, then a SenderId of 5 to 15 characters. */
const GMAIL_FORMAT = /^(?:[A-Za-z0-9._-]{1,64}:){1,3}[A-Za-z0-9._-]{5,15}$/;

describe('Feedback-ID format', () => {
  it('builds campaign:customer:category:SenderId, leaving out what is missing', () => {
    expect(formatFeedbackId(['spring', 'cust7', 'marketing'], 'acme01')).toBe('spring:cust7:marketing:acme01');
    expect(formatFeedbackId([undefined, undefined, 'transactional'], 'acme01')).toBe('transactional:acme01');
    expect(GMAIL_FORMAT.test(formatFeedbackId(['spring', undefined, 'marketing'], 'acme01'))).toBe(true);
  });

  it('refuses colons, bad lengths and a fourth identifier', () => {
    for (const bad of [
      () => formatFeedbackId(['a:b'], 'acme01'),
      () => formatFeedbackId(['x'.repeat(65)], 'acme01'),
      () => formatFeedbackId(['a'], 'abcd'),
      () => formatFeedbackId(['a'], 'a'.repeat(16)),
      () => formatFeedbackId(['a', 'b', 'c', 'd'], 'acme01'),
    ]) {
      expect(bad).toThrow(expect.objectContaining({ code: MailErrorCode.VALIDATION }));
    }
    expect(() => checkFeedbackIdOptions({ senderId: 'ab:cd1' })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
    expect(() => checkFeedbackIdOptions({ senderId: 'acme01', customerId: 'a b' })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
    expect(() => createMailer({ transport: { name: 'x', capabilities: { rawMime: true }, send: async () => ({ accepted: [], rejected: [] }) }, feedbackId: { senderId: 'no' } })).toThrow(
      expect.objectContaining({ code: MailErrorCode.CONFIG }),
    );
  });

  it('parses what it builds and rejects malformed values', () => {
    expect(parseFeedbackId('spring:marketing:acme01')).toEqual({ fields: ['spring', 'marketing'], senderId: 'acme01' });
    for (const bad of ['acme01', 'a::b:acme01', 'a:b:c:d:acme01', 'a:abc', 'a b:acme01']) expect(parseFeedbackId(bad)).toBeUndefined();
  });

  it('the shaping step adds exactly one header and checks one given by the host', () => {
    const step = feedbackIdShaper({ senderId: 'acme01' });
    const base = normalizeMessage({ ...NEWS, to: 'ann@x.test', campaign: 'spring' }, { now: Date.now() });
    const shaped = step.message!(base, { options: {}, now: Date.now() });
    expect(shaped.headers.filter(([n]) => n.toLowerCase() === 'feedback-id')).toEqual([['Feedback-ID', 'spring:marketing:acme01']]);
    expect(shaped.sizeBytes).toBeGreaterThan(base.sizeBytes);
    const own = normalizeMessage({ ...NEWS, to: 'ann@x.test', headers: { 'Feedback-ID': 'own:acme99' } }, { now: Date.now() });
    expect(step.message!(own, { options: {}, now: Date.now() }).headers.filter(([n]) => n === 'Feedback-ID')).toEqual([['Feedback-ID', 'own:acme99']]);
    const broken = normalizeMessage({ ...NEWS, to: 'ann@x.test', headers: { 'Feedback-ID': 'no-sender-id' } }, { now: Date.now() });
    expect(() => feedbackIdShaper(undefined).message!(broken, { options: {}, now: Date.now() })).toThrow(expect.objectContaining({ code: MailErrorCode.INVALID_HEADER }));
  });
});

describe('Feedback-ID on the wire', () => {
  it('is signed by DKIM (in h=, the signature verifies) after the SMTP trip, once per message', async () => {
    const keys = [{ domain: 'acme.test', selector: 'rsa1', privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey }];
    const zone = Object.fromEntries(createDkimSigner({ keys }).keys.map((k) => [`${k.selector}._domainkey.${k.domain}`, k.dnsRecord]));
    const resolver = async (name: string, type: string): Promise<string[][]> => {
      const record = zone[name.toLowerCase()];
      if (type !== 'TXT' || record === undefined) throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      return [record.match(/.{1,255}/g) ?? []];
    };
    const { sink, mailer } = await setup({ keepRaw: true }, { dkim: { keys }, feedbackId: { senderId: 'acme01', customerId: 'shop7' } });
    await mailer.sendMany([{ to: 'ann@x.test' }, { to: 'bob@y.test' }], { campaign: 'spring-2026', message: NEWS });
    await mailer.send({ from: 'Acme <app@acme.test>', to: 'cy@x.test', subject: 'Receipt', text: 'Thanks' });
    await sink.waitFor(3, 10_000);
    for (const m of sink.messages) {
      const raw = m.raw!.toString();
      const values = [...raw.matchAll(/^Feedback-ID:\s*(.*)$/gim)].map((x) => x[1]!.trim());
      expect(values).toHaveLength(1);
      expect(GMAIL_FORMAT.test(values[0]!)).toBe(true);
      expect(raw).toMatch(/^DKIM-Signature:[^]*?h=[^;]*feedback-id/im);
      const { results } = await dkimVerify(m.raw!, { resolver });
      expect(results.map((r) => r.status.result)).toEqual(['pass']);
    }
    const byRecipient = Object.fromEntries(sink.messages.map((m) => [m.envelope.to[0], m.parsed!.headers.get('feedback-id')]));
    expect(byRecipient).toEqual({ 'ann@x.test': 'spring-2026:shop7:marketing:acme01', 'bob@y.test': 'spring-2026:shop7:marketing:acme01', 'cy@x.test': 'shop7:transactional:acme01' });

    // A header changed after signing breaks the signature: the header really is covered.
    const tampered = Buffer.from(sink.messages[0]!.raw!.toString().replace(/^(Feedback-ID:\s*)spring-2026/im, '$1forged'));
    const { results } = await dkimVerify(tampered, { resolver });
    expect(results.map((r) => r.status.result)).toEqual(['fail']);
  });
});
