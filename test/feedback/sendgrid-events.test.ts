import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MailErrorCode } from '../../src/errors.js';
import { SendGridVerificationError, createSendGridVerifier, parseSendGridEvents, readSendGridPublicKey } from '../../src/feedback/sendgrid-events.js';
import { createSendGridTestSigner } from '../../src/testing/feedback-signers.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const NOW_SEC = NOW / 1000;
const signer = createSendGridTestSigner();

// The shapes of SendGrid's Event Webhook reference, with our custom args flattened in.
const ids = { mailpush_job_id: 'msg_0123456789abcdef0123456789abcdef/0', mailpush_message_id: '<msg_1@shop.example>' };
const common = { timestamp: NOW_SEC - 60, 'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>', sg_message_id: '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0', category: ['orders'], ...ids };
const BATCH = [
  { email: 'jane@example.com', event: 'processed', sg_event_id: 'e-processed', ...common },
  { email: 'jane@example.com', event: 'deferred', sg_event_id: 'e-deferred', response: '400 try again later', attempt: '5', ...common },
  { email: 'jane@example.com', event: 'delivered', sg_event_id: 'e-delivered', response: '250 OK', tls: 1, ip: '168.1.1.1', ...common },
  { email: 'jane@example.com', event: 'open', sg_event_id: 'e-open', useragent: 'Mozilla/5.0', ip: '255.255.255.255', sg_machine_open: true, ...common },
  { email: 'jane@example.com', event: 'click', sg_event_id: 'e-click', useragent: 'Mozilla/5.0', ip: '255.255.255.255', url: 'https://shop.example/a', url_offset: { index: 0, type: 'html' }, ...common },
  { email: 'bob@example.com', event: 'bounce', sg_event_id: 'e-bounce', reason: '550 5.1.1 The email account that you tried to reach does not exist.', status: '5.1.1', type: 'bounce', bounce_classification: 'Invalid Address', ...common },
  { email: 'carl@example.com', event: 'bounce', sg_event_id: 'e-blocked', reason: '550 5.7.1 Service unavailable; client host blocked using Spamhaus', status: '5.7.1', type: 'blocked', bounce_classification: 'Reputation', ...common },
  { email: 'dan@example.com', event: 'dropped', sg_event_id: 'e-dropped', reason: 'Bounced Address', status: '5.0.0', ...common },
  { email: 'jane@example.com', event: 'spamreport', sg_event_id: 'e-spam', ...common },
  { email: 'jane@example.com', event: 'unsubscribe', sg_event_id: 'e-unsub', ...common },
  { email: 'jane@example.com', event: 'group_unsubscribe', sg_event_id: 'e-gunsub', asm_group_id: 42, useragent: 'Mozilla/5.0', ip: '255.255.255.255', ...common },
  { email: 'jane@example.com', event: 'group_resubscribe', sg_event_id: 'e-gresub', asm_group_id: 42, ...common },
];

