import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { GetAccountCommand, SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import * as sesSdkModule from '@aws-sdk/client-sesv2';
import { simpleParser } from 'mailparser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import type { MailError } from '../../src/errors.js';
import { createMailer } from '../../src/mailer/index.js';
import { DEFAULT_MESSAGE_LIMITS, allRecipients, normalizeMessage } from '../../src/message/index.js';
import { prepareMessage } from '../../src/message/prepared.js';
import { testTransport } from '../../src/testing/conformance.js';
import { SES_SERVER_ERRORS, startSesServer } from '../../src/testing/ses-server.js';
import type { SesFault, SesServer, SesServerOptions } from '../../src/testing/ses-server.js';
import sesTransport, { SES_ERROR_RULES, SES_MAX_MESSAGE_BYTES, SES_MAX_TAGS, TRANSPORT_NAME, toSesTags } from '../../src/transports/ses.js';
import type { SesClient, SesSdk, SesTransportOptions } from '../../src/transports/ses.js';
import type { MessageInput, PreparedMessage, Transport, TransportSendContext } from '../../src/types.js';

// The SDK warns once per process that its 2027 releases need Node 22; not what these tests are about.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const credentials = { accessKeyId: 'AKIDMAILPUSHTEST', secretAccessKey: 'not-a-secret' } as const;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// The real module satisfies the structural type the transport declares.
const realSdk: SesSdk = sesSdkModule;

let seq = 0;
// Roomier tag limits than the defaults (50 tags of 256 characters), to reach the transport's own caps.
const roomyLimits = { ...DEFAULT_MESSAGE_LIMITS, maxTags: 100, maxTagLength: 1000 };
function prepare(input: Partial<MessageInput> = {}): PreparedMessage {
  const message = normalizeMessage({ from: 'App <app@example.com>', to: 'ann@example.com', subject: 'Hi', text: 'Hello there', ...input }, { now: Date.now(), limits: roomyLimits });
  return prepareMessage(`job_ses_${++seq}`, message, { from: message.returnPath, to: allRecipients(message) });
}
const ctx = (signal: AbortSignal = new AbortController().signal): TransportSendContext => ({ signal, attempt: 1 });

async function failure(promise: Promise<unknown>): Promise<MailError> {
  const err = await promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(isMailError(err), String(err)).toBe(true);
  return err as MailError;
}

function configFailure(fn: () => unknown): MailError {
  try {
    fn();
  } catch (err) {
    expect(isMailError(err), String(err)).toBe(true);
    expect((err as MailError).code).toBe(MailErrorCode.CONFIG);
    return err as MailError;
  }
  throw new Error('expected a configuration error');
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// Servers and transports made by a test are closed after it, even when it fails.
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((fn) => fn()));
});
async function serverFor(options: SesServerOptions = {}): Promise<SesServer> {
  const server = await startSesServer(options);
  cleanup.push(() => server.close());
  return server;
}
function transportFor(server: SesServer, options: Partial<SesTransportOptions> = {}): Transport {
  const t = sesTransport({ region: server.region, endpoint: server.endpoint, credentials, ...options } as SesTransportOptions);
  cleanup.push(() => t.close!());
  return t;
}

let shared: SesServer;
beforeAll(async () => {
  shared = await startSesServer();
});
afterAll(async () => {
  await shared.close();
});

testTransport({
  name: 'ses',
  create: () => sesTransport({ region: shared.region, endpoint: shared.endpoint, credentials }),
  faults: () => shared,
  delivered: () => shared.count,
  // The fake answers the shared presets with SES's own errors (SES_FAULT_PRESETS).
  expectedFaultErrors: { tempfail: { responseCode: 503 }, permfail: { responseCode: 400 }, 'throttle-microsoft': {} },
});

