/**
 * A small pool of worker threads that hash message bodies and make the private-key
 * operations of DKIM signatures, so the event loop only splits the header.
 *
 * Workers start lazily (one more each time every running worker is busy, up to `size`), are
 * `unref()`ed while idle so they never keep a process alive, are ref'ed while a signature is
 * in flight so an awaited signature is never lost to an exiting process, and stop after
 * `idleMs` without work (a mailer that sent a burst does not keep threads for nothing). A
 * worker that crashes fails only its own in-flight signatures and is replaced on the next
 * one; a worker that does not answer within `timeoutMs` is terminated and its signatures fail
 * with TIMEOUT. `close()` terminates every worker and fails what is in flight with CLOSED.
 *
 * @module
 */

import type { KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { MailError, MailErrorCode } from '../errors.js';
import { DKIM_WORKER_SOURCE } from './dkim-worker-source.js';

/** One signature of a job: the data to sign is `before + bodyHash + after` (latin1). */
export interface PoolSignPart {
  /** Index of the key in the pool's key list. */
  readonly key: number;
  readonly ed25519: boolean;
  readonly before: string;
  readonly after: string;
}

/** What a worker returns for a job. */
export interface PoolSignResult {
  /** Base64 SHA-256 of the relaxed canonical body. */
  readonly bodyHash: string;
  /** Base64 signature of each part, in order. */
  readonly signatures: readonly string[];
}

/** Options of {@link SigningPool}. */
export interface SigningPoolOptions {
  /** Private keys, referenced by index from {@link PoolSignPart.key}. */
  readonly keys: readonly KeyObject[];
  /** Most workers running at once. */
  readonly size: number;
  /** Time a worker gets to answer one job before it is terminated. */
  readonly timeoutMs: number;
  /** Time an idle worker waits for work before it stops. @default 30000 */
  readonly idleMs?: number;
  /** Worker script (tests swap in one that hangs or crashes). @default DKIM_WORKER_SOURCE */
  readonly source?: string;
}

interface Pending {
  readonly resolve: (result: PoolSignResult) => void;
  readonly reject: (err: MailError) => void;
  readonly timer: NodeJS.Timeout;
}

interface Slot {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  /** Stops the worker once it has been idle for idleMs (re-armed with refresh(), not re-created). */
  readonly idle: NodeJS.Timeout;
  /** When the worker last finished a job. */
  idleSince: number;
  /** Set once the worker is being terminated or has exited: it takes no new jobs. */
  dead: boolean;
}

type WorkerReply = { readonly id: number; readonly bodyHash: string; readonly signatures: string[] } | { readonly id: number; readonly error: string };

/** The worker threads of one DKIM signer. */
export class SigningPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: SigningPoolOptions) {}

  /** False once closed: the signer then signs on the main thread. */
  get open(): boolean {
    return !this.closed;
  }

  /** The running workers (tests terminate one to check that only its signatures fail). */
  get workers(): readonly Worker[] {
    return this.slots.filter((s) => !s.dead).map((s) => s.worker);
  }

  /**
   * Hashes `body` and signs each part on a worker. The body's bytes are copied once into a
   * fresh ArrayBuffer that is transferred to the worker (Buffers usually share a pooled or
   * larger ArrayBuffer, which cannot be transferred without detaching the caller's message).
   */
  sign(body: Buffer, parts: readonly PoolSignPart[]): Promise<PoolSignResult> {
    if (this.closed) return Promise.reject(closedError());
    const slot = this.pick();
    const id = this.nextId++;
    const copy = new ArrayBuffer(body.length);
    new Uint8Array(copy).set(body);
    return new Promise<PoolSignResult>((resolve, reject) => {
      const timer = setTimeout(() => this.timedOut(slot), this.options.timeoutMs);
      timer.unref();
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, { resolve, reject, timer });
      slot.worker.postMessage({ id, body: copy, parts }, [copy]);
    });
  }

  /** Terminates every worker; signatures in flight fail with CLOSED. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const slot of slots) this.fail(slot, closedError());
    await Promise.all(slots.map((s) => s.worker.terminate().catch(() => undefined)));
  }

  /** The least busy live worker, or a new one while every worker is busy and there is room. */
  private pick(): Slot {
    let best: Slot | undefined;
    for (const slot of this.slots) {
      if (slot.dead) continue;
      if (best === undefined || slot.pending.size < best.pending.size) best = slot;
    }
    if (best !== undefined && (best.pending.size === 0 || this.slots.length >= this.options.size)) return best;
    return this.spawn();
  }

  private spawn(): Slot {
    const worker = new Worker(this.options.source ?? DKIM_WORKER_SOURCE, {
      eval: true,
      workerData: { keys: this.options.keys },
      // The script is plain CommonJS: the process's loaders (tsx) and flags such as
      // --input-type=module must not apply to it.
      execArgv: [],
    });
    worker.unref();
    const idleMs = this.options.idleMs ?? DEFAULT_IDLE_MS;
    const idle = setTimeout(() => this.idleCheck(slot, idleMs), idleMs);
    idle.unref();
    const slot: Slot = { worker, pending: new Map(), idle, idleSince: Date.now(), dead: false };
    worker.on('message', (reply: WorkerReply) => this.answer(slot, reply));
    // 'error' (an uncaught exception in the worker) is followed by 'exit'; the listener keeps
    // it from becoming an uncaught exception of the process.
    let cause: unknown;
    worker.on('error', (err) => {
      cause = err;
    });
    worker.on('exit', (code) => {
      this.remove(slot);
      this.fail(
        slot,
        new MailError(`DKIM signing worker exited (code ${code}) with the signature in flight`, {
          code: MailErrorCode.INTERNAL,
          retryable: true,
          ...(cause === undefined ? {} : { cause }),
        }),
      );
    });
    this.slots.push(slot);
    return slot;
  }

  private answer(slot: Slot, reply: WorkerReply): void {
    const pending = slot.pending.get(reply.id);
    if (pending === undefined) return;
    slot.pending.delete(reply.id);
    clearTimeout(pending.timer);
    if (slot.pending.size === 0) {
      slot.worker.unref();
      slot.idleSince = Date.now();
    }
    if ('error' in reply) pending.reject(new MailError(`DKIM signing failed: ${reply.error}`, { code: MailErrorCode.INTERNAL }));
    else pending.resolve({ bodyHash: reply.bodyHash, signatures: reply.signatures });
  }

  private idleCheck(slot: Slot, idleMs: number): void {
    if (slot.dead) return;
    const waited = Date.now() - slot.idleSince;
    if (slot.pending.size > 0 || waited < idleMs) {
      slot.idle.refresh();
      return;
    }
    this.remove(slot);
    void slot.worker.terminate().catch(() => undefined);
  }

  /** A job got no answer in time: the worker is stuck, so it goes and takes its jobs with it. */
  private timedOut(slot: Slot): void {
    this.remove(slot);
    this.fail(slot, new MailError(`DKIM signing worker did not answer within ${this.options.timeoutMs} ms; it was terminated`, { code: MailErrorCode.TIMEOUT }));
    void slot.worker.terminate().catch(() => undefined);
  }

  private remove(slot: Slot): void {
    slot.dead = true;
    clearTimeout(slot.idle);
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  private fail(slot: Slot, err: MailError): void {
    slot.dead = true;
    for (const pending of slot.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(err);
    }
    slot.pending.clear();
    clearTimeout(slot.idle);
    slot.worker.unref();
  }
}

const DEFAULT_IDLE_MS = 30_000;

function closedError(): MailError {
  return new MailError('The DKIM signing pool is closed', { code: MailErrorCode.CLOSED });
}
