import { execFile } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dkimVerify } from 'mailauth';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { relaxedBodyHash } from '../../src/auth/canonicalize.js';
import { createDkimSigner } from '../../src/auth/dkim.js';
import type { DkimKey, DkimOptions, DkimSigner } from '../../src/auth/dkim.js';
import { SigningPool } from '../../src/auth/dkim-pool.js';
import type { PoolSignResult } from '../../src/auth/dkim-pool.js';
import { MailErrorCode, isMailError } from '../../src/errors.js';
import type { MailError } from '../../src/errors.js';
import { createMailer } from '../../src/mailer/index.js';
import { composeMessage, normalizeMessage } from '../../src/message/index.js';
import { startSmtpSink } from '../../src/testing/smtp-sink.js';
import smtpTransport from '../../src/transports/smtp.js';
import type { MessageInput, NormalizedMessage } from '../../src/types.js';

const NOW = 1_700_000_000_123;
const clock = { now: () => NOW };
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let rsa: KeyObject;
let ed: KeyObject;
beforeAll(() => {
  rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  ed = generateKeyPairSync('ed25519').privateKey;
});

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const rsaKey = (): DkimKey => ({ domain: 'example.com', selector: 'rsa1', privateKey: rsa });
const edKey = (): DkimKey => ({ domain: 'example.com', selector: 'ed1', privateKey: ed });

/** A signer that sends every body, however small, to its worker threads. */
function pooled(options: Omit<DkimOptions, 'workerMinBytes'>): DkimSigner {
  const s = createDkimSigner({ workers: 2, workerMinBytes: 0, ...options }, clock);
  cleanup.push(() => s.close());
  return s;
}

function zoneOf(signer: DkimSigner): Record<string, string> {
  return Object.fromEntries(signer.keys.map((k) => [`${k.selector}._domainkey.${k.domain}`.toLowerCase(), k.dnsRecord]));
}

async function verdicts(raw: Buffer, signer: DkimSigner): Promise<string[]> {
  const zone = zoneOf(signer);
  const resolver = async (name: string, type: string): Promise<string[][]> => {
    const record = zone[name.toLowerCase()];
    if (type !== 'TXT' || record === undefined) throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return [record.match(/.{1,255}/g) ?? []];
  };
  const result = await dkimVerify(raw, { resolver, curTime: new Date(NOW) });
  return result.results.map((r) => r.status.result);
}

function message(overrides: Partial<MessageInput> = {}): NormalizedMessage {
  return normalizeMessage(
    {
      from: 'Shop <orders@example.com>',
      to: 'Ann <ann@example.org>',
      subject: 'Your order has shipped',
      text: 'Hello Ann,\nyour order has shipped.\n',
      messageId: 'order-1@example.com',
      date: new Date('2024-05-06T07:08:09Z'),
      ...overrides,
    },
    { now: NOW },
  );
}

function rejection(promise: Promise<unknown>): Promise<MailError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => {
      expect(isMailError(err), String(err)).toBe(true);
      return err as MailError;
    },
  );
}

