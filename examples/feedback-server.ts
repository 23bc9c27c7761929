/**
 * Receiving bounces, complaints and events: a small node:http server with the feedback
 * webhook handler for Amazon SES (through SNS) and the SendGrid Event Webhook, offline.
 *
 * The provider side is simulated with test keys from mailpush/testing: an SNS signing
 * certificate served by an injected fetcher (so no request leaves the machine) and a SendGrid
 * EC key. Every request is signed like the real thing and verified by the handler before
 * anything is parsed. Events land in an array (your database) and hard bounces, complaints
 * and unsubscribes land in the mailer's suppression list, so the next send to those
 * addresses is reported `suppressed`. A raw bounce mail (for hosts that read a bounce
 * mailbox) goes through the same processor.
 *
 *   npx tsx examples/feedback-server.ts                             # 200 extra SendGrid events, an export of 20,000 bounces
 *   MAILPUSH_EXAMPLE_QUICK=1 npx tsx examples/feedback-server.ts    # 20 and 2,000
 *
 * In production: drop the test signers and the `fetcher` option, give SNS your topic ARN and
 * SendGrid's verification key (Mail Settings > Event Webhook > Signature Verification), and
 * import from 'mailpush' and 'mailpush/feedback' instead of ../src.
 *
 * @module
 */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFeedbackHandler, createFeedbackProcessor, toNodeHandler } from '../src/feedback/index.js';
import type { FeedbackEvent } from '../src/feedback/index.js';
import { createMailer, memoryTransport } from '../src/index.js';
import type { SuppressionEntry } from '../src/index.js';
import { createSendGridTestSigner, createSnsTestSigner } from '../src/testing/feedback-signers.js';

const QUICK = process.env.MAILPUSH_EXAMPLE_QUICK === '1';
const EXTRA_EVENTS = QUICK ? 20 : 200;
const EXPORT_EVENTS = QUICK ? 2_000 : 20_000;
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-feedback';

// 1. The mailer whose suppression list the feedback updates, and the host's "database".
const transport = memoryTransport();
const mailer = createMailer({ transport });
const stored: FeedbackEvent[] = [];
const processor = createFeedbackProcessor({
  suppression: mailer.suppression,
  // What the mailer sent, so that a bounce mail is believed only for mail it really sent.
  correlation: mailer.store.correlation,
  // Awaited: if this threw, the webhook would answer 500 and the provider would send again.
  onEvent: async (event, { suppression }) => {
    stored.push(event);
    if (stored.length <= 16) {
      const verdict = event.type === 'bounced' ? `${event.hard === true ? 'hard' : 'soft'} ${event.reason ?? ''}` : (event.feedbackType ?? event.list ?? (event.machineOpen === true ? 'machine open' : ''));
      console.log(`event ${event.provider.padEnd(8)} ${event.type.padEnd(12)} ${event.recipient.padEnd(22)} ${verdict.padEnd(20)} suppression: ${suppression}`);
    }
  },
});

// 2. The webhook handler and the server. The test signers stand in for AWS and SendGrid.
const sns = createSnsTestSigner();
const sendgrid = createSendGridTestSigner();
const handler = createFeedbackHandler({
  processor,
  ses: { topicArns: [TOPIC], fetcher: sns.fetcher },
  sendgrid: { publicKey: sendgrid.publicKey },
  onError: ({ provider, status, error }) => console.log(`refused ${provider ?? '?'} request: ${status} ${error.message}`),
});
const server = createServer(toNodeHandler(handler));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
console.log(`mailpush feedback server on ${base}: POST /webhooks/ses (SNS) and /webhooks/sendgrid`);

async function post(path: string, signed: { body: string; headers: Record<string, string> }): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', body: signed.body, headers: signed.headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

// 3. SNS first confirms the subscription (the handler fetches the SubscribeURL, here through the test fetcher).
const confirmation = await post('/webhooks/ses', sns.subscriptionConfirmation(TOPIC));
console.log(`SNS subscription ${confirmation.body.confirmed === true ? 'confirmed' : 'NOT confirmed'} for ${TOPIC} (${confirmation.status})`);

