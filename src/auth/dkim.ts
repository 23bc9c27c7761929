/**
 * DKIM signing (RFC 6376) with RSA-SHA256 and Ed25519-SHA256 (RFC 8463), on node:crypto.
 *
 * Keys are given as data, validated and parsed into KeyObjects once, when the signer is
 * created. Each message is signed by every active key of its From domain (dual RSA and
 * Ed25519 signing is two active keys of one domain), with relaxed/relaxed canonicalization,
 * no `l=` tag, a `t=` timestamp from the clock and an oversigned header list.
 *
 * The event loop only splits the header section and builds the signature fields. The body
 * hash and the private-key operations run on a small pool of worker threads (dkim-pool.ts),
 * or, for bodies under {@link DkimOptions.workerMinBytes} (where handing the message to a
 * worker costs the event loop more than it saves), the body is hashed in place and the key
 * operation runs on libuv's thread pool.
 *
 * @module
 */

import { createHash, createPrivateKey, createPublicKey, KeyObject, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { MailError, MailErrorCode, configError, describeValue } from '../errors.js';
import { knownKeys, rejectUnknownKeys } from '../validation/known-keys.js';
import { domainOf, normalizeDomain } from '../message/address.js';
import { systemClock } from '../types.js';
import type { Clock, MimeSigner, NormalizedMessage } from '../types.js';
import { relaxedBodyHash, relaxedHeader, splitMessage } from './canonicalize.js';
import type { HeaderField } from './canonicalize.js';
import { SigningPool } from './dkim-pool.js';
import type { PoolSignPart } from './dkim-pool.js';

/** Signing algorithms. rsa-sha1 is not one of them: RFC 8301 forbids signing with it. */
export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

/** A private key as accepted by {@link DkimKey.privateKey}. */
export type DkimPrivateKey = string | Buffer | KeyObject;

/** One signing key, published in DNS at `<selector>._domainkey.<domain>`. */
export interface DkimKey {
  /** Signing domain (`d=`). Unicode names are converted to their ASCII form. */
  readonly domain: string;
  /** Selector (`s=`). */
  readonly selector: string;
  /**
   * The private key: PEM (PKCS#8, or PKCS#1 for RSA) as a string or Buffer, DER PKCS#8 as a
   * Buffer, a raw 32-byte Ed25519 seed, or a private KeyObject. Never logged or put into an
   * error message. RSA keys need at least 1024 bits (2048 advised).
   */
  readonly privateKey: DkimPrivateKey;
  /** Algorithm; must match the key type. @default inferred from the key */
  readonly algorithm?: DkimAlgorithm;
  /**
   * Whether this key signs. For rotation, keep the old and the new key of a domain and
   * algorithm and switch which one is active; exactly one per domain and algorithm is.
   * @default true
   */
  readonly active?: boolean;
  /**
   * Header fields to sign instead of {@link DKIM_SIGNED_HEADERS}; must contain `From`. Only
   * fields present in a message are listed in `h=`, and those in {@link DKIM_OVERSIGNED_HEADERS}
   * are listed once more than they occur.
   * @default DKIM_SIGNED_HEADERS
   */
  readonly headers?: readonly string[];
}

/** Options of {@link createDkimSigner} (the mailer's `dkim` option). */
export interface DkimOptions {
  /** Signing keys of every From domain. */
  readonly keys: readonly DkimKey[];
  /**
   * Header fields never signed: use for a relay that rewrites them (Amazon SES replaces
   * `Message-ID` and `Date` on raw sends, so sign those there and the signature breaks).
   * `From` cannot be skipped.
   * @default []
   */
  readonly skipHeaders?: readonly string[];
  /**
   * Worker threads that hash bodies of {@link DkimOptions.workerMinBytes} or more and sign
   * them, started when first needed, stopped after 30 s idle or by {@link DkimSigner.close};
   * they never keep the process alive. `0` signs on the event loop and libuv's thread pool
   * only.
   * @default the number of CPUs (`os.availableParallelism()`), at most 8
   */
  readonly workers?: number;
  /**
   * Smallest body, in bytes, sent to a worker; smaller bodies are hashed on the event loop.
   * Below 64 KiB, handing a body over saves the event loop nothing and costs more CPU in
   * all; from 64 KiB it cuts the event loop's share 2-5x for 3-25% more CPU (bench/dkim.ts).
   * @default 65536
   */
  readonly workerMinBytes?: number;
  /**
   * Time a worker gets to sign one message. A worker that takes longer is terminated, its
   * signatures fail with a retryable TIMEOUT error and a new worker takes its place.
   * @default 30000
   */
  readonly workerTimeoutMs?: number;
}

/** What a configured key looks like, without its private part. */
export interface DkimKeyInfo {
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  readonly active: boolean;
  /** RSA modulus length in bits; 256 for Ed25519. */
  readonly bits: number;
  /** The public key, to compare with what DNS publishes. */
  readonly publicKey: KeyObject;
  /** The TXT record to publish at `<selector>._domainkey.<domain>`, see {@link dkimDnsRecord}. */
  readonly dnsRecord: string;
}

/** Signs composed messages of one From domain. */
export interface MessageSigner extends MimeSigner {
  /** The keys that sign, in the order of their DKIM-Signature fields. */
  readonly keys: readonly DkimKeyInfo[];
  /**
   * Computes the DKIM-Signature header fields of a complete message (every header final),
   * each ending with CRLF, to be placed above the message's own header fields.
   */
  signatureHeaders(raw: Buffer): Promise<string>;
  /** The message with its DKIM-Signature fields prepended. */
  sign(raw: Buffer): Promise<Buffer>;
}

/** The signer of a mailer: picks the keys that sign a message. */
export interface DkimSigner {
  /** Every configured key, active or not. */
  readonly keys: readonly DkimKeyInfo[];
  /**
   * The signer for a message: the active keys of the From domain, or else of its closest
   * parent domain that has keys (`news.example.com` is signed with `example.com` keys, which
   * DMARC relaxed alignment accepts). `undefined` when no key covers the From domain: the
   * message goes out unsigned.
   */
  signerFor(message: Pick<NormalizedMessage, 'from'>): MessageSigner | undefined;
  /**
   * Stops the signing workers; signatures in flight on them fail with CLOSED. Later
   * signatures are made on the event loop and libuv's thread pool. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Header fields signed by default, in `h=` order: RFC 6376 5.4.1 (with Sender and every
 * Resent field), then Message-ID, MIME-Version, Content-Type, List-Unsubscribe-Post (RFC
 * 8058), Feedback-ID (Gmail) and CFBL-Address/CFBL-Feedback-ID (RFC 9477). Only fields
 * present in a message are signed, besides oversigning. Return-Path, Received, Comments and
 * Keywords are never signed: relays add or change them.
 */
export const DKIM_SIGNED_HEADERS: readonly string[] = Object.freeze([
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'To',
  'Cc',
  'Resent-Date',
  'Resent-From',
  'Resent-Sender',
  'Resent-To',
  'Resent-Cc',
  'Resent-Message-ID',
  'In-Reply-To',
  'References',
  'List-Id',
  'List-Help',
  'List-Unsubscribe',
  'List-Subscribe',
  'List-Post',
  'List-Owner',
  'List-Archive',
  'Message-ID',
  'MIME-Version',
  'Content-Type',
  'List-Unsubscribe-Post',
  'Feedback-ID',
  'CFBL-Address',
  'CFBL-Feedback-ID',
]);

/**
 * Header fields listed in `h=` once more than they occur (RFC 6376 5.4.2, 8.15), so that a
 * copy added after signing (a second From or Subject on top, a List-Unsubscribe where there
 * was none) breaks the signature. An absent one is listed once.
 */
export const DKIM_OVERSIGNED_HEADERS: readonly string[] = Object.freeze([
  'From',
  'Reply-To',
  'Subject',
  'Date',
  'To',
  'Cc',
  'List-Id',
  'List-Help',
  'List-Unsubscribe',
  'List-Subscribe',
  'List-Post',
  'List-Owner',
  'List-Archive',
  'List-Unsubscribe-Post',
  'Feedback-ID',
]);

/** Fields that relays add or rewrite, or that would make a signature cover itself. */
const NEVER_SIGNED: ReadonlySet<string> = new Set(['return-path', 'received', 'comments', 'keywords', 'dkim-signature', 'bcc']);
const OVERSIGNED: ReadonlySet<string> = new Set(DKIM_OVERSIGNED_HEADERS.map((h) => h.toLowerCase()));
const DEFAULT_HEADERS: readonly string[] = DKIM_SIGNED_HEADERS.map((h) => h.toLowerCase());
// Header names as they are used in practice. RFC 5322 would allow `;` and `=` too, which
// would end the h= tag and start one of the name's choosing.
const FIELD_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,75}$/;
// RFC 6376 3.1: a selector is a sub-domain (dot-separated LDH labels); underscores are let
// through because DNS publishes them fine and some providers use them.
const SELECTOR_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;
const MIN_RSA_BITS = 1024;
// The DER prefix of a PKCS#8 Ed25519 private key; a raw 32-byte seed follows it.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const LINE_WIDTH = 76;
const MAX_WORKERS = 8;
const DEFAULT_WORKER_MIN_BYTES = 64 * 1024;
const DEFAULT_WORKER_TIMEOUT_MS = 30_000;
// Stands for the body hash (base64 of SHA-256: always 44 characters) while the fields are
// built on the event loop; '#' is never part of a DKIM-Signature field we write.
const BODY_HASH_PLACEHOLDER = '#'.repeat(44);

interface ResolvedKey {
  readonly info: DkimKeyInfo;
  readonly key: KeyObject;
  /** Index of the key in the signing pool's key list. */
  readonly index: number;
  /** Lower-case names to sign, in order. */
  readonly headers: readonly string[];
}

/** Config error about a private key that never shows the key itself. */
function keyError(option: string, expected: string, got: string, cause?: unknown): MailError {
  return new MailError(`Expected \`${option}\` to be ${expected}, got ${got}`, {
    code: MailErrorCode.CONFIG,
    option,
    ...(cause === undefined ? {} : { cause }),
  });
}

function describeKeyInput(value: unknown): string {
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (value instanceof Uint8Array) return `${Buffer.isBuffer(value) ? 'a Buffer' : 'a Uint8Array'} of ${value.byteLength} bytes`;
  return describeValue(value);
}

function parsePrivateKey(value: unknown, option: string): KeyObject {
  const expected = 'an RSA or Ed25519 private key (PEM, DER PKCS#8, a 32-byte Ed25519 seed, or a private KeyObject)';
  if (value instanceof KeyObject) {
    if (value.type !== 'private') throw keyError(option, expected, `a ${value.type} KeyObject`);
    return value;
  }
  if (typeof value === 'string') {
    if (!value.includes('-----BEGIN')) throw keyError(option, expected, `${describeKeyInput(value)} without a PEM header`);
    try {
      return createPrivateKey({ key: value, format: 'pem' });
    } catch (err) {
      throw keyError(option, expected, `${describeKeyInput(value)} that does not parse as a private key (${(err as Error).message})`, err);
    }
  }
  if (value instanceof Uint8Array) {
    const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    const attempts: Parameters<typeof createPrivateKey>[0][] =
      buf.length === 32
        ? [{ key: Buffer.concat([ED25519_PKCS8_PREFIX, buf]), format: 'der', type: 'pkcs8' }]
        : buf.includes('-----BEGIN')
          ? [{ key: buf, format: 'pem' }]
          : [
              { key: buf, format: 'der', type: 'pkcs8' },
              { key: buf, format: 'der', type: 'pkcs1' },
            ];
    let last: unknown;
    for (const attempt of attempts) {
      try {
        return createPrivateKey(attempt);
      } catch (err) {
        last = err;
      }
    }
    throw keyError(option, expected, `${describeKeyInput(value)} that does not parse as a private key (${(last as Error).message})`, last);
  }
  throw keyError(option, expected, describeKeyInput(value));
}

function algorithmOf(key: KeyObject, requested: unknown, option: string): { algorithm: DkimAlgorithm; bits: number } {
  if (requested !== undefined && requested !== 'rsa-sha256' && requested !== 'ed25519-sha256') {
    const why = typeof requested === 'string' && /sha-?1\b/i.test(requested) ? ' (SHA-1 must not be used for signing, RFC 8301)' : '';
    throw new MailError(`Expected \`${option}.algorithm\` to be 'rsa-sha256' or 'ed25519-sha256', got ${describeValue(requested)}${why}`, {
      code: MailErrorCode.CONFIG,
      option: `${option}.algorithm`,
    });
  }
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) {
      throw keyError(`${option}.privateKey`, `an RSA key of at least ${MIN_RSA_BITS} bits (RFC 8301; 2048 advised)`, `a ${bits}-bit RSA key`);
    }
    if (requested === 'ed25519-sha256') throw keyError(`${option}.algorithm`, "'rsa-sha256' for an RSA key", "'ed25519-sha256'");
    return { algorithm: 'rsa-sha256', bits };
  }
  if (type === 'ed25519') {
    if (requested === 'rsa-sha256') throw keyError(`${option}.algorithm`, "'ed25519-sha256' for an Ed25519 key", "'rsa-sha256'");
    return { algorithm: 'ed25519-sha256', bits: 256 };
  }
  throw keyError(`${option}.privateKey`, 'an RSA or Ed25519 private key', `a ${String(type)} key`);
}

