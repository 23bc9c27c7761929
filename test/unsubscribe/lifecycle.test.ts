/**
 * The refusal of non-compliant marketing mail (L-1, MAILPUSH_ERR_COMPLIANCE), the rotation and
 * lifetime of links through the real HTTP handler with an injected clock, subscriptions with
 * consent and resubscribe, list iteration, and the confirmation page in a real Chromium.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MailErrorCode } from '../../src/errors.js';
import type { FeedbackEvent } from '../../src/feedback/event.js';
import { createMailer } from '../../src/mailer/index.js';
import type { Mailer, MailerOptions, SendOptions } from '../../src/mailer/options.js';
import memoryTransport from '../../src/transports/memory.js';
import type { MemoryTransport } from '../../src/transports/memory.js';
import type { MessageInput } from '../../src/types.js';
import {
  createUnsubscribeHandler,
  getSubscription,
  listMembers,
  resubscribeAddress,
  subscribeAddress,
  toNodeHandler,
  unsubscribeAddress,
} from '../../src/unsubscribe/index.js';
import type { UnsubscribeHandler } from '../../src/unsubscribe/index.js';
import { launchBrowser } from '../helpers/browser.js';

const DAY = 86_400_000;
const OLD = 'old-secret-of-the-lifecycle-test';
const NEW = 'new-secret-of-the-lifecycle-test';
const POSTAL = 'Shop Inc., 1 Main Street, Springfield';
const UNSUB = { url: 'https://u.shop.example/unsubscribe', secrets: [OLD] };

const open: { mailers: Mailer[]; servers: Server[] } = { mailers: [], servers: [] };
afterEach(async () => {
  await Promise.all(open.servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await Promise.all(open.mailers.splice(0).map((m) => m.close()));
});

function mailerWith(options: Partial<MailerOptions> = {}): Mailer & { transport: MemoryTransport } {
  const mailer = createMailer({ transport: memoryTransport(), ...options });
  open.mailers.push(mailer);
  return mailer as Mailer & { transport: MemoryTransport };
}

const news = (to: NonNullable<MessageInput['to']>, extra: { -readonly [K in keyof MessageInput]?: MessageInput[K] | undefined } = {}): MessageInput => {
  const m: Record<string, unknown> = { from: 'news@shop.example', to, subject: 'News', text: 'Hello', category: 'marketing', list: 'newsletter', ...extra };
  for (const k of Object.keys(m)) if (m[k] === undefined) delete m[k];
  return m as unknown as MessageInput;
};

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

async function serve(handler: UnsubscribeHandler): Promise<string> {
  const server = createServer(toNodeHandler(handler));
  open.servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The local URL of the List-Unsubscribe link of the last message sent to `to`. */
function linkOf(mailer: { transport: MemoryTransport }, to: string, base: string): string {
  const sent = [...mailer.transport.sent].reverse().find((s) => s.envelope.to.includes(to));
  const value = sent?.message.headers.find(([n]) => n === 'List-Unsubscribe')?.[1] ?? '';
  const url = /<(https:[^>]+)>/.exec(value)?.[1];
  if (url === undefined) throw new Error(`no link for ${to}`);
  return base + new URL(url).pathname;
}

const oneClick = (url: string) => fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });

