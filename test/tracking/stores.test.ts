/**
 * Campaign counts of tracked hits in durable stores: a real SQLite file (unique hits survive a
 * restart) and the real Redis on 127.0.0.1:6379 (two handlers, as two web processes, share the
 * counts and the unique-hit memory).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { redisState } from '../../src/bullmq/index.js';
import { createMailer } from '../../src/mailer/index.js';
import { sqliteStore } from '../../src/stores/sqlite.js';
import memoryTransport from '../../src/transports/memory.js';
import { createTrackingHandler } from '../../src/tracking/index.js';
import type { TrackingMailer } from '../../src/tracking/index.js';

const tracking = { url: 'https://t.example.com/t', secrets: ['a-tracking-secret-of-32-bytes!!!'] };
const HUMAN = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0';
const dir = mkdtempSync(join(tmpdir(), 'mailpush-tracking-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hit = (handler: (r: Request) => Promise<Response>, url: string, ua = HUMAN) => handler(new Request(url, { headers: { 'user-agent': ua } }));

describe('tracked hits counted in durable stores', () => {
  it('SQLite: counts per campaign, and a restarted mailer still knows who already clicked', async () => {
    const path = join(dir, 'mail.db');
    const first = createMailer({ transport: memoryTransport(), store: sqliteStore({ path }), tracking });
    const receipt = await first.send({ from: 'news@example.com', to: 'ann@example.org', subject: 'Hi', html: '<a href="https://shop.example/a">a</a>', campaign: 'sqlite-spring' }, { track: true });
    await receipt.done();
    const link = /href="([^"]+)"/.exec(receipt.message.html!)![1]!;
    const pixel = /<img src="([^"]+)"/.exec(receipt.message.html!)![1]!;
    const h1 = createTrackingHandler({ mailer: first, scanWindowMs: 0 });
    await hit(h1, link);
    await hit(h1, pixel);
    await hit(h1, pixel, 'Mozilla/5.0');
    await h1.settled();
    await first.close();

    const second = createMailer({ transport: memoryTransport(), store: sqliteStore({ path }), tracking });
    const h2 = createTrackingHandler({ mailer: second, scanWindowMs: 0 });
    expect((await hit(h2, link)).headers.get('location')).toBe('https://shop.example/a');
    await h2.settled();
    const record = await second.store.campaigns!.get('sqlite-spring');
    expect(record?.counts).toMatchObject({ clicked: 1, 'clicked.total': 2, opened: 1, 'opened.total': 1, 'opened.machine': 1, 'opened.machine.total': 1 });
    await second.close();
  });

  it('Redis: two handlers (two web processes) share counts and unique hits', async () => {
    const prefix = `mailpush-test-tracking-${randomUUID()}:`;
    const states = [redisState({ connection: { host: '127.0.0.1', port: 6379 }, prefix }), redisState({ connection: { host: '127.0.0.1', port: 6379 }, prefix })];
    const mailer = createMailer({ transport: memoryTransport(), tracking });
    try {
      const receipt = await mailer.send({ from: 'news@example.com', to: 'bob@example.org', subject: 'Hi', html: '<a href="https://shop.example/b">b</a>', campaign: 'redis-spring' }, { track: true });
      const link = /href="([^"]+)"/.exec(receipt.message.html!)![1]!;
      const handlers = states.map((state) => {
        const web: TrackingMailer = { feedback: mailer.feedback, tracking: mailer.tracking, store: { correlation: state.correlation, replay: state.replay, campaigns: state.campaigns } };
        return createTrackingHandler({ mailer: web, scanWindowMs: 0, burstWindowMs: 0 });
      });
      for (const h of [...handlers, ...handlers]) {
        expect((await hit(h, link)).status).toBe(302);
        await h.settled();
      }
      expect((await states[0]!.campaigns.get('redis-spring'))?.counts).toMatchObject({ clicked: 1, 'clicked.total': 4 });
    } finally {
      await mailer.close();
      const keys = await states[0]!.redis.keys(`${prefix}*`);
      if (keys.length > 0) await states[0]!.redis.del(...keys);
      await Promise.all(states.map((s) => s.close()));
    }
  });
});
