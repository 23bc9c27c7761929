/**
 * SPF (RFC 7208): a record parser and an evaluator over an injected resolver.
 *
 * Two ways to walk a record:
 * - {@link evaluateSpf} is `check_host()` for one client IP: terms left to right, the first
 *   match decides, `include` matches only on `pass` (5.2), errors stop evaluation, more than
 *   10 DNS-querying terms or 2 void lookups give `permerror` (4.6.4).
 * - {@link analyzeSpf} walks the whole tree as for a client that matches nothing (the worst
 *   case for the lookup limits) and, instead of stopping at the first error, collects every
 *   problem it finds: lookup and void counts, include loops, missing or malformed included
 *   records, `mx` with more than 10 hosts, `ptr`, `+all`.
 *
 * `ptr` is evaluated as RFC 7208 5.5 says: the client IP's PTR names (the first
 * {@link SPF_MAX_PTR_NAMES}), each validated by a forward A/AAAA lookup that must return the
 * client IP, match when one equals the target domain or is below it. The term counts as one
 * DNS lookup, a PTR lookup that finds nothing as a void lookup, and a DNS error makes it not
 * match (no temperror). Without `resolvePtr` on the resolver, it never matches. The analysis,
 * which has no client IP, only counts it and warns (5.5: "SHOULD NOT be used"). The `%{p}`
 * macro is expanded as `unknown`.
 *
 * @module
 */

import { dnsName, reverseName, type DnsAnswer, type DnsLookup } from './dns.js';
import { inCidr, ipMacroForm, parseIPv4, parseIPv6, parseIp, type IpAddress } from './ip.js';

/** Most DNS-querying terms in one evaluation (RFC 7208 4.6.4). */
export const SPF_MAX_LOOKUPS = 10;
/** Most void lookups (NXDOMAIN or no answer) in one evaluation (RFC 7208 4.6.4). */
export const SPF_MAX_VOID_LOOKUPS = 2;
/** Most MX hosts an `mx` term may name (RFC 7208 4.6.4). */
export const SPF_MAX_MX_HOSTS = 10;
/** Most PTR names a `ptr` term validates; the others are ignored (RFC 7208 4.6.4). */
export const SPF_MAX_PTR_NAMES = 10;
// The analysis goes on past the limit to report the real count, but not forever.
const ANALYSIS_LOOKUP_CAP = 40;

/** `+` pass, `-` fail, `~` softfail, `?` neutral. */
export type SpfQualifier = '+' | '-' | '~' | '?';

/** Mechanism names of RFC 7208 section 5. */
export type SpfMechanismName = 'all' | 'include' | 'a' | 'mx' | 'ptr' | 'ip4' | 'ip6' | 'exists';

/** A parsed mechanism. */
export interface SpfMechanism {
  readonly kind: 'mechanism';
  readonly qualifier: SpfQualifier;
  readonly name: SpfMechanismName;
  /** The term as written. */
  readonly text: string;
  /** Target of `include`, `a`, `mx`, `ptr`, `exists` (may contain macros). */
  readonly domainSpec?: string;
  /** Network of `ip4`/`ip6`. */
  readonly network?: IpAddress;
  /** IPv4 prefix length of `ip4`, `a`, `mx`. */
  readonly prefix4: number;
  /** IPv6 prefix length of `ip6`, `a`, `mx`. */
  readonly prefix6: number;
}

/** A parsed modifier (`redirect=`, `exp=`, or an unknown one, which is ignored). */
export interface SpfModifier {
  readonly kind: 'modifier';
  /** Lower case. */
  readonly name: string;
  readonly value: string;
  readonly text: string;
}

/** A parsed SPF record. */
export interface SpfRecord {
  readonly terms: readonly (SpfMechanism | SpfModifier)[];
  /** Mechanisms only, in order. */
  readonly mechanisms: readonly SpfMechanism[];
  readonly redirect?: string;
  readonly exp?: string;
}

/** Result of {@link parseSpf}. */
export type SpfParseResult = { readonly ok: true; readonly record: SpfRecord } | { readonly ok: false; readonly error: string };

/** SPF results (RFC 7208 2.6). */
export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror';

/** True when a TXT record is an SPF record: `v=spf1` alone or followed by a space (4.5). */
export function isSpfRecord(txt: string): boolean {
  return txt.length >= 6 && txt.slice(0, 6).toLowerCase() === 'v=spf1' && (txt.length === 6 || txt.charCodeAt(6) === 0x20);
}

const MECHANISMS = new Set<string>(['all', 'include', 'a', 'mx', 'ptr', 'ip4', 'ip6', 'exists']);
const QUALIFIERS = new Set<string>(['+', '-', '~', '?']);

/**
 * Parses an SPF record (the whole TXT text, starting with `v=spf1`).
 * Returns the reason when the record is malformed (which receivers treat as `permerror`).
 *
 * @example
 * ```ts
 * import { parseSpf } from 'mailpush/auth';
 *
 * const parsed = parseSpf('v=spf1 include:_spf.google.com ip4:192.0.2.0/24 -all');
 * if (parsed.ok) console.log(parsed.record.mechanisms.map((m) => m.name)); // ['include', 'ip4', 'all']
 * else console.error(parsed.error);
 * ```
 */