describe('sesTransport: sending', () => {
  it('sends the raw MIME message intact, with Bcc only in the destination', async () => {
    const server = await serverFor();
    const t = transportFor(server);
    const prepared = prepare({
      to: 'Ann <ann@example.com>',
      cc: 'cy@example.net',
      bcc: 'hidden@example.org',
      subject: 'Grüße aus Köln ✓',
      html: '<p>Hello <b>there</b></p>',
      attachments: [{ filename: 'report.csv', content: 'a,b\n1,2\n' }],
      headers: { 'X-Campaign': 'spring' },
    });
    const result = await t.send(prepared, ctx());
    expect(server.messages).toHaveLength(1);
    const received = server.messages[0]!;
    expect(result.providerMessageId).toBe(received.messageId);
    expect(result.response).toBe(`SES MessageId ${received.messageId}`);
    expect(result.accepted).toEqual(['ann@example.com', 'cy@example.net', 'hidden@example.org']);
    expect(result.rejected).toEqual([]);
    expect(received.from).toBe('app@example.com');
    expect(received.destination).toEqual({ to: ['ann@example.com', 'cy@example.net', 'hidden@example.org'], cc: [], bcc: [] });
    expect(received.raw.equals(await prepared.raw())).toBe(true);
    const parsed = await simpleParser(received.raw);
    expect(parsed.subject).toBe('Grüße aus Köln ✓');
    expect(parsed.messageId).toBe(prepared.message.messageId);
    expect(parsed.from?.value[0]).toEqual({ address: 'app@example.com', name: 'App' });
    expect(parsed.headers.has('bcc')).toBe(false);
    expect(received.raw.toString('latin1')).not.toMatch(/hidden@example\.org/);
    expect(parsed.headers.get('x-campaign')).toBe('spring');
    expect(parsed.attachments.map((a) => a.filename)).toEqual(['report.csv']);
  });

  it('sends only the recipients of the job, not every recipient of the message', async () => {
    const server = await serverFor();
    const message = normalizeMessage({ from: 'app@example.com', to: ['a@one.test', 'b@two.test'], subject: 's', text: 't' }, { now: Date.now() });
    const prepared = prepareMessage('job_one_domain', message, { from: message.returnPath, to: ['b@two.test'] });
    const result = await transportFor(server).send(prepared, ctx());
    expect(result.accepted).toEqual(['b@two.test']);
    expect(server.messages[0]!.destination.to).toEqual(['b@two.test']);
    // The headers still show both primary recipients.
    expect((await simpleParser(server.messages[0]!.raw)).to).toMatchObject({ text: 'a@one.test, b@two.test' });
  });

  it('passes the configuration set, list management options and feedback address', async () => {
    const server = await serverFor({ configurationSets: ['events'] });
    const t = transportFor(server, {
      configurationSetName: 'events',
      listManagementOptions: { contactListName: 'newsletter', topicName: 'weekly' },
      feedbackForwardingEmailAddress: 'bounces@example.com',
    });
    await t.send(prepare(), ctx());
    expect(server.messages[0]).toMatchObject({
      configurationSetName: 'events',
      listManagementOptions: { contactListName: 'newsletter', topicName: 'weekly' },
      feedbackForwardingEmailAddress: 'bounces@example.com',
    });
  });

  it('sends message tags as SES tags, cleaned up to the characters SES accepts', async () => {
    const server = await serverFor();
    const t = transportFor(server);
    const tags = {
      campaign: 'spring-2025',
      'campaign.id': 'Spring Sale / 2025',
      campaign_id: 'collides after cleanup: dropped',
      'ünïcode': 'ö',
      long: 'x'.repeat(300),
      '%%%': '',
    };
    await t.send(prepare({ tags }), ctx());
    // The fake refuses any tag SES would refuse, so arriving at all proves they are valid.
    expect(server.messages[0]!.tags).toEqual([
      { name: 'campaign', value: 'spring-2025' },
      { name: 'campaign_id', value: 'Spring_Sale___2025' },
      { name: '_n_code', value: '_' },
      { name: 'long', value: 'x'.repeat(256) },
    ]);
  });

  it(`sends at most ${SES_MAX_TAGS} tags`, async () => {
    const server = await serverFor();
    const tags = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`t${i}`, `v${i}`]));
    await transportFor(server).send(prepare({ tags }), ctx());
    expect(server.messages[0]!.tags).toHaveLength(SES_MAX_TAGS);
    expect(server.messages[0]!.tags[0]).toEqual({ name: 't0', value: 'v0' });
  });

  it('sends no tags with tagsFromMessage: false', async () => {
    const server = await serverFor();
    await transportFor(server, { tagsFromMessage: false }).send(prepare({ tags: { a: 'b' } }), ctx());
    expect(server.messages[0]!.tags).toEqual([]);
  });

  it('toSesTags keeps names and values within 256 characters and skips empty and non-string values', () => {
    const tags = toSesTags({ ['n'.repeat(500)]: 'v', bad: 42 as unknown as string, empty: '', '': 'nameless' });
    expect(tags).toEqual([{ Name: 'n'.repeat(256), Value: 'v' }]);
  });

  it('announces raw MIME, its concurrency and the account rate as capabilities', () => {
    const t = sesTransport({ region: 'us-east-1', ratePerSecond: 14 });
    expect(t.name).toBe(TRANSPORT_NAME);
    expect(t.capabilities).toEqual({ rawMime: true, maxConcurrency: 20, ratePerSecond: 14 });
    expect(sesTransport({ region: 'us-east-1', maxConcurrency: 5 }).capabilities).toEqual({ rawMime: true, maxConcurrency: 5 });
  });

  it('refuses more than 50 recipients before sending anything', async () => {
    const server = await serverFor();
    const to = Array.from({ length: 51 }, (_, i) => `r${i}@example.com`);
    const err = await failure(transportFor(server).send(prepare({ to }), ctx()));
    expect(err.code).toBe(MailErrorCode.VALIDATION);
    expect(err.message).toMatch(/at most 50 recipients/);
    expect(server.requests).toBe(0);
  });

  it('refuses an envelope with no or malformed recipients', async () => {
    const server = await serverFor();
    const t = transportFor(server);
    const base = prepare();
    for (const to of [[], ['not an address'], ['a@b.c\r\nX: y']]) {
      const err = await failure(t.send({ ...base, envelope: { from: base.envelope.from, to } }, ctx()));
      expect(err.code).toBe(MailErrorCode.VALIDATION);
    }
    expect(server.requests).toBe(0);
  });

  it('refuses a message over the SES size limit with TOO_LARGE before sending anything', async () => {
    const server = await serverFor();
    const base = prepare();
    const huge = Buffer.alloc(SES_MAX_MESSAGE_BYTES + 1, 0x61);
    const err = await failure(transportFor(server).send({ ...base, raw: () => Promise.resolve(huge) }, ctx()));
    expect(err.code).toBe(MailErrorCode.TOO_LARGE);
    expect(err.retryable).toBe(false);
    expect(server.requests).toBe(0);
  });

  it('sends a multi-megabyte attachment', async () => {
    const server = await serverFor();
    const content = Buffer.alloc(3 * 1024 * 1024, 7);
    await transportFor(server).send(prepare({ attachments: [{ filename: 'big.bin', content }] }), ctx());
    const parsed = await simpleParser(server.messages[0]!.raw);
    expect(parsed.attachments[0]!.content.equals(content)).toBe(true);
  });

  it('makes exactly one request per send: the SDK does not retry on its own', async () => {
    const server = await serverFor();
    server.failNext(1, 'InternalFailure');
    await failure(transportFor(server).send(prepare(), ctx()));
    expect(server.requests).toBe(1);
  });
});

