import * as net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import type { MailError } from '../../src/errors.js';
import { createMailer } from '../../src/mailer/index.js';
import { allRecipients, normalizeMessage, validateMessageLimits } from '../../src/message/index.js';
import type { MessageLimits } from '../../src/message/index.js';
import { prepareMessage } from '../../src/message/prepared.js';
import { testTransport } from '../../src/testing/conformance.js';
import type { FaultHook } from '../../src/testing/conformance.js';
import type { Fault } from '../../src/transports/faults.js';
import { startSendGridServer } from '../../src/testing/sendgrid-server.js';
import type { SendGridFault, SendGridServer, SendGridServerOptions } from '../../src/testing/sendgrid-server.js';
import sendgridTransport, { JOB_ID_ARG, MAX_RATE_LIMIT_WAIT_MS, MESSAGE_ID_ARG, TRANSPORT_NAME } from '../../src/transports/sendgrid.js';
import type { SendGridFetch, SendGridMailBody, SendGridTransportOptions } from '../../src/transports/sendgrid.js';
import type { MessageInput, PreparedMessage, SendResult, Transport, TransportSendContext } from '../../src/types.js';

let seq = 0;
/** Message fields; `undefined` removes a default (`to`, `text`). */
type Input = { readonly [K in keyof MessageInput]?: MessageInput[K] | undefined };
function prepare(input: Input = {}, options: { to?: readonly string[]; limits?: MessageLimits } = {}): PreparedMessage {
  const message = normalizeMessage(
    { from: 'app@example.com', to: 'ann@example.com', subject: 'Hi', text: 'Hello there', ...input } as MessageInput,
    { now: Date.now(), ...(options.limits !== undefined ? { limits: validateMessageLimits(options.limits, 'limits') } : {}) },
  );
  return prepareMessage(`job_${++seq}`, message, { from: message.returnPath, to: options.to ?? allRecipients(message) });
}
const ctx = (signal: AbortSignal = new AbortController().signal): TransportSendContext => ({ signal, attempt: 1 });

const KEY_PATTERN = 'SG.secret-key-never-shown';

async function failure(promise: Promise<unknown>, key = KEY_PATTERN): Promise<MailError> {
  const err = await promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(isMailError(err), String(err)).toBe(true);
  const e = err as MailError;
  expect(e.transport).toBe(TRANSPORT_NAME);
  // The API key never leaves the transport, whatever went wrong.
  expect(JSON.stringify(e.toJSON())).not.toContain(key);
  expect(String(e.stack)).not.toContain(key);
  return e;
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((fn) => fn()));
});

async function serverFor(options: SendGridServerOptions = {}): Promise<SendGridServer> {
  const server = await startSendGridServer({ apiKey: KEY_PATTERN, ...options });
  cleanup.push(() => server.close());
  return server;
}
function transportFor(server: SendGridServer, options: Partial<SendGridTransportOptions> = {}): Transport {
  const t = sendgridTransport({ apiKey: server.apiKey, baseUrl: server.baseUrl, ...options });
  cleanup.push(() => t.close!());
  return t;
}
/** Sends one message through a fresh server and returns the JSON body SendGrid received. */
async function bodyOf(prepared: PreparedMessage, options: Partial<SendGridTransportOptions> = {}): Promise<SendGridMailBody> {
  const server = await serverFor();
  await transportFor(server, options).send(prepared, ctx());
  expect(server.requests).toHaveLength(1);
  return server.requests[0]!.body;
}
const emails = (list: readonly { email: string }[] | undefined): string[] | undefined => list?.map((e) => e.email);

let shared: SendGridServer;
beforeAll(async () => {
  shared = await startSendGridServer({ apiKey: KEY_PATTERN });
});
afterAll(async () => {
  await shared.close();
});
afterEach(() => {
  shared.reset();
});

// The conformance suite injects SMTP-shaped faults; SendGrid answers their HTTP equivalents.
const HTTP_FAULTS: Partial<Record<string, SendGridFault>> = { tempfail: 'server-error', permfail: 'bad-request', 'throttle-microsoft': 'rate-limit' };
const sendgridFaults: FaultHook = {
  failNext(count: number, fault: Fault) {
    const mapped = typeof fault === 'string' ? HTTP_FAULTS[fault] : undefined;
    if (mapped === undefined) throw new Error(`no SendGrid equivalent for fault ${JSON.stringify(fault)}`);
    return shared.failNext(count, mapped);
  },
};

testTransport({
  name: 'sendgrid',
  create: () => sendgridTransport({ apiKey: shared.apiKey, baseUrl: shared.baseUrl }),
  faults: sendgridFaults,
  delivered: () => shared.count,
  expectedFaultErrors: { tempfail: { responseCode: 500 }, permfail: { responseCode: 400 }, 'throttle-microsoft': { responseCode: 429 } },
});

