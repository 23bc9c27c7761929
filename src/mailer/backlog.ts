/**
 * The bounded window over a durable backlog. With a store that pages (`QueueStore.page`), the
 * mailer holds at most `max` jobs in memory; messages accepted beyond that stay on disk
 * ("spilled") and are read back in the order they were accepted as the queue drains.
 *
 * Invariant: while `spilled` is true, every unfinished message of the store that is not in
 * memory lies after `cursor`, so paging from `cursor` finds it. Entries already in memory are
 * skipped when a page meets them again.
 *
 * @module
 * @internal
 */

import type { Priority, StoredEntry } from '../types.js';
import { slice } from '../queue/slice.js';
import type { MailerCore } from './core.js';
import type { Journal } from './journal.js';

/** Messages read back per page. */
const PAGE_SIZE = 100;

/** Reads spilled messages back into memory. */
export class Backlog {
  /** The store holds unfinished messages that are not in memory. */
  private spilled = false;
  /** Counts spills, so a refill that read the end of the store before a new spill reads again. */
  private spills = 0;
  private cursor: string | undefined;
  private refilling: Promise<void> | undefined;
  /** Pages read by the running refill (the first is read at once, the next after a turn of the loop). */
  private pagesRead = 0;
  /** Messages completed since the last page read: a page may still list them. */
  private readonly finished = new Set<string>();

  constructor(
    private readonly core: MailerCore,
    private readonly journal: Journal,
    readonly max: number,
    private readonly load: (entry: StoredEntry) => void,
  ) {}

  /** Messages wait on disk, or a refill is reading them. */
  get busy(): boolean {
    return this.spilled || this.refilling !== undefined;
  }

  /** True when paging is on (the store pages). */
  get enabled(): boolean {
    return this.journal.pages;
  }

  /**
   * Whether a message just written to the store should stay there for now. Critical mail is
   * always taken in; the rest waits on disk when the window is full or others already wait.
   */
  shouldSpill(priority: Priority, jobs: number): boolean {
    if (!this.enabled || priority === 'critical') return false;
    if (this.spilled || this.core.held() + jobs > this.max) {
      this.spilled = true;
      this.spills++;
      return true;
    }
    return false;
  }

  /** A message left memory. */
  completed(id: string): void {
    if (this.spilled) this.finished.add(id);
  }

  /** Starts a refill when messages wait on disk and the window has drained to half. */
  maybeRefill(): void {
    if (!this.spilled || this.refilling !== undefined || this.core.closing) return;
    if (this.core.held() > this.max >> 1) return;
    this.refilling = this.refill().finally(() => {
      this.refilling = undefined;
      this.core.checkIdle();
    });
    this.refilling.catch((err: unknown) => this.core.reportError('store.page', `Queue store (${this.journal.store.name}) page`, err));
  }

  /** Reads everything the store holds from the start, up to the window (on start). */
  async recover(): Promise<void> {
    this.spilled = true;
    this.cursor = undefined;
    await this.refill();
  }

  /** Resolves when no refill is running. */
  async settled(): Promise<void> {
    await this.refilling?.catch(() => undefined);
  }

  private async refill(): Promise<void> {
    this.pagesRead = 0;
    while (this.spilled && !this.core.closing) {
      const room = this.max - this.core.held();
      if (room <= 0) return;
      this.finished.clear();
      const spills = this.spills;
      // Small pages, and a turn of the event loop whenever a slice is used up (queue/slice.ts):
      // reading back a window of thousands of messages never holds the host's loop for long.
      this.pagesRead++;
      const turn = slice();
      if (turn !== undefined) await turn;
      const page = await this.journal.page(this.cursor, Math.min(room, PAGE_SIZE));
      for (const entry of page.entries) {
        if (this.core.records.has(entry.message.id) || this.finished.has(entry.message.id)) continue;
        this.load(entry);
      }
      // At the end, keep the cursor of the previous page: the next read starts there again
      // and skips what is already in memory.
      if (page.cursor === undefined) {
        // A message spilled while the page was read may not be in it: read again.
        if (this.spills !== spills) continue;
        this.spilled = false;
        return;
      }
      this.cursor = page.cursor;
      if (page.entries.length === 0) return;
    }
  }
}
