import { afterEach, describe, expect, it } from 'vitest';
import { createMailer, failover, MailErrorCode, memoryTransport, namedTransport, smtpTransport } from '../../src/index.js';
import type { SentEvent } from '../../src/index.js';
import { startSendGridServer, startSmtpSink } from '../../src/testing/index.js';
import sendgridTransport from '../../src/transports/sendgrid.js';
import sesTransport from '../../src/transports/ses.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe('transport names for failover', () => {
  it('refuses two members of one kind without names, naming the options that fix it', () => {
    const a = memoryTransport();
    const b = memoryTransport();
    expect(() => failover([a, b])).toThrow(/transportName|namedTransport/);
  });

  it('gives every transport kind a name option', () => {
    expect(smtpTransport({ host: '127.0.0.1', port: 2525, transportName: 'relay-a' }).name).toBe('relay-a');
    expect(sesTransport({ region: 'us-east-1', name: 'ses-eu' }).name).toBe('ses-eu');
    expect(sendgridTransport({ apiKey: 'SG.x', name: 'sg-sub' }).name).toBe('sg-sub');
    expect(memoryTransport({ name: 'mem-b' }).name).toBe('mem-b');
    expect(() => smtpTransport({ host: '127.0.0.1', transportName: '' })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option: 'transportName' }));
    // `name` of smtpTransport stays the EHLO host name.
    expect(smtpTransport({ host: '127.0.0.1', name: 'mx.example.com' }).name).toBe('smtp');
  });

  it('fails over between two real SMTP sinks when the first one goes away', async () => {
    const a = await startSmtpSink();
    const b = await startSmtpSink();
    cleanups.push(() => b.close());
    const transport = failover([
      smtpTransport({ host: a.host, port: a.port, transportName: 'relay-a' }),
      smtpTransport({ host: b.host, port: b.port, transportName: 'relay-b' }),
    ]);
    const mailer = createMailer({ transport });
    cleanups.push(() => mailer.close({ timeoutMs: 200 }));
    const sent: SentEvent[] = [];
    mailer.on('sent', (e) => sent.push(e));
    const msg = (i: number) => ({ from: 'app@example.com', to: `u${i}@example.org`, subject: `s${i}`, text: 'x' });

    expect((await (await mailer.send(msg(1))).done()).status).toBe('sent');
    expect(a.count).toBe(1);
    await a.close();
    const report = await (await mailer.send(msg(2))).done();
    expect(report.status).toBe('sent');
    expect(report.recipients[0]!.transport).toBe('relay-b');
    expect(b.count).toBe(1);
    expect(sent.map((e) => e.sentBy)).toEqual(['relay-a', 'relay-b']);
    expect(transport.health().map((h) => [h.name, h.healthy])).toEqual([['relay-a', false], ['relay-b', true]]);
  });

  it('labels the errors and results of a renamed transport with its name', async () => {
    const server = await startSendGridServer();
    cleanups.push(() => server.close());
    const t = namedTransport(sendgridTransport({ apiKey: 'SG.wrong', baseUrl: server.baseUrl }), 'sg-b');
    const error = await t.verify!().then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: MailErrorCode.AUTH, transport: 'sg-b' });
  });
});
