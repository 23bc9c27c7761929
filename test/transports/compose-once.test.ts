/**
 * Compose once per job (issue 11): what servers receive from the mailer. The job id is in the
 * bytes, a retry and a failover send the same bytes (DKIM signature fields apart, computed
 * per attempt), and the HTTP transports still carry the job id. Real servers on 127.0.0.1:
 * smtp-server recording every DATA (refused ones too), the local SES v2 API and the
 * SendGrid API fakes of mailpush/testing.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { dkimVerify } from 'mailauth';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { createDkimSigner } from '../../src/auth/dkim.js';
import { createMailer } from '../../src/mailer/index.js';
import type { Mailer, MailerOptions } from '../../src/mailer/index.js';
import { startSendGridServer } from '../../src/testing/sendgrid-server.js';
import { startSesServer } from '../../src/testing/ses-server.js';
import { normalizeMessage } from '../../src/message/normalize.js';
import { prepareJob } from '../../src/message/prepared.js';
import { failover } from '../../src/transports/composite.js';
import sendgridTransport, { JOB_ID_ARG } from '../../src/transports/sendgrid.js';
import sesTransport from '../../src/transports/ses.js';
import smtpTransport from '../../src/transports/smtp.js';
import type { MailError } from '../../src/errors.js';
import type { Transport } from '../../src/types.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((fn) => fn()));
});

/** One DATA the server read, whether it accepted it or not. */
interface Received {
  readonly raw: Buffer;
  readonly accepted: boolean;
}

/** An SMTP server that refuses the first `refuse` DATA transactions with `451 4.3.0` and records every one. */
async function recordingServer(refuse: number): Promise<{ port: number; received: Received[] }> {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const accepted = received.filter((r) => !r.accepted).length >= refuse;
        received.push({ raw: Buffer.concat(chunks), accepted });
        if (accepted) callback();
        else callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as AddressInfo).port, received };
}

function mailerWith(transport: Transport, options: Partial<MailerOptions> = {}): Mailer {
  const mailer = createMailer({ transport, retry: { scheduleMs: [50], jitter: 0 }, ...options });
  cleanup.push(() => mailer.close({ timeoutMs: 2000 }));
  return mailer;
}

function smtpTo(port: number, transportName?: string): Transport {
  return smtpTransport({ host: '127.0.0.1', port, ignoreTLS: true, ...(transportName !== undefined ? { transportName } : {}) });
}

const message = {
  from: 'App <app@example.com>',
  to: 'ann@example.org',
  subject: 'Grüße: your order',
  text: 'Hello Ann,\nyour order has shipped.\n'.repeat(10),
  html: '<p>Hello Ann, your order has <b>shipped</b>.</p>',
};

