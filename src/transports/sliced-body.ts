/**
 * Large JSON request bodies made without holding the event loop, from text pieces and byte
 * pieces whose base64 goes into the JSON: built into one buffer of the final size
 * ({@link slicedBody}), hashed for SigV4 ({@link hashBody}), or made chunk by chunk while a
 * request sends them ({@link bodyStream}, {@link bodyReadable}); with a turn of the event loop
 * whenever the time slice is used up. Shared by the SendGrid transport (attachments) and the
 * SES transport (the raw MIME message).
 *
 * @module
 * @internal
 */

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { slice } from '../queue/slice.js';

/**
 * Source bytes per base64 chunk: a multiple of 57 (and so of 3), so that chunks join without
 * padding. Its 78 KB of base64 text stays under V8's 128 KiB limit for young objects (larger
 * strings go to the large-object space, which only full collections free).
 */
export const BASE64_CHUNK_BYTES = 57 * 1024;

/** Bytes {@link slicedBody} writes as their base64 (which needs no escaping in a JSON string). */
export interface Base64Part {
  readonly base64: Uint8Array;
}

/** What {@link slicedBody} writes: text as UTF-8, bytes as they are, a {@link Base64Part} as base64. */
export type BodyPart = string | Uint8Array | Base64Part;

/** A body built by {@link slicedBody}. */
export interface SlicedBody {
  /** The UTF-8 bytes of the body. */
  readonly body: Buffer;
  /** Hex SHA-256 of `body`, when asked for. */
  readonly sha256: string | undefined;
}

/**
 * Writes `parts` into one buffer: strings as UTF-8, byte arrays as they are, and the bytes of
 * a {@link Base64Part} as standard base64 with padding and no line breaks (what
 * `Buffer#toString('base64')` gives for the whole array), in chunks of
 * {@link BASE64_CHUNK_BYTES} with a `slice()` yield between them when the slice is used up.
 * `check` runs after each yield (to stop a cancelled send); it throws to stop.
 *
 * @example
 * ```ts
 * const { body, sha256 } = await slicedBody(['{"Data":"', { base64: bytes }, '"}'], { sha256: true });
 * ```
 */
export async function slicedBody(parts: readonly BodyPart[], options: { readonly sha256?: boolean; readonly check?: () => void } = {}): Promise<SlicedBody> {
  const total = bodyLength(parts);
  const out = Buffer.allocUnsafe(total);
  const hash = options.sha256 === true ? createHash('sha256') : undefined;
  let at = 0;
  for (const p of parts) {
    if (typeof p === 'string') {
      const n = out.write(p, at);
      hash?.update(out.subarray(at, at + n));
      at += n;
      continue;
    }
    if (p instanceof Uint8Array) {
      out.set(p, at);
      hash?.update(p);
      at += p.byteLength;
      continue;
    }
    const bytes = Buffer.from(p.base64.buffer, p.base64.byteOffset, p.base64.byteLength);
    for (let from = 0; from < bytes.length; from += BASE64_CHUNK_BYTES) {
      const y = slice();
      if (y !== undefined) {
        await y;
        options.check?.();
      }
      const n = out.write(bytes.subarray(from, Math.min(from + BASE64_CHUNK_BYTES, bytes.length)).toString('base64'), at, 'latin1');
      hash?.update(out.subarray(at, at + n));
      at += n;
    }
  }
  const body = at === total ? out : out.subarray(0, at);
  return { body, sha256: hash?.digest('hex') };
}

/** Bytes per chunk of {@link bodyStream} and {@link bodyReadable} for byte parts. */
export const STREAM_CHUNK_BYTES = 64 * 1024;

/**
 * Length in bytes of the body {@link slicedBody} builds from `parts`.
 *
 * @example
 * ```ts
 * bodyLength(['{"d":"', { base64: new Uint8Array(4) }, '"}']); // 6 + 8 + 2 = 16
 * ```
 */
export function bodyLength(parts: readonly BodyPart[]): number {
  let total = 0;
  for (const p of parts) total += typeof p === 'string' ? Buffer.byteLength(p) : p instanceof Uint8Array ? p.byteLength : Math.ceil(p.base64.byteLength / 3) * 4;
  return total;
}