describe('sesTransport: error mapping', () => {
  type Expected = {
    code: MailErrorCode;
    responseCode: number | undefined;
    scope?: 'transport';
    category: string;
    retryAfterMs?: number;
  };
  const cases: [string, SesFault, Expected][] = [
    ['TooManyRequestsException', 'TooManyRequestsException', { code: MailErrorCode.THROTTLED, responseCode: 429, scope: 'transport', category: 'ratelimited', retryAfterMs: 1000 }],
    ['ThrottlingException', 'ThrottlingException', { code: MailErrorCode.THROTTLED, responseCode: 400, scope: 'transport', category: 'ratelimited', retryAfterMs: 1000 }],
    [
      '"Maximum sending rate exceeded" under another name',
      { status: 400, type: 'MessageRejected', message: 'Throttling failure: Maximum sending rate exceeded.' },
      { code: MailErrorCode.THROTTLED, responseCode: 400, scope: 'transport', category: 'ratelimited', retryAfterMs: 1000 },
    ],
    [
      'TooManyRequestsException with Retry-After',
      { status: 429, type: 'TooManyRequestsException', message: 'Maximum sending rate exceeded.', retryAfterSeconds: 7 },
      { code: MailErrorCode.THROTTLED, responseCode: 429, scope: 'transport', category: 'ratelimited', retryAfterMs: 7000 },
    ],
    ['a 429 without an error type', { status: 429, message: 'Slow down' }, { code: MailErrorCode.THROTTLED, responseCode: 429, scope: 'transport', category: 'ratelimited', retryAfterMs: 1000 }],
    ['LimitExceededException (daily quota)', 'LimitExceededException', { code: MailErrorCode.TRANSPORT_PAUSED, responseCode: 400, scope: 'transport', category: 'ratelimited', retryAfterMs: 3_600_000 }],
    [
      'a throttle naming the daily quota',
      { status: 429, type: 'TooManyRequestsException', message: 'Daily message quota exceeded.' },
      { code: MailErrorCode.TRANSPORT_PAUSED, responseCode: 429, scope: 'transport', category: 'ratelimited', retryAfterMs: 3_600_000 },
    ],
    ['SendingPausedException', 'SendingPausedException', { code: MailErrorCode.TRANSPORT_PAUSED, responseCode: 400, scope: 'transport', category: 'blocked', retryAfterMs: 900_000 }],
    ['AccountSuspendedException', 'AccountSuspendedException', { code: MailErrorCode.TRANSPORT_PAUSED, responseCode: 400, scope: 'transport', category: 'blocked', retryAfterMs: 900_000 }],
    ['MessageRejected', 'MessageRejected', { code: MailErrorCode.PERMANENT, responseCode: 400, category: 'rejected' }],
    ['MailFromDomainNotVerifiedException', 'MailFromDomainNotVerifiedException', { code: MailErrorCode.PERMANENT, responseCode: 400, category: 'authfailure' }],
    ['NotFoundException', 'NotFoundException', { code: MailErrorCode.PERMANENT, responseCode: 404, category: 'rejected' }],
    ['BadRequestException', 'BadRequestException', { code: MailErrorCode.PERMANENT, responseCode: 400, category: 'syntaxerror' }],
    ['InternalFailure', 'InternalFailure', { code: MailErrorCode.TRANSIENT, responseCode: 500, category: 'systemerror' }],
    ['ServiceUnavailable', 'ServiceUnavailable', { code: MailErrorCode.TRANSIENT, responseCode: 503, category: 'systemerror' }],
    ['a 502 without an error type', { status: 502, message: 'Bad Gateway' }, { code: MailErrorCode.TRANSIENT, responseCode: 502, category: 'systemerror' }],
    ['AccessDeniedException', 'AccessDeniedException', { code: MailErrorCode.AUTH, responseCode: 403, category: 'authfailure' }],
    ['UnrecognizedClientException', 'UnrecognizedClientException', { code: MailErrorCode.AUTH, responseCode: 403, category: 'authfailure' }],
    ['InvalidSignatureException', 'InvalidSignatureException', { code: MailErrorCode.AUTH, responseCode: 403, category: 'authfailure' }],
    ['ExpiredTokenException', 'ExpiredTokenException', { code: MailErrorCode.AUTH, responseCode: 403, category: 'authfailure' }],
    ['an unknown 4xx exception', { status: 418, type: 'TeapotException', message: 'I am a teapot' }, { code: MailErrorCode.PERMANENT, responseCode: 418, category: 'rejected' }],
    ['a dropped connection', 'connection', { code: MailErrorCode.CONNECTION, responseCode: undefined, category: 'networkerror' }],
    ['the tempfail preset (503 ServiceUnavailable)', 'tempfail', { code: MailErrorCode.TRANSIENT, responseCode: 503, category: 'systemerror' }],
    ['the recipient-unknown preset (MessageRejected)', 'recipient-unknown', { code: MailErrorCode.PERMANENT, responseCode: 400, category: 'rejected' }],
    ['the throttle-gmail preset (429)', 'throttle-gmail', { code: MailErrorCode.THROTTLED, responseCode: 429, scope: 'transport', category: 'ratelimited', retryAfterMs: 1000 }],
    [
      'an SMTP reply passed through by a gateway',
      { responseCode: 554, enhancedStatus: '5.7.1', text: 'Message rejected by policy' },
      { code: MailErrorCode.PERMANENT, responseCode: 554, category: 'policyviolation' },
    ],
    [
      'an SMTP throttle passed through by a gateway',
      { responseCode: 451, enhancedStatus: '4.7.500', text: 'Server busy. Please try again later' },
      { code: MailErrorCode.THROTTLED, responseCode: 451, category: 'ratelimited' },
    ],
  ];

  it.each(cases)('maps %s', async (_label, fault, expected) => {
    shared.failNext(1, fault);
    const err = await failure(transportFor(shared).send(prepare(), ctx()));
    expect(err.code).toBe(expected.code);
    expect(err.retryable).toBe(([MailErrorCode.THROTTLED, MailErrorCode.TRANSPORT_PAUSED, MailErrorCode.TRANSIENT, MailErrorCode.CONNECTION] as readonly MailErrorCode[]).includes(expected.code));
    expect(err.responseCode).toBe(expected.responseCode);
    expect(err.scope).toBe(expected.scope);
    expect(err.category).toBe(expected.category);
    expect(err.retryAfterMs).toBe(expected.retryAfterMs);
    expect(err.transport).toBe('ses');
    expect(err.cause).toBeInstanceOf(Error);
    const text = typeof fault === 'string' ? SES_SERVER_ERRORS[fault as keyof typeof SES_SERVER_ERRORS]?.message : 'message' in fault ? fault.message : undefined;
    if (text !== undefined) {
      expect(err.response).toBe(text);
      expect(err.message).toContain(text);
    }
  });

  it('every default rule is exercised by the mapping cases or the tests below', () => {
    // Keeps this file honest when the table grows.
    expect(SES_ERROR_RULES.map((r) => r.id)).toEqual([
      'daily-quota',
      'sending-rate',
      'sending-rate-text',
      'limit-exceeded',
      'sending-paused',
      'message-rejected',
      'mail-from-not-verified',
      'not-found',
      'bad-request',
      'credentials',
      'server-error',
      'network',
      'timeout',
      'http-429',
      'http-5xx',
    ]);
    expect(Object.isFrozen(SES_ERROR_RULES) && SES_ERROR_RULES.every((r) => Object.isFrozen(r))).toBe(true);
  });

  it('rejects with retryable CONNECTION when nothing listens at the endpoint', async () => {
    const t = sesTransport({ region: 'us-east-1', endpoint: `http://127.0.0.1:${await closedPort()}`, credentials });
    cleanup.push(() => t.close!());
    const err = await failure(t.send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.CONNECTION);
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(err.transport).toBe('ses');
  });

  it('rejects with retryable TIMEOUT when SES does not answer within requestTimeoutMs', async () => {
    const server = await serverFor();
    server.failNext(1, 'timeout');
    const t = transportFor(server, { requestTimeoutMs: 150 });
    const started = Date.now();
    const err = await failure(t.send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.TIMEOUT);
    expect(err.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('rejects with AUTH when SES does not know the access key', async () => {
    const server = await serverFor({ accessKeyId: 'AKIDSOMEONEELSE' });
    const err = await failure(transportFor(server).send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.AUTH);
    expect(err.retryable).toBe(false);
    expect(err.responseCode).toBe(403);
    expect(err.response).toBe('The security token included in the request is invalid.');
  });

  it('rejects with AUTH when no credentials can be loaded', async () => {
    const server = await serverFor();
    const missing = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    const err = await failure(transportFor(server, { credentials: () => Promise.reject(missing) }).send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.AUTH);
    expect(err.cause).toBe(missing);
    expect(server.requests).toBe(0);
  });

  it('refuses mail from an unverified identity with PERMANENT MessageRejected', async () => {
    const server = await serverFor({ verifiedIdentities: ['example.com'] });
    const t = transportFor(server);
    await t.send(prepare({ from: 'ok@example.com' }), ctx());
    const err = await failure(t.send(prepare({ from: 'someone@unverified.test' }), ctx()));
    expect(err.code).toBe(MailErrorCode.PERMANENT);
    expect(err.response).toMatch(/Email address is not verified.*someone@unverified\.test/);
  });

  it('refuses an unknown configuration set with PERMANENT NotFoundException', async () => {
    const server = await serverFor({ configurationSets: ['events'] });
    const err = await failure(transportFor(server, { configurationSetName: 'missing' }).send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.PERMANENT);
    expect(err.responseCode).toBe(404);
  });

  it('is throttled for the whole transport when the account send rate is exceeded', async () => {
    const server = await serverFor({ maxSendRate: 3 });
    const t = transportFor(server);
    const settled = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => t.send(prepare({ to: `r${i}@example.com` }), ctx())));
    const refused = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as MailError);
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(3);
    expect(refused).toHaveLength(3);
    for (const err of refused) expect(err).toMatchObject({ code: MailErrorCode.THROTTLED, scope: 'transport', responseCode: 429 });
  });

  it('pauses the transport for an hour when the daily quota is used up', async () => {
    const server = await serverFor({ max24HourSend: 2 });
    const t = transportFor(server);
    await t.send(prepare(), ctx());
    await t.send(prepare(), ctx());
    const err = await failure(t.send(prepare(), ctx()));
    expect(err).toMatchObject({ code: MailErrorCode.TRANSPORT_PAUSED, retryable: true, scope: 'transport', retryAfterMs: 3_600_000 });
  });

  it('tries errorRules before the defaults', async () => {
    const server = await serverFor();
    const t = transportFor(server, {
      errorRules: [{ id: 'quick-throttle', names: ['TooManyRequestsException'], code: MailErrorCode.THROTTLED, category: 'ratelimited', scope: 'transport', retryAfterMs: 50 }],
    });
    server.failNext(1, 'TooManyRequestsException');
    expect(await failure(t.send(prepare(), ctx()))).toMatchObject({ code: MailErrorCode.THROTTLED, retryAfterMs: 50 });
  });

  it('treats a 2xx whose body cannot be read as sent, so the message is not sent twice', async () => {
    const garbled = Object.assign(new SyntaxError('Unexpected token < in JSON'), { $metadata: { httpStatusCode: 200 } });
    const client: SesClient = { send: () => Promise.reject(garbled) };
    const result = await sesTransport({ client, sdk: realSdk }).send(prepare(), ctx());
    expect(result.accepted).toEqual(['ann@example.com']);
    expect(result.providerMessageId).toBeUndefined();
    expect(result.response).toMatch(/could not be read/);
  });

  it('rejects only with MailErrors, whatever the client throws', async () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('hostile getter');
        },
      },
    );
    for (const thrown of [hostile, 'a string', null, 42, Object.assign(new Error(), { name: '' })]) {
      const client: SesClient = { send: () => Promise.reject(thrown) };
      const err = await failure(sesTransport({ client, sdk: realSdk }).send(prepare(), ctx()));
      expect(err.transport).toBe('ses');
    }
  });

  it('rejects with VALIDATION when the message cannot be composed', async () => {
    const server = await serverFor();
    const base = prepare();
    const err = await failure(transportFor(server).send({ ...base, raw: () => Promise.reject(new Error('compose failed')) }, ctx()));
    expect(err.code).toBe(MailErrorCode.VALIDATION);
    expect(server.requests).toBe(0);
  });

  it('rejects with CONFIG when the SDK refuses to create the client', async () => {
    class Refusing extends SESv2Client {
      constructor(...args: ConstructorParameters<typeof SESv2Client>) {
        super(...args);
        throw new Error('invalid configuration');
      }
    }
    const t = sesTransport({ region: 'us-east-1', sdk: { ...realSdk, SESv2Client: Refusing } });
    const err = await failure(t.send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.CONFIG);
    expect(err.message).toContain('invalid configuration');
  });

  it('resolves without a providerMessageId when the response has no MessageId', async () => {
    const client: SesClient = { send: () => Promise.resolve(null) };
    const result = await sesTransport({ client, sdk: realSdk }).send(prepare(), ctx());
    expect(result.providerMessageId).toBeUndefined();
    expect(result.accepted).toEqual(['ann@example.com']);
  });
});