/** The header section of a message, unfolded, by lower-case name. */
function header(raw: Buffer, name: string): string[] {
  const head = raw.toString('latin1').split('\r\n\r\n')[0]!.replace(/\r\n[ \t]/g, ' ');
  return head
    .split('\r\n')
    .filter((line) => line.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    .map((line) => line.slice(name.length + 1).trim());
}

/** The message without its DKIM-Signature fields (the mailer puts them on top). */
function withoutSignatures(raw: Buffer): string {
  return raw.toString('latin1').replace(/^(?:DKIM-Signature:.*\r\n(?:[ \t].*\r\n)*)+/i, '');
}

describe('compose once: SMTP', () => {
  it('sends the job id in the message, and a retry after a 451 sends the identical bytes', async () => {
    const server = await recordingServer(1);
    const mailer = mailerWith(smtpTo(server.port));
    const receipt = await mailer.send(message);
    const report = await receipt.done();
    expect(report.status).toBe('sent');
    expect(server.received.map((r) => r.accepted)).toEqual([false, true]);
    const [first, second] = server.received as [Received, Received];
    expect(header(second.raw, 'X-Mailpush-Job-Id')).toEqual([receipt.jobs[0]!.jobId]);
    expect(header(second.raw, 'Message-ID')).toEqual([`<${receipt.messageId.replace(/^<|>$/g, '')}>`]);
    expect(second.raw.equals(first.raw)).toBe(true);
  });

  it('signs every attempt over the same bytes: DKIM verifies on the retry, with that attempt\'s own t=', async () => {
    const keys = [{ domain: 'example.com', selector: 'sel1', privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey }];
    const record = createDkimSigner({ keys }).keys[0]!.dnsRecord;
    const resolver = async (name: string, type: string): Promise<string[][]> => {
      if (type !== 'TXT' || name.toLowerCase() !== 'sel1._domainkey.example.com') throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      return [record.match(/.{1,255}/g) ?? []];
    };
    const server = await recordingServer(1);
    // t= counts seconds: a retry 1.1 s later must carry a later one.
    const mailer = mailerWith(smtpTo(server.port), { dkim: { keys }, retry: { scheduleMs: [1_100], jitter: 0 } });
    const receipt = await mailer.send(message);
    expect((await receipt.done()).status).toBe('sent');
    expect(server.received).toHaveLength(2);
    const stamps: number[] = [];
    for (const { raw } of server.received) {
      const { results } = await dkimVerify(raw, { resolver });
      expect(results.map((r) => r.status.result)).toEqual(['pass']);
      expect(header(raw, 'X-Mailpush-Job-Id')).toEqual([receipt.jobs[0]!.jobId]);
      stamps.push(Number(/\bt=(\d+)/.exec(header(raw, 'DKIM-Signature')[0]!)![1]));
    }
    expect(stamps[1]).toBeGreaterThan(stamps[0]!);
    expect(withoutSignatures(server.received[1]!.raw)).toBe(withoutSignatures(server.received[0]!.raw));
  });

  it('sends the same bytes to the next member of a failover', async () => {
    const refusing = await recordingServer(Infinity);
    const accepting = await recordingServer(0);
    const mailer = mailerWith(failover([smtpTo(refusing.port, 'first'), smtpTo(accepting.port, 'second')]));
    const receipt = await mailer.send(message);
    expect((await receipt.done()).status).toBe('sent');
    expect(refusing.received).toHaveLength(1);
    expect(accepting.received).toHaveLength(1);
    expect(accepting.received[0]!.raw.equals(refusing.received[0]!.raw)).toBe(true);
    expect(header(accepting.received[0]!.raw, 'X-Mailpush-Job-Id')).toEqual([receipt.jobs[0]!.jobId]);
  });
});

describe('compose once: SMTP transport alone', () => {
  it('rejects with a retryable error and sends nothing when the DKIM signer fails', async () => {
    const server = await recordingServer(0);
    const transport = smtpTo(server.port);
    cleanup.push(() => transport.close!());
    const m = normalizeMessage(message, { now: Date.now() });
    const signer = { signatureHeaders: () => Promise.reject(new Error('signing pool is gone')) };
    const prepared = prepareJob({ id: 'job_signer' }, m, { from: m.returnPath, to: ['ann@example.org'] }, signer, undefined);
    const err = (await transport.send(prepared, { signal: new AbortController().signal, attempt: 1 }).catch((e: unknown) => e)) as MailError;
    expect(err.code).toBe('MAILPUSH_ERR_INTERNAL');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('signing pool is gone');
    expect(server.received).toHaveLength(0);
  });
});

describe('compose once: a large message over SMTP', () => {
  it('sends the composed bytes of a 2 MB message (lines starting with dots in many of its 64 KiB chunks) as a stream of slices, and the same bytes again after a 451', async () => {
    const server = await recordingServer(1);
    const transport = smtpTo(server.port);
    cleanup.push(() => transport.close!());
    const attachment = Buffer.alloc(2_000_000);
    for (let i = 0; i < attachment.length; i++) attachment[i] = (i * 2654435761) >>> 24;
    const m = normalizeMessage(
      // Lines that start with a dot, over several 64 KiB chunks of the stream.
      { ...message, text: '.a line that starts with a dot\n..and one with two\n'.repeat(8_000), attachments: [{ filename: 'big.bin', content: attachment }] },
      { now: Date.now() },
    );
    const prepared = prepareJob({ id: 'job_big' }, m, { from: m.returnPath, to: ['ann@example.org'] }, undefined, undefined);
    const raw = await prepared.raw();
    expect(raw.length).toBeGreaterThan(2_500_000);
    const context = { signal: new AbortController().signal, attempt: 1 };
    const refused = (await transport.send(prepared, context).catch((e: unknown) => e)) as MailError;
    expect(refused.responseCode).toBe(451);
    const result = await transport.send(prepared, { ...context, attempt: 2 });
    expect(result.accepted).toEqual(['ann@example.org']);
    expect(server.received.map((r) => r.accepted)).toEqual([false, true]);
    // The SMTP data stream sends bare LF line breaks of the text part as CRLF.
    const wire = raw.toString('latin1').replace(/\r?\n/g, '\r\n');
    for (const r of server.received) expect(r.raw.toString('latin1') === wire).toBe(true);
  });
});

describe('compose once: HTTP transports keep the job id', () => {
  it('SES gets the job id in the raw MIME', async () => {
    const ses = await startSesServer();
    cleanup.push(() => ses.close());
    const credentials = { accessKeyId: 'AKIDMAILPUSHTEST', secretAccessKey: 'not-a-secret' };
    const mailer = mailerWith(sesTransport({ region: ses.region, endpoint: ses.endpoint, credentials }));
    const receipt = await mailer.send(message);
    expect((await receipt.done()).status).toBe('sent');
    expect(ses.messages).toHaveLength(1);
    expect(header(ses.messages[0]!.raw, 'X-Mailpush-Job-Id')).toEqual([receipt.jobs[0]!.jobId]);
  });

  it('SendGrid gets the job id as a header and in custom_args', async () => {
    const sendgrid = await startSendGridServer({ apiKey: 'SG.test-key' });
    cleanup.push(() => sendgrid.close());
    const mailer = mailerWith(sendgridTransport({ apiKey: sendgrid.apiKey, baseUrl: sendgrid.baseUrl }));
    const receipt = await mailer.send(message);
    expect((await receipt.done()).status).toBe('sent');
    const body = sendgrid.requests[0]!.body;
    const jobId = receipt.jobs[0]!.jobId;
    expect(body.custom_args?.[JOB_ID_ARG]).toBe(jobId);
    expect(body.headers?.['X-Mailpush-Job-Id']).toBe(jobId);
  });
});
