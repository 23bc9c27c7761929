/**
 * Event-loop health of feedback processing (issue 11): how many ticks a 10 ms `setInterval`
 * keeps, the longest gap between two ticks, the CPU the process ran between two ticks, and the
 * young-generation GC pauses, while
 *
 * - `batch`: `processor.ingest()` takes a batch of hard bounces (memory suppression store,
 *   default policy: every event creates a suppression entry), built before the window (the
 *   host's JSON.parse or loop builds it, 15-60 ms in one turn: not mailpush's work);
 * - `batch, keepEvents: false`: the same with `ingest(events, { keepEvents: false })`, whose
 *   result lists no event (the counts only), so only the suppression entries survive;
 * - `batch built in the window`: as `batch`, but the 50,000 event objects are built inside the
 *   measured window, as this bench and bench/loop.ts did before session 4 (info: the build
 *   is the host's own turn);
 * - `big bounce`: `processor.ingestRaw()` reads a DSN returning a 10 MB attachment (bytes).
 *
 * Also CPU µs per event of the batch. Baseline: a spin that yields every 1 ms for as long
 * (what CPU-bound work can keep on this machine at that moment). The batch's long gaps are
 * scavenges: their length follows what survives them (every event, its entry, its result), so
 * the bytes kept per event matter as much as the yields.
 *
 * Run: npx tsx bench/feedback-loop.ts [--quick] [--rounds N]
 */

import { randomBytes } from 'node:crypto';
import type { FeedbackEvent } from '../src/feedback/event.js';
import { createFeedbackProcessor } from '../src/feedback/processor.js';
import memorySuppressionStore from '../src/stores/suppression-memory.js';
import { fmt, header, median, parseFlags, result, summary } from './common.js';
import { loopHealth, spin, type LoopHealth } from './loop-health.js';

const flags = parseFlags(3);
const BOUNCES = flags.quick ? 5_000 : 50_000;
const BIG_MB = flags.quick ? 2 : 10;

function bounces(): FeedbackEvent[] {
  const events: FeedbackEvent[] = [];
  const at = Date.now();
  for (let i = 0; i < BOUNCES; i++) events.push({ type: 'bounced', provider: 'dsn', recipient: `user${i}@d${i % 100}.example`, timestamp: at, hard: true, raw: {} });
  return events;
}

