/**
 * A real headless Chromium opens a tracked message served from 127.0.0.1 and clicks a rewritten
 * link: it goes through the tracking handler and lands on the original page (a second server on
 * 127.0.0.1), with the query string and fragment intact and without the token as a referrer.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { FeedbackEvent } from '../../src/feedback/event.js';
import { createMailer } from '../../src/mailer/index.js';
import memoryTransport from '../../src/transports/memory.js';
import { createTrackingHandler } from '../../src/tracking/index.js';
import { launchBrowser } from '../helpers/browser.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';

describe('a browser click on a tracked link', () => {
  it('lands on the original page and is reported as a human click', async () => {
    // The destination site.
    const landed: { url: string; headers: IncomingHttpHeaders }[] = [];
    const site = await listen(
      createServer((req, res) => {
        landed.push({ url: req.url!, headers: req.headers });
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>Landing</title><h1 id="landing">The original page</h1>');
      }),
    );
    // The mail "client" and the tracking handler, on another server.
    let mailHtml = '';
    const mailServer = createServer();
    const mailBase = await listen(mailServer);
    const mailer = createMailer({ transport: memoryTransport(), tracking: { url: `${mailBase}/t`, secrets: ['a-tracking-secret-of-32-bytes!!!'] } });
    cleanup.push(() => mailer.close());
    const handler = createTrackingHandler({ mailer, scanWindowMs: 0 });
    mailServer.on('request', (req, res) => {
      if (req.url!.startsWith('/t/')) return handler.node(req, res);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(mailHtml);
    });
    const events: FeedbackEvent[] = [];
    mailer.on('feedback', (e) => void events.push(e));

    const original = `${site}/sale/ünï?q=1&amp;name=Zoë#details`;
    const receipt = await mailer.send(
      {
        from: 'news@example.com',
        to: 'ann@example.org',
        subject: 'Sale',
        html: `<!doctype html><html><body><p>Hello</p><a id="go" HREF='${original}'>Go to the sale</a></body></html>`,
        campaign: 'browser-test',
      },
      { track: true },
    );
    mailHtml = receipt.message.html!;
    expect(mailHtml).not.toContain(site); // the original URL is nowhere in clear

    const browser = await launchBrowser();
    cleanup.push(() => browser.close());
    await browser.browser.setExtraHTTPHeaders({ 'user-agent': UA });
    const page = await browser.browser.newPage();
    await page.goto(`${mailBase}/mail`);
    // The pixel is a real image to the browser: 1x1.
    await page.waitForFunction("(() => { const img = document.querySelector('img'); return img !== null && img.complete && img.naturalWidth === 1; })()");
    await Promise.all([page.waitForURL((u) => u.href.startsWith(site)), page.click('#go')]);
    const expected = new URL(`${site}/sale/ünï?q=1&name=Zoë#details`).href;
    expect(page.url()).toBe(expected);
    expect(await page.textContent('#landing')).toBe('The original page');
    const pages = landed.filter((l) => l.url !== '/favicon.ico');
    expect(pages.map((l) => l.url)).toEqual([new URL(expected).pathname + new URL(expected).search]);
    expect(pages[0]!.headers.referer).toBeUndefined(); // Referrer-Policy: no-referrer on the redirect

    await handler.settled();
    const click = events.find((e) => e.type === 'clicked')!;
    expect(click).toMatchObject({ recipient: 'ann@example.org', campaign: 'browser-test', url: `${site}/sale/ünï?q=1&name=Zoë#details`, machineClick: false, userAgent: UA });
    expect(events.find((e) => e.type === 'opened')).toMatchObject({ machineOpen: false });
  }, 60_000);
});
