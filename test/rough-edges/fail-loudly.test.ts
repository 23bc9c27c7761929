import { afterEach, describe, expect, it } from 'vitest';
import { createMailer, MailErrorCode, smtpTransport } from '../../src/index.js';
import type { Mailer, TransportDownEvent, TransportUpEvent } from '../../src/index.js';
import { startSendGridServer, startSesServer, startSmtpSink } from '../../src/testing/index.js';
import type { SmtpSink } from '../../src/testing/index.js';
import { freePort } from '../helpers/ports.js';
import sesTransport from '../../src/transports/ses.js';
import sendgridTransport from '../../src/transports/sendgrid.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

function watch(mailer: Mailer): { down: TransportDownEvent[]; up: TransportUpEvent[] } {
  const down: TransportDownEvent[] = [];
  const up: TransportUpEvent[] = [];
  mailer.on('transportDown', (e) => down.push(e));
  mailer.on('transportUp', (e) => up.push(e));
  return { down, up };
}

function mailerFor(transport: ReturnType<typeof smtpTransport>): Mailer {
  const mailer = createMailer({ transport });
  cleanups.push(() => mailer.close({ timeoutMs: 100 }));
  return mailer;
}

const message = (i: number) => ({ from: 'app@example.com', to: `user${i}@example.org`, subject: `m${i}`, text: 'hello' });

