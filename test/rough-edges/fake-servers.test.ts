import { describe, expect, it } from 'vitest';
import { MailErrorCode } from '../../src/index.js';
import { startSendGridServer, startSesServer, startSmtpSink } from '../../src/testing/index.js';
import sendgridTransport from '../../src/transports/sendgrid.js';
import { prepareMessage } from '../../src/message/prepared.js';
import { normalizeMessage } from '../../src/message/normalize.js';

describe('the fakes share listen, close and waitFor', () => {
  it('SendGrid server: waitFor resolves on accepted requests, times out, and rejects with CLOSED on close', async () => {
    const server = await startSendGridServer();
    const t = sendgridTransport({ apiKey: server.apiKey, baseUrl: server.baseUrl });
    const waiting = server.waitFor(1, 5_000);
    const m = normalizeMessage({ from: 'a@example.com', to: 'b@example.org', subject: 's', text: 'x' }, { now: Date.now() });
    await t.send(prepareMessage('j1', m, { from: 'a@example.com', to: ['b@example.org'] }), { signal: new AbortController().signal, attempt: 1 });
    await expect(waiting).resolves.toBeUndefined();
    await expect(server.waitFor(5, 20)).rejects.toMatchObject({ code: MailErrorCode.TIMEOUT, message: expect.stringContaining('accepted 1 of 5') });
    const pending = server.waitFor(5, 5_000);
    await server.close();
    await expect(pending).rejects.toMatchObject({ code: MailErrorCode.CLOSED });
    await expect(server.waitFor(9)).rejects.toMatchObject({ code: MailErrorCode.CLOSED });
  });

  it('SMTP sink: a port in use is a CONFIG error naming it; close() drops connections at once', async () => {
    const a = await startSmtpSink();
    await expect(startSmtpSink({ port: a.port })).rejects.toMatchObject({ code: MailErrorCode.CONFIG, option: 'port' });
    const pending = a.waitFor(1, 5_000);
    const started = Date.now();
    await a.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(pending).rejects.toMatchObject({ code: MailErrorCode.CLOSED });
  });

  it('SES server: waitFor validates its arguments', async () => {
    const ses = await startSesServer();
    await expect(ses.waitFor(-1)).rejects.toMatchObject({ code: MailErrorCode.CONFIG });
    await expect(ses.waitFor(0)).resolves.toBeUndefined();
    await ses.close();
  });
});
