import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { createTransport } from 'nodemailer';
import type { NodemailerError, SMTPTransportOptions, SendMailOptions } from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import type { MailError } from '../../src/errors.js';
import { FAULT_PRESETS, formatReply } from '../../src/transports/faults.js';
import { importOptional, startSmtpSink } from '../../src/testing/smtp-sink.js';
import type { SmtpSink, SmtpSinkOptions } from '../../src/testing/smtp-sink.js';

const key = readFileSync(new URL('../fixtures/tls/localhost-key.pem', import.meta.url));
const cert = readFileSync(new URL('../fixtures/tls/localhost-cert.pem', import.meta.url));

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((fn) => fn()));
});

async function sinkFor(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const sink = await startSmtpSink(options);
  cleanup.push(() => sink.close());
  return sink;
}

// A plain nodemailer client, so the sink is tested independently of the SMTP transport.
function client(sink: SmtpSink, options: SMTPTransportOptions = {}) {
  const transporter = createTransport({ host: sink.host, port: sink.port, secure: sink.secure, ignoreTLS: true, ...options });
  cleanup.push(async () => transporter.close());
  return transporter;
}

function mail(to: string | string[] = 'ann@example.com', extra: SendMailOptions = {}): SendMailOptions {
  return { from: 'app@example.com', to, subject: 'Sink test', text: 'Hello sink', ...extra };
}

async function sendError(promise: Promise<unknown>): Promise<NodemailerError> {
  return promise.then(
    () => {
      throw new Error('expected the send to fail');
    },
    (e: NodemailerError) => e,
  );
}

async function mailError(promise: Promise<unknown>): Promise<MailError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(isMailError(err), String(err)).toBe(true);
  return err as MailError;
}

