import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BASE64_CHUNK_BYTES, bodyLength, bodyReadable, bodyStream, hashBody, slicedBody, STREAM_CHUNK_BYTES } from '../../src/transports/sliced-body.js';
import { countTurns } from '../helpers/turns.js';

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

describe('slicedBody', () => {
  it('writes text as UTF-8, bytes as they are and base64 parts as one base64, with their SHA-256', async () => {
    for (const n of [0, 1, 2, 3, BASE64_CHUNK_BYTES - 1, BASE64_CHUNK_BYTES, BASE64_CHUNK_BYTES + 1, 3 * BASE64_CHUNK_BYTES + 2]) {
      const data = bytes(n, n);
      const { body, sha256 } = await slicedBody(['{"a":"Grüße ✓","d":"', { base64: data }, '"', Buffer.from(',"x":1}')], { sha256: true });
      const expected = Buffer.from(`{"a":"Grüße ✓","d":"${data.toString('base64')}","x":1}`, 'utf8');
      expect(body.equals(expected)).toBe(true);
      expect(sha256).toBe(createHash('sha256').update(expected).digest('hex'));
    }
    expect((await slicedBody(['x'])).sha256).toBeUndefined();
  });

  it('gives the event loop turns while it encodes 8 MB, and stops when check throws', async () => {
    const data = bytes(8 * 1024 * 1024, 1);
    const counter = countTurns();
    await slicedBody([{ base64: data }]);
    counter.stop();
    expect(counter.turns).toBeGreaterThan(1);
    let checks = 0;
    const stopped = slicedBody([{ base64: data }], {
      check: () => {
        if (++checks === 2) throw new Error('cancelled');
      },
    });
    await expect(stopped).rejects.toThrow('cancelled');
  });
});

describe('bodyStream', () => {
  it('streams the body slicedBody builds: text whole, bytes as 64 KiB views, base64 per chunk', async () => {
    const body = bytes(3 * STREAM_CHUNK_BYTES + 5, 2);
    const data = bytes(2 * BASE64_CHUNK_BYTES + 1, 4);
    const parts = ['{"a":"ü","b":"', body, '","d":"', { base64: data }, '"}'];
    const chunks: Uint8Array[] = [];
    for await (const c of bodyStream(parts)) chunks.push(c);
    expect(chunks.map((c) => c.byteLength)).toEqual([Buffer.byteLength('{"a":"ü","b":"'), STREAM_CHUNK_BYTES, STREAM_CHUNK_BYTES, STREAM_CHUNK_BYTES, 5, 7, (BASE64_CHUNK_BYTES / 3) * 4, (BASE64_CHUNK_BYTES / 3) * 4, 4, 2]);
    const built = await slicedBody(parts);
    expect(Buffer.concat(chunks).equals(built.body)).toBe(true);
    expect(bodyLength(parts)).toBe(built.body.length);
    // Views, not copies.
    expect(chunks[2]!.buffer).toBe(body.buffer);
  });

  it('gives the event loop turns to a reader that takes chunks as fast as they come', async () => {
    const body = Buffer.alloc(64 * 1024 * 1024, 1);
    const counter = countTurns();
    let sum = 0;
    // Reading alone is a chain of microtasks: without the stream's own yields, no turn at all.
    for await (const c of bodyStream([body])) sum += c[0]! + c.byteLength;
    counter.stop();
    expect(sum).toBe(body.length + body.length / STREAM_CHUNK_BYTES);
    expect(counter.turns).toBeGreaterThan(1);
  });

  it('stops making chunks when the stream is cancelled', async () => {
    const reader = bodyStream([{ base64: bytes(10 * BASE64_CHUNK_BYTES, 5) }]).getReader();
    expect((await reader.read()).value?.byteLength).toBe((BASE64_CHUNK_BYTES / 3) * 4);
    await reader.cancel();
    expect((await reader.read()).done).toBe(true);
  });
});

describe('hashBody and bodyReadable', () => {
  it('give the length, hash and bytes of the body slicedBody builds, without building it', async () => {
    for (const n of [0, 2, BASE64_CHUNK_BYTES, 2 * BASE64_CHUNK_BYTES + 1, 5 * BASE64_CHUNK_BYTES + 2]) {
      const parts = ['{"a":"Grüße ✓","d":"', { base64: bytes(n, n + 1) }, '"', Buffer.from(',"x":1}')];
      const built = await slicedBody(parts, { sha256: true });
      expect(await hashBody(parts)).toEqual({ length: built.body.length, sha256: built.sha256 });
      const chunks: Buffer[] = [];
      for await (const c of bodyReadable(parts)) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).equals(built.body)).toBe(true);
      // No chunk larger than one base64 chunk: nothing of the body's size is allocated.
      expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(Math.max((BASE64_CHUNK_BYTES / 3) * 4, 32));
    }
  });

  it('give the event loop turns over 8 MB', async () => {
    const parts = [{ base64: bytes(8 * 1024 * 1024, 3) }];
    let counter = countTurns();
    await hashBody(parts);
    counter.stop();
    expect(counter.turns).toBeGreaterThan(1);
    counter = countTurns();
    let n = 0;
    for await (const c of bodyReadable(parts)) n += (c as Buffer).length;
    counter.stop();
    expect(n).toBe(Math.ceil((8 * 1024 * 1024) / 3) * 4);
    expect(counter.turns).toBeGreaterThan(1);
  });
});
