/**
 * Test signers for feedback webhooks: sign SNS messages and SendGrid Event Webhook requests
 * with keys made at test time, so a host can test its webhook route end to end, offline,
 * with real signatures (and forged ones).
 *
 * The SNS signer makes an RSA key and a self-signed X.509 certificate (any validity window,
 * to test expired certificates) and a fetcher that serves it at a real-looking
 * `https://sns.<region>.amazonaws.com/SimpleNotificationService-<id>.pem` URL; pass that
 * fetcher to the handler instead of the network.
 *
 * @example
 * ```ts
 * const sns = createSnsTestSigner();
 * const handler = createFeedbackHandler({ processor, ses: { topicArns: [TOPIC], fetcher: sns.fetcher } });
 * const { body, headers } = sns.notification(TOPIC, { notificationType: 'Bounce', ... });
 * await handler(new Request('http://localhost/ses', { method: 'POST', body, headers }));
 * ```
 *
 * @module
 */

import { createHash, generateKeyPairSync, randomUUID, sign as cryptoSign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { snsStringToSign } from '../feedback/sns.js';
import type { SnsEnvelope, SnsFetcher } from '../feedback/sns.js';

// ---------------------------------------------------------------------------------------
// A minimal DER writer: enough for one self-signed certificate
// ---------------------------------------------------------------------------------------

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]): Buffer => tlv(0x31, Buffer.concat(parts));
function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1);
  return tlv(0x02, (b[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), b]) : b);
}
function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const stack = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) stack.unshift((v & 0x7f) | 0x80);
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
}
function time(ms: number): Buffer {
  const iso = new Date(ms).toISOString();
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '');
  const year = Number(iso.slice(0, 4));
  return year >= 1950 && year < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${digits}Z`));
}
const name = (cn: string): Buffer => seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))));

/**
 * A self-signed RSA certificate (PEM) for `cn`, valid from `notBefore` to `notAfter` (ms).
 *
 * @example
 * ```ts
 * import { generateKeyPairSync, X509Certificate } from 'node:crypto';
 * import { selfSignedCertificate } from 'mailpush/testing';
 *
 * const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
 * const pem = selfSignedCertificate(privateKey, publicKey, 'sns.amazonaws.com', Date.now() - 2 * 86_400_000, Date.now() - 86_400_000); // expired
 * new X509Certificate(pem).subject; // 'CN=sns.amazonaws.com'
 * ```
 */
export function selfSignedCertificate(privateKey: KeyObject, publicKey: KeyObject, cn: string, notBefore: number, notAfter: number): string {
  const alg = seq(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]));
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(createHash('sha256').update(randomUUID()).digest().subarray(0, 16)),
    alg,
    name(cn),
    seq(time(notBefore), time(notAfter)),
    name(cn),
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = cryptoSign('sha256', tbs, privateKey);
  const der = seq(tbs, alg, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

// ---------------------------------------------------------------------------------------
// SNS
// ---------------------------------------------------------------------------------------

/** Options of {@link createSnsTestSigner}. */
export interface SnsTestSignerOptions {
  /** Region in the certificate URL. @default 'us-east-1' */
  readonly region?: string;
  /** Start of the certificate's validity, ms. @default one day ago */
  readonly notBefore?: number;
  /** End of the certificate's validity, ms. @default in one year */
  readonly notAfter?: number;
}

/** Fields of an SNS message before signing. */
export type UnsignedSnsMessage = Omit<SnsEnvelope, 'Signature' | 'SignatureVersion' | 'SigningCertURL'> & { readonly SignatureVersion?: '1' | '2' };

/** A signed request, ready for `new Request(url, { method: 'POST', body, headers })`. */
export interface SignedWebhookRequest {
  readonly body: string;
  readonly headers: Record<string, string>;
}

/** Options of {@link SnsTestSigner.notification}. */
export interface SnsNotificationOptions {
  /** @default '2' */
  readonly signatureVersion?: '1' | '2';
  /** Message time, ms. @default now */
  readonly timestamp?: number;
  /** SNS MessageId. @default a random UUID */
  readonly messageId?: string;
  readonly subject?: string;
}

/** Signs SNS messages with a test key; see {@link createSnsTestSigner}. */
export interface SnsTestSigner {
  /** The URL the certificate is "published" at. */
  readonly certUrl: string;
  /** The certificate, PEM. */
  readonly certPem: string;
  /** A fetcher serving the certificate at `certUrl` and answering ConfirmSubscription URLs; refuses anything else. */
  readonly fetcher: SnsFetcher;
  /** Every URL the fetcher was asked for, in order. */
  readonly fetched: readonly string[];
  /** Signs a message (adds SignatureVersion, Signature, SigningCertURL). */
  sign(message: UnsignedSnsMessage): SnsEnvelope;
  /** A signed Notification carrying `message` (an object is JSON-encoded, as SES does). */
  notification(topicArn: string, message: string | object, options?: SnsNotificationOptions): SignedWebhookRequest;
  /** A signed SubscriptionConfirmation for `topicArn`. */
  subscriptionConfirmation(topicArn: string, options?: SnsNotificationOptions): SignedWebhookRequest;
}

/** Headers SNS sends with a message. */
function snsHeaders(env: SnsEnvelope): Record<string, string> {
  return {
    'content-type': 'text/plain; charset=UTF-8',
    'x-amz-sns-message-type': env.Type,
    'x-amz-sns-message-id': env.MessageId,
    'x-amz-sns-topic-arn': env.TopicArn,
    'user-agent': 'Amazon Simple Notification Service Agent',
  };
}

/**
 * Creates an SNS test signer with a fresh RSA key and certificate.
 *
 * @example
 * ```ts
 * import { createSnsVerifier } from 'mailpush/feedback';
 * import { createSnsTestSigner } from 'mailpush/testing';
 *
 * const topic = 'arn:aws:sns:us-east-1:123456789012:ses-feedback';
 * const sns = createSnsTestSigner();
 * const { body } = sns.notification(topic, { notificationType: 'Bounce', mail: {}, bounce: {} });
 * const envelope = await createSnsVerifier({ topicArns: [topic], fetcher: sns.fetcher }).verify(JSON.parse(body)); // verifies
 * ```
 */
export function createSnsTestSigner(options: SnsTestSignerOptions = {}): SnsTestSigner {
  const region = options.region ?? 'us-east-1';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const notBefore = options.notBefore ?? Date.now() - 86_400_000;
  const notAfter = options.notAfter ?? Date.now() + 365 * 86_400_000;
  const certPem = selfSignedCertificate(privateKey, publicKey, 'sns.amazonaws.com', notBefore, notAfter);
  const certUrl = `https://sns.${region}.amazonaws.com/SimpleNotificationService-${createHash('sha256').update(certPem).digest('hex').slice(0, 32)}.pem`;
  const fetched: string[] = [];
  const fetcher: SnsFetcher = async (url) => {
    fetched.push(url);
    if (url === certUrl) return certPem;
    if (url.startsWith(`https://sns.${region}.amazonaws.com/?Action=ConfirmSubscription`)) {
      return '<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>arn</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>';
    }
    throw new Error(`test fetcher: HTTP 404 for ${url}`);
  };
  const sign = (message: UnsignedSnsMessage): SnsEnvelope => {
    const version = message.SignatureVersion ?? '2';
    const signature = cryptoSign(version === '1' ? 'sha1' : 'sha256', Buffer.from(snsStringToSign(message), 'utf8'), privateKey).toString('base64');
    return { ...message, SignatureVersion: version, Signature: signature, SigningCertURL: certUrl };
  };
  const envelope = (type: SnsEnvelope['Type'], topicArn: string, message: string, o: SnsNotificationOptions): SnsEnvelope => {
    const id = o.messageId ?? randomUUID();
    const base = {
      Type: type,
      MessageId: id,
      TopicArn: topicArn,
      Message: message,
      Timestamp: new Date(o.timestamp ?? Date.now()).toISOString(),
      SignatureVersion: o.signatureVersion ?? '2',
      ...(o.subject !== undefined ? { Subject: o.subject } : {}),
    } as const;
    if (type === 'Notification') {
      return sign({ ...base, UnsubscribeURL: `https://sns.${region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${topicArn}:${id}` });
    }
    const token = createHash('sha256').update(id).digest('hex');
    return sign({ ...base, Token: token, SubscribeURL: `https://sns.${region}.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${topicArn}&Token=${token}` });
  };
  return {
    certUrl,
    certPem,
    fetcher,
    fetched,
    sign,
    notification(topicArn, message, o = {}) {
      const env = envelope('Notification', topicArn, typeof message === 'string' ? message : JSON.stringify(message), o);
      return { body: JSON.stringify(env), headers: snsHeaders(env) };
    },
    subscriptionConfirmation(topicArn, o = {}) {
      const env = envelope('SubscriptionConfirmation', topicArn, `You have chosen to subscribe to the topic ${topicArn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`, o);
      return { body: JSON.stringify(env), headers: snsHeaders(env) };
    },
  };
}

