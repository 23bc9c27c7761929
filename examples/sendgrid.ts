/**
 * Sending through SendGrid.
 *
 * Starts a local stand-in for SendGrid's v3 API (nothing leaves this machine) and sends
 * through `createMailer` + `sendgridTransport`: each message, whatever its recipient
 * domains, goes out as one `POST /v3/mail/send`, and SendGrid's `X-Message-Id` comes back
 * on every recipient's result. Then the fake misbehaves: a 429 slows the whole transport
 * down until the rate-limit reset, a 500 is retried, and a 400 fails the message with
 * SendGrid's own error list.
 *
 *   npx tsx examples/sendgrid.ts                            # 20 messages
 *   MAILPUSH_EXAMPLE_QUICK=1 npx tsx examples/sendgrid.ts   # 4 messages
 *
 * With a real account, drop the fake and pass `apiKey: process.env.SENDGRID_API_KEY`
 * (no `baseUrl`). In your application, import from 'mailpush',
 * 'mailpush/transports/sendgrid' and 'mailpush/testing' instead of ../src.
 *
 * @module
 */

import { createMailer } from '../src/index.js';
import type { SendReceipt } from '../src/index.js';
import { startSendGridServer } from '../src/testing/sendgrid-server.js';
import sendgridTransport, { MESSAGE_ID_ARG } from '../src/transports/sendgrid.js';

const QUICK = process.env.MAILPUSH_EXAMPLE_QUICK === '1';
const COUNT = QUICK ? 4 : 20;

// 1. The fake SendGrid API on 127.0.0.1.
const sendgrid = await startSendGridServer();
console.log(`mailpush + SendGrid: a local fake of the v3 API at ${sendgrid.baseUrl} (nothing leaves this machine)`);

// 2. The mailer, over the SendGrid transport. Retries are fast here to keep the demo short.
const mailer = createMailer({
  transport: sendgridTransport({ apiKey: sendgrid.apiKey, baseUrl: sendgrid.baseUrl, maxConcurrency: 10 }),
  retry: { scheduleMs: [200], jitter: 0 },
});
mailer.on('throttled', (e) => {
  console.log(`throttled (${e.scope}): ${e.error.message}; sends resume in ${Math.max(0, e.pausedUntil - Date.now())} ms`);
});
mailer.on('deferred', (e) => {
  if (!e.throttled) console.log(`deferred ${e.recipients.length} recipient(s): ${e.error.code} ${e.error.message}; retried shortly`);
});

// 3. Messages to several recipient domains each: to, cc and a blind copy for the archive.
const receipts: SendReceipt[] = [];
for (let i = 1; i <= COUNT; i++) {
  receipts.push(
    await mailer.send({
      from: 'Shop <orders@shop.example.com>',
      to: [`customer${i}@gmail.example`, `partner${i}@outlook.example`],
      cc: `accounts${i}@company.example`,
      bcc: 'archive@shop.example.com',
      subject: `Order #${1000 + i} confirmed`,
      text: `Thanks for order #${1000 + i}.`,
      html: `<p>Thanks for order <b>#${1000 + i}</b>.</p>`,
      attachments: i === 1 ? [{ filename: 'invoice.txt', content: `Invoice for order #${1001}` }] : [],
      tags: { kind: 'order-confirmation' },
    }),
  );
}
for (const receipt of receipts) {
  const report = await receipt.done();
  const ids = new Set(report.recipients.map((r) => r.providerMessageId));
  console.log(`${report.status}: ${receipt.message.subject} -> X-Message-Id ${[...ids].join(', ')} (${report.recipients.length} recipients in ${ids.size} request)`);
}
const request = sendgrid.requests[0]!;
console.log(`The first request carried custom_args ${MESSAGE_ID_ARG}=${request.body.custom_args?.[MESSAGE_ID_ARG]} and categories ${JSON.stringify(request.body.categories)}.`);

// 4. Faults: a rate limit (429), a server error (500), then a refusal (400).
sendgrid.failNext(1, 'rate-limit').failNext(1, 'server-error');
const retried = await (await mailer.send({ from: 'orders@shop.example.com', to: 'late@gmail.example', subject: 'Shipped', text: 'On its way.' })).done();
console.log(`${retried.status} after a 429 and a 500: X-Message-Id ${retried.recipients[0]?.providerMessageId}, attempts counted ${retried.recipients[0]?.attempts} (the throttled one is not counted)`);

sendgrid.failNext(1, 'bad-request');
const refused = await (await mailer.send({ from: 'orders@shop.example.com', to: 'someone@gmail.example', subject: 'Refused', text: 'x' })).done();
const error = refused.recipients[0]?.error;
console.log(`${refused.status}: ${error?.code} ${error?.message}`);

const { pending } = await mailer.close();
await sendgrid.close();
console.log(`The fake SendGrid API accepted ${sendgrid.count} requests (${sendgrid.attempts} made) for ${COUNT + 2} messages, ${COUNT + 1} of them delivered.`);
console.log(`Mailer closed cleanly (${pending} jobs left).`);
