/**
 * The tracking handler over real HTTP (node:http on 127.0.0.1, fetch as the client): redirects,
 * the pixel, refusals, the feedback events through the mailer, machine activity and campaign
 * counts.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { FeedbackEvent } from '../../src/feedback/event.js';
import { createMailer } from '../../src/mailer/index.js';
import type { Mailer } from '../../src/mailer/index.js';
import memoryTransport from '../../src/transports/memory.js';
import { PIXEL_GIF, createTrackingHandler } from '../../src/tracking/index.js';
import type { TrackingHandler, TrackingHandlerOptions } from '../../src/tracking/index.js';

const SECRET = 'a-tracking-secret-of-32-bytes!!!';
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((fn) => fn()));
});

const HUMAN = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';

async function setup(handlerOptions: Partial<TrackingHandlerOptions> = {}) {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/t`;
  const mailer: Mailer = createMailer({ transport: memoryTransport(), tracking: { url: base, secrets: [SECRET] } });
  const handler: TrackingHandler = createTrackingHandler({ mailer, scanWindowMs: 0, ...handlerOptions });
  server.on('request', handler.node);
  const events: FeedbackEvent[] = [];
  mailer.on('feedback', (e) => void events.push(e));
  cleanup.push(async () => {
    await mailer.close();
    await new Promise((r) => server.close(r));
  });
  return { server, base, mailer, handler, events };
}

const html = '<html><body><a href="https://shop.example/a?x=1&amp;y=2#frag">a</a> <a href="https://shop.example/b">b</a> <a href="https://shop.example/ü?q=é">u</a></body></html>';

async function sendTracked(mailer: Mailer, extra: Record<string, unknown> = {}) {
  const receipt = await mailer.send({ from: 'news@example.com', to: 'ann@example.org', subject: 'Hi', html, campaign: 'spring', ...extra }, { track: true });
  await receipt.done();
  const links = [...receipt.message.html!.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
  const pixel = /<img src="([^"]+)"/.exec(receipt.message.html!)![1]!;
  return { receipt, links, pixel };
}

const get = (url: string, init: RequestInit = {}) => fetch(url, { redirect: 'manual', ...init, headers: { 'user-agent': HUMAN, ...(init.headers as Record<string, string> | undefined) } });

describe('createTrackingHandler over HTTP', () => {
  it('redirects each click to its original URL and reports a human click', async () => {
    const { mailer, handler, events } = await setup();
    const { receipt, links } = await sendTracked(mailer);
    const r = await get(links[0]!);
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe('https://shop.example/a?x=1&y=2#frag');
    expect(r.headers.get('referrer-policy')).toBe('no-referrer');
    expect(r.headers.get('cache-control')).toContain('no-store');
    const u = await get(links[2]!);
    expect(u.headers.get('location')).toBe(new URL('https://shop.example/ü?q=é').href);
    await handler.settled();
    expect(events.map((e) => [e.type, e.recipient, e.messageId, e.campaign, e.url, e.machineClick, e.userAgent, e.provider])).toEqual([
      ['clicked', 'ann@example.org', receipt.messageId, 'spring', 'https://shop.example/a?x=1&y=2#frag', false, HUMAN, 'tracking'],
      ['clicked', 'ann@example.org', receipt.messageId, 'spring', 'https://shop.example/ü?q=é', true, HUMAN, 'tracking'], // second link within 2 s: a burst
    ]);
    expect(events[1]!.machineRule).toBe('link-burst');
    expect(events[0]!.ip).toBeUndefined(); // not without includeIp
    expect(events[0]!.jobId).toBe(`${receipt.id}/0`);
  });

  it('answers the pixel with a real GIF and no-cache headers, and reports an open', async () => {
    const { mailer, handler, events } = await setup();
    const { pixel, receipt } = await sendTracked(mailer);
    const r = await get(pixel);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/gif');
    expect(r.headers.get('cache-control')).toMatch(/no-store/);
    expect(r.headers.get('pragma')).toBe('no-cache');
    const body = new Uint8Array(await r.arrayBuffer());
    expect(Buffer.from(body).subarray(0, 6).toString('latin1')).toBe('GIF89a');
    expect(body).toEqual(new Uint8Array(PIXEL_GIF));
    expect(body.byteLength).toBe(43);
    await handler.settled();
    expect(events).toMatchObject([{ type: 'opened', recipient: 'ann@example.org', messageId: receipt.messageId, campaign: 'spring', machineOpen: false }]);
  });

  it('answers 400 to a tampered, truncated or foreign token and never redirects', async () => {
    const { mailer, handler, events, base } = await setup();
    const { links, pixel } = await sendTracked(mailer);
    const token = links[0]!.slice(links[0]!.lastIndexOf('/') + 1);
    const other = createMailer({ transport: memoryTransport(), tracking: { url: base, secrets: ['another-secret-entirely-0123456789'] } });
    const { links: foreign } = await sendTracked(other);
    await other.close();
    const flip = (t: string, i: number) => t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
    const bad = [
      `${base}/c/${flip(token, 5)}`,
      `${base}/c/${flip(token, token.length - 3)}`,
      `${base}/c/${token.slice(0, -4)}`,
      `${base}/c/${token}AAAA`,
      `${base}/c/${pixel.slice(pixel.lastIndexOf('/') + 1)}`, // an open token used as a click
      foreign[0]!, // signed by another secret
      `${base}/c/https%3A%2F%2Fevil.example%2F`,
      `${base}/c/`,
    ];
    for (const url of bad) {
      const r = await get(url);
      expect(r.status, url).toBeGreaterThanOrEqual(400);
      expect(r.status, url).toBeLessThan(500);
      expect(r.headers.get('location'), url).toBeNull();
    }
    expect((await get(`${base}/x/${token}`)).status).toBe(404);
    expect((await get(links[0]!, { method: 'POST', body: 'x' })).status).toBe(405);
    await handler.settled();
    expect(events).toEqual([]);
    expect(handler.stats.invalid).toBe(8);
  });

  it('counts a replayed token as a total hit but not as a new unique one', async () => {
    const { mailer, handler } = await setup({ burstWindowMs: 0 });
    const { links, pixel } = await sendTracked(mailer);
    for (let i = 0; i < 3; i++) {
      expect((await get(links[1]!)).headers.get('location')).toBe('https://shop.example/b');
      await get(pixel);
    }
    await get(pixel, { headers: { 'user-agent': 'Mozilla/5.0' } }); // Apple MPP
    await handler.settled();
    const record = await mailer.store.campaigns!.get('spring');
    expect(record?.counts).toMatchObject({ clicked: 1, 'clicked.total': 3, opened: 1, 'opened.total': 3, 'opened.machine': 1, 'opened.machine.total': 1 });
    expect(record?.counts['clicked.machine']).toBeUndefined();
  });

  it('counts a scanner fetching every link at once as one machine recipient', async () => {
    const { mailer, handler, events } = await setup();
    const { links } = await sendTracked(mailer);
    const answers = await Promise.all(links.map((l) => get(l, { headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36' } })));
    expect(answers.map((a) => a.status)).toEqual([302, 302, 302]);
    await handler.settled();
    expect(events.map((e) => e.machineClick)).toEqual([true, true, true]);
    const record = await mailer.store.campaigns!.get('spring');
    expect(record?.counts).toMatchObject({ 'clicked.machine': 1, 'clicked.machine.total': 3 });
    expect(record?.counts.clicked).toBeUndefined();
  });

  it('flags machine activity with the rule that fired', async () => {
    const { mailer, handler, events } = await setup({ burstWindowMs: 0 });
    const { links, pixel } = await sendTracked(mailer);
    const head = await get(links[0]!, { method: 'HEAD' });
    expect(head.status).toBe(302); // answered like a GET: a scanner gets the same redirect
    await get(pixel, { headers: { 'user-agent': 'Mozilla/5.0' } });
    await get(pixel, { headers: { 'user-agent': 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)' } });
    await get(pixel, { headers: { 'user-agent': 'YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html' } });
    await get(links[1]!, { headers: { 'user-agent': 'Mozilla/5.0 (compatible; Barracuda Sentinel)' } });
    await get(links[1]!, { headers: { 'user-agent': '' } });
    await get(pixel);
    await handler.settled();
    expect(events.map((e) => [e.type, e.machineOpen ?? e.machineClick, e.machineRule])).toEqual([
      ['clicked', true, 'head-request'],
      ['opened', true, 'apple-mpp-agent'],
      ['opened', true, 'gmail-image-proxy'],
      ['opened', true, 'yahoo-image-proxy'],
      ['clicked', true, 'scanner-agent'],
      ['clicked', true, 'no-user-agent'],
      ['opened', false, undefined],
    ]);
  });

  it('flags hits right after delivery (soon-after-delivery) and Apple addresses behind a trusted proxy', async () => {
    const { mailer, handler, events } = await setup({ scanWindowMs: 60_000, burstWindowMs: 0, trustProxy: true, includeIp: true });
    const { links, pixel } = await sendTracked(mailer);
    await get(links[0]!);
    await get(pixel, { headers: { 'x-forwarded-for': '17.58.1.2, 10.0.0.1' } });
    await handler.settled();
    expect(events.map((e) => [e.type, e.machineRule, e.ip])).toEqual([
      ['clicked', 'soon-after-delivery', '127.0.0.1'],
      ['opened', 'apple-mpp-address', '17.58.1.2'],
    ]);
  });

  it('serves the Fetch API handler too, without a server', async () => {
    const { mailer, handler, events } = await setup();
    const { links, pixel } = await sendTracked(mailer);
    const r = await handler(new Request(links[1]!, { headers: { 'user-agent': HUMAN } }));
    expect([r.status, r.headers.get('location')]).toEqual([302, 'https://shop.example/b']);
    const p = await handler(new Request(pixel, { headers: { 'user-agent': HUMAN } }));
    expect(new Uint8Array(await p.arrayBuffer())).toEqual(new Uint8Array(PIXEL_GIF));
    const bad = await handler(new Request(`${links[1]!}x`));
    expect([bad.status, bad.headers.get('location')]).toEqual([400, null]);
    await handler.settled();
    expect(events.map((e) => e.type)).toEqual(['clicked', 'opened']);
  });

  it('answers at once when the host hook is slow, and reports hook failures to onError', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/t`;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const mailer = createMailer({
      transport: memoryTransport(),
      tracking: { url: base, secrets: [SECRET] },
      feedback: {
        onEvent: async () => {
          calls++;
          await gate;
          throw new Error('host database down');
        },
      },
    });
    const errors: string[] = [];
    const handler = createTrackingHandler({ mailer, onError: (e) => void errors.push(`${e.kind}: ${e.error.message}`) });
    server.on('request', handler.node);
    cleanup.push(async () => {
      await mailer.close();
      await new Promise((r) => server.close(r));
    });
    const { links } = await sendTracked(mailer);
    const r = await get(links[0]!);
    expect(r.status).toBe(302);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(1);
    release();
    await handler.settled();
    expect(errors).toEqual([expect.stringContaining('host database down')]);
    expect(handler.stats.failed).toBe(1);
  });

  it('refuses a mailer without tracking and bad options with CONFIG errors', () => {
    const bare = createMailer({ transport: memoryTransport() });
    cleanup.push(() => bare.close());
    expect(() => createTrackingHandler({ mailer: bare })).toThrow(expect.objectContaining({ code: 'MAILPUSH_ERR_CONFIG' }));
    expect(() => createTrackingHandler({ mailer: {} as Mailer })).toThrow(expect.objectContaining({ code: 'MAILPUSH_ERR_CONFIG' }));
    const m = createMailer({ transport: memoryTransport(), tracking: { url: 'https://t.example/t', secrets: [SECRET] } });
    cleanup.push(() => m.close());
    expect(() => createTrackingHandler({ mailer: m, scanWindowMs: -1 })).toThrow(expect.objectContaining({ code: 'MAILPUSH_ERR_CONFIG', message: expect.stringContaining('scanWindowMs') }));
    expect(() => createTrackingHandler({ mailer: m, machineRules: [{ id: 'x', applies: 'open' }] })).toThrow(expect.objectContaining({ code: 'MAILPUSH_ERR_CONFIG' }));
    expect(() => createTrackingHandler({ mailer: m, machineRules: [{ id: 'x', applies: 'open', ipRanges: ['17.0.0.0/40'] }] })).toThrow(expect.objectContaining({ code: 'MAILPUSH_ERR_CONFIG' }));
  });
});