// ---------------------------------------------------------------------------------------
// SendGrid
// ---------------------------------------------------------------------------------------

/** Signs SendGrid Event Webhook requests with a test key; see {@link createSendGridTestSigner}. */
export interface SendGridTestSigner {
  /** The verification key as SendGrid shows it: base64 DER SubjectPublicKeyInfo. */
  readonly publicKey: string;
  /** Signs `body` as SendGrid does (timestamp in unix seconds, default now). */
  sign(body: string | Uint8Array, timestampSec?: number): SignedWebhookRequest;
}

/**
 * Creates a SendGrid test signer with a fresh EC P-256 key.
 *
 * @example
 * ```ts
 * import { createSendGridVerifier, SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER } from 'mailpush/feedback';
 * import { createSendGridTestSigner } from 'mailpush/testing';
 *
 * const signer = createSendGridTestSigner();
 * const { body, headers } = signer.sign(JSON.stringify([{ event: 'delivered', email: 'ann@example.org', timestamp: 1767225600 }]));
 * createSendGridVerifier({ publicKey: signer.publicKey }).verify(Buffer.from(body), headers[SENDGRID_SIGNATURE_HEADER], headers[SENDGRID_TIMESTAMP_HEADER]); // passes
 * ```
 */
export function createSendGridTestSigner(): SendGridTestSigner {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    sign(body, timestampSec = Math.floor(Date.now() / 1000)) {
      const ts = String(timestampSec);
      const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
      const signature = cryptoSign('sha256', Buffer.concat([Buffer.from(ts), bytes]), { key: privateKey, dsaEncoding: 'der' }).toString('base64');
      return {
        body: bytes.toString('utf8'),
        headers: {
          'content-type': 'application/json',
          'x-twilio-email-event-webhook-signature': signature,
          'x-twilio-email-event-webhook-timestamp': ts,
          'user-agent': 'SendGrid Event API',
        },
      };
    },
  };
}
