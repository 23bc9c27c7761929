/**
 * Sending through Amazon SES, offline: the real AWS SDK talks to the local SES v2 fake from
 * mailpush/testing, which answers like SES does (message ids, throttling, rejected senders).
 *
 * The mailer sends order confirmations through `sesTransport` at the account's send rate,
 * with a configuration set and message tags for SES event publishing. On the way SES answers
 * "Maximum sending rate exceeded" twice (the mailer slows the whole transport down and
 * retries), and refuses one message from an unverified sender (a permanent failure).
 *
 *   npx tsx examples/ses.ts                              # 40 messages and a 5 MB invoice
 *   MAILPUSH_EXAMPLE_QUICK=1 npx tsx examples/ses.ts     # 10 messages and the invoice, a few seconds
 *
 * Against real SES, drop `endpoint` and `credentials` (the SDK finds credentials in the
 * environment, shared config or the instance role) and set your region. In your
 * application, import from 'mailpush', 'mailpush/transports/ses' and 'mailpush/testing'
 * instead of ../src.
 *
 * @module
 */

// AWS SDK releases from 2027 need Node 22, and the SDK says so once on older Node versions;
// silenced here to keep the example's output to what mailpush does.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { createMailer } from '../src/index.js';
import type { MessageInput } from '../src/index.js';
import { startSesServer } from '../src/testing/ses-server.js';
import sesTransport from '../src/transports/ses.js';

const QUICK = process.env.MAILPUSH_EXAMPLE_QUICK === '1';
const ORDERS = QUICK ? 10 : 40;
// SES accounts out of the sandbox start around 14 messages per second.
const SEND_RATE = 14;

const ses = await startSesServer({
  configurationSets: ['order-events'],
  verifiedIdentities: ['shop.example'],
  maxSendRate: SEND_RATE,
});
console.log(`mailpush + Amazon SES: local SES v2 fake at ${ses.endpoint} (${ses.region}), ${ORDERS} order confirmations`);

const transport = sesTransport({
  region: ses.region,
  endpoint: ses.endpoint,
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example-secret' },
  configurationSetName: 'order-events',
  // The mailer never goes faster than the account allows; SES would answer 429 otherwise.
  ratePerSecond: SEND_RATE,
});
await transport.verify?.();
console.log('verify(): credentials accepted, sending enabled');

const mailer = createMailer({ transport });
const started = Date.now();
const sentIds: string[] = [];
mailer.on('sent', (e) => {
  sentIds.push(e.providerMessageId ?? '');
  console.log(`sent    ${e.recipients.join(', ').padEnd(28)} SES MessageId ${e.providerMessageId ?? '(none)'}`);
});
mailer.on('throttled', (e) => {
  console.log(`throttled (${e.scope}): ${e.error.message} Resuming in ${Math.max(0, e.pausedUntil - Date.now())} ms at ${e.ratePerSecond.toFixed(1)}/s.`);
});
let throttledSends = 0;
mailer.on('deferred', (e) => {
  if (e.throttled) throttledSends++;
  else console.log(`deferred ${e.recipients.join(', ')}: ${e.error.message}`);
});
mailer.on('failed', (e) => {
  console.log(`failed  ${e.recipients.join(', ')}: ${e.error.code} ${e.error.message}`);
});

// SES answers a burst over the account rate with 429 TooManyRequestsException.
ses.failNext(2, 'TooManyRequestsException');

const orders: MessageInput[] = Array.from({ length: ORDERS }, (_, i) => ({
  from: 'Shop <orders@shop.example>',
  to: `customer${i + 1}@example.com`,
  // Bcc recipients only travel in the SES destination, never in the MIME headers.
  ...(i === 0 ? { bcc: 'audit@shop.example' } : {}),
  subject: `Order #${1000 + i} confirmed`,
  text: `Thanks for your order #${1000 + i}. We will let you know when it ships.`,
  tags: { campaign: 'order-confirmation', 'order.id': String(1000 + i) },
}));
// Not a verified identity: SES refuses it with MessageRejected.
orders.push({ from: 'promo@unverified.example', to: 'customer1@example.com', subject: 'Flash sale', text: 'Everything must go.' });

const receipts = [];
for (const order of orders) receipts.push(await mailer.send(order));
await mailer.onIdle();
const reports = await Promise.all(receipts.map((r) => r.done()));

// A large message: an order with its 5 MB invoice (6.8 MB of base64). Above 256 KiB the
// transport gives the SDK a placeholder and puts the base64 body in by slices, then streams the
// request, so the mailer never holds the host's event loop for long (bench/large-message.ts
// measures it against a sink in another process; here the SES fake parses the request in this
// one, which a real SES endpoint does not).
const invoice = Buffer.alloc(5 * 1024 * 1024, '%PDF-1.7 invoice ');
const requestsBefore = ses.requests;
const large = await mailer.send({
  from: 'Shop <orders@shop.example>',
  to: 'customer1@example.com',
  subject: 'Your invoice for order #1000',
  text: 'Your invoice is attached.',
  attachments: [{ filename: 'invoice-1000.pdf', content: invoice, contentType: 'application/pdf' }],
});
const largeReport = await large.done();
const largeRequests = ses.requests - requestsBefore;
await mailer.close();

const first = ses.messages[0];
console.log('');
console.log(`${reports.filter((r) => r.status === 'sent').length} messages sent, ${reports.filter((r) => r.status === 'failed').length} failed, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
const refused = reports.filter((r) => r.status === 'failed').length;
// One job per recipient domain: the Bcc audit copy of the first order is a send of its own.
console.log(`SES accepted ${ses.count} sends in ${ses.requests} SendEmail requests: ${throttledSends} answered 429 and retried, ${refused} refused`);
if (first !== undefined) {
  console.log(`first message: destination ${first.destination.to.join(', ')}; configuration set ${first.configurationSetName ?? '-'}; tags ${first.tags.map((t) => `${t.name}=${t.value}`).join(', ')}`);
}
const largeRaw = ses.messages.find((m) => m.messageId === largeReport.recipients[0]?.providerMessageId)?.raw;
console.log(`large message: ${largeReport.status}, ${(invoice.length / 1048576).toFixed(1)} MB invoice, ${((largeRaw?.length ?? 0) / 1048576).toFixed(1)} MB raw at SES, ${largeRequests} SendEmail request${largeRequests === 1 ? '' : 's'}`);
const unique = new Set(sentIds).size === sentIds.length && sentIds.every((id) => ses.messages.some((m) => m.messageId === id));
console.log(unique ? 'Every sent event carries the SES MessageId of its message.' : 'Problem: sent events and SES message ids do not match.');
await ses.close();
