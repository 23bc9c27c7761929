import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import type { FeedbackEvent } from '../../src/feedback/event.js';
import { createFeedbackProcessor } from '../../src/feedback/processor.js';
import type { ProcessedEvent } from '../../src/feedback/processor.js';
import { createVerp } from '../../src/feedback/verp.js';
import memoryCorrelationStore from '../../src/stores/correlation-memory.js';
import memorySuppressionStore from '../../src/stores/suppression-memory.js';
import type { SentRecord, SuppressionEntry, SuppressionStore } from '../../src/types.js';
import { countTurns } from '../helpers/turns.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const DAY = 86_400_000;
const now = () => NOW;
let seq = 0;
const ev = (e: Partial<FeedbackEvent> & Pick<FeedbackEvent, 'type'>): FeedbackEvent => ({ recipient: 'ann@example.org', provider: 'ses', timestamp: NOW, eventId: `e${++seq}`, raw: {}, ...e });
const hard = (recipient = 'ann@example.org') => ev({ type: 'bounced', recipient, hard: true, reason: 'userunknown' });
const soft = (eventId: string) => ev({ type: 'bounced', hard: false, reason: 'mailboxfull', eventId });

const sentJob = (r: Partial<SentRecord> & Pick<SentRecord, 'jobId' | 'messageId' | 'recipients'>): SentRecord => ({ id: r.jobId.split('/')[0]!, sentAt: NOW - DAY, ...r });

async function rejection(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isMailError(err)).toBe(true);
  return err as { code: string; retryable: boolean; cause?: unknown; message: string };
}