describe('createSendGridVerifier', () => {
  const verifier = createSendGridVerifier({ publicKey: signer.publicKey, now: () => NOW });
  const refuse = (fn: () => void): SendGridVerificationError => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(SendGridVerificationError);
      expect((err as SendGridVerificationError).code).toBe(MailErrorCode.VALIDATION);
      return err as SendGridVerificationError;
    }
    throw new Error('expected a refusal');
  };
  const body = JSON.stringify(BATCH);
  const signed = signer.sign(body, NOW_SEC - 5);
  const sig = signed.headers['x-twilio-email-event-webhook-signature']!;
  const ts = signed.headers['x-twilio-email-event-webhook-timestamp']!;

  it('accepts the signature over timestamp + raw body', () => {
    expect(() => verifier.verify(Buffer.from(body), sig, ts)).not.toThrow();
  });

  it('refuses a changed body, a re-serialized body, another timestamp, another key', () => {
    expect(refuse(() => verifier.verify(Buffer.from(body.replace('bob@', 'eve@')), sig, ts)).status).toBe(403);
    expect(refuse(() => verifier.verify(Buffer.from(JSON.stringify(JSON.parse(body), null, 1)), sig, ts)).status).toBe(403);
    expect(refuse(() => verifier.verify(Buffer.from(body), sig, String(NOW_SEC - 6))).status).toBe(403);
    const other = createSendGridTestSigner().sign(body, NOW_SEC - 5);
    expect(refuse(() => verifier.verify(Buffer.from(body), other.headers['x-twilio-email-event-webhook-signature'], ts)).status).toBe(403);
  });

  it('answers 401 when the signature or timestamp header is missing', () => {
    expect(refuse(() => verifier.verify(Buffer.from(body), null, ts)).status).toBe(401);
    expect(refuse(() => verifier.verify(Buffer.from(body), sig, undefined)).status).toBe(401);
    expect(refuse(() => verifier.verify(Buffer.from(body), '', '')).status).toBe(401);
  });

  it('refuses stale and future timestamps, with a configurable tolerance', () => {
    const old = signer.sign(body, NOW_SEC - 601);
    expect(refuse(() => verifier.verify(Buffer.from(body), old.headers['x-twilio-email-event-webhook-signature'], old.headers['x-twilio-email-event-webhook-timestamp'])).message).toMatch(/stale/);
    const future = signer.sign(body, NOW_SEC + 301);
    expect(refuse(() => verifier.verify(Buffer.from(body), future.headers['x-twilio-email-event-webhook-signature'], future.headers['x-twilio-email-event-webhook-timestamp'])).message).toMatch(/future/);
    const lenient = createSendGridVerifier({ publicKey: signer.publicKey, now: () => NOW, toleranceSec: 3600 });
    expect(() => lenient.verify(Buffer.from(body), old.headers['x-twilio-email-event-webhook-signature'], old.headers['x-twilio-email-event-webhook-timestamp'])).not.toThrow();
  });

  it('refuses garbage signatures and timestamps without throwing anything else', () => {
    for (const [s, t] of [
      ['not base64!', ts],
      ['AAAA', ts],
      ['A'.repeat(10_000), ts],
      [sig, '1.5e9'],
      [sig, '-1'],
      [sig, ' 1772366395'],
      [sig, '9'.repeat(40)],
    ] as const) {
      expect(refuse(() => verifier.verify(Buffer.from(body), s, t)).status).toBe(403);
    }
  });

  it('accepts the key as PEM and refuses keys that are not P-256 public keys', () => {
    const pem = `-----BEGIN PUBLIC KEY-----\n${signer.publicKey}\n-----END PUBLIC KEY-----\n`;
    expect(() => createSendGridVerifier({ publicKey: pem, now: () => NOW }).verify(Buffer.from(body), sig, ts)).not.toThrow();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    for (const publicKey of [rsa, p384, 'not a key', '', 'QUJD', 42]) {
      expect(() => createSendGridVerifier({ publicKey: publicKey as string }), String(publicKey).slice(0, 20)).toThrow(/sendgrid.publicKey/);
    }
    expect(() => createSendGridVerifier({ publicKey: signer.publicKey, toleranceSec: 0 })).toThrow(/toleranceSec/);
  });
});

/** The same base64 with a non-zero unused bit in its last character: Node decodes it to the same bytes. */
function withUnusedBits(b64: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const pad = b64.length - b64.replace(/=+$/, '').length;
  const at = b64.length - pad - 1;
  return b64.slice(0, at) + alphabet[alphabet.indexOf(b64[at]!) | 1] + b64.slice(at + 1);
}