describe('sesTransport: abort, verify, close', () => {
  it('aborts a request SES is still answering promptly with ABORTED', async () => {
    const server = await serverFor({ latencyMs: 600 });
    const t = transportFor(server);
    await t.verify!(); // loads the SDK first, so only the request itself is timed
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    const sending = failure(t.send(prepare(), ctx(controller.signal)));
    // Abort once the server holds the request, inside its latency.
    while (server.requests === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const abortedAt = Date.now();
    controller.abort(reason);
    const err = await sending;
    expect(err.code).toBe(MailErrorCode.ABORTED);
    expect(err.cause).toBe(reason);
    expect(Date.now() - abortedAt).toBeLessThan(300);
    // Past the server's latency: the client had gone, so the server kept nothing.
    await new Promise((resolve) => setTimeout(resolve, 650));
    expect(server.requests).toBe(1);
    expect(server.count).toBe(0);
  });

  it('verifies with GetAccount', async () => {
    const server = await serverFor();
    await expect(transportFor(server).verify!()).resolves.toBeUndefined();
  });

  it('fails verify with TRANSPORT_PAUSED when sending is disabled for the account', async () => {
    const server = await serverFor();
    server.setSendingEnabled(false);
    const t = transportFor(server);
    expect(await failure(t.verify!())).toMatchObject({ code: MailErrorCode.TRANSPORT_PAUSED, scope: 'transport' });
    expect(await failure(t.send(prepare(), ctx()))).toMatchObject({ code: MailErrorCode.TRANSPORT_PAUSED, scope: 'transport' });
  });

  it('fails verify with AUTH for unknown credentials', async () => {
    const server = await serverFor({ accessKeyId: 'AKIDSOMEONEELSE' });
    expect(await failure(transportFor(server).verify!())).toMatchObject({ code: MailErrorCode.AUTH, responseCode: 403 });
  });

  it('uses a client you supply and never destroys it', async () => {
    const server = await serverFor();
    const client = new SESv2Client({ region: server.region, endpoint: server.endpoint, credentials, maxAttempts: 1 });
    let destroyed = 0;
    const destroy = client.destroy.bind(client);
    client.destroy = () => {
      destroyed++;
      destroy();
    };
    const t = sesTransport({ client });
    await t.send(prepare(), ctx());
    await t.verify!();
    await t.close!();
    expect(destroyed).toBe(0);
    // Still usable by its owner.
    await client.send(new GetAccountCommand({}));
    expect(server.count).toBe(1);
    destroy();
  });

  it('destroys the client it created on close, once, after sends in flight finish', async () => {
    const server = await serverFor({ latencyMs: 100 });
    let created = 0;
    let destroyed = 0;
    class CountingClient extends SESv2Client {
      constructor(...args: ConstructorParameters<typeof SESv2Client>) {
        super(...args);
        created++;
      }
      override destroy(): void {
        destroyed++;
        super.destroy();
      }
    }
    const sdk: SesSdk = { ...realSdk, SESv2Client: CountingClient };
    const t = sesTransport({ region: server.region, endpoint: server.endpoint, credentials, sdk });
    expect(created).toBe(0);
    const sending = t.send(prepare(), ctx());
    const second = t.send(prepare(), ctx());
    await new Promise((resolve) => setTimeout(resolve, 20));
    const closing = t.close!();
    expect((await failure(t.send(prepare(), ctx()))).code).toBe(MailErrorCode.CLOSED);
    expect(destroyed).toBe(0);
    await expect(sending).resolves.toMatchObject({ accepted: ['ann@example.com'] });
    await second;
    await closing;
    await t.close!();
    expect(created).toBe(1);
    expect(destroyed).toBe(1);
    expect(server.count).toBe(2);
  });

  it('closes without ever loading the SDK when nothing was sent', async () => {
    let loads = 0;
    const t = sesTransport({ region: 'us-east-1', sdk: () => (loads++, Promise.resolve(realSdk)) });
    await t.close!();
    expect(loads).toBe(0);
    expect((await failure(t.verify!())).code).toBe(MailErrorCode.CLOSED);
  });
});

describe('sesTransport: loading the SDK', () => {
  it('loads the SDK lazily, once, on the first send', async () => {
    const server = await serverFor();
    let loads = 0;
    const t = transportFor(server, {
      sdk: async () => {
        loads++;
        await new Promise((resolve) => setTimeout(resolve, 10));
        return realSdk;
      },
    });
    expect(loads).toBe(0);
    await Promise.all([t.send(prepare(), ctx()), t.send(prepare(), ctx()), t.verify!()]);
    expect(loads).toBe(1);
    expect(server.count).toBe(2);
  });

  it('rejects with MISSING_DEPENDENCY naming the package when it is not installed', async () => {
    const notFound = Object.assign(new Error("Cannot find package '@aws-sdk/client-sesv2' imported from /app/node_modules/mailpush/dist/transports/ses.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    const t = sesTransport({ region: 'us-east-1', sdk: () => Promise.reject(notFound) });
    const err = await failure(t.send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.MISSING_DEPENDENCY);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('@aws-sdk/client-sesv2');
    expect(err.cause).toBe(notFound);
    expect((await failure(t.verify!())).code).toBe(MailErrorCode.MISSING_DEPENDENCY);
  });

  it('rejects with INTERNAL when loading the SDK fails for another reason', async () => {
    const broken = new SyntaxError('Unexpected token in module');
    const err = await failure(sesTransport({ region: 'us-east-1', sdk: () => Promise.reject(broken) }).send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.INTERNAL);
    expect(err.cause).toBe(broken);
  });

  it('rejects with MISSING_DEPENDENCY when the module loaded is not the SES v2 SDK', async () => {
    const t = sesTransport({ region: 'us-east-1', sdk: () => Promise.resolve({ SESClient: class {} } as unknown as SesSdk) });
    const err = await failure(t.send(prepare(), ctx()));
    expect(err.code).toBe(MailErrorCode.MISSING_DEPENDENCY);
    expect(err.message).toMatch(/SESv2Client/);
  });

  it('accepts the module wrapped in a default export', async () => {
    const server = await serverFor();
    await transportFor(server, { sdk: () => Promise.resolve({ default: realSdk } as unknown as SesSdk) }).send(prepare(), ctx());
    expect(server.count).toBe(1);
  });

  it('does not load the AWS SDK when the transport module is imported or a transport is created', async () => {
    const script = [
      "const { createRequire } = await import('node:module');",
      "const ses = await import('./src/transports/ses.ts');",
      "ses.default({ region: 'us-east-1' });",
      "await import('./src/index.ts');",
      'const require = createRequire(import.meta.url);',
      "const loaded = Object.keys(require.cache).some((k) => k.includes('client-sesv2'));",
      'process.stdout.write(String(loaded));',
    ].join('\n');
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(stderr))));
    });
    expect(out).toBe('false');
  });
});

