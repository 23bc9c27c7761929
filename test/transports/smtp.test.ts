import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { createTransport } from 'nodemailer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import type { MailError } from '../../src/errors.js';
import { allRecipients, normalizeMessage } from '../../src/message/index.js';
import { prepareMessage } from '../../src/message/prepared.js';
import { testTransport } from '../../src/testing/conformance.js';
import { startSmtpSink } from '../../src/testing/smtp-sink.js';
import type { SmtpSink, SmtpSinkOptions } from '../../src/testing/smtp-sink.js';
import smtpTransport, { TRANSPORT_NAME, parseQueueId } from '../../src/transports/smtp.js';
import type { SmtpTransportOptions } from '../../src/transports/smtp.js';
import type { MessageInput, PreparedMessage, Transport, TransportSendContext } from '../../src/types.js';

const key = readFileSync(new URL('../fixtures/tls/localhost-key.pem', import.meta.url));
const cert = readFileSync(new URL('../fixtures/tls/localhost-cert.pem', import.meta.url));

let seq = 0;
function prepare(input: Partial<MessageInput> = {}): PreparedMessage {
  const message = normalizeMessage({ from: 'app@example.com', to: 'ann@example.com', subject: 'Hi', text: 'Hello there', ...input }, { now: Date.now() });
  return prepareMessage(`job_${++seq}`, message, { from: message.returnPath, to: allRecipients(message) });
}
const ctx = (signal: AbortSignal = new AbortController().signal, priority?: TransportSendContext['priority']): TransportSendContext =>
  priority === undefined ? { signal, attempt: 1 } : { signal, attempt: 1, priority };

/** Settles like `promise`, or rejects once `ms` have passed (so that a hang fails fast, not at the test timeout). */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Resolves once `check` holds, polling every 10 ms; rejects after `ms`. */
async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function failure(promise: Promise<unknown>): Promise<MailError> {
  const err = await promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(isMailError(err), String(err)).toBe(true);
  expect((err as MailError).transport).toBe(TRANSPORT_NAME);
  return err as MailError;
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// Sinks and transports made by a test are closed after it, even when it fails.
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((fn) => fn()));
});
async function sinkFor(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const sink = await startSmtpSink({ disableStartTls: true, ...options });
  cleanup.push(() => sink.close());
  return sink;
}
function transportFor(sink: SmtpSink, options: Partial<SmtpTransportOptions> = {}): Transport {
  const t = smtpTransport({ host: sink.host, port: sink.port, ...options });
  cleanup.push(() => t.close!());
  return t;
}

let shared: SmtpSink;
beforeAll(async () => {
  shared = await startSmtpSink({ disableStartTls: true });
});
afterAll(async () => {
  await shared.close();
});

testTransport({
  name: 'smtp',
  create: () => smtpTransport({ host: shared.host, port: shared.port }),
  faults: () => shared,
  delivered: () => shared.count,
});

