/**
 * Unsubscribe tokens: opaque, authenticated and encrypted, so the URL in a List-Unsubscribe
 * header names the recipient and the list without showing the address to anyone who sees the
 * link (logs, link scanners, forwarded mail).
 *
 * Format (base64url): `version (1 byte) | nonce (12) | AES-256-GCM ciphertext | tag (16)`. The
 * plaintext is `issued at (uint32, seconds) | list length (1) | campaign length (1) | list |
 * campaign | recipient`. The key is
 * HKDF-SHA256 of a secret. The first secret encrypts; every secret is tried when verifying, so
 * a secret can be rotated: put the new one first and keep the old ones until the mail they
 * signed is older than the token lifetime. GCM's tag makes any change of a byte (or a token
 * made with an unknown key) fail verification.
 *
 * @module
 */

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createSecretKey } from 'node:crypto';
import { configError } from '../errors.js';

/** Version byte of the token format. */
const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const AAD = Buffer.from('mailpush unsubscribe token v1');
/** Longest token accepted, in characters: a 64-character list and a 600-character address fit. */
export const MAX_TOKEN_LENGTH = 1024;
/** Shortest secret, in bytes. */
export const MIN_SECRET_BYTES = 16;
/** Tokens are refused when issued further in the future than this (clock skew between processes), ms. */
const MAX_SKEW_MS = 5 * 60_000;

/** A secret as given: a string (UTF-8) or bytes, at least 16 bytes. */
export type UnsubscribeSecret = string | Uint8Array;

/** Derived keys: the first encrypts, all decrypt. */
export interface TokenKeys {
  readonly keys: readonly KeyObject[];
}

/** What a valid token says. */
export interface UnsubscribeTokenData {
  /** The list, or undefined for a marketing message sent without one (the unsubscribe then covers all marketing mail). */
  readonly list: string | undefined;
  /** The recipient, as sent (domain in lower case). */
  readonly recipient: string;
  /** When the token was made, ms since the epoch (second precision). */
  readonly issuedAt: number;
  /** The campaign of the message, when it had one. */
  readonly campaign?: string;
}

/** Why a token was refused. */
export type TokenFailure = 'malformed' | 'invalid' | 'expired';

/** Result of `verifyUnsubscribeToken`. */
export type TokenCheck = ({ readonly ok: true } & UnsubscribeTokenData) | { readonly ok: false; readonly reason: TokenFailure };

/**
 * Derives the token keys from the secrets (HKDF-SHA256). Throws a CONFIG MailError naming
 * `option` for an empty list or a short secret.
 */
export function deriveTokenKeys(secrets: unknown, option = 'unsubscribe.secrets'): TokenKeys {
  if (!Array.isArray(secrets) || secrets.length === 0) throw configError(option, 'a non-empty array of secrets (the first signs, all verify)', secrets);
  const keys = (secrets as unknown[]).map((secret, i) => {
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret instanceof Uint8Array ? Buffer.from(secret) : undefined;
    if (bytes === undefined || bytes.length < MIN_SECRET_BYTES) throw configError(`${option}[${i}]`, `a string or bytes of at least ${MIN_SECRET_BYTES} bytes`, typeof secret === 'string' ? `a string of ${bytes?.length ?? 0} bytes` : secret);
    return createSecretKey(Buffer.from(hkdfSync('sha256', bytes, 'mailpush', 'unsubscribe token v1', 32)));
  });
  return { keys };
}

/**
 * Makes a token for `recipient` on `list` (undefined: all marketing mail), issued at `now`, for
 * a message of `campaign` (optional; lists and campaign ids are at most 64 characters).
 *
 * @example
 * ```ts
 * const keys = deriveTokenKeys(['a-secret-of-at-least-16-bytes']);
 * const token = createToken(keys, 'newsletter', 'ann@example.com', Date.now());
 * verifyToken(keys, token, Date.now(), 365 * 86_400_000); // { ok: true, list: 'newsletter', recipient: 'ann@example.com', issuedAt }
 * ```
 */
export function createToken(keys: TokenKeys, list: string | undefined, recipient: string, now: number, campaign?: string): string {
  const listBytes = Buffer.from(list ?? '', 'utf8').subarray(0, 255);
  const campaignBytes = Buffer.from(campaign ?? '', 'utf8').subarray(0, 255);
  const header = Buffer.alloc(6);
  header.writeUInt32BE(Math.floor(now / 1000) >>> 0, 0);
  header.writeUInt8(listBytes.length, 4);
  header.writeUInt8(campaignBytes.length, 5);
  const plain = Buffer.concat([header, listBytes, campaignBytes, Buffer.from(recipient, 'utf8')]);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keys.keys[0] as KeyObject, nonce);
  cipher.setAAD(AAD);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), nonce, body, cipher.getAuthTag()]).toString('base64url');
}

/**
 * Checks a token from outside: the format, the authentication tag under each key, the
 * lifetime. Never throws.
 *
 * @example
 * ```ts
 * const check = verifyToken(keys, tokenFromUrl, Date.now(), 365 * 86_400_000);
 * if (check.ok) console.log(check.recipient, check.list);
 * else console.log(check.reason); // 'malformed' | 'invalid' | 'expired'
 * ```
 */
export function verifyToken(keys: TokenKeys, token: unknown, now: number, ttlMs: number): TokenCheck {
  if (typeof token !== 'string' || token.length < 40 || token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return { ok: false, reason: 'malformed' };
  const bytes = Buffer.from(token, 'base64url');
  if (bytes[0] !== VERSION || bytes.length < 1 + NONCE_BYTES + 6 + 3 + TAG_BYTES) return { ok: false, reason: 'malformed' };
  const nonce = bytes.subarray(1, 1 + NONCE_BYTES);
  const body = bytes.subarray(1 + NONCE_BYTES, bytes.length - TAG_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  for (const key of keys.keys) {
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, nonce);
      decipher.setAAD(AAD);
      decipher.setAuthTag(tag);
      plain = Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      continue;
    }
    const issuedAt = plain.readUInt32BE(0) * 1000;
    const listLength = plain.readUInt8(4);
    const campaignLength = plain.readUInt8(5);
    const start = 6 + listLength + campaignLength;
    if (plain.length < start + 3) return { ok: false, reason: 'malformed' };
    const list = plain.subarray(6, 6 + listLength).toString('utf8');
    const campaign = plain.subarray(6 + listLength, start).toString('utf8');
    const recipient = plain.subarray(start).toString('utf8');
    if (issuedAt > now + MAX_SKEW_MS || now - issuedAt > ttlMs) return { ok: false, reason: 'expired' };
    return { ok: true, list: list === '' ? undefined : list, recipient, issuedAt, ...(campaign !== '' ? { campaign } : {}) };
  }
  return { ok: false, reason: 'invalid' };
}
