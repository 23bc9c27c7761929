/**
 * Sending-domain checks of the mailer: `mailer.preflight()` (SPF, DKIM keys, DMARC, alignment,
 * MX against the configured DKIM keys), and with `requireForMarketing` the gate that refuses
 * marketing mail from a From domain whose required checks fail (cached per domain).
 *
 * @module
 * @internal
 */

import type { KeyObject } from 'node:crypto';
import { MailError, MailErrorCode, configError } from '../errors.js';
import type { DkimSigner } from '../auth/dkim.js';
import type { PreflightOptions, PreflightResult } from '../auth/preflight.js';
import { domainOf } from '../message/index.js';
import type { Clock } from '../types.js';
import type { MailerPreflightOptions } from './options.js';

/** Runs and caches the sending-domain checks. */
export class SenderChecks {
  private readonly cache = new Map<string, { at: number; result: Promise<PreflightResult> }>();

  constructor(
    private readonly options: MailerPreflightOptions,
    private readonly dkim: DkimSigner | undefined,
    private readonly clock: Clock,
  ) {}

  /** Checks the sending domains: see `Mailer.preflight`. */
  async run(options: PreflightOptions & { readonly froms?: readonly string[] } = {}): Promise<PreflightResult> {
    const { froms, ...overrides } = options;
    // Only the DNS check settings go to preflightDomains; the mailer-level keys stay here.
    const { senders, requireForMarketing, cacheMs, ...base } = this.options;
    void requireForMarketing;
    void cacheMs;
    const keys = this.dkim?.keys ?? [];
    const domains = froms ?? senders ?? [...new Set(keys.map((k) => k.domain))];
    if (domains.length === 0) throw configError('preflight.senders', 'the From domains to check (or DKIM keys to take them from)', domains);
    // The configured DKIM keys are what the published records must match.
    const perDomain: Record<string, { dkimSelectors: string[]; dkimKeys: Record<string, KeyObject>; dkimDomain: string }> = {};
    for (const k of keys) {
      const entry = (perDomain[k.domain] ??= { dkimSelectors: [], dkimKeys: {}, dkimDomain: k.domain });
      entry.dkimSelectors.push(k.selector);
      entry.dkimKeys[k.selector] = k.publicKey;
    }
    const { preflightDomains } = await import('../auth/preflight.js');
    return preflightDomains(domains, { ...(keys.length > 0 ? { domains: perDomain } : {}), ...base, ...overrides });
  }

  /** With `requireForMarketing`: rejects with PREFLIGHT when the From domain fails a required check (cached per domain). */
  async requireFor(from: string): Promise<void> {
    if (this.options.requireForMarketing !== true) return;
    const domain = domainOf(from);
    const now = this.clock.now();
    let cached = this.cache.get(domain);
    if (cached === undefined || now - cached.at > (this.options.cacheMs ?? 3_600_000)) {
      const result = this.run({ froms: [domain] });
      cached = { at: now, result };
      this.cache.set(domain, cached);
      // A check that could not run (bad options) is not remembered.
      result.catch(() => this.cache.delete(domain));
    }
    const result = await cached.result;
    if (!result.ok) {
      const items = result.blocking.map((b) => `${b.item.id}: ${b.item.title}${b.item.fix !== undefined ? ` (fix: ${b.item.fix})` : ''}`);
      throw new MailError(`Marketing mail from ${domain} is refused until its sending-domain checks pass: ${items.join('; ')}`, { code: MailErrorCode.PREFLIGHT });
    }
  }
}
