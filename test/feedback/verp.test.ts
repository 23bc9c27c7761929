import { describe, expect, it } from 'vitest';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import { createVerp } from '../../src/feedback/verp.js';

const SECRET = 'test-secret-of-enough-length';
const verp = createVerp({ domain: 'Bounces.Shop.Example.', secret: SECRET });
const JOB = 'msg_0123456789abcdef0123456789abcdef/12';

describe('createVerp', () => {
  it('round-trips a mailpush job id and a short recipient within 64 octets', () => {
    const address = verp.encode(JOB, 'A@EX.io');
    expect(address).toMatch(/^bounces\+[a-z2-7]+@bounces\.shop\.example$/);
    expect(address.split('@')[0]!.length).toBeLessThanOrEqual(64);
    expect(verp.decode(address)).toEqual({ jobId: JOB, recipient: 'A@ex.io' });
  });

  it('leaves a recipient out when it does not fit, and keeps it with a larger limit', () => {
    const recipient = 'someone.with.a.long.name@example.org';
    const short = verp.encode(JOB, recipient);
    expect(short.split('@')[0]!.length).toBeLessThanOrEqual(64);
    expect(verp.decode(short)).toEqual({ jobId: JOB });
    const long = createVerp({ domain: 'bounces.shop.example', secret: SECRET, maxLocalPartLength: 200 });
    expect(long.decode(long.encode(JOB, recipient))).toEqual({ jobId: JOB, recipient });
  });

  it('round-trips other job ids, and ids that only look like mailpush ids', () => {
    for (const id of ['job_1', 'j', 'ü-ß', 'x'.repeat(25), 'msg_0123456789abcdef0123456789abcdef/0', 'msg_0123456789abcdef0123456789abcdef/4294967295']) {
      expect(verp.decode(verp.encode(id)), id).toEqual({ jobId: id });
    }
    const roomy = createVerp({ domain: 'b.example', secret: SECRET, maxLocalPartLength: 128 });
    for (const id of ['msg_0123456789abcdef0123456789abcdef/00', 'msg_0123456789abcdef0123456789abcdef/4294967296', 'MSG_0123456789ABCDEF0123456789ABCDEF/1']) {
      expect(roomy.decode(roomy.encode(id)), id).toEqual({ jobId: id });
    }
  });

  it('stays within the local-part limit for every mailpush job id', () => {
    for (let i = 0; i < 200; i++) {
      const id = `msg_${crypto.randomUUID().replace(/-/g, '')}/${i * 21_474_836}`;
      const a = verp.encode(id, `user${i}@example.com`);
      expect(a.split('@')[0]!.length).toBeLessThanOrEqual(64);
      expect(verp.decode(a)?.jobId).toBe(id);
    }
  });

  it('decodes regardless of case, angle brackets and a trailing dot', () => {
    const a = verp.encode(JOB, 'a@ex.io');
    expect(verp.decode(a.toUpperCase())).toEqual({ jobId: JOB, recipient: 'a@ex.io' });
    expect(verp.decode(`Mail Delivery <${a}.>`)).toEqual({ jobId: JOB, recipient: 'a@ex.io' });
  });

  it('decodes nothing from altered, foreign or malformed addresses', () => {
    const a = verp.encode(JOB, 'a@ex.io');
    const [local, domain] = a.split('@') as [string, string];
    const token = local.slice('bounces+'.length);
    const flipped = (i: number) => `bounces+${token.slice(0, i)}${token[i] === 'a' ? 'b' : 'a'}${token.slice(i + 1)}@${domain}`;
    for (let i = 0; i < token.length; i++) expect(verp.decode(flipped(i)), `char ${i}`).toBeUndefined();
    for (const bad of [
      `bounces+${token}@other.example`,
      `bounces-${token}@${domain}`,
      `other+${token}@${domain}`,
      `bounces+${token.slice(0, -1)}@${domain}`,
      `bounces+${token}a@${domain}`,
      `bounces+${token}1@${domain}`,
      `bounces+@${domain}`,
      `bounces@${domain}`,
      domain,
      '',
      `bounces+${'a'.repeat(10_000)}@${domain}`,
      42 as unknown as string,
    ]) {
      expect(verp.decode(bad)).toBeUndefined();
    }
    expect(createVerp({ domain: 'bounces.shop.example', secret: 'another-secret-of-enough-length' }).decode(a)).toBeUndefined();
  });

  it('honours localPart and separator', () => {
    const v = createVerp({ domain: 'b.example', secret: SECRET, localPart: 'rp', separator: '-' });
    const a = v.encode('job_1');
    expect(a).toMatch(/^rp-[a-z2-7]+@b\.example$/);
    expect(v.decode(a)).toEqual({ jobId: 'job_1' });
    expect(verp.decode(a.replace('@b.example', '@bounces.shop.example'))).toBeUndefined();
  });

  it('refuses job ids that cannot be encoded', () => {
    for (const id of ['', 'x'.repeat(256), 'a\nb', 42]) {
      let err: unknown;
      try {
        verp.encode(id as string);
      } catch (e) {
        err = e;
      }
      expect(isMailError(err) && err.code === MailErrorCode.VALIDATION, String(id)).toBe(true);
    }
    // 26 ASCII characters no longer fit in 64 octets once encoded with the tag.
    expect(() => verp.encode('j'.repeat(26))).toThrow(/maxLocalPartLength/);
  });

  it('validates its options', () => {
    expect(() => createVerp({ domain: 'not a domain', secret: SECRET })).toThrow(/verp.domain/);
    expect(() => createVerp({ domain: 'b.example', secret: 'short' })).toThrow(/verp.secret/);
    expect(() => createVerp({ domain: 'b.example', secret: SECRET, localPart: 'a+b' })).toThrow(/verp.localPart/);
    expect(() => createVerp({ domain: 'b.example', secret: SECRET, separator: '=' as never })).toThrow(/verp.separator/);
    expect(() => createVerp({ domain: 'b.example', secret: SECRET, maxLocalPartLength: 20 })).toThrow(/maxLocalPartLength/);
    expect(createVerp({ domain: 'b.example', secret: new Uint8Array(32).fill(7) }).domain).toBe('b.example');
  });
});
