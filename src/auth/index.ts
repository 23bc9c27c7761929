/**
 * `mailpush/auth`: sending-domain checks (SPF, DKIM keys, DMARC, alignment, MX, MTA-STS,
 * TLS-RPT) with an injectable DNS resolver, and DKIM signing. Kept off the root entry because
 * the checks carry the public suffix list.
 *
 * @module
 */

export { checkDomain, PROVIDER_SPF_INCLUDES } from './check-domain.js';
export type { CheckDomainOptions, CheckItem, CheckStatus, CheckSummary, DomainReport, SpfProvider, MtaStsPolicyFetch } from './check-domain.js';
export { preflightDomains, REQUIRED_CHECKS, isRequiredCheck } from './preflight.js';
export type { PreflightOptions, PreflightResult, BlockingItem, DomainCheckSettings } from './preflight.js';
export { createDnsLookup, createDnsResolver, reverseName, DEFAULT_DNS_TIMEOUT_MS } from './dns.js';
export type { DnsResolver, DnsResolverOptions, MxRecord, DnsLookup, DnsAnswer, DnsFailureKind, DnsRecordType } from './dns.js';
export { parseSpf, evaluateSpf, analyzeSpf, SPF_MAX_LOOKUPS, SPF_MAX_VOID_LOOKUPS, SPF_MAX_PTR_NAMES } from './spf.js';
export type { SpfQualifier, SpfMechanismName, SpfLookupTerm, SpfInclude, SpfProblem, SpfProblemKind, SpfRecord, SpfMechanism, SpfModifier, SpfParseResult, SpfResult, SpfAnalysis, SpfEvaluation, SpfWalkOptions } from './spf.js';
export { parseDmarc, findDmarc, isDmarcRecord, dmarcVersionProblem } from './dmarc.js';
export type { DmarcRecord, DmarcPolicy, DmarcParseResult, DmarcDiscovery, IgnoredDmarcRecord } from './dmarc.js';
export { orgDomain, isAligned, canonicalDomain } from './org-domain.js';
export type { AlignmentMode } from './org-domain.js';
export { parseDkimKeyRecord } from './dkim-record.js';
export type { DkimKeyRecord, DkimKeyParseResult, DkimKeyInput } from './dkim-record.js';
export type { IpAddress } from './ip.js';
export { createDkimSigner, dkimDnsRecord, DKIM_SIGNED_HEADERS, DKIM_OVERSIGNED_HEADERS } from './dkim.js';
export type { DkimAlgorithm, DkimKey, DkimKeyInfo, DkimOptions, DkimPrivateKey, DkimSigner, MessageSigner } from './dkim.js';