describe('fail loudly when the transport cannot connect or authenticate', { timeout: 20_000 }, () => {
  it('pauses the transport on a refused connection, says so once, then delivers without spending attempts', async () => {
    const port = await freePort();
    const mailer = mailerFor(smtpTransport({ host: '127.0.0.1', port, connectionTimeoutMs: 2_000 }));
    const seen = watch(mailer);
    const deferred: string[] = [];
    mailer.on('deferred', (e) => deferred.push(e.error.code));

    const check = await mailer.verify();
    expect(check).toMatchObject({ ok: false, reason: 'connect', transport: 'smtp', error: { code: MailErrorCode.CONNECTION } });

    const receipts = await Promise.all([0, 1, 2].map((i) => mailer.send(message(i))));
    await expect.poll(() => seen.down.length, { timeout: 3_000 }).toBe(1);
    expect(seen.down[0]).toMatchObject({ transport: 'smtp', reason: 'connect', error: { code: MailErrorCode.CONNECTION } });
    expect(seen.down[0]!.retryAt).toBeGreaterThan(seen.down[0]!.at);
    expect(deferred.length).toBeGreaterThan(0);
    expect(deferred.every((c) => c === MailErrorCode.TRANSPORT_PAUSED)).toBe(true);

    // The relay comes up on that port: the paused sends go out after the pause.
    const sink = await startSmtpSink({ port });
    cleanups.push(() => sink.close());
    const reports = await Promise.all(receipts.map((r) => r.done()));
    expect(reports.map((r) => r.status)).toEqual(['sent', 'sent', 'sent']);
    // Attempts refused by a down transport are not counted.
    for (const r of reports) expect(r.recipients[0]!.attempts).toBe(1);
    expect(seen.down).toHaveLength(1);
    expect(seen.up).toHaveLength(1);
    expect(seen.up[0]).toMatchObject({ transport: 'smtp', reason: 'connect' });
    expect((await mailer.verify()).ok).toBe(true);
  }, 30_000);

  it('reports a relay host name that does not resolve as reason dns', async () => {
    const mailer = mailerFor(smtpTransport({ host: 'relay.mailpush-test.invalid', port: 2525 }));
    const seen = watch(mailer);
    const check = await mailer.verify();
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.reason).toBe('dns');
    expect(check.error.code).toBe(MailErrorCode.CONNECTION);
    expect(check.error.message).toMatch(/ENOTFOUND|relay\.mailpush-test\.invalid/);

    await mailer.send(message(1));
    await mailer.send(message(2));
    await expect.poll(() => seen.down.length, { timeout: 3_000 }).toBe(1);
    expect(seen.down[0]).toMatchObject({ reason: 'dns' });
    expect(mailer.stats().totals.sent).toBe(0);
  });

  describe('with a relay that requires AUTH', () => {
    let sink: SmtpSink;
    afterEach(async () => sink?.close());

    it('fails every message at once with AUTH on refused credentials, with one transportDown', async () => {
      sink = await startSmtpSink({ auth: { user: 'app', pass: 'right' } });
      const mailer = mailerFor(smtpTransport({ host: sink.host, port: sink.port, auth: { user: 'app', pass: 'wrong' } }));
      const seen = watch(mailer);
      const check = await mailer.verify();
      expect(check).toMatchObject({ ok: false, reason: 'auth', error: { code: MailErrorCode.AUTH } });

      const started = Date.now();
      const receipts = await Promise.all([0, 1, 2, 3].map((i) => mailer.send(message(i))));
      const reports = await Promise.all(receipts.map((r) => r.done()));
      expect(Date.now() - started).toBeLessThan(5_000);
      for (const r of reports) {
        expect(r.status).toBe('failed');
        expect(r.recipients[0]!.error?.code).toBe(MailErrorCode.AUTH);
      }
      expect(seen.down).toHaveLength(1);
      expect(seen.down[0]).toMatchObject({ reason: 'auth', transport: 'smtp' });
      expect(seen.down[0]!.retryAt).toBeUndefined();
      expect(sink.count).toBe(0);
    });

    it('verifies good credentials (connect, EHLO, AUTH)', async () => {
      sink = await startSmtpSink({ auth: { user: 'app', pass: 'right' } });
      const mailer = mailerFor(smtpTransport({ host: sink.host, port: sink.port, auth: { user: 'app', pass: 'right' } }));
      const check = await mailer.verify();
      expect(check).toMatchObject({ ok: true, checked: true, transport: 'smtp' });
    });
  });

  it('tells dns from connect for the HTTP transports too (SES through the AWS SDK, SendGrid through fetch)', async () => {
    const port = await freePort();
    const cases = [
      [sesTransport({ region: 'us-east-1', endpoint: 'http://ses.mailpush-test.invalid:4566', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }), 'dns'],
      [sesTransport({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }), 'connect'],
      [sendgridTransport({ apiKey: 'SG.x', baseUrl: 'http://api.mailpush-test.invalid:8080' }), 'dns'],
      [sendgridTransport({ apiKey: 'SG.x', baseUrl: `http://127.0.0.1:${port}` }), 'connect'],
    ] as const;
    for (const [transport, reason] of cases) {
      const mailer = createMailer({ transport });
      cleanups.push(() => mailer.close());
      expect(await mailer.verify(), `${transport.name} ${reason}`).toMatchObject({ ok: false, reason, error: { code: MailErrorCode.CONNECTION } });
    }
  });

  it('verifies SES with GetAccount against the local SES v2 server', async () => {
    const server = await startSesServer({ accessKeyId: 'AKIDGOOD' });
    cleanups.push(() => server.close());
    const good = createMailer({
      transport: sesTransport({ region: server.region, endpoint: server.endpoint, credentials: { accessKeyId: 'AKIDGOOD', secretAccessKey: 'x' } }),
    });
    cleanups.push(() => good.close());
    expect(await good.verify()).toMatchObject({ ok: true, checked: true, transport: 'ses' });
    const bad = createMailer({
      transport: sesTransport({ region: server.region, endpoint: server.endpoint, credentials: { accessKeyId: 'AKIDBAD', secretAccessKey: 'x' } }),
    });
    cleanups.push(() => bad.close());
    const check = await bad.verify();
    expect(check).toMatchObject({ ok: false, reason: 'auth', error: { code: MailErrorCode.AUTH } });
    server.setSendingEnabled(false);
    expect(await good.verify()).toMatchObject({ ok: false, reason: 'paused', error: { code: MailErrorCode.TRANSPORT_PAUSED } });
  });

  it('verifies SendGrid with the key scopes against the local SendGrid server', async () => {
    const server = await startSendGridServer();
    cleanups.push(() => server.close());
    const good = createMailer({ transport: sendgridTransport({ apiKey: server.apiKey, baseUrl: server.baseUrl }) });
    cleanups.push(() => good.close());
    expect(await good.verify()).toMatchObject({ ok: true, checked: true, transport: 'sendgrid' });
    const bad = createMailer({ transport: sendgridTransport({ apiKey: 'SG.wrong', baseUrl: server.baseUrl }) });
    cleanups.push(() => bad.close());
    expect(await bad.verify()).toMatchObject({ ok: false, reason: 'auth', error: { code: MailErrorCode.AUTH } });
  });
});
