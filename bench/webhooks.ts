/**
 * Webhook handling throughput: signed requests per second through the Fetch API feedback
 * handler (body read, signature verification, parsing, suppression policy, memory suppression
 * store, an awaited no-op host hook), for Amazon SES through SNS (RSA-2048 SHA256withRSA, the
 * certificate cached) and the SendGrid Event Webhook (ECDSA P-256) with 1 and 100 events per
 * request.
 *
 * The baseline is the least a Fetch handler can do: build the Request, read the body, check
 * the signature with node:crypto, answer a Response, with no parsing or storing. The ratio
 * says how much of that rate the whole handler keeps; the difference is mailpush's own work.
 *
 * Run: npx tsx bench/webhooks.ts [--quick] [--rounds N]
 */

import { createPublicKey, createVerify, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { createFeedbackHandler, createFeedbackProcessor, snsStringToSign } from '../src/feedback/index.js';
import type { SnsEnvelope } from '../src/feedback/index.js';
import memorySuppressionStore from '../src/stores/suppression-memory.js';
import { createSendGridTestSigner, createSnsTestSigner } from '../src/testing/feedback-signers.js';
import { fmt, header, median, nowMs, parseFlags, result, summary } from './common.js';

const flags = parseFlags(5);
const DURATION_MS = flags.quick ? 300 : 2000;
const POOL = flags.quick ? 20 : 200;
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-feedback';

header('webhooks', flags, `Fetch handler, ${DURATION_MS} ms per measurement, ${POOL} distinct signed requests per scenario`);

const sns = createSnsTestSigner();
const sendgrid = createSendGridTestSigner();

function makeHandler() {
  const processor = createFeedbackProcessor({ suppression: memorySuppressionStore(), onEvent: async () => undefined });
  // replayCacheSize 0: the same signed requests are sent again and again, each fully processed.
  return createFeedbackHandler({ processor, ses: { topicArns: [TOPIC], fetcher: sns.fetcher }, sendgrid: { publicKey: sendgrid.publicKey }, replayCacheSize: 0 });
}

const sesMessage = (i: number) => ({
  eventType: 'Delivery',
  mail: { timestamp: new Date().toISOString(), messageId: `0100018e-${i}`, destination: [`user${i}@example.com`], headers: [{ name: 'X-Mailpush-Job-Id', value: `job_${i}` }], commonHeaders: { messageId: `<m${i}@shop.example>` }, tags: { campaign: ['spring'] } },
  delivery: { timestamp: new Date().toISOString(), recipients: [`user${i}@example.com`], smtpResponse: '250 2.6.0 Message received' },
});
const sesRequests = Array.from({ length: POOL }, (_, i) => sns.notification(TOPIC, sesMessage(i)));
const sgEvent = (i: number, j: number) => ({ email: `user${i}-${j}@example.com`, event: j % 3 === 0 ? 'delivered' : j % 3 === 1 ? 'open' : 'click', timestamp: Math.floor(Date.now() / 1000), sg_event_id: `e${i}-${j}`, sg_message_id: `abc${i}.filter`, mailpush_job_id: `job_${i}`, url: 'https://shop.example/a', campaign: 'spring' });
const sgRequests = (events: number) => Array.from({ length: POOL }, (_, i) => sendgrid.sign(JSON.stringify(Array.from({ length: events }, (_, j) => sgEvent(i, j)))));
const sg1 = sgRequests(1);
const sg100 = sgRequests(100);

async function rate(fn: (i: number) => Promise<void> | void): Promise<number> {
  // Warm up the JIT and the certificate cache.
  for (let i = 0; i < 50; i++) await fn(i);
  let n = 0;
  const start = nowMs();
  while (nowMs() - start < DURATION_MS) {
    for (let k = 0; k < 20; k++) await fn(n++);
  }
  return (n / (nowMs() - start)) * 1000;
}

const handler = makeHandler();
async function through(path: string, pool: readonly { body: string; headers: Record<string, string> }[], i: number): Promise<void> {
  const r = pool[i % pool.length]!;
  const res = await handler(new Request(`http://localhost${path}`, { method: 'POST', body: r.body, headers: r.headers }));
  // A server writes the answer out; reading it here keeps unread bodies from piling up.
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${text}`);
}

// Baselines: a bare Fetch handler that only reads the body and checks the signature.
const certKey = new X509Certificate(sns.certPem).publicKey;
const sgKey = createPublicKey({ key: Buffer.from(sendgrid.publicKey, 'base64'), format: 'der', type: 'spki' });
async function bare(request: Request): Promise<Response> {
  const body = Buffer.from(await request.arrayBuffer());
  let ok: boolean;
  if (request.headers.has('x-amz-sns-message-type')) {
    const env = JSON.parse(body.toString('utf8')) as SnsEnvelope;
    ok = createVerify('RSA-SHA256').update(snsStringToSign(env), 'utf8').verify(certKey, env.Signature, 'base64');
  } else {
    const ts = request.headers.get('x-twilio-email-event-webhook-timestamp') ?? '';
    const sig = Buffer.from(request.headers.get('x-twilio-email-event-webhook-signature') ?? '', 'base64');
    ok = cryptoVerify('sha256', Buffer.concat([Buffer.from(ts), body]), { key: sgKey, dsaEncoding: 'der' }, sig);
  }
  return new Response(ok ? '{"ok":true}' : '{"ok":false}', { status: ok ? 200 : 403, headers: { 'content-type': 'application/json' } });
}
async function baseline(path: string, pool: readonly { body: string; headers: Record<string, string> }[], i: number): Promise<void> {
  const r = pool[i % pool.length]!;
  const res = await bare(new Request(`http://localhost${path}`, { method: 'POST', body: r.body, headers: r.headers }));
  const text = await res.text();
  if (res.status !== 200) throw new Error(`baseline ${path} answered ${res.status}: ${text}`);
}

const scenarios = [
  { name: 'SES via SNS, 1 event/request', events: 1, base: (i: number) => baseline('/ses', sesRequests, i), run: (i: number) => through('/ses', sesRequests, i), target: 0.5 },
  { name: 'SendGrid, 1 event/request', events: 1, base: (i: number) => baseline('/sendgrid', sg1, i), run: (i: number) => through('/sendgrid', sg1, i), target: 0.5 },
  { name: 'SendGrid, 100 events/request', events: 100, base: (i: number) => baseline('/sendgrid', sg100, i), run: (i: number) => through('/sendgrid', sg100, i), target: 0.2 },
] as const;

for (const s of scenarios) {
  const bases: number[] = [];
  const runs: number[] = [];
  for (let round = 0; round < flags.rounds; round++) {
    bases.push(await rate(s.base));
    runs.push(await rate(s.run));
  }
  const ratio = median(runs) / median(bases);
  result(
    `${s.name} (requests/s)`,
    `bare verify ${summary(bases, 0)}`,
    `${summary(runs, 0)} (${fmt(median(runs) * s.events, 0)} events/s)`,
    `${ratio.toFixed(2)}x`,
    `>= ${s.target}x of bare verify`,
    ratio >= s.target,
  );
}
