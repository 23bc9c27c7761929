/**
 * Sending-domain checks: is a From domain set up so that Gmail, Yahoo and Microsoft accept
 * its bulk mail? SPF, DKIM, DMARC, alignment, MX, and (reported only) MTA-STS and TLS-RPT.
 * See COMPLIANCE.md sections 1, 3 and 7.
 *
 * Every lookup goes through the injected {@link DnsResolver} with a per-lookup timeout; DNS
 * failures become report items, never exceptions. The checks are DNS-only: the MTA-STS
 * policy is fetched over HTTPS only when a `fetchMtaStsPolicy` function is given.
 *
 * @module
 */

import type { KeyObject } from 'node:crypto';
import { configError, isMailError } from '../errors.js';
import { normalizeDomain } from '../message/address.js';
import { parseDkimKeyRecord, publicKeyOf, sameKey, keyRecordFor, type DkimKeyInput } from './dkim-record.js';
import { findDmarc, isDmarcRecord, reportAddress, type DmarcRecord, type IgnoredDmarcRecord } from './dmarc.js';
import { createDnsLookup, createDnsResolver, dnsName, DEFAULT_DNS_TIMEOUT_MS, type DnsFailureKind, type DnsLookup, type DnsResolver } from './dns.js';
import { parseIp } from './ip.js';
import { canonicalDomain, isAligned, orgDomain, type AlignmentMode } from './org-domain.js';
import { analyzeSpf, evaluateSpf, SPF_MAX_LOOKUPS, SPF_MAX_VOID_LOOKUPS, type SpfAnalysis } from './spf.js';

/** Outcome of one check. `info` is neither good nor bad (an optional feature, a note). */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'info';

/** One requirement checked. */
export interface CheckItem {
  /** Stable id: `spf.present`, `dkim.s1.key-match`, `dmarc.policy`, `alignment`, ... */
  readonly id: string;
  readonly status: CheckStatus;
  /** One line saying what was found. */
  readonly title: string;
  /** Details: records, counts, reasons. May span several lines. */
  readonly detail: string;
  /** One line saying what to do, when there is something to do. */
  readonly fix?: string;
}

/** Counts of items by status. */
export interface CheckSummary {
  readonly pass: number;
  readonly warn: number;
  readonly fail: number;
  readonly info: number;
}

/** Result of {@link checkDomain}. */
export interface DomainReport {
  /** The From domain checked (ASCII, lower case). */
  readonly domain: string;
  readonly items: readonly CheckItem[];
  /** No item failed. */
  readonly ok: boolean;
  readonly summary: CheckSummary;
}

/** An email service provider whose SPF include is expected, or any include. */
export type SpfProvider = 'ses' | 'sendgrid' | { readonly spfInclude: string };

/** SPF include domain of each known provider. */
export const PROVIDER_SPF_INCLUDES: Readonly<Record<'ses' | 'sendgrid', string>> = Object.freeze({
  ses: 'amazonses.com',
  sendgrid: 'sendgrid.net',
});

/** What {@link checkDomain} fetches the MTA-STS policy with (an HTTPS GET, no redirects). */
export type MtaStsPolicyFetch = (url: string) => Promise<{ readonly status: number; readonly body: string }>;

/** Options of {@link checkDomain}. */
export interface CheckDomainOptions {
  /** The From domain (Unicode names are converted to ASCII). */
  readonly domain: string;
  /** DKIM selectors to check at `<selector>._domainkey.<dkimDomain>`. @default the selectors of `dkimKeys` */
  readonly dkimSelectors?: readonly string[];
  /**
   * Configured DKIM keys by selector (PEM private or public key, or a KeyObject): the
   * published key must be the same key.
   */
  readonly dkimKeys?: Readonly<Record<string, DkimKeyInput>>;
  /** The DKIM signing domain (`d=`). @default `domain` */
  readonly dkimDomain?: string;
  /** IPs that send the mail (your SMTP relay); each must pass SPF. */
  readonly sendingIps?: readonly string[];
  /** The ESP you send through: its SPF include must be in the record. */
  readonly provider?: SpfProvider;
  /**
   * Envelope MAIL FROM domain (or address), for SPF and its alignment. SPF is checked on
   * this domain. @default `domain` (mailpush's default Return-Path is the From address)
   */
  readonly mailFrom?: string;
  /** Where DNS queries go. @default a `node:dns/promises` resolver */
  readonly resolver?: DnsResolver;
  /** Most time one DNS lookup may take, in milliseconds. @default 5000 */
  readonly timeoutMs?: number;
  /** Fetches `https://mta-sts.<domain>/.well-known/mta-sts.txt`. @default none: DNS-only */
  readonly fetchMtaStsPolicy?: MtaStsPolicyFetch;
}

interface Settings {
  readonly domain: string;
  readonly selectors: readonly string[];
  readonly keys: ReadonlyMap<string, KeyObject>;
  readonly dkimDomain: string;
  readonly ips: readonly string[];
  readonly provider?: SpfProvider;
  readonly providerInclude?: string;
  /** The MAIL FROM domain as configured (undefined: the From domain). */
  readonly mailFrom?: string;
  readonly fetch?: MtaStsPolicyFetch;
  readonly timeoutMs: number;
}

/**
 * Checks that a sending domain is set up for authenticated, aligned mail.
 *
 * @returns A report with one item per requirement. DNS failures are items, never throws.
 * @throws MailError `CONFIG` for invalid options (an invalid domain, IP, selector or key).
 *
 * @example
 * ```ts
 * const report = await checkDomain({ domain: 'example.com', dkimSelectors: ['s1'], provider: 'ses', mailFrom: 'bounce.example.com' });
 * for (const item of report.items) if (item.status === 'fail') console.log(item.id, item.title, item.fix);
 * ```
 */
export async function checkDomain(options: CheckDomainOptions): Promise<DomainReport> {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const timeoutMs = options.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw configError('timeoutMs', 'a positive integer (milliseconds)', options.timeoutMs);
  const settings = readSettings(options, timeoutMs);
  const resolver = options.resolver ?? createDnsResolver({ timeoutMs });
  if (
    typeof resolver !== 'object' ||
    resolver === null ||
    typeof resolver.resolveTxt !== 'function' ||
    (resolver.resolvePtr !== undefined && typeof resolver.resolvePtr !== 'function')
  ) {
    throw configError('resolver', 'an object with resolveTxt, resolveMx, resolve4 and resolve6 (and optionally resolvePtr)', resolver);
  }
  const dns = createDnsLookup(resolver, timeoutMs);
  // A domain that does not exist fails every check; one item saying so is the useful report.
  const missing = await nonexistentDomain(settings.domain, dns);
  if (missing !== undefined) return makeReport(settings.domain, [missing]);
  const items = await runChecks(settings, dns);
  return makeReport(settings.domain, items);
}