describe('DKIM signing on worker threads', () => {
  it('signs RSA, Ed25519 and dual signatures that mailauth verifies', async () => {
    const m = message({ html: '<p>Hello Ann</p>', attachments: [{ filename: 'a.txt', content: 'line\n.\n..dots\n' }] });
    const raw = await composeMessage(m);
    for (const keys of [[rsaKey()], [edKey()], [rsaKey(), edKey()]]) {
      const s = pooled({ keys });
      const out = await s.signerFor(m)!.sign(raw);
      expect(await verdicts(out, s)).toEqual(keys.map(() => 'pass'));
    }
  });

  it('writes byte for byte the fields of the in-thread path, on 300 bodies of every shape', async () => {
    // RSA PKCS#1 v1.5 and Ed25519 signatures are deterministic, so the two paths must agree
    // on every byte: this checks the worker's copy of the body canonicalization.
    const keys = [rsaKey(), edKey()];
    const inThread = createDkimSigner({ keys, workers: 0 }, clock).signerFor(message())!;
    const onWorkers = pooled({ keys }).signerFor(message())!;
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = ['a', 'b', ' ', '  ', '\t', '\r\n', '\r\n', '\n', 'x y', '\r', 'é'];
    const bodies = ['', '\r\n', '\r\n\r\n', 'abc', 'abc \r\n\r\n', 'x'.repeat(70_000) + ' \t\r\n\n\n', '\n'.repeat(40_000) + 'end'];
    while (bodies.length < 300) {
      let body = '';
      const len = rnd(60);
      for (let j = 0; j < len; j++) body += alphabet[rnd(alphabet.length)];
      bodies.push(body);
    }
    const raws = bodies.map((body) => Buffer.from(`From: orders@example.com\r\nSubject: s\r\nTo: a@example.org\r\n\r\n${body}`, 'latin1'));
    const expected = await Promise.all(raws.map((raw) => inThread.signatureHeaders(raw)));
    const actual = await Promise.all(raws.map((raw) => onWorkers.signatureHeaders(raw)));
    actual.forEach((fields, i) => expect(fields, JSON.stringify(bodies[i]!.slice(0, 80))).toBe(expected[i]));
    const bh = /bh=([^;]+);/.exec(actual[0]!)![1];
    expect(bh).toBe(relaxedBodyHash(Buffer.alloc(0)));
  });

  it('keeps the caller message intact: the body is copied once and the copy is transferred', async () => {
    const s = pooled({ keys: [rsaKey()] });
    const raw = Buffer.from(`From: orders@example.com\r\nSubject: s\r\n\r\n${'body line\r\n'.repeat(5_000)}`);
    const before = Buffer.from(raw);
    const fields = await s.signerFor(message())!.signatureHeaders(raw);
    expect(raw.equals(before)).toBe(true);
    expect(await verdicts(Buffer.concat([Buffer.from(fields, 'latin1'), raw]), s)).toEqual(['pass']);
  });

  it('signs 200 concurrent messages, dual, every signature verifying', async () => {
    const s = pooled({ keys: [rsaKey(), edKey()] });
    const raws = await Promise.all(
      Array.from({ length: 200 }, (_, i) => composeMessage(message({ subject: `order ${i}`, messageId: `o${i}@example.com`, text: `line ${i}\n`.repeat(1 + (i % 50)) }))),
    );
    const signer = s.signerFor(message())!;
    const out = await Promise.all(raws.map((raw) => signer.sign(raw)));
    for (const signed of out) expect(await verdicts(signed, s)).toEqual(['pass', 'pass']);
  });

  it('close() fails the signatures in flight with CLOSED; later ones are made in-thread and verify', async () => {
    const s = pooled({ keys: [rsaKey()] });
    const signer = s.signerFor(message())!;
    const raw = await composeMessage(message());
    await signer.sign(raw); // the workers are up
    const settling = Promise.allSettled(Array.from({ length: 20 }, () => signer.sign(raw)));
    await s.close();
    const settled = await settling;
    const failed = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    // Some may have been answered before close() ran; the rest fail with CLOSED.
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) expect((f.reason as MailError).code).toBe(MailErrorCode.CLOSED);
    await s.close(); // idempotent
    expect(await verdicts(await signer.sign(raw), s)).toEqual(['pass']);
  });

  it('idle workers do not keep a process alive, and an awaited signature is not lost to an exit', async () => {
    const script = `
      import { generateKeyPairSync } from 'node:crypto';
      import { createDkimSigner } from './src/auth/dkim.ts';
      const key = generateKeyPairSync('ed25519').privateKey;
      const s = createDkimSigner({ keys: [{ domain: 'example.com', selector: 's', privateKey: key }], workers: 1, workerMinBytes: 0 });
      const fields = await s.signerFor({ from: { address: 'a@example.com' } }).signatureHeaders(Buffer.from('From: a@example.com\\r\\n\\r\\nhi\\r\\n'));
      console.log(fields.startsWith('DKIM-Signature:') ? 'signed' : 'not signed');
    `;
    const started = Date.now();
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, timeout: 15_000 }, (err, out, errOut) =>
        err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
      );
    });
    expect(stdout.trim()).toBe('signed');
    // Exiting at all (no kill by the 15 s timeout) is the check; the bound is only a sanity margin.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('end to end over SMTP: a mailer with a worker pool delivers 60 messages whose signatures verify', async () => {
    const sink = await startSmtpSink({ keepRaw: true, parse: false, disableStartTls: true });
    cleanup.push(() => sink.close());
    const transport = smtpTransport({ host: sink.host, port: sink.port, ignoreTLS: true, maxConnections: 3 });
    const dkim: DkimOptions = { keys: [rsaKey(), edKey()], workers: 2, workerMinBytes: 0 };
    const mailer = createMailer({ transport, dkim });
    cleanup.push(() => mailer.close());
    await mailer.ready();
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        mailer.send({ from: 'Shop <orders@example.com>', to: `c${i}@example.org`, subject: `order ${i}`, text: `Hello ${i}\n`.repeat(1 + (i % 40)) }),
      ),
    );
    await mailer.onIdle();
    expect(sink.messages).toHaveLength(60);
    const zoneSigner = createDkimSigner({ ...dkim, workers: 0 });
    for (const received of sink.messages) expect(await verdicts(received.raw!, zoneSigner)).toEqual(['pass', 'pass']);
  });
});

