/**
 * The {@link PreparedMessage} handed to transports.
 *
 * @module
 */

import { Readable } from 'node:stream';
import { slice } from '../queue/slice.js';
import type { MimeSigner, NormalizedMessage, PreparedMessage } from '../types.js';
import { composeJobMessage, composeMessage, JOB_ID_HEADER } from './compose.js';
import type { Envelope } from './compose.js';

/**
 * Builds the prepared message for one job. The MIME bytes are composed on first use only
 * (a transport that builds its request from `message`, like SendGrid, never calls `raw()`),
 * then cached.
 *
 * With a `signer` (DKIM), `raw()` returns the message with the signature header fields on
 * top, and transports that compose themselves sign what they compose through
 * `prepared.signer`. Call this per attempt: each attempt is signed with a fresh `t=`.
 *
 * The message is used as given: the mailer's own attempts go through {@link prepareJob},
 * which adds `X-Mailpush-Job-Id`.
 */
export function prepareMessage(jobId: string, message: NormalizedMessage, envelope: Envelope, signer?: MimeSigner): PreparedMessage {
  // One closure per prepared message (it runs for every attempt).
  let raw: Promise<Buffer> | undefined;
  const rawOnce = (): Promise<Buffer> => (raw ??= signer === undefined ? composeMessage(message, envelope) : signed(composeMessage(message, envelope), signer));
  return signer === undefined ? { jobId, message, envelope, raw: rawOnce } : { jobId, message, envelope, raw: rawOnce, signer };
}

/**
 * The Message-ID of a prepared message from {@link prepareJob}, readable without building
 * `prepared.message` (the SMTP transport hands it to nodemailer, which would otherwise make
 * one up, with a random number, for the raw message).
 *
 * @internal
 */
export const MESSAGE_ID: unique symbol = Symbol('mailpush.messageId');

/** The job a prepared message is for: its id, and the object the composed bytes are cached under. */
export interface PreparedJob {
  readonly id: string;
}

/**
 * Prepares one attempt of a job. The job id goes into the MIME as the last header field
 * (`X-Mailpush-Job-Id`) while composing, and the composed bytes are kept in `cache` for the
 * job's next attempts (a retry, or the next member of a failover sends the same bytes). DKIM
 * signature fields are computed per attempt over those bytes, so `t=` is that attempt's.
 *
 * `prepared.message` is the message with the job id header added: it is built on first read
 * only (transports that send `raw()` never pay for the copy).
 */
export function prepareJob(job: PreparedJob, message: NormalizedMessage, envelope: Envelope, signer: MimeSigner | undefined, cache: ComposeCache | undefined): PreparedMessage {
  return new JobAttempt(job, message, envelope, signer, cache);
}

/** `Object.prototype.__defineGetter__` (ECMAScript Annex B), which TypeScript's lib does not declare. */
interface LegacyAccessors {
  __defineGetter__(key: string, getter: () => unknown): void;
}

/**
 * One attempt of a job, as {@link prepareJob} returns it (this runs for every message, so it
 * is one object of a fixed shape plus one closure). `message` is an own enumerable getter,
 * shared by all attempts, so that `{ ...prepared }` in a wrapping transport still carries
 * `message`; `raw` is an own arrow, so that it works detached and on a spread copy. `signer`
 * is an own property only when set.
 */