describe('marketing mail without what the rules require is refused (L-1)', () => {
  it('without unsubscribe, without a postal address, or to several recipients: MAILPUSH_ERR_COMPLIANCE, nothing queued', async () => {
    const bare = mailerWith();
    expect(await codeOf(bare.send(news('ann@example.org')))).toBe(MailErrorCode.COMPLIANCE);
    const noPostal = mailerWith({ unsubscribe: UNSUB });
    expect(await codeOf(noPostal.send(news('ann@example.org')))).toBe(MailErrorCode.COMPLIANCE);
    const full = mailerWith({ unsubscribe: UNSUB, postalAddress: POSTAL });
    expect(await codeOf(full.send(news(['ann@example.org', 'bob@example.org'])))).toBe(MailErrorCode.COMPLIANCE);
    expect(await codeOf(full.send(news('ann@example.org', { cc: 'bob@example.org' })))).toBe(MailErrorCode.COMPLIANCE);
    await Promise.all([bare, noPostal, full].map((m) => m.onIdle()));
    expect(bare.transport.count + noPostal.transport.count + full.transport.count).toBe(0);
  });

  it('transactional mail is not concerned', async () => {
    const bare = mailerWith();
    const receipt = await bare.send({ from: 'shop@shop.example', to: ['ann@example.org', 'bob@example.org'], subject: 'Receipt', text: 'Thanks' });
    expect((await receipt.done()).status).toBe('sent');
    expect(receipt.message.headers.some(([n]) => n === 'List-Unsubscribe')).toBe(false);
  });

  it('skipMarketingCompliance waives it per message; a non-boolean is refused', async () => {
    const bare = mailerWith();
    const skip: SendOptions = { skipMarketingCompliance: true };
    expect((await (await bare.send(news('ann@example.org'), skip)).done()).status).toBe('sent');
    expect(await codeOf(bare.send(news('ann@example.org'), { skipMarketingCompliance: 'yes' as never }))).toBe(MailErrorCode.VALIDATION);
    const full = mailerWith({ unsubscribe: UNSUB, postalAddress: POSTAL });
    const many = await full.send(news(['ann@example.org', 'bob@example.org']), skip);
    expect(many.message.headers.some(([n]) => n.startsWith('List-Unsubscribe'))).toBe(false);
  });

  it('adds the link and the postal address as a footer when the body has no placeholder', async () => {
    const full = mailerWith({ unsubscribe: UNSUB, postalAddress: POSTAL });
    const r = await full.send(news('ann@example.org', { html: '<html><body><p>Hi</p></body></html>', text: 'Hi' }));
    const url = /<(https:[^>]+)>/.exec(r.message.headers.find(([n]) => n === 'List-Unsubscribe')?.[1] ?? '')?.[1] as string;
    expect(r.message.html).toMatch(new RegExp(`<a href="${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}">Unsubscribe</a><br>Shop Inc\\., 1 Main Street, Springfield</p></body></html>$`));
    expect(r.message.text).toContain(`Unsubscribe: ${url}\n${POSTAL}`);
    expect(r.message.sizeBytes).toBeGreaterThan(url.length * 2);
  });

  it('refuses a List-Unsubscribe header given by hand and a bad list name', async () => {
    const full = mailerWith({ unsubscribe: UNSUB, postalAddress: POSTAL });
    expect(await codeOf(full.send(news('ann@example.org', { headers: { 'List-Unsubscribe': '<https://elsewhere.example/u>' } })))).toBe(MailErrorCode.INVALID_HEADER);
    expect(await codeOf(full.send(news('ann@example.org', { list: 'marketing' })))).toBe(MailErrorCode.VALIDATION);
    expect(await codeOf(full.send(news('ann@example.org', { list: 'two words' })))).toBe(MailErrorCode.VALIDATION);
  });
});