describe('SigningPool', () => {
  const body = Buffer.from('Hello\r\nworld\r\n');
  const part = { key: 0, ed25519: false, before: 'from:a@example.com\r\ndkim-signature:bh=', after: '; b=' };

  function pool(options: { source?: string; timeoutMs?: number; size?: number; idleMs?: number } = {}): SigningPool {
    const p = new SigningPool({ keys: [rsa], size: options.size ?? 2, timeoutMs: options.timeoutMs ?? 30_000, ...options });
    cleanup.push(() => p.close());
    return p;
  }

  function checkSigned(result: PoolSignResult): void {
    expect(result.bodyHash).toBe(relaxedBodyHash(body));
    const data = Buffer.from(part.before + result.bodyHash + part.after, 'latin1');
    expect(cryptoVerify('sha256', data, createPublicKey(rsa), Buffer.from(result.signatures[0]!, 'base64'))).toBe(true);
  }

  it('a killed worker fails only its own signatures (INTERNAL, retryable) and is replaced', async () => {
    const p = pool({ size: 2 });
    checkSigned(await p.sign(body, [part]));
    const jobs = Array.from({ length: 200 }, () => p.sign(body, [part]));
    expect(p.workers).toHaveLength(2);
    const [victim, survivor] = p.workers;
    void victim!.terminate();
    const settled = await Promise.allSettled(jobs);
    const failed = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    const done = settled.filter((r): r is PromiseFulfilledResult<PoolSignResult> => r.status === 'fulfilled');
    // Jobs alternate between the two workers (100 each, tens of ms of work), so both outcomes occur.
    expect(failed.length).toBeGreaterThan(0);
    expect(done.length).toBeGreaterThanOrEqual(100);
    for (const f of failed) {
      expect(isMailError(f.reason)).toBe(true);
      expect((f.reason as MailError).code).toBe(MailErrorCode.INTERNAL);
      expect((f.reason as MailError).retryable).toBe(true);
    }
    for (const d of done) checkSigned(d.value);
    checkSigned(await p.sign(body, [part]));
    expect(p.workers).toContain(survivor);
    expect(p.workers).not.toContain(victim);
  });

  it('a worker that throws fails its signature with INTERNAL and the cause', async () => {
    const p = pool({ source: "require('node:worker_threads').parentPort.on('message', () => { throw new Error('boom'); });" });
    const err = await rejection(p.sign(body, [part]));
    expect(err.code).toBe(MailErrorCode.INTERNAL);
    expect(err.retryable).toBe(true);
    expect(String((err.cause as Error).message)).toContain('boom');
  });

  it('a hung worker fails its signatures with TIMEOUT and is terminated, so sends do not hang', async () => {
    const p = pool({ source: "require('node:worker_threads').parentPort.on('message', () => { for (;;) {} });", timeoutMs: 300 });
    const [a, b] = await Promise.all([rejection(p.sign(body, [part])), rejection(p.sign(body, [part]))]);
    for (const err of [a, b]) {
      expect(err.code).toBe(MailErrorCode.TIMEOUT);
      expect(err.retryable).toBe(true);
    }
    expect(p.workers).toHaveLength(0);
  });

  it('a signing error in the worker rejects with INTERNAL, not retryable, and the worker lives on', async () => {
    const p = pool({ size: 1 });
    const err = await rejection(p.sign(body, [{ ...part, key: 5 }]));
    expect(err.code).toBe(MailErrorCode.INTERNAL);
    expect(err.retryable).toBe(false);
    const worker = p.workers[0];
    checkSigned(await p.sign(body, [part]));
    expect(p.workers).toEqual([worker]);
  });

  it('stops a worker that has been idle for idleMs, and starts a new one for the next job', async () => {
    const p = pool({ size: 1, idleMs: 200 });
    checkSigned(await p.sign(body, [part]));
    const first = p.workers[0]!;
    const exited = new Promise((resolve) => first.once('exit', resolve));
    await exited; // within ~idleMs; the test timeout bounds a pool that never stops it
    expect(p.workers).toHaveLength(0);
    checkSigned(await p.sign(body, [part]));
    expect(p.workers).toHaveLength(1);
    expect(p.workers[0]).not.toBe(first);
  });

  it('refuses work after close() with CLOSED', async () => {
    const p = pool();
    await p.close();
    expect(p.open).toBe(false);
    expect((await rejection(p.sign(body, [part]))).code).toBe(MailErrorCode.CLOSED);
  });

  it('hashes Ed25519 data with SHA-256 before signing (RFC 8463)', async () => {
    const p = new SigningPool({ keys: [ed], size: 1, timeoutMs: 30_000 });
    cleanup.push(() => p.close());
    const result = await p.sign(body, [{ ...part, ed25519: true }]);
    const digest = createHash('sha256').update(Buffer.from(part.before + result.bodyHash + part.after, 'latin1')).digest();
    expect(cryptoVerify(null, digest, createPublicKey(ed), Buffer.from(result.signatures[0]!, 'base64'))).toBe(true);
  });
});

describe('worker options', () => {
  it('validates workers, workerMinBytes and workerTimeoutMs with CONFIG errors naming the option', () => {
    const cases: [Partial<DkimOptions>, string][] = [
      [{ workers: -1 }, 'dkim.workers'],
      [{ workers: 1.5 }, 'dkim.workers'],
      [{ workerMinBytes: -1 }, 'dkim.workerMinBytes'],
      [{ workerTimeoutMs: 0 }, 'dkim.workerTimeoutMs'],
    ];
    for (const [over, option] of cases) {
      let err: unknown;
      try {
        createDkimSigner({ keys: [rsaKey()], ...over });
      } catch (e) {
        err = e;
      }
      expect(isMailError(err)).toBe(true);
      expect((err as MailError).code).toBe(MailErrorCode.CONFIG);
      expect((err as MailError).message).toContain(option);
    }
  });
});
