/**
 * DKIM key records (RFC 6376 3.6.1, RFC 8463 for Ed25519): parsing the TXT record at
 * `<selector>._domainkey.<domain>` into a public key, and comparing it with a configured key.
 *
 * @module
 */

import { createPublicKey, KeyObject } from 'node:crypto';
import { configError } from '../errors.js';

/** Tags of a DKIM key record. */
export interface DkimKeyRecord {
  /** Key type: `rsa` (default) or `ed25519`; anything else is reported as unknown. */
  readonly k: string;
  /** The public key, base64 with whitespace removed; empty when the key is revoked. */
  readonly p: string;
  /** Acceptable hash algorithms (`h=`), when given. */
  readonly h?: readonly string[];
  /** Flags (`t=`): `y` testing, `s` strict. */
  readonly t: readonly string[];
  /** Service types (`s=`), when given. */
  readonly s?: readonly string[];
}

/** Result of {@link parseDkimKeyRecord}. */
export type DkimKeyParseResult =
  | {
      readonly ok: true;
      readonly record: DkimKeyRecord;
      /** `p=` is empty: the key was revoked (RFC 6376 3.6.1). */
      readonly revoked: boolean;
      /** The public key (absent when revoked). */
      readonly publicKey?: KeyObject;
      /** Key type of `publicKey`. */
      readonly keyType?: 'rsa' | 'ed25519';
      /** RSA modulus length in bits. */
      readonly bits?: number;
    }
  | { readonly ok: false; readonly error: string };

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows (RFC 8410).
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * Parses a DKIM key record and its public key. Never throws.
 *
 * @example
 * ```ts
 * import { parseDkimKeyRecord } from 'mailpush/auth';
 *
 * const parsed = parseDkimKeyRecord(txt); // the TXT record at s1._domainkey.example.com
 * if (parsed.ok && parsed.publicKey) console.log(parsed.keyType, parsed.bits); // 'rsa' 2048
 * else if (!parsed.ok) console.error(parsed.error);
 * parseDkimKeyRecord('v=DKIM1; k=rsa; p='); // { ok: true, revoked: true, record: { k: 'rsa', p: '', t: [] } }
 * ```
 */
export function parseDkimKeyRecord(txt: string): DkimKeyParseResult {
  const tags = new Map<string, string>();
  const parts = txt.split(';');
  for (let k = 0; k < parts.length; k++) {
    const part = parts[k]!.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, error: `${quote(part)} is not a tag=value pair` };
    const name = part.slice(0, eq).trim();
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) return { ok: false, error: `${quote(name)} is not a tag name` };
    if (tags.has(name)) return { ok: false, error: `the tag "${name}" appears twice` };
    tags.set(name, part.slice(eq + 1).trim());
    if (name === 'v' && tags.size !== 1) return { ok: false, error: '"v=" must be the first tag' };
  }
  const v = tags.get('v');
  if (v !== undefined && v !== 'DKIM1') return { ok: false, error: `v=${v} is not "DKIM1"` };
  const k = (tags.get('k') ?? 'rsa').toLowerCase();
  if (k !== 'rsa' && k !== 'ed25519') return { ok: false, error: `unknown key type k=${k} (expected rsa or ed25519)` };
  const h = tags.get('h')?.split(':').map((x) => x.trim().toLowerCase());
  if (h !== undefined && !h.includes('sha256')) return { ok: false, error: `h=${tags.get('h')} does not allow sha256, so no current signature can verify` };
  const s = tags.get('s')?.split(':').map((x) => x.trim().toLowerCase());
  if (s !== undefined && !s.includes('*') && !s.includes('email')) return { ok: false, error: `s=${tags.get('s')} does not allow email` };
  const t = (tags.get('t') ?? '').split(':').map((x) => x.trim().toLowerCase()).filter((x) => x !== '');
  const rawP = tags.get('p');
  if (rawP === undefined) return { ok: false, error: 'the record has no "p=" tag (the public key)' };
  const p = rawP.replace(/[\s]+/g, '');
  const record: DkimKeyRecord = { k, p, t, ...(h !== undefined ? { h } : {}), ...(s !== undefined ? { s } : {}) };
  if (p === '') return { ok: true, record, revoked: true };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(p) || p.length % 4 === 1) return { ok: false, error: 'p= is not valid base64' };
  const der = Buffer.from(p, 'base64');
  if (k === 'ed25519') {
    if (der.length !== 32) return { ok: false, error: `p= of an ed25519 key must be the raw 32-byte key (RFC 8463), got ${der.length} bytes` };
    const publicKey = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, der]), format: 'der', type: 'spki' });
    return { ok: true, record, revoked: false, publicKey, keyType: 'ed25519' };
  }
  let publicKey: KeyObject | undefined;
  for (const type of ['spki', 'pkcs1'] as const) {
    try {
      publicKey = createPublicKey({ key: der, format: 'der', type });
      break;
    } catch {
      // try the next encoding
    }
  }
  if (publicKey === undefined) return { ok: false, error: 'p= does not hold an RSA public key' };
  if (publicKey.asymmetricKeyType !== 'rsa') return { ok: false, error: `p= holds a ${publicKey.asymmetricKeyType ?? 'unknown'} key, but k=rsa` };
  const bits = publicKey.asymmetricKeyDetails?.modulusLength;
  return { ok: true, record, revoked: false, publicKey, keyType: 'rsa', ...(bits !== undefined ? { bits } : {}) };
}

/** A DKIM key as configured: PEM (private or public), DER-free Buffer of PEM, or a KeyObject. */
export type DkimKeyInput = string | Buffer | KeyObject;

/**
 * The public key of a configured DKIM key (private keys give their public half).
 *
 * @param option - Option path for the error message.
 * @throws MailError `CONFIG` when the key cannot be read or is a secret key.
 */
export function publicKeyOf(input: DkimKeyInput, option: string): KeyObject {
  if (input instanceof KeyObject) {
    if (input.type === 'secret') throw configError(option, 'an RSA or Ed25519 key (PEM or KeyObject)', 'a secret KeyObject');
    return input.type === 'public' ? input : createPublicKey(input);
  }
  if (typeof input !== 'string' && !Buffer.isBuffer(input)) throw configError(option, 'a PEM string, a Buffer or a KeyObject', input);
  try {
    const key = createPublicKey(input);
    if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ed25519') {
      throw configError(option, 'an RSA or Ed25519 key', `a ${key.asymmetricKeyType ?? 'unknown'} key`);
    }
    return key;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'MAILPUSH_ERR_CONFIG') throw err;
    throw configError(option, 'a PEM-encoded RSA or Ed25519 key', typeof input === 'string' ? 'a string that is not a PEM key' : 'a Buffer that is not a PEM key');
  }
}

/** True when two public keys are the same key (their SubjectPublicKeyInfo DER is equal). */
export function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ format: 'der', type: 'spki' }).equals(b.export({ format: 'der', type: 'spki' }));
}

/** The key record to publish for a public key: `v=DKIM1; k=rsa; p=...`. */
export function keyRecordFor(publicKey: KeyObject): string {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  if (publicKey.asymmetricKeyType === 'ed25519') return `v=DKIM1; k=ed25519; p=${der.subarray(ED25519_SPKI_PREFIX.length).toString('base64')}`;
  return `v=DKIM1; k=rsa; p=${der.toString('base64')}`;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}
