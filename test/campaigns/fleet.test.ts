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
  // A long timeout: the test is about correctness, not speed (23 s at a load average of 24,
  // 16 s of it for the 357 messages after the resume).
  it("a producer's pause holds the workers' jobs within seconds; resume sends the rest; counts add up in Redis", async () => {
    const prefix = testPrefix();
    prefixes.push(prefix);
    // keepRaw: the messages are kept (their envelopes name the recipients), not parsed.
    const sink = await startSmtpSink({ disableStartTls: true, parse: false, keepRaw: true, rules: [{ match: () => true, delayMs: 50 }] });
    onCleanup(() => sink.close());
    const make = (role: 'producer' | 'worker'): Mailer => {
      const m = createMailer({
        transport: smtpTransport({ host: sink.host, port: sink.port, maxConnections: 2 }),
        // BullMQ's default lock (30 s). A 2 s lock made the counts flaky on a loaded machine: a
        // process starved for a second missed a lock renewal, another worker took the job back
        // as stalled and sent it again (at least once, as documented), and the campaign counted
        // 402 sent of 400. This test is about pause and resume, not about lock expiry
        // (test/bullmq/fleet.test.ts kills a worker for that).
        store: bullmqStore({ connection: REDIS, prefix, role }),
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
    // Not awaited before the pause: on a loaded machine queueing 400 messages in Redis took
    // longer than the workers needed to send most of them (359 and 400 were at the sink when
    // sendMany resolved), so the pause came too late to hold anything. The run waits while
    // the campaign is paused and resolves after the resume.
    const sending = producer.sendMany(recipients, { campaign: 'fleet-1', message: NEWS });
    await until(() => sink.count >= 20, 15_000, '20 messages');
    await producer.campaign('fleet-1').pause();
    // The workers read the state again within 2 s; then only sends already in flight finish.
    // Quiet means: for 1 s no new message at the sink and no attempt in flight in any worker
    // (a worker that has not seen the pause yet keeps attempts in flight), so
    // that a test process starved of CPU for a second cannot take a stall for the pause.
    const pausedAt = Date.now();
    let last = sink.count;
    let stableSince = Date.now();
    while (Date.now() - stableSince < 1_000) {
      expect(Date.now() - pausedAt, 'the workers kept sending long after the pause').toBeLessThan(12_000);
      await sleep(50);
      if (sink.count !== last || workers.some((w) => w.stats().inflight > 0)) [last, stableSince] = [sink.count, Date.now()];
    }
    await sleep(1_000);
    expect(sink.count).toBe(last);
    expect(sink.count).toBeLessThan(400);

    await producer.campaign('fleet-1').resume();
    expect(await sending).toMatchObject({ queued: 400, invalid: 0 });
    // Every recipient, counted by address: a job sent twice shows as a duplicate below instead
    // of a count that steps over 400 between two polls and times out.
    const recipientsAtSink = (): Set<string> => new Set(sink.messages.map((m) => m.envelope.to[0] as string));
    await until(() => recipientsAtSink().size === 400, 60_000, 'every message after the resume');
    // Exactly once: no recipient twice.
    expect(sink.count).toBe(400);
    await Promise.all(workers.map((w) => w.close({ timeoutMs: 2_000 })));
    const stats = await producer.campaign('fleet-1').stats();
    expect(stats.counts).toMatchObject({ queued: 400, sent: 400, failed: 0 });
    expect(stats.remaining).toBe(0);
    expect(stats.state).toBe('running');
  }, 120_000);
});
