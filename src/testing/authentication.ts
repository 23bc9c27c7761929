/**
 * Checks the DKIM signatures, SPF and DMARC of a message a test received (from the SMTP sink,
 * the SES fake or anywhere), with mailauth as an independent verifier: what a receiving
 * server would conclude, against the DNS records the test publishes in a memory resolver.
 * mailauth is an optional peer dependency, loaded on first use.
 *
 * @module
 */

import { configError, MailError, MailErrorCode } from '../errors.js';
import { importOptionalAll } from '../deps/optional.js';
import type { SinkMessage } from './smtp-sink.js';

/** A `dns.resolve(name, rrtype)` function, or an object with one (`createMemoryResolver(zones)`). */
export type AuthenticationResolver = ((name: string, rrtype: string) => Promise<unknown>) | ResolveFunctionHolder;

/** An object with a `dns.resolve`-shaped method, such as `createMemoryResolver(zones)`. */
export interface ResolveFunctionHolder {
  /** Resolves `name` for the record type `rrtype` (`'TXT'`, `'MX'`, `'A'`...), as `dns.promises.resolve` does. */
  resolve(name: string, rrtype: string): Promise<unknown>;
}

/** Options of {@link verifyAuthentication}. */
export interface VerifyAuthenticationOptions {
  /** DNS the verifier reads SPF, DKIM keys and DMARC from: `createMemoryResolver(zones)` in tests. */
  readonly resolver: AuthenticationResolver;
  /** IP address the message came from, checked against SPF. @default '127.0.0.1' */
  readonly ip?: string;
  /** EHLO name of the sending host. @default the IP address */
  readonly helo?: string;
  /** Envelope sender (MAIL FROM) for SPF. @default a SinkMessage's envelope sender, else the Return-Path header */
  readonly sender?: string;
  /** Name of the verifying host in the Authentication-Results header. @default 'mailpush.test' */
  readonly mta?: string;
}

/** One DKIM signature as the verifier saw it. */
export interface DkimVerdict {
  /** Signing domain (d=). */
  readonly domain: string;
  readonly selector?: string;
  /** `pass`, `fail`, `neutral`, `none`, `temperror`, `permerror`. */
  readonly result: string;
  /** The signing domain aligns with the From domain (DMARC). */
  readonly aligned: boolean;
}

/** What the verifier concluded. */
export interface AuthenticationVerdict {
  /** One entry per DKIM-Signature header (empty when the message is not signed). */
  readonly dkim: readonly DkimVerdict[];
  /** SPF of the envelope sender's domain for `ip`. */
  readonly spf: { readonly result: string; readonly domain?: string };
  /** DMARC of the From domain (`none` without a DMARC record). */
  readonly dmarc: { readonly result: string; readonly domain?: string; readonly policy?: string };
  /** The Authentication-Results header a receiver would add. */
  readonly header: string;
}

/** Which results {@link assertAuthenticated} requires to be `pass`. @default all three */
export interface AuthenticationExpectations {
  readonly dkim?: boolean;
  readonly spf?: boolean;
  readonly dmarc?: boolean;
}

type Mailauth = typeof import('mailauth');
type Resolver = Exclude<NonNullable<Parameters<Mailauth['authenticate']>[1]>['resolver'], undefined>;

function rawOf(message: Buffer | string | SinkMessage): Buffer | string {
  if (typeof message === 'string' || Buffer.isBuffer(message)) return message;
  if (typeof message === 'object' && message !== null && 'envelope' in message) {
    if (message.raw === undefined) throw configError('message', 'a SinkMessage with its raw bytes (start the sink with `keepRaw: true`)', message);
    return message.raw;
  }
  throw configError('message', 'the raw message (a Buffer or string) or a SinkMessage', message);
}

/**
 * Verifies a received message as a receiving server would: every DKIM signature, SPF of the
 * envelope sender for `ip`, and DMARC of the From domain, with mailauth. Needs the `mailauth`
 * package (`npm install --save-dev mailauth`).
 *
 * @example
 * ```ts
 * const sink = await startSmtpSink({ keepRaw: true });
 * // ... send through the sink with dkim configured on the mailer ...
 * const dns = createMemoryResolver({
 *   's1._domainkey.example.com': { txt: [dkimDnsRecord(key)] }, // key: the mailer's { domain: 'example.com', selector: 's1', privateKey }
 *   'example.com': { txt: ['v=spf1 ip4:127.0.0.1 -all'] },
 *   '_dmarc.example.com': { txt: ['v=DMARC1; p=reject'] },
 * });
 * const verdict = await verifyAuthentication(sink.messages[0]!, { resolver: dns });
 * verdict.dkim[0]?.result; // 'pass'
 * ```
 */
