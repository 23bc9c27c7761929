/**
 * The shared conformance suite every {@link QueueStore} passes. Store authors call
 * `testQueueStore({ create })` from a vitest file; the memory store's own test is five lines.
 *
 * @module
 */

import { describe, expect, it } from './vitest.js';
import { normalizeMessage } from '../message/index.js';
import type { Job, NormalizedMessage, QueueStore, StoredEntry, StoredPage, StoredResult } from '../types.js';

/** Options of {@link testQueueStore}. */
export interface QueueStoreSuiteOptions {
  /** Suite title. @default 'QueueStore conformance' */
  readonly name?: string;
  /** Creates an empty store. */
  readonly create: () => QueueStore | Promise<QueueStore>;
  /**
   * Opens a second store on the same backing storage, to check that state survives a
   * restart. Omit for stores that do not persist (memory).
   */
  readonly reopen?: (previous: QueueStore) => QueueStore | Promise<QueueStore>;
}

let seq = 0;
function entry(domains: readonly string[]): StoredEntry {
  const message: NormalizedMessage = normalizeMessage(
    {
      from: 'App <app@example.com>',
      to: domains.map((d, i) => `user${i}@${d}`),
      subject: `conformance ${++seq}`,
      text: 'Hello',
      tags: { campaign: 'c1' },
      metadata: { userId: seq, nested: { ok: true } },
    },
    { now: Date.UTC(2026, 0, 1) },
  );
  const jobs: Job[] = domains.map((domain, i) => ({
    id: `${message.id}/${i}`,
    messageRef: message.id,
    domain,
    recipients: [`user${i}@${domain}`],
    priority: 'normal',
    state: 'ready',
    attempt: 0,
    createdAt: Date.UTC(2026, 0, 1),
    runAt: Date.UTC(2026, 0, 1),
  }));
  return { message, jobs };
}

function result(job: Job, address: string, status: StoredResult['status'] = 'sent', extra: Partial<StoredResult> = {}): StoredResult {
  return { address, status, jobId: job.id, attempts: job.attempt + 1, transport: 'smtp', response: '250 2.0.0 OK', at: Date.UTC(2026, 0, 1, 0, 1), ...extra };
}

/** A message with attachments (bytes and text), headers, unicode and nested metadata. */
function richEntry(): StoredEntry {
  const bytes = new Uint8Array(300);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
  const message = normalizeMessage(
    {
      from: { name: 'Ünïcode Shop', address: 'shop@example.com' },
      to: ['ann@a.test', 'Bob <bob@a.test>'],
      cc: 'cy@b.test',
      bcc: ['dee@b.test'],
      replyTo: 'help@example.com',
      subject: 'Ihre Bestellung \u2714 \ud83d\udce6',
      text: 'Line one\nLine two \u00e9',
      html: '<p>Hello <b>\u00e9</b></p>',
      headers: { 'X-Campaign': 'spring', 'X-Multi': ['a', 'b'] },
      attachments: [
        { filename: 'invoice.pdf', content: bytes, contentType: 'application/pdf' },
        { filename: 'note.txt', content: 'plain text' },
        { filename: 'empty.bin', content: new Uint8Array(0) },
        { cid: 'logo@shop', content: 'aGVsbG8=', encoding: 'base64', contentType: 'image/png' },
      ],
      tags: { campaign: 'spring', list: 'news' },
      metadata: { userId: 42, nested: { list: [1, 'two', null, true, { deep: [] }] }, '': 'empty key', 'dotted.key': -0.5 },
      category: 'marketing',
    },
    { now: Date.UTC(2026, 0, 1) },
  );
  const jobs: Job[] = ['a.test', 'b.test'].map((domain, i) => ({
    id: `${message.id}/${i}`,
    messageRef: message.id,
    domain,
    recipients: i === 0 ? ['ann@a.test', 'bob@a.test'] : ['cy@b.test', 'dee@b.test'],
    priority: 'high',
    state: 'scheduled',
    attempt: 0,
    createdAt: Date.UTC(2026, 0, 1),
    runAt: Date.UTC(2026, 0, 1, 12),
  }));
  return { message, jobs };
}