describe('sesTransport: options', () => {
  const cases: [string, unknown, string][] = [
    ['options', null, 'options'],
    ['a missing region', {}, 'region'],
    ['a malformed region', { region: 'US East 1' }, 'region'],
    ['region with client', { region: 'us-east-1', client: { send: () => Promise.resolve({}) } }, 'region'],
    ['endpoint with client', { endpoint: 'http://127.0.0.1:1', client: { send: () => Promise.resolve({}) } }, 'endpoint'],
    ['a client without send', { client: {} }, 'client'],
    ['credentials without a secret', { region: 'us-east-1', credentials: { accessKeyId: 'A' } }, 'credentials.secretAccessKey'],
    ['credentials of the wrong type', { region: 'us-east-1', credentials: 'AKID:secret' }, 'credentials'],
    ['an ftp endpoint', { region: 'us-east-1', endpoint: 'ftp://127.0.0.1' }, 'endpoint'],
    ['an endpoint with credentials in it', { region: 'us-east-1', endpoint: 'https://user:pw@example.com' }, 'endpoint'],
    ['a configuration set with spaces', { region: 'us-east-1', configurationSetName: 'my events' }, 'configurationSetName'],
    ['tagsFromMessage as a string', { region: 'us-east-1', tagsFromMessage: 'yes' }, 'tagsFromMessage'],
    ['list management without a list', { region: 'us-east-1', listManagementOptions: { topicName: 't' } }, 'listManagementOptions.contactListName'],
    ['a feedback address without @', { region: 'us-east-1', feedbackForwardingEmailAddress: 'bounces' }, 'feedbackForwardingEmailAddress'],
    ['a zero rate', { region: 'us-east-1', ratePerSecond: 0 }, 'ratePerSecond'],
    ['an infinite rate', { region: 'us-east-1', ratePerSecond: Infinity }, 'ratePerSecond'],
    ['a fractional concurrency', { region: 'us-east-1', maxConcurrency: 1.5 }, 'maxConcurrency'],
    ['a negative timeout', { region: 'us-east-1', requestTimeoutMs: -1 }, 'requestTimeoutMs'],
    ['a timeout beyond timers', { region: 'us-east-1', requestTimeoutMs: 2 ** 31 }, 'requestTimeoutMs'],
    ['errorRules not an array', { region: 'us-east-1', errorRules: {} }, 'errorRules'],
    ['a rule without conditions', { region: 'us-east-1', errorRules: [{ id: 'x', code: MailErrorCode.TRANSIENT, category: 'systemerror' }] }, 'errorRules[0]'],
    ['a rule with an unknown code', { region: 'us-east-1', errorRules: [{ id: 'x', names: ['A'], code: 'NOPE', category: 'systemerror' }] }, 'errorRules[0].code'],
    ['a rule with an unknown key', { region: 'us-east-1', errorRules: [{ id: 'x', names: ['A'], code: MailErrorCode.TRANSIENT, category: 'systemerror', when: 1 }] }, 'errorRules[0].when'],
    ['an sdk that is not the module', { region: 'us-east-1', sdk: { SESv2Client: 1 } }, 'sdk'],
  ];

  it.each(cases)('refuses %s with CONFIG naming the option', (_label, options, option) => {
    const err = configFailure(() => sesTransport(options as SesTransportOptions));
    expect(err.option).toBe(option);
    expect(err.message).toContain(`\`${option}\``);
  });

  it('accepts a credentials provider function and a client-only configuration', () => {
    expect(() => sesTransport({ region: 'eu-central-2', credentials: async () => credentials })).not.toThrow();
    expect(() => sesTransport({ client: { send: () => Promise.resolve({}) } })).not.toThrow();
  });
});