/** The `domain.exists` item when every lookup of the domain (TXT, MX, A) answers NXDOMAIN; the answers stay cached for the checks. */
async function nonexistentDomain(domain: string, dns: DnsLookup): Promise<CheckItem | undefined> {
  const answers = await Promise.all([dns.txt(domain), dns.mx(domain), dns.a(domain)]);
  if (!answers.every((a) => !a.ok && a.nxdomain)) return undefined;
  return item(
    'domain.exists',
    'fail',
    `${domain} does not exist (NXDOMAIN)`,
    `Every lookup of ${domain} (TXT, MX, A) answered NXDOMAIN: the name is not registered or not delegated, so no SPF, DKIM or DMARC record can exist for it.`,
    'Check the spelling of the domain; if it is right, register it (or fix its delegation) and publish its records',
  );
}

function makeReport(domain: string, items: readonly CheckItem[]): DomainReport {
  const summary = { pass: 0, warn: 0, fail: 0, info: 0 };
  for (const item of items) summary[item.status]++;
  return { domain, items, ok: summary.fail === 0, summary };
}

/**
 * A domain option, normalized, or a CONFIG error naming the option.
 *
 * @internal
 */
export function domainOption(option: string, value: unknown): string {
  if (typeof value !== 'string') throw configError(option, 'a domain name', value);
  try {
    return normalizeDomain(value);
  } catch (err) {
    if (isMailError(err)) throw configError(option, 'a domain name', value);
    throw err;
  }
}

const SELECTOR = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

function readSettings(options: CheckDomainOptions, timeoutMs: number): Settings {
  const domain = domainOption('domain', options.domain);
  const dkimDomain = options.dkimDomain === undefined ? domain : domainOption('dkimDomain', options.dkimDomain);
  const selectors: string[] = [];
  if (options.dkimSelectors !== undefined) {
    if (!Array.isArray(options.dkimSelectors)) throw configError('dkimSelectors', 'an array of selectors', options.dkimSelectors);
    options.dkimSelectors.forEach((s: unknown, i) => {
      if (typeof s !== 'string' || s.length > 63 || !SELECTOR.test(s)) throw configError(`dkimSelectors[${i}]`, 'a DKIM selector (letters, digits, "-", "_", ".")', s);
      if (!selectors.includes(s.toLowerCase())) selectors.push(s.toLowerCase());
    });
  }
  const keys = new Map<string, KeyObject>();
  if (options.dkimKeys !== undefined) {
    if (typeof options.dkimKeys !== 'object' || options.dkimKeys === null) throw configError('dkimKeys', 'an object of keys by selector', options.dkimKeys);
    for (const [selector, key] of Object.entries(options.dkimKeys)) {
      if (selector.length > 63 || !SELECTOR.test(selector)) throw configError(`dkimKeys`, 'keys by DKIM selector', selector);
      keys.set(selector.toLowerCase(), publicKeyOf(key, `dkimKeys.${selector}`));
      if (!selectors.includes(selector.toLowerCase())) selectors.push(selector.toLowerCase());
    }
  }
  const ips: string[] = [];
  if (options.sendingIps !== undefined) {
    if (!Array.isArray(options.sendingIps)) throw configError('sendingIps', 'an array of IP addresses', options.sendingIps);
    options.sendingIps.forEach((ip: unknown, i) => {
      if (typeof ip !== 'string' || parseIp(ip) === undefined) throw configError(`sendingIps[${i}]`, 'an IPv4 or IPv6 address', ip);
      ips.push(ip);
    });
  }
  let providerInclude: string | undefined;
  const provider = options.provider;
  if (provider !== undefined) {
    if (provider === 'ses' || provider === 'sendgrid') providerInclude = PROVIDER_SPF_INCLUDES[provider];
    else if (typeof provider === 'object' && provider !== null && typeof provider.spfInclude === 'string') {
      // Not normalizeDomain: include targets are DNS names, often with underscores (_spf.example.net).
      const target = dnsName(provider.spfInclude.replace(/^include:/i, ''));
      if (target === undefined || !target.includes('.')) throw configError('provider.spfInclude', 'a domain name (_spf.example.net)', provider.spfInclude);
      providerInclude = target;
    } else throw configError('provider', '"ses", "sendgrid" or { spfInclude: "_spf.example.net" }', provider);
  }
  let mailFrom: string | undefined;
  if (options.mailFrom !== undefined) {
    if (typeof options.mailFrom !== 'string') throw configError('mailFrom', 'a domain or an address', options.mailFrom);
    mailFrom = domainOption('mailFrom', options.mailFrom.slice(options.mailFrom.lastIndexOf('@') + 1));
  }
  if (options.fetchMtaStsPolicy !== undefined && typeof options.fetchMtaStsPolicy !== 'function') {
    throw configError('fetchMtaStsPolicy', 'a function', options.fetchMtaStsPolicy);
  }
  return {
    domain,
    selectors,
    keys,
    dkimDomain,
    ips,
    timeoutMs,
    ...(provider !== undefined ? { provider } : {}),
    ...(providerInclude !== undefined ? { providerInclude } : {}),
    ...(mailFrom !== undefined ? { mailFrom } : {}),
    ...(options.fetchMtaStsPolicy !== undefined ? { fetch: options.fetchMtaStsPolicy } : {}),
  };
}

function item(id: string, status: CheckStatus, title: string, detail: string, fix?: string): CheckItem {
  return fix === undefined ? { id, status, title, detail } : { id, status, title, detail, fix };
}

/** Status of an item whose lookup failed: required checks fail, optional ones warn. */
function dnsStatus(required: boolean): CheckStatus {
  return required ? 'fail' : 'warn';
}

function dnsFix(kind: DnsFailureKind | 'timeout' | 'servfail' | 'error', name: string): string {
  if (kind === 'servfail') return `Fix the DNS servers of ${name}: they answer SERVFAIL, so receivers cannot read it either`;
  return `Check your network or resolver (or the DNS servers of ${name}) and run the check again`;
}

async function runChecks(s: Settings, dns: DnsLookup): Promise<CheckItem[]> {
  const spfDomain = s.mailFrom ?? s.domain;
  const [spf, dkim, dmarc, mx, mtaSts, tlsRpt] = await Promise.all([
    spfChecks(s, spfDomain, dns),
    Promise.all(s.selectors.map((selector) => dkimChecks(s, selector, dns))),
    dmarcChecks(s.domain, dns),
    mxChecks(s, dns),
    mtaStsCheck(s, dns),
    tlsRptCheck(s.domain, dns),
  ]);
  const dkimItems = dkim.flatMap((d) => d.items);
  if (s.selectors.length === 0) {
    dkimItems.push(item('dkim.configured', 'warn', 'No DKIM selector given: DKIM was not checked', 'DKIM keys live at <selector>._domainkey.<domain>; the checks need the selector your mail is signed with.', 'Pass the selectors you sign with (dkimSelectors, or --selector)'));
  }
  const alignment = alignmentChecks(s, spfDomain, spf, dkim, dmarc.record);
  return [...spf.items, ...dkimItems, ...dmarc.items, ...alignment, ...mx, ...mtaSts, tlsRpt];
}

