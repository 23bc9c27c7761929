import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { allRecipients, normalizeMessage } from '../../src/message/index.js';
import { prepareMessage } from '../../src/message/prepared.js';
import sendgridTransport from '../../src/transports/sendgrid.js';
import type { SendGridFetch } from '../../src/transports/sendgrid.js';
import type { MessageInput, PreparedMessage } from '../../src/types.js';
import { countTurns } from '../helpers/turns.js';

function prepare(input: Partial<MessageInput>): PreparedMessage {
  const message = normalizeMessage({ from: 'App <app@example.com>', to: 'ann@example.com', subject: 'Big "one" \u00e9', text: 'See attached.\n', ...input } as MessageInput, { now: Date.now() });
  return prepareMessage('job_big', message, { from: message.returnPath, to: allRecipients(message) });
}

/** Sends through an injected fetch and returns the request body, with the event loop turns seen while it was built. */
async function bodyOf(prepared: PreparedMessage): Promise<{ body: string; bytes: boolean; turns: number }> {
  let body = '';
  let isBytes = false;
  const counter = countTurns();
  const fetch: SendGridFetch = (_url, init) => {
    counter.stop();
    isBytes = init.body instanceof Uint8Array;
    body = isBytes ? Buffer.from(init.body as Uint8Array).toString('utf8') : (init.body as string);
    return Promise.resolve(new Response(null, { status: 202 }));
  };
  await sendgridTransport({ apiKey: 'SG.x', fetch }).send(prepared, { signal: new AbortController().signal, attempt: 1 });
  counter.stop();
  return { body, bytes: isBytes, turns: counter.turns };
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('sendgridTransport large attachments', () => {
  it('builds the body of a 10 MB attachment in slices, as the same JSON as JSON.stringify', async () => {
    const big = bytes(10 * 1024 * 1024 + 7, 1);
    const small = bytes(1000, 2);
    const asString = bytes(300 * 1024 + 1, 3).toString('base64').replace(/.{76}/g, '$&\r\n');
    const prepared = prepare({
      html: '<p>See \u2028 attached</p>',
      headers: { 'X-Note': 'a "quoted" \\ value' },
      attachments: [
        { filename: 'big.bin', content: big },
        { content: small, cid: 'logo@x', contentType: 'image/png' },
        { filename: 'c.txt', content: asString, encoding: 'base64' },
      ],
    } as Partial<MessageInput>);
    const { body, bytes: asBytes, turns } = await bodyOf(prepared);
    expect(asBytes).toBe(true);
    // The same bytes as JSON.stringify of the parsed body: key order and escaping as before.
    expect(body === JSON.stringify(JSON.parse(body))).toBe(true);
    const parsed = JSON.parse(body) as { attachments: { content: string; filename: string; type: string; disposition: string; content_id?: string }[]; custom_args: Record<string, string>; subject: string };
    expect(parsed.attachments.map((a) => a.content === undefined)).toEqual([false, false, false]);
    expect(parsed.attachments[0]!.content === big.toString('base64')).toBe(true);
    expect(parsed.attachments[1]).toEqual({ content: small.toString('base64'), filename: 'attachment-2', type: 'image/png', disposition: 'inline', content_id: 'logo@x' });
    expect(parsed.attachments[2]!.content === Buffer.from(asString, 'base64').toString('base64')).toBe(true);
    expect(parsed.attachments[2]!.filename).toBe('c.txt');
    expect(parsed.subject).toBe('Big "one" \u00e9');
    expect(parsed.custom_args['mailpush_job_id']).toBe('job_big');
    expect(Object.keys(parsed)).toEqual(['personalizations', 'from', 'subject', 'content', 'attachments', 'headers', 'custom_args']);
    // The loop got turns while the body was built.
    expect(turns).toBeGreaterThan(0);
  });

  it('gives the same body whether built in slices or at once', async () => {
    // Just above and just below the threshold, the same message shape.
    for (const [n, sliced] of [[256 * 1024 + 3, true], [256 * 1024, false]] as const) {
      const content = bytes(n, 4);
      const { body, bytes: asBytes } = await bodyOf(prepare({ attachments: [{ filename: 'a.bin', content }] } as Partial<MessageInput>));
      const parsed = JSON.parse(body) as { attachments: { content: string }[] };
      expect(asBytes).toBe(sliced);
      expect(body === JSON.stringify(parsed)).toBe(true);
      expect(parsed.attachments[0]!.content === content.toString('base64')).toBe(true);
    }
  });

  it('fails a send cancelled while its body is built, without a request', async () => {
    let requests = 0;
    const fetch: SendGridFetch = () => {
      requests++;
      return Promise.resolve(new Response(null, { status: 202 }));
    };
    const controller = new AbortController();
    const sending = sendgridTransport({ apiKey: 'SG.x', fetch }).send(prepare({ attachments: [{ filename: 'big.bin', content: bytes(8 * 1024 * 1024, 5) }] } as Partial<MessageInput>), { signal: controller.signal, attempt: 1 });
    setImmediate(() => controller.abort(new Error('cancelled')));
    await expect(sending).rejects.toMatchObject({ name: 'MailError' });
    expect(requests).toBe(0);
  });

  it('streams a large body to the built-in fetch: the same bytes, with a content-length', async () => {
    const received: { headers: http.IncomingHttpHeaders; body: Buffer }[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(202, { 'x-message-id': 'sg-1' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // Watches what the transport hands to the real fetch.
    const realFetch = globalThis.fetch;
    const bodies: unknown[] = [];
    const spy = vi.spyOn(globalThis, 'fetch').mockImplementation((url, init) => {
      bodies.push(init?.body);
      return realFetch(url, init);
    });
    try {
      const prepared = prepare({ attachments: [{ filename: 'big.bin', content: bytes(3 * 1024 * 1024 + 1, 6) }] } as Partial<MessageInput>);
      const t = sendgridTransport({ apiKey: 'SG.x', baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      const result = await t.send(prepared, { signal: new AbortController().signal, attempt: 1 });
      expect(result.providerMessageId).toBe('sg-1');
      expect(bodies).toHaveLength(1);
      expect(bodies[0]).toBeInstanceOf(ReadableStream);
      const { body } = await bodyOf(prepared);
      expect(received).toHaveLength(1);
      expect(received[0]!.body.equals(Buffer.from(body, 'utf8'))).toBe(true);
      expect(received[0]!.headers['content-length']).toBe(String(received[0]!.body.length));
      expect(received[0]!.headers['transfer-encoding']).toBeUndefined();
      // A small body goes as a string, as before.
      await t.send(prepare({ attachments: [{ filename: 'small.bin', content: bytes(1000, 7) }] } as Partial<MessageInput>), { signal: new AbortController().signal, attempt: 1 });
      expect(typeof bodies[1]).toBe('string');
    } finally {
      spy.mockRestore();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
