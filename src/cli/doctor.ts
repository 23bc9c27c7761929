/**
 * `mailpush doctor`: checks a sending domain from the command line and prints the report as
 * a table (colours only on a terminal, and never with NO_COLOR) or as JSON.
 *
 * ```
 * npx mailpush doctor example.com --selector s1 [--selector s2] [--ip 192.0.2.1]
 *   [--provider ses|sendgrid|include:_spf.example.net] [--mail-from bounce.example.com]
 *   [--dkim-domain example.com] [--dkim-key [selector=]key.pem] [--timeout 5000]
 *   [--dns-server 192.0.2.53[:53]] [--json] [--verbose]
 * npx mailpush --version
 * ```
 *
 * Exit codes: 0 when no item fails, 1 when one does, 2 on a usage error.
 *
 * @module
 */

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { checkDomain, type CheckDomainOptions, type CheckItem, type CheckStatus, type DomainReport, type SpfProvider } from '../auth/check-domain.js';
import { createDnsResolver } from '../auth/dns.js';
import type { DnsResolver } from '../auth/dns.js';
import { isMailError } from '../errors.js';

/** Where {@link runDoctor} reads and writes, injectable for tests. */
export interface DoctorIO {
  /** Report output. */
  readonly stdout: { write(chunk: string): unknown };
  /** Usage and error messages. @default stdout */
  readonly stderr?: { write(chunk: string): unknown };
  /** DNS resolver. @default a `node:dns/promises` resolver */
  readonly resolver?: DnsResolver;
  /** Whether stdout is a terminal (colours are used only then). @default false */
  readonly isTTY?: boolean;
  /** Environment, for NO_COLOR. @default {} */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Reads a `--dkim-key` file. @default fs.readFile as UTF-8 */
  readonly readFile?: (path: string) => Promise<string>;
  /** Version printed by `--version`. @default the `version` of mailpush's package.json */
  readonly version?: string;
}

/** Exit code: no item failed. */
export const EXIT_OK = 0;
/** Exit code: at least one item failed. */
export const EXIT_FAIL = 1;
/** Exit code: the command line is wrong. */
export const EXIT_USAGE = 2;

/** The usage text of `mailpush doctor`. */
export const DOCTOR_USAGE = `Usage: mailpush doctor <domain> [options]

Checks SPF, DKIM, DMARC, alignment, MX, MTA-STS and TLS-RPT of a sending domain (DNS only).

Options:
  -s, --selector <name>     DKIM selector to check (repeat for several)
      --ip <address>        IP that sends your mail; SPF must authorize it (repeat for several)
      --provider <name>     ses, sendgrid, or include:<domain>: its SPF include must be present
      --mail-from <domain>  envelope MAIL FROM (Return-Path) domain, for SPF and its alignment
      --dkim-domain <name>  DKIM signing domain (d=), if not the From domain
      --dkim-key <[sel=]file>  PEM key (private or public) the selector must publish
      --timeout <ms>        time allowed for each DNS lookup (default 5000)
      --dns-server <ip[:port]>  DNS server to ask instead of the system's (repeat for several)
      --json                print the report as JSON
  -v, --verbose             print the details of every item
  -h, --help                print this help
  -V, --version             print the version of mailpush

Exit code: 0 when nothing fails, 1 when a check fails, 2 on a usage error.
`;

class UsageError extends Error {
  /** A wrong command line shape (missing or unknown command, option or argument): the usage text follows the message. */
  readonly showUsage: boolean;
  constructor(message: string, showUsage = false) {
    super(message);
    this.showUsage = showUsage;
  }
}

/** mailpush's version, from its package.json (two levels up from src/cli and from dist/cli). */
async function packageVersion(): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Runs `mailpush doctor` with command-line arguments (with or without the leading `doctor`).
 *
 * @returns The exit code: 0 no failure, 1 a check failed, 2 usage error.
 */