// ---------------------------------------------------------------------------------------
// SPF
// ---------------------------------------------------------------------------------------

interface SpfOutcome {
  readonly items: CheckItem[];
  /** The record parses and its tree has no error. */
  readonly usable: boolean;
  /** Every given IP passes (undefined when no IP was given). */
  readonly authorizes?: boolean;
}

const NESTED_PROBLEMS = new Set(['loop', 'missing', 'multiple', 'malformed', 'dns']);

async function spfChecks(s: Settings, spfDomain: string, dns: DnsLookup): Promise<SpfOutcome> {
  const items: CheckItem[] = [];
  const where = spfDomain === s.domain ? spfDomain : `${spfDomain} (the MAIL FROM domain)`;
  const a = await analyzeSpf(spfDomain, dns);
  if (a.status === 'dns-error') {
    items.push(item('spf.present', dnsStatus(true), `Could not read the SPF record of ${where}`, a.error ?? '', dnsFix(a.dnsFailure ?? 'error', spfDomain)));
    return { items, usable: false };
  }
  if (a.status === 'none') {
    items.push(item('spf.present', 'fail', `No SPF record at ${where}`, `${spfDomain} has no TXT record starting with "v=spf1"; receivers get SPF "none".`, `Publish a TXT record at ${spfDomain}: "${suggestedSpf(s)}"`));
    return { items, usable: false };
  }
  items.push(item('spf.present', 'pass', `SPF record found at ${where}`, a.records.map((r) => truncate(r, 2000)).join('\n')));
  if (a.status === 'multiple') {
    items.push(item('spf.single', 'fail', `${spfDomain} publishes ${a.records.length} SPF records`, `${a.error ?? ''}\n${a.records.map((r) => truncate(r, 2000)).join('\n')}`, 'Merge them into one "v=spf1 ..." record and delete the others'));
    return { items, usable: false };
  }
  items.push(item('spf.single', 'pass', 'Exactly one SPF record', `${spfDomain} publishes one TXT record starting with "v=spf1".`));
  if (a.status === 'malformed') {
    items.push(item('spf.syntax', 'fail', `The SPF record of ${spfDomain} is malformed`, `${a.error ?? ''}\nRecord: ${truncate(a.record ?? '', 2000)}\nReceivers return permerror, which fails SPF.`, `Correct the record: ${a.error ?? 'see the detail'}`));
    return { items, usable: false };
  }
  items.push(item('spf.syntax', 'pass', 'The SPF record parses', truncate(a.record ?? '', 2000)));

  const terms = a.lookupTerms.map((t) => `${'  '.repeat(t.depth)}${t.term} (in ${t.domain})`);
  const shown = terms.length > 20 ? [...terms.slice(0, 20), `... ${terms.length - 20} more`] : terms;
  const count = a.truncated ? `more than ${a.lookups - 1}` : String(a.lookups);
  if (a.lookups > SPF_MAX_LOOKUPS) {
    items.push(item('spf.lookups', 'fail', `SPF needs ${count} DNS lookups (limit ${SPF_MAX_LOOKUPS})`, `Terms that query DNS (include, a, mx, ptr, exists, redirect), counted through every include (RFC 7208 4.6.4):\n${shown.join('\n')}\nPast ${SPF_MAX_LOOKUPS}, receivers return permerror and SPF fails.`, 'Remove includes you no longer use, or replace a, mx and nested includes with ip4:/ip6: ranges'));
  } else {
    items.push(item('spf.lookups', 'pass', `SPF needs ${count} of at most ${SPF_MAX_LOOKUPS} DNS lookups`, shown.length > 0 ? shown.join('\n') : 'No term queries DNS.'));
  }

  const voidProblem = a.problems.find((p) => p.kind === 'void-limit');
  if (a.voidLookups > SPF_MAX_VOID_LOOKUPS) {
    items.push(item('spf.void-lookups', 'fail', `SPF has ${a.voidLookups} void lookups (limit ${SPF_MAX_VOID_LOOKUPS})`, `${voidProblem?.message ?? ''}\nA void lookup names something that does not exist (NXDOMAIN or no records).`, 'Remove a, mx, include and exists terms that name hosts without records'));
  } else if (a.voidLookups > 0) {
    items.push(item('spf.void-lookups', 'warn', `SPF has ${a.voidLookups} void lookup${a.voidLookups > 1 ? 's' : ''} (limit ${SPF_MAX_VOID_LOOKUPS})`, 'A term names a host or domain without records: likely a stale entry.', 'Remove terms that name hosts without records'));
  } else {
    items.push(item('spf.void-lookups', 'pass', 'No void lookups', 'Every name the record queries exists.'));
  }

  const nested = a.problems.filter((p) => NESTED_PROBLEMS.has(p.kind));
  const includeCount = a.includes.length + (a.lookupTerms.some((t) => t.term.startsWith('redirect=')) ? 1 : 0);
  if (nested.length > 0) {
    const onlyDns = nested.every((p) => p.kind === 'dns');
    items.push(item('spf.includes', 'fail', onlyDns ? 'An included SPF record could not be read' : 'An included SPF record is broken', nested.map((p) => p.message).join('\n'), onlyDns ? 'Check the DNS of the included domains and run the check again' : 'Fix or remove the include (receivers stop at the error with permerror)'));
  } else {
    items.push(item('spf.includes', 'pass', includeCount === 0 ? 'No include or redirect' : `${includeCount} included record${includeCount > 1 ? 's' : ''} resolve${includeCount > 1 ? '' : 's'}`, a.includes.map((i) => `include:${i.target ?? '(macro)'} in ${i.domain}`).join('\n')));
  }
  const mxLimit = a.problems.filter((p) => p.kind === 'mx-limit');
  if (mxLimit.length > 0) {
    items.push(item('spf.mx-hosts', 'fail', 'An mx term names more than 10 MX hosts', mxLimit.map((p) => p.message).join('\n'), 'Replace the mx term with ip4:/ip6: ranges of the hosts that send'));
  }
  const ptr = a.problems.filter((p) => p.kind === 'ptr');
  if (ptr.length > 0) {
    const how = s.ips.length === 0 ? '' : dns.supportsPtr ? '\nFor the sending IPs it was evaluated: reverse lookup, then A/AAAA confirmation (RFC 7208 5.5).' : '\nThe DNS resolver has no resolvePtr, so ptr was not evaluated for the sending IPs: it never matches here.';
    items.push(item('spf.ptr', 'warn', 'The SPF record uses ptr', `${ptr.map((p) => p.message).join('\n')}${how}`, 'Replace ptr with ip4:/ip6: ranges or include: (RFC 7208 5.5)'));
  }
  const unresolved = a.problems.filter((p) => p.kind === 'unresolved');
  // With sending IPs the evaluation below expands these terms; only the analysis skips them.
  if (unresolved.length > 0 && s.ips.length === 0) {
    items.push(item('spf.macros', 'info', 'Some terms depend on the sending IP', `${unresolved.map((p) => p.message).join('\n')}\nThey were counted but not followed without a sending IP.`, 'Pass the sending IPs (sendingIps, or --ip) to evaluate them'));
  }

  const plusAll = a.problems.filter((p) => p.kind === 'plus-all');
  if (plusAll.length > 0) {
    items.push(item('spf.all', 'fail', 'SPF authorizes every host on the internet (+all)', plusAll.map((p) => p.message).join('\n'), 'End the record with ~all or -all, and remove includes that end in +all'));
  } else if (a.all === '?') {
    items.push(item('spf.all', 'warn', 'SPF ends with ?all (neutral)', 'Mail from unlisted hosts gets "neutral", which protects nothing.', 'End the record with ~all (or -all once every sender is listed)'));
  } else if (a.all === undefined && a.parsed?.redirect === undefined) {
    items.push(item('spf.all', 'warn', 'SPF has no all term', 'Mail from unlisted hosts gets "neutral" by default.', 'End the record with ~all (or -all once every sender is listed)'));
  } else {
    const how = a.all === '-' ? '-all (fail)' : a.all === '~' ? '~all (softfail)' : `redirect=${a.parsed?.redirect ?? ''}`;
    items.push(item('spf.all', 'pass', `SPF ends with ${how}`, 'Mail from hosts the record does not list is not authorized.'));
  }

  const usable = !a.problems.some((p) => p.kind !== 'ptr' && p.kind !== 'unresolved' && p.kind !== 'plus-all');
  let authorizes: boolean | undefined;
  if (s.ips.length > 0) {
    const lines: string[] = [];
    const bad: string[] = [];
    let temp = false;
    for (const ip of s.ips) {
      const r = await evaluateSpf(spfDomain, ip, dns);
      lines.push(`${ip}: ${r.result} (${r.reason})`);
      if (r.result !== 'pass') bad.push(ip);
      if (r.result === 'temperror') temp = true;
    }
    authorizes = bad.length === 0;
    if (authorizes) {
      items.push(item('spf.authorizes', 'pass', `SPF authorizes ${s.ips.length === 1 ? s.ips[0]! : `all ${s.ips.length} sending IPs`}`, lines.join('\n')));
    } else {
      const add = bad.map((ip) => (ip.includes(':') ? `ip6:${ip}` : `ip4:${ip}`)).join(' ');
      items.push(item('spf.authorizes', 'fail', `SPF does not authorize ${bad.join(', ')}`, lines.join('\n'), temp ? 'A lookup failed: check DNS and run the check again' : `Add ${add} (or your relay's include:) to the SPF record of ${spfDomain}, before the all term`));
    }
  } else if (s.providerInclude === undefined) {
    items.push(item('spf.authorizes', 'info', 'No sending IP or provider given: not checked whether SPF authorizes your sender', 'Give the IPs of your SMTP relay or the ESP you send through.', 'Pass sendingIps or provider (--ip, --provider)'));
  }
  if (s.providerInclude !== undefined) items.push(providerItem(s, spfDomain, a));
  return { items, usable, ...(authorizes !== undefined ? { authorizes } : {}) };
}

