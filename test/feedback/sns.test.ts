import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import { SnsVerificationError, createSnsVerifier, defaultSnsFetcher, isSigningCertUrl, isSubscribeUrl, parseSesNotification, snsStringToSign } from '../../src/feedback/sns.js';
import type { SnsFetcher } from '../../src/feedback/sns.js';
import { createSnsTestSigner } from '../../src/testing/feedback-signers.js';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-feedback';
const NOW = Date.parse('2026-03-01T12:00:00Z');
const DAY = 86_400_000;

// One key pair per file: RSA generation is the slow part.
const signer = createSnsTestSigner({ notBefore: NOW - 30 * DAY, notAfter: NOW + 365 * DAY });

function envelope(message = '{"notificationType":"Delivery"}', options: { version?: '1' | '2'; at?: number; subject?: string } = {}) {
  return signer.sign({
    Type: 'Notification',
    MessageId: 'b4d0c2a4-0000-4000-8000-000000000001',
    TopicArn: TOPIC,
    Message: message,
    Timestamp: new Date(options.at ?? NOW - 1000).toISOString(),
    ...(options.subject !== undefined ? { Subject: options.subject } : {}),
    SignatureVersion: options.version ?? '2',
  });
}

function counting(fetcher: SnsFetcher): SnsFetcher & { calls: string[] } {
  const calls: string[] = [];
  return Object.assign(async (url: string, o: Parameters<SnsFetcher>[1]) => {
    calls.push(url);
    return fetcher(url, o);
  }, { calls });
}

async function refusal(p: Promise<unknown>): Promise<SnsVerificationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SnsVerificationError);
  expect(isMailError(err)).toBe(true);
  return err as SnsVerificationError;
}

describe('isSigningCertUrl', () => {
  it('accepts https certificate URLs on sns.<region>.amazonaws.com and .com.cn', () => {
    for (const url of [
      'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem',
      'https://sns.eu-central-2.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem',
      'https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem',
      'https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem',
      'https://SNS.US-EAST-1.AMAZONAWS.COM/SimpleNotificationService-abc.pem',
    ]) {
      expect(isSigningCertUrl(url), url).toBe(true);
    }
  });

  it('refuses http, look-alike hosts, S3, other paths, user info, ports, queries and fragments', () => {
    for (const url of [
      'http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem',
      'https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-abc.pem',
      'https://evil-sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem',
      'https://sns.us-east-1.amazonaws.co/SimpleNotificationService-abc.pem',
      'https://sns-us-east-1.amazonaws.com/SimpleNotificationService-abc.pem',
      'https://sns.evil.amazonaws.com/SimpleNotificationService-abc.pem',
      'https://sns.us-east-1.evil.amazonaws.com/SimpleNotificationService-abc.pem',
      'https://s3.amazonaws.com/SimpleNotificationService-abc.pem',
      'https://mybucket.s3.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem',
      'https://sns.us-east-1.amazonaws.com@evil.example/SimpleNotificationService-abc.pem',
      'https://user:pw@sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem',
      'https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-abc.pem',
      'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem?x=1',
      'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem#frag',
      'https://sns.us-east-1.amazonaws.com/evil.pem',
      'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem/../evil.pem',
      'https://sns.us-east-1.amazonaws.com/dir/SimpleNotificationService-abc.pem',
      'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.crt',
      'https://sns.us-east-1.amazonaws.c\u03bfm/SimpleNotificationService-abc.pem',
      'https://sns.us-east-1.amazonaws.com%2eevil.example/SimpleNotificationService-abc.pem',
      'https:\\\\evil.example\\sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem',
      'javascript:alert(1)',
      '',
      `https://sns.us-east-1.amazonaws.com/SimpleNotificationService-${'a'.repeat(5000)}.pem`,
    ]) {
      expect(isSigningCertUrl(url), url).toBe(false);
    }
  });
});