class JobAttempt implements PreparedMessage {
  /**
   * The getter of `message`: builds the copy on first read. Defined with `__defineGetter__`
   * (enumerable and configurable): `Object.defineProperty` first reads a descriptor object,
   * and took ~190 ns per attempt where this takes ~150 ns (a plain object: ~30 ns).
   */
  static readonly messageGetter = function (this: JobAttempt): NormalizedMessage {
    return (this.#withId ??= withJobId(this.#message, this.jobId));
  };

  declare readonly message: NormalizedMessage;
  declare readonly signer?: MimeSigner;
  // Assigned in the constructor, in the order of the former object literal.
  declare readonly jobId: string;
  declare readonly [MESSAGE_ID]: string;
  declare readonly envelope: Envelope;
  declare readonly raw: () => Promise<Buffer>;
  readonly #job: PreparedJob;
  readonly #message: NormalizedMessage;
  readonly #signer: MimeSigner | undefined;
  readonly #cache: ComposeCache | undefined;
  #withId: NormalizedMessage | undefined = undefined;
  #raw: Promise<Buffer> | undefined = undefined;

  constructor(job: PreparedJob, message: NormalizedMessage, envelope: Envelope, signer: MimeSigner | undefined, cache: ComposeCache | undefined) {
    this.#job = job;
    this.#message = message;
    this.#signer = signer;
    this.#cache = cache;
    const self = this as { jobId: string; [MESSAGE_ID]: string; envelope: Envelope; raw: () => Promise<Buffer> };
    self.jobId = job.id;
    self[MESSAGE_ID] = message.messageId;
    (this as unknown as LegacyAccessors).__defineGetter__('message', JobAttempt.messageGetter);
    self.envelope = envelope;
    self.raw = () => (this.#raw ??= this.#signer === undefined ? this.#composed() : signed(this.#composed(), this.#signer));
    if (signer !== undefined) (this as { signer?: MimeSigner }).signer = signer;
  }

  /** The unsigned bytes: kept from an earlier attempt of the job, or composed now (and kept). */
  #composed(): Promise<Buffer> {
    const cache = this.#cache;
    const kept = cache?.get(this.#job);
    if (kept !== undefined) return kept;
    const bytes = composeJobMessage(this.#message, this.jobId);
    cache?.keep(this.#job, bytes);
    return bytes;
  }
}

/** A copy of the message with `X-Mailpush-Job-Id` as its last header field. */
function withJobId(message: NormalizedMessage, jobId: string): NormalizedMessage {
  return { ...message, headers: [...message.headers, [JOB_ID_HEADER, jobId]] };
}

/** The composed message with the signature header fields on top. */
async function signed(composing: Promise<Buffer>, signer: MimeSigner): Promise<Buffer> {
  const bytes = await composing;
  return Buffer.concat([Buffer.from(await signer.signatureHeaders(bytes), 'latin1'), bytes]);
}

/**
 * Total size of the composed messages a {@link ComposeCache} keeps by default: 32 MiB. A
 * campaign whose jobs are mostly deferred (a greylisting domain) keeps the bytes of the first
 * ~10,000 messages of 3 KB; the others are composed again at their next attempt.
 */
export const DEFAULT_COMPOSE_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * The composed bytes of jobs between their attempts, keyed by the job object. The mailer
 * drops a job's bytes when the job ends ({@link ComposeCache.drop}); a job that ends some
 * other way (cancelled, expired in the queue) loses them with the job object (a `WeakMap`),
 * and a `FinalizationRegistry` gives its size back to the budget. The bytes held are
 * bounded by `maxBytes`: a job composed while the budget is full is not kept, and is
 * composed again at its next attempt.
 *
 * Only jobs that have had an attempt hold bytes: a queued campaign of 1,000,000 recipients
 * holds none until its jobs are dispatched, and a job sent at its first attempt holds them
 * only during that attempt.
 */
export class ComposeCache {
  private readonly entries = new WeakMap<object, CacheEntry>();
  private held = 0;
  private readonly sizes = new FinalizationRegistry<number>((size) => {
    this.held -= size;
  });

  constructor(private readonly maxBytes: number = DEFAULT_COMPOSE_CACHE_BYTES) {}

  /** The bytes kept for `job`, if any. */
  get(job: object): Promise<Buffer> | undefined {
    return this.entries.get(job)?.bytes;
  }

  /** Keeps the bytes being composed for `job`, when they fit the budget. A failed composition is not kept. */
  keep(job: object, bytes: Promise<Buffer>): void {
    const entry: CacheEntry = { bytes, size: 0 };
    this.entries.set(job, entry);
    bytes.then(
      (b) => {
        if (this.entries.get(job) !== entry) return;
        if (this.held + b.length > this.maxBytes) {
          this.entries.delete(job);
          return;
        }
        entry.size = b.length;
        this.held += b.length;
        this.sizes.register(job, b.length, entry);
      },
      () => {
        if (this.entries.get(job) === entry) this.entries.delete(job);
      },
    );
  }

  /** Forgets the bytes of a job that ended. */
  drop(job: object): void {
    const entry = this.entries.get(job);
    if (entry === undefined) return;
    this.entries.delete(job);
    if (entry.size > 0) {
      this.held -= entry.size;
      this.sizes.unregister(entry);
    }
  }

  /** Bytes held for jobs that have not ended. */
  get heldBytes(): number {
    return this.held;
  }
}

interface CacheEntry {
  readonly bytes: Promise<Buffer>;
  /** Counted against the budget once composed; 0 before. */
  size: number;
}

/**
 * Bytes of composed MIME that {@link rawContent} hands over as they are; a larger message is
 * streamed in slices.
 *
 * @internal
 */
export const RAW_AT_ONCE_BYTES = 256 * 1024;

/** Size of each chunk of a {@link rawContent} stream. */
const RAW_CHUNK_BYTES = 64 * 1024;

/**
 * Composed MIME for nodemailer's `raw` option. A Buffer of up to {@link RAW_AT_ONCE_BYTES} is
 * given as is; a larger one as a stream of 64 KiB chunks that gives the event loop a turn
 * whenever the current slice of work is used up (queue/slice.ts). nodemailer passes a Buffer
 * on as one chunk, and its SMTP data stream escapes dots in a byte-by-byte loop over each
 * chunk: a 13 MB message held the loop 40-80 ms (CPU) in one turn. Make one per send: a
 * stream can be read once.
 *
 * @example
 * ```ts
 * const mail = { raw: rawContent(await prepared.raw()), envelope };
 * ```
 * @internal
 */
export function rawContent(bytes: Buffer): Buffer | Readable {
  if (bytes.length <= RAW_AT_ONCE_BYTES) return bytes;
  let at = 0;
  return new Readable({
    highWaterMark: RAW_CHUNK_BYTES,
    read(this: Readable): void {
      const next = (): void => {
        const end = Math.min(at + RAW_CHUNK_BYTES, bytes.length);
        const chunk = bytes.subarray(at, end);
        at = end;
        this.push(chunk);
        if (at >= bytes.length) this.push(null);
      };
      const y = slice();
      if (y === undefined) next();
      else void y.then(next);
    },
  });
}