function providerItem(s: Settings, spfDomain: string, a: SpfAnalysis): CheckItem {
  const want = s.providerInclude!;
  const name = s.provider === 'ses' ? 'Amazon SES' : s.provider === 'sendgrid' ? 'SendGrid' : want;
  const found = a.includes.filter((i) => i.target === want);
  const authorizing = found.find((i) => i.qualifier === '+');
  // SES sends with its own MAIL FROM (amazonses.com) unless a custom MAIL FROM domain is set.
  const sesDefault = s.provider === 'ses' && s.mailFrom === undefined;
  if (authorizing !== undefined) {
    const via = authorizing.domain === spfDomain ? `in the record of ${spfDomain}` : `through the record of ${authorizing.domain}`;
    return item('spf.provider', 'pass', `SPF includes ${name} (include:${want})`, `Found ${via}.`);
  }
  if (found.length > 0) {
    return item('spf.provider', 'fail', `include:${want} has the qualifier "${found[0]!.qualifier}"`, `A "${found[0]!.qualifier}include:" never authorizes ${name}.`, `Write it as include:${want}`);
  }
  if (sesDefault) {
    return item(
      'spf.provider',
      'warn',
      `SPF of ${spfDomain} does not include ${name} (include:${want})`,
      'Without a custom MAIL FROM domain, SES sends with MAIL FROM amazonses.com: SPF passes for amazonses.com but does not align with your From domain (COMPLIANCE P-2).',
      `Set a custom MAIL FROM domain in SES (bounce.${s.domain}) with "v=spf1 include:${want} ~all", and pass it as mailFrom`,
    );
  }
  return item('spf.provider', 'fail', `SPF of ${spfDomain} does not include ${name}`, `No include:${want} was found in the record or its includes.`, `Add include:${want} to the SPF record of ${spfDomain}, before the all term`);
}

function suggestedSpf(s: Settings): string {
  const terms: string[] = [];
  if (s.providerInclude !== undefined) terms.push(`include:${s.providerInclude}`);
  for (const ip of s.ips) terms.push(ip.includes(':') ? `ip6:${ip}` : `ip4:${ip}`);
  if (terms.length === 0) terms.push('include:<your provider>');
  return `v=spf1 ${terms.join(' ')} ~all`;
}

// ---------------------------------------------------------------------------------------
// DKIM
// ---------------------------------------------------------------------------------------

interface DkimOutcome {
  readonly selector: string;
  readonly items: CheckItem[];
  /** A usable key is published (present, parses, not revoked, matches when a key is configured). */
  readonly usable: boolean;
}