export async function verifyAuthentication(message: Buffer | string | SinkMessage, options: VerifyAuthenticationOptions): Promise<AuthenticationVerdict> {
  const raw = rawOf(message);
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const r = options.resolver as { resolve?: unknown } | ((...args: unknown[]) => unknown) | undefined;
  const resolve =
    typeof r === 'function'
      ? (r as (name: string, rrtype: string) => Promise<unknown>)
      : typeof r === 'object' && r !== null && typeof r.resolve === 'function'
        ? (name: string, rrtype: string) => (r as { resolve(name: string, rrtype: string): Promise<unknown> }).resolve(name, rrtype)
        : undefined;
  if (resolve === undefined) throw configError('resolver', 'a resolve(name, rrtype) function or an object with one (createMemoryResolver)', options.resolver);
  const [mailauth] = await importOptionalAll<[Mailauth]>('verifyAuthentication (mailpush/testing)', [{ pkg: 'mailauth', load: () => import('mailauth') }], true);
  const envelopeSender = typeof message === 'object' && !Buffer.isBuffer(message) ? message.envelope.from : undefined;
  const sender = options.sender ?? (envelopeSender !== undefined && envelopeSender !== '' ? envelopeSender : undefined);
  const ip = options.ip ?? '127.0.0.1';
  const result = await mailauth.authenticate(raw, {
    ip,
    helo: options.helo ?? ip,
    ...(sender !== undefined ? { sender } : {}),
    mta: options.mta ?? 'mailpush.test',
    resolver: resolve as Resolver,
    disableArc: true,
    disableBimi: true,
  });
  // An unsigned message gets one entry without a signing domain (result 'none'): no signature.
  const dkim = (result.dkim.results ?? []).filter((d) => typeof d.signingDomain === 'string' && d.signingDomain !== '').map((d) => ({
    domain: d.signingDomain,
    ...(d.selector !== undefined ? { selector: d.selector } : {}),
    result: d.status.result,
    aligned: d.status.aligned === true || typeof d.status.aligned === 'string',
  }));
  const spf = result.spf === false ? { result: 'none' } : { result: result.spf.status.result, domain: result.spf.domain };
  const dmarc = result.dmarc === false ? { result: 'none' } : { result: result.dmarc.status.result, domain: result.dmarc.domain, policy: result.dmarc.policy };
  const header = result.headers.split(/\r?\n(?=\S)/).find((h) => h.startsWith('Authentication-Results:')) ?? '';
  return { dkim, spf, dmarc, header };
}

/**
 * Like {@link verifyAuthentication}, and fails with an `ASSERTION` MailError unless DKIM (at
 * least one aligned signature), SPF and DMARC all pass (or those named in `expect`).
 *
 * @example
 * ```ts
 * await assertAuthenticated(sink.messages[0]!, { resolver: dns });
 * await assertAuthenticated(raw, { resolver: dns, expect: { spf: false } }); // DKIM and DMARC only
 * ```
 */
export async function assertAuthenticated(
  message: Buffer | string | SinkMessage,
  options: VerifyAuthenticationOptions & { readonly expect?: AuthenticationExpectations },
): Promise<AuthenticationVerdict> {
  const verdict = await verifyAuthentication(message, options);
  const want = { dkim: true, spf: true, dmarc: true, ...options.expect };
  const problems: string[] = [];
  if (want.dkim && !verdict.dkim.some((d) => d.result === 'pass' && d.aligned)) {
    problems.push(verdict.dkim.length === 0 ? 'DKIM: the message has no signature' : `DKIM: ${verdict.dkim.map((d) => `${d.domain}${d.selector !== undefined ? `/${d.selector}` : ''} ${d.result}${d.aligned ? '' : ' (not aligned)'}`).join(', ')}`);
  }
  if (want.spf && verdict.spf.result !== 'pass') problems.push(`SPF: ${verdict.spf.result}${verdict.spf.domain !== undefined ? ` for ${verdict.spf.domain}` : ''}`);
  if (want.dmarc && verdict.dmarc.result !== 'pass') problems.push(`DMARC: ${verdict.dmarc.result}${verdict.dmarc.domain !== undefined ? ` for ${verdict.dmarc.domain}` : ''}`);
  if (problems.length > 0) {
    throw new MailError(`The message does not authenticate: ${problems.join('; ')}\n${verdict.header}`, { code: MailErrorCode.ASSERTION });
  }
  return verdict;
}
