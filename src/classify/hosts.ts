/**
 * Per-receiving-host rules, as data: large providers answer with their own codes (Microsoft's
 * `5.7.606`, Orange's `OFR_416`, GoDaddy's `IB212`) or wording whose meaning differs from the
 * generic reading. A provider's rule applies when the remote host contains one of its host
 * strings, or when the recipient's domain is part of one (mail to `wanadoo.fr` is answered by
 * Orange). They run before the generic rules (see `./reason.ts`), and a non-empty answer is
 * final.
 *
 * @module
 */

import type { ReasonFamily } from './phrases.js';

/** What a provider rule sees. */
export interface HostFacts {
  /** The diagnostic text, lower case. */
  readonly text: string;
  /** The enhanced status, when known. */
  readonly status: string | undefined;
  /** The reply code, when known. */
  readonly code: number | undefined;
  /** The refused SMTP command (`RCPT`, `DATA`, ...), when known. */
  readonly command: string | undefined;
}

/** A provider's answer: the reason family and what decided it. */
export interface HostAnswer {
  readonly family: ReasonFamily;
  readonly matched: string;
}

/** One provider. */
export interface HostRule {
  /** Provider id, reported in `decidedBy.rule` as `host:<id>`. */
  readonly id: string;
  /** Host strings (lower case): the remote host contains one, or the recipient domain is part of one. */
  readonly hosts: readonly string[];
  /** Tokens only this provider writes in its replies (lower case), which identify it without the host. */
  readonly tokens?: readonly string[];
  /** The provider's reading of a reply, or `undefined` to leave it to the generic rules. */
  decide(facts: HostFacts): HostAnswer | undefined;
}

const detail = (status: string | undefined): number | undefined => (status === undefined ? undefined : Number(status.split('.')[2]));
const subject = (status: string | undefined): string | undefined => status?.split('.')[1];

function phraseTable(table: readonly (readonly [string, ReasonFamily])[]): (facts: HostFacts) => HostAnswer | undefined {
  return (facts) => {
    for (const [phrase, family] of table) if (facts.text.includes(phrase)) return { family, matched: phrase };
    return undefined;
  };
}

/** Orange, Wanadoo and La Poste: `OFR_416`, `LPN007_510`, `OUK_417`. */
const FRANCE_PTT_CODES: Readonly<Record<string, ReasonFamily>> = Object.freeze({
  '101': 'blocked',
  '102': 'blocked',
  '103': 'blocked',
  '104': 'toomanyconn',
  '401': 'authfailure',
  '416': 'userunknown',
  '417': 'mailboxfull',
  '420': 'suspend',
  '426': 'suspend',
  '505': 'systemerror',
  '506': 'spamdetected',
  '510': 'blocked',
  '517': 'authfailure',
  '999': 'blocked',
});

/** GoDaddy's `IBnnn` tokens. */
const GODADDY_CODES: Readonly<Record<string, ReasonFamily>> = Object.freeze({
  IB103: 'badreputation',
  IB104: 'blocked',
  IB105: 'blocked',
  IB106: 'blocked',
  IB110: 'blocked',
  IB111: 'blocked',
  IB112: 'blocked',
  IB113: 'blocked',
  IB101: 'speeding',
  IB504: 'speeding',
  IB510: 'speeding',
  IB607: 'speeding',
  IB007: 'toomanyconn',
  IB605: 'toomanyconn',
  IB212: 'spamdetected',
  IB705: 'virusdetected',
  IB508: 'authfailure',
  IB108: 'requireptr',
  IB501: 'notcompliantrfc',
  IB502: 'notcompliantrfc',
});