describe('sendgridTransport options', () => {
  it('announces wholeMessage, structured content and its concurrency', () => {
    const t = sendgridTransport({ apiKey: 'SG.x' });
    expect(t.name).toBe('sendgrid');
    expect(t.capabilities).toEqual({ rawMime: false, wholeMessage: true, maxConcurrency: 20 });
    expect(sendgridTransport({ apiKey: 'SG.x', maxConcurrency: 3 }).capabilities.maxConcurrency).toBe(3);
  });

  it('refuses a missing, empty or header-breaking API key without echoing it', () => {
    const bad = ['', 'SG.zqx space-zqx', 'SG.zqx\r\nX-Evil: zqx', 'SG.ünïcode-zqx', 42, undefined];
    for (const apiKey of bad) {
      let err: unknown;
      try {
        sendgridTransport({ apiKey } as unknown as SendGridTransportOptions);
      } catch (e) {
        err = e;
      }
      expect(isMailError(err), String(apiKey)).toBe(true);
      expect((err as MailError).code).toBe(MailErrorCode.CONFIG);
      expect((err as MailError).option).toBe('apiKey');
      expect((err as MailError).message).not.toContain('zqx');
    }
  });

  it('validates every other option eagerly, naming it', () => {
    const cases: [Partial<Record<keyof SendGridTransportOptions, unknown>>, string][] = [
      [{ baseUrl: 'ftp://api.sendgrid.com' }, 'baseUrl'],
      [{ baseUrl: 'not a url' }, 'baseUrl'],
      [{ baseUrl: 'https://user:pass@api.sendgrid.com' }, 'baseUrl'],
      [{ baseUrl: 'https://api.sendgrid.com/?x=1' }, 'baseUrl'],
      [{ baseUrl: 42 }, 'baseUrl'],
      [{ timeoutMs: 0 }, 'timeoutMs'],
      [{ timeoutMs: Infinity }, 'timeoutMs'],
      [{ timeoutMs: 2 ** 31 }, 'timeoutMs'],
      [{ maxConcurrency: 0 }, 'maxConcurrency'],
      [{ maxConcurrency: 1.5 }, 'maxConcurrency'],
      [{ categoriesFromTags: 'yes' }, 'categoriesFromTags'],
      [{ messageIdHeader: 1 }, 'messageIdHeader'],
      [{ mailSettings: [] }, 'mailSettings'],
      [{ trackingSettings: 'on' }, 'trackingSettings'],
      [{ fetch: 'fetch' }, 'fetch'],
    ];
    for (const [extra, option] of cases) {
      expect(() => sendgridTransport({ apiKey: 'SG.x', ...extra } as SendGridTransportOptions), option).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG, option }));
    }
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    expect(() => sendgridTransport({ apiKey: 'SG.x', mailSettings: circular })).toThrow(expect.objectContaining({ option: 'mailSettings' }));
    expect(() => sendgridTransport(null as unknown as SendGridTransportOptions)).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
  });

  it('accepts a base URL with a path prefix and a trailing slash', async () => {
    const seen: string[] = [];
    const fetch: SendGridFetch = (url) => {
      seen.push(url);
      return Promise.resolve(new Response(null, { status: 202 }));
    };
    await sendgridTransport({ apiKey: 'SG.x', baseUrl: 'https://proxy.example.com/sendgrid/', fetch }).send(prepare(), ctx());
    expect(seen).toEqual(['https://proxy.example.com/sendgrid/v3/mail/send']);
  });
});