function checkHeaderNames(value: unknown, option: string, allowEmpty: boolean): string[] {
  if (!Array.isArray(value) || (!allowEmpty && value.length === 0) || value.length > 200) {
    throw configError(option, allowEmpty ? 'an array of header names' : 'a non-empty array of header names', value);
  }
  const seen = new Set<string>();
  value.forEach((name: unknown, i) => {
    if (typeof name !== 'string' || !FIELD_NAME.test(name)) throw configError(`${option}[${i}]`, 'a header field name', name);
    const lower = name.toLowerCase();
    if (seen.has(lower)) throw configError(`${option}[${i}]`, 'a header name not listed before', name);
    seen.add(lower);
  });
  return [...seen];
}

function resolveKeyHeaders(value: unknown, option: string, skip: ReadonlySet<string>): string[] {
  let names: readonly string[] = DEFAULT_HEADERS;
  if (value !== undefined) {
    const given = checkHeaderNames(value, option, false);
    given.forEach((name, i) => {
      if (NEVER_SIGNED.has(name)) throw configError(`${option}[${i}]`, 'a header that relays leave alone (not Return-Path, Received, Comments, Keywords, Bcc or DKIM-Signature)', name);
    });
    if (!given.includes('from')) throw configError(option, 'a list that contains From (RFC 6376 5.4)', value);
    names = given;
  }
  return names.filter((name) => !skip.has(name));
}