// 4. SES notifications, in the shapes SES publishes them.
const now = new Date().toISOString();
const mail = (to: string, jobId: string) => ({
  timestamp: now,
  source: 'shop@shop.example',
  messageId: `0100018e-${jobId}`,
  destination: [to],
  headers: [
    { name: 'Message-ID', value: `<${jobId}@shop.example>` },
    { name: 'X-Mailpush-Job-Id', value: jobId },
  ],
  commonHeaders: { messageId: `<${jobId}@shop.example>`, subject: 'Your order' },
  tags: { 'ses:configuration-set': ['order-events'], campaign: ['spring'] },
});
const sesNotifications = [
  {
    notificationType: 'Bounce',
    mail: mail('jane@example.com', 'job_1'),
    bounce: { bounceType: 'Permanent', bounceSubType: 'General', timestamp: now, feedbackId: 'fb-1', bouncedRecipients: [{ emailAddress: 'jane@example.com', action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }] },
  },
  {
    notificationType: 'Bounce',
    mail: mail('kim@example.net', 'job_2'),
    bounce: { bounceType: 'Permanent', bounceSubType: 'General', timestamp: now, feedbackId: 'fb-2', bouncedRecipients: [{ emailAddress: 'kim@example.net', action: 'failed', status: '5.7.1', diagnosticCode: 'smtp; 550 5.7.1 Service unavailable; client host blocked using Spamhaus' }] },
  },
  { eventType: 'Complaint', mail: mail('mary@example.org', 'job_3'), complaint: { timestamp: now, feedbackId: 'fb-3', complaintFeedbackType: 'abuse', complainedRecipients: [{ emailAddress: 'mary@example.org' }] } },
  { eventType: 'Delivery', mail: mail('lee@example.com', 'job_4'), delivery: { timestamp: now, recipients: ['lee@example.com'], smtpResponse: '250 2.6.0 Message received' } },
  {
    eventType: 'DeliveryDelay',
    mail: mail('sam@example.com', 'job_5'),
    deliveryDelay: { timestamp: now, delayType: 'MailboxFull', delayedRecipients: [{ emailAddress: 'sam@example.com', status: '4.2.2', diagnosticCode: 'smtp; 452 4.2.2 Mailbox full' }] },
  },
];
let firstSigned: { body: string; headers: Record<string, string> } | undefined;
for (const n of sesNotifications) {
  const signed = sns.notification(TOPIC, n);
  firstSigned ??= signed;
  const r = await post('/webhooks/ses', signed);
  console.log(`POST /webhooks/ses (${n.notificationType ?? n.eventType}) -> ${r.status}`);
}
const replay = await post('/webhooks/ses', firstSigned!);
console.log(`replayed SNS message -> ${replay.status}${replay.body.duplicate === true ? ' duplicate, not processed twice' : ''}`);

// 5. A SendGrid batch: signed over timestamp + raw body, custom args flattened into each event.
const ts = Math.floor(Date.now() / 1000);
const batch: Record<string, unknown>[] = [
  { email: 'ann@example.com', event: 'delivered', timestamp: ts, sg_event_id: 'sg-1', response: '250 OK', mailpush_job_id: 'job_6' },
  { email: 'ann@example.com', event: 'open', timestamp: ts, sg_event_id: 'sg-2', sg_machine_open: true, mailpush_job_id: 'job_6' },
  { email: 'bob@example.com', event: 'bounce', type: 'blocked', timestamp: ts, sg_event_id: 'sg-3', status: '5.7.1', reason: '554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using Spamhaus' },
  { email: 'cleo@example.com', event: 'group_unsubscribe', asm_group_id: 42, timestamp: ts, sg_event_id: 'sg-4' },
  { email: 'dan@example.com', event: 'spamreport', timestamp: ts, sg_event_id: 'sg-5' },
  ...Array.from({ length: EXTRA_EVENTS }, (_, i) => ({ email: `reader${i}@example.com`, event: 'click', url: 'https://shop.example/spring', timestamp: ts, sg_event_id: `sg-c${i}` })),
];
const sg = await post('/webhooks/sendgrid', sendgrid.sign(JSON.stringify(batch)));
console.log(`POST /webhooks/sendgrid (${batch.length} events) -> ${sg.status}, ${String(sg.body.suppressed)} suppressed`);

// 6. An attacker without the key: refused before parsing, nothing stored.
const forged = sendgrid.sign(JSON.stringify([{ email: 'victim@example.com', event: 'spamreport', timestamp: ts }]));
const attack = await post('/webhooks/sendgrid', { ...forged, body: forged.body.replace('victim', 'target') });
console.log(`forged SendGrid request -> ${attack.status} (${String(attack.body.error)})`);

