import { generateKeyPairSync } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { formatReport, runDoctor, DOCTOR_USAGE, type DoctorIO } from '../../src/cli/doctor.js';
import { keyRecordFor } from '../../src/auth/dkim-record.js';
import { createMemoryResolver, type MemoryZones } from '../../src/testing/dns.js';

const key = generateKeyPairSync('ed25519');
const keyPem = key.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;

const HEALTHY: MemoryZones = {
  'example.com': { txt: ['v=spf1 ip4:192.0.2.0/24 include:sendgrid.net -all'], mx: [{ exchange: 'mx.example.com', priority: 10 }] },
  'sendgrid.net': { txt: ['v=spf1 ip4:167.89.0.0/17 ~all'] },
  's1._domainkey.example.com': { txt: [keyRecordFor(key.publicKey)] },
  '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; rua=mailto:d@example.com'] },
  '_mta-sts.example.com': { txt: ['v=STSv1; id=1'] },
  '_smtp._tls.example.com': { txt: ['v=TLSRPTv1; rua=mailto:t@example.com'] },
};

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(argv: string[], options: Partial<DoctorIO> & { zones?: MemoryZones } = {}): Promise<Run> {
  let out = '';
  let err = '';
  const { zones = HEALTHY, ...io } = options;
  const code = await runDoctor(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    resolver: createMemoryResolver(zones),
    readFile: async (path) => {
      if (path === 'key.pem') return keyPem;
      throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    },
    ...io,
  });
  return { code, out, err };
}

const ESC = '\u001b';

describe('mailpush doctor: table output', () => {
  it('prints one line per item with status, id and title, and exits 0 when nothing fails', async () => {
    const { code, out, err } = await run(['doctor', 'example.com', '--selector', 's1', '--ip', '192.0.2.1', '--provider', 'sendgrid', '--dkim-key', 'key.pem']);
    expect(err).toBe('');
    expect(code).toBe(0);
    const lines = out.split('\n');
    expect(lines[0]).toBe('mailpush doctor: example.com');
    expect(lines).toContain('  ✓ PASS  spf.present        SPF record found at example.com');
    expect(lines).toContain('  ✓ PASS  dkim.s1.key-match  The published key matches the configured key');
    expect(lines).toContain('  ✓ PASS  spf.provider       SPF includes SendGrid (include:sendgrid.net)');
    expect(out).toMatch(/^\d+ pass, 0 warn, 0 fail, 0 info \(DNS-only checks\)$/m);
    expect(out).not.toContain(ESC);
  });

  it('prints fixes under warn and fail items and exits 1 when something fails', async () => {
    const zones = { ...HEALTHY, '_dmarc.example.com': { txt: ['v=DMARC1; p=none'] } } as MemoryZones;
    delete (zones as Record<string, unknown>)['s1._domainkey.example.com'];
    const { code, out } = await run(['example.com', '-s', 's1'], { zones });
    expect(code).toBe(1);
    const lines = out.split('\n');
    const i = lines.findIndex((l) => l.includes('dkim.s1.present'));
    expect(lines[i]).toMatch(/^ {2}✗ FAIL {2}dkim\.s1\.present +No DKIM key at s1\._domainkey\.example\.com$/);
    // The fix sits under the title column.
    expect(lines[i + 1]).toBe(`${' '.repeat(lines[i]!.indexOf('No DKIM'))}→ Publish the public key of selector s1 as a TXT record at s1._domainkey.example.com`);
    expect(out).toContain('! WARN  dmarc.policy');
    expect(out).toContain('→ Move to quarantine/reject once reports are clean');
  });

  it('uses colours only on a terminal without NO_COLOR', async () => {
    const args = ['example.com', '-s', 's1'];
    expect((await run(args, { isTTY: true })).out).toContain(`${ESC}[32m✓ PASS${ESC}[0m`);
    expect((await run(args, { isTTY: true, env: { NO_COLOR: '1' } })).out).not.toContain(ESC);
    expect((await run(args, { isTTY: false })).out).not.toContain(ESC);
    // NO_COLOR counts only when non-empty.
    expect((await run(args, { isTTY: true, env: { NO_COLOR: '' } })).out).toContain(ESC);
  });

  it('shows details with --verbose', async () => {
    const { out } = await run(['example.com', '-s', 's1', '--verbose']);
    expect(out).toContain('v=spf1 ip4:192.0.2.0/24 include:sendgrid.net -all');
  });

  it('never writes control characters from DNS to the terminal', async () => {
    const zones = { ...HEALTHY, '_dmarc.example.com': { txt: [`v=DMARC1; p=none; x=${ESC}]0;pwned${'\u0007'}${ESC}[2J`] } };
    const { out } = await run(['example.com', '-s', 's1', '--verbose'], { zones, isTTY: false });
    expect(out).not.toContain(ESC);
    expect(out).not.toContain('\u0007');
    expect(out).toContain('\\x1b]0;pwned');
  });
});

