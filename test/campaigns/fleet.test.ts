/**
 * Campaigns on the BullMQ store (a real redis-server on 127.0.0.1): a producer runs the
 * campaign, two worker processes' mailers deliver it to the real SMTP sink; a pause made by
 * the producer holds the workers' jobs, a resume lets them go, and the counts add up in Redis.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bullmqStore } from '../../src/bullmq/index.js';
import { createMailer } from '../../src/mailer/index.js';
import type { Mailer } from '../../src/mailer/index.js';
import { startSmtpSink } from '../../src/testing/smtp-sink.js';
import smtpTransport from '../../src/transports/smtp.js';
import { REDIS, deleteKeys, testPrefix } from '../bullmq/helpers.js';
import { COMPLIANCE, NEWS, onCleanup, sleep, until } from './helpers.js';

const prefixes: string[] = [];
afterEach(async () => {
  await Promise.all(prefixes.splice(0).map((p) => deleteKeys(p)));
});

describe('campaigns across a fleet (BullMQ store)', () => {
  it("a producer's pause holds the workers' jobs within seconds; resume sends the rest; counts add up in Redis", async () => {
    const prefix = testPrefix();
    prefixes.push(prefix);
    const sink = await startSmtpSink({ disableStartTls: true, parse: false, rules: [{ match: () => true, delayMs: 50 }] });
    onCleanup(() => sink.close());
    const make = (role: 'producer' | 'worker'): Mailer => {
      const m = createMailer({
        transport: smtpTransport({ host: sink.host, port: sink.port, maxConnections: 2 }),
        store: bullmqStore({ connection: REDIS, prefix, role, lockDurationMs: 2_000 }),
        ...COMPLIANCE,
        // Few sends in flight per process: what may still finish after the pause is bounded.
        limits: { concurrency: 2 },
      });
      onCleanup(() => m.close({ timeoutMs: 2_000 }));
      return m;
    };
    const producer = make('producer');
    const workers = [make('worker'), make('worker')];
    await Promise.all(workers.map((w) => w.ready()));

    const recipients = Array.from({ length: 400 }, (_, i) => ({ to: `f${i}@d${i % 6}.test` }));
    const result = await producer.sendMany(recipients, { campaign: 'fleet-1', message: NEWS });
    expect(result).toMatchObject({ queued: 400, invalid: 0 });
    await until(() => sink.count >= 20, 15_000, '20 messages');
    await producer.campaign('fleet-1').pause();
    // The workers read the state again within 2 s; then only sends already in flight finish.
    const pausedAt = Date.now();
    let last = sink.count;
    let stableSince = Date.now();
    while (Date.now() - stableSince < 1_000) {
      expect(Date.now() - pausedAt, 'the workers kept sending long after the pause').toBeLessThan(12_000);
      await sleep(50);
      if (sink.count !== last) [last, stableSince] = [sink.count, Date.now()];
    }
    await sleep(1_000);
    expect(sink.count).toBe(last);
    expect(sink.count).toBeLessThan(400);

    await producer.campaign('fleet-1').resume();
    await until(() => sink.count === 400, 30_000, 'every message after the resume');
    await Promise.all(workers.map((w) => w.close({ timeoutMs: 2_000 })));
    const stats = await producer.campaign('fleet-1').stats();
    expect(stats.counts).toMatchObject({ queued: 400, sent: 400, failed: 0 });
    expect(stats.remaining).toBe(0);
    expect(stats.state).toBe('running');
  }, 60_000);
});