function resolveSelector(value: unknown, option: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200 || !value.split('.').every((label) => SELECTOR_LABEL.test(label))) {
    throw configError(option, 'a DNS selector (letters, digits, hyphens, dots)', value);
  }
  return value;
}

function resolveDomain(value: unknown, option: string): string {
  if (typeof value !== 'string' || value === '') throw configError(option, 'a domain name', value);
  try {
    return normalizeDomain(value);
  } catch (err) {
    throw new MailError(`Expected \`${option}\` to be a domain name, got ${describeValue(value)} (${(err as Error).message})`, {
      code: MailErrorCode.CONFIG,
      option,
      cause: err,
    });
  }
}

const SELF_TEST_DATA = Buffer.from('mailpush DKIM key self-test');

/**
 * Signs and verifies once with the key: a PEM whose private numbers were damaged (a copy and
 * paste gone wrong) still parses, and would otherwise sign every message with a signature
 * that never verifies.
 */
function selfTest(key: KeyObject, publicKey: KeyObject, algorithm: DkimAlgorithm, option: string): void {
  let ok = false;
  try {
    const hash = algorithm === 'rsa-sha256' ? 'sha256' : null;
    ok = cryptoVerify(hash, SELF_TEST_DATA, publicKey, cryptoSign(hash, SELF_TEST_DATA, key));
  } catch {
    ok = false;
  }
  if (!ok) throw keyError(option, 'a private key that can sign', 'a key whose signatures do not verify with its own public key (damaged key data)');
}