describe('sendgridTransport request body', () => {
  it('sends one request with the Bearer key, to/cc/bcc in one personalization, text before html', async () => {
    const server = await serverFor();
    const prepared = prepare({
      from: { name: 'App', address: 'app@example.com' },
      to: ['Ann <ann@one.test>', 'bob@two.test'],
      cc: 'cy@three.test',
      bcc: 'dee@four.test',
      replyTo: 'help@example.com',
      subject: 'Your order',
      text: 'plain',
      html: '<p>html</p>',
    });
    const result = await transportFor(server).send(prepared, ctx());
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.headers['authorization']).toBe(`Bearer ${KEY_PATTERN}`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.body.personalizations).toEqual([
      { to: [{ email: 'ann@one.test', name: 'Ann' }, { email: 'bob@two.test' }], cc: [{ email: 'cy@three.test' }], bcc: [{ email: 'dee@four.test' }] },
    ]);
    expect(req.body.from).toEqual({ email: 'app@example.com', name: 'App' });
    expect(req.body.reply_to).toEqual({ email: 'help@example.com' });
    expect(req.body.reply_to_list).toBeUndefined();
    expect(req.body.subject).toBe('Your order');
    expect(req.body.content).toEqual([
      { type: 'text/plain', value: 'plain' },
      { type: 'text/html', value: '<p>html</p>' },
    ]);
    expect(result).toEqual({
      providerMessageId: req.messageId,
      response: 'SendGrid 202 Accepted',
      accepted: ['ann@one.test', 'bob@two.test', 'cy@three.test', 'dee@four.test'],
      rejected: [],
    });
  });

  it('keeps blind copies out of everything but the bcc list', async () => {
    const body = await bodyOf(prepare({ to: 'ann@example.com', bcc: ['secret@hidden.test', 'other@hidden.test'], tags: { campaign: 'x' } }));
    expect(emails(body.personalizations[0]!.bcc)).toEqual(['secret@hidden.test', 'other@hidden.test']);
    const { personalizations, ...rest } = body;
    expect(JSON.stringify(rest)).not.toContain('hidden.test');
    expect(JSON.stringify(personalizations.map((p) => [p.to, p.cc]))).not.toContain('hidden.test');
  });

  it('on a retry includes only the pending recipients', async () => {
    const body = await bodyOf(prepare({ to: ['ann@one.test', 'bob@two.test'], cc: 'cy@three.test', bcc: 'dee@four.test' }, { to: ['bob@two.test', 'dee@four.test'] }));
    expect(body.personalizations).toEqual([{ to: [{ email: 'bob@two.test' }], bcc: [{ email: 'dee@four.test' }] }]);
  });

  it('moves pending cc recipients into to when no to recipient is pending', async () => {
    const body = await bodyOf(prepare({ to: 'ann@one.test', cc: ['cy@three.test', 'cal@three.test'], bcc: 'dee@four.test' }, { to: ['cy@three.test', 'cal@three.test', 'dee@four.test'] }));
    expect(body.personalizations).toEqual([{ to: [{ email: 'cy@three.test' }, { email: 'cal@three.test' }], bcc: [{ email: 'dee@four.test' }] }]);
  });

  it('sends remaining blind copies as one personalization each, so none sees another', async () => {
    const body = await bodyOf(prepare({ to: 'ann@one.test', bcc: ['b1@x.test', 'b2@y.test'] }, { to: ['b1@x.test', 'b2@y.test'] }));
    expect(body.personalizations).toEqual([{ to: [{ email: 'b1@x.test' }] }, { to: [{ email: 'b2@y.test' }] }]);
  });

  it('sends a bcc-only message (no to at all) as separate copies', async () => {
    const server = await serverFor();
    const prepared = prepare({ to: undefined, bcc: ['b1@x.test', 'b2@y.test'] });
    const result = await transportFor(server).send(prepared, ctx());
    expect(result.accepted).toEqual(['b1@x.test', 'b2@y.test']);
    expect(server.requests[0]!.body.personalizations).toHaveLength(2);
  });

  it('adds an envelope recipient missing from to/cc/bcc as a blind copy', async () => {
    const body = await bodyOf(prepare({ to: 'ann@one.test' }, { to: ['ann@one.test', 'extra@two.test'] }));
    expect(body.personalizations).toEqual([{ to: [{ email: 'ann@one.test' }], bcc: [{ email: 'extra@two.test' }] }]);
  });

  it('deduplicates addresses case-insensitively across to, cc and bcc (SendGrid refuses duplicates)', async () => {
    const server = await serverFor();
    const prepared = prepare({ to: ['Ann@example.com', 'ann@example.com'], cc: 'ANN@example.com', bcc: ['bob@example.com', 'Bob@example.com'] });
    const result = await transportFor(server).send(prepared, ctx());
    expect(server.requests[0]!.body.personalizations).toEqual([{ to: [{ email: 'Ann@example.com' }], bcc: [{ email: 'bob@example.com' }] }]);
    expect([...result.accepted].sort()).toEqual([...prepared.envelope.to].sort());
  });

  it('uses reply_to_list for several Reply-To addresses', async () => {
    const body = await bodyOf(prepare({ replyTo: ['a@example.com', 'B <b@example.com>'] }));
    expect(body.reply_to).toBeUndefined();
    expect(body.reply_to_list).toEqual([{ email: 'a@example.com' }, { email: 'b@example.com', name: 'B' }]);
  });

  it('quotes display names with a comma or semicolon so the header keeps one address', async () => {
    const body = await bodyOf(prepare({ from: { name: 'Doe, John', address: 'john@example.com' }, to: { name: 'Ann; Admin "A"', address: 'ann@example.com' } }));
    expect(body.from.name).toBe('"Doe, John"');
    expect(body.personalizations[0]!.to[0]!.name).toBe('"Ann; Admin \\"A\\""');
  });

  it('sends a space for an empty subject and a blank text part for a message without body', async () => {
    const body = await bodyOf(prepare({ subject: '', text: undefined, attachments: [{ filename: 'a.txt', content: 'x' }] }));
    expect(body.subject).toBe(' ');
    expect(body.content).toEqual([{ type: 'text/plain', value: ' ' }]);
  });

  it('sends an html-only message with just the html part', async () => {
    const body = await bodyOf(prepare({ text: '', html: '<b>hi</b>' }));
    expect(body.content).toEqual([{ type: 'text/html', value: '<b>hi</b>' }]);
  });

  it('sends attachments as base64 with file name, type, disposition and content id', async () => {
    const binary = Uint8Array.from([0, 1, 2, 250, 255, 13, 10]);
    const body = await bodyOf(
      prepare({
        attachments: [
          { filename: 'data.bin', content: binary, contentType: 'application/x-custom' },
          { filename: 'report.pdf', content: 'JVBERi0x\r\nLjQK', encoding: 'base64' },
          { content: '48656c6c6f', encoding: 'hex' },
          { filename: 'logo.png', content: 'iVBORw0KGgo', encoding: 'base64', cid: 'logo@app' },
          { filename: 'notes.txt', content: 'héllo', disposition: 'inline', cid: 'n1' },
        ],
      }),
    );
    const atts = body.attachments!;
    expect(atts.map((a) => [a.filename, a.type, a.disposition, a.content_id])).toEqual([
      ['data.bin', 'application/x-custom', 'attachment', undefined],
      ['report.pdf', 'application/pdf', 'attachment', undefined],
      ['attachment-3', 'application/octet-stream', 'attachment', undefined],
      ['logo.png', 'image/png', 'inline', 'logo@app'],
      ['notes.txt', 'text/plain', 'inline', 'n1'],
    ]);
    expect([...Buffer.from(atts[0]!.content, 'base64')]).toEqual([...binary]);
    expect(Buffer.from(atts[1]!.content, 'base64').toString('latin1')).toBe('%PDF-1.4\n');
    expect(Buffer.from(atts[2]!.content, 'base64').toString()).toBe('Hello');
    expect(Buffer.from(atts[4]!.content, 'base64').toString()).toBe('héllo');
    for (const a of atts) expect(a.content).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
  });

  it('sends extra headers, encoding non-ASCII values', async () => {
    const body = await bodyOf(prepare({ headers: { 'X-Campaign': 'spring', 'List-Unsubscribe': '<https://u.example.com/x>', 'X-Name': 'Zoë' } }));
    expect(body.headers).toEqual({ 'X-Campaign': 'spring', 'List-Unsubscribe': '<https://u.example.com/x>', 'X-Name': '=?UTF-8?Q?Zo=C3=AB?=' });
  });

  it('refuses SendGrid-reserved and repeated headers before making a request', async () => {
    const server = await serverFor();
    const t = transportFor(server);
    for (const headers of [{ 'X-SG-ID': 'x' }, { 'X-Tag': ['a', 'b'] }]) {
      const err = await failure(t.send(prepare({ headers }), ctx()));
      expect(err.code).toBe(MailErrorCode.VALIDATION);
      expect(err.retryable).toBe(false);
    }
    // Trace and signature headers are refused by normalization already; a transport still refuses them if they get that far.
    for (const header of [['Received', 'from x'], ['DKIM-Signature', 'v=1']] as const) {
      const base = prepare();
      const forged = prepareMessage(base.jobId, { ...base.message, headers: [header] }, base.envelope);
      const err = await failure(t.send(forged, ctx()));
      expect(err.code).toBe(MailErrorCode.VALIDATION);
    }
    expect(server.attempts).toBe(0);
  });

  it('carries the job id, the Message-ID and the tags in custom_args', async () => {
    // JSON.parse makes `__proto__` an own key, as a tag read from a request body would be.
    const tags = JSON.parse(`{"campaign":"spring","${JOB_ID_ARG}":"forged","__proto__":"proto-tag"}`) as Record<string, string>;
    const prepared = prepare({ tags });
    const body = await bodyOf(prepared);
    expect(body.custom_args).toEqual({ [JOB_ID_ARG]: prepared.jobId, [MESSAGE_ID_ARG]: prepared.message.messageId, campaign: 'spring', ['__proto__']: 'proto-tag' });
    expect(Object.keys(body.custom_args!)).toContain('__proto__');
    expect(body.headers?.['Message-ID']).toBeUndefined();
  });

  it('keeps custom_args within SendGrid 10,000 bytes, ids first, however many large tags', async () => {
    const tags: Record<string, string> = {};
    for (let i = 0; i < 50; i++) tags[`tag${String(i).padStart(2, '0')}${'k'.repeat(200)}`] = 'v'.repeat(256);
    const prepared = prepare({ tags });
    const body = await bodyOf(prepared);
    const args = body.custom_args!;
    expect(Buffer.byteLength(JSON.stringify(args))).toBeLessThanOrEqual(10_000);
    expect(args[JOB_ID_ARG]).toBe(prepared.jobId);
    expect(args[MESSAGE_ID_ARG]).toBe(prepared.message.messageId);
    expect(Object.keys(args).length).toBeGreaterThan(10);
    expect(Object.keys(args).length).toBeLessThan(52);
  });

  it('sends the Message-ID header with messageIdHeader', async () => {
    const prepared = prepare();
    const body = await bodyOf(prepared, { messageIdHeader: true });
    expect(body.headers).toEqual({ 'Message-ID': prepared.message.messageId });
  });

  it('turns tag values into at most 10 distinct categories of at most 255 characters', async () => {
    const tags: Record<string, string> = { a: 'same', b: 'same', c: '', d: 'x'.repeat(256), e: 'y'.repeat(255) };
    for (let i = 0; i < 15; i++) tags[`t${i}`] = `cat${i}`;
    const body = await bodyOf(prepare({ tags }, { limits: { maxTagLength: 300 } }));
    expect(body.categories).toEqual(['same', 'y'.repeat(255), 'cat0', 'cat1', 'cat2', 'cat3', 'cat4', 'cat5', 'cat6', 'cat7']);
    const none = await bodyOf(prepare({ tags: { a: 'x' } }), { categoriesFromTags: false });
    expect(none.categories).toBeUndefined();
  });

  it('passes mail and tracking settings through', async () => {
    const body = await bodyOf(prepare(), {
      mailSettings: { bypass_list_management: { enable: true }, footer: { enable: false } },
      trackingSettings: { click_tracking: { enable: false, enable_text: false }, open_tracking: { enable: false } },
    });
    expect(body.mail_settings).toEqual({ bypass_list_management: { enable: true }, footer: { enable: false } });
    expect(body.tracking_settings).toEqual({ click_tracking: { enable: false, enable_text: false }, open_tracking: { enable: false } });
    expect(body.send_at).toBeUndefined();
  });

  it('copies the settings when created, so later changes by the caller do not leak into requests', async () => {
    const server = await serverFor();
    const mailSettings = { footer: { enable: false } };
    const t = transportFor(server, { mailSettings });
    mailSettings.footer.enable = true;
    await t.send(prepare(), ctx());
    expect(server.requests[0]!.body.mail_settings).toEqual({ footer: { enable: false } });
  });

  it('refuses more than 1000 recipients before making a request', async () => {
    const server = await serverFor();
    const to = Array.from({ length: 1001 }, (_, i) => `r${i}@example.com`);
    const err = await failure(transportFor(server).send(prepare({ to }, { limits: { maxRecipients: 2000 } }), ctx()));
    expect(err.code).toBe(MailErrorCode.VALIDATION);
    expect(err.message).toContain('1000');
    expect(server.attempts).toBe(0);
  });

  it('sends exactly 1000 recipients', async () => {
    const server = await serverFor();
    const to = Array.from({ length: 1000 }, (_, i) => `r${i}@d${i % 7}.example.com`);
    const result = await transportFor(server).send(prepare({ to }), ctx());
    expect(result.accepted).toHaveLength(1000);
  });

  it('keeps hostile text as data: JSON-looking subjects, names, headers and tags change nothing else', async () => {
    const evilAscii = '"}],"from":{"email":"evil@attacker.test"},"x":[{"a":"\\u0000</script>';
    const evil = `${evilAscii}\u2028\u2029`;
    const prepared = prepare({
      from: { name: evil, address: 'app@example.com' },
      subject: evil,
      text: evil,
      html: evil,
      headers: { 'X-Evil': evilAscii },
      tags: { [evil.slice(0, 40)]: evil },
    });
    const body = await bodyOf(prepared);
    expect(body.subject).toBe(evil);
    expect(body.from.email).toBe('app@example.com');
    expect(body.content).toEqual([
      { type: 'text/plain', value: evil },
      { type: 'text/html', value: evil },
    ]);
    expect(body.headers?.['X-Evil']).toBe(evilAscii);
    expect(body.custom_args?.[evil.slice(0, 40)]).toBe(evil);
    expect(Object.keys(body).sort()).toEqual(['categories', 'content', 'custom_args', 'from', 'headers', 'personalizations', 'subject']);
  });

  it('sends a 5 MB body in one request', async () => {
    const text = 'x'.repeat(5 * 1024 * 1024);
    const body = await bodyOf(prepare({ text }));
    expect(body.content?.[0]?.value.length).toBe(text.length);
  });
});