describe('mailpush doctor: what receivers actually see', () => {
  it('fails a v=dmarc1 record, which receivers ignore, and says why and how to fix it', async () => {
    const zones = { ...HEALTHY, '_dmarc.example.com': { txt: ['v=dmarc1; p=reject; rua=mailto:d@example.com'] } };
    const { code, out } = await run(['example.com', '-s', 's1', '--verbose'], { zones });
    expect(code).toBe(1);
    const lines = out.split('\n');
    expect(lines.find((l) => l.includes('dmarc.present'))).toMatch(/^ {2}✗ FAIL {2}dmarc\.present +No valid DMARC record for example\.com: "v=dmarc1" must be "v=DMARC1"$/);
    expect(out).toContain('it must be exactly "v=DMARC1" in upper case (the value is case-sensitive, RFC 7489 6.3 and RFC 9989): receivers ignore this record');
    expect(out).toContain('→ Write the version in upper case at _dmarc.example.com: "v=DMARC1; p=reject; rua=mailto:d@example.com"');
    // The ignored record's p=reject is not reported as protection.
    expect(out).not.toContain('dmarc.policy');
  });

  it('evaluates an SPF ptr term for --ip through the reverse lookup', async () => {
    const zones = {
      ...HEALTHY,
      'example.com': { txt: ['v=spf1 ptr include:sendgrid.net -all'], mx: [{ exchange: 'mx.example.com', priority: 10 }] },
      '25.2.0.192.in-addr.arpa': { ptr: ['out.example.com.'] },
      'out.example.com': { a: ['192.0.2.25'] },
    };
    const { out } = await run(['example.com', '-s', 's1', '--ip', '192.0.2.25', '--ip', '192.0.2.26', '--json'], { zones });
    const report = JSON.parse(out) as { items: { id: string; status: string; detail: string; title: string }[] };
    const authorizes = report.items.find((i) => i.id === 'spf.authorizes')!;
    expect(authorizes.title).toBe('SPF does not authorize 192.0.2.26');
    expect(authorizes.detail).toContain('192.0.2.25: pass (matched "ptr" in the SPF record of example.com)');
    expect(report.items.find((i) => i.id === 'spf.ptr')!.status).toBe('warn');
  });
});

describe('mailpush doctor: JSON output', () => {
  it('prints the report as JSON that parses', async () => {
    const { code, out } = await run(['doctor', 'example.com', '--selector', 's1', '--json'], { isTTY: true });
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report).toMatchObject({ domain: 'example.com', ok: true });
    expect(report.items.find((i: { id: string }) => i.id === 'dkim.s1.present').status).toBe('pass');
    expect(out).not.toContain(ESC);
  });

  it('exits 1 with --json when an item fails', async () => {
    const { code, out } = await run(['example.com', '--json'], { zones: {} });
    expect(code).toBe(1);
    expect(JSON.parse(out).ok).toBe(false);
  });
});

