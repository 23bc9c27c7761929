import { describe, expect, it } from 'vitest';
import { JOB_ID_HEADER, composeMessage } from '../../src/message/compose.js';
import { normalizeMessage } from '../../src/message/normalize.js';
import { ComposeCache, MESSAGE_ID, RAW_AT_ONCE_BYTES, prepareJob, prepareMessage, rawContent } from '../../src/message/prepared.js';
import type { MimeSigner, NormalizedMessage } from '../../src/types.js';
import { countTurns } from '../helpers/turns.js';

function message(text = 'Hello there'): NormalizedMessage {
  return normalizeMessage({ from: 'app@example.com', to: 'ann@example.org', subject: 'Hi', text, html: `<p>${text}</p>` }, { now: 0 });
}
const envelope = { from: 'app@example.com', to: ['ann@example.org'] };

/** A signer that records the bytes it signed and numbers its signatures. */
function countingSigner(): MimeSigner & { readonly signed: Buffer[] } {
  const signed: Buffer[] = [];
  return {
    signed,
    signatureHeaders(raw: Buffer) {
      signed.push(raw);
      return Promise.resolve(`DKIM-Signature: n=${signed.length}\r\n`);
    },
  };
}

describe('prepareJob', () => {
  it('gives transports the message with X-Mailpush-Job-Id as its last header, without changing the stored message', () => {
    const m = message();
    const prepared = prepareJob({ id: 'job_1' }, m, envelope, undefined, undefined);
    expect(prepared.jobId).toBe('job_1');
    expect(prepared.message.headers.at(-1)).toEqual([JOB_ID_HEADER, 'job_1']);
    expect(prepared.message.subject).toBe('Hi');
    // Read twice, built once.
    expect(prepared.message).toBe(prepared.message);
    expect(m.headers.some(([name]) => name === JOB_ID_HEADER)).toBe(false);
    // A wrapping transport that spreads the prepared message keeps the message.
    expect({ ...prepared }.message.headers.at(-1)).toEqual([JOB_ID_HEADER, 'job_1']);
    expect('signer' in prepared).toBe(false);
    // The Message-ID without building the copy (the SMTP transport reads it for nodemailer).
    expect((prepared as { [MESSAGE_ID]?: string })[MESSAGE_ID]).toBe(m.messageId);
  });

  it('composes the bytes of the message with the header: what prepareMessage composes from prepared.message', async () => {
    const prepared = prepareJob({ id: 'job_2' }, message(), envelope, undefined, undefined);
    const raw = await prepared.raw();
    expect(raw.toString('latin1')).toMatch(/^X-Mailpush-Job-Id: job_2\r$/im);
    const boundaryless = (b: Buffer): string => b.toString('latin1').replace(/--_NmP-[\w-]+/g, 'B').replace(/boundary="[^"]+"/g, 'boundary=B');
    expect(boundaryless(raw)).toBe(boundaryless(await prepareMessage('job_2', prepared.message, envelope).raw()));
    expect(await prepared.raw()).toBe(raw);
  });

  it('keeps raw() and message working detached and on a spread copy, with the same bytes', async () => {
    const signer = countingSigner();
    const prepared = prepareJob({ id: 'job_9' }, message(), envelope, signer, new ComposeCache());
    const { raw } = prepared;
    const copy = { ...prepared };
    const bytes = await raw();
    expect(await prepared.raw()).toBe(bytes);
    expect(await copy.raw()).toBe(bytes);
    expect(signer.signed).toHaveLength(1);
    expect(copy.signer).toBe(signer);
    expect(copy.message).toBe(prepared.message);
    expect(Object.keys(prepared).sort()).toEqual(['envelope', 'jobId', 'message', 'raw', 'signer']);
  });

  it('reuses the bytes of a job for its next attempt and its failover, and signs each attempt over them', async () => {
    const cache = new ComposeCache();
    const job = { id: 'job_3' };
    const m = message();
    const signer = countingSigner();
    const first = prepareJob(job, m, envelope, signer, cache);
    const a = await first.raw();
    // A failover member of the same attempt gets the same signed bytes.
    expect(await first.raw()).toBe(a);
    const second = prepareJob(job, m, { from: 'bounce+x@example.com', to: ['ann@example.org'] }, signer, cache);
    const b = await second.raw();
    expect(signer.signed).toHaveLength(2);
    expect(signer.signed[1]).toBe(signer.signed[0]);
    expect(a.toString('latin1')).toMatch(/^DKIM-Signature: n=1\r\n/);
    expect(b.toString('latin1')).toMatch(/^DKIM-Signature: n=2\r\n/);
    expect(a.subarray(a.indexOf('\r\n') + 2)).toEqual(b.subarray(b.indexOf('\r\n') + 2));
    expect(cache.heldBytes).toBe(signer.signed[0]!.length);
    // Another job composes its own bytes.
    const other = await prepareJob({ id: 'job_4' }, m, envelope, undefined, cache).raw();
    expect(other.toString('latin1')).toContain('job_4');
    expect(other.toString('latin1')).not.toContain('job_3');
  });

  it('forgets the bytes of a job that ended, and composes again after that', async () => {
    const cache = new ComposeCache();
    const job = { id: 'job_5' };
    const a = await prepareJob(job, message(), envelope, undefined, cache).raw();
    expect(cache.get(job)).toBeDefined();
    cache.drop(job);
    expect(cache.get(job)).toBeUndefined();
    expect(cache.heldBytes).toBe(0);
    const b = await prepareJob(job, message(), envelope, undefined, cache).raw();
    expect(b).not.toBe(a);
    cache.drop(job);
    cache.drop(job);
    expect(cache.heldBytes).toBe(0);
  });

  it('keeps no more bytes than its budget: later jobs are composed again at each attempt', async () => {
    const one = (await composeMessage(message())).length;
    const cache = new ComposeCache(Math.floor(one * 2.5));
    const jobs = Array.from({ length: 4 }, (_, i) => ({ id: `job_b${i}` }));
    for (const job of jobs) await prepareJob(job, message(), envelope, undefined, cache).raw();
    // Let the bookkeeping of the last composition run.
    await Promise.resolve();
    expect(jobs.map((job) => cache.get(job) !== undefined)).toEqual([true, true, false, false]);
    expect(cache.heldBytes).toBeLessThanOrEqual(one * 2.5);
    cache.drop(jobs[0]!);
    await prepareJob(jobs[3]!, message(), envelope, undefined, cache).raw();
    await Promise.resolve();
    expect(cache.get(jobs[3]!)).toBeDefined();
  });

  it('does not keep a composition that failed, so the next attempt tries again', async () => {
    const cache = new ComposeCache();
    const job = { id: 'job_6' };
    const broken = { ...message(), attachments: [{ content: 42 }] } as unknown as NormalizedMessage;
    await expect(prepareJob(job, broken, envelope, undefined, cache).raw()).rejects.toMatchObject({ code: 'MAILPUSH_ERR_VALIDATION' });
    await Promise.resolve();
    expect(cache.get(job)).toBeUndefined();
    expect(cache.heldBytes).toBe(0);
  });

  it('counts large messages composed at the same time against its budget: only those that fit are kept', async () => {
    const big = (id: number): NormalizedMessage =>
      normalizeMessage({ from: 'app@example.com', to: 'ann@example.org', subject: 'Report', text: 'Attached.', attachments: [{ filename: 'r.bin', content: Buffer.alloc(2_000_000, id) }] }, { now: 0 });
    const cache = new ComposeCache(6_000_000);
    const jobs = Array.from({ length: 3 }, (_, i) => ({ id: `job_big${i}` }));
    // Composed concurrently: none is counted until its bytes exist.
    const sizes = (await Promise.all(jobs.map((job, i) => prepareJob(job, big(i), envelope, undefined, cache).raw()))).map((b) => b.length);
    await Promise.resolve();
    expect(sizes[0]).toBeGreaterThan(2_600_000);
    expect(jobs.map((job) => cache.get(job) !== undefined)).toEqual([true, true, false]);
    expect(cache.heldBytes).toBe(sizes[0]! + sizes[1]!);
    cache.drop(jobs[1]!);
    expect(cache.heldBytes).toBe(sizes[0]);
    cache.drop(jobs[0]!);
    cache.drop(jobs[2]!);
    expect(cache.heldBytes).toBe(0);
  });
});

describe('rawContent', () => {
  it('hands a small message over as it is', () => {
    const bytes = Buffer.alloc(RAW_AT_ONCE_BYTES, 0x61);
    expect(rawContent(bytes)).toBe(bytes);
  });

  it('streams a large message in chunks, giving the event loop turns between them', async () => {
    const bytes = Buffer.alloc(3_000_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
    const stream = rawContent(bytes);
    expect(Buffer.isBuffer(stream)).toBe(false);
    const counter = countTurns();
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const readable = stream as NodeJS.ReadableStream;
      readable.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        // Work per chunk, as nodemailer's data stream does: the slice runs out.
        const until = performance.now() + 0.3;
        while (performance.now() < until);
      });
      readable.on('end', resolve);
      readable.on('error', reject);
    });
    counter.stop();
    expect(chunks.length).toBeGreaterThanOrEqual(45);
    expect(Math.max(...chunks.map((c) => c.length))).toBe(64 * 1024);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    expect(counter.turns).toBeGreaterThan(3);
  });
});
