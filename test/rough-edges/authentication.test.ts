import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createDkimSigner } from '../../src/auth/dkim.js';
import { createMailer, MailErrorCode, smtpTransport } from '../../src/index.js';
import { assertAuthenticated, createMemoryResolver, startSmtpSink, verifyAuthentication } from '../../src/testing/index.js';
import type { SmtpSink } from '../../src/testing/index.js';

let sink: SmtpSink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

describe('mailpush/testing: DKIM, SPF and DMARC of captured messages (mailauth as the verifier)', () => {
  it('passes a signed message from an authorized IP, and names what fails otherwise', async () => {
    const keys = [{ domain: 'example.com', selector: 's1', privateKey: generateKeyPairSync('ed25519').privateKey }];
    const record = createDkimSigner({ keys }).keys[0]!.dnsRecord;
    sink = await startSmtpSink({ keepRaw: true });
    const mailer = createMailer({ transport: smtpTransport({ host: sink.host, port: sink.port }), dkim: { keys } });
    await mailer.send({ from: 'app@example.com', to: 'ann@example.org', subject: 'Hi', text: 'signed' });
    await mailer.send({ from: 'app@unsigned.example', to: 'ann@example.org', subject: 'Hi', text: 'not signed' });
    await sink.waitFor(2, 5_000);
    await mailer.close();
    const signed = sink.messages.find((m) => m.envelope.from === 'app@example.com')!;
    const unsigned = sink.messages.find((m) => m.envelope.from === 'app@unsigned.example')!;

    const dns = createMemoryResolver({
      's1._domainkey.example.com': { txt: [record] },
      'example.com': { txt: ['v=spf1 ip4:127.0.0.1 -all'] },
      '_dmarc.example.com': { txt: ['v=DMARC1; p=reject'] },
      'unsigned.example': { txt: ['v=spf1 ip4:192.0.2.1 -all'] },
      '_dmarc.unsigned.example': { txt: ['v=DMARC1; p=reject'] },
    });
    const verdict = await assertAuthenticated(signed, { resolver: dns, ip: '127.0.0.1' });
    expect(verdict.dkim).toEqual([{ domain: 'example.com', selector: 's1', result: 'pass', aligned: true }]);
    expect(verdict.spf).toMatchObject({ result: 'pass', domain: 'example.com' });
    expect(verdict.dmarc).toMatchObject({ result: 'pass', domain: 'example.com' });
    expect(verdict.header).toMatch(/^Authentication-Results: mailpush\.test;/);

    // From another IP, SPF fails but the aligned DKIM signature still carries DMARC.
    const elsewhere = await verifyAuthentication(signed.raw!, { resolver: dns, ip: '198.51.100.7', sender: 'app@example.com' });
    expect(elsewhere.spf.result).toBe('fail');
    expect(elsewhere.dmarc.result).toBe('pass');

    const failure = await assertAuthenticated(unsigned, { resolver: dns }).then(() => undefined, (e: unknown) => e);
    expect(failure).toMatchObject({ code: MailErrorCode.ASSERTION });
    expect(String((failure as Error).message)).toMatch(/DKIM: the message has no signature; SPF: fail.*; DMARC: fail/);

    // A tampered body breaks the signature.
    const tampered = Buffer.from(signed.raw!.toString('latin1').replace('signed', 'SIGNED'), 'latin1');
    const broken = await verifyAuthentication(tampered, { resolver: dns });
    // mailauth reports a body hash mismatch as 'neutral' (RFC 6376 6.3 leaves it to the verifier).
    expect(broken.dkim[0]!.result).not.toBe('pass');
    await expect(assertAuthenticated(tampered, { resolver: dns })).rejects.toMatchObject({ code: MailErrorCode.ASSERTION });
  });

  it('asks for the raw bytes of a sink message', async () => {
    await expect(verifyAuthentication({ envelope: { from: '', to: [] }, id: 'x', size: 0, receivedAt: 0, secure: false }, { resolver: createMemoryResolver() })).rejects.toMatchObject({ code: MailErrorCode.CONFIG });
  });
});