describe('isSubscribeUrl', () => {
  it('accepts the ConfirmSubscription URL of the same topic only', () => {
    const ok = `https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=2336412f37fb`;
    expect(isSubscribeUrl(ok, TOPIC)).toBe(true);
    expect(isSubscribeUrl(ok, 'arn:aws:sns:us-east-1:123456789012:other')).toBe(false);
    expect(isSubscribeUrl(ok.replace('https:', 'http:'), TOPIC)).toBe(false);
    expect(isSubscribeUrl(ok.replace('sns.us-east-1.amazonaws.com', 'evil.example'), TOPIC)).toBe(false);
    expect(isSubscribeUrl(ok.replace('ConfirmSubscription', 'Unsubscribe'), TOPIC)).toBe(false);
    expect(isSubscribeUrl(ok.replace('&Token=2336412f37fb', ''), TOPIC)).toBe(false);
    expect(isSubscribeUrl(ok.replace('/?', '/evil?'), TOPIC)).toBe(false);
  });
});

describe('snsStringToSign', () => {
  it('builds the canonical string of a notification, Subject only when present', () => {
    const base = { Type: 'Notification', MessageId: 'id', TopicArn: 't', Message: 'm\nx', Timestamp: 'ts' } as const;
    expect(snsStringToSign(base)).toBe('Message\nm\nx\nMessageId\nid\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n');
    expect(snsStringToSign({ ...base, Subject: 's' })).toBe('Message\nm\nx\nMessageId\nid\nSubject\ns\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n');
  });

  it('builds the canonical string of a confirmation with SubscribeURL and Token', () => {
    const s = snsStringToSign({ Type: 'SubscriptionConfirmation', MessageId: 'id', TopicArn: 't', Message: 'm', Timestamp: 'ts', Token: 'tok', SubscribeURL: 'u', Subject: 'ignored' });
    expect(s).toBe('Message\nm\nMessageId\nid\nSubscribeURL\nu\nTimestamp\nts\nToken\ntok\nTopicArn\nt\nType\nSubscriptionConfirmation\n');
  });
});

