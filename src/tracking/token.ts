/**
 * Signed, opaque tracking tokens: what a click or open URL carries.
 *
 * A token is `base64url(kind | nonce | offset | ciphertext | tag)`, encrypt-then-MAC:
 * - `ciphertext`: the plaintext under AES-256-CTR, so nothing in the URL is readable (neither
 *   the recipient's address nor the original URL, which may carry personal data). One cipher
 *   runs per message, with a random 96-bit `nonce`; each link takes the next bytes of its key
 *   stream, and `offset` (32 bits) says where, so no two links share key stream bytes;
 * - `tag`: the first 16 bytes of HMAC-SHA-256(macKey, everything before it): it signs the
 *   token, and a changed byte anywhere fails it. It is checked before anything is decrypted.
 *
 * Both keys are derived (HKDF-SHA-256) from each secret of `tracking.secrets`: the first secret
 * signs, every secret verifies, so a key is rotated by prepending the new one and dropping the
 * old one once the mail that carries it is old enough. The plaintext binds the original URL,
 * the message (internal id and Message-ID), the recipient, the campaign and the accept time:
 * the redirect only ever goes to the URL inside a verified token.
 *
 * Cost: one random nonce per message, then per link one HMAC (two one-shot SHA-256 hashes)
 * and a few blocks of key stream from a long-lived AES cipher.
 *
 * @module
 */

import { createCipheriv, hash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Cipher } from 'node:crypto';
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
  /**
   * AES-256 in ECB mode, without padding, kept for the life of the keys: CTR's key stream is
   * the encryption of the counter blocks, so one long-lived cipher serves every token (creating
   * a cipher per token costs more than the rest of the token).
   */
  readonly blocks: Cipher;
  /** HMAC pads: the MAC key XOR 0x36 and XOR 0x5c, 64 bytes each. */
  readonly ipad: Buffer;
  readonly opad: Buffer;
}

/** The keys of a tracking configuration. */
export interface TokenKeys {
  /** Signing keys (the first secret's). */
  readonly current: Keys;
  /** Every key set, the current one first. */
  readonly all: readonly Keys[];
}

/**
 * Derives the token keys from `secrets` (first signs, all verify).
 *
 * @example
 * ```ts
 * const keys = deriveTokenKeys([process.env.TRACK_SECRET!, process.env.TRACK_SECRET_OLD!]);
 * ```
 * Throws a CONFIG MailError
 * naming `option` when a secret is shorter than 16 bytes or the list is empty.
 */
export function deriveTokenKeys(secrets: unknown, option = 'tracking.secrets'): TokenKeys {
  if (!Array.isArray(secrets) || secrets.length === 0) throw configError(option, 'a non-empty array of secrets (the first signs, all verify)', secrets);
  const all = secrets.map((s, i) => {
    const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s instanceof Uint8Array ? Buffer.from(s) : undefined;
    if (bytes === undefined || bytes.length < 16) throw configError(`${option}[${i}]`, 'a string or bytes of at least 16 bytes', s);
    const okm = Buffer.from(hkdfSync('sha256', bytes, Buffer.alloc(0), 'mailpush-tracking-v1', 64));
    const ipad = Buffer.alloc(64, 0x36);
    const opad = Buffer.alloc(64, 0x5c);
    for (let j = 0; j < 32; j++) {
      ipad[j]! ^= okm[32 + j]!;
      opad[j]! ^= okm[32 + j]!;
    }
    const blocks = createCipheriv('aes-256-ecb', okm.subarray(0, 32), null).setAutoPadding(false);
    return { blocks, ipad, opad };
  });
  return { current: all[0]!, all };
}

// Plaintext layout: u32 issuedAt (s) | u16 link | u8 form | message ids | u16 len recipient |
// recipient | u8 len campaign | campaign | url (the rest, utf8). Message ids, by form:
// 1: the generated pair (`msg_<32 hex>` and `<uuid of the same hex@domain>`): 16 bytes | u8 len domain | domain;
// 0: anything else: u8 len id | id | u8 len messageId | messageId.

const GENERATED_ID = /^msg_([0-9a-f]{32})$/;

/** The Message-ID the mailer generates along with internal id `msg_<hex>`. */
function generatedMessageId(hex: string, domain: string): string {
  return `<${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}@${domain}>`;
}

/**
 * The encoded message part of a token, computed once per message and reused for every link.
 *
 * @example
 * ```ts
 * const part = encodeMessagePart({ id: message.id, messageId: message.messageId, recipient: 'ann@example.org', issuedAt: Date.now() });
 * ```
 *
 * Throws a RangeError for fields too long to encode (the caller's limits keep them shorter).
 */
