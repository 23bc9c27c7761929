/**
 * VERP (variable envelope return path): a per-job envelope sender such as
 * `bounces+<token>@bounces.example.com`, so that a bounce, which mail systems send to the
 * envelope sender, names the job it is about even when its text names no recipient.
 *
 * The token is lower-case base32 (mail systems may change the case of local parts) of the job
 * id, optionally the recipient, and an HMAC tag: a forged or altered token decodes to nothing.
 *
 * @example
 * ```ts
 * const verp = createVerp({ domain: 'bounces.example.com', secret: process.env.VERP_SECRET! });
 * const returnPath = verp.encode(job.id, 'ann@example.org'); // bounces+mfzw...@bounces.example.com
 * verp.decode(returnPath); // { jobId: job.id, recipient: 'ann@example.org' }
 * ```
 *
 * @module
 */

import { createHmac, timingSafeEqual } from 'node:crypto';
import { MailError, MailErrorCode, configError } from '../errors.js';
import { normalizeRecipient } from './event.js';

/** Options of {@link createVerp}. */
export interface VerpOptions {
  /** Domain of the return-path addresses; its MX must deliver to the bounce mailbox you read. */
  readonly domain: string;
  /** HMAC key (at least 16 bytes). Rotating it invalidates tokens of mail still in flight. */
  readonly secret: string | Uint8Array;
  /** Local part before the separator. @default 'bounces' */
  readonly localPart?: string;
  /** Separator between the local part and the token (`+` or `-`, as your MTA's recipient delimiter). @default '+' */
  readonly separator?: '+' | '-';
  /**
   * Longest local part produced, in octets. RFC 5321 guarantees 64; the recipient is left out
   * of the token when it would not fit (decode then gives the job id only, and the bounce's
   * own text names the recipient). Raise it only if every receiving system you send to takes
   * longer local parts. @default 64
   */
  readonly maxLocalPartLength?: number;
}

/** What a VERP address says. */
export interface VerpData {
  readonly jobId: string;
  /** The recipient, when it fitted in the token. */
  readonly recipient?: string;
}

/** Encoder and decoder of VERP addresses, see {@link createVerp}. */
export interface Verp {
  /** The domain of every address produced. */
  readonly domain: string;
  /**
   * The return-path address for one job (and one recipient, when given and when it fits).
   * Throws a `MAILPUSH_ERR_VALIDATION` MailError when even the job id alone does not fit.
   */
  encode(jobId: string, recipient?: string): string;
  /** The job (and recipient) of a VERP address, or undefined when it is not one of ours or was altered. Total. */
  decode(address: string): VerpData | undefined;
}