describe('createSnsVerifier', () => {
  const make = (extra: Partial<Parameters<typeof createSnsVerifier>[0]> = {}) => {
    const fetcher = counting(signer.fetcher);
    return { fetcher, verifier: createSnsVerifier({ topicArns: [TOPIC], fetcher, now: () => NOW, ...extra }) };
  };

  it('verifies SignatureVersion 1 (SHA1withRSA) and 2 (SHA256withRSA)', async () => {
    const { verifier } = make();
    for (const version of ['1', '2'] as const) {
      const env = envelope('{"a":1}', { version, subject: 'Amazon SES Email Event Notification' });
      await expect(verifier.verify(JSON.parse(JSON.stringify(env)))).resolves.toMatchObject({ Type: 'Notification', Message: '{"a":1}' });
    }
  });

  it('refuses a forged message: any signed field changed', async () => {
    const { verifier } = make();
    const env = envelope('{"notificationType":"Bounce"}', { subject: 'S' });
    for (const change of [{ Message: '{"notificationType":"Complaint"}' }, { MessageId: 'other' }, { Subject: 'T' }, { Timestamp: new Date(NOW - 2000).toISOString() }, { Subject: undefined }]) {
      const err = await refusal(verifier.verify({ ...env, ...change }));
      expect(err.status).toBe(403);
      expect(err.code).toBe(MailErrorCode.VALIDATION);
    }
  });

  it('refuses a signature of another key served under the same certificate URL', async () => {
    const other = createSnsTestSigner();
    const forged = other.sign({ Type: 'Notification', MessageId: 'x', TopicArn: TOPIC, Message: '{}', Timestamp: new Date(NOW).toISOString() });
    const { verifier } = make();
    expect((await refusal(verifier.verify({ ...forged, SigningCertURL: signer.certUrl }))).status).toBe(403);
  });

  it('refuses a version 1 signature presented as version 2', async () => {
    const { verifier } = make();
    const env = envelope('{}', { version: '1' });
    expect((await refusal(verifier.verify({ ...env, SignatureVersion: '2' }))).status).toBe(403);
  });

  it('refuses unknown topics and foreign certificate URLs without fetching anything', async () => {
    const { verifier, fetcher } = make();
    const env = envelope();
    expect((await refusal(verifier.verify({ ...env, TopicArn: 'arn:aws:sns:us-east-1:123456789012:other' }))).status).toBe(403);
    expect((await refusal(verifier.verify({ ...env, SigningCertURL: 'https://evil.example/SimpleNotificationService-x.pem' }))).status).toBe(403);
    expect((await refusal(verifier.verify({ ...env, SigningCertURL: 'https://s3.amazonaws.com/bucket/SimpleNotificationService-x.pem' }))).status).toBe(403);
    expect(fetcher.calls).toEqual([]);
  });

  it('refuses stale and future timestamps without fetching', async () => {
    const { verifier, fetcher } = make();
    expect((await refusal(verifier.verify(envelope('{}', { at: NOW - 3 * 3_600_000 })))).message).toMatch(/older than/);
    expect((await refusal(verifier.verify(envelope('{}', { at: NOW + 3_600_000 })))).message).toMatch(/future/);
    expect((await refusal(verifier.verify({ ...envelope(), Timestamp: 'yesterday' }))).status).toBe(400);
    expect(fetcher.calls).toEqual([]);
  });

  it('honours maxMessageAgeMs', async () => {
    const { verifier } = make({ maxMessageAgeMs: 60_000 });
    await expect(verifier.verify(envelope('{}', { at: NOW - 30_000 }))).resolves.toBeDefined();
    await refusal(verifier.verify(envelope('{}', { at: NOW - 90_000 })));
  });

  it('refuses a certificate that was not valid at the message Timestamp (expired or not yet valid)', async () => {
    const expired = createSnsTestSigner({ notBefore: NOW - 400 * DAY, notAfter: NOW - DAY });
    const future = createSnsTestSigner({ notBefore: NOW + DAY, notAfter: NOW + 400 * DAY });
    for (const s of [expired, future]) {
      const verifier = createSnsVerifier({ topicArns: [TOPIC], fetcher: s.fetcher, now: () => NOW });
      const env = s.sign({ Type: 'Notification', MessageId: 'm', TopicArn: TOPIC, Message: '{}', Timestamp: new Date(NOW).toISOString() });
      const err = await refusal(verifier.verify(env));
      expect(err.status).toBe(403);
      expect(err.message).toMatch(/not valid at the message Timestamp/);
    }
  });

  it('fetches each certificate once, also for concurrent messages, and caches it', async () => {
    const { verifier, fetcher } = make();
    await Promise.all([1, 2, 3, 4].map(() => verifier.verify(envelope())));
    await verifier.verify(envelope());
    expect(fetcher.calls).toEqual([signer.certUrl]);
    expect(verifier.cacheSize).toBe(1);
  });

  it('keeps the certificate cache bounded', async () => {
    const signers = [createSnsTestSigner({ region: 'eu-west-1' }), createSnsTestSigner({ region: 'eu-west-2' }), createSnsTestSigner({ region: 'eu-west-3' })];
    const calls: string[] = [];
    const fetcher: SnsFetcher = async (url, o) => {
      calls.push(url);
      return signers.find((s) => s.certUrl === url)!.fetcher(url, o);
    };
    const verifier = createSnsVerifier({ topicArns: [TOPIC], fetcher, certCacheSize: 2 });
    for (const s of [...signers, signers[0]!]) {
      await verifier.verify(s.sign({ Type: 'Notification', MessageId: 'm', TopicArn: TOPIC, Message: '{}', Timestamp: new Date().toISOString() }));
    }
    expect(verifier.cacheSize).toBe(2);
    // The first certificate was evicted by the third, so it is fetched again.
    expect(calls).toHaveLength(4);
  });

  it('answers 503 when the certificate cannot be fetched or parsed, and does not cache the failure', async () => {
    let fail = true;
    const fetcher: SnsFetcher = async (url, o) => {
      if (fail) throw new Error('ECONNRESET');
      return signer.fetcher(url, o);
    };
    const verifier = createSnsVerifier({ topicArns: [TOPIC], fetcher, now: () => NOW });
    const err = await refusal(verifier.verify(envelope()));
    expect(err.status).toBe(503);
    expect(err.retryable).toBe(true);
    fail = false;
    await expect(verifier.verify(envelope())).resolves.toBeDefined();

    const garbage = createSnsVerifier({ topicArns: [TOPIC], fetcher: async () => 'not a certificate', now: () => NOW });
    expect((await refusal(garbage.verify(envelope()))).status).toBe(503);
  });

  it('gives the fetcher a timeout signal and a size cap', async () => {
    let seen: Parameters<SnsFetcher>[1] | undefined;
    const verifier = createSnsVerifier({ topicArns: [TOPIC], fetcher: async (url, o) => ((seen = o), signer.certPem), now: () => NOW, fetchTimeoutMs: 1234 });
    await verifier.verify(envelope());
    expect(seen?.signal).toBeInstanceOf(AbortSignal);
    expect(seen?.maxBytes).toBe(65_536);
  });

  it('verifies the record SNS delivers to AWS Lambda (SigningCertUrl, UnsubscribeUrl, Subject null, MessageAttributes)', async () => {
    const { verifier } = make();
    for (const subject of [undefined, 'Amazon SES Email Event Notification']) {
      const { SigningCertURL, UnsubscribeURL, ...rest } = signer.sign({
        Type: 'Notification',
        MessageId: 'b4d0c2a4-0000-4000-8000-00000000000a',
        TopicArn: TOPIC,
        Message: '{"notificationType":"Bounce"}',
        Timestamp: new Date(NOW - 1000).toISOString(),
        ...(subject !== undefined ? { Subject: subject } : {}),
        UnsubscribeURL: `https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${TOPIC}:x`,
      });
      const lambdaRecord = { ...rest, Subject: subject ?? null, SigningCertUrl: SigningCertURL, UnsubscribeUrl: UnsubscribeURL, MessageAttributes: {} };
      await expect(verifier.verify(lambdaRecord), String(subject)).resolves.toMatchObject({ SigningCertURL, UnsubscribeURL, Message: '{"notificationType":"Bounce"}' });
      // The key names are not signed, but the values are: a Lambda record with a forged Message is refused.
      expect((await refusal(verifier.verify({ ...lambdaRecord, Message: '{"notificationType":"Complaint"}' }))).status).toBe(403);
    }
    // Both spellings with different values: refused before anything is fetched; the same value twice is fine.
    const env = envelope();
    expect((await refusal(verifier.verify({ ...env, SigningCertUrl: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-other.pem' }))).status).toBe(400);
    await expect(verifier.verify({ ...env, SigningCertUrl: env.SigningCertURL })).resolves.toMatchObject({ Type: 'Notification' });
    // The Lambda spelling is held to the same certificate URL rules.
    const { SigningCertURL: _c, ...noUrl } = env;
    expect((await refusal(verifier.verify({ ...noUrl, SigningCertUrl: 'https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-x.pem' }))).status).toBe(403);
    expect((await refusal(verifier.verify(noUrl))).status).toBe(400);
  });

  it('refuses malformed envelopes with 400 and unsupported signature versions with 403', async () => {
    const { verifier, fetcher } = make();
    const env = envelope();
    const cases: [unknown, number][] = [
      [null, 400],
      ['a string', 400],
      [[env], 400],
      [{ ...env, Type: 'Other' }, 400],
      [{ ...env, Message: undefined }, 400],
      [{ ...env, Message: { nested: true } }, 400],
      [{ ...env, Signature: 42 }, 400],
      [{ ...env, Type: 'SubscriptionConfirmation' }, 400],
      [{ ...env, SignatureVersion: '3' }, 403],
      [{ ...env, SignatureVersion: 2 }, 400],
      [{ ...env, Signature: '%%%not base64%%%' }, 403],
      [{ ...env, Signature: 'A'.repeat(100_000) }, 403],
    ];
    for (const [body, status] of cases) expect((await refusal(verifier.verify(body))).status, JSON.stringify(body)?.slice(0, 80)).toBe(status);
    expect(fetcher.calls).toEqual([]);
  });

  it('validates its options', () => {
    expect(() => createSnsVerifier({ topicArns: [] })).toThrow(/ses.topicArns/);
    expect(() => createSnsVerifier({ topicArns: ['my-topic'] })).toThrow(/ses.topicArns\[0\]/);
    expect(() => createSnsVerifier({ topicArns: undefined as never })).toThrow(/ses.topicArns/);
    expect(() => createSnsVerifier({ topicArns: [TOPIC], certCacheSize: 0 })).toThrow(/certCacheSize/);
    expect(() => createSnsVerifier({ topicArns: [TOPIC], fetchTimeoutMs: -1 })).toThrow(/fetchTimeoutMs/);
    expect(() => createSnsVerifier({ topicArns: [TOPIC], fetcher: 'x' as never })).toThrow(/fetcher/);
  });
});

describe('defaultSnsFetcher', () => {
  async function withServer(handler: Parameters<typeof createServer>[1], fn: (base: string) => Promise<void>): Promise<void> {
    const server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  }
  const opts = (maxBytes = 1024) => ({ signal: AbortSignal.timeout(5000), maxBytes });

  it('reads a 2xx body and refuses errors, redirects and oversized bodies', async () => {
    await withServer(
      (req, res) => {
        if (req.url === '/ok') res.end('-----BEGIN CERTIFICATE-----');
        else if (req.url === '/redirect') res.writeHead(302, { location: '/ok' }).end();
        else if (req.url === '/big') res.end('x'.repeat(5000));
        else if (req.url === '/chunked') {
          res.writeHead(200);
          for (let i = 0; i < 10; i++) res.write('y'.repeat(500));
          res.end();
        } else res.writeHead(404).end('nope');
      },
      async (base) => {
        await expect(defaultSnsFetcher(`${base}/ok`, opts())).resolves.toBe('-----BEGIN CERTIFICATE-----');
        await expect(defaultSnsFetcher(`${base}/missing`, opts())).rejects.toThrow(/404/);
        await expect(defaultSnsFetcher(`${base}/missing`, opts())).rejects.toMatchObject({ code: MailErrorCode.CONNECTION });
        await expect(defaultSnsFetcher(`${base}/redirect`, opts())).rejects.toThrow();
        await expect(defaultSnsFetcher(`${base}/big`, opts())).rejects.toThrow(/over 1024/);
        await expect(defaultSnsFetcher(`${base}/chunked`, opts())).rejects.toThrow(/over 1024/);
      },
    );
  });

  it('gives up when the timeout signal fires', async () => {
    await withServer(
      () => {
        // never answers
      },
      async (base) => {
        await expect(defaultSnsFetcher(`${base}/slow`, { signal: AbortSignal.timeout(50), maxBytes: 1024 })).rejects.toMatchObject({ code: MailErrorCode.CONNECTION });
      },
    );
  });
});

// ---------------------------------------------------------------------------------------
// SES notification contents (shapes from the SES developer guide)
// ---------------------------------------------------------------------------------------

const MAIL = {
  timestamp: '2026-03-01T11:59:00.000Z',
  source: 'Shop <orders@shop.example>',
  sourceArn: 'arn:aws:ses:us-east-1:123456789012:identity/shop.example',
  sourceIp: '192.0.2.10',
  sendingAccountId: '123456789012',
  messageId: '0100018e0a1b2c3d-11111111-2222-3333-4444-555555555555-000000',
  destination: ['jane@example.com', 'Mary@Example.ORG'],
  headersTruncated: false,
  headers: [
    { name: 'From', value: 'Shop <orders@shop.example>' },
    { name: 'To', value: 'jane@example.com, Mary@Example.ORG' },
    { name: 'Message-ID', value: '<msg_1@shop.example>' },
    { name: 'X-Mailpush-Job-Id', value: 'msg_0123456789abcdef0123456789abcdef/0' },
  ],
  commonHeaders: { from: ['Shop <orders@shop.example>'], to: ['jane@example.com'], messageId: '<msg_1@shop.example>', subject: 'Your order' },
};
const EVENT_MAIL = { ...MAIL, tags: { 'ses:configuration-set': ['order-events'], 'ses:source-ip': ['192.0.2.10'], campaign: ['spring'], list: ['news'] } };

function bounce(bounceType: string, bounceSubType: string, recipients: Record<string, unknown>[]) {
  return {
    notificationType: 'Bounce',
    bounce: { bounceType, bounceSubType, bouncedRecipients: recipients, timestamp: '2026-03-01T12:00:01.000Z', feedbackId: 'fb-1', reportingMTA: 'dns; a8-1.smtp-out.amazonses.com' },
    mail: MAIL,
  };
}

describe('parseSesNotification', () => {
  it('gives one bounced event per recipient with correlation ids and stable event ids', () => {
    const events = parseSesNotification(
      JSON.stringify(
        bounce('Permanent', 'General', [
          { emailAddress: 'jane@example.com', action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 <jane@example.com>... User unknown' },
          { emailAddress: 'Mary@Example.ORG', action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 no such user' },
        ]),
      ),
      { envelopeId: 'sns-1' },
    );
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({
      type: 'bounced',
      recipient: 'jane@example.com',
      provider: 'ses',
      providerMessageId: MAIL.messageId,
      messageId: '<msg_1@shop.example>',
      jobId: 'msg_0123456789abcdef0123456789abcdef/0',
      reason: 'userunknown',
      hard: true,
      status: '5.1.1',
      timestamp: Date.parse('2026-03-01T12:00:01.000Z'),
      eventId: 'sns-1:0',
    });
    expect(events[1]).toMatchObject({ recipient: 'Mary@example.org', eventId: 'sns-1:1' });
    expect(events[0]!.raw).toMatchObject({ notificationType: 'Bounce' });
  });

  it('decides hard or soft from the diagnostic first, then from the bounce type and subtype', () => {
    const verdict = (type: string, sub: string, r: Record<string, unknown> = {}) => {
      const [e] = parseSesNotification(bounce(type, sub, [{ emailAddress: 'a@example.com', action: 'failed', ...r }]));
      return [e?.reason, e?.hard];
    };
    expect(verdict('Permanent', 'General', { status: '5.7.1', diagnosticCode: 'smtp; 550 5.7.1 Service unavailable; client host [192.0.2.1] blocked using Spamhaus' })).toEqual(['blocked', false]);
    expect(verdict('Permanent', 'General', { status: '5.7.26', diagnosticCode: 'smtp; 550 5.7.26 This mail has been blocked because the sender is unauthenticated.' })).toEqual([expect.any(String), false]);
    expect(verdict('Permanent', 'General', { status: '5.2.2', diagnosticCode: 'smtp; 552 5.2.2 Mailbox full' })).toEqual(['mailboxfull', false]);
    expect(verdict('Permanent', 'General')).toEqual(['userunknown', true]);
    expect(verdict('Permanent', 'General', { status: '5.0.0', diagnosticCode: 'smtp; 550 5.0.0 refused' })).toEqual(['rejected', true]);
    expect(verdict('Permanent', 'NoEmail')).toEqual(['userunknown', true]);
    expect(verdict('Permanent', 'Suppressed', { diagnosticCode: 'Amazon SES has suppressed sending to this address because it has a recent history of bouncing as an invalid address.' })).toEqual(['rejected', true]);
    expect(verdict('Permanent', 'OnAccountSuppressionList')[1]).toBe(true);
    expect(verdict('Transient', 'MailboxFull')).toEqual(['mailboxfull', false]);
    expect(verdict('Transient', 'MessageTooLarge')).toEqual(['mesgtoobig', false]);
    expect(verdict('Transient', 'ContentRejected')).toEqual(['contenterror', false]);
    expect(verdict('Transient', 'General', { status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' })).toEqual(['userunknown', false]);
    expect(verdict('Undetermined', 'Undetermined')).toEqual(['undefined', false]);
  });

  it('parses complaints with the feedback type, in both formats', () => {
    const complaint = { userAgent: 'Yahoo!-Mail-Feedback/2.0', complainedRecipients: [{ emailAddress: 'jane@example.com' }], complaintFeedbackType: 'abuse', arrivalDate: '2026-03-01T11:59:30.000Z', timestamp: '2026-03-01T12:05:00.000Z', feedbackId: 'fb-2' };
    for (const n of [{ notificationType: 'Complaint', complaint, mail: MAIL }, { eventType: 'Complaint', complaint, mail: EVENT_MAIL }]) {
      const [e, ...rest] = parseSesNotification(n);
      expect(rest).toEqual([]);
      expect(e).toMatchObject({ type: 'complained', recipient: 'jane@example.com', feedbackType: 'abuse', userAgent: 'Yahoo!-Mail-Feedback/2.0', timestamp: Date.parse('2026-03-01T12:05:00.000Z') });
    }
    const [noType] = parseSesNotification({ notificationType: 'Complaint', complaint: { ...complaint, complaintFeedbackType: undefined }, mail: MAIL });
    expect(noType?.feedbackType).toBeUndefined();
  });

  it('parses deliveries and delivery delays', () => {
    const delivered = parseSesNotification({
      eventType: 'Delivery',
      mail: EVENT_MAIL,
      delivery: { timestamp: '2026-03-01T12:00:02.000Z', processingTimeMillis: 546, recipients: ['jane@example.com'], smtpResponse: '250 2.6.0 Message received', reportingMTA: 'a8-70.smtp-out.amazonses.com' },
    });
    expect(delivered).toEqual([expect.objectContaining({ type: 'delivered', recipient: 'jane@example.com', diagnostic: '250 2.6.0 Message received', tags: { campaign: 'spring', list: 'news' } })]);
    const delayed = parseSesNotification({
      eventType: 'DeliveryDelay',
      mail: EVENT_MAIL,
      deliveryDelay: {
        timestamp: '2026-03-01T12:10:00.000Z',
        delayType: 'TransientCommunicationFailure',
        expirationTime: '2026-03-01T13:10:00.000Z',
        delayedRecipients: [{ emailAddress: 'jane@example.com', status: '4.4.1', diagnosticCode: 'smtp; 421 4.4.1 Unable to connect to remote host' }],
      },
    });
    expect(delayed).toEqual([expect.objectContaining({ type: 'deferred', recipient: 'jane@example.com', hard: false, status: '4.4.1' })]);
    const [mailboxFull] = parseSesNotification({ eventType: 'DeliveryDelay', mail: EVENT_MAIL, deliveryDelay: { delayType: 'MailboxFull', delayedRecipients: [{ emailAddress: 'jane@example.com' }] } });
    expect(mailboxFull).toMatchObject({ reason: 'mailboxfull' });
  });

  it('parses send, reject, rendering failure, open and click events for every destination', () => {
    expect(parseSesNotification({ eventType: 'Send', mail: EVENT_MAIL, send: {} }).map((e) => [e.type, e.recipient])).toEqual([
      ['processed', 'jane@example.com'],
      ['processed', 'Mary@example.org'],
    ]);
    expect(parseSesNotification({ eventType: 'Reject', mail: EVENT_MAIL, reject: { reason: 'Bad content' } })[0]).toMatchObject({ type: 'rejected', reason: 'virusdetected', diagnostic: 'Bad content' });
    expect(parseSesNotification({ eventType: 'Rendering Failure', mail: EVENT_MAIL, failure: { errorMessage: "Attribute 'name' is not present in the rendering data.", templateName: 'T' } })[0]).toMatchObject({
      type: 'rejected',
      reason: 'contenterror',
    });
    const [open] = parseSesNotification({ eventType: 'Open', mail: EVENT_MAIL, open: { ipAddress: '192.0.2.1', timestamp: '2026-03-01T13:00:00.000Z', userAgent: 'Mozilla/5.0' } });
    expect(open).toMatchObject({ type: 'opened', ip: '192.0.2.1', userAgent: 'Mozilla/5.0', timestamp: Date.parse('2026-03-01T13:00:00.000Z') });
    const [click] = parseSesNotification({ eventType: 'Click', mail: EVENT_MAIL, click: { ipAddress: '192.0.2.1', link: 'https://shop.example/spring?x=1', linkTags: { a: ['b'] }, timestamp: '2026-03-01T13:01:00.000Z', userAgent: 'Mozilla/5.0' } });
    expect(click).toMatchObject({ type: 'clicked', url: 'https://shop.example/spring?x=1' });
  });

  it('parses subscription events into unsubscribes and resubscribes per topic', () => {
    const sub = (next: unknown, prev: unknown) =>
      parseSesNotification({ eventType: 'Subscription', mail: { ...EVENT_MAIL, destination: ['jane@example.com'] }, subscription: { contactList: 'Customers', timestamp: '2026-03-01T14:00:00.000Z', source: 'UnsubscribeHeader', newTopicPreferences: next, oldTopicPreferences: prev } }).map((e) => [e.type, e.list]);
    expect(sub({ unsubscribeAll: true }, { unsubscribeAll: false })).toEqual([['unsubscribed', undefined]]);
    expect(
      sub(
        { unsubscribeAll: false, topicSubscriptionStatus: [{ topicName: 'news', subscriptionStatus: 'OptOut' }, { topicName: 'deals', subscriptionStatus: 'OptIn' }] },
        { unsubscribeAll: false, topicSubscriptionStatus: [{ topicName: 'news', subscriptionStatus: 'OptIn' }, { topicName: 'deals', subscriptionStatus: 'OptOut' }] },
      ),
    ).toEqual([
      ['unsubscribed', 'news'],
      ['resubscribed', 'deals'],
    ]);
    expect(sub({ unsubscribeAll: true }, { unsubscribeAll: true })).toEqual([]);
  });

  it('takes the job id from a mailpush_job_id tag when the headers do not carry it', () => {
    const mail = { ...EVENT_MAIL, headers: [], commonHeaders: { messageId: 'no-brackets@shop.example' }, tags: { mailpush_job_id: ['job_7'] } };
    const [e] = parseSesNotification({ eventType: 'Send', mail, send: {} });
    expect(e).toMatchObject({ jobId: 'job_7', messageId: '<no-brackets@shop.example>' });
  });

  it('gives nothing for test notices, other JSON, garbage and hostile shapes', () => {
    for (const m of [
      '{"notificationType":"AmazonSnsSubscriptionSucceeded","message":"You have successfully subscribed your Amazon SNS topic"}',
      'Successfully validated SNS topic for Amazon SES event publishing.',
      '{"eventType":"Bounce"}',
      '{"eventType":"Bounce","mail":[],"bounce":{}}',
      '{"notificationType":"Bounce","mail":{},"bounce":{"bouncedRecipients":"x"}}',
      '{"notificationType":"Bounce","mail":{},"bounce":{"bouncedRecipients":[null, 1, "a", {"emailAddress":"not an address"}, {"emailAddress":["a@b.c"]}]}}',
      '{"eventType":"Unknown","mail":{"destination":["a@b.example"]}}',
      '{"eventType":"Open","mail":{"destination":"a@b.example"}}',
      '[1,2,3]',
      '{"__proto__":{"polluted":true},"eventType":"Send","mail":{"destination":[]}}',
      `{"x":"${'a'.repeat(2_000_000)}"}`,
      '{'.repeat(100_000),
      '',
      42,
      null,
    ]) {
      expect(parseSesNotification(m as string)).toEqual([]);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('caps the number of events from one notification', () => {
    const destination = Array.from({ length: 5000 }, (_, i) => `u${i}@example.com`);
    expect(parseSesNotification({ eventType: 'Send', mail: { ...EVENT_MAIL, destination } }).length).toBe(1000);
  });
});