/** Base64 of the public key as DKIM publishes it: SPKI DER for RSA, the raw 32 bytes for Ed25519 (RFC 8463). */
function publicKeyData(publicKey: KeyObject): { k: 'rsa' | 'ed25519'; p: string } {
  if (publicKey.asymmetricKeyType === 'ed25519') {
    const jwk = publicKey.export({ format: 'jwk' });
    return { k: 'ed25519', p: Buffer.from(String(jwk.x), 'base64url').toString('base64') };
  }
  if (publicKey.asymmetricKeyType === 'rsa') return { k: 'rsa', p: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') };
  throw configError('key', 'an RSA or Ed25519 key', `a ${String(publicKey.asymmetricKeyType)} key`);
}

/**
 * The DNS TXT record value that publishes a key: `v=DKIM1; k=rsa; p=<base64 SPKI>` or, for
 * Ed25519, `v=DKIM1; k=ed25519; p=<base64 of the raw 32-byte key>` (RFC 8463 4.2). Takes a
 * configured key, a private or public KeyObject, or a PEM key. Records longer than 255
 * bytes (RSA 2048) are published as several strings of one TXT record; DNS tools split them.
 *
 * @example
 * ```ts
 * dkimDnsRecord({ domain: 'example.com', selector: 's1', privateKey: pem })
 * // 'v=DKIM1; k=rsa; p=MIIBIjANBgkqh...'
 * ```
 */
export function dkimDnsRecord(key: DkimKey | DkimPrivateKey): string {
  let publicKey: KeyObject;
  const source = typeof key === 'object' && !(key instanceof KeyObject) && !(key instanceof Uint8Array) ? key.privateKey : key;
  if (source instanceof KeyObject && source.type === 'public') publicKey = source;
  else if (typeof source === 'string' && /-----BEGIN (?:RSA )?PUBLIC KEY-----/.test(source)) publicKey = createPublicKey(source);
  else publicKey = createPublicKey(parsePrivateKey(source, 'key'));
  const { k, p } = publicKeyData(publicKey);
  return `v=DKIM1; k=${k}; p=${p}`;
}

// Typed as records of every option so that adding one to DkimOptions or DkimKey without listing it here fails to compile.
const OPTION_KEYS = knownKeys(Object.keys({ keys: true, skipHeaders: true, workers: true, workerMinBytes: true, workerTimeoutMs: true } satisfies Record<keyof DkimOptions, true>));
const KEY_KEYS = knownKeys(Object.keys({ domain: true, selector: true, privateKey: true, algorithm: true, active: true, headers: true } satisfies Record<keyof DkimKey, true>));

function resolveKeys(options: unknown): { keys: ResolvedKey[]; skip: ReadonlySet<string> } {
  if (typeof options !== 'object' || options === null) throw configError('dkim', 'an object with `keys`', options);
  rejectUnknownKeys(options, OPTION_KEYS, 'DKIM option', MailErrorCode.CONFIG, 'dkim');
  const o = options as DkimOptions;
  if (!Array.isArray(o.keys) || o.keys.length === 0 || o.keys.length > 1000) throw configError('dkim.keys', 'a non-empty array of keys', o.keys);
  const skipList = o.skipHeaders === undefined ? [] : checkHeaderNames(o.skipHeaders, 'dkim.skipHeaders', true);
  if (skipList.includes('from')) throw configError('dkim.skipHeaders', 'a list without From (every signature covers From)', o.skipHeaders);
  const skip = new Set(skipList);
  const keys: ResolvedKey[] = [];
  const selectors = new Map<string, number>();
  const active = new Map<string, number[]>();
  o.keys.forEach((k: unknown, i) => {
    const option = `dkim.keys[${i}]`;
    if (typeof k !== 'object' || k === null) throw configError(option, 'an object with domain, selector and privateKey', k);
    rejectUnknownKeys(k, KEY_KEYS, 'DKIM key option', MailErrorCode.CONFIG, option);
    const spec = k as DkimKey;
    const domain = resolveDomain(spec.domain, `${option}.domain`);
    const selector = resolveSelector(spec.selector, `${option}.selector`);
    if (spec.active !== undefined && typeof spec.active !== 'boolean') throw configError(`${option}.active`, 'a boolean', spec.active);
    const isActive = spec.active ?? true;
    const where = `${selector.toLowerCase()}._domainkey.${domain}`;
    const previous = selectors.get(where);
    if (previous !== undefined) throw configError(`${option}.selector`, `a selector not used by another key of ${domain} (dkim.keys[${previous}] has it)`, selector);
    selectors.set(where, i);
    const key = parsePrivateKey(spec.privateKey, `${option}.privateKey`);
    const { algorithm, bits } = algorithmOf(key, spec.algorithm, option);
    const headers = resolveKeyHeaders(spec.headers, `${option}.headers`, skip);
    const publicKey = createPublicKey(key);
    selfTest(key, publicKey, algorithm, `${option}.privateKey`);
    const { k: kTag, p } = publicKeyData(publicKey);
    const info: DkimKeyInfo = Object.freeze({ domain, selector, algorithm, active: isActive, bits, publicKey, dnsRecord: `v=DKIM1; k=${kTag}; p=${p}` });
    keys.push({ info, key, headers, index: keys.length });
    if (isActive) {
      const group = `${domain} ${algorithm}`;
      const list = active.get(group) ?? [];
      list.push(i);
      active.set(group, list);
    }
  });
  for (const [group, list] of active) {
    if (list.length > 1) {
      const [domain, algorithm] = group.split(' ');
      throw configError(
        `dkim.keys[${list[1]}].active`,
        `false: dkim.keys[${list[0]}] is already the active ${algorithm} key of ${domain} (one active key per domain and algorithm; set \`active: false\` on the other during rotation)`,
        true,
      );
    }
  }
  const groups = new Set(keys.map((k) => `${k.info.domain} ${k.info.algorithm}`));
  for (const group of groups) {
    if (!active.has(group)) {
      const [domain, algorithm] = group.split(' ');
      const first = keys.findIndex((k) => `${k.info.domain} ${k.info.algorithm}` === group);
      throw configError(`dkim.keys[${first}].active`, `true on one ${algorithm} key of ${domain} (exactly one active key per domain and algorithm)`, false);
    }
  }
  return { keys, skip };
}

function resolvePoolAccess(options: DkimOptions, keys: readonly ResolvedKey[]): PoolAccess {
  const { workers = Math.min(availableParallelism(), MAX_WORKERS), workerMinBytes = DEFAULT_WORKER_MIN_BYTES, workerTimeoutMs = DEFAULT_WORKER_TIMEOUT_MS } = options;
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) throw configError('dkim.workers', 'an integer from 0 to 64', workers);
  if (!Number.isInteger(workerMinBytes) || workerMinBytes < 0) throw configError('dkim.workerMinBytes', 'an integer >= 0', workerMinBytes);
  if (!Number.isInteger(workerTimeoutMs) || workerTimeoutMs < 1 || workerTimeoutMs > 2 ** 31 - 1) {
    throw configError('dkim.workerTimeoutMs', 'an integer from 1 to 2147483647', workerTimeoutMs);
  }
  // The pool starts no thread until a body of workerMinBytes comes to be signed.
  const pool = workers === 0 ? undefined : new SigningPool({ keys: keys.map((k) => k.key), size: workers, timeoutMs: workerTimeoutMs });
  return { pool, minBytes: workerMinBytes };
}

