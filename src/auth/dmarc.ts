/**
 * DMARC records: parsing (RFC 7489 6.3 and DMARCbis, RFC 9989) and policy discovery with
 * the organizational-domain fallback (RFC 7489 6.6.3).
 *
 * The parser accepts both versions: `pct`, `rf` and `ri` (removed by DMARCbis) and `t`,
 * `np`, `psd` (added by it). A missing `p` reads as `none`, as DMARCbis says, and is
 * reported so the caller can warn.
 *
 * The version value is case-sensitive: it must be exactly `DMARC1` (RFC 7489 6.3 and its
 * ABNF `%x44 %x4d %x41 %x52 %x43 %x31`, kept by RFC 9989), and receivers discard any other
 * TXT record at `_dmarc` (RFC 7489 6.6.3). So `v=dmarc1; p=reject` is no DMARC record at all:
 * {@link isDmarcRecord} and {@link parseDmarc} refuse it, and {@link findDmarc} reports it
 * as ignored and goes on as the receiver does. The tag name `v` itself may be `V`.
 *
 * @module
 */

import type { DnsLookup } from './dns.js';
import { canonicalDomain, orgDomain } from './org-domain.js';

/** A DMARC policy. */
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

/** A parsed DMARC record. */
export interface DmarcRecord {
  /** Requested policy. `undefined` when the record has no `p` (read as `none`). */
  readonly p?: DmarcPolicy;
  /** Policy for subdomains. */
  readonly sp?: DmarcPolicy;
  /** Policy for non-existent subdomains (DMARCbis). */
  readonly np?: DmarcPolicy;
  /** DKIM alignment: `r` relaxed (default) or `s` strict. */
  readonly adkim: 'r' | 's';
  /** SPF alignment: `r` relaxed (default) or `s` strict. */
  readonly aspf: 'r' | 's';
  /** Percentage of mail the policy applies to (RFC 7489; removed by DMARCbis). */
  readonly pct?: number;
  /** Aggregate report destinations, as written. */
  readonly rua: readonly string[];
  /** Failure report destinations, as written. */
  readonly ruf: readonly string[];
  /** Failure reporting options (`0`, `1`, `d`, `s`, colon-separated). */
  readonly fo?: string;
  /** Failure report format (RFC 7489; removed by DMARCbis). */
  readonly rf?: string;
  /** Aggregate report interval in seconds (RFC 7489; removed by DMARCbis). */
  readonly ri?: number;
  /** Testing mode (DMARCbis `t=y`). */
  readonly t?: 'y' | 'n';
  /** Public suffix domain flag (DMARCbis). */
  readonly psd?: 'y' | 'n' | 'u';
  /** Tags this parser does not know (ignored, as the RFCs ask). */
  readonly unknownTags: readonly string[];
}

/** Result of {@link parseDmarc}. */
export type DmarcParseResult =
  | {
      readonly ok: true;
      readonly record: DmarcRecord;
      /** Things that parse but deserve a word (invalid report URIs, `rf` values). */
      readonly notes: readonly string[];
    }
  | { readonly ok: false; readonly error: string };

const POLICIES = new Set<string>(['none', 'quarantine', 'reject']);

/**
 * True when a TXT record is a DMARC record: it starts with the `v=DMARC1` tag, `DMARC1` in
 * upper case (RFC 7489 6.6.3 discards every other TXT record at `_dmarc`).
 *
 * @example
 * ```ts
 * isDmarcRecord('v=DMARC1; p=reject'); // true
 * isDmarcRecord('v=dmarc1; p=reject'); // false: receivers ignore it
 * ```
 */
export function isDmarcRecord(txt: string): boolean {
  return versionValue(txt) === 'DMARC1';
}

/**
 * When a TXT record starts with a DMARC version tag whose value is `DMARC1` in the wrong
 * case (`v=dmarc1`, `v=Dmarc1`), the reason receivers ignore it; otherwise undefined.
 *
 * @example
 * ```ts
 * dmarcVersionProblem('v=dmarc1; p=reject'); // 'the version is "v=dmarc1", but it must be ...'
 * dmarcVersionProblem('v=DMARC1; p=reject'); // undefined
 * ```
 */
export function dmarcVersionProblem(txt: string): string | undefined {
  const value = versionValue(txt);
  if (value === undefined || value === 'DMARC1' || value.toLowerCase() !== 'dmarc1') return undefined;
  return `the version is "v=${value}", but it must be exactly "v=DMARC1" in upper case (the value is case-sensitive, RFC 7489 6.3 and RFC 9989): receivers ignore this record`;
}