/** The built-in provider rules. */
export const HOST_RULES: readonly HostRule[] = Object.freeze([
  {
    id: 'google',
    hosts: ['aspmx.l.google.com', 'gmail-smtp-in.l.google.com'],
    decide(f: HostFacts): HostAnswer | undefined {
      const s = subject(f.status);
      const d = detail(f.status);
      if (f.text.includes('receiving mail too quickly') || f.text.includes('unusual rate')) return { family: 'speeding', matched: 'rate wording' };
      if (s === '7' && d === 25) return { family: 'requireptr', matched: `${f.status}` };
      if (s === '7' && d !== undefined && d >= 24 && d <= 32 && d !== 25 && d !== 28) return { family: 'authfailure', matched: `${f.status}` };
      if (s === '2' && d === 1 && f.text.includes('disabled')) return { family: 'suspend', matched: `${f.status} disabled` };
      if (f.text.includes('application-specific password') || (s === '7' && f.text.includes('tls'))) return { family: 'securityerror', matched: 'tls/password' };
      return undefined;
    },
  },
  {
    id: 'microsoft',
    hosts: ['.prod.outlook.com', '.protection.outlook.com'],
    tokens: ['resolver.adr.', 'resolver.rst.', '.prod.outlook.com', '.protection.outlook.com'],
    decide(f: HostFacts): HostAnswer | undefined {
      const st = f.status;
      if (st === undefined) return undefined;
      const [c, s, dd] = st.split('.');
      const d = Number(dd);
      const m = (family: ReasonFamily): HostAnswer => ({ family, matched: st });
      if (s === '7') {
        if (c === '5' && d >= 606 && d <= 649) return m('blocked');
        if (c === '4' && ((d >= 500 && d <= 699) || (d >= 850 && d <= 899))) return m('blocked');
        if (c === '5' && d >= 700 && d <= 749) return m('speeding');
        if (d >= 900 && d <= 999) return m('policyviolation');
        if (d >= 501 && d <= 503) return m('rejected');
        if (d === 23 || d === 509) return m('authfailure');
        if (d === 504 || d === 505) return m('suspend');
      }
      if (s === '4' && (st === '4.4.7' || st === '5.4.300')) return m('expired');
      if (s === '4' && d === 317) return m('securityerror');
      if (st === '5.1.10') return m('userunknown');
      // Directory-based edge blocking: the recipient is not in the tenant's directory.
      if (st === '5.4.1' && f.text.includes('access denied')) return m('userunknown');
      return undefined;
    },
  },
  {
    id: 'yahoo',
    hosts: ['.yahoodns.net'],
    decide: phraseTable([
      ['deferred due to unexpected volume or user complaints', 'rejected'],
      ['permanently deferred', 'rejected'],
    ]),
  },
  {
    id: 'apple',
    hosts: ['.mail.icloud.com', '.apple.com', '.me.com'],
    decide: phraseTable([
      ['recipient no longer on server', 'hasmoved'],
      ['excessive volume', 'speeding'],
    ]),
  },
  { id: 'tencent', hosts: ['.qq.com'], decide: phraseTable([['frequency limited', 'toomanyconn']]) },
  {
    id: 'godaddy',
    hosts: ['.secureserver.net'],
    decide(f: HostFacts): HostAnswer | undefined {
      const m = /\bib(\d{3})\b/.exec(f.text);
      const family = m ? GODADDY_CODES[`IB${m[1]}`] : undefined;
      return family === undefined ? undefined : { family, matched: m![0] };
    },
  },
  {
    id: 'spectrum',
    hosts: ['charter.net'],
    decide(f: HostFacts): HostAnswer | undefined {
      const m = /aup#(\d{4})/.exec(f.text);
      if (!m) return undefined;
      const n = Number(m[1]);
      if (n >= 1300 && n <= 1340) return { family: 'toomanyconn', matched: m[0] };
      if (n >= 1350 && n <= 1490) return { family: 'speeding', matched: m[0] };
      return undefined;
    },
  },
  {
    id: 'cox',
    hosts: ['cox.net'],
    decide: phraseTable([
      ['aup#cxbl', 'blocked'],
      ['aup#cxdns', 'requireptr'],
      ['aup#cxsndr', 'authfailure'],
      ['urlbl', 'spamdetected'],
    ]),
  },
  {
    id: 'franceptt',
    hosts: ['.laposte.net', '.orange.fr', '.wanadoo.fr', 'smtp.orange.fr', 'smtp.wanadoo.fr', 'smtpz4.laposte.net'],
    decide(f: HostFacts): HostAnswer | undefined {
      const m = /\b(?:lpn|ofr|ouk)[a-z0-9]{0,8}_(\d{3})\b/.exec(f.text);
      if (!m) return undefined;
      // Codes the provider documents but the table does not map say nothing decisive: undefined.
      return { family: FRANCE_PTT_CODES[m[1]!] ?? 'undefined', matched: m[0] };
    },
  },
  {
    id: 'mimecast',
    hosts: ['.mimecast.com'],
    decide(f: HostFacts): HostAnswer | undefined {
      if (f.text.includes('account outbounds disabled')) return { family: 'onhold', matched: 'account outbounds disabled' };
      if (f.text.includes('rejected due to security policies')) return { family: 'virusdetected', matched: 'rejected due to security policies' };
      if (f.text.includes('host network not allowed') || f.text.includes('ip not allowed')) return { family: 'policyviolation', matched: 'network not allowed' };
      return undefined;
    },
  },
  {
    id: 'kddi',
    hosts: ['.ezweb.ne.jp', 'msmx.au.com'],
    decide(f: HostFacts): HostAnswer | undefined {
      // `550 : User unknown` names no address: the recipient's reception filter refused us.
      if (/\b5\d\d:?\s{0,2}:\s{0,2}user unknown/.test(f.text)) return { family: 'filtered', matched: '550 : user unknown' };
      if (/@[^\s:>]+>?\s{0,2}:\s{0,2}user unknown/.test(f.text)) return { family: 'userunknown', matched: '<addr>: user unknown' };
      return undefined;
    },
  },
  {
    id: 'nttdocomo',
    hosts: ['mfsmax.docomo.ne.jp'],
    decide(f: HostFacts): HostAnswer | undefined {
      if (f.status === '5.1.1') return { family: 'userunknown', matched: '5.1.1' };
      if (f.status === '5.2.0') return { family: 'filtered', matched: '5.2.0' };
      if (f.status === '5.0.0' && f.command === 'RCPT') return { family: 'userunknown', matched: '5.0.0 at RCPT' };
      if (f.status === '5.0.0' && f.command === 'DATA') return { family: 'rejected', matched: '5.0.0 at DATA' };
      return undefined;
    },
  },
] satisfies HostRule[]);

