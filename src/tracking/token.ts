/**
 * Signed, opaque tracking tokens: what a click or open URL carries.
 *
 * A token is `base64url(kind | tag | ciphertext)`, a deterministic authenticated encryption
 * (the SIV construction) built from HMAC-SHA-256 and AES-256-CTR:
 * - `tag` = the first 16 bytes of HMAC-SHA-256(macKey, kind | plaintext): it signs the token;
 * - `ciphertext` = AES-256-CTR(encKey, iv = tag, plaintext): nothing in the URL is readable,
 *   neither the recipient's address nor the original URL (which may carry personal data).
 *
 * Both keys are derived (HKDF-SHA-256) from each secret of `tracking.secrets`: the first secret
 * signs, every secret verifies, so a key is rotated by prepending the new one and dropping the
 * old one once the mail that carries it is old enough. The plaintext binds the original URL,
 * the message (internal id and Message-ID), the recipient, the campaign and the accept time: a
 * changed byte anywhere fails the tag, and the redirect only ever goes to the URL inside a
 * verified token.
 *
 * @module
 */

import { createCipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createSecretKey } from 'node:crypto';
import { configError } from '../errors.js';

/** What a token is for. */
export type TokenKind = 'click' | 'open';

/** The message part of a token: the same for every link of one message. */
export interface TokenMessage {
  /** Internal message id (`msg_...`). */
  readonly id: string;
  /** RFC 5322 Message-ID with angle brackets. */
  readonly messageId: string;
  /** The one recipient of the message. */
  readonly recipient: string;
  /** Campaign id, when the message belongs to one. */
  readonly campaign?: string;
  /** Accept time, ms since the epoch (stored with a precision of one second). */
  readonly issuedAt: number;
}

/** A verified token. */
export interface TokenData extends TokenMessage {
  readonly kind: TokenKind;
  /** For clicks: the original URL, exactly as it was in the message (entities decoded). */
  readonly url?: string;
  /** For clicks: the link's position among the tracked links of the message (0-based). */
  readonly link?: number;
}

const KIND_BYTE: Record<TokenKind, number> = { click: 0x63, open: 0x6f };
const TAG_BYTES = 16;
/** Longest token read; anything longer is refused before any crypto. */
export const MAX_TOKEN_LENGTH = 8192;

interface Keys {
  readonly enc: KeyObject;
  readonly mac: KeyObject;
}

/** The keys of a tracking configuration. */
export interface TokenKeys {
  /** Signing keys (the first secret's). */
  readonly current: Keys;
  /** Every key set, the current one first. */
  readonly all: readonly Keys[];
}

/**
 * Derives the token keys from `secrets` (first signs, all verify). Throws a CONFIG MailError
 * naming `option` when a secret is shorter than 16 bytes or the list is empty.
 */
export function deriveTokenKeys(secrets: unknown, option = 'tracking.secrets'): TokenKeys {
  if (!Array.isArray(secrets) || secrets.length === 0) throw configError(option, 'a non-empty array of secrets (the first signs, all verify)', secrets);
  const all = secrets.map((s, i) => {
    const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s instanceof Uint8Array ? Buffer.from(s) : undefined;
    if (bytes === undefined || bytes.length < 16) throw configError(`${option}[${i}]`, 'a string or bytes of at least 16 bytes', s);
    const okm = Buffer.from(hkdfSync('sha256', bytes, Buffer.alloc(0), 'mailpush-tracking-v1', 64));
    return { enc: createSecretKey(okm.subarray(0, 32)), mac: createSecretKey(okm.subarray(32)) };
  });
  return { current: all[0]!, all };
}

// Plaintext layout: u32 issuedAt (s) | u16 link | u8 len id | id | u8 len messageId | messageId |
// u16 len recipient | recipient | u8 len campaign | campaign | url (the rest, utf8).

/**
 * The encoded message part of a token, computed once per message and reused for every link.
 * Throws a VALIDATION-free plain Error only for impossible lengths (checked by the caller).
 */