describe('smtpTransport', () => {
  it('delivers a message the server can parse and reports the queue id as providerMessageId', async () => {
    const sink = await sinkFor();
    const t = transportFor(sink);
    const prepared = prepare({ to: 'Ann <ann@example.com>', bcc: 'hidden@example.com', subject: 'Welcome' });
    const result = await t.send(prepared, ctx());
    expect(result.accepted).toEqual(['ann@example.com', 'hidden@example.com']);
    const received = sink.messages[0]!;
    expect(result.providerMessageId).toBe(received.id);
    expect(result.response).toBe(`250 2.0.0 Ok: queued as ${received.id}`);
    expect(received.envelope).toEqual({ from: 'app@example.com', to: ['ann@example.com', 'hidden@example.com'] });
    expect(received.parsed?.subject).toBe('Welcome');
    expect(received.parsed?.messageId).toBe(prepared.message.messageId);
    expect(received.parsed?.headers.has('bcc')).toBe(false);
  });

  it('returns a partial result when the server refuses some recipients at RCPT', async () => {
    const sink = await sinkFor({ rules: [{ match: 'gone@example.com', reply: 'recipient-unknown' }] });
    const t = transportFor(sink);
    const result = await t.send(prepare({ to: ['ann@example.com', 'gone@example.com'] }), ctx());
    expect(result.accepted).toEqual(['ann@example.com']);
    expect(result.rejected).toHaveLength(1);
    const rejected = result.rejected[0]!;
    expect(rejected.address).toBe('gone@example.com');
    expect(rejected.error.code).toBe(MailErrorCode.PERMANENT);
    expect(rejected.error.retryable).toBe(false);
    expect(rejected.error.responseCode).toBe(550);
    expect(rejected.error.enhancedStatus).toBe('5.1.1');
    expect(rejected.error.recipient).toBe('gone@example.com');
    expect(rejected.error.transport).toBe('smtp');
    expect(sink.messages[0]!.envelope.to).toEqual(['ann@example.com']);
  });

  it('rejects with PERMANENT when every recipient is refused, and delivers nothing', async () => {
    const sink = await sinkFor({ rules: [{ match: '@example.com', reply: 'recipient-unknown' }] });
    const t = transportFor(sink);
    const err = await failure(t.send(prepare({ to: ['a@example.com', 'b@example.com'] }), ctx()));
    expect(err.code).toBe(MailErrorCode.PERMANENT);
    expect(err.retryable).toBe(false);
    expect(err.responseCode).toBe(550);
    expect(sink.count).toBe(0);
  });

  it('rejects a 451 tempfail at RCPT as retryable TRANSIENT', async () => {
    const sink = await sinkFor({ rules: [{ match: '*', reply: 'tempfail' }] });
    const err = await failure(transportFor(sink).send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.TRANSIENT);
    expect(err.retryable).toBe(true);
    expect(err.responseCode).toBe(451);
    expect(err.response).toBe('451 4.3.0 Temporary server error. Please try again later');
  });

  it('reports each recipient when all are refused, some for good and some for now', async () => {
    const sink = await sinkFor({
      rules: [
        { match: 'gone@example.com', reply: 'recipient-unknown' },
        { match: 'busy@example.com', reply: 'tempfail' },
      ],
    });
    const result = await transportFor(sink).send(prepare({ to: ['gone@example.com', 'busy@example.com'] }), ctx());
    expect(result.accepted).toEqual([]);
    const byAddress = Object.fromEntries(result.rejected.map((r) => [r.address, r.error]));
    expect(byAddress['gone@example.com']).toMatchObject({ code: MailErrorCode.PERMANENT, retryable: false, responseCode: 550 });
    expect(byAddress['busy@example.com']).toMatchObject({ code: MailErrorCode.TRANSIENT, retryable: true, responseCode: 451 });
    expect(sink.count).toBe(0);
  });

  it.each([
    ['throttle-gmail', 421, '4.7.28', 600_000],
    ['throttle-yahoo', 421, '4.7.0', 4 * 3_600_000],
    ['throttle-microsoft', 451, '4.7.500', undefined],
  ] as const)('rejects the %s reply at RCPT as THROTTLED', async (preset, responseCode, enhancedStatus, retryAfterMs) => {
    const sink = await sinkFor({ rules: [{ match: '@gmail.test', reply: preset }] });
    const err = await failure(transportFor(sink).send(prepare({ to: 'someone@gmail.test' }), ctx()));
    expect(err.code).toBe(MailErrorCode.THROTTLED);
    expect(err.retryable).toBe(true);
    expect(err.responseCode).toBe(responseCode);
    expect(err.enhancedStatus).toBe(enhancedStatus);
    expect(err.category).toBe('ratelimited');
    // Gmail asks for at least 10 minutes, Yahoo about 4 hours; Microsoft gives no hint.
    if (retryAfterMs === undefined) expect(err.retryAfterMs).toBeUndefined();
    else expect(err.retryAfterMs).toBeGreaterThanOrEqual(retryAfterMs);
  });

  it('moves a message refused with 421 on a reused connection to a new one (nodemailer pool behaviour)', async () => {
    const sink = await sinkFor();
    const t = transportFor(sink, { maxConnections: 1 });
    await t.send(prepare(), ctx());
    sink.addRule({ match: 'again@example.com', reply: 'throttle-yahoo', times: 1 });
    const result = await t.send(prepare({ to: 'again@example.com' }), ctx());
    expect(result.accepted).toEqual(['again@example.com']);
    expect(sink.attempts('again@example.com')).toBe(2);
    expect(sink.count).toBe(2);
  });

  it('rejects a 4xx after DATA as TRANSIENT and a 5xx after DATA as PERMANENT', async () => {
    const sink = await sinkFor();
    const t = transportFor(sink);
    sink.failNext(1, 'tempfail');
    expect((await failure(t.send(prepare(), ctx()))).code).toBe(MailErrorCode.TRANSIENT);
    sink.failNext(1, 'permfail');
    expect((await failure(t.send(prepare(), ctx()))).code).toBe(MailErrorCode.PERMANENT);
    await t.send(prepare(), ctx());
    expect(sink.count).toBe(1);
  });

  it('rejects a message over the server size limit as PERMANENT', async () => {
    const sink = await sinkFor({ maxSize: 10_000 });
    const err = await failure(transportFor(sink).send(prepare({ text: 'x'.repeat(50_000) }), ctx()));
    expect(err.code).toBe(MailErrorCode.PERMANENT);
    expect(err.responseCode).toBe(552);
  });

  it('rejects with retryable CONNECTION when the port is closed', async () => {
    const t = smtpTransport({ host: '127.0.0.1', port: await closedPort() });
    cleanup.push(() => t.close!());
    const err = await failure(t.send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.CONNECTION);
    expect(err.retryable).toBe(true);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('rejects with retryable CONNECTION when the server drops the connection at RCPT', async () => {
    const sink = await sinkFor({ rules: [{ match: '*', reply: 'connection' }] });
    const err = await failure(transportFor(sink).send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.CONNECTION);
    expect(err.retryable).toBe(true);
  });

  it('rejects with retryable TIMEOUT when the server stops answering', async () => {
    const sink = await sinkFor({ rules: [{ match: '*', reply: 'timeout' }] });
    const err = await failure(transportFor(sink, { socketTimeoutMs: 200 }).send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.TIMEOUT);
    expect(err.retryable).toBe(true);
  });

  it('verifies against a live server and rejects verify() with CONNECTION against a closed port', async () => {
    const sink = await sinkFor();
    await expect(transportFor(sink).verify!()).resolves.toBeUndefined();
    const t = smtpTransport({ host: '127.0.0.1', port: await closedPort() });
    cleanup.push(() => t.close!());
    expect((await failure(t.verify!())).code).toBe(MailErrorCode.CONNECTION);
  });

  describe('authentication', () => {
    it('authenticates with user and password', async () => {
      const sink = await sinkFor({ auth: { user: 'app', pass: 's3cret' } });
      const t = transportFor(sink, { auth: { user: 'app', pass: 's3cret' } });
      await t.send(prepare(), ctx());
      expect(sink.messages[0]!.user).toBe('app');
    });

    it('rejects a wrong password with AUTH, not retryable, on send and on verify', async () => {
      const sink = await sinkFor({ auth: { user: 'app', pass: 's3cret' } });
      const t = transportFor(sink, { auth: { user: 'app', pass: 'wrong' } });
      const err = await failure(t.send(prepare(), ctx()));
      expect(err.code).toBe(MailErrorCode.AUTH);
      expect(err.retryable).toBe(false);
      expect(err.responseCode).toBe(535);
      expect((await failure(t.verify!())).code).toBe(MailErrorCode.AUTH);
      expect(sink.count).toBe(0);
    });
  });

  describe('TLS', () => {
    it('fails with TLS before sending anything when requireTLS meets a server without STARTTLS', async () => {
      const sink = await sinkFor({ disableStartTls: true });
      const err = await failure(transportFor(sink, { requireTLS: true }).send(prepare(), ctx()));
      expect(err.code).toBe(MailErrorCode.TLS);
      expect(sink.count).toBe(0);
      expect(sink.attempts('ann@example.com')).toBe(0);
    });

    it('sends over STARTTLS with requireTLS and a trusted certificate', async () => {
      const sink = await sinkFor({ disableStartTls: false, tls: { key, cert } });
      const t = transportFor(sink, { requireTLS: true, tls: { ca: cert, servername: 'localhost' } });
      await t.send(prepare(), ctx());
      expect(sink.messages[0]!.secure).toBe(true);
    });

    it('sends over implicit TLS with a trusted certificate', async () => {
      const sink = await sinkFor({ secure: true, tls: { key, cert } });
      const t = transportFor(sink, { secure: true, tls: { ca: cert, servername: 'localhost' } });
      await t.send(prepare(), ctx());
      expect(sink.messages[0]!.secure).toBe(true);
    });

    it('sends over implicit TLS with the sink default certificate when verification is off', async () => {
      const sink = await sinkFor({ secure: true });
      await transportFor(sink, { secure: true, tls: { rejectUnauthorized: false } }).send(prepare(), ctx());
      expect(sink.count).toBe(1);
    });

    it('rejects an untrusted certificate with TLS, on implicit TLS and on STARTTLS', async () => {
      const implicit = await sinkFor({ secure: true, tls: { key, cert } });
      const err1 = await failure(transportFor(implicit, { secure: true }).send(prepare(), ctx()));
      expect(err1.code).toBe(MailErrorCode.TLS);
      const starttls = await sinkFor({ disableStartTls: false, tls: { key, cert } });
      const err2 = await failure(transportFor(starttls).send(prepare(), ctx()));
      expect(err2.code).toBe(MailErrorCode.TLS);
      expect(implicit.count + starttls.count).toBe(0);
    });
  });

  describe('abort', () => {
    it('rejects promptly with ABORTED while the server is slow, and the message is not delivered', async () => {
      const sink = await sinkFor({ rules: [{ match: '*@slow.test', delayMs: 5_000 }] });
      const t = transportFor(sink);
      const controller = new AbortController();
      const started = Date.now();
      const pending = failure(t.send(prepare({ to: 'x@slow.test' }), ctx(controller.signal)));
      setTimeout(() => controller.abort(), 100);
      const err = await pending;
      expect(err.code).toBe(MailErrorCode.ABORTED);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(sink.count).toBe(0);
      // The pool recovers: the next send goes out on a new connection.
      await t.send(prepare(), ctx());
      expect(sink.count).toBe(1);
    });

    it('removes an aborted send still queued behind a busy connection', async () => {
      const sink = await sinkFor({ rules: [{ match: '*@slow.test', delayMs: 300, stage: 'data' }] });
      const t = transportFor(sink, { maxConnections: 1 });
      const slow = t.send(prepare({ to: 'x@slow.test' }), ctx());
      const controller = new AbortController();
      const queued = failure(t.send(prepare({ to: 'queued@example.com' }), ctx(controller.signal)));
      controller.abort();
      expect((await queued).code).toBe(MailErrorCode.ABORTED);
      await slow;
      expect(sink.count).toBe(1);
      expect(sink.attempts('queued@example.com')).toBe(0);
    });
  });

  describe('phase timeouts', () => {
    it('fails a transaction stalled after the end of data with a retryable TIMEOUT once dataTimeoutMs runs out', async () => {
      const sink = await sinkFor({ rules: [{ match: 'stall@example.com', stage: 'data', reply: 'timeout' }] });
      const t = transportFor(sink, { commandTimeoutMs: 10_000, dataTimeoutMs: 300 });
      const started = Date.now();
      const err = await failure(within(3_000, t.send(prepare({ to: 'stall@example.com' }), ctx())));
      const elapsed = Date.now() - started;
      expect(err.code).toBe(MailErrorCode.TIMEOUT);
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(/end of data.*dataTimeoutMs/);
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(2_000);
      // The stalled connection was closed; the next send goes out on a new one.
      await within(3_000, t.send(prepare(), ctx()));
      expect(sink.count).toBe(1);
    });

    it('waits dataTimeoutMs, not commandTimeoutMs, for the reply to the end of data', async () => {
      const sink = await sinkFor({ rules: [{ match: 'scan@example.com', stage: 'data', delayMs: 700 }] });
      const t = transportFor(sink, { commandTimeoutMs: 250, dataTimeoutMs: 5_000 });
      const result = await within(4_000, t.send(prepare({ to: 'scan@example.com' }), ctx()));
      expect(result.accepted).toEqual(['scan@example.com']);
    });

    it('fails a command left unanswered with TIMEOUT once commandTimeoutMs runs out', async () => {
      const sink = await sinkFor({ rules: [{ match: 'stall@example.com', reply: 'timeout' }] });
      const t = transportFor(sink, { commandTimeoutMs: 250, dataTimeoutMs: 10_000 });
      const started = Date.now();
      const err = await failure(within(3_000, t.send(prepare({ to: 'stall@example.com' }), ctx())));
      expect(err.code).toBe(MailErrorCode.TIMEOUT);
      expect(err.retryable).toBe(true);
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('gives a reused connection the command timeout again after an end of data', async () => {
      const sink = await sinkFor();
      const t = transportFor(sink, { maxConnections: 1, commandTimeoutMs: 250, dataTimeoutMs: 20_000 });
      await t.send(prepare(), ctx());
      // The same connection, then a stall at RCPT: the 250 ms timeout ends it (nodemailer then
      // moves the message to a new connection, where it is accepted), not the 20 s one.
      sink.addRule({ match: 'late@example.com', reply: 'timeout', times: 1 });
      const started = Date.now();
      const result = await within(5_000, t.send(prepare({ to: 'late@example.com' }), ctx()));
      expect(result.accepted).toEqual(['late@example.com']);
      expect(sink.attempts('late@example.com')).toBe(2);
      expect(Date.now() - started).toBeLessThan(3_000);
    });

    it('closes an idle connection before its command timeout and sends the next message on a new one', async () => {
      const sink = await sinkFor();
      const t = transportFor(sink, { maxConnections: 1, commandTimeoutMs: 200 });
      await t.send(prepare(), ctx());
      await new Promise((r) => setTimeout(r, 400));
      await within(2_000, t.send(prepare(), ctx()));
      expect(sink.count).toBe(2);
    });

    it('reports an abort by the caller during the end of data as ABORTED, not TIMEOUT', async () => {
      const sink = await sinkFor({ rules: [{ match: 'stall@example.com', stage: 'data', reply: 'timeout' }] });
      const t = transportFor(sink, { dataTimeoutMs: 10_000 });
      const controller = new AbortController();
      const pending = failure(within(3_000, t.send(prepare({ to: 'stall@example.com' }), ctx(controller.signal))));
      await until(() => sink.attempts('stall@example.com') === 1);
      setTimeout(() => controller.abort(), 100);
      expect((await pending).code).toBe(MailErrorCode.ABORTED);
    });
  });

  describe('critical reserve', () => {
    /** Five sends (one per connection) stalled after their data, and the transport they hold. */
    async function stalledPool(options: Partial<SmtpTransportOptions> = {}) {
      const sink = await sinkFor({ rules: [{ match: '*@stall.test', stage: 'data', reply: 'timeout' }] });
      const t = transportFor(sink, { maxConnections: 5, ...options });
      const stalled = Array.from({ length: 5 }, (_, i) => t.send(prepare({ to: `s${i}@stall.test` }), ctx(undefined, 'normal')).catch((e: unknown) => e));
      await until(() => [0, 1, 2, 3, 4].every((i) => sink.attempts(`s${i}@stall.test`) === 1));
      return { sink, t, stalled };
    }

    it('sends a critical message within a couple of seconds while every connection is stalled by other mail', async () => {
      const { sink, t, stalled } = await stalledPool();
      const other = t.send(prepare({ to: 'newsletter@example.com' }), ctx(undefined, 'bulk')).then(() => 'sent', () => 'failed');
      const started = Date.now();
      const result = await within(2_000, t.send(prepare({ to: 'reset@example.com', subject: 'Password reset' }), ctx(undefined, 'critical')));
      expect(result.accepted).toEqual(['reset@example.com']);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(sink.messages.map((m) => m.parsed?.subject)).toEqual(['Password reset']);
      // The reserve is for critical mail only: the bulk message still waits for a connection.
      expect(await Promise.race([other, new Promise((r) => setTimeout(() => r('waiting'), 200))])).toBe('waiting');
      await t.close!();
      expect(await other).toBe('failed');
      await sink.close();
      await Promise.all(stalled);
    });

    it('has no reserve with criticalReserve 0', async () => {
      const { sink, t, stalled } = await stalledPool({ criticalReserve: 0 });
      const critical = t.send(prepare({ to: 'reset@example.com' }), ctx(undefined, 'critical')).then(() => 'sent', () => 'failed');
      expect(await Promise.race([critical, new Promise((r) => setTimeout(() => r('waiting'), 500))])).toBe('waiting');
      await t.close!();
      await sink.close();
      await Promise.all([critical, ...stalled]);
    });

    it('sends critical mail over the main pool while it has a free connection', async () => {
      const sink = await sinkFor();
      const calls: unknown[] = [];
      const lib = {
        createTransport: ((options: unknown) => {
          calls.push(options);
          return createTransport(options as never);
        }) as typeof createTransport,
      };
      const t = transportFor(sink, { lib });
      await t.send(prepare(), ctx(undefined, 'critical'));
      expect(sink.count).toBe(1);
      expect(calls).toHaveLength(1); // the reserve pool was never opened
    });
  });

  it('delivers 200 messages over a 5-connection pool, each exactly once', async () => {
    const sink = await sinkFor({ parse: false, keepRaw: true });
    const t = transportFor(sink, { maxConnections: 5, maxMessages: 30 });
    expect(t.capabilities).toEqual({ rawMime: true, maxConcurrency: 5 });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => t.send(prepare({ to: `r${i}@example.com` }), ctx())));
    expect(results.every((r) => r.accepted.length === 1)).toBe(true);
    expect(sink.count).toBe(200);
    const recipients = sink.messages.map((m) => m.envelope.to[0]).sort();
    expect(new Set(recipients).size).toBe(200);
    for (let i = 0; i < 200; i++) expect(sink.attempts(`r${i}@example.com`)).toBe(1);
  });

  it('delivers a 2 MB message intact', async () => {
    const sink = await sinkFor();
    const text = `${'0123456789abcdef'.repeat(131_072)}\nend`;
    await transportFor(sink).send(prepare({ text }), ctx());
    expect(sink.messages[0]!.parsed?.text?.trim()).toBe(text);
  });

  it.each<[string, string[], (string | null)?]>([
    ['CR/LF and brackets', ['a@example.com>\r\nRCPT TO:<b@example.com']],
    ['a comma list', ['a@example.com,b@example.com']],
    ['a display name', ['Bob <b@example.com>']],
    ['two @', ['a@b@example.com']],
    ['no recipient', []],
    ['a missing sender', ['a@example.com'], null],
    ['a sender with CR/LF', ['a@example.com'], 'app@example.com>\r\nRCPT TO:<b@example.com'],
  ])('refuses an envelope with %s before connecting (VALIDATION), so it cannot add recipients', async (_name, to, from = 'app@example.com') => {
    const sink = await sinkFor();
    const good = prepare();
    const hostile: PreparedMessage = { ...good, envelope: { from: from ?? (undefined as unknown as string), to } };
    const err = await failure(transportFor(sink).send(hostile, ctx()));
    expect(err.code).toBe(MailErrorCode.VALIDATION);
    expect(err.retryable).toBe(false);
    expect(sink.attempts('b@example.com')).toBe(0);
    expect(sink.count).toBe(0);
  });

  it('delivers to a quoted local part', async () => {
    const sink = await sinkFor({ lenientAddresses: true });
    const result = await transportFor(sink).send(prepare({ to: '"john..doe"@example.com' }), ctx());
    expect(result.accepted).toEqual(['"john..doe"@example.com']);
    expect(sink.messages[0]!.envelope.to).toEqual(['"john..doe"@example.com']);
  });

  it('maps options onto a pooled nodemailer transport of the given lib', () => {
    const calls: unknown[] = [];
    const lib = {
      createTransport: ((options: unknown) => {
        calls.push(options);
        return createTransport(options as never);
      }) as typeof createTransport,
    };
    const t = smtpTransport({
      host: 'smtp.example.com',
      port: 2525,
      auth: { user: 'u', accessToken: 'tok' },
      connectionTimeoutMs: 1_000,
      greetingTimeoutMs: 2_000,
      socketTimeoutMs: 3_000,
      name: 'client.example.com',
      lib,
    });
    void t.close!();
    expect(calls).toEqual([
      expect.objectContaining({
        pool: true,
        host: 'smtp.example.com',
        port: 2525,
        secure: false,
        requireTLS: false,
        maxConnections: 5,
        maxMessages: 100,
        connectionTimeout: 1_000,
        greetingTimeout: 2_000,
        socketTimeout: 3_000,
        name: 'client.example.com',
        logger: false,
        auth: { type: 'OAuth2', user: 'u', accessToken: 'tok' },
      }),
    ]);
  });

  it('sets the phase timeouts on the pool, defaults included', () => {
    const calls: Record<string, unknown>[] = [];
    const lib = {
      createTransport: ((options: Record<string, unknown>) => {
        calls.push(options);
        return createTransport(options as never);
      }) as unknown as typeof createTransport,
    };
    void smtpTransport({ host: 'smtp.example.com', lib }).close!();
    void smtpTransport({ host: 'smtp.example.com', lib, commandTimeoutMs: 5_000, dataTimeoutMs: 90_000 }).close!();
    expect(calls.map((c) => [c.connectionTimeout, c.greetingTimeout, c.socketTimeout])).toEqual([
      [120_000, 30_000, 60_000],
      [120_000, 30_000, 5_000],
    ]);
  });

  it('keeps the socket timeout at dataTimeoutMs when the lib hides its connections', () => {
    const calls: Record<string, unknown>[] = [];
    const lib = {
      createTransport: ((options: Record<string, unknown>) => {
        calls.push(options);
        return { use() {}, on() {}, close() {} };
      }) as unknown as typeof createTransport,
    };
    void smtpTransport({ host: 'smtp.example.com', lib, commandTimeoutMs: 5_000, dataTimeoutMs: 90_000 }).close!();
    expect(calls.at(-1)).toMatchObject({ socketTimeout: 90_000 });
  });

  it.each<[Record<string, unknown>, string]>([
    [{}, 'host'],
    [{ host: '' }, 'host'],
    [{ host: 'smtp.example.com\r\nX' }, 'host'],
    [{ host: 'h', port: 0 }, 'port'],
    [{ host: 'h', port: 70_000 }, 'port'],
    [{ host: 'h', port: '25' }, 'port'],
    [{ host: 'h', secure: 'yes' }, 'secure'],
    [{ host: 'h', requireTLS: true, ignoreTLS: true }, 'ignoreTLS'],
    [{ host: 'h', tls: 'strict' }, 'tls'],
    [{ host: 'h', auth: { user: 'u' } }, 'auth'],
    [{ host: 'h', auth: { user: 'u', pass: 'p', accessToken: 't' } }, 'auth'],
    [{ host: 'h', auth: { user: '', pass: 'p' } }, 'auth.user'],
    [{ host: 'h', auth: { user: 'u', pass: 5 } }, 'auth.pass'],
    [{ host: 'h', maxConnections: 0 }, 'maxConnections'],
    [{ host: 'h', maxConnections: 2.5 }, 'maxConnections'],
    [{ host: 'h', maxMessages: -1 }, 'maxMessages'],
    [{ host: 'h', socketTimeoutMs: 0 }, 'socketTimeoutMs'],
    [{ host: 'h', greetingTimeoutMs: Infinity }, 'greetingTimeoutMs'],
    [{ host: 'h', connectionTimeoutMs: 2 ** 31 }, 'connectionTimeoutMs'],
    [{ host: 'h', commandTimeoutMs: 0 }, 'commandTimeoutMs'],
    [{ host: 'h', dataTimeoutMs: '600000' }, 'dataTimeoutMs'],
    [{ host: 'h', dataTimeoutMs: NaN }, 'dataTimeoutMs'],
    [{ host: 'h', criticalReserve: -1 }, 'criticalReserve'],
    [{ host: 'h', criticalReserve: 1.5 }, 'criticalReserve'],
    [{ host: 'h', name: 'bad name' }, 'name'],
    [{ host: 'h', logger: 1 }, 'logger'],
    [{ host: 'h', lib: {} }, 'lib'],
  ])('rejects options %o with CONFIG naming %s', (options, option) => {
    let caught: unknown;
    try {
      smtpTransport(options as never);
    } catch (err) {
      caught = err;
    }
    expect(isMailError(caught)).toBe(true);
    expect((caught as MailError).code).toBe(MailErrorCode.CONFIG);
    expect((caught as MailError).option).toBe(option);
  });

  it('rejects a non-object options value', () => {
    expect(() => smtpTransport(undefined as never)).toThrow(/Expected `options` to be an object, got undefined/);
  });
});

describe('parseQueueId', () => {
  it.each([
    ['250 2.0.0 Ok: queued as 4Jx9K31S2Xz9sWv', '4Jx9K31S2Xz9sWv'],
    ['250 OK id=1tXyZa-0001Ab-2c', '1tXyZa-0001Ab-2c'],
    ['250 2.0.0 5B2N0abc012345 Message accepted for delivery', '5B2N0abc012345'],
    ['250 OK', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('reads %o as %o', (response, id) => {
    expect(parseQueueId(response)).toBe(id);
  });

  it('stays fast on a huge hostile reply', () => {
    const started = performance.now();
    expect(parseQueueId(`250 ${' '.repeat(200_000)}x${'-'.repeat(200_000)}`)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(500);
  });
});