export function parseSpf(txt: string): SpfParseResult {
  if (!isSpfRecord(txt)) return { ok: false, error: 'the record does not start with "v=spf1 "' };
  const terms: (SpfMechanism | SpfModifier)[] = [];
  const mechanisms: SpfMechanism[] = [];
  let redirect: string | undefined;
  let exp: string | undefined;
  let i = 6;
  while (i < txt.length) {
    if (txt.charCodeAt(i) === 0x20) {
      i++;
      continue;
    }
    let end = i;
    while (end < txt.length && txt.charCodeAt(end) !== 0x20) end++;
    const text = txt.slice(i, end);
    i = end;
    const control = findBadChar(text);
    if (control >= 0) return { ok: false, error: `the term ${quote(text)} contains ${describeChar(text.charCodeAt(control))} (terms are separated by single spaces)` };
    const term = parseTerm(text);
    if (typeof term === 'string') return { ok: false, error: term };
    if (term.kind === 'modifier') {
      if (term.name === 'redirect' || term.name === 'exp') {
        if ((term.name === 'redirect' ? redirect : exp) !== undefined) return { ok: false, error: `the modifier "${term.name}=" appears more than once` };
        if (term.name === 'redirect') redirect = term.value;
        else exp = term.value;
      }
    } else {
      mechanisms.push(term);
    }
    terms.push(term);
  }
  const record: SpfRecord = { terms, mechanisms, ...(redirect !== undefined ? { redirect } : {}), ...(exp !== undefined ? { exp } : {}) };
  return { ok: true, record };
}

function parseTerm(text: string): SpfMechanism | SpfModifier | string {
  // A modifier is name=value with a name of ALPHA *(ALPHA / DIGIT / "-" / "_" / ".").
  const eq = text.indexOf('=');
  if (eq > 0 && isModifierName(text, eq)) {
    const name = text.slice(0, eq).toLowerCase();
    const value = text.slice(eq + 1);
    if (name === 'v') return `${quote(text)} appears inside the record (two records merged into one?)`;
    if (name === 'redirect' || name === 'exp') {
      // c, r and t belong to the explanation text fetched through exp=, not to its domain-spec.
      const err = checkDomainSpec(value, false);
      if (err !== undefined) return `${quote(text)}: ${err}`;
    } else {
      const err = scanMacros(value, false);
      if (err !== undefined) return `${quote(text)}: ${err}`;
    }
    return { kind: 'modifier', name, value, text };
  }
  let body = text;
  let qualifier: SpfQualifier = '+';
  if (QUALIFIERS.has(body.charAt(0))) {
    qualifier = body.charAt(0) as SpfQualifier;
    body = body.slice(1);
  }
  let nameEnd = 0;
  while (nameEnd < body.length && body.charCodeAt(nameEnd) !== 0x3a && body.charCodeAt(nameEnd) !== 0x2f) nameEnd++;
  const name = body.slice(0, nameEnd).toLowerCase();
  if (!MECHANISMS.has(name)) return `unknown mechanism ${quote(text)}`;
  const rest = body.slice(nameEnd);
  // Built field by field rather than by spreading: records may hold thousands of terms.
  const make = (prefix4: number, prefix6: number, domainSpec?: string, network?: IpAddress): SpfMechanism => {
    const m: { -readonly [K in keyof SpfMechanism]: SpfMechanism[K] } = { kind: 'mechanism', qualifier, name: name as SpfMechanismName, text, prefix4, prefix6 };
    if (domainSpec !== undefined) m.domainSpec = domainSpec;
    if (network !== undefined) m.network = network;
    return m;
  };
  switch (name) {
    case 'all':
      return rest === '' ? make(32, 128) : `"all" takes no argument, got ${quote(text)}`;
    case 'include':
    case 'exists':
    case 'ptr': {
      if (rest === '') return name === 'ptr' ? make(32, 128) : `${quote(text)} needs a domain ("${name}:example.com")`;
      if (rest.charCodeAt(0) !== 0x3a) return `${quote(text)}: unexpected ${quote(rest)}`;
      const spec = rest.slice(1);
      const err = checkDomainSpec(spec, false);
      return err === undefined ? make(32, 128, spec) : `${quote(text)}: ${err}`;
    }
    case 'a':
    case 'mx': {
      let spec = rest;
      let prefix4 = 32;
      let prefix6 = 128;
      const dual = splitCidr(spec, 128, true);
      if (typeof dual === 'string') return `${quote(text)}: ${dual}`;
      if (dual !== undefined) [spec, prefix6] = dual;
      const single = splitCidr(spec, 32, false);
      if (typeof single === 'string') return `${quote(text)}: ${single}`;
      if (single !== undefined) [spec, prefix4] = single;
      if (spec === '') return make(prefix4, prefix6);
      if (spec.charCodeAt(0) !== 0x3a) return `${quote(text)}: unexpected ${quote(spec)}`;
      const domainSpec = spec.slice(1);
      const err = checkDomainSpec(domainSpec, false);
      return err === undefined ? make(prefix4, prefix6, domainSpec) : `${quote(text)}: ${err}`;
    }
    default: {
      // ip4 / ip6
      if (rest.charCodeAt(0) !== 0x3a || rest.length < 2) return `${quote(text)} needs an address ("${name}:${name === 'ip4' ? '192.0.2.0/24' : '2001:db8::/32'}")`;
      const v6 = name === 'ip6';
      let spec = rest.slice(1);
      let prefix = v6 ? 128 : 32;
      const cidr = splitCidr(spec, prefix, false);
      if (typeof cidr === 'string') return `${quote(text)}: ${cidr}`;
      if (cidr !== undefined) [spec, prefix] = cidr;
      const network = v6 ? parseIPv6(spec) : parseIPv4(spec);
      if (network === undefined) return `${quote(text)}: ${quote(spec)} is not a valid ${v6 ? 'IPv6' : 'IPv4'} address`;
      return v6 ? make(32, prefix, undefined, network) : make(prefix, 128, undefined, network);
    }
  }
}

