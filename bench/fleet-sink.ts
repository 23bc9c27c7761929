/**
 * The SMTP sink of bench/fleet.ts, in its own process: it answers every message `delayMs`
 * after its data arrived (a relay that takes its time, so the senders wait rather than burn
 * CPU) and remembers when each message arrived, per recipient domain.
 *
 * Run with `tsx bench/fleet-sink.ts <delayMs>`. Protocol, one JSON object per line on stdout:
 * - on start: `{"host":"127.0.0.1","port":40123}`
 * - stdin `count` -> `{"count":5000}`
 * - stdin `stamps <domain>` -> `{"stamps":[ms since epoch, ...]}` (arrival of each message's data);
 *   `stamps` alone: every domain's, sorted
 * - stdin `reset` -> `{"count":0}`
 * - stdin `cpu` -> `{"cpuMs":1234}` (CPU time of this process, user + system)
 * - end of stdin (or SIGTERM) -> closes the sink and exits
 *
 * @module
 */

import { startSmtpSink } from '../src/testing/smtp-sink.js';
import { onCommands, reply } from './fleet-common.js';

const delayMs = Number(process.argv[2] ?? 20);
let stamps = new Map<string, number[]>();
const sink = await startSmtpSink({
  parse: false,
  disableStartTls: true,
  rules: [
    {
      // Checked once per message, when its data has arrived (the first recipient matches).
      match: (rcpt: string) => {
        const domain = rcpt.slice(rcpt.lastIndexOf('@') + 1).toLowerCase();
        let list = stamps.get(domain);
        if (list === undefined) stamps.set(domain, (list = []));
        list.push(Date.now());
        return true;
      },
      stage: 'data',
      delayMs,
    },
  ],
});
reply({ host: sink.host, port: sink.port });

onCommands(
  (command, arg) => {
    if (command === 'count') reply({ count: sink.count });
    else if (command === 'cpu') {
      const cpu = process.cpuUsage();
      reply({ cpuMs: (cpu.user + cpu.system) / 1000 });
    }
    else if (command === 'stamps') reply({ stamps: arg === '' ? [...stamps.values()].flat().sort((a, b) => a - b) : (stamps.get(arg) ?? []) });
    else if (command === 'reset') {
      sink.reset();
      stamps = new Map();
      reply({ count: sink.count });
    } else reply({ error: `unknown command ${JSON.stringify(command)}` });
  },
  () => sink.close(),
);
process.on('SIGTERM', () => void sink.close().then(() => process.exit(0)));