export async function runDoctor(argv: readonly string[], io: DoctorIO): Promise<number> {
  const stderr = io.stderr ?? io.stdout;
  let parsed: ParsedArgs;
  try {
    parsed = parseDoctorArgs(argv);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      // The whole usage text only when the shape of the command line is wrong; a bad value
      // gets its message and a pointer to --help.
      const full = !(err instanceof UsageError) || err.showUsage;
      stderr.write(`mailpush doctor: ${(err as Error).message}\n${full ? `\n${DOCTOR_USAGE}` : HELP_HINT}`);
      return EXIT_USAGE;
    }
    throw err;
  }
  if (parsed.version) {
    io.stdout.write(`mailpush ${io.version ?? (await packageVersion())}\n`);
    return EXIT_OK;
  }
  if (parsed.help) {
    io.stdout.write(DOCTOR_USAGE);
    return EXIT_OK;
  }
  let resolver = io.resolver;
  if (resolver === undefined && parsed.dnsServers.length > 0) {
    try {
      resolver = createDnsResolver({ servers: parsed.dnsServers, ...(parsed.timeoutMs !== undefined ? { timeoutMs: parsed.timeoutMs } : {}) });
    } catch {
      stderr.write(`mailpush doctor: --dns-server must be an IP address with an optional port (192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:53), got ${parsed.dnsServers.map((s) => JSON.stringify(s)).join(', ')}\n${HELP_HINT}`);
      return EXIT_USAGE;
    }
  }
  let report: DomainReport;
  try {
    const dkimKeys = await readKeys(parsed, io.readFile ?? ((path) => readFile(path, 'utf8')));
    const options: CheckDomainOptions = {
      domain: parsed.domain,
      dkimSelectors: parsed.selectors,
      ...(dkimKeys !== undefined ? { dkimKeys } : {}),
      ...(parsed.dkimDomain !== undefined ? { dkimDomain: parsed.dkimDomain } : {}),
      sendingIps: parsed.ips,
      ...(parsed.provider !== undefined ? { provider: parsed.provider } : {}),
      ...(parsed.mailFrom !== undefined ? { mailFrom: parsed.mailFrom } : {}),
      ...(parsed.timeoutMs !== undefined ? { timeoutMs: parsed.timeoutMs } : {}),
      ...(resolver !== undefined ? { resolver } : {}),
    };
    report = await checkDomain(options);
  } catch (err) {
    if (err instanceof UsageError || (isMailError(err) && err.code === 'MAILPUSH_ERR_CONFIG')) {
      const message = (err as { option?: unknown }).option === 'domain' ? `${JSON.stringify(parsed.domain)} is not a domain name (like example.com)` : usageMessage(err as Error);
      stderr.write(`mailpush doctor: ${message}\n${HELP_HINT}`);
      return EXIT_USAGE;
    }
    stderr.write(`mailpush doctor: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_FAIL;
  }
  if (parsed.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const noColor = io.env?.['NO_COLOR'];
    io.stdout.write(formatReport(report, { color: io.isTTY === true && (noColor === undefined || noColor === ''), verbose: parsed.verbose }));
  }
  return report.ok ? EXIT_OK : EXIT_FAIL;
}

// Option names in configError messages, mapped back to the flags the user typed.
const FLAG_OF: Readonly<Record<string, string>> = {
  dkimDomain: '--dkim-domain',
  mailFrom: '--mail-from',
  timeoutMs: '--timeout',
  'provider.spfInclude': '--provider',
};

function usageMessage(err: Error): string {
  const option = (err as { option?: string }).option;
  if (option === undefined) return err.message;
  const flag = FLAG_OF[option] ?? (option.startsWith('sendingIps') ? '--ip' : option.startsWith('dkimSelectors') ? '--selector' : option.startsWith('dkimKeys') ? '--dkim-key' : undefined);
  return flag === undefined ? err.message : `${err.message} (${flag})`;
}

const HELP_HINT = 'Run "mailpush doctor --help" for the options.\n';

interface ParsedArgs {
  readonly help: boolean;
  readonly version: boolean;
  readonly dnsServers: string[];
  readonly domain: string;
  readonly selectors: string[];
  readonly ips: string[];
  readonly provider?: SpfProvider;
  readonly mailFrom?: string;
  readonly dkimDomain?: string;
  readonly keyArgs: string[];
  readonly timeoutMs?: number;
  readonly json: boolean;
  readonly verbose: boolean;
}

function parseDoctorArgs(argv: readonly string[]): ParsedArgs {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      selector: { type: 'string', short: 's', multiple: true },
      ip: { type: 'string', multiple: true },
      provider: { type: 'string' },
      'mail-from': { type: 'string' },
      'dkim-domain': { type: 'string' },
      'dkim-key': { type: 'string', multiple: true },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
      'dns-server': { type: 'string', multiple: true },
    },
  });
  if (positionals.length > 1 && positionals[0] !== 'doctor') throw new UsageError(`unknown command ${JSON.stringify(positionals[0])} (the command is "doctor")`, true);
  const rest = positionals[0] === 'doctor' ? positionals.slice(1) : positionals;
  const help = values.help === true;
  const version = values.version === true;
  if (help || version) return { help, version, dnsServers: [], domain: '', selectors: [], ips: [], keyArgs: [], json: false, verbose: false };
  if (rest.length === 0) throw new UsageError(positionals.length === 0 ? 'missing command: mailpush doctor <domain>' : 'missing the domain to check', true);
  if (rest.length > 1) throw new UsageError(`one domain at a time, got ${rest.map((r) => JSON.stringify(r)).join(' ')}`, true);
  let provider: SpfProvider | undefined;
  const p = values.provider;
  if (p !== undefined) {
    const lower = p.toLowerCase();
    if (lower === 'ses' || lower === 'sendgrid') provider = lower;
    else if (lower.startsWith('include:') && lower.length > 8) provider = { spfInclude: lower.slice(8) };
    else throw new UsageError(`--provider must be ses, sendgrid or include:<domain>, got ${JSON.stringify(p)}`);
  }
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    timeoutMs = Number(values.timeout);
    if (!/^\d+$/.test(values.timeout) || timeoutMs <= 0 || timeoutMs > 600_000) throw new UsageError(`--timeout must be a number of milliseconds (1 to 600000), got ${JSON.stringify(values.timeout)}`);
  }
  return {
    help,
    version,
    dnsServers: values['dns-server'] ?? [],
    domain: rest[0]!,
    selectors: values.selector ?? [],
    ips: values.ip ?? [],
    ...(provider !== undefined ? { provider } : {}),
    ...(values['mail-from'] !== undefined ? { mailFrom: values['mail-from'] } : {}),
    ...(values['dkim-domain'] !== undefined ? { dkimDomain: values['dkim-domain'] } : {}),
    keyArgs: values['dkim-key'] ?? [],
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    json: values.json === true,
    verbose: values.verbose === true,
  };
}

async function readKeys(parsed: ParsedArgs, read: (path: string) => Promise<string>): Promise<Record<string, string> | undefined> {
  if (parsed.keyArgs.length === 0) return undefined;
  const keys: Record<string, string> = {};
  for (const arg of parsed.keyArgs) {
    const eq = arg.indexOf('=');
    let selector: string;
    let path: string;
    if (eq > 0 && /^[A-Za-z0-9_.-]+$/.test(arg.slice(0, eq))) {
      selector = arg.slice(0, eq);
      path = arg.slice(eq + 1);
    } else {
      if (parsed.selectors.length !== 1) {
        throw new UsageError(`--dkim-key ${arg}: name its selector (--dkim-key s1=${arg}) when ${parsed.selectors.length === 0 ? 'no --selector is' : 'several --selector are'} given`);
      }
      selector = parsed.selectors[0]!;
      path = arg;
    }
    if (keys[selector] !== undefined) throw new UsageError(`two --dkim-key files for selector ${selector}`);
    try {
      keys[selector] = await read(path);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new UsageError(`cannot read the --dkim-key file ${JSON.stringify(path)}${typeof code === 'string' ? ` (${code})` : ''}`);
    }
  }
  return keys;
}

// ---------------------------------------------------------------------------------------
// Table output
// ---------------------------------------------------------------------------------------

/** Options of {@link formatReport}. */
export interface FormatOptions {
  /** Use ANSI colours. @default false */
  readonly color?: boolean;
  /** Print every item's detail. @default false */
  readonly verbose?: boolean;
}

const LABEL: Readonly<Record<CheckStatus, string>> = { pass: '✓ PASS', warn: '! WARN', fail: '✗ FAIL', info: 'i INFO' };
const COLOR: Readonly<Record<CheckStatus, string>> = { pass: '32', warn: '33', fail: '31', info: '36' };
const MAX_ID_WIDTH = 28;

/**
 * The report as a text table: one line per item (status, id, title), the fix under items
 * that have one, details with `verbose`. Text from DNS is stripped of control characters,
 * so a hostile record cannot write escape sequences to the terminal.
 */
export function formatReport(report: DomainReport, options: FormatOptions = {}): string {
  const color = options.color === true;
  const paint = (code: string, text: string): string => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const width = Math.min(MAX_ID_WIDTH, Math.max(...report.items.map((i) => i.id.length), 2));
  const lines: string[] = [paint('1', `mailpush doctor: ${clean(report.domain)}`), ''];
  const indent = ' '.repeat(2 + 6 + 2 + width + 2);
  for (const it of report.items) lines.push(...formatItem(it, width, indent, paint, options.verbose === true));
  const { pass, warn, fail, info } = report.summary;
  lines.push('', `${paint(COLOR.pass, `${pass} pass`)}, ${paint(COLOR.warn, `${warn} warn`)}, ${paint(COLOR.fail, `${fail} fail`)}, ${paint(COLOR.info, `${info} info`)} (DNS-only checks)`);
  return `${lines.join('\n')}\n`;
}

function formatItem(it: CheckItem, width: number, indent: string, paint: (code: string, text: string) => string, verbose: boolean): string[] {
  const id = it.id.length > width ? it.id : it.id.padEnd(width);
  const out = [`  ${paint(COLOR[it.status], LABEL[it.status])}  ${clean(id)}  ${clean(it.title)}`];
  if (verbose && it.detail !== '') {
    for (const line of it.detail.split('\n').slice(0, 40)) out.push(`${indent}${paint('2', clean(line))}`);
  }
  if (it.fix !== undefined && it.status !== 'pass') out.push(`${indent}${paint('1', '→')} ${clean(it.fix)}`);
  return out;
}

// Control characters (C0 without tab, DEL, C1): a TXT record may carry terminal escapes.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

function clean(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
