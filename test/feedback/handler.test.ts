import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { FeedbackEvent } from '../../src/feedback/event.js';
import { createFeedbackHandler, toNodeHandler } from '../../src/feedback/handler.js';
import type { FeedbackHandlerError, FeedbackHandlerOptions } from '../../src/feedback/handler.js';
import { createFeedbackProcessor } from '../../src/feedback/processor.js';
import type { SnsFetcher } from '../../src/feedback/sns.js';
import memoryReplayStore from '../../src/stores/replay-memory.js';
import memorySuppressionStore from '../../src/stores/suppression-memory.js';
import { createSendGridTestSigner, createSnsTestSigner } from '../../src/testing/feedback-signers.js';
import type { ReplayStore } from '../../src/types.js';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-feedback';
const OTHER_TOPIC = 'arn:aws:sns:us-east-1:123456789012:someone-else';
const sns = createSnsTestSigner();
const sg = createSendGridTestSigner();

const sesBounce = (recipient = 'jane@example.com') => ({
  notificationType: 'Bounce',
  bounce: { bounceType: 'Permanent', bounceSubType: 'General', bouncedRecipients: [{ emailAddress: recipient, action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }], timestamp: new Date().toISOString(), feedbackId: 'fb' },
  mail: { timestamp: new Date().toISOString(), messageId: 'ses-1', destination: [recipient], headers: [{ name: 'X-Mailpush-Job-Id', value: 'job_1' }], commonHeaders: { messageId: '<m1@shop.example>' } },
});
const sgBatch = (email = 'bob@example.com') => JSON.stringify([{ email, event: 'spamreport', timestamp: Math.floor(Date.now() / 1000), sg_event_id: `e-${email}`, mailpush_job_id: 'job_2' }]);

interface Setup {
  handler: ReturnType<typeof createFeedbackHandler>;
  events: FeedbackEvent[];
  errors: FeedbackHandlerError[];
  suppression: ReturnType<typeof memorySuppressionStore>;
  fetched: string[];
  hook: { fail: number };
}

function setup(extra: Partial<FeedbackHandlerOptions> & { fetcher?: SnsFetcher; autoConfirm?: boolean } = {}): Setup {
  const suppression = memorySuppressionStore();
  const events: FeedbackEvent[] = [];
  const errors: FeedbackHandlerError[] = [];
  const fetched: string[] = [];
  const hook = { fail: 0 };
  const processor = createFeedbackProcessor({
    suppression,
    onEvent: (e) => {
      if (hook.fail > 0) {
        hook.fail--;
        throw new Error('database unavailable');
      }
      events.push(e);
    },
  });
  const fetcher: SnsFetcher = async (url, o) => {
    fetched.push(url);
    return (extra.fetcher ?? sns.fetcher)(url, o);
  };
  const handler = createFeedbackHandler({
    processor,
    ses: { topicArns: [TOPIC], fetcher, ...(extra.autoConfirm !== undefined ? { autoConfirm: extra.autoConfirm } : {}) },
    sendgrid: { publicKey: sg.publicKey },
    onError: (e) => errors.push(e),
    ...extra,
  });
  return { handler, events, errors, suppression, fetched, hook };
}

const post = (path: string, signed: { body: string; headers: Record<string, string> }, headers: Record<string, string> = {}) =>
  new Request(`http://localhost${path}`, { method: 'POST', body: signed.body, headers: { ...signed.headers, ...headers } });