/** The value of a leading `v=` tag (6 characters, any case), or undefined. */
function versionValue(txt: string): string | undefined {
  let i = skipSpace(txt, 0);
  if ((txt.charAt(i) || '').toLowerCase() !== 'v') return undefined;
  i = skipSpace(txt, i + 1);
  if (txt.charAt(i) !== '=') return undefined;
  i = skipSpace(txt, i + 1);
  const value = txt.slice(i, i + 6);
  const after = skipSpace(txt, i + 6);
  return after >= txt.length || txt.charAt(after) === ';' ? value : undefined;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text.charAt(i) === ' ' || text.charAt(i) === '\t')) i++;
  return i;
}

/**
 * Parses a DMARC record. Malformed values of known tags make the record invalid; unknown
 * tags are listed and ignored.
 *
 * @example
 * ```ts
 * import { parseDmarc } from 'mailpush/auth';
 *
 * const parsed = parseDmarc('v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com');
 * if (parsed.ok) console.log(parsed.record.p, parsed.record.rua); // 'quarantine' ['mailto:dmarc@example.com']
 * else console.error(parsed.error);
 * ```
 */
export function parseDmarc(txt: string): DmarcParseResult {
  if (!isDmarcRecord(txt)) return { ok: false, error: dmarcVersionProblem(txt) ?? 'the record does not start with "v=DMARC1"' };
  const notes: string[] = [];
  const seen = new Map<string, string>();
  const unknownTags: string[] = [];
  const parts = txt.split(';');
  for (let k = 0; k < parts.length; k++) {
    const part = parts[k]!.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, error: `${quote(part)} is not a tag=value pair` };
    const tag = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (!/^[a-z][a-z0-9_]*$/.test(tag)) return { ok: false, error: `${quote(part.slice(0, eq))} is not a tag name` };
    if (seen.has(tag)) return { ok: false, error: `the tag "${tag}" appears twice` };
    seen.set(tag, value);
  }
  const get = (tag: string): string | undefined => seen.get(tag);

  const policy = (tag: 'p' | 'sp' | 'np'): DmarcPolicy | string | undefined => {
    const v = get(tag);
    if (v === undefined) return undefined;
    const lower = v.toLowerCase();
    return POLICIES.has(lower) ? (lower as DmarcPolicy) : `${tag}=${v} is not a policy (none, quarantine or reject)`;
  };
  const record: { -readonly [K in keyof DmarcRecord]: DmarcRecord[K] } = { adkim: 'r', aspf: 'r', rua: [], ruf: [], unknownTags };
  for (const tag of ['p', 'sp', 'np'] as const) {
    const v = policy(tag);
    if (v === undefined) continue;
    if (!POLICIES.has(v)) return { ok: false, error: v };
    record[tag] = v as DmarcPolicy;
  }
  for (const tag of ['adkim', 'aspf'] as const) {
    const v = get(tag);
    if (v === undefined) continue;
    const lower = v.toLowerCase();
    if (lower !== 'r' && lower !== 's') return { ok: false, error: `${tag}=${v} must be "r" (relaxed) or "s" (strict)` };
    record[tag] = lower;
  }
  const pct = get('pct');
  if (pct !== undefined) {
    if (!/^\d{1,3}$/.test(pct) || Number(pct) > 100) return { ok: false, error: `pct=${pct} must be a whole number from 0 to 100` };
    record.pct = Number(pct);
  }
  for (const tag of ['rua', 'ruf'] as const) {
    const v = get(tag);
    if (v === undefined) continue;
    const uris = v.split(',').map((u) => u.trim()).filter((u) => u !== '');
    for (const uri of uris) {
      const problem = checkReportUri(uri);
      if (problem !== undefined) notes.push(`${tag}: ${problem}`);
    }
    record[tag] = uris;
  }
  const fo = get('fo');
  if (fo !== undefined) {
    if (!fo.split(':').every((o) => ['0', '1', 'd', 's'].includes(o.trim().toLowerCase()))) return { ok: false, error: `fo=${fo} must be a colon-separated list of 0, 1, d and s` };
    record.fo = fo;
  }
  const rf = get('rf');
  if (rf !== undefined) {
    if (!rf.split(':').every((f) => f.trim().toLowerCase() === 'afrf')) notes.push(`rf=${rf}: the only report format is "afrf"`);
    record.rf = rf;
  }
  const ri = get('ri');
  if (ri !== undefined) {
    if (!/^\d{1,10}$/.test(ri)) return { ok: false, error: `ri=${ri} must be a number of seconds` };
    record.ri = Number(ri);
  }
  const t = get('t');
  if (t !== undefined) {
    const lower = t.toLowerCase();
    if (lower !== 'y' && lower !== 'n') return { ok: false, error: `t=${t} must be "y" or "n"` };
    record.t = lower;
  }
  const psd = get('psd');
  if (psd !== undefined) {
    const lower = psd.toLowerCase();
    if (lower !== 'y' && lower !== 'n' && lower !== 'u') return { ok: false, error: `psd=${psd} must be "y", "n" or "u"` };
    record.psd = lower;
  }
  const known = new Set(['v', 'p', 'sp', 'np', 'adkim', 'aspf', 'pct', 'rua', 'ruf', 'fo', 'rf', 'ri', 't', 'psd']);
  for (const tag of seen.keys()) if (!known.has(tag)) unknownTags.push(tag);
  return { ok: true, record, notes };
}