describe('links through the HTTP handler', () => {
  it('survive a secret rotation: links signed with the old secret still unsubscribe', async () => {
    const before = mailerWith({ unsubscribe: UNSUB, postalAddress: POSTAL });
    await before.send(news('ann@example.org'));
    await before.onIdle();
    const after = mailerWith({ unsubscribe: { ...UNSUB, secrets: [NEW, OLD] }, postalAddress: POSTAL });
    const base = await serve(createUnsubscribeHandler({ mailer: after }));
    const res = await oneClick(linkOf(before, 'ann@example.org', base));
    expect(res.status).toBe(200);
    expect((await getSubscription(after, 'newsletter', 'ann@example.org'))?.status).toBe('unsubscribed');
    // After the rotation, the old-secret-only endpoint no longer knows the new links.
    await after.send(news('bob@example.org', { list: 'offers' }));
    await after.onIdle();
    const oldOnly = await serve(createUnsubscribeHandler({ mailer: before }));
    expect((await oneClick(linkOf(after, 'bob@example.org', oldOnly))).status).toBe(404);
    expect(await getSubscription(before, 'offers', 'bob@example.org')).toBeUndefined();
  });

  it('work 60 days later and stop after the lifetime, with an injected clock', async () => {
    const t0 = Date.now();
    const mailer = mailerWith({ unsubscribe: { ...UNSUB, tokenTtlMs: 90 * DAY }, postalAddress: POSTAL });
    await mailer.send(news('ann@example.org'));
    await mailer.send(news('cy@example.org'));
    await mailer.onIdle();
    let now = t0 + 60 * DAY;
    const base = await serve(createUnsubscribeHandler({ mailer, now: () => now }));
    expect((await fetch(linkOf(mailer, 'ann@example.org', base))).status).toBe(200);
    expect((await oneClick(linkOf(mailer, 'ann@example.org', base))).status).toBe(200);
    expect((await getSubscription(mailer, 'newsletter', 'ann@example.org'))?.unsubscribed?.at).toBe(t0 + 60 * DAY);
    now = t0 + 91 * DAY;
    expect((await oneClick(linkOf(mailer, 'cy@example.org', base))).status).toBe(410);
    expect(await getSubscription(mailer, 'newsletter', 'cy@example.org')).toBeUndefined();
  });

  it('a link of a marketing message without a list suppresses marketing mail, nothing else; the event names the campaign', async () => {
    const mailer = mailerWith({ unsubscribe: UNSUB, postalAddress: POSTAL });
    const events: FeedbackEvent[] = [];
    mailer.on('feedback', (e) => void events.push(e));
    const r = await mailer.send(news('ann@example.org', { list: undefined, campaign: 'spring-1' }));
    await r.done();
    const base = await serve(createUnsubscribeHandler({ mailer }));
    expect((await oneClick(linkOf(mailer, 'ann@example.org', base))).status).toBe(200);
    expect(events).toEqual([expect.objectContaining({ type: 'unsubscribed', recipient: 'ann@example.org', campaign: 'spring-1' })]);
    expect(events[0]?.list).toBeUndefined();
    expect(await mailer.suppression.find('ann@example.org', ['marketing'], Date.now())).toMatchObject({ reason: 'unsubscribe', scope: 'marketing' });
    const next = await (await mailer.send(news('ann@example.org', { list: undefined }))).done();
    expect(next.recipients[0]).toMatchObject({ status: 'suppressed', error: { code: MailErrorCode.SUPPRESSED } });
    const receipt = await (await mailer.send({ from: 'shop@shop.example', to: 'ann@example.org', subject: 'Receipt', text: 'Thanks' })).done();
    expect(receipt.status).toBe('sent');
  });

  it('a failing store answers 503 with Retry-After, and the retry succeeds once it is back', async () => {
    const { memorySubscriptionStore } = await import('../../src/stores/subscriptions-memory.js');
    const real = memorySubscriptionStore();
    let down = true;
    const flaky = { ...real, unsubscribe: (...args: Parameters<typeof real.unsubscribe>) => (down ? Promise.reject(new Error('disk on fire')) : real.unsubscribe(...args)) };
    const { memoryStore } = await import('../../src/stores/memory-store.js');
    const mailer = mailerWith({ unsubscribe: UNSUB, postalAddress: POSTAL, store: { ...memoryStore(), subscriptions: flaky } });
    await mailer.send(news('ann@example.org'));
    await mailer.onIdle();
    const base = await serve(createUnsubscribeHandler({ mailer }));
    const failed = await oneClick(linkOf(mailer, 'ann@example.org', base));
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('60');
    expect(await mailer.suppression.find('ann@example.org', ['newsletter'], Date.now())).toBeUndefined();
    down = false;
    expect((await oneClick(linkOf(mailer, 'ann@example.org', base))).status).toBe(200);
    expect((await real.get('newsletter', 'ann@example.org'))?.status).toBe('unsubscribed');
  });

  it('the confirmation page works in a real browser: loading it changes nothing, its button unsubscribes', async () => {
    const mailer = mailerWith({ unsubscribe: UNSUB, postalAddress: POSTAL });
    await subscribeAddress(mailer, 'newsletter', 'ann@example.org', { at: Date.now() - 1, source: 'signup-form' });
    await mailer.send(news('ann@example.org'));
    await mailer.onIdle();
    const base = await serve(createUnsubscribeHandler({ mailer }));
    const browser = await launchBrowser();
    try {
      const page = await browser.browser.newPage();
      const res = await page.goto(linkOf(mailer, 'ann@example.org', base));
      expect(res?.status()).toBe(200);
      expect(await page.textContent('h1')).toBe('Unsubscribe');
      expect((await getSubscription(mailer, 'newsletter', 'ann@example.org'))?.status).toBe('subscribed');
      await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
      expect(await page.textContent('h1')).toBe('Unsubscribed');
      expect((await getSubscription(mailer, 'newsletter', 'ann@example.org'))?.status).toBe('unsubscribed');
    } finally {
      await browser.close();
    }
  }, 60_000);
});

