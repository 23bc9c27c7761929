/**
 * An in-memory DNS resolver for tests: zones as plain data, answers and errors shaped like
 * `node:dns/promises`, faults per name (timeout, SERVFAIL, a query that never answers), and a
 * log of the queries asked. No network.
 *
 * @module
 */

import type { DnsResolver, MxRecord } from '../auth/dns.js';

/** A fault that a name answers with instead of its records. */
export type MemoryDnsFault =
  /** Rejects at once with `ETIMEOUT`, as `node:dns` does when its own timeout runs out. */
  | 'timeout'
  /** Rejects with `ESERVFAIL`. */
  | 'servfail'
  /** Rejects with `EREFUSED`. */
  | 'refused'
  /** Never settles: exercises the caller's own timeout. */
  | 'hang';

/** The records of one name. */
export interface MemoryZoneRecords {
  /**
   * TXT records. A string is one record, split into 255-octet character-strings as a DNS
   * server would; an array gives the character-strings of one record as they are.
   */
  readonly txt?: readonly (string | readonly string[])[];
  readonly mx?: readonly MxRecord[];
  readonly a?: readonly string[];
  readonly aaaa?: readonly string[];
  /**
   * PTR records (host names), on a reverse-mapping name such as `1.2.0.192.in-addr.arpa`
   * (`reverseName('192.0.2.1')` from `mailpush/auth` builds it).
   */
  readonly ptr?: readonly string[];
  /** An alias: every query of this name is answered from the target's records. */
  readonly cname?: string;
  /** Answer every query of this name with this fault. */
  readonly fault?: MemoryDnsFault;
  /** Answer queries of this name after this many milliseconds. */
  readonly delayMs?: number;
}

/** Zones as data: `{ 'example.com': { txt: ['v=spf1 -all'], mx: [...] } }`. Names are case-insensitive. */
export type MemoryZones = Readonly<Record<string, MemoryZoneRecords>>;

/** One query the memory resolver received. */
export interface MemoryDnsQuery {
  readonly name: string;
  readonly type: 'TXT' | 'MX' | 'A' | 'AAAA' | 'PTR';
}

/** Options of {@link createMemoryResolver}. */
export interface MemoryResolverOptions {
  /** Delay every answer by this many milliseconds. @default 0 */
  readonly delayMs?: number;
  /** Answer every name with this fault (a dead resolver). */
  readonly fault?: MemoryDnsFault;
}

/** A {@link DnsResolver} over in-memory zones, reverse lookups included. */
export interface MemoryResolver extends DnsResolver {
  resolvePtr(name: string): Promise<readonly string[]>;
  /** Every query received, in order. */
  readonly queries: readonly MemoryDnsQuery[];
  /** Adds or replaces the records of a name. */
  set(name: string, records: MemoryZoneRecords): void;
  /** Removes a name. */
  delete(name: string): void;
  /**
   * `dns.resolve(name, rrtype)` shape, for libraries that take such a function as their
   * resolver (mailauth's `resolver` option).
   */
  resolve(name: string, rrtype: string): Promise<unknown>;
}

const MAX_CNAME_CHAIN = 8;

/**
 * Creates a resolver that answers from `zones`. A name with an entry (or with names below
 * it) and no records of the asked type rejects with `ENODATA`; any other name with
 * `ENOTFOUND` (NXDOMAIN).
 *
 * @example
 * ```ts
 * const resolver = createMemoryResolver({
 *   'example.com': { txt: ['v=spf1 include:_spf.example.net -all'], mx: [{ exchange: 'mx.example.com', priority: 10 }] },
 *   '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; rua=mailto:d@example.com'] },
 *   's1._domainkey.example.com': { fault: 'timeout' },
 *   '1.2.0.192.in-addr.arpa': { ptr: ['mail.example.com'] }, // reverse lookup of 192.0.2.1
 * });
 * const report = await checkDomain({ domain: 'example.com', resolver });
 * ```
 */
export function createMemoryResolver(zones: MemoryZones = {}, options: MemoryResolverOptions = {}): MemoryResolver {
  const table = new Map<string, MemoryZoneRecords>();
  for (const [name, records] of Object.entries(zones)) table.set(key(name), records);
  const queries: MemoryDnsQuery[] = [];

  function exists(name: string): boolean {
    if (table.has(name)) return true;
    const suffix = `.${name}`;
    for (const n of table.keys()) if (n.endsWith(suffix)) return true;
    return false;
  }

  async function answer<T>(type: MemoryDnsQuery['type'], syscall: string, rawName: string, pick: (r: MemoryZoneRecords) => readonly T[] | undefined): Promise<T[]> {
    let name = key(rawName);
    queries.push({ name, type });
    const fault = options.fault ?? table.get(name)?.fault;
    const delayMs = table.get(name)?.delayMs ?? options.delayMs ?? 0;
    if (fault === 'hang') return new Promise<never>(() => undefined);
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
    if (fault !== undefined) throw dnsError(syscall, name, fault === 'timeout' ? 'ETIMEOUT' : fault === 'servfail' ? 'ESERVFAIL' : 'EREFUSED');
    for (let hops = 0; ; hops++) {
      const records = table.get(name);
      if (records?.cname !== undefined && hops < MAX_CNAME_CHAIN) {
        name = key(records.cname);
        continue;
      }
      if (records?.fault !== undefined && hops > 0) throw dnsError(syscall, name, records.fault === 'servfail' ? 'ESERVFAIL' : 'ETIMEOUT');
      const list = records === undefined ? undefined : pick(records);
      if (list !== undefined && list.length > 0) return [...list];
      throw dnsError(syscall, rawName, exists(name) ? 'ENODATA' : 'ENOTFOUND');
    }
  }

  const resolver: MemoryResolver = {
    queries,
    set(name, records) {
      table.set(key(name), records);
    },
    delete(name) {
      table.delete(key(name));
    },
    resolveTxt: (name) => answer('TXT', 'queryTxt', name, (r) => r.txt?.map((t) => (typeof t === 'string' ? splitChunks(t) : [...t]))),
    resolveMx: (name) => answer('MX', 'queryMx', name, (r) => r.mx?.map((m) => ({ ...m }))),
    resolve4: (name) => answer('A', 'queryA', name, (r) => r.a),
    resolve6: (name) => answer('AAAA', 'queryAaaa', name, (r) => r.aaaa),
    resolvePtr: (name) => answer('PTR', 'queryPtr', name, (r) => r.ptr),
    resolve(name, rrtype) {
      switch (rrtype.toUpperCase()) {
        case 'TXT':
          return resolver.resolveTxt(name);
        case 'MX':
          return resolver.resolveMx(name);
        case 'A':
          return resolver.resolve4(name);
        case 'AAAA':
          return resolver.resolve6(name);
        case 'PTR':
          return resolver.resolvePtr(name);
        default:
          return Promise.reject(dnsError('query', key(name), 'ENOTIMP'));
      }
    },
  };
  return resolver;
}

function key(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

function splitChunks(text: string): string[] {
  if (text.length <= 255) return [text];
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += 255) chunks.push(text.slice(i, i + 255));
  return chunks;
}

// The shape of node:dns errors (code, syscall, hostname), which resolver users match on.
function dnsError(syscall: string, hostname: string, code: string): Error {
  return Object.assign(new Error(`${syscall} ${code} ${hostname}`), { code, syscall, hostname });
}