describe('startSesServer', () => {
  const signed = {
    authorization: `AWS4-HMAC-SHA256 Credential=AKIDTEST/20250101/us-east-1/ses/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'a'.repeat(64)}`,
    'x-amz-date': '20250101T000000Z',
    'content-type': 'application/json',
  };
  const rawData = Buffer.from('From: App <app@example.com>\r\nTo: ann@example.com\r\nSubject: hi\r\n\r\nhello\r\n').toString('base64');
  const validBody = { Destination: { ToAddresses: ['ann@example.com'] }, Content: { Raw: { Data: rawData } } };
  const post = (server: SesServer, body: unknown, headers: Record<string, string> = signed): Promise<Response> =>
    fetch(`${server.endpoint}/v2/email/outbound-emails`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  async function errorOf(res: Response): Promise<{ status: number; type: string | null; message: unknown }> {
    const body = (await res.json()) as { message?: unknown };
    return { status: res.status, type: res.headers.get('x-amzn-errortype')?.split(':')[0] ?? null, message: body.message };
  }

  it('takes the sender from the From header when FromEmailAddress is missing', async () => {
    const server = await serverFor();
    const res = await post(server, validBody);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { MessageId: string }).MessageId).toBe(server.messages[0]!.messageId);
    expect(server.messages[0]!.from).toBe('app@example.com');
  });

  it('gives every message a unique SES-shaped MessageId', async () => {
    const server = await serverFor();
    await Promise.all(Array.from({ length: 20 }, () => post(server, validBody)));
    const ids = server.messages.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(20);
    for (const id of ids) expect(id).toMatch(/^0100[0-9a-f]{12}-[0-9a-f-]{36}-000000$/);
  });

  it('answers 403 without an Authorization header, or with a malformed one', async () => {
    const server = await serverFor();
    const { authorization: _a, ...unsigned } = signed;
    expect(await errorOf(await post(server, validBody, unsigned))).toMatchObject({ status: 403, type: 'MissingAuthenticationTokenException' });
    expect(await errorOf(await post(server, validBody, { ...signed, authorization: 'Bearer abc' }))).toMatchObject({ status: 403, type: 'IncompleteSignatureException' });
    const otherRegion = signed.authorization.replace('us-east-1', 'eu-west-1');
    expect(await errorOf(await post(server, validBody, { ...signed, authorization: otherRegion }))).toMatchObject({ status: 403, type: 'InvalidSignatureException' });
    expect(server.count).toBe(0);
  });

  it.each([
    ['malformed JSON', '{"Content": {'],
    ['a JSON array', '[]'],
    ['no content', { Destination: { ToAddresses: ['a@b.test'] } }],
    ['Simple content', { Destination: { ToAddresses: ['a@b.test'] }, Content: { Simple: {} } }],
    ['data that is not base64', { ...validBody, Content: { Raw: { Data: 'not base64!' } } }],
    ['no destination', { Content: { Raw: { Data: rawData } } }],
    ['an empty destination', { ...validBody, Destination: { ToAddresses: [] } }],
    ['a malformed address', { ...validBody, Destination: { ToAddresses: ['nobody'] } }],
    ['51 recipients', { ...validBody, Destination: { ToAddresses: Array.from({ length: 51 }, (_, i) => `r${i}@b.test`) } }],
    ['no sender at all', { ...validBody, Content: { Raw: { Data: Buffer.from('Subject: x\r\n\r\nbody').toString('base64') } } }],
    ['an invalid tag name', { ...validBody, EmailTags: [{ Name: 'a.b', Value: 'c' }] }],
    ['a tag without value', { ...validBody, EmailTags: [{ Name: 'a' }] }],
    ['duplicate tag names', { ...validBody, EmailTags: [{ Name: 'a', Value: '1' }, { Name: 'a', Value: '2' }] }],
  ])('answers 400 BadRequestException to %s and keeps serving', async (_label, body) => {
    const server = await serverFor();
    expect(await errorOf(await post(server, body))).toMatchObject({ status: 400, type: 'BadRequestException' });
    expect(server.count).toBe(0);
    expect((await post(server, validBody)).status).toBe(200);
  });

  it('answers 413 to a request body over maxRequestBytes', async () => {
    const server = await serverFor({ maxRequestBytes: 10_000 });
    const body = { ...validBody, Content: { Raw: { Data: Buffer.alloc(30_000, 1).toString('base64') } } };
    expect((await post(server, body)).status).toBe(413);
    expect(server.count).toBe(0);
    expect((await post(server, validBody)).status).toBe(200);
  });

  it('answers MessageRejected to a decoded message over maxMessageBytes', async () => {
    const server = await serverFor({ maxMessageBytes: 100 });
    const big = Buffer.from(`From: a@b.test\r\n\r\n${'x'.repeat(200)}`).toString('base64');
    expect(await errorOf(await post(server, { ...validBody, Content: { Raw: { Data: big } } }))).toMatchObject({ status: 400, type: 'MessageRejected' });
  });

  it('answers 404 to unknown paths and 405 to wrong methods', async () => {
    const server = await serverFor();
    expect((await fetch(`${server.endpoint}/v2/email/identities`, { headers: signed })).status).toBe(404);
    expect((await fetch(`${server.endpoint}/v2/email/outbound-emails`, { headers: signed })).status).toBe(405);
  });

  it('survives garbage on the wire', async () => {
    const server = await serverFor();
    await new Promise<void>((resolve) => {
      const socket = net.connect(server.port, '127.0.0.1', () => socket.end('\u0000\u0001 NOT HTTP \r\n\r\n'));
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
      socket.resume();
    });
    expect((await post(server, validBody)).status).toBe(200);
  });

  it('applies per-recipient rules with times, and reset() re-arms them', async () => {
    const server = await serverFor({ rules: [{ match: '@blocked.test', fault: 'MessageRejected', times: 1 }] });
    const to = (address: string): unknown => ({ ...validBody, Destination: { BccAddresses: [address] } });
    expect((await post(server, to('x@blocked.test'))).status).toBe(400);
    expect((await post(server, to('x@blocked.test'))).status).toBe(200);
    expect(server.messages[0]!.destination.bcc).toEqual(['x@blocked.test']);
    server.reset();
    expect(server.count).toBe(0);
    expect(server.requests).toBe(0);
    expect((await post(server, to('x@blocked.test'))).status).toBe(400);
  });

  it('waitFor resolves once enough messages arrived and times out otherwise', async () => {
    const server = await serverFor();
    const waiting = server.waitFor(2, 2000);
    await post(server, validBody);
    await post(server, validBody);
    await expect(waiting).resolves.toBeUndefined();
    await expect(server.waitFor(3, 20)).rejects.toMatchObject({ code: MailErrorCode.TIMEOUT });
  });

  it('refuses unknown faults and bad options with CONFIG', async () => {
    const server = await serverFor();
    expect(configFailure(() => server.failNext(1, 'NoSuchException' as SesFault)).option).toBe('fault');
    expect(configFailure(() => server.failNext(0, 'InternalFailure')).option).toBe('count');
    expect(configFailure(() => server.failNext(1, { status: 200, message: 'ok' })).option).toBe('fault.status');
    expect(configFailure(() => server.setLatency(-1)).option).toBe('latencyMs');
    await expect(startSesServer({ maxSendRate: 0 })).rejects.toMatchObject({ code: MailErrorCode.CONFIG, option: 'maxSendRate' });
    await expect(startSesServer({ rules: [{ match: '' }] })).rejects.toMatchObject({ code: MailErrorCode.CONFIG, option: 'rules[0].match' });
  });

  it('answers GetAccount as the SDK expects', async () => {
    const server = await serverFor({ maxSendRate: 14, max24HourSend: 200 });
    const client = new SESv2Client({ region: server.region, endpoint: server.endpoint, credentials, maxAttempts: 1 });
    try {
      await client.send(new SendEmailCommand({ Destination: { ToAddresses: ['a@b.test'] }, Content: { Raw: { Data: Buffer.from('From: a@b.test\r\n\r\nx') } } }));
      const account = await client.send(new GetAccountCommand({}));
      expect(account.SendingEnabled).toBe(true);
      expect(account.SendQuota).toEqual({ Max24HourSend: 200, MaxSendRate: 14, SentLast24Hours: 1 });
    } finally {
      client.destroy();
    }
  });

  it('close() drops requests left unanswered and is idempotent', async () => {
    const server = await startSesServer();
    server.failNext(1, 'timeout');
    const pending = post(server, validBody).then(
      () => 'answered',
      () => 'dropped',
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    await Promise.all([server.close(), server.close()]);
    expect(await pending).toBe('dropped');
  });
});

