/**
 * One-click unsubscribe end to end: a marketing message through the real SMTP sink with DKIM,
 * its List-Unsubscribe URL posted to the real handler over HTTP (node:http on 127.0.0.1), and
 * the next send skipped. COMPLIANCE.md U-1..U-5, L-1.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dkimVerify } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeedbackEvent } from '../../src/feedback/event.js';
import { createMailer } from '../../src/mailer/index.js';
import type { Mailer } from '../../src/mailer/options.js';
import { startSmtpSink } from '../../src/testing/smtp-sink.js';
import type { SmtpSink } from '../../src/testing/smtp-sink.js';
import smtpTransport from '../../src/transports/smtp.js';
import { createUnsubscribeHandler, subscribeAddress, toNodeHandler } from '../../src/unsubscribe/index.js';

const SECRET = 'first-secret-of-the-test-suite-0001';
const FROM = 'News <news@shop.example>';
const POSTAL = 'Shop Inc., 1 Main Street, Springfield, USA';

let sink: SmtpSink;
let server: Server;
let base: string;
let mailer: Mailer;
let dnsRecord: string;
const events: FeedbackEvent[] = [];
const hooked: FeedbackEvent[] = [];

/** The sink's raw message for a recipient, latest first. */
function rawFor(address: string): string {
  const m = [...sink.messages].reverse().find((x) => x.envelope.to.includes(address));
  if (m?.raw === undefined) throw new Error(`no message for ${address}`);
  return m.raw.toString('latin1');
}

/** Header fields of a raw message, unfolded. */
function headersOf(raw: string, name: string): string[] {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  return head
    .split('\r\n')
    .filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    .map((l) => l.slice(name.length + 1).trim());
}

/** The https URL of the List-Unsubscribe header, served here on 127.0.0.1 at the same path. */
function localUrl(raw: string): string {
  const url = /<(https:[^>]+)>/.exec(headersOf(raw, 'List-Unsubscribe')[0] ?? '')?.[1];
  if (url === undefined) throw new Error('no https List-Unsubscribe URL');
  return `${base}${new URL(url).pathname}`;
}

async function sendTo(to: string, list: string): Promise<string> {
  const receipt = await mailer.send({ from: FROM, to, subject: 'Spring news', html: '<html><body><p>Hello!</p><p><a href="%%unsubscribe_url%%">Unsubscribe</a> · %%postal_address%%</p></body></html>', category: 'marketing', list });
  const report = await receipt.done();
  return report.recipients[0]?.status ?? 'none';
}

