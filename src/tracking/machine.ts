/**
 * Machine activity: opens and clicks that are not a person reading. Image proxies fetch the
 * pixel ahead of (or instead of) the reader, and security gateways fetch every link of a
 * message before the recipient sees it. Such hits are still reported, flagged `machineOpen` /
 * `machineClick` with the rule that fired, and counted apart from human activity.
 *
 * The rules are data ({@link DEFAULT_MACHINE_RULES}): an ordered table of user-agent patterns,
 * address ranges and methods, which `createTrackingHandler({ machineRules })` replaces or
 * extends. Two timing rules come on top, with the handler's own memory: `soon-after-delivery`
 * (a hit within `scanWindowMs` of the moment the message was handed to the transport) and
 * `link-burst` (a second link of one message fetched within `burstWindowMs` of the previous one;
 * the first click of a burst can only be flagged by another rule).
 *
 * Opens are weak evidence: Apple Mail Privacy Protection fetches every pixel, Gmail caches it.
 * Nothing in mailpush suppresses, sunsets or re-engages a recipient on opens, and neither should
 * host logic built on these events (COMPLIANCE.md L-4).
 *
 * @module
 */

import { isIP } from 'node:net';
import { configError } from '../errors.js';

/**
 * One request to the tracking handler, as the rules see it.
 *
 * @example
 * ```ts
 * const hit: TrackingHit = { kind: 'open', method: 'GET', userAgent: 'Mozilla/5.0', ip: '17.58.1.2' };
 * ```
 */
export interface TrackingHit {
  readonly kind: 'open' | 'click';
  /** HTTP method, upper case. */
  readonly method: string;
  /** `User-Agent`, or undefined when absent. */
  readonly userAgent: string | undefined;
  /** Client address, when known (see the handler's `clientIp`). */
  readonly ip: string | undefined;
}

/**
 * One rule of the machine-activity table. Every condition given must hold.
 *
 * @example
 * ```ts
 * const rule: MachineRule = { id: 'corp-gateway', applies: 'click', userAgent: /AcmeGateway/, ipRanges: ['198.51.100.0/24'] };
 * createTrackingHandler({ mailer, machineRules: [rule, ...DEFAULT_MACHINE_RULES] });
 * ```
 */
export interface MachineRule {
  /** Stable id, reported as `machineRule`. */
  readonly id: string;
  /** Which hits it looks at. */
  readonly applies: 'open' | 'click' | 'both';
  /** Matches the user agent (a missing user agent never matches a pattern). */
  readonly userAgent?: RegExp;
  /** The user agent is absent or empty. */
  readonly noUserAgent?: boolean;
  /** Client address ranges in CIDR notation (IPv4 or IPv6). */
  readonly ipRanges?: readonly string[];
  /** HTTP methods (upper case). */
  readonly methods?: readonly string[];
  /** Why this rule exists, for readers of the table. */
  readonly note?: string;
}

/**
 * The default rules, in order (the first that matches is reported).
 *
 * @example
 * ```ts
 * // Also treat Apple iCloud Private Relay egress ranges as proxy opens:
 * createTrackingHandler({ mailer, machineRules: [...DEFAULT_MACHINE_RULES, { id: 'icloud-relay', applies: 'open', ipRanges: relayRanges }] });
 * ```
 * Sources: Apple Mail Privacy
 * Protection fetches with the bare user agent `Mozilla/5.0` from Apple's own 17.0.0.0/8 block;
 * Gmail's proxy says `GoogleImageProxy` (and fetches from 66.249.80.0/20 and 66.102.0.0/20);
 * Yahoo's says `YahooMailProxy`. Link scanners name themselves or use script clients.
 */
export const DEFAULT_MACHINE_RULES: readonly MachineRule[] = Object.freeze([
  { id: 'head-request', applies: 'both', methods: ['HEAD'], note: 'Browsers GET; a HEAD is a link checker.' },
  { id: 'no-user-agent', applies: 'both', noUserAgent: true, note: 'Mail clients and browsers always send one.' },
  { id: 'apple-mpp-agent', applies: 'open', userAgent: /^Mozilla\/5\.0$/, note: 'Apple Mail Privacy Protection prefetch (bare user agent).' },
  { id: 'apple-mpp-address', applies: 'open', ipRanges: ['17.0.0.0/8'], note: "Apple Mail Privacy Protection prefetch from Apple's address block." },
  { id: 'gmail-image-proxy', applies: 'open', userAgent: /GoogleImageProxy/i, note: 'Gmail fetches and caches images through its proxy: not one open per view.' },
  { id: 'gmail-image-proxy-address', applies: 'open', ipRanges: ['66.249.80.0/20', '66.102.0.0/20'], note: "Google's image proxy ranges." },
  { id: 'yahoo-image-proxy', applies: 'open', userAgent: /YahooMailProxy/i, note: "Yahoo Mail's image proxy." },
  {
    id: 'scanner-agent',
    applies: 'both',
    userAgent:
      /bot\b|crawler|spider|scanner|preview|proofpoint|mimecast|barracuda|forcepoint|safelinks|urldefense|trendmicro|symantec|fortiguard|sophos|checkpoint|cisco|ironport|zscaler|appriver|headlesschrome|phantomjs|python-|curl\/|wget\/|go-http-client|java\/|okhttp|libwww|httpclient|axios\/|node-fetch|undici/i,
    note: 'Security gateways, previewers and script clients.',
  },
] satisfies MachineRule[]);

/** A rule table compiled for fast matching. @internal */
export interface MachineMatcher {
  /** The id of the first rule that matches, or undefined. */
  match(hit: TrackingHit): string | undefined;
}