/** The `h=` list of one key for one message: present fields, oversigned ones once more. */
function headerList(names: readonly string[], counts: ReadonlyMap<string, number>): string[] {
  const h: string[] = [];
  for (const name of names) {
    const n = (counts.get(name) ?? 0) + (OVERSIGNED.has(name) ? 1 : 0);
    for (let i = 0; i < n; i++) h.push(name);
  }
  return h;
}

/**
 * The canonical header data for `h`: each name takes the next instance of the field from
 * the bottom (RFC 6376 5.4.2); a name with no instance left (oversigning) adds nothing.
 */
function canonicalHeaders(h: readonly string[], byName: ReadonlyMap<string, readonly HeaderField[]>): string {
  const used = new Map<string, number>();
  let out = '';
  for (const name of h) {
    const instances = byName.get(name);
    const taken = used.get(name) ?? 0;
    if (instances === undefined || taken >= instances.length) continue;
    used.set(name, taken + 1);
    out += `${relaxedHeader(instances[instances.length - 1 - taken]!.line)}\r\n`;
  }
  return out;
}

/** Folds tag tokens into a header field of lines of at most LINE_WIDTH characters where it can. */
function fold(start: string, tokens: readonly string[]): string {
  let out = start;
  let lineLength = start.length;
  for (const token of tokens) {
    const glue = token.startsWith(' ') ? ' ' : '';
    const text = glue === '' ? token : token.slice(1);
    if (lineLength + glue.length + text.length > LINE_WIDTH && lineLength > 1) {
      out += `\r\n ${text}`;
      lineLength = 1 + text.length;
    } else {
      out += glue + text;
      lineLength += glue.length + text.length;
    }
  }
  return out;
}

