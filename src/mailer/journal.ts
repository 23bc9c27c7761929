/**
 * The journal: every state change of a job goes to the queue store. `add` is awaited (accepted
 * means spooled); later transitions are written without holding up delivery, and a failed
 * write is reported, never lost silently.
 *
 * @module
 * @internal
 */

import { MailError, MailErrorCode } from '../errors.js';
import { STORE_NAME as MEMORY_QUEUE_STORE, forgetsFinishedResults } from '../stores/memory.js';
import type { Job, QueueStore, SharedQueue, StoredEntry, StoredPage, StoredResult, StoredStatus } from '../types.js';
import type { MailerCore, MessageRecord } from './core.js';

/** Writes job transitions to a {@link QueueStore}. */
export class Journal {
  /**
   * False when the store forgets a finished message with its results (the memory store): the
   * results of a message's last job then need no stored form (see `Settler.finish`).
   */
  readonly keepsFinishedResults: boolean;
  /**
   * True when the store keeps a backlog larger than memory: it pages, and it is not the memory
   * store (which holds everything in this process anyway, so paging would only cost time).
   * Read once (asked for every send).
   */
  readonly pages: boolean;

  constructor(
    readonly store: QueueStore,
    private readonly core: MailerCore,
  ) {
    this.keepsFinishedResults = !forgetsFinishedResults(store);
    this.pages = typeof store.page === 'function' && store.name !== MEMORY_QUEUE_STORE;
  }

  /**
   * Records a new message; throws or rejects with STORE when it could not be written. Returns
   * nothing when the store wrote synchronously (the memory store): no promise to await per send.
   */
  add(entry: StoredEntry): void | Promise<void> {
    let r: void | Promise<void>;
    try {
      r = this.store.add(entry);
    } catch (err) {
      throw this.addError(err);
    }
    if (r === undefined) return undefined;
    return Promise.resolve(r).then(undefined, (err: unknown) => {
      throw this.addError(err);
    });
  }

  private addError(err: unknown): MailError {
    return new MailError(`The queue store (${this.store.name}) could not record the message: ${(err as Error)?.message ?? String(err)}`, { code: MailErrorCode.STORE, cause: err });
  }

  /** Records a state change of `job`, with the results its message settled since the last write. */
  update(job: Job, rec: MessageRecord | undefined): void {
    this.write(false, job, rec);
  }

  /** Records that `job` reached a final state. */
  remove(job: Job, rec: MessageRecord | undefined): void {
    this.write(true, job, rec);
  }

  /**
   * Gives a job that must wait back to a shared queue (it leaves this process). Resolves once
   * the store has it; a failure is reported, and the store lets the job come back (at least once).
   */
  async handBack(job: Job, rec: MessageRecord | undefined): Promise<void> {
    const results = takeUnsaved(rec);
    try {
      await (this.store.shared as SharedQueue).handBack(job, results);
    } catch (err) {
      this.core.reportError('store.handBack', `Queue store (${this.store.name}) hand-back`, err);
    }
  }

  page(cursor: string | undefined, limit: number): StoredPage | Promise<StoredPage> {
    return (this.store.page as NonNullable<QueueStore['page']>)(cursor, limit);
  }

  status(id: string): StoredStatus | undefined | Promise<StoredStatus | undefined> {
    return this.store.status?.(id);
  }

  /** `store.remove` (`remove`) or `store.update` of `job`, with the results not yet saved; failures are reported. */
  private write(remove: boolean, job: Job, rec: MessageRecord | undefined): void {
    const results = takeUnsaved(rec);
    const store = this.store;
    try {
      // Called by name, not as `store[method]`: a keyed call per write for the two methods.
      const r = remove
        ? results === undefined ? store.remove(job) : store.remove(job, results)
        : results === undefined ? store.update(job) : store.update(job, results);
      if (r !== undefined) r.catch((err: unknown) => this.failed(remove, err));
    } catch (err) {
      this.failed(remove, err);
    }
  }

  private failed(remove: boolean, err: unknown): void {
    const method = remove ? 'remove' : 'update';
    this.core.reportError(`store.${method}`, `Queue store (${this.store.name}) ${method}`, err);
  }
}

/** The results a record settled since its last journal write, handed over once. */
function takeUnsaved(rec: MessageRecord | undefined): StoredResult[] | undefined {
  const results = rec?.unsaved;
  if (results === undefined) return undefined;
  (rec as MessageRecord).unsaved = undefined;
  return results;
}
