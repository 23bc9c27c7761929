/**
 * An SMTP sink in its own process, so a benchmark measures the client and not the server
 * sharing its event loop. Run with `tsx bench/sink-process.ts [port]`.
 *
 * Protocol, one JSON object per line on stdout:
 * - on start: `{"host":"127.0.0.1","port":40123}`
 * - stdin `count` -> `{"count":5000,"bytes":10240000}`
 * - stdin `reset` -> `{"count":0,"bytes":0}`
 * - stdin `close` (or end of stdin, or SIGTERM) -> closes the sink and exits
 *
 * @module
 */

import { createInterface } from 'node:readline';
import { startSmtpSink } from '../src/testing/smtp-sink.js';

const port = Number(process.argv[2] ?? 0);
const sink = await startSmtpSink({ port, parse: false });
const reply = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};
reply({ host: sink.host, port: sink.port });

let exiting = false;
const exit = async (): Promise<void> => {
  if (exiting) return;
  exiting = true;
  await sink.close();
  process.exit(0);
};

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const command = line.trim();
  if (command === 'count') reply({ count: sink.count, bytes: sink.bytes });
  else if (command === 'reset') {
    sink.reset();
    reply({ count: sink.count, bytes: sink.bytes });
  } else if (command === 'close') void exit();
  else if (command !== '') reply({ error: `unknown command ${JSON.stringify(command)}` });
});
lines.on('close', () => void exit());
process.on('SIGTERM', () => void exit());
