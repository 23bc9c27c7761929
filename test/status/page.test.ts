import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MailErrorCode, createMailer, smtpTransport } from '../../src/index.js';
import type { Mailer } from '../../src/index.js';
import { createMetrics } from '../../src/metrics/index.js';
import { createStatusHandler, toNodeHandler } from '../../src/status/index.js';
import type { StatusHandler, StatusView } from '../../src/status/index.js';
import { startSmtpSink } from '../../src/testing/index.js';
import type { SmtpSink } from '../../src/testing/index.js';
import { launchBrowser } from '../helpers/browser.js';

/** The page's DOM as the callbacks below use it (they run in Chromium; this file compiles without the DOM lib). */
interface PageNode {
  readonly textContent: string | null;
  readonly children: ArrayLike<PageNode>;
}
declare const document: { querySelector(selector: string): PageNode | null; querySelectorAll(selector: string): Iterable<PageNode> };

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function serve(handler: StatusHandler): Promise<string> {
  const server = createServer(toNodeHandler(handler));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/status`;
}

async function setUp(): Promise<{ sink: SmtpSink; mailer: Mailer }> {
  const sink = await startSmtpSink({
    parse: false,
    disableStartTls: true,
    rules: [{ match: '@nosuch.test', reply: { responseCode: 550, enhancedStatus: '5.1.1', text: 'No such user <b id="xss">here</b>, not even postmaster@nosuch.test' } }],
  });
  cleanup.push(() => sink.close());
  const mailer = createMailer({
    transport: smtpTransport({ host: sink.host, port: sink.port, maxConnections: 2 }),
    limits: { domains: { 'slow.test': { ratePerSecond: 15, burst: 1 } } },
  });
  cleanup.push(() => mailer.close({ timeoutMs: 500 }));
  return { sink, mailer };
}

const msg = (to: string, i: number, campaign?: string) => ({
  from: 'News <news@sender.test>',
  to,
  subject: `Issue ${i}`,
  text: 'Hello',
  ...(campaign !== undefined ? { tags: { campaign } } : {}),
});

describe('status page', () => {
  it('loads in Chromium, shows numbers that change while mail is sent, and logs no console error', async () => {
    const { mailer } = await setUp();
    const status = createStatusHandler({ mailer, title: 'Acme <mail>', refreshMs: 250 });
    cleanup.push(() => status.close());
    const url = await serve(status);
    const origin = new URL(url).origin;

    const browser = await launchBrowser();
    cleanup.push(() => browser.close());
    const page = await browser.browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));

    const response = await page.goto(url);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toMatch(/default-src 'none'; script-src 'nonce-/);
    expect(await page.title()).toBe('Acme <mail> status');
    await page.waitForFunction(() => document.querySelector('#updated')?.textContent?.startsWith('updated'));
    expect(await page.textContent('#transport')).toBe('smtp up');

    // 45 messages at 15/s to slow.test (a campaign), and two unknown users.
    for (let i = 0; i < 45; i++) await mailer.send(msg(`reader${i}@slow.test`, i, 'spring'), { priority: 'bulk' });
    await mailer.send(msg('bob@nosuch.test', 0));
    await mailer.send(msg('amy@nosuch.test', 1));

    const sentKpi = '#kpis-body td[data-kpi="sent"] .big';
    const readSent = async (): Promise<number> => Number((await page.textContent(sentKpi))?.replace(/,/g, ''));
    await page.waitForFunction((sel) => Number(document.querySelector(sel)?.textContent) > 0, sentKpi);
    const first = await readSent();
    await page.waitForFunction(([sel, n]) => Number(document.querySelector(sel as string)?.textContent) > (n as number), [sentKpi, first] as const);
    const second = await readSent();
    expect(second).toBeGreaterThan(first);
    // While the campaign drains: bulk jobs wait in their lane, slow.test is listed with a rate.
    await page.waitForFunction(() => [...document.querySelectorAll('#lanes tr')].some((tr) => tr.children[0]?.textContent === 'bulk' && Number(tr.children[1]?.textContent) > 0));
    await page.waitForFunction(() => [...document.querySelectorAll('#domains tr')].some((tr) => tr.children[0]?.textContent === 'slow.test' && Number(tr.children[3]?.textContent) > 0));
    const campaignRow = await page.textContent('#campaigns tr');
    expect(campaignRow).toMatch(/^spring45\d+/);

    await mailer.onIdle();
    await page.waitForFunction(() => document.querySelector('#kpis-body td[data-kpi="sent"] .big')?.textContent === '45');
    await page.waitForFunction(() => document.querySelector('#campaigns tr')?.textContent?.endsWith('100%') === true);
    const failures = await page.$$eval('#failures tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    expect(failures).toHaveLength(2);
    expect(failures.map((f) => f[4]).sort()).toEqual(['a***@nosuch.test', 'b***@nosuch.test']);
    expect(failures[0]![2]).toBe('failed (permanent)');
    expect(failures[0]![3]).toBe('PERMANENT 550');
    // A server's answer is shown as text, never as markup.
    expect(failures[0]![5]).toContain('<b id="xss">here</b>');
    // Addresses quoted in a server's answer are masked like the recipients.
    expect(failures[0]![5]).toContain('not even p***@nosuch.test');
    expect(failures[0]![5]).not.toContain('postmaster@');
    expect(await page.$('#xss')).toBeNull();
    expect(await page.textContent('#kpis-body td[data-kpi="queued"] .big')).toBe('0');

    expect(problems).toEqual([]);
    expect(requests.length).toBeGreaterThan(3);
    expect(requests.filter((r) => !r.startsWith(origin))).toEqual([]);
  }, 60_000);

  it('answers the JSON view, 405 for other methods, 403 when authorize refuses, 400 for an unknown format', async () => {
    const { mailer } = await setUp();
    const metrics = createMetrics();
    metrics.observe(mailer);
    const status = createStatusHandler({ mailer, metrics, authorize: (req) => req.headers.get('x-token') === 'secret' });
    const url = await serve(status);
    const headers = { 'x-token': 'secret' };
    expect((await fetch(url)).status).toBe(403);
    expect((await fetch(url, { headers: { 'x-token': 'nope' } })).status).toBe(403);
    expect((await fetch(url, { method: 'POST', headers, body: '{}' })).status).toBe(405);
    expect((await fetch(`${url}?format=xml`, { headers })).status).toBe(400);
    await (await mailer.send(msg('ann@ok.test', 0, 'c1'))).done();
    const res = await fetch(`${url}?format=json`, { headers });
    expect(res.status).toBe(200);
    const view = (await res.json()) as StatusView;
    expect(view.totals.sent).toBe(1);
    expect(view.transport).toEqual({ name: 'smtp', paused: false, throttled: false, ratePerSecond: null, down: null });
    expect(view.domains.find((d) => d.domain === 'ok.test')).toMatchObject({ sent: 1, queued: 0 });
    expect(view.campaigns).toEqual([expect.objectContaining({ id: 'c1', queued: 1, sent: 1, pending: 0 })]);
    const viaAccept = await fetch(url, { headers: { ...headers, accept: 'application/json' } });
    expect(viaAccept.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('refuses bad options with CONFIG errors', async () => {
    const { mailer } = await setUp();
    expect(() => createStatusHandler({} as never)).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
    expect(() => createStatusHandler({ mailer, refreshMs: 10 })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
    expect(() => createStatusHandler({ mailer, title: '' })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
    // A collector watching another mailer (or none) would show the wrong figures.
    expect(() => createStatusHandler({ mailer, metrics: createMetrics() })).toThrow(expect.objectContaining({ code: MailErrorCode.CONFIG }));
  });
});