describe('mailpush doctor: usage', () => {
  it('prints help and exits 0', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    expect(out).toBe(DOCTOR_USAGE);
    expect((await run(['doctor', '-h'])).code).toBe(0);
  });

  it.each([
    [[], 'missing command: mailpush doctor <domain>'],
    [['doctor'], 'missing the domain to check'],
    [['doctor', 'a.com', 'b.com'], 'one domain at a time'],
    [['check', 'example.com'], 'unknown command "check"'],
    [['doctor', 'example.com', '--selectr', 's1'], "Unknown option '--selectr'"],
    [['doctor', 'example.com', '--selector'], "Option '-s, --selector <value>' argument missing"],
    [['doctor', 'example.com', '--provider', 'mailgun'], '--provider must be ses, sendgrid or include:<domain>'],
    [['doctor', 'example.com', '--timeout', 'soon'], '--timeout must be a number of milliseconds'],
    [['doctor', 'not a domain'], 'mailpush doctor: "not a domain" is not a domain name (like example.com)'],
    [['doctor', 'example.com', '--ip', '300.1.1.1'], 'got "300.1.1.1" (--ip)'],
    [['doctor', 'example.com', '--mail-from', 'bad domain'], '(--mail-from)'],
    [['doctor', 'example.com', '--dkim-key', 'key.pem'], 'name its selector (--dkim-key s1=key.pem) when no --selector is given'],
    [['doctor', 'example.com', '-s', 'a', '-s', 'b', '--dkim-key', 'key.pem'], 'when several --selector are given'],
    [['doctor', 'example.com', '--dkim-key', 's1=missing.pem'], 'cannot read the --dkim-key file "missing.pem" (ENOENT)'],
  ])('exits 2 for %j with a clear message', async (argv, message) => {
    const { code, out, err } = await run(argv);
    expect(code).toBe(2);
    expect(err).toContain(message);
    expect(out).toBe('');
  });

  it('reports a key file that is not a key as a usage error', async () => {
    const { code, err } = await run(['doctor', 'example.com', '--dkim-key', 's1=bad.pem'], { readFile: async () => 'hello' });
    expect(code).toBe(2);
    expect(err).toContain('(--dkim-key)');
  });

  it('pairs a key with its selector and reports a mismatch as a failure', async () => {
    const other = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const { code, out } = await run(['doctor', 'example.com', '-s', 's1', '--dkim-key', 's1=other.pem'], { readFile: async () => other });
    expect(code).toBe(1);
    expect(out).toContain('✗ FAIL  dkim.s1.key-match');
  });

  it('passes a custom include, the MAIL FROM domain and the timeout through', async () => {
    const zones = { ...HEALTHY, 'bounce.example.com': { txt: ['v=spf1 include:_spf.relay.example -all'] }, '_spf.relay.example': { txt: ['v=spf1 -all'] } };
    const { out } = await run(['doctor', 'example.com', '-s', 's1', '--provider', 'include:_spf.relay.example', '--mail-from', 'bounce.example.com', '--timeout', '300', '--json'], { zones });
    const report = JSON.parse(out);
    expect(report.items.find((i: { id: string }) => i.id === 'spf.provider').status).toBe('pass');
    expect(report.items.find((i: { id: string }) => i.id === 'spf.present').title).toContain('bounce.example.com');
  });
});

describe('formatReport', () => {
  it('keeps long ids intact and prints no fix for passing items', () => {
    const text = formatReport({
      domain: 'example.com',
      ok: true,
      summary: { pass: 1, warn: 0, fail: 0, info: 0 },
      items: [{ id: 'dkim.a-very-long-selector-name-here.key-match', status: 'pass', title: 'ok', detail: '', fix: 'nothing' }],
    });
    expect(text).toContain('dkim.a-very-long-selector-name-here.key-match  ok');
    expect(text).not.toContain('nothing');
  });
});
