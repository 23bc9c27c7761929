import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DOCTOR_USAGE, runDoctor } from '../../src/cli/doctor.js';
import { checkDomain } from '../../src/auth/check-domain.js';
import { createMemoryResolver } from '../../src/testing/dns.js';
import { startTestDnsServer } from '../helpers/dns-server.js';
import type { TestDnsServer } from '../helpers/dns-server.js';

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

async function doctor(argv: string[], extra: { resolver?: ReturnType<typeof createMemoryResolver> } = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runDoctor(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, ...extra });
  return { code, out, err };
}

let server: TestDnsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('mailpush doctor flags', () => {
  it('--version and -V print the package version and exit 0', async () => {
    for (const argv of [['--version'], ['doctor', '-V'], ['doctor', 'example.com', '--version']]) {
      const r = await doctor(argv);
      expect(r).toEqual({ code: 0, out: `mailpush ${version}\n`, err: '' });
    }
  });

  it('--dns-server asks that server (a real UDP DNS server on 127.0.0.1)', async () => {
    server = await startTestDnsServer({
      'example.com': { txt: ['v=spf1 ip4:192.0.2.0/24 -all'], mx: [{ priority: 10, exchange: 'mx.example.com' }], a: ['192.0.2.10'] },
      '_dmarc.example.com': { txt: ['v=DMARC1; p=reject'] },
      'mx.example.com': { a: ['192.0.2.25'] },
    });
    const r = await doctor(['doctor', 'example.com', '--dns-server', server.address, '--timeout', '2000', '--json']);
    const report = JSON.parse(r.out) as { items: { id: string; status: string }[] };
    expect(report.items.find((i) => i.id === 'spf.present')?.status).toBe('pass');
    expect(report.items.find((i) => i.id === 'dmarc.present')?.status).toBe('pass');
    expect(server.queries).toContain('example.com TXT');
    expect(server.queries).toContain('_dmarc.example.com TXT');
  });

  it('says that a domain does not exist when every lookup answers NXDOMAIN (real server)', async () => {
    server = await startTestDnsServer({});
    const r = await doctor(['doctor', 'no-such-domain.example', '--dns-server', server.address, '--timeout', '2000']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('no-such-domain.example does not exist (NXDOMAIN)');
    expect(r.out).not.toContain('No SPF record');
  });

  it('keeps the full checks for a domain that exists without SPF', async () => {
    const report = await checkDomain({ domain: 'example.org', resolver: createMemoryResolver({ 'example.org': { a: ['192.0.2.1'] } }) });
    expect(report.items.map((i) => i.id)).toContain('spf.present');
    expect(report.items.map((i) => i.id)).not.toContain('domain.exists');
  });

  it('prints the usage text only for a wrong command line shape, not for a bad value', async () => {
    const shape = await doctor(['doctor']);
    expect(shape.code).toBe(2);
    expect(shape.err).toContain(DOCTOR_USAGE);
    const unknown = await doctor(['doctor', 'example.com', '--selectr', 's1']);
    expect(unknown.err).toContain(DOCTOR_USAGE);
    for (const argv of [['doctor', 'example.com', '--timeout', 'soon'], ['doctor', 'not a domain'], ['doctor', 'example.com', '--dns-server', 'not-an-ip']]) {
      const bad = await doctor(argv); // each fails before any lookup
      expect(bad.code).toBe(2);
      expect(bad.err).not.toContain('Usage:');
      expect(bad.err).toContain('mailpush doctor --help');
    }
  });
});
