import { generateKeyPairSync, createSecretKey } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { keyRecordFor, parseDkimKeyRecord, publicKeyOf, sameKey } from '../../src/auth/dkim-record.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
const other = generateKeyPairSync('rsa', { modulusLength: 1024 });
const ed = generateKeyPairSync('ed25519');
const spki = (k: typeof rsa.publicKey) => k.export({ format: 'der', type: 'spki' }).toString('base64');

describe('parseDkimKeyRecord', () => {
  it('reads an RSA key and its size', () => {
    const r = parseDkimKeyRecord(`v=DKIM1; k=rsa; p=${spki(rsa.publicKey)}`);
    expect(r).toMatchObject({ ok: true, revoked: false, keyType: 'rsa', bits: 1024, record: { k: 'rsa', t: [] } });
    expect(r.ok && sameKey(r.publicKey!, rsa.publicKey)).toBe(true);
  });

  it('defaults k to rsa, accepts no v=, and removes whitespace inside p=', () => {
    const p = spki(rsa.publicKey);
    const r = parseDkimKeyRecord(`p=${p.slice(0, 40)} ${p.slice(40, 100)}\t${p.slice(100)}`);
    expect(r).toMatchObject({ ok: true, keyType: 'rsa' });
  });

  it('reads a PKCS#1 RSAPublicKey published by older tools', () => {
    const pkcs1 = rsa.publicKey.export({ format: 'der', type: 'pkcs1' }).toString('base64');
    const r = parseDkimKeyRecord(`v=DKIM1; p=${pkcs1}`);
    expect(r.ok && sameKey(r.publicKey!, rsa.publicKey)).toBe(true);
  });

  it('reads an Ed25519 key as the raw 32 bytes (RFC 8463)', () => {
    const record = keyRecordFor(ed.publicKey);
    expect(record).toMatch(/^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
    const r = parseDkimKeyRecord(record);
    expect(r).toMatchObject({ ok: true, keyType: 'ed25519' });
    expect(r.ok && sameKey(r.publicKey!, ed.publicKey)).toBe(true);
  });

  it('reads an empty p= as a revoked key', () => {
    expect(parseDkimKeyRecord('v=DKIM1; k=rsa; p=')).toMatchObject({ ok: true, revoked: true });
    expect(parseDkimKeyRecord('v=DKIM1; p= ;')).toMatchObject({ ok: true, revoked: true });
  });

  it('reads flags and service types', () => {
    const r = parseDkimKeyRecord(`v=DKIM1; t=y:s; s=email; h=sha256; p=${spki(rsa.publicKey)}`);
    expect(r).toMatchObject({ ok: true, record: { t: ['y', 's'], s: ['email'], h: ['sha256'] } });
  });

  it.each([
    ['v=DKIM1; k=rsa', 'no "p=" tag'],
    ['v=DKIM2; p=abc', 'v=DKIM2 is not "DKIM1"'],
    ['k=rsa; v=DKIM1; p=abc', '"v=" must be the first tag'],
    ['v=DKIM1; k=dsa; p=abc', 'unknown key type k=dsa'],
    ['v=DKIM1; h=sha1; p=abc', 'does not allow sha256'],
    ['v=DKIM1; s=tlsrpt; p=abc', 'does not allow email'],
    ['v=DKIM1; p=abc; p=def', 'the tag "p" appears twice'],
    ['v=DKIM1; p=not*base64!', 'not valid base64'],
    ['v=DKIM1; p=QUJDRA==', 'does not hold an RSA public key'],
    ['v=DKIM1; k=ed25519; p=QUJDRA==', 'raw 32-byte key'],
    ['v=DKIM1; garbage; p=abc', '"garbage" is not a tag=value pair'],
    ['v=DKIM1; 1x=y; p=abc', '"1x" is not a tag name'],
  ])('refuses %j (%s)', (txt, reason) => {
    const r = parseDkimKeyRecord(txt);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toContain(reason);
  });

  it('refuses an Ed25519 key published with k=rsa', () => {
    const r = parseDkimKeyRecord(`v=DKIM1; k=rsa; p=${spki(ed.publicKey)}`);
    expect(!r.ok && r.error).toContain('holds a ed25519 key, but k=rsa');
  });

  it('copes with a huge garbage p= without throwing', () => {
    const r = parseDkimKeyRecord(`v=DKIM1; p=${'A'.repeat(200_000)}`);
    expect(r.ok).toBe(false);
  });
});

describe('publicKeyOf', () => {
  it('takes PEM private keys, PEM public keys, Buffers and KeyObjects', () => {
    const pem = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect(sameKey(publicKeyOf(pem, 'k'), rsa.publicKey)).toBe(true);
    expect(sameKey(publicKeyOf(Buffer.from(pem), 'k'), rsa.publicKey)).toBe(true);
    expect(sameKey(publicKeyOf(rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string, 'k'), rsa.publicKey)).toBe(true);
    expect(sameKey(publicKeyOf(rsa.privateKey, 'k'), rsa.publicKey)).toBe(true);
    expect(sameKey(publicKeyOf(ed.privateKey, 'k'), ed.publicKey)).toBe(true);
    expect(sameKey(publicKeyOf(rsa.privateKey, 'k'), other.publicKey)).toBe(false);
  });

  it('refuses other input with a CONFIG error that shows no key material', () => {
    const pem = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const broken = pem.slice(0, 100);
    let error: unknown;
    try {
      publicKeyOf(broken, 'dkimKeys.s1');
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'MAILPUSH_ERR_CONFIG', option: 'dkimKeys.s1' });
    expect((error as Error).message).not.toContain(broken.slice(28, 60));
    expect(() => publicKeyOf(createSecretKey(Buffer.alloc(32)), 'k')).toThrow('a secret KeyObject');
    expect(() => publicKeyOf(42 as never, 'k')).toThrow('Expected `k` to be a PEM string, a Buffer or a KeyObject, got 42');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => publicKeyOf(ec.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 'k')).toThrow('an RSA or Ed25519 key');
  });
});