function signatureTokens(info: DkimKeyInfo, timestamp: number, h: readonly string[], bodyHash: string): string[] {
  const tokens = [
    'v=1;',
    ` a=${info.algorithm};`,
    ' c=relaxed/relaxed;',
    ` d=${info.domain};`,
    ` s=${info.selector};`,
    ` t=${timestamp};`,
  ];
  // h= may fold after each colon (FWS is allowed there and verifiers strip it).
  h.forEach((name, i) => {
    const piece = `${name}${i === h.length - 1 ? ';' : ':'}`;
    tokens.push(i === 0 ? ` h=${piece}` : piece);
  });
  tokens.push(` bh=${bodyHash};`, ' b=');
  return tokens;
}

function signAsync(algorithm: DkimAlgorithm, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, signature: Buffer): void => {
      if (err) reject(new MailError(`DKIM signing failed: ${err.message}`, { code: MailErrorCode.INTERNAL, cause: err }));
      else resolve(signature);
    };
    // RFC 8463 3: Ed25519 signs the SHA-256 hash of the canonical data (PureEdDSA over the
    // 32-byte digest), RSA signs the data with PKCS#1 v1.5 and SHA-256.
    if (algorithm === 'ed25519-sha256') cryptoSign(null, createHash('sha256').update(data).digest(), key, done);
    else cryptoSign('sha256', data, key, done);
  });
}