async function allPages(store: QueueStore, limit: number, cursor?: string): Promise<{ pages: StoredPage[]; ids: string[] }> {
  const pages: StoredPage[] = [];
  let next = cursor;
  do {
    const page = await store.page!(next, limit);
    pages.push(page);
    expect(page.entries.length).toBeLessThanOrEqual(limit);
    next = page.cursor;
  } while (next !== undefined && pages.length < 1000);
  return { pages, ids: pages.flatMap((p) => p.entries.map((e) => e.message.id)) };
}

async function recovered(store: QueueStore): Promise<StoredEntry[]> {
  const out: StoredEntry[] = [];
  for await (const e of (await store.recover()) as AsyncIterable<StoredEntry>) out.push(e);
  return out;
}

/**
 * Registers the QueueStore conformance tests with vitest.
 *
 * @example
 * ```ts
 * import { testQueueStore } from 'mailpush/testing/conformance';
 * testQueueStore({ create: () => myStore() });
 * ```
 */
export function testQueueStore(options: QueueStoreSuiteOptions): void {
  describe(options.name ?? 'QueueStore conformance', () => {
    it('has a name and starts empty', async () => {
      const store = await options.create();
      expect(typeof store.name).toBe('string');
      expect(await store.size()).toBe(0);
      expect(await recovered(store)).toEqual([]);
      await store.close?.();
    });

    it('recovers added messages with their unfinished jobs', async () => {
      const store = await options.create();
      const a = entry(['a.test', 'b.test']);
      const b = entry(['c.test']);
      await store.add(a);
      await store.add(b);
      expect(await store.size()).toBe(3);
      const got = await recovered(store);
      expect(got.map((e) => e.message.id).sort()).toEqual([a.message.id, b.message.id].sort());
      const gotA = got.find((e) => e.message.id === a.message.id)!;
      expect(gotA.message).toEqual(a.message);
      expect(gotA.jobs.map((j) => j.id).sort()).toEqual(a.jobs.map((j) => j.id).sort());
      await store.close?.();
    });

    it('records state changes of a job', async () => {
      const store = await options.create();
      const a = entry(['a.test']);
      await store.add(a);
      const job = a.jobs[0]! as Job;
      job.state = 'scheduled';
      job.attempt = 2;
      job.runAt = Date.UTC(2026, 0, 2);
      job.recipients = ['user0@a.test'];
      job.lastError = { code: 'MAILPUSH_ERR_TRANSIENT', responseCode: 451 };
      await store.update(job);
      const [got] = await recovered(store);
      expect(got!.jobs[0]).toMatchObject({ state: 'scheduled', attempt: 2, runAt: Date.UTC(2026, 0, 2), lastError: { responseCode: 451 } });
      await store.close?.();
    });

    it('removes finished jobs, and the message with its last job', async () => {
      const store = await options.create();
      const a = entry(['a.test', 'b.test']);
      await store.add(a);
      await store.remove(a.jobs[0]!);
      expect(await store.size()).toBe(1);
      let got = await recovered(store);
      expect(got).toHaveLength(1);
      expect(got[0]!.jobs.map((j) => j.id)).toEqual([a.jobs[1]!.id]);
      await store.remove(a.jobs[1]!);
      expect(await store.size()).toBe(0);
      got = await recovered(store);
      expect(got).toEqual([]);
      // removing twice is harmless
      await store.remove(a.jobs[1]!);
      await store.close?.();
    });

    it('handles many messages', async () => {
      const store = await options.create();
      const entries = Array.from({ length: 500 }, (_, i) => entry([`d${i % 20}.test`]));
      for (const e of entries) await store.add(e);
      expect(await store.size()).toBe(500);
      for (const e of entries.slice(0, 250)) await store.remove(e.jobs[0]!);
      expect(await store.size()).toBe(250);
      expect(await recovered(store)).toHaveLength(250);
      await store.close?.();
    });


    it('gives back a message faithfully: attachments, headers, unicode, metadata', async () => {
      const store = await options.create();
      const a = richEntry();
      await store.add(a);
      const [got] = await recovered(store);
      expect(got!.message).toEqual(a.message);
      const bytes = got!.message.attachments[0]!.content;
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect([...(bytes as Uint8Array)]).toEqual([...(a.message.attachments[0]!.content as Uint8Array)]);
      expect(got!.message.attachments[2]!.content).toBeInstanceOf(Uint8Array);
      expect(got!.jobs).toEqual(a.jobs);
      await store.close?.();
    });

    it('keeps the results of settled recipients with their message', async () => {
      const store = await options.create();
      const a = richEntry();
      const early = result(a.jobs[0]!, 'x@c.test', 'suppressed', { attempts: 0 });
      await store.add({ ...a, results: [early] });
      const job = a.jobs[0]! as Job;
      // ann accepted, bob deferred: the job narrows to bob and ann's result is final.
      job.recipients = ['bob@a.test'];
      job.attempt = 1;
      job.state = 'scheduled';
      job.lastError = { code: 'MAILPUSH_ERR_TRANSIENT', responseCode: 451 };
      const ann = result(job, 'ann@a.test', 'sent', { providerMessageId: 'q-1' });
      await store.update(job, [ann]);
      let [got] = await recovered(store);
      expect(got!.results).toEqual([early, ann]);
      expect(got!.jobs.find((j) => j.id === job.id)).toMatchObject({ recipients: ['bob@a.test'], attempt: 1, state: 'scheduled' });
      // The other job fails for good; its message still has an unfinished job.
      const other = a.jobs[1]! as Job;
      const failed = ['cy@b.test', 'dee@b.test'].map((address) =>
        result(other, address, 'failed', { error: { code: 'MAILPUSH_ERR_PERMANENT', responseCode: 550, message: '5.1.1 unknown' } }),
      );
      await store.remove(other, failed);
      [got] = await recovered(store);
      expect(got!.jobs.map((j) => j.id)).toEqual([job.id]);
      expect(got!.results).toEqual([early, ann, ...failed]);
      await store.close?.();
    });

    it('leaves results absent (or empty) while none are settled', async () => {
      const store = await options.create();
      await store.add(entry(['a.test']));
      const [got] = await recovered(store);
      expect(got!.results ?? []).toEqual([]);
      await store.close?.();
    });

    it('answers status(id) for an unfinished message, and nothing wrong once it is done', async () => {
      const store = await options.create();
      if (store.status === undefined) return void (await store.close?.());
      expect(await store.status('msg_unknown')).toBeUndefined();
      const a = entry(['a.test', 'b.test']);
      await store.add(a);
      let status = await store.status(a.message.id);
      expect(status).toMatchObject({ id: a.message.id, messageId: a.message.messageId, results: [] });
      expect(status!.jobs.map((j) => j.id).sort()).toEqual(a.jobs.map((j) => j.id).sort());
      const first = result(a.jobs[0]!, 'user0@a.test');
      await store.remove(a.jobs[0]!, [first]);
      status = await store.status(a.message.id);
      expect(status!.jobs.map((j) => j.id)).toEqual([a.jobs[1]!.id]);
      expect(status!.results).toEqual([first]);
      const second = result(a.jobs[1]!, 'user0@b.test', 'expired');
      await store.remove(a.jobs[1]!, [second]);
      // Done: a store may forget the message, or keep its results for a while.
      status = await store.status(a.message.id);
      if (status !== undefined) expect(status).toEqual({ id: a.message.id, messageId: a.message.messageId, jobs: [], results: [first, second] });
      expect(await store.size()).toBe(0);
      await store.close?.();
    });

    it('pages unfinished messages in the order they were added', async () => {
      const store = await options.create();
      if (store.page === undefined) return void (await store.close?.());
      expect(await store.page(undefined, 10)).toEqual({ entries: [], cursor: undefined });
      const entries = Array.from({ length: 7 }, (_, i) => entry([`d${i}.test`]));
      for (const e of entries) await store.add(e);
      await store.remove(entries[2]!.jobs[0]!);
      const want = entries.filter((_, i) => i !== 2).map((e) => e.message.id);
      for (const limit of [1, 2, 3, 6, 7, 100]) {
        const { pages, ids } = await allPages(store, limit);
        expect(ids, `limit ${limit}`).toEqual(want);
        expect(pages.at(-1)!.cursor).toBeUndefined();
      }
      const first = await store.page(undefined, 2);
      expect(first.entries[0]!.message).toEqual(entries[0]!.message);
      expect(first.entries[0]!.jobs).toEqual(entries[0]!.jobs);
      expect(typeof first.cursor).toBe('string');
      await store.close?.();
    });

    it('continues a page walk across removals and additions', async () => {
      const store = await options.create();
      if (store.page === undefined) return void (await store.close?.());
      const entries = Array.from({ length: 6 }, (_, i) => entry([`d${i}.test`]));
      for (const e of entries.slice(0, 4)) await store.add(e);
      const first = await store.page(undefined, 2);
      expect(first.entries.map((e) => e.message.id)).toEqual([entries[0]!.message.id, entries[1]!.message.id]);
      // Removing what was read and what is ahead, adding at the end: the cursor still holds.
      await store.remove(entries[0]!.jobs[0]!);
      await store.remove(entries[2]!.jobs[0]!);
      await store.add(entries[4]!);
      const rest = await allPages(store, 2, first.cursor);
      expect(rest.ids).toEqual([entries[3]!.message.id, entries[4]!.message.id]);
      // The last cursor given still reads what is added later.
      const lastCursor = rest.pages.length > 1 ? rest.pages.at(-2)!.cursor : first.cursor;
      await store.add(entries[5]!);
      const later = await allPages(store, 10, lastCursor);
      expect(later.ids).toContain(entries[5]!.message.id);
      await store.close?.();
    });

    it('pages carry the results settled so far', async () => {
      const store = await options.create();
      if (store.page === undefined) return void (await store.close?.());
      const a = entry(['a.test', 'b.test']);
      await store.add(a);
      const r = result(a.jobs[0]!, 'user0@a.test');
      await store.remove(a.jobs[0]!, [r]);
      const page = await store.page(undefined, 10);
      expect(page.entries).toHaveLength(1);
      expect(page.entries[0]!.results).toEqual([r]);
      expect(page.entries[0]!.jobs.map((j) => j.id)).toEqual([a.jobs[1]!.id]);
      await store.close?.();
    });

    if (options.reopen !== undefined) {
      const reopen = options.reopen;
      it('keeps unfinished jobs across a reopen', async () => {
        const store = await options.create();
        const a = entry(['a.test']);
        await store.add(a);
        const job = a.jobs[0]! as Job;
        job.attempt = 1;
        job.state = 'scheduled';
        await store.update(job);
        const again = await reopen(store);
        const got = await recovered(again);
        expect(got.map((e) => e.message.id)).toEqual([a.message.id]);
        expect(got[0]!.jobs[0]).toMatchObject({ attempt: 1, state: 'scheduled' });
        await again.close?.();
      });

      it('keeps messages, results, status and page order across a reopen', async () => {
        const store = await options.create();
        const a = richEntry();
        const b = entry(['c.test']);
        await store.add(a);
        await store.add(b);
        const r = result(a.jobs[0]!, 'ann@a.test');
        await store.remove(a.jobs[0]!, [r]);
        const again = await reopen(store);
        const got = await recovered(again);
        expect(got.map((e) => e.message.id).sort()).toEqual([a.message.id, b.message.id].sort());
        const gotA = got.find((e) => e.message.id === a.message.id)!;
        expect(gotA.message).toEqual(a.message);
        expect(gotA.results).toEqual([r]);
        expect(gotA.jobs).toEqual([a.jobs[1]]);
        expect(await again.size()).toBe(2);
        if (again.status !== undefined) expect((await again.status(a.message.id))?.results).toEqual([r]);
        if (again.page !== undefined) expect((await allPages(again, 1)).ids).toEqual([a.message.id, b.message.id]);
        await again.close?.();
      });
    }
  });
}
