/**
 * Preflight of the From domains before marketing mail goes out: {@link checkDomain} for each
 * domain, and the failed items that must block sending (COMPLIANCE.md sections 1 and 3).
 *
 * @module
 */

import { MailErrorCode, configError } from '../errors.js';
import { knownKeys, rejectUnknownKeys } from '../validation/known-keys.js';
import { checkDomain, domainOption, type CheckDomainOptions, type CheckItem, type DomainReport } from './check-domain.js';
import { createDnsResolver, DEFAULT_DNS_TIMEOUT_MS, type DnsResolver } from './dns.js';

/**
 * Items that must not fail before marketing mail is sent (Gmail, Yahoo and Microsoft bulk
 * sender rules): SPF present, single, valid, within its limits and authorizing the sender
 * when known; DKIM keys present, valid, strong enough and matching for configured selectors;
 * DMARC present and valid; From aligned. `*` stands for one id segment (the selector).
 */
export const REQUIRED_CHECKS: readonly string[] = Object.freeze([
  'spf.present',
  'spf.single',
  'spf.syntax',
  'spf.lookups',
  'spf.void-lookups',
  'spf.includes',
  'spf.mx-hosts',
  'spf.authorizes',
  'spf.provider',
  'dkim.*.present',
  'dkim.*.syntax',
  'dkim.*.strength',
  'dkim.*.key-match',
  'dmarc.present',
  'dmarc.syntax',
  'alignment',
]);

/**
 * True when an item id is one of {@link REQUIRED_CHECKS}.
 *
 * @example
 * ```ts
 * import { isRequiredCheck } from 'mailpush/auth';
 *
 * isRequiredCheck('dkim.s1.present'); // true (matches 'dkim.*.present')
 * isRequiredCheck('dmarc.policy'); // false: reported, but does not block sending
 * ```
 */
export function isRequiredCheck(id: string, required: readonly string[] = REQUIRED_CHECKS): boolean {
  const parts = id.split('.');
  return required.some((pattern) => {
    const p = pattern.split('.');
    return p.length === parts.length && p.every((seg, k) => seg === '*' || seg === parts[k]);
  });
}

/** Per-domain settings of {@link preflightDomains}: everything of {@link CheckDomainOptions} but the domain. */
export type DomainCheckSettings = Omit<CheckDomainOptions, 'domain' | 'resolver' | 'timeoutMs'>;

/** Options of {@link preflightDomains}. */
export interface PreflightOptions extends DomainCheckSettings {
  /**
   * Settings for one From domain, merged over the shared ones. Keys are domains, matched in
   * canonical form (`Example.COM.` is `example.com`, Unicode names as A-labels).
   */
  readonly domains?: Readonly<Record<string, DomainCheckSettings>>;
  /** Where DNS queries go. @default a `node:dns/promises` resolver */
  readonly resolver?: DnsResolver;
  /** Most time one DNS lookup may take, in milliseconds. @default 5000 */
  readonly timeoutMs?: number;
  /** Ids (with `*` for one segment) whose failure blocks. @default REQUIRED_CHECKS */
  readonly required?: readonly string[];
}

// Typed as records of every option so that adding one to the types without listing it here fails to compile.
const DOMAIN_SETTING_KEYS = {
  dkimSelectors: true,
  dkimKeys: true,
  dkimDomain: true,
  sendingIps: true,
  provider: true,
  mailFrom: true,
  fetchMtaStsPolicy: true,
} as const satisfies Record<keyof DomainCheckSettings, true>;
const SETTING_KEYS = knownKeys(Object.keys(DOMAIN_SETTING_KEYS));

/**
 * Names {@link preflightDomains} accepts in its options (`mailer.preflight()` takes these and
 * `froms`; the mailer's `preflight` option these and its own).
 * @internal
 */
export const PREFLIGHT_OPTION_KEYS = knownKeys(
  Object.keys({ ...DOMAIN_SETTING_KEYS, domains: true, resolver: true, timeoutMs: true, required: true } satisfies Record<keyof PreflightOptions, true>),
);

/** A required item that failed. */
export interface BlockingItem {
  readonly domain: string;
  readonly item: CheckItem;
}

/** Result of {@link preflightDomains}. */
export interface PreflightResult {
  /** No required item failed: marketing mail may be sent. */
  readonly ok: boolean;
  /** One report per distinct From domain, in the order given. */
  readonly reports: readonly DomainReport[];
  /** Failed required items of every domain. */
  readonly blocking: readonly BlockingItem[];
}

/**
 * Checks every From domain (in parallel) and lists the failed items that must block
 * marketing mail.
 *
 * @param froms - From addresses or domains (`news@example.com` or `example.com`); duplicates are checked once.
 * @throws MailError `CONFIG` for an invalid address, domain or option.
 *
 * @example
 * ```ts
 * import { preflightDomains } from 'mailpush/auth';
 *
 * const result = await preflightDomains(['news@example.com'], { dkimSelectors: ['s1'], provider: 'sendgrid' });
 * if (!result.ok) {
 *   for (const { domain, item } of result.blocking) console.error(domain, item.id, item.title, item.fix);
 * }
 * ```
 */
export async function preflightDomains(froms: readonly string[], options: PreflightOptions = {}): Promise<PreflightResult> {
  if (!Array.isArray(froms)) throw configError('froms', 'an array of From addresses or domains', froms);
  const domains: string[] = [];
  froms.forEach((from: unknown, i) => {
    if (typeof from !== 'string') throw configError(`froms[${i}]`, 'an address or a domain', from);
    const domain = domainOption(`froms[${i}]`, from.slice(from.lastIndexOf('@') + 1));
    if (!domains.includes(domain)) domains.push(domain);
  });
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  rejectUnknownKeys(options, PREFLIGHT_OPTION_KEYS, 'preflight option', MailErrorCode.CONFIG);
  const { domains: perDomainInput, required = REQUIRED_CHECKS, ...shared } = options;
  const perDomain = new Map<string, DomainCheckSettings>();
  if (perDomainInput !== undefined) {
    if (typeof perDomainInput !== 'object' || perDomainInput === null) throw configError('domains', 'an object of settings by domain', perDomainInput);
    for (const [key, settings] of Object.entries(perDomainInput)) {
      const domain = domainOption(`domains[${JSON.stringify(key)}]`, key);
      if (typeof settings !== 'object' || settings === null) throw configError(`domains[${JSON.stringify(key)}]`, 'an object of check settings', settings);
      rejectUnknownKeys(settings, SETTING_KEYS, 'preflight domain setting', MailErrorCode.CONFIG, `domains[${JSON.stringify(key)}]`);
      if (perDomain.has(domain)) throw configError(`domains[${JSON.stringify(key)}]`, `a domain given once (it is the same domain as another key, ${domain})`, key);
      perDomain.set(domain, settings);
    }
  }
  const timeoutMs = shared.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS;
  // One resolver for every domain: the default one is created once.
  const resolver = shared.resolver ?? createDnsResolver(Number.isInteger(timeoutMs) && timeoutMs > 0 ? { timeoutMs } : {});
  const reports = await Promise.all(domains.map((domain) => checkDomain({ ...shared, ...(perDomain.get(domain) ?? {}), domain, resolver })));
  const blocking: BlockingItem[] = [];
  for (const report of reports) {
    for (const it of report.items) if (it.status === 'fail' && isRequiredCheck(it.id, required)) blocking.push({ domain: report.domain, item: it });
  }
  return { ok: blocking.length === 0, reports, blocking };
}
