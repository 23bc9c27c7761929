/**
 * DNS access for the domain checks. Every lookup goes through a {@link DnsResolver}, an
 * interface with the shape of `node:dns/promises`, so tests and hosts can inject their own
 * (`createMemoryResolver` in `mailpush/testing` serves in-memory zones).
 *
 * {@link DnsLookup} wraps a resolver for one run of checks: a hard per-call timeout (a
 * resolver that never answers still gives a result), a cache so a name is asked once, and
 * answers as data (`absent`, `timeout`, `servfail`, `error`) instead of exceptions.
 *
 * @module
 */

import { Resolver } from 'node:dns/promises';
import { configError } from '../errors.js';
import { parseIp, type IpAddress } from './ip.js';

/** An MX record as `node:dns/promises` returns it. */
export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

/**
 * What the domain checks need from DNS; `node:dns/promises` (or a `Resolver` from it) fits.
 * Implementations reject with an error whose `code` is a `node:dns` code (`ENOTFOUND` for
 * NXDOMAIN, `ENODATA` for no records of the type, `ESERVFAIL`, `ETIMEOUT`, ...).
 */
export interface DnsResolver {
  /** TXT records of `name`, each as its character-strings (joined by the caller). */
  resolveTxt(name: string): Promise<readonly (readonly string[])[]>;
  /** MX records of `name`. */
  resolveMx(name: string): Promise<readonly MxRecord[]>;
  /** IPv4 addresses of `name`. */
  resolve4(name: string): Promise<readonly string[]>;
  /** IPv6 addresses of `name`. */
  resolve6(name: string): Promise<readonly string[]>;
  /**
   * PTR records (reverse lookup) of `name`, a reverse-mapping name such as
   * `1.2.0.192.in-addr.arpa` or `...ip6.arpa`, as host names. `node:dns/promises` and its
   * `Resolver` have it.
   *
   * Optional, so that resolvers written for the four forward lookups keep working: without
   * it, SPF `ptr` terms never match (RFC 7208 5.5 treats a failed PTR lookup the same way)
   * and the domain checks say that `ptr` was not evaluated.
   */
  resolvePtr?(name: string): Promise<readonly string[]>;
}

/** Options of {@link createDnsResolver}. */
export interface DnsResolverOptions {
  /** Time for one try of one query, in milliseconds. @default 5000 */
  readonly timeoutMs?: number;
  /** Tries per query. @default 2 */
  readonly tries?: number;
  /** DNS servers to ask (`'1.1.1.1'`, `'[2001:db8::1]:53'`). @default the system's servers */
  readonly servers?: readonly string[];
}

/** Default time one lookup may take before the checks report it as timed out. */
export const DEFAULT_DNS_TIMEOUT_MS = 5000;

/**
 * The default resolver: a `node:dns/promises` `Resolver` with its own timeout and servers.
 *
 * @throws MailError `CONFIG` for invalid options.
 *
 * @example
 * ```ts
 * import { checkDomain, createDnsResolver } from 'mailpush/auth';
 *
 * const resolver = createDnsResolver({ servers: ['1.1.1.1', '8.8.8.8'], timeoutMs: 3000 });
 * const report = await checkDomain({ domain: 'example.com', resolver });
 * ```
 */
export function createDnsResolver(options: DnsResolverOptions = {}): DnsResolver {
  const timeoutMs = options.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw configError('timeoutMs', 'a positive integer (milliseconds)', timeoutMs);
  const tries = options.tries ?? 2;
  if (!Number.isInteger(tries) || tries < 1) throw configError('tries', 'a positive integer', tries);
  const resolver = new Resolver({ timeout: timeoutMs, tries });
  if (options.servers !== undefined) {
    if (!Array.isArray(options.servers) || options.servers.length === 0) {
      throw configError('servers', 'a non-empty array of server addresses', options.servers);
    }
    try {
      resolver.setServers([...options.servers]);
    } catch {
      throw configError('servers', 'IP addresses with optional ports', options.servers);
    }
  }
  return {
    resolveTxt: (name) => resolver.resolveTxt(name),
    resolveMx: (name) => resolver.resolveMx(name),
    resolve4: (name) => resolver.resolve4(name),
    resolve6: (name) => resolver.resolve6(name),
    resolvePtr: (name) => resolver.resolvePtr(name),
  };
}

/** Record types the checks ask for. */
export type DnsRecordType = 'TXT' | 'MX' | 'A' | 'AAAA' | 'PTR';

