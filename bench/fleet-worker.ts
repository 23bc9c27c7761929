/**
 * One worker process of bench/fleet.ts: a mailer with `bullmqStore({ role: 'worker' })` that
 * delivers over SMTP to the benchmark's sink, counting its Redis round trips on the client side.
 *
 * Run with `tsx bench/fleet-worker.ts '<json config>'` (see {@link Config}). Protocol, one JSON
 * object per line on stdout:
 * - on start: `{"ready":true}`
 * - stdin `start` -> creates the mailer (it starts taking jobs) -> `{"started":true}`
 * - stdin `stop` -> closes it -> `{"stopped":true,"sent":n,"first":ms,"last":ms,"cpuMs":ms}` (CPU time
 *   of this process, user + system, from the mailer being ready to `stop`)
 * - stdin `counts` -> `{"counts":{roundTrips, commands, byLabel}}`; `reset` -> `{"reset":true}`
 * - end of stdin -> closes what is open and exits
 *
 * @module
 */

import { bullmqStore } from '../src/bullmq/index.js';
import { createMailer } from '../src/mailer/index.js';
import type { Mailer } from '../src/mailer/index.js';
import type { DomainLimits } from '../src/queue/limits.js';
import smtpTransport from '../src/transports/smtp.js';
import { countRedisRoundTrips, onCommands, REDIS, reply } from './fleet-common.js';

interface Config {
  readonly prefix: string;
  readonly sinkPort: number;
  /** Sends in flight in this process (`limits.concurrency`, `laneConcurrency`, SMTP connections). */
  readonly concurrency: number;
  readonly domains?: Record<string, DomainLimits>;
  /**
   * Hide the SMTP transport's `maxConcurrency` (its connection count) from the mailer. Before
   * commit 5f48232 that count became a fleet-wide concurrency limit on the shared `*transport*`
   * gate (5 sends in flight for the whole fleet; see bench/RESULTS.md, "Scale-out"); since then
   * this flag should make no difference, which is what it checks. The per-process limit stays
   * `limits.concurrency`.
   */
  readonly noTransportGate?: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const counter = countRedisRoundTrips();
let mailer: Mailer | undefined;
let sent = 0;
let first = 0;
let last = 0;
let cpuAtStart = process.cpuUsage();

onCommands(
  async (command) => {
    if (command === 'start') {
      sent = 0;
      first = 0;
      last = 0;
      // maxMessages: Infinity, so that no connection is replaced mid-run (smtp-server delays
      // every new greeting by 100 ms, which would blur the measurement).
      const smtp = smtpTransport({ host: '127.0.0.1', port: config.sinkPort, maxConnections: config.concurrency, maxMessages: Infinity });
      const { maxConcurrency, ...capabilities } = smtp.capabilities;
      const transport = config.noTransportGate === true ? { ...smtp, capabilities } : smtp;
      void maxConcurrency;
      const m = createMailer({
        transport,
        store: bullmqStore({ connection: REDIS, prefix: config.prefix, role: 'worker', laneConcurrency: config.concurrency }),
        limits: { concurrency: config.concurrency, ...(config.domains !== undefined ? { domains: config.domains } : {}) },
      });
      m.on('sent', () => {
        const now = Date.now();
        if (sent++ === 0) first = now;
        last = now;
      });
      await m.ready();
      mailer = m;
      cpuAtStart = process.cpuUsage();
      reply({ started: true });
    } else if (command === 'stop') {
      const cpu = process.cpuUsage(cpuAtStart);
      await mailer?.close({ timeoutMs: 5_000 });
      mailer = undefined;
      reply({ stopped: true, sent, first, last, cpuMs: (cpu.user + cpu.system) / 1000 });
    } else if (command === 'counts') {
      reply({ counts: counter.snapshot() });
    } else if (command === 'reset') {
      counter.reset();
      reply({ reset: true });
    } else {
      reply({ error: `unknown command ${JSON.stringify(command)}` });
    }
  },
  async () => {
    await mailer?.close({ timeoutMs: 5_000 });
  },
);
reply({ ready: true });
