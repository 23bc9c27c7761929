/**
 * Failover between two SMTP relays, offline: two local SMTP sinks stand in for a primary and
 * a backup relay. A quarter of the way through a batch the primary starts answering
 * "451 4.3.0 try again later" to every message for a while. The failover transport marks it
 * down, moves each refused message to the secondary at once (a 451 proves the primary did
 * not take it), tries the primary again after each cooldown, and goes back to it once it
 * accepts mail again. At the end every message must be in exactly one of the two sinks.
 *
 *   npx tsx examples/failover.ts                              # 2,000 messages, about 5 s
 *   MAILPUSH_EXAMPLE_QUICK=1 npx tsx examples/failover.ts     # 200 messages, about 1 s
 *
 * In your application, import from 'mailpush' and 'mailpush/testing' instead of ../src.
 *
 * @module
 */

import { performance } from 'node:perf_hooks';
import { createMailer, smtpTransport } from '../src/index.js';
import type { SendReceipt, Transport } from '../src/index.js';
import { startSmtpSink } from '../src/testing/index.js';
import type { SmtpSink } from '../src/testing/index.js';
import { failover } from '../src/transports/composite.js';

const QUICK = process.env.MAILPUSH_EXAMPLE_QUICK === '1';
const MESSAGES = QUICK ? 200 : 2000;
const RATE_PER_SECOND = QUICK ? 200 : 400; // the demo's pace, so the outage falls mid-batch
const OUTAGE_MS = QUICK ? 300 : 1000;
const COOLDOWN_MS = QUICK ? 100 : 250;

const started = performance.now();
const clock = (): string => `${Math.round(performance.now() - started)} ms`.padStart(8);

// The sinks keep the raw messages so that the end can check Message-IDs.
const primarySink = await startSmtpSink({ parse: false, keepRaw: true, disableStartTls: true });
const secondarySink = await startSmtpSink({ parse: false, keepRaw: true, disableStartTls: true });
let outage = false;
primarySink.addRule({ match: () => outage, reply: 'tempfail', stage: 'data' });

console.log(`mailpush failover: ${MESSAGES} messages through failover([primary, secondary]) at ${RATE_PER_SECOND}/s`);
console.log(`primary   SMTP sink on ${primarySink.host}:${primarySink.port}`);
console.log(`secondary SMTP sink on ${secondarySink.host}:${secondarySink.port}`);

// Members need distinct names (they show up in `sentBy` and in health reports), and every
// smtpTransport is called 'smtp': each relay gets a name of its own.
const primary: Transport = { ...smtpTransport({ host: primarySink.host, port: primarySink.port, maxConnections: 5 }), name: 'primary' };
const secondary: Transport = { ...smtpTransport({ host: secondarySink.host, port: secondarySink.port, maxConnections: 5 }), name: 'secondary' };

let downs = 0;
let outageTimerDone = false;
const endOutage = (): void => {
  // Over once its time is up and the primary was seen failing a try after a cooldown too
  // (on a busy machine the timer alone could end it before that).
  if (!outage || !outageTimerDone || downs < 2) return;
  outage = false;
  console.log(`${clock()}  primary outage over`);
};

const transport = failover([primary, secondary], {
  cooldownMs: COOLDOWN_MS,
  onHealthChange: (e) => {
    if (e.healthy) {
      console.log(`${clock()}  ${e.transport} is back: a send through it succeeded`);
      return;
    }
    const what = ++downs === 1 ? 'is down' : 'is still down after a try';
    console.log(`${clock()}  ${e.transport} ${what}, next try in ${Math.max(0, (e.until ?? 0) - Date.now())} ms: ${e.error?.message ?? 'unknown error'}`);
    endOutage();
  },
});

const mailer = createMailer({
  transport,
  limits: { transport: { ratePerSecond: RATE_PER_SECOND } },
  // Demo timings; a 451 never reaches the retry schedule here, the secondary takes it at once.
  retry: { scheduleMs: [200], jitter: 0 },
});

const sentBy = new Map<string, number>();
let sent = 0;
mailer.on('sent', (e) => {
  sentBy.set(e.sentBy, (sentBy.get(e.sentBy) ?? 0) + 1);
  if (++sent === Math.floor(MESSAGES / 4)) {
    outage = true;
    console.log(`${clock()}  primary starts answering 451 4.3.0 to every message (an outage of ${OUTAGE_MS} ms)`);
    setTimeout(() => {
      outageTimerDone = true;
      endOutage();
    }, OUTAGE_MS);
  }
});
mailer.on('failed', (e) => console.log(`${clock()}  failed ${e.recipients.join(', ')}: ${e.error.message}`));

const receipts: SendReceipt[] = [];
for (let i = 0; i < MESSAGES; i++) {
  receipts.push(await mailer.send({ from: 'Shop <shop@example.com>', to: `customer${i}@example.org`, subject: `Order #${10_000 + i}`, text: 'Thanks for your order.' }));
}
const reports = await Promise.all(receipts.map((r) => r.done()));
const { pending } = await mailer.close({ drain: true });

// ---------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------

const MESSAGE_ID = /^Message-ID:\s*(<[^>\r\n]+>)/im;
function messageIds(sink: SmtpSink): string[] {
  return sink.messages.map((m) => MESSAGE_ID.exec(m.raw?.toString('latin1') ?? '')?.[1] ?? '(none)');
}
const delivered = [...messageIds(primarySink), ...messageIds(secondarySink)];
const copies = new Map<string, number>();
for (const id of delivered) copies.set(id, (copies.get(id) ?? 0) + 1);

console.log('');
console.log("Sent per transport (sentBy of the 'sent' events):");
for (const name of ['primary', 'secondary']) console.log(`  ${name.padEnd(10)} ${String(sentBy.get(name) ?? 0).padStart(5)}`);
console.log(`SMTP sinks accepted: primary ${primarySink.count}, secondary ${secondarySink.count}`);
console.log(`Health at the end: ${transport.health().map((h) => `${h.name} ${h.healthy ? 'up' : 'down'}`).join(', ')}`);

const problems: string[] = [];
if (reports.some((r) => r.status !== 'sent')) problems.push(`${reports.filter((r) => r.status !== 'sent').length} messages were not sent`);
if ((sentBy.get('primary') ?? 0) !== primarySink.count || (sentBy.get('secondary') ?? 0) !== secondarySink.count) {
  problems.push('sentBy counts differ from what the sinks received');
}
if ((sentBy.get('secondary') ?? 0) === 0) problems.push('the secondary took nothing during the outage');
const duplicated = [...copies.values()].filter((n) => n > 1).length;
if (duplicated > 0) problems.push(`${duplicated} messages were delivered more than once`);
if (copies.size !== MESSAGES) problems.push(`${copies.size} distinct Message-IDs reached the sinks, expected ${MESSAGES}`);
if (pending !== 0) problems.push(`${pending} jobs left in the queue`);

if (problems.length === 0) {
  console.log(`All ${MESSAGES} messages delivered exactly once (Message-IDs across both sinks).`);
  console.log(`Mailer closed cleanly (${pending} jobs left).`);
} else {
  for (const p of problems) console.log(`Problem: ${p}`);
  process.exitCode = 1;
}
await Promise.all([primarySink.close(), secondarySink.close()]);