/** Reason a report URI is unusable, or undefined. Only `mailto:` is required of receivers. */
function checkReportUri(uri: string): string | undefined {
  const colon = uri.indexOf(':');
  if (colon <= 0) return `${quote(uri)} is not a URI (expected mailto:reports@example.com)`;
  const scheme = uri.slice(0, colon).toLowerCase();
  if (scheme !== 'mailto') return scheme === 'https' || scheme === 'http' ? undefined : `${quote(uri)} uses the scheme "${scheme}"; receivers send reports by mailto:`;
  const address = reportAddress(uri);
  if (address === undefined) return `${quote(uri)} is not a valid mailto: address`;
  return undefined;
}

/**
 * The address of a `mailto:` report URI without its `!size` suffix, or undefined.
 *
 * @internal
 */
export function reportAddress(uri: string): string | undefined {
  if (uri.slice(0, 7).toLowerCase() !== 'mailto:') return undefined;
  let address = uri.slice(7);
  const bang = address.indexOf('!');
  if (bang >= 0) address = address.slice(0, bang);
  const q = address.indexOf('?');
  if (q >= 0) address = address.slice(0, q);
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1 || /\s/.test(address)) return undefined;
  return address;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

/** A TXT record at `_dmarc.<domain>` that looks like DMARC but that receivers ignore. */
export interface IgnoredDmarcRecord {
  /** Where it was found: `_dmarc.example.com`. */
  readonly name: string;
  readonly text: string;
  /** Why receivers ignore it (see {@link dmarcVersionProblem}). */
  readonly reason: string;
}

/** Result of {@link findDmarc}. */
export type DmarcDiscovery =
  | {
      readonly status: 'found';
      /** Records passed over on the way, such as `v=dmarc1` at the From domain. */
      readonly ignored: readonly IgnoredDmarcRecord[];
      /** The domain whose `_dmarc` record applies (the From domain or its organizational domain). */
      readonly policyDomain: string;
      /** The record came from the organizational domain, not the From domain itself. */
      readonly inherited: boolean;
      readonly text: string;
      readonly parsed: DmarcParseResult;
    }
  | {
      readonly status: 'none';
      readonly checked: readonly string[];
      /** Records that look like DMARC but that receivers ignore (`v=dmarc1`): why there is none. */
      readonly ignored: readonly IgnoredDmarcRecord[];
    }
  | { readonly status: 'multiple'; readonly policyDomain: string; readonly texts: readonly string[] }
  | { readonly status: 'dns-error'; readonly message: string; readonly dnsFailure: 'timeout' | 'servfail' | 'error' };

/**
 * Finds the DMARC record that applies to mail from `domain`: `_dmarc.<domain>`, else
 * `_dmarc.<organizational domain>` (RFC 7489 6.6.3). A DNS failure stops the search, since
 * falling back on it could report a policy the receiver would not use. Records with a
 * miscased version (`v=dmarc1`) are skipped as receivers skip them, and listed in `ignored`.
 * The domain is compared in canonical form (case and a trailing dot do not matter).
 *
 * @example
 * ```ts
 * const found = await findDmarc('mail.example.com', createDnsLookup(resolver, 5000));
 * if (found.status === 'found') console.log(found.policyDomain, found.parsed);
 * ```
 */
export async function findDmarc(domain: string, dns: DnsLookup): Promise<DmarcDiscovery> {
  const name = canonicalDomain(domain) ?? domain;
  const org = orgDomain(name);
  const candidates = org === name ? [name] : [name, org];
  const ignored: IgnoredDmarcRecord[] = [];
  for (const candidate of candidates) {
    const where = `_dmarc.${candidate}`;
    const answer = await dns.txt(where);
    if (!answer.ok && answer.kind !== 'absent') return { status: 'dns-error', message: answer.message, dnsFailure: answer.kind };
    const texts = answer.ok ? answer.records : [];
    for (const text of texts) {
      const reason = dmarcVersionProblem(text);
      if (reason !== undefined) ignored.push({ name: where, text, reason });
    }
    const records = texts.filter(isDmarcRecord);
    if (records.length > 1) return { status: 'multiple', policyDomain: candidate, texts: records };
    if (records.length === 1) {
      const text = records[0]!;
      return { status: 'found', policyDomain: candidate, inherited: candidate !== name, text, parsed: parseDmarc(text), ignored };
    }
  }
  return { status: 'none', checked: candidates.map((c) => `_dmarc.${c}`), ignored };
}