beforeAll(async () => {
  sink = await startSmtpSink({ keepRaw: true });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  dnsRecord = `v=DKIM1; k=rsa; p=${(publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64')}`;
  mailer = createMailer({
    transport: smtpTransport({ host: sink.host, port: sink.port }),
    dkim: { keys: [{ domain: 'shop.example', selector: 's1', privateKey }] },
    unsubscribe: { url: 'https://u.shop.example/unsubscribe', secrets: [SECRET], mailto: 'unsub@shop.example' },
    postalAddress: POSTAL,
    feedback: { onEvent: (e) => void hooked.push(e) },
  });
  mailer.on('feedback', (e) => void events.push(e));
  server = createServer(toNodeHandler(createUnsubscribeHandler({ mailer })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const a of ['ann@example.org', 'bob@example.org', 'cy@example.org']) {
    await subscribeAddress(mailer, 'newsletter', a, { at: Date.now() - 1000, source: 'signup-form', proof: '203.0.113.7' });
  }
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await mailer.close();
  await sink.close();
});

describe('List-Unsubscribe headers (U-1, U-2, U-3, L-1)', () => {
  it('puts exactly one One-Click Post header and the https URI first, then the mailto', async () => {
    expect(await sendTo('ann@example.org', 'newsletter')).toBe('sent');
    const raw = rawFor('ann@example.org');
    expect(headersOf(raw, 'List-Unsubscribe-Post')).toEqual(['List-Unsubscribe=One-Click']);
    const lu = headersOf(raw, 'List-Unsubscribe');
    expect(lu).toHaveLength(1);
    expect(lu[0]).toMatch(/^<https:\/\/u\.shop\.example\/unsubscribe\/[A-Za-z0-9_-]{40,}>, <mailto:unsub@shop\.example\?subject=unsubscribe%20[A-Za-z0-9_-]+>$/);
    // Opaque: the address appears nowhere in the URL or the token.
    expect(lu[0]).not.toMatch(/ann|example\.org/i);
  });

  it('is covered by a DKIM signature that verifies, with both names in h=', async () => {
    const raw = rawFor('ann@example.org');
    const resolver = async (name: string, type: string) => {
      if (type === 'TXT' && name.toLowerCase() === 's1._domainkey.shop.example') return [[dnsRecord]];
      throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    };
    const result = await dkimVerify(Buffer.from(raw, 'latin1'), { resolver });
    expect(result.results.map((r) => r.status.result)).toEqual(['pass']);
    const h = /\bh=([^;]+)/.exec(headersOf(raw, 'DKIM-Signature')[0] ?? '')?.[1]?.replace(/\s+/g, '').toLowerCase().split(':') ?? [];
    expect(h).toContain('list-unsubscribe');
    expect(h).toContain('list-unsubscribe-post');
  });

  it('puts the visible link and the postal address into the body', () => {
    const parsed = [...sink.messages].reverse().find((x) => x.envelope.to.includes('ann@example.org'))?.parsed;
    const url = /<(https:[^>]+)>/.exec(headersOf(rawFor('ann@example.org'), 'List-Unsubscribe')[0] ?? '')?.[1] as string;
    expect(parsed?.html).toContain(`href="${url}"`);
    expect(parsed?.html).toContain(POSTAL);
    expect(parsed?.html).not.toContain('%%');
  });
});

describe('the endpoint (U-4, U-5)', () => {
  it('GET shows a confirmation page whose button POSTs, and changes nothing', async () => {
    const url = localUrl(rawFor('ann@example.org'));
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/<form method="post">/);
    expect(html).toContain('name="List-Unsubscribe" value="One-Click"');
    expect(html).not.toContain('ann@example.org');
    expect((await mailer.subscriptions.get('newsletter', 'ann@example.org'))?.status).toBe('subscribed');
    expect(await mailer.suppression.find('ann@example.org', ['marketing', 'newsletter'], Date.now())).toBeUndefined();
    expect(events).toHaveLength(0);
  });

  it('POST urlencoded (as Gmail sends it, no cookie) answers 200 without redirect and unsubscribes from that list only', async () => {
    const url = localUrl(rawFor('ann@example.org'));
    const res = await fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    const record = await mailer.subscriptions.get('newsletter', 'ann@example.org');
    expect(record).toMatchObject({ status: 'unsubscribed', unsubscribed: { source: 'one-click' }, consent: { source: 'signup-form', proof: '203.0.113.7' } });
    expect(await mailer.suppression.find('ann@example.org', ['marketing', 'newsletter'], Date.now())).toMatchObject({ reason: 'unsubscribe', scope: 'newsletter' });
    expect(await mailer.suppression.find('ann@example.org', ['marketing', 'offers'], Date.now())).toBeUndefined();
    expect(events).toEqual([expect.objectContaining({ type: 'unsubscribed', recipient: 'ann@example.org', list: 'newsletter', provider: 'one-click' })]);
    expect(hooked).toHaveLength(1);
  });

  it('a repeated POST is idempotent: 200, no second event, no change', async () => {
    const url = localUrl(rawFor('ann@example.org'));
    const before = await mailer.subscriptions.get('newsletter', 'ann@example.org');
    const res = await fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(res.status).toBe(200);
    expect(events).toHaveLength(1);
    expect(await mailer.subscriptions.get('newsletter', 'ann@example.org')).toEqual(before);
  });

  it('the next send to that list is suppressed; another list still goes', async () => {
    const before = sink.count;
    expect(await sendTo('ann@example.org', 'newsletter')).toBe('suppressed');
    expect(sink.count).toBe(before);
    expect(await sendTo('ann@example.org', 'offers')).toBe('sent');
  });

  it('POST multipart/form-data unsubscribes too', async () => {
    expect(await sendTo('bob@example.org', 'newsletter')).toBe('sent');
    const form = new FormData();
    form.set('List-Unsubscribe', 'One-Click');
    const res = await fetch(localUrl(rawFor('bob@example.org')), { method: 'POST', redirect: 'manual', body: form });
    expect(res.status).toBe(200);
    expect((await mailer.subscriptions.get('newsletter', 'bob@example.org'))?.status).toBe('unsubscribed');
  });

  it('a tampered token unsubscribes no one (4xx) on GET and POST', async () => {
    expect(await sendTo('cy@example.org', 'newsletter')).toBe('sent');
    const url = localUrl(rawFor('cy@example.org'));
    const i = url.length - 10;
    const tampered = url.slice(0, i) + (url[i] === 'A' ? 'B' : 'A') + url.slice(i + 1);
    const post = await fetch(tampered, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(post.status).toBe(404);
    expect((await fetch(tampered)).status).toBe(404);
    expect((await fetch(`${base}/unsubscribe/not-a-token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' })).status).toBe(400);
    expect((await mailer.subscriptions.get('newsletter', 'cy@example.org'))?.status).toBe('subscribed');
  });

  it('refuses a wrong body, a wrong method, another content type and an oversized body, changing nothing', async () => {
    const url = localUrl(rawFor('cy@example.org'));
    const post = (body: string | Uint8Array, type = 'application/x-www-form-urlencoded') => fetch(url, { method: 'POST', headers: { 'content-type': type }, body });
    expect((await post('List-Unsubscribe=Yes')).status).toBe(400);
    expect((await post('')).status).toBe(400);
    expect((await post('{"List-Unsubscribe":"One-Click"}', 'application/json')).status).toBe(415);
    expect((await post('--x\r\nbroken', 'multipart/form-data; boundary=x')).status).toBe(400);
    expect((await post(new Uint8Array(20_000))).status).toBe(413);
    expect((await fetch(url, { method: 'PUT', body: 'List-Unsubscribe=One-Click' })).status).toBe(405);
    expect((await mailer.subscriptions.get('newsletter', 'cy@example.org'))?.status).toBe('subscribed');
  });
});