function isModifierName(text: string, eq: number): boolean {
  const first = text.charCodeAt(0) | 0x20;
  if (first < 0x61 || first > 0x7a) return false;
  for (let k = 1; k < eq; k++) {
    const c = text.charCodeAt(k);
    const lower = c | 0x20;
    if (!((lower >= 0x61 && lower <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2e)) return false;
  }
  return true;
}

/**
 * Splits a trailing CIDR length off `spec`: `/24` (or `//64` when `dual`). Returns undefined
 * when there is none, or an error message.
 */
function splitCidr(spec: string, max: number, dual: boolean): [string, number] | string | undefined {
  let k = spec.length;
  while (k > 0 && spec.charCodeAt(k - 1) >= 0x30 && spec.charCodeAt(k - 1) <= 0x39) k--;
  const marker = dual ? '//' : '/';
  if (k === spec.length || k < marker.length || spec.slice(k - marker.length, k) !== marker) {
    if (spec.endsWith(marker)) return `empty CIDR length after "${marker}"`;
    return undefined;
  }
  if (!dual && spec.charCodeAt(k - 2) === 0x2f) return undefined;
  const digits = spec.slice(k);
  if (digits.length > 1 && digits.charCodeAt(0) === 0x30) return `CIDR length ${quote(digits)} has a leading zero`;
  const value = Number(digits);
  if (value > max) return `CIDR length /${digits} is larger than ${max}`;
  return [spec.slice(0, k - marker.length), value];
}

/** Checks `domain-spec = macro-string domain-end`; returns the reason when it is malformed. */
function checkDomainSpec(spec: string, exp: boolean): string | undefined {
  if (spec === '') return 'the domain is empty';
  const err = scanMacros(spec, exp);
  if (err !== undefined) return err;
  const body = spec.endsWith('.') ? spec.slice(0, -1) : spec;
  if (body.endsWith('}')) return undefined;
  const dot = body.lastIndexOf('.');
  const top = body.slice(dot + 1);
  if (dot < 0 || !isTopLabel(top)) return `${quote(spec)} is not a domain name`;
  return undefined;
}

function isTopLabel(label: string): boolean {
  if (label.length === 0 || label.length > 63 || label.startsWith('-') || label.endsWith('-')) return false;
  let alpha = false;
  for (let k = 0; k < label.length; k++) {
    const c = label.charCodeAt(k);
    const lower = c | 0x20;
    if (lower >= 0x61 && lower <= 0x7a) alpha = true;
    else if (!((c >= 0x30 && c <= 0x39) || c === 0x2d)) return false;
  }
  return alpha || label.includes('-');
}

const MACRO_LETTERS = 'slodiphcrtv';
const EXP_ONLY_LETTERS = 'crt';
const DELIMITERS = '.-+,/_=';

/** Syntax check of a macro-string (RFC 7208 7.1); returns the reason when malformed. */
function scanMacros(text: string, exp: boolean): string | undefined {
  const result = expandMacroString(text, () => 'x', exp);
  return typeof result === 'object' ? result.error : undefined;
}

type MacroValue = (letter: string) => string | undefined;

/**
 * Expands the macros of `text`. Returns the text, `undefined` when a letter has no value
 * (the analysis does not know the client IP), or `{ error }` when the syntax is wrong.
 */
function expandMacroString(text: string, value: MacroValue, exp: boolean): string | undefined | { error: string } {
  let out = '';
  let unknown = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c !== '%') {
      out += c;
      continue;
    }
    const next = text.charAt(i + 1);
    if (next === '%') out += '%';
    else if (next === '_') out += ' ';
    else if (next === '-') out += '%20';
    else if (next === '{') {
      const close = text.indexOf('}', i + 2);
      if (close < 0) return { error: `unterminated macro in ${quote(text)}` };
      const inner = text.slice(i + 2, close);
      const letter = inner.charAt(0);
      const lower = letter.toLowerCase();
      if (lower === '' || !MACRO_LETTERS.includes(lower) || (!exp && EXP_ONLY_LETTERS.includes(lower))) {
        return { error: `unknown macro letter in ${quote(`%{${inner}}`)}` };
      }
      let k = 1;
      while (k < inner.length && inner.charCodeAt(k) >= 0x30 && inner.charCodeAt(k) <= 0x39) k++;
      const digits = inner.slice(1, k);
      let reverse = false;
      if (inner.charAt(k) === 'r' || inner.charAt(k) === 'R') {
        reverse = true;
        k++;
      }
      const delimiters = inner.slice(k);
      for (const d of delimiters) if (!DELIMITERS.includes(d)) return { error: `invalid delimiter ${quote(d)} in ${quote(`%{${inner}}`)}` };
      if (digits !== '' && Number(digits) === 0) return { error: `zero labels requested in ${quote(`%{${inner}}`)}` };
      const raw = value(lower);
      if (raw === undefined) unknown = true;
      else out += transformMacro(raw, digits === '' ? 0 : Math.min(Number(digits), 128), reverse, delimiters, letter !== lower);
      i = close;
      continue;
    } else {
      return { error: `a "%" must be followed by "{", "%", "_" or "-" in ${quote(text)}` };
    }
    i++;
  }
  return unknown ? undefined : out;
}

