/**
 * Open and click tracking, end to end on 127.0.0.1: a mailer with `tracking`, a shop page, the
 * tracking handler on node:http, three newsletter recipients of whom two consented to tracking,
 * then a reader's click and pixel load (fetch standing in for a mail client) and an Apple Mail
 * Privacy Protection prefetch.
 *
 * Run: npx tsx examples/tracking.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMailer, memoryTransport } from '../src/index.js';
import { createTrackingHandler } from '../src/tracking/index.js';

async function listen(server: ReturnType<typeof createServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// The shop the newsletter links to.
const shop = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`shop page ${req.url}\n`));
const shopUrl = await listen(shop);

// The tracking endpoint, and a mailer whose links point to it.
const tracker = createServer();
const trackerUrl = await listen(tracker);
const transport = memoryTransport();
const mailer = createMailer({ transport, tracking: { url: `${trackerUrl}/t`, secrets: ['an example secret, 16+ bytes long'] } });
const handler = createTrackingHandler({ mailer, scanWindowMs: 0 });
tracker.on('request', handler.node);

mailer.on('feedback', (e) => {
  const flag = e.type === 'opened' ? (e.machineOpen ? ` machine (${e.machineRule})` : ' human') : e.machineClick ? ` machine (${e.machineRule})` : ' human';
  console.log(`feedback: ${e.type} by ${e.recipient}${e.url === undefined ? '' : ` -> ${e.url}`},${flag}, campaign ${e.campaign}`);
});

const html = `<html><body><h1>Spring sale</h1>
<p><a href="${shopUrl}/sale?utm_source=newsletter&amp;utm_medium=email">See the sale</a></p>
<p><a href="mailto:help@shop.example">Questions?</a></p></body></html>`;
const subscribers = [
  { email: 'ann@example.org', trackingConsent: true },
  { email: 'bob@example.org', trackingConsent: false },
  { email: 'cy@example.org', trackingConsent: true },
];
const result = await mailer.sendMany(
  subscribers.map((s) => ({ message: { from: 'news@shop.example', to: s.email, subject: 'Spring sale', html }, options: { track: s.trackingConsent } })),
  { campaign: 'spring' },
);
await mailer.onIdle();
console.log(`campaign queued: ${result.queued}; tracked: ${transport.sent.filter((m) => m.message.html?.includes('/t/c/')).map((m) => m.message.to[0]!.address).join(', ')}`);

// Ann opens the mail and clicks; Cy's mail is prefetched by Apple's proxy.
const ann = transport.sent.find((m) => m.message.to[0]!.address === 'ann@example.org')!.message.html!;
const link = /href="([^"]+\/t\/c\/[^"]+)"/.exec(ann)![1]!;
console.log(`Ann's link: ${link.slice(0, 60)}... (${link.length} characters, nothing readable)`);
const browser = { 'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15' };
const click = await fetch(link, { headers: browser });
console.log(`click: ${click.url === link ? click.status : `landed on ${click.url}`}: ${(await click.text()).trim()}`);
await fetch(/<img src="([^"]+)"/.exec(ann)![1]!, { headers: browser });
const cy = transport.sent.find((m) => m.message.to[0]!.address === 'cy@example.org')!.message.html!;
await fetch(/<img src="([^"]+)"/.exec(cy)![1]!, { headers: { 'user-agent': 'Mozilla/5.0' } });
const forged = await fetch(link.slice(0, -2) + (link.endsWith('AA') ? 'BB' : 'AA'), { redirect: 'manual' });
console.log(`a tampered link: ${forged.status}, Location ${forged.headers.get('location') ?? 'none'}`);

await handler.settled();
const counts = (await mailer.store.campaigns?.get('spring'))?.counts ?? {};
const tracked = Object.entries(counts).filter(([k]) => k.startsWith('opened') || k.startsWith('clicked'));
console.log(`campaign 'spring' counters: ${tracked.sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${v}`).join(', ')}`);

await mailer.close();
shop.close();
tracker.close();