async function dkimChecks(s: Settings, selector: string, dns: DnsLookup): Promise<DkimOutcome> {
  const id = `dkim.${selector}`;
  const name = `${selector}._domainkey.${s.dkimDomain}`;
  const items: CheckItem[] = [];
  const configured = s.keys.get(selector);
  const expected = configured === undefined ? '' : `\nPublish: ${name} TXT "${keyRecordFor(configured)}"`;
  const answer = await dns.txt(name);
  if (!answer.ok) {
    if (answer.kind === 'absent') {
      items.push(item(`${id}.present`, 'fail', `No DKIM key at ${name}`, `${answer.message}.${expected}`, `Publish the public key of selector ${selector} as a TXT record at ${name}`));
    } else {
      items.push(item(`${id}.present`, dnsStatus(true), `Could not read the DKIM key at ${name}`, answer.message, dnsFix(answer.kind, name)));
    }
    return { selector, items, usable: false };
  }
  // Some DNS hosts add unrelated TXT records next to the key; only key-like ones count.
  const candidates = answer.records.filter((t) => /(^|;)\s*p\s*=/.test(t) || /^\s*v\s*=\s*DKIM1/i.test(t));
  if (candidates.length === 0) {
    items.push(item(`${id}.present`, 'fail', `The TXT record at ${name} is not a DKIM key`, `${answer.records.map((r) => truncate(r, 200)).join('\n')}${expected}`, `Publish "v=DKIM1; k=rsa; p=<public key>" at ${name}`));
    return { selector, items, usable: false };
  }
  if (candidates.length > 1) {
    items.push(item(`${id}.present`, 'fail', `${candidates.length} DKIM key records at ${name}`, `Receivers may use any of them.\n${candidates.map((r) => truncate(r, 200)).join('\n')}`, `Keep exactly one key record at ${name}`));
    return { selector, items, usable: false };
  }
  const text = candidates[0]!;
  const parsed = parseDkimKeyRecord(text);
  if (parsed.ok && parsed.revoked) {
    items.push(item(`${id}.present`, 'fail', `The DKIM key ${selector} is revoked (empty p=)`, `${name}: ${truncate(text, 200)}\nSignatures with this selector fail.${expected}`, `Sign with an active selector, or publish the key again at ${name}`));
    return { selector, items, usable: false };
  }
  items.push(item(`${id}.present`, 'pass', `DKIM key found at ${name}`, truncate(text, 600)));
  if (!parsed.ok) {
    items.push(item(`${id}.syntax`, 'fail', `The DKIM key record at ${name} is malformed`, `${parsed.error}\nRecord: ${truncate(text, 300)}${expected}`, `Correct the record: ${parsed.error}`));
    return { selector, items, usable: false };
  }
  if (parsed.record.t.includes('y')) {
    items.push(item(`${id}.syntax`, 'warn', `The DKIM key ${selector} is in testing mode (t=y)`, 'Receivers may treat signatures with this key as if the message were unsigned (RFC 6376 3.6.1).', 'Remove t=y once signing works'));
  } else {
    items.push(item(`${id}.syntax`, 'pass', `The DKIM key record parses (k=${parsed.record.k})`, truncate(text, 120)));
  }
  let strong = true;
  if (parsed.keyType === 'ed25519') {
    items.push(item(`${id}.strength`, 'pass', 'Ed25519 key', 'Not every receiver verifies Ed25519 yet (RFC 8463): dual-sign with an RSA key too.'));
  } else {
    const bits = parsed.bits ?? 0;
    if (bits < 1024) {
      strong = false;
      items.push(item(`${id}.strength`, 'fail', `RSA key of ${bits} bits (minimum 1024)`, 'RFC 8301: verifiers must not accept RSA keys under 1024 bits; Gmail and Yahoo require 1024, advise 2048.', 'Generate a 2048-bit key under a new selector and switch to it'));
    } else if (bits < 2048) {
      items.push(item(`${id}.strength`, 'warn', `RSA key of ${bits} bits: 2048 advised`, 'Gmail and Yahoo accept 1024 bits and recommend 2048 (RFC 8301 says SHOULD be at least 2048).', 'Rotate to a 2048-bit key under a new selector'));
    } else {
      items.push(item(`${id}.strength`, 'pass', `RSA key of ${bits} bits`, 'At least 2048 bits, as advised.'));
    }
  }
  let matches = true;
  if (configured !== undefined && parsed.publicKey !== undefined) {
    matches = sameKey(configured, parsed.publicKey);
    if (matches) {
      items.push(item(`${id}.key-match`, 'pass', 'The published key matches the configured key', `${name} holds the public half of the configured key for selector ${selector}.`));
    } else {
      items.push(item(`${id}.key-match`, 'fail', `The key at ${name} is not the configured key`, `Signatures made with the configured key will not verify.${expected}`, `Publish the record for the configured key at ${name} (see detail), or sign with the key that is published`));
    }
  }
  return { selector, items, usable: strong && matches };
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

// ---------------------------------------------------------------------------------------
// DMARC
// ---------------------------------------------------------------------------------------

interface DmarcOutcome {
  readonly items: CheckItem[];
  readonly record?: DmarcRecord;
}

async function dmarcChecks(domain: string, dns: DnsLookup): Promise<DmarcOutcome> {
  const items: CheckItem[] = [];
  const found = await findDmarc(domain, dns);
  const starter = `"v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain}"`;
  if (found.status === 'dns-error') {
    items.push(item('dmarc.present', dnsStatus(true), `Could not read the DMARC record of ${domain}`, found.message, dnsFix(found.dnsFailure, `_dmarc.${domain}`)));
    return { items };
  }
  if (found.status === 'none') {
    if (found.ignored.length > 0) {
      const first = found.ignored[0]!;
      items.push(
        item(
          'dmarc.present',
          'fail',
          `No valid DMARC record for ${domain}: "v=${versionOf(first.text)}" must be "v=DMARC1"`,
          `${ignoredLines(found.ignored)}\nReceivers apply no DMARC policy to ${domain}, whatever p= says. Gmail, Yahoo and Microsoft require DMARC (at least p=none) for bulk mail.`,
          `Write the version in upper case at ${first.name}: "${truncate(fixedVersion(first.text), 200)}"`,
        ),
      );
      return { items };
    }
    items.push(item('dmarc.present', 'fail', `No DMARC record for ${domain}`, `Checked ${found.checked.join(' and ')}. Gmail, Yahoo and Microsoft require DMARC (at least p=none) for bulk mail.`, `Publish a TXT record at _dmarc.${domain}: ${starter}`));
    return { items };
  }
  if (found.status === 'multiple') {
    items.push(item('dmarc.present', 'fail', `${found.texts.length} DMARC records at _dmarc.${found.policyDomain}`, `With more than one record, receivers apply no DMARC at all (RFC 7489 6.6.3).\n${found.texts.join('\n')}`, `Keep exactly one record at _dmarc.${found.policyDomain}`));
    return { items };
  }
  const where = `_dmarc.${found.policyDomain}`;
  items.push(
    found.inherited
      ? item('dmarc.present', 'pass', `DMARC record found at ${where} (the organizational domain)`, `No ${found.ignored.length > 0 ? 'valid ' : ''}record at _dmarc.${domain}; the record of ${found.policyDomain} applies to it (RFC 7489 6.6.3), with sp= for subdomains.\n${found.text}`)
      : item('dmarc.present', 'pass', `DMARC record found at ${where}`, found.text),
  );
  if (found.ignored.length > 0) {
    const first = found.ignored[0]!;
    items.push(
      item(
        'dmarc.ignored',
        'warn',
        `A DMARC record at ${first.name} is ignored: "v=${versionOf(first.text)}" must be "v=DMARC1"`,
        `${ignoredLines(found.ignored)}\nReceivers use ${found.inherited ? `the record of ${found.policyDomain} instead` : 'only the valid record'}.`,
        found.inherited ? `Write the version in upper case at ${first.name}: "${truncate(fixedVersion(first.text), 200)}"` : `Delete the ignored record at ${first.name}`,
      ),
    );
  }
  if (!found.parsed.ok) {
    items.push(item('dmarc.syntax', 'fail', `The DMARC record at ${where} is invalid`, `${found.parsed.error}\nRecord: ${truncate(found.text, 300)}`, `Correct the record: ${found.parsed.error}`));
    return { items };
  }
  const { record, notes } = found.parsed;
  const extra: string[] = [...notes];
  if (record.unknownTags.length > 0) extra.push(`Unknown tags, ignored by receivers: ${record.unknownTags.slice(0, 10).join(', ')}`);
  if (record.ri !== undefined || record.rf !== undefined) extra.push('ri= and rf= are removed in DMARCbis (RFC 9989) and may be ignored.');
  if (notes.length > 0) {
    items.push(item('dmarc.syntax', 'warn', 'The DMARC record parses, with problems', extra.join('\n'), `Correct the record: ${notes[0]!}`));
  } else {
    items.push(item('dmarc.syntax', 'pass', 'The DMARC record parses', extra.length > 0 ? extra.join('\n') : truncate(found.text, 200)));
  }

  const policy = found.inherited ? (record.sp ?? record.p) : record.p;
  const tag = found.inherited && record.sp !== undefined ? 'sp' : 'p';
  if (record.p === undefined && policy === undefined) {
    items.push(item('dmarc.policy', 'warn', 'The DMARC record has no p= tag (read as p=none)', 'DMARCbis (RFC 9989) reads a missing p as none; RFC 7489 receivers may discard the record.', 'Add p=none now, and move to quarantine or reject once reports are clean'));
  } else if (policy === 'none' || policy === undefined) {
    items.push(item('dmarc.policy', 'warn', `DMARC policy is ${tag}=none (monitoring only)`, 'Mail that fails DMARC is still delivered; the big providers accept p=none for bulk senders.', 'Move to quarantine/reject once reports are clean'));
  } else {
    items.push(item('dmarc.policy', 'pass', `DMARC policy is ${tag}=${policy}`, `Mail that fails DMARC is ${policy === 'reject' ? 'refused' : 'sent to spam'}.`));
  }
  if (record.t === 'y') {
    items.push(item('dmarc.testing', 'warn', 'DMARC is in testing mode (t=y)', 'Receivers apply one step less than the policy (DMARCbis).', 'Remove t=y once reports are clean'));
  }
  if (record.pct !== undefined) {
    const partial = record.pct < 100 ? ` Only ${record.pct}% of failing mail gets the policy.` : '';
    items.push(item('dmarc.pct', 'warn', `pct=${record.pct} is removed in DMARCbis`, `DMARCbis (RFC 9989) drops pct; receivers may ignore it.${partial}`, 'Remove pct= (use t=y to test a policy instead)'));
  }
  items.push(await ruaItem(found.policyDomain, record, dns));
  return { items, record };
}

/** The version value of a record that `dmarcVersionProblem` flagged (`dmarc1`). */
function versionOf(text: string): string {
  return /^\s*v\s*=\s*([^;\s]*)/i.exec(text)?.[1] ?? '';
}

/** The record with its version written as `v=DMARC1`. */
function fixedVersion(text: string): string {
  return text.replace(/^(\s*[vV]\s*=\s*)dmarc1/i, '$1DMARC1');
}

function ignoredLines(ignored: readonly IgnoredDmarcRecord[]): string {
  return ignored.map((r) => `${r.name}: ${truncate(r.text, 200)}\n  ${r.reason}`).join('\n');
}

async function ruaItem(policyDomain: string, record: DmarcRecord, dns: DnsLookup): Promise<CheckItem> {
  if (record.rua.length === 0) {
    return item('dmarc.rua', 'warn', 'No rua=: you receive no DMARC aggregate reports', 'Without reports you cannot see who sends as your domain, nor when to tighten the policy.', `Add rua=mailto:dmarc-reports@${policyDomain}`);
  }
  // External destinations must consent (RFC 7489 7.1): <policy domain>._report._dmarc.<destination>.
  const problems: string[] = [];
  const org = orgDomain(policyDomain);
  for (const uri of record.rua.slice(0, 5)) {
    const address = reportAddress(uri);
    if (address === undefined) continue;
    const rawTarget = address.slice(address.lastIndexOf('@') + 1);
    const target = canonicalDomain(rawTarget) ?? rawTarget.toLowerCase();
    if (orgDomain(target) === org) continue;
    const name = `${policyDomain}._report._dmarc.${target}`;
    const answer = await dns.txt(name);
    if (!answer.ok && answer.kind !== 'absent') problems.push(`${answer.message}: could not check that ${target} accepts reports for ${policyDomain}`);
    else if (!answer.ok || !answer.records.some(isDmarcRecord)) {
      problems.push(`${target} has not authorized reports for ${policyDomain}: no "v=DMARC1" TXT record at ${name}, so receivers skip ${address}`);
    }
  }
  if (problems.length > 0) {
    return item('dmarc.rua', 'warn', 'A DMARC report destination is not authorized', problems.join('\n'), 'Ask the report receiver to publish the _report._dmarc record (most DMARC services do it for you)');
  }
  return item('dmarc.rua', 'pass', 'Aggregate reports are requested (rua=)', record.rua.join(', '));
}

// ---------------------------------------------------------------------------------------
// Alignment
// ---------------------------------------------------------------------------------------

function alignmentChecks(s: Settings, spfDomain: string, spf: SpfOutcome, dkim: readonly DkimOutcome[], record: DmarcRecord | undefined): CheckItem[] {
  const adkim: AlignmentMode = record?.adkim === 's' ? 'strict' : 'relaxed';
  const aspf: AlignmentMode = record?.aspf === 's' ? 'strict' : 'relaxed';
  const modeNote = record === undefined ? ' (no DMARC record read: relaxed assumed)' : '';
  const items: CheckItem[] = [];

  let dkimOk = false;
  let dkimAligned = false;
  if (dkim.length === 0) {
    items.push(item('alignment.dkim', 'info', 'DKIM alignment not checked: no selector given', `The signing domain would need to ${adkim === 'strict' ? 'equal' : 'share the organizational domain of'} ${s.domain}.`, 'Pass the selectors you sign with (dkimSelectors, or --selector)'));
  } else {
    const aligned = isAligned(s.domain, s.dkimDomain, adkim);
    dkimAligned = aligned;
    const working = dkim.filter((d) => d.usable).map((d) => d.selector);
    dkimOk = aligned && working.length > 0;
    const rule = `${adkim} alignment${modeNote}: ${adkim === 'strict' ? 'd= must equal the From domain' : `org domain of d= (${orgDomain(s.dkimDomain)}) vs From (${orgDomain(s.domain)})`}`;
    if (dkimOk) items.push(item('alignment.dkim', 'pass', `DKIM d=${s.dkimDomain} aligns with ${s.domain}`, `${rule}\nWorking selectors: ${working.join(', ')}`));
    else if (aligned) items.push(item('alignment.dkim', 'warn', `DKIM d=${s.dkimDomain} aligns, but no selector has a working key`, rule, 'Fix the DKIM key items above'));
    else items.push(item('alignment.dkim', 'warn', `DKIM d=${s.dkimDomain} does not align with ${s.domain}`, rule, `Sign with d=${adkim === 'strict' ? s.domain : orgDomain(s.domain)} (or a subdomain${adkim === 'strict' ? ' with adkim=r' : ''})`));
  }

  const sesDefault = s.provider === 'ses' && s.mailFrom === undefined;
  const envelope = sesDefault ? 'amazonses.com' : spfDomain;
  const spfAligned = isAligned(s.domain, envelope, aspf);
  const spfWorks = spf.usable && spf.authorizes !== false;
  const spfRule = `${aspf} alignment${modeNote}: MAIL FROM ${envelope} vs From ${s.domain}`;
  let spfOk = false;
  if (sesDefault) {
    items.push(item('alignment.spf', 'warn', 'SPF does not align: SES sends with MAIL FROM amazonses.com', `${spfRule}\nWithout a custom MAIL FROM domain, SPF passes for amazonses.com only.`, `Set a custom MAIL FROM domain in SES (bounce.${s.domain}) and pass it as mailFrom`));
  } else if (!spfAligned) {
    items.push(item('alignment.spf', 'warn', `SPF MAIL FROM ${envelope} does not align with ${s.domain}`, spfRule, `Use a MAIL FROM (Return-Path) domain under ${orgDomain(s.domain)}${aspf === 'strict' ? `, equal to ${s.domain} (aspf=s)` : ''}`));
  } else if (!spfWorks) {
    items.push(item('alignment.spf', 'warn', `SPF MAIL FROM ${envelope} aligns, but SPF does not pass`, spfRule, 'Fix the SPF items above'));
  } else {
    spfOk = true;
    items.push(item('alignment.spf', 'pass', `SPF MAIL FROM ${envelope} aligns with ${s.domain}`, `${spfRule}${spf.authorizes === undefined ? '\nWhether SPF passes for your sender was not checked (no IP or provider given).' : ''}`));
  }

  if (dkimOk || spfOk) {
    items.push(item('alignment', 'pass', `From ${s.domain} is aligned through ${[dkimOk ? 'DKIM' : '', spfOk ? 'SPF' : ''].filter((x) => x !== '').join(' and ')}`, 'DMARC passes when either aligned identifier passes; Gmail and Yahoo require one for bulk mail.'));
  } else if (!dkimAligned && (sesDefault || !spfAligned)) {
    items.push(item('alignment', 'fail', `Neither DKIM nor SPF aligns with From ${s.domain}`, 'DMARC fails for this mail: Gmail, Yahoo and Microsoft reject or junk unaligned bulk mail (COMPLIANCE P-2).', `Sign with DKIM d=${s.domain} and publish its key (or use a MAIL FROM under ${orgDomain(s.domain)})`));
  } else {
    const why = [dkimAligned ? `DKIM d=${s.dkimDomain} aligns but has no working key` : '', spfAligned && !sesDefault ? `SPF MAIL FROM ${envelope} aligns but SPF does not pass` : ''].filter((x) => x !== '');
    items.push(item('alignment', 'fail', `No aligned DKIM or SPF passes for From ${s.domain}`, `${why.join('; ')}.\nDMARC fails for this mail: Gmail, Yahoo and Microsoft reject or junk it (COMPLIANCE P-2).`, 'Fix the DKIM and SPF items above'));
  }
  return items;
}

// ---------------------------------------------------------------------------------------
// MX, MTA-STS, TLS-RPT
// ---------------------------------------------------------------------------------------

async function mxChecks(s: Settings, dns: DnsLookup): Promise<CheckItem[]> {
  const items: CheckItem[] = [];
  const answer = await dns.mx(s.domain);
  if (!answer.ok) {
    if (answer.kind === 'absent') {
      items.push(item('mx.present', 'warn', `No MX record for ${s.domain}`, 'Replies to the From address cannot arrive, and some receivers distrust mail from domains that take none.', `Publish an MX record for ${s.domain}, or a null MX ("0 .") if it takes no mail`));
    } else {
      items.push(item('mx.present', dnsStatus(false), `Could not read the MX records of ${s.domain}`, answer.message, dnsFix(answer.kind, s.domain)));
    }
  } else if (answer.records.length === 1 && (answer.records[0]!.exchange === '' || answer.records[0]!.exchange === '.')) {
    items.push(item('mx.present', 'info', `${s.domain} has a null MX: it accepts no mail (RFC 7505)`, 'Replies to the From address will bounce; fine for a no-reply domain.'));
  } else {
    const hosts = [...answer.records].sort((x, y) => x.priority - y.priority).map((r) => `${r.priority} ${r.exchange}`);
    items.push(item('mx.present', 'pass', `${s.domain} has ${hosts.length} MX record${hosts.length > 1 ? 's' : ''}`, hosts.slice(0, 10).join('\n')));
  }
  if (s.mailFrom !== undefined && s.mailFrom !== s.domain) {
    const mf = await dns.mx(s.mailFrom);
    if (mf.ok) items.push(item('mx.mail-from', 'pass', `The MAIL FROM domain ${s.mailFrom} has MX records`, mf.records.map((r) => `${r.priority} ${r.exchange}`).slice(0, 10).join('\n')));
    else if (mf.kind === 'absent') items.push(item('mx.mail-from', 'warn', `The MAIL FROM domain ${s.mailFrom} has no MX record`, 'Bounces go to the MAIL FROM address: without an MX they are lost (SES needs an MX to feedback-smtp.<region>.amazonses.com).', `Publish the MX record your provider gives for ${s.mailFrom}`));
    else items.push(item('mx.mail-from', 'warn', `Could not read the MX records of ${s.mailFrom}`, mf.message, dnsFix(mf.kind, s.mailFrom)));
  }
  return items;
}

const MTA_STS_MAX_AGE = 31_557_600;

async function mtaStsCheck(s: Settings, dns: DnsLookup): Promise<CheckItem[]> {
  const name = `_mta-sts.${s.domain}`;
  const answer = await dns.txt(name);
  if (!answer.ok) {
    if (answer.kind === 'absent') return [item('mta-sts', 'info', 'No MTA-STS record (optional)', `No TXT record at ${name}. MTA-STS (RFC 8461) makes senders to ${s.domain} require TLS.`, `Optional: publish ${name} TXT "v=STSv1; id=<date>" and a policy at https://mta-sts.${s.domain}/.well-known/mta-sts.txt`)];
    return [item('mta-sts', 'warn', `Could not read ${name}`, answer.message, dnsFix(answer.kind, name))];
  }
  const records = answer.records.filter((r) => /^v=STSv1(;|\s|$)/.test(r));
  if (records.length === 0) return [item('mta-sts', 'info', 'No MTA-STS record (optional)', `The TXT records at ${name} do not start with "v=STSv1".`)];
  if (records.length > 1) return [item('mta-sts', 'warn', `${records.length} MTA-STS records at ${name}`, 'Senders ignore MTA-STS when there is more than one record (RFC 8461 3.1).', 'Keep exactly one record')];
  const id = /(?:^|;)\s*id\s*=\s*([A-Za-z0-9]{1,32})\s*(?:;|$)/.exec(records[0]!)?.[1];
  if (id === undefined) return [item('mta-sts', 'warn', 'The MTA-STS record has no valid id=', `${truncate(records[0]!, 200)}\nid= must be 1 to 32 letters or digits (RFC 8461 3.1).`, 'Write the record as "v=STSv1; id=20260701T000000"')];
  if (s.fetch === undefined) {
    return [item('mta-sts', 'pass', `MTA-STS record present (id=${id})`, `${records[0]!}\nDNS-only check: the policy at https://mta-sts.${s.domain}/.well-known/mta-sts.txt was not fetched.`)];
  }
  return [await mtaStsPolicyItem(s, id, dns)];
}

async function mtaStsPolicyItem(s: Settings, id: string, dns: DnsLookup): Promise<CheckItem> {
  const url = `https://mta-sts.${s.domain}/.well-known/mta-sts.txt`;
  let response: { status: number; body: string };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${s.timeoutMs} ms`)), s.timeoutMs);
    });
    response = await Promise.race([s.fetch!(url), timedOut]);
    if (typeof response !== 'object' || response === null || typeof response.status !== 'number' || typeof response.body !== 'string') {
      throw new Error('fetchMtaStsPolicy must resolve with { status, body }');
    }
  } catch (err) {
    return item('mta-sts', 'warn', 'The MTA-STS policy could not be fetched', `${url}: ${err instanceof Error ? err.message : String(err)}`, `Serve the policy at ${url} over HTTPS with a valid certificate`);
  } finally {
    clearTimeout(timer);
  }
  if (response.status !== 200) {
    return item('mta-sts', 'warn', `The MTA-STS policy answered HTTP ${response.status}`, `${url} must answer 200; redirects are not followed (RFC 8461 3.3).`, `Serve the policy at ${url} with status 200`);
  }
  const fields = new Map<string, string[]>();
  for (const line of response.body.slice(0, 64 * 1024).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    fields.set(key, [...(fields.get(key) ?? []), line.slice(colon + 1).trim()]);
  }
  const problems: string[] = [];
  const mode = fields.get('mode')?.[0];
  if (fields.get('version')?.[0] !== 'STSv1') problems.push('version: STSv1 is missing');
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none') problems.push(`mode must be enforce, testing or none, got ${JSON.stringify(mode ?? '')}`);
  const maxAge = Number(fields.get('max_age')?.[0]);
  if (!Number.isInteger(maxAge) || maxAge < 0 || maxAge > MTA_STS_MAX_AGE) problems.push(`max_age must be a whole number of seconds up to ${MTA_STS_MAX_AGE}`);
  const patterns = (fields.get('mx') ?? []).map((p) => p.toLowerCase().replace(/\.$/, ''));
  if (mode !== 'none' && patterns.length === 0) problems.push('no mx: lines');
  const mx = await dns.mx(s.domain);
  if (mx.ok && patterns.length > 0) {
    for (const host of mx.records.map((r) => r.exchange)) {
      const covered = patterns.some((p) => (p.startsWith('*.') ? host.endsWith(p.slice(1)) && !host.slice(0, -(p.length - 1)).includes('.') : host === p));
      if (!covered) problems.push(`MX host ${host} matches no mx: pattern, so senders ${mode === 'enforce' ? 'refuse to deliver to it' : 'report it'}`);
    }
  }
  if (problems.length > 0) return item('mta-sts', mode === 'enforce' ? 'fail' : 'warn', 'The MTA-STS policy has problems', `${url}\n${problems.join('\n')}`, problems[0]!);
  return item('mta-sts', 'pass', `MTA-STS policy in ${mode} mode (id=${id})`, `${url}\nmx: ${patterns.join(', ')}; max_age ${maxAge}`);
}

async function tlsRptCheck(domain: string, dns: DnsLookup): Promise<CheckItem> {
  const name = `_smtp._tls.${domain}`;
  const answer = await dns.txt(name);
  if (!answer.ok) {
    if (answer.kind === 'absent') return item('tls-rpt', 'info', 'No TLS-RPT record (optional)', `No TXT record at ${name}. TLS-RPT (RFC 8460) sends you reports of TLS failures delivering to ${domain}.`, `Optional: publish ${name} TXT "v=TLSRPTv1; rua=mailto:tlsrpt@${domain}"`);
    return item('tls-rpt', 'warn', `Could not read ${name}`, answer.message, dnsFix(answer.kind, name));
  }
  const records = answer.records.filter((r) => /^v=TLSRPTv1(;|\s|$)/.test(r));
  if (records.length === 0) return item('tls-rpt', 'info', 'No TLS-RPT record (optional)', `The TXT records at ${name} do not start with "v=TLSRPTv1".`);
  if (records.length > 1) return item('tls-rpt', 'warn', `${records.length} TLS-RPT records at ${name}`, 'Senders ignore TLS-RPT when there is more than one record (RFC 8460 3).', 'Keep exactly one record');
  const rua = /(?:^|;)\s*rua\s*=\s*([^;]*)/.exec(records[0]!)?.[1]?.trim();
  const uris = (rua ?? '').split(',').map((u) => u.trim()).filter((u) => u !== '');
  if (uris.length === 0 || !uris.every((u) => /^(mailto:[^@\s]+@[^@\s]+|https:\/\/\S+)$/i.test(u))) {
    return item('tls-rpt', 'warn', 'The TLS-RPT record has no valid rua=', `${truncate(records[0]!, 200)}\nrua= takes mailto: or https: URIs.`, `Write it as "v=TLSRPTv1; rua=mailto:tlsrpt@${domain}"`);
  }
  return item('tls-rpt', 'pass', 'TLS-RPT record present', records[0]!);
}