describe('sendgridTransport responses', () => {
  it('resolves a 2xx without X-Message-Id without a provider id (sandbox mode answers 200)', async () => {
    const server = await serverFor();
    server.failNext(1, { status: 200 });
    const result = await transportFor(server).send(prepare(), ctx());
    expect(result.providerMessageId).toBeUndefined();
    expect(result.response).toBe('SendGrid 200 OK');
    expect(result.accepted).toEqual(['ann@example.com']);
  });

  it("rejects a 400 with PERMANENT, SendGrid's errors and fields in the message", async () => {
    const server = await serverFor();
    const body = {
      errors: [
        { message: 'The from email does not contain a valid address.', field: 'from.email', help: 'http://help' },
        { message: 'Invalid type. Expected: array, given: object.', field: 'personalizations', help: null },
        { message: 'A third\r\nline-broken error', field: null },
      ],
    };
    server.failNext(1, { status: 400, body });
    const err = await failure(transportFor(server).send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.PERMANENT);
    expect(err.retryable).toBe(false);
    expect(err.responseCode).toBe(400);
    expect(err.message).toBe(
      'SendGrid 400 Bad Request: The from email does not contain a valid address. (field from.email); Invalid type. Expected: array, given: object. (field personalizations); A third line-broken error',
    );
    expect(JSON.parse(err.response!)).toEqual(body);
  });

  it('rejects a request the fake finds invalid with its own error list', async () => {
    const server = await serverFor();
    const fetch: SendGridFetch = (url, init) => globalThis.fetch(url, { ...init, body: JSON.stringify({ personalizations: [], from: {} }) });
    const err = await failure(transportFor(server, { fetch }).send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.PERMANENT);
    expect(err.message).toContain('(field personalizations)');
    expect(err.message).toContain('(field from.email)');
    expect(err.message).toContain('(field subject)');
    expect(err.message).toContain('(field content)');
  });

  it('handles malformed, empty and huge error bodies', async () => {
    const server = await serverFor();
    const t = transportFor(server);
    server.failNext(1, { status: 400, body: '<html>Bad gateway-ish {not json' });
    expect((await failure(t.send(prepare(), ctx()))).message).toBe('SendGrid 400 Bad Request: <html>Bad gateway-ish {not json');
    server.failNext(1, { status: 422 });
    const empty = await failure(t.send(prepare(), ctx()));
    expect(empty.message).toBe('SendGrid 422 Unprocessable Entity');
    expect(empty.code).toBe(MailErrorCode.PERMANENT);
    server.failNext(1, { status: 400, body: { errors: Array.from({ length: 5000 }, (_, i) => ({ message: `error ${i} ${'z'.repeat(500)}`, field: 'f' })) } });
    const huge = await failure(t.send(prepare(), ctx()));
    expect(huge.message.length).toBeLessThanOrEqual(1000);
    expect(huge.response!.length).toBeLessThanOrEqual(8192);
    server.failNext(1, { status: 400, body: { errors: 'nope' } });
    expect((await failure(t.send(prepare(), ctx()))).message).toBe('SendGrid 400 Bad Request: {"errors":"nope"}');
  });

  it('rejects 401 and 403 with AUTH, not retryable', async () => {
    const server = await serverFor();
    const t = transportFor(server);
    for (const fault of ['unauthorized', 'forbidden'] as const) {
      server.failNext(1, fault);
      const err = await failure(t.send(prepare(), ctx()));
      expect(err.code).toBe(MailErrorCode.AUTH);
      expect(err.retryable).toBe(false);
      expect(err.category).toBe('authfailure');
    }
  });

  it('rejects a wrong key with AUTH and shows neither key', async () => {
    const server = await serverFor();
    const wrong = 'SG.the-wrong-key-value';
    const err = await failure(transportFor(server, { apiKey: wrong }).send(prepare(), ctx()), wrong);
    expect(err.code).toBe(MailErrorCode.AUTH);
    expect(err.responseCode).toBe(401);
    expect(err.message).toContain('authorization grant is invalid');
    expect(server.count).toBe(0);
  });

  it('rejects 413 with PERMANENT mesgtoobig (from the body size cap of the fake)', async () => {
    const server = await serverFor({ maxBodyBytes: 10_000 });
    const err = await failure(transportFor(server).send(prepare({ text: 'x'.repeat(20_000) }), ctx()));
    expect(err.code).toBe(MailErrorCode.PERMANENT);
    expect(err.responseCode).toBe(413);
    expect(err.category).toBe('mesgtoobig');
    expect(err.retryable).toBe(false);
  });

  it('rejects 429 with THROTTLED for the whole transport, waiting until X-RateLimit-Reset', async () => {
    const server = await serverFor();
    const t = transportFor(server);
    server.failNext(1, { status: 429, headers: { 'x-ratelimit-limit': '600', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 30) } });
    const err = await failure(t.send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.THROTTLED);
    expect(err.retryable).toBe(true);
    expect(err.scope).toBe('transport');
    expect(err.category).toBe('ratelimited');
    // Whole seconds, minus however long the request took on a loaded machine.
    expect(err.retryAfterMs).toBeGreaterThan(20_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('reads rate-limit waits safely: past resets, absurd resets, delta seconds, Retry-After, garbage', async () => {
    const server = await serverFor();
    const t = transportFor(server);
    const waitFor = async (headers: Record<string, string>): Promise<number | undefined> => {
      server.failNext(1, { status: 429, headers });
      return (await failure(t.send(prepare(), ctx()))).retryAfterMs;
    };
    expect(await waitFor({ 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) - 100) })).toBe(0);
    expect(await waitFor({ 'x-ratelimit-reset': '32503680000' })).toBe(MAX_RATE_LIMIT_WAIT_MS);
    expect(await waitFor({ 'x-ratelimit-reset': '5' })).toBe(5000);
    expect(await waitFor({ 'retry-after': '7' })).toBe(7000);
    const date = await waitFor({ 'retry-after': new Date(Date.now() + 60_000).toUTCString() });
    expect(date).toBeGreaterThan(50_000);
    expect(date).toBeLessThanOrEqual(60_000);
    expect(await waitFor({ 'x-ratelimit-reset': 'soon', 'retry-after': 'later' })).toBeUndefined();
    expect(await waitFor({ 'x-ratelimit-reset': '-5' })).toBeUndefined();
    expect(await waitFor({})).toBeUndefined();
  });

  it('rejects 5xx with retryable TRANSIENT, honouring Retry-After', async () => {
    const server = await serverFor();
    const t = transportFor(server);
    server.failNext(1, 'server-error');
    const err = await failure(t.send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.TRANSIENT);
    expect(err.retryable).toBe(true);
    expect(err.responseCode).toBe(500);
    expect(err.retryAfterMs).toBeUndefined();
    server.failNext(1, { status: 503, headers: { 'retry-after': '2' }, body: 'Service Unavailable' });
    const busy = await failure(t.send(prepare(), ctx()));
    expect(busy.code).toBe(MailErrorCode.TRANSIENT);
    expect(busy.retryAfterMs).toBe(2000);
  });

  it('does not follow a redirect (the key would travel along) and fails PERMANENT', async () => {
    const server = await serverFor();
    const target = await serverFor();
    server.failNext(1, { status: 307, headers: { location: `${target.baseUrl}/v3/mail/send` } });
    const err = await failure(transportFor(server).send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.PERMANENT);
    expect(err.message).toContain('unexpected redirect');
    expect(target.attempts).toBe(0);
  });

  it('rejects a wrong base path with PERMANENT 404', async () => {
    const server = await serverFor();
    const err = await failure(transportFor(server, { baseUrl: `${server.baseUrl}/wrong` }).send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.PERMANENT);
    expect(err.responseCode).toBe(404);
  });

  it('rejects a refused connection with retryable CONNECTION', async () => {
    const port = await closedPort();
    const t = sendgridTransport({ apiKey: KEY_PATTERN, baseUrl: `http://127.0.0.1:${port}` });
    const err = await failure(t.send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.CONNECTION);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('rejects a dropped connection with retryable CONNECTION', async () => {
    const server = await serverFor();
    server.failNext(1, 'disconnect');
    const err = await failure(transportFor(server).send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.CONNECTION);
    expect(err.retryable).toBe(true);
  });

  it('rejects a slow answer with retryable TIMEOUT after timeoutMs', async () => {
    const server = await serverFor();
    server.setLatency(2000);
    const started = Date.now();
    const err = await failure(transportFor(server, { timeoutMs: 50 }).send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.TIMEOUT);
    expect(err.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('rejects with ABORTED as soon as the signal aborts during the request', async () => {
    const server = await serverFor();
    server.setLatency(2000);
    const controller = new AbortController();
    const started = Date.now();
    const pending = transportFor(server).send(prepare(), ctx(controller.signal));
    setTimeout(() => controller.abort(new Error('user cancelled')), 30);
    const err = await failure(pending);
    expect(err.code).toBe(MailErrorCode.ABORTED);
    expect(err.retryable).toBe(false);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('never shows the API key, even when the server echoes it back', async () => {
    const server = await serverFor();
    const t = transportFor(server);
    server.failNext(1, { status: 400, body: { errors: [{ message: `Key ${KEY_PATTERN} is invalid`, field: 'authorization' }] } });
    const err = await failure(t.send(prepare(), ctx()));
    expect(err.message).toContain('[redacted]');
    server.failNext(1, { status: 302, headers: { location: `https://evil.test/?k=${KEY_PATTERN}` } });
    await failure(t.send(prepare(), ctx()));
    server.failNext(1, { status: 500, body: `internal: Bearer ${KEY_PATTERN}` });
    await failure(t.send(prepare(), ctx()));
  });

  it('rejects only with MailErrors, whatever an injected fetch does', async () => {
    const weird: SendGridFetch[] = [
      () => Promise.reject('a string'),
      () => Promise.reject(new TypeError(`fetch failed for ${KEY_PATTERN}`)),
      () => Promise.resolve({} as Response),
      () => {
        throw new Error('sync throw');
      },
    ];
    for (const fetch of weird) {
      const err = await failure(sendgridTransport({ apiKey: KEY_PATTERN, fetch }).send(prepare(), ctx()));
      expect(err.retryable).toBe(true);
    }
  });

  it('passes the abort signal and redirect: manual to an injected fetch', async () => {
    let seen: RequestInit | undefined;
    const fetch: SendGridFetch = (_url, init) => {
      seen = init;
      return Promise.resolve(new Response(null, { status: 202, headers: { 'x-message-id': 'abc123' } }));
    };
    const result = await sendgridTransport({ apiKey: 'SG.x', fetch }).send(prepare(), ctx());
    expect(result.providerMessageId).toBe('abc123');
    expect(seen?.redirect).toBe('manual');
    expect(seen?.signal).toBeInstanceOf(AbortSignal);
    expect(seen?.method).toBe('POST');
  });
});

describe('sendgridTransport verify and close', () => {
  it('verifies the key through GET /v3/scopes', async () => {
    const server = await serverFor();
    await expect(transportFor(server).verify!()).resolves.toBeUndefined();
    const wrong = await failure(transportFor(server, { apiKey: 'SG.wrong' }).verify!(), 'SG.wrong');
    expect(wrong.code).toBe(MailErrorCode.AUTH);
  });

  it('fails verify when the key lacks the mail.send scope', async () => {
    const server = await serverFor({ scopes: ['user.profile.read'] });
    const err = await failure(transportFor(server).verify!());
    expect(err.code).toBe(MailErrorCode.AUTH);
    expect(err.message).toContain('mail.send');
  });

  it('fails verify with CONNECTION when nothing listens', async () => {
    const port = await closedPort();
    const err = await failure(sendgridTransport({ apiKey: KEY_PATTERN, baseUrl: `http://127.0.0.1:${port}` }).verify!());
    expect(err.code).toBe(MailErrorCode.CONNECTION);
  });

  it('lets a request in flight finish after close, and refuses new sends and verify with CLOSED', async () => {
    const server = await serverFor();
    server.setLatency(100);
    const t = transportFor(server);
    const pending = t.send(prepare(), ctx());
    await new Promise((resolve) => setTimeout(resolve, 20));
    await t.close!();
    await expect(pending).resolves.toMatchObject({ accepted: ['ann@example.com'] });
    expect((await failure(t.send(prepare(), ctx()))).code).toBe(MailErrorCode.CLOSED);
    expect((await failure(t.verify!())).code).toBe(MailErrorCode.CLOSED);
  });
});

describe('sendgridTransport through the mailer', () => {
  const fastRetry = { scheduleMs: [20], jitter: 0 } as const;

  it('sends each message to several domains as ONE request with every recipient', async () => {
    const server = await serverFor();
    const mailer = createMailer({ transport: transportFor(server), retry: fastRetry });
    cleanup.push(() => mailer.close());
    const sent: string[] = [];
    mailer.on('sent', (e) => sent.push(e.sentBy));
    const receipts = [];
    for (let i = 0; i < 5; i++) {
      receipts.push(await mailer.send({ from: 'app@example.com', to: [`a${i}@one.test`, `b${i}@two.test`], cc: `c${i}@three.test`, bcc: `d${i}@four.test`, subject: `m${i}`, text: 'hi' }));
    }
    const reports = await Promise.all(receipts.map((r) => r.done()));
    expect(server.count).toBe(5);
    expect(server.attempts).toBe(5);
    for (const [i, report] of reports.entries()) {
      expect(report.status).toBe('sent');
      expect(report.recipients).toHaveLength(4);
      const req = server.requests.find((r) => r.body.subject === `m${i}`)!;
      expect(emails(req.body.personalizations[0]!.bcc)).toEqual([`d${i}@four.test`]);
      expect(new Set(report.recipients.map((r) => r.providerMessageId))).toEqual(new Set([req.messageId]));
      expect(req.body.custom_args?.[MESSAGE_ID_ARG]).toBe(report.messageId);
      expect(req.body.custom_args?.[JOB_ID_ARG]).toBe(report.recipients[0]!.jobId);
    }
    expect(new Set(sent)).toEqual(new Set([TRANSPORT_NAME]));
  });

  it('retries a 5xx with the same single request and delivers once', async () => {
    const server = await serverFor();
    server.failNext(1, 'server-error');
    const mailer = createMailer({ transport: transportFor(server), retry: fastRetry });
    cleanup.push(() => mailer.close());
    const receipt = await mailer.send({ from: 'app@example.com', to: ['a@one.test', 'b@two.test'], subject: 's', text: 't' });
    const report = await receipt.done();
    expect(report.status).toBe('sent');
    expect(server.attempts).toBe(2);
    expect(server.count).toBe(1);
    expect(emails(server.requests[0]!.body.personalizations[0]!.to)).toEqual(['a@one.test', 'b@two.test']);
  });

  it('slows the whole transport on a 429 and delivers after the reset', async () => {
    const server = await serverFor();
    server.failNext(1, { status: 429, headers: { 'x-ratelimit-reset': '0' } });
    const mailer = createMailer({ transport: transportFor(server), retry: fastRetry });
    cleanup.push(() => mailer.close());
    const scopes: string[] = [];
    mailer.on('throttled', (e) => scopes.push(e.scope));
    const receipt = await mailer.send({ from: 'app@example.com', to: 'a@one.test', subject: 's', text: 't' });
    const report = await receipt.done();
    expect(report.status).toBe('sent');
    expect(scopes).toEqual(['transport']);
    expect(server.count).toBe(1);
  });

  it('fails every recipient of a message SendGrid refuses with 400', async () => {
    const server = await serverFor();
    server.failNext(1, 'bad-request');
    const mailer = createMailer({ transport: transportFor(server), retry: fastRetry });
    cleanup.push(() => mailer.close());
    const receipt = await mailer.send({ from: 'app@example.com', to: ['a@one.test', 'b@two.test'], subject: 's', text: 't' });
    const report = await receipt.done();
    expect(report.status).toBe('failed');
    expect(report.recipients.map((r) => r.error?.code)).toEqual([MailErrorCode.PERMANENT, MailErrorCode.PERMANENT]);
    expect(server.attempts).toBe(1);
  });
});

describe('startSendGridServer (the fake API)', () => {
  const valid = {
    personalizations: [{ to: [{ email: 'ann@example.com' }] }],
    from: { email: 'app@example.com' },
    subject: 'Hi',
    content: [{ type: 'text/plain', value: 'Hello' }],
  };
  async function post(server: SendGridServer, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; fields: (string | null)[]; id: string | null }> {
    const res = await fetch(`${server.baseUrl}/v3/mail/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    const fields = text === '' ? [] : (JSON.parse(text) as { errors: { field: string | null }[] }).errors.map((e) => e.field);
    return { status: res.status, fields, id: res.headers.get('x-message-id') };
  }

  it('accepts a minimal valid request with 202, an empty body and a unique X-Message-Id', async () => {
    const server = await serverFor();
    const a = await post(server, valid);
    const b = await post(server, valid);
    expect(a).toMatchObject({ status: 202, fields: [] });
    expect(a.id).toMatch(/^[\w-]{22}$/);
    expect(a.id).not.toBe(b.id);
    expect(server.requests.map((r) => r.messageId)).toEqual([a.id, b.id]);
  });

  it('refuses what SendGrid documents as invalid, naming the fields', async () => {
    const server = await serverFor();
    const cases: [unknown, string][] = [
      [{ ...valid, personalizations: [{ to: [{ email: 'a@x.com' }], cc: [{ email: 'A@x.com' }] }] }, 'personalizations.0.cc'],
      [{ ...valid, personalizations: [{ to: [] }] }, 'personalizations.0.to'],
      [{ ...valid, personalizations: [{ to: [{ email: 'not an address' }] }] }, 'personalizations.0.to.0.email'],
      [{ ...valid, personalizations: [{ to: Array.from({ length: 1001 }, (_, i) => ({ email: `r${i}@x.com` })) }] }, 'personalizations'],
      [{ ...valid, subject: '' }, 'subject'],
      [{ ...valid, content: [{ type: 'text/html', value: 'a' }, { type: 'text/plain', value: 'b' }] }, 'content.1.type'],
      [{ ...valid, content: [{ type: 'text/plain', value: '' }] }, 'content.0.value'],
      [{ ...valid, categories: Array.from({ length: 11 }, (_, i) => `c${i}`) }, 'categories'],
      [{ ...valid, categories: ['x'.repeat(256)] }, 'categories'],
      [{ ...valid, custom_args: { big: 'x'.repeat(10_001) } }, 'custom_args'],
      [{ ...valid, custom_args: { n: 1 } }, 'custom_args'],
      [{ ...valid, headers: { 'X-SG-EID': 'x' } }, 'headers.X-SG-EID'],
      [{ ...valid, attachments: [{ content: 'not base64!', filename: 'a' }] }, 'attachments.0.content'],
      [{ ...valid, attachments: [{ content: 'YQ==' }] }, 'attachments.0.filename'],
      [{ ...valid, attachments: [{ content: 'YQ==', filename: 'a', disposition: 'inline' }] }, 'attachments.0.content_id'],
      [{ ...valid, reply_to: { email: 'a@x.com' }, reply_to_list: [{ email: 'b@x.com' }] }, 'reply_to_list'],
      [{ ...valid, send_at: 'tomorrow' }, 'send_at'],
    ];
    for (const [body, field] of cases) {
      const res = await post(server, body);
      expect(res.status, field).toBe(400);
      expect(res.fields, field).toContain(field);
    }
    expect(server.count).toBe(0);
    expect(server.attempts).toBe(cases.length);
  });

  it('answers malformed JSON, a wrong content type, a missing key and unknown paths like SendGrid', async () => {
    const server = await serverFor();
    expect((await post(server, '{"personalizations": [')).status).toBe(400);
    expect((await post(server, 'null')).status).toBe(400);
    expect((await post(server, valid, { 'content-type': 'text/plain' })).status).toBe(400);
    expect((await post(server, valid, { authorization: 'Bearer SG.other' })).status).toBe(401);
    expect((await post(server, valid, { authorization: server.apiKey })).status).toBe(401);
    expect((await fetch(`${server.baseUrl}/v3/mail/send`)).status).toBe(405);
    expect((await fetch(`${server.baseUrl}/v3/unknown`)).status).toBe(404);
    expect((await fetch(`${server.baseUrl}/v3/scopes`)).status).toBe(401);
    expect(server.count).toBe(0);
  });

  it('sets rate-limit headers on the rate-limit preset', async () => {
    const server = await serverFor();
    server.failNext(1, 'rate-limit');
    const res = await fetch(`${server.baseUrl}/v3/mail/send`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(429);
    expect(res.headers.get('x-ratelimit-limit')).toBe('600');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
    await res.arrayBuffer();
  });

  it('validates its own options and faults', async () => {
    await expect(startSendGridServer({ apiKey: 'has space' })).rejects.toMatchObject({ code: MailErrorCode.CONFIG, option: 'apiKey' });
    await expect(startSendGridServer({ maxBodyBytes: 0 })).rejects.toMatchObject({ option: 'maxBodyBytes' });
    const server = await serverFor();
    expect(() => server.failNext(1, 'nope' as SendGridFault)).toThrow(expect.objectContaining({ option: 'fault' }));
    expect(() => server.failNext(1, { status: 700 })).toThrow(expect.objectContaining({ option: 'fault.status' }));
    expect(() => server.failNext(1, { status: 500, headers: { 'x-a': 'b\r\nc' } })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
    expect(() => server.failNext(0)).toThrow(expect.objectContaining({ option: 'count' }));
    expect(() => server.setLatency(-1)).toThrow(expect.objectContaining({ option: 'ms' }));
  });

  it('closes idempotently while a slow answer is pending', async () => {
    const server = await startSendGridServer();
    server.setLatency(5000);
    const pending = fetch(`${server.baseUrl}/v3/scopes`).then(
      () => 'answered',
      () => 'dropped',
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.all([server.close(), server.close()]);
    expect(await pending).toBe('dropped');
  });
});