/** Why a lookup gave no records. */
export type DnsFailureKind =
  /** NXDOMAIN or no records of that type: the record is not published. */
  | 'absent'
  /** No answer within the timeout. */
  | 'timeout'
  /** The name's servers answered SERVFAIL: receivers cannot read it either. */
  | 'servfail'
  /** Anything else: refused, bad response, a malformed name, a broken resolver. */
  | 'error';

/** Result of one lookup, as data. */
export type DnsAnswer<T> =
  | { readonly ok: true; readonly records: readonly T[] }
  | {
      readonly ok: false;
      readonly kind: DnsFailureKind;
      /** True for NXDOMAIN (the name does not exist at all). */
      readonly nxdomain: boolean;
      /** One line for reports: `DNS lookup timed out for _dmarc.example.com (TXT) after 5000 ms`. */
      readonly message: string;
    };

/** Cached, time-limited lookups over a {@link DnsResolver}; create one per run of checks. */
export interface DnsLookup {
  /** TXT records, each joined from its character-strings (RFC 7208 3.3). */
  txt(name: string): Promise<DnsAnswer<string>>;
  /** MX records, exchange names in lower case without a trailing dot. */
  mx(name: string): Promise<DnsAnswer<MxRecord>>;
  /** IPv4 addresses. */
  a(name: string): Promise<DnsAnswer<string>>;
  /** IPv6 addresses. */
  aaaa(name: string): Promise<DnsAnswer<string>>;
  /**
   * PTR records of a reverse-mapping name (`1.2.0.192.in-addr.arpa`; see {@link reverseName}),
   * host names in lower case without a trailing dot. Fails with kind `error` when the
   * resolver has no `resolvePtr`.
   */
  ptr(name: string): Promise<DnsAnswer<string>>;
  /** The resolver can do reverse lookups (it has `resolvePtr`). */
  readonly supportsPtr: boolean;
  /** Number of queries sent to the resolver (cache hits not counted). */
  readonly queryCount: number;
}

const ABSENT_CODES = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN', 'ENONAME']);
const TIMEOUT_CODES = new Set(['ETIMEOUT', 'ETIMEDOUT']);
const SERVFAIL_CODES = new Set(['ESERVFAIL', 'SERVFAIL']);

/**
 * Wraps a resolver with a per-call timeout and a cache.
 *
 * @param resolver - Where queries go.
 * @param timeoutMs - Most time one query may take; later answers are ignored.
 *
 * @example
 * ```ts
 * import { createDnsLookup, createDnsResolver, evaluateSpf } from 'mailpush/auth';
 * const dns = createDnsLookup(createDnsResolver(), 5_000);
 * const spf = await evaluateSpf('example.com', '192.0.2.10', dns); // { result: 'pass' | 'fail' | ..., lookups, ... }
 * ```
 */
