/**
 * How the SQLite store writes messages, jobs and results: JSON text, with the bytes of
 * attachments given as `Uint8Array` kept apart in one BLOB (no base64 growth). Everything
 * read back equals what was written.
 *
 * @module
 * @internal
 */

import { MailError, MailErrorCode } from '../errors.js';
import type { Attachment, Job, NormalizedMessage, StoredResult } from '../types.js';

/** A message as stored: JSON text and the bytes of its binary attachments, if any. */
export interface EncodedMessage {
  readonly json: string;
  readonly bytes: Uint8Array | null;
}

/** An attachment whose bytes sit in the BLOB at `[offset, length]`. */
interface StoredAttachment extends Omit<Attachment, 'content'> {
  readonly bytesAt: readonly [offset: number, length: number];
}

function unstorable(where: string, why: string): MailError {
  return new MailError(`\`${where}\` cannot be stored: ${why}; a durable store keeps JSON data only (strings, finite numbers, booleans, null, arrays, plain objects)`, {
    code: MailErrorCode.VALIDATION,
    retryable: false,
  });
}

function kind(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'object' || value === null) return `a ${typeof value}`;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
  return name === undefined || name === '' ? 'an object with a null prototype' : `a ${name}`;
}

/**
 * The objects {@link isJsonData} is inside of (to find cycles); shared by every call, which
 * leaves it as it found it. Empty metadata, the common case, allocates nothing.
 */
const inside: object[] = [];

/**
 * True when `value` reads back equal after JSON. The fast path of {@link checkJson}: it builds
 * no paths (a path string per property cost ~15 µs per message on the send path).
 */
function isJsonData(value: unknown, seen: object[]): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (seen.includes(value)) return false;
  seen.push(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isJsonData(value[i], seen)) return false;
  } else {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return false;
    for (const k in value) {
      if (!Object.hasOwn(value, k)) continue;
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined && !isJsonData(v, seen)) return false;
    }
  }
  seen.pop();
  return true;
}

/**
 * Checks that `value` reads back equal after JSON: throws a VALIDATION MailError naming the
 * path of the first value that would not (a Date, a Map, NaN, a function, a cycle).
 */
export function checkJson(value: unknown, where: string, seen?: object[]): void {
  if (seen === undefined || seen.length === 0) {
    const depth = inside.length;
    let ok: boolean;
    try {
      ok = isJsonData(value, inside);
    } finally {
      // A getter that threw (or a `false` on the way down) leaves entries behind.
      inside.length = depth;
    }
    if (ok) return;
  }
  checkJsonPaths(value, where, seen ?? []);
}

function checkJsonPaths(value: unknown, where: string, seen: object[]): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw unstorable(where, `it is ${kind(value)}`);
      return;
    case 'object':
      break;
    default:
      throw unstorable(where, `it is ${kind(value)}`);
  }
  if (value === null) return;
  if (seen.includes(value)) throw unstorable(where, 'it contains a circular reference');
  seen.push(value);
  if (Array.isArray(value)) {
    value.forEach((v: unknown, i) => checkJsonPaths(v, `${where}[${i}]`, seen));
  } else {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) throw unstorable(where, `it is ${kind(value)}`);
    for (const [k, v] of Object.entries(value)) {
      // JSON drops undefined properties, and reading them back gives undefined again.
      if (v !== undefined) checkJsonPaths(v, /^[A-Za-z_$][\w$]*$/.test(k) ? `${where}.${k}` : `${where}[${JSON.stringify(k)}]`, seen);
    }
  }
  seen.pop();
}

function isTextAttachment(a: Attachment): boolean {
  return typeof a.content === 'string';
}

/** Encodes a message; throws a VALIDATION MailError when its metadata is not JSON data. */
export function encodeMessage(message: NormalizedMessage): EncodedMessage {
  checkJson(message.metadata, 'metadata');
  // Text-only attachments (or none, the common case): the message is stored as it is.
  if (message.attachments.every(isTextAttachment)) return { json: JSON.stringify(message), bytes: null };
  let chunks: Uint8Array[] | undefined;
  let offset = 0;
  const attachments = message.attachments.map((a): Attachment | StoredAttachment => {
    if (typeof a.content === 'string') return a;
    if (!(a.content instanceof Uint8Array)) throw unstorable('attachments[].content', `it is ${kind(a.content)}`);
    const { content, ...rest } = a;
    (chunks ??= []).push(content);
    const stored: StoredAttachment = { ...rest, bytesAt: [offset, content.byteLength] };
    offset += content.byteLength;
    return stored;
  });
  const json = JSON.stringify(chunks === undefined ? message : { ...message, attachments });
  return { json, bytes: chunks === undefined ? null : Buffer.concat(chunks) };
}

/** Decodes what {@link encodeMessage} wrote. Binary attachment content comes back as a Uint8Array. */
export function decodeMessage(json: string, bytes: Uint8Array | null | undefined): NormalizedMessage {
  const message = JSON.parse(json) as NormalizedMessage;
  if (bytes === null || bytes === undefined) return message;
  const attachments = (message.attachments as readonly (Attachment | StoredAttachment)[]).map((a): Attachment => {
    if (!('bytesAt' in a)) return a;
    const { bytesAt, ...rest } = a;
    // A copy, so the message does not pin the row's buffer and callers may keep it.
    const content = bytes.slice(bytesAt[0], bytesAt[0] + bytesAt[1]);
    return { ...rest, content: new Uint8Array(content.buffer, content.byteOffset, content.byteLength) };
  });
  return { ...message, attachments };
}

/** The fields of a job that change, as JSON (id and messageRef are columns). */
export function encodeJob(job: Job): string {
  const data: Record<string, unknown> = {
    domain: job.domain,
    recipients: job.recipients,
    priority: job.priority,
    state: job.state,
    attempt: job.attempt,
    createdAt: job.createdAt,
    runAt: job.runAt,
  };
  if (job.lastError !== undefined) data.lastError = job.lastError;
  try {
    return JSON.stringify(data);
  } catch (err) {
    throw new MailError(`Job ${job.id} cannot be stored: ${(err as Error).message}`, { code: MailErrorCode.STORE, retryable: false, cause: err });
  }
}

/** Decodes a job written by {@link encodeJob}. */
export function decodeJob(id: string, messageRef: string, json: string): Job {
  return { id, messageRef, ...(JSON.parse(json) as Omit<Job, 'id' | 'messageRef'>) };
}

/** Encodes a result as JSON. */
export function encodeResult(result: StoredResult): string {
  try {
    return JSON.stringify(result);
  } catch (err) {
    throw new MailError(`The result of ${String(result?.address)} cannot be stored: ${(err as Error).message}`, { code: MailErrorCode.STORE, retryable: false, cause: err });
  }
}