/** Each rule's host strings with one dot on each side (`.host.`), computed once per rule list. */
const DOTTED = new WeakMap<readonly HostRule[], readonly (readonly string[])[]>();
function dottedHosts(rules: readonly HostRule[]): readonly (readonly string[])[] {
  let d = DOTTED.get(rules);
  if (d === undefined) {
    d = rules.map((r) => r.hosts.map((h) => `.${h.replace(/^\./, '')}.`));
    DOTTED.set(rules, d);
  }
  return d;
}

/**
 * The provider whose host strings match the remote host or the recipient's domain (whole
 * labels), or whose own tokens appear in the (lower-case) text.
 *
 * @example
 * ```ts
 * findHostRule('mx1.example.mail.protection.outlook.com', undefined)?.id; // 'microsoft'
 * findHostRule(undefined, 'wanadoo.fr')?.id; // 'franceptt'
 * findHostRule(undefined, 'k.com'); // undefined
 * ```
 */
export function findHostRule(
  remoteHost: string | undefined,
  recipientDomain: string | undefined,
  rules: readonly HostRule[] = HOST_RULES,
  text = '',
): HostRule | undefined {
  const host = remoteHost?.toLowerCase();
  // Whole labels only: mail to `k.com` is not Microsoft's because `outlook.com` ends in `k.com`.
  const domain = recipientDomain !== undefined && recipientDomain.includes('.') ? `.${recipientDomain.toLowerCase()}.` : undefined;
  const dotted = dottedHosts(rules);
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    const hosts = rule.hosts;
    for (let j = 0; j < hosts.length; j++) {
      if (host !== undefined && host !== '' && host.includes(hosts[j]!)) return rule;
      if (domain !== undefined && dotted[i]![j]!.includes(domain)) return rule;
    }
    if (rule.tokens !== undefined && text !== '') for (const t of rule.tokens) if (text.includes(t)) return rule;
  }
  return undefined;
}