function dsn(options: { to?: string; recipient?: string; status?: string; action?: string; diagnostic?: string; jobId?: string; messageId?: string } = {}): string {
  const r = options.recipient ?? 'ann@example.org';
  return [
    'Return-Path: <>',
    `To: ${options.to ?? 'orders@shop.example'}`,
    'From: MAILER-DAEMON@mx.shop.example (Mail Delivery System)',
    'Subject: Undelivered Mail Returned to Sender',
    'Date: Sun, 01 Mar 2026 11:58:00 +0000',
    `Message-ID: <${options.messageId ?? 'dsn-1'}@mx.shop.example>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    `<${r}>: host mx.example.org[192.0.2.1] said: ${options.diagnostic ?? '550 5.1.1 <' + r + '>: Recipient address rejected: User unknown'}`,
    '',
    '--b1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.shop.example',
    '',
    `Final-Recipient: rfc822; ${r}`,
    `Action: ${options.action ?? 'failed'}`,
    `Status: ${options.status ?? '5.1.1'}`,
    `Diagnostic-Code: smtp; ${options.diagnostic ?? '550 5.1.1 <' + r + '>: Recipient address rejected: User unknown'}`,
    '',
    '--b1',
    'Content-Type: text/rfc822-headers',
    '',
    'From: Shop <orders@shop.example>',
    `To: ${r}`,
    'Subject: Your order',
    'Message-ID: <msg_1@shop.example>',
    ...(options.jobId !== undefined ? [`X-Mailpush-Job-Id: ${options.jobId}`] : []),
    '',
    '--b1--',
    '',
  ].join('\r\n');
}

function arf(options: { rcptTo?: string; to?: string; feedbackType?: string; mailFrom?: string; jobId?: string } = {}): string {
  return [
    'From: Example FBL <fbl@isp.example>',
    'To: abuse@shop.example',
    'Subject: Abuse report',
    'Date: Sun, 01 Mar 2026 11:59:00 +0000',
    'Message-ID: <arf-1@isp.example>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="p"',
    '',
    '--p',
    'Content-Type: text/plain',
    '',
    'This is an email abuse report.',
    '',
    '--p',
    'Content-Type: message/feedback-report',
    '',
    `Feedback-Type: ${options.feedbackType ?? 'abuse'}`,
    'User-Agent: ExampleFBL/1.0',
    'Version: 1',
    ...(options.mailFrom !== undefined ? [`Original-Mail-From: <${options.mailFrom}>`] : []),
    ...(options.rcptTo !== undefined ? [`Original-Rcpt-To: <${options.rcptTo}>`] : []),
    'Arrival-Date: Sun, 01 Mar 2026 11:00:00 +0000',
    '',
    '--p',
    'Content-Type: message/rfc822',
    '',
    'From: Shop <news@shop.example>',
    `To: ${options.to ?? 'xxxxxxxx@isp.example'}`,
    'Subject: Weekly news',
    'Message-ID: <news-7@shop.example>',
    ...(options.jobId !== undefined ? [`X-Mailpush-Job-Id: ${options.jobId}`] : []),
    '',
    'Hello',
    '--p--',
    '',
  ].join('\r\n');
}

describe('createFeedbackProcessor: ingest', () => {
  it('suppresses a hard bounce so that the mailer finds it before the next send', async () => {
    const suppression = memorySuppressionStore();
    const r = await createFeedbackProcessor({ suppression, now }).ingest([hard()]);
    expect(r).toMatchObject({ suppressed: 1, unsuppressed: 0 });
    expect(r.events[0]).toMatchObject({ suppression: 'added', decision: { action: 'suppress' } });
    expect(suppression.find('Ann@Example.org', ['transactional'], NOW + 1)).toMatchObject({ reason: 'hard-bounce', source: 'ses' });
  });

  it('writes the suppression before awaiting the hook, and awaits the hook before the next event', async () => {
    const suppression = memorySuppressionStore();
    const log: string[] = [];
    const processor = createFeedbackProcessor({
      suppression,
      now,
      onEvent: async (e) => {
        log.push(`hook ${e.recipient} suppressed=${suppression.find(e.recipient, [], NOW) !== undefined}`);
        await new Promise((r) => setTimeout(r, 5));
        log.push(`hook done ${e.recipient}`);
      },
    });
    await processor.ingest([hard('a@example.org'), hard('b@example.org')]);
    expect(log).toEqual(['hook a@example.org suppressed=true', 'hook done a@example.org', 'hook b@example.org suppressed=true', 'hook done b@example.org']);
  });

  it('rejects with a retryable STORE error when the hook fails, and a retry converges', async () => {
    const suppression = memorySuppressionStore();
    let failures = 1;
    const seen: ProcessedEvent[] = [];
    const processor = createFeedbackProcessor({
      suppression,
      now,
      policy: { softBounceThreshold: 2 },
      onEvent: (e, p) => {
        if (e.eventId === 's1' && failures-- > 0) throw new Error('db down');
        seen.push(p);
      },
    });
    const batch = [soft('s1'), soft('s2')];
    const err = await rejection(processor.ingest(batch));
    expect(err).toMatchObject({ code: MailErrorCode.STORE, retryable: true });
    expect((err.cause as Error).message).toBe('db down');
    expect(seen).toEqual([]);
    // The provider retries the same batch: s1 is not counted twice, so only s2 reaches the threshold of 2.
    const r = await processor.ingest(batch);
    expect(r.events.map((p) => p.suppression)).toEqual(['none', 'added']);
    expect(seen.map((p) => p.event.eventId)).toEqual(['s1', 's2']);
    expect([...(suppression.list() as Iterable<SuppressionEntry>)]).toHaveLength(1);
  });

  it('turns a synchronous throw of the store, policy or hook into the same STORE rejection as an asynchronous one', async () => {
    const throwing = (what: string) => () => {
      throw new Error(`${what} broke`);
    };
    const store = (over: Partial<SuppressionStore>): SuppressionStore => ({ name: 'sync', add: () => undefined, remove: () => false, find: () => undefined, list: () => [], ...over });
    const cases: [Parameters<typeof createFeedbackProcessor>[0], RegExp][] = [
      [{ suppression: store({ find: throwing('find') }) }, /suppression.find failed: find broke/],
      [{ suppression: store({ add: throwing('add') }) }, /suppression.add failed: add broke/],
      [{ suppression: store({ add: () => Promise.reject(new Error('late')) }) }, /suppression.add failed: late/],
      [{ suppression: store({}), policy: { evaluate: throwing('policy') } }, /policy failed: policy broke/],
      [{ suppression: store({}), onEvent: throwing('hook') }, /onEvent failed: hook broke/],
      [{ suppression: store({}), onEvent: () => Promise.reject(new Error('later')) }, /onEvent failed: later/],
    ];
    for (const [options, message] of cases) {
      const err = await rejection(createFeedbackProcessor(options).ingest([hard()]));
      expect(err.code).toBe(MailErrorCode.STORE);
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(message);
    }
    // A synchronous store answers without a promise per event, and the result is the same.
    const sync = memorySuppressionStore();
    const result = await createFeedbackProcessor({ suppression: sync, now }).ingest([hard('a@example.org'), hard('a@example.org'), hard('b@example.org')]);
    expect(result.events.map((e) => e.suppression)).toEqual(['added', 'kept', 'added']);
  });

  it('rejects when the suppression list fails, without calling the hook', async () => {
    const broken: SuppressionStore = {
      name: 'broken',
      add: () => Promise.reject(new Error('disk full')),
      remove: () => false,
      find: () => undefined,
      list: () => [],
    };
    let calls = 0;
    const err = await rejection(createFeedbackProcessor({ suppression: broken, onEvent: () => void calls++ }).ingest([hard()]));
    expect(err.code).toBe(MailErrorCode.STORE);
    expect(err.message).toMatch(/suppression.add failed: disk full/);
    expect(calls).toBe(0);
  });

  it('validates every event before doing anything', async () => {
    const suppression = memorySuppressionStore();
    let calls = 0;
    const processor = createFeedbackProcessor({ suppression, onEvent: () => void calls++ });
    for (const bad of [{ ...hard(), type: 'exploded' }, { ...hard(), recipient: 'nobody' }, { ...hard(), timestamp: 'now' }, { ...hard(), hard: 'yes' }, null]) {
      const err = await rejection(processor.ingest([hard(), bad as FeedbackEvent]));
      expect(err.code).toBe(MailErrorCode.VALIDATION);
      expect(err.message).toMatch(/events\[1\]/);
    }
    expect((await rejection(processor.ingest('x' as never))).code).toBe(MailErrorCode.VALIDATION);
    expect(calls).toBe(0);
    expect(suppression.size).toBe(0);
  });

  it('keeps a stronger entry: a soft-bounce suppression never shortens a hard bounce or a manual block', async () => {
    const suppression = memorySuppressionStore([{ address: 'ann@example.org', reason: 'manual', createdAt: 1 }]);
    const processor = createFeedbackProcessor({ suppression, now, policy: { softBounceThreshold: 1 } });
    const r = await processor.ingest([soft('x1'), hard()]);
    expect(r.events.map((p) => p.suppression)).toEqual(['kept', 'kept']);
    expect([...(suppression.list() as Iterable<SuppressionEntry>)]).toEqual([{ address: 'ann@example.org', reason: 'manual', createdAt: 1 }]);
  });

  it('upgrades an expiring entry to a permanent one, and replaces an expired one', async () => {
    const suppression = memorySuppressionStore([
      { address: 'ann@example.org', reason: 'soft-bounce', createdAt: 1, expiresAt: NOW + DAY },
      { address: 'bob@example.org', reason: 'hard-bounce', createdAt: 1, expiresAt: NOW - 1 },
    ]);
    const r = await createFeedbackProcessor({ suppression, now }).ingest([hard(), hard('bob@example.org')]);
    expect(r.events.map((p) => p.suppression)).toEqual(['added', 'added']);
    expect(suppression.find('ann@example.org', [], NOW + 2 * DAY)).toMatchObject({ reason: 'hard-bounce' });
    expect((suppression.find('bob@example.org', [], NOW + 2 * DAY) as SuppressionEntry | undefined)?.expiresAt).toBeUndefined();
  });

  it('lifts an unsubscribe on resubscribe, but never a hard bounce', async () => {
    const suppression = memorySuppressionStore();
    const processor = createFeedbackProcessor({ suppression, now });
    await processor.ingest([ev({ type: 'unsubscribed', list: '42' })]);
    expect(suppression.find('ann@example.org', ['42'], NOW)).toMatchObject({ reason: 'unsubscribe', scope: '42' });
    const r = await processor.ingest([ev({ type: 'resubscribed', list: '42' })]);
    expect(r).toMatchObject({ unsuppressed: 1 });
    expect(suppression.find('ann@example.org', ['42'], NOW)).toBeUndefined();

    await processor.ingest([hard()]);
    const again = await processor.ingest([ev({ type: 'resubscribed', list: '42' }), ev({ type: 'resubscribed' })]);
    expect(again.events.map((p) => p.suppression)).toEqual(['absent', 'absent']);
    expect(suppression.find('ann@example.org', [], NOW)).toMatchObject({ reason: 'hard-bounce' });
  });

  it('completes events through resolveCorrelation; the event keeps its own values', async () => {
    const queries: unknown[] = [];
    const processor = createFeedbackProcessor({
      suppression: memorySuppressionStore(),
      resolveCorrelation: async (q) => {
        queries.push(q);
        return { jobId: 'job-from-host', messageId: '<host@x>', metadata: { userId: 7 }, tags: { list: 'news', campaign: 'host' } };
      },
    });
    const r = await processor.ingest([ev({ type: 'opened', providerMessageId: 'ses-1', messageId: '<own@x>', tags: { campaign: 'own' } })]);
    expect(queries).toEqual([{ type: 'opened', provider: 'ses', recipient: 'ann@example.org', messageId: '<own@x>', providerMessageId: 'ses-1' }]);
    expect(r.events[0]!.event).toMatchObject({ jobId: 'job-from-host', messageId: '<own@x>', metadata: { userId: 7 }, tags: { list: 'news', campaign: 'own' } });
  });

  it('propagates a failing resolveCorrelation as a STORE error', async () => {
    const processor = createFeedbackProcessor({ suppression: memorySuppressionStore(), resolveCorrelation: () => Promise.reject(new Error('lookup failed')) });
    expect((await rejection(processor.ingest([hard()]))).code).toBe(MailErrorCode.STORE);
  });

  it('takes a custom policy', async () => {
    const suppression = memorySuppressionStore();
    const processor = createFeedbackProcessor({ suppression, policy: { evaluate: () => ({ action: 'none', why: 'host decides' }) } });
    const r = await processor.ingest([hard()]);
    expect(r.events[0]!.decision.why).toBe('host decides');
    expect(suppression.size).toBe(0);
  });

  it('keeps a batch of hard bounces small in memory: no hidden class per event or entry, one entry object per suppression', async () => {
    // What a batch keeps alive is what the young-generation GC copies while the host's loop waits:
    // 1,315 bytes per event before (a spread plus a field, or a spread then frozen, gave every
    // object its own hidden class), 430 after. The bound leaves room for other engines' layouts.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = (): number => {
      for (let i = 0; i < 3; i++) gc();
      return process.memoryUsage().heapUsed;
    };
    const n = 20_000;
    const events = Array.from({ length: n }, (_, i) => ({ type: 'bounced' as const, provider: 'dsn', recipient: `user${i}@d${i % 100}.example`, timestamp: NOW, hard: true, raw: {} }));
    const suppression = memorySuppressionStore();
    const processor = createFeedbackProcessor({ suppression, now });
    const before = heap();
    const result = await processor.ingest(events);
    const perEvent = (heap() - before) / n;
    expect(result.suppressed).toBe(n);
    expect(suppression.size).toBe(n);
    expect(perEvent).toBeLessThan(800);
  });

  it('with keepEvents: false, lists no event in the result, counts them, shows each to the batch hook after the processor hook, and keeps only the entries', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = (): number => {
      for (let i = 0; i < 3; i++) gc();
      return process.memoryUsage().heapUsed;
    };
    const log: string[] = [];
    const suppression = memorySuppressionStore();
    const processor = createFeedbackProcessor({ suppression, now, onEvent: (e) => void log.push(`processor ${e.recipient}`) });
    const small = await processor.ingest([hard('a@example.org'), ev({ type: 'opened', recipient: 'b@example.org' })], {
      keepEvents: false,
      onEvent: (e, p) => void log.push(`batch ${e.recipient} ${p.suppression} ${e.eventId !== undefined}`),
    });
    expect(small).toEqual({ events: [], processed: 2, suppressed: 1, unsuppressed: 0, unverified: 0 });
    expect(log).toEqual(['processor a@example.org', 'batch a@example.org added true', 'processor b@example.org', 'batch b@example.org none true']);
    // Kept (the default), the same batch lists both; the count is there too.
    const kept = await processor.ingest([hard('c@example.org'), ev({ type: 'opened', recipient: 'd@example.org' })]);
    expect(kept.events.map((p) => p.event.recipient)).toEqual(['c@example.org', 'd@example.org']);
    expect(kept.processed).toBe(2);

    // What stays of a large batch is its suppression entries: ~120 bytes per event here, against ~400 when the events are kept.
    const n = 20_000;
    const events = Array.from({ length: n }, (_, i) => ({ type: 'bounced' as const, provider: 'dsn', recipient: `user${i}@d${i % 100}.example`, timestamp: NOW, hard: true, raw: {} }));
    const big = memorySuppressionStore();
    const lean = createFeedbackProcessor({ suppression: big, now });
    const before = heap();
    const result = await lean.ingest(events, { keepEvents: false });
    const perEvent = (heap() - before) / n;
    expect(result).toMatchObject({ events: [], processed: n, suppressed: n });
    expect(big.size).toBe(n);
    expect(perEvent).toBeLessThan(250);
  });

  it('rejects a batch hook failure like a processor hook failure, and bad ingest options before any change', async () => {
    const suppression = memorySuppressionStore();
    const processor = createFeedbackProcessor({ suppression, now });
    const err = await rejection(
      processor.ingest([hard('a@example.org'), hard('b@example.org')], {
        onEvent: (e) => {
          if (e.recipient === 'a@example.org') throw new Error('db down');
        },
      }),
    );
    expect(err).toMatchObject({ code: MailErrorCode.STORE, retryable: true });
    expect(await suppression.find('b@example.org', [], NOW)).toBeUndefined();
    for (const bad of [{ keepEvents: 'no' }, { onEvent: 42 }, null]) {
      expect((await rejection(processor.ingest([hard('c@example.org')], bad as never))).code).toBe(MailErrorCode.CONFIG);
    }
    expect(await suppression.find('c@example.org', [], NOW)).toBeUndefined();
  });

  it('gives a large batch back to the host between slices: the loop turns many times during 50,000 events', async () => {
    const events = Array.from({ length: 50_000 }, (_, i) => ({ type: 'bounced' as const, provider: 'dsn', recipient: `user${i}@d${i % 100}.example`, timestamp: NOW, hard: true, raw: {} }));
    for (const options of [undefined, { keepEvents: false }]) {
      const processor = createFeedbackProcessor({ suppression: memorySuppressionStore(), now });
      const counter = countTurns();
      const result = await processor.ingest(events, options);
      counter.stop();
      expect(result.suppressed).toBe(50_000);
      // Slices of ~1 ms over 150-1,000 ms of work; in one turn the counter would run once at most.
      expect(counter.turns).toBeGreaterThanOrEqual(20);
    }
  });

  it('validates its options', () => {
    expect(() => createFeedbackProcessor({} as never)).toThrow(/suppression/);
    expect(() => createFeedbackProcessor({ suppression: memorySuppressionStore(), onEvent: 'x' as never })).toThrow(/onEvent/);
    expect(() => createFeedbackProcessor({ suppression: memorySuppressionStore(), verp: {} as never })).toThrow(/verp/);
    expect(() => createFeedbackProcessor({ suppression: memorySuppressionStore(), policy: { softBounceThreshold: -2 } })).toThrow(/softBounceThreshold/);
  });
});

describe('createFeedbackProcessor: ingestRaw', () => {
  it('turns a DSN into a hard bounce with the job id and Message-ID of the returned message', async () => {
    const suppression = memorySuppressionStore();
    const events: FeedbackEvent[] = [];
    const correlation = memoryCorrelationStore({ now });
    correlation.record(sentJob({ jobId: 'msg_0123456789abcdef0123456789abcdef/0', messageId: '<msg_1@shop.example>', recipients: ['ann@example.org'], tags: { list: 'orders' } }));
    const r = await createFeedbackProcessor({ suppression, now, correlation, onEvent: (e) => void events.push(e) }).ingestRaw(dsn({ jobId: 'msg_0123456789abcdef0123456789abcdef/0' }));
    expect(r).toMatchObject({ kind: 'bounce', suppressed: 1, unresolved: 0, unverified: 0 });
    expect(r.events[0]!.verification).toEqual({ verified: true, by: 'correlation' });
    expect(events[0]).toMatchObject({
      type: 'bounced',
      provider: 'dsn',
      recipient: 'ann@example.org',
      hard: true,
      reason: 'userunknown',
      status: '5.1.1',
      messageId: '<msg_1@shop.example>',
      jobId: 'msg_0123456789abcdef0123456789abcdef/0',
      timestamp: Date.parse('2026-03-01T11:58:00Z'),
      eventId: 'dsn:<dsn-1@mx.shop.example>:0:ann@example.org',
      verified: true,
      tags: { list: 'orders' },
    });
    expect(suppression.find('ann@example.org', [], NOW)).toMatchObject({ reason: 'hard-bounce', source: 'dsn' });
  });

  it('does not suppress a policy block or a delay, and counts the same soft bounce mail once', async () => {
    const suppression = memorySuppressionStore();
    const processor = createFeedbackProcessor({ suppression, now, policy: { softBounceThreshold: 2 }, rawTrust: 'mailbox' });
    const blocked = await processor.ingestRaw(dsn({ status: '5.7.1', diagnostic: '550 5.7.1 Message rejected due to content restrictions (policy)' }));
    expect(blocked.events[0]).toMatchObject({ event: { type: 'bounced', hard: false }, suppression: 'none' });
    const delay = await processor.ingestRaw(dsn({ action: 'delayed', status: '4.4.7', diagnostic: '421 4.4.7 timed out' }));
    expect(delay.kind).toBe('delay');
    expect(delay.events[0]?.event.type).toBe('deferred');
    const full = dsn({ status: '5.2.2', diagnostic: '552 5.2.2 Mailbox full', messageId: 'full-1' });
    await processor.ingestRaw(full);
    await processor.ingestRaw(Buffer.from(full));
    expect(suppression.size).toBe(0);
    await processor.ingestRaw(dsn({ status: '5.2.2', diagnostic: '552 5.2.2 Mailbox full', messageId: 'full-2' }));
    expect(suppression.find('ann@example.org', [], NOW)).toMatchObject({ reason: 'soft-bounce' });
  });

  it('gives a report without Message-ID or Date the same event ids when it is read again', async () => {
    const suppression = memorySuppressionStore();
    const processor = createFeedbackProcessor({ suppression, policy: { softBounceThreshold: 2 } });
    const bare = dsn({ status: '5.2.2', diagnostic: '552 5.2.2 Mailbox full' })
      .split('\r\n')
      .filter((l) => !/^(Message-ID|Date):/.test(l))
      .join('\r\n');
    const a = await processor.ingestRaw(bare);
    const b = await processor.ingestRaw(bare);
    expect(a.events[0]!.event.eventId).toMatch(/^dsn:sha256:[0-9a-f]{32}:0:ann@example.org$/);
    expect(b.events[0]!.event.eventId).toBe(a.events[0]!.event.eventId);
    expect(suppression.size).toBe(0);
  });

  it('ignores auto-replies and ordinary mail', async () => {
    const suppression = memorySuppressionStore();
    let calls = 0;
    const processor = createFeedbackProcessor({ suppression, onEvent: () => void calls++ });
    const vacation = ['From: Ann <ann@example.org>', 'To: orders@shop.example', 'Subject: Out of office: Your order', 'Auto-Submitted: auto-replied', 'Date: Sun, 01 Mar 2026 11:58:00 +0000', '', 'I am away until Monday.', ''].join('\r\n');
    expect(await processor.ingestRaw(vacation)).toMatchObject({ kind: 'autoreply', events: [] });
    const ordinary = ['From: Ann <ann@example.org>', 'To: orders@shop.example', 'Subject: Question', '', 'Where is my order?', ''].join('\r\n');
    expect(await processor.ingestRaw(ordinary)).toMatchObject({ kind: 'not-bounce', events: [] });
    for (const junk of ['', '\u0000\u0001', 'x'.repeat(5_000_000), new Uint8Array(1000).fill(0xff)]) expect((await processor.ingestRaw(junk)).events).toEqual([]);
    expect(calls).toBe(0);
    expect(suppression.size).toBe(0);
  });

  it('turns an ARF report into a complaint that suppresses', async () => {
    const suppression = memorySuppressionStore();
    const correlation = memoryCorrelationStore({ now });
    correlation.record(sentJob({ jobId: 'job_news7', messageId: '<news-7@shop.example>', recipients: ['vic@isp.example'] }));
    const r = await createFeedbackProcessor({ suppression, now, correlation }).ingestRaw(arf({ rcptTo: 'vic@isp.example', jobId: 'job_news7' }));
    expect(r).toMatchObject({ kind: 'complaint', suppressed: 1, unverified: 0 });
    expect(r.events[0]!.event).toMatchObject({ type: 'complained', provider: 'arf', recipient: 'vic@isp.example', feedbackType: 'abuse', jobId: 'job_news7', messageId: '<news-7@shop.example>', userAgent: 'ExampleFBL/1.0' });
    expect(suppression.find('vic@isp.example', [], NOW)).toMatchObject({ reason: 'complaint', source: 'arf' });
  });

  it('resolves a redacted complaint through the job id and resolveCorrelation, or reports it unresolved', async () => {
    const suppression = memorySuppressionStore();
    const queries: unknown[] = [];
    const processor = createFeedbackProcessor({
      suppression,
      now,
      rawTrust: 'mailbox',
      resolveCorrelation: (q) => {
        queries.push(q);
        return q.jobId === 'job_news7' ? { recipient: 'vic@isp.example', metadata: { userId: 9 } } : undefined;
      },
    });
    const r = await processor.ingestRaw(arf({ jobId: 'job_news7' }));
    expect(queries).toEqual([{ type: 'complained', provider: 'arf', jobId: 'job_news7', messageId: '<news-7@shop.example>' }]);
    expect(r.events[0]!.event).toMatchObject({ recipient: 'vic@isp.example', metadata: { userId: 9 } });
    expect(suppression.find('vic@isp.example', [], NOW)).toBeDefined();

    const lost = await processor.ingestRaw(arf({ jobId: 'job_unknown' }));
    expect(lost).toMatchObject({ kind: 'complaint', unresolved: 1, events: [] });
  });

  it('correlates through VERP: the DSN sent to the return path, and the ARF Original-Mail-From', async () => {
    const verp = createVerp({ domain: 'bounces.shop.example', secret: 'a-long-enough-test-secret' });
    const jobId = 'msg_0123456789abcdef0123456789abcdef/3';
    const returnPath = verp.encode(jobId, 'a@ex.io');
    expect(verp.decode(returnPath)).toEqual({ jobId, recipient: 'a@ex.io' });
    const suppression = memorySuppressionStore();
    const processor = createFeedbackProcessor({ suppression, now, verp });
    const bounce = await processor.ingestRaw(dsn({ to: `<${returnPath}>` }));
    expect(bounce.events[0]!.event.jobId).toBe(jobId);
    // deliveredTo wins over the headers
    const direct = await processor.ingestRaw(dsn(), { deliveredTo: returnPath });
    expect(direct.events[0]!.event.jobId).toBe(jobId);
    // A tampered return path gives nothing.
    const tampered = await processor.ingestRaw(dsn({ to: returnPath.replace(/\+(.)/, (_m, c: string) => `+${c === 'a' ? 'b' : 'a'}`) }));
    expect(tampered.events[0]!.event.jobId).toBeUndefined();
    // A fully redacted complaint is resolved from the VERP address in Original-Mail-From.
    const complaint = await processor.ingestRaw(arf({ mailFrom: returnPath }));
    expect(complaint.events[0]!.event).toMatchObject({ recipient: 'a@ex.io', jobId });
  });

  it('rejects input that is not text or bytes', async () => {
    const processor = createFeedbackProcessor({ suppression: memorySuppressionStore() });
    expect((await rejection(processor.ingestRaw(42 as never))).code).toBe(MailErrorCode.VALIDATION);
  });

  it('reads a 10 MB bounce in pieces, with turns of the event loop between them, and still finds its recipient', async () => {
    // The DSN with a 10 MB returned attachment (base64, CRLF): skimmed, decoded and normalized across turns.
    const attachment = randomBytes(7_500_000).toString('base64').replace(/.{76}/g, '$&\r\n');
    const mail = dsn({ messageId: 'big-1' }).replace('--b1--', ['--b1', 'Content-Type: application/pdf', 'Content-Transfer-Encoding: base64', '', attachment, '--b1--'].join('\n'));
    expect(mail.length).toBeGreaterThan(10_000_000);
    const suppression = memorySuppressionStore();
    const processor = createFeedbackProcessor({ suppression, rawTrust: 'mailbox', now });
    const counter = countTurns();
    const result = await processor.ingestRaw(Buffer.from(mail));
    counter.stop();
    expect(result.kind).toBe('bounce');
    expect(result.suppressed).toBe(1);
    expect(await suppression.find('ann@example.org', [], NOW)).toMatchObject({ reason: 'hard-bounce' });
    // Parsed in one turn, the host's immediates would run once at most (when the events are processed).
    expect(counter.turns).toBeGreaterThanOrEqual(3);
  });
});

describe('createFeedbackProcessor: a mail-borne report changes state only for what it proves', () => {
  const SECRET = 'a-long-enough-verp-test-secret';
  // Long enough local parts for the recipient to fit in the token (at 64 octets only short addresses do).
  const verp = createVerp({ domain: 'bounces.sender.test', secret: SECRET, maxLocalPartLength: 160 });
  const JOB = 'msg_0123456789abcdef0123456789abcdef/0';
  // Ten lines anybody can send to a bounce mailbox.
  const forged = (recipient = 'victim@bigcustomer.example', status = '5.1.1', action = 'failed') =>
    [
      'From: MAILER-DAEMON@mx.attacker.example',
      'To: bounces@bounces.sender.test',
      'Subject: Undelivered Mail Returned to Sender',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="x"',
      '',
      '--x',
      'Content-Type: message/delivery-status',
      '',
      `Final-Recipient: rfc822; ${recipient}`,
      `Action: ${action}`,
      `Status: ${status}`,
      '--x--',
      '',
    ].join('\r\n');

  function setup(extra: Partial<Parameters<typeof createFeedbackProcessor>[0]> = {}) {
    const suppression = memorySuppressionStore();
    const correlation = memoryCorrelationStore({ now });
    const seen: ProcessedEvent[] = [];
    const processor = createFeedbackProcessor({ suppression, now, verp, correlation, onEvent: (_e, p) => void seen.push(p), ...extra });
    return { suppression, correlation, seen, processor };
  }

  it('does not suppress the victim of a forged bounce, with a forged VERP token or none, and still reports it', async () => {
    const { suppression, seen, processor } = setup();
    for (const deliveredTo of ['bounces+forgedtoken@bounces.sender.test', undefined]) {
      const r = await processor.ingestRaw(forged(), deliveredTo === undefined ? {} : { deliveredTo });
      expect(r).toMatchObject({ kind: 'bounce', suppressed: 0, unverified: 1 });
      expect(r.events[0]).toMatchObject({
        suppression: 'none',
        decision: { action: 'none' },
        verification: { verified: false, reason: 'no-proof' },
        event: { type: 'bounced', recipient: 'victim@bigcustomer.example', hard: true, verified: false },
      });
    }
    expect(suppression.size).toBe(0);
    expect(suppression.find('victim@bigcustomer.example', [], NOW)).toBeUndefined();
    // The host's hook sees the unverified events, marked.
    expect(seen.map((p) => p.event.verified)).toEqual([false, false]);
  });

  it('does not take a forged ARF complaint either', async () => {
    const { suppression, processor } = setup();
    const r = await processor.ingestRaw(arf({ rcptTo: 'victim@bigcustomer.example', jobId: 'msg_guessed/0' }));
    expect(r).toMatchObject({ kind: 'complaint', suppressed: 0, unverified: 1 });
    expect(r.events[0]).toMatchObject({ verification: { verified: false, reason: 'unknown-job' }, event: { type: 'complained', verified: false } });
    expect(suppression.size).toBe(0);
  });

  it('neither counts forged soft bounces nor lets a forged delivery reset the count', async () => {
    const { suppression, processor } = setup({ policy: { softBounceThreshold: 2 } });
    const full = (n: number, deliveredTo?: string) =>
      processor.ingestRaw(dsn({ status: '5.2.2', diagnostic: '552 5.2.2 Mailbox full', messageId: `full-${n}` }), deliveredTo === undefined ? {} : { deliveredTo });
    // Forged: they count nothing.
    await full(1);
    await full(2);
    expect(suppression.size).toBe(0);
    // Real ones (sent to the job's VERP return path), with a forged delivery report in between.
    const returnPath = verp.encode(JOB, 'ann@example.org');
    await full(3, returnPath);
    const delivered = await processor.ingestRaw(forged('ann@example.org', '2.0.0', 'delivered'));
    expect(delivered).toMatchObject({ kind: 'delivery', unverified: 1 });
    await full(4, returnPath);
    expect(suppression.find('ann@example.org', [], NOW)).toMatchObject({ reason: 'soft-bounce' });
  });

  it('believes a valid VERP token for its own recipient only', async () => {
    const { suppression, processor } = setup();
    // The attacker's own return path (from a mail sent to the attacker) does not cover the victim.
    const own = verp.encode('msg_ffffffffffffffffffffffffffffffff/0', 'attacker@evil.example');
    const r = await processor.ingestRaw(forged(), { deliveredTo: own });
    expect(r.events[0]).toMatchObject({ suppression: 'none', verification: { verified: false, reason: 'recipient-mismatch' } });
    expect(suppression.size).toBe(0);

    const real = verp.encode(JOB, 'Victim@BigCustomer.example');
    const ok = await processor.ingestRaw(forged('victim@bigcustomer.example'), { deliveredTo: real });
    expect(ok.events[0]).toMatchObject({ suppression: 'added', verification: { verified: true, by: 'verp' }, event: { jobId: JOB, verified: true } });
    expect(suppression.find('victim@bigcustomer.example', [], NOW)).toMatchObject({ reason: 'hard-bounce', source: 'dsn' });
  });

  it('checks a VERP token without recipient against the recipients of its job', async () => {
    const { suppression, correlation, processor } = setup();
    correlation.record(sentJob({ jobId: JOB, messageId: '<m@shop.example>', recipients: ['ann@example.org', 'bob@example.org'] }));
    const returnPath = verp.encode(JOB);
    expect((await processor.ingestRaw(forged('mallory@example.org'), { deliveredTo: returnPath })).events[0]).toMatchObject({
      verification: { verified: false, reason: 'recipient-mismatch' },
    });
    expect((await processor.ingestRaw(forged('bob@example.org'), { deliveredTo: returnPath })).events[0]).toMatchObject({ suppression: 'added', verification: { verified: true, by: 'verp' } });
    expect(suppression.size).toBe(1);
    // Without a correlation store such a token cannot say who the recipients were.
    const bare = createFeedbackProcessor({ suppression: memorySuppressionStore(), verp, now });
    expect((await bare.ingestRaw(forged('bob@example.org'), { deliveredTo: returnPath })).events[0]).toMatchObject({
      verification: { verified: false, reason: 'no-correlation-store' },
    });
  });

  it('believes a returned original only when its job id, Message-ID and recipient match a sent job', async () => {
    const { suppression, correlation, processor } = setup({ verp: undefined } as never);
    correlation.record(sentJob({ jobId: JOB, messageId: '<msg_1@shop.example>', recipients: ['Ann@example.org'], providerMessageId: 'ses-42' }));
    const cases: [string, Parameters<typeof dsn>[0], string][] = [
      ['unknown job', { jobId: 'msg_99999999999999999999999999999999/0' }, 'unknown-job'],
      ['another recipient of the same domain', { jobId: JOB, recipient: 'zed@example.org' }, 'recipient-mismatch'],
      ['no returned job id', {}, 'no-proof'],
    ];
    for (const [what, options, reason] of cases) {
      const r = await processor.ingestRaw(dsn(options));
      expect(r.events[0]!.verification, what).toMatchObject({ verified: false, reason });
    }
    const otherMessage = dsn({ jobId: JOB }).replace('Message-ID: <msg_1@shop.example>', 'Message-ID: <forged@shop.example>');
    expect((await processor.ingestRaw(otherMessage)).events[0]!.verification).toMatchObject({ verified: false, reason: 'message-id-mismatch' });
    expect(suppression.size).toBe(0);
    // The local part's case may differ in the report (the list compares addresses case-insensitively).
    const ok = await processor.ingestRaw(dsn({ jobId: JOB, recipient: 'ann@EXAMPLE.org' }));
    expect(ok.events[0]).toMatchObject({ suppression: 'added', verification: { verified: true, by: 'correlation' }, event: { recipient: 'ann@example.org', providerMessageId: 'ses-42', verified: true } });
  });

  it('without a correlation store, says so for a report that names a job', async () => {
    const processor = createFeedbackProcessor({ suppression: memorySuppressionStore(), now });
    const r = await processor.ingestRaw(dsn({ jobId: JOB }));
    expect(r.events[0]!.verification).toMatchObject({ verified: false, reason: 'no-correlation-store' });
  });

  it('takes the correlation store asynchronously too, looking a job up once per report', async () => {
    const inner = memoryCorrelationStore({ now });
    const finds: string[] = [];
    const correlation = {
      name: 'async',
      record: async (e: SentRecord) => inner.record(e),
      find: async (jobId: string) => {
        finds.push(jobId);
        return inner.find(jobId);
      },
    };
    await correlation.record(sentJob({ jobId: JOB, messageId: '<msg_1@shop.example>', recipients: ['ann@example.org'] }));
    const suppression = memorySuppressionStore();
    const r = await createFeedbackProcessor({ suppression, now, correlation }).ingestRaw(dsn({ jobId: JOB }));
    expect(r).toMatchObject({ suppressed: 1, unverified: 0 });
    expect(finds).toEqual([JOB]);
    const failing = createFeedbackProcessor({ suppression, now, correlation: { name: 'down', record: () => undefined, find: () => Promise.reject(new Error('db down')) } });
    expect(await rejection(failing.ingestRaw(dsn({ jobId: JOB })))).toMatchObject({ code: MailErrorCode.STORE, retryable: true });
  });

  it('names the recipient of a redacted complaint from the one recipient of the sent job', async () => {
    const { suppression, correlation, processor } = setup({ verp: undefined } as never);
    correlation.record(sentJob({ jobId: 'job_news7', messageId: '<news-7@shop.example>', recipients: ['vic@isp.example'] }));
    const r = await processor.ingestRaw(arf({ jobId: 'job_news7' }));
    expect(r).toMatchObject({ kind: 'complaint', unresolved: 0, suppressed: 1 });
    expect(r.events[0]).toMatchObject({ verification: { verified: true, by: 'correlation' }, event: { recipient: 'vic@isp.example', jobId: 'job_news7' } });
    expect(suppression.find('vic@isp.example', [], NOW)).toMatchObject({ reason: 'complaint' });
  });

  it("believes every report with rawTrust: 'mailbox' (a private mailbox), and events given to ingest unless marked unverified", async () => {
    const { suppression, processor } = setup({ rawTrust: 'mailbox' });
    const r = await processor.ingestRaw(forged());
    expect(r.events[0]).toMatchObject({ suppression: 'added', verification: { verified: true, by: 'mailbox' }, event: { verified: true } });
    expect(suppression.size).toBe(1);
    const other = setup();
    const given = await other.processor.ingest([hard('a@example.org'), { ...hard('b@example.org'), verified: false }]);
    expect(given.events.map((p) => [p.suppression, p.verification.verified])).toEqual([
      ['added', true],
      ['none', false],
    ]);
    expect(given.unverified).toBe(1);
    expect(given.events[0]!.verification).toEqual({ verified: true, by: 'caller' });
  });

  it('validates the new options', async () => {
    const suppression = memorySuppressionStore();
    expect(() => createFeedbackProcessor({ suppression, rawTrust: 'always' as never })).toThrow(/rawTrust/);
    expect(() => createFeedbackProcessor({ suppression, correlation: { name: 'x' } as never })).toThrow(/correlation/);
    await expect(createFeedbackProcessor({ suppression }).ingest([{ ...hard(), verified: 'yes' as never }])).rejects.toThrow(/verified/);
  });
});