describe('sesTransport with createMailer', () => {
  const inputs = (n: number): MessageInput[] =>
    Array.from({ length: n }, (_, i) => ({ from: 'shop@example.com', to: `customer${i}@shop${i % 7}.test`, subject: `Order ${i}`, text: `Your order ${i} shipped.` }));

  function messageIds(server: SesServer): string[] {
    return server.messages.map((m) => /^Message-ID:\s*(<[^>]+>)/im.exec(m.raw.toString('latin1'))?.[1] ?? 'none');
  }

  it('delivers 100 messages, each exactly once, with the SES message ids in the sent events', async () => {
    const server = await serverFor();
    const mailer = createMailer({ transport: transportFor(server) });
    const providerIds: string[] = [];
    mailer.on('sent', (e) => providerIds.push(e.providerMessageId ?? 'none'));
    const receipts = [];
    for (const m of inputs(100)) receipts.push(await mailer.send(m));
    await mailer.onIdle();
    await mailer.close();
    expect(server.count).toBe(100);
    expect(server.requests).toBe(100);
    expect(messageIds(server).sort()).toEqual(receipts.map((r) => r.messageId).sort());
    expect(providerIds.sort()).toEqual(server.messages.map((m) => m.messageId).sort());
  });

  it('retries a burst of TooManyRequests through the transport throttle without losing or duplicating mail', async () => {
    const server = await serverFor();
    // SES sends no Retry-After; the fake's header keeps the test short (Retry-After: 0).
    server.failNext(10, { status: 429, type: 'TooManyRequestsException', message: 'Maximum sending rate exceeded.', retryAfterSeconds: 0 });
    const mailer = createMailer({ transport: transportFor(server), throttle: { minRatePerSecond: 200 } });
    const throttled: string[] = [];
    let failed = 0;
    mailer.on('throttled', (e) => throttled.push(e.scope));
    mailer.on('failed', () => failed++);
    const receipts = [];
    for (const m of inputs(100)) receipts.push(await mailer.send(m));
    await mailer.onIdle();
    await mailer.close();
    expect(failed).toBe(0);
    expect(server.count).toBe(100);
    expect(server.requests).toBe(110);
    expect(new Set(messageIds(server)).size).toBe(100);
    expect(messageIds(server).sort()).toEqual(receipts.map((r) => r.messageId).sort());
    expect(throttled.length).toBeGreaterThan(0);
    expect(new Set(throttled)).toEqual(new Set(['transport']));
  });

  it('waits out a paused account and then delivers everything, without counting the attempts', async () => {
    const server = await serverFor();
    server.failNext(3, { status: 400, type: 'SendingPausedException', message: 'Sending is paused for this account.', retryAfterSeconds: 0 });
    const mailer = createMailer({ transport: transportFor(server), retry: { maxAttempts: 1 } });
    let failed = 0;
    mailer.on('failed', () => failed++);
    for (const m of inputs(20)) await mailer.send(m);
    await mailer.onIdle();
    await mailer.close();
    expect(failed).toBe(0);
    expect(server.count).toBe(20);
  });
});