/**
 * The bytes of the body {@link slicedBody} builds from `parts`, chunk by chunk as they are
 * asked for: text as one chunk, byte arrays as views of {@link STREAM_CHUNK_BYTES}, base64 made
 * per {@link BASE64_CHUNK_BYTES} of input; a turn of the event loop first whenever the slice
 * is used up. A consumer that takes chunks as fast as they come (undici writing to a fast
 * socket: a chain of microtasks) would otherwise hold the loop for the whole body.
 */
async function* bodyChunks(parts: readonly BodyPart[]): AsyncGenerator<Buffer, void, undefined> {
  for (const p of parts) {
    if (typeof p === 'string') {
      yield Buffer.from(p, 'utf8');
      continue;
    }
    const bytes = p instanceof Uint8Array ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : Buffer.from(p.base64.buffer, p.base64.byteOffset, p.base64.byteLength);
    const step = p instanceof Uint8Array ? STREAM_CHUNK_BYTES : BASE64_CHUNK_BYTES;
    for (let from = 0; from < bytes.length; from += step) {
      const y = slice();
      if (y !== undefined) await y;
      const to = Math.min(from + step, bytes.length);
      yield p instanceof Uint8Array ? bytes.subarray(from, to) : Buffer.from(bytes.toString('base64', from, to), 'latin1');
    }
  }
}

/**
 * The body {@link slicedBody} would build from `parts`, as a web stream made while it is read
 * (see {@link bodyChunks}), for fetch with `duplex: 'half'` and a `content-length` of
 * {@link bodyLength}. Nothing of the size of the body is allocated. Given a buffer instead,
 * Node's fetch (undici) copies it whole into a new ArrayBuffer in one turn (~5 ms for 13 MB,
 * most of it page faults of the new memory).
 *
 * @example
 * ```ts
 * await fetch(url, { method: 'POST', body: bodyStream(parts), duplex: 'half', headers: { 'content-length': String(bodyLength(parts)) } });
 * ```
 */
export function bodyStream(parts: readonly BodyPart[]): ReadableStream<Uint8Array> {
  const chunks = bodyChunks(parts);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done === true) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
}

/**
 * The length and SHA-256 of the body {@link slicedBody} would build from `parts`, without
 * building it: the base64 is computed chunk by chunk and hashed as text, with a `slice()` yield
 * between chunks when the slice is used up. `check` runs after each yield.
 *
 * @example
 * ```ts
 * const { length, sha256 } = await hashBody(['{"Data":"', { base64: bytes }, '"}']);
 * ```
 */
export async function hashBody(parts: readonly BodyPart[], check?: () => void): Promise<{ readonly length: number; readonly sha256: string }> {
  const hash = createHash('sha256');
  let length = 0;
  for (const p of parts) {
    if (typeof p === 'string') {
      hash.update(p, 'utf8');
      length += Buffer.byteLength(p);
    } else if (p instanceof Uint8Array) {
      hash.update(p);
      length += p.byteLength;
    } else {
      const bytes = Buffer.from(p.base64.buffer, p.base64.byteOffset, p.base64.byteLength);
      for (let from = 0; from < bytes.length; from += BASE64_CHUNK_BYTES) {
        const y = slice();
        if (y !== undefined) {
          await y;
          check?.();
        }
        hash.update(bytes.toString('base64', from, Math.min(from + BASE64_CHUNK_BYTES, bytes.length)), 'latin1');
      }
      length += Math.ceil(bytes.length / 3) * 4;
    }
  }
  return { length, sha256: hash.digest('hex') };
}

/**
 * The body {@link slicedBody} would build from `parts`, as a Node byte stream made while it is
 * read (see {@link bodyChunks}). Nothing of the size of the body is allocated; a stream can be
 * read once.
 *
 * @example
 * ```ts
 * request.body = bodyReadable(['{"Data":"', { base64: bytes }, '"}']);
 * ```
 */
export function bodyReadable(parts: readonly BodyPart[]): Readable {
  // Not object mode: the default 16 KiB high-water mark keeps at most one chunk ahead of the socket.
  return Readable.from(bodyChunks(parts), { objectMode: false });
}