describe('readSendGridPublicKey', () => {
  const der = Buffer.from(signer.publicKey, 'base64');

  it('takes the base64 key as SendGrid shows it, also wrapped over lines', () => {
    expect(readSendGridPublicKey(signer.publicKey).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const wrapped = `${signer.publicKey.slice(0, 64)}\r\n${signer.publicKey.slice(64)}\n`;
    expect(readSendGridPublicKey(`  ${wrapped}`).export({ type: 'spki', format: 'der' })).toEqual(der);
  });

  it('refuses junk after the base64, bad padding, other alphabets and trailing bytes after the DER (as the Go SDK does)', () => {
    for (const [what, key] of [
      ['text after the padding', `${signer.publicKey}junk`],
      ['a second block after the padding', `${signer.publicKey}AAAA`],
      ['extra padding', `${signer.publicKey}=`],
      ['the key twice', `${signer.publicKey}${signer.publicKey}`],
      ['padding removed', signer.publicKey.replace(/=+$/, '')],
      ['non-zero unused bits (same bytes, another text)', withUnusedBits(signer.publicKey)],
      ['bytes after the DER, well encoded', Buffer.concat([der, Buffer.from([0, 0, 0])]).toString('base64')],
      ['a second SPKI after the first', Buffer.concat([der, der]).toString('base64')],
      ['a truncated DER', der.subarray(0, der.length - 3).toString('base64')],
      ['junk inside', `${signer.publicKey.slice(0, 20)}!${signer.publicKey.slice(21)}`],
    ] as const) {
      expect(() => readSendGridPublicKey(key), what).toThrow(/sendgrid.publicKey/);
      expect(() => createSendGridVerifier({ publicKey: key }), what).toThrow(/sendgrid.publicKey/);
    }
  });
});

describe('parseSendGridEvents', () => {
  const events = parseSendGridEvents(BATCH, NOW);
  const byId = (id: string) => events.find((e) => e.eventId === id);

  it('parses every event of the batch with the job id, Message-ID and provider message id', () => {
    expect(events.map((e) => e.type)).toEqual(['processed', 'deferred', 'delivered', 'opened', 'clicked', 'bounced', 'bounced', 'dropped', 'complained', 'unsubscribed', 'unsubscribed', 'resubscribed']);
    for (const e of events) {
      expect(e).toMatchObject({ provider: 'sendgrid', jobId: ids.mailpush_job_id, messageId: ids.mailpush_message_id, providerMessageId: '14c5d75ce93', timestamp: (NOW_SEC - 60) * 1000 });
    }
  });

  it('makes a bounce hard and a blocked bounce soft', () => {
    expect(byId('e-bounce')).toMatchObject({ recipient: 'bob@example.com', reason: 'userunknown', hard: true, status: '5.1.1' });
    expect(byId('e-blocked')).toMatchObject({ recipient: 'carl@example.com', reason: 'blocked', hard: false });
  });

  it('decides bounces by the diagnostic, then bounce_classification, else hard', () => {
    const one = (e: Record<string, unknown>) => parseSendGridEvents([{ email: 'x@example.com', event: 'bounce', type: 'bounce', timestamp: 1, ...e }])[0];
    expect(one({ reason: '550 5.7.1 Message rejected due to local policy', status: '5.7.1' })).toMatchObject({ hard: false });
    expect(one({ reason: '552 5.2.2 mailbox full', status: '5.2.2' })).toMatchObject({ reason: 'mailboxfull', hard: false });
    expect(one({ reason: '550 rejected', bounce_classification: 'Reputation' })).toMatchObject({ reason: 'badreputation', hard: false });
    expect(one({ reason: '550 rejected', bounce_classification: 'Mailbox Unavailable' })).toMatchObject({ hard: false });
    expect(one({ reason: '550 rejected', bounce_classification: 'Invalid Address' })).toMatchObject({ reason: 'userunknown', hard: true });
    expect(one({})).toMatchObject({ reason: 'userunknown', hard: true });
    expect(one({ type: 'blocked' })).toMatchObject({ reason: 'blocked', hard: false });
  });

  it('flags machine opens, keeps click URLs and gives unsubscribe groups as lists', () => {
    expect(byId('e-open')).toMatchObject({ machineOpen: true, userAgent: 'Mozilla/5.0', ip: '255.255.255.255' });
    expect(parseSendGridEvents([{ ...BATCH[3], sg_machine_open: false }])[0]?.machineOpen).toBe(false);
    expect(parseSendGridEvents([{ ...BATCH[3], sg_machine_open: undefined }])[0]?.machineOpen).toBe(false);
    expect(byId('e-click')).toMatchObject({ url: 'https://shop.example/a' });
    expect(byId('e-spam')).toMatchObject({ type: 'complained', feedbackType: 'abuse' });
    expect(byId('e-unsub')?.list).toBeUndefined();
    expect(byId('e-gunsub')).toMatchObject({ type: 'unsubscribed', list: '42' });
    expect(byId('e-gresub')).toMatchObject({ type: 'resubscribed', list: '42' });
    expect(byId('e-deferred')).toMatchObject({ diagnostic: '400 try again later', hard: false });
    expect(byId('e-dropped')).toMatchObject({ diagnostic: 'Bounced Address' });
  });

  it('returns the host tags from flattened custom args, and keeps __proto__ a plain key', () => {
    const [e] = parseSendGridEvents(JSON.parse('[{"email":"a@example.com","event":"delivered","timestamp":1,"campaign":"spring","list":"news","__proto__":"x","n":5,"mailpush_job_id":"j1"}]'));
    expect(e?.tags).toEqual(JSON.parse('{"campaign":"spring","list":"news","__proto__":"x"}'));
    expect(Object.getPrototypeOf(e?.tags)).toBe(Object.prototype);
    expect(e?.jobId).toBe('j1');
    expect(e?.raw).toMatchObject({ event: 'delivered' });
  });

  it('falls back to smtp-id for the Message-ID and to the receive time for a missing timestamp', () => {
    const [e] = parseSendGridEvents([{ email: 'a@example.com', event: 'delivered', 'smtp-id': '<abc@x>' }], 1234);
    expect(e).toMatchObject({ messageId: '<abc@x>', timestamp: 1234 });
  });

  it('skips unknown events and items without an address; anything but an array gives nothing', () => {
    expect(parseSendGridEvents([{ event: 'delivered' }, { email: 'nope', event: 'delivered' }, { email: 'a@example.com', event: 'group_resubscribe_v2' }, null, 1, 'x', [], { email: 'a@example.com' }])).toEqual([]);
    for (const body of [{}, 'x', null, 42, undefined]) expect(parseSendGridEvents(body)).toEqual([]);
  });

  it('caps a hostile batch', () => {
    const huge = Array.from({ length: 20_000 }, (_, i) => ({ email: `u${i}@example.com`, event: 'open', timestamp: 1 }));
    expect(parseSendGridEvents(huge)).toHaveLength(10_000);
  });
});