describe('startSmtpSink', () => {
  it('listens on 127.0.0.1 and a free port by default', async () => {
    const sink = await sinkFor();
    expect(sink.host).toBe('127.0.0.1');
    expect(sink.port).toBeGreaterThan(0);
    expect(sink.url).toBe(`smtp://127.0.0.1:${sink.port}`);
    expect(sink.secure).toBe(false);
  });

  it('accepts and parses messages, with envelope, size, time and queue id', async () => {
    const sink = await sinkFor();
    const before = Date.now();
    const info = await client(sink).sendMail(mail(['ann@example.com', 'bob@example.com'], { envelope: { from: 'bounce@example.com', to: ['ann@example.com', 'bob@example.com'] } }));
    expect(sink.count).toBe(1);
    const m = sink.messages[0]!;
    expect(info.response).toBe(`250 2.0.0 Ok: queued as ${m.id}`);
    expect(m.envelope).toEqual({ from: 'bounce@example.com', to: ['ann@example.com', 'bob@example.com'] });
    expect(m.parsed?.subject).toBe('Sink test');
    expect(m.parsed?.text?.trim()).toBe('Hello sink');
    expect(m.size).toBeGreaterThan(100);
    expect(sink.bytes).toBe(m.size);
    expect(m.receivedAt).toBeGreaterThanOrEqual(before);
    expect(m.raw).toBeUndefined();
    expect(m.secure).toBe(false);
    expect(m.user).toBeUndefined();
  });

  it('keeps the raw bytes with keepRaw', async () => {
    const sink = await sinkFor({ keepRaw: true, parse: false });
    await client(sink).sendMail(mail());
    const m = sink.messages[0]!;
    expect(m.parsed).toBeUndefined();
    expect(m.raw?.toString()).toContain('Subject: Sink test');
    expect(m.raw?.length).toBe(m.size);
  });

  it('only counts messages and bytes with parse: false', async () => {
    const sink = await sinkFor({ parse: false });
    const c = client(sink);
    await c.sendMail(mail());
    await c.sendMail(mail());
    expect(sink.count).toBe(2);
    expect(sink.bytes).toBeGreaterThan(200);
    expect(sink.messages).toEqual([]);
  });

  it('still accepts a message that is not valid MIME', async () => {
    const sink = await sinkFor({ keepRaw: true });
    await client(sink).sendMail({ envelope: { from: 'a@example.com', to: ['b@example.com'] }, raw: '\u0000\u0001 not mime at all\r\n--\r\n' });
    expect(sink.count).toBe(1);
    expect(sink.messages[0]!.raw?.includes(Buffer.from('not mime at all'))).toBe(true);
  });

  describe('rules', () => {
    it('answers RCPT with the preset text, exactly', async () => {
      const sink = await sinkFor({ rules: [{ match: 'ann@example.com', reply: 'throttle-microsoft' }] });
      const err = await sendError(client(sink).sendMail(mail()));
      expect(err.responseCode).toBe(451);
      expect(err.response).toBe(formatReply(FAULT_PRESETS['throttle-microsoft']));
      expect(sink.count).toBe(0);
    });

    it('answers with a custom reply', async () => {
      const sink = await sinkFor({ rules: [{ match: '*', reply: { responseCode: 450, enhancedStatus: '4.2.1', text: 'Slow down' } }] });
      const err = await sendError(client(sink).sendMail(mail()));
      expect(err.response).toBe('450 4.2.1 Slow down');
    });

    it.each<[string, SmtpSinkOptions['rules']]>([
      ['an exact address, any case', [{ match: 'GONE@example.com', reply: 'recipient-unknown' }]],
      ['a domain', [{ match: '@example.com', reply: 'recipient-unknown' }]],
      ['a glob', [{ match: 'g*@*.com', reply: 'recipient-unknown' }]],
      ['a RegExp', [{ match: /^gone@/, reply: 'recipient-unknown' }]],
      ['a function', [{ match: (r: string) => r.startsWith('gone'), reply: 'recipient-unknown' }]],
    ])('matches recipients by %s', async (_name, rules) => {
      const sink = await sinkFor({ rules: rules! });
      const err = await sendError(client(sink).sendMail(mail('gone@example.com')));
      expect(err.responseCode).toBe(550);
    });

    it('refuses only matching recipients and keeps the others', async () => {
      const sink = await sinkFor({ rules: [{ match: 'gone@example.com', reply: 'recipient-unknown' }] });
      const info = await client(sink).sendMail(mail(['ann@example.com', 'gone@example.com']));
      expect(info.accepted).toEqual(['ann@example.com']);
      expect(info.rejected).toEqual(['gone@example.com']);
      expect(sink.messages[0]!.envelope.to).toEqual(['ann@example.com']);
    });

    it('applies a rule `times` times, then accepts', async () => {
      const sink = await sinkFor({ rules: [{ match: '*', reply: 'tempfail', times: 2 }] });
      const c = client(sink);
      expect((await sendError(c.sendMail(mail()))).responseCode).toBe(451);
      expect((await sendError(c.sendMail(mail()))).responseCode).toBe(451);
      await c.sendMail(mail());
      expect(sink.count).toBe(1);
      expect(sink.attempts('ann@example.com')).toBe(3);
      expect(sink.attemptsByRecipient.get('ann@example.com')).toBe(3);
    });

    it('answers after the data at stage "data", once per message', async () => {
      const sink = await sinkFor({ rules: [{ match: '@example.com', reply: 'permfail', stage: 'data' }] });
      const err = await sendError(client(sink).sendMail(mail(['a@example.com', 'b@example.com'])));
      expect(err.code).toBe('EMESSAGE');
      expect(err.response).toBe(formatReply(FAULT_PRESETS.permfail));
      expect(sink.attempts('a@example.com')).toBe(1);
      expect(sink.count).toBe(0);
    });

    it('delays the answer by delayMs, then accepts when no reply is set', async () => {
      const sink = await sinkFor({ rules: [{ match: '*@slow.test', delayMs: 150 }] });
      const c = client(sink);
      const started = performance.now();
      await c.sendMail(mail('x@slow.test'));
      expect(performance.now() - started).toBeGreaterThanOrEqual(140);
      expect(sink.count).toBe(1);
    });

    it('closes the connection after a 421, as real servers do', async () => {
      const sink = await sinkFor({ rules: [{ match: '*', reply: 'throttle-gmail' }] });
      const err = await sendError(client(sink).sendMail(mail()));
      expect(err.responseCode).toBe(421);
      expect(err.code).toBe('ECONNECTION');
      expect(err.response).toMatch(/^421 4\.7\.28 Gmail has detected/);
    });

    it('drops the connection without a reply for the connection preset', async () => {
      const sink = await sinkFor({ rules: [{ match: '*', reply: 'connection' }] });
      const err = await sendError(client(sink).sendMail(mail()));
      expect(err.code).toBe('ECONNECTION');
      expect(err.responseCode).toBeUndefined();
    });

    it('never answers for the timeout preset', async () => {
      const sink = await sinkFor({ rules: [{ match: '*', reply: 'timeout' }] });
      const err = await sendError(client(sink, { socketTimeout: 150 }).sendMail(mail()));
      expect(err.code).toBe('ETIMEDOUT');
    });

    it('addRule() and failNext() add rules to a running sink; failNext comes first', async () => {
      const sink = await sinkFor();
      const c = client(sink);
      sink.addRule({ match: '*', reply: 'recipient-unknown', stage: 'data', times: 1 });
      sink.failNext(1, 'tempfail');
      expect((await sendError(c.sendMail(mail()))).responseCode).toBe(451);
      expect((await sendError(c.sendMail(mail()))).responseCode).toBe(550);
      await c.sendMail(mail());
      sink.failNext();
      expect((await sendError(c.sendMail(mail()))).response).toBe(formatReply(FAULT_PRESETS.tempfail));
    });

    it('reset() forgets messages and added rules and re-arms the initial ones', async () => {
      const sink = await sinkFor({ rules: [{ match: '*', reply: 'tempfail', times: 1 }] });
      const c = client(sink);
      await sendError(c.sendMail(mail()));
      await c.sendMail(mail());
      sink.addRule({ match: '*', reply: 'permfail' });
      sink.reset();
      expect([sink.count, sink.bytes, sink.messages.length, sink.attempts('ann@example.com')]).toEqual([0, 0, 0, 0]);
      expect((await sendError(c.sendMail(mail()))).responseCode).toBe(451);
      await c.sendMail(mail());
      expect(sink.count).toBe(1);
    });

    it.each<[unknown, string]>([
      [{ match: '' }, 'rules[0].match'],
      [{ match: 5 }, 'rules[0].match'],
      [{ match: '*', reply: 'bogus' }, 'rules[0].reply'],
      [{ match: '*', reply: { responseCode: 451, text: 'a\nb' } }, 'rules[0].reply.text'],
      [{ match: '*', stage: 'mail' }, 'rules[0].stage'],
      [{ match: '*', delayMs: -5 }, 'rules[0].delayMs'],
      [{ match: '*', times: 0 }, 'rules[0].times'],
      [null, 'rules[0]'],
    ])('rejects the rule %o naming %s', async (rule, option) => {
      const err = await mailError(startSmtpSink({ rules: [rule as never] }));
      expect(err.code).toBe(MailErrorCode.CONFIG);
      expect(err.option).toBe(option);
    });
  });

  describe('auth and TLS', () => {
    it('requires AUTH when configured and records the user', async () => {
      const sink = await sinkFor({ auth: { user: 'app', pass: 'pw' } });
      const noAuth = await sendError(client(sink).sendMail(mail()));
      expect(noAuth.responseCode).toBe(530);
      const wrong = await sendError(client(sink, { auth: { user: 'app', pass: 'nope' } }).sendMail(mail()));
      expect(wrong.code).toBe('EAUTH');
      expect(wrong.responseCode).toBe(535);
      await client(sink, { auth: { user: 'app', pass: 'pw' } }).sendMail(mail());
      expect(sink.messages.map((m) => m.user)).toEqual(['app']);
    });

    it('speaks implicit TLS with the given certificate', async () => {
      const sink = await sinkFor({ secure: true, tls: { key, cert } });
      expect(sink.url).toBe(`smtps://127.0.0.1:${sink.port}`);
      await client(sink, { tls: { ca: cert, servername: 'localhost' } }).sendMail(mail());
      expect(sink.messages[0]!.secure).toBe(true);
    });

    it('offers STARTTLS unless disabled', async () => {
      const sink = await sinkFor({ tls: { key, cert } });
      await client(sink, { ignoreTLS: false, requireTLS: true, tls: { ca: cert, servername: 'localhost' } }).sendMail(mail());
      expect(sink.messages[0]!.secure).toBe(true);
      const plain = await sinkFor({ disableStartTls: true });
      const err = await sendError(client(plain, { ignoreTLS: false, requireTLS: true }).sendMail(mail()));
      expect(err.code).toBe('ETLS');
    });

    it('refuses messages over maxSize with 552', async () => {
      const sink = await sinkFor({ maxSize: 2_000 });
      const err = await sendError(client(sink).sendMail(mail('a@example.com', { text: 'x'.repeat(10_000) })));
      expect(err.responseCode).toBe(552);
      expect(sink.count).toBe(0);
    });
  });

  describe('waitFor and close', () => {
    it('waitFor resolves once the count is reached', async () => {
      const sink = await sinkFor();
      const waiting = sink.waitFor(2, 2_000);
      const c = client(sink);
      await c.sendMail(mail());
      await c.sendMail(mail());
      await expect(waiting).resolves.toBeUndefined();
      await expect(sink.waitFor(1, 0)).resolves.toBeUndefined();
    });

    it('waitFor rejects with a clear TIMEOUT error', async () => {
      const sink = await sinkFor();
      const err = await mailError(sink.waitFor(1, 30));
      expect(err.code).toBe(MailErrorCode.TIMEOUT);
      expect(err.message).toBe('SMTP sink received 0 of 1 expected messages within 30 ms');
    });

    it('waitFor rejects bad arguments', async () => {
      const sink = await sinkFor();
      expect((await mailError(sink.waitFor(-1))).option).toBe('count');
      expect((await mailError(sink.waitFor(1, Number.NaN))).option).toBe('timeoutMs');
    });

    it('close() is idempotent, quick with a hung session, and fails pending waits with CLOSED', async () => {
      const sink = await startSmtpSink({ rules: [{ match: '*', reply: 'timeout' }] });
      const c = client(sink);
      const hung = sendError(c.sendMail(mail()));
      const waiting = mailError(sink.waitFor(1, 10_000));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = performance.now();
      const first = sink.close();
      expect(sink.close()).toBe(first);
      await first;
      expect(performance.now() - started).toBeLessThan(1_000);
      expect((await waiting).code).toBe(MailErrorCode.CLOSED);
      expect((await hung).code).toMatch(/^E/);
      await expect(new Promise((resolve, reject) => {
        const socket = net.connect(sink.port, '127.0.0.1');
        socket.once('connect', () => reject(new Error('still listening')));
        socket.once('error', resolve);
      })).resolves.toBeDefined();
    });
  });

  describe('options', () => {
    it.each<[SmtpSinkOptions, string]>([
      [{ host: '0.0.0.0' }, 'host'],
      [{ host: '192.0.2.1' }, 'host'],
      [{ host: '' }, 'host'],
      [{ port: -1 }, 'port'],
      [{ port: 1.5 }, 'port'],
      [{ parse: 'no' as never }, 'parse'],
      [{ rules: {} as never }, 'rules'],
      [{ auth: { user: '', pass: 'x' } }, 'auth.user'],
      [{ tls: { key: 'k' } as never }, 'tls.cert'],
      [{ maxSize: 0 }, 'maxSize'],
      [{ name: 'two words' }, 'name'],
    ])('rejects %o naming %s', async (options, option) => {
      const err = await mailError(startSmtpSink(options));
      expect(err.code).toBe(MailErrorCode.CONFIG);
      expect(err.option).toBe(option);
    });

    it('allows a non-loopback host only with allowRemote (checked, not bound, here)', async () => {
      const err = await mailError(startSmtpSink({ host: '0.0.0.0', port: -1, allowRemote: true }));
      expect(err.option).toBe('port');
    });

    it('listens on ::1 and localhost', async () => {
      const v6 = await sinkFor({ host: '::1' }).catch(() => undefined);
      if (v6 !== undefined) expect(v6.url).toBe(`smtp://[::1]:${v6.port}`);
      const local = await sinkFor({ host: 'localhost' });
      expect(local.port).toBeGreaterThan(0);
    });

    it('reports a port in use as CONFIG naming the port', async () => {
      const sink = await sinkFor();
      const err = await mailError(startSmtpSink({ port: sink.port }));
      expect(err.code).toBe(MailErrorCode.CONFIG);
      expect(err.option).toBe('port');
      expect(err.message).toContain(`127.0.0.1:${sink.port}`);
    });
  });
});

describe('importOptional', () => {
  it('turns a missing package into MISSING_DEPENDENCY naming it', async () => {
    const missing = Object.assign(new Error("Cannot find package 'smtp-server' imported from /app/x.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    const err = await mailError(importOptional('smtp-server', () => Promise.reject(missing)));
    expect(err.code).toBe(MailErrorCode.MISSING_DEPENDENCY);
    expect(err.message).toContain('npm install --save-dev smtp-server');
    expect(err.cause).toBe(missing);
  });

  it('keeps other load failures apart as INTERNAL', async () => {
    const broken = Object.assign(new Error("Cannot find package 'left-pad' imported from smtp-server"), { code: 'ERR_MODULE_NOT_FOUND' });
    const err1 = await mailError(importOptional('mailparser', () => Promise.reject(broken)));
    expect(err1.code).toBe(MailErrorCode.INTERNAL);
    const err2 = await mailError(importOptional('smtp-server', () => Promise.reject(new SyntaxError('bad'))));
    expect(err2.code).toBe(MailErrorCode.INTERNAL);
  });

  it('returns the module when it loads', async () => {
    await expect(importOptional('x', async () => ({ ok: 1 }))).resolves.toEqual({ ok: 1 });
  });
});