export function encodeMessagePart(m: TokenMessage): Buffer {
  const rcpt = Buffer.from(m.recipient, 'utf8');
  const camp = Buffer.from(m.campaign ?? '', 'utf8');
  const hex = GENERATED_ID.exec(m.id)?.[1];
  const at = m.messageId.lastIndexOf('@');
  const domain = at === -1 ? '' : m.messageId.slice(at + 1, -1);
  let ids: Buffer;
  if (hex !== undefined && domain.length <= 255 && generatedMessageId(hex, domain) === m.messageId) {
    const d = Buffer.from(domain, 'utf8');
    ids = Buffer.allocUnsafe(1 + 16 + 1 + d.length);
    ids[0] = 1;
    ids.write(hex, 1, 'hex');
    ids[17] = d.length;
    d.copy(ids, 18);
  } else {
    const id = Buffer.from(m.id, 'utf8');
    const mid = Buffer.from(m.messageId, 'utf8');
    if (id.length > 255 || mid.length > 255) throw new RangeError('Token field too long');
    ids = Buffer.concat([Buffer.of(0, id.length), id, Buffer.of(mid.length), mid]);
  }
  if (rcpt.length > 65_535 || camp.length > 255) throw new RangeError('Token field too long');
  const out = Buffer.allocUnsafe(6 + ids.length + 2 + rcpt.length + 1 + camp.length);
  let o = 0;
  out.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.floor(m.issuedAt / 1000))), o);
  o += 4;
  out.writeUInt16BE(0, o);
  o += 2;
  o += ids.copy(out, o);
  o = out.writeUInt16BE(rcpt.length, o);
  o += rcpt.copy(out, o);
  o = out.writeUInt8(camp.length, o);
  camp.copy(out, o);
  return out;
}

/** HMAC-SHA-256 (RFC 2104) from one-shot hashes, truncated to the tag length. */
function mac(k: Keys, data: Buffer): Buffer {
  const inner = hash('sha256', Buffer.concat([k.ipad, data], 64 + data.length), 'buffer');
  return hash('sha256', Buffer.concat([k.opad, inner], 96), 'buffer').subarray(0, TAG_BYTES);
}

/**
 * XORs `data` in place with the AES-256-CTR key stream of counter blocks `nonce | n` (n a
 * 32-bit big-endian block number), from byte `offset` of the stream.
 */
function xorKeyStream(k: Keys, nonce: Buffer, offset: number, data: Buffer): void {
  if (data.length === 0) return;
  const first = Math.floor(offset / 16);
  const count = Math.floor((offset + data.length - 1) / 16) - first + 1;
  const counters = Buffer.allocUnsafe(count * 16);
  for (let i = 0; i < count; i++) {
    nonce.copy(counters, i * 16, 0, 12);
    counters.writeUInt32BE((first + i) >>> 0, i * 16 + 12);
  }
  const stream = k.blocks.update(counters);
  const skip = offset % 16;
  for (let j = 0; j < data.length; j++) data[j]! ^= stream[skip + j]!;
}

/** Seals the tokens of one message: see {@link sealMessage}. */
export interface MessageSealer {
  /** Click tokens for the links `urls`, numbered from `first` in order. */
  clicks(urls: readonly string[], first?: number): string[];
  /** The open token of the message. */
  open(): string;
}

const HEAD_BYTES = 1 + 12 + 4;

/**
 * Starts sealing the tokens of one message; `part` comes from {@link encodeMessagePart}. Each
 * token takes the next bytes of the message's key stream; the links of a message are encrypted
 * in one pass.
 *
 * @example
 * ```ts
 * const sealer = sealMessage(keys, part);
 * const [a, b] = sealer.clicks(['https://shop.example/a', 'https://shop.example/b']);
 * const pixel = sealer.open();
 * ```
 */
