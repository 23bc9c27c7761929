/**
 * mailpush newsletter: an MJML newsletter to a list of 10,000 subscribers through a local SMTP
 * sink, as one campaign with a progress bar; then a subscriber unsubscribes with the one-click
 * POST a mailbox provider would send (RFC 8058) to the unsubscribe handler, and the next issue
 * skips them. Also shown: the Feedback-ID header and the campaign's stats.
 *
 * Run: npx tsx examples/newsletter.ts   (MAILPUSH_EXAMPLE_QUICK=1 sends to 300)
 */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMailer, smtpTransport } from '../src/index.js';
import type { CampaignEvent, Mailer } from '../src/index.js';
import { compileTemplate } from '../src/templates/index.js';
import { startSmtpSink } from '../src/testing/index.js';
import { createUnsubscribeHandler, toNodeHandler } from '../src/unsubscribe/index.js';

const QUICK = process.env.MAILPUSH_EXAMPLE_QUICK === '1';
const SUBSCRIBERS = QUICK ? 300 : 10_000;
const LIST = 'weekly';

const NEWSLETTER = `<mjml>
  <mj-head><mj-preview>{{issue}}: what's new at Acme</mj-preview></mj-head>
  <mj-body background-color="#f4f4f4">
    <mj-section background-color="#ffffff">
      <mj-column>
        <mj-text font-size="20px"><h2>Acme Weekly, {{issue}}</h2></mj-text>
        <mj-text>The autumn range is in: twelve new colours, and free delivery until Sunday.</mj-text>
        <mj-button href="https://acme.example/autumn">See the range</mj-button>
        <mj-text font-size="11px" color="#777777">{{postalAddress}}. <a href="{{unsubscribeUrl}}">Unsubscribe</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

// The sink keeps raw messages; each progress tick takes what arrived and lets it go, so 10,000
// messages never sit in memory at once. `reader42` is the subscriber who will unsubscribe.
const sink = await startSmtpSink({ parse: false, keepRaw: true });
const received = new Map<string, number>();
let reader42Mail: string | undefined;
const collect = (): void => {
  for (const m of sink.messages) {
    const to = m.envelope.to[0] ?? '';
    received.set(to, (received.get(to) ?? 0) + 1);
    if (to === 'reader42@example.org' && reader42Mail === undefined) reader42Mail = m.raw?.toString();
  }
  sink.reset();
};

// The unsubscribe endpoint: a real HTTP server on 127.0.0.1 (http is accepted for loopback only).
let handler: ((request: Request) => Promise<Response>) | undefined;
const http = createServer(toNodeHandler((request) => (handler as NonNullable<typeof handler>)(request)));
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const unsubscribeUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/u`;

const mailer: Mailer = createMailer({
  transport: smtpTransport({ host: sink.host, port: sink.port, ignoreTLS: true, maxConnections: 8 }),
  unsubscribe: { url: unsubscribeUrl, secrets: ['newsletter-example-secret-0123456789'] },
  postalAddress: 'Acme Inc., 1 Main Street, Springfield',
  feedbackId: { senderId: 'acmenews' },
});
handler = createUnsubscribeHandler({ mailer });

/** A progress bar: redrawn in place on a terminal, one line per update otherwise. */
function progressBar(e: CampaignEvent, total: number): void {
  const done = e.sent + e.failed + e.suppressed + e.cancelled;
  const width = 30;
  const filled = Math.round((done / total) * width);
  const eta = e.etaMs === undefined ? '' : `, ETA ${(e.etaMs / 1000).toFixed(1)} s`;
  const line = `${e.campaign} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} sent, ${e.ratePerSecond.toFixed(0)}/s${eta}`;
  if (process.stdout.isTTY) process.stdout.write(`\r${line}`);
  else console.log(line);
}

async function sendIssue(issue: string, campaign: string, total: number): Promise<void> {
  const off = mailer.on('campaign', (e) => {
    if (e.campaign !== campaign) return;
    collect();
    if (e.kind === 'progress' || e.kind === 'completed') progressBar(e, total);
  });
  const started = performance.now();
  const result = await mailer.sendMany({ list: LIST, campaign, total, message: { from: 'Acme News <news@acme.example>', template: newsletter, vars: { issue }, category: 'marketing' } });
  await mailer.onIdle();
  const stats = await mailer.campaign(campaign).stats();
  off();
  collect();
  if (process.stdout.isTTY) process.stdout.write('\n');
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${campaign}: ${result.read} subscribers read, ${stats.counts.sent} sent, ${stats.counts.failed} failed, ${stats.counts.suppressed} suppressed in ${seconds.toFixed(1)} s (${(stats.counts.sent / seconds).toFixed(0)}/s); state ${stats.state}`,
  );
}

let newsletter: Awaited<ReturnType<typeof compileTemplate>>;
try {
  newsletter = await compileTemplate({ subject: 'Acme Weekly, {{issue}}', mjml: NEWSLETTER });
  const consent = { at: Date.now(), source: 'signup-form' };
  for (let i = 0; i < SUBSCRIBERS; i++) await mailer.subscriptions.subscribe(LIST, `reader${i}@example.org`, consent);
  console.log(`mailpush newsletter: ${SUBSCRIBERS} subscribers on the '${LIST}' list, MJML compiled once`);

  await sendIssue('issue 49', 'weekly-2026-49', SUBSCRIBERS);
  const mail = reader42Mail ?? '';
  const header = (name: string): string | undefined => mail.match(new RegExp(`^${name}:\\s*(.*(?:\\r\\n[ \\t].*)*)`, 'im'))?.[1]?.replace(/\r\n[ \t]+/g, ' ');
  console.log(`reader42's copy: Feedback-ID ${header('Feedback-ID')}; List-Unsubscribe-Post ${header('List-Unsubscribe-Post')}`);

  // What Gmail does when the reader clicks "Unsubscribe": a POST to the https link of the header.
  const link = header('List-Unsubscribe')?.match(/<(http[^>]+)>/)?.[1];
  if (link === undefined) throw new Error('no List-Unsubscribe link in the message');
  const response = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click', redirect: 'manual' });
  const subscription = await mailer.subscriptions.get(LIST, 'reader42@example.org');
  console.log(`one-click POST ${link.replace(/\/[^/]+$/, '/<token>')} -> ${response.status}${response.headers.has('location') ? ' (redirect!)' : ', no redirect'}; reader42 is now ${subscription?.status}`);
  const first = await mailer.campaign('weekly-2026-49').stats();
  console.log(`weekly-2026-49 stats: queued ${first.counts.queued}, sent ${first.counts.sent}, unsubscribed ${first.counts.unsubscribed}`);

  received.clear();
  await sendIssue('issue 50', 'weekly-2026-50', SUBSCRIBERS - 1);
  console.log(`issue 50 reached ${received.size} addresses; reader42 got ${received.get('reader42@example.org') ?? 0} (unsubscribed), reader41 got ${received.get('reader41@example.org') ?? 0}`);
} finally {
  const closed = await mailer.close();
  await sink.close();
  await new Promise((resolve) => http.close(resolve));
  console.log(`Mailer closed cleanly (${closed.pending} jobs left).`);
}