/** A DSN (CRLF) returning an original with a base64 attachment of about `mb` MB. */
function bigBounce(mb: number): Buffer {
  const attachment = randomBytes(Math.round(mb * 1024 * 1024 * 0.74))
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  const lines = [
    'From: MAILER-DAEMON@mx.example.net',
    'To: bounces@example.com',
    'Subject: Undelivered Mail Returned to Sender',
    'Message-ID: <big-1@mx.example.net>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"',
    '',
    '--B1',
    'Content-Type: text/plain',
    '',
    'Your message could not be delivered.',
    '',
    '--B1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    '',
    'Final-Recipient: rfc822; ann@example.org',
    'Action: failed',
    'Status: 5.1.1',
    'Diagnostic-Code: smtp; 550 5.1.1 <ann@example.org>: User unknown',
    '',
    '--B1',
    'Content-Type: message/rfc822',
    '',
    'From: app@example.com',
    'To: ann@example.org',
    'Message-ID: <orig-1@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="B2"',
    '',
    '--B2',
    'Content-Type: application/pdf',
    'Content-Transfer-Encoding: base64',
    '',
    attachment,
    '--B2--',
    '',
    '--B1--',
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}

const big = bigBounce(BIG_MB);
/** The host's batch, built before the window by the case's `prepare`. */
let batch: FeedbackEvent[] = [];
const prepareBatch = (): void => {
  batch = bounces();
};
const takeBatch = (): FeedbackEvent[] => {
  const events = batch;
  batch = [];
  return events;
};
const cases: [name: string, perItem: number, work: () => Promise<unknown>, prepare?: () => void][] = [
  [
    `batch: ingest() of ${fmt(BOUNCES)} hard bounces`,
    BOUNCES,
    async () => {
      const r = await createFeedbackProcessor({ suppression: memorySuppressionStore() }).ingest(takeBatch());
      if (r.suppressed !== BOUNCES || r.events.length !== BOUNCES) throw new Error(`expected ${BOUNCES} suppressions and events, got ${r.suppressed} and ${r.events.length}`);
    },
    prepareBatch,
  ],
  [
    `batch, keepEvents: false: ingest() of ${fmt(BOUNCES)} hard bounces`,
    BOUNCES,
    async () => {
      const r = await createFeedbackProcessor({ suppression: memorySuppressionStore() }).ingest(takeBatch(), { keepEvents: false });
      if (r.suppressed !== BOUNCES || r.processed !== BOUNCES) throw new Error(`expected ${BOUNCES} suppressions and events, got ${r.suppressed} and ${r.processed}`);
    },
    prepareBatch,
  ],
  [
    `batch built in the window (info): ${fmt(BOUNCES)} event objects, then ingest()`,
    BOUNCES,
    async () => {
      const r = await createFeedbackProcessor({ suppression: memorySuppressionStore() }).ingest(bounces());
      if (r.suppressed !== BOUNCES) throw new Error(`expected ${BOUNCES} suppressions, got ${r.suppressed}`);
    },
  ],
  [
    `big bounce: ingestRaw() of ${(big.byteLength / 1048576).toFixed(1)} MB (x10)`,
    10,
    async () => {
      const processor = createFeedbackProcessor({ suppression: memorySuppressionStore(), rawTrust: 'mailbox' });
      for (let i = 0; i < 10; i++) {
        const r = await processor.ingestRaw(big);
        if (r.kind !== 'bounce' || r.events.length !== 1) throw new Error(`expected a bounce with one event, got ${r.kind} with ${r.events.length}`);
      }
    },
  ],
];

// The first parse in a process compiles the classification tables (about 50 ms, once): not what is measured here.
await createFeedbackProcessor({ suppression: memorySuppressionStore(), rawTrust: 'mailbox' }).ingestRaw(big);

header('feedback-loop', flags, 'a 10 ms setInterval during feedback processing (memory suppression store); baseline: a spin yielding every 1 ms for as long');
const samples = new Map<string, { perItem: number; work: LoopHealth[]; spin: LoopHealth[] }>();
for (let r = 0; r < flags.rounds; r++) {
  for (const [name, perItem, work, prepare] of cases) {
    prepare?.();
    const w = await loopHealth(work);
    const s = await loopHealth(() => spin(Math.min(w.ms, 2_000)));
    const entry = samples.get(name) ?? { perItem, work: [], spin: [] };
    entry.work.push(w);
    entry.spin.push(s);
    samples.set(name, entry);
    console.log(
      `   round ${r + 1}: ${name}: ${fmt(w.ms)} ms, CPU ${fmt(w.cpuUs / perItem, 1)} µs per item, ticks kept ${(w.kept * 100).toFixed(0)}% (spin ${(s.kept * 100).toFixed(0)}%), longest gap ${w.longestGapMs.toFixed(1)} ms (spin ${s.longestGapMs.toFixed(1)}), most CPU between ticks ${w.longestCpuMs.toFixed(1)} ms, GC pauses ${w.gcCount} (${w.gcTotalMs.toFixed(0)} ms), longest ${w.gcLongestMs.toFixed(1)} ms`,
    );
  }
}
for (const [name, { perItem, work, spin: ref }] of samples) {
  const info = name.includes('(info)');
  result(`${name}: ticks kept (%)`, summary(ref.map((t) => t.kept * 100), 0), summary(work.map((t) => t.kept * 100), 0), '-', info ? 'info' : '>= 90%', info ? undefined : median(work.map((t) => t.kept)) >= 0.9);
  result(`${name}: longest gap (ms)`, summary(ref.map((t) => t.longestGapMs), 1), summary(work.map((t) => t.longestGapMs), 1), '-', info ? 'info' : '<= 20 ms', info ? undefined : median(work.map((t) => t.longestGapMs)) <= 20);
  result(`${name}: most CPU between two ticks (ms)`, summary(ref.map((t) => t.longestCpuMs), 1), summary(work.map((t) => t.longestCpuMs), 1), '-', 'info', undefined);
  result(`${name}: longest GC pause (ms)`, summary(ref.map((t) => t.gcLongestMs), 1), summary(work.map((t) => t.gcLongestMs), 1), '-', 'info', undefined);
  result(`${name}: GC pauses, total (ms)`, summary(ref.map((t) => t.gcTotalMs), 0), summary(work.map((t) => t.gcTotalMs), 0), '-', 'info', undefined);
  result(`${name}: CPU per item (µs)`, '-', summary(work.map((t) => t.cpuUs / perItem), 1), '-', 'info', undefined);
}