// 7. A bounce mail from the bounce mailbox, through the same processor. Anyone can send mail
// to a bounce address, so a report counts only for a message this mailer sent: its returned
// headers must carry the job id and the Message-ID of a job sent to that recipient.
const old = await mailer.send({ from: 'shop@shop.example', to: 'old.address@example.org', subject: 'Your order', text: 'Thanks!' });
const oldJob = (await old.done()).recipients[0]?.jobId ?? '';
const dsnOf = (returned: readonly string[]): string => [
  'From: MAILER-DAEMON@mx.example.org',
  'To: bounces@shop.example',
  'Subject: Undelivered Mail Returned to Sender',
  'Message-ID: <dsn-1@mx.example.org>',
  'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
  '',
  '--b',
  'Content-Type: message/delivery-status',
  '',
  'Reporting-MTA: dns; mx.example.org',
  '',
  'Final-Recipient: rfc822; old.address@example.org',
  'Action: failed',
  'Status: 5.1.1',
  'Diagnostic-Code: smtp; 550 5.1.1 <old.address@example.org>: Recipient address rejected: User unknown',
  '',
  ...returned,
  '--b--',
  '',
].join('\r\n');
const returnedHeaders = ['--b', 'Content-Type: text/rfc822-headers', '', `Message-ID: ${old.messageId}`, `X-Mailpush-Job-Id: ${oldJob}`, 'Subject: Your order', ''];
const forgedBounce = await processor.ingestRaw(dsnOf([]));
const verdict = forgedBounce.events[0]?.verification;
console.log(`forged bounce: ${forgedBounce.kind}, ${forgedBounce.events.length} event, ${forgedBounce.suppressed} suppressed (${verdict?.verified === false ? `unverified: ${verdict.reason}` : 'verified'})`);
const raw = await processor.ingestRaw(dsnOf(returnedHeaders));
console.log(`bounce mailbox: ${raw.kind}, ${raw.events.length} event, ${raw.suppressed} suppressed`);

// 8. What the host has now, and what the mailer does with it.
const entries: SuppressionEntry[] = [];
for await (const e of mailer.suppression.list()) entries.push(e);
console.log(`${stored.length} events stored; suppression list: ${entries.length} entries`);
for (const e of entries) console.log(`  ${(e.address ?? e.domain ?? '').padEnd(24)} ${e.reason.padEnd(12)} ${e.scope ?? 'all mail'} (from ${e.source ?? '?'})`);

for (const to of ['jane@example.com', 'kim@example.net', 'mary@example.org']) {
  const receipt = await mailer.send({ from: 'shop@shop.example', to, subject: 'Your order', text: 'Thanks!' });
  const report = await receipt.done();
  console.log(`send to ${to}: ${report.recipients[0]?.status ?? 'unknown'}`);
}
// This shop takes unsubscribes through SendGrid's groups (the events above), so it waives the
// mailer's own List-Unsubscribe requirement for this message.
const marketing = await mailer.send({ from: 'shop@shop.example', to: 'cleo@example.com', subject: 'Spring sale', text: 'Sale!', category: 'marketing', tags: { list: '42' } }, { skipMarketingCompliance: true });
console.log(`marketing to cleo@example.com (list 42): ${(await marketing.done()).recipients[0]?.status ?? 'unknown'}`);

// 9. A large batch: a nightly export of hard bounces from the provider's API (here made up),
// already parsed by the host. With `keepEvents: false` the result lists no event and each one is
// garbage once it has been through the hooks (see the README's event-loop section); the batch's
// own `onEvent` counts what it needs.
const exported: FeedbackEvent[] = Array.from({ length: EXPORT_EVENTS }, (_, i) => ({
  type: 'bounced',
  provider: 'sendgrid',
  recipient: `gone${i}@example.net`,
  timestamp: Date.now(),
  eventId: `export-${i}`,
  hard: true,
  reason: 'userunknown',
  status: '5.1.1',
  raw: {},
}));
let exportedHard = 0;
const nightly = await processor.ingest(exported, { keepEvents: false, onEvent: (event) => void (event.hard === true && exportedHard++) });
console.log(`nightly export: ${nightly.processed} events processed (${nightly.events.length} kept in the result), ${exportedHard} hard, ${nightly.suppressed} suppressed`);
const afterExport = await mailer.send({ from: 'shop@shop.example', to: 'gone7@example.net', subject: 'Your order', text: 'Thanks!' });
console.log(`send to gone7@example.net: ${(await afterExport.done()).recipients[0]?.status ?? 'unknown'}`);

await new Promise<void>((resolve) => server.close(() => resolve()));
await mailer.close();
console.log(`Server closed; the memory transport sent ${transport.count} message(s).`);