/** How a signer of one domain reaches the worker pool. */
interface PoolAccess {
  readonly pool: SigningPool | undefined;
  readonly minBytes: number;
}

class DomainSigner implements MessageSigner {
  readonly keys: readonly DkimKeyInfo[];

  constructor(
    private readonly resolved: readonly ResolvedKey[],
    private readonly clock: Pick<Clock, 'now'>,
    private readonly workers: PoolAccess,
  ) {
    this.keys = Object.freeze(resolved.map((k) => k.info));
  }

  async signatureHeaders(raw: Buffer): Promise<string> {
    if (!Buffer.isBuffer(raw)) throw new MailError('DKIM signing needs the message as a Buffer', { code: MailErrorCode.INTERNAL });
    const { headers, body } = splitMessage(raw);
    const byName = new Map<string, HeaderField[]>();
    const counts = new Map<string, number>();
    for (const header of headers) {
      const list = byName.get(header.key);
      if (list === undefined) byName.set(header.key, [header]);
      else list.push(header);
      counts.set(header.key, (counts.get(header.key) ?? 0) + 1);
    }
    if (!counts.has('from')) throw new MailError('Cannot DKIM-sign a message without a From header field', { code: MailErrorCode.VALIDATION });
    const timestamp = Math.floor(this.clock.now() / 1000);
    const { pool, minBytes } = this.workers;
    if (pool !== undefined && pool.open && body.length >= minBytes) return this.onWorker(pool, body, byName, counts, timestamp);
    const bodyHash = relaxedBodyHash(body);
    const fields = await Promise.all(
      this.resolved.map(async ({ info, key, headers: names }) => {
        const h = headerList(names, counts);
        const unsigned = fold('DKIM-Signature: ', signatureTokens(info, timestamp, h, bodyHash));
        const data = Buffer.from(canonicalHeaders(h, byName) + relaxedHeader(unsigned), 'latin1');
        const signature = (await signAsync(info.algorithm, data, key)).toString('base64');
        return `${unsigned}${foldSignature(signature, lastLineLength(unsigned))}\r\n`;
      }),
    );
    return fields.join('');
  }