export function encodeMessagePart(m: TokenMessage): Buffer {
  const id = Buffer.from(m.id, 'utf8');
  const mid = Buffer.from(m.messageId, 'utf8');
  const rcpt = Buffer.from(m.recipient, 'utf8');
  const camp = Buffer.from(m.campaign ?? '', 'utf8');
  if (id.length > 255 || mid.length > 255 || rcpt.length > 65_535 || camp.length > 255) throw new RangeError('Token field too long');
  const out = Buffer.allocUnsafe(6 + 1 + id.length + 1 + mid.length + 2 + rcpt.length + 1 + camp.length);
  let o = 0;
  out.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.floor(m.issuedAt / 1000))), o);
  o += 4;
  out.writeUInt16BE(0, o);
  o += 2;
  o = out.writeUInt8(id.length, o);
  o += id.copy(out, o);
  o = out.writeUInt8(mid.length, o);
  o += mid.copy(out, o);
  o = out.writeUInt16BE(rcpt.length, o);
  o += rcpt.copy(out, o);
  o = out.writeUInt8(camp.length, o);
  camp.copy(out, o);
  return out;
}

/**
 * Seals a token. `part` comes from {@link encodeMessagePart}; `link` and `url` are set for
 * clicks. Returns the URL-safe token text.
 */
export function sealToken(keys: TokenKeys, kind: TokenKind, part: Buffer, link = 0, url?: string): string {
  const urlBytes = url === undefined ? undefined : Buffer.from(url, 'utf8');
  const plain = urlBytes === undefined ? Buffer.from(part) : Buffer.concat([part, urlBytes], part.length + urlBytes.length);
  plain.writeUInt16BE(link & 0xffff, 4);
  const k = keys.current;
  const kindByte = KIND_BYTE[kind];
  const tag = createHmac('sha256', k.mac).update(Buffer.of(kindByte)).update(plain).digest().subarray(0, TAG_BYTES);
  const cipher = createCipheriv('aes-256-ctr', k.enc, tag);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  const out = Buffer.allocUnsafe(1 + TAG_BYTES + body.length);
  out[0] = kindByte;
  tag.copy(out, 1);
  body.copy(out, 1 + TAG_BYTES);
  return out.toString('base64url');
}

const TOKEN_CHARS = /^[A-Za-z0-9_-]+$/;

/**
 * Opens a token: undefined when it is malformed, of another kind, or not signed by one of the
 * keys (a changed character anywhere fails). Never throws.
 */
export function openToken(keys: TokenKeys, kind: TokenKind, token: string): TokenData | undefined {
  if (typeof token !== 'string' || token.length < 24 || token.length > MAX_TOKEN_LENGTH || !TOKEN_CHARS.test(token)) return undefined;
  const raw = Buffer.from(token, 'base64url');
  // base64url decoding ignores trailing junk bits: a re-encoding must give the same text.
  if (raw.length < 1 + TAG_BYTES + 13 || raw.toString('base64url') !== token) return undefined;
  const kindByte = KIND_BYTE[kind];
  if (raw[0] !== kindByte) return undefined;
  const tag = raw.subarray(1, 1 + TAG_BYTES);
  const body = raw.subarray(1 + TAG_BYTES);
  for (const k of keys.all) {
    const decipher = createCipheriv('aes-256-ctr', k.enc, tag);
    const plain = Buffer.concat([decipher.update(body), decipher.final()]);
    const expected = createHmac('sha256', k.mac).update(Buffer.of(kindByte)).update(plain).digest().subarray(0, TAG_BYTES);
    if (!timingSafeEqual(expected, tag)) continue;
    return decodePlain(kind, plain);
  }
  return undefined;
}

function decodePlain(kind: TokenKind, p: Buffer): TokenData | undefined {
  try {
    let o = 0;
    const issuedAt = p.readUInt32BE(o) * 1000;
    o += 4;
    const link = p.readUInt16BE(o);
    o += 2;
    const idLen = p.readUInt8(o++);
    const id = p.toString('utf8', o, (o += idLen));
    const midLen = p.readUInt8(o++);
    const messageId = p.toString('utf8', o, (o += midLen));
    const rLen = p.readUInt16BE(o);
    o += 2;
    const recipient = p.toString('utf8', o, (o += rLen));
    const cLen = p.readUInt8(o++);
    const campaign = p.toString('utf8', o, (o += cLen));
    if (o > p.length) return undefined;
    const base = { kind, id, messageId, recipient, issuedAt, ...(campaign !== '' ? { campaign } : {}) };
    if (kind === 'open') return base;
    return { ...base, link, url: p.toString('utf8', o) };
  } catch {
    return undefined;
  }
}