export function createDnsLookup(resolver: DnsResolver, timeoutMs: number): DnsLookup {
  const cache = new Map<string, Promise<DnsAnswer<unknown>>>();
  let queryCount = 0;
  const supportsPtr = typeof resolver.resolvePtr === 'function';

  function query<T>(type: DnsRecordType, rawName: string, run: (name: string) => Promise<unknown>, check: (value: unknown) => T[] | undefined): Promise<DnsAnswer<T>> {
    const name = dnsName(rawName);
    const key = `${type} ${name}`;
    const hit = cache.get(key);
    if (hit !== undefined) return hit as Promise<DnsAnswer<T>>;
    const answer = name === undefined ? Promise.resolve(failure<T>('error', false, `${JSON.stringify(rawName.slice(0, 80))} is not a valid DNS name`)) : ask(type, name, run, check);
    cache.set(key, answer);
    return answer;
  }

  async function ask<T>(type: DnsRecordType, name: string, run: (name: string) => Promise<unknown>, check: (value: unknown) => T[] | undefined): Promise<DnsAnswer<T>> {
    queryCount++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Not unref()'ed: the timer lives at most timeoutMs and is what settles a check whose
    // resolver never answers; unref'ed, such a check would let the process exit mid-await.
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    let pending: Promise<unknown>;
    try {
      pending = Promise.resolve(run(name));
    } catch (err) {
      pending = Promise.reject(err);
    }
    // A late rejection after the timeout must not become an unhandled rejection.
    pending.catch(() => undefined);
    try {
      const value = await Promise.race([pending, timedOut]);
      if (value === 'timeout') return failure('timeout', false, `DNS lookup timed out for ${name} (${type}) after ${timeoutMs} ms`);
      const records = check(value);
      if (records === undefined) return failure('error', false, `DNS lookup for ${name} (${type}) returned an unexpected value`);
      if (records.length === 0) return failure('absent', false, `no ${type} record at ${name}`);
      return { ok: true, records };
    } catch (err) {
      const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : '';
      if (ABSENT_CODES.has(code)) {
        const nx = code !== 'ENODATA';
        return failure('absent', nx, nx ? `${name} does not exist (NXDOMAIN)` : `no ${type} record at ${name}`);
      }
      if (TIMEOUT_CODES.has(code)) return failure('timeout', false, `DNS lookup timed out for ${name} (${type})`);
      if (SERVFAIL_CODES.has(code)) return failure('servfail', false, `DNS server failure (SERVFAIL) for ${name} (${type})`);
      const reason = code !== '' ? code : err instanceof Error ? err.message.slice(0, 120) : 'unknown error';
      return failure('error', false, `DNS lookup failed for ${name} (${type}): ${reason}`);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    txt: (name) => query('TXT', name, (n) => resolver.resolveTxt(n), checkTxt),
    mx: (name) => query('MX', name, (n) => resolver.resolveMx(n), checkMx),
    a: (name) => query('A', name, (n) => resolver.resolve4(n), checkStrings),
    aaaa: (name) => query('AAAA', name, (n) => resolver.resolve6(n), checkStrings),
    ptr: (name) =>
      supportsPtr
        ? query('PTR', name, (n) => resolver.resolvePtr!(n), checkHostNames)
        : Promise.resolve(failure<string>('error', false, `PTR lookup of ${dnsName(name) ?? JSON.stringify(name.slice(0, 80))} not possible: the DNS resolver has no resolvePtr`)),
    supportsPtr,
    get queryCount() {
      return queryCount;
    },
  };
}

function failure<T>(kind: DnsFailureKind, nxdomain: boolean, message: string): DnsAnswer<T> {
  return { ok: false, kind, nxdomain, message };
}

function checkTxt(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: string[] = [];
  for (const chunks of value) {
    if (typeof chunks === 'string') out.push(chunks);
    else if (Array.isArray(chunks) && chunks.every((c) => typeof c === 'string')) out.push(chunks.join(''));
    else return undefined;
  }
  return out;
}

function checkMx(value: unknown): MxRecord[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: MxRecord[] = [];
  for (const mx of value) {
    if (typeof mx !== 'object' || mx === null) return undefined;
    const { exchange, priority } = mx as { exchange?: unknown; priority?: unknown };
    if (typeof exchange !== 'string' || typeof priority !== 'number') return undefined;
    out.push({ exchange: exchange.toLowerCase().replace(/\.$/, ''), priority });
  }
  return out;
}

function checkHostNames(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return undefined;
  return (value as string[]).map((v) => v.toLowerCase().replace(/\.$/, ''));
}

function checkStrings(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : undefined;
}

/**
 * A name fit to query: lower case, no trailing dot, labels of 1-63 octets of visible ASCII,
 * at most 253 octets. Underscores are allowed (`_dmarc`, `_domainkey`). Returns undefined
 * otherwise, so hostile record contents never reach the resolver.
 */
export function dnsName(name: string): string | undefined {
  if (typeof name !== 'string') return undefined;
  let n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return undefined;
  n = n.toLowerCase();
  let labelLength = 0;
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c === 0x2e) {
      if (labelLength === 0) return undefined;
      labelLength = 0;
    } else if (c > 0x20 && c < 0x7f) {
      if (++labelLength > 63) return undefined;
    } else {
      return undefined;
    }
  }
  return labelLength === 0 ? undefined : n;
}

const HEX = '0123456789abcdef';

/**
 * The reverse-mapping name of an IP address, for a PTR lookup (RFC 1035 3.5, RFC 3596 2.5):
 * `192.0.2.1` -> `1.2.0.192.in-addr.arpa`, IPv6 as 32 reversed nibbles under `ip6.arpa`.
 * An IPv4-mapped IPv6 address gives its IPv4 name.
 *
 * @returns The name, or undefined when `ip` is not an IP address.
 *
 * @example
 * ```ts
 * reverseName('2001:db8::1'); // '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'
 * ```
 */
export function reverseName(ip: string | IpAddress): string | undefined {
  const address = typeof ip === 'string' ? parseIp(ip) : ip;
  if (address === undefined) return undefined;
  if (address.family === 4) return `${Array.from(address.bytes).reverse().join('.')}.in-addr.arpa`;
  const nibbles: string[] = [];
  for (let k = address.bytes.length - 1; k >= 0; k--) {
    const b = address.bytes[k]!;
    nibbles.push(HEX[b & 15]!, HEX[b >> 4]!);
  }
  return `${nibbles.join('.')}.ip6.arpa`;
}
