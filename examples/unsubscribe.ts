/**
 * One-click unsubscribe and consent, end to end on this machine: a mailer with `unsubscribe`
 * and `postalAddress` sends a marketing message to a local SMTP sink, the unsubscribe endpoint
 * runs on node:http, a GET shows the confirmation page (and changes nothing), a one-click POST
 * unsubscribes from that list only, the next send of that list is suppressed while another
 * list still goes, and a resubscribe with fresh consent brings the address back.
 *
 * Run: npx tsx examples/unsubscribe.ts
 */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMailer, smtpTransport } from '../src/index.js';
import type { MessageInput } from '../src/index.js';
import { startSmtpSink } from '../src/testing/index.js';
import { createUnsubscribeHandler, getSubscription, resubscribeAddress, subscribeAddress, toNodeHandler } from '../src/unsubscribe/index.js';

const sink = await startSmtpSink({ keepRaw: true });
const mailer = createMailer({
  transport: smtpTransport({ host: sink.host, port: sink.port }),
  // The https address users see; a TLS proxy would forward it to the server below.
  unsubscribe: { url: 'https://u.acme.test/unsubscribe', secrets: ['example-secret-change-me-0001'] },
  postalAddress: 'Acme Inc., 1 Main Street, Springfield, USA',
});
const server = createServer(toNodeHandler(createUnsubscribeHandler({ mailer })));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const local = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
mailer.on('feedback', (e) => console.log(`feedback event: ${e.type} ${e.recipient}, list ${e.list ?? '(all marketing)'} (${e.provider})`));

const ann = 'ann@example.org';
await subscribeAddress(mailer, 'weekly', ann, { at: Date.now() - 60_000, source: 'signup-form', proof: '203.0.113.7' });
await subscribeAddress(mailer, 'offers', ann, { at: Date.now() - 60_000, source: 'checkout' });

const issue = (list: string, n: number): MessageInput => ({
  from: 'Acme News <news@acme.test>',
  to: ann,
  subject: `Acme ${list} #${n}`,
  html: `<p>Issue ${n} of ${list}.</p><p><a href="%%unsubscribe_url%%">Unsubscribe</a> · %%postal_address%%</p>`,
  category: 'marketing',
  list,
});
const status = async (list: string, n: number): Promise<string> => (await (await mailer.send(issue(list, n))).done()).recipients[0]?.status ?? '?';

console.log(`weekly #1 to ${ann}: ${await status('weekly', 1)}`);
// The header block as received, long fields unfolded.
const raw = (sink.messages[sink.messages.length - 1]?.raw?.toString('latin1') ?? '').split('\r\n\r\n')[0]!.replace(/\r\n[ \t]+/g, ' ');
const header = /^List-Unsubscribe:\s*(.*)$/m.exec(raw)?.[1] ?? '';
const link = /<(https:[^>]+)>/.exec(header)?.[1] ?? '';
console.log(`List-Unsubscribe: <https://u.acme.test/unsubscribe/<token of ${link.length - 'https://u.acme.test/unsubscribe/'.length} chars>>`);
console.log(`List-Unsubscribe-Post: ${/^List-Unsubscribe-Post: (.*)$/m.exec(raw)?.[1]?.trim()}`);
const url = local + new URL(link).pathname;

const page = await fetch(url);
console.log(`GET the link -> ${page.status}, a page with a button (${(await page.text()).includes('<form method="post">') ? 'form found' : 'no form'}); still ${(await getSubscription(mailer, 'weekly', ann))?.status}`);

const form = new FormData();
form.set('List-Unsubscribe', 'One-Click');
const post = await fetch(url, { method: 'POST', body: form, redirect: 'manual' });
console.log(`one-click POST (multipart) -> ${post.status}, Location: ${post.headers.get('location') ?? 'none'}; now ${(await getSubscription(mailer, 'weekly', ann))?.status}`);

console.log(`weekly #2: ${await status('weekly', 2)}; offers #1: ${await status('offers', 1)}`);
await resubscribeAddress(mailer, 'weekly', ann, { at: Date.now(), source: 'double-opt-in', proof: 'confirmation 7f3a' });
console.log(`after resubscribing with fresh consent, weekly #3: ${await status('weekly', 3)}`);

await new Promise((resolve) => server.close(resolve));
const closed = await mailer.close();
await sink.close();
console.log(`Mailer closed cleanly (${closed.pending} jobs left).`);