interface CompiledRule {
  readonly id: string;
  readonly open: boolean;
  readonly click: boolean;
  readonly userAgent: RegExp | undefined;
  readonly noUserAgent: boolean;
  readonly ranges: readonly Range[] | undefined;
  readonly methods: ReadonlySet<string> | undefined;
}

interface Range {
  readonly v6: boolean;
  readonly base: bigint;
  readonly mask: bigint;
}

/**
 * Compiles a rule table; throws a CONFIG MailError naming the bad rule.
 *
 * @example
 * ```ts
 * compileMachineRules(DEFAULT_MACHINE_RULES).match({ kind: 'open', method: 'GET', userAgent: 'Mozilla/5.0', ip: undefined }); // 'apple-mpp-agent'
 * ```
 * @internal
 */
export function compileMachineRules(rules: readonly MachineRule[], option = 'machineRules'): MachineMatcher {
  if (!Array.isArray(rules)) throw configError(option, 'an array of rules', rules);
  const compiled: CompiledRule[] = rules.map((r: MachineRule, i) => {
    const where = `${option}[${i}]`;
    if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || r.id === '') throw configError(`${where}.id`, 'a non-empty string', (r as MachineRule | null)?.id);
    if (r.applies !== 'open' && r.applies !== 'click' && r.applies !== 'both') throw configError(`${where}.applies`, "'open', 'click' or 'both'", r.applies);
    if (r.userAgent !== undefined && !(r.userAgent instanceof RegExp)) throw configError(`${where}.userAgent`, 'a RegExp', r.userAgent);
    if (r.methods !== undefined && !Array.isArray(r.methods)) throw configError(`${where}.methods`, 'an array of HTTP methods', r.methods);
    if (r.ipRanges !== undefined && !Array.isArray(r.ipRanges)) throw configError(`${where}.ipRanges`, 'an array of CIDR ranges', r.ipRanges);
    if (r.userAgent === undefined && r.noUserAgent !== true && r.ipRanges === undefined && r.methods === undefined) throw configError(where, 'a rule with at least one condition', r);
    // A /g or /y pattern keeps state between calls: use a copy without those flags.
    const ua = r.userAgent === undefined ? undefined : new RegExp(r.userAgent.source, r.userAgent.flags.replace(/[gy]/g, ''));
    return {
      id: r.id,
      open: r.applies !== 'click',
      click: r.applies !== 'open',
      userAgent: ua,
      noUserAgent: r.noUserAgent === true,
      ranges: r.ipRanges?.map((c, j) => parseCidr(c, `${where}.ipRanges[${j}]`)),
      methods: r.methods === undefined ? undefined : new Set(r.methods.map((m) => String(m).toUpperCase())),
    };
  });
  return {
    match(hit) {
      let addr: { v6: boolean; value: bigint } | undefined | null = null;
      for (const r of compiled) {
        if (hit.kind === 'open' ? !r.open : !r.click) continue;
        if (r.methods !== undefined && !r.methods.has(hit.method)) continue;
        if (r.noUserAgent && hit.userAgent !== undefined && hit.userAgent.trim() !== '') continue;
        if (r.userAgent !== undefined && (hit.userAgent === undefined || !r.userAgent.test(hit.userAgent))) continue;
        if (r.ranges !== undefined) {
          if (addr === null) addr = parseIp(hit.ip);
          if (addr === undefined) continue;
          const a = addr;
          if (!r.ranges.some((g) => g.v6 === a.v6 && (a.value & g.mask) === g.base)) continue;
        }
        return r.id;
      }
      return undefined;
    },
  };
}

function parseCidr(cidr: unknown, option: string): Range {
  if (typeof cidr !== 'string') throw configError(option, 'a CIDR range like 17.0.0.0/8', cidr);
  const [ip, bitsText] = cidr.split('/');
  const a = parseIp(ip);
  const bits = bitsText === undefined ? (a?.v6 ? 128 : 32) : Number(bitsText);
  const width = a?.v6 ? 128 : 32;
  if (a === undefined || !Number.isInteger(bits) || bits < 0 || bits > width) throw configError(option, 'a CIDR range like 17.0.0.0/8', cidr);
  const all = (1n << BigInt(width)) - 1n;
  const mask = bits === 0 ? 0n : (all << BigInt(width - bits)) & all;
  return { v6: a.v6, base: a.value & mask, mask };
}

/** An address as a number; IPv4-mapped IPv6 (`::ffff:1.2.3.4`) reads as IPv4. */
function parseIp(ip: string | undefined): { v6: boolean; value: bigint } | undefined {
  if (ip === undefined) return undefined;
  let s = ip.trim();
  if (s.toLowerCase().startsWith('::ffff:') && isIP(s.slice(7)) === 4) s = s.slice(7);
  const v = isIP(s);
  if (v === 4) {
    let value = 0n;
    for (const p of s.split('.')) value = (value << 8n) | BigInt(Number(p));
    return { v6: false, value };
  }
  if (v === 6) {
    const zone = s.indexOf('%');
    if (zone !== -1) s = s.slice(0, zone);
    const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
    const h = head === '' || head === undefined ? [] : head.split(':');
    const t = tail === undefined || tail === '' ? [] : tail.split(':');
    const expand = (parts: string[]): number[] =>
      parts.flatMap((p) => {
        if (p.includes('.')) {
          const q = p.split('.').map(Number);
          return [(q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!];
        }
        return [parseInt(p, 16)];
      });
    const hh = expand(h);
    const tt = expand(t);
    const groups = tail === undefined ? hh : [...hh, ...new Array<number>(8 - hh.length - tt.length).fill(0), ...tt];
    let value = 0n;
    for (const g of groups) value = (value << 16n) | BigInt(g);
    return { v6: true, value };
  }
  return undefined;
}
