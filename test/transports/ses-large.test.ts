import { createHash, createHmac } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { afterEach, describe, expect, it } from 'vitest';
import { MailErrorCode } from '../../src/errors.js';
import { allRecipients, normalizeMessage } from '../../src/message/index.js';
import { prepareMessage } from '../../src/message/prepared.js';
import { startSesServer } from '../../src/testing/ses-server.js';
import sesTransport, { SES_SLICED_RAW_BYTES } from '../../src/transports/ses.js';
import type { SesClient } from '../../src/transports/ses.js';
import type { MessageInput, PreparedMessage, TransportSendContext } from '../../src/types.js';
import { countTurns } from '../helpers/turns.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const credentials = { accessKeyId: 'AKIDMAILPUSHLARGE', secretAccessKey: 'large-secret' } as const;
const REGION = 'eu-west-1';
const ctx = (signal: AbortSignal = new AbortController().signal): TransportSendContext => ({ signal, attempt: 1 });

interface Captured {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** An HTTP server on 127.0.0.1 that records each request and answers like SES's SendEmail. */
async function captureServer(): Promise<{ endpoint: string; requests: Captured[]; close: () => Promise<void> }> {
  const requests: Captured[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ MessageId: `m-${requests.length}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/**
 * Checks a request's SigV4 signature as AWS does, independently of the SDK: the payload hash
 * is computed from the bytes received, so a signature over any other body fails.
 */
function verifySigV4(r: Captured, secret: string): void {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(String(r.headers.authorization));
  expect(m, String(r.headers.authorization)).not.toBeNull();
  const [, , date, region, service, signedHeaders, signature] = m!;
  const amzDate = String(r.headers['x-amz-date']);
  const names = signedHeaders!.split(';');
  const canonicalHeaders = names.map((n) => `${n}:${String(r.headers[n]).trim().replace(/\s+/g, ' ')}\n`).join('');
  const [path, query = ''] = r.url.split('?');
  const canonical = [r.method, path, query, canonicalHeaders, signedHeaders, sha256(r.body)].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${secret}`, date!);
  for (const part of [region!, service!, 'aws4_request']) key = hmac(key, part);
  expect(createHmac('sha256', key).update(toSign).digest('hex')).toBe(signature);
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

let seq = 0;
function prepare(attachmentBytes: number, input: Partial<MessageInput> = {}): PreparedMessage {
  const message = normalizeMessage(
    {
      from: 'Shop <shop@example.com>',
      to: ['ann@example.org', 'bob@example.net'],
      subject: 'Report',
      text: 'Attached.',
      attachments: [{ filename: 'report.bin', content: bytes(attachmentBytes, seq) }],
      tags: { campaign: 'big-one', kind: 'report' },
      ...input,
    } as MessageInput,
    { now: Date.now() },
  );
  return prepareMessage(`job_large_${++seq}`, message, { from: message.returnPath, to: allRecipients(message) });
}

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

async function setup(): Promise<Awaited<ReturnType<typeof captureServer>>> {
  const server = await captureServer();
  cleanup.push(() => server.close());
  return server;
}

/** What the SDK alone sends for the same message: SendEmail with the whole raw message in the input. */
async function sdkRequest(endpoint: string, prepared: PreparedMessage, requests: Captured[]): Promise<Captured> {
  const client = new SESv2Client({ region: REGION, endpoint, credentials, maxAttempts: 1 });
  cleanup.push(() => client.destroy());
  await client.send(
    new SendEmailCommand({
      FromEmailAddress: prepared.message.from.address,
      Destination: { ToAddresses: [...prepared.envelope.to] },
      Content: { Raw: { Data: await prepared.raw() } },
      ConfigurationSetName: 'events',
      EmailTags: [
        { Name: 'campaign', Value: 'big-one' },
        { Name: 'kind', Value: 'report' },
      ],
    }),
  );
  return requests.at(-1)!;
}

describe('sesTransport large messages', () => {
  it('sends the same body bytes as the SDK for a 3 MB message, hashed in slices and signed over them', async () => {
    const server = await setup();
    const prepared = prepare(3 * 1024 * 1024 + 1);
    const raw = await prepared.raw();
    expect(raw.length).toBeGreaterThan(SES_SLICED_RAW_BYTES);
    // A client of the user's with a middleware that notes when signing starts: the turns of
    // the event loop from send() to then are the ones the body was built in.
    const client = new SESv2Client({ region: REGION, endpoint: server.endpoint, credentials, maxAttempts: 1 });
    cleanup.push(() => client.destroy());
    let counter = countTurns();
    let turnsBeforeSigning = -1;
    client.middlewareStack.add(
      (next) => (args) => {
        turnsBeforeSigning = counter.turns;
        counter.stop();
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'high' },
    );
    const t = sesTransport({ client: client as SesClient, configurationSetName: 'events' });
    counter.stop();
    counter = countTurns();
    const result = await t.send(prepared, ctx());
    expect(result.providerMessageId).toBe('m-1');
    const ours = server.requests[0]!;
    const theirs = await sdkRequest(server.endpoint, prepared, server.requests);
    expect(ours.body.length).toBe(theirs.body.length);
    expect(ours.body.equals(theirs.body)).toBe(true);
    expect(ours.headers['content-length']).toBe(String(theirs.body.length));
    expect(ours.headers['content-type']).toBe(theirs.headers['content-type']);
    // The payload hash travels in a signed header, as the SDK sends it too.
    expect(ours.headers['x-amz-content-sha256']).toBe(sha256(ours.body));
    expect(theirs.headers['x-amz-content-sha256']).toBe(ours.headers['x-amz-content-sha256']);
    expect(String(ours.headers.authorization)).toMatch(/SignedHeaders=[^,]*x-amz-content-sha256/);
    expect(Object.keys(ours.headers).sort()).toEqual(Object.keys(theirs.headers).sort());
    verifySigV4(ours, credentials.secretAccessKey);
    verifySigV4(theirs, credentials.secretAccessKey);
    const data = (JSON.parse(ours.body.toString('utf8')) as { Content: { Raw: { Data: string } } }).Content.Raw.Data;
    expect(Buffer.from(data, 'base64').equals(raw)).toBe(true);
    // Built in slices: the loop turned while the body was built (the SDK alone builds it in one turn).
    expect(turnsBeforeSigning).toBeGreaterThan(2);
  });

  it('streams the body through a client it created, the same bytes and headers as the SDK, signed over them', async () => {
    const server = await setup();
    const t = sesTransport({ region: REGION, endpoint: server.endpoint, credentials, configurationSetName: 'events' });
    cleanup.push(() => t.close!());
    for (const n of [3 * 1024 * 1024, 3 * 1024 * 1024 + 1, 3 * 1024 * 1024 + 2]) {
      const prepared = prepare(n);
      await t.send(prepared, ctx());
      const ours = server.requests.at(-1)!;
      const theirs = await sdkRequest(server.endpoint, prepared, server.requests);
      expect(ours.body.equals(theirs.body)).toBe(true);
      expect(ours.headers['content-length']).toBe(String(theirs.body.length));
      expect(ours.headers['transfer-encoding']).toBeUndefined();
      expect(Object.keys(ours.headers).sort()).toEqual(Object.keys(theirs.headers).sort());
      expect(ours.headers['x-amz-content-sha256']).toBe(theirs.headers['x-amz-content-sha256']);
      verifySigV4(ours, credentials.secretAccessKey);
    }
  });

  it('leaves a message at the threshold to the SDK', async () => {
    const server = await setup();
    // Find an attachment size whose raw message is just under and just over the threshold.
    let n = SES_SLICED_RAW_BYTES - 100_000;
    let below = prepare(n);
    while ((await below.raw()).length <= SES_SLICED_RAW_BYTES) below = prepare((n += 1500));
    const above = below;
    n -= 1500;
    below = prepare(n);
    while ((await below.raw()).length > SES_SLICED_RAW_BYTES) below = prepare((n -= 3));
    const client = new SESv2Client({ region: REGION, endpoint: server.endpoint, credentials, maxAttempts: 1 });
    cleanup.push(() => client.destroy());
    // The SDK's body is its own Uint8Array subclass; the transport's sliced body is a Buffer.
    let bodyKind = '';
    client.middlewareStack.add(
      (next) => (args) => {
        bodyKind = Buffer.isBuffer((args.request as { body?: unknown }).body) ? 'sliced' : 'sdk';
        return next(args);
      },
      { step: 'build', priority: 'low' },
    );
    const t = sesTransport({ client: client as SesClient, configurationSetName: 'events' });
    for (const [p, sliced] of [[below, false], [above, true]] as const) {
      await t.send(p, ctx());
      const ours = server.requests.at(-1)!;
      expect(bodyKind).toBe(sliced ? 'sliced' : 'sdk');
      const theirs = await sdkRequest(server.endpoint, p, server.requests);
      expect(ours.body.equals(theirs.body)).toBe(true);
      verifySigV4(ours, credentials.secretAccessKey);
    }
  });

  it('delivers a 10 MB message to the local SES API intact', async () => {
    const ses = await startSesServer();
    cleanup.push(() => ses.close());
    const t = sesTransport({ region: ses.region, endpoint: ses.endpoint, credentials });
    cleanup.push(() => t.close!());
    const prepared = prepare(10 * 1024 * 1024);
    const result = await t.send(prepared, ctx());
    expect(ses.messages).toHaveLength(1);
    expect(ses.messages[0]!.messageId).toBe(result.providerMessageId);
    expect(ses.messages[0]!.raw.equals(await prepared.raw())).toBe(true);
    expect(ses.messages[0]!.destination.to).toEqual(['ann@example.org', 'bob@example.net']);
  });

  it('sends the plain way when a middleware of the client rewrites the body', async () => {
    const server = await setup();
    const client = new SESv2Client({ region: REGION, endpoint: server.endpoint, credentials, maxAttempts: 1 });
    cleanup.push(() => client.destroy());
    // Valid JSON with the same data, but the placeholder's base64 (which holds a '/') is no longer in it as written.
    const seen: number[] = [];
    client.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { body?: unknown };
        const text = typeof request.body === 'string' ? request.body : Buffer.from(request.body as Uint8Array).toString('utf8');
        seen.push(text.length);
        request.body = text.replace(/\//g, '\\/');
        return next(args);
      },
      { step: 'serialize', priority: 'low' },
    );
    const t = sesTransport({ client: client as SesClient });
    for (let i = 0; i < 2; i++) {
      const prepared = prepare(400_000);
      const raw = await prepared.raw();
      seen.length = 0;
      await t.send(prepared, ctx());
      // The first send serialized the placeholder, found it rewritten, and went the plain way; the second went that way at once.
      expect(seen.length).toBe(i === 0 ? 2 : 1);
      expect(seen.at(-1)).toBeGreaterThan(raw.length);
      expect(server.requests).toHaveLength(i + 1);
      const r = server.requests[i]!;
      verifySigV4(r, credentials.secretAccessKey);
      const data = (JSON.parse(r.body.toString('utf8')) as { Content: { Raw: { Data: string } } }).Content.Raw.Data;
      expect(Buffer.from(data, 'base64').equals(raw)).toBe(true);
    }
  });

  it('fails a send cancelled while its body is built, without a request', async () => {
    const server = await setup();
    const t = sesTransport({ region: REGION, endpoint: server.endpoint, credentials });
    cleanup.push(() => t.close!());
    const prepared = prepare(5 * 1024 * 1024);
    await prepared.raw();
    const controller = new AbortController();
    const sending = t.send(prepared, ctx(controller.signal));
    setImmediate(() => controller.abort(new Error('cancelled')));
    await expect(sending).rejects.toMatchObject({ code: MailErrorCode.ABORTED });
    expect(server.requests).toHaveLength(0);
  });
});