function transformMacro(value: string, keep: number, reverse: boolean, delimiters: string, escape: boolean): string {
  const delims = delimiters === '' ? '.' : delimiters;
  let parts: string[] = [];
  let start = 0;
  for (let k = 0; k <= value.length; k++) {
    if (k === value.length || delims.includes(value.charAt(k))) {
      parts.push(value.slice(start, k));
      start = k + 1;
    }
  }
  if (reverse) parts.reverse();
  if (keep > 0 && parts.length > keep) parts = parts.slice(parts.length - keep);
  const joined = parts.join('.');
  return escape ? encodeURIComponent(joined).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`) : joined;
}

// Visible ASCII only inside a term.
function findBadChar(text: string): number {
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c < 0x21 || c > 0x7e) return k;
  }
  return -1;
}

function describeChar(c: number): string {
  if (c === 0x09) return 'a tab';
  if (c === 0x0d || c === 0x0a) return 'a line break';
  if (c < 0x20 || c === 0x7f) return `a control character (0x${c.toString(16).padStart(2, '0')})`;
  return `a non-ASCII character (U+${c.toString(16).toUpperCase().padStart(4, '0')})`;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

// ---------------------------------------------------------------------------------------
// Walking records
// ---------------------------------------------------------------------------------------

/** What kind of problem the analysis found. */
export type SpfProblemKind =
  | 'lookup-limit'
  | 'void-limit'
  | 'mx-limit'
  | 'loop'
  | 'missing'
  | 'multiple'
  | 'malformed'
  | 'dns'
  | 'ptr'
  | 'plus-all'
  | 'unresolved';

/** A problem found while walking the SPF tree. */
export interface SpfProblem {
  readonly kind: SpfProblemKind;
  /** The domain whose record holds the term. */
  readonly domain: string;
  /** One line, naming the term and the domain. */
  readonly message: string;
}

/** A DNS-querying term met during the walk, for reports. */
export interface SpfLookupTerm {
  /** The term as written (`include:_spf.example.net`). */
  readonly term: string;
  /** Whose record holds it. */
  readonly domain: string;
  /** Include depth: 0 for the checked domain's own record. */
  readonly depth: number;
}

/** An `include` met during the walk. */
export interface SpfInclude {
  /** Target domain after macro expansion, lower case (undefined when it depends on the client IP). */
  readonly target: string | undefined;
  readonly qualifier: SpfQualifier;
  /** Whose record holds it. */
  readonly domain: string;
}

/** Options shared by {@link evaluateSpf} and {@link analyzeSpf}. */
export interface SpfWalkOptions {
  /** MAIL FROM address for `%{s}`, `%{l}`, `%{o}` macros. @default `postmaster@<domain>` */
  readonly sender?: string;
  /** HELO name for `%{h}`. @default the domain */
  readonly helo?: string;
}

/** Result of {@link evaluateSpf}. */
export interface SpfEvaluation {
  readonly result: SpfResult;
  /** Why: the matching term and whose record held it, or the error. */
  readonly reason: string;
  /** DNS-querying terms evaluated. */
  readonly lookups: number;
  readonly voidLookups: number;
}

/** Result of {@link analyzeSpf}. */
export interface SpfAnalysis {
  readonly domain: string;
  /**
   * `ok`: one parseable record. `none`: no SPF record. `multiple`: more than one (permerror).
   * `malformed`: the record does not parse (permerror). `dns-error`: the lookup failed.
   */
  readonly status: 'ok' | 'none' | 'multiple' | 'malformed' | 'dns-error';
  /** The record text (the first one when there are several). */
  readonly record?: string;
  /** Every SPF record found (several only when `status` is `multiple`). */
  readonly records: readonly string[];
  /** Parse error, or the DNS failure, for `malformed` and `dns-error`. */
  readonly error?: string;
  /** The DNS failure kind, for `dns-error`. */
  readonly dnsFailure?: 'timeout' | 'servfail' | 'error';
  /** The parsed record when `status` is `ok`. */
  readonly parsed?: SpfRecord;
  /** DNS-querying terms a client that matches nothing costs (the worst case). */
  readonly lookups: number;
  readonly voidLookups: number;
  /** The walk stopped early (more than 40 lookups): `lookups` is a lower bound. */
  readonly truncated: boolean;
  readonly lookupTerms: readonly SpfLookupTerm[];
  readonly includes: readonly SpfInclude[];
  /** Problems in the whole tree, in the order met. */
  readonly problems: readonly SpfProblem[];
  /** Qualifier of the checked record's own `all`, if any. */
  readonly all?: SpfQualifier;
}

type Outcome = { readonly result: SpfResult; readonly reason: string };
const NO_MATCH = 'no-match';
/** `via`: an include matched, with the reason its record passed. */
type Match = true | typeof NO_MATCH | Outcome | { readonly via: string };

class Walker {
  lookups = 0;
  voids = 0;
  truncated = false;
  readonly problems: SpfProblem[] = [];
  readonly lookupTerms: SpfLookupTerm[] = [];
  readonly includes: SpfInclude[] = [];
  private readonly limitReported = new Set<string>();

  constructor(
    private readonly dns: DnsLookup,
    private readonly ip: IpAddress | undefined,
    private readonly sender: string,
    private readonly helo: string,
  ) {}

  private get analyzing(): boolean {
    return this.ip === undefined;
  }

  /** Records a problem; in evaluation mode returns the error outcome that stops the walk. */
  private problem(kind: SpfProblemKind, domain: string, message: string, result: 'permerror' | 'temperror'): Outcome | undefined {
    this.problems.push({ kind, domain, message });
    return this.analyzing ? undefined : { result, reason: message };
  }

  /** check_host() for `domain` reached through include or redirect. */
  async checkHost(domain: string, chain: readonly string[], via: 'include' | 'redirect'): Promise<Outcome> {
    const answer = await this.dns.txt(domain);
    if (!answer.ok) {
      if (answer.kind === 'absent') {
        this.countVoid(domain, `${via}:${domain}`);
        const message = `${via}:${domain} has no SPF record (${answer.nxdomain ? 'NXDOMAIN' : 'no TXT record'}), a permerror`;
        return this.problem('missing', domain, message, 'permerror') ?? { result: 'none', reason: message };
      }
      return this.problem('dns', domain, `${answer.message} (${via}:${domain}), a temperror`, 'temperror') ?? { result: 'temperror', reason: answer.message };
    }
    const spf = answer.records.filter(isSpfRecord);
    if (spf.length === 0) {
      const message = `${via}:${domain} has no SPF record, a permerror`;
      return this.problem('missing', domain, message, 'permerror') ?? { result: 'none', reason: message };
    }
    if (spf.length > 1) {
      const message = `${domain} (${via}) publishes ${spf.length} SPF records, a permerror`;
      return this.problem('multiple', domain, message, 'permerror') ?? { result: 'permerror', reason: message };
    }
    const parsed = parseSpf(spf[0]!);
    if (!parsed.ok) {
      const message = `the SPF record of ${domain} (${via}) is malformed: ${parsed.error}`;
      return this.problem('malformed', domain, message, 'permerror') ?? { result: 'permerror', reason: message };
    }
    return this.evaluateRecord(domain, parsed.record, chain);
  }

  async evaluateRecord(domain: string, record: SpfRecord, chain: readonly string[]): Promise<Outcome> {
    const depth = chain.length;
    const here = [...chain, domain];
    let sawAll = false;
    for (const m of record.mechanisms) {
      if (this.truncated) return { result: 'neutral', reason: 'analysis stopped' };
      if (m.name === 'all') {
        sawAll = true;
        if (m.qualifier === '+') this.problems.push({ kind: 'plus-all', domain, message: `${quote(m.text)} in the SPF record of ${domain} authorizes every host on the internet` });
        if (this.analyzing) break;
        return { result: qualifierResult(m.qualifier), reason: `matched ${quote(m.text)} in the SPF record of ${domain}` };
      }
      const match = await this.match(m, domain, here, depth);
      if (match === NO_MATCH) continue;
      if (match === true) return { result: qualifierResult(m.qualifier), reason: `matched ${quote(m.text)} in the SPF record of ${domain}` };
      if ('via' in match) return { result: qualifierResult(m.qualifier), reason: `${match.via}, through ${quote(m.text)} in ${domain}` };
      return match;
    }
    if (record.redirect !== undefined && !sawAll) {
      const limit = this.count(`redirect=${record.redirect}`, domain, depth);
      if (limit !== undefined) return limit;
      if (this.truncated) return { result: 'neutral', reason: 'analysis stopped' };
      const target = this.expand(record.redirect, domain, `redirect=${record.redirect}`);
      if (typeof target === 'object') return target;
      if (target === undefined) return { result: 'neutral', reason: `redirect=${record.redirect} depends on the client` };
      if (here.includes(target)) {
        return this.problem('loop', domain, `redirect loop: ${[...here, target].join(' -> ')}, a permerror`, 'permerror') ?? { result: 'neutral', reason: 'loop' };
      }
      const outcome = await this.checkHost(target, here, 'redirect');
      // A redirect to a name without SPF is a permerror (6.1), unlike the top-level none.
      return outcome.result === 'none' ? { result: 'permerror', reason: outcome.reason } : outcome;
    }
    return { result: 'neutral', reason: `no term of the SPF record of ${domain} matched` };
  }

  private async match(m: SpfMechanism, domain: string, here: readonly string[], depth: number): Promise<Match> {
    if (m.name === 'ip4' || m.name === 'ip6') {
      if (this.ip === undefined || m.network === undefined) return NO_MATCH;
      return inCidr(this.ip, m.network, m.name === 'ip4' ? m.prefix4 : m.prefix6) ? true : NO_MATCH;
    }
    const limit = this.count(m.text, domain, depth);
    if (limit !== undefined) return limit;
    if (this.truncated) return NO_MATCH;
    const target = this.expand(m.domainSpec ?? domain, domain, m.text);
    if (typeof target === 'object') return target;
    if (target === undefined) {
      this.problems.push({ kind: 'unresolved', domain, message: `${quote(m.text)} in ${domain} depends on the client IP and was not followed` });
      if (m.name === 'include') this.includes.push({ target: undefined, qualifier: m.qualifier, domain });
      return NO_MATCH;
    }
    switch (m.name) {
      case 'include': {
        this.includes.push({ target, qualifier: m.qualifier, domain });
        if (here.includes(target)) {
          return this.problem('loop', domain, `include loop: ${[...here, target].join(' -> ')}, a permerror`, 'permerror') ?? NO_MATCH;
        }
        const outcome = await this.checkHost(target, here, 'include');
        // The analysis has recorded any problem already and walks on.
        if (this.analyzing) return NO_MATCH;
        switch (outcome.result) {
          case 'pass':
            return { via: outcome.reason };
          case 'fail':
          case 'softfail':
          case 'neutral':
            return NO_MATCH;
          case 'none':
            return { result: 'permerror', reason: outcome.reason };
          default:
            return outcome;
        }
      }
      case 'ptr':
        this.problems.push({ kind: 'ptr', domain, message: `${quote(m.text)} in ${domain}: ptr is slow and unreliable and SHOULD NOT be used (RFC 7208 5.5); receivers may ignore it` });
        return this.ip === undefined ? NO_MATCH : this.matchPtr(this.ip, target, domain, m.text);
      case 'exists': {
        const answer = await this.dns.a(target);
        const error = this.dnsOutcome(answer, domain, m.text);
        if (error !== undefined) return error;
        return answer.ok && !this.analyzing ? true : NO_MATCH;
      }
      case 'a':
        return this.matchHost(target, m, domain, true);
      default: {
        // mx
        const answer = await this.dns.mx(target);
        const error = this.dnsOutcome(answer, domain, m.text);
        if (error !== undefined) return error;
        if (!answer.ok) return NO_MATCH;
        const hosts = answer.records.filter((r) => r.exchange !== '' && r.exchange !== '.').sort((x, y) => x.priority - y.priority);
        if (hosts.length > SPF_MAX_MX_HOSTS) {
          const stop = this.problem('mx-limit', domain, `${quote(m.text)} in ${domain}: ${target} has ${hosts.length} MX hosts (limit ${SPF_MAX_MX_HOSTS}), a permerror`, 'permerror');
          if (stop !== undefined) return stop;
        }
        if (this.ip === undefined) return NO_MATCH;
        for (const host of hosts.slice(0, SPF_MAX_MX_HOSTS)) {
          const hit = await this.matchHost(host.exchange, m, domain, false);
          if (hit !== NO_MATCH) return hit;
        }
        return NO_MATCH;
      }
    }
  }

  /** Matches the client IP against the addresses of `host` (for `a`, and each host of `mx`). */
  private async matchHost(host: string, m: SpfMechanism, domain: string, countVoid: boolean): Promise<Match> {
    if (this.ip === undefined) {
      // No client: ask both families, so a name with only AAAA records is not called void.
      const [v4, v6] = await Promise.all([this.dns.a(host), this.dns.aaaa(host)]);
      const failed = [v4, v6].find((a) => !a.ok && a.kind !== 'absent');
      if (failed !== undefined) return this.dnsOutcome(failed, domain, m.text) ?? NO_MATCH;
      if (!v4.ok && !v6.ok && countVoid) return this.countVoid(domain, m.text) ?? NO_MATCH;
      return NO_MATCH;
    }
    const answer = this.ip.family === 4 ? await this.dns.a(host) : await this.dns.aaaa(host);
    if (!answer.ok && answer.kind === 'absent') {
      return countVoid ? (this.countVoid(domain, m.text) ?? NO_MATCH) : NO_MATCH;
    }
    const error = this.dnsOutcome(answer, domain, m.text);
    if (error !== undefined) return error;
    if (!answer.ok) return NO_MATCH;
    const prefix = this.ip.family === 4 ? m.prefix4 : m.prefix6;
    for (const text of answer.records) {
      const address = parseIp(text);
      if (address !== undefined && inCidr(this.ip, address, prefix)) return true;
    }
    return NO_MATCH;
  }

  /**
   * `ptr` (RFC 7208 5.5): the client's PTR names that equal `target` or end in `.target`
   * match once validated, that is when their A (or AAAA) records include the client IP. Only
   * the first SPF_MAX_PTR_NAMES names count (4.6.4); names outside `target` are skipped
   * before validation, which saves lookups and gives the same result.
   */
  private async matchPtr(ip: IpAddress, target: string, domain: string, term: string): Promise<Match> {
    const answer = await this.dns.ptr(reverseName(ip)!);
    if (!answer.ok) {
      // No PTR record: a void lookup. Any other DNS error: the mechanism fails to match.
      return answer.kind === 'absent' ? (this.countVoid(domain, term) ?? NO_MATCH) : NO_MATCH;
    }
    const suffix = `.${target}`;
    for (const record of answer.records.slice(0, SPF_MAX_PTR_NAMES)) {
      const name = dnsName(record);
      if (name === undefined || (name !== target && !name.endsWith(suffix))) continue;
      const addresses = ip.family === 4 ? await this.dns.a(name) : await this.dns.aaaa(name);
      // A DNS error while validating skips that name (5.5).
      if (!addresses.ok) continue;
      for (const text of addresses.records) {
        const address = parseIp(text);
        if (address !== undefined && inCidr(ip, address, ip.family === 4 ? 32 : 128)) return true;
      }
    }
    return NO_MATCH;
  }

  /** Turns a failed lookup into a temperror (or counts a void lookup); undefined when fine. */
  private dnsOutcome<T>(answer: DnsAnswer<T>, domain: string, term: string): Outcome | undefined {
    if (answer.ok) return undefined;
    if (answer.kind === 'absent') return this.countVoid(domain, term);
    return this.problem('dns', domain, `${answer.message} (${quote(term)} in ${domain}), a temperror`, 'temperror');
  }

  private countVoid(domain: string, term: string): Outcome | undefined {
    this.voids++;
    if (this.voids === SPF_MAX_VOID_LOOKUPS + 1) {
      return this.problem('void-limit', domain, `more than ${SPF_MAX_VOID_LOOKUPS} void lookups (the last: ${quote(term)} in ${domain}), a permerror`, 'permerror');
    }
    return undefined;
  }

  /** Counts a DNS-querying term; returns the permerror when the limit is passed. */
  private count(term: string, domain: string, depth: number): Outcome | undefined {
    this.lookups++;
    this.lookupTerms.push({ term, domain, depth });
    if (this.lookups > ANALYSIS_LOOKUP_CAP) {
      this.truncated = true;
      return undefined;
    }
    if (this.lookups === SPF_MAX_LOOKUPS + 1 && !this.limitReported.has('lookups')) {
      this.limitReported.add('lookups');
      return this.problem('lookup-limit', domain, `more than ${SPF_MAX_LOOKUPS} DNS lookups (the 11th: ${quote(term)} in ${domain}), a permerror`, 'permerror');
    }
    return undefined;
  }

  /** Expands the macros of a domain-spec and checks the name; undefined when it depends on the client. */
  private expand(spec: string, domain: string, term: string): string | undefined | Outcome {
    const at = this.sender.lastIndexOf('@');
    const local = at > 0 ? this.sender.slice(0, at) : 'postmaster';
    const senderDomain = at >= 0 ? this.sender.slice(at + 1) : this.sender;
    const ip = this.ip;
    const expanded = expandMacroString(
      spec,
      (letter) => {
        switch (letter) {
          case 's':
            return `${local}@${senderDomain}`;
          case 'l':
            return local;
          case 'o':
            return senderDomain;
          case 'd':
            return domain;
          case 'h':
            return this.helo;
          case 'i':
            return ip === undefined ? undefined : ipMacroForm(ip);
          case 'v':
            return ip === undefined ? undefined : ip.family === 4 ? 'in-addr' : 'ip6';
          default:
            // p (validated PTR name): never looked up here; RFC 7208 7.3 allows "unknown".
            return ip === undefined ? undefined : 'unknown';
        }
      },
      false,
    );
    if (expanded === undefined) return undefined;
    if (typeof expanded === 'object') return this.problem('malformed', domain, `${quote(term)} in ${domain}: ${expanded.error}`, 'permerror') ?? undefined;
    let name = expanded.endsWith('.') ? expanded.slice(0, -1) : expanded;
    // 7.3: drop left-hand labels until the name fits in 253 octets.
    while (name.length > 253 && name.includes('.')) name = name.slice(name.indexOf('.') + 1);
    const valid = dnsName(name);
    if (valid === undefined) {
      return this.problem('malformed', domain, `${quote(term)} in ${domain}: ${quote(name)} is not a valid domain name, a permerror`, 'permerror') ?? undefined;
    }
    return valid;
  }
}

function qualifierResult(q: SpfQualifier): SpfResult {
  return q === '+' ? 'pass' : q === '-' ? 'fail' : q === '~' ? 'softfail' : 'neutral';
}

/**
 * `check_host()` of RFC 7208 for one client IP.
 *
 * @param domain - The MAIL FROM (or HELO) domain whose record is evaluated.
 * @param ip - The client IP, IPv4 or IPv6.
 * @param dns - Lookups (with timeouts and cache) over the injected resolver.
 * @returns The SPF result and why; never throws for DNS or record problems.
 *
 * @example
 * ```ts
 * import { evaluateSpf, type DnsLookup } from 'mailpush/auth';
 *
 * declare const dns: DnsLookup; // cached, time-limited lookups over your resolver
 * const spf = await evaluateSpf('example.com', '192.0.2.10', dns, { sender: 'bounces@example.com' });
 * if (spf.result !== 'pass') console.warn(spf.result, spf.reason, `${spf.lookups} lookups`);
 * ```
 */
export async function evaluateSpf(domain: string, ip: string, dns: DnsLookup, options: SpfWalkOptions = {}): Promise<SpfEvaluation> {
  const client = parseIp(ip);
  if (client === undefined) return { result: 'permerror', reason: `${quote(ip)} is not an IP address`, lookups: 0, voidLookups: 0 };
  const name = dnsName(domain);
  if (name === undefined) return { result: 'none', reason: `${quote(domain)} is not a domain name`, lookups: 0, voidLookups: 0 };
  const walker = new Walker(dns, client, options.sender ?? `postmaster@${name}`, options.helo ?? name);
  const top = await topRecord(name, dns);
  let outcome: Outcome;
  if (top.status === 'ok') outcome = await walker.evaluateRecord(name, top.parsed, []);
  else if (top.status === 'none') outcome = { result: 'none', reason: `${name} publishes no SPF record` };
  else if (top.status === 'dns-error') outcome = { result: 'temperror', reason: top.error };
  else outcome = { result: 'permerror', reason: top.error };
  return { ...outcome, lookups: walker.lookups, voidLookups: walker.voids };
}

type TopRecord =
  | { status: 'ok'; records: string[]; record: string; parsed: SpfRecord }
  | { status: 'none'; records: string[] }
  | { status: 'multiple' | 'malformed'; records: string[]; record: string; error: string }
  | { status: 'dns-error'; records: string[]; error: string; dnsFailure: 'timeout' | 'servfail' | 'error' };

async function topRecord(domain: string, dns: DnsLookup): Promise<TopRecord> {
  const answer = await dns.txt(domain);
  if (!answer.ok) {
    if (answer.kind === 'absent') return { status: 'none', records: [] };
    return { status: 'dns-error', records: [], error: answer.message, dnsFailure: answer.kind };
  }
  const records = answer.records.filter(isSpfRecord);
  if (records.length === 0) return { status: 'none', records };
  if (records.length > 1) return { status: 'multiple', records, record: records[0]!, error: `${domain} publishes ${records.length} SPF records; receivers return permerror (RFC 7208 4.5)` };
  const parsed = parseSpf(records[0]!);
  if (!parsed.ok) return { status: 'malformed', records, record: records[0]!, error: parsed.error };
  return { status: 'ok', records, record: records[0]!, parsed: parsed.record };
}

/**
 * Walks the SPF tree of `domain` as for a client that matches nothing, counting DNS
 * lookups and void lookups and collecting every problem on the way.
 *
 * @param domain - The MAIL FROM domain.
 * @param dns - Lookups (with timeouts and cache) over the injected resolver.
 *
 * @example
 * ```ts
 * import { analyzeSpf, SPF_MAX_LOOKUPS, type DnsLookup } from 'mailpush/auth';
 *
 * declare const dns: DnsLookup; // cached, time-limited lookups over your resolver
 * const spf = await analyzeSpf('example.com', dns);
 * if (spf.lookups > SPF_MAX_LOOKUPS) console.warn(`SPF needs ${spf.lookups} DNS lookups`);
 * for (const problem of spf.problems) console.warn(problem.kind, problem.message);
 * ```
 */
export async function analyzeSpf(domain: string, dns: DnsLookup, options: SpfWalkOptions = {}): Promise<SpfAnalysis> {
  const name = dnsName(domain) ?? domain;
  const top = await topRecord(name, dns);
  const empty = { domain: name, records: top.records, lookups: 0, voidLookups: 0, truncated: false, lookupTerms: [], includes: [], problems: [] };
  if (top.status === 'none') return { ...empty, status: 'none' };
  if (top.status === 'dns-error') return { ...empty, status: 'dns-error', error: top.error, dnsFailure: top.dnsFailure };
  if (top.status !== 'ok') return { ...empty, status: top.status, record: top.record, error: top.error };
  const walker = new Walker(dns, undefined, options.sender ?? `postmaster@${name}`, options.helo ?? name);
  await walker.evaluateRecord(name, top.parsed, []);
  const all = top.parsed.mechanisms.find((m) => m.name === 'all');
  return {
    domain: name,
    status: 'ok',
    record: top.record,
    records: top.records,
    parsed: top.parsed,
    lookups: Math.min(walker.lookups, ANALYSIS_LOOKUP_CAP + 1),
    voidLookups: walker.voids,
    truncated: walker.truncated,
    lookupTerms: walker.lookupTerms.slice(0, ANALYSIS_LOOKUP_CAP + 1),
    includes: walker.includes,
    problems: walker.problems,
    ...(all !== undefined ? { all: all.qualifier } : {}),
  };
}