  /**
   * Builds each field with a placeholder where the body hash goes (its length is fixed, so
   * folding does not change), and lets a worker hash the body and sign `before + bh + after`.
   */
  private async onWorker(
    pool: SigningPool,
    body: Buffer,
    byName: ReadonlyMap<string, readonly HeaderField[]>,
    counts: ReadonlyMap<string, number>,
    timestamp: number,
  ): Promise<string> {
    const unsignedFields: string[] = [];
    const parts: PoolSignPart[] = [];
    for (const { info, index, headers: names } of this.resolved) {
      const h = headerList(names, counts);
      const unsigned = fold('DKIM-Signature: ', signatureTokens(info, timestamp, h, BODY_HASH_PLACEHOLDER));
      const data = canonicalHeaders(h, byName) + relaxedHeader(unsigned);
      // The DKIM-Signature field comes last in the data, so its placeholder is the last one.
      const at = data.lastIndexOf(BODY_HASH_PLACEHOLDER);
      unsignedFields.push(unsigned);
      parts.push({ key: index, ed25519: info.algorithm === 'ed25519-sha256', before: data.slice(0, at), after: data.slice(at + BODY_HASH_PLACEHOLDER.length) });
    }
    const { bodyHash, signatures } = await pool.sign(body, parts);
    let out = '';
    unsignedFields.forEach((field, i) => {
      const unsigned = field.replace(BODY_HASH_PLACEHOLDER, bodyHash);
      out += `${unsigned}${foldSignature(signatures[i]!, lastLineLength(unsigned))}\r\n`;
    });
    return out;
  }

  async sign(raw: Buffer): Promise<Buffer> {
    const fields = await this.signatureHeaders(raw);
    return Buffer.concat([Buffer.from(fields, 'latin1'), raw]);
  }
}

function lastLineLength(text: string): number {
  return text.length - (text.lastIndexOf('\n') + 1);
}

/** Folds the base64 signature after `b=`; whitespace inside b= is ignored by verifiers. */
function foldSignature(signature: string, used: number): string {
  let out = '';
  let pos = 0;
  let room = Math.max(LINE_WIDTH - used, 8);
  while (pos < signature.length) {
    out += (pos === 0 ? '' : '\r\n ') + signature.slice(pos, pos + room);
    pos += room;
    room = LINE_WIDTH - 1;
  }
  return out;
}

/**
 * Creates the DKIM signer: validates every key (CONFIG errors name the option, never the key
 * material), parses each once into a KeyObject and groups the active keys by domain.
 *
 * Refused: RSA keys under 1024 bits, any SHA-1 algorithm, keys that do not parse, a key type
 * that does not match `algorithm`, two keys with one selector in one domain, and a domain
 * and algorithm without exactly one active key.
 *
 * @param options - The keys, see {@link DkimOptions}.
 * @param clock - Source of the `t=` timestamp. @default the system clock
 * @example
 * ```ts
 * const dkim = createDkimSigner({ keys: [
 *   { domain: 'example.com', selector: 'rsa2026', privateKey: rsaPem },
 *   { domain: 'example.com', selector: 'ed2026', privateKey: ed25519Pem },
 * ] });
 * const signer = dkim.signerFor(message); // both keys: dual RSA + Ed25519 signatures
 * const signed = await signer?.sign(raw);
 * ```
 */
export function createDkimSigner(options: DkimOptions, clock: Pick<Clock, 'now'> = systemClock): DkimSigner {
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') throw configError('clock', 'an object with now()', clock);
  const { keys } = resolveKeys(options);
  const workers = resolvePoolAccess(options, keys);
  const byDomain = new Map<string, ResolvedKey[]>();
  for (const key of keys) {
    if (!key.info.active) continue;
    const list = byDomain.get(key.info.domain);
    if (list === undefined) byDomain.set(key.info.domain, [key]);
    else list.push(key);
  }
  const signers = new Map<string, MessageSigner>();
  for (const [domain, list] of byDomain) signers.set(domain, new DomainSigner(list, clock, workers));
  const infos = Object.freeze(keys.map((k) => k.info));
  return {
    keys: infos,
    signerFor(message) {
      // Normalized messages have canonical domains; a hand-built one may not (case, root dot).
      let domain = domainOf(message.from.address).toLowerCase();
      if (domain.endsWith('.')) domain = domain.slice(0, -1);
      for (;;) {
        const signer = signers.get(domain);
        if (signer !== undefined) return signer;
        const dot = domain.indexOf('.');
        if (dot < 0) return undefined;
        domain = domain.slice(dot + 1);
      }
    },
    close: () => workers.pool?.close() ?? Promise.resolve(),
  };
}