/** Bytes of the HMAC tag: 64 bits, forging one takes ~2^63 tries against a server that answers. */
const TAG_BYTES = 8;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) {
  DECODE[ALPHABET.charCodeAt(i)] = i;
  DECODE[ALPHABET.toUpperCase().charCodeAt(i)] = i;
}
/** mailpush's own job ids (`msg_<32 hex>/<n>`) pack into 18-22 bytes instead of 38 or more. */
const NATIVE_JOB_ID = /^msg_([0-9a-f]{32})\/(0|[1-9]\d{0,9})$/;
const FORMAT_TEXT = 0;
const FORMAT_NATIVE = 1;

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let j = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? DECODE[c]! : -1;
    if (v < 0) return undefined;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out[j++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  // Canonical encodings only: leftover bits must be zero, so one address has one token.
  if (bits >= 5 || (value & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}

function packJobId(jobId: string): Buffer {
  const m = NATIVE_JOB_ID.exec(jobId);
  if (m !== null && Number(m[2]) <= 0xffffffff) {
    // The job index as a LEB128 varint: one byte below 128.
    const varint: number[] = [];
    let n = Number(m[2]);
    do {
      const low = n % 128;
      n = Math.floor(n / 128);
      varint.push(n > 0 ? low | 0x80 : low);
    } while (n > 0);
    return Buffer.concat([Buffer.from([FORMAT_NATIVE]), Buffer.from(m[1]!, 'hex'), Buffer.from(varint)]);
  }
  const text = Buffer.from(jobId, 'utf8');
  return Buffer.concat([Buffer.from([FORMAT_TEXT, text.length]), text]);
}

function unpackJobId(payload: Buffer): { jobId: string; rest: Buffer } | undefined {
  if (payload[0] === FORMAT_NATIVE) {
    let n = 0;
    let scale = 1;
    for (let i = 17; i < payload.length && i < 22; i++) {
      const b = payload[i]!;
      n += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) return { jobId: `msg_${payload.subarray(1, 17).toString('hex')}/${n}`, rest: payload.subarray(i + 1) };
    }
    return undefined;
  }
  if (payload[0] === FORMAT_TEXT && payload.length >= 2) {
    const len = payload[1]!;
    if (len === 0 || payload.length < 2 + len) return undefined;
    return { jobId: payload.subarray(2, 2 + len).toString('utf8'), rest: payload.subarray(2 + len) };
  }
  return undefined;
}

/**
 * Creates a VERP encoder/decoder. The mailer uses `encode(job.id, recipient)` as the envelope
 * MAIL FROM of each job; the feedback processor decodes the address a bounce was sent to.
 *
 * @example
 * ```ts
 * import { createVerp } from 'mailpush/feedback';
 *
 * const verp = createVerp({ domain: 'bounces.example.com', secret: process.env.VERP_SECRET! });
 * const returnPath = verp.encode(job.id, 'ann@example.org'); // 'bounces+aeasgr...@bounces.example.com'
 * verp.decode(returnPath)?.jobId; // job.id (and `recipient` when it fitted in the token)
 * ```
 */
export function createVerp(options: VerpOptions): Verp {
  if (typeof options !== 'object' || options === null) throw configError('verp', 'an object', options);
  const domain = typeof options.domain === 'string' ? options.domain.trim().toLowerCase().replace(/\.$/, '') : '';
  if (!/^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/.test(domain)) {
    throw configError('verp.domain', 'a domain name', options.domain);
  }
  const secret = typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : options.secret instanceof Uint8Array ? Buffer.from(options.secret) : undefined;
  if (secret === undefined || secret.length < 16) throw configError('verp.secret', 'a string or bytes of at least 16 bytes', options.secret);
  const localPart = options.localPart ?? 'bounces';
  if (typeof localPart !== 'string' || !/^[A-Za-z0-9._=]{1,32}$/.test(localPart)) throw configError('verp.localPart', 'letters, digits, ".", "_" or "=" (1-32)', localPart);
  const separator = options.separator ?? '+';
  if (separator !== '+' && separator !== '-') throw configError('verp.separator', "'+' or '-'", separator);
  const maxLength = options.maxLocalPartLength ?? 64;
  if (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 40 || maxLength > 255) {
    throw configError('verp.maxLocalPartLength', 'an integer from 40 to 255', maxLength);
  }
  const prefix = `${localPart}${separator}`.toLowerCase();

  const tag = (payload: Uint8Array): Buffer => createHmac('sha256', secret).update('mailpush-verp\0').update(payload).digest().subarray(0, TAG_BYTES);
  const local = (payload: Buffer): string => `${localPart}${separator}${base32(Buffer.concat([payload, tag(payload)]))}`;

  return {
    domain,
    encode(jobId, recipient) {
      if (typeof jobId !== 'string' || jobId === '' || Buffer.byteLength(jobId) > 255 || /[\u0000-\u001f]/.test(jobId)) {
        throw new MailError(`Expected a job id of 1-255 bytes for VERP, got ${describeJob(jobId)}`, { code: MailErrorCode.VALIDATION });
      }
      const job = packJobId(jobId);
      if (recipient !== undefined) {
        const r = normalizeRecipient(recipient);
        if (r !== undefined) {
          const withRecipient = local(Buffer.concat([job, Buffer.from(r, 'utf8')]));
          if (withRecipient.length <= maxLength) return `${withRecipient}@${domain}`;
        }
      }
      const only = local(job);
      if (only.length > maxLength) {
        throw new MailError(`VERP local part for job ${describeJob(jobId)} needs ${only.length} octets, more than maxLocalPartLength ${maxLength}`, {
          code: MailErrorCode.VALIDATION,
        });
      }
      return `${only}@${domain}`;
    },
    decode(address) {
      if (typeof address !== 'string' || address.length > 600) return undefined;
      let a = address.trim();
      const bracket = /<([^<>]*)>/.exec(a);
      if (bracket !== null) a = bracket[1]!.trim();
      const at = a.lastIndexOf('@');
      if (at < 0 || a.slice(at + 1).toLowerCase().replace(/\.$/, '') !== domain) return undefined;
      const lp = a.slice(0, at);
      if (lp.length > 255 || !lp.toLowerCase().startsWith(prefix)) return undefined;
      const bytes = unbase32(lp.slice(prefix.length));
      if (bytes === undefined || bytes.length <= TAG_BYTES + 1) return undefined;
      const payload = Buffer.from(bytes.subarray(0, bytes.length - TAG_BYTES));
      const given = bytes.subarray(bytes.length - TAG_BYTES);
      if (!timingSafeEqual(tag(payload), given)) return undefined;
      const unpacked = unpackJobId(payload);
      if (unpacked === undefined) return undefined;
      if (unpacked.rest.length === 0) return { jobId: unpacked.jobId };
      const recipient = normalizeRecipient(unpacked.rest.toString('utf8'));
      return recipient === undefined ? { jobId: unpacked.jobId } : { jobId: unpacked.jobId, recipient };
    },
  };
}

function describeJob(jobId: unknown): string {
  return typeof jobId === 'string' ? JSON.stringify(jobId.length > 60 ? `${jobId.slice(0, 57)}...` : jobId) : String(jobId);
}