async function answer(res: Response): Promise<{ status: number; body: Record<string, unknown> }> {
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('createFeedbackHandler: SES through SNS', () => {
  it('verifies, processes and answers 200 after the hook, with the suppression stored', async () => {
    const s = setup();
    const res = await answer(await s.handler(post('/ses', sns.notification(TOPIC, sesBounce()))));
    expect(res).toEqual({ status: 200, body: { ok: true, events: 1, suppressed: 1 } });
    expect(s.events[0]).toMatchObject({ type: 'bounced', recipient: 'jane@example.com', jobId: 'job_1', provider: 'ses' });
    expect(s.suppression.find('jane@example.com', [], Date.now())).toMatchObject({ reason: 'hard-bounce' });
    expect(s.errors).toEqual([]);
  });

  it('refuses a forged notification with 403 and stores nothing', async () => {
    const s = setup();
    const signed = sns.notification(TOPIC, sesBounce());
    const forged = { ...signed, body: signed.body.replace('jane@example.com', 'victim@example.com') };
    const res = await answer(await s.handler(post('/ses', forged)));
    expect(res.status).toBe(403);
    expect(s.events).toEqual([]);
    expect(s.suppression.size).toBe(0);
    expect(s.errors[0]).toMatchObject({ provider: 'ses', status: 403 });
  });

  it('refuses a certificate URL on another host without fetching it', async () => {
    const s = setup();
    const env = JSON.parse(sns.notification(TOPIC, sesBounce()).body) as Record<string, string>;
    for (const url of ['https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-x.pem', 'http://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem', 'https://s3.amazonaws.com/x/SimpleNotificationService-x.pem']) {
      const body = JSON.stringify({ ...env, SigningCertURL: url });
      const res = await s.handler(new Request('http://localhost/ses', { method: 'POST', body, headers: { 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-topic-arn': TOPIC } }));
      expect(res.status).toBe(403);
    }
    expect(s.fetched).toEqual([]);
    expect(s.suppression.size).toBe(0);
  });

  it('refuses an unknown topic, also for subscription confirmations, without fetching anything', async () => {
    const s = setup();
    expect((await s.handler(post('/ses', sns.notification(OTHER_TOPIC, sesBounce())))).status).toBe(403);
    expect((await s.handler(post('/ses', sns.subscriptionConfirmation(OTHER_TOPIC)))).status).toBe(403);
    expect(s.fetched).toEqual([]);
    expect(s.events).toEqual([]);
  });

  it('confirms the subscription of an allowed topic by fetching its SubscribeURL', async () => {
    const s = setup();
    const res = await answer(await s.handler(post('/ses', sns.subscriptionConfirmation(TOPIC))));
    expect(res).toEqual({ status: 200, body: { ok: true, confirmed: true } });
    expect(s.fetched).toEqual([sns.certUrl, expect.stringMatching(/^https:\/\/sns\.us-east-1\.amazonaws\.com\/\?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:ses-feedback&Token=/)]);
  });

  it('does not confirm when autoConfirm is false, and answers 503 when confirming fails', async () => {
    const manual = setup({ autoConfirm: false });
    expect(await answer(await manual.handler(post('/ses', sns.subscriptionConfirmation(TOPIC))))).toEqual({ status: 200, body: { ok: true, confirmed: false } });
    expect(manual.fetched).toEqual([sns.certUrl]);
    const failing = setup({ fetcher: async (url, o) => (url === sns.certUrl ? sns.fetcher(url, o) : Promise.reject(new Error('ETIMEDOUT'))) });
    expect((await failing.handler(post('/ses', sns.subscriptionConfirmation(TOPIC)))).status).toBe(503);
  });

  it('refuses a signed confirmation whose SubscribeURL points elsewhere', async () => {
    const s = setup();
    const env = sns.sign({ Type: 'SubscriptionConfirmation', MessageId: 'c1', TopicArn: TOPIC, Message: 'confirm', Timestamp: new Date().toISOString(), Token: 't', SubscribeURL: 'https://evil.example/?Action=ConfirmSubscription' });
    const res = await s.handler(new Request('http://localhost/ses', { method: 'POST', body: JSON.stringify(env), headers: { 'x-amz-sns-message-type': env.Type, 'x-amz-sns-topic-arn': TOPIC } }));
    expect(res.status).toBe(403);
    expect(s.fetched).toEqual([sns.certUrl]);
  });

  it('answers 200 to unsubscribe confirmations and SES test notices without events', async () => {
    const s = setup();
    const env = sns.sign({ Type: 'UnsubscribeConfirmation', MessageId: 'u1', TopicArn: TOPIC, Message: 'bye', Timestamp: new Date().toISOString(), Token: 't', SubscribeURL: `https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=t` });
    expect((await s.handler(new Request('http://localhost/ses', { method: 'POST', body: JSON.stringify(env), headers: { 'x-amz-sns-message-type': env.Type, 'x-amz-sns-topic-arn': TOPIC } }))).status).toBe(200);
    const notice = await answer(await s.handler(post('/ses', sns.notification(TOPIC, 'Successfully validated SNS topic for Amazon SES event publishing.'))));
    expect(notice).toEqual({ status: 200, body: { ok: true, events: 0, suppressed: 0 } });
    expect(s.events).toEqual([]);
  });

  it('refuses requests whose SNS headers are missing or disagree with the body', async () => {
    const s = setup();
    const signed = sns.notification(TOPIC, sesBounce());
    const without = { body: signed.body, headers: { 'content-type': 'text/plain' } };
    expect((await s.handler(post('/ses', without))).status).toBe(400);
    expect((await s.handler(post('/ses', signed, { 'x-amz-sns-topic-arn': OTHER_TOPIC }))).status).toBe(400);
    expect((await s.handler(post('/ses', signed, { 'x-amz-sns-message-type': 'SubscriptionConfirmation' }))).status).toBe(400);
    expect((await s.handler(post('/ses', signed, { 'x-amz-sns-message-id': 'other' }))).status).toBe(400);
    expect(s.fetched).toEqual([]);
  });

  it('refuses a stale message (an old capture replayed) with 403', async () => {
    const s = setup();
    const res = await s.handler(post('/ses', sns.notification(TOPIC, sesBounce(), { timestamp: Date.now() - 3 * 3_600_000 })));
    expect(res.status).toBe(403);
    expect(s.events).toEqual([]);
  });

  it('answers a replay of a processed message 200 without processing it again', async () => {
    const s = setup();
    const signed = sns.notification(TOPIC, sesBounce());
    expect((await s.handler(post('/ses', signed))).status).toBe(200);
    expect(await answer(await s.handler(post('/ses', signed)))).toEqual({ status: 200, body: { ok: true, duplicate: true } });
    expect(s.events).toHaveLength(1);
  });

  it('answers 500 when the host hook fails, then processes the retry', async () => {
    const s = setup();
    s.hook.fail = 1;
    const signed = sns.notification(TOPIC, sesBounce());
    const first = await s.handler(post('/ses', signed));
    expect(first.status).toBe(500);
    expect(s.errors[0]).toMatchObject({ provider: 'ses', status: 500, error: { code: 'MAILPUSH_ERR_STORE' } });
    expect(s.events).toEqual([]);
    const retry = await answer(await s.handler(post('/ses', signed)));
    expect(retry.status).toBe(200);
    expect(s.events).toHaveLength(1);
  });

  it('answers 503 when the certificate cannot be fetched, so SNS retries', async () => {
    const s = setup({ fetcher: () => Promise.reject(new Error('ECONNREFUSED')) });
    expect((await s.handler(post('/ses', sns.notification(TOPIC, sesBounce())))).status).toBe(503);
    expect(s.events).toEqual([]);
  });
});

describe('createFeedbackHandler: SendGrid', () => {
  it('verifies, processes and answers 200', async () => {
    const s = setup();
    const res = await answer(await s.handler(post('/sendgrid', sg.sign(sgBatch()))));
    expect(res).toEqual({ status: 200, body: { ok: true, events: 1, suppressed: 1 } });
    expect(s.events[0]).toMatchObject({ type: 'complained', recipient: 'bob@example.com', jobId: 'job_2' });
    expect(s.suppression.find('bob@example.com', [], Date.now())).toMatchObject({ reason: 'complaint', source: 'sendgrid' });
  });

  it('refuses missing (401), forged, re-serialized and stale (403) requests, storing nothing', async () => {
    const s = setup();
    const signed = sg.sign(sgBatch());
    expect((await s.handler(post('/sendgrid', { body: signed.body, headers: { 'content-type': 'application/json' } }))).status).toBe(401);
    expect((await s.handler(post('/sendgrid', { ...signed, body: sgBatch('victim@example.com') }))).status).toBe(403);
    expect((await s.handler(post('/sendgrid', { ...signed, body: JSON.stringify(JSON.parse(signed.body), null, 2) }))).status).toBe(403);
    expect((await s.handler(post('/sendgrid', sg.sign(sgBatch(), Math.floor(Date.now() / 1000) - 3600)))).status).toBe(403);
    expect((await s.handler(post('/sendgrid', createSendGridTestSigner().sign(sgBatch())))).status).toBe(403);
    expect(s.events).toEqual([]);
    expect(s.suppression.size).toBe(0);
  });

  it('answers a replayed request 200 without processing it again', async () => {
    const s = setup();
    const signed = sg.sign(sgBatch());
    await s.handler(post('/sendgrid', signed));
    expect(await answer(await s.handler(post('/sendgrid', signed)))).toEqual({ status: 200, body: { ok: true, duplicate: true } });
    expect(s.events).toHaveLength(1);
  });

  it('answers 400 to a signed body that is not a JSON array', async () => {
    const s = setup();
    expect((await s.handler(post('/sendgrid', sg.sign('{"email":"a@example.com"}')))).status).toBe(400);
    expect((await s.handler(post('/sendgrid', sg.sign('[{"email":')))).status).toBe(400);
  });
});

describe('createFeedbackHandler: routing, limits and robustness', () => {
  it('routes by path suffix, and by the provider headers elsewhere', async () => {
    const s = setup();
    expect((await s.handler(post('/webhooks/ses/', sns.notification(TOPIC, sesBounce('a@example.com'))))).status).toBe(200);
    expect((await s.handler(post('/hooks/mail', sns.notification(TOPIC, sesBounce('b@example.com'))))).status).toBe(200);
    expect((await s.handler(post('/hooks/mail', sg.sign(sgBatch('c@example.com'))))).status).toBe(200);
    const custom = setup({ paths: { sendgrid: '/in/sg' } });
    expect((await custom.handler(post('/in/sg', sg.sign(sgBatch())))).status).toBe(200);
    expect(s.events.map((e) => e.recipient)).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
  });

  it('answers 404 for unknown paths and unconfigured providers, 405 for other methods', async () => {
    const s = setup();
    expect((await s.handler(new Request('http://localhost/other', { method: 'POST', body: '{}' }))).status).toBe(404);
    expect((await s.handler(new Request('http://localhost/ses', { method: 'GET' }))).status).toBe(405);
    expect((await s.handler(new Request('http://localhost/ses', { method: 'GET' }))).headers.get('allow')).toBe('POST');
    const onlySg = createFeedbackHandler({ processor: createFeedbackProcessor({ suppression: memorySuppressionStore() }), sendgrid: { publicKey: sg.publicKey } });
    expect((await onlySg(post('/ses', sns.notification(TOPIC, sesBounce())))).status).toBe(404);
  });

  it('answers 413 to bodies over maxBodyBytes, declared or streamed', async () => {
    const s = setup({ maxBodyBytes: 4096 });
    const big = 'x'.repeat(5000);
    expect((await s.handler(new Request('http://localhost/ses', { method: 'POST', body: big, headers: { 'x-amz-sns-message-type': 'Notification' } }))).status).toBe(413);
    let pulls = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        controller.enqueue(new Uint8Array(1024));
        if (pulls > 10_000) controller.close();
      },
    });
    const res = await s.handler(new Request('http://localhost/sendgrid', { method: 'POST', body: stream, duplex: 'half' } as RequestInit));
    expect(res.status).toBe(413);
    // It stopped reading soon after the cap instead of draining the stream.
    expect(pulls).toBeLessThan(20);
  });

  it('answers 400 to malformed JSON and never throws on garbage', async () => {
    const s = setup();
    expect((await s.handler(new Request('http://localhost/ses', { method: 'POST', body: '{not json', headers: { 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-topic-arn': TOPIC } }))).status).toBe(400);
    const samples = ['', 'null', '[]', '{}', '"x"', '\u0000\u00ff', '{"Type":"Notification"}', '{"__proto__":{"x":1}}', '{'.repeat(50_000), JSON.stringify({ Type: 'Notification', TopicArn: TOPIC })];
    for (const body of samples) {
      for (const path of ['/ses', '/sendgrid']) {
        const res = await s.handler(new Request(`http://localhost${path}`, { method: 'POST', body, headers: { 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-topic-arn': TOPIC, 'x-twilio-email-event-webhook-signature': 'AAAA', 'x-twilio-email-event-webhook-timestamp': '1' } }));
        expect(res.status, `${path} ${body.slice(0, 20)}`).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      }
    }
    expect(s.events).toEqual([]);
    expect(s.suppression.size).toBe(0);
  });

  it('answers 500, not a rejection, when the body stream breaks or the processor throws anything', async () => {
    const s = setup();
    const broken = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.error(new Error('socket hang up'));
      },
    });
    expect((await s.handler(new Request('http://localhost/ses', { method: 'POST', body: broken, duplex: 'half' } as RequestInit))).status).toBe(500);
    const weird = createFeedbackHandler({
      processor: {
        ingest: () => {
          throw 'a string';
        },
        ingestRaw: () => Promise.reject(new Error('unused')),
      },
      sendgrid: { publicKey: sg.publicKey },
      onError: () => {
        throw new Error('logging broke too');
      },
    });
    expect((await weird(post('/sendgrid', sg.sign(sgBatch())))).status).toBe(500);
  });

  it('validates its options', () => {
    const processor = createFeedbackProcessor({ suppression: memorySuppressionStore() });
    expect(() => createFeedbackHandler({ processor })).toThrow(/`ses`/);
    expect(() => createFeedbackHandler({ processor: {} as never, sendgrid: { publicKey: sg.publicKey } })).toThrow(/processor/);
    expect(() => createFeedbackHandler({ processor, ses: { topicArns: [] } })).toThrow(/ses.topicArns/);
    expect(() => createFeedbackHandler({ processor, sendgrid: { publicKey: 'nope' } })).toThrow(/sendgrid.publicKey/);
    expect(() => createFeedbackHandler({ processor, sendgrid: { publicKey: sg.publicKey }, maxBodyBytes: 10 })).toThrow(/maxBodyBytes/);
    expect(() => createFeedbackHandler({ processor, sendgrid: { publicKey: sg.publicKey }, paths: { ses: 'ses' } })).toThrow(/paths.ses/);
    expect(() => createFeedbackHandler({ processor, sendgrid: { publicKey: sg.publicKey }, replayCacheSize: -1 })).toThrow(/replayCacheSize/);
  });
});

describe('createFeedbackHandler: replay store', () => {
  /** A ReplayStore that records what it is asked, over the memory one (a fake, not a mock). */
  function recording(inner: ReplayStore = memoryReplayStore()) {
    const calls: string[] = [];
    const store: ReplayStore & { calls: string[]; fail: { has: boolean; add: boolean } } = {
      name: 'recording',
      calls,
      fail: { has: false, add: false },
      async has(key, now) {
        calls.push(`has ${key.slice(0, 3)}`);
        if (store.fail.has) throw new Error('replay db down');
        return inner.has(key, now);
      },
      async add(key, expiresAt) {
        calls.push(`add ${key.slice(0, 3)} ${expiresAt}`);
        if (store.fail.add) throw new Error('replay db down');
        return inner.add(key, expiresAt);
      },
    };
    return store;
  }
  const NOW = Date.now();

  it('remembers processed requests in the given store, so a restarted handler answers a replay without processing it', async () => {
    const replay = memoryReplayStore();
    const first = setup({ replay });
    const signedSes = sns.notification(TOPIC, sesBounce());
    const signedSg = sg.sign(sgBatch());
    expect((await first.handler(post('/ses', signedSes))).status).toBe(200);
    expect((await first.handler(post('/sendgrid', signedSg))).status).toBe(200);
    // Another handler (a restart, another process) on the same store.
    const second = setup({ replay });
    expect(await answer(await second.handler(post('/ses', signedSes)))).toEqual({ status: 200, body: { ok: true, duplicate: true } });
    expect(await answer(await second.handler(post('/sendgrid', signedSg)))).toEqual({ status: 200, body: { ok: true, duplicate: true } });
    expect(second.events).toEqual([]);
    expect(second.handler.stats).toMatchObject({ requests: 2, duplicates: 2, processed: 0 });
  });

  it('remembers a request for replayRetentionMs (7 days by default), only once it was processed', async () => {
    const replay = recording();
    const s = setup({ replay, now: () => NOW });
    s.hook.fail = 1;
    const signed = sg.sign(sgBatch(), Math.floor(NOW / 1000));
    expect((await s.handler(post('/sendgrid', signed))).status).toBe(500);
    expect(replay.calls).toEqual(['has sg:']);
    expect((await s.handler(post('/sendgrid', signed))).status).toBe(200);
    expect(replay.calls).toEqual(['has sg:', 'has sg:', `add sg: ${NOW + 7 * 86_400_000}`]);
    expect(s.events).toHaveLength(1);

    const shorter = recording();
    const t = setup({ replay: shorter, replayRetentionMs: 3_600_000, now: () => NOW });
    await t.handler(post('/sendgrid', sg.sign(sgBatch(), Math.floor(NOW / 1000))));
    expect(shorter.calls).toContain(`add sg: ${NOW + 3_600_000}`);
  });

  it('answers 503 when the store cannot be read, and 200 with a report when it cannot record', async () => {
    const replay = recording();
    const s = setup({ replay });
    replay.fail.has = true;
    expect((await s.handler(post('/sendgrid', sg.sign(sgBatch('a@example.com'))))).status).toBe(503);
    expect(s.events).toEqual([]);
    expect(s.errors.at(-1)).toMatchObject({ provider: 'sendgrid', status: 503, error: { code: 'MAILPUSH_ERR_STORE' } });
    replay.fail.has = false;
    replay.fail.add = true;
    expect((await s.handler(post('/sendgrid', sg.sign(sgBatch('b@example.com'))))).status).toBe(200);
    expect(s.events).toHaveLength(1);
    expect(s.errors.at(-1)).toMatchObject({ provider: 'sendgrid', status: 200, error: { code: 'MAILPUSH_ERR_STORE', message: expect.stringMatching(/replay db down/) } });
  });

  it('turns replay detection off with replayCacheSize: 0', async () => {
    const s = setup({ replayCacheSize: 0 });
    const signed = sg.sign(sgBatch());
    await s.handler(post('/sendgrid', signed));
    expect(await answer(await s.handler(post('/sendgrid', signed)))).toMatchObject({ status: 200, body: { ok: true, events: 1 } });
    expect(s.events).toHaveLength(2);
  });

  it('validates replay and replayRetentionMs', () => {
    const processor = createFeedbackProcessor({ suppression: memorySuppressionStore() });
    expect(() => createFeedbackHandler({ processor, sendgrid: { publicKey: sg.publicKey }, replay: { name: 'x' } as never })).toThrow(/`replay`/);
    for (const replayRetentionMs of [0, -1, 1000, Number.NaN, Infinity]) {
      expect(() => createFeedbackHandler({ processor, sendgrid: { publicKey: sg.publicKey }, replayRetentionMs }), String(replayRetentionMs)).toThrow(/replayRetentionMs/);
    }
  });
});

describe('createFeedbackHandler: signed SNS notifications that carry no SES notification', () => {
  it('reports a Message that is not JSON to onError and counts it, answering 200 (a retry brings the same bytes)', async () => {
    const s = setup();
    const res = await answer(await s.handler(post('/ses', sns.notification(TOPIC, 'Bounce for jane@example.com: user unknown'))));
    expect(res).toEqual({ status: 200, body: { ok: true, events: 0, suppressed: 0, ignored: 'Message is not JSON' } });
    expect(s.errors).toHaveLength(1);
    expect(s.errors[0]).toMatchObject({ provider: 'ses', status: 200, error: { code: 'MAILPUSH_ERR_VALIDATION', message: expect.stringMatching(/not JSON/) } });
    expect(s.handler.stats).toMatchObject({ requests: 1, unreadable: 1, errors: 0 });
    for (const message of ['{"notificationType":', '[1,2]', '"text"']) await s.handler(post('/ses', sns.notification(TOPIC, message)));
    expect(s.handler.stats.unreadable).toBe(4);
    expect(s.events).toEqual([]);
  });

  it('does not report the SES setup notice or JSON that is no SES notification', async () => {
    const s = setup();
    await s.handler(post('/ses', sns.notification(TOPIC, 'Successfully validated SNS topic for Amazon SES event publishing.')));
    await s.handler(post('/ses', sns.notification(TOPIC, { notificationType: 'AmazonSnsSubscriptionSucceeded', message: 'You have successfully subscribed' })));
    expect(s.errors).toEqual([]);
    expect(s.handler.stats).toMatchObject({ requests: 2, unreadable: 0, processed: 2, events: 0 });
  });
});

describe('toNodeHandler', () => {
  async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void, fn: (port: number) => Promise<void>): Promise<void> {
    const server = createServer(handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await fn((server.address() as AddressInfo).port);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  }

  function send(port: number, path: string, body: string | Buffer, headers: Record<string, string>, chunked = false): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers: chunked ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      if (chunked) {
        const buf = Buffer.from(body);
        for (let i = 0; i < buf.length; i += 1000) req.write(buf.subarray(i, i + 1000));
        req.end();
      } else req.end(body);
    });
  }

  it('serves SES and SendGrid webhooks over node:http', async () => {
    const s = setup();
    await serve(toNodeHandler(s.handler), async (port) => {
      const a = sns.notification(TOPIC, sesBounce());
      expect(await send(port, '/webhooks/ses', a.body, a.headers)).toEqual({ status: 200, body: '{"ok":true,"events":1,"suppressed":1}' });
      const b = sg.sign(sgBatch());
      expect((await send(port, '/webhooks/sendgrid', b.body, b.headers, true)).status).toBe(200);
      const forged = sg.sign(sgBatch());
      expect((await send(port, '/webhooks/sendgrid', forged.body.replace('bob', 'eve'), forged.headers)).status).toBe(403);
    });
    expect(s.events.map((e) => e.recipient)).toEqual(['jane@example.com', 'bob@example.com']);
  });

  it('answers 413 to an oversized body, declared or chunked', async () => {
    const s = setup({ maxBodyBytes: 4096 });
    await serve(toNodeHandler(s.handler), async (port) => {
      const big = sg.sign(`[${'{"email":"a@example.com","event":"open","timestamp":1},'.repeat(200)}{}]`);
      expect((await send(port, '/sendgrid', big.body, big.headers)).status).toBe(413);
      expect((await send(port, '/sendgrid', big.body, big.headers, true)).status).toBe(413);
    });
    expect(s.events).toEqual([]);
  });

  it('takes the raw body a framework kept (express.raw, rawBody), and refuses a parsed one', async () => {
    const s = setup();
    const node = toNodeHandler(s.handler);
    const b = sg.sign(sgBatch());
    const asExpressRaw = (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r = req as IncomingMessage & { body?: unknown; rawBody?: unknown };
        if (req.url === '/raw') r.body = Buffer.concat(chunks);
        else if (req.url === '/rawBody') Object.assign(r, { rawBody: Buffer.concat(chunks), body: JSON.parse(Buffer.concat(chunks).toString()) });
        else r.body = JSON.parse(Buffer.concat(chunks).toString());
        node(r, res);
      });
    };
    await serve(asExpressRaw, async (port) => {
      expect((await send(port, '/raw', b.body, b.headers)).status).toBe(200);
      const c = sg.sign(sgBatch('carl@example.com'));
      expect((await send(port, '/rawBody', c.body, c.headers)).status).toBe(200);
      const d = sg.sign(sgBatch('dan@example.com'));
      const parsed = await send(port, '/sendgrid-json', d.body, d.headers);
      expect(parsed.status).toBe(500);
      expect(parsed.body).toMatch(/already consumed by a body parser/);
    });
    expect(s.events.map((e) => e.recipient)).toEqual(['bob@example.com', 'carl@example.com']);
  });
});