export function sealMessage(keys: TokenKeys, part: Buffer): MessageSealer {
  const k = keys.current;
  const nonce = randomBytes(12);
  let offset = 0;
  const seal = (kind: TokenKind, urls: readonly (string | undefined)[], first: number): string[] => {
    // Each token is laid out after 64 bytes of room for the HMAC inner pad: [ipad | head | plain | tag].
    const sizes = urls.map((u) => part.length + (u === undefined ? 0 : Buffer.byteLength(u, 'utf8')));
    const plainAll = Buffer.allocUnsafe(sizes.reduce((a, b) => a + b, 0));
    let o = 0;
    urls.forEach((u, i) => {
      part.copy(plainAll, o);
      plainAll.writeUInt16BE((first + i) & 0xffff, o + 4);
      if (u !== undefined) plainAll.write(u, o + part.length, 'utf8');
      o += sizes[i]!;
    });
    const cipherAll = plainAll;
    xorKeyStream(k, nonce, offset, cipherAll);
    const out: string[] = [];
    o = 0;
    for (const size of sizes) {
      const work = Buffer.allocUnsafe(64 + HEAD_BYTES + size + TAG_BYTES);
      k.ipad.copy(work, 0);
      work[64] = KIND_BYTE[kind];
      nonce.copy(work, 65);
      work.writeUInt32BE(offset, 77);
      cipherAll.copy(work, 64 + HEAD_BYTES, o, o + size);
      offset += size;
      o += size;
      const inner = hash('sha256', work.subarray(0, 64 + HEAD_BYTES + size), 'buffer');
      hash('sha256', Buffer.concat([k.opad, inner], 96), 'buffer').copy(work, 64 + HEAD_BYTES + size, 0, TAG_BYTES);
      out.push(work.toString('base64url', 64));
    }
    return out;
  };
  return { clicks: (urls, first = 0) => seal('click', urls, first), open: () => seal('open', [undefined], 0)[0]! };
}

/**
 * Seals one token (a message of its own).
 *
 * @example
 * ```ts
 * const token = sealToken(keys, 'click', part, 0, 'https://shop.example/sale');
 * openToken(keys, 'click', token)?.url; // 'https://shop.example/sale'
 * ```
 * `part` comes from {@link encodeMessagePart}; `link`
 * and `url` are set for clicks. Returns the URL-safe token text.
 */
export function sealToken(keys: TokenKeys, kind: TokenKind, part: Buffer, link = 0, url?: string): string {
  const sealer = sealMessage(keys, part);
  return kind === 'open' ? sealer.open() : sealer.clicks([url ?? ''], link)[0]!;
}

const TOKEN_CHARS = /^[A-Za-z0-9_-]+$/;
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Whether the last character carries no unused bits: base64url decoding ignores them, so
 * without this check a token with another last character would decode to the same bytes.
 */
function canonicalEnd(token: string): boolean {
  const rest = token.length % 4;
  if (rest === 1) return false;
  if (rest === 0) return true;
  const v = B64URL.indexOf(token[token.length - 1]!);
  return (v & (rest === 2 ? 0x0f : 0x03)) === 0;
}

/**
 * Opens a token: undefined when it is malformed, of another kind, or not signed by one of the
 * keys (a changed character anywhere fails). Never throws.
 *
 * @example
 * ```ts
 * const data = openToken(keys, 'click', tokenFromUrl);
 * if (data === undefined) return new Response('This link is not valid.', { status: 400 });
 * ```
 */
export function openToken(keys: TokenKeys, kind: TokenKind, token: string): TokenData | undefined {
  if (typeof token !== 'string' || token.length < 24 || token.length > MAX_TOKEN_LENGTH || !TOKEN_CHARS.test(token) || !canonicalEnd(token)) return undefined;
  const raw = Buffer.from(token, 'base64url');
  if (raw.length < HEAD_BYTES + 13 + TAG_BYTES) return undefined;
  if (raw[0] !== KIND_BYTE[kind]) return undefined;
  const signed = raw.subarray(0, raw.length - TAG_BYTES);
  const tag = raw.subarray(raw.length - TAG_BYTES);
  for (const k of keys.all) {
    if (!timingSafeEqual(mac(k, signed), tag)) continue;
    const plain = Buffer.from(raw.subarray(HEAD_BYTES, raw.length - TAG_BYTES));
    xorKeyStream(k, raw.subarray(1, 13), raw.readUInt32BE(13), plain);
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
    const form = p.readUInt8(o++);
    let id: string;
    let messageId: string;
    if (form === 1) {
      const hex = p.toString('hex', o, (o += 16));
      const dLen = p.readUInt8(o++);
      id = `msg_${hex}`;
      messageId = generatedMessageId(hex, p.toString('utf8', o, (o += dLen)));
    } else if (form === 0) {
      const idLen = p.readUInt8(o++);
      id = p.toString('utf8', o, (o += idLen));
      const midLen = p.readUInt8(o++);
      messageId = p.toString('utf8', o, (o += midLen));
    } else {
      return undefined;
    }
    const rLen = p.readUInt16BE(o);
    o += 2;
    const recipient = p.toString('utf8', o, (o += rLen));
    const cLen = p.readUInt8(o++);
    const campaign = p.toString('utf8', o, (o += cLen));
    if (o > p.length) return undefined;
    const out: { -readonly [K in keyof TokenData]: TokenData[K] } = { kind, id, messageId, recipient, issuedAt };
    if (campaign !== '') out.campaign = campaign;
    if (kind === 'click') {
      out.link = link;
      out.url = p.toString('utf8', o);
    }
    return out;
  } catch {
    return undefined;
  }
}