describe('requireConsent (L-2: a consent record is required)', () => {
  it('delivers a list message only to recipients subscribed to that list, reports the others as suppressed, and needs a list', async () => {
    const mailer = mailerWith({ unsubscribe: { ...UNSUB, requireConsent: true }, postalAddress: POSTAL });
    await subscribeAddress(mailer, 'newsletter', 'ann@example.org', { at: Date.now() - 5, source: 'signup-form', proof: '203.0.113.7' });
    await subscribeAddress(mailer, 'newsletter', 'bob@example.org', { at: Date.now() - 5, source: 'signup-form' });
    await unsubscribeAddress(mailer, 'newsletter', 'bob@example.org', { at: Date.now() - 1, source: 'preferences-page' });
    const status = async (to: string, list = 'newsletter') => (await (await mailer.send(news(to, { list }))).done()).recipients[0];
    expect((await status('ann@example.org'))?.status).toBe('sent');
    expect(await status('cy@example.org')).toMatchObject({ status: 'suppressed', error: { code: MailErrorCode.SUPPRESSED, message: expect.stringContaining('manual') } });
    expect(await status('bob@example.org')).toMatchObject({ status: 'suppressed', error: { message: expect.stringContaining('unsubscribe') } });
    expect((await status('ann@example.org', 'offers'))?.status).toBe('suppressed');
    expect(mailer.transport.count).toBe(1);
    expect(await codeOf(mailer.send(news('ann@example.org', { list: undefined })))).toBe(MailErrorCode.COMPLIANCE);
    // Transactional mail is not concerned.
    expect((await (await mailer.send({ from: 'shop@shop.example', to: 'cy@example.org', subject: 'Receipt', text: 'Thanks', list: 'newsletter' })).done()).status).toBe('sent');
  });

  it('is off by default: without it, a list message goes to whoever it is addressed to', async () => {
    const mailer = mailerWith({ unsubscribe: UNSUB, postalAddress: POSTAL });
    expect((await (await mailer.send(news('cy@example.org'))).done()).status).toBe('sent');
  });
});

describe('subscriptions', () => {
  it('keep consent, skip the unsubscribed in list iteration, and resubscribe only with fresh consent', async () => {
    const mailer = mailerWith({ unsubscribe: UNSUB, postalAddress: POSTAL });
    const events: FeedbackEvent[] = [];
    mailer.on('feedback', (e) => void events.push(e));
    const t = Date.now() - 10_000;
    for (const a of ['cy@example.org', 'ann@example.org', 'bob@example.org']) await subscribeAddress(mailer, 'newsletter', a, { at: t, source: 'signup-form', proof: 'form 12' });
    await subscribeAddress(mailer, 'offers', 'ann@example.org', { at: t, source: 'checkout' });
    await unsubscribeAddress(mailer, 'newsletter', 'ann@example.org', { at: t + 1000, source: 'preferences-page' });
    const members: string[] = [];
    for await (const a of listMembers(mailer.subscriptions, 'newsletter', { pageSize: 1 })) members.push(a);
    expect(members).toEqual(['bob@example.org', 'cy@example.org']);
    // Delivery skips the unsubscribed address for that list only, and says why.
    const skipped = await (await mailer.send(news('ann@example.org'))).done();
    expect(skipped.recipients[0]).toMatchObject({ status: 'suppressed', error: { code: MailErrorCode.SUPPRESSED, message: expect.stringContaining('unsubscribe') } });
    expect((await (await mailer.send(news('ann@example.org', { list: 'offers' }))).done()).status).toBe('sent');
    // An old import cannot bring the address back; a fresh consent can.
    expect((await subscribeAddress(mailer, 'newsletter', 'ann@example.org', { at: t + 2000, source: 'import' })).changed).toBe(false);
    expect(await codeOf(resubscribeAddress(mailer, 'newsletter', 'ann@example.org', { at: t + 500, source: 'double-opt-in' }))).toBe(MailErrorCode.VALIDATION);
    await resubscribeAddress(mailer, 'newsletter', 'ann@example.org', { at: t + 3000, source: 'double-opt-in', proof: 'confirm 7f3a' });
    expect(events.map((e) => [e.type, e.list])).toEqual([
      ['unsubscribed', 'newsletter'],
      ['resubscribed', 'newsletter'],
    ]);
    expect((await (await mailer.send(news('ann@example.org'))).done()).status).toBe('sent');
  });
});

